//! The Servers view: the `[[server]]` entries Keygate fronts, as `keygate server list | tools |
//! approve | restart` show them. Pins come from the vault; live states from the `servers.json`
//! the running server publishes (this process's own in the agent, the agent's in a window);
//! restarts are requests the running server picks up within a second.
//!
//! Everything that comes from a fronted server (tool names, descriptions, errors) is made
//! printable and cut here, before it reaches the window.

use std::time::{Duration, Instant};

use keygate_mcp::{Config, ServerEntry, ServerStatus};
use keygate_vault::ToolPin;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// How long a restart waits for the running server to pick up the request.
const RESTART_WAIT: Duration = Duration::from_secs(5);
/// The longest tool name, description and error the window is given.
const TOOL_CHARS: usize = 64;
const DESCRIPTION_CHARS: usize = 300;
const ERROR_CHARS: usize = 300;

/// One `[[server]]` as the Servers view lists it.
#[derive(Debug, Serialize)]
pub struct ServerRow {
    name: String,
    /// `stdio` or `http`.
    kind: &'static str,
    /// `running`, `stopped`, `failed` (published), `loading` (published soon), or `offline`
    /// (no Keygate server runs).
    state: String,
    pid: Option<u32>,
    /// Tools in its last listing.
    tools: usize,
    /// Of those, held back as new or changed until approved.
    held_back: usize,
    last_error: Option<String>,
    tool_list: Vec<ToolRow>,
}

/// One pinned tool of a server.
#[derive(Debug, Serialize)]
pub struct ToolRow {
    tool: String,
    exposed_as: String,
    /// `approved`, `pending` or `changed`.
    state: &'static str,
    sha256: String,
    description: String,
}

/// Every configured server with its pins and live state.
pub fn list(state: &AppState) -> Result<Vec<ServerRow>, AppError> {
    let config = Config::load(&state.home().config_path())?;
    let published = keygate_mcp::read_published(state.home().dir());
    state.with_vault(|vault| {
        let mut rows = Vec::with_capacity(config.servers.len());
        for entry in &config.servers {
            let pins = vault.tool_pins(&entry.name)?;
            rows.push(row(entry, &pins, published.as_deref()));
        }
        Ok(rows)
    })
}

fn row(entry: &ServerEntry, pins: &[ToolPin], published: Option<&[ServerStatus]>) -> ServerRow {
    let live = published.and_then(|all| all.iter().find(|s| s.name == entry.name));
    let state = match (published, live) {
        (Some(_), Some(status)) => status.state.clone(),
        (Some(_), None) => "loading".to_string(),
        (None, _) => "offline".to_string(),
    };
    let listed: Vec<&ToolPin> = pins.iter().filter(|p| p.listed).collect();
    ServerRow {
        name: entry.name.clone(),
        kind: entry.kind(),
        state,
        pid: live.and_then(|s| s.pid),
        tools: listed.len(),
        held_back: listed.iter().filter(|p| p.state.is_quarantined()).count(),
        last_error: live.and_then(|s| s.last_error.as_deref()).map(|e| keygate_mcp::printable(e, ERROR_CHARS)),
        tool_list: listed.into_iter().map(|pin| tool_row(entry, pin)).collect(),
    }
}

fn tool_row(entry: &ServerEntry, pin: &ToolPin) -> ToolRow {
    ToolRow {
        tool: keygate_mcp::printable(&pin.tool, TOOL_CHARS),
        exposed_as: entry.exposed_name(&pin.tool).unwrap_or_else(|_| "(cannot be exposed)".into()),
        state: pin.state.as_str(),
        sha256: pin.sha256.clone(),
        description: keygate_mcp::printable(&description(&pin.definition), DESCRIPTION_CHARS),
    }
}

/// The `description` of a pinned definition (canonical JSON), or nothing.
fn description(definition: &str) -> String {
    serde_json::from_str::<serde_json::Value>(definition)
        .ok()
        .and_then(|d| d.get("description")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Approve one tool of `name`, or every held-back one; the tools approved.
pub fn approve(state: &AppState, name: &str, tool: Option<&str>) -> Result<Vec<String>, AppError> {
    configured(state, name)?;
    state
        .with_vault(|vault| {
            if let Some(tool) = tool
                && !vault.tool_pins(name)?.iter().any(|p| p.tool == tool)
            {
                // Checked here so the name asked for is never echoed as given.
                return Err(keygate_vault::VaultError::PinNotFound {
                    server: name.to_string(),
                    tool: Some(keygate_mcp::printable(tool, TOOL_CHARS)),
                });
            }
            vault.approve_tools(name, tool)
        })
        .map(|approved| approved.iter().map(|t| keygate_mcp::printable(t, TOOL_CHARS)).collect())
}

/// Ask the running server to restart `name` (it lists and re-checks its tools) and wait until
/// it has taken the request.
pub async fn restart(state: &AppState, name: &str) -> Result<(), AppError> {
    configured(state, name)?;
    let home = state.home().dir();
    if keygate_mcp::read_published(home).is_none() {
        return Err(AppError::new(
            "gateway_not_running",
            "Keygate's MCP server is not running, so there is nothing to restart: choose Start server first.",
        ));
    }
    let request = keygate_mcp::request_restart(home, name)
        .map_err(|e| AppError::new("restart_failed", format!("cannot ask Keygate to restart {name}: {e}")))?;
    let deadline = Instant::now() + RESTART_WAIT;
    while request.exists() {
        if Instant::now() >= deadline {
            let _ = std::fs::remove_file(&request);
            return Err(AppError::new(
                "restart_not_taken",
                format!("Keygate did not pick up the restart of {name} within {}s.", RESTART_WAIT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Tools held back across all configured servers (for the tray); 0 when anything is unreadable.
pub fn held_back(state: &AppState) -> usize {
    let Ok(config) = Config::load(&state.home().config_path()) else { return 0 };
    state
        .with_vault(|vault| {
            let mut count = 0;
            for entry in &config.servers {
                count += vault.tool_pins(&entry.name)?.iter().filter(|p| p.listed && p.state.is_quarantined()).count();
            }
            Ok(count)
        })
        .unwrap_or(0)
}

/// `name` is a valid server name and in config.toml; names come from the window, untrusted.
fn configured(state: &AppState, name: &str) -> Result<(), AppError> {
    keygate_mcp::validate_server_name(name).map_err(|e| AppError::new("invalid_server_name", e))?;
    let config = Config::load(&state.home().config_path())?;
    if config.server(name).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
    let known = if known.is_empty() { "none yet".to_string() } else { known.join(", ") };
    Err(AppError::new("server_not_found", format!("No server named {name} in config.toml (servers: {known}).")))
}
