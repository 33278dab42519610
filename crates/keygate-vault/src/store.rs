//! The SQLite file: opening it without harming it, pragmas, and versioned migrations.

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::{Result, VaultError};
use crate::kept_rows::KeptRows;

/// How long a writer waits for another process's write lock before reporting `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/001_initial.sql"),
    include_str!("schema/002_gateway.sql"),
    include_str!("schema/003_grants.sql"),
    include_str!("schema/004_client_config.sql"),
    include_str!("schema/005_oauth.sql"),
    include_str!("schema/006_audit_count.sql"),
    include_str!("schema/007_authenticated.sql"),
    include_str!("schema/008_oauth_authenticated.sql"),
    include_str!("schema/009_team.sql"),
    include_str!("schema/010_policy.sql"),
    include_str!("schema/011_rotation.sql"),
    include_str!("schema/012_team_audit.sql"),
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Create a new, empty vault database at `path` (an empty file or none) with the full schema.
pub(crate) fn create(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    migrate(&mut conn, 0)?;
    Ok(conn)
}

/// Open an existing vault without writing to it. Nothing is written to a file that fails the checks.
pub(crate) fn open_existing(path: &Path) -> Result<Connection> {
    check_exists(path)?;
    let corrupt = |e: rusqlite::Error| corrupt_or_db(path, e);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(corrupt)?;
    configure(&conn).map_err(corrupt)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(corrupt)?;
    if version == 0 {
        return Err(corrupt_detail(path, "it has no Keygate schema"));
    }
    if version > SCHEMA_VERSION {
        return Err(VaultError::NewerSchema { found: version, supported: SCHEMA_VERSION });
    }
    conn.query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0)).map_err(corrupt)?;
    Ok(conn)
}

/// Bring an opened vault's schema up to date. Called only after the master key is verified.
pub(crate) fn upgrade(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version < SCHEMA_VERSION { migrate(conn, version) } else { Ok(()) }
}

/// Run `f` in a write transaction that takes the write lock up front, so two processes
/// changing the vault queue behind each other (or one gets `Busy`) and never lose an update.
pub(crate) fn write<T>(conn: &mut Connection, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
    let tx = Tx::begin(conn, "BEGIN IMMEDIATE")?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// `write` for a transaction that changes no token's, grant's or credential's row (audit
/// rows, use counts): the kept rows stay across its commit (see `kept_rows.rs`).
pub(crate) fn write_keeping<T>(
    conn: &mut Connection,
    kept: &KeptRows,
    f: impl FnOnce(&Tx<'_>) -> Result<T>,
) -> Result<T> {
    let tx = Tx::begin(conn, "BEGIN IMMEDIATE")?;
    let value = f(&tx)?;
    let before = kept.before_commit();
    COMMITTED.set(None);
    tx.commit()?;
    // A commit that rewrote rows with the same bytes writes no frames and does not count in
    // the header; only the WAL hook tells the two apart.
    if let (Some(before), Some(last_frame)) = (before, COMMITTED.take()) {
        kept.after_commit(before, last_frame);
    }
    Ok(value)
}

thread_local! {
    /// Set by the WAL hook when a commit on this thread wrote frames: the log's last frame.
    static COMMITTED: Cell<Option<u32>> = const { Cell::new(None) };
}

/// SQLite's own threshold for checkpointing in a commit, in frames (`wal_autocheckpoint`).
const AUTO_CHECKPOINT_FRAMES: c_int = 1000;

/// Note each commit that wrote frames (for `write_keeping`), on a connection that leaves
/// checkpoints to a background thread.
pub(crate) fn note_commits(conn: &Connection) {
    conn.wal_hook(Some(note_commit));
}

fn note_commit(_: &Wal, last_frame: c_int) -> rusqlite::Result<()> {
    COMMITTED.set(u32::try_from(last_frame).ok());
    Ok(())
}

/// Note the commit and checkpoint as SQLite's own hook would, which this one replaces (a
/// connection has one WAL hook).
fn note_commit_and_checkpoint(wal: &Wal, last_frame: c_int) -> rusqlite::Result<()> {
    note_commit(wal, last_frame)?;
    if last_frame >= AUTO_CHECKPOINT_FRAMES {
        // PASSIVE, as SQLite's hook: its failure is no failure of the commit that ran it.
        let _ = wal.checkpoint();
    }
    Ok(())
}

/// A transaction on a connection, rolled back unless committed (also when `f` panics).
///
/// rusqlite's own `Transaction` parses its `BEGIN` and `COMMIT` anew each time; these come
/// from the connection's statement cache, which a commit on every tool call notices (about
/// 2 µs of the call's path, measured with perf).
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Tx<'c> {
    /// `begin` is `BEGIN IMMEDIATE` (take the write lock now) or `BEGIN` (the read lock comes
    /// with the first read).
    pub(crate) fn begin(conn: &'c Connection, begin: &'static str) -> rusqlite::Result<Self> {
        conn.prepare_cached(begin)?.execute([])?;
        Ok(Self { conn, open: true })
    }

    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // After a failed COMMIT the transaction may still be open; either way, end it.
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.wal_hook(Some(note_commit_and_checkpoint));
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.pragma_update(None, "mmap_size", 268_435_456)?;
    Ok(())
}

/// Apply every migration after `from`, each in its own write transaction.
fn migrate(conn: &mut Connection, from: i64) -> Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Refuse a missing vault by name. Only `stat`, never an open: closing any descriptor of the
/// vault file drops every POSIX lock this process holds on it, including those of other open
/// connections, and another process could then think itself the last and delete the WAL.
/// SQLite itself refuses a file that is not a database, without writing to it.
fn check_exists(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(VaultError::NoVault { path: path.to_path_buf() }),
        Err(e) => Err(crate::error::io_error("cannot open", path)(e)),
    }
}

fn corrupt_detail(path: &Path, detail: &str) -> VaultError {
    VaultError::Corrupt { path: path.to_path_buf(), detail: crate::error::one_line(detail) }
}

/// SQLite's "not a database" and "malformed" errors become `Corrupt`; the rest stay as they are.
fn corrupt_or_db(path: &Path, err: rusqlite::Error) -> VaultError {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => corrupt_detail(path, &err.to_string()),
        _ => VaultError::from(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v INTEGER)").expect("create");
        conn
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).expect("count")
    }

    #[test]
    fn the_wal_hook_tells_a_commit_that_wrote_frames_from_one_that_did_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = create(&dir.path().join("vault.db")).expect("create");
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)").expect("table");
        let mut committed = |sql: &str| {
            COMMITTED.set(None);
            write(&mut conn, |tx| Ok(tx.execute(sql, [])?)).expect("write");
            COMMITTED.take()
        };
        let first = committed("UPDATE t SET v = 2").expect("a changed row writes frames");
        // SQLite counts the row as changed, but writes nothing and the header stays as it was.
        assert_eq!(committed("UPDATE t SET v = 2"), None, "the same bytes write no frames");
        assert!(committed("UPDATE t SET v = 3").is_some_and(|last| last > first));
    }

    #[test]
    fn a_connection_still_checkpoints_in_its_commits_as_sqlite_would() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vault.db");
        let mut conn = create(&path).expect("create");
        conn.execute_batch("CREATE TABLE t (v INTEGER)").expect("table");
        for v in 0..3000 {
            write(&mut conn, |tx| Ok(tx.execute("INSERT INTO t VALUES (?1)", [v])?)).expect("write");
        }
        // Unchecked, 3000 commits leave 3000 frames (12 MB); checkpointed at 1000, the log
        // starts over and stays near 1000 frames.
        let wal = std::fs::metadata(dir.path().join("vault.db-wal")).expect("wal").len();
        assert!(wal < 1200 * 4120, "the log grew to {wal} bytes");
    }

    #[test]
    fn a_write_that_fails_or_panics_leaves_nothing_and_the_connection_usable() {
        let mut conn = table();
        let failed: Result<()> = write(&mut conn, |tx| {
            tx.execute("INSERT INTO t VALUES (1)", [])?;
            Err(crate::error::VaultError::Busy)
        });
        assert!(failed.is_err());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = write(&mut conn, |tx| -> Result<()> {
                tx.execute("INSERT INTO t VALUES (2)", [])?;
                panic!("mid-write");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(rows(&conn), 0, "a row of an unfinished write stayed");
        assert!(conn.is_autocommit(), "the transaction was left open");

        write(&mut conn, |tx| Ok(tx.execute("INSERT INTO t VALUES (3)", [])?)).expect("write");
        let read = Tx::begin(&conn, "BEGIN").expect("begin");
        assert_eq!(rows(&read), 1);
        read.commit().expect("commit");
        assert!(conn.is_autocommit());
    }
}
