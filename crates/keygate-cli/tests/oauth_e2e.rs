//! OAuth end to end with real parts: `keygate serve`, the official MCP Python SDK's OAuth
//! client provider (tests/oauth-client, in the venv scripts/setup makes), and the consent page
//! approved in a real browser (headless chromium through chromedriver). Then a tool call, the
//! SDK refreshing by itself, a replayed refresh token revoking the family, a second sign-in,
//! and revoking the grant ending it.

mod common;

#[path = "oauth_e2e/browser.rs"]
mod browser;
#[path = "oauth_e2e/upstream.rs"]
mod upstream;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use browser::{Browser, Driver, find_program};
use common::{Kg, Running, start_serve};
use keygate_vault::GrantRequest;
use secrecy::SecretString;
use serde_json::Value;

const CLIENT_NAME: &str = "Keygate E2E <Python SDK>";

/// The venv's Python, chromium and chromedriver, or a clear failure naming what to run.
fn prerequisites() -> (PathBuf, PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("tests/oauth-client/.venv/bin/python");
    let chromium = find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let chromedriver = find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let mut missing = Vec::new();
    if !python.is_file() {
        missing.push(format!("the MCP Python SDK venv ({})", python.display()));
    }
    if chromium.is_none() {
        missing.push("chromium (/usr/bin/chromium)".into());
    }
    if chromedriver.is_none() {
        missing.push("chromedriver (/usr/bin/chromedriver)".into());
    }
    assert!(missing.is_empty(), "the OAuth end-to-end test needs {}: run scripts/setup", missing.join(", "));
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else { unreachable!() };
    (python, chromium, chromedriver)
}

/// A home whose web_search tool calls the test upstream with its key in the vault, and a
/// grant whose tokens live 2 s (so the SDK refreshes within the test).
fn prepared_home() -> (Kg, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let kg = Kg::headless();
    kg.init();
    let (search_url, good_calls) = upstream::start();
    let config_path = kg.home().join("config.toml");
    let config = std::fs::read_to_string(&config_path).expect("config");
    let config: String = config
        .lines()
        .map(|line| if line.starts_with("url = ") { format!("url = \"{search_url}\"") } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config_path, config).expect("write config");
    let mut vault = kg.open_in_process();
    vault.add_credential("scavio_api_key", &SecretString::from(upstream::KEY), None).expect("add key");
    let grant =
        GrantRequest { token_ttl: Duration::from_secs(2), ..GrantRequest::new("e2e", vec!["web_search".into()]) };
    vault.create_grant(&grant).expect("grant");
    (kg, good_calls)
}

/// The Python client's events, one JSON object per line.
struct Client {
    events: Receiver<Value>,
    stdin: ChildStdin,
    _process: Running,
}

impl Client {
    fn start(python: &PathBuf, url: &str) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oauth-client/e2e_client.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python client");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (send, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event =
                    serde_json::from_str(&line).unwrap_or_else(|_| serde_json::json!({"event": "text", "line": line}));
                if send.send(event).is_err() {
                    break;
                }
            }
        });
        Self { events, stdin, _process: Running(child) }
    }

    /// The next event, which must be `name`.
    fn expect(&self, name: &str) -> Value {
        let event = match self.events.recv_timeout(Duration::from_secs(60)) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => panic!("no {name:?} from the Python client within 60 s"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the Python client ended before {name:?} (its stderr is above)")
            }
        };
        assert_eq!(event["event"], name, "{event}");
        event
    }

    fn tell(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the client");
    }
}

/// The person: open the authorization URL, check the page names the client, press Allow.
async fn approve_in_browser(browser: &Browser, authorize: &Value) {
    let url = authorize["url"].as_str().expect("url");
    assert!(url.contains("code_challenge_method=S256") && url.contains("resource="), "{url}");
    browser.goto(url).await;
    let heading = browser.wait_text("h1", "Allow").await;
    assert!(heading.contains(CLIENT_NAME), "the page names the client: {heading}");
    let source = browser.source().await;
    assert!(source.contains("Keygate E2E &lt;Python SDK&gt;") && !source.contains("<Python SDK>"), "escaped");
    assert!(browser.current_url().await.contains("/oauth/consent?request="));
    browser.click("button[value=approve]").await;
    browser.wait_text("#done", "Signed in").await;
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_in_through_the_consent_page_refreshes_and_is_cut_off() {
    let (python, chromium, chromedriver) = prerequisites();
    let (kg, good_calls) = prepared_home();
    let (_server, url) = start_serve(&kg);
    let driver = Driver::start(&chromedriver);
    let browser = Browser::start(&driver, &chromium).await;
    let mut client = Client::start(&python, &url);

    // Sign-in 1: registration, consent in the browser, a call with the key injected.
    block(|| client.expect("registered"));
    let authorize = block(|| client.expect("authorize"));
    approve_in_browser(&browser, &authorize).await;
    block(|| client.expect("callback"));
    let first = block(|| client.expect("tokens"));
    assert_eq!(first["expires_in"], 2, "a token of the chosen grant: {first}");
    assert_eq!(block(|| client.expect("tools"))["names"], serde_json::json!(["web_search"]));
    let called = block(|| client.expect("called"));
    assert_eq!(called["is_error"], false, "{called}");
    assert!(called["text"].as_str().is_some_and(|t| t.contains(upstream::ANSWER)), "{called}");

    // The access token expired: the SDK refreshed it by itself, and the refresh token rotated.
    let second = block(|| client.expect("tokens"));
    assert_ne!(second["access"], first["access"]);
    assert_ne!(second["refresh"], first["refresh"], "refresh tokens rotate on every use");
    assert_eq!(block(|| client.expect("called"))["is_error"], false, "the session went on with the new token");
    assert_eq!(good_calls.load(Ordering::SeqCst), 2);

    // The first refresh token replayed: refused, and the whole family with its access tokens dies.
    let replay = block(|| client.expect("raw"));
    assert_eq!(
        (replay["refresh_status"].as_u64(), replay["refresh_error"].as_str()),
        (Some(400), Some("invalid_grant")),
        "{replay}"
    );
    assert_eq!(replay["mcp_status"], 200, "the current access token worked until the replay: {replay}");
    let after = block(|| client.expect("raw"));
    assert_eq!((after["mcp_status"].as_u64(), after["refresh_status"].as_u64()), (Some(401), Some(400)), "{after}");
    assert_eq!(after["refresh_error"], "invalid_grant", "the newest refresh token died with its family");

    // Sign-in 2 with the same registration, then the grant is revoked.
    let authorize = block(|| client.expect("authorize"));
    approve_in_browser(&browser, &authorize).await;
    block(|| client.expect("callback"));
    block(|| client.expect("tokens"));
    block(|| client.expect("tools"));
    assert_eq!(block(|| client.expect("called"))["is_error"], false);
    block(|| client.expect("revoke_now"));
    assert!(kg.open_in_process().revoke_grant("e2e").expect("revoke"));
    client.tell("revoked");
    let revoked = block(|| client.expect("raw"));
    assert_eq!(revoked["mcp_status"], 401, "{revoked}");
    assert_eq!(
        (revoked["refresh_status"].as_u64(), revoked["refresh_error"].as_str()),
        (Some(400), Some("invalid_grant")),
        "{revoked}"
    );
    block(|| client.expect("done"));
    assert!(kg.open_in_process().list_pending_consents().expect("list").is_empty(), "nothing left waiting");
    browser.end().await;
}
