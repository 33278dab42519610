//! `team.json` in the home: what the running Keygate's last sync saw, for `keygate team
//! status`, the app and the tray (written whole, by rename, after every sync attempt).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's name in the home.
pub const STATUS_FILE: &str = "team.json";

/// The last sync as the running Keygate saw it. Times are Unix milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamStatus {
    /// The OpenBao address synced from.
    pub address: String,
    /// The last attempt.
    pub checked_at: i64,
    /// The last sync that completed.
    pub synced_at: Option<i64>,
    /// Since when OpenBao cannot be reached (or refuses), while it stays so.
    pub failing_since: Option<i64>,
    /// The last attempt's error code and message, if it failed.
    pub error: Option<(String, String)>,
    /// Team credentials held locally after the last completed sync.
    pub credentials: usize,
    /// Team secrets that could not be used at the last sync, with why.
    pub skipped: Vec<(String, String)>,
}

/// Write `status` into `home`.
pub fn write_status(home: &Path, status: &TeamStatus) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(status).map_err(std::io::Error::other)?;
    let temp = home.join(format!(".{STATUS_FILE}.tmp"));
    std::fs::write(&temp, json).and_then(|()| std::fs::rename(&temp, home.join(STATUS_FILE)))
}

/// What the running Keygate last wrote, if it did.
pub fn read_status(home: &Path) -> Option<TeamStatus> {
    let text = std::fs::read_to_string(home.join(STATUS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}
