//! Config reload (issue 16, bug 5): edits to a `[[tool]]` reach a running `keygate serve` by
//! themselves, and `keygate reload` applies them at once, says what changed, and keeps the
//! old config when the new one is broken.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Bridge, Kg, assert_fails, start_serve};
use serde_json::json;

/// How long the watcher may take to notice an edit before the test gives up (it polls once a
/// second; the machine is shared and slow at times).
const NOTICE_DEADLINE: Duration = Duration::from_secs(30);

/// An upstream on 127.0.0.1 that answers every request with the path it was sent to, so a
/// call shows which URL the running Keygate used.
fn start_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_with_path(stream));
        }
    });
    port
}

fn answer_with_path(stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let path = request_line.split_whitespace().nth(1).unwrap_or("?").to_string();
    let reply = json!({ "path": path }).to_string();
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

/// A home whose web_search tool calls `http://127.0.0.1:PORT/one`, with its key in the vault.
fn home_with_local_tool(port: u16) -> Kg {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "scavio_api_key"], b"sk-test-value\n");
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let local = format!("http://127.0.0.1:{port}/one");
    std::fs::write(&config, text.replace("https://api.scavio.dev/api/v1/search", &local)).expect("write config");
    kg
}

/// The path the upstream saw for one web_search call.
fn called_path(bridge: &mut Bridge, id: u64) -> String {
    let call = bridge.request(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "web_search", "arguments": {"query": "x"}}}));
    let text = call["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string();
    assert_ne!(call["result"]["isError"], true, "{call}");
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("upstream JSON: {text}"));
    reply["path"].as_str().expect("path").to_string()
}

/// Replace config.toml atomically with `edit` applied, keeping its size and modification
/// time, so only an explicit `keygate reload` can notice the change.
fn edit_unnoticed(config: &Path, edit: impl Fn(&str) -> String) {
    let before = std::fs::metadata(config).expect("metadata");
    let text = edit(&std::fs::read_to_string(config).expect("read"));
    assert_eq!(text.len() as u64, before.len(), "the edit keeps the size");
    let temp = config.with_extension("toml.edit");
    std::fs::write(&temp, text).expect("write");
    let file = std::fs::File::options().write(true).open(&temp).expect("open");
    file.set_modified(before.modified().expect("mtime")).expect("set mtime");
    drop(file);
    std::fs::rename(&temp, config).expect("replace");
}

#[test]
fn tool_edits_reach_a_running_serve_by_themselves_and_with_keygate_reload() {
    let port = start_upstream();
    let kg = home_with_local_tool(port);
    let config = kg.home().join("config.toml");
    let (_server, url) = start_serve(&kg);
    let created = kg.json(&["token", "create", "--tool", "web_search", "--json"]);
    let (mut bridge, _) = Bridge::connect(&kg, &url, created["token"].as_str().expect("token"));
    assert_eq!(called_path(&mut bridge, 2), "/one");

    // Without `keygate reload`: the running server follows the file.
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, text.replace("/one\"", "/two\"")).expect("edit");
    let deadline = Instant::now() + NOTICE_DEADLINE;
    let mut id = 3;
    while called_path(&mut bridge, id) != "/two" {
        assert!(Instant::now() < deadline, "the edited URL was never used");
        std::thread::sleep(Duration::from_millis(200));
        id += 1;
    }

    // With `keygate reload`: an edit the watcher cannot see is served at once, and named.
    edit_unnoticed(&config, |text| text.replace("/two\"", "/one\""));
    let out = kg.ok(&["reload"]);
    assert!(out.contains("tool web_search: url changed"), "{out}");
    assert_eq!(called_path(&mut bridge, 100), "/one", "served as soon as `keygate reload` returned");
    let again = kg.json(&["reload", "--json"]);
    assert_eq!(again["running"], true, "{again}");
    assert_eq!(again["changes"], json!([]), "{again}");
    assert_eq!(again["error"], serde_json::Value::Null, "{again}");

    // A broken file: exit 1 naming the file and line; the previous config is still served.
    edit_unnoticed(&config, |text| text.replace("credential_header", "credential_headex"));
    let out = kg.run(&["reload"]);
    assert_fails(&out, 1, "config.toml:");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("credential_headex") && stderr.contains("keeps serving the previous config"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed as if it had worked");
    assert_eq!(called_path(&mut bridge, 101), "/one");
}

#[test]
fn reload_without_a_running_keygate_checks_the_file() {
    let kg = Kg::headless();
    kg.init();
    let out = kg.ok(&["reload"]);
    assert!(out.contains("is valid") && out.contains("not running"), "{out}");
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, text.replace("method = \"POST\"", "method = \"PUT\"")).expect("edit");
    let out = kg.run(&["reload"]);
    assert_fails(&out, 1, "config.toml:");
    assert!(String::from_utf8_lossy(&out.stderr).contains("would not start with it"));
}

fn fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp-servers/fixture.mjs");
    path.to_string_lossy().to_string()
}

/// The text of a call to the fixture's echo tool, and whether it was an error.
fn echo(bridge: &mut Bridge, id: u64) -> (String, bool) {
    let call = bridge.request(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "fx_echo", "arguments": {"text": "hello"}}}));
    let text = call["result"]["content"][0]["text"].as_str().map(str::to_string).unwrap_or_else(|| call.to_string());
    (text, call["result"]["isError"] == true || call.get("error").is_some())
}

#[test]
fn a_server_added_or_removed_under_a_running_serve_is_served_once_reload_returns() {
    let kg = Kg::headless();
    kg.init();
    let fixture = fixture();
    let add = ["server", "add", "fx", "--", "node", fixture.as_str()];
    // The token names fx_* while the server is configured (unknown tools are refused).
    kg.ok(&add);
    let token = kg.json(&["token", "create", "--tool", "fx_*", "--json"])["token"].as_str().expect("token").to_string();
    kg.ok(&["server", "remove", "fx", "--yes"]);

    let (_server, url) = start_serve(&kg);
    let (mut bridge, _) = Bridge::connect(&kg, &url, &token);
    assert!(echo(&mut bridge, 2).1, "no fx server yet");

    kg.ok(&add);
    let out = kg.ok(&["reload"]);
    // The watcher may have read the file first; either way it is served now.
    assert!(out.contains("server fx: added") || out.contains("nothing changed"), "{out}");
    assert_eq!(echo(&mut bridge, 3), ("hello".to_string(), false), "served once `keygate reload` returned");

    kg.ok(&["server", "remove", "fx", "--yes"]);
    let out = kg.ok(&["reload"]);
    assert!(out.contains("server fx: removed") || out.contains("nothing changed"), "{out}");
    assert!(echo(&mut bridge, 4).1, "a removed server's tools are gone");
}
