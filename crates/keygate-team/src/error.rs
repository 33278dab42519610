//! What can go wrong with a team: each error names the thing and what to do.

use std::path::PathBuf;

use keygate_vault::VaultError;

/// The result of team operations.
pub type Result<T> = std::result::Result<T, TeamError>;

/// Everything a team operation can refuse with.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// `[team]` in config.toml is missing a field or holds a bad value.
    #[error("{}: [team] {detail}", .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and what to write instead.
        detail: String,
    },

    /// No `[team]` section: the command needs one.
    #[error("{} has no [team] section: add one with the OpenBao address, mount and path (README, \"Team credentials\")", .path.display())]
    NotConfigured {
        /// The config file.
        path: PathBuf,
    },

    /// Nothing stored by `keygate team login` for this vault.
    #[error("not logged in to the team's OpenBao: run `keygate team login`")]
    NotLoggedIn,

    /// The keychain could not store or read the login.
    #[error("the OS keychain refused the team login ({detail}): unlock it, then retry")]
    Keychain {
        /// The keychain's reason.
        detail: String,
    },

    /// OpenBao could not be reached.
    #[error("the team's OpenBao at {address} cannot be reached ({detail}): check the address and the network")]
    Unreachable {
        /// The configured address.
        address: String,
        /// Why, as the HTTP client said.
        detail: String,
    },

    /// OpenBao refused: the login or its policy does not allow this.
    #[error("OpenBao refused {what}: {reason} (check the token's policy, or run `keygate team login` again)")]
    Denied {
        /// What was asked.
        what: String,
        /// OpenBao's own words.
        reason: String,
    },

    /// Another machine wrote the secret first (check-and-set did not match).
    #[error(
        "team credential {name} changed on OpenBao while this was written (another machine rotated it): nothing \
         was written; run `keygate team sync`, then retry"
    )]
    Conflict {
        /// The credential.
        name: String,
    },

    /// The team already has a secret by that name.
    #[error("the team already has a credential named {name}: use `keygate cred rotate {name}` to give it a new value")]
    Exists {
        /// The credential.
        name: String,
    },

    /// The team has no secret by that name.
    #[error("the team has no credential named {name}: see `keygate cred list`")]
    NotFound {
        /// The credential.
        name: String,
    },

    /// A team secret's data is not what Keygate writes (`{"value": "..."}`).
    #[error("team credential {name} cannot be used: {detail}")]
    BadSecret {
        /// The credential (escaped).
        name: String,
        /// What is wrong with it.
        detail: String,
    },

    /// OpenBao answered something else.
    #[error("OpenBao answered {what} with status {status}: {reason}")]
    Api {
        /// What was asked.
        what: String,
        /// The HTTP status.
        status: u16,
        /// OpenBao's own words.
        reason: String,
    },

    /// The local vault refused.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl TeamError {
    /// A stable code for JSON output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            TeamError::Config { .. } => "team_config",
            TeamError::NotConfigured { .. } => "team_not_configured",
            TeamError::NotLoggedIn => "team_not_logged_in",
            TeamError::Keychain { .. } => "keychain_unavailable",
            TeamError::Unreachable { .. } => "team_unreachable",
            TeamError::Denied { .. } => "team_denied",
            TeamError::Conflict { .. } => "team_conflict",
            TeamError::Exists { .. } => "team_credential_exists",
            TeamError::NotFound { .. } => "team_credential_not_found",
            TeamError::BadSecret { .. } => "team_bad_secret",
            TeamError::Api { .. } => "team_api",
            TeamError::Vault(e) => e.code(),
        }
    }
}
