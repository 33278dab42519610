//! Tool pins: the SHA-256 of each downstream MCP server's tool definitions, so a tool that
//! appears or changes after the first listing is quarantined until a person approves it
//! (a rug-pull defense). The definitions themselves are kept too: once a server has been
//! listed, agents are answered from its approved definitions without starting it.

use std::sync::LazyLock;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::{Result, VaultError};
use crate::vault::Vault;
use crate::{rows, store};

/// One tool as a server just listed it: its name, the SHA-256 of its canonical definition,
/// and that definition (canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTool {
    /// The tool's name on its server (not the exposed `<server>_<tool>` name).
    pub tool: String,
    /// SHA-256 of `definition`.
    pub sha256: [u8; 32],
    /// Canonical JSON of the whole definition.
    pub definition: String,
}

/// Whether a pinned tool may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// The definition seen is the approved one.
    Approved,
    /// New since the first listing; never approved.
    Pending,
    /// The definition changed since it was approved.
    Changed,
}

impl PinState {
    /// `approved`, `pending` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::Approved => "approved",
            PinState::Pending => "pending",
            PinState::Changed => "changed",
        }
    }

    /// Whether the tool is held back from agents.
    pub fn is_quarantined(self) -> bool {
        self != PinState::Approved
    }
}

/// A pinned tool as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPin {
    /// The tool's name on its server.
    pub tool: String,
    /// Approved, pending or changed.
    pub state: PinState,
    /// SHA-256 (hex) of the definition last listed.
    pub sha256: String,
    /// The definition last listed (canonical JSON).
    pub definition: String,
    /// Whether the server's last listing had this tool.
    pub listed: bool,
}

/// What a listing changed: tools that are newly quarantined by it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinReport {
    /// True if this was the server's first listing (every tool pinned as approved).
    pub first_listing: bool,
    /// Tools new since the first listing, now pending approval.
    pub new_pending: Vec<String>,
    /// Tools whose definition changed from the approved one.
    pub newly_changed: Vec<String>,
}

/// A pin's identity as `rows::PIN` names it.
fn pin_ids(server: &str, tool: &str) -> Vec<rusqlite::types::Value> {
    vec![server.to_string().into(), tool.to_string().into()]
}

fn state_of(seen: &[u8], approved: Option<&[u8]>) -> PinState {
    match approved {
        None => PinState::Pending,
        Some(approved) if approved == seen => PinState::Approved,
        Some(_) => PinState::Changed,
    }
}

impl Vault {
    /// Record a server's listing. The first listing of a server pins every tool as approved
    /// (trust on first use); after that a new tool is pending and a changed one is changed,
    /// until approved. Tools missing from the listing stay pinned but are marked unlisted.
    pub fn record_tool_listing(&mut self, server: &str, tools: &[ListedTool]) -> Result<PinReport> {
        let now = self.clock.now().unix_millis();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let checked = rows::PIN.check(tx, key, "WHERE p.server = ?1", &[&server])?;
            let mut report = PinReport { first_listing: checked.is_empty(), ..PinReport::default() };
            // Rows that verify now are resealed after this listing; the others stay refused,
            // unless listed again (then they are reset to pending, below).
            let mut reseal: Vec<Vec<rusqlite::types::Value>> =
                checked.iter().filter(|c| c.intact).map(|c| c.ids.clone()).collect();
            let tampered: Vec<Vec<rusqlite::types::Value>> =
                checked.into_iter().filter(|c| !c.intact).map(|c| c.ids).collect();
            tx.execute("UPDATE tool_pin SET listed = 0 WHERE server = ?1", [server])?;
            for listed in tools {
                let ids = pin_ids(server, &listed.tool);
                if tampered.contains(&ids) {
                    // Changed without the master key: trust nothing of it, quarantine the tool.
                    tx.prepare_cached(
                        "UPDATE tool_pin SET approved_sha256 = NULL, approved_definition = NULL
                         WHERE server = ?1 AND tool = ?2",
                    )?
                    .execute(params![server, listed.tool])?;
                    report.new_pending.push(listed.tool.clone());
                }
                if !reseal.contains(&ids) {
                    reseal.push(ids);
                }
                let previous: Option<(Vec<u8>, Option<Vec<u8>>)> = tx
                    .prepare_cached(
                        "SELECT seen_sha256, approved_sha256 FROM tool_pin WHERE server = ?1 AND tool = ?2",
                    )?
                    .query_row(params![server, listed.tool], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let sha = listed.sha256.as_slice();
                match previous {
                    None => {
                        let approved = report.first_listing.then_some(sha);
                        tx.prepare_cached(
                            "INSERT INTO tool_pin (server, tool, seen_sha256, seen_definition, approved_sha256,
                             approved_definition, listed, first_seen, changed_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
                        )?
                        .execute(params![
                            server,
                            listed.tool,
                            sha,
                            listed.definition,
                            approved,
                            approved.map(|_| &listed.definition),
                            now
                        ])?;
                        if approved.is_none() {
                            report.new_pending.push(listed.tool.clone());
                        }
                    }
                    Some((seen, approved)) => {
                        let was = state_of(&seen, approved.as_deref());
                        let is = state_of(sha, approved.as_deref());
                        tx.prepare_cached(
                            "UPDATE tool_pin SET seen_sha256 = ?3, seen_definition = ?4, listed = 1,
                             changed_at = CASE WHEN seen_sha256 = ?3 THEN changed_at ELSE ?5 END
                             WHERE server = ?1 AND tool = ?2",
                        )?
                        .execute(params![server, listed.tool, sha, listed.definition, now])?;
                        if is == PinState::Changed && seen.as_slice() != sha && was != PinState::Pending {
                            report.newly_changed.push(listed.tool.clone());
                        }
                    }
                }
            }
            rows::PIN.reseal(tx, key, &reseal)?;
            report.new_pending.dedup();
            Ok(report)
        })
    }

    /// A server's pinned tools, by name.
    pub fn tool_pins(&self, server: &str) -> Result<Vec<ToolPin>> {
        rows::PIN.require(&self.conn, &self.keys.rows, "WHERE p.server = ?1", &[&server])?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT tool, seen_sha256, seen_definition, approved_sha256, listed
             FROM tool_pin WHERE server = ?1 ORDER BY tool",
        )?;
        let rows = stmt.query_map([server], |row| {
            let seen: Vec<u8> = row.get(1)?;
            let approved: Option<Vec<u8>> = row.get(3)?;
            Ok(ToolPin {
                tool: row.get(0)?,
                state: state_of(&seen, approved.as_deref()),
                sha256: hex::encode(&seen),
                definition: row.get(2)?,
                listed: row.get::<_, i64>(4)? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The state of one tool's pin, or `None` if the tool was never listed (on every gateway
    /// call: one query, its MAC remembered).
    pub fn tool_pin_state(&self, server: &str, tool: &str) -> Result<Option<PinState>> {
        static ONE_PIN: LazyLock<String> =
            LazyLock::new(|| rows::PIN.select_where("WHERE p.server = ?1 AND p.tool = ?2"));
        let (key, memo) = (&self.keys.rows, &self.verified);
        // Columns of `rows::PIN`'s SELECT: seen_sha256 is the fifth, approved_sha256 the seventh.
        rows::PIN.read_one(&self.conn, key, memo, &ONE_PIN, &[&server, &tool], |row| {
            let seen = row.get_ref(4)?.as_blob()?;
            let approved = row.get_ref(6)?.as_blob_or_null()?;
            Ok(state_of(seen, approved))
        })
    }

    /// Approve the definitions last seen: one tool, or every quarantined tool of the server.
    /// Returns the tools approved (already approved ones are not counted).
    pub fn approve_tools(&mut self, server: &str, tool: Option<&str>) -> Result<Vec<String>> {
        let server_known = self.tool_pins(server)?;
        if server_known.is_empty() {
            return Err(VaultError::PinNotFound { server: server.to_string(), tool: None });
        }
        if let Some(tool) = tool
            && !server_known.iter().any(|p| p.tool == tool)
        {
            return Err(VaultError::PinNotFound { server: server.to_string(), tool: Some(tool.to_string()) });
        }
        let approving: Vec<String> = server_known
            .into_iter()
            .filter(|p| p.state.is_quarantined() && tool.is_none_or(|t| t == p.tool))
            .map(|p| p.tool)
            .collect();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let mut update = tx.prepare_cached(
                "UPDATE tool_pin SET approved_sha256 = seen_sha256, approved_definition = seen_definition
                 WHERE server = ?1 AND tool = ?2",
            )?;
            for tool in &approving {
                // Verified again under the write lock: approving never launders a changed row.
                rows::PIN.require(tx, key, "WHERE p.server = ?1 AND p.tool = ?2", &[&server, tool])?;
                update.execute(params![server, tool])?;
            }
            let ids: Vec<Vec<rusqlite::types::Value>> = approving.iter().map(|tool| pin_ids(server, tool)).collect();
            rows::PIN.reseal(tx, key, &ids)
        })?;
        Ok(approving)
    }
}
