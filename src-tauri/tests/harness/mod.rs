//! The app with Tauri's mock runtime, for the command tests: the same IPC path the window uses,
//! on a real vault file in a temp dir, with the master key given in memory.
#![allow(dead_code)]

use std::sync::Arc;

use keygate_app::{AppState, ClientEnvironment, KeyProvider, ServerHost};
use keygate_clients::{Os, Places};
use keygate_vault::{Actor, Home, KeySource, ListedTool, ManualClock, MasterKey, Timestamp, Vault};
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

pub const NOW: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

pub struct TestApp {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// An app over a fresh home whose config binds `bind`, with the vault key from `keys`.
    pub fn with_keys(bind: &str, keys: KeyProvider) -> Self {
        Self::build(bind, keys, false)
    }

    /// An app whose client configs are under `<temp>/user` (Cursor installed) and whose
    /// `keygate` is `<temp>/bin/keygate`.
    pub fn with_clients() -> Self {
        Self::build("127.0.0.1:0", given_key(TEST_KEY), true)
    }

    pub fn build(bind: &str, keys: KeyProvider, clients: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(home.join("config.toml"), config(bind)).expect("config");
        let mut state = AppState::new(Home::at(&home), keys, Arc::new(ManualClock::new(NOW)), ServerHost::in_process());
        if clients {
            let user = dir.path().join("user");
            std::fs::create_dir_all(user.join(".cursor")).expect("cursor dir");
            std::fs::create_dir_all(dir.path().join("bin")).expect("bin");
            std::fs::write(dir.path().join("bin/keygate"), "").expect("keygate");
            let places = Places { os: Os::Linux, app_config: user.join(".config"), home: user, codex_home: None };
            state =
                state.with_client_environment(ClientEnvironment { places, keygate: dir.path().join("bin/keygate") });
        }
        let app = keygate_app::with_commands(mock_builder(), state).build(mock_context(noop_assets())).expect("app");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
        Self { _app: app, window, dir }
    }

    pub fn new() -> Self {
        Self::with_keys("127.0.0.1:0", given_key(TEST_KEY))
    }

    /// Invoke `command` as the window would.
    pub fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request).map(|body| body.deserialize::<Value>().expect("json reply"))
    }

    pub fn ok(&self, command: &str, args: Value) -> Value {
        self.invoke(command, args).unwrap_or_else(|e| panic!("{command} failed: {e}"))
    }

    /// The error a command answers, which must be exactly `{code, message}`.
    pub fn error(&self, command: &str, args: Value) -> (String, String) {
        let error = self.invoke(command, args).expect_err(command);
        let object = error.as_object().unwrap_or_else(|| panic!("not an object: {error}"));
        assert_eq!(object.len(), 2, "only code and message: {error}");
        (error["code"].as_str().expect("code").into(), error["message"].as_str().expect("message").into())
    }

    pub fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// Add `[[server]]` entries to config.toml (before the server starts, so it serves them).
    pub fn add_servers(&self, servers: &str) {
        let path = self.home().join("config.toml");
        let text = std::fs::read_to_string(&path).expect("config");
        std::fs::write(&path, format!("{text}\n{servers}")).expect("config with servers");
    }

    /// The vault as the server opens it (its own connection).
    pub fn server_vault(&self) -> Vault {
        let key = KeySource::Given(MasterKey::from_bytes(&TEST_KEY).expect("key"));
        Vault::open(&Home::at(self.home()), key, Arc::new(ManualClock::new(NOW)), Actor::Server).expect("vault")
    }

    /// Record a listing of `server`'s tools, as the gateway does when it starts one.
    pub fn list_tools_of(&self, server: &str, tools: &[(&str, &str)]) {
        let mut vault = self.server_vault();
        let listed: Vec<ListedTool> = tools
            .iter()
            .map(|(tool, description)| {
                let definition = json!({"description": description, "name": tool}).to_string();
                let mut sha256 = [0u8; 32];
                for (i, byte) in definition.bytes().enumerate() {
                    sha256[i % 32] ^= byte.rotate_left(i as u32 % 8);
                }
                ListedTool { tool: tool.to_string(), sha256, definition }
            })
            .collect();
        vault.record_tool_listing(server, &listed).expect("listing");
    }
}

pub const SERVERS: &str = r#"[[server]]
name = "echo"
command = "/bin/false"

[[server]]
name = "notion"
url = "https://mcp.notion.example/mcp"
"#;

/// Any fixed 32 bytes: each test has a vault of its own.
pub const TEST_KEY: [u8; 32] = [0x5a; 32];

pub fn given_key(key: [u8; 32]) -> KeyProvider {
    Box::new(move || Ok(KeySource::Given(MasterKey::from_bytes(&key).expect("32 bytes"))))
}

pub fn config(bind: &str) -> String {
    format!(
        r#"[listen]
bind = "{bind}"

[[tool]]
name = "web_search"
description = "Search the web"
credential = "scavio_api_key"
method = "POST"
url = "http://127.0.0.1:9/search"
credential_header = "x-api-key"
input_schema = {{ type = "object", properties = {{ query = {{ type = "string" }} }}, required = ["query"] }}
"#
    )
}

pub fn names(list: &Value) -> Vec<&str> {
    list.as_array().expect("list").iter().map(|c| c["name"].as_str().unwrap_or_default()).collect()
}
