//! `keygate rekey`: the vault sealed under a new master key. With the keychain the new key is
//! made and moved there without a window where neither key works; headless, the person gives
//! the new key on stdin (so it is saved somewhere before the vault commits to it).

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result};
use keygate_vault::{KeySource, MASTER_KEY_ENV, MasterKey, RekeyReport};
use zeroize::Zeroizing;

use crate::UsageError;
use crate::commands::open_vault;
use crate::output;

pub fn rekey() -> Result<()> {
    let headless = matches!(KeySource::from_env()?, KeySource::Given(_));
    let new_key = if headless { Some(read_new_key()?) } else { None };
    let mut vault = open_vault()?;
    let report = match &new_key {
        Some(key) => vault.rekey(key)?,
        None => vault.rekey_in_keychain()?,
    };
    let next = if headless {
        format!("now set {MASTER_KEY_ENV} to the new key: the old one no longer opens this vault")
    } else {
        "the new key is in the OS keychain; the old one is gone".to_string()
    };
    output::lines([format!("Rekeyed vault {}: {}; {next}", vault.id(), moved(&report))])?;
    Ok(())
}

fn moved(report: &RekeyReport) -> String {
    format!(
        "{} credential versions and {} client config originals re-sealed, every row MAC and both chains renewed",
        report.versions, report.client_configs
    )
}

/// The new key, base64 of 32 bytes, from stdin (never argv).
fn read_new_key() -> Result<MasterKey> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(UsageError(format!(
            "{MASTER_KEY_ENV} is set, so the new master key comes from stdin: generate one and save it first, \
             e.g. `head -c 32 /dev/urandom | base64 > new.key`, then `keygate rekey < new.key`"
        ))
        .into());
    }
    let mut text = Zeroizing::new(String::new());
    stdin.lock().take(1024).read_to_string(&mut text).context("cannot read the new master key from stdin")?;
    let current = Zeroizing::new(std::env::var(MASTER_KEY_ENV).unwrap_or_default());
    if text.trim() == current.trim() {
        return Err(UsageError("the new master key is the current one: give a different key".into()).into());
    }
    MasterKey::from_base64(text.trim())
        .map_err(|reason| UsageError(format!("invalid new master key on stdin: {reason}")).into())
}
