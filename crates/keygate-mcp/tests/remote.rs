//! Remote servers behind the gateway, over both HTTP transports: Streamable HTTP and the
//! legacy HTTP+SSE one (2024-11-05), which Keygate falls back to when the POST is refused.
//! The servers are the fixture of tests/mcp-servers in its HTTP modes and the protocol's own
//! `server-everything` in its SSE mode; each runs as its own process on 127.0.0.1.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use sha2::{Digest, Sha256};
use support::gateway::{FIXTURE_KEY, Gateway, call_tool, servers_dir, tool_names};
use support::{is_error, text};

/// A node MCP server over HTTP, killed when dropped.
struct RemoteServer {
    process: Child,
    port: u16,
}

impl RemoteServer {
    /// The fixture with `FIXTURE_MODE=mode`; it prints the port it took.
    fn fixture(mode: &str) -> Self {
        let mut process = Command::new("node")
            .arg(servers_dir().join("fixture.mjs"))
            .env("FIXTURE_MODE", mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(process.stdout.take().expect("stdout")).read_line(&mut line).expect("reads");
        let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()).expect("a port");
        Self { process, port }
    }

    /// `server-everything sse` on a free port; it says on stderr when it listens.
    fn everything_sse() -> Self {
        let port = support::free_port();
        let mut process = Command::new("node")
            .arg(servers_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
            .arg("sse")
            .env("PORT", port.to_string())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        let stderr = BufReader::new(process.stderr.take().expect("stderr"));
        let mut lines = stderr.lines();
        assert!(lines.any(|l| l.is_ok_and(|l| l.contains("running on port"))), "server-everything did not start");
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { process, port }
    }

    /// A `[[server]]` entry reaching it at `path`, its Authorization header from the vault.
    fn entry(&self, name: &str, path: &str) -> String {
        format!(
            "[[server]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:{}{path}\"\n\
             headers = {{ Authorization = {{ credential = \"fixture_key\", prefix = \"Bearer \" }} }}\n\n",
            self.port
        )
    }
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_http_transports_get_the_key_header_and_never_the_agents_token() {
    let streamable = RemoteServer::fixture("http");
    let legacy = RemoteServer::fixture("sse");
    let config = format!("{}{}", streamable.entry("web", "/mcp"), legacy.entry("old", "/sse"));
    let g = Gateway::start(&config).await;
    let token = g.token(&["web_*", "old_*"]);
    let client = g.client(&token).await;

    let expected = sha256_hex(&format!("Bearer {FIXTURE_KEY}"));
    for server in ["web", "old"] {
        let echo = call_tool(&client, &format!("{server}_echo"), json!({"text": "hi"})).await;
        assert_eq!(text(&echo), "hi", "{server}");
        let seen = text(&call_tool(&client, &format!("{server}_auth_sha256"), json!({})).await);
        assert_eq!(seen, expected, "{server} did not get the key header (or got the agent's token)");
        assert_ne!(seen, sha256_hex(&format!("Bearer {token}")), "{server}");
    }
    let names = tool_names(&client).await;
    assert!(names.contains(&"old_slow".to_string()) && names.contains(&"web_slow".to_string()), "{names:?}");
    let statuses = g.server.server_statuses();
    assert!(statuses.iter().all(|s| s.state == "running" && s.pid.is_none()), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_over_legacy_sse_answers_through_keygate() {
    let everything = RemoteServer::everything_sse();
    let g = Gateway::start(&everything.entry("everything", "/sse")).await;
    let client = g.client(&g.token(&["everything_echo"])).await;
    assert_eq!(tool_names(&client).await, ["everything_echo"]);
    let echo = call_tool(&client, "everything_echo", json!({"message": "over sse"})).await;
    assert!(!is_error(&echo), "{echo:?}");
    assert_eq!(text(&echo), "Echo: over sse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_speaks_neither_transport_is_a_clear_tool_error() {
    let streamable = RemoteServer::fixture("http");
    // The fixture answers 404 to anything but /mcp, for the POST and for the event stream.
    let g = Gateway::start(&streamable.entry("nowhere", "/other")).await;
    let client = g.client(&g.token(&["nowhere_*"])).await;
    let refused = client.peer().call_tool(support::call("nowhere_echo", json!({"text": "x"}))).await;
    let message = match refused {
        Ok(result) => text(&result),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("nowhere") && message.contains("/other"), "{message}");
}
