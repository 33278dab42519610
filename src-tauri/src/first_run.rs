//! The first-run checklist that replaces the vault-path banner: add keys, connect an agent,
//! see its first call. Each step ticks itself from real state (credentials in the vault, an
//! agent connected or a token used, an allowed call in the audit), and the whole list is
//! hidden once the person dismisses it.

use keygate_vault::Vault;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// Kept in the home once the checklist is dismissed.
const DISMISSED_FILE: &str = ".checklist-dismissed";
/// How many of the newest audit rows are searched for a first allowed call.
const CALL_ROWS: usize = 200;

/// The checklist as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checklist {
    /// Keys are in the vault (imported or added).
    pub keys: bool,
    /// An agent is connected (a client's config launches Keygate) or has used a token.
    pub agent: bool,
    /// An agent's call went through.
    pub first_call: bool,
}

/// The checklist from the vault and the client configs, or `None` once it was dismissed.
pub fn checklist(state: &AppState) -> Option<Checklist> {
    if dismissed(state) {
        return None;
    }
    let connected_client =
        crate::agents::clients(state).map(|clients| clients.iter().any(|c| c.is_connected())).unwrap_or(false);
    state.with_vault(|vault| from_vault(vault, connected_client)).ok()
}

fn from_vault(vault: &Vault, connected_client: bool) -> keygate_vault::Result<Checklist> {
    let keys = !vault.list_credentials()?.is_empty();
    let token_used = vault.list_tokens()?.iter().any(|t| t.uses > 0);
    let grant_used = vault.list_grants()?.iter().any(|g| g.tokens_minted > 0);
    let first_call = vault.recent_audit(CALL_ROWS)?.iter().any(|row| row.decision == "allowed");
    Ok(Checklist { keys, agent: connected_client || token_used || grant_used || first_call, first_call })
}

fn dismissed(state: &AppState) -> bool {
    state.home().dir().join(DISMISSED_FILE).exists()
}

/// Hide the checklist for good.
pub fn dismiss(state: &AppState) -> Result<(), AppError> {
    let path = state.home().dir().join(DISMISSED_FILE);
    crate::agent::write_json(&path, &"dismissed")
        .map_err(|e| AppError::new("home_unwritable", format!("Cannot write {}: {e}", path.display())))
}
