//! The Credentials view's Rotate now and Roll back. Rotate now runs the rotator on a vault
//! connection of its own (a provider may take seconds; the window's vault stays free).

use std::sync::Arc;

use keygate_rotate::Kind;
use keygate_team::TeamPublisher;
use keygate_vault::{Actor, CredentialInfo, Vault};
use serde::Serialize;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

type CommandResult<T> = Result<T, AppError>;

/// What Rotate now did.
#[derive(Debug, Serialize)]
pub struct RotatedNow {
    /// The credential.
    pub name: String,
    /// Its new current version.
    pub version: i64,
    /// It finished a rotation an earlier run left.
    pub resumed: bool,
    /// Anything worth saying (an old key that could not be revoked).
    pub notes: Vec<String>,
}

/// Rotate `name` through its rotator now.
#[tauri::command]
pub async fn rotate_now(state: State<'_, AppState>, name: String) -> CommandResult<RotatedNow> {
    let rotators = keygate_rotate::RotatorSet::load(&state.home().config_path())?;
    let rotator = rotators.get(&name).filter(|r| r.kind != Kind::Manual).ok_or_else(|| {
        AppError::new(
            "no_rotator",
            format!("{name} has no rotator in config.toml that mints keys: choose Rotate and paste the new value."),
        )
    })?;
    let mut vault = Vault::open(state.home(), state.key_source()?, Arc::clone(state.clock()), Actor::App)?;
    // A team copy's new key is published to the team first (refused if the team is out of reach).
    let team = TeamPublisher::for_vault(vault.id(), &state.home().config_path())
        .await
        .map_err(|e| AppError::new("team_unreachable", e.to_string()))?;
    let report = match team {
        Some(team) => keygate_rotate::rotate_team(&mut vault, rotator, &team).await?,
        None => keygate_rotate::rotate(&mut vault, rotator).await?,
    };
    state.mark_changed();
    Ok(RotatedNow { name, version: report.version, resumed: report.resumed, notes: report.notes })
}

/// Make the previous version current again.
#[tauri::command]
pub async fn rollback_credential(state: State<'_, AppState>, name: String) -> CommandResult<CredentialInfo> {
    refuse_team_copy(&state, &name, "rollback")?;
    let info = state.with_vault(|vault| vault.rollback_credential(&name))?;
    state.mark_changed();
    Ok(info)
}

/// A team copy changes on the team first, for every machine, which only `keygate cred ...`
/// does; done here, the next sync would undo it.
pub fn refuse_team_copy(state: &AppState, name: &str, subcommand: &str) -> CommandResult<()> {
    if !state.with_vault(|vault| Ok(vault.team_versions()?.contains_key(name)))? {
        return Ok(());
    }
    Err(AppError::new(
        "team_credential",
        format!(
            "{name} is a team credential: it changes on the team first, for every machine. Run `keygate cred {subcommand} {name}` in a terminal."
        ),
    ))
}
