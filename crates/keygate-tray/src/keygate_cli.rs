//! The `keygate` CLI that client configs launch (`keygate connect --grant NAME`). The app's own
//! executables are `keygate-app` and `keygate-window`, which have no `connect`, so a config
//! must never launch either: the CLI is
//! looked for beside the app (a build's target dir and an install put them together), then on
//! PATH, and its absence is an error naming what to install.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::agent::{AGENT_EXE, WINDOW_EXE};
use crate::error::AppError;

/// The CLI's file name on this OS.
fn file_name() -> String {
    format!("keygate{}", std::env::consts::EXE_SUFFIX)
}

/// The `keygate` CLI for this app: beside its executable, else on PATH.
pub fn find() -> Result<PathBuf, AppError> {
    let exe = std::env::current_exe().ok();
    locate(exe.as_deref(), std::env::var_os("PATH").as_deref())
}

/// The first `keygate` beside `app_exe`, else in an absolute directory of `path_var`, that is
/// an executable file and not the app itself (a `keygate` link to `keygate-app` or
/// `keygate-window` is skipped, whichever of the two is asking).
pub fn locate(app_exe: Option<&Path>, path_var: Option<&OsStr>) -> Result<PathBuf, AppError> {
    let name = file_name();
    let beside = app_exe.and_then(Path::parent).map(|dir| dir.join(&name));
    let on_path = path_var.into_iter().flat_map(std::env::split_paths).filter(|dir| dir.is_absolute());
    let app = app_exe.and_then(|exe| std::fs::canonicalize(exe).ok());
    beside
        .into_iter()
        .chain(on_path.map(|dir| dir.join(&name)))
        .find(|candidate| is_cli(candidate, app.as_deref()))
        .ok_or_else(|| missing(app_exe.and_then(Path::parent)))
}

fn is_cli(candidate: &Path, app: Option<&Path>) -> bool {
    let Ok(real) = std::fs::canonicalize(candidate) else { return false };
    let apps = [AGENT_EXE, WINDOW_EXE].map(|name| format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let an_app = real.file_name().and_then(OsStr::to_str).is_some_and(|name| apps.iter().any(|app| app == name));
    real.is_file() && Some(real.as_path()) != app && !an_app && is_executable(&real)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    true
}

fn missing(app_dir: Option<&Path>) -> AppError {
    let beside = app_dir.map_or_else(|| "beside Keygate".to_string(), |dir| format!("in {}", dir.display()));
    AppError::new(
        "keygate_cli_missing",
        format!(
            "Connecting an agent needs the `keygate` command-line tool, which agents launch, but it is neither {beside} \
             nor on PATH. Install it (from the source tree: `cargo install --locked --path crates/keygate-cli`), \
             then try again."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(path: &Path) {
        std::fs::write(path, "#!/bin/sh\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    #[test]
    fn the_cli_beside_the_app_comes_first_then_path() {
        let dir = tempfile::tempdir().expect("temp");
        let (app_dir, bin) = (dir.path().join("app"), dir.path().join("bin"));
        std::fs::create_dir_all(&app_dir).expect("app dir");
        std::fs::create_dir_all(&bin).expect("bin");
        let app = app_dir.join("keygate-app");
        executable(&app);
        executable(&bin.join("keygate"));
        let path = std::env::join_paths([Path::new("relative/bin"), &bin]).expect("PATH");
        let found = locate(Some(&app), Some(&path)).expect("on PATH");
        assert_eq!(found, bin.join("keygate"));
        executable(&app_dir.join("keygate"));
        assert_eq!(locate(Some(&app), Some(&path)).expect("beside"), app_dir.join("keygate"));
    }

    #[test]
    fn the_app_itself_a_plain_file_or_a_relative_dir_never_counts() {
        let dir = tempfile::tempdir().expect("temp");
        let app = dir.path().join("keygate-app");
        executable(&app);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&app, dir.path().join("keygate")).expect("link to the app");
        let plain = dir.path().join("plain");
        std::fs::create_dir_all(&plain).expect("dir");
        std::fs::write(plain.join("keygate"), "not executable").expect("write");
        let path = std::env::join_paths([plain.as_path(), Path::new(".")]).expect("PATH");
        let err = locate(Some(&app), Some(&path)).expect_err("nothing usable");
        assert_eq!(err.code, "keygate_cli_missing");
        assert!(err.message.contains(&dir.path().display().to_string()), "{}", err.message);
        assert!(err.message.contains("cargo install --locked --path crates/keygate-cli"), "{}", err.message);
        assert_eq!(locate(None, None).expect_err("nothing").code, "keygate_cli_missing");
    }

    #[test]
    #[cfg(unix)]
    fn from_the_window_a_link_to_the_agent_never_counts_either() {
        let dir = tempfile::tempdir().expect("temp");
        let (window, agent) = (dir.path().join("keygate-window"), dir.path().join("keygate-app"));
        executable(&window);
        executable(&agent);
        std::os::unix::fs::symlink(&agent, dir.path().join("keygate")).expect("link to the agent");
        assert_eq!(locate(Some(&window), None).expect_err("the agent is no CLI").code, "keygate_cli_missing");
    }
}
