//! The Agents view's grants, as `keygate grant list|create|revoke` show them, each with its
//! most recent calls (the audit, by grant).

use std::time::Duration;

use keygate_mcp::printable;
use keygate_vault::{AuditEntry, GrantInfo, GrantRequest, Timestamp, format_ttl, parse_ttl};
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// The most grants listed (newest first), and recent calls shown per grant.
const GRANTS_SHOWN: usize = 100;
const CALLS_SHOWN: usize = 10;
const TOOL_CHARS: usize = 64;

/// One grant as the Agents view lists it.
#[derive(Debug, Serialize)]
pub struct GrantRow {
    name: String,
    tools: Vec<String>,
    token_ttl: String,
    /// `active`, `expired` or `revoked`.
    status: &'static str,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    tokens_minted: i64,
    recent_calls: Vec<CallRow>,
}

/// One call made with a token of the grant.
#[derive(Debug, Serialize)]
pub struct CallRow {
    at: Timestamp,
    tool: String,
    /// The fronted server, for a gateway call.
    server: Option<String>,
    decision: String,
    status: Option<String>,
    duration_ms: Option<i64>,
}

impl From<AuditEntry> for CallRow {
    fn from(entry: AuditEntry) -> Self {
        Self {
            at: entry.at,
            // The name an agent asked for, which may be anything.
            tool: printable(&entry.tool, TOOL_CHARS),
            server: entry.server,
            decision: printable(&entry.decision, 40),
            status: entry.status.map(|s| printable(&s, 40)),
            duration_ms: entry.duration_ms,
        }
    }
}

fn row(grant: GrantInfo, calls: Vec<AuditEntry>) -> GrantRow {
    let time = |millis: Option<i64>| millis.map(Timestamp::from_unix_millis);
    GrantRow {
        token_ttl: format_ttl(Duration::from_secs(u64::try_from(grant.token_ttl_secs).unwrap_or(0))),
        status: grant.status.as_str(),
        created_at: Timestamp::from_unix_millis(grant.created_at),
        expires_at: time(grant.expires_at),
        revoked_at: time(grant.revoked_at),
        last_used_at: time(grant.last_used_at),
        tokens_minted: grant.tokens_minted,
        recent_calls: calls.into_iter().map(CallRow::from).collect(),
        name: grant.name,
        tools: grant.tools,
    }
}

/// Every grant, newest first, with its recent calls. A revoked grant's name may have been given
/// again: the calls of a name are shown once, with its newest grant.
pub fn list(state: &AppState) -> Result<Vec<GrantRow>, AppError> {
    state.with_vault(|vault| {
        let grants = vault.list_grants()?;
        let mut seen = std::collections::HashSet::new();
        let mut rows = Vec::new();
        for grant in grants.into_iter().take(GRANTS_SHOWN) {
            let calls = if seen.insert(grant.name.clone()) {
                vault.recent_grant_audit(&grant.name, CALLS_SHOWN)?
            } else {
                vec![]
            };
            rows.push(row(grant, calls));
        }
        Ok(rows)
    })
}

/// Create a grant for `tools`; its tokens live `token_ttl` (15 min if empty), and it lasts
/// `expires` (until revoked if empty).
pub fn create(
    state: &AppState,
    name: &str,
    tools: Vec<String>,
    token_ttl: Option<&str>,
    expires: Option<&str>,
) -> Result<GrantRow, AppError> {
    let mut request = GrantRequest::new(name, tools);
    if let Some(ttl) = duration("token lifetime", token_ttl)? {
        request.token_ttl = ttl;
    }
    request.expires_in = duration("grant expiry", expires)?;
    let grant = state.with_vault(|vault| vault.create_grant(&request))?;
    Ok(row(grant, Vec::new()))
}

fn duration(what: &str, text: Option<&str>) -> Result<Option<Duration>, AppError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    parse_ttl(text).map(Some).map_err(|e| AppError::new("invalid_ttl", format!("{what}: {e}")))
}

/// Revoke a grant: every token minted under it is refused from its next request on. False if
/// it was revoked already.
pub fn revoke(state: &AppState, name: &str) -> Result<bool, AppError> {
    state.with_vault(|vault| vault.revoke_grant(name))
}
