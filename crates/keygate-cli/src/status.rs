//! `keygate status`: one screen of where things stand (vault, server, agents, credentials
//! due, held-back tools) and the one next thing to do. Gathering only reads; a part that
//! cannot be read (no vault yet, a broken config) is reported in its place, not as a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use keygate_clients::{EntryState, Places};
use keygate_mcp::{Config, Readiness, Serving, ToolReadiness};
use keygate_vault::{Actor, GrantStatus, Home, KeySource, SystemClock, Timestamp, Vault};
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct Status {
    pub home: PathBuf,
    pub config: ConfigPart,
    pub vault: VaultPart,
    pub server: ServerPart,
    pub grants: Vec<GrantPart>,
    pub clients: Vec<ClientPart>,
    pub credentials_due: Vec<DuePart>,
    pub tools_not_ready: Vec<ToolReadiness>,
    /// `[team]`, when config.toml has one, and the running Keygate's last sync.
    pub team: Option<TeamPart>,
    pub next: String,
}

#[derive(Serialize)]
pub(crate) struct TeamPart {
    pub address: String,
    pub last_sync: Option<keygate_team::TeamStatus>,
}

#[derive(Serialize)]
pub(crate) struct ConfigPart {
    pub path: PathBuf,
    pub tools: usize,
    pub servers: usize,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct VaultPart {
    pub path: PathBuf,
    pub exists: bool,
    /// `keychain` or `env` (KEYGATE_MASTER_KEY).
    pub key: &'static str,
    pub credentials: Option<usize>,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ServerPart {
    pub running: bool,
    pub pid: Option<u32>,
    pub url: Option<String>,
    pub since: Option<Timestamp>,
    /// The fronted servers as the running Keygate published them.
    pub fronted: Vec<keygate_mcp::ServerStatus>,
}

#[derive(Serialize)]
pub(crate) struct GrantPart {
    pub name: String,
    pub status: &'static str,
    pub tools: Vec<String>,
    pub last_call: Option<Timestamp>,
}

#[derive(Serialize)]
pub(crate) struct ClientPart {
    pub client: &'static str,
    pub name: &'static str,
    pub grant: String,
}

#[derive(Serialize)]
pub(crate) struct DuePart {
    pub name: String,
    /// `overdue` or `due_soon`.
    pub state: &'static str,
    pub due_at: Timestamp,
}

pub fn status(json: bool) -> Result<()> {
    let home = Home::from_env()?;
    let status = gather(&home);
    if json { Ok(crate::output::json(&status)?) } else { crate::status_view::print(&status) }
}

fn team_part(home: &Home) -> Option<TeamPart> {
    // A broken [team] is reported by `keygate team status`; here only a working one shows.
    let config = keygate_team::TeamConfig::load(&home.config_path()).ok()??;
    Some(TeamPart { address: config.address, last_sync: keygate_team::read_status(home.dir()) })
}

/// The Keygate serving `home`, if its announcement names a process that still runs.
pub(crate) fn running_server(home: &Path) -> Option<Serving> {
    let serving = keygate_mcp::read_serving(home)?;
    // A Keygate killed without a chance to clean up leaves its file behind.
    let alive = !cfg!(target_os = "linux") || Path::new("/proc").join(serving.pid.to_string()).exists();
    alive.then_some(serving)
}

fn gather(home: &Home) -> Status {
    let (config, loaded) = config_part(home);
    let (vault_part, vault) = vault_part(home);
    let server = server_part(home.dir());
    let mut status = Status {
        home: home.dir().to_path_buf(),
        config,
        vault: vault_part,
        server,
        grants: Vec::new(),
        clients: clients(),
        credentials_due: Vec::new(),
        tools_not_ready: Vec::new(),
        team: team_part(home),
        next: String::new(),
    };
    if let Some(vault) = &vault {
        fill_from_vault(&mut status, vault, loaded.as_ref());
    }
    status.next = crate::status_view::next_step(&status);
    status
}

fn config_part(home: &Home) -> (ConfigPart, Option<Config>) {
    let path = home.config_path();
    match Config::load(&path) {
        Ok(config) => {
            (ConfigPart { path, tools: config.tools.len(), servers: config.servers.len(), error: None }, Some(config))
        }
        Err(e) => (ConfigPart { path, tools: 0, servers: 0, error: Some(e.to_string()) }, None),
    }
}

fn vault_part(home: &Home) -> (VaultPart, Option<Vault>) {
    let path = home.vault_path();
    let source = KeySource::from_env();
    let key = if matches!(source, Ok(KeySource::Given(_))) { "env" } else { "keychain" };
    let mut part = VaultPart { path: path.clone(), exists: path.exists(), key, credentials: None, error: None };
    if !part.exists {
        return (part, None);
    }
    let opened = source
        .map_err(|e| e.to_string())
        .and_then(|source| Vault::open(home, source, Arc::new(SystemClock), Actor::Cli).map_err(|e| e.to_string()));
    match opened {
        Ok(vault) => (part, Some(vault)),
        Err(e) => {
            part.error = Some(e);
            (part, None)
        }
    }
}

fn server_part(home: &Path) -> ServerPart {
    let serving = running_server(home);
    let fronted = if serving.is_some() { keygate_mcp::read_published(home).unwrap_or_default() } else { Vec::new() };
    ServerPart {
        running: serving.is_some(),
        pid: serving.as_ref().map(|s| s.pid),
        url: serving.as_ref().map(|s| s.url.clone()),
        since: serving.map(|s| Timestamp::from_unix_millis(i64::try_from(s.since_unix_ms).unwrap_or(i64::MAX))),
        fronted,
    }
}

/// Agents whose config launches `keygate connect --grant`; a client list that cannot be read
/// (no HOME) is simply empty here.
fn clients() -> Vec<ClientPart> {
    let Ok(places) = Places::from_env() else { return Vec::new() };
    keygate_clients::detect(&places)
        .into_iter()
        .filter_map(|c| match c.keygate {
            EntryState::Connected { grant } => Some(ClientPart { client: c.client, name: c.name, grant }),
            _ => None,
        })
        .collect()
}

/// Each vault part on its own: one that fails (a tampered row) leaves its error in `vault`.
fn fill_from_vault(status: &mut Status, vault: &Vault, config: Option<&Config>) {
    let mut problems = Vec::new();
    match vault.list_credentials() {
        Ok(credentials) => {
            status.vault.credentials = Some(credentials.len());
            status.credentials_due = credentials
                .into_iter()
                .filter(|c| c.due || c.due_soon)
                .map(|c| DuePart { name: c.name, state: if c.due { "overdue" } else { "due_soon" }, due_at: c.due_at })
                .collect();
        }
        Err(e) => problems.push(e.to_string()),
    }
    match vault.list_grants() {
        Ok(grants) => {
            status.grants = grants
                .into_iter()
                .map(|g| GrantPart {
                    status: g.status.as_str(),
                    last_call: g.last_used_at.map(Timestamp::from_unix_millis),
                    tools: g.tools,
                    name: g.name,
                })
                .collect();
        }
        Err(e) => problems.push(e.to_string()),
    }
    if let Some(config) = config {
        match keygate_mcp::tool_readiness(config, vault) {
            Ok(rows) => status.tools_not_ready = rows.into_iter().filter(|r| r.readiness != Readiness::Ready).collect(),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        status.vault.error = Some(problems.join("; "));
    }
}

/// Whether a grant can still mint tokens.
pub(crate) fn grant_active(grant: &GrantPart) -> bool {
    grant.status == GrantStatus::Active.as_str()
}
