//! A small W3C WebDriver client for driving the app through tauri-driver: just the commands
//! the end-to-end test needs, each retried until a deadline, since views re-render on change.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a step may wait for the UI before the test fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// One app under WebDriver at a time: each is a web view and an agent on a 2-core machine,
/// and side by side they starved each other past the step timeouts.
static ONE_APP_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running tauri-driver, stopped on drop.
pub struct TauriDriver {
    child: Child,
    pub url: String,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl TauriDriver {
    /// Start tauri-driver on free ports, with WebKitWebDriver as the native driver. The app it
    /// launches inherits `envs` on top of this process's environment.
    pub fn start(envs: &[(&str, &Path)]) -> Self {
        let turn = ONE_APP_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let port = crate::support::free_port();
        let native_port = crate::support::free_port();
        let mut command = Command::new(crate::support::tool("tauri-driver"));
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Its own process group, so stopping it also stops the WebKitWebDriver it starts (left
        // behind, that one holds the test's output pipe open).
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        for (name, value) in envs {
            command.env(name, value);
        }
        let child = command.spawn().expect("start tauri-driver (install it: cargo install tauri-driver --locked)");
        crate::support::wait_for_port(port);
        // tauri-driver answers before the WebKitWebDriver it starts does; a session asked for
        // in between had its connection dropped (seen once in CI as hyper's IncompleteMessage).
        crate::support::wait_for_port(native_port);
        Self { child, url: format!("http://127.0.0.1:{port}"), _turn: turn }
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: the app with its window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    /// Launch `application` with `args` through the driver.
    pub async fn start(driver: &TauriDriver, application: &Path, args: &[&str]) -> Self {
        let http = reqwest::Client::new();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry", "tauri:options": { "application": application, "args": args }
        }}});
        let reply: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session reply");
        let id = reply["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {reply}")).to_string();
        Self { http, base: format!("{}/session/{id}", driver.url) }
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

    async fn find(&self, css: &str) -> Result<String, String> {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await?;
        found[ELEMENT_KEY].as_str().map(str::to_string).ok_or_else(|| format!("no element in {found}"))
    }

    /// Retry `step` until it succeeds or the deadline passes.
    async fn retry<T, F, Fut>(&self, what: &str, timeout: Duration, mut step: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            match step().await {
                Ok(value) => return value,
                Err(e) if Instant::now() >= deadline => {
                    let page = self.visible_text().await;
                    panic!("{what}: still failing after {timeout:?}: {e}\nthe page then showed:\n{page}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// What the window shows (its visible text, cut), for a failure to say what was there instead.
    async fn visible_text(&self) -> String {
        let script = "return document.body ? document.body.innerText.slice(0, 4000) : '(no body)'";
        match self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await {
            Ok(text) => text.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(could not read the page: {e})"),
        }
    }

    /// Wait until `css` matches an element whose text contains `needle`; return that text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait_text_within(css, needle, STEP_TIMEOUT).await
    }

    /// [`Session::wait_text`] with its own deadline.
    pub async fn wait_text_within(&self, css: &str, needle: &str, timeout: Duration) -> String {
        self.retry(&format!("text of {css} containing {needle:?}"), timeout, || async {
            let text = self.text_of(css).await?;
            if text.contains(needle) { Ok(text) } else { Err(format!("text is {text:?}")) }
        })
        .await
    }

    async fn text_of(&self, css: &str) -> Result<String, String> {
        let id = self.find(css).await?;
        let text = self.command(reqwest::Method::GET, &format!("/element/{id}/text"), None).await?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    /// The value of `attribute` on `css`, once the element exists and has it.
    pub async fn wait_attribute(&self, css: &str, attribute: &str) -> String {
        self.retry(&format!("attribute {attribute} of {css}"), STEP_TIMEOUT, || async {
            let id = self.find(css).await?;
            let value =
                self.command(reqwest::Method::GET, &format!("/element/{id}/attribute/{attribute}"), None).await?;
            value.as_str().map(str::to_string).ok_or_else(|| "not set".to_string())
        })
        .await
    }

    /// Click `css` once it is there.
    pub async fn click(&self, css: &str) {
        self.retry(&format!("click {css}"), STEP_TIMEOUT, || async {
            let id = self.find(css).await?;
            self.command(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await.map(drop)
        })
        .await;
    }

    /// Replace the value of the input `css` with `text`, typed as a user would.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.retry(&format!("type into {css}"), STEP_TIMEOUT, || async {
            let id = self.find(css).await?;
            self.command(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await?;
            self.command(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text})))
                .await
                .map(drop)
        })
        .await;
    }

    /// Press Ctrl+`key` with the focus in the input `css`. A key that closes the window (and
    /// ends the app's process) ends the command with "no such window" or, when the process is
    /// gone first, "unknown error": both are what it was meant to do.
    pub async fn press_ctrl(&self, css: &str, key: char) {
        let id = self.retry(&format!("find {css}"), STEP_TIMEOUT, || self.find(css)).await;
        let chord = format!("\u{E009}{key}\u{E000}");
        let sent =
            self.command(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": chord}))).await;
        if let Err(e) = sent {
            assert!(e.contains("no such window") || e.contains("unknown error"), "ctrl+{key} in {css}: {e}");
        }
    }

    /// How many windows the app has open (0 once the last one closed).
    pub async fn window_count(&self) -> usize {
        match self.command(reqwest::Method::GET, "/window/handles", None).await {
            Ok(handles) => handles.as_array().map_or(0, Vec::len),
            // The window's process is gone with its window (WebKitWebDriver says "unknown error"
            // when the process went away during the request, as press_ctrl sees too).
            Err(e)
                if e.contains("no such window")
                    || e.contains("invalid session")
                    || e.contains("unknown error")
                    || !e.starts_with('{') =>
            {
                0
            }
            Err(e) => panic!("window handles: {e}"),
        }
    }

    /// Run `script` in the page (a function body; `return` gives its value back).
    pub async fn eval(&self, script: &str) -> Value {
        self.retry("run a script", STEP_TIMEOUT, || async {
            self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
        })
        .await
    }

    /// Wait until `script` returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        self.retry(what, STEP_TIMEOUT, || async {
            let value = self
                .command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
                .await?;
            if value == Value::Bool(true) { Ok(()) } else { Err(format!("got {value}")) }
        })
        .await;
    }

    /// Resize the window (for screenshots that show a whole view).
    pub async fn resize(&self, width: u32, height: u32) {
        let rect = json!({"width": width, "height": height});
        self.command(reqwest::Method::POST, "/window/rect", Some(rect)).await.expect("resize the window");
    }

    /// Save a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let data = self.command(reqwest::Method::GET, "/screenshot", None).await.expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap_or_default()).expect("base64");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// End the session; the driver closes the app.
    pub async fn end(self) {
        let _ = self.command(reqwest::Method::DELETE, "", None).await;
    }
}
