//! config.toml as the window shows it: where it is, whether it loads (the error names the
//! file and line), "Open in editor" through the desktop's opener, and Reload, which checks the
//! file and asks the running Keygate to serve it now (the request `keygate reload` leaves);
//! a file that does not load is refused and the previous config stays served.

use std::fs::File;
use std::time::{Duration, Instant};

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
pub async fn reload(state: &AppState) -> Result<ConfigView, AppError> {
    let path = state.home().config_path();
    Config::load(&path)?;
    // The same request `keygate reload` leaves: a running Keygate serves the file now, even an
    // edit its once-a-second watch could not see (same size and time).
    let pending = keygate_mcp::request_reload(state.home().dir())
        .map_err(|e| AppError::new("config_unwritable", format!("Cannot ask the server to reload: {e}")))?;
    let deadline = Instant::now() + ANSWER_WAIT;
    loop {
        if let Some(report) = pending.answer() {
            if let Some(error) = report.error {
                return Err(AppError::new("config_invalid", error));
            }
            break;
        }
        if Instant::now() >= deadline {
            // No Keygate serving this home: the file was checked, which is all there is to do.
            pending.cancel();
            break;
        }
        // Waited on the runtime, not by blocking one of its threads.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(view(state))
}

/// How long Reload waits for the running server's answer (it looks once a second).
const ANSWER_WAIT: Duration = Duration::from_millis(2500);

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
