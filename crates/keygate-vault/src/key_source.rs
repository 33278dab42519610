//! Where the master key comes from: the OS keychain, `KEYGATE_MASTER_KEY`, or memory (tests).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::seal::MasterKey;

/// The keychain service every Keygate vault uses.
pub const KEYCHAIN_SERVICE: &str = "keygate";

/// The environment variable that carries a master key for headless use.
pub const MASTER_KEY_ENV: &str = "KEYGATE_MASTER_KEY";

/// Where a vault's master key is kept.
pub enum KeySource {
    /// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain,
    /// A key given directly: from `KEYGATE_MASTER_KEY`, or built in memory by a test.
    Given(MasterKey),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeySource::Keychain => "KeySource::Keychain",
            KeySource::Given(_) => "KeySource::Given([redacted])",
        })
    }
}

impl KeySource {
    /// `KEYGATE_MASTER_KEY` if set and not empty, else the OS keychain.
    pub fn from_env() -> Result<Self> {
        let Some(value) = std::env::var_os(MASTER_KEY_ENV).filter(|v| !v.is_empty()) else {
            return Ok(KeySource::Keychain);
        };
        let value = Zeroizing::new(
            value.into_string().map_err(|_| VaultError::BadMasterKeyEnv { reason: "it is not valid UTF-8".into() })?,
        );
        MasterKey::from_base64(&value).map(KeySource::Given).map_err(|reason| VaultError::BadMasterKeyEnv { reason })
    }
}

/// The keychain account for a vault, so two vaults on one machine never share an entry.
pub fn keychain_account(vault_id: &str) -> String {
    format!("vault-{vault_id}")
}

fn keychain_entry(vault_id: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(KEYCHAIN_SERVICE, &keychain_account(vault_id)).map_err(keychain_error)
}

/// Store a new master key in the keychain under this vault's account.
pub(crate) fn store_in_keychain(vault_id: &str, key: &MasterKey) -> Result<()> {
    let encoded = Zeroizing::new(STANDARD.encode(key.bytes()));
    keychain_entry(vault_id)?.set_password(&encoded).map_err(keychain_error)
}

/// Read this vault's master key from the keychain.
pub(crate) fn load_from_keychain(vault_id: &str) -> Result<MasterKey> {
    let encoded = keychain_entry(vault_id)?.get_password().map_err(|e| match e {
        keyring::Error::NoEntry => {
            VaultError::MasterKeyMissing { vault_id: vault_id.to_string(), account: keychain_account(vault_id) }
        }
        other => keychain_error(other),
    })?;
    let encoded = Zeroizing::new(encoded);
    MasterKey::from_base64(&encoded).map_err(|reason| VaultError::KeychainUnavailable {
        detail: format!("the keychain entry for vault {vault_id} is damaged: {reason}"),
    })
}

/// The second account a rekey stores the new key under before the vault commits.
pub fn next_keychain_account(vault_id: &str) -> String {
    format!("vault-{vault_id}-next")
}

fn next_entry(vault_id: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(KEYCHAIN_SERVICE, &next_keychain_account(vault_id)).map_err(keychain_error)
}

/// Store a rekey's new key under the second account.
pub(crate) fn store_next_in_keychain(vault_id: &str, key: &MasterKey) -> Result<()> {
    let encoded = Zeroizing::new(STANDARD.encode(key.bytes()));
    next_entry(vault_id)?.set_password(&encoded).map_err(keychain_error)
}

/// The second account's key, if a rekey left one.
pub(crate) fn load_next_from_keychain(vault_id: &str) -> Result<Option<MasterKey>> {
    match next_entry(vault_id)?.get_password() {
        Ok(encoded) => Ok(MasterKey::from_base64(&Zeroizing::new(encoded)).ok()),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain_error(e)),
    }
}

/// Remove the second account.
pub(crate) fn delete_next_from_keychain(vault_id: &str) -> Result<()> {
    match next_entry(vault_id)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain_error(e)),
    }
}

/// Remove this vault's keychain entry (used to undo a failed `init`).
pub(crate) fn delete_from_keychain(vault_id: &str) -> Result<()> {
    match keychain_entry(vault_id)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain_error(e)),
    }
}

fn keychain_error(err: keyring::Error) -> VaultError {
    let detail = match err {
        keyring::Error::NoDefaultStore => "no Secret Service answered on the session bus".to_string(),
        keyring::Error::NoStorageAccess(e) => format!("access refused, is it locked? {e}"),
        keyring::Error::PlatformFailure(e) => e.to_string(),
        other => other.to_string(),
    };
    VaultError::KeychainUnavailable { detail }
}
