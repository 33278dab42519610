//! The machine's login to the team's OpenBao, kept in the OS keychain beside the vault's
//! master key (its own account): an OpenBao token, or AppRole's secret id when the config
//! names a role id. Never in config.toml, argv or the environment.

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Result, TeamError};

/// What `keygate team login` stored.
pub struct Login {
    /// A token, or AppRole's secret id (the config says which).
    pub secret: SecretString,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Login([redacted])")
    }
}

fn account(vault_id: &str) -> String {
    format!("team-{vault_id}")
}

fn entry(vault_id: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(keygate_vault::KEYCHAIN_SERVICE, &account(vault_id)).map_err(keychain_error)
}

/// Keep `login` for the vault `vault_id`, replacing any earlier one.
pub fn store_login(vault_id: &str, login: &Login) -> Result<()> {
    entry(vault_id)?.set_password(login.secret.expose_secret()).map_err(keychain_error)
}

/// The login kept for the vault `vault_id`.
pub fn load_login(vault_id: &str) -> Result<Login> {
    match entry(vault_id)?.get_password() {
        Ok(secret) => Ok(Login { secret: SecretString::from(secret) }),
        Err(keyring::Error::NoEntry) => Err(TeamError::NotLoggedIn),
        Err(e) => Err(keychain_error(e)),
    }
}

/// Remove the login kept for `vault_id`; true if there was one.
pub fn forget_login(vault_id: &str) -> Result<bool> {
    match entry(vault_id)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keychain_error(e)),
    }
}

fn keychain_error(err: keyring::Error) -> TeamError {
    let detail = match err {
        keyring::Error::NoDefaultStore => "no Secret Service answered on the session bus".to_string(),
        keyring::Error::NoStorageAccess(e) => format!("access refused, is it locked? {e}"),
        other => other.to_string(),
    };
    TeamError::Keychain { detail }
}
