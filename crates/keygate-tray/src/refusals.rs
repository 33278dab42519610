//! A refused connection (a missing, unknown, expired or revoked token) raises one desktop
//! notification, so an agent that stops working leaves a trace the person sees. The agent
//! reads new `(authentication)` audit rows whenever the vault changes and notifies each token
//! at most once per [`QUIET`], whatever the rate of refusals.

use std::collections::HashMap;
use std::time::Duration;

use keygate_vault::{AuditEntry, Timestamp};

use crate::activity::{AUTHENTICATION, detail};
use crate::state::AppState;

/// How long after a notification about a token the next refusal of it stays quiet.
pub const QUIET: Duration = Duration::from_secs(600);
/// How many of the newest audit rows are read for new refusals each time the vault changes.
const SCAN_ROWS: usize = 50;

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalNotice {
    /// The token refused, or none when no token was sent.
    pub token_id: Option<String>,
    /// The notification's text.
    pub body: String,
}

/// Which refusals were seen and when each token was last notified.
#[derive(Debug)]
pub struct RefusalWatch {
    seen_until: Timestamp,
    notified: HashMap<Option<String>, Timestamp>,
}

impl RefusalWatch {
    /// Refusals from before `now` (the agent's start) are not news.
    pub fn starting_at(now: Timestamp) -> Self {
        Self { seen_until: now, notified: HashMap::new() }
    }

    /// The notices due for `rows` (newest first, as the audit lists them), marking them seen.
    pub fn take_new(&mut self, rows: &[AuditEntry], now: Timestamp) -> Vec<RefusalNotice> {
        let fresh: Vec<&AuditEntry> =
            rows.iter().filter(|r| r.tool == AUTHENTICATION && r.at > self.seen_until).collect();
        if let Some(newest) = rows.iter().map(|r| r.at).max() {
            self.seen_until = self.seen_until.max(newest);
        }
        let mut notices = Vec::new();
        for row in fresh.into_iter().rev() {
            let quiet = self.notified.get(&row.token_id).is_some_and(|&at| now.since(at) < QUIET);
            if quiet {
                continue;
            }
            self.notified.insert(row.token_id.clone(), now);
            notices.push(RefusalNotice { token_id: row.token_id.clone(), body: body(row) });
        }
        notices
    }
}

fn body(row: &AuditEntry) -> String {
    let who = match (&row.grant, &row.token_id) {
        (Some(grant), _) => format!("An agent under grant {grant}"),
        (None, Some(id)) => format!("An agent with token {id}"),
        (None, None) => "An agent without a token".to_string(),
    };
    let why = detail(&row.decision, row.status.as_deref());
    let why = why.strip_prefix("connection refused: ").unwrap_or(&why);
    format!("{who} was refused: {why}. Open Keygate's Activity for details.")
}

/// Read the newest audit rows and notify any new refused connection (the agent's loop).
pub fn notify_new(state: &AppState, watch: &mut RefusalWatch) {
    let Ok(rows) = state.with_vault(|vault| vault.recent_audit(SCAN_ROWS)) else { return };
    for notice in watch.take_new(&rows, state.clock().now()) {
        let shown = notify_rust::Notification::new()
            .appname("Keygate")
            .summary("Keygate refused an agent")
            .body(&notice.body)
            .icon("dialog-warning")
            .show();
        if let Err(e) = shown {
            tracing::warn!(error = %e, "cannot show a notification: {}", notice.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

    fn refused(token: Option<&str>, seconds_after_start: u64, status: &str) -> AuditEntry {
        AuditEntry {
            at: START.plus(Duration::from_secs(seconds_after_start)),
            token_id: token.map(str::to_string),
            server: None,
            tool: AUTHENTICATION.into(),
            credential: None,
            credential_version: None,
            team_version: None,
            decision: "denied".into(),
            status: Some(status.into()),
            duration_ms: None,
            grant: None,
            count: 1,
        }
    }

    #[test]
    fn one_notice_per_token_per_ten_minutes() {
        let mut watch = RefusalWatch::starting_at(START);
        let at = |s| START.plus(Duration::from_secs(s));
        let first = watch.take_new(&[refused(Some("aaaa"), 1, "auth_revoked")], at(1));
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].body,
            "An agent with token aaaa was refused: the token (or its grant) was revoked. Open Keygate's Activity for details."
        );
        let rows = [refused(Some("aaaa"), 60, "auth_revoked"), refused(Some("aaaa"), 1, "auth_revoked")];
        assert!(watch.take_new(&rows, at(60)).is_empty(), "the same token within 10 minutes stays quiet");
        let other = watch.take_new(&[refused(None, 70, "auth_missing")], at(70));
        assert_eq!(other.len(), 1, "another token (here: none) is news");
        let later = watch.take_new(&[refused(Some("aaaa"), 601, "auth_expired")], at(601));
        assert_eq!(later.len(), 1, "after 10 minutes the token is news again");
    }

    #[test]
    fn rows_before_the_start_and_tool_calls_are_not_refused_connections() {
        let mut watch = RefusalWatch::starting_at(START);
        let old = AuditEntry { at: START, ..refused(Some("aaaa"), 0, "auth_expired") };
        let call = AuditEntry { tool: "web_search".into(), ..refused(Some("bbbb"), 5, "out_of_scope") };
        assert!(watch.take_new(&[call, old], START.plus(Duration::from_secs(5))).is_empty());
    }
}
