//! WAL checkpoints off the call path. SQLite checkpoints automatically in whichever commit
//! crosses its threshold, and a checkpoint syncs the file: 15–17 ms, measured on the call path
//! under the vault lock, once in about a hundred calls. A server's vault hands that work to a
//! thread with its own connection, which checkpoints PASSIVE (never waiting on readers or
//! writers) on a timer, so commits on the call path only append to the WAL.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Result;
use crate::store;
use crate::vault::Vault;

/// How often the background connection checkpoints.
const INTERVAL: Duration = Duration::from_millis(500);
/// The WAL file is truncated back to this size after a checkpoint resets it, so a burst of
/// writes does not leave a large file behind.
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

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
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
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
    loop {
        let last = match stopped.recv_timeout(INTERVAL) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        if let Err(e) = checkpoint(conn) {
            tracing::warn!(vault = %path.display(), error = %e, "WAL checkpoint failed; retrying");
        }
        if last {
            return;
        }
    }
}

/// One PASSIVE checkpoint: copies what no reader still needs and returns at once if a writer
/// holds the lock. Nothing to copy costs a read of the WAL index, no sync.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
