//! The WAL-index header at the start of `vault.db-shm`, read with one `pread` and no lock.
//!
//! SQLite rewrites this 48-byte header, in two copies, on every commit, and its commit counter
//! (`iChange`) goes up by one each time. SQLite itself decides from the header alone whether
//! its page cache still holds: an unchanged header means nothing was committed since, by any
//! connection in any process. The token cache (`token_cache.rs`) trusts it the same way.
//! Layout: "The WAL-Index Header" in SQLite's walformat.html (stable since 3.7.0).

use std::fmt;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

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
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalIndex(&'static File);

/// Every `-shm` file this process opened, by device and inode, never closed: closing any
/// descriptor of a file drops every POSIX lock this process holds on it, and SQLite's
/// connections hold theirs on this file (the rule of `store::check_exists`). One descriptor
/// per file SQLite made: a vault whose last connection closed gets a new `-shm`, and a new one.
static OPENED: Mutex<Vec<((u64, u64), &'static File)>> = Mutex::new(Vec::new());

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
        if let Some(&(_, file)) = opened.iter().find(|(known, _)| *known == key) {
            return Some(Self(file));
        }
        let file: &'static File = Box::leak(Box::new(File::open(&path).ok()?));
        let meta = file.metadata().ok()?;
        let opened_key = (meta.dev(), meta.ino());
        opened.push((opened_key, file));
        (opened_key == key).then_some(Self(file))
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
