//! A team copy follows the team's version, not this machine's sync: the local version holding
//! a team version is dated by that version's `created_time` on OpenBao (so every machine's due
//! date is the same, whenever it synced), carries the team version for the audit, and the
//! team's rotation policy (KV custom metadata) is applied at every sync, not only the first.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};
use secrecy::{ExposeSecret, SecretString};

use super::TeamChange;
use crate::clock::Timestamp;
use crate::credential::validate_name;
use crate::error::{Result, VaultError};
use crate::mac::RowMac;
use crate::vault::Vault;
use crate::{rows, store};

/// One team version as the team's KV v2 metadata describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamVersion {
    /// OpenBao's version number.
    pub version: i64,
    /// When the team created it (`created_time`), if that could be read. A time later than
    /// this machine's clock (skew) is taken as now.
    pub created_at: Option<Timestamp>,
    /// The team's rotation policy, if it set one: applied here when it differs.
    pub max_age_days: Option<i64>,
}

/// What the current local version of a copy says of the team, read before following it.
struct Held {
    max_age_days: i64,
    /// The team version the local version is marked with (NULL before 012, or cut short).
    team_version: Option<i64>,
    created_at: i64,
    /// The team version the `team_credential` row says the copy holds (`None`: not a copy).
    copy_of: Option<i64>,
}

impl Vault {
    /// Hold `value` as the team's `name` at `team`'s version (see `store_team_version`), dated
    /// by the team's `created_time` and under the team's policy.
    pub fn store_team_copy(&mut self, name: &str, value: &SecretString, team: &TeamVersion) -> Result<TeamChange> {
        validate_name(name)?;
        let held = self.team_versions()?.get(name).copied();
        let current = match self.current_version(name)? {
            Some(_) => Some(self.open_credential(name)?.value),
            None => None,
        };
        let same = current.as_ref().is_some_and(|c| c.expose_secret() == value.expose_secret());
        let change = match (held, current.is_some()) {
            (_, false) => {
                self.add_credential(name, value, team.max_age_days)?;
                TeamChange::Added
            }
            (Some(v), true) if v == team.version && same => TeamChange::Unchanged,
            (Some(_), true) => {
                if !same {
                    self.rotate_credential(name, value)?;
                }
                TeamChange::Updated
            }
            (None, true) if same => TeamChange::Adopted,
            (None, true) => return Err(VaultError::TeamNameTaken { name: name.to_string() }),
        };
        if change != TeamChange::Unchanged {
            self.record_team_version(name, team.version)?;
        }
        self.follow_team(name, team, change)?;
        Ok(change)
    }

    /// A copy that already holds `team`'s version: align its due date and policy with the
    /// team's (a teammate's `cred set`, or a copy written before they were followed), without
    /// reading the value. `Unchanged`; `CredentialNotFound` if `name` is not a copy at that
    /// version (then its value must be read and stored).
    pub fn follow_team_copy(&mut self, name: &str, team: &TeamVersion) -> Result<TeamChange> {
        // One row of each table, not `team_versions`: sync calls this per secret per refresh.
        rows::TEAM_CREDENTIAL.require(&self.conn, &self.keys.rows, "WHERE t.name = ?1", &[&name])?;
        let held = self.held(name)?;
        if held.copy_of != Some(team.version) {
            return Err(VaultError::CredentialNotFound { name: name.to_string() });
        }
        self.follow(name, team, TeamChange::Unchanged, &held)?;
        Ok(TeamChange::Unchanged)
    }

    /// Date the current local version by the team's version and mark it with that version,
    /// then apply the team's policy if it differs. Writes nothing when all already agree.
    fn follow_team(&mut self, name: &str, team: &TeamVersion, change: TeamChange) -> Result<()> {
        let held = self.held(name)?;
        self.follow(name, team, change, &held)
    }

    fn follow(&mut self, name: &str, team: &TeamVersion, change: TeamChange, held: &Held) -> Result<()> {
        let now = self.clock.now();
        let date = match (team.created_at, change) {
            // A time still in the future waits until it has passed, so the date never moves
            // at each sync while the clocks disagree.
            (Some(at), TeamChange::Unchanged) => (at <= now).then_some(at),
            (None, TeamChange::Unchanged) => None,
            (at, _) => Some(at.map_or(now, |at| at.min(now))),
        };
        let redate = date.is_some_and(|d| d.unix_millis() != held.created_at);
        if redate || held.team_version != Some(team.version) {
            self.mark_team_version(name, team.version, date)?;
        }
        if let Some(days) = team.max_age_days.filter(|days| *days != held.max_age_days) {
            self.set_credential_policy(name, Some(days), None)?;
        }
        Ok(())
    }

    fn held(&self, name: &str) -> Result<Held> {
        rows::CREDENTIAL.require(&self.conn, &self.keys.rows, "WHERE c.name = ?1", &[&name])?;
        self.conn
            .prepare_cached(
                "SELECT c.max_age_days, v.team_version, v.created_at, t.team_version
                 FROM credential c JOIN credential_version v ON v.name = c.name AND v.version = c.current_version
                 LEFT JOIN team_credential t ON t.name = c.name
                 WHERE c.name = ?1",
            )?
            .query_row([name], |r| {
                Ok(Held { max_age_days: r.get(0)?, team_version: r.get(1)?, created_at: r.get(2)?, copy_of: r.get(3)? })
            })
            .optional()?
            .ok_or_else(|| VaultError::CredentialNotFound { name: name.to_string() })
    }

    fn mark_team_version(&mut self, name: &str, team_version: i64, date: Option<Timestamp>) -> Result<()> {
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| mark_current(tx, key, name, team_version, date))
    }
}

/// Set the current local version's team version (and its date, if given) and reseal the
/// credential row, whose MAC covers both.
pub(super) fn mark_current(
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    name: &str,
    team_version: i64,
    date: Option<Timestamp>,
) -> Result<()> {
    // Never reseal a row changed behind Keygate's back: refuse it instead.
    rows::CREDENTIAL.require(tx, key, "WHERE c.name = ?1", &[&name])?;
    tx.execute(
        "UPDATE credential_version SET team_version = ?2, created_at = coalesce(?3, created_at)
         WHERE name = ?1 AND version = (SELECT current_version FROM credential WHERE name = ?1)",
        params![name, team_version, date.map(Timestamp::unix_millis)],
    )?;
    rows::CREDENTIAL.reseal(tx, key, &[vec![Value::Text(name.to_string())]])
}
