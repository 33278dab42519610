//! Token rows already read and verified, kept while nothing was committed to the vault but
//! this connection's own audit writes.
//!
//! Reading a token's row is a SQLite read transaction (two `fcntl` lock calls, four after a
//! commit of this connection's) and a B-tree lookup: about 3 µs in a criterion loop and
//! several times that on the server, where each check runs cold among a call's other work.
//! Revocation, expiry and every other change must still hold on the very next request, so
//! the cache is tied to SQLite's own WAL-index header (`wal_index.rs`), which every commit
//! rewrites:
//! - a check reads the header first (one `pread`); if the cached rows were read under this
//!   very header, nothing was committed since, by anyone, and a cached row is the file's;
//! - any other header (a commit by another process, another connection, or this one) drops
//!   every cached row, and the check reads the file;
//! - this connection's audit writes (call rows, outcomes, use counts), which change no
//!   decision, keep the rows: `store::write_keeping` reads the header under their write lock
//!   before the commit and again after it, and takes the second only if exactly one commit,
//!   theirs, came between (SQLite's WAL hook says whether theirs wrote frames at all: a row
//!   rewritten with the same bytes writes none, and does not count).
//!
//! Expiry is still compared with the clock on every check, and only rows whose MACs
//! verified are kept.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::wal_index::{Header, WalIndex};

/// Rows kept at most, and bytes of their text (a policy can be long); past either, the
/// cache starts over.
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

impl TokenRow {
    fn bytes(&self) -> usize {
        let text = |value: &Option<String>| value.as_ref().map_or(0, String::len);
        self.secret_hash.len() + self.tools.len() + text(&self.grant) + text(&self.policy)
    }
}

/// See the module's doc. One per `Vault`, used under its lock like the connection.
pub(crate) struct TokenCache {
    index: Option<WalIndex>,
    kept: RefCell<Kept>,
    reads: Cell<u64>,
}

#[derive(Default)]
struct Kept {
    /// The header the rows were read under; `None`: keep nothing.
    under: Option<Header>,
    rows: HashMap<String, Arc<TokenRow>>,
    bytes: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the rows hold the tokens' secret hashes.
        f.debug_struct("TokenCache").field("rows", &self.kept.borrow().rows.len()).field("reads", &self.reads).finish()
    }
}

impl TokenCache {
    /// The cache of the vault at `vault_path`, once a connection of the caller's has read it.
    pub(crate) fn new(vault_path: &Path) -> Self {
        Self { index: WalIndex::of(vault_path), kept: RefCell::default(), reads: Cell::new(0) }
    }

    /// The row of token `id` if it is cached and nothing was committed since it was read.
    /// `None`: read it from the file, then hand it to [`Self::remember`].
    pub(crate) fn get(&self, id: &str) -> Option<Arc<TokenRow>> {
        let header = self.header();
        let mut kept = self.kept.borrow_mut();
        if header.is_some() && kept.under == header {
            if let Some(row) = kept.rows.get(id) {
                return Some(Arc::clone(row));
            }
        } else {
            // Read before the file is: rows read from a later state are kept under an
            // earlier header, which the next check finds changed.
            *kept = Kept { under: header, ..Kept::default() };
        }
        self.reads.set(self.reads.get() + 1);
        None
    }

    /// Keep `row` of token `id`, read from the file after a [`Self::get`] that missed and
    /// verified.
    pub(crate) fn remember(&self, id: &str, row: &Arc<TokenRow>) {
        let mut kept = self.kept.borrow_mut();
        if kept.under.is_none() {
            return;
        }
        if kept.rows.len() >= MAX_ROWS || kept.bytes + row.bytes() > MAX_BYTES {
            kept.rows.clear();
            kept.bytes = 0;
        }
        kept.bytes += row.bytes();
        if let Some(replaced) = kept.rows.insert(id.to_string(), Arc::clone(row)) {
            kept.bytes -= replaced.bytes();
        }
    }

    /// Under a write transaction's lock, before its commit: the header, if the rows were
    /// read under it (no one committed since).
    pub(crate) fn before_commit(&self) -> Option<Header> {
        let header = self.header()?;
        (self.kept.borrow().under == Some(header)).then_some(header)
    }

    /// After that commit, which wrote frames up to `last_frame` (SQLite's WAL hook said so):
    /// keep the rows under the header it left, if that is exactly one commit past `before`
    /// and ends at that frame. Otherwise the next check finds the header changed and reads.
    pub(crate) fn after_commit(&self, before: Header, last_frame: u32) {
        let Some(after) = self.header() else { return };
        let mut kept = self.kept.borrow_mut();
        let only_ours = after.commits() == before.commits().wrapping_add(1) && after.last_frame() == last_frame;
        if kept.under == Some(before) && only_ours {
            kept.under = Some(after);
        }
    }

    /// How many checks read their token from the file (the others were answered from here).
    pub(crate) fn reads(&self) -> u64 {
        self.reads.get()
    }

    fn header(&self) -> Option<Header> {
        self.index.as_ref().and_then(WalIndex::header)
    }
}
