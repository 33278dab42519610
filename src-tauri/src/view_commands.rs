//! The commands of the Tools view, the first-run checklist, the config line and Quit: short
//! delegations to the modules that hold the logic.

use tauri::{AppHandle, Runtime, State};

use crate::agent;
use crate::approvals;
use crate::config_view::{self, ConfigView};
use crate::error::AppError;
use crate::first_run;
use crate::server::ServerHost;
use crate::state::AppState;
use crate::tool_readiness::{self, ToolReadiness};

type CommandResult<T> = Result<T, AppError>;

/// The calls waiting for a person's approval at the running Keygate.
#[tauri::command]
pub async fn list_approvals(state: State<'_, AppState>) -> CommandResult<Vec<keygate_mcp::PendingApproval>> {
    approvals::pending(&state)
}

/// Answer a waiting call: allow it (and the same grant's calls to the same tool for 10
/// minutes, with `for_ten_minutes`) or deny it.
#[tauri::command]
pub async fn answer_approval(
    state: State<'_, AppState>,
    id: String,
    allow: bool,
    for_ten_minutes: bool,
) -> CommandResult<()> {
    let allow_for = for_ten_minutes.then_some(approvals::ALLOW_FOR);
    approvals::answer(state.home().dir(), &id, allow, allow_for).await?;
    state.mark_changed();
    Ok(())
}

/// Every tool with its credentials and whether it is ready to call.
#[tauri::command]
pub async fn tool_readiness(state: State<'_, AppState>) -> CommandResult<Vec<ToolReadiness>> {
    tool_readiness::list(&state)
}

/// Hide the first-run checklist for good.
#[tauri::command]
pub async fn dismiss_checklist(state: State<'_, AppState>) -> CommandResult<()> {
    first_run::dismiss(&state)?;
    state.mark_changed();
    Ok(())
}

/// Open config.toml in the desktop's editor.
#[tauri::command]
pub async fn open_config(state: State<'_, AppState>) -> CommandResult<ConfigView> {
    config_view::open_in_editor(&state)?;
    Ok(config_view::view(&state))
}

/// Check config.toml and have the running server serve it now.
#[tauri::command]
pub async fn reload_config(state: State<'_, AppState>) -> CommandResult<ConfigView> {
    let view = config_view::reload(&state).await?;
    state.mark_changed();
    Ok(view)
}

/// Quit Keygate: the agent stops its server (open requests finish, outcomes are written) and
/// exits, and the window closes when it sees the agent gone. The window asks first.
#[tauri::command]
pub async fn quit_keygate<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> CommandResult<()> {
    match state.server_host() {
        ServerHost::Agent if agent::agent_running(state.home()) => agent::nudge(state.home(), agent::QUIT_FILE),
        ServerHost::Agent => app.exit(0),
        ServerHost::InProcess(_) => {
            keygate_tray::stop_server(&state, "Keygate quit").await;
            keygate_tray::watch::publish_status(&state);
            app.exit(0);
        }
    }
    Ok(())
}
