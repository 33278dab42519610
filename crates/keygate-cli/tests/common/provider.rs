//! A mock key provider on 127.0.0.1 that records every mint and revocation and knows which
//! keys are live: OpenAI-, OpenRouter- and Cloudflare-shaped key APIs (admin key
//! `ADMIN_KEY`), the `/cmd/mint` and `/cmd/revoke` endpoints the command rotator's scripts
//! call, and `/check`, an upstream (and test probe) answering 200 only to a live key.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "admin-secret-key";

#[derive(Default)]
pub struct State {
    /// id -> (value, name)
    pub live: BTreeMap<String, (String, String)>,
    /// The most keys live at once.
    pub max_live: usize,
    pub mints: usize,
    pub revocations: usize,
    /// Command mints by attempt (the command is idempotent under its attempt).
    by_attempt: BTreeMap<String, String>,
    next: u64,
    /// Answer the next N mints with 500.
    pub fail_mints: usize,
    /// OpenAI projects made active beside `proj_1` (an archived `proj_old` is always listed).
    pub more_active_projects: Vec<String>,
}

#[derive(Clone)]
pub struct Provider {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl Provider {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock provider");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Self { port, state }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A live key that was not minted through a rotator (the first, pasted one).
    pub fn seed(&self, id: &str, value: &str) {
        let mut s = self.state.lock().expect("lock");
        s.live.insert(id.into(), (value.into(), "seeded".into()));
        s.max_live = s.max_live.max(s.live.len());
    }

    pub fn is_live(&self, value: &str) -> bool {
        self.state.lock().expect("lock").live.values().any(|(v, _)| v == value)
    }

    pub fn live_count(&self) -> usize {
        self.state.lock().expect("lock").live.len()
    }

    pub fn max_live(&self) -> usize {
        self.state.lock().expect("lock").max_live
    }

    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.lock().expect("lock");
        (s.mints, s.revocations)
    }

    pub fn fail_next_mints(&self, n: usize) {
        self.state.lock().expect("lock").fail_mints = n;
    }
}

struct Request {
    method: String,
    path: String,
    bearer: Option<String>,
    body: Value,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut bearer) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        } else if name.eq_ignore_ascii_case("authorization") {
            bearer = value.trim().strip_prefix("Bearer ").map(str::to_string);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, bearer, body: serde_json::from_slice(&body).unwrap_or(Value::Null) })
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let Some(request) = read_request(&stream) else { return };
    let (status, body) = route(&request, &mut state.lock().expect("lock"));
    let text = body.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn mint(s: &mut State, name: &str) -> Option<(String, String)> {
    if s.fail_mints > 0 {
        s.fail_mints -= 1;
        return None;
    }
    s.next += 1;
    let id = format!("key_{}", s.next);
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).expect("random");
    let value = format!("sk-mock-{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>());
    s.live.insert(id.clone(), (value.clone(), name.to_string()));
    s.mints += 1;
    s.max_live = s.max_live.max(s.live.len());
    Some((id, value))
}

fn revoke(s: &mut State, id: &str) -> bool {
    let gone = s.live.remove(id).is_some();
    s.revocations += usize::from(gone);
    gone
}

fn listing(s: &State, id_key: &str) -> Vec<Value> {
    s.live.iter().map(|(id, (_, name))| json!({ id_key: id, "name": name })).collect()
}

fn route(r: &Request, s: &mut State) -> (u16, Value) {
    let path = r.path.split('?').next().unwrap_or("");
    let live_id = |s: &State, value: &Option<String>| {
        s.live.iter().find(|(_, (v, _))| Some(v) == value.as_ref()).map(|(id, _)| id.clone())
    };
    if path == "/check" || path == "/client/v4/user/tokens/verify" {
        return match live_id(s, &r.bearer) {
            Some(id) => (200, json!({ "ok": true, "result": { "id": id, "status": "active" } })),
            None => (401, json!({ "error": "not a live key" })),
        };
    }
    if path == "/deny" {
        return (401, json!({ "error": "this probe always fails" }));
    }
    if let Some(rest) = path.strip_prefix("/cmd/") {
        return command_route(rest, &r.body, s);
    }
    if r.bearer.as_deref() != Some(ADMIN_KEY) {
        return (401, json!({ "error": "admin key required" }));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let name = r.body["name"].as_str().unwrap_or("").to_string();
    match (r.method.as_str(), segments.as_slice()) {
        // OpenAI: /v1/organization/projects, and /{p}/service_accounts[/{id}] in proj_1 only.
        ("GET", ["v1", "organization", "projects"]) => {
            let mut data =
                vec![json!({ "id": "proj_1", "status": "active" }), json!({ "id": "proj_old", "status": "archived" })];
            data.extend(s.more_active_projects.iter().map(|id| json!({ "id": id, "status": "active" })));
            (200, json!({ "object": "list", "data": data }))
        }
        (_, ["v1", "organization", "projects", project, ..]) if *project != "proj_1" => {
            (404, json!({ "error": "no such project" }))
        }
        ("POST", ["v1", "organization", "projects", _, "service_accounts"]) => match mint(s, &name) {
            Some((id, value)) => {
                (200, json!({ "id": id, "name": name, "api_key": { "id": format!("k{id}"), "value": value } }))
            }
            None => (500, json!({ "error": "mint failed" })),
        },
        ("GET", ["v1", "organization", "projects", _, "service_accounts"]) => {
            (200, json!({ "data": listing(s, "id") }))
        }
        ("DELETE", ["v1", "organization", "projects", _, "service_accounts", id])
        | ("DELETE", ["api", "v1", "keys", id])
        | ("DELETE", ["client", "v4", "user", "tokens", id]) => {
            if revoke(s, id) {
                (200, json!({ "deleted": true }))
            } else {
                (404, json!({ "error": "no such key" }))
            }
        }
        // OpenRouter: /api/v1/keys[/{hash}]
        ("POST", ["api", "v1", "keys"]) => match mint(s, &name) {
            Some((id, value)) => (200, json!({ "data": { "hash": id, "name": name }, "key": value })),
            None => (500, json!({ "error": "mint failed" })),
        },
        ("GET", ["api", "v1", "keys"]) => (200, json!({ "data": listing(s, "hash") })),
        // Cloudflare: /client/v4/user/tokens[/{id}]
        ("GET", ["client", "v4", "user", "tokens", id]) if s.live.contains_key(*id) => {
            (200, json!({ "result": { "id": id, "policies": [{ "effect": "allow" }] } }))
        }
        ("POST", ["client", "v4", "user", "tokens"]) if r.body["policies"].is_array() => match mint(s, &name) {
            Some((id, value)) => (200, json!({ "success": true, "result": { "id": id, "value": value } })),
            None => (500, json!({ "success": false })),
        },
        ("GET", ["client", "v4", "user", "tokens"]) => (200, json!({ "result": listing(s, "id") })),
        _ => (404, json!({ "error": "no such route" })),
    }
}

/// The command rotator's scripts: mint is idempotent under its attempt; revoke by id or value.
fn command_route(what: &str, body: &Value, s: &mut State) -> (u16, Value) {
    match what {
        "mint" => {
            let attempt = body["attempt"].as_str().unwrap_or("").to_string();
            if let Some(id) = s.by_attempt.get(&attempt)
                && let Some((value, _)) = s.live.get(id)
            {
                return (200, json!({ "id": id, "value": value }));
            }
            match mint(s, &format!("cmd-{attempt}")) {
                Some((id, value)) => {
                    s.by_attempt.insert(attempt, id.clone());
                    (200, json!({ "id": id, "value": value }))
                }
                None => (500, json!({ "error": "mint failed" })),
            }
        }
        "revoke" => {
            let id = match body["id"].as_str() {
                Some(id) => Some(id.to_string()),
                None => s.live.iter().find(|(_, (v, _))| body["value"].as_str() == Some(v)).map(|(id, _)| id.clone()),
            };
            if let Some(id) = id {
                revoke(s, &id);
            }
            (200, json!({ "ok": true }))
        }
        _ => (404, json!({ "error": "no such route" })),
    }
}

/// The command rotator's programs, written into `dir`: python scripts that speak the
/// stdin/stdout contract and call the mock's `/cmd/*` endpoints.
pub fn write_scripts(dir: &std::path::Path, base: &str) -> (String, String) {
    let mint = dir.join("mint-key.py");
    let revoke = dir.join("revoke-key.py");
    std::fs::write(
        &mint,
        format!(
            "import json, sys, urllib.request\n\
             req = json.load(sys.stdin)\n\
             body = json.dumps({{'attempt': req['attempt'], 'credential': req['credential']}}).encode()\n\
             out = json.load(urllib.request.urlopen(urllib.request.Request('{base}/cmd/mint', data=body, method='POST')))\n\
             print(json.dumps({{'value': out['value'], 'id': out['id']}}))\n"
        ),
    )
    .expect("write mint script");
    std::fs::write(
        &revoke,
        format!(
            "import json, sys, urllib.request\n\
             req = json.load(sys.stdin)\n\
             body = json.dumps({{'id': req['id'], 'value': req['value']}}).encode()\n\
             urllib.request.urlopen(urllib.request.Request('{base}/cmd/revoke', data=body, method='POST')).read()\n"
        ),
    )
    .expect("write revoke script");
    (mint.display().to_string(), revoke.display().to_string())
}

/// The real python3 (not a shim), so each rotator run starts it quickly.
pub fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for the command rotator's test scripts");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_string()
}

/// Append `text` to the home's config.toml.
pub fn append_config(home: &std::path::Path, text: &str) {
    let path = home.join("config.toml");
    let mut config = std::fs::read_to_string(&path).expect("read config");
    config.push_str(text);
    std::fs::write(&path, config).expect("write config");
}

/// A `[rotator.NAME]` of kind command using the mock's scripts, with the live-key probe.
pub fn command_rotator(name: &str, provider: &Provider, dir: &std::path::Path) -> String {
    let (mint, revoke) = write_scripts(dir, &provider.base());
    let py = python();
    format!(
        "\n[rotator.{name}]\nkind = \"command\"\ncommand = [\"{py}\", \"-S\", \"{mint}\"]\n\
         revoke_command = [\"{py}\", \"-S\", \"{revoke}\"]\ntimeout_secs = 20\n\
         test = {{ url = \"{base}/check\", prefix = \"Bearer \" }}\n",
        base = provider.base()
    )
}
