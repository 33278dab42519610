//! A credential's versions as a person sees them (`cred show`), rollback, and its policy
//! (max age, grace) changed after `add`; the grace's end erases the previous version.

use std::time::Duration;

use rusqlite::params;
use rusqlite::types::Value;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::credential::{CredentialInfo, current_version};
use crate::error::{Result, VaultError};
use crate::rotation::{self, LogAction};
use crate::rotation_state::{self, VersionInfo};
use crate::vault::Vault;
use crate::{rows, store};

/// Everything `keygate cred show` prints: never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialDetail {
    /// What `cred list` shows.
    #[serde(flatten)]
    pub info: CredentialInfo,
    /// How long the previous version is kept after a rotation, in seconds.
    pub grace_secs: i64,
    /// When the previous version is erased (and revoked at its provider); `None`: no previous
    /// version, or one kept until the next rotation (a credential rotated before grace existed).
    pub previous_until: Option<Timestamp>,
    /// The rotation in flight, if any (its attempt id, stable across retries).
    pub attempt: Option<String>,
    /// Every stored version, newest first.
    pub versions: Vec<VersionInfo>,
}

/// A previous version whose grace ended, to be revoked at its provider and then erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiringVersion {
    /// Its number.
    pub version: i64,
    /// The provider's id of its key.
    pub provider_id: Option<String>,
}

impl Vault {
    /// The credential with its versions and rotation state.
    pub fn credential_detail(&self, name: &str) -> Result<CredentialDetail> {
        let info = self.credential_info(name)?;
        let state = rotation_state::load(&self.conn, &self.keys, name, info.version)?;
        let versions = rotation_state::versions(&self.conn, name, info.version, state.previous_version)?;
        Ok(CredentialDetail {
            info,
            grace_secs: state.grace_secs,
            previous_until: state.previous_until.map(Timestamp::from_unix_millis),
            attempt: state.attempt,
            versions,
        })
    }

    /// Make the previous version current again; the version it replaces becomes previous
    /// (kept for the grace, so a rollback can itself be undone), logged `rolled_back`.
    pub fn rollback_credential(&mut self, name: &str) -> Result<CredentialInfo> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            rows::CREDENTIAL.require(tx, &keys.rows, "WHERE c.name = ?1", &[&name])?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            let no_previous = || VaultError::NoPreviousVersion { name: name.to_string() };
            let previous = state.previous_version.ok_or_else(no_previous)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM credential_version WHERE name = ?1 AND version = ?2)",
                params![name, previous],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(no_previous());
            }
            tx.execute(
                "UPDATE credential SET current_version = ?2, rotated_at = ?3 WHERE name = ?1",
                params![name, previous, now.unix_millis()],
            )?;
            state.previous_version = Some(current);
            state.previous_until = Some(rotation_state::previous_until(now, state.grace_secs));
            rotation_state::save(tx, keys, name, &state)?;
            rows::CREDENTIAL.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::RolledBack, Some(current), Some(previous), actor)
        })?;
        self.credential_info(name)
    }

    /// Change how long versions may live and how long the previous one is kept. A new grace
    /// moves the end of the previous version's grace to its rotation time plus the new grace.
    pub fn set_credential_policy(
        &mut self,
        name: &str,
        max_age_days: Option<i64>,
        grace: Option<Duration>,
    ) -> Result<CredentialInfo> {
        if let Some(days) = max_age_days {
            crate::credential::validate_max_age(days)?;
        }
        let grace_secs = grace.map(rotation_state::validate_grace).transpose()?;
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            rows::CREDENTIAL.require(tx, &keys.rows, "WHERE c.name = ?1", &[&name])?;
            if let Some(days) = max_age_days {
                tx.execute("UPDATE credential SET max_age_days = ?2 WHERE name = ?1", params![name, days])?;
                rows::CREDENTIAL.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])?;
            }
            let mut state = rotation_state::load(tx, keys, name, current)?;
            if let Some(secs) = grace_secs {
                state.grace_secs = secs;
                let rotated: Option<i64> =
                    tx.query_row("SELECT rotated_at FROM credential WHERE name = ?1", [name], |r| r.get(0))?;
                if let (Some(_), Some(at)) = (state.previous_version, rotated) {
                    state.previous_until = Some(rotation_state::previous_until(Timestamp::from_unix_millis(at), secs));
                }
            }
            rotation_state::save(tx, keys, name, &state)?;
            let (from, to) = (Some(current), Some(current));
            rotation::append(tx, &keys.rotation, now, name, LogAction::PolicyChanged, from, to, actor)
        })?;
        self.credential_info(name)
    }

    /// The previous version of `name` if its grace has ended (or `force`: a rotation about to
    /// mint a new key retires it first, so the provider never holds more than two live keys).
    pub fn retiring_version(&self, name: &str, force: bool) -> Result<Option<RetiringVersion>> {
        let current = current_version(&self.conn, name)?;
        let state = rotation_state::load(&self.conn, &self.keys, name, current)?;
        let Some(version) = state.previous_version else { return Ok(None) };
        let ended = state.previous_until.is_some_and(|until| until <= self.clock.now().unix_millis());
        if !(ended || force) {
            return Ok(None);
        }
        let provider_id: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT provider_id FROM credential_version WHERE name = ?1 AND version = ?2",
                params![name, version],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        Ok(Some(RetiringVersion { version, provider_id: provider_id.flatten() }))
    }

    /// Erase the previous version `version` of `name`, logged as `how` happened at the
    /// provider: `Revoked`, `RevokeFailed` or `Erased` (no provider). Erasing one already gone
    /// is a no-op, so a retry after a crash is harmless.
    pub fn erase_previous(&mut self, name: &str, version: i64, how: LogAction) -> Result<()> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            if state.previous_version != Some(version) || version == current {
                return Ok(());
            }
            tx.execute("DELETE FROM credential_version WHERE name = ?1 AND version = ?2", params![name, version])?;
            state.previous_version = None;
            state.previous_until = None;
            rotation_state::save(tx, keys, name, &state)?;
            rotation::append(tx, &keys.rotation, now, name, how, Some(version), None, actor)
        })
    }
}
