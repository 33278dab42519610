//! Rotation policy (when a credential is due) and the rotation log.

use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use crate::store::Tx;
use serde::Serialize;

use crate::chain::{self, ChainReport};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::mac::RowMac;
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
    /// The previous version became current again (`to_version`); the one it replaced is kept as previous.
    RolledBack,
    /// Its max age or grace changed.
    PolicyChanged,
    /// A rotator's rotation began (its attempt id is in the rotation state).
    Started,
    /// The rotator minted a key, stored as the pending `to_version`.
    Pending,
    /// The pending version passed the test request.
    Tested,
    /// The rotator could not mint a key; nothing changed.
    CreateFailed,
    /// The pending version failed its test and was erased (and revoked where possible).
    TestFailed,
    /// An unfinished rotation's pending version was erased.
    Discarded,
    /// The previous version's grace ended: revoked at the provider and erased.
    Revoked,
    /// The previous version's grace ended and it was erased, but the provider refused to revoke it.
    RevokeFailed,
    /// The previous version's grace ended and it was erased (no provider to revoke it at).
    Erased,
    /// The vault was sealed under a new master key (`credential` is `(master key)`).
    Rekeyed,
}

/// The actions that set which version is current: the rotation log's last one of these must
/// agree with the credential table.
pub(crate) const CURRENT_SETTING: &str = "'created', 'rotated', 'rolled_back', 'removed'";

impl LogAction {
    /// The word stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Created => "created",
            LogAction::Rotated => "rotated",
            LogAction::Removed => "removed",
            LogAction::RolledBack => "rolled_back",
            LogAction::PolicyChanged => "policy_changed",
            LogAction::Started => "started",
            LogAction::Pending => "pending",
            LogAction::Tested => "tested",
            LogAction::CreateFailed => "create_failed",
            LogAction::TestFailed => "test_failed",
            LogAction::Discarded => "discarded",
            LogAction::Revoked => "revoked",
            LogAction::RevokeFailed => "revoke_failed",
            LogAction::Erased => "erased",
            LogAction::Rekeyed => "rekeyed",
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
    /// What happened: `created`, `rotated`, `removed`, `rolled_back`, `pending`, `revoked`, ...
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

/// The chain domain of the rotation log.
const DOMAIN: &str = "rotation_log";

/// The chained content of a rotation-log row, in order.
fn content(
    id: i64,
    at: i64,
    credential: &str,
    action: &str,
    from: Option<i64>,
    to: Option<i64>,
    actor: &str,
) -> Vec<Value> {
    vec![
        id.into(),
        at.into(),
        credential.to_string().into(),
        action.to_string().into(),
        from.into(),
        to.into(),
        actor.to_string().into(),
    ]
}

/// Append a row, chained to the newest one, inside a write transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append(
    tx: &Tx<'_>,
    key: &RowMac,
    at: Timestamp,
    credential: &str,
    action: LogAction,
    from_version: Option<i64>,
    to_version: Option<i64>,
    actor: Actor,
) -> Result<()> {
    let (last, prev) = chain::head(tx, DOMAIN)?;
    let id = last + 1;
    let at = at.unix_millis();
    let row = content(id, at, credential, action.as_str(), from_version, to_version, actor.as_str());
    let mac = chain::link_mac(key, DOMAIN, &prev, &row);
    tx.execute(
        "INSERT INTO rotation_log (id, at, credential, action, from_version, to_version, actor, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, at, credential, action.as_str(), from_version, to_version, actor.as_str(), mac],
    )?;
    Ok(())
}

/// Chain every row of the rotation log from its current content (the one-time upgrade of a
/// vault from before the chain).
pub(crate) fn chain_existing(tx: &Tx<'_>, key: &RowMac) -> Result<()> {
    let rows = read_links(tx)?;
    let mut prev = chain::GENESIS;
    for link in rows {
        let mac = chain::link_mac(key, DOMAIN, &prev, &link.content);
        tx.prepare_cached("UPDATE rotation_log SET mac = ?2 WHERE id = ?1")?.execute(params![link.id, mac])?;
        prev = mac;
    }
    Ok(())
}

fn read_links(conn: &Connection) -> Result<Vec<chain::Link>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, credential, action, from_version, to_version, actor, mac FROM rotation_log ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        let content = (0..7).map(|i| r.get_ref(i).map(chain::owned)).collect::<rusqlite::Result<Vec<Value>>>()?;
        Ok(chain::Link { id: r.get(0)?, mac: r.get(7)?, checkpoint: None, content, sealed: true })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Vault {
    /// Check the rotation log's chain: `ok, N rows`, or the first row that was edited,
    /// deleted, reordered or inserted without the master key.
    pub fn verify_rotation_log(&self) -> Result<ChainReport> {
        let mut verifier = chain::Verifier::new(&self.keys.rotation, DOMAIN);
        for link in read_links(&self.conn)? {
            if !verifier.push(link) {
                break;
            }
        }
        Ok(verifier.finish())
    }

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
