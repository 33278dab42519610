//! `keygate audit verify`, `keygate log verify` and `keygate audit --jsonl --since`, on a
//! real vault edited behind Keygate's back.

mod common;

use common::{Kg, assert_fails};
use keygate_vault::{AuditStart, Decision};

/// A vault with three audited calls (one with a hostile tool name) and two log rows.
fn audited() -> Kg {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "openai"], b"sk-one\n");
    kg.ok_with_stdin(&["cred", "rotate", "openai"], b"sk-two\n");
    let mut vault = kg.open_in_process();
    for tool in ["web_search", "evil\u{1b}[2J\nname", "web_search"] {
        let start = AuditStart {
            token_id: None,
            server: None,
            tool,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some("unknown"),
        };
        vault.begin_audit(&start).expect("audit");
    }
    kg
}

fn raw(kg: &Kg, sql: &str) {
    rusqlite::Connection::open(kg.vault_path()).expect("open").execute_batch(sql).expect("tamper");
}

#[test]
fn verify_prints_ok_and_the_row_count() {
    let kg = audited();
    assert_eq!(kg.ok(&["audit", "verify"]).trim(), "ok, 3 rows");
    assert_eq!(kg.ok(&["log", "verify"]).trim(), "ok, 2 rows");
}

#[test]
fn verify_names_the_first_broken_row_and_exits_1() {
    let kg = audited();
    raw(&kg, "DELETE FROM audit WHERE id = 2");
    assert_fails(&kg.run(&["audit", "verify"]), 1, "broken at row 3: row 2 before it is missing");
    raw(&kg, "UPDATE rotation_log SET to_version = 1 WHERE id = 2");
    assert_fails(&kg.run(&["log", "verify"]), 1, "broken at row 2: its MAC does not match");
}

#[test]
fn jsonl_streams_rows_since_a_day_with_their_macs_and_escapes_names() {
    let kg = audited();
    let out = kg.ok(&["audit", "--jsonl", "--since", "2020-01-01"]);
    let rows: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["tool"], "evil\u{1b}[2J\nname");
    assert!(!out.contains('\u{1b}'), "a raw escape reached the terminal");
    assert!(rows.iter().all(|r| r["mac"].as_str().is_some_and(|m| m.len() == 64)));
    assert_eq!(kg.ok(&["audit", "--jsonl", "--since", "2999-01-01"]), "");
    assert_fails(&kg.run(&["audit", "--jsonl", "--since", "yesterday"]), 2, "--since");
}
