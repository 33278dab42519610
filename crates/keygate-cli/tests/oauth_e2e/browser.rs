//! A real browser for the consent page: Debian's chromium, headless, driven through
//! chromedriver with a small W3C WebDriver client (just the commands the test needs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// chromedriver on a free port, stopped on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub fn start(chromedriver: &Path) -> Self {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let deadline = Instant::now() + STEP_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session with a fresh profile.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(driver: &Driver, chromium: &Path) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let http = reqwest::Client::new();
        let reply: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session reply");
        let id = reply["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {reply}"));
        Self { base: format!("{}/session/{id}", driver.url), http, _profile: profile }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.map_err(|e| e.to_string())?;
        let ok = reply.status().is_success();
        let value: Value = reply.json().await.map_err(|e| e.to_string())?;
        if ok { Ok(value["value"].clone()) } else { Err(value["value"].to_string()) }
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await.expect("navigate");
    }

    pub async fn current_url(&self) -> String {
        let url = self.command(reqwest::Method::GET, "/url", None).await.expect("url");
        url.as_str().unwrap_or_default().to_string()
    }

    pub async fn source(&self) -> String {
        let source = self.command(reqwest::Method::GET, "/source", None).await.expect("source");
        source.as_str().unwrap_or_default().to_string()
    }

    async fn find(&self, css: &str) -> Result<String, String> {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await?;
        found[ELEMENT_KEY].as_str().map(str::to_string).ok_or_else(|| format!("no element in {found}"))
    }

    /// Wait until `css` has text containing `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let text = match self.find(css).await {
                Ok(id) => self.command(reqwest::Method::GET, &format!("/element/{id}/text"), None).await,
                Err(e) => Err(e),
            };
            match text {
                Ok(text) if text.as_str().is_some_and(|t| t.contains(needle)) => {
                    return text.as_str().unwrap_or_default().to_string();
                }
                Ok(_) | Err(_) if Instant::now() >= deadline => {
                    let page = self.source().await;
                    panic!("{css} never showed {needle:?} at {}: {}", self.current_url().await, page)
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Click `css` as a person would.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await.unwrap_or_else(|e| panic!("find {css}: {e}"));
        self.command(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn end(self) {
        let _ = self.command(reqwest::Method::DELETE, "", None).await;
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The first of `candidates` that exists.
pub fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}
