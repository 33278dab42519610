#![cfg(unix)]
#![allow(clippy::unwrap_used)]
//! `keygate import` on a fixture home holding every client's config in its documented shape
//! (comments, references, unknown fields, a value shared by several clients): the preview,
//! the import, no value left in any file Keygate wrote, the imported server working through
//! the rewritten config's bridge, idempotence, and undo byte for byte.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Kg, Running, receive, send, start_serve};
use keygate_clients::{Client, Os, Places};
use serde_json::{Value, json};

/// Every plaintext value in the fixtures (each holds "plaintext").
const IMPORTED: [&str; 9] = [
    "fx-shared-plaintext-000111",
    "BSA-plaintext-brave-1111",
    "ghp_plaintextgithub0000000000000000000",
    "lin_api_plaintext_linear_0000",
    "sntrys_plaintext_sentry_0000",
    "sk-plaintext-openai-000000000000",
    "ctx7-plaintext-0007",
    "sk_live_plaintextstripe0000",
    "fc-plaintext-firecrawl-0004",
];

fn fixture_server() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp-servers/fixture.mjs").to_string_lossy().into_owned()
}

fn user(kg: &Kg) -> PathBuf {
    kg.dir.path().join("user")
}

fn places(kg: &Kg) -> Places {
    Places { os: Os::Linux, home: user(kg), app_config: user(kg).join(".config"), codex_home: None }
}

fn fixture_name(client: Client) -> &'static str {
    match client {
        Client::Codex => "codex.toml",
        other => Box::leak(format!("{}.json", other.id()).into_boxed_str()),
    }
}

/// Every client's config written from the fixtures; returns each file and its bytes.
fn write_fixtures(kg: &Kg) -> BTreeMap<PathBuf, Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import_fixtures");
    let mut files = BTreeMap::new();
    for client in Client::ALL {
        let location = places(kg).location(client);
        std::fs::create_dir_all(&location.installed_marker).unwrap();
        std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
        let text =
            std::fs::read_to_string(dir.join(fixture_name(client))).unwrap().replace("@FIXTURE@", &fixture_server());
        std::fs::write(&location.file, &text).unwrap();
        files.insert(location.file, text.into_bytes());
    }
    files
}

fn import(kg: &Kg, args: &[&str]) -> std::process::Output {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    kg.command(&all)
        .env("HOME", user(kg))
        .env("XDG_CONFIG_HOME", user(kg).join(".config"))
        .env_remove("CODEX_HOME")
        .output()
        .unwrap()
}

fn assert_no_value(what: &str, text: &str) {
    for value in IMPORTED {
        assert!(!text.contains(value), "{what} holds an imported value");
    }
}

fn file_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn import_moves_every_key_into_the_vault_and_the_servers_still_work() {
    let kg = Kg::headless();
    kg.init();
    let originals = write_fixtures(&kg);
    let zed = places(&kg).location(Client::Zed).file;

    // The preview writes nothing and shows no value.
    let out = import(&kg, &["--dry-run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let preview = String::from_utf8(out.stdout).unwrap();
    assert_no_value("the preview", &preview);
    assert_no_value("stderr", &String::from_utf8_lossy(&out.stderr));
    for needed in [
        "GitHub_MCP.v2: import as server github-mcp-v2",
        "refd: no plaintext key",
        "references (left alone): env SOME_TOKEN",
        "arg-key: left as is: a key in its arguments",
        "notion: no plaintext key",
        "filesystem: no plaintext key",
    ] {
        assert!(preview.contains(needed), "{needed} missing from:\n{preview}");
    }
    for (path, bytes) in &originals {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "dry run wrote {}", path.display());
    }
    assert!(kg.json(&["cred", "list", "--json"]).as_array().unwrap().is_empty());

    // The import.
    let out = import(&kg, &["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_no_value("the report", &stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let credentials: Vec<&str> =
        report["credentials"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(credentials.iter().filter(|c| c.starts_with("fx_")).count(), 1, "{credentials:?}");
    assert!(credentials.contains(&"github-mcp-v2_github_personal_access_token"), "{credentials:?}");
    assert!(
        credentials.contains(&"brave-search_brave_api_key") && !credentials.iter().any(|c| c.starts_with("brave_")),
        "{credentials:?}"
    );
    let in_vault: Vec<String> = kg
        .json(&["cred", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_vault.len(), IMPORTED.len(), "one credential per value: {in_vault:?}");
    let leftovers = report["applied"]["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    assert_eq!(leftovers[0]["path"], zed.to_string_lossy().as_ref());
    assert_eq!(leftovers[0]["line"], 12);

    // No file Keygate wrote holds a value (Zed's was only read: its note is the leftover).
    let config = file_text(&kg.home().join("config.toml"));
    assert_no_value("config.toml", &config);
    for path in originals.keys().filter(|p| **p != zed) {
        let text = file_text(path);
        let imported_here = IMPORTED.iter().any(|v| String::from_utf8_lossy(&originals[path]).contains(v));
        if imported_here {
            assert_no_value(&path.display().to_string(), &text);
            assert!(text.contains("\"connect\"") || text.contains("connect"), "{}", path.display());
        }
    }
    let cursor = file_text(&places(&kg).location(Client::Cursor).file);
    assert!(cursor.starts_with("{\n    // Cursor: four-space indent"), "{cursor}");
    assert!(cursor.contains("\"refd\"") && cursor.contains("${env:SOME_TOKEN}"), "references stay: {cursor}");
    let claude_code = file_text(&places(&kg).location(Client::ClaudeCode).file);
    assert!(claude_code.contains("tvly-plaintext-arg-0000") && claude_code.contains("\"numStartups\": 42"));
    let codex = file_text(&places(&kg).location(Client::Codex).file);
    assert!(codex.contains("# keep this one last") && codex.contains("[mcp_servers.notion]"), "{codex}");
    assert!(config.contains("name = \"linear\"") && config.contains("prefix = \"Bearer \""), "{config}");

    // Idempotence: a second run changes nothing.
    let after: BTreeMap<PathBuf, Vec<u8>> = originals.keys().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    let out = import(&kg, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to import"));
    for (path, bytes) in &after {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "second run changed {}", path.display());
    }
    assert_eq!(file_text(&kg.home().join("config.toml")), config);
    assert_eq!(kg.json(&["cred", "list", "--json"]).as_array().unwrap().len(), IMPORTED.len());

    // The imported server works through the bridge the rewritten Cursor config launches.
    let (_serve, _url) = start_serve(&kg);
    let entry: Value = jsonc(&cursor)["mcpServers"]["keygate"].clone();
    let command = entry["command"].as_str().unwrap();
    let args: Vec<&str> = entry["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&args[..3], ["connect", "--grant", "cursor"]);
    let mut child = Command::new(command)
        .args(&args)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _bridge = Running(child);
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}),
    );
    assert_eq!(receive(&mut lines)["result"]["serverInfo"]["name"], "keygate");
    send(&mut stdin, json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fx_env", "arguments": {"name": "FIXTURE_KEY"}}}),
    );
    let answer = receive(&mut lines);
    assert_eq!(answer["result"]["content"][0]["text"], "[redacted]", "the child got the key: {answer}");
    send(&mut stdin, json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}));
    let listed = receive(&mut lines).to_string();
    assert!(listed.contains("fx_env"), "{listed}");

    // Undo gives every file back byte for byte; the credentials stay.
    let out = import(&kg, &["--undo", "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stay in the vault"));
    for (path, bytes) in &originals {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "undo did not restore {}", path.display());
    }
    assert_eq!(kg.json(&["cred", "list", "--json"]).as_array().unwrap().len(), IMPORTED.len());
}

#[test]
fn a_broken_file_is_named_with_its_line_and_left_alone_while_the_others_are_imported() {
    let kg = Kg::headless();
    kg.init();
    let originals = write_fixtures(&kg);
    let gemini = places(&kg).location(Client::Gemini).file;
    std::fs::write(
        &gemini,
        "{\n  \"mcpServers\": {\n    \"x\": { \"env\": { \"A_KEY\": \"ghp_brokenbrokenbroken\" } \n}\n",
    )
    .unwrap();
    let out = import(&kg, &["--client", "gemini", "--client", "windsurf"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Gemini CLI:") && stdout.contains("line"), "{stdout}");
    assert!(!stdout.contains("ghp_brokenbrokenbroken"));
    assert!(file_text(&gemini).contains("ghp_brokenbrokenbroken"));
    let windsurf = places(&kg).location(Client::Windsurf).file;
    assert_no_value("windsurf", &file_text(&windsurf));
    let cursor = places(&kg).location(Client::Cursor).file;
    assert_eq!(std::fs::read(&cursor).unwrap(), originals[&cursor], "--client limits the import");
}

fn jsonc(text: &str) -> Value {
    let options = jsonc_parser::ParseOptions::default();
    jsonc_parser::cst::CstRootNode::parse(text, &options).unwrap().value().unwrap().to_serde_value().unwrap()
}
