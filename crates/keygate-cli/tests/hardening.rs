//! What a token holder must not be able to do to the audit, tried against the real
//! `keygate serve` and read back with the real `keygate audit`: break it with huge names,
//! drive the operator's terminal with escape codes, or fill the disk with refused calls.

mod common;

use std::path::Path;

use common::{Kg, start_serve};
use serde_json::{Value, json};

/// POST one `tools/call` of `name` with `token`; returns the HTTP status and the JSON answer.
async fn call(http: &reqwest::Client, url: &str, token: &str, name: &str) -> (u16, Value) {
    common::call_tool(http, url, token, name, json!({})).await
}

/// vault.db and its WAL, in bytes.
fn vault_bytes(home: &Path) -> u64 {
    ["vault.db", "vault.db-wal"].iter().map(|f| std::fs::metadata(home.join(f)).map_or(0, |m| m.len())).sum()
}

fn token(kg: &Kg) -> String {
    let created = kg.json(&["token", "create", "--tool", "web_search", "--json"]);
    created["token"].as_str().expect("token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_hostile_tool_names_leave_the_audit_readable_and_escaped() {
    let kg = Kg::headless();
    kg.init();
    let (_server, url) = start_serve(&kg);
    let token = token(&kg);
    let http = reqwest::Client::new();

    let huge = "A".repeat(70_000);
    let (status, answer) = call(&http, &url, &token, &huge).await;
    assert_eq!(status, 200, "{answer}");
    let message = answer["error"]["message"].as_str().expect("an error");
    assert!(message.len() < 200, "the error echoed the whole name ({} bytes)", message.len());
    // A token each: refusals of one kind from one token share a row within a minute.
    for hostile in ["evil\u{1b}[2J\u{1b}]0;pwned\u{7}", "line1\nline2\r\tX", "rtl\u{202e}txt"] {
        let (_, answer) = call(&http, &url, &self::token(&kg), hostile).await;
        assert!(answer["error"].is_object(), "{answer}");
    }

    let out = kg.run(&["audit"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "keygate audit failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}') && !stdout.contains('\r'), "{stdout:?}");
    assert!(!stdout.contains('\u{202e}'), "a bidi override reached the terminal");
    assert!(stdout.contains("evil\\u{1b}[2J"), "the escaped name is not shown: {stdout}");
    // One header line and one line per row: no name broke a line.
    let rows = kg.json(&["audit", "--json"]);
    let rows = rows.as_array().expect("rows");
    assert_eq!(stdout.lines().count(), rows.len() + 1, "{stdout}");
    assert!(rows.iter().all(|r| r["tool"].as_str().is_some_and(|t| t.len() <= 700)), "an unbounded name was stored");
    assert!(rows.iter().any(|r| r["status"] == "invalid_tool_name"), "{rows:?}");
}

#[test]
fn audit_survives_rows_written_before_names_were_bounded() {
    let kg = Kg::headless();
    kg.init();
    // A row as an older Keygate wrote it: the raw 70,000-character name with escape codes.
    let raw = format!("{}\u{1b}[31m\n{}", "B".repeat(70_000), "C".repeat(10));
    let mut vault = kg.open_in_process();
    let start = keygate_vault::AuditStart {
        token_id: None,
        server: None,
        tool: &raw,
        credential: None,
        credential_version: None,
        team_version: None,
        decision: keygate_vault::Decision::Denied,
        status: Some("unknown_tool"),
    };
    vault.begin_audit(&start).expect("row");
    drop(vault);
    let out = kg.run(&["audit"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().count(), 2, "{stdout:?}");
    assert!(!stdout.contains('\u{1b}') && stdout.len() < 4_000, "{} bytes", stdout.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_refused_calls_with_60_kb_names_add_a_bounded_amount_to_the_vault() {
    let kg = Kg::headless();
    kg.init();
    let (server, url) = start_serve(&kg);
    let token = token(&kg);
    let http = reqwest::Client::new();
    let (_, answer) = call(&http, &url, &token, "warm_up").await;
    assert!(answer["error"].is_object(), "{answer}");
    let before = vault_bytes(&kg.home());

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..300 {
        // Half too long to be a name, half valid names of tools that do not exist.
        let name = if i % 2 == 0 { format!("{i}{}", "x".repeat(60_000)) } else { format!("nope_{i}") };
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        calls.spawn(async move { call(&http, &url, &token, &name).await });
    }
    while let Some(done) = calls.join_next().await {
        let (status, answer) = done.expect("join");
        assert_eq!(status, 200, "{answer}");
        assert!(answer["error"].is_object(), "{answer}");
    }
    let after = vault_bytes(&kg.home());
    assert!(after.saturating_sub(before) < 64 * 1024, "vault.db + WAL grew from {before} to {after} bytes");

    // Stopping the server writes the counted refusals: every call is accounted for.
    let mut server = server;
    let pid = server.0.id().to_string();
    let stopped = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(stopped.success());
    assert!(server.0.wait().expect("wait").success(), "serve did not stop cleanly");
    let rows = kg.json(&["audit", "--json"]);
    let rows = rows.as_array().expect("rows");
    let refused: i64 =
        rows.iter().filter(|r| r["decision"] == "denied").map(|r| r["count"].as_i64().unwrap_or(0)).sum();
    assert_eq!(refused, 301, "{rows:?}");
    assert!(rows.len() <= 4, "{} rows for 301 refused calls: {rows:?}", rows.len());
}

#[test]
fn token_create_refuses_tools_no_config_defines_and_names_the_known_ones() {
    let kg = Kg::headless();
    kg.init();
    let out = kg.run(&["token", "create", "--tool", "web_search", "--tool", "web_serch", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a typo is refused: {stderr}");
    assert!(stderr.contains("web_serch") && stderr.contains("known tools: web_search"), "{stderr}");
    assert!(out.stdout.is_empty(), "no token printed");
    let listed = kg.run(&["token", "list", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&listed.stdout).expect("json"), json!([]), "nothing was issued");

    let out = kg.run(&["token", "create", "--tool", "web_search"]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
