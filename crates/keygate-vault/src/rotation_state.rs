//! A credential's rotation state (`credential_rotation`, authenticated like the credential
//! row): its grace, the previous version kept for rollback and when it goes, and the rotation
//! in flight with its stable attempt id. Versions are current, previous or pending.

use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};

use crate::store::Tx;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::mac::Keys;
use crate::rows;

/// The longest grace a credential may have.
pub const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a version is to its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    /// The version in use.
    Current,
    /// The version before, kept for rollback until its grace ends.
    Previous,
    /// Minted by a rotation in flight, not yet promoted.
    Pending,
}

/// One stored version, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// Its number.
    pub version: i64,
    /// Current, previous or pending.
    pub state: VersionState,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When the provider said the key expires, if it did.
    pub expires_at: Option<Timestamp>,
    /// The provider's id of the key (not secret: it names the key, to revoke it).
    pub provider_id: Option<String>,
    /// For a team copy, the team (OpenBao) version this local version holds.
    pub team_version: Option<i64>,
}

/// The rotation state as stored; `grace` and the previous version for a credential from
/// before this table come from `legacy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub grace_secs: i64,
    pub previous_version: Option<i64>,
    pub previous_until: Option<i64>,
    pub attempt: Option<String>,
    pub attempt_started_at: Option<i64>,
}

pub(crate) fn validate_grace(grace: Duration) -> Result<i64> {
    if grace <= MAX_GRACE {
        Ok(grace.as_secs() as i64)
    } else {
        Err(VaultError::InvalidGrace { secs: grace.as_secs() })
    }
}

/// Read `name`'s state, refusing a row whose MAC does not verify. A credential without a row
/// (added before rotation state existed) keeps its newest older version as previous, with no
/// end: what Keygate did then.
pub(crate) fn load(tx: &rusqlite::Connection, keys: &Keys, name: &str, current: i64) -> Result<State> {
    rows::ROTATION.require(tx, &keys.rows, "WHERE r.name = ?1", &[&name])?;
    let stored = tx
        .query_row(
            "SELECT grace_secs, previous_version, previous_until, attempt, attempt_started_at
             FROM credential_rotation WHERE name = ?1",
            [name],
            |r| {
                Ok(State {
                    grace_secs: r.get(0)?,
                    previous_version: r.get(1)?,
                    previous_until: r.get(2)?,
                    attempt: r.get(3)?,
                    attempt_started_at: r.get(4)?,
                })
            },
        )
        .optional()?;
    if let Some(state) = stored {
        return Ok(state);
    }
    let previous: Option<i64> = tx.query_row(
        "SELECT max(version) FROM credential_version WHERE name = ?1 AND version < ?2",
        params![name, current],
        |r| r.get(0),
    )?;
    Ok(State {
        grace_secs: 0,
        previous_version: previous,
        previous_until: None,
        attempt: None,
        attempt_started_at: None,
    })
}

/// Store `state` for `name` and MAC it (its content was just decided under the write lock,
/// from a row that verified).
pub(crate) fn save(tx: &Tx<'_>, keys: &Keys, name: &str, state: &State) -> Result<()> {
    tx.execute(
        "INSERT INTO credential_rotation (name, grace_secs, previous_version, previous_until, attempt,
                                          attempt_started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (name) DO UPDATE SET grace_secs = ?2, previous_version = ?3, previous_until = ?4,
                                          attempt = ?5, attempt_started_at = ?6",
        params![
            name,
            state.grace_secs,
            state.previous_version,
            state.previous_until,
            state.attempt,
            state.attempt_started_at
        ],
    )?;
    rows::ROTATION.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])
}

/// Every version of `name`, newest first, with its state.
pub(crate) fn versions(
    conn: &rusqlite::Connection,
    name: &str,
    current: i64,
    previous: Option<i64>,
) -> Result<Vec<VersionInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, created_at, expires_at, provider_id, team_version FROM credential_version
         WHERE name = ?1 ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([name], |r| {
        let version: i64 = r.get(0)?;
        let state = if version == current {
            VersionState::Current
        } else if Some(version) == previous {
            VersionState::Previous
        } else {
            VersionState::Pending
        };
        Ok(VersionInfo {
            version,
            state,
            created_at: Timestamp::from_unix_millis(r.get(1)?),
            expires_at: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix_millis),
            provider_id: r.get(3)?,
            team_version: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The pending version of `name`: any version that is neither current nor previous.
pub(crate) fn pending_version(
    tx: &rusqlite::Connection,
    name: &str,
    current: i64,
    previous: Option<i64>,
) -> Result<Option<i64>> {
    Ok(tx.query_row(
        "SELECT max(version) FROM credential_version WHERE name = ?1 AND version != ?2 AND version IS NOT ?3",
        params![name, current, previous],
        |r| r.get(0),
    )?)
}

/// Erase every version of `name` except `keep`.
pub(crate) fn erase_versions_except(tx: &Tx<'_>, name: &str, keep: &[i64]) -> Result<()> {
    let mut stmt = tx.prepare_cached("SELECT version FROM credential_version WHERE name = ?1")?;
    let all: Vec<i64> = stmt.query_map([name], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for version in all.into_iter().filter(|v| !keep.contains(v)) {
        tx.execute("DELETE FROM credential_version WHERE name = ?1 AND version = ?2", params![name, version])?;
    }
    Ok(())
}

/// The next version number of `name`: past every version it has stored or ever logged since
/// it was added (a version erased after a rollback, a discarded pending one), so a number is
/// never given to two values: the gateway restarts a child when the current number changes.
pub(crate) fn next_version(tx: &Tx<'_>, name: &str) -> Result<i64> {
    let stored: Option<i64> =
        tx.query_row("SELECT max(version) FROM credential_version WHERE name = ?1", [name], |r| r.get(0))?;
    let logged: Option<i64> = tx.query_row(
        "SELECT max(max(coalesce(from_version, 0)), max(coalesce(to_version, 0))) FROM rotation_log
         WHERE credential = ?1
           AND id >= coalesce((SELECT max(id) FROM rotation_log WHERE credential = ?1 AND action = 'created'), 0)",
        [name],
        |r| r.get(0),
    )?;
    Ok(stored.unwrap_or(0).max(logged.unwrap_or(0)) + 1)
}

/// When a previous version made at `at` under `grace_secs` is erased.
pub(crate) fn previous_until(at: Timestamp, grace_secs: i64) -> i64 {
    at.plus(Duration::from_secs(u64::try_from(grace_secs).unwrap_or(0))).unix_millis()
}
