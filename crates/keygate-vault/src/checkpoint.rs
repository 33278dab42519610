//! WAL checkpoints off the call path. SQLite checkpoints automatically in whichever commit
//! crosses its threshold, and a checkpoint syncs the file: 15–17 ms, measured on the call path
//! under the vault lock, once in about a hundred calls. A server's vault hands that work to a
//! thread with its own connection, which checkpoints PASSIVE (never waiting on readers or
//! writers) on a timer, so commits on the call path only append to the WAL.
//!
//! PASSIVE alone never bounds the WAL under sustained commits: SQLite starts the log over only
//! when a writer begins with every frame already copied, and commits keep arriving while a
//! checkpoint copies and syncs (measured: 106 MB of WAL after two minutes at 3,600 calls/s).
//! So once the log holds more than [`RESTART_FRAMES`], the PASSIVE checkpoint that just copied
//! nearly everything is followed by a RESTART one: it takes the write lock, copies the few
//! frames committed meanwhile, syncs, and waits for readers to leave the log, so the next
//! commit starts it over. Writers wait for that short tail (about a millisecond here), a few
//! times a second at most, and never for more than [`RESTART_WAIT`] plus the tail.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Result;
use crate::store;
use crate::vault::Vault;

/// How often the background connection checkpoints.
const INTERVAL: Duration = Duration::from_millis(100);
/// Frames in the log (a page each, 4 KiB) past which a checkpoint also starts it over.
const RESTART_FRAMES: i64 = 1024;
/// The WAL file is truncated back to this size after it starts over, so a burst of writes does
/// not leave a large file behind. It is above what sustained load fills between two restarts,
/// so under load the log reuses its blocks instead of allocating new ones on every commit.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;
/// The longest a RESTART checkpoint waits for the write lock or for readers, in steps of
/// [`RESTART_STEP`]; then it gives up until the next tick. Writers queue behind it meanwhile.
const RESTART_WAIT: Duration = Duration::from_millis(10);
const RESTART_STEP: Duration = Duration::from_micros(100);

/// The background checkpointer of one vault file. Dropping it stops the thread after one last
/// checkpoint.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Vault {
    /// Stop this connection checkpointing in its commits and start a thread that checkpoints
    /// the file instead. For a process that commits on a latency-sensitive path (the server).
    pub fn checkpoint_in_background(&mut self) -> Result<Checkpointer> {
        let path = self.home.vault_path();
        let conn = store::open_existing(&path)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.busy_handler(Some(wait_briefly))?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // That pragma removed the connection's WAL hook; keep noting commits without checkpointing.
        store::note_commits(&self.conn);
        // The WAL is reset by the next commit after a complete checkpoint, on this connection.
        self.conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("vault-checkpoint".into())
            .spawn(move || run(&conn, &stopped, &path))
            .map_err(crate::error::io_error("cannot start the checkpoint thread for", &self.home.vault_path()))?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, path: &Path) {
    let mut restarted_at = None;
    loop {
        let last = match stopped.recv_timeout(INTERVAL) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        if let Err(e) = checkpoint(conn, &mut restarted_at) {
            tracing::warn!(vault = %path.display(), error = %e, "WAL checkpoint failed; retrying");
        }
        if last {
            return;
        }
    }
}

/// What `PRAGMA wal_checkpoint` reports: frames in the log and how many are in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogState {
    frames: i64,
    copied: i64,
}

/// One PASSIVE checkpoint: copies what no reader still needs and returns at once if a writer
/// holds the lock. Nothing to copy costs a read of the WAL index, no sync. Then, if the log is
/// long, a RESTART checkpoint, unless the last one already left this very log ready to start
/// over (no commit since: nothing to do until one comes).
fn checkpoint(conn: &Connection, restarted_at: &mut Option<LogState>) -> rusqlite::Result<()> {
    let (_, passive) = run_checkpoint(conn, "PRAGMA wal_checkpoint(PASSIVE)")?;
    if passive.frames < RESTART_FRAMES || *restarted_at == Some(passive) {
        return Ok(());
    }
    // Busy: a reader or writer held on past `RESTART_WAIT`, and the next tick tries again.
    let (busy, restarted) = run_checkpoint(conn, "PRAGMA wal_checkpoint(RESTART)")?;
    if !busy {
        *restarted_at = Some(restarted);
    }
    Ok(())
}

/// Whether the checkpoint was blocked, and the log as it left it.
fn run_checkpoint(conn: &Connection, sql: &str) -> rusqlite::Result<(bool, LogState)> {
    conn.query_row(sql, [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, LogState { frames: row.get(1)?, copied: row.get(2)? }))
    })
}

/// The checkpoint connection's busy handler: short sleeps up to [`RESTART_WAIT`] (SQLite's own
/// timeout sleeps whole milliseconds, and writers wait while a RESTART holds the lock).
fn wait_briefly(attempts: i32) -> bool {
    let steps = (RESTART_WAIT.as_micros() / RESTART_STEP.as_micros()) as i32;
    if attempts >= steps {
        return false;
    }
    std::thread::sleep(RESTART_STEP);
    true
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
