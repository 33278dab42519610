//! Errors as the UI sees them: a stable code to act on and a message to show. Never a stack
//! trace, never a secret (the vault's and server's messages carry names and paths only).

use std::fmt;

use keygate_mcp::McpError;
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
        Self::new(err.code(), err.to_string())
    }
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
