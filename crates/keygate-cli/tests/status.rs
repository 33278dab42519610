//! `keygate status`: one screen of the vault, the server, agents, due credentials and tools
//! not ready, with the next thing to do; clean for a home with nothing in it yet.

mod common;

use common::{Kg, start_serve};

/// `keygate status ARGS` with the agents' config files looked for in this test's own HOME,
/// never the real user's; its stdout.
fn run_status(kg: &Kg, args: &[&str]) -> String {
    let user = kg.dir.path().join("user");
    let out = kg
        .command(&[&["status"], args].concat())
        .env("HOME", &user)
        .env("XDG_CONFIG_HOME", user.join(".config"))
        .env_remove("CODEX_HOME")
        .output()
        .expect("run status");
    assert!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn status_text(kg: &Kg) -> String {
    run_status(kg, &[])
}

fn status_json(kg: &Kg) -> serde_json::Value {
    serde_json::from_str(&run_status(kg, &["--json"])).expect("JSON")
}

#[test]
fn a_fresh_home_says_how_to_start_and_exits_0() {
    let kg = Kg::headless();
    let out = status_text(&kg);
    assert!(out.contains("none yet"), "{out}");
    assert!(out.contains("Next: create the vault with `keygate init`"), "{out}");
    assert!(!out.contains("error") && !out.contains("Server:"), "nothing but the start: {out}");
    let status = status_json(&kg);
    assert_eq!(status["vault"]["exists"], false, "{status}");
    assert_eq!(status["server"]["running"], false, "{status}");
    assert!(status["next"].as_str().expect("next").contains("keygate init"), "{status}");
    assert!(!kg.home().join("vault.db").exists(), "status writes nothing");
}

#[test]
fn status_follows_the_first_steps_and_shows_the_running_server() {
    let kg = Kg::headless();
    kg.init();
    let status = status_json(&kg);
    assert_eq!(status["vault"]["key"], "env", "{status}");
    assert_eq!(status["vault"]["credentials"], 0, "{status}");
    assert!(status["next"].as_str().expect("next").contains("keygate cred add"), "{status}");

    // A key due within days, and the tool's own key still missing.
    kg.ok_with_stdin(&["cred", "add", "other_key", "--max-age-days", "2"], b"v-test\n");
    let status = status_json(&kg);
    assert_eq!(status["credentials_due"][0]["name"], "other_key", "{status}");
    assert_eq!(status["credentials_due"][0]["state"], "due_soon", "{status}");
    assert_eq!(status["tools_not_ready"][0]["tool"], "web_search", "{status}");
    assert_eq!(
        status["next"], "web_search needs a credential: run `keygate cred add scavio_api_key`",
        "the blocking tool comes first: {status}"
    );
    kg.ok_with_stdin(&["cred", "add", "scavio_api_key"], b"sk-test\n");
    assert!(status_json(&kg)["next"].as_str().expect("next").contains("keygate serve"));

    let (server, url) = start_serve(&kg);
    kg.ok(&["grant", "create", "cursor", "--tool", "web_search"]);
    let status = status_json(&kg);
    assert_eq!(status["server"]["running"], true, "{status}");
    assert_eq!(status["server"]["pid"], server.0.id(), "{status}");
    assert_eq!(status["server"]["url"], url.as_str(), "{status}");
    assert_eq!(status["grants"][0]["name"], "cursor", "{status}");
    assert_eq!(status["grants"][0]["last_call"], serde_json::Value::Null, "{status}");
    assert!(status["next"].as_str().expect("next").contains("keygate client connect CLIENT --grant cursor"));

    let out = status_text(&kg);
    assert!(out.contains(&format!("Server:   running (pid {}, {url}", server.0.id())), "{out}");
    assert!(out.contains("grant cursor (active): no agent connected; no calls yet"), "{out}");
    assert!(out.contains("Due:      other_key due soon"), "{out}");
    assert!(out.contains("master key from KEYGATE_MASTER_KEY, 2 credential(s)"), "{out}");

    drop(server);
    let status = status_json(&kg);
    assert_eq!(status["server"]["running"], false, "a stopped server is not shown running: {status}");
}

#[test]
fn a_broken_config_is_shown_in_place_with_its_line() {
    let kg = Kg::headless();
    kg.init();
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("credential_header", "credential_heder")).expect("write");
    let out = status_text(&kg);
    assert!(out.contains("Config:   ") && out.contains("config.toml:"), "{out}");
    assert!(out.contains("Next: fix config.toml"), "{out}");
}
