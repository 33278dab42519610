//! The audit's and the rotation log's chains: every edit, deletion, reordering or insertion
//! made without the master key is found by verify, and retention keeps the chain verifiable.

use std::time::Duration;

use keygate_vault::{AuditStart, CallOutcome, ChainReport, Decision, Retention, Vault};

use crate::common::{DAY, Fixture, HOUR, request, secret};

/// A vault with `calls` audited calls (every third denied, the others finished) and a
/// rotation log of `calls` rows.
fn audited(calls: usize) -> Fixture {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    for i in 0..calls {
        let denied = i % 3 == 2;
        let start = AuditStart {
            token_id: Some(&issued.id),
            server: None,
            tool: "web_search",
            credential: Some("a"),
            credential_version: Some(1),
            team_version: None,
            decision: if denied { Decision::Denied } else { Decision::Allowed },
            status: denied.then_some("out_of_scope"),
        };
        let audit = vault.begin_audit(&start).expect("begin");
        if !denied {
            let outcome = CallOutcome {
                audit,
                token_id: issued.id.clone(),
                status: format!("{}", 200 + i),
                duration: Duration::from_millis(i as u64),
            };
            vault.finish_calls(&[outcome]).expect("finish");
        }
        fx.clock.advance(HOUR);
    }
    vault.add_credential("k", &secret("v1"), None).expect("add");
    for i in 1..calls {
        vault.rotate_credential("k", &secret(&format!("v{}", i + 1))).expect("rotate");
    }
    fx
}

fn broken_at(report: &ChainReport) -> i64 {
    report.broken.as_ref().map(|b| b.row).unwrap_or_else(|| panic!("not broken: {report}"))
}

/// Apply `tamper` (raw SQL on `table`) to a fresh vault and return both chains' reports.
fn tampered(table: &str, sql: &str) -> ChainReport {
    let fx = audited(6);
    let before = verify(&fx.open(), table);
    assert!(before.is_intact(), "{before}");
    assert_eq!(before.rows, 6);
    fx.raw().execute_batch(sql).expect("tamper");
    verify(&fx.open(), table)
}

fn verify(vault: &Vault, table: &str) -> ChainReport {
    match table {
        "audit" => vault.verify_audit(),
        _ => vault.verify_rotation_log(),
    }
    .expect("verify")
}

#[test]
fn an_untouched_chain_verifies() {
    let fx = audited(9);
    let vault = fx.open();
    let report = vault.verify_audit().expect("verify");
    assert_eq!(report.to_string(), "ok, 9 rows");
    assert_eq!(report.head.as_ref().map(String::len), Some(64));
    assert_eq!(vault.verify_rotation_log().expect("verify").to_string(), "ok, 9 rows");
}

#[test]
fn an_edited_row_is_found_in_both_logs() {
    let report = tampered("audit", "UPDATE audit SET tool = 'other_tool' WHERE id = 3");
    assert_eq!(broken_at(&report), 3);
    assert!(report.to_string().contains("edited"), "{report}");
    let report = tampered("rotation_log", "UPDATE rotation_log SET to_version = 9 WHERE id = 4");
    assert_eq!(broken_at(&report), 4);
}

#[test]
fn an_edited_outcome_is_found() {
    let report = tampered("audit", "UPDATE audit SET status = '200' WHERE id = 2");
    assert_eq!(broken_at(&report), 2);
    assert!(report.to_string().contains("outcome"), "{report}");
    let report = tampered("audit", "UPDATE audit SET status = NULL, duration_ms = NULL WHERE id = 1");
    assert_eq!(broken_at(&report), 1, "an erased outcome: {report}");
}

#[test]
fn a_deleted_row_is_found_in_both_logs() {
    for table in ["audit", "rotation_log"] {
        let report = tampered(table, &format!("DELETE FROM {table} WHERE id = 3"));
        assert_eq!(broken_at(&report), 4, "{table}");
        assert!(report.to_string().contains("row 3 before it is missing"), "{report}");
        // The first rows gone with no checkpoint in their place.
        let report = tampered(table, &format!("DELETE FROM {table} WHERE id <= 2"));
        assert_eq!(broken_at(&report), 3, "{table}: {report}");
    }
}

#[test]
fn reordered_rows_are_found_in_both_logs() {
    for table in ["audit", "rotation_log"] {
        // Swap rows 2 and 3, MACs and all, by moving their ids.
        let sql = format!(
            "UPDATE {table} SET id = 100 WHERE id = 2; UPDATE {table} SET id = 2 WHERE id = 3;
             UPDATE {table} SET id = 3 WHERE id = 100;"
        );
        let report = tampered(table, &sql);
        assert_eq!(broken_at(&report), 2, "{table}: {report}");
    }
}

#[test]
fn inserted_rows_are_found_in_both_logs() {
    let forged = "x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'";
    let audit_row = |id: i64| {
        format!(
            "INSERT INTO audit (id, at, tool, decision, status, mac, seal)
             VALUES ({id}, 1, 'web_search', 'allowed', '200', {forged}, {forged})"
        )
    };
    let report = tampered("audit", &audit_row(7));
    assert_eq!(broken_at(&report), 7, "appended: {report}");
    // Into the middle: every later row moved up one.
    let shift = "UPDATE audit SET id = id + 100 WHERE id >= 4; UPDATE audit SET id = id - 99 WHERE id >= 104;";
    let report = tampered("audit", &format!("{shift} {}", audit_row(4)));
    assert_eq!(broken_at(&report), 4, "inserted: {report}");
    // A copy of a genuine row, appended.
    let copy = "INSERT INTO rotation_log (id, at, credential, action, from_version, to_version, actor, mac)
                SELECT 7, at, credential, action, from_version, to_version, actor, mac FROM rotation_log WHERE id = 6";
    let report = tampered("rotation_log", copy);
    assert_eq!(broken_at(&report), 7, "replayed: {report}");
}

fn keep_days(fx: &Fixture, days: u32) {
    let path = fx.home.config_path();
    let mut config = std::fs::read_to_string(&path).expect("config");
    config = config.replace("# keep_days = 365", &format!("keep_days = {days}"));
    std::fs::write(&path, config).expect("write config");
}

#[test]
fn retention_prunes_behind_a_checkpoint_and_the_chain_still_verifies() {
    let fx = audited(30); // 30 calls an hour apart; now is an hour after the last
    keep_days(&fx, 1); // the first 6 rows are older than a day
    let mut vault = fx.open();
    assert_eq!(vault.apply_retention().expect("prune"), Retention::Pruned { pruned: 6, checkpoint: 6 });
    assert_eq!(vault.audit_log().expect("log").len(), 25, "24 kept and the checkpoint");
    let report = vault.verify_audit().expect("verify");
    assert_eq!(report.to_string(), "ok, 25 rows");
    assert_eq!(vault.apply_retention().expect("again"), Retention::NothingToPrune);

    // More calls, a second pass across the first checkpoint, and the chain still holds.
    let token = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let start = AuditStart {
        token_id: Some(&token.id),
        server: None,
        tool: "web_search",
        credential: None,
        credential_version: None,
        team_version: None,
        decision: Decision::Allowed,
        status: None,
    };
    vault.begin_audit(&start).expect("after the checkpoint");
    fx.clock.advance(DAY);
    let mut vault = fx.open();
    assert_eq!(vault.apply_retention().expect("prune"), Retention::Pruned { pruned: 24, checkpoint: 30 });
    assert_eq!(vault.verify_audit().expect("verify").to_string(), "ok, 2 rows");

    // The checkpoint is sealed: editing what it says breaks the chain.
    fx.raw().execute("UPDATE audit SET status = 'nothing pruned' WHERE decision = 'checkpoint'", []).expect("edit");
    let report = fx.open().verify_audit().expect("verify");
    assert_eq!(broken_at(&report), 30);
}

#[test]
fn retention_never_prunes_a_broken_chain() {
    let fx = audited(6);
    fx.raw().execute("UPDATE audit SET tool = 'hidden' WHERE id = 2", []).expect("tamper");
    fx.clock.advance(30 * DAY);
    keep_days(&fx, 1);
    let mut vault = fx.open();
    let Retention::Refused(report) = vault.apply_retention().expect("prune") else { panic!("pruned a broken chain") };
    assert_eq!(broken_at(&report), 2);
    assert_eq!(vault.audit_log().expect("log").len(), 6, "the evidence is kept");
}

#[test]
fn the_export_streams_rows_since_a_time_with_their_macs() {
    let fx = audited(6);
    let vault = fx.open();
    let mut rows = Vec::new();
    let since = crate::common::T0.plus(3 * HOUR);
    vault
        .export_audit(Some(since), |r| {
            rows.push(r);
            Ok(())
        })
        .expect("export");
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4, 5, 6]);
    assert!(rows.iter().all(|r| r.mac.as_ref().is_some_and(|m| m.len() == 64) && r.seal.is_some()));
    assert_eq!(rows[0].status.as_deref(), Some("203"));
}

#[test]
fn an_aggregated_denial_is_chained_and_its_count_sealed() {
    let fx = audited(3);
    let mut vault = fx.open();
    let start = AuditStart {
        token_id: None,
        server: None,
        tool: "(authentication)",
        credential: None,
        credential_version: None,
        team_version: None,
        decision: Decision::Denied,
        status: Some("auth_unknown"),
    };
    vault.record_denials(&start, 42).expect("aggregate");
    let report = vault.verify_audit().expect("verify");
    assert!(report.is_intact() && report.rows == 4, "{report}");
    drop(vault);
    // Making a flood look smaller is tampering too.
    fx.raw().execute_batch("UPDATE audit SET count = 1 WHERE id = 4").expect("tamper");
    assert_eq!(broken_at(&fx.open().verify_audit().expect("verify")), 4);
}

#[test]
fn text_that_is_not_utf8_is_a_broken_row_not_a_panic() {
    // A damaged file can hold such bytes; reading them as text once panicked inside rusqlite.
    let report = tampered("audit", "UPDATE audit SET tool = CAST(x'ff41' AS TEXT) WHERE id = 2");
    assert_eq!(broken_at(&report), 2);
    let report = tampered("rotation_log", "UPDATE rotation_log SET credential = CAST(x'c3' AS TEXT) WHERE id = 3");
    assert_eq!(broken_at(&report), 3);
    let fx = audited(3);
    fx.raw().execute_batch("UPDATE token SET id = CAST(x'ff' AS TEXT)").expect("tamper");
    let findings = fx.open().verify_rows().expect("rows are checked");
    assert_eq!(findings.len(), 1, "{findings:?}");
}
