//! Team credentials: local copies of secrets kept in a team's OpenBao (KV v2). A copy is an
//! ordinary credential (sealed versions, due date, rotation log) plus a `team_credential` row
//! saying which team version it holds. Sync only ever replaces or deletes credentials with
//! such a row, so a local credential is never overwritten by a teammate's secret of that name.

use std::collections::BTreeMap;

use rusqlite::params;
use rusqlite::types::Value;
use secrecy::SecretString;

use crate::error::Result;
use crate::rows;
use crate::store;
use crate::vault::Vault;

mod copy;

pub use copy::TeamVersion;

/// What holding one team version changed locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamChange {
    /// A new local copy.
    Added,
    /// A local credential of that name already held this value: it became the team's copy.
    Adopted,
    /// The copy now holds a newer team version (a new local version if the value changed).
    Updated,
    /// The copy already held this version.
    Unchanged,
}

impl Vault {
    /// The team version each local copy holds, by name; refuses a row that fails its check.
    pub fn team_versions(&self) -> Result<BTreeMap<String, i64>> {
        rows::TEAM_CREDENTIAL.require(&self.conn, &self.keys.rows, "", &[])?;
        let mut stmt = self.conn.prepare_cached("SELECT name, team_version FROM team_credential ORDER BY name")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Hold `value` as the team's `name` at `team_version`: a new credential, or a new current
    /// version of the copy. A local credential of that name that is not a copy is taken over
    /// only if it holds the same value (a sync cut short between the two writes leaves that).
    /// Dated now: a sync, which knows the team's `created_time`, uses `store_team_copy`.
    pub fn store_team_version(
        &mut self,
        name: &str,
        value: &SecretString,
        team_version: i64,
        max_age_days: Option<i64>,
    ) -> Result<TeamChange> {
        let team = TeamVersion { version: team_version, created_at: None, max_age_days };
        self.store_team_copy(name, value, &team)
    }

    /// Forget the local copy of a team credential (deleted or no longer readable on the team):
    /// the credential and its versions are erased, the rotation log keeps a row. False if
    /// `name` is not a team copy (a local credential is never removed here).
    pub fn forget_team_credential(&mut self, name: &str) -> Result<bool> {
        if !self.team_versions()?.contains_key(name) {
            return Ok(false);
        }
        self.remove_credential(name)?;
        Ok(true)
    }

    /// Record that the copy `name` holds `team_version` (after this machine published its
    /// current value as that version).
    pub fn record_team_version(&mut self, name: &str, team_version: i64) -> Result<()> {
        let now = self.clock.now().unix_millis();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            tx.execute(
                "INSERT INTO team_credential (name, team_version, synced_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET team_version = ?2, synced_at = ?3",
                params![name, team_version, now],
            )?;
            rows::TEAM_CREDENTIAL.reseal(tx, key, &[vec![Value::Text(name.to_string())]])?;
            // The current local version now holds that team version: what its calls' audit names.
            copy::mark_current(tx, key, name, team_version, None)
        })
    }
}
