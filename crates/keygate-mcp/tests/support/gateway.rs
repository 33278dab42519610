//! A vault and a running Keygate fronting real stdio MCP servers: the fixture server of
//! tests/mcp-servers (crashes, hangs, tool changes on demand) and third-party ones from npm.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keygate_mcp::{Config, RunningServer};
use keygate_vault::{Actor, Home, ManualClock, TokenRequest, Vault};
use rmcp::model::CallToolResult;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub const FIXTURE_KEY: &str = "fx-secret-key-v1-0123456789";
pub const FIXTURE_KEY_V2: &str = "fx-secret-key-v2-9876543210";

/// tests/mcp-servers at the top of the repository.
pub fn servers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp-servers")
}

/// A `[[server]]` running the fixture, with `extra_env` (`NAME = "value", ...`) and `extra` lines.
pub fn fixture_server(name: &str, extra_env: &str, extra: &str) -> String {
    let script = servers_dir().join("fixture.mjs");
    let extra_env = if extra_env.is_empty() { String::new() } else { format!(", {extra_env}") };
    format!(
        "[[server]]\nname = \"{name}\"\ncommand = \"node\"\nargs = [{script:?}]\n\
         env = {{ FIXTURE_KEY = {{ credential = \"fixture_key\" }}, FIXTURE_BEARER = {{ credential = \"fixture_key\", prefix = \"Bearer \" }}, FIXTURE_PLAIN = \"plain-value\"{extra_env} }}\n{extra}\n"
    )
}

/// Keygate with a vault holding `fixture_key`, serving `servers`.
pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub home: Home,
    key: [u8; 32],
    clock: Arc<ManualClock>,
    pub server: RunningServer,
}

impl Gateway {
    pub async fn start(servers: &str) -> Self {
        let (dir, home, key, clock) = super::new_vault_home();
        std::fs::write(home.config_path(), format!("[listen]\nbind = \"127.0.0.1:0\"\n\n{servers}")).expect("config");
        let config = Config::load(&home.config_path()).expect("config loads");
        let mut vault = super::open_vault(&home, &key, &clock, Actor::Server);
        vault.add_credential("fixture_key", &SecretString::from(FIXTURE_KEY), None).expect("add key");
        let server = keygate_mcp::start(config, vault, None).await.expect("server starts");
        Self { dir, home, key, clock, server }
    }

    pub fn vault(&self) -> Vault {
        super::open_vault(&self.home, &self.key, &self.clock, Actor::Cli)
    }

    pub fn token(&self, tools: &[&str]) -> String {
        let request = TokenRequest {
            tools: tools.iter().map(|t| t.to_string()).collect(),
            ttl: Some(Duration::from_secs(3600)),
            label: None,
        };
        self.vault().issue_token(&request).expect("issue").token.expose_secret().to_string()
    }

    pub async fn client(&self, token: &str) -> RunningService<RoleClient, ()> {
        let config = StreamableHttpClientTransportConfig::with_uri(self.server.url()).auth_header(token);
        ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("client connects")
    }

    /// Write a new config.toml and have the running server take it.
    pub fn reconfigure(&self, servers: &str) {
        let text = format!("[listen]\nbind = \"127.0.0.1:0\"\n\n{servers}");
        std::fs::write(self.home.config_path(), text).expect("config");
        self.server.reload(Config::load(&self.home.config_path()).expect("config loads"));
    }
}

pub async fn tool_names(client: &RunningService<RoleClient, ()>) -> Vec<String> {
    let tools = client.peer().list_all_tools().await.expect("list");
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

pub async fn call_tool(client: &RunningService<RoleClient, ()>, name: &str, arguments: Value) -> CallToolResult {
    client.peer().call_tool(super::call(name, arguments)).await.expect("call answers")
}

/// The command lines of every process in `pid`'s process group.
pub fn group_cmdlines(pid: u32) -> Vec<String> {
    let group = |p: &str| -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(2).map(str::to_string)
    };
    let Some(ours) = group(&pid.to_string()) else { return Vec::new() };
    let mut lines = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.chars().all(|c| c.is_ascii_digit()) && group(&name).as_deref() == Some(ours.as_str()) {
            let raw = std::fs::read(format!("/proc/{name}/cmdline")).unwrap_or_default();
            lines.push(String::from_utf8_lossy(&raw).replace('\0', " "));
        }
    }
    lines
}

pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

/// Poll `check` for up to `seconds`.
pub async fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..seconds * 20 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
