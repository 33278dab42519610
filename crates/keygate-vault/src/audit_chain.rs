//! The audit's chain. A row is chained when it is written, before the call goes anywhere:
//! its `mac` covers what is known then (id, time, token, server, tool, credential, version,
//! decision, and for a team credential the team version) and the previous row's `mac`. What is written later (status, duration) and the
//! count of an aggregated denial are covered by the row's `seal`, an HMAC over its `mac` and
//! those fields, rewritten whenever they are; so an outcome or a count cannot be changed either.

use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::chain::{self, ChainReport};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::mac::{MAC_LEN, RowMac};
use crate::vault::Vault;

/// The chain domain of the audit.
pub(crate) const DOMAIN: &str = "audit";
/// The `decision` of a retention checkpoint row.
pub(crate) const CHECKPOINT: &str = "checkpoint";

/// The chained content of an audit row.
pub(crate) struct Content<'a> {
    pub id: i64,
    pub at: i64,
    pub token_id: Option<&'a str>,
    pub tool: &'a str,
    pub credential: Option<&'a str>,
    pub credential_version: Option<i64>,
    pub decision: &'a str,
    pub server: Option<&'a str>,
    pub team_version: Option<i64>,
}

impl Content<'_> {
    /// The values MAC'd, in order (the same order `for_each_link` selects them in). The team
    /// version comes last and only when there is one, so rows from before it (and rows of
    /// local credentials) are MAC'd exactly as they always were.
    pub fn values(&self) -> Vec<Value> {
        let text = |t: Option<&str>| t.map(String::from).into();
        let mut values = vec![
            self.id.into(),
            self.at.into(),
            text(self.token_id),
            self.tool.to_string().into(),
            text(self.credential),
            self.credential_version.into(),
            self.decision.to_string().into(),
            text(self.server),
        ];
        values.extend(self.team_version.map(Value::Integer));
        values
    }
}

/// What the seal covers besides the chain MAC: the outcome, and how many requests the row
/// stands for (1, or more for an aggregated denial).
pub(crate) struct Outcome<'a> {
    pub status: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub count: i64,
}

/// The seal of what is not in the chained content: status, duration and count.
pub(crate) fn outcome_seal(key: &RowMac, mac: &[u8], outcome: &Outcome<'_>) -> [u8; MAC_LEN] {
    let mut seal = key.start("audit-outcome");
    seal.bytes(mac).opt_text(outcome.status).opt_int(outcome.duration_ms).int(outcome.count);
    seal.finish()
}

/// The seal of a checkpoint row: its id, time, summary and the MAC it carries forward.
pub(crate) fn checkpoint_seal(key: &RowMac, id: i64, at: i64, status: Option<&str>, carried: &[u8]) -> [u8; MAC_LEN] {
    let mut seal = key.start("audit-checkpoint");
    seal.int(id).int(at).opt_text(status).bytes(carried);
    seal.finish()
}

const SELECT: &str = "SELECT id, at, token_id, tool, credential, credential_version, decision, server,
                             status, duration_ms, mac, seal, count, team_version FROM audit";
/// Where `SELECT` has the team version: chained after the first 8 columns, when not NULL.
const TEAM_VERSION: usize = 13;

/// One audit row as stored, with its chain MACs: what `keygate audit --jsonl` streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// The row's id (its place in the chain).
    pub id: i64,
    /// When the call arrived (for a checkpoint: the newest pruned row's time).
    pub at: Timestamp,
    /// The calling token's id.
    pub token_id: Option<String>,
    /// The tool.
    pub tool: String,
    /// The credential used.
    pub credential: Option<String>,
    /// Its version.
    pub credential_version: Option<i64>,
    /// For a team credential, the team's version used (null for a local one).
    pub team_version: Option<i64>,
    /// `allowed`, `denied`, or `checkpoint` for a retention checkpoint.
    pub decision: String,
    /// The downstream MCP server, for a gateway call.
    pub server: Option<String>,
    /// The outcome, or why it was denied.
    pub status: Option<String>,
    /// How long the call took.
    pub duration_ms: Option<i64>,
    /// The chain MAC (hex).
    pub mac: Option<String>,
    /// The seal over the outcome and count (hex).
    pub seal: Option<String>,
    /// How many requests the row stands for (more than 1: aggregated denials).
    pub count: i64,
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let hex = |i| r.get::<_, Option<Vec<u8>>>(i).map(|b| b.map(hex::encode));
    Ok(AuditRecord {
        id: r.get(0)?,
        at: Timestamp::from_unix_millis(r.get(1)?),
        token_id: r.get(2)?,
        tool: r.get(3)?,
        credential: r.get(4)?,
        credential_version: r.get(5)?,
        team_version: r.get(TEAM_VERSION)?,
        decision: r.get(6)?,
        server: r.get(7)?,
        status: r.get(8)?,
        duration_ms: r.get(9)?,
        mac: hex(10)?,
        seal: hex(11)?,
        count: r.get(12)?,
    })
}

/// Every audit row in chain order, as the verifier sees it.
fn for_each_link(conn: &Connection, key: &RowMac, mut f: impl FnMut(chain::Link) -> Result<bool>) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let mac: Option<Vec<u8>> = r.get(10)?;
        let seal: Option<Vec<u8>> = r.get(11)?;
        let status: Option<String> = r.get(8)?;
        let seal_matches = |expected: [u8; MAC_LEN]| {
            seal.as_deref().is_some_and(|s| bool::from(subtle::ConstantTimeEq::ct_eq(s, &expected[..])))
        };
        let carried = mac.as_deref().unwrap_or_default();
        let is_checkpoint = r.get_ref(6)?.as_str_or_null().map_err(rusqlite::Error::from)? == Some(CHECKPOINT);
        let link = if is_checkpoint {
            let expected = checkpoint_seal(key, id, r.get(1)?, status.as_deref(), carried);
            chain::Link { id, mac, checkpoint: Some(seal_matches(expected)), content: Vec::new(), sealed: true }
        } else {
            let mut content =
                (0..8).map(|i| r.get_ref(i).map(chain::owned)).collect::<rusqlite::Result<Vec<Value>>>()?;
            // As `Content::values`: the team version is chained only when present.
            let team_version = r.get_ref(TEAM_VERSION)?;
            if team_version != rusqlite::types::ValueRef::Null {
                content.push(chain::owned(team_version));
            }
            let outcome = Outcome { status: status.as_deref(), duration_ms: r.get(9)?, count: r.get(12)? };
            let sealed = seal_matches(outcome_seal(key, carried, &outcome));
            chain::Link { id, mac, checkpoint: None, content, sealed }
        };
        if !f(link)? {
            break;
        }
    }
    Ok(())
}

/// Chain and seal every audit row from its current content (the one-time upgrade of a vault
/// from before the chain).
pub(crate) fn chain_existing(tx: &crate::store::Tx<'_>, key: &RowMac) -> Result<()> {
    let mut links = Vec::new();
    for_each_link(tx, key, |link| {
        links.push((link.id, link.content));
        Ok(true)
    })?;
    let mut prev = chain::GENESIS;
    for (id, content) in links {
        let mac = chain::link_mac(key, DOMAIN, &prev, &content);
        let (status, duration_ms, count): (Option<String>, Option<i64>, i64) =
            tx.query_row("SELECT status, duration_ms, count FROM audit WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let seal = outcome_seal(key, &mac, &Outcome { status: status.as_deref(), duration_ms, count });
        tx.prepare_cached("UPDATE audit SET mac = ?2, seal = ?3 WHERE id = ?1")?.execute(params![id, mac, seal])?;
        prev = mac;
    }
    Ok(())
}

/// Re-chain and re-seal every audit row under `new` (a rekey, after the chain verified under
/// `old`). A checkpoint keeps the MAC it carries forward (of rows long pruned), sealed anew.
pub(crate) fn rekey(tx: &crate::store::Tx<'_>, old: &RowMac, new: &RowMac) -> Result<()> {
    let mut links = Vec::new();
    for_each_link(tx, old, |link| {
        links.push(link);
        Ok(true)
    })?;
    let mut prev = chain::GENESIS;
    for link in links {
        let (at, status, duration_ms, count): (i64, Option<String>, Option<i64>, i64) =
            tx.query_row("SELECT at, status, duration_ms, count FROM audit WHERE id = ?1", [link.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
        if link.checkpoint.is_some() {
            let carried = link.mac.unwrap_or_default();
            let seal = checkpoint_seal(new, link.id, at, status.as_deref(), &carried);
            tx.prepare_cached("UPDATE audit SET seal = ?2 WHERE id = ?1")?.execute(params![link.id, seal])?;
            prev = carried.as_slice().try_into().unwrap_or(chain::GENESIS);
            continue;
        }
        let mac = chain::link_mac(new, DOMAIN, &prev, &link.content);
        let seal = outcome_seal(new, &mac, &Outcome { status: status.as_deref(), duration_ms, count });
        tx.prepare_cached("UPDATE audit SET mac = ?2, seal = ?3 WHERE id = ?1")?
            .execute(params![link.id, mac, seal])?;
        prev = mac;
    }
    Ok(())
}

/// Verify the chain up to and including row `through` (all rows if `None`).
pub(crate) fn verify_through(conn: &Connection, key: &RowMac, through: Option<i64>) -> Result<ChainReport> {
    let mut verifier = chain::Verifier::new(key, DOMAIN);
    for_each_link(conn, key, |link| {
        let more = through.is_none_or(|last| link.id < last);
        Ok(verifier.push(link) && more)
    })?;
    Ok(verifier.finish())
}

impl Vault {
    /// Check the audit's chain: `ok, N rows`, or the first row that was edited, deleted,
    /// reordered or inserted without the master key.
    pub fn verify_audit(&self) -> Result<ChainReport> {
        verify_through(&self.conn, &self.keys.audit, None)
    }

    /// Stream the audit rows at or after `since` (all if `None`), oldest first, with their
    /// chain MACs; `f` returns an error to stop.
    pub fn export_audit(&self, since: Option<Timestamp>, mut f: impl FnMut(AuditRecord) -> Result<()>) -> Result<()> {
        let since = since.map_or(i64::MIN, Timestamp::unix_millis);
        let mut stmt = self.conn.prepare_cached(&format!("{SELECT} WHERE at >= ?1 ORDER BY id"))?;
        let mut rows = stmt.query([since])?;
        while let Some(row) = rows.next()? {
            f(record(row)?)?;
        }
        Ok(())
    }
}
