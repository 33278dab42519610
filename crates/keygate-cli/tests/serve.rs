//! `keygate serve`, `keygate connect` and the client snippets, as real processes.

mod common;

use std::process::Stdio;

use common::{Bridge, Kg, assert_fails, start_serve};
use serde_json::json;

#[test]
fn serve_refuses_a_non_loopback_address_and_a_broken_config() {
    let kg = Kg::headless();
    kg.init();
    assert_fails(&kg.run(&["serve", "--bind", "0.0.0.0:7447"]), 1, "not a loopback address");
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("credential_header", "credential_heder")).expect("write");
    let out = kg.run(&["serve"]);
    assert_fails(&out, 1, "config.toml:");
    assert!(String::from_utf8_lossy(&out.stderr).contains("credential_heder"));
}

#[test]
fn connect_bridges_stdio_to_the_server_with_a_token_from_the_environment() {
    let kg = Kg::headless();
    kg.init();
    let (_server, url) = start_serve(&kg);
    let created = kg.json(&["token", "create", "--tool", "web_search", "--json"]);
    let token = created["token"].as_str().expect("token");

    let (mut bridge, initialized) = Bridge::connect(&kg, &url, token);
    assert_eq!(initialized["result"]["serverInfo"]["name"], "keygate");
    let tools = bridge.request(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    assert_eq!(tools["result"]["tools"][0]["name"], "web_search", "{tools}");
    let call = bridge.request(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                           "params": {"name": "web_search", "arguments": {"query": "x"}}}));
    let text = call["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert_eq!(call["result"]["isError"], true, "{call}");
    assert!(text.contains("keygate cred add scavio_api_key"), "{text}");
}

#[test]
fn connect_needs_a_token_in_the_environment_and_says_when_it_is_refused() {
    let kg = Kg::headless();
    kg.init();
    assert_fails(&kg.run(&["connect", "--url", "http://127.0.0.1:9/mcp"]), 2, "set KEYGATE_TOKEN");
    let (_server, url) = start_serve(&kg);
    let created = kg.json(&["token", "create", "--tool", "web_search", "--json"]);
    kg.ok(&["token", "revoke", created["id"].as_str().expect("id")]);
    let out = kg
        .command(&["connect", "--url", &url])
        .env("KEYGATE_TOKEN", created["token"].as_str().expect("token"))
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_fails(&out, 1, "the token was refused");
}

#[test]
fn token_create_no_longer_pastes_the_token_into_a_client_snippet() {
    let kg = Kg::headless();
    kg.init();
    let created = kg.json(&["token", "create", "--tool", "web_search", "--json"]);
    assert!(created["token"].is_string() && created.get("client_config").is_none(), "{created}");
    let out = kg.run(&["token", "create", "--tool", "web_search", "--client", "cursor"]);
    assert_fails(&out, 2, "keygate client connect cursor");
    assert!(out.stdout.is_empty(), "a token was issued and shown");
    assert_eq!(kg.json(&["token", "list", "--json"]).as_array().expect("tokens").len(), 1, "a token was issued");
}
