//! What the end-to-end test stands on: the desktop session it needs, a real upstream API on
//! 127.0.0.1, a D-Bus monitor for notifications, the `keygate` CLI, and an MCP client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

/// Fail with what to do when the desktop session the test needs is missing.
pub fn require_desktop() {
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is not set: run the tests with tests/run, which starts Xvfb, D-Bus, a keyring and a notification service"
        );
    }
}

/// A program from PATH or ~/.cargo/bin.
pub fn tool(name: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin").join(name));
    match cargo_bin {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from(name),
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port} after 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The keys the upstream received, in order.
#[derive(Clone, Default)]
pub struct Upstream {
    pub keys: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    /// A search API on 127.0.0.1 that answers only requests carrying a key, and records it.
    pub async fn start() -> (Self, String) {
        let upstream = Self::default();
        let app = axum::Router::new().route("/search", axum::routing::post(answer_search)).with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
        let url = format!("http://{}/search", listener.local_addr().expect("upstream address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (upstream, url)
    }

    pub fn keys(&self) -> Vec<String> {
        self.keys.lock().expect("keys").clone()
    }
}

async fn answer_search(
    State(upstream): State<Upstream>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no key"})));
    };
    upstream.keys.lock().expect("keys").push(key.to_string());
    (StatusCode::OK, Json(json!({"results": [{"title": format!("found {}", body["query"])}]})))
}

/// The config the app starts with: a free port, and `web_search` pointed at the test upstream.
pub fn write_config(home: &Path, upstream_url: &str) {
    std::fs::create_dir_all(home).expect("home");
    let config = format!(
        r#"[listen]
bind = "127.0.0.1:0"

[[tool]]
name = "web_search"
description = "Search the web"
credential = "scavio_api_key"
method = "POST"
url = "{upstream_url}"
credential_header = "x-api-key"
input_schema = {{ type = "object", properties = {{ query = {{ type = "string" }}, num_results = {{ type = "integer", default = 5 }} }}, required = ["query"] }}
"#
    );
    std::fs::write(home.join("config.toml"), config).expect("write config.toml");
}

/// Put (or replace) a `[[server]]` running tests/mcp-servers/fixture.mjs, whose echo tool has
/// `description`, at the end of config.toml; a running Keygate picks the change up.
pub fn add_fixture_server(home: &Path, name: &str, description: &str) {
    let path = home.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("read config.toml");
    let marker = format!("\n# fixture server {name}\n");
    let kept = text.split(&marker).next().unwrap_or_default();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp-servers/fixture.mjs");
    let entry = format!(
        "{kept}{marker}[[server]]\nname = \"{name}\"\ncommand = \"node\"\nargs = [{:?}]\nenv = {{ FIXTURE_DESCRIPTION = {description:?} }}\n",
        fixture.display().to_string()
    );
    std::fs::write(&path, entry).expect("write config.toml");
}

// One watcher for the CLI's tests and the app's.
#[path = "../../../crates/keygate-cli/tests/common/notifications.rs"]
mod notifications;
pub use notifications::NotificationWatch;

/// The window's executable, which these tests drive through WebDriver.
pub fn window_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keygate-window"))
}

/// The agent's executable, `keygate-app`: keygate-tray's binary, built beside the window.
pub fn agent_exe() -> PathBuf {
    let agent = window_exe().with_file_name("keygate-app");
    assert!(agent.is_file(), "{} is missing: build it too (cargo build -p keygate-tray)", agent.display());
    agent
}

/// The `keygate` CLI built beside the app.
pub fn keygate_cli(home: &Path, args: &[&str], stdin: &str) -> String {
    let cli = window_exe().with_file_name("keygate");
    assert!(cli.is_file(), "{} is missing: build the workspace (cargo test --workspace)", cli.display());
    let mut child = Command::new(&cli)
        .args(args)
        .env("KEYGATE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keygate");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("keygate output");
    assert!(out.status.success(), "keygate {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An MCP client with the agent's token, over Streamable HTTP.
pub async fn mcp_client(url: &str, token: &str) -> RunningService<RoleClient, ()> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token.to_string());
    ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("MCP client connects")
}

pub fn search(query: &str) -> CallToolRequestParams {
    let arguments = json!({ "query": query });
    CallToolRequestParams::new("web_search").with_arguments(arguments.as_object().cloned().unwrap_or_default())
}

pub fn result_text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}

/// Where screenshots go: `target/e2e-screenshots`, beside the build output.
pub fn screenshot_dir() -> PathBuf {
    let target = window_exe().parent().and_then(Path::parent).expect("target dir");
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Stops the agent process the app started for `home` when the test ends, pass or fail.
pub struct AgentGuard {
    home: PathBuf,
}

impl AgentGuard {
    pub fn new(home: &Path) -> Self {
        Self { home: home.to_path_buf() }
    }
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        let status = std::fs::read(self.home.join(".agent-status.json")).unwrap_or_default();
        let pid = serde_json::from_slice::<Value>(&status).ok().and_then(|s| s["pid"].as_u64());
        if let Some(pid) = pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// Wait until the agent for `home` publishes a running server; its MCP URL.
pub fn wait_for_agent_url(home: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = std::fs::read(home.join(".agent-status.json")).unwrap_or_default();
        let status = serde_json::from_slice::<Value>(&status).unwrap_or_default();
        if let Some(url) = status["server"]["url"].as_str() {
            return url.to_string();
        }
        assert!(Instant::now() < deadline, "the agent did not publish a running server: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PKCE challenge of RFC 7636's example verifier (S256).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Start an OAuth sign-in as a client calling itself `name` would: register, then ask to
/// authorize. Returns the consent page's URL the server redirected to.
pub async fn start_sign_in(mcp_url: &str, name: &str) -> String {
    let origin = mcp_url.strip_suffix("/mcp").expect("an /mcp url");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let redirect = "http://127.0.0.1:33418/callback";
    let registered: Value = http
        .post(format!("{origin}/oauth/register"))
        .json(&json!({"client_name": name, "redirect_uris": [redirect]}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration json");
    let client_id = registered["client_id"].as_str().unwrap_or_else(|| panic!("no client_id: {registered}"));
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("state", "e2e"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", mcp_url),
    ];
    let query: Vec<String> = params.iter().map(|(name, value)| format!("{name}={}", form_encode(value))).collect();
    let url = format!("{origin}/oauth/authorize?{}", query.join("&"));
    let answer = http.get(url).send().await.expect("authorize");
    assert_eq!(answer.status(), 303, "authorize sends the browser to the consent page");
    let location = answer.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with("/oauth/consent?request="), "{location}");
    format!("{origin}{location}")
}

/// `text` percent-encoded for a query string (everything but unreserved characters).
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The app's own user for a test: a HOME where Cursor looks installed, a private config dir,
/// and a PATH whose `xdg-open` only records what it was asked to open (in `opened`).
pub struct DesktopUser {
    pub home: PathBuf,
    pub config_home: PathBuf,
    pub path: std::ffi::OsString,
    pub opened: PathBuf,
}

impl DesktopUser {
    pub fn new(scratch: &Path) -> Self {
        let home = scratch.join("user");
        std::fs::create_dir_all(home.join(".cursor")).expect("Cursor installed");
        let opened = fake_opener(&scratch.join("opener"));
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(scratch.join("opener")).chain(std::env::split_paths(&inherited)))
                .expect("PATH");
        Self { home, config_home: scratch.join("config"), path, opened }
    }

    /// The environment the app runs with, its Keygate home being `keygate_home`.
    pub fn envs<'a>(&'a self, keygate_home: &'a Path) -> [(&'static str, &'a Path); 4] {
        [
            ("KEYGATE_HOME", keygate_home),
            ("HOME", &self.home),
            ("XDG_CONFIG_HOME", &self.config_home),
            ("PATH", Path::new(&self.path)),
        ]
    }
}

/// A directory holding an `xdg-open` that writes what it was given to `opened.txt` beside it
/// (no browser is started), to put first on the app's PATH.
pub fn fake_opener(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("opener dir");
    let script = format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", dir.join("opened.txt").display());
    let opener = dir.join("xdg-open");
    std::fs::write(&opener, script).expect("write xdg-open");
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).expect("chmod xdg-open");
    dir.join("opened.txt")
}

/// Wait until `path` exists and holds a line; that text.
pub fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.ends_with('\n') {
            return text;
        }
        assert!(Instant::now() < deadline, "{} was not written in 15 s", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}
