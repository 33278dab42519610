//! The one error type of keygate-rotate. Messages name credentials, rotators and steps, never
//! a key: whatever a provider or command says passes through `redact` first.

use keygate_vault::VaultError;

/// Everything that can go wrong while rotating, each saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// `[rotator.NAME]` in config.toml is wrong.
    #[error("config.toml [rotator.{name}]: {detail}")]
    Config {
        /// The rotator (its credential's name).
        name: String,
        /// What is wrong and how to fix it.
        detail: String,
    },

    /// config.toml cannot be read or parsed at all.
    #[error("cannot read the rotators in {path}: {detail}")]
    ConfigFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },

    /// A step failed; the current version was left as it was.
    #[error("rotating {credential}: the {step} step failed: {detail} (the current version is unchanged)")]
    Step {
        /// The credential.
        credential: String,
        /// `create`, `test`, `revoke`, ...
        step: &'static str,
        /// Why, with every secret redacted.
        detail: String,
    },

    /// The vault refused.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl RotateError {
    pub(crate) fn step(credential: &str, step: &'static str, detail: impl Into<String>) -> Self {
        RotateError::Step { credential: credential.to_string(), step, detail: detail.into() }
    }
}

/// Result with [`RotateError`].
pub type Result<T, E = RotateError> = std::result::Result<T, E>;
