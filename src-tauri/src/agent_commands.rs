//! The Agents view's commands: clients, grants and waiting sign-ins. Each delegates to
//! agents.rs, grants.rs or consent.rs.

use serde::Serialize;
use tauri::State;

use crate::agents::{self, CliView, ClientRow};
use crate::consent::{self, ConsentRow};
use crate::error::AppError;
use crate::grants::{self, GrantRow};
use crate::state::AppState;

type CommandResult<T> = Result<T, AppError>;

/// Everything the Agents view shows.
#[derive(Debug, Serialize)]
pub struct AgentsOverview {
    /// The `keygate` configs launch, or why there is none.
    cli: CliView,
    clients: Vec<ClientRow>,
    grants: Vec<GrantRow>,
    pending: Vec<ConsentRow>,
    /// Why the waiting sign-ins cannot be listed (a request that fails its check).
    pending_error: Option<AppError>,
}

/// Clients and their configs, grants with their recent calls, and sign-ins waiting for consent.
#[tauri::command]
pub async fn list_agents(state: State<'_, AppState>) -> CommandResult<AgentsOverview> {
    let (pending, pending_error) = match consent::pending(&state) {
        Ok(waiting) => (waiting, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Ok(AgentsOverview {
        grants: grants::list(&state)?,
        clients: agents::clients(&state)?,
        cli: agents::cli(&state),
        pending,
        pending_error,
    })
}

/// Create a grant: a name, the tools its tokens may call, their lifetime and its own expiry.
#[tauri::command]
pub async fn create_grant(
    state: State<'_, AppState>,
    name: String,
    tools: Vec<String>,
    token_ttl: Option<String>,
    expires: Option<String>,
) -> CommandResult<GrantRow> {
    let grant = grants::create(&state, &name, tools, token_ttl.as_deref(), expires.as_deref())?;
    state.mark_changed();
    Ok(grant)
}

/// Revoke a grant; false if it was revoked already.
#[tauri::command]
pub async fn revoke_grant(state: State<'_, AppState>, name: String) -> CommandResult<bool> {
    let revoked = grants::revoke(&state, &name)?;
    state.mark_changed();
    Ok(revoked)
}

/// Add Keygate to a client's config under a grant; what was done.
#[tauri::command]
pub async fn connect_client(
    state: State<'_, AppState>,
    client: String,
    grant: String,
    replace: Option<bool>,
) -> CommandResult<String> {
    let done = agents::connect(&state, &client, &grant, replace.unwrap_or(false))?;
    state.mark_changed();
    Ok(done)
}

/// Remove Keygate's entry from a client's config; what was done.
#[tauri::command]
pub async fn disconnect_client(state: State<'_, AppState>, client: String) -> CommandResult<String> {
    let done = agents::disconnect(&state, &client)?;
    state.mark_changed();
    Ok(done)
}

/// Open a waiting sign-in's consent page in the default browser.
#[tauri::command]
pub async fn open_consent(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    consent::open(&state, &id)
}
