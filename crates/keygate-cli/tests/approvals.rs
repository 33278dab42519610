#![cfg(unix)]
//! Approvals from the command line against `keygate serve`: an agent's call (through
//! `keygate connect`) to a tool matching its server's `approve` patterns waits; serve prints
//! one line for it; `keygate approvals` lists it; `keygate approve` lets it go ahead and
//! `keygate deny` refuses the next.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Bridge, Kg, Running, assert_fails, receive, send};
use serde_json::{Value, json};

fn fixture() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp-servers/fixture.mjs");
    path.to_string_lossy().to_string()
}

/// `keygate serve` on a free port: its URL, and its stderr lines as they come.
fn serve(kg: &Kg) -> (Running, String, mpsc::Receiver<String>) {
    let mut child = kg
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("read");
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL").to_string();
    let (lines, seen) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    (Running(child), url, seen)
}

/// The id in serve's "approval needed: call ID: ..." line.
fn announced(seen: &mpsc::Receiver<String>) -> String {
    loop {
        let line = seen.recv_timeout(Duration::from_secs(20)).expect("serve printed the waiting call");
        if let Some(rest) = line.split("approval needed: call ").nth(1) {
            assert!(rest.contains("fx_echo by token "), "{line}");
            return rest[..8].to_string();
        }
    }
}

#[test]
fn a_waiting_call_is_printed_listed_approved_and_denied_from_the_command_line() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "fixture_key"], b"fx-key-from-the-vault-123\n");
    kg.ok(&["server", "add", "fx", "--secret-env", "FIXTURE_KEY=fixture_key", "--", "node", &fixture()]);
    let config = std::fs::read_to_string(kg.home().join("config.toml")).expect("config");
    std::fs::write(kg.home().join("config.toml"), format!("{config}approve = [\"fx_echo\"]\n")).expect("approve");
    let token = kg.json(&["token", "create", "--tool", "fx_*", "--json"])["token"].as_str().expect("token").to_string();
    let (_serve, url, seen) = serve(&kg);
    let (mut bridge, _) = Bridge::connect(&kg, &url, &token);

    let call = |id: u64, text: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                           "params": {"name": "fx_echo", "arguments": {"text": text}}})
    };
    send(&mut bridge.stdin, call(2, "hello"));
    let id = announced(&seen);
    let listed = kg.json(&["approvals", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!((listed[0]["id"].as_str(), listed[0]["tool"].as_str()), (Some(id.as_str()), Some("fx_echo")));
    assert!(listed[0]["arguments"].as_str().is_some_and(|a| a.contains("\"hello\"")), "{listed}");
    assert!(kg.ok(&["approvals"]).contains(&id));
    assert!(kg.ok(&["approve", &id]).contains(&format!("Approved call {id}")));
    let answer: Value = receive(&mut bridge.lines);
    assert_eq!(answer["result"]["content"][0]["text"], "hello", "{answer}");

    send(&mut bridge.stdin, call(3, "again"));
    let id = announced(&seen);
    assert!(kg.ok(&["deny", &id]).contains(&format!("Denied call {id}")));
    let answer: Value = receive(&mut bridge.lines);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(kg.ok(&["approvals"]).contains("No call is waiting"));

    assert_fails(&kg.run(&["approve", "0123abcd"]), 1, "no call 0123abcd is waiting for approval");
    assert_fails(&kg.run(&["approve", &id, "--for", "2d"]), 2, "--for: at most 24h");
    let audit = kg.ok(&["audit"]);
    assert!(audit.contains("approved by cli") && audit.contains("denied by cli"), "{audit}");
}
