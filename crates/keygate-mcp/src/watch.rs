//! A running server follows its home: config.toml edits are served without a restart, restart
//! requests from `keygate server restart` are carried out, and the fronted servers' states
//! are published for `keygate server list` and the app. All by polling once a second: it
//! works the same on every OS and costs a few `stat` calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::handler::Shared;
use crate::reload::{ReloadReport, config_changes};

const POLL: Duration = Duration::from_secs(1);
/// The published states of the fronted servers, beside config.toml.
pub const STATUS_FILE: &str = "servers.json";
/// Where `keygate server restart NAME` leaves `restart-NAME` for the running server.
pub const REQUESTS_DIR: &str = "requests";
/// Which process serves the home, and where: written while it serves (`keygate status`).
pub const SERVING_FILE: &str = "serving.json";

/// The Keygate serving a home, as it announced itself in [`SERVING_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Serving {
    /// Its process id.
    pub pid: u32,
    /// Its MCP endpoint.
    pub url: String,
    /// When it started serving, in Unix milliseconds.
    pub since_unix_ms: u64,
}

/// The Keygate serving `home`, as announced; `None` when none announced itself (the caller
/// checks the pid still runs: a killed server leaves its file behind).
pub fn read_serving(home: &Path) -> Option<Serving> {
    let text = std::fs::read_to_string(home.join(SERVING_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Ask the Keygate running on `home` to restart `server` (a file it picks up within a second).
pub fn request_restart(home: &Path, server: &str) -> std::io::Result<PathBuf> {
    let dir = home.join(REQUESTS_DIR);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("restart-{server}"));
    std::fs::write(&path, b"")?;
    Ok(path)
}

/// The fronted servers' states as the Keygate running on `home` published them; `None` when
/// none runs.
pub fn read_published(home: &Path) -> Option<Vec<crate::ServerStatus>> {
    let text = std::fs::read_to_string(home.join(STATUS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) fn spawn(shared: Arc<Shared>, config_path: PathBuf, url: String, stop: CancellationToken) {
    let home = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    // Before the caller says it is serving, so `keygate status` right after finds it.
    announce(&home, url);
    tokio::spawn(async move {
        let mut seen = stamp(&config_path);
        let mut published = String::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(POLL) => {}
            }
            let asked = crate::reload::take_requests(&home);
            let now = stamp(&config_path);
            if now != seen || !asked.is_empty() {
                seen = now;
                let report = reload(&shared, &config_path);
                for nonce in &asked {
                    crate::reload::answer(&home, nonce, &report);
                }
            }
            for server in take_restart_requests(&home) {
                match shared.gateway.restart(&server).await {
                    Ok(tools) => tracing::info!(%server, tools, "restarted on request"),
                    Err(e) => tracing::warn!(%server, "restart on request failed: {e}"),
                }
            }
            publish(&shared, &home, &mut published);
        }
        let _ = std::fs::remove_file(home.join(STATUS_FILE));
        let _ = std::fs::remove_file(home.join(SERVING_FILE));
    });
}

fn announce(home: &Path, url: String) {
    let since_unix_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    let serving = Serving { pid: std::process::id(), url, since_unix_ms };
    let Ok(json) = serde_json::to_string_pretty(&serving) else { return };
    if let Err(e) = write_atomically(home, SERVING_FILE, &json) {
        tracing::warn!(error = %e, "cannot announce the server in {SERVING_FILE}");
    }
}

fn write_atomically(home: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let temp = home.join(format!(".{name}.tmp"));
    std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, home.join(name)))
}

/// Size and modification time: enough to notice an edit, an atomic replace, or a removal.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)))
}

/// Serve the edited config, or keep the current one and say what is wrong with the new one.
fn reload(shared: &Shared, path: &Path) -> ReloadReport {
    match Config::load(path) {
        Ok(config) => {
            let changes = config_changes(&shared.catalog().config, &config);
            shared.reload(config);
            tracing::info!(path = %path.display(), changes = %changes.join("; "), "config.toml read: now serving it");
            ReloadReport { config: path.to_path_buf(), changes, error: None }
        }
        Err(e) => {
            tracing::error!("config.toml changed but cannot be used, so the previous one is still served: {e}");
            ReloadReport { config: path.to_path_buf(), changes: Vec::new(), error: Some(e.to_string()) }
        }
    }
}

fn take_restart_requests(home: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(home.join(REQUESTS_DIR)) else { return Vec::new() };
    let mut servers = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(server) = name.strip_prefix("restart-") {
            let _ = std::fs::remove_file(entry.path());
            if crate::config::validate_server_name(server).is_ok() {
                servers.push(server.to_string());
            }
        }
    }
    servers
}

/// Write the servers' states when they change (atomically: a reader never sees half a file).
fn publish(shared: &Shared, home: &Path, published: &mut String) {
    let Ok(json) = serde_json::to_string_pretty(&shared.gateway.statuses()) else { return };
    if json == *published {
        return;
    }
    match write_atomically(home, STATUS_FILE, &json) {
        Ok(()) => *published = json,
        Err(e) => tracing::warn!(error = %e, "cannot publish the servers' states"),
    }
}
