//! Keygate runs as two processes of two executables installed side by side, so that it idles
//! without a web view, and without even WebKit's libraries mapped:
//!
//! - the **agent** (`keygate-app`, or `--hidden`; this crate, which never links Tauri):
//!   long-lived; the MCP server, the tray, the rotation reminders.
//! - the **window** (`keygate-window`, the Tauri package): the UI; it exits when its window
//!   closes.
//!
//! Both open the vault, which serves several fronts at once. Besides it they share three small
//! files in the Keygate home: the agent's lock (held while an agent runs, so there is one),
//! the agent's status (written atomically whenever it changes), and a nudge the window
//! touches to ask the agent to retry opening the vault or starting the server.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use keygate_vault::Home;
use serde::{Deserialize, Serialize};

use crate::server::ServerStatus;

/// The agent's executable.
pub const AGENT_EXE: &str = "keygate-app";
/// The window's executable, beside the agent's.
pub const WINDOW_EXE: &str = "keygate-window";
/// The agent without a window at start.
pub const HIDDEN_FLAG: &str = "--hidden";

/// What the agent tells windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The agent's process id.
    pub pid: u32,
    /// Its MCP server.
    pub server: ServerStatus,
    /// Why desktop notifications fail, if they do.
    pub notifications_unavailable: Option<String>,
    /// What the agent's first start created, if it did.
    pub created_notice: Option<String>,
}

/// Held by the running agent; released when it exits, however it exits.
#[derive(Debug)]
pub struct AgentLock {
    _file: File,
}

impl AgentLock {
    /// Become the agent for `home`, unless another process already is (`Ok(None)`).
    pub fn acquire(home: &Home) -> io::Result<Option<Self>> {
        Ok(try_lock(home, AGENT_LOCK)?.map(|file| Self { _file: file }))
    }
}

/// Held by the window process while its window is open, so a second launch focuses that
/// window instead of opening another.
#[derive(Debug)]
pub struct WindowLock {
    _file: File,
}

impl WindowLock {
    /// Become the window for `home`, unless another process already is (`Ok(None)`).
    pub fn acquire(home: &Home) -> io::Result<Option<Self>> {
        Ok(try_lock(home, WINDOW_LOCK)?.map(|file| Self { _file: file }))
    }
}

const AGENT_LOCK: &str = ".agent.lock";
const WINDOW_LOCK: &str = ".window.lock";

/// The lock file `name` in `home`, locked by this process, unless another holds it (`Ok(None)`).
fn try_lock(home: &Home, name: &str) -> io::Result<Option<File>> {
    home.ensure_dir().map_err(io::Error::other)?;
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(home.dir().join(name))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether an agent runs for `home`.
pub fn agent_running(home: &Home) -> bool {
    match OpenOptions::new().write(true).open(home.dir().join(AGENT_LOCK)) {
        Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

fn status_path(home: &Home) -> PathBuf {
    home.dir().join(".agent-status.json")
}

/// The file a window touches to ask the agent to retry.
pub const NUDGE_FILE: &str = ".agent-nudge";
/// The file the agent (or a second launch) touches to bring the window to the front.
pub const FOCUS_FILE: &str = ".window-focus";
/// The file the window touches to ask the agent to quit (the window's Quit).
pub const QUIT_FILE: &str = ".agent-quit";

/// The file naming the tab a window opens on, left by the tray for the window to take.
const VIEW_FILE: &str = ".window-view";
/// The tabs the tray may ask for.
const VIEWS: [&str; 1] = ["import"];

/// Ask the window to show `view` when it next opens or comes to the front.
pub fn request_view(home: &Home, view: &str) {
    if let Err(e) = std::fs::write(home.dir().join(VIEW_FILE), view) {
        tracing::warn!(error = %e, "cannot tell the window which view to show");
    }
}

/// The view asked for, if any (a known one only), removing the request.
pub fn take_requested_view(home: &Home) -> Option<&'static str> {
    let path = home.dir().join(VIEW_FILE);
    let asked = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    VIEWS.into_iter().find(|view| asked.trim() == *view)
}

/// Publish the agent's status.
pub fn write_status(home: &Home, status: &AgentStatus) -> io::Result<()> {
    write_json(&status_path(home), status)
}

/// Write `value` as JSON to `path` through a temp file and a rename, so a reader never sees
/// half of it.
pub fn write_json(path: &std::path::Path, value: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_vec(value).map_err(io::Error::other)?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, json)?;
    std::fs::rename(&temp, path)
}

/// The agent's last published status, if there is one.
pub fn read_status(home: &Home) -> Option<AgentStatus> {
    serde_json::from_slice(&std::fs::read(status_path(home)).ok()?).ok()
}

/// Ask the other process for something by touching `file` ([`NUDGE_FILE`]: the agent should
/// retry what failed; [`FOCUS_FILE`]: the window should come to the front).
pub fn nudge(home: &Home, file: &str) {
    let stamp = format!("{:?}", std::time::SystemTime::now());
    if let Err(e) = std::fs::write(home.dir().join(file), stamp) {
        tracing::warn!(error = %e, "cannot nudge the other Keygate process");
    }
}

/// When `file` was last touched; a change is a request.
pub fn stamp(home: &Home, file: &str) -> Option<std::time::SystemTime> {
    std::fs::metadata(home.dir().join(file)).and_then(|m| m.modified()).ok()
}

/// Start Keygate's other executable (`name`: [`AGENT_EXE`] or [`WINDOW_EXE`], found beside
/// this one) with `args` and this environment.
pub fn spawn_sibling(name: &str, args: &[&str]) -> io::Result<Child> {
    let exe = sibling(&std::env::current_exe()?, name);
    if !exe.is_file() {
        let why = format!(
            "{} is missing: keygate-app and keygate-window are installed side by side; reinstall Keygate (or build both: cargo build -p keygate-tray -p keygate-app)",
            exe.display()
        );
        return Err(io::Error::new(io::ErrorKind::NotFound, why));
    }
    Command::new(exe).args(args).stdin(Stdio::null()).spawn()
}

/// `name` in the directory of `exe`.
fn sibling(exe: &std::path::Path, name: &str) -> PathBuf {
    exe.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_agent_per_home_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().expect("temp");
        let home = Home::at(dir.path().join("home"));
        assert!(!agent_running(&home));
        let lock = AgentLock::acquire(&home).expect("lock").expect("first agent");
        assert!(agent_running(&home));
        assert!(AgentLock::acquire(&home).expect("lock").is_none(), "a second agent backs off");
        drop(lock);
        assert!(!agent_running(&home));
    }

    #[test]
    fn the_other_executable_is_looked_for_beside_this_one_and_a_missing_one_is_named() {
        assert_eq!(
            sibling(std::path::Path::new("/usr/bin/keygate-app"), WINDOW_EXE),
            PathBuf::from("/usr/bin/keygate-window")
        );
        let e = spawn_sibling("keygate-no-such-executable", &[]).expect_err("missing");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("keygate-no-such-executable is missing"), "{e}");
    }

    #[test]
    fn one_window_per_home_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().expect("temp");
        let home = Home::at(dir.path().join("home"));
        let window = WindowLock::acquire(&home).expect("lock").expect("first window");
        assert!(WindowLock::acquire(&home).expect("lock").is_none(), "a second window backs off");
        drop(window);
        assert!(WindowLock::acquire(&home).expect("lock").is_some(), "free again once the window closed");
    }

    #[test]
    fn status_round_trips_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().expect("temp");
        let home = Home::at(dir.path().join("home"));
        home.ensure_dir().expect("home");
        assert_eq!(read_status(&home), None);
        let status = AgentStatus {
            pid: 42,
            server: ServerStatus::Running { address: "127.0.0.1:7447".into(), url: "http://127.0.0.1:7447/mcp".into() },
            notifications_unavailable: None,
            created_notice: Some("Created".into()),
        };
        write_status(&home, &status).expect("write");
        assert_eq!(read_status(&home), Some(status));
        assert!(stamp(&home, NUDGE_FILE).is_none());
        nudge(&home, NUDGE_FILE);
        assert!(stamp(&home, NUDGE_FILE).is_some());
    }

    #[test]
    fn a_requested_view_is_taken_once_and_only_a_known_one() {
        let dir = tempfile::tempdir().expect("temp");
        let home = Home::at(dir.path().join("home"));
        home.ensure_dir().expect("home");
        assert_eq!(take_requested_view(&home), None);
        request_view(&home, "import");
        assert_eq!(take_requested_view(&home), Some("import"));
        assert_eq!(take_requested_view(&home), None);
        request_view(&home, "../../etc");
        assert_eq!(take_requested_view(&home), None);
    }
}
