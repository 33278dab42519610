//! Load run of the gateway: the same stdio MCP server called directly (rmcp's client over
//! stdio) and through Keygate, in one run on this machine; then Keygate's own memory with idle
//! servers configured.
//!
//! `cargo bench -p keygate-mcp --bench gateway` (optional env: GATEWAY_SECONDS, default 5;
//! GATEWAY_CHILD = `rust`, `node`, `both` (default) or `none`; GATEWAY_MEMORY = 0 to skip memory).
//!
//! Two children, each called as `echo {text}`: this very binary run with `--echo-stdio` (a
//! minimal rmcp stdio server, so the child costs as little as a child can), and
//! tests/mcp-servers/fixture.mjs on node (the MCP TypeScript SDK; needs its node_modules, see
//! tests/mcp-servers/README.md). Keygate fronts each as a `[[server]]` with a vault key in its
//! environment, and is called three ways: without a session (one JSON-RPC POST per call,
//! answered as JSON), in a session with rmcp's Streamable HTTP client (what rmcp agents use),
//! and in a session with plain HTTP requests whose SSE answers are read to their end (as
//! load.rs does). Each also sends `ping`, which crosses HTTP, the token check and rmcp but
//! nothing of the gateway, so `call - ping - direct` is the gateway's own part. As a control
//! without Keygate, the rust echo is also served over Streamable HTTP by rmcp alone and called
//! with rmcp's client (by default, and with keep-alive) and with plain HTTP: what each HTTP
//! client costs by itself.
//!
//! - 1 client: sequential calls, all paths alternated in one-second slices (after a one-second
//!   warm-up of each) for GATEWAY_SECONDS slices each, so all see the same machine: latency
//!   median and p99, and what Keygate adds (through minus direct).
//! - 8 clients for GATEWAY_SECONDS per path: completed calls per second, the CPU each call cost
//!   in this process (Keygate and the clients) and in the child's process tree (from /proc), TCP
//!   connections opened per call (the kernel's TCP ActiveOpens), and how busy the machine was.
//!
//! Memory is measured in fresh processes of this binary (`--memory N MODE`), so nothing
//! measured before skews the allocator: Keygate's VmRSS after start, 20 `tools/list` calls and
//! 6 s idle, with 0 servers, 10 configured but not started (the token has no gateway tool),
//! and 10 started by one listing and then idle.

#![allow(clippy::print_stdout)] // a load report: printing is its output

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::HeaderMap;
use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, TokenRequest, Vault};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, ContentBlock, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, PingRequest, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ErrorData, Peer, RoleClient, RoleServer, ServerHandler, ServiceError, ServiceExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// As in the `keygate` binary, so the figures are those of Keygate as it ships (load.rs too).
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<mimalloc::MiMalloc> = zeroizing_alloc::ZeroAlloc(mimalloc::MiMalloc);

const CLIENTS: usize = 8;
const TEXT: &str = "hello gateway";
/// The protocol version the plain-HTTP session announces (as load.rs does).
const PROTOCOL: &str = "2025-06-18";
const CHILD_KEY: &str = "fx-secret-key-v1-0123456789";
/// Idle servers configured for the memory measurement.
const IDLE_SERVERS: usize = 10;
/// Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat.
const TICKS_PER_SECOND: f64 = 100.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--echo-stdio") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(echo_server());
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    if let Some(at) = args.iter().position(|a| a == "--memory") {
        let servers: usize = args.get(at + 1).and_then(|n| n.parse().ok()).expect("--memory N MODE");
        let started = args.get(at + 2).is_some_and(|mode| mode == "started");
        runtime.block_on(memory_probe(servers, started));
        return;
    }
    runtime.block_on(run());
}

// ---------------------------------------------------------------------------------------------
// The Rust child: a minimal stdio MCP server with one tool, `echo {text}`.

#[derive(Debug, Clone)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("echo-stdio", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
        let serde_json::Value::Object(schema) = schema else { unreachable!("an object") };
        Ok(ListToolsResult::with_all_items(vec![Tool::new("echo", "Echo the text back", Arc::new(schema))]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "echo" {
            return Err(ErrorData::invalid_params(format!("unknown tool: {}", request.name), None));
        }
        let text = request.arguments.as_ref().and_then(|a| a.get("text")).and_then(|t| t.as_str());
        let Some(text) = text else { return Err(ErrorData::invalid_params("text: a string is required", None)) };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

async fn echo_server() {
    let Ok(service) = Echo.serve(rmcp::transport::stdio_pipes()).await else { return };
    let _ = service.waiting().await;
}

// ---------------------------------------------------------------------------------------------
// The children and the vault.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rust,
    Node,
}

impl Kind {
    /// The `[[server]]` name in Keygate's config.
    fn server(self) -> &'static str {
        match self {
            Kind::Rust => "rs",
            Kind::Node => "fx",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Rust => "rust echo (this binary, --echo-stdio: rmcp, 1 thread, stdio_pipes)",
            Kind::Node => "node fixture.mjs (MCP TypeScript SDK)",
        }
    }

    /// Program and arguments.
    fn command(self) -> (String, Vec<String>) {
        match self {
            Kind::Rust => {
                let exe = std::env::current_exe().expect("current exe");
                (exe.to_string_lossy().into_owned(), vec!["--echo-stdio".into()])
            }
            Kind::Node => {
                let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/mcp-servers/fixture.mjs")
                    .canonicalize()
                    .expect("tests/mcp-servers/fixture.mjs");
                ("node".into(), vec![script.to_string_lossy().into_owned()])
            }
        }
    }

    /// A `[[server]]` entry, with a key from the vault in the child's environment (so the
    /// gateway's per-call work is what a real entry costs: rotation check, redaction scan).
    fn server_entry(self, name: &str) -> String {
        let (command, args) = self.command();
        format!(
            "[[server]]\nname = \"{name}\"\ncommand = {command:?}\nargs = {args:?}\n\
             env = {{ FIXTURE_KEY = {{ credential = \"fixture_key\" }} }}\n\n"
        )
    }
}

/// A vault on disk holding `fixture_key`, and Keygate serving `servers` from it.
struct Keygate {
    _dir: tempfile::TempDir,
    home: Home,
    key: [u8; 32],
    server: keygate_mcp::RunningServer,
}

impl Keygate {
    async fn start(servers: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().join("home"));
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("random");
        let given = || KeySource::Given(MasterKey::from_bytes(&key).expect("key"));
        Vault::init(&home, given(), &SystemClock).expect("init");
        let text = format!("[listen]\nbind = \"127.0.0.1:0\"\n\n{servers}");
        let config = keygate_mcp::Config::parse(&text, std::path::Path::new("gateway-bench.toml")).expect("config");
        let mut vault = Vault::open(&home, given(), Arc::new(SystemClock), Actor::Server).expect("open");
        vault.add_credential("fixture_key", &SecretString::from(CHILD_KEY), None).expect("credential");
        let server = keygate_mcp::start(config, vault, None).await.expect("keygate starts");
        Self { _dir: dir, home, key, server }
    }

    fn token(&self, tools: &[&str]) -> String {
        let source = KeySource::Given(MasterKey::from_bytes(&self.key).expect("key"));
        let mut vault = Vault::open(&self.home, source, Arc::new(SystemClock), Actor::Cli).expect("open");
        let request = TokenRequest {
            tools: tools.iter().map(|t| t.to_string()).collect(),
            ttl: Some(Duration::from_secs(3600)),
            label: None,
        };
        vault.issue_token(&request).expect("token").token.expose_secret().to_string()
    }

    async fn session(&self, token: &str, pooled: bool) -> RunningService<RoleClient, ()> {
        rmcp_session(&self.server.url(), token, pooled).await
    }

    fn stateless(&self, token: &str, tool: &str) -> Route {
        stateless_route(&self.server.url(), token, tool)
    }

    async fn raw_session(&self, token: &str, tool: &str) -> Route {
        plain_session(&self.server.url(), token, tool).await
    }

    /// The process id at the root of a fronted server's process tree, once it runs.
    fn child_pid(&self, server: &str) -> Option<u32> {
        self.server.server_statuses().into_iter().find(|s| s.name == server).and_then(|s| s.pid)
    }
}

/// An agent keeping a session, as rmcp's client does (initialize, then the session id).
/// rmcp's default HTTP client keeps no idle connection (`pool_max_idle_per_host(0)`), so
/// each request opens one; `pooled` gives it an ordinary keep-alive client instead, as
/// agents on other SDKs (fetch, undici) have.
async fn rmcp_session(url: &str, token: &str, pooled: bool) -> RunningService<RoleClient, ()> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = if pooled {
        StreamableHttpClientTransport::with_client(reqwest::Client::new(), config)
    } else {
        StreamableHttpClientTransport::from_config(config)
    };
    ().serve(transport).await.expect("client connects")
}

/// An agent without a session: one JSON-RPC POST per call, answered as JSON.
fn stateless_route(url: &str, token: &str, tool: &str) -> Route {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().expect("header"));
    headers.insert("accept", "application/json, text/event-stream".parse().expect("header"));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": {"text": TEXT}}});
    Route::Http { client: reqwest::Client::new(), url: url.to_string(), headers, body, ping: false }
}

/// An agent keeping a session with plain HTTP requests (as load.rs does): initialize, then
/// the session id on every POST, each answer (JSON, or SSE read to its end) read whole.
async fn plain_session(url: &str, token: &str, tool: &str) -> Route {
    let Route::Http { client, url, mut headers, body, .. } = stateless_route(url, token, tool) else { unreachable!() };
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
    let response = client.post(&url).headers(headers.clone()).json(&init).send().await.expect("initialize");
    let session = response.headers().get("mcp-session-id").cloned().expect("a session id");
    response.bytes().await.expect("initialize answer");
    headers.insert("mcp-session-id", session);
    headers.insert("mcp-protocol-version", PROTOCOL.parse().expect("header"));
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = client.post(&url).headers(headers.clone()).json(&initialized).send().await.expect("initialized");
    response.bytes().await.expect("initialized answer");
    Route::Http { client, url, headers, body, ping: false }
}

/// The rust echo served over Streamable HTTP by rmcp alone, as rmcp serves by default
/// (sessions, SSE answers): the control that shows what an HTTP client costs without Keygate.
async fn bare_rmcp_http_echo() -> String {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
    let service = StreamableHttpService::new(
        || Ok(Echo),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    // As Keygate does: SSE answers are small writes, which would wait for delayed ACKs.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().nest_service("/mcp", service)).await });
    url
}

// ---------------------------------------------------------------------------------------------
// Calls and measurements.

/// One way of making the call.
#[derive(Clone)]
enum Route {
    /// rmcp's client: straight to the child over stdio, or to Keygate in a session.
    Mcp { peer: Peer<RoleClient>, tool: String, ping: bool },
    /// A plain POST to Keygate, with a session id in `headers` or without one.
    Http { client: reqwest::Client, url: String, headers: HeaderMap, body: serde_json::Value, ping: bool },
}

fn arguments() -> JsonObject {
    let mut arguments = JsonObject::new();
    arguments.insert("text".into(), TEXT.into());
    arguments
}

impl Route {
    /// The same route with `ping` instead of the tool call: the HTTP and MCP layers and the
    /// token check, nothing of the gateway. (rmcp answers ping only on older protocol
    /// versions, else "method not found": the same round trip either way.)
    fn ping(&self) -> Self {
        match self.clone() {
            Route::Mcp { peer, tool, .. } => Route::Mcp { peer, tool, ping: true },
            Route::Http { client, url, headers, .. } => {
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
                Route::Http { client, url, headers, body, ping: true }
            }
        }
    }

    async fn call(&self) -> Duration {
        match self {
            Route::Mcp { peer, ping: true, .. } => {
                let started = Instant::now();
                let answer = peer.send_request(ClientRequest::PingRequest(PingRequest::default())).await;
                let elapsed = started.elapsed();
                assert!(matches!(answer, Ok(_) | Err(ServiceError::McpError(_))), "ping: {answer:?}");
                elapsed
            }
            Route::Mcp { peer, tool, ping: false } => {
                let started = Instant::now();
                let params = CallToolRequestParams::new(tool.clone()).with_arguments(arguments());
                let result = peer.call_tool(params).await.expect("the call answers");
                let elapsed = started.elapsed();
                let text = result.content.first().and_then(|c| c.as_text()).map(|t| t.text.as_str());
                assert!(result.is_error != Some(true) && text == Some(TEXT), "{tool}: {result:?}");
                elapsed
            }
            Route::Http { client, url, headers, body, ping } => {
                // In a session, answers are routed by JSON-RPC id, so each call has its own.
                static NEXT_ID: AtomicU64 = AtomicU64::new(1);
                let mut body = body.clone();
                body["id"] = json!(NEXT_ID.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                let response = client.post(url).headers(headers.clone()).json(&body).send().await.expect("send");
                assert!(response.status().is_success(), "HTTP {}", response.status());
                let answer = response.bytes().await.expect("body");
                let elapsed = started.elapsed();
                let answer = String::from_utf8_lossy(&answer);
                let good = if *ping {
                    answer.contains("\"jsonrpc\"")
                } else {
                    answer.contains(TEXT) && !answer.contains("\"isError\":true") && !answer.contains("\"error\"")
                };
                assert!(good, "{answer}");
                elapsed
            }
        }
    }
}

struct Stats {
    median: Duration,
    p99: Duration,
    /// TCP connections opened per call (by anyone on the machine: idle but for this run).
    opened_per_call: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn sequential(route: &Route, slice: Duration, latencies: &mut Vec<Duration>) {
    let end = Instant::now() + slice;
    while Instant::now() < end {
        latencies.push(route.call().await);
    }
}

/// CPU time used so far: this process, and a child's process tree (from `/proc`).
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    at: Instant,
    own: f64,
    child: f64,
    /// Machine-wide busy and total time, from /proc/stat.
    busy: f64,
    total: f64,
    /// TCP connections opened so far on this machine (`ActiveOpens` in /proc/net/snmp).
    opened: u64,
}

/// `(ppid, utime + stime in seconds)` of a process.
fn proc_stat(pid: &str) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((ppid, ticks as f64 / TICKS_PER_SECOND))
}

/// CPU seconds of `root` and every process under it (the guard shell and the server it runs).
fn tree_cpu(root: u32) -> f64 {
    let mut procs: HashMap<u32, (u32, f64)> = HashMap::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let (Ok(pid), Some(stat)) = (name.parse::<u32>(), proc_stat(&name)) {
            procs.insert(pid, stat);
        }
    }
    let mut total = 0.0;
    let mut frontier = vec![root];
    while let Some(pid) = frontier.pop() {
        if let Some((_, cpu)) = procs.get(&pid) {
            total += cpu;
        }
        frontier.extend(procs.iter().filter(|(_, (ppid, _))| *ppid == pid).map(|(child, _)| *child));
    }
    total
}

fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let line = stat.lines().next().expect("cpu line");
    let values: Vec<f64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn tcp_active_opens() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut tcp = snmp.lines().filter(|line| line.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else { return 0 };
    let column = names.split_whitespace().position(|name| name == "ActiveOpens");
    column.and_then(|c| values.split_whitespace().nth(c)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn cpu_sample(child: u32) -> CpuSample {
    let own = proc_stat("self").map_or(0.0, |(_, cpu)| cpu);
    let (busy, total) = machine_cpu();
    CpuSample { at: Instant::now(), own, child: tree_cpu(child), busy, total, opened: tcp_active_opens() }
}

#[derive(Debug)]
struct Throughput {
    calls_per_second: f64,
    own_per_call: Duration,
    child_per_call: Duration,
    machine_busy: f64,
    opened_per_call: f64,
}

/// `routes.len()` clients, each sending its next call as soon as the last returns.
async fn concurrent(routes: Vec<Route>, seconds: u64, child: u32) -> Throughput {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    // Half a second to reach a steady state before counting.
    let counting = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = routes
        .into_iter()
        .map(|route| {
            let (stop, done, counting) = (stop.clone(), done.clone(), counting.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    route.call().await;
                    if counting.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    counting.store(true, Ordering::Relaxed);
    let before = cpu_sample(child);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let counted = done.load(Ordering::Relaxed);
    let after = cpu_sample(child);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let calls = counted.max(1) as f64;
    Throughput {
        calls_per_second: counted as f64 / after.at.duration_since(before.at).as_secs_f64(),
        own_per_call: Duration::from_secs_f64((after.own - before.own) / calls),
        child_per_call: Duration::from_secs_f64((after.child - before.child) / calls),
        machine_busy: (after.busy - before.busy) / (after.total - before.total).max(1.0),
        opened_per_call: after.opened.saturating_sub(before.opened) as f64 / calls,
    }
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn signed_micros(a: Duration, b: Duration) -> String {
    format!("{:.0} µs", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The child started directly, with the same key in its environment as through Keygate.
async fn direct(kind: Kind) -> (RunningService<RoleClient, ()>, u32) {
    let (program, args) = kind.command();
    let mut command = tokio::process::Command::new(program);
    command.args(args).env("FIXTURE_KEY", CHILD_KEY);
    let process = TokioChildProcess::new(command).expect("child starts");
    let pid = process.id().expect("pid");
    let service = ().serve(process).await.expect("handshake");
    (service, pid)
}

async fn measure(kind: Kind, seconds: u64) {
    println!("child: {}", kind.describe());
    let server = kind.server();
    let keygate = Keygate::start(&kind.server_entry(server)).await;
    let token = keygate.token(&[&format!("{server}_*")]);
    let tool = format!("{server}_echo");

    let (direct_service, direct_pid) = direct(kind).await;
    let direct_route = Route::Mcp { peer: direct_service.peer().clone(), tool: "echo".into(), ping: false };
    let stateless_route = keygate.stateless(&token, &tool);
    // The first call through Keygate starts the child, lists and pins its tools.
    stateless_route.call().await;
    let gateway_pid = keygate.child_pid(server).expect("the child runs");
    let session = keygate.session(&token, false).await;
    let session_route = Route::Mcp { peer: session.peer().clone(), tool: tool.clone(), ping: false };
    let pooled = keygate.session(&token, true).await;
    let pooled_route = Route::Mcp { peer: pooled.peer().clone(), tool: tool.clone(), ping: false };
    let raw_route = keygate.raw_session(&token, &tool).await;
    let bare = bare_rmcp_http_echo().await;
    let bare_rmcp = rmcp_session(&bare, "unused", true).await;
    let bare_rmcp_route = Route::Mcp { peer: bare_rmcp.peer().clone(), tool: "echo".into(), ping: false };
    let bare_default = rmcp_session(&bare, "unused", false).await;
    let bare_default_route = Route::Mcp { peer: bare_default.peer().clone(), tool: "echo".into(), ping: false };
    let bare_plain_route = plain_session(&bare, "unused", "echo").await;

    // (name, tools/call route, its ping twin)
    let paths = [
        ("direct (rmcp client over stdio)", &direct_route, None),
        ("keygate, no session (JSON-RPC POST)", &stateless_route, Some(stateless_route.ping())),
        ("keygate, session, rmcp HTTP client", &session_route, Some(session_route.ping())),
        ("keygate, session, rmcp client, keep-alive", &pooled_route, Some(pooled_route.ping())),
        ("keygate, session, plain HTTP (SSE read)", &raw_route, Some(raw_route.ping())),
        ("control: rmcp HTTP alone, rmcp default", &bare_default_route, None),
        ("control: rmcp HTTP alone, rmcp keep-alive", &bare_rmcp_route, None),
        ("control: rmcp HTTP alone, plain HTTP", &bare_plain_route, None),
    ];
    let routes: Vec<&Route> =
        paths.iter().flat_map(|(_, call, ping)| std::iter::once(*call).chain(ping.as_ref())).collect();
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); routes.len()];
    let mut warm_up = Vec::new();
    for route in &routes {
        sequential(route, Duration::from_secs(1), &mut warm_up).await;
    }
    // TCP connections each route opened, per call.
    let mut opened = vec![0u64; routes.len()];
    for _ in 0..seconds {
        for ((route, samples), opened) in routes.iter().zip(latencies.iter_mut()).zip(opened.iter_mut()) {
            let before = tcp_active_opens();
            sequential(route, Duration::from_secs(1), samples).await;
            *opened += tcp_active_opens().saturating_sub(before);
        }
    }
    let mut stats = latencies.into_iter().zip(opened).map(|(mut samples, opened)| {
        let opened_per_call = opened as f64 / samples.len().max(1) as f64;
        samples.sort();
        Stats { median: percentile(&samples, 0.5), p99: percentile(&samples, 0.99), opened_per_call }
    });
    println!("  1 client, sequential, all paths alternated in 1 s slices ({seconds} s each); median / p99:");
    println!(
        "    {:<42} {:>19} {:>19} {:>19} {:>13}",
        "path", "tools/call echo", "ping (no gateway)", "added (call-direct)", "conns opened"
    );
    let direct_stats = stats.next().expect("direct");
    let pair = |s: &Stats| format!("{} / {}", micros(s.median), micros(s.p99));
    println!(
        "    {:<42} {:>19} {:>19} {:>19} {:>8.2}/call",
        paths[0].0,
        pair(&direct_stats),
        "",
        "",
        direct_stats.opened_per_call
    );
    let mut gateway_work = Vec::new();
    let mut controls = Vec::new();
    for (name, _, has_ping) in &paths[1..] {
        let call = stats.next().expect("call");
        let Some(_) = has_ping else {
            let added = signed_micros(call.median, direct_stats.median);
            println!("    {name:<42} {:>19} {:>19} {added:>19} {:>8.2}/call", pair(&call), "", call.opened_per_call);
            controls.push(call.median);
            continue;
        };
        let ping = stats.next().expect("ping");
        let added = format!(
            "{} / {}",
            signed_micros(call.median, direct_stats.median),
            signed_micros(call.p99, direct_stats.p99)
        );
        println!(
            "    {name:<42} {:>19} {:>19} {added:>19} {:>8.2}/call",
            pair(&call),
            pair(&ping),
            call.opened_per_call
        );
        gateway_work.push(signed_micros(call.median, ping.median + direct_stats.median));
    }
    println!(
        "    gateway's own part (call - ping - direct, medians): no session {}, rmcp session {}, keep-alive {}, plain session {}",
        gateway_work[0], gateway_work[1], gateway_work[2], gateway_work[3]
    );
    // controls: rmcp's default client, rmcp's client with keep-alive, plain HTTP.
    println!(
        "    rmcp's HTTP client's own cost over plain HTTP, without Keygate (control medians): {}",
        signed_micros(controls[1], controls[2])
    );
    println!(
        "    a connection per call (rmcp's default client over keep-alive), without Keygate: {}",
        signed_micros(controls[0], controls[1])
    );

    println!(
        "  {CLIENTS} clients, {seconds} s per path (cpu per call: this process = keygate + clients; the child's tree):"
    );
    println!(
        "    {:<42} {:>9} {:>10} {:>10} {:>13} {:>8}",
        "path", "calls/s", "cpu here", "cpu child", "conns opened", "machine"
    );
    let print = |name: &str, t: Throughput| {
        println!(
            "    {name:<42} {:>9.0} {:>10} {:>10} {:>8.2}/call {:>7.0}%",
            t.calls_per_second,
            micros(t.own_per_call),
            micros(t.child_per_call),
            t.opened_per_call,
            t.machine_busy * 100.0
        );
    };
    print(
        "direct, 8 callers on one stdio connection",
        concurrent(vec![direct_route.clone(); CLIENTS], seconds, direct_pid).await,
    );
    print("keygate, no session", concurrent(vec![stateless_route.clone(); CLIENTS], seconds, gateway_pid).await);
    let mut sessions = Vec::new();
    for pooled in [false, true] {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            clients.push(keygate.session(&token, pooled).await);
        }
        let routes =
            clients.iter().map(|s| Route::Mcp { peer: s.peer().clone(), tool: tool.clone(), ping: false }).collect();
        let name = if pooled {
            "keygate, session, 8 rmcp clients, keep-alive"
        } else {
            "keygate, session, 8 rmcp HTTP clients"
        };
        print(name, concurrent(routes, seconds, gateway_pid).await);
        sessions.extend(clients);
    }
    let mut raw_routes = Vec::new();
    for _ in 0..CLIENTS {
        raw_routes.push(keygate.raw_session(&token, &tool).await);
    }
    print("keygate, session, 8 plain HTTP clients", concurrent(raw_routes, seconds, gateway_pid).await);
    for service in sessions.into_iter().chain([session, pooled, bare_rmcp, direct_service]) {
        let _ = service.cancel().await;
    }
    keygate.server.shutdown().await.expect("shutdown");
}

// ---------------------------------------------------------------------------------------------
// Memory: Keygate's own RSS, each configuration in a fresh process.

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Start Keygate with `servers` `[[server]]` entries (the rust echo), make 20 `tools/list`
/// calls and print `rss_kib=.. hwm_kib=.. running=..`. Unless `started`, the token has no
/// gateway tool, so no server is started; with `started` it has every server's tools, so the
/// first listing starts them all (they then sit idle).
async fn memory_probe(servers: usize, started: bool) {
    let entries: String = (0..servers).map(|i| Kind::Rust.server_entry(&format!("s{i}"))).collect();
    let keygate = Keygate::start(&entries).await;
    let scopes: Vec<String> =
        if started { (0..servers).map(|i| format!("s{i}_*")).collect() } else { vec!["web_search".into()] };
    let token = keygate.token(&scopes.iter().map(String::as_str).collect::<Vec<_>>());
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let response = client
            .post(keygate.server.url())
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .send()
            .await
            .expect("tools/list");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.bytes().await.expect("body");
    }
    // Past one idle check of the gateway (every 5 s), and let the allocator settle.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let running = keygate.server.server_statuses().iter().filter(|s| s.state == "running").count();
    println!("rss_kib={} hwm_kib={} running={running}", rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    keygate.server.shutdown().await.expect("shutdown");
}

#[derive(Debug)]
struct Memory {
    rss: u64,
    hwm: u64,
    running: usize,
}

/// Start a probe process; `read_probe` collects what it measured.
fn spawn_probe(servers: usize, mode: &str) -> std::process::Child {
    let exe = std::env::current_exe().expect("current exe");
    std::process::Command::new(exe)
        .args(["--memory", &servers.to_string(), mode])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("probe runs")
}

fn read_probe(probe: std::process::Child) -> Memory {
    let output = probe.wait_with_output().expect("probe ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "memory probe failed: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    let field = |name: &str| -> u64 {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
    };
    Memory { rss: field("rss_kib="), hwm: field("hwm_kib="), running: field("running=") as usize }
}

/// Each configuration three times, all nine probes at once (memory is per process, so they
/// do not disturb each other's figures); the median of the three is reported.
fn memory() {
    const REPEATS: usize = 3;
    println!(
        "memory: Keygate's own VmRSS, each in a fresh process after 20 tools/list and 6 s idle (median of {REPEATS}):"
    );
    let configurations = [
        ("0 [[server]] entries", 0, "configured"),
        ("10 [[server]] entries, none started", IDLE_SERVERS, "configured"),
        ("10 [[server]] entries, all started, then idle", IDLE_SERVERS, "started"),
    ];
    let probes: Vec<Vec<std::process::Child>> = configurations
        .iter()
        .map(|(_, servers, mode)| (0..REPEATS).map(|_| spawn_probe(*servers, mode)).collect())
        .collect();
    let mib = |kib: u64| format!("{:.2} MiB", kib as f64 / 1024.0);
    println!("    {:<48} {:>10} {:>28} {:>10} {:>8}", "configuration", "VmRSS", "(all runs)", "VmHWM", "running");
    let mut medians = Vec::new();
    for ((name, ..), runs) in configurations.iter().zip(probes) {
        let mut runs: Vec<Memory> = runs.into_iter().map(read_probe).collect();
        runs.sort_by_key(|m| m.rss);
        let all = runs.iter().map(|m| format!("{:.2}", m.rss as f64 / 1024.0)).collect::<Vec<_>>().join(", ");
        let median = &runs[REPEATS / 2];
        println!("    {name:<48} {:>10} {all:>28} {:>10} {:>8}", mib(median.rss), mib(median.hwm), median.running);
        medians.push(median.rss);
    }
    let growth = |kib: u64| format!("{:+.2} MiB", (kib as f64 - medians[0] as f64) / 1024.0);
    println!(
        "    growth with {IDLE_SERVERS} idle servers configured: {} (all {IDLE_SERVERS} started, then idle: {})",
        growth(medians[1]),
        growth(medians[2])
    );
}

async fn run() {
    let seconds = env_number("GATEWAY_SECONDS", 5);
    let kinds = match std::env::var("GATEWAY_CHILD").as_deref() {
        Ok("rust") => vec![Kind::Rust],
        Ok("node") => vec![Kind::Node],
        Ok("none") => vec![],
        _ => vec![Kind::Rust, Kind::Node],
    };
    if env_number("GATEWAY_MEMORY", 1) != 0 {
        tokio::task::spawn_blocking(memory).await.expect("memory");
    }
    for kind in kinds {
        measure(kind, seconds).await;
    }
}
