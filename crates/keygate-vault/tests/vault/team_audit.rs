//! A team copy follows the team's version: dated by its `created_time` (a time that did not
//! parse falls back to now, a future one is clamped to now), under the team's policy whenever
//! it changes, and marked with the team version, which the call's audit row records and the
//! chain covers: flipped, added or removed behind Keygate's back, verify finds it; rows
//! without one MAC as before, also across the 012 upgrade.

use std::time::Duration;

use keygate_vault::{AuditStart, Decision, TeamChange, TeamVersion, Timestamp, Vault, VaultError};

use crate::common::{DAY, Fixture, T0, request, secret};

fn team(version: i64, created_at: Option<Timestamp>, max_age_days: Option<i64>) -> TeamVersion {
    TeamVersion { version, created_at, max_age_days }
}

fn ago(duration: Duration) -> Timestamp {
    Timestamp::from_unix_millis(T0.unix_millis() - i64::try_from(duration.as_millis()).expect("millis"))
}

fn due_at(vault: &Vault, name: &str) -> Timestamp {
    vault.credential_info(name).expect("info").due_at
}

#[test]
fn a_copy_is_dated_by_the_team_version_not_by_the_sync() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    // Created on the team ten days before this machine first synced it.
    let created = ago(10 * DAY);
    let added = vault.store_team_copy("search", &secret("sk-1"), &team(1, Some(created), Some(30)));
    assert_eq!(added.expect("add"), TeamChange::Added);
    assert_eq!(due_at(&vault, "search"), created.plus(30 * DAY));
    assert_eq!(vault.credential_detail("search").expect("detail").versions[0].created_at, created);

    // A second machine syncing a day later holds the same due date.
    let fx2 = Fixture::with_vault();
    fx2.clock.advance(DAY);
    let mut other = fx2.open();
    other.store_team_copy("search", &secret("sk-1"), &team(1, Some(created), Some(30))).expect("add");
    assert_eq!(due_at(&other, "search"), due_at(&vault, "search"));

    // A new team version with a created_time that did not parse: dated now.
    fx.clock.advance(DAY);
    let now = T0.plus(DAY);
    vault.store_team_copy("search", &secret("sk-2"), &team(2, None, None)).expect("update");
    assert_eq!(due_at(&vault, "search"), now.plus(30 * DAY));
    // Seen again unparsed at a later sync: the date does not move with each sync.
    fx.clock.advance(DAY);
    assert_eq!(vault.follow_team_copy("search", &team(2, None, None)).expect("follow"), TeamChange::Unchanged);
    assert_eq!(due_at(&vault, "search"), now.plus(30 * DAY));
    assert_eq!(vault.verify_rows().expect("rows"), [], "every reseal verifies");
}

#[test]
fn a_created_time_in_the_future_is_clamped_to_now_and_never_moves_the_date_each_sync() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let ahead = T0.plus(Duration::from_secs(3600));
    vault.store_team_copy("search", &secret("sk-1"), &team(1, Some(ahead), Some(30))).expect("add");
    assert_eq!(due_at(&vault, "search"), T0.plus(30 * DAY), "clamped to now");
    fx.clock.advance(Duration::from_secs(60));
    vault.follow_team_copy("search", &team(1, Some(ahead), Some(30))).expect("follow");
    assert_eq!(due_at(&vault, "search"), T0.plus(30 * DAY), "still ahead: left where it was");
    fx.clock.advance(DAY);
    vault.follow_team_copy("search", &team(1, Some(ahead), Some(30))).expect("follow");
    assert_eq!(due_at(&vault, "search"), ahead.plus(30 * DAY), "once passed, the team's own time");
}

#[test]
fn a_changed_team_policy_is_applied_at_sync_and_logged() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let created = ago(DAY);
    vault.store_team_copy("search", &secret("sk-1"), &team(1, Some(created), Some(30))).expect("add");
    // A teammate's `cred set` changed the policy: no new version, the next sync applies it.
    vault.follow_team_copy("search", &team(1, Some(created), Some(7))).expect("follow");
    let info = vault.credential_info("search").expect("info");
    assert_eq!((info.max_age_days, info.due_at), (7, created.plus(7 * DAY)));
    let last = vault.rotation_log().expect("log").pop().expect("a row");
    assert_eq!(last.action, "policy_changed");
    // No policy on the team leaves the local one; the same policy writes nothing.
    let rows = vault.rotation_log().expect("log").len();
    vault.follow_team_copy("search", &team(1, Some(created), None)).expect("follow");
    vault.follow_team_copy("search", &team(1, Some(created), Some(7))).expect("follow");
    assert_eq!(vault.credential_info("search").expect("info").max_age_days, 7);
    assert_eq!(vault.rotation_log().expect("log").len(), rows);
    // A new version with a new policy brings both.
    vault.store_team_copy("search", &secret("sk-2"), &team(2, Some(T0), Some(90))).expect("update");
    let info = vault.credential_info("search").expect("info");
    assert_eq!((info.max_age_days, info.due_at), (90, T0.plus(90 * DAY)));
    // Following a version this machine does not hold is refused (sync reads the value then).
    assert!(matches!(
        vault.follow_team_copy("search", &team(3, None, None)),
        Err(VaultError::CredentialNotFound { .. })
    ));
}

#[test]
fn the_opened_credential_carries_its_team_version_and_it_is_authenticated() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("local", &secret("sk-local"), None).expect("add");
    vault.store_team_version("search", &secret("sk-1"), 4, None).expect("add");
    assert_eq!(vault.open_credential("local").expect("open").team_version, None);
    assert_eq!(vault.open_credential("search").expect("open").team_version, Some(4));
    assert_eq!(vault.current_versions("search").expect("versions"), Some((1, Some(4))));
    // Same value, newer team version: the local version stays and now names version 5.
    vault.store_team_version("search", &secret("sk-1"), 5, None).expect("moved");
    assert_eq!(vault.current_versions("search").expect("versions"), Some((1, Some(5))));
    let debug = format!("{:?}", vault.open_credential("search").expect("open"));
    assert!(debug.contains("team_version: Some(5)") && !debug.contains("sk-1"), "{debug}");

    // The team version the audit would record, changed behind Keygate's back, is refused.
    fx.raw().execute("UPDATE credential_version SET team_version = 9 WHERE name = 'search'", []).expect("tamper");
    assert!(matches!(vault.open_credential("search"), Err(VaultError::Tampered { .. })));
    fx.raw().execute("UPDATE credential_version SET team_version = 3 WHERE name = 'local'", []).expect("tamper");
    let findings = vault.verify_rows().expect("verify");
    let rows: Vec<&str> = findings.iter().map(|f| f.row.as_str()).collect();
    assert_eq!(rows, ["credential local", "credential search"], "{findings:?}");
}

/// A vault with three audited calls: a local credential's, then two of team versions 7 and 8.
fn audited_team_calls() -> Fixture {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    for (credential, team_version) in [("local", None), ("search", Some(7)), ("search", Some(8))] {
        let start = AuditStart {
            token_id: Some(&issued.id),
            server: None,
            tool: "web_search",
            credential: Some(credential),
            credential_version: Some(1),
            team_version,
            decision: Decision::Allowed,
            status: None,
        };
        vault.begin_audit(&start).expect("begin");
    }
    fx
}

#[test]
fn the_audit_records_the_team_version_and_the_chain_covers_it() {
    let fx = audited_team_calls();
    let vault = fx.open();
    let log = vault.audit_log().expect("log");
    let recorded: Vec<Option<i64>> = log.iter().map(|e| e.team_version).collect();
    assert_eq!(recorded, [None, Some(7), Some(8)]);
    assert_eq!(vault.verify_audit().expect("verify").to_string(), "ok, 3 rows");
    let mut exported = Vec::new();
    vault
        .export_audit(None, |r| {
            exported.push(r.team_version);
            Ok(())
        })
        .expect("export");
    assert_eq!(exported, recorded);
    let json = serde_json::to_value(&log[1]).expect("json");
    assert_eq!(json["team_version"], 7, "{json}");

    for (sql, row) in [
        ("UPDATE audit SET team_version = 9 WHERE id = 2", 2),
        ("UPDATE audit SET team_version = NULL WHERE id = 3", 3),
        ("UPDATE audit SET team_version = 7 WHERE id = 1", 1),
    ] {
        let fx = audited_team_calls();
        fx.raw().execute_batch(sql).expect("tamper");
        let report = fx.open().verify_audit().expect("verify");
        assert_eq!(report.broken.as_ref().map(|b| b.row), Some(row), "{sql}: {report}");
    }
}

#[test]
fn rows_without_a_team_version_verify_across_the_upgrade_to_schema_12() {
    let fx = audited_team_calls();
    let mut vault = fx.open();
    vault.add_credential("local", &secret("sk-local"), None).expect("add");
    drop(vault);
    // Back to schema 11 with the local rows only: as a vault written before team versions.
    fx.raw()
        .execute_batch(
            "DELETE FROM audit WHERE team_version IS NOT NULL;
             ALTER TABLE audit DROP COLUMN team_version; ALTER TABLE credential_version DROP COLUMN team_version;
             PRAGMA user_version = 11;",
        )
        .expect("back to schema 11");
    let vault = fx.open();
    assert_eq!(vault.verify_audit().expect("verify").to_string(), "ok, 1 rows");
    assert_eq!(vault.verify_rows().expect("rows"), []);
    assert_eq!(vault.open_credential("local").expect("open").team_version, None);
}
