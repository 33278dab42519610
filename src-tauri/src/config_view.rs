//! config.toml as the window shows it: where it is, whether it loads (the error names the
//! file and line), "Open in editor" through the desktop's opener, and Reload. The running
//! server follows the file by its size and modification time, so Reload checks the file and
//! then marks it modified now: the server serves it within a second, or keeps the previous
//! one if it does not load (and the window shows why, beside the server's state).

use std::fs::File;
use std::time::SystemTime;

use keygate_mcp::Config;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// The longest config error the window is given.
const ERROR_CHARS: usize = 500;

/// Where config.toml is and whether it loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigView {
    /// Its path.
    pub path: String,
    /// Why it does not load (file and line), if it does not; a missing file is not an error.
    pub error: Option<String>,
}

/// The config's path and state.
pub fn view(state: &AppState) -> ConfigView {
    let path = state.home().config_path();
    let error = Config::load(&path).err().map(|e| keygate_mcp::printable(&e.to_string(), ERROR_CHARS));
    ConfigView { path: path.display().to_string(), error }
}

/// Check config.toml and have the running server serve it now; the error if it does not load.
pub fn reload(state: &AppState) -> Result<ConfigView, AppError> {
    let path = state.home().config_path();
    Config::load(&path)?;
    if path.exists() {
        let file = File::options().append(true).open(&path).map_err(|e| unwritable(&path, &e))?;
        file.set_modified(SystemTime::now()).map_err(|e| unwritable(&path, &e))?;
    }
    Ok(view(state))
}

fn unwritable(path: &std::path::Path, e: &std::io::Error) -> AppError {
    AppError::new("config_unwritable", format!("Cannot mark {} for reload: {e}", path.display()))
}

/// Open config.toml in the desktop's editor for it, creating an empty one first if needed.
pub fn open_in_editor(state: &AppState) -> Result<(), AppError> {
    let path = state.home().config_path();
    if !path.exists() {
        state.home().ensure_dir().map_err(|e| AppError::new("home_unwritable", e.to_string()))?;
        File::options()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| AppError::new("config_unwritable", format!("Cannot create {}: {e}", path.display())))?;
    }
    crate::consent::open_with_desktop(&path.display().to_string())
}
