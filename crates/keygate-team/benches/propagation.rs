//! How long a rotation on one machine takes to be served by another: machine B runs the real
//! sync loop (`run_sync_loop`, its login in the OS keychain, `refresh_seconds` =
//! `TEAM_REFRESH`, default 5) against a real OpenBao; machine A writes a new version; the time
//! is until B's vault opens the new value. Then the same with the nudge an upstream's 401 gives
//! the loop (B's next call with the old key is refused). `TEAM_RUNS` rotations each (default 20).
//!
//! Needs the OS keychain: `scripts/with-desktop cargo bench -p keygate-team --bench propagation`
#![allow(clippy::print_stdout)] // a report: printing is its output

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_team::{Login, run_sync_loop, store_login};
use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, Vault};
use secrecy::{ExposeSecret, SecretString};
use support::{ROOT, number, summary, team_section};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const NAME: &str = "search_key";

fn open(home: &Home) -> Vault {
    let key = KeySource::Given(MasterKey::from_bytes(&[7; 32]).expect("key"));
    Vault::open(home, key, Arc::new(SystemClock), Actor::Server).expect("open")
}

/// Wait until machine B's vault serves `value`; how long that took from `since`.
async fn served(b: &Home, value: &str, since: Instant) -> Duration {
    let vault = open(b);
    loop {
        if vault.open_credential(NAME).is_ok_and(|c| c.value.expose_secret() == value) {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(120), "machine B never served the new version");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (refresh, runs) = (number("TEAM_REFRESH", 5) as u64, number("TEAM_RUNS", 20));
    let scratch = tempfile::tempdir().expect("scratch");
    let (_server, remote, port) = support::start_team(scratch.path()).await;
    let b = Home::at(scratch.path().join("machine-b"));
    Vault::init(&b, KeySource::Given(MasterKey::from_bytes(&[7; 32]).expect("key")), &SystemClock).expect("init");
    std::fs::write(b.config_path(), team_section(port, refresh)).expect("config.toml");
    let b_vault = open(&b);
    store_login(b_vault.id(), &Login { secret: SecretString::from(ROOT) }).expect("login in the keychain");
    let (nudge, stop) = (Arc::new(Notify::new()), CancellationToken::new());
    tokio::spawn(run_sync_loop(b_vault, b.config_path(), Arc::clone(&nudge), stop.clone()));

    let mut version = remote.create(NAME, &SecretString::from("sk-0"), None).await.expect("create");
    served(&b, "sk-0", Instant::now()).await;
    let (mut waited, mut nudged) = (Vec::new(), Vec::new());
    for run in 0..runs * 2 {
        let value = format!("sk-{}", run + 1);
        let started = Instant::now();
        version = remote.update(NAME, &SecretString::from(value.clone()), version).await.expect("rotate on A");
        if run < runs {
            waited.push(served(&b, &value, started).await);
        } else {
            nudge.notify_one();
            nudged.push(served(&b, &value, started).await);
        }
        // The next rotation lands at another point of B's refresh cycle (spread over it).
        tokio::time::sleep(Duration::from_millis((run as u64 * 1777) % (refresh * 1000))).await;
    }
    stop.cancel();
    println!("a rotation on machine A served by machine B (bao server -dev, refresh_seconds = {refresh}):");
    summary("within the refresh", waited);
    summary("with an upstream's 401 nudge", nudged);
}
