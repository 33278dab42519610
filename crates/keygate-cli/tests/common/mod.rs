//! Runs the real `keygate` binary against a vault in a temp directory.
#![allow(dead_code)]

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use base64::Engine as _;

pub mod notifications;
pub mod provider;

/// A throwaway Keygate home and the environment to reach it.
pub struct Kg {
    pub dir: tempfile::TempDir,
    /// `Some`: headless (KEYGATE_MASTER_KEY); `None`: the OS keychain.
    pub master_key: Option<String>,
}

impl Kg {
    /// A home whose key comes from KEYGATE_MASTER_KEY.
    pub fn headless() -> Self {
        let key = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
        Self { dir: tempfile::tempdir().expect("tempdir"), master_key: Some(key) }
    }

    /// A home whose key lives in the OS keychain.
    pub fn keychain() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir"), master_key: None }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn vault_path(&self) -> PathBuf {
        self.home().join("vault.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
        cmd.args(args).env("KEYGATE_HOME", self.home()).env_remove("KEYGATE_MASTER_KEY");
        if let Some(key) = &self.master_key {
            cmd.env("KEYGATE_MASTER_KEY", key);
        }
        cmd
    }

    /// Run with `stdin` piped in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let child = self.spawn(args, stdin);
        child.wait_with_output().expect("wait for keygate")
    }

    /// Start with `stdin` piped in, without waiting.
    pub fn spawn(&self, args: &[&str], stdin: &[u8]) -> Child {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start keygate");
        // keygate may rightly exit before reading stdin (e.g. refusing its arguments).
        match child.stdin.take().expect("stdin").write_all(stdin) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => child,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, b"")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, b"")
    }

    pub fn ok_with_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert!(out.status.success(), "keygate {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    pub fn init(&self) {
        self.ok(&["init"]);
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random");
    bytes
}

/// Assert a failed run: the exit code, one line on stderr containing `needle`, nothing on stdout.
impl Kg {
    /// The vault opened in this test's process, as another front (the app) would, with the
    /// headless master key.
    pub fn open_in_process(&self) -> keygate_vault::Vault {
        let encoded = self.master_key.as_deref().expect("a headless home");
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64 key");
        let key = keygate_vault::MasterKey::from_bytes(&bytes).expect("32 bytes");
        let home = keygate_vault::Home::at(self.home());
        let clock = std::sync::Arc::new(keygate_vault::SystemClock);
        keygate_vault::Vault::open(&home, keygate_vault::KeySource::Given(key), clock, keygate_vault::Actor::App)
            .expect("open the vault in process")
    }
}

pub fn assert_fails(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "stderr {stderr:?} lacks {needle:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A child process killed when the test ends, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `keygate serve` on a free loopback port, and its MCP endpoint.
pub fn start_serve(kg: &Kg) -> (Running, String) {
    serve_with(kg.command(&["serve", "--bind", "127.0.0.1:0"]))
}

/// Start `serve`, a `keygate serve` command set up by the caller, and read its endpoint.
pub fn serve_with(mut serve: Command) -> (Running, String) {
    let mut child = serve.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start serve");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut BufReader::new(child.stdout.take().expect("stdout")), &mut first).expect("read");
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL").to_string();
    (Running(child), url)
}

/// An agent's stdio connection through `keygate connect`, after `initialize`.
pub struct Bridge {
    pub stdin: std::process::ChildStdin,
    pub lines: std::io::Lines<BufReader<ChildStdout>>,
    _process: Running,
}

impl Bridge {
    /// Connect with `token` and initialize; returns the bridge and the initialize reply.
    pub fn connect(kg: &Kg, url: &str, token: &str) -> (Self, serde_json::Value) {
        let mut command = kg.command(&["connect", "--url", url]);
        command.env("KEYGATE_TOKEN", token);
        Self::start(command)
    }

    /// Run `command` (a `keygate connect ...`) with piped stdio and initialize; returns the
    /// bridge and the initialize reply.
    pub fn start(mut command: Command) -> (Self, serde_json::Value) {
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start connect");
        let stdin = child.stdin.take().expect("stdin");
        let lines = std::io::BufRead::lines(BufReader::new(child.stdout.take().expect("stdout")));
        let mut bridge = Self { stdin, lines, _process: Running(child) };
        send(
            &mut bridge.stdin,
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}),
        );
        let reply = receive(&mut bridge.lines);
        send(&mut bridge.stdin, serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        (bridge, reply)
    }

    /// Send a request and read its answer.
    pub fn request(&mut self, message: serde_json::Value) -> serde_json::Value {
        send(&mut self.stdin, message);
        receive(&mut self.lines)
    }
}

/// Send one JSON-RPC message on a stdio MCP connection.
pub fn send(stdin: &mut impl Write, message: serde_json::Value) {
    writeln!(stdin, "{message}").expect("write");
    stdin.flush().expect("flush");
}

/// Read the next JSON-RPC message from a stdio MCP connection.
pub fn receive(lines: &mut std::io::Lines<BufReader<ChildStdout>>) -> serde_json::Value {
    let line = lines.next().expect("a reply").expect("read");
    serde_json::from_str(&line).expect("JSON-RPC")
}

/// POST one MCP `tools/call` of `name` with `arguments` and `token` to `url`, as an agent
/// would; the HTTP status and the JSON answer (or the body as a string if it is not JSON).
pub async fn call_tool(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    arguments: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                  "params": {"name": name, "arguments": arguments}});
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}
