//! The audit of tool calls: a row written before the upstream request, finished after it.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::mac::{MAC_LEN, RowMac};
use crate::vault::Vault;
use crate::{audit_chain, chain, store};

/// Whether a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The call went ahead.
    Allowed,
    /// The call was refused.
    Denied,
    /// A person's answer to a call that waited for approval (or its timeout or withdrawal):
    /// who, and for how long, in the row's status.
    Approval,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Approval => "approval",
        }
    }
}

/// The first half of an audit row, written before anything is sent upstream.
#[derive(Debug, Clone)]
pub struct AuditStart<'a> {
    /// The calling token's id, if it had one.
    pub token_id: Option<&'a str>,
    /// The downstream MCP server, for a gateway call.
    pub server: Option<&'a str>,
    /// The tool asked for.
    pub tool: &'a str,
    /// The credential the call uses, if any.
    pub credential: Option<&'a str>,
    /// Its version, if opened.
    pub credential_version: Option<i64>,
    /// For a team credential, the team's version that local version holds.
    pub team_version: Option<i64>,
    /// Allowed or denied.
    pub decision: Decision,
    /// For a denial, why; for an allowed call, filled in by `finish_audit`.
    pub status: Option<&'a str>,
}

/// The row id of a started audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditId(pub(crate) i64);

/// The second half of an allowed call's audit row, plus the use it counts for its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The row written before the call.
    pub audit: AuditId,
    /// The token that made the call.
    pub token_id: String,
    /// The outcome, e.g. an HTTP status.
    pub status: String,
    /// How long the call took.
    pub duration: Duration,
}

/// One audited tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When the call arrived.
    pub at: Timestamp,
    /// The token's id.
    pub token_id: Option<String>,
    /// The downstream MCP server, for a gateway call.
    pub server: Option<String>,
    /// The tool.
    pub tool: String,
    /// The credential used.
    pub credential: Option<String>,
    /// The credential's version.
    pub credential_version: Option<i64>,
    /// For a team credential, the team's version used.
    pub team_version: Option<i64>,
    /// allowed or denied.
    pub decision: String,
    /// The outcome, e.g. an HTTP status or why it was denied.
    pub status: Option<String>,
    /// How long the call took.
    pub duration_ms: Option<i64>,
    /// The grant the calling token was minted under, if any.
    pub grant: Option<String>,
    /// How many calls this row stands for: 1, or more for aggregated denials.
    pub count: i64,
}

/// Write a call's outcome and its seal (a MAC binding it to the row's chain MAC).
fn finish_row(tx: &crate::store::Tx<'_>, key: &RowMac, id: AuditId, status: &str, duration: Duration) -> Result<()> {
    let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let row: Option<(Option<Vec<u8>>, i64)> = tx
        .prepare_cached("SELECT mac, count FROM audit WHERE id = ?1")?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // A row without a chain MAC gets none: verify reports it rather than an update hiding it.
    let seal = row.and_then(|(mac, count)| {
        let outcome = audit_chain::Outcome { status: Some(status), duration_ms: Some(millis), count };
        mac.map(|mac| audit_chain::outcome_seal(key, &mac, &outcome))
    });
    tx.prepare_cached("UPDATE audit SET status = ?2, duration_ms = ?3, seal = ?4 WHERE id = ?1")?
        .execute(params![id.0, status, millis, seal])?;
    Ok(())
}

/// How many calls each token made in `outcomes` (a batch holds few distinct tokens).
fn uses_per_token(outcomes: &[CallOutcome]) -> Vec<(&str, i64)> {
    let mut counts: Vec<(&str, i64)> = Vec::new();
    for outcome in outcomes {
        match counts.iter_mut().find(|(id, _)| *id == outcome.token_id) {
            Some((_, uses)) => *uses += 1,
            None => counts.push((&outcome.token_id, 1)),
        }
    }
    counts
}

/// Where a new audit row goes in the chain: its id, the MAC of the row before it, its time.
struct Link<'p> {
    id: i64,
    prev: &'p [u8; MAC_LEN],
    at: i64,
}

/// Insert one chained audit row; returns its id and MAC (the next row's `prev`).
fn insert_row(
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    link: Link<'_>,
    start: &AuditStart<'_>,
    decision: &str,
    count: u32,
) -> Result<(AuditId, [u8; MAC_LEN])> {
    let row = audit_chain::Content {
        id: link.id,
        at: link.at,
        token_id: start.token_id,
        tool: start.tool,
        credential: start.credential,
        credential_version: start.credential_version,
        decision,
        server: start.server,
        team_version: start.team_version,
    };
    let mac = chain::link_mac(key, audit_chain::DOMAIN, link.prev, &row.values());
    let outcome = audit_chain::Outcome { status: start.status, duration_ms: None, count: i64::from(count) };
    let seal = audit_chain::outcome_seal(key, &mac, &outcome);
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit (id, at, token_id, tool, credential, credential_version, decision, status, server,
                            mac, seal, count, team_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    insert.execute(params![
        link.id,
        link.at,
        start.token_id,
        start.tool,
        start.credential,
        start.credential_version,
        decision,
        start.status,
        start.server,
        mac,
        seal,
        count,
        start.team_version
    ])?;
    Ok((AuditId(link.id), mac))
}

impl Vault {
    /// Write the first half of an audit row. A call must not proceed if this fails.
    pub fn begin_audit(&mut self, start: &AuditStart<'_>) -> Result<AuditId> {
        self.append_audit(start, start.decision.as_str(), 1)
    }

    /// Write the first half of several calls' audit rows in one transaction (a group
    /// commit: concurrent calls share one commit), chained in the order given. Either every
    /// row is committed or none is, and none of those calls may proceed.
    pub fn begin_audits(&mut self, starts: &[AuditStart<'_>]) -> Result<Vec<AuditId>> {
        let now = self.clock.now().unix_millis();
        let key = &self.keys.audit;
        store::write_keeping(&mut self.conn, &self.kept, |tx| {
            let (mut last, mut prev) = chain::head(tx, "audit")?;
            let mut ids = Vec::with_capacity(starts.len());
            for start in starts {
                let decision = start.decision.as_str();
                let (id, mac) = insert_row(tx, key, Link { id: last + 1, prev: &prev, at: now }, start, decision, 1)?;
                (last, prev) = (id.0, mac);
                ids.push(id);
            }
            Ok(ids)
        })
    }

    /// Append one chained row standing for `count` requests.
    fn append_audit(&mut self, start: &AuditStart<'_>, decision: &str, count: u32) -> Result<AuditId> {
        let now = self.clock.now().unix_millis();
        let key = &self.keys.audit;
        store::write_keeping(&mut self.conn, &self.kept, |tx| {
            let (last, prev) = chain::head(tx, "audit")?;
            insert_row(tx, key, Link { id: last + 1, prev: &prev, at: now }, start, decision, count).map(|(id, _)| id)
        })
    }

    /// Record `count` refused requests in one row: a denial (or a failed authentication)
    /// aggregated by the server, so refused requests cannot grow the audit one row each.
    pub fn record_denials(&mut self, start: &AuditStart<'_>, count: u32) -> Result<()> {
        self.append_audit(start, "denied", count)?;
        // A refused call still used its token: its use count and "last used" say so, as the
        // audit does. A token id nobody issued (a failed authentication) has no row to count.
        if let Some(token) = start.token_id {
            let now = self.clock.now();
            match store::write_keeping(&mut self.conn, &self.kept, |tx| {
                crate::token::count_uses(tx, token, i64::from(count), now)
            }) {
                Ok(()) | Err(crate::error::VaultError::TokenNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Complete an audit row with the call's outcome and duration.
    pub fn finish_audit(&mut self, id: AuditId, status: &str, duration: Duration) -> Result<()> {
        let key = &self.keys.audit;
        store::write_keeping(&mut self.conn, &self.kept, |tx| finish_row(tx, key, id, status, duration))
    }

    /// Complete an audit row and count the token's use, in one transaction (the hot path).
    pub fn finish_call(&mut self, id: AuditId, token_id: &str, status: &str, duration: Duration) -> Result<()> {
        let now = self.clock.now();
        let key = &self.keys.audit;
        store::write_keeping(&mut self.conn, &self.kept, |tx| {
            finish_row(tx, key, id, status, duration)?;
            crate::token::count_uses(tx, token_id, 1, now)
        })
    }

    /// Complete many calls' audit rows and count their tokens' uses in one transaction: one
    /// commit for a batch instead of one per call. All or nothing, like `finish_call`.
    pub fn finish_calls(&mut self, outcomes: &[CallOutcome]) -> Result<()> {
        let now = self.clock.now();
        let key = &self.keys.audit;
        store::write_keeping(&mut self.conn, &self.kept, |tx| {
            for outcome in outcomes {
                finish_row(tx, key, outcome.audit, &outcome.status, outcome.duration)?;
            }
            for (token_id, uses) in uses_per_token(outcomes) {
                crate::token::count_uses(tx, token_id, uses, now)?;
            }
            Ok(())
        })
    }

    /// Every audited call, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        self.query_audit("ORDER BY a.id", [])
    }

    /// The newest `limit` audited calls, newest first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_audit("ORDER BY a.id DESC LIMIT ?1", [limit])
    }

    /// The newest `limit` calls made by tokens of the grant(s) named `grant`, newest first.
    pub fn recent_grant_audit(&self, grant: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_audit("WHERE g.name = ?1 ORDER BY a.id DESC LIMIT ?2", params![grant, limit])
    }

    fn query_audit(&self, order: &str, params: impl rusqlite::Params) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT a.at, a.token_id, a.tool, a.credential, a.credential_version, a.decision, a.status,
                    a.duration_ms, a.server, g.name, a.count, a.team_version
             FROM audit a LEFT JOIN token t ON t.id = a.token_id LEFT JOIN agent_grant g ON g.id = t.grant_id
             {order}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params, |row| {
            Ok(AuditEntry {
                at: Timestamp::from_unix_millis(row.get(0)?),
                token_id: row.get(1)?,
                tool: row.get(2)?,
                credential: row.get(3)?,
                credential_version: row.get(4)?,
                team_version: row.get(11)?,
                decision: row.get(5)?,
                status: row.get(6)?,
                duration_ms: row.get(7)?,
                server: row.get(8)?,
                grant: row.get(9)?,
                count: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
