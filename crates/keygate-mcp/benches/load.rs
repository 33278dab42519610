//! Load run: tool calls through Keygate against a local upstream, versus the same request sent
//! straight to that upstream, in one run on this machine.
//!
//! `cargo bench -p keygate-mcp --bench load` (optional env: LOAD_CALLS, LOAD_SECONDS, and
//! LOAD_RULES=1 for a token with 5 argument rules on the tool, LOAD_TEAM=1 for a tool whose
//! credential is a team copy, as synced from OpenBao).
//! Single client: sequential calls, latency median and p99 of each path and the difference.
//! Concurrent: 8 clients for LOAD_SECONDS each, completed calls per second for each path.

#![allow(clippy::print_stdout)] // a load report: printing is its output

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use keygate_vault::{Actor, Home, KeySource, MasterKey, StoredPolicy, SystemClock, TokenRequest, Vault};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// As in the `keygate` binary: every heap block zeroed when freed, so the figures are those
/// of Keygate as it ships (RELIABILITY.md, "Secrets in the server's memory").
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<mimalloc::MiMalloc> = zeroizing_alloc::ZeroAlloc(mimalloc::MiMalloc);

const KEY: &str = "sk-live-load-test-key";
const CLIENTS: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn upstream(headers: HeaderMap, Json(body): Json<Value>) -> impl IntoResponse {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
    }
    (
        StatusCode::OK,
        Json(json!({"results": [{"title": "Rust", "url": "https://www.rust-lang.org"}], "query": body["query"]})),
    )
}

/// One way of making the call: a ready request builder.
#[derive(Clone)]
struct Path {
    name: &'static str,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    body: Value,
}

impl Path {
    async fn call(&self) -> Duration {
        let started = Instant::now();
        // In a session, answers are routed by JSON-RPC id, so calls in flight need their own.
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut body = self.body.clone();
        if body.get("id").is_some() {
            body["id"] = json!(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        }
        let response =
            self.client.post(&self.url).headers(self.headers.clone()).json(&body).send().await.expect("send");
        assert!(response.status().is_success(), "{}: HTTP {}", self.name, response.status());
        let body = response.bytes().await.expect("body");
        assert!(!body.windows(5).any(|w| w == b"error") || self.name == "direct", "{}: {:?}", self.name, body);
        started.elapsed()
    }
}

impl Path {
    /// The same path inside an MCP session: initialize, then every call carries the session id.
    async fn with_session(mut self) -> Self {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "load", "version": "1"}}});
        let response =
            self.client.post(&self.url).headers(self.headers.clone()).json(&init).send().await.expect("init");
        let session = response.headers().get("mcp-session-id").cloned().expect("a session id");
        response.bytes().await.expect("init body");
        self.headers.insert("mcp-session-id", session);
        self.headers.insert("mcp-protocol-version", "2025-06-18".parse().expect("header"));
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.client.post(&self.url).headers(self.headers.clone()).json(&initialized).send().await.expect("initialized");
        self
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn single_client(path: &Path, calls: u64) -> (Duration, Duration) {
    for _ in 0..calls / 10 {
        path.call().await;
    }
    let mut latencies = Vec::with_capacity(calls as usize);
    for _ in 0..calls {
        latencies.push(path.call().await);
    }
    latencies.sort();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

async fn concurrent(path: &Path, seconds: u64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (path, stop, done) = (path.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    path.call().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for worker in workers {
        worker.await.expect("worker");
    }
    counted as f64 / elapsed.as_secs_f64()
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = env_number("LOAD_CALLS", 3000);
    let seconds = env_number("LOAD_SECONDS", 5);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let upstream_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/search", axum::routing::post(upstream))).await
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("random");
    let key = || KeySource::Given(MasterKey::from_bytes(&raw).expect("key"));
    Vault::init(&home, key(), &SystemClock).expect("init");
    let config = format!(
        "[listen]\nbind = \"127.0.0.1:0\"\n[[tool]]\nname = \"web_search\"\ndescription = \"search\"\n\
         credential = \"scavio_api_key\"\nmethod = \"POST\"\nurl = \"http://{upstream_addr}/search\"\n\
         credential_header = \"x-api-key\"\ninput_schema = {{ type = \"object\", properties = {{ query = {{ type = \"string\" }} }}, required = [\"query\"] }}\n"
    );
    let config = keygate_mcp::Config::parse(&config, std::path::Path::new("load.toml")).expect("config");
    let mut vault = Vault::open(&home, key(), Arc::new(SystemClock), Actor::Server).expect("open");
    // LOAD_TEAM=1: the credential is a team copy (issue 15's goal: the same cost as a local one).
    match std::env::var_os("LOAD_TEAM") {
        Some(_) => vault.store_team_version("scavio_api_key", &SecretString::from(KEY), 7, None).map(|_| ()),
        None => vault.add_credential("scavio_api_key", &SecretString::from(KEY), None).map(|_| ()),
    }
    .expect("credential");
    let request = TokenRequest { tools: vec!["web_search".into()], ttl: Some(Duration::from_secs(3600)), label: None };
    // LOAD_RULES=1: the token carries 5 argument rules on the tool (issue 14's goal: within
    // 10 % of the run without them).
    let rules =
        ["has query", "query ~ \"r*\"", "query in [\"rust\", \"go\", \"zig\"]", "query != \"x\"", "query ~ \"*st\""];
    let policy = match std::env::var_os("LOAD_RULES") {
        Some(_) => StoredPolicy { allow: rules.iter().map(|r| format!("web_search: {r}")).collect(), approve: false },
        None => StoredPolicy::default(),
    };
    let issued = vault.issue_token_with_policy(&request, &policy).expect("token");
    let token = issued.token.expose_secret().to_string();
    let server = keygate_mcp::start(config, vault, None).await.expect("server");

    let client = reqwest::Client::new();
    let mut direct_headers = HeaderMap::new();
    direct_headers.insert("x-api-key", KEY.parse().expect("header"));
    let direct = Path {
        name: "direct",
        client: client.clone(),
        url: format!("http://{upstream_addr}/search"),
        headers: direct_headers,
        body: json!({"query": "rust"}),
    };
    let mut keygate_headers = HeaderMap::new();
    keygate_headers.insert("authorization", format!("Bearer {token}").parse().expect("header"));
    keygate_headers.insert("accept", "application/json, text/event-stream".parse().expect("header"));
    let keygate = Path {
        name: "keygate",
        client,
        url: server.url(),
        headers: keygate_headers,
        body: json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "web_search", "arguments": {"query": "rust"}}}),
    };

    let listing = Path {
        name: "keygate tools/list",
        body: json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ..keygate.clone()
    };

    let session = Path { name: "keygate (session)", ..keygate.clone() }.with_session().await;

    println!("single client, {calls} sequential calls per path (after {} warm-up calls):", calls / 10);
    let (direct_median, direct_p99) = single_client(&direct, calls).await;
    let (keygate_median, keygate_p99) = single_client(&keygate, calls).await;
    println!("  direct   median {}  p99 {}", micros(direct_median), micros(direct_p99));
    println!("  keygate  median {}  p99 {}", micros(keygate_median), micros(keygate_p99));
    println!(
        "  added    median {}  p99 {}",
        micros(keygate_median.saturating_sub(direct_median)),
        micros(keygate_p99.saturating_sub(direct_p99))
    );
    let (session_median, session_p99) = single_client(&session, calls).await;
    println!("  keygate with a session (SSE answers)  median {}  p99 {}", micros(session_median), micros(session_p99));
    let (list_median, list_p99) = single_client(&listing, calls).await;
    println!("  keygate tools/list (auth + MCP, no call)  median {}  p99 {}", micros(list_median), micros(list_p99));
    println!("{CLIENTS} concurrent clients, {seconds} s per path:");
    println!("  direct   {:.0} calls/s", concurrent(&direct, seconds).await);
    println!("  keygate  {:.0} calls/s", concurrent(&keygate, seconds).await);
    println!("  keygate with a session  {:.0} calls/s", concurrent(&session, seconds).await);
    println!("  keygate tools/list  {:.0} calls/s", concurrent(&listing, seconds).await);
    server.shutdown().await.expect("shutdown");
}
