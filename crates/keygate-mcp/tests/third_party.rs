//! The gateway in front of real third-party MCP servers from npm (pinned in tests/mcp-servers):
//! the protocol's own `server-everything` (echo, progress) and `firecrawl-mcp`, pointed at a
//! local Firecrawl API that records the key it receives.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::post;
use rmcp::model::{ProgressNotificationParam, RequestMetaObject};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use support::gateway::{Gateway, call_tool, group_cmdlines, servers_dir, tool_names};
use support::{is_error, text};

const FIRECRAWL_KEY: &str = "fc-local-test-key-5f1e2d";

/// A `[[server]]` running an npm package's entry point with node; `extra` ends the args list.
fn node_server(name: &str, entry: &str, extra: &str, env: &str) -> String {
    let script = servers_dir().join("node_modules").join(entry);
    format!("[[server]]\nname = \"{name}\"\ncommand = \"node\"\nargs = [{script:?}{extra}]\nenv = {{ {env} }}\n\n")
}

/// Counts the progress notifications an agent receives.
#[derive(Clone, Default)]
struct ProgressCounter(Arc<AtomicUsize>);

impl ClientHandler for ProgressCounter {
    async fn on_progress(&self, _params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_answers_through_keygate_with_its_progress() {
    let server = node_server("everything", "@modelcontextprotocol/server-everything/dist/index.js", ", \"stdio\"", "");
    let g = Gateway::start(&server).await;
    let token = g.token(&["everything_*"]);
    let counter = ProgressCounter::default();
    let config = StreamableHttpClientTransportConfig::with_uri(g.server.url()).auth_header(token);
    let client = counter.clone().serve(StreamableHttpClientTransport::from_config(config)).await.expect("connects");

    let tools = client.peer().list_all_tools().await.expect("list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert!(names.contains(&"everything_echo".into()), "{names:?}");
    assert!(names.contains(&"everything_trigger-long-running-operation".into()), "{names:?}");
    let echo = client.peer().call_tool(support::call("everything_echo", json!({"message": "hi"}))).await.expect("echo");
    assert_eq!(text(&echo), "Echo: hi");

    // Progress: rmcp's client puts a progress token on each request; Keygate maps the child's
    // notifications back to it.
    let params = support::call("everything_trigger-long-running-operation", json!({"duration": 0.4, "steps": 4}));
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    let options = PeerRequestOptions::no_options().with_meta(RequestMetaObject::default());
    let handle = client.peer().send_request_with_option(request, options).await.expect("sent");
    let reply = handle.await_response().await.expect("answered");
    assert!(matches!(reply, rmcp::model::ServerResult::CallToolResult(ref r) if !is_error(r)), "{reply:?}");
    // This client, like Keygate's side, handles each notification in a task of its own: give
    // those tasks a moment (a notification Keygate dropped never arrives, however long we wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while counter.0.load(Ordering::SeqCst) < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(counter.0.load(Ordering::SeqCst) >= 4, "progress seen: {}", counter.0.load(Ordering::SeqCst));
    // rmcp's client puts a progress token on every call: both calls took the fast path.
    assert_eq!(g.server.fast_calls_served(), 2, "the session's calls went through rmcp");
}

/// A call with a progress token, POSTed as an agent does; returns the content type and the
/// JSON-RPC messages of the answer (one JSON body, or the data of each SSE event).
async fn post_with_progress(g: &Gateway, token: &str, body: &Value) -> (String, Vec<Value>) {
    let response = reqwest::Client::new()
        .post(g.server.url())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_string();
    let text = response.text().await.expect("body");
    let messages = if content_type.starts_with("text/event-stream") {
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| serde_json::from_str(data.trim()).expect("an event's JSON"))
            .collect()
    } else {
        vec![serde_json::from_str(&text).expect("JSON")]
    };
    (content_type, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_streamed_the_same_on_the_fast_path_and_through_rmcp() {
    let server = node_server("everything", "@modelcontextprotocol/server-everything/dist/index.js", ", \"stdio\"", "");
    let g = Gateway::start(&server).await;
    let token = g.token(&["everything_*"]);
    let call = |id: u64, progress: Value| {
        let arguments = json!({"duration": 0.3, "steps": 3});
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "everything_trigger-long-running-operation", "arguments": arguments, "_meta": {"progressToken": progress}}})
    };
    let mut answers = Vec::new();
    for fast in [true, false] {
        g.server.set_fast_calls(fast);
        let served = g.server.fast_calls_served();
        answers.push(post_with_progress(&g, &token, &call(7, json!("p-1"))).await);
        assert_eq!(g.server.fast_calls_served() - served, u64::from(fast));
    }
    let (fast, rmcp) = (&answers[0], &answers[1]);
    assert_eq!(fast, rmcp, "the fast path and rmcp streamed different answers");
    let (content_type, messages) = fast;
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    assert_eq!(messages.len(), 4, "three progress notifications, then the answer: {messages:?}");
    for (step, note) in messages[..3].iter().enumerate() {
        assert_eq!(note["method"], "notifications/progress", "{note}");
        assert_eq!(note["params"]["progressToken"], "p-1", "{note}");
        assert_eq!(note["params"]["progress"].as_f64(), Some(step as f64 + 1.0), "{note}");
    }
    assert_eq!(messages[3]["id"], 7);
    assert!(
        messages[3]["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("completed")),
        "{}",
        messages[3]
    );

    // A tool that sends no progress answers with one JSON body either way.
    g.server.set_fast_calls(true);
    let echo = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": "everything_echo", "arguments": {"message": "hi"}, "_meta": {"progressToken": 3}}});
    let (content_type, messages) = post_with_progress(&g, &token, &echo).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(messages[0]["result"]["content"][0]["text"], "Echo: hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firecrawl_gets_its_key_from_the_vault_and_the_agent_never_sees_it() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = Arc::clone(&seen);
    let api = axum::Router::new().route(
        "/v2/scrape",
        post(move |headers: HeaderMap, Json(_body): Json<Value>| {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            recorder.lock().expect("lock").push(auth);
            async { Json(json!({"success": true, "data": {"markdown": "scraped locally"}})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api_url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, api).await });

    let env = format!("FIRECRAWL_API_KEY = {{ credential = \"firecrawl_key\" }}, FIRECRAWL_API_URL = \"{api_url}\"");
    let g = Gateway::start(&node_server("fc", "firecrawl-mcp/dist/index.js", "", &env)).await;
    g.vault().add_credential("firecrawl_key", &FIRECRAWL_KEY.to_string().into(), None).expect("add key");
    // Its tools are already named firecrawl_*: behind a server named fc they are fc_firecrawl_*.
    let client = g.client(&g.token(&["fc_firecrawl_scrape"])).await;
    assert_eq!(tool_names(&client).await, ["fc_firecrawl_scrape"]);
    let result = call_tool(&client, "fc_firecrawl_scrape", json!({"url": "http://127.0.0.1:1/page"})).await;
    assert!(!is_error(&result) && text(&result).contains("scraped locally"), "{result:?}");
    assert_eq!(*seen.lock().expect("lock"), [format!("Bearer {FIRECRAWL_KEY}")]);
    assert!(!serde_json::to_string(&result).expect("json").contains(FIRECRAWL_KEY));

    let pid = g.server.server_statuses()[0].pid.expect("running");
    assert!(group_cmdlines(pid).iter().all(|c| !c.contains(FIRECRAWL_KEY)), "the key is in argv");
}
