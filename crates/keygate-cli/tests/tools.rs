//! `keygate tools`: every tool with its credential and whether it is ready, from the same
//! rule as the app's Tools view (keygate_mcp::tool_readiness).

mod common;

use common::{Kg, assert_fails};
use serde_json::json;

const SERVER: &str = "\n[[server]]\nname = \"files\"\ncommand = \"/bin/true\"\nenv = { FILES_TOKEN = { credential = \"files_token\" } }\n";

fn listed(tool: &str) -> keygate_vault::ListedTool {
    let definition = json!({"name": tool, "inputSchema": {"type": "object"}}).to_string();
    let digest: [u8; 32] = sha256(definition.as_bytes());
    keygate_vault::ListedTool { tool: tool.into(), sha256: digest, definition }
}

/// Any distinct 32 bytes do as a pin's digest here; the vault only compares them.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        digest[i % 32] = digest[i % 32].wrapping_mul(31).wrapping_add(*b);
    }
    digest
}

#[test]
fn tools_says_which_credential_is_missing_and_how_to_add_it() {
    let kg = Kg::headless();
    kg.init();
    let out = kg.ok(&["tools"]);
    assert!(out.contains("web_search"), "{out}");
    assert!(out.contains("needs scavio_api_key: run `keygate cred add scavio_api_key`"), "{out}");
    let rows = kg.json(&["tools", "--json"]);
    assert_eq!(rows[0]["tool"], "web_search", "{rows}");
    assert_eq!(rows[0]["readiness"], "needs_credential", "{rows}");
    assert_eq!(rows[0]["missing"], json!(["scavio_api_key"]), "{rows}");
    assert_eq!(rows[0]["fix"], "keygate cred add scavio_api_key", "{rows}");

    kg.ok_with_stdin(&["cred", "add", "scavio_api_key"], b"sk-test-value\n");
    let rows = kg.json(&["tools", "--json"]);
    assert_eq!(rows[0]["readiness"], "ready", "{rows}");
    assert_eq!(rows[0]["detail"], "ready", "{rows}");
    assert!(!kg.ok(&["tools"]).contains("not ready"));
}

#[test]
fn a_servers_tools_are_listed_from_its_pins_held_back_until_approved() {
    let kg = Kg::headless();
    kg.init();
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text + SERVER).expect("write");

    let rows = kg.json(&["tools", "--json"]);
    assert_eq!(rows[1]["tool"], "files_*", "{rows}");
    assert_eq!(rows[1]["server"], "files", "{rows}");
    assert_eq!(rows[1]["readiness"], "needs_credential", "the credential comes first: {rows}");

    kg.ok_with_stdin(&["cred", "add", "files_token"], b"tok-test-value\n");
    let rows = kg.json(&["tools", "--json"]);
    assert_eq!(rows[1]["readiness"], "not_listed", "{rows}");
    assert_eq!(rows[1]["fix"], "keygate server restart files", "{rows}");

    let mut vault = kg.open_in_process();
    vault.record_tool_listing("files", &[listed("read")]).expect("first listing");
    vault.record_tool_listing("files", &[listed("read"), listed("delete")]).expect("a new tool");
    drop(vault);
    let rows = kg.json(&["tools", "--json"]);
    let find = |name: &str| rows.as_array().expect("rows").iter().find(|r| r["tool"] == name).cloned();
    assert_eq!(find("files_read").expect("files_read")["readiness"], "ready", "{rows}");
    let delete = find("files_delete").expect("files_delete");
    assert_eq!(delete["readiness"], "held_back", "{rows}");
    assert!(delete["detail"].as_str().expect("detail").contains("new since you approved"), "{delete}");
    let out = kg.ok(&["tools"]);
    assert!(out.contains("server files") && out.contains("held back"), "{out}");
    assert!(out.contains("2 of 3 not ready"), "web_search lacks its key too: {out}");
}

#[test]
fn tools_before_init_says_how_to_start() {
    let kg = Kg::headless();
    assert_fails(&kg.run(&["tools"]), 1, "keygate init");
}
