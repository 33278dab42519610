//! The Credentials view's Rotate now and Roll back. Rotate now runs the rotator on a vault
//! connection of its own (a provider may take seconds; the window's vault stays free).

use std::sync::Arc;

use keygate_rotate::{Kind, RotateError};
use keygate_vault::{Actor, CredentialInfo, Vault};
use serde::Serialize;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

type CommandResult<T> = Result<T, AppError>;

impl From<RotateError> for AppError {
    fn from(err: RotateError) -> Self {
        match err {
            RotateError::Vault(e) => e.into(),
            RotateError::Config { .. } | RotateError::ConfigFile { .. } => {
                AppError::new("rotator_config", err.to_string())
            }
            other => AppError::new("rotation_failed", other.to_string()),
        }
    }
}

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
    let report = keygate_rotate::rotate(&mut vault, rotator).await?;
    state.mark_changed();
    Ok(RotatedNow { name, version: report.version, resumed: report.resumed, notes: report.notes })
}

/// Make the previous version current again.
#[tauri::command]
pub async fn rollback_credential(state: State<'_, AppState>, name: String) -> CommandResult<CredentialInfo> {
    let info = state.with_vault(|vault| vault.rollback_credential(&name))?;
    state.mark_changed();
    Ok(info)
}
