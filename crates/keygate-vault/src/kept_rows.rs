//! The rows a call reads on every request (its token's, with its grant's, and its
//! credential's sealed current version), kept while nothing was committed to the vault but
//! this connection's own audit writes.
//!
//! Reading one is a SQLite read transaction (two `fcntl` lock calls, four after a commit of
//! this connection's) and a B-tree lookup: about 3 µs in a criterion loop and several times
//! that on the server, where each read runs cold among a call's other work. Revocation,
//! expiry, rotation and every other change must still hold on the very next request, so the
//! rows are tied to SQLite's own WAL-index header (`wal_index.rs`), which every commit
//! rewrites:
//! - a read looks at the header first (one `pread`); if the rows were kept under this very
//!   header, nothing was committed since, by anyone, and a kept row is the file's;
//! - any other header (a commit by another process, another connection, or this one) drops
//!   every kept row, and the read goes to the file;
//! - this connection's audit writes (call rows, outcomes, use counts), which change no
//!   decision, keep the rows: `store::write_keeping` reads the header under their write lock
//!   before the commit and again after it, and takes the second only if exactly one commit,
//!   theirs, came between (SQLite's WAL hook says whether theirs wrote frames at all: a row
//!   rewritten with the same bytes writes none, and does not count).
//!
//! Expiry is still compared with the clock on every check, only rows whose MACs verified are
//! kept, and a credential is kept sealed: it is still decrypted for each call, just in time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::wal_index::{Header, WalIndex};

/// Rows kept at most, and bytes of their text (a policy can be long); past either, the kept
/// rows start over.
const MAX_ROWS: usize = 4096;
const MAX_BYTES: usize = 1 << 20;

/// The columns of a token's row, and of its grant's, that decide a check.
pub(crate) struct TokenRow {
    pub secret_hash: Vec<u8>,
    pub expires_at: Timestamp,
    /// The token or its grant is revoked.
    pub revoked: bool,
    pub grant_ends_at: Option<Timestamp>,
    /// Space-separated scopes.
    pub tools: String,
    pub grant: Option<String>,
    pub policy: Option<String>,
}

/// A credential's current version, sealed as the vault holds it.
pub(crate) struct SealedCredential {
    pub version: i64,
    pub team_version: Option<i64>,
    pub sealed: Vec<u8>,
}

/// What a kept row weighs against [`MAX_BYTES`].
trait Weight {
    fn bytes(&self) -> usize;
}

impl Weight for TokenRow {
    fn bytes(&self) -> usize {
        let text = |value: &Option<String>| value.as_ref().map_or(0, String::len);
        self.secret_hash.len() + self.tools.len() + text(&self.grant) + text(&self.policy)
    }
}

impl Weight for SealedCredential {
    fn bytes(&self) -> usize {
        self.sealed.len()
    }
}

/// See the module's doc. One per `Vault`, used under its lock like the connection.
pub(crate) struct KeptRows {
    index: Option<WalIndex>,
    kept: RefCell<Kept>,
    reads: Cell<u64>,
}

impl std::fmt::Debug for KeptRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the rows hold secret hashes and sealed credentials.
        let kept = self.kept.borrow();
        f.debug_struct("KeptRows")
            .field("tokens", &kept.tokens.len())
            .field("credentials", &kept.credentials.len())
            .field("reads", &self.reads)
            .finish()
    }
}

#[derive(Default)]
struct Kept {
    /// The header the rows were read under; `None`: keep nothing.
    under: Option<Header>,
    tokens: HashMap<String, Arc<TokenRow>>,
    credentials: HashMap<String, Arc<SealedCredential>>,
    bytes: usize,
}

impl KeptRows {
    /// The kept rows of `conn`'s vault, once `conn` has read it. The `-shm` file is found
    /// from the path SQLite opened (symbolic links resolved), as SQLite finds it.
    pub(crate) fn new(conn: &rusqlite::Connection) -> Self {
        let index = conn.path().filter(|path| !path.is_empty()).and_then(|path| WalIndex::of(Path::new(path)));
        Self { index, kept: RefCell::default(), reads: Cell::new(0) }
    }

    /// Token `id`'s row if it is kept and nothing was committed since it was read. `None`:
    /// read it from the file, then hand it to [`Self::keep_token`].
    pub(crate) fn token(&self, id: &str) -> Option<Arc<TokenRow>> {
        self.get(id, |kept| &kept.tokens)
    }

    /// Credential `name`'s sealed current version, as [`Self::token`].
    pub(crate) fn credential(&self, name: &str) -> Option<Arc<SealedCredential>> {
        self.get(name, |kept| &kept.credentials)
    }

    /// Keep `row` of token `id`, read from the file after [`Self::token`] missed, verified.
    pub(crate) fn keep_token(&self, id: &str, row: &Arc<TokenRow>) {
        self.keep(id, row, |kept| &mut kept.tokens);
    }

    /// Keep credential `name`'s sealed current version, read after [`Self::credential`] missed.
    pub(crate) fn keep_credential(&self, name: &str, row: &Arc<SealedCredential>) {
        self.keep(name, row, |kept| &mut kept.credentials);
    }

    fn get<T>(&self, key: &str, rows: impl Fn(&Kept) -> &HashMap<String, Arc<T>>) -> Option<Arc<T>> {
        let header = self.header();
        let mut kept = self.kept.borrow_mut();
        if header.is_some() && kept.under == header {
            if let Some(row) = rows(&kept).get(key) {
                return Some(Arc::clone(row));
            }
        } else {
            // Read before the file is: rows read from a later state are kept under an
            // earlier header, which the next read finds changed.
            *kept = Kept { under: header, ..Kept::default() };
        }
        self.reads.set(self.reads.get() + 1);
        None
    }

    fn keep<T: Weight>(&self, key: &str, row: &Arc<T>, rows: impl Fn(&mut Kept) -> &mut HashMap<String, Arc<T>>) {
        let mut kept = self.kept.borrow_mut();
        if kept.under.is_none() {
            return;
        }
        if kept.tokens.len() + kept.credentials.len() >= MAX_ROWS || kept.bytes + row.bytes() > MAX_BYTES {
            *kept = Kept { under: kept.under, ..Kept::default() };
        }
        kept.bytes += row.bytes();
        if let Some(replaced) = rows(&mut kept).insert(key.to_string(), Arc::clone(row)) {
            kept.bytes -= replaced.bytes();
        }
    }

    /// Under a write transaction's lock, before its commit: the header, if the rows were
    /// read under it (no one committed since).
    pub(crate) fn before_commit(&self) -> Option<Header> {
        let under = self.kept.borrow().under?;
        (self.header()? == under).then_some(under)
    }

    /// After that commit, which wrote frames up to `last_frame` (SQLite's WAL hook said so):
    /// keep the rows under the header it left, if that is exactly one commit past `before`
    /// and ends at that frame. Otherwise the next read finds the header changed.
    pub(crate) fn after_commit(&self, before: Header, last_frame: u32) {
        let Some(after) = self.header() else { return };
        let mut kept = self.kept.borrow_mut();
        let only_ours = after.commits() == before.commits().wrapping_add(1) && after.last_frame() == last_frame;
        if kept.under == Some(before) && only_ours {
            kept.under = Some(after);
        }
    }

    /// How many token checks and credential opens read the file (the others were answered
    /// from here).
    pub(crate) fn reads(&self) -> u64 {
        self.reads.get()
    }

    fn header(&self) -> Option<Header> {
        self.index.as_ref().and_then(WalIndex::header)
    }
}
