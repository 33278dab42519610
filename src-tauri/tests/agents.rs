//! The Agents view's commands through Tauri's mock runtime: client configs in a temp home,
//! grants in a real vault file, connect and disconnect through keygate-clients' sealed glue.

#[path = "harness/mod.rs"]
mod harness;

use harness::TestApp;
use keygate_vault::{NewConsent, NewOAuthClient};
use serde_json::{Value, json};

fn client<'v>(overview: &'v Value, id: &str) -> &'v Value {
    let clients = overview["clients"].as_array().expect("clients");
    clients.iter().find(|c| c["client"] == id).unwrap_or_else(|| panic!("{id} in {overview}"))
}

#[test]
fn an_agent_is_connected_under_a_new_grant_then_disconnected_and_the_grant_revoked() {
    let app = TestApp::with_clients();
    app.ok("retry_vault", json!({}));
    let overview = app.ok("list_agents", json!({}));
    let cursor = client(&overview, "cursor");
    assert_eq!((&cursor["installed"], &cursor["keygate"]), (&json!(true), &json!("absent")), "{cursor}");
    assert_eq!(client(&overview, "zed")["installed"], false);
    let keygate = app.dir.path().join("bin/keygate");
    assert_eq!(overview["cli"]["path"], keygate.display().to_string());
    assert_eq!((&overview["grants"], &overview["pending"]), (&json!([]), &json!([])));
    assert_eq!(app.error("connect_client", json!({"client": "cursor", "grant": "cursor"})).0, "grant_not_found");

    let grant = app.ok("create_grant", json!({"name": "cursor", "tools": ["web_search"], "tokenTtl": "5m"}));
    assert_eq!((grant["token_ttl"].as_str(), grant["status"].as_str()), (Some("5m"), Some("active")), "{grant}");
    let done = app.ok("connect_client", json!({"client": "cursor", "grant": "cursor"}));
    assert!(done.as_str().expect("message").starts_with("Connected Cursor under grant cursor"), "{done}");
    let file = app.dir.path().join("user/.cursor/mcp.json");
    let text = std::fs::read_to_string(&file).expect("config written");
    let entry: Value = serde_json::from_str(&text).expect("json");
    let entry = &entry["mcpServers"]["keygate"];
    assert_eq!(entry["command"], keygate.display().to_string(), "{text}");
    assert_eq!(
        entry["args"].as_array().expect("args")[0..3],
        [json!("connect"), json!("--grant"), json!("cursor")],
        "{text}"
    );
    assert!(!text.contains("keygate-app") && !text.contains("kg_"), "{text}");
    let overview = app.ok("list_agents", json!({}));
    assert_eq!(
        (&client(&overview, "cursor")["keygate"], &client(&overview, "cursor")["grant"]),
        (&json!("connected"), &json!("cursor"))
    );

    let done = app.ok("disconnect_client", json!({"client": "cursor"}));
    assert!(done.as_str().expect("message").starts_with("Disconnected Cursor"), "{done}");
    assert!(!std::fs::read_to_string(&file).unwrap_or_default().contains("keygate"));
    assert_eq!(app.ok("revoke_grant", json!({"name": "cursor"})), json!(true));
    assert_eq!(app.ok("list_agents", json!({}))["grants"][0]["status"], "revoked");
    assert_eq!(app.error("connect_client", json!({"client": "cursor", "grant": "cursor"})).0, "grant_not_active");
    let (code, message) = app.error("connect_client", json!({"client": "emacs\u{1b}[2J", "grant": "cursor"}));
    assert_eq!(code, "unknown_client");
    assert!(!message.contains('\u{1b}'), "{message:?}");
    assert_eq!(
        app.error("create_grant", json!({"name": "x", "tools": ["web_search"], "tokenTtl": "soon"})).0,
        "invalid_ttl"
    );
    assert_eq!(app.error("open_consent", json!({"id": "nope"})).0, "consent_not_pending");
}

#[test]
fn a_keygate_entry_keygate_did_not_write_is_replaced_only_when_asked() {
    let app = TestApp::with_clients();
    app.ok("retry_vault", json!({}));
    let file = app.dir.path().join("user/.cursor/mcp.json");
    let pasted = r#"{ "mcpServers": { "keygate": { "url": "http://127.0.0.1:7447/mcp", "headers": { "Authorization": "Bearer kg_pasted" } } } }"#;
    std::fs::write(&file, pasted).expect("a pasted token");
    assert_eq!(client(&app.ok("list_agents", json!({})), "cursor")["keygate"], "other");
    app.ok("create_grant", json!({"name": "cursor", "tools": ["web_search"]}));
    let (code, message) = app.error("connect_client", json!({"client": "cursor", "grant": "cursor"}));
    assert_eq!(code, "foreign_entry");
    assert!(message.contains("Replace the keygate entry already there") && !message.contains("kg_pasted"), "{message}");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), pasted, "untouched");
    app.ok("connect_client", json!({"client": "cursor", "grant": "cursor", "replace": true}));
    let text = std::fs::read_to_string(&file).expect("file");
    assert!(text.contains("\"--grant\"") && !text.contains("kg_pasted"), "{text}");
    let overview = app.ok("list_agents", json!({}));
    assert_eq!(client(&overview, "cursor")["grant"], "cursor");
    assert_eq!(overview["grants"][0]["token_ttl"], "15m", "the default token lifetime");
}

#[test]
fn a_waiting_sign_in_is_listed_with_its_client_name_escaped_and_cut() {
    let app = TestApp::with_clients();
    app.ok("retry_vault", json!({}));
    let mut vault = app.server_vault();
    // The vault refuses control characters in a name; a bidi override gets through it.
    let name = format!("Evil\u{202e}App\u{200b}{}", "x".repeat(90));
    let redirect = "http://127.0.0.1:33418/callback".to_string();
    let registered =
        vault.register_oauth_client(&NewOAuthClient { name, redirect_uris: vec![redirect.clone()] }).expect("register");
    let request = vault
        .create_consent_request(&NewConsent {
            client_id: registered.id,
            redirect_uri: redirect,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            state: None,
            resource: "http://127.0.0.1:7447/mcp".into(),
        })
        .expect("consent request");
    let pending = app.ok("list_agents", json!({}))["pending"].clone();
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
    assert_eq!(pending[0]["id"], request.id);
    let shown = pending[0]["client_name"].as_str().expect("name");
    assert!(shown.starts_with("Evil\\u{202e}App\\u{200b}xx"), "{shown}");
    assert!(!shown.chars().any(|c| c.is_control() || c == '\u{202e}') && shown.chars().count() < 80, "{shown}");
    assert!(pending[0]["expires_at"].is_string());

    // Someone who can write vault.db but lacks the master key moves the request's expiry: the
    // view says the list cannot be read instead of showing none waiting.
    let db = rusqlite::Connection::open(app.home().join("vault.db")).expect("open vault.db");
    db.execute("UPDATE oauth_consent SET expires_at = expires_at + 1", []).expect("tamper");
    let overview = app.ok("list_agents", json!({}));
    assert_eq!(overview["pending"], json!([]), "{overview}");
    let error = &overview["pending_error"];
    assert_eq!(error["code"], "tampered", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("OAuth consent request")), "{error}");
    assert!(overview["grants"].is_array() && overview["clients"].is_array(), "the rest still shows: {overview}");
}
