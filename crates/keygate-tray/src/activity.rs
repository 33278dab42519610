//! Activity: the audit as "what are my agents doing". Each row names its agent (the grant, else
//! the token's label, else its id), says in words what its outcome means, and marks refused
//! connections (a failed authentication: no tool was reached). Only codes and names come from
//! the audit, never an upstream's body, so nothing secret can reach the window here.

use std::collections::HashMap;

use keygate_vault::{AuditEntry, Timestamp, TokenInfo};
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// The most audit rows the view gets: enough for the last hour's chart on a busy day.
const ROWS: usize = 1000;
/// The audit's tool column for a failed authentication.
pub const AUTHENTICATION: &str = "(authentication)";

/// One audited call or refused connection, as Activity shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    at: Timestamp,
    /// Who called: the grant, the token's label, the token's id, or "no token".
    agent: String,
    token_id: Option<String>,
    grant: Option<String>,
    server: Option<String>,
    tool: String,
    credential: Option<String>,
    credential_version: Option<i64>,
    /// `allowed` or `denied`.
    decision: String,
    /// The audit's outcome code: an HTTP status, or why it was refused.
    status: Option<String>,
    /// That code in words, for people.
    detail: String,
    /// A request refused before any tool: the token was missing, unknown, expired or revoked.
    refused_connection: bool,
    duration_ms: Option<i64>,
    /// How many requests the row stands for (refusals are counted, not listed one by one).
    count: i64,
}

/// The newest audit rows, newest first, each with its agent and outcome in words.
pub fn list(state: &AppState) -> Result<Vec<ActivityRow>, AppError> {
    state.with_vault(|vault| {
        let labels = labels(&vault.list_tokens()?);
        Ok(vault.recent_audit(ROWS)?.into_iter().map(|entry| row(entry, &labels)).collect())
    })
}

fn labels(tokens: &[TokenInfo]) -> HashMap<String, String> {
    tokens.iter().filter_map(|t| Some((t.id.clone(), t.label.clone()?))).collect()
}

fn row(entry: AuditEntry, labels: &HashMap<String, String>) -> ActivityRow {
    let agent = match (&entry.grant, &entry.token_id) {
        (Some(grant), _) => grant.clone(),
        (None, Some(id)) => labels.get(id).cloned().unwrap_or_else(|| id.clone()),
        (None, None) => "no token".to_string(),
    };
    let refused_connection = entry.tool == AUTHENTICATION;
    ActivityRow {
        detail: detail(&entry.decision, entry.status.as_deref()),
        at: entry.at,
        agent,
        token_id: entry.token_id,
        grant: entry.grant,
        server: entry.server,
        tool: entry.tool,
        credential: entry.credential,
        credential_version: entry.credential_version,
        decision: entry.decision,
        status: entry.status,
        refused_connection,
        duration_ms: entry.duration_ms,
        count: entry.count,
    }
}

/// An outcome code in words: what happened and, for a refusal, what to do about it.
pub fn detail(decision: &str, status: Option<&str>) -> String {
    let Some(status) = status else {
        return if decision == "allowed" { "in progress".into() } else { "refused".into() };
    };
    if let Ok(code) = status.parse::<u16>() {
        return http_detail(code);
    }
    // The rule is the person's own text: shown as written.
    if let Some(rule) = status.strip_prefix("rule_failed: ") {
        return format!("refused by the rule `{rule}`");
    }
    let words = match status {
        "auth_missing" => "connection refused: no token was sent",
        "auth_unknown" => "connection refused: the token is not one Keygate issued (or it was removed)",
        "auth_malformed" => "connection refused: what was sent is not a Keygate token",
        "auth_expired" => "connection refused: the token has expired; connect the agent again from Agents",
        "auth_revoked" => "connection refused: the token (or its grant) was revoked",
        "auth_tampered" => "connection refused: the token's row in the vault failed its integrity check",
        "auth_rate_limited" => "connection refused: too many failed attempts; Keygate is slowing them down",
        "auth_foreign_session" => "connection refused: the session belongs to another token",
        "out_of_scope" => "refused: the tool is not among the tools this agent may call",
        "unknown_tool" => "refused: no such tool in config.toml",
        "invalid_tool_name" => "refused: the tool name is not valid",
        "invalid_arguments" => "refused: the arguments do not match the tool's schema",
        "missing_credential" => "refused: the tool's credential is not in the vault; add it in Credentials",
        "credential_error" => "refused: the tool's credential could not be opened",
        "quarantined" => "refused: the tool is new or changed and is held back until you approve it in Servers",
        "ok" => "OK",
        "server_error" => "the server failed or did not answer in time",
        "bad_reply" => "the server's answer was not valid MCP",
        "server_unavailable" => "the server could not be started or reached",
        "upstream_error" => "the upstream could not be reached, or did not answer in time",
        "cancelled" => "cancelled by the agent",
        "tool_error" => "the server answered with an error",
        other => return other.replace('_', " "),
    };
    words.to_string()
}

fn http_detail(code: u16) -> String {
    if (200..300).contains(&code) {
        return format!("OK (HTTP {code})");
    }
    let reason = match code {
        400 => "bad request",
        401 => "the upstream refused the key: check or rotate it",
        403 => "forbidden: the key lacks the permission",
        404 => "not found",
        408 => "request timeout",
        429 => "rate limited by the upstream",
        500 => "the upstream failed (internal error)",
        502 => "bad gateway",
        503 => "the upstream is unavailable",
        504 => "the upstream timed out",
        _ if (400..500).contains(&code) => "the upstream refused the request",
        _ => "the upstream failed",
    };
    format!("upstream answered HTTP {code}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tool: &str, token: Option<&str>, grant: Option<&str>, decision: &str, status: &str) -> AuditEntry {
        AuditEntry {
            at: Timestamp::from_unix_millis(1_800_000_000_000),
            token_id: token.map(str::to_string),
            server: None,
            tool: tool.into(),
            credential: None,
            credential_version: None,
            team_version: None,
            decision: decision.into(),
            status: Some(status.into()),
            duration_ms: None,
            grant: grant.map(str::to_string),
            count: 1,
        }
    }

    #[test]
    fn the_agent_is_the_grant_then_the_label_then_the_id() {
        let labels = HashMap::from([("aaaa".to_string(), "laptop claude".to_string())]);
        let shown = |e| row(e, &labels).agent;
        assert_eq!(shown(entry("web_search", Some("aaaa"), Some("cursor"), "allowed", "200")), "cursor");
        assert_eq!(shown(entry("web_search", Some("aaaa"), None, "allowed", "200")), "laptop claude");
        assert_eq!(shown(entry("web_search", Some("bbbb"), None, "allowed", "200")), "bbbb");
        assert_eq!(shown(entry(AUTHENTICATION, None, None, "denied", "auth_missing")), "no token");
    }

    #[test]
    fn refused_connections_are_marked_and_say_why() {
        let refused = row(entry(AUTHENTICATION, Some("aaaa"), None, "denied", "auth_revoked"), &HashMap::new());
        assert!(refused.refused_connection);
        assert_eq!(refused.detail, "connection refused: the token (or its grant) was revoked");
        let call = row(entry("web_search", Some("aaaa"), None, "denied", "out_of_scope"), &HashMap::new());
        assert!(!call.refused_connection);
    }

    #[test]
    fn outcomes_in_words_name_the_upstream_status() {
        assert_eq!(detail("allowed", Some("200")), "OK (HTTP 200)");
        assert_eq!(detail("allowed", Some("429")), "upstream answered HTTP 429: rate limited by the upstream");
        assert_eq!(detail("allowed", Some("418")), "upstream answered HTTP 418: the upstream refused the request");
        assert_eq!(detail("allowed", None), "in progress");
        assert_eq!(detail("denied", Some("auth_expired")).split(':').next(), Some("connection refused"));
        assert_eq!(detail("denied", Some("some_new_code")), "some new code");
        assert_eq!(
            detail("denied", Some("rule_failed: web_search: num_results <= 10")),
            "refused by the rule `web_search: num_results <= 10`"
        );
        assert_eq!(detail("approval", Some("approved by app for 600s")), "approved by app for 600s");
    }
}
