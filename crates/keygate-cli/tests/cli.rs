//! The `keygate` binary as a user runs it, headless (KEYGATE_MASTER_KEY).

mod common;

use common::{Kg, assert_fails};
use serde_json::Value;

const KEY: &[u8] = b"sk-live-5f1c0ffee\n";

#[test]
fn quickstart_flow_with_json_output() {
    let kg = Kg::headless();
    let init = kg.ok(&["init"]);
    assert!(init.contains("Created vault"), "{init}");
    assert!(kg.home().join("config.toml").exists());

    kg.ok_with_stdin(&["cred", "add", "scavio_api_key", "--max-age-days", "45"], KEY);
    let creds = kg.json(&["cred", "list", "--json"]);
    let cred = &creds[0];
    assert_eq!(cred["name"], "scavio_api_key");
    assert_eq!(cred["version"], 1);
    assert_eq!(cred["max_age_days"], 45);
    assert_eq!(cred["due"], false);
    assert_eq!(cred["rotated_at"], Value::Null);
    for field in ["created_at", "due_at"] {
        let text = cred[field].as_str().expect("time string");
        assert!(text.ends_with('Z') && text.contains('T'), "{field}: {text}");
    }

    kg.ok_with_stdin(&["cred", "rotate", "scavio_api_key"], b"sk-live-new\n");
    assert_eq!(kg.json(&["cred", "list", "--json"])[0]["version"], 2);

    let created = kg.json(&["token", "create", "--tool", "web_search", "--ttl", "2h", "--label", "laptop", "--json"]);
    let token = created["token"].as_str().expect("token");
    let id = created["id"].as_str().expect("id");
    assert!(token.starts_with(&format!("kg_{id}_")), "{token}");
    assert_eq!(created["tools"], serde_json::json!(["web_search"]));
    assert_eq!(created["label"], "laptop");

    let tokens = kg.json(&["token", "list", "--json"]);
    assert_eq!(tokens[0]["id"], id);
    assert_eq!(tokens[0]["status"], "active");
    assert_eq!(tokens[0]["uses"], 0);
    assert_eq!(tokens[0]["last_used_at"], Value::Null);
    assert!(!tokens.to_string().contains(&token[20..]), "token secret listed");

    kg.ok(&["token", "revoke", id]);
    let revoked = &kg.json(&["token", "list", "--json"])[0];
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].as_str().is_some_and(|at| at.starts_with("20")), "{revoked}");
    assert!(kg.ok(&["token", "revoke", id]).contains("Already revoked"));

    // Not at a terminal and without --yes, nothing is erased.
    assert_fails(&kg.run(&["cred", "remove", "scavio_api_key"]), 2, "add --yes to confirm");
    assert_eq!(kg.json(&["cred", "list", "--json"])[0]["name"], "scavio_api_key");
    kg.ok(&["cred", "remove", "scavio_api_key", "--yes"]);
    assert_eq!(kg.json(&["cred", "list", "--json"]), serde_json::json!([]));
    let log = kg.json(&["log", "--json"]);
    let actions: Vec<&str> =
        log.as_array().expect("array").iter().map(|e| e["action"].as_str().expect("action")).collect();
    assert_eq!(actions, ["created", "rotated", "removed"]);
    assert_eq!(log[1]["from_version"], 1);
    assert_eq!(log[1]["to_version"], 2);
    assert_eq!(log[2]["to_version"], Value::Null);
    assert_eq!(log[0]["actor"], "cli");
    assert_eq!(kg.json(&["audit", "--json"]), serde_json::json!([]));
}

#[test]
fn human_output_is_a_table_and_never_shows_values() {
    let kg = Kg::headless();
    kg.init();
    assert!(kg.ok(&["cred", "list"]).contains("No credentials yet"));
    kg.ok_with_stdin(&["cred", "add", "github"], KEY);
    let table = kg.ok(&["cred", "list"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("github"));
    // One rule for "due soon" (within 3 days), the same the app's reminders use.
    kg.ok_with_stdin(&["cred", "add", "short", "--max-age-days", "2"], KEY);
    let short = kg.ok(&["cred", "list"]).lines().find(|l| l.starts_with("short")).expect("row").to_string();
    assert!(short.contains("due soon"), "{short}");
    let listed = kg.json(&["cred", "list", "--json"]);
    assert_eq!((listed[1]["name"].as_str(), listed[1]["due_soon"].as_bool()), (Some("short"), Some(true)));
    assert_eq!(listed[0]["due_soon"], false);
    let created = kg.ok(&["token", "create", "--tool", "web_search"]);
    let token_line = created.lines().nth(1).expect("token line").trim().to_string();
    let everything = [table, kg.ok(&["token", "list"]), kg.ok(&["log"]), kg.ok(&["audit"])].concat();
    assert!(!everything.contains("sk-live-5f1c0ffee"), "value shown");
    assert!(!everything.contains(&token_line), "token shown again");
}

#[test]
fn a_secret_on_the_command_line_is_refused_and_not_echoed() {
    let kg = Kg::headless();
    kg.init();
    for args in [
        &["cred", "add", "x", "sk-on-argv-123"][..],
        &["cred", "add", "x", "--value", "sk-on-argv-123"],
        &["cred", "add", "x", "--value=sk-on-argv-123"],
        &["cred", "rotate", "x", "sk-on-argv-123"],
        &["cred", "add", "x", "--", "-sk-on-argv-123"],
    ] {
        let out = kg.run_with_stdin(args, KEY);
        assert_fails(&out, 2, "refusing a secret on the command line");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("sk-on-argv"), "{args:?} echoed the secret");
    }
    assert_eq!(kg.json(&["cred", "list", "--json"]), serde_json::json!([]));

    kg.ok(&["token", "create", "--tool", "web_search"]);
    let whole_token = format!("kg_0123456789abcdef_{}", "ab".repeat(32));
    let out = kg.run(&["token", "revoke", &whole_token]);
    assert_fails(&out, 1, "not a token id");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&whole_token[20..]));
}

#[test]
fn bad_input_gets_one_clear_line_and_a_nonzero_exit() {
    let kg = Kg::headless();
    assert_fails(&kg.run(&["cred", "list"]), 1, "run `keygate init` first");
    kg.init();
    assert_fails(&kg.run(&["init"]), 1, "already exists");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "Bad/Name"], KEY), 1, "invalid credential name");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "empty"], b""), 1, "it is empty");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "two"], b"a\nb\n"), 1, "control character");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "bin"], &[0xff, 0xfe, b'\n']), 1, "not UTF-8");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "big"], &vec![b'a'; 20_000]), 1, "longer than");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "x", "--max-age-days", "0"], KEY), 1, "invalid max age");
    assert_fails(&kg.run_with_stdin(&["cred", "add", "x", "--max-age-days", "ten"], KEY), 2, "invalid value");
    assert_fails(&kg.run_with_stdin(&["cred", "rotate", "nope"], KEY), 1, "no credential named nope");
    assert_fails(&kg.run(&["cred", "remove", "nope", "--yes"]), 1, "no credential named nope");
    assert_fails(&kg.run(&["cred", "remove", "nope"]), 1, "no credential named nope");
    assert_fails(&kg.run(&["cred", "list", "--jsn"]), 2, "a similar argument exists: '--json'");
    kg.ok_with_stdin(&["cred", "add", "dup"], KEY);
    assert_fails(&kg.run_with_stdin(&["cred", "add", "dup"], KEY), 1, "already exists");
    assert_fails(&kg.run(&["token", "create"]), 2, "--tool");
    assert_fails(&kg.run(&["token", "create", "--tool", "web_search", "--ttl", "soon"]), 2, "--ttl");
    assert_fails(&kg.run(&["token", "create", "--tool", "web_search", "--ttl", "0s"]), 2, "shorter than one second");
    assert_fails(
        &kg.run(&["token", "create", "--tool", "web_search", "--ttl", "90d"]),
        1,
        "longer than the maximum 30d",
    );
    assert_fails(&kg.run(&["token", "create", "--tool", "has space"]), 1, "invalid tool name");
    assert_fails(&kg.run(&["token", "create", "--tool", "web_search", "--label", "a\u{7}b"]), 1, "label");
    assert_fails(&kg.run(&["token", "revoke", "0123456789abcdef"]), 1, "no token with id");
    assert_fails(&kg.run(&["frobnicate"]), 2, "unrecognized subcommand");
    assert_fails(&kg.run(&["cred", "list", "--jsn"]), 2, "--jsn");
    // Nothing above changed the vault beyond the one credential added on purpose.
    assert_eq!(kg.json(&["cred", "list", "--json"]).as_array().map(Vec::len), Some(1));
    assert_eq!(kg.json(&["log", "--json"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_wrong_or_malformed_master_key_is_refused_before_anything_is_written() {
    let kg = Kg::headless();
    kg.init();
    let before = std::fs::read(kg.vault_path()).expect("read vault");
    let wrong_key = Kg::headless().master_key.expect("a key");
    let out = kg.command(&["cred", "list"]).env("KEYGATE_MASTER_KEY", wrong_key).output().expect("run");
    assert_fails(&out, 1, "does not open vault");
    for bad in ["not base64!", "c2hvcnQ="] {
        let out = kg.command(&["cred", "list"]).env("KEYGATE_MASTER_KEY", bad).output().expect("run");
        assert_fails(&out, 1, "KEYGATE_MASTER_KEY is not valid");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(bad), "echoed the key");
    }
    assert_eq!(std::fs::read(kg.vault_path()).expect("read vault"), before);
}

#[test]
fn damaged_vault_files_give_a_clear_error_and_are_left_as_they_were() {
    let kg = Kg::headless();
    kg.init();
    for (what, bytes) in
        [("garbage", vec![0x42u8; 8192]), ("empty", Vec::new()), ("short", b"SQLite format 3\0".to_vec())]
    {
        std::fs::write(kg.vault_path(), &bytes).expect("write");
        let out = kg.run(&["cred", "list"]);
        assert_fails(&out, 1, "is not a readable Keygate vault");
        assert_eq!(std::fs::read(kg.vault_path()).expect("read"), bytes, "{what} was changed");
    }
}

#[test]
fn concurrent_rotations_never_lose_an_update() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "shared"], KEY);
    let children: Vec<_> =
        (0..6).map(|i| kg.spawn(&["cred", "rotate", "shared"], format!("sk-value-{i}\n").as_bytes())).collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    let succeeded = outputs.iter().filter(|o| o.status.success()).count();
    for out in outputs.iter().filter(|o| !o.status.success()) {
        assert_fails(out, 75, "busy");
    }
    assert!(succeeded >= 1);
    let version = kg.json(&["cred", "list", "--json"])[0]["version"].as_i64().expect("version");
    assert_eq!(version, 1 + succeeded as i64, "a rotation was lost");
    let log = kg.json(&["log", "--json"]);
    let rotations: Vec<(i64, i64)> = log
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["action"] == "rotated")
        .map(|e| (e["from_version"].as_i64().expect("from"), e["to_version"].as_i64().expect("to")))
        .collect();
    let expected: Vec<(i64, i64)> = (1..=succeeded as i64).map(|v| (v, v + 1)).collect();
    assert_eq!(rotations, expected, "log is not one unbroken chain");
}

#[test]
fn concurrent_token_creation_keeps_every_token() {
    let kg = Kg::headless();
    kg.init();
    let children: Vec<_> =
        (0..6).map(|_| kg.spawn(&["token", "create", "--tool", "web_search", "--json"], b"")).collect();
    let ids: Vec<String> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .filter(|o| o.status.success())
        .map(|o| serde_json::from_slice::<Value>(&o.stdout).expect("json")["id"].as_str().expect("id").to_string())
        .collect();
    let listed = kg.json(&["token", "list", "--json"]);
    let listed: Vec<&str> = listed.as_array().expect("array").iter().map(|t| t["id"].as_str().expect("id")).collect();
    assert_eq!(listed.len(), ids.len());
    assert!(ids.iter().all(|id| listed.contains(&id.as_str())));
}

#[test]
fn another_front_sees_every_cli_change_through_the_change_marker() {
    let kg = Kg::headless();
    kg.init();
    let app = kg.open_in_process();
    let mut seen = app.change_marker().expect("marker");
    for (i, name) in ["first", "second", "third"].iter().enumerate() {
        kg.ok_with_stdin(&["cred", "add", name], b"value");
        // The app reads in between, as its window does.
        let marker = app.change_marker().expect("marker");
        assert_ne!(marker, seen, "change {} by the CLI not seen", i + 1);
        assert_eq!(app.list_credentials().expect("list").len(), i + 1);
        seen = marker;
    }
    kg.ok(&["cred", "list"]);
    assert_eq!(app.change_marker().expect("marker"), seen, "reads by others change nothing");
}

#[test]
fn a_process_with_two_vault_connections_never_loses_writes_to_another_process() {
    // The app's agent holds two connections (its own and the server's). Opening the second
    // must not drop the first one's file locks, or a CLI run that closes the vault would take
    // itself for the last user and delete the write-ahead log under the agent's feet.
    let kg = Kg::headless();
    kg.init();
    let mut first = kg.open_in_process();
    let _second = kg.open_in_process();
    kg.ok(&["cred", "list"]);
    first.add_credential("written_after", &secrecy::SecretString::from("value"), None).expect("add");
    let listed = kg.json(&["cred", "list", "--json"]);
    let names: Vec<_> =
        listed.as_array().expect("list").iter().map(|c| c["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["written_after"], "another process sees what this one wrote");
}

#[test]
fn a_command_without_its_subcommand_prints_its_help() {
    let kg = Kg::headless();
    for (args, shows) in [(&[][..], "Commands:"), (&["cred"][..], "keygate cred"), (&["token"][..], "keygate token")] {
        let out = kg.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Usage:") && help.contains(shows), "{args:?}: {help}");
    }
}
