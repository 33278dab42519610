//! The state behind the window's newer parts, through the same IPC path the window uses: the
//! first-run checklist, Activity's agents and refused connections, the Tools view's readiness,
//! config.toml's line (path, error, Reload) and messages that point at buttons.

#[path = "harness/mod.rs"]
mod harness;

use harness::{SERVERS, TestApp};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

/// One `web_search` call over MCP with `token`, as an agent makes it; whether it was refused
/// before reaching the tool (the connection) or answered.
fn call_web_search(url: &str, token: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token.to_string());
        let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.map_err(|e| e.to_string())?;
        let arguments = json!({"query": "rust"}).as_object().cloned().unwrap_or_default();
        let called = client.call_tool(CallToolRequestParams::new("web_search").with_arguments(arguments)).await;
        let _ = client.cancel().await;
        called.map(drop).map_err(|e| e.to_string())
    })
}

/// An app whose client configs are its own (under the temp dir), with its server running.
fn started() -> (TestApp, String) {
    let app = TestApp::with_clients();
    let status = app.ok("retry_vault", json!({}));
    let url = status["server"]["url"].as_str().unwrap_or_else(|| panic!("server not running: {status}")).to_string();
    (app, url)
}

fn token(app: &TestApp, label: &str) -> (String, String) {
    let created = app.ok("create_token", json!({"label": label, "tools": ["web_search"], "ttl": "1h"}));
    (created["id"].as_str().expect("id").into(), created["token"].as_str().expect("token").into())
}

/// Wait (the audit's outcomes are written in the background) until `check` holds for Activity.
fn activity_until(app: &TestApp, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = app.ok("activity", json!({})).as_array().cloned().unwrap_or_default();
        if check(&rows) {
            return rows;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {rows:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_checklist_ticks_itself_from_real_state_and_stays_hidden_once_dismissed() {
    let (app, url) = started();
    let steps = |app: &TestApp| app.ok("app_status", json!({}))["checklist"].clone();
    assert_eq!(steps(&app), json!({"keys": false, "agent": false, "first_call": false}));
    app.ok("add_credential", json!({"name": "scavio_api_key", "value": "key-value-1"}));
    assert_eq!(steps(&app), json!({"keys": true, "agent": false, "first_call": false}));
    let (_, secret) = token(&app, "laptop");
    assert_eq!(steps(&app)["agent"], false, "a token nobody used connects no agent");
    // The upstream (port 9) does not answer: the call is still an allowed call of an agent.
    call_web_search(&url, &secret).expect("the call is answered");
    activity_until(&app, "the call is audited", |rows| rows.iter().any(|r| r["decision"] == "allowed"));
    assert_eq!(steps(&app), json!({"keys": true, "agent": true, "first_call": true}));
    app.ok("dismiss_checklist", json!({}));
    assert_eq!(steps(&app), Value::Null);
    assert!(app.home().join(".checklist-dismissed").is_file(), "kept across restarts");
}

#[test]
fn activity_names_agents_says_what_failed_and_lists_refused_connections() {
    let (app, url) = started();
    app.ok("add_credential", json!({"name": "scavio_api_key", "value": "key-value-1"}));
    let (id, secret) = token(&app, "laptop claude");
    call_web_search(&url, &secret).expect("the call is answered");
    let rows = activity_until(&app, "the call's outcome", |rows| rows.iter().any(|r| r["status"] == "upstream_error"));
    let call = rows.iter().find(|r| r["tool"] == "web_search").expect("the call");
    assert_eq!((call["agent"].as_str(), call["token_id"].as_str()), (Some("laptop claude"), Some(id.as_str())));
    assert_eq!(call["detail"], "the upstream could not be reached, or did not answer in time");
    assert_eq!(call["refused_connection"], false);

    app.ok("revoke_token", json!({"id": id}));
    assert!(call_web_search(&url, &secret).is_err(), "a revoked token is refused");
    let rows =
        activity_until(&app, "the refused connection", |rows| rows.iter().any(|r| r["refused_connection"] == true));
    let refused = rows.iter().find(|r| r["refused_connection"] == true).expect("refused row");
    assert_eq!(refused["tool"], "(authentication)");
    assert_eq!(refused["agent"], "laptop claude", "named by its token's label: {refused}");
    assert_eq!(refused["status"], "auth_revoked");
    assert_eq!(refused["detail"], "connection refused: the token (or its grant) was revoked");
    let everything = serde_json::to_string(&rows).expect("json");
    assert!(!everything.contains("key-value-1") && !everything.contains(&secret), "no secret in Activity");
}

#[test]
fn activity_says_whether_the_audit_and_the_rotation_log_are_intact() {
    let (app, url) = started();
    app.ok("add_credential", json!({"name": "scavio_api_key", "value": "key-value-1"}));
    let (_, secret) = token(&app, "laptop claude");
    call_web_search(&url, &secret).expect("the call is answered");
    activity_until(&app, "the call", |rows| rows.iter().any(|r| r["tool"] == "web_search"));
    let report = app.ok("integrity", json!({}));
    for chain in ["audit", "rotation_log"] {
        assert_eq!(report[chain]["broken"], Value::Null, "{chain} intact: {report}");
        assert!(report[chain]["rows"].as_u64().is_some_and(|rows| rows >= 1), "{chain} has rows: {report}");
    }

    // Someone with write access to vault.db but not the master key edits one row of each.
    let db = rusqlite::Connection::open(app.home().join("vault.db")).expect("open vault.db");
    let first = |table: &str| -> i64 {
        db.query_row(&format!("SELECT min(id) FROM {table}"), [], |r| r.get(0)).expect("a row")
    };
    let (audit_row, log_row) = (first("audit"), first("rotation_log"));
    db.execute("UPDATE audit SET tool = 'harmless' WHERE id = ?1", [audit_row]).expect("edit the audit");
    db.execute("UPDATE rotation_log SET actor = 'server' WHERE id = ?1", [log_row]).expect("edit the log");
    let report = app.ok("integrity", json!({}));
    assert_eq!(report["audit"]["broken"]["row"], audit_row, "{report}");
    assert_eq!(report["rotation_log"]["broken"]["row"], log_row, "{report}");
}

#[test]
fn tools_say_which_key_they_miss_and_forms_can_warn_before_granting() {
    let app = TestApp::new();
    app.add_servers(SERVERS);
    app.add_servers("[[server]]\nname = \"github\"\ncommand = \"/bin/false\"\nenv = { GITHUB_TOKEN = { credential = \"github_token\" } }\n");
    app.ok("retry_vault", json!({}));
    app.list_tools_of("github", &[("create_issue", "Open an issue")]);
    let readiness = app.ok("tool_readiness", json!({}));
    let row = |tool: &str| readiness.as_array().expect("rows").iter().find(|r| r["tool"] == tool).cloned().expect(tool);
    let web = row("web_search");
    assert_eq!((web["kind"].as_str(), web["ready"].as_bool()), (Some("http"), Some(false)));
    assert_eq!(web["missing"], json!(["scavio_api_key"]));
    let issue = row("github_create_issue");
    assert_eq!((issue["server"].as_str(), issue["credential"].as_str()), (Some("github"), Some("github_token")));
    assert_eq!(issue["missing"], json!(["github_token"]));
    assert_eq!(row("echo_*")["ready"], true, "a server with no key and no listing yet");
    let tools = app.ok("list_tools", json!({}));
    assert_eq!(tools[0]["missing"], json!(["scavio_api_key"]), "the token form's warning: {tools}");

    app.ok("add_credential", json!({"name": "scavio_api_key", "value": "key-value-1"}));
    app.ok("add_credential", json!({"name": "github_token", "value": "key-value-2"}));
    let readiness = app.ok("tool_readiness", json!({}));
    assert!(readiness.as_array().expect("rows").iter().all(|r| r["ready"] == true), "{readiness}");
    assert_eq!(app.ok("list_tools", json!({}))[0]["missing"], json!([]));
}

#[test]
fn config_errors_show_beside_the_server_and_reload_refuses_a_broken_file() {
    let (app, _) = started();
    let path = app.home().join("config.toml");
    let status = app.ok("app_status", json!({}));
    assert_eq!(status["config"], json!({"path": path.display().to_string(), "error": null}));
    let good = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, format!("{good}\n[[tool]]\nname = \"broken\"\n")).expect("break it");
    let error = app.ok("app_status", json!({}))["config"]["error"].as_str().expect("an error").to_string();
    let at = format!("{}:", path.display());
    let line = error.strip_prefix(&at).and_then(|rest| rest.split(':').next()).and_then(|l| l.parse::<u32>().ok());
    assert!(line.is_some() && error.contains("missing field"), "names the file, the line and what is wrong: {error}");
    let (code, message) = app.error("reload_config", json!({}));
    assert_eq!((code.as_str(), message.as_str()), ("config", error.as_str()));
    std::fs::write(&path, &good).expect("fix it");
    let reloaded = app.ok("reload_config", json!({}));
    assert_eq!(reloaded["error"], Value::Null);
    assert_eq!(std::fs::read_to_string(&path).expect("config"), good, "the file's text is untouched");
    // The reload request was answered (or withdrawn): nothing is left behind in the home.
    let left: Vec<_> = std::fs::read_dir(app.home().join("requests"))
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "reload requests left behind: {left:?}");
}

#[test]
fn errors_and_reminders_point_at_the_button_that_does_it() {
    let (app, _) = started();
    app.ok("add_credential", json!({"name": "scavio_api_key", "value": "v1", "maxAgeDays": 1}));
    let (code, message) = app.error("add_credential", json!({"name": "scavio_api_key", "value": "v2"}));
    assert_eq!(code, "credential_exists");
    assert!(message.contains("choose Rotate in its row") && !message.contains("keygate "), "{message}");
    let (_, message) = app.error("rotate_credential", json!({"name": "nope", "value": "v"}));
    assert!(message.contains("Add a credential") && !message.contains("keygate "), "{message}");
    let (code, message) = app.error("add_credential", json!({"name": "Bad Name!", "value": "v"}));
    assert_eq!(code, "invalid_name");
    assert!(message.contains("1-64 characters of a-z, 0-9"), "the rule is stated: {message}");
    let status = app.ok("app_status", json!({}));
    let reminder = status["reminders"][0]["message"].as_str().expect("a reminder");
    assert!(reminder.contains("Choose Rotate") && !reminder.contains("keygate "), "{reminder}");
}
