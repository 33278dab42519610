//! The audit of tool calls.

use std::time::Duration;

use keygate_vault::{AuditId, AuditStart, CallOutcome, Decision, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{Fixture, T0, allowed_call, contains, request, secret, token_secret};

fn begin_allowed(vault: &mut Vault, token_id: &str) -> AuditId {
    vault.begin_audit(&allowed_call(token_id)).expect("begin")
}

fn outcome(audit: AuditId, token_id: &str, status: &str, millis: u64) -> CallOutcome {
    CallOutcome {
        audit,
        token_id: token_id.to_string(),
        status: status.to_string(),
        duration: Duration::from_millis(millis),
    }
}

#[test]
fn audit_rows_are_written_and_finished_in_order() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-a"), None).expect("add");
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");

    let t1 = fx.now();
    let first = vault
        .begin_audit(&AuditStart {
            server: None,
            token_id: Some(&issued.id),
            tool: "web_search",
            credential: Some("a"),
            credential_version: Some(1),
            team_version: None,
            decision: Decision::Allowed,
            status: None,
        })
        .expect("begin");
    let pending = vault.audit_log().expect("audit");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].status.as_deref(), pending[0].duration_ms), (None, None), "written before the call");

    fx.clock.advance(Duration::from_secs(2));
    let t2 = fx.now();
    let second = vault
        .begin_audit(&AuditStart {
            server: None,
            token_id: Some(&issued.id),
            tool: "other",
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some("out_of_scope"),
        })
        .expect("begin denied");
    assert_ne!(first, second);
    vault.finish_audit(first, "200", Duration::from_millis(12)).expect("finish");

    let log = vault.audit_log().expect("audit");
    assert_eq!(log.len(), 2);
    let (a, d) = (&log[0], &log[1]);
    assert_eq!(a.at, t1);
    assert_eq!(a.token_id.as_deref(), Some(issued.id.as_str()));
    assert_eq!(a.tool, "web_search");
    assert_eq!(a.credential.as_deref(), Some("a"));
    assert_eq!(a.credential_version, Some(1));
    assert_eq!(a.decision, "allowed");
    assert_eq!(a.status.as_deref(), Some("200"));
    assert_eq!(a.duration_ms, Some(12));

    assert_eq!(d.at, t2);
    assert_eq!(d.token_id.as_deref(), Some(issued.id.as_str()));
    assert_eq!(d.tool, "other");
    assert_eq!((d.credential.as_deref(), d.credential_version), (None, None));
    assert_eq!(d.decision, "denied");
    assert_eq!(d.status.as_deref(), Some("out_of_scope"));
    assert_eq!(d.duration_ms, None);

    // It survives a reopen, and never holds the token.
    drop(vault);
    assert_eq!(fx.open().audit_log().expect("audit"), log);
    assert!(!contains(&fx.disk_bytes(), token_secret(issued.token.expose_secret()).as_bytes()));
}

#[test]
fn recent_audit_is_newest_first_and_limited() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    for tool in ["first", "second", "third"] {
        let start = AuditStart {
            server: None,
            token_id: None,
            tool,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some("unknown_token"),
        };
        vault.begin_audit(&start).expect("begin");
    }
    let tools = |entries: Vec<keygate_vault::AuditEntry>| entries.into_iter().map(|e| e.tool).collect::<Vec<_>>();
    assert_eq!(tools(vault.recent_audit(2).expect("recent")), ["third", "second"]);
    assert_eq!(tools(vault.recent_audit(10).expect("recent")), ["third", "second", "first"]);
    assert!(vault.recent_audit(0).expect("recent").is_empty());
}

#[test]
fn a_batch_of_outcomes_finishes_every_row_and_counts_each_token_once_per_call() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let one = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let two = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let rows =
        [begin_allowed(&mut vault, &one.id), begin_allowed(&mut vault, &two.id), begin_allowed(&mut vault, &one.id)];
    fx.clock.advance(Duration::from_secs(3));

    let batch = [
        outcome(rows[0], &one.id, "200", 7),
        outcome(rows[1], &two.id, "502", 8),
        outcome(rows[2], &one.id, "upstream_error", 9),
    ];
    vault.finish_calls(&batch).expect("finish the batch");

    let finished: Vec<_> = vault.audit_log().expect("audit").into_iter().map(|r| (r.status, r.duration_ms)).collect();
    let expected = [("200", 7), ("502", 8), ("upstream_error", 9)].map(|(s, ms)| (Some(s.to_string()), Some(ms)));
    assert_eq!(finished, expected);
    let tokens = vault.list_tokens().expect("tokens");
    let uses = |id: &str| tokens.iter().find(|t| t.id == id).map(|t| (t.uses, t.last_used_at)).expect("listed");
    let used_at = Some(T0.plus(Duration::from_secs(3)));
    assert_eq!((uses(&one.id), uses(&two.id)), ((2, used_at), (1, used_at)));
}

#[test]
fn a_batch_with_an_unknown_token_writes_nothing() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let row = begin_allowed(&mut vault, &issued.id);
    let batch = [outcome(row, &issued.id, "200", 1), outcome(row, "0123456789abcdef", "200", 1)];
    let err = vault.finish_calls(&batch).expect_err("unknown token");
    assert!(matches!(err, VaultError::TokenNotFound { .. }), "{err}");
    assert_eq!(vault.audit_log().expect("audit")[0].status, None, "rolled back");
    assert_eq!(vault.list_tokens().expect("tokens")[0].uses, 0, "rolled back");
}

#[test]
fn refused_calls_count_as_uses_of_their_token_like_the_audit_says() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let denied = |token_id| AuditStart {
        token_id,
        server: None,
        tool: "not_granted",
        credential: None,
        credential_version: None,
        team_version: None,
        decision: Decision::Denied,
        status: Some("out_of_scope"),
    };
    vault.record_denials(&denied(Some(&issued.id)), 3).expect("aggregate");
    let token = vault.list_tokens().expect("list").into_iter().find(|t| t.id == issued.id).expect("listed");
    assert_eq!((token.uses, token.last_used_at), (3, Some(T0)));
    // A failed authentication names a token id nobody issued: audited, nothing to count.
    vault.record_denials(&denied(Some("0123456789abcdef")), 2).expect("unknown token");
    assert_eq!(vault.audit_log().expect("audit").iter().map(|e| e.count).sum::<i64>(), 5);
}
