//! The Import view's commands through Tauri's mock runtime: a Cursor config holding a
//! plaintext key in a temp home, scanned (names only), secured into a real vault file, and the
//! tray's reminder line and first tab following what is left.

#[path = "harness/mod.rs"]
mod harness;

use harness::TestApp;
use serde_json::{Value, json};

const KEY: &str = "ghp_importViewFixture0123456789abcdefABCD";

fn cursor_config(app: &TestApp) -> std::path::PathBuf {
    let file = app.dir.path().join("user/.cursor/mcp.json");
    let text = format!(
        r#"{{
  // the user's own comment
  "mcpServers": {{
    "github": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {{ "GITHUB_PERSONAL_ACCESS_TOKEN": "{KEY}" }}
    }},
    "docs": {{ "command": "docs-mcp", "env": {{ "GITHUB_TOKEN": "${{GITHUB_TOKEN}}" }} }}
  }}
}}
"#
    );
    std::fs::write(&file, text).expect("cursor config");
    file
}

fn cursor(overview: &Value) -> &Value {
    let clients = overview["clients"].as_array().expect("clients");
    clients.iter().find(|c| c["client"] == "cursor").unwrap_or_else(|| panic!("cursor in {overview}"))
}

#[test]
fn a_plaintext_key_is_listed_by_name_then_secured_into_the_vault() {
    let app = TestApp::with_clients();
    let file = cursor_config(&app);
    app.ok("retry_vault", json!({}));

    let overview = app.ok("import_overview", json!({}));
    assert!(!overview.to_string().contains(KEY), "no value reaches the window: {overview}");
    assert_eq!(overview["plaintext_keys"], 1, "{overview}");
    assert_eq!(overview["tray_line"], "1 plaintext key in agent configs (Import)");
    assert_eq!(overview["blocked"], Value::Null, "{overview}");
    let servers = cursor(&overview)["servers"].as_array().expect("servers").clone();
    let github = servers.iter().find(|s| s["name"] == "github").expect("github");
    assert_eq!((&github["verdict"], &github["keys"]), (&json!("import"), &json!(["env GITHUB_PERSONAL_ACCESS_TOKEN"])));
    let docs = servers.iter().find(|s| s["name"] == "docs").expect("docs");
    assert_eq!(docs["verdict"], "no_secret", "a reference is left alone: {docs}");
    let credentials = overview["plan"]["credentials"].as_array().expect("planned credentials").clone();
    assert_eq!(credentials.len(), 1, "{overview}");
    assert_eq!(app.ok("start_view", json!({})), "import", "first start opens on Import");

    let done = app.ok("import_keys", json!({}));
    assert!(!done.to_string().contains(KEY), "{done}");
    assert_eq!(done["complete"], true, "{done}");
    assert_eq!(
        done["files"],
        json!([{
            "client": "cursor", "name": "Cursor", "config": file.display().to_string(), "result": "rewritten", "detail": null
        }])
    );
    assert_eq!(done["leftovers"], json!([]));
    let text = std::fs::read_to_string(&file).expect("config");
    assert!(!text.contains(KEY), "the value left the file: {text}");
    assert!(text.contains("the user's own comment") && text.contains("${GITHUB_TOKEN}"), "the rest is kept: {text}");
    let credential = credentials[0].as_str().expect("name");
    let listed = app.server_vault().list_credentials().expect("credentials");
    assert!(listed.iter().any(|c| c.name == credential), "the vault holds {credential}");
    let config = std::fs::read_to_string(app.home().join("config.toml")).expect("config.toml");
    assert!(config.contains("[[server]]") && config.contains(credential) && !config.contains(KEY), "{config}");

    let overview = app.ok("import_overview", json!({}));
    assert_eq!((&overview["plaintext_keys"], &overview["tray_line"]), (&json!(0), &Value::Null), "{overview}");
    assert_eq!(app.ok("start_view", json!({})), Value::Null, "nothing left to import");
    let again = app.ok("import_keys", json!({}));
    assert_eq!((&again["files"], &again["complete"]), (&json!([]), &json!(true)), "a second run changes nothing");
    assert_eq!(std::fs::read_to_string(&file).expect("config"), text);
}

#[test]
fn dismissing_stops_the_first_tab_but_not_the_reminder() {
    let app = TestApp::with_clients();
    cursor_config(&app);
    app.ok("retry_vault", json!({}));
    assert_eq!(app.ok("start_view", json!({})), "import");
    app.ok("dismiss_import", json!({}));
    assert_eq!(app.ok("start_view", json!({})), Value::Null);
    let overview = app.ok("import_overview", json!({}));
    assert_eq!((&overview["dismissed"], &overview["plaintext_keys"]), (&json!(true), &json!(1)), "{overview}");
    assert_eq!(overview["tray_line"], "1 plaintext key in agent configs (Import)");
}

#[test]
fn a_closed_vault_blocks_secure_but_the_scan_still_shows_what_is_there() {
    let app = TestApp::with_clients();
    let file = cursor_config(&app);
    let before = std::fs::read_to_string(&file).expect("config");
    let overview = app.ok("import_overview", json!({}));
    assert_eq!(overview["plaintext_keys"], 1, "{overview}");
    assert_eq!(overview["blocked"]["code"], "starting", "{overview}");
    assert_eq!(app.error("import_keys", json!({})).0, "starting");
    assert_eq!(std::fs::read_to_string(&file).expect("config"), before, "nothing written");
}
