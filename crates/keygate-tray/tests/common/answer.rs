//! Shared by keygate-tray's and src-tauri's `flags.rs` (through `#[path]`): run one of the
//! app's executables with a flag it must answer on the terminal, as a person would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `exe` (named `name` in messages) with `flag` in a fresh home; its exit code and stdout.
/// Fails if it keeps running (it started the app instead of answering) or created a vault.
pub fn answer(exe: &str, name: &str, flag: &str) -> (i32, String) {
    let home = tempfile::tempdir().expect("temp home");
    let mut child = Command::new(exe)
        .arg(flag)
        .env("KEYGATE_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} {flag} kept running: it started the app instead of answering");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out).expect("read");
    assert!(!home.path().join("vault.db").exists(), "{flag} created a vault");
    (status.code().unwrap_or(-1), out)
}
