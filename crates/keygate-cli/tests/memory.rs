//! What the memory of `keygate serve` holds after tool calls, seen from outside: the real
//! server with a headless master key, a real upstream on 127.0.0.1 that refuses a call
//! without the key, N calls, then a core taken with gcore (as root: the server is not
//! dumpable) and searched for the upstream key, its wire form, the master key and the token.
//!
//! Run it alone to see the table: `cargo test -p keygate-cli --test memory -- --nocapture`.
//! It needs gdb's gcore and root (or passwordless sudo); without them it fails, saying so,
//! rather than skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::{Kg, start_serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALLS: usize = 20;

/// The upstream: HTTP/1.1 with keep-alive, answering 200 only to `Authorization: Bearer <key>`,
/// counting its open connections (so the test knows when Keygate has let its pooled one go).
struct Upstream {
    url: String,
    open: Arc<AtomicUsize>,
}

impl Upstream {
    async fn start(key: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the upstream");
        let url = format!("http://{}/v1/echo", listener.local_addr().expect("addr"));
        let open = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&open);
        let expected = Arc::new(format!("authorization: bearer {key}"));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (counter, expected) = (Arc::clone(&counter), Arc::clone(&expected));
                tokio::spawn(async move {
                    let _ = serve_connection(stream, &expected).await;
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { url, open }
    }

    /// Wait until Keygate has closed every connection to the upstream (its idle pool let go).
    async fn wait_until_closed(&self) {
        for _ in 0..2400 {
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("keygate serve kept its idle upstream connection open for over four minutes");
    }
}

/// Requests on one connection until the peer closes it.
async fn serve_connection(mut stream: TcpStream, expected: &str) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = memchr::memmem::find(&buffer, b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap_or(0));
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        let authorized = head.lines().any(|l| l.trim_end() == expected);
        buffer.drain(..head_end + length);
        let (status, body) = if authorized { ("200 OK", "{\"ok\":true}") } else { ("401 Unauthorized", "{}") };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await?;
    }
}

/// How to take a core of another process: gcore, as root or through passwordless sudo.
struct Gcore {
    sudo: bool,
}

impl Gcore {
    fn find() -> Result<Self, String> {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("gcore").is_file()));
        if !on_path {
            return Err("gcore (from gdb) is not installed: the memory search needs it (scripts/setup \
                        installs gdb; or apt-get install gdb)"
                .into());
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let root = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0");
        if root {
            return Ok(Self { sudo: false });
        }
        let sudo = Command::new("sudo").args(["-n", "true"]).status().is_ok_and(|s| s.success());
        if sudo {
            return Ok(Self { sudo: true });
        }
        Err("the memory search takes a core of keygate serve from outside, which is not dumpable: \
             run this test as root or with passwordless sudo"
            .into())
    }

    /// A core of `pid`, written in `dir`.
    fn dump(&self, pid: u32, dir: &Path) -> PathBuf {
        let prefix = dir.join("core");
        let mut command = if self.sudo { Command::new("sudo") } else { Command::new("gcore") };
        if self.sudo {
            command.args(["-n", "gcore"]);
        }
        let out = command.arg("-o").arg(&prefix).arg(pid.to_string()).output().expect("run gcore");
        let core = dir.join(format!("core.{pid}"));
        assert!(out.status.success() && core.exists(), "gcore failed: {}", String::from_utf8_lossy(&out.stderr));
        if self.sudo {
            // Readable by this user, so the test can search it and its temp dir can go.
            let _ = Command::new("sudo").args(["-n", "chmod", "a+r"]).arg(&core).status();
        }
        core
    }
}

/// What is searched for, each under the name the table shows.
struct Needles(Vec<(&'static str, Vec<u8>)>);

impl Needles {
    fn count_in(&self, core: &[u8]) -> Vec<(&'static str, usize)> {
        self.0.iter().map(|(name, needle)| (*name, memchr::memmem::find_iter(core, needle).count())).collect()
    }
}

fn needles(upstream_key: &str, master_b64: &str, token: &str) -> Needles {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes).into_bytes();
    let master = base64::engine::general_purpose::STANDARD.decode(master_b64).expect("base64 master key");
    let tail = |text: &str| text.as_bytes()[text.len() - 24..].to_vec();
    Needles(vec![
        ("upstream key", upstream_key.as_bytes().to_vec()),
        // A freed block's first 16 bytes are the allocator's links: its tail outlives them.
        ("upstream key, last 24 bytes", tail(upstream_key)),
        ("`Bearer <key>` (the header sent)", format!("Bearer {upstream_key}").into_bytes()),
        ("upstream key in base64", b64(upstream_key.as_bytes())),
        ("token", token.as_bytes().to_vec()),
        ("token, last 24 bytes", tail(token)),
        ("master key (raw 32 bytes)", master),
        ("master key in base64 (KEYGATE_MASTER_KEY)", master_b64.as_bytes().to_vec()),
    ])
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).expect("random");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

async fn call(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let (_, answer) = common::call_tool(http, url, token, "echo_api", json!({"q": "hello"})).await;
    answer
}

fn print_table(title: &str, counts: &[(&str, usize)]) {
    let mut table = format!("\n{title}\n");
    for (name, count) in counts {
        table.push_str(&format!("  {count:>4}  {name}\n"));
    }
    // The figures RELIABILITY.md records: shown with --nocapture.
    std::io::Write::write_all(&mut std::io::stdout(), table.as_bytes()).expect("stdout");
}

fn count(counts: &[(&str, usize)], name: &str) -> usize {
    counts.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_calls_the_upstream_key_and_the_token_are_gone_from_the_servers_memory() {
    let gcore = Gcore::find().unwrap_or_else(|why| panic!("{why}"));
    let upstream_key = format!("sk-live-{}", random_hex(24));
    let upstream = Upstream::start(upstream_key.clone()).await;
    let kg = Kg::headless();
    kg.init();
    let tool = format!(
        "\n[[tool]]\nname = \"echo_api\"\ndescription = \"an API that needs its key\"\ncredential = \"echo_key\"\n\
         method = \"POST\"\nurl = \"{}\"\ncredential_header = \"Authorization\"\ncredential_prefix = \"Bearer \"\n\
         input_schema = {{ type = \"object\" }}\n",
        upstream.url
    );
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config") + &tool;
    std::fs::write(&config, text).expect("write config");
    kg.ok_with_stdin(&["cred", "add", "echo_key"], format!("{upstream_key}\n").as_bytes());
    let created = kg.json(&["token", "create", "--tool", "echo_api", "--json"]);
    let token = created["token"].as_str().expect("token").to_string();
    let (server, url) = start_serve(&kg);

    let http = reqwest::Client::new();
    for i in 0..CALLS {
        let answer = call(&http, &url, &token).await;
        let result = &answer["result"];
        assert_eq!(result["isError"], false, "call {i}: {answer}");
        assert!(result["content"][0]["text"].as_str().is_some_and(|t| t.contains("\"ok\":true")), "{answer}");
    }
    let master = kg.master_key.as_deref().expect("headless");
    let needles = needles(&upstream_key, master, &token);
    // The agent hangs up. Keygate's upstream connection stays in its pool for the next call.
    drop(http);
    // The outcome writer lingers a few milliseconds after a call before its commit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pooled = measure(&gcore, server.0.id(), &needles, "with the idle upstream connection still pooled");
    // The last request's header is still in that connection's write buffer, and nowhere else.
    assert!(count(&pooled, "`Bearer <key>` (the header sent)") <= 1, "the key is kept beyond the pooled connection");
    assert_eq!(count(&pooled, "upstream key"), count(&pooled, "`Bearer <key>` (the header sent)"));
    assert_eq!(count(&pooled, "token"), 0, "the token outlived the agent's connection");

    upstream.wait_until_closed().await;
    let counts = measure(&gcore, server.0.id(), &needles, "once the idle upstream connection is closed");
    for name in [
        "upstream key",
        "upstream key, last 24 bytes",
        "`Bearer <key>` (the header sent)",
        "upstream key in base64",
        "token",
        "token, last 24 bytes",
    ] {
        assert_eq!(count(&counts, name), 0, "{name} is still in the server's memory");
    }
    // The master key necessarily stays while serving, once: the vault's sealer holds its
    // AES-256 key schedule, which begins with the key (boxed, so moving the vault leaves no
    // copies behind). Its base64 form stays once, in the environment block the kernel put at
    // the top of the stack (std cannot overwrite it without unsafe code, which Keygate forbids).
    assert_eq!(count(&counts, "master key (raw 32 bytes)"), 1, "the master key is held once, in the sealer");
    assert!(count(&counts, "master key in base64 (KEYGATE_MASTER_KEY)") <= 1, "KEYGATE_MASTER_KEY was copied");
}

/// A core of `pid` searched for `needles`; the table printed, the core removed.
fn measure(gcore: &Gcore, pid: u32, needles: &Needles, when: &str) -> Vec<(&'static str, usize)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = gcore.dump(pid, dir.path());
    let bytes = std::fs::read(&core).expect("read the core");
    std::fs::remove_file(&core).expect("remove the core");
    let counts = needles.count_in(&bytes);
    let size = bytes.len() / (1024 * 1024);
    print_table(&format!("copies in a core of keygate serve ({size} MB) after {CALLS} calls, {when}:"), &counts);
    counts
}
