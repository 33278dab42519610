//! Audit retention (`[audit] keep_days`): rows older than that are pruned, and the newest
//! pruned row becomes a sealed checkpoint that carries its chain MAC forward, so the rows kept
//! still verify. A chain that does not verify is never pruned: that would erase the evidence.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::audit_chain::{self, CHECKPOINT};
use crate::chain::ChainReport;
use crate::error::Result;
use crate::store;
use crate::vault::Vault;

/// What a retention pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Retention {
    /// No `keep_days`, or no row old enough.
    NothingToPrune,
    /// `pruned` rows were replaced by a checkpoint at row `checkpoint`.
    Pruned {
        /// Rows removed (the checkpoint row replaced the newest of them).
        pruned: u64,
        /// The checkpoint row's id.
        checkpoint: i64,
    },
    /// The chain up to the rows to prune does not verify; nothing was pruned.
    Refused(ChainReport),
}

/// The newest audit row older than `cutoff` that retention would prune (rows are written in
/// time order), or `None` when there is none, or only the checkpoint of a previous pass.
fn last_old_row(conn: &rusqlite::Connection, cutoff: i64) -> Result<Option<i64>> {
    let last_old: Option<i64> = conn
        .query_row(
            "SELECT max(id) FROM audit WHERE id < coalesce((SELECT min(id) FROM audit WHERE at >= ?1
               AND decision != ?2), (SELECT max(id) + 1 FROM audit))",
            params![cutoff, CHECKPOINT],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(last_old) = last_old else { return Ok(None) };
    let first_is_checkpoint: bool = conn.query_row(
        "SELECT id = ?1 AND decision = ?2 FROM audit ORDER BY id LIMIT 1",
        params![last_old, CHECKPOINT],
        |r| r.get(0),
    )?;
    Ok((!first_is_checkpoint).then_some(last_old))
}

impl Vault {
    /// Prune audit rows older than `[audit] keep_days` (see `Retention`). Cheap when nothing
    /// is due: it looks at the oldest non-checkpoint row only.
    pub fn apply_retention(&mut self) -> Result<Retention> {
        let Some(days) = self.audit_policy.keep_days else { return Ok(Retention::NothingToPrune) };
        let now = self.clock.now();
        let cutoff = now.unix_millis().saturating_sub(Duration::from_secs(u64::from(days) * 86_400).as_millis() as i64);
        // A read first: opening the vault takes no write lock unless something is due.
        if last_old_row(&self.conn, cutoff)?.is_none() {
            return Ok(Retention::NothingToPrune);
        }
        let key = &self.keys.audit;
        store::write(&mut self.conn, |tx| {
            let last_old = last_old_row(tx, cutoff)?;
            let Some(last_old) = last_old else { return Ok(Retention::NothingToPrune) };
            let first: i64 = tx.query_row("SELECT min(id) FROM audit", [], |r| r.get(0))?;
            let first_is_checkpoint: bool =
                tx.query_row("SELECT decision = ?1 FROM audit WHERE id = ?2", params![CHECKPOINT, first], |r| {
                    r.get(0)
                })?;
            if last_old == first && first_is_checkpoint {
                return Ok(Retention::NothingToPrune);
            }
            let report = audit_chain::verify_through(tx, key, Some(last_old))?;
            if !report.is_intact() {
                return Ok(Retention::Refused(report));
            }
            let pruned = u64::try_from(last_old - first + 1 - i64::from(first_is_checkpoint)).unwrap_or(0);
            let (at, carried): (i64, Vec<u8>) =
                tx.query_row("SELECT at, mac FROM audit WHERE id = ?1", [last_old], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let summary = format!("{pruned} rows older than {days} days pruned at {}", now.rfc3339());
            let seal = audit_chain::checkpoint_seal(key, last_old, at, Some(&summary), &carried);
            tx.execute("DELETE FROM audit WHERE id < ?1", [last_old])?;
            tx.execute(
                "UPDATE audit SET token_id = NULL, tool = '', credential = NULL, credential_version = NULL,
                   team_version = NULL, decision = ?2, status = ?3, duration_ms = NULL, server = NULL, seal = ?4 WHERE id = ?1",
                params![last_old, CHECKPOINT, summary, seal],
            )?;
            Ok(Retention::Pruned { pruned, checkpoint: last_old })
        })
    }
}
