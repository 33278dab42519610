//! The gateway as a user runs it: `keygate server add`, `keygate serve`, an agent through
//! `keygate connect`, `keygate server list`, and Keygate killed with -9 leaving nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::{Bridge, Kg};
use serde_json::{Value, json};

fn fixture() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp-servers/fixture.mjs");
    path.to_string_lossy().to_string()
}

fn is_alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

fn wait_until(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

#[test]
fn a_server_put_behind_keygate_is_used_listed_and_dies_with_keygate_killed_by_sigkill() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "fixture_key"], b"fx-key-from-the-vault-123\n");
    let fixture = fixture();
    kg.ok(&["server", "add", "fx", "--secret-env", "FIXTURE_KEY=fixture_key", "--", "node", &fixture]);
    let token = kg.json(&["token", "create", "--tool", "fx_*", "--json"])["token"].as_str().expect("token").to_string();

    let (mut serve, url) = common::start_serve(&kg);
    let (mut bridge, _) = Bridge::connect(&kg, &url, &token);
    let mut call = |id: u64, name: &str, arguments: Value| -> String {
        let reply = bridge.request(
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}),
        );
        reply["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(call(2, "fx_env", json!({"name": "FIXTURE_KEY"})), "[redacted]");
    let pid: u64 = call(3, "fx_pid", json!({})).parse().expect("child pid");
    let grandchild: u64 = call(4, "fx_grandchild", json!({})).parse().expect("grandchild pid");

    let listed = wait_until(5, || kg.json(&["server", "list", "--json"])[0]["state"] == "running");
    assert!(listed, "{}", kg.json(&["server", "list", "--json"]));
    let tools = kg.json(&["server", "tools", "fx", "--json"]);
    assert!(tools.as_array().expect("rows").iter().any(|t| t["exposed_as"] == "fx_echo" && t["state"] == "approved"));

    serve.0.kill().expect("kill -9");
    let _ = serve.0.wait();
    assert!(wait_until(5, || !is_alive(pid) && !is_alive(grandchild)), "orphans: {pid} {grandchild}");
}

#[test]
fn approving_and_restarting_name_unknown_servers_and_work_without_a_running_keygate() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "fixture_key"], b"fx-key-from-the-vault-123\n");
    kg.ok(&["server", "add", "fx", "--secret-env", "FIXTURE_KEY=fixture_key", "--", "node", &fixture()]);
    common::assert_fails(&kg.run(&["server", "tools", "nope"]), 2, "no server named nope");
    let before = kg.ok(&["server", "tools", "fx"]);
    assert!(before.contains("has not been listed yet"), "{before}");
    let restarted = kg.ok(&["server", "restart", "fx"]);
    assert!(restarted.contains("Started fx"), "{restarted}");
    assert!(kg.ok(&["server", "tools", "fx"]).contains("fx_echo"));
    assert!(kg.ok(&["server", "approve", "fx"]).contains("Nothing to approve"));
    let list = kg.ok(&["server", "list"]);
    assert!(list.contains("fx") && list.contains("not running"), "{list}");
}
