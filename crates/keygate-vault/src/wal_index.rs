//! The WAL-index header at the start of `vault.db-shm`, read with one `pread` and no lock.
//!
//! SQLite rewrites this 48-byte header, in two copies, on every commit, and its commit counter
//! (`iChange`) goes up by one each time. SQLite itself decides from the header alone whether
//! its page cache still holds: an unchanged header means nothing was committed since, by any
//! connection in any process. The token cache (`kept_rows.rs`) trusts it the same way.
//! Layout: "The WAL-Index Header" in SQLite's walformat.html (stable since 3.7.0).

use std::fmt;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

const HEADER_LEN: usize = 48;
/// `isInit`: 1 once SQLite has written the header.
const IS_INIT: usize = 12;
/// `iChange`, the commit counter, and `mxFrame`, the log's last frame: `u32`s in the
/// machine's byte order.
const COMMITS: std::ops::Range<usize> = 8..12;
const LAST_FRAME: std::ops::Range<usize> = 16..20;

/// One copy of the header, as SQLite wrote it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header([u8; HEADER_LEN]);

impl Header {
    /// SQLite's commit counter (it wraps).
    pub(crate) fn commits(&self) -> u32 {
        self.field(COMMITS)
    }

    /// The last frame of the log (0 when it starts over).
    pub(crate) fn last_frame(&self) -> u32 {
        self.field(LAST_FRAME)
    }

    fn field(&self, at: std::ops::Range<usize>) -> u32 {
        let mut value = [0u8; 4];
        value.copy_from_slice(&self.0[at]);
        u32::from_ne_bytes(value)
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Header(commit {})", self.commits())
    }
}

/// A vault's `-shm` file, open for reading.
#[derive(Debug, Clone)]
pub(crate) struct WalIndex(Arc<File>);

/// Every `-shm` file this process opened, by device and inode. A descriptor is closed only
/// once SQLite has deleted its file (its last connection in any process closed, so no lock
/// of this process's is left on it) and no `WalIndex` holds it: closing any descriptor of a
/// file drops every POSIX lock this process holds on that file, and SQLite's connections
/// hold theirs on this one while it is in use (the rule of `store::check_exists`).
static OPENED: Mutex<Vec<(FileId, Arc<File>)>> = Mutex::new(Vec::new());

/// A file's device and inode.
type FileId = (u64, u64);

impl WalIndex {
    /// The WAL index of the vault at `vault_path`. Call it only while a connection that has
    /// read the vault is open: SQLite then holds this very file, and keeps it as long as that
    /// connection lives. `None` if it cannot be read (nothing is cached then).
    pub(crate) fn of(vault_path: &Path) -> Option<Self> {
        let mut path = vault_path.as_os_str().to_owned();
        path.push("-shm");
        let found = std::fs::symlink_metadata(&path).ok().filter(|meta| meta.file_type().is_file())?;
        let key = (found.dev(), found.ino());
        let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
        let deleted = |file: &File| file.metadata().is_ok_and(|meta| meta.nlink() == 0);
        opened.retain(|(_, file)| Arc::strong_count(file) > 1 || !deleted(file));
        if let Some((_, file)) = opened.iter().find(|(known, _)| *known == key) {
            return Some(Self(Arc::clone(file)));
        }
        let file = Arc::new(File::open(&path).ok()?);
        // Registered before anything else can fail, so it is never closed early.
        let opened_key = file.metadata().map(|meta| (meta.dev(), meta.ino()));
        opened.push((opened_key.as_ref().copied().unwrap_or(key), Arc::clone(&file)));
        (opened_key.ok() == Some(key)).then_some(Self(file))
    }

    /// The header now, if both copies agree (they differ while a commit writes them) and
    /// SQLite has written it.
    pub(crate) fn header(&self) -> Option<Header> {
        let mut both = [0u8; 2 * HEADER_LEN];
        self.0.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER_LEN);
        let header = Header(first.try_into().ok()?);
        (first == second && first[IS_INIT] == 1).then_some(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `-shm` file whose two header copies are `first` and `second`.
    fn shm(dir: &Path, name: &str, first: &[u8; HEADER_LEN], second: &[u8; HEADER_LEN]) -> std::path::PathBuf {
        std::fs::write(dir.join(format!("{name}-shm")), [first.as_slice(), second, &[0u8; 32]].concat())
            .expect("write");
        dir.join(name)
    }

    fn header(commits: u32, last_frame: u32) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[COMMITS].copy_from_slice(&commits.to_ne_bytes());
        bytes[LAST_FRAME].copy_from_slice(&last_frame.to_ne_bytes());
        bytes[IS_INIT] = 1;
        bytes
    }

    #[test]
    fn a_header_is_read_only_when_both_copies_agree_and_sqlite_wrote_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agreed = WalIndex::of(&shm(dir.path(), "a", &header(7, 42), &header(7, 42))).expect("readable");
        let read = agreed.header().expect("both copies agree");
        assert_eq!((read.commits(), read.last_frame()), (7, 42));
        let torn = WalIndex::of(&shm(dir.path(), "b", &header(8, 43), &header(7, 42))).expect("readable");
        assert_eq!(torn.header(), None, "copies that differ are a commit being written");
        let unwritten = WalIndex::of(&shm(dir.path(), "c", &[0; HEADER_LEN], &[0; HEADER_LEN])).expect("readable");
        assert_eq!(unwritten.header(), None);
        assert!(WalIndex::of(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn a_descriptor_is_closed_once_its_file_is_deleted_and_unused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registered = |path: &Path| {
            let meta = std::fs::metadata(path).expect("stat");
            let key = (meta.dev(), meta.ino());
            OPENED.lock().expect("lock").iter().any(|(known, _)| *known == key)
        };
        let first = shm(dir.path(), "first", &header(1, 1), &header(1, 1));
        let first_shm = dir.path().join("first-shm");
        let index = WalIndex::of(&first).expect("readable");
        assert!(registered(&first_shm));
        // In use, even deleted, it stays open; unused but still there, it stays open too.
        let kept = WalIndex::of(&first).expect("the same file again");
        drop(index);
        assert!(Arc::ptr_eq(&kept.0, &WalIndex::of(&first).expect("again").0), "one descriptor per file");
        let (dev, ino) = (kept.0.metadata().expect("stat").dev(), kept.0.metadata().expect("stat").ino());
        drop(kept);
        std::fs::remove_file(&first_shm).expect("delete");
        WalIndex::of(&shm(dir.path(), "second", &header(1, 1), &header(1, 1))).expect("readable");
        let still_open = OPENED.lock().expect("lock").iter().any(|(known, _)| *known == (dev, ino));
        assert!(!still_open, "the deleted, unused file's descriptor was closed");
    }
}
