//! `keygate server list | tools | approve | restart`: what the vault pinned, what the running
//! Keygate published (`servers.json`), and restarts done by it (or here, when none runs).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use keygate_mcp::{Config, ServerEntry};
use keygate_vault::{Actor, Home, KeySource, SystemClock, ToolPin, Vault};
use serde::Serialize;

use crate::UsageError;
use crate::output;

/// How long `restart` waits for a running Keygate to pick up the request.
const RESTART_WAIT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct ServerRow {
    name: String,
    kind: &'static str,
    state: String,
    pid: Option<u32>,
    tools: usize,
    quarantined: usize,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct ToolRow {
    tool: String,
    exposed_as: String,
    state: &'static str,
    sha256: String,
}

pub fn list_servers(json: bool) -> Result<()> {
    let (home, config, vault) = open()?;
    let published = keygate_mcp::read_published(home.dir());
    let mut rows = Vec::with_capacity(config.servers.len());
    for entry in &config.servers {
        let pins = vault.tool_pins(&entry.name)?;
        let live = published.as_ref().and_then(|all| all.iter().find(|s| s.name == entry.name));
        let state = match (&published, live) {
            (Some(_), Some(status)) => status.state.to_string(),
            (Some(_), None) => "loading".to_string(),
            (None, _) => "stopped (Keygate is not running)".to_string(),
        };
        rows.push(ServerRow {
            name: entry.name.clone(),
            kind: entry.kind(),
            state,
            pid: live.and_then(|s| s.pid),
            tools: pins.iter().filter(|p| p.listed).count(),
            quarantined: pins.iter().filter(|p| p.listed && p.state.is_quarantined()).count(),
            last_error: live.and_then(|s| s.last_error.clone()),
        });
    }
    if json {
        return Ok(output::json(&rows)?);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.to_string(),
                r.state.clone(),
                r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.tools.to_string(),
                r.quarantined.to_string(),
                r.last_error.as_deref().map(|e| keygate_mcp::printable(e, 100)).unwrap_or_default(),
            ]
        })
        .collect();
    let empty = "No servers yet: add one with `keygate server add NAME -- COMMAND ARGS...`";
    Ok(output::table(&["NAME", "KIND", "STATE", "PID", "TOOLS", "HELD BACK", "LAST ERROR"], &cells, empty)?)
}

pub fn show_tools(name: &str, json: bool) -> Result<()> {
    let (_, config, vault) = open()?;
    let entry = configured(&config, name)?;
    let pins = vault.tool_pins(name)?;
    let rows: Vec<ToolRow> = pins.iter().filter(|p| p.listed).map(|pin| tool_row(entry, pin)).collect();
    if json {
        return Ok(output::json(&rows)?);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r.tool.clone(), r.exposed_as.clone(), r.state.to_string(), r.sha256.clone()])
        .collect();
    let empty = format!("Server {name} has not been listed yet: run `keygate server restart {name}`");
    Ok(output::table(&["TOOL", "EXPOSED AS", "STATE", "SHA256"], &cells, &empty)?)
}

pub fn approve_tools(name: &str, tool: Option<&str>) -> Result<()> {
    let (_, config, mut vault) = open()?;
    configured(&config, name)?;
    let approved = vault.approve_tools(name, tool)?;
    if approved.is_empty() {
        return Ok(output::lines([format!("Nothing to approve: every listed tool of {name} is approved")])?);
    }
    let shown: Vec<String> = approved.iter().map(|t| keygate_mcp::printable(t, 64)).collect();
    Ok(output::lines([format!("Approved {} tool(s) of {name}: {}", shown.len(), shown.join(", "))])?)
}

/// A running Keygate restarts the server itself; with none running, the server is started
/// here just long enough to list and pin its tools.
pub fn restart_server(name: &str) -> Result<()> {
    let (home, config, vault) = open()?;
    configured(&config, name)?;
    if keygate_mcp::read_published(home.dir()).is_some() {
        let request = keygate_mcp::request_restart(home.dir(), name).context("cannot ask Keygate to restart it")?;
        let deadline = std::time::Instant::now() + RESTART_WAIT;
        while request.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if request.exists() {
            let _ = std::fs::remove_file(&request);
            anyhow::bail!(
                "Keygate did not pick up the restart within {}s: is it still running?",
                RESTART_WAIT.as_secs()
            );
        }
        return Ok(output::lines([format!("Asked the running Keygate to restart {name}; see `keygate server list`")])?);
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let listed = runtime.block_on(async {
        let server = keygate_mcp::start(config, vault, Some("127.0.0.1:0")).await?;
        let listed = server.restart_server(name).await;
        server.shutdown().await?;
        anyhow::Ok(listed)
    })?;
    let tools = listed.map_err(anyhow::Error::msg)?;
    Ok(output::lines([format!("Started {name}: it lists {tools} tool(s); see `keygate server tools {name}`")])?)
}

fn open() -> Result<(Home, Config, Vault)> {
    let home = Home::from_env()?;
    let config = Config::load(&home.config_path())?;
    let vault = Vault::open(&home, KeySource::from_env()?, Arc::new(SystemClock), Actor::Cli)?;
    Ok((home, config, vault))
}

fn configured<'c>(config: &'c Config, name: &str) -> Result<&'c ServerEntry> {
    config.server(name).ok_or_else(|| {
        let known: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        let known = if known.is_empty() { "none yet".to_string() } else { known.join(", ") };
        UsageError(format!("no server named {} in config.toml (servers: {known})", keygate_mcp::printable(name, 40)))
            .into()
    })
}

fn tool_row(entry: &ServerEntry, pin: &ToolPin) -> ToolRow {
    ToolRow {
        tool: keygate_mcp::printable(&pin.tool, 64),
        exposed_as: entry.exposed_name(&pin.tool).unwrap_or_else(|_| "(cannot be exposed)".into()),
        state: pin.state.as_str(),
        sha256: pin.sha256.clone(),
    }
}
