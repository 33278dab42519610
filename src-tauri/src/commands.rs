//! The commands the window invokes. Each is a short delegation to keygate-vault or the
//! server; the logic lives there, shared with the CLI.

use keygate_mcp::Config;
use keygate_vault::{CredentialInfo, LogEntry, TokenInfo, TokenRequest, parse_ttl};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tauri::State;

use crate::activity::{self, ActivityRow};
use crate::config_view::{self, ConfigView};
use crate::error::AppError;
use crate::first_run::{self, Checklist};
use crate::reminders::{due_soon, reminders_for};
use crate::server::{self, ServerStatus};
use crate::servers::{self, ServerRow};
use crate::state::{AppState, lock};

type CommandResult<T> = Result<T, AppError>;

/// Everything the window's header, checklist and reminders show.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    home: String,
    vault_error: Option<AppError>,
    created_notice: Option<String>,
    server: ServerStatus,
    /// config.toml's path and, if it does not load, why (shown beside the server's state).
    config: ConfigView,
    /// The first-run checklist, until it is dismissed.
    checklist: Option<Checklist>,
    reminders: Vec<ReminderView>,
    /// Fronted servers' tools held back until approved.
    held_back: usize,
    /// Plaintext keys in agent configs, unless the person dismissed the Import reminder.
    plaintext_keys: usize,
    notifications_unavailable: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReminderView {
    credential: String,
    overdue: bool,
    message: String,
}

/// The status of the vault, the server and the reminders.
#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    Ok(status_of(&state))
}

/// Try to open (or create) the vault again, e.g. after unlocking the keychain, then start the
/// server if it is not running.
#[tauri::command]
pub async fn retry_vault(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    if state.open_vault().is_ok() {
        server::start_server(&state).await;
        state.mark_changed();
    }
    Ok(status_of(&state))
}

/// Start the MCP server if it is stopped (e.g. once its port is free again).
#[tauri::command]
pub async fn start_server(state: State<'_, AppState>) -> CommandResult<ServerStatus> {
    let status = server::start_server(&state).await;
    state.mark_changed();
    Ok(status)
}

fn status_of(state: &AppState) -> AppStatus {
    let now = state.clock().now();
    let reminders = state
        .with_vault(|vault| vault.list_credentials())
        .map(|credentials| reminders_for(&credentials, now))
        .unwrap_or_default()
        .into_iter()
        .map(|r| ReminderView { message: r.message(now), credential: r.credential, overdue: r.overdue })
        .collect();
    // A window shows what the agent published; the agent (and tests) show their own state.
    let (server, notifications_unavailable, agent_notice) = match server::agent_view(state) {
        Some(agent) => (agent.server, agent.notifications_unavailable, agent.created_notice),
        None => (server::server_status(state), lock(&state.reminders).notifications_unavailable.clone(), None),
    };
    AppStatus {
        home: state.home().dir().display().to_string(),
        vault_error: state.vault_error(),
        created_notice: state.created_notice().or(agent_notice),
        server,
        config: config_view::view(state),
        checklist: first_run::checklist(state),
        reminders,
        held_back: servers::held_back(state),
        plaintext_keys: crate::import_view::reminder_count(state),
        notifications_unavailable,
    }
}

/// A credential as the Credentials view lists it.
#[derive(Debug, Serialize)]
pub struct CredentialRow {
    #[serde(flatten)]
    info: CredentialInfo,
    /// Not due yet, but within the reminder window.
    due_soon: bool,
    /// Whole days since the current version was set.
    version_age_days: u64,
    /// Its rotator, next scheduled rotation and whether Roll back can restore a version.
    #[serde(flatten)]
    rotation: crate::rotations::RotationSummary,
}

/// The credentials, by name; never their values.
#[tauri::command]
pub async fn list_credentials(state: State<'_, AppState>) -> CommandResult<Vec<CredentialRow>> {
    let now = state.clock().now();
    let rotators = crate::rotations::rotators(&state);
    let rows = state.with_vault(|vault| {
        let credentials = vault.list_credentials()?;
        Ok(credentials
            .into_iter()
            .map(|info| {
                let since = info.rotated_at.unwrap_or(info.created_at);
                CredentialRow {
                    due_soon: due_soon(&info, now),
                    version_age_days: now.since(since).as_secs() / 86_400,
                    rotation: crate::rotations::summary(vault, &rotators, &info),
                    info,
                }
            })
            .collect())
    })?;
    Ok(rows)
}

/// Add a credential. The value goes into a zeroizing secret at once and never comes back.
#[tauri::command]
pub async fn add_credential(
    state: State<'_, AppState>,
    name: String,
    value: String,
    max_age_days: Option<i64>,
) -> CommandResult<CredentialInfo> {
    let value = SecretString::from(value);
    let info = state.with_vault(|vault| vault.add_credential(&name, &value, max_age_days))?;
    state.mark_changed();
    Ok(info)
}

/// Give a credential a new value; the previous version is kept.
#[tauri::command]
pub async fn rotate_credential(
    state: State<'_, AppState>,
    name: String,
    value: String,
) -> CommandResult<CredentialInfo> {
    crate::rotation_commands::refuse_team_copy(&state, &name, "rotate")?;
    let value = SecretString::from(value);
    let info = state.with_vault(|vault| vault.rotate_credential(&name, &value))?;
    state.mark_changed();
    Ok(info)
}

/// Remove a credential and erase its stored values.
#[tauri::command]
pub async fn remove_credential(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    crate::rotation_commands::refuse_team_copy(&state, &name, "remove")?;
    state.with_vault(|vault| vault.remove_credential(&name))?;
    state.mark_changed();
    Ok(())
}

/// A configured tool, for choosing a token's scope.
#[derive(Debug, Serialize)]
pub struct ToolView {
    name: String,
    description: String,
    credential: String,
    /// Its credentials that are not in the vault: the forms warn before granting it.
    missing: Vec<String>,
}

/// The tools in config.toml, then each fronted server as `SERVER_*` (every tool of it).
#[tauri::command]
pub async fn list_tools(state: State<'_, AppState>) -> CommandResult<Vec<ToolView>> {
    let config = Config::load(&state.home().config_path())?;
    let stored: std::collections::HashSet<String> =
        state.with_vault(|vault| vault.list_credentials())?.into_iter().map(|c| c.name).collect();
    let missing = |needed: &[&str]| -> Vec<String> {
        needed.iter().filter(|n| !stored.contains(**n)).map(|n| n.to_string()).collect()
    };
    let tools = config.tools.iter().map(|t| ToolView {
        name: t.name.clone(),
        description: t.description.clone(),
        credential: t.credential.clone(),
        missing: missing(&[t.credential.as_str()]),
    });
    let servers = config.servers.iter().map(|s| ToolView {
        description: format!("every tool of server {}", s.name),
        name: format!("{}_*", s.name),
        credential: s.credentials().join(", "),
        missing: missing(&s.credentials()),
    });
    Ok(tools.chain(servers).collect())
}

/// Every token: active, expired and revoked.
#[tauri::command]
pub async fn list_tokens(state: State<'_, AppState>) -> CommandResult<Vec<TokenInfo>> {
    state.with_vault(|vault| vault.list_tokens())
}

/// A new token, shown once. Agents connect without one through a grant (the Agents view); a
/// pasted token is the fallback for an agent that can do nothing else.
#[derive(Serialize)]
pub struct CreatedToken {
    id: String,
    token: String,
    tools: Vec<String>,
    expires_at: keygate_vault::Timestamp,
    /// The MCP endpoint the token is sent to.
    url: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CreatedToken {{ id: {}, token: [redacted], tools: {:?} }}", self.id, self.tools)
    }
}

/// Issue a token for `tools`, living `ttl` (e.g. `8h`; the configured default if empty).
#[tauri::command]
pub async fn create_token(
    state: State<'_, AppState>,
    label: Option<String>,
    tools: Vec<String>,
    ttl: Option<String>,
) -> CommandResult<CreatedToken> {
    let ttl = ttl.filter(|t| !t.trim().is_empty());
    let ttl = ttl.map(|t| parse_ttl(t.trim())).transpose().map_err(|e| AppError::new("invalid_ttl", e))?;
    let label = label.filter(|l| !l.trim().is_empty());
    let issued = state.with_vault(|vault| vault.issue_token(&TokenRequest { tools, ttl, label }))?;
    state.mark_changed();
    Ok(CreatedToken {
        id: issued.id,
        token: issued.token.expose_secret().to_string(),
        tools: issued.tools,
        expires_at: issued.expires_at,
        url: endpoint_url(&state),
    })
}

/// Revoke a token by id; its next request is refused.
#[tauri::command]
pub async fn revoke_token(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.with_vault(|vault| vault.revoke_token(&id).map(drop))?;
    state.mark_changed();
    Ok(())
}

/// The rotation log, newest first.
#[tauri::command]
pub async fn rotation_log(state: State<'_, AppState>) -> CommandResult<Vec<LogEntry>> {
    let mut log = state.with_vault(|vault| vault.rotation_log())?;
    log.reverse();
    Ok(log)
}

/// The newest audited calls and refused connections, newest first, with agents and outcomes
/// in words.
#[tauri::command]
pub async fn activity(state: State<'_, AppState>) -> CommandResult<Vec<ActivityRow>> {
    activity::list(&state)
}

/// Whether the audit and the rotation log are intact: every row's chain MAC verified, or the
/// first row that breaks and why (an edited, deleted, reordered or inserted row).
#[derive(Debug, Serialize)]
pub struct Integrity {
    audit: keygate_vault::ChainReport,
    rotation_log: keygate_vault::ChainReport,
}

/// Check both chains (what `keygate audit verify` and `keygate log verify` do).
#[tauri::command]
pub async fn integrity(state: State<'_, AppState>) -> CommandResult<Integrity> {
    state.with_vault(|vault| Ok(Integrity { audit: vault.verify_audit()?, rotation_log: vault.verify_rotation_log()? }))
}

/// The MCP servers Keygate fronts: live state, tools and the ones held back.
#[tauri::command]
pub async fn list_servers(state: State<'_, AppState>) -> CommandResult<Vec<ServerRow>> {
    servers::list(&state)
}

/// Approve one held-back tool of a server, or all of them; the tools approved.
#[tauri::command]
pub async fn approve_server_tools(
    state: State<'_, AppState>,
    name: String,
    tool: Option<String>,
) -> CommandResult<Vec<String>> {
    let approved = servers::approve(&state, &name, tool.as_deref())?;
    state.mark_changed();
    Ok(approved)
}

/// Ask the running server to restart a server (and re-check its tools).
#[tauri::command]
pub async fn restart_server(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    servers::restart(&state, &name).await
}

/// The endpoint agents use: the running server's, else the configured one.
fn endpoint_url(state: &AppState) -> String {
    match server::server_status(state) {
        ServerStatus::Running { url, .. } => url,
        ServerStatus::Stopped { .. } => Config::endpoint_url_at(&state.home().config_path()),
    }
}
