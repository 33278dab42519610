//! `keygate-app --help` and `--version` answer on the terminal and exit, with no window and
//! no agent started (they used to open the window and block the terminal).

#[path = "common/answer.rs"]
mod answer;

fn run_app(flag: &str) -> (i32, String) {
    answer::answer(env!("CARGO_BIN_EXE_keygate-app"), "keygate-app", flag)
}

#[test]
fn version_and_help_print_and_exit() {
    let (code, out) = run_app("--version");
    assert_eq!((code, out.trim()), (0, format!("keygate-app {}", env!("CARGO_PKG_VERSION")).as_str()));
    for flag in ["--help", "-h"] {
        let (code, out) = run_app(flag);
        assert_eq!(code, 0, "{flag}");
        assert!(out.contains("Usage: keygate-app [--hidden]") && out.contains("keygate --help"), "{out}");
    }
}
