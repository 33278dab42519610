//! The approvals' files in the Keygate home, through which a person answers from another
//! process (`keygate approvals`, `approve`, `deny`; the app's window):
//!
//! - `approvals/pending.json`: the calls waiting now, rewritten (temp file, rename) by the
//!   serving Keygate whenever one starts or stops waiting;
//! - `approvals/<id>.decision`: one answer, written by the person's front (temp file, rename)
//!   and taken (read, removed) by the waiting call within a tenth of a second.
//!
//! Files rather than the agent socket: the CLI and the app's window read the list without a
//! server round trip, an answer needs no connection kept open, and the home is already 0700
//! (the files are 0600), so only its owner can answer, as with the socket.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The directory in the home.
pub const APPROVALS_DIR: &str = "approvals";
const PENDING_FILE: &str = "pending.json";
const DECISION_SUFFIX: &str = ".decision";
/// How long `decide_approval` waits for the serving Keygate to take an answer.
const TAKE_WAIT: Duration = Duration::from_secs(5);

/// A call waiting for a person, as `keygate approvals --json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// Its id: `keygate approve ID`.
    pub id: String,
    /// The tool called (as agents see it).
    pub tool: String,
    /// The grant whose token called (`token <id>` for a plain token).
    pub grant: String,
    /// The arguments, pretty-printed JSON with long values cut.
    pub arguments: String,
    /// When it started waiting (RFC 3339, UTC).
    pub waiting_since: String,
    /// How long it waits in all before it is denied, in seconds (a prompt for it can go then).
    pub timeout_secs: u64,
}

/// A person's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    /// Allow the call (else deny it).
    pub allow: bool,
    /// Also let the same grant call the same tool without asking for this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_secs: Option<u64>,
    /// Who answered: `cli` or `app`.
    pub by: String,
}

/// Why an answer could not be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// No call with this id is waiting.
    #[error("no call {id} is waiting for approval: `keygate approvals` lists those that are")]
    NotPending {
        /// The id given (escaped).
        id: String,
    },
    /// The serving Keygate did not take the answer in time (it stopped, or the call ended).
    #[error("Keygate did not take the answer for call {id} within {}s: is it still running (`keygate status`)?", TAKE_WAIT.as_secs())]
    NotTaken {
        /// The call's id.
        id: String,
    },
    /// The approvals' files could not be read or written.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
}

pub(crate) fn dir(home: &Path) -> PathBuf {
    home.join(APPROVALS_DIR)
}

pub(crate) fn decision_path(home: &Path, id: &str) -> PathBuf {
    dir(home).join(format!("{id}{DECISION_SUFFIX}"))
}

/// The calls waiting now at the Keygate serving `home` (none if nothing waits or serves).
pub fn pending_approvals(home: &Path) -> Result<Vec<PendingApproval>, ApprovalError> {
    let path = dir(home).join(PENDING_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ApprovalError::Io { path, cause: std::io::Error::other(e.to_string()) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(cause) => Err(ApprovalError::Io { path, cause }),
    }
}

/// Answer the waiting call `id`, then wait until the serving Keygate has taken the answer.
pub async fn decide_approval(home: &Path, id: &str, decision: &ApprovalDecision) -> Result<(), ApprovalError> {
    let shown = crate::text::printable(id, 32);
    let is_id = id.len() == super::ID_HEX_LEN && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_id || !pending_approvals(home)?.iter().any(|p| p.id == id) {
        return Err(ApprovalError::NotPending { id: shown });
    }
    let path = decision_path(home, id);
    let text = serde_json::to_vec(decision).map_err(|e| io(&path, std::io::Error::other(e.to_string())))?;
    write_private(&path, &text).map_err(|cause| io(&path, cause))?;
    let deadline = tokio::time::Instant::now() + TAKE_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !path.exists() {
            return Ok(());
        }
    }
    // Not taken: leave nothing behind that a later call with this id could pick up.
    let _ = std::fs::remove_file(&path);
    Err(ApprovalError::NotTaken { id: shown })
}

fn io(path: &Path, cause: std::io::Error) -> ApprovalError {
    ApprovalError::Io { path: path.to_path_buf(), cause }
}

/// Replace the pending list (an empty list removes the file).
pub(crate) fn write_pending(home: &Path, pending: &[PendingApproval]) -> std::io::Result<()> {
    let path = dir(home).join(PENDING_FILE);
    if pending.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let text = serde_json::to_vec_pretty(pending).map_err(|e| std::io::Error::other(e.to_string()))?;
    write_private(&path, &text)
}

/// Take the answer for `id`, if one was left: read it and remove it.
pub(crate) fn take_decision(home: &Path, id: &str) -> Option<Result<ApprovalDecision, String>> {
    let path = decision_path(home, id);
    let bytes = std::fs::read(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    Some(match serde_json::from_slice::<ApprovalDecision>(&bytes) {
        Ok(decision) if matches!(decision.by.as_str(), "cli" | "app") => Ok(decision),
        Ok(_) => Err("an answer from an unknown front".into()),
        Err(e) => Err(format!("an unreadable answer ({e})")),
    })
}

/// Start clean: a list left by a Keygate that stopped names calls nobody waits for.
pub(crate) fn reset(home: &Path) {
    let _ = std::fs::remove_file(dir(home).join(PENDING_FILE));
}

/// Write `bytes` to `path` through a 0600 temp file beside it and a rename, in a 0700 dir.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().ok_or_else(|| std::io::Error::other("no parent directory"))?;
    create_private_dir(parent)?;
    let temp =
        parent.join(format!(".{}.{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("f"), std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written =
        options.open(&temp).and_then(|mut file| file.write_all(bytes)).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
