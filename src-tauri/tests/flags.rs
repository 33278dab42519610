//! `keygate-window --help` and `--version` answer on the terminal and exit, with no window and
//! no agent started (keygate-tray's tests/flags.rs does the same for `keygate-app`).

#[path = "../../crates/keygate-tray/tests/common/answer.rs"]
mod answer;

fn run_app(flag: &str) -> (i32, String) {
    answer::answer(env!("CARGO_BIN_EXE_keygate-window"), "keygate-window", flag)
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
