//! `keygate rekey`: every sealed value, row MAC and chain moved to a new master key in one
//! transaction, after checking that everything verifies under the old one (a rekey never
//! launders a row or log changed behind Keygate's back). With the keychain, the new key is
//! stored first under a second account, the vault commits, then the new key replaces the old
//! entry and the second account goes: whichever step a crash stops at, the key check says
//! which key the vault needs and `Vault::open` finds it (see `key_source::keychain_key`).

use rusqlite::params;

use crate::store::Tx;

use crate::audit_chain;
use crate::error::{Result, VaultError};
use crate::key_source;
use crate::mac::Keys;
use crate::rotation::{self, LogAction};
use crate::rows;
use crate::seal::{Binding, MasterKey, Sealer};
use crate::store;
use crate::vault::{KEY_CHECK_OAUTH_AUTHENTICATED, Vault};

/// The rotation log's name for the master key (not a credential name: those have no parens).
pub const MASTER_KEY_LOG_NAME: &str = "(master key)";

/// What a rekey moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RekeyReport {
    /// Credential versions re-sealed.
    pub versions: usize,
    /// Kept client config originals re-sealed.
    pub client_configs: usize,
}

impl Vault {
    /// Rekey a vault whose master key lives in the OS keychain, with a new random key.
    pub fn rekey_in_keychain(&mut self) -> Result<RekeyReport> {
        let new = MasterKey::generate()?;
        key_source::store_next_in_keychain(&self.vault_id, &new)?;
        let report = self.rekey(&new)?;
        key_source::store_in_keychain(&self.vault_id, &new)?;
        key_source::delete_next_from_keychain(&self.vault_id)?;
        Ok(report)
    }

    /// Re-seal everything under `new` in one transaction; this `Vault` then uses `new`.
    /// Refused, with nothing changed, if any row or chain does not verify under the old key.
    pub fn rekey(&mut self, new: &MasterKey) -> Result<RekeyReport> {
        self.require_all_intact()?;
        let new_sealer = Sealer::new(new);
        let new_keys = Keys::derive(new, &self.vault_id);
        let now = self.clock.now();
        let actor = self.actor;
        let (old, vault_id, old_keys) = (&self.sealer, self.vault_id.as_str(), &self.keys);
        let report = store::write(&mut self.conn, |tx| {
            let versions = reseal_versions(tx, vault_id, old, &new_sealer)?;
            let client_configs = reseal_client_configs(tx, vault_id, old, &new_sealer)?;
            for spec in rows::ALL {
                spec.reseal_matching(tx, &new_keys.rows, "", &[])?;
            }
            audit_chain::rekey(tx, &old_keys.audit, &new_keys.audit)?;
            rotation::chain_existing(tx, &new_keys.rotation)?;
            let check = new_sealer.seal(Binding::KeyCheck { vault_id }, KEY_CHECK_OAUTH_AUTHENTICATED)?;
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'key_check'", params![check])?;
            let log_key = &new_keys.rotation;
            rotation::append(tx, log_key, now, MASTER_KEY_LOG_NAME, LogAction::Rekeyed, None, None, actor)?;
            Ok(RekeyReport { versions, client_configs })
        })?;
        self.sealer = new_sealer;
        self.keys = new_keys;
        Ok(report)
    }

    /// Everything a rekey re-MACs must verify first.
    fn require_all_intact(&self) -> Result<()> {
        if let Some(finding) = self.verify_rows()?.into_iter().next() {
            return Err(VaultError::RekeyRefused { why: format!("{}: {}", finding.row, finding.problem) });
        }
        for (what, report) in [("the audit", self.verify_audit()?), ("the rotation log", self.verify_rotation_log()?)] {
            if let Some(broken) = report.broken {
                return Err(VaultError::RekeyRefused { why: format!("{what} is broken at row {}", broken.row) });
            }
        }
        Ok(())
    }
}

fn reseal_versions(tx: &Tx<'_>, vault_id: &str, old: &Sealer, new: &Sealer) -> Result<usize> {
    let mut stmt = tx.prepare("SELECT name, version, sealed FROM credential_version")?;
    let rows: Vec<(String, i64, Vec<u8>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    for (name, version, sealed) in &rows {
        let binding = Binding::Credential { vault_id, name, version: *version };
        let plain = old
            .open(binding, sealed)
            .ok_or_else(|| VaultError::CannotOpen { name: name.clone(), version: *version })?;
        let resealed = new.seal(binding, &plain)?;
        tx.execute(
            "UPDATE credential_version SET sealed = ?3 WHERE name = ?1 AND version = ?2",
            params![name, version, resealed],
        )?;
    }
    Ok(rows.len())
}

fn reseal_client_configs(tx: &Tx<'_>, vault_id: &str, old: &Sealer, new: &Sealer) -> Result<usize> {
    let mut stmt = tx.prepare("SELECT id, client, path, sealed FROM client_config WHERE sealed IS NOT NULL")?;
    let rows: Vec<(String, String, String, Vec<u8>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<rusqlite::Result<_>>()?;
    for (id, client, path, sealed) in &rows {
        let binding = Binding::ClientConfig { vault_id, id, client, path };
        let plain = old.open(binding, sealed).ok_or_else(|| VaultError::CannotOpenClientConfig { id: id.clone() })?;
        tx.execute("UPDATE client_config SET sealed = ?2 WHERE id = ?1", params![id, new.seal(binding, &plain)?])?;
    }
    Ok(rows.len())
}
