//! Errors as the UI sees them: a stable code to act on and a message to show. Never a stack
//! trace, never a secret (the vault's and server's messages carry names and paths only).

use std::fmt;

use keygate_mcp::McpError;
use keygate_rotate::RotateError;
use keygate_vault::VaultError;
use serde::Serialize;

/// An error for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppError {
    /// Machine-readable kind, e.g. `credential_exists`, `keychain_unavailable`.
    pub code: String,
    /// One sentence for people: what went wrong and what to do.
    pub message: String,
}

impl AppError {
    /// An error with the given code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_string(), message: message.into() }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<VaultError> for AppError {
    fn from(err: VaultError) -> Self {
        let code = err.code();
        match in_app_words(&err) {
            Some(message) => Self::new(code, message),
            None => Self::new(code, err.to_string()),
        }
    }
}

/// The vault's messages that tell a terminal user which command to run, said instead with the
/// window's buttons (the code stays the same, so nothing matches on the words).
fn in_app_words(err: &VaultError) -> Option<String> {
    Some(match err {
        VaultError::CredentialExists { name } => {
            format!("Credential {name} already exists: choose Rotate in its row to give it a new value.")
        }
        VaultError::CredentialNotFound { name } => {
            format!("No credential named {name}: add it under Add a credential in Credentials.")
        }
        VaultError::TokenNotFound { id } => format!("No token with id {id}: it may have been removed; see Tokens."),
        VaultError::PinNotFound { server, .. } => {
            format!(
                "Server {server}'s tools were never listed: choose Restart in its row in Servers so they are pinned."
            )
        }
        VaultError::GrantExists { name } => {
            format!(
                "A grant named {name} already exists: choose Revoke in its row in Agents first, or pick another name."
            )
        }
        VaultError::GrantNotFound { name } => format!("No grant named {name}: create it with Connect in Agents."),
        VaultError::GrantRevoked { name } => {
            format!("Grant {name} has been revoked: connect the agent again under a new grant in Agents.")
        }
        VaultError::GrantExpired { name } => {
            format!("Grant {name} has expired: choose Revoke in its row in Agents, then connect under a new grant.")
        }
        _ => return None,
    })
}

impl From<McpError> for AppError {
    fn from(err: McpError) -> Self {
        match err {
            McpError::Vault(inner) => inner.into(),
            McpError::Config { .. } => Self::new("config", err.to_string()),
            other => Self::new("server", other.to_string()),
        }
    }
}

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
