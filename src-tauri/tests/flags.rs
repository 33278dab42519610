//! `keygate-window --help` and `--version` answer on the terminal and exit, with no window and
//! no agent started (keygate-tray's tests/flags.rs does the same for `keygate-app`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_app(flag: &str) -> (i32, String) {
    let home = tempfile::tempdir().expect("temp home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate-window"))
        .arg(flag)
        .env("KEYGATE_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start keygate-window");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keygate-window {flag} kept running: it started the app instead of answering");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out).expect("read");
    assert!(!home.path().join("vault.db").exists(), "{flag} created a vault");
    (status.code().unwrap_or(-1), out)
}

#[test]
fn version_and_help_print_and_exit() {
    let (code, out) = run_app("--version");
    assert_eq!((code, out.trim()), (0, format!("keygate-window {}", env!("CARGO_PKG_VERSION")).as_str()));
    for flag in ["--help", "-h"] {
        let (code, out) = run_app(flag);
        assert_eq!(code, 0, "{flag}");
        assert!(
            out.contains("Usage: keygate-window") && out.contains("Run keygate-app") && out.contains("keygate --help"),
            "{out}"
        );
    }
}
