//! Rotation policy (when a credential is due) and the rotation log.

use std::time::Duration;

use rusqlite::{Transaction, params};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::vault::{Actor, Vault};

/// What happened to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LogAction {
    /// Added as version 1.
    Created,
    /// A new version became current.
    Rotated,
    /// Removed with all its versions.
    Removed,
}

impl LogAction {
    fn as_str(self) -> &'static str {
        match self {
            LogAction::Created => "created",
            LogAction::Rotated => "rotated",
            LogAction::Removed => "removed",
        }
    }
}

/// One row of the rotation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// When it happened.
    pub at: Timestamp,
    /// Which credential.
    pub credential: String,
    /// What happened: `created`, `rotated` or `removed`.
    pub action: String,
    /// The version before, if any.
    pub from_version: Option<i64>,
    /// The version after, if any.
    pub to_version: Option<i64>,
    /// Who did it: `cli`, `app`, ...
    pub actor: String,
}

/// A credential due within this long is "due soon": the CLI, the app and the reminders all
/// use this one rule.
pub const DUE_SOON: Duration = Duration::from_secs(3 * 24 * 3600);

/// When a version created at `created` becomes due under `max_age_days`.
pub fn due_at(created: Timestamp, max_age_days: i64) -> Timestamp {
    let days = u64::try_from(max_age_days).unwrap_or(0);
    created.plus(Duration::from_secs(days * 24 * 3600))
}

pub(crate) fn append(
    tx: &Transaction<'_>,
    at: Timestamp,
    credential: &str,
    action: LogAction,
    from_version: Option<i64>,
    to_version: Option<i64>,
    actor: Actor,
) -> Result<()> {
    tx.execute(
        "INSERT INTO rotation_log (at, credential, action, from_version, to_version, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![at.unix_millis(), credential, action.as_str(), from_version, to_version, actor.as_str()],
    )?;
    Ok(())
}

impl Vault {
    /// The rotation log, oldest first.
    pub fn rotation_log(&self) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, credential, action, from_version, to_version, actor FROM rotation_log ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LogEntry {
                at: Timestamp::from_unix_millis(row.get(0)?),
                credential: row.get(1)?,
                action: row.get(2)?,
                from_version: row.get(3)?,
                to_version: row.get(4)?,
                actor: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
