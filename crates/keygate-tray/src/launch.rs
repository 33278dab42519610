//! What both executables do before anything else: answer `--help`/`--version` on the
//! terminal, log to stderr, and stop with a message when they cannot go on.

/// The start both executables share: `--help`/`--version` answered on the terminal (`None`:
/// nothing else is to start), else logging set up and the Keygate home found (exiting with
/// a message if it cannot be), with the other arguments.
pub fn begin(binary: &str, help: &str) -> Option<(keygate_vault::Home, Vec<String>)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(text) = answer_flags(binary, help, &args) {
        // Answered on the terminal; no window, no agent, nothing left running.
        print_answer(&text);
        return None;
    }
    init_logging();
    match keygate_vault::Home::from_env() {
        Ok(home) => Some((home, args)),
        Err(e) => exit_with(&e.to_string()),
    }
}

/// `--help` and `--version` print instead of starting anything: `binary`'s version, or
/// `help`. `None` for any other arguments.
pub fn answer_flags(binary: &str, help: &str, args: &[String]) -> Option<String> {
    let asks = |flags: &[&str]| args.iter().any(|arg| flags.contains(&arg.as_str()));
    if asks(&["--version", "-V"]) {
        return Some(format!("{binary} {}", env!("CARGO_PKG_VERSION")));
    }
    asks(&["--help", "-h"]).then(|| help.to_string())
}

/// Print `text` on stdout (a terminal answer; nothing else is started).
fn print_answer(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Log to stderr at `RUST_LOG`'s level (info by default).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Log `message` and exit with status 1.
pub fn exit_with(message: &str) -> ! {
    tracing::error!("{message}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::answer_flags;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn version_and_help_answer_and_anything_else_starts() {
        let version = answer_flags("keygate-app", "HELP", &args(&["--version"]));
        assert_eq!(version, Some(format!("keygate-app {}", env!("CARGO_PKG_VERSION"))));
        assert_eq!(answer_flags("keygate-app", "HELP", &args(&["--hidden", "-h"])).as_deref(), Some("HELP"));
        assert_eq!(answer_flags("keygate-app", "HELP", &args(&["--hidden"])), None);
        assert_eq!(answer_flags("keygate-app", "HELP", &[]), None);
    }
}
