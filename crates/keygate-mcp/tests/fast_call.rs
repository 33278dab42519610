//! The `tools/call` fast path against rmcp: the same requests, well-formed and not, sent to
//! one server with the fast path on and then off, must get the same HTTP status, content
//! type and body, and leave the same audit rows; the plain calls must actually have been
//! served by the fast path, and everything else must have fallen through to rmcp.

mod support;

use keygate_vault::AuditEntry;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Harness;

const ACCEPT: &str = "application/json, text/event-stream";
const VERSION: &str = "2025-06-18";

/// One request of the comparison.
struct Case {
    what: &'static str,
    /// Tools the case's token may call.
    scope: &'static [&'static str],
    /// Header changes: a value replaces the default, `None` removes it.
    headers: Vec<(&'static str, Option<String>)>,
    body: String,
    session: Session,
    /// Whether the fast path is expected to answer it (else rmcp does).
    fast: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Session {
    None,
    /// A session the case's token opened.
    Own,
    /// An id no session has.
    Unknown,
    /// A session another token opened.
    Foreign,
}

/// What a request left: the answer and the audit rows of its token.
#[derive(Debug, PartialEq)]
struct Seen {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
    audit: Vec<AuditRow>,
}

/// An audit row without its time and duration: tool, decision, status, credential, version, count.
type AuditRow = (String, String, Option<String>, Option<String>, Option<i64>, i64);

fn call(id: Value, name: &str, arguments: Option<Value>) -> String {
    let mut params = json!({"name": name});
    if let Some(arguments) = arguments {
        params["arguments"] = arguments;
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string()
}

fn search() -> String {
    call(json!(1), "web_search", Some(json!({"query": "fast"})))
}

fn case(what: &'static str, body: String, fast: bool) -> Case {
    Case { what, scope: &["web_search"], headers: Vec::new(), body, session: Session::None, fast }
}

fn with_header(what: &'static str, name: &'static str, value: Option<&str>, fast: bool) -> Case {
    Case { headers: vec![(name, value.map(str::to_string))], ..case(what, search(), fast) }
}

fn in_session(what: &'static str, session: Session, fast: bool) -> Case {
    Case { session, ..case(what, search(), fast) }
}

fn cases() -> Vec<Case> {
    vec![
        case("a call that succeeds", search(), true),
        case("a string id", call(json!("abc-1"), "web_search", Some(json!({"query": "q"}))), true),
        case("arguments the schema refuses", call(json!(2), "web_search", Some(json!({"query": 5}))), true),
        case("no arguments", call(json!(3), "web_search", None), true),
        case("a tool out of scope", call(json!(4), "echo", Some(json!({"query": "q"}))), true),
        case("no such tool", call(json!(5), "nope", Some(json!({}))), true),
        case("a name no tool can have", call(json!(6), "no such tool!", Some(json!({}))), true),
        Case { scope: &["no_key"], ..case("a missing credential", call(json!(7), "no_key", Some(json!({"query": "q"}))), true) },
        Case { scope: &["down"], ..case("an upstream that is down", call(json!(8), "down", Some(json!({"query": "q"}))), true) },
        with_header("no MCP-Protocol-Version", "mcp-protocol-version", None, true),
        with_header("the oldest version", "mcp-protocol-version", Some("2024-11-05"), true),
        with_header("Accept in another order with weights", "accept", Some("text/event-stream;q=0.9, application/json"), true),
        with_header("Content-Type with a charset", "content-type", Some("application/json; charset=utf-8"), true),
        with_header("Accept without SSE", "accept", Some("application/json"), false),
        with_header("Accept with SSE weighted zero", "accept", Some("application/json, text/event-stream;q=0"), false),
        with_header("no Accept", "accept", None, false),
        with_header("Content-Type text", "content-type", Some("text/plain"), false),
        with_header("an unknown version", "mcp-protocol-version", Some("2099-01-01"), false),
        with_header("the version with per-request metadata", "mcp-protocol-version", Some("2026-07-28"), false),
        with_header("a loopback Host rmcp does not allow", "host", Some("127.0.0.2:{port}"), false),
        case("a progress token", r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"_meta":{"progressToken":"p"}}}"#.into(), true),
        case("a numeric progress token", r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"_meta":{"progressToken":0},"name":"web_search","arguments":{"query":"q"}}}"#.into(), true),
        case("a progress token rmcp cannot read", r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"_meta":{"progressToken":true}}}"#.into(), false),
        case("_meta with another member", r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"_meta":{"progressToken":1,"trace":"x"}}}"#.into(), false),
        case("_meta an array", r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"_meta":[1]}}"#.into(), false),
        case("a tool name with an escape", r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"web\u005fsearch","arguments":{"query":"q"}}}"#.into(), true),
        case("members in another order", r#"{"params":{"arguments":{"query":"q"},"name":"web_search"},"id":11,"method":"tools/call","jsonrpc":"2.0"}"#.into(), true),
        case("an escaped method", r#"{"jsonrpc":"2.0","id":12,"method":"tools\/call","params":{"name":"web_search","arguments":{"query":"q"}}}"#.into(), false),
        case("another params member", r#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"task":{}}}"#.into(), false),
        case("a repeated member", r#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"echo","name":"web_search","arguments":{"query":"q"}}}"#.into(), false),
        case("a batch", format!("[{}]", search()), false),
        case("a notification", r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"}}}"#.into(), false),
        case("a null id", r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"web_search"}}"#.into(), false),
        case("a fractional id", r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"web_search"}}"#.into(), false),
        case("jsonrpc 1.0", r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"web_search"}}"#.into(), false),
        case("no params", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#.into(), false),
        case("arguments not an object", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":[1]}}"#.into(), false),
        case("another method", r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.into(), false),
        case("broken JSON", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"#.into(), false),
        case("not UTF-8", "\u{fffd}".into(), false),
        case("an empty body", String::new(), false),
        in_session("a call in its own session", Session::Own, true),
        Case {
            session: Session::Own,
            ..case("a call with a progress token in its own session", r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"q"},"_meta":{"progressToken":0}}}"#.into(), true)
        },
        in_session("a call in an unknown session", Session::Unknown, false),
        in_session("a call in another token's session", Session::Foreign, false),
    ]
}

/// Open a session with `token` as an agent does: initialize, then initialized.
async fn open_session(h: &Harness, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "fast-call-test", "version": "1"}}});
    let response = h
        .http
        .post(h.url())
        .bearer_auth(token)
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", VERSION)
        .json(&init)
        .send()
        .await
        .expect("initialize");
    let session =
        response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("a session").to_string();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let sent = h
        .http
        .post(h.url())
        .bearer_auth(token)
        .header("accept", ACCEPT)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", VERSION)
        .json(&initialized)
        .send()
        .await
        .expect("initialized");
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    session
}

/// Send `case` with a token of its own; returns how many requests the fast path answered
/// meanwhile, and what the request left.
async fn send(h: &Harness, case: &Case) -> (u64, Seen) {
    let (token_id, token) = h.token(case.scope);
    let session = match case.session {
        Session::None => None,
        Session::Own => Some(open_session(h, &token).await),
        Session::Unknown => Some("f00dfeedf00dfeedf00dfeedf00dfeed".to_string()),
        Session::Foreign => Some(open_session(h, &h.token(case.scope).1).await),
    };
    let mut headers = vec![
        ("accept", Some(ACCEPT.to_string())),
        ("content-type", Some("application/json".to_string())),
        ("mcp-protocol-version", Some(VERSION.to_string())),
    ];
    for (name, value) in &case.headers {
        headers.retain(|(n, _)| n != name);
        headers.push((name, value.clone()));
    }
    let mut request = h.http.post(h.url()).bearer_auth(&token).body(case.body.clone());
    if case.body == "\u{fffd}" {
        request = request.body(vec![0xff, 0xfe, 0x7b]);
    }
    let port = h.server.local_addr().port().to_string();
    for (name, value) in headers.iter().filter_map(|(n, v)| v.as_ref().map(|v| (*n, v))) {
        request = request.header(name, value.replace("{port}", &port));
    }
    if let Some(session) = &session {
        request = request.header("mcp-session-id", session);
    }
    let before = h.server.fast_calls_served();
    let response = request.send().await.expect("send");
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.text().await.expect("body");
    let served = h.server.fast_calls_served() - before;
    h.server.flush_audit().await;
    let audit: Vec<AuditEntry> = h.other_vault().audit_log().expect("audit");
    let audit = audit
        .into_iter()
        .filter(|row| row.token_id.as_deref() == Some(&token_id))
        .map(|row| (row.tool, row.decision, row.status, row.credential, row.credential_version, row.count))
        .collect();
    (served, Seen { status, content_type, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), audit })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_answers_every_request_exactly_as_rmcp_does() {
    let h = Harness::start().await;
    for case in cases() {
        h.server.set_fast_calls(true);
        let (served, fast) = send(&h, &case).await;
        assert_eq!(served, u64::from(case.fast), "{}: the fast path served {served} request(s)", case.what);
        h.server.set_fast_calls(false);
        let (served, rmcp) = send(&h, &case).await;
        assert_eq!(served, 0, "{}: served with the fast path off", case.what);
        assert_eq!(fast, rmcp, "{}: the fast path and rmcp answered differently", case.what);
    }
    // The calls really went upstream (the upstream checks the key), both ways.
    assert!(h.hits() >= 2, "the upstream saw {} calls", h.hits());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_on_its_next_fast_call() {
    let h = Harness::start().await;
    let (id, token) = h.token(&["web_search"]);
    let post = || {
        h.http
            .post(h.url())
            .bearer_auth(&token)
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .body(search())
            .send()
    };
    let first = post().await.expect("send");
    assert_eq!(first.status(), StatusCode::OK);
    let answer: Value = first.json().await.expect("json");
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    assert_eq!(h.server.fast_calls_served(), 1);

    // Another process (the CLI) revokes it; the very next request is refused.
    assert!(h.other_vault().revoke_token(&id).expect("revoke"));
    let hits = h.hits();
    assert_eq!(post().await.expect("send").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.hits(), hits, "a revoked token's call reached the upstream");
    assert_eq!(h.server.fast_calls_served(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_hangs_up_does_not_cut_a_call_short() {
    let h = Harness::start().await;
    let (id, token) = h.token(&["slow"]);
    // `slow`'s upstream answers after 5 s; its tool gives up after 1 s. The agent leaves
    // after 200 ms, while the call waits on the upstream.
    let impatient = reqwest::Client::builder().timeout(std::time::Duration::from_millis(200)).build().expect("client");
    let sent = impatient
        .post(h.url())
        .bearer_auth(&token)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(call(json!(1), "slow", Some(json!({"query": "q"}))))
        .send()
        .await;
    assert!(sent.is_err_and(|e| e.is_timeout()), "the agent should have given up first");
    assert_eq!(h.server.fast_calls_served(), 1);

    // The call still ends as it would have: its row gets the upstream's timeout as outcome.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        h.server.flush_audit().await;
        let audit = h.other_vault().audit_log().expect("audit");
        let row = audit.into_iter().find(|row| row.token_id.as_deref() == Some(id.as_str()));
        if let Some(status) = row.as_ref().and_then(|row| row.status.clone()) {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the call's row never got its outcome: {row:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, "upstream_error");
    assert_eq!(h.hits(), 1, "the call went upstream once");
}
