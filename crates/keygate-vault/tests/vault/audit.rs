//! The audit of tool calls.

use std::time::Duration;

use keygate_vault::{AuditStart, Decision};
use secrecy::ExposeSecret;

use crate::common::{Fixture, contains, request, secret, token_secret};

#[test]
fn audit_rows_are_written_and_finished_in_order() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-a"), None).expect("add");
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");

    let t1 = fx.now();
    let first = vault
        .begin_audit(&AuditStart {
            token_id: Some(&issued.id),
            tool: "web_search",
            credential: Some("a"),
            credential_version: Some(1),
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
            token_id: Some(&issued.id),
            tool: "other",
            credential: None,
            credential_version: None,
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
            token_id: None,
            tool,
            credential: None,
            credential_version: None,
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
