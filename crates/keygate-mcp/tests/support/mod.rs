//! A real vault file, a real upstream API on 127.0.0.1 that checks the key it gets, and the
//! Keygate server in between.
#![allow(dead_code)]

pub mod gateway;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use keygate_mcp::{Config, RunningServer};
use keygate_vault::{Actor, Clock, Home, KeySource, ManualClock, MasterKey, SystemClock, TokenRequest, Vault};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

pub const KEY_V1: &str = "sk-live-upstream-key-v1";
pub const KEY_V2: &str = "sk-live-upstream-key-v2";

/// What the upstream saw.
#[derive(Default)]
pub struct Seen {
    pub hits: AtomicUsize,
    pub other_host_hits: AtomicUsize,
    pub authorization_headers: Mutex<Vec<String>>,
    pub bodies: Mutex<Vec<Value>>,
}

#[derive(Clone)]
struct Upstream {
    expected_key: Arc<Mutex<String>>,
    seen: Arc<Seen>,
    other_origin: String,
}

/// The upstream API: checks `x-api-key` against the current key, records what it got.
pub struct TestUpstream {
    pub addr: SocketAddr,
    pub expected_key: Arc<Mutex<String>>,
    pub seen: Arc<Seen>,
}

pub async fn start_upstream() -> TestUpstream {
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind other");
    let other_addr = other.local_addr().expect("addr");
    let seen = Arc::new(Seen::default());
    let other_seen = Arc::clone(&seen);
    let other_app = axum::Router::new().fallback(move || {
        other_seen.other_host_hits.fetch_add(1, Ordering::SeqCst);
        std::future::ready("other host")
    });
    tokio::spawn(async move { axum::serve(other, other_app).await });

    let state = Upstream {
        expected_key: Arc::new(Mutex::new(KEY_V1.to_string())),
        seen: Arc::clone(&seen),
        other_origin: format!("http://{other_addr}"),
    };
    let app = axum::Router::new()
        .route("/search", post(search))
        .route("/echo", post(echo_key))
        .route("/slow", post(slow))
        .route("/away", post(redirect_away))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestUpstream { addr, expected_key: state.expected_key, seen }
}

fn record(state: &Upstream, headers: &HeaderMap, body: &Value) -> bool {
    state.seen.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        state.seen.authorization_headers.lock().expect("lock").push(auth.to_string());
    }
    state.seen.bodies.lock().expect("lock").push(body.clone());
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    key == *state.expected_key.lock().expect("lock")
}

async fn search(State(state): State<Upstream>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !record(&state, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "bad api key").into_response();
    }
    Json(json!({ "results": [{ "title": "Rust", "url": "https://www.rust-lang.org" }], "query": body["query"], "num_results": body["num_results"] })).into_response()
}

async fn echo_key(State(state): State<Upstream>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    format!("you sent {key} and again {key}").into_response()
}

async fn slow(State(state): State<Upstream>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late".into_response()
}

async fn redirect_away(State(state): State<Upstream>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    Redirect::temporary(&format!("{}/steal", state.other_origin)).into_response()
}

/// config.toml for the test tools, all pointing at the test upstream.
pub fn config_text(upstream: SocketAddr, dead_port: u16) -> String {
    let tool = |name: &str, credential: &str, url: String, extra: &str| {
        format!(
            "[[tool]]\nname = \"{name}\"\ndescription = \"{name} tool\"\ncredential = \"{credential}\"\nmethod = \"POST\"\n\
             url = \"{url}\"\ncredential_header = \"x-api-key\"\n{extra}\
             input_schema = {{ type = \"object\", properties = {{ query = {{ type = \"string\" }}, num_results = {{ type = \"integer\", default = 5 }} }}, required = [\"query\"] }}\n\n"
        )
    };
    let base = format!("http://{upstream}");
    [
        "[listen]\nbind = \"127.0.0.1:0\"\n\n".to_string(),
        tool("web_search", "scavio_api_key", format!("{base}/search"), ""),
        tool("echo", "scavio_api_key", format!("{base}/echo"), ""),
        tool("slow", "scavio_api_key", format!("{base}/slow"), "timeout_secs = 1\n"),
        tool("away", "scavio_api_key", format!("{base}/away"), ""),
        tool("down", "scavio_api_key", format!("http://127.0.0.1:{dead_port}/search"), ""),
        tool("no_key", "missing_key", format!("{base}/search"), ""),
    ]
    .concat()
}

/// A new vault in a temp home with a random master key: the directory (kept alive), the home,
/// the key and the clock every connection shares.
pub fn new_vault_home() -> (tempfile::TempDir, Home, [u8; 32], Arc<ManualClock>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home"));
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("random");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    Vault::init(&home, KeySource::Given(MasterKey::from_bytes(&key).expect("key")), clock.as_ref()).expect("init");
    (dir, home, key, clock)
}

/// Another connection to the vault at `home`, as `actor` would open it.
pub fn open_vault(home: &Home, key: &[u8; 32], clock: &Arc<ManualClock>, actor: Actor) -> Vault {
    let source = KeySource::Given(MasterKey::from_bytes(key).expect("key"));
    Vault::open(home, source, clock.clone(), actor).expect("open")
}

/// A home ready to serve `upstream`'s tools: its vault holds the key; the server's config and
/// vault connection come beside it, for whichever runtime starts the server.
pub struct ServingHome {
    dir: tempfile::TempDir,
    home: Home,
    key: [u8; 32],
    clock: Arc<ManualClock>,
}

impl ServingHome {
    pub fn new(upstream: SocketAddr) -> (Self, Config, Vault) {
        let (dir, home, key, clock) = new_vault_home();
        std::fs::write(home.config_path(), config_text(upstream, free_port())).expect("config");
        let config = Config::load(&home.config_path()).expect("config loads");
        let mut vault = open_vault(&home, &key, &clock, Actor::Server);
        vault.add_credential("scavio_api_key", &SecretString::from(KEY_V1), None).expect("add key");
        (Self { dir, home, key, clock }, config, vault)
    }

    /// The harness of `server`, started on this home.
    pub fn harness(self, upstream: TestUpstream, server: RunningServer) -> Harness {
        let Self { dir, home, key, clock } = self;
        Harness { dir, home, key, clock, upstream, server, http: reqwest::Client::new() }
    }
}

/// A vault, an upstream and a running server.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub home: Home,
    key: [u8; 32],
    pub clock: Arc<ManualClock>,
    pub upstream: TestUpstream,
    pub server: RunningServer,
    /// One HTTP client per test: building one loads the system's certificates (slow).
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        let upstream = start_upstream().await;
        let (home, config, vault) = ServingHome::new(upstream.addr);
        let server = keygate_mcp::start(config, vault, None).await.expect("server starts");
        home.harness(upstream, server)
    }

    /// A second connection to the same vault file, as the CLI or the app would have.
    pub fn other_vault(&self) -> Vault {
        open_vault(&self.home, &self.key, &self.clock, Actor::Cli)
    }

    pub fn token(&self, tools: &[&str]) -> (String, String) {
        let request = TokenRequest {
            tools: tools.iter().map(|t| t.to_string()).collect(),
            ttl: Some(Duration::from_secs(3600)),
            label: None,
        };
        let issued = self.other_vault().issue_token(&request).expect("issue");
        (issued.id, issued.token.expose_secret().to_string())
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A plain JSON-RPC `tools/call` of `web_search` over POST, with no session.
    pub fn raw_search(&self, token: &str, id: u64, query: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "web_search", "arguments": {"query": query}}}))
    }

    pub fn hits(&self) -> usize {
        self.upstream.seen.hits.load(Ordering::SeqCst)
    }

    pub async fn client(&self, token: &str) -> RunningService<RoleClient, ()> {
        let config = StreamableHttpClientTransportConfig::with_uri(self.url()).auth_header(token);
        ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("client connects")
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

pub fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name.to_string());
    match arguments {
        Value::Object(map) => params.with_arguments(map),
        _ => params,
    }
}

/// The text of a tool result.
pub fn text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}

pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

pub fn vault_file(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("home/vault.db")).unwrap_or_default()
}
