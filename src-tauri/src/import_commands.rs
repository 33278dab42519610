//! The Import view's commands. Each delegates to import_view.rs.

use tauri::State;

use crate::error::AppError;
use crate::import_view::{self, ImportOverview, ImportResult};
use crate::state::AppState;

type CommandResult<T> = Result<T, AppError>;

/// What each client's config holds in plaintext (names only) and what Secure would do.
#[tauri::command]
pub async fn import_overview(state: State<'_, AppState>) -> CommandResult<ImportOverview> {
    import_view::overview(&state)
}

/// Secure these keys: into the vault, the configs through Keygate; the result per client.
#[tauri::command]
pub async fn import_keys(state: State<'_, AppState>) -> CommandResult<ImportResult> {
    let result = import_view::secure(&state);
    state.mark_changed();
    result
}

/// "Not now": the window stops opening on Import by itself (the tray line stays).
#[tauri::command]
pub async fn dismiss_import(state: State<'_, AppState>) -> CommandResult<()> {
    import_view::dismiss(&state)
}

/// The tab the window opens on: the one the tray asked for, else Import while keys wait to be
/// secured and it was not dismissed, else none (the default).
#[tauri::command]
pub async fn start_view(state: State<'_, AppState>) -> CommandResult<Option<&'static str>> {
    if let Some(view) = crate::agent::take_requested_view(state.home()) {
        return Ok(Some(view));
    }
    Ok(import_view::wanted_first(&state).then_some("import"))
}
