//! What one team sync costs against a real OpenBao (`bao server -dev` from tests/openbao, which
//! scripts/setup installs), with `TEAM_SECRETS` secrets (default 100) under the team's path:
//! the first sync (every copy added), a sync with nothing new (one LIST, one metadata read per
//! secret), and a sync after one secret was rotated. Each timed `TEAM_RUNS` times (default 20).
//!
//! `cargo bench -p keygate-team --bench sync`
#![allow(clippy::print_stdout)] // a report: printing is its output

mod support;

use std::sync::Arc;
use std::time::Instant;

use keygate_team::sync;
use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, Vault};
use secrecy::SecretString;
use support::{number, summary};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (secrets, runs) = (number("TEAM_SECRETS", 100), number("TEAM_RUNS", 20));
    let scratch = tempfile::tempdir().expect("scratch");
    let (_server, remote, _) = support::start_team(scratch.path()).await;
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
