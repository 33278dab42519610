//! Rotators and rollback on a team credential (real OpenBao, a mock provider on 127.0.0.1):
//! the rotator's tested key is published to the team before it becomes current, so one
//! machine's rotation is every machine's; a machine that rotates from a version a teammate
//! already replaced loses, and its new key is revoked; a rollback restores the team's version
//! before the one held, and only if that key still passes the test; a policy set on one
//! machine is the team's; and `keygate serve` finishes a team rotation a killed run left.

use serde_json::Value;

use super::{Bao, machine, start_upstream, team_copies, wait_until};
use crate::common::provider::{ADMIN_KEY, Provider, append_config};
use crate::common::{Kg, assert_fails, start_serve};

const NAME: &str = "search_key";

/// A machine logged in to `bao`, with a local admin key and an OpenRouter-shaped rotator for
/// the team credential.
fn rotating_machine(bao: &Bao, upstream: &str, provider: &Provider) -> Kg {
    let kg = machine(&bao.address, upstream);
    kg.ok_with_stdin(&["team", "login"], format!("{}\n", bao.root).as_bytes());
    kg.ok_with_stdin(&["cred", "add", "admin"], format!("{ADMIN_KEY}\n").as_bytes());
    let rotator = format!(
        "\n[rotator.{NAME}]\nkind = \"openrouter\"\nadmin_credential = \"admin\"\nbase_url = \"{base}\"\n\
         test = {{ url = \"{base}/check\", prefix = \"Bearer \" }}\n",
        base = provider.base()
    );
    append_config(&kg.home(), &rotator);
    kg
}

/// OpenBao, an upstream, and a provider whose first key `sk-seeded` is live.
struct Team {
    bao: Bao,
    upstream: String,
    provider: Provider,
    _scratch: tempfile::TempDir,
}

impl Team {
    async fn start() -> Self {
        let scratch = tempfile::tempdir().expect("scratch");
        let bao = Bao::start(scratch.path(), &scratch.path().join("bao-audit.log")).await;
        let (upstream, _) = start_upstream();
        let provider = Provider::start();
        provider.seed("seed_1", "sk-seeded");
        Self { bao, upstream, provider, _scratch: scratch }
    }

    fn machine(&self) -> Kg {
        rotating_machine(&self.bao, &self.upstream, &self.provider)
    }
}

fn value(kg: &Kg) -> String {
    use secrecy::ExposeSecret;
    kg.open_in_process().open_credential(NAME).expect("open").value.expose_secret().to_string()
}

async fn team_version(bao: &Bao) -> Value {
    bao.versions(NAME).await["current_version"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotator_rotates_a_team_key_once_for_every_machine() {
    let team = Team::start().await;
    let (bao, provider) = (&team.bao, &team.provider);
    let (laptop, desktop) = (team.machine(), team.machine());
    laptop.ok_with_stdin(&["cred", "add", NAME, "--team"], b"sk-seeded\n");
    desktop.ok(&["team", "sync"]);

    // The laptop's rotator mints, tests and publishes: the team's version 2 is the new key.
    let out = laptop.ok(&["cred", "rotate", NAME]);
    assert!(out.contains("published to the team"), "{out}");
    let minted = value(&laptop);
    assert!(provider.is_live(&minted) && minted != "sk-seeded");
    assert_eq!(team_version(bao).await, 2);
    assert_eq!(team_copies(&laptop), [(NAME.to_string(), 2)]);
    let shown = laptop.json(&["cred", "show", NAME, "--json"]);
    assert_eq!(shown["versions"][0]["team_version"], 2, "cred show names the team version: {shown}");
    assert!(laptop.ok(&["cred", "show", NAME]).contains(" v2"), "the TEAM column");

    // The desktop, still on version 1, rotates too: it loses, and the key it minted is revoked.
    assert_fails(&desktop.run(&["cred", "rotate", NAME]), 1, "changed first (a teammate rotated or removed it)");
    assert_eq!(provider.counts(), (2, 1), "two mints, the loser's key revoked");
    assert_eq!(team_version(bao).await, 2, "nothing written over the laptop's version");
    assert_eq!(value(&desktop), "sk-seeded", "the desktop's copy is untouched until it syncs");
    desktop.ok(&["team", "sync"]);
    assert_eq!(value(&desktop), minted);

    // Rollback: the team's version 1 is written again as version 3, on both machines.
    let out = laptop.ok(&["cred", "rollback", NAME]);
    assert!(out.contains("team version 1's key is the team's version 3"), "{out}");
    assert_eq!(value(&laptop), "sk-seeded");
    desktop.ok(&["team", "sync"]);
    assert_eq!(value(&desktop), "sk-seeded");

    // A rollback to a key revoked at the provider since fails its test and writes nothing.
    laptop.ok(&["cred", "rotate", NAME]);
    provider.state.lock().expect("lock").live.remove("seed_1");
    assert_fails(&laptop.run(&["cred", "rollback", NAME]), 1, "the test step failed");
    assert_eq!(team_version(bao).await, 4);

    // A policy set on one machine is the team's: the other's sync applies it.
    laptop.ok(&["cred", "set", NAME, "--max-age-days", "7"]);
    let meta = bao.versions(NAME).await;
    assert_eq!(meta["custom_metadata"]["keygate_max_age_days"], "7", "{meta}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygate_serve_finishes_a_team_rotation_a_killed_run_left() {
    let team = Team::start().await;
    let (bao, provider) = (&team.bao, &team.provider);
    let laptop = team.machine();
    laptop.ok_with_stdin(&["cred", "add", NAME, "--team"], b"sk-seeded\n");
    laptop.open_in_process().begin_rotation(NAME).expect("a run that died after starting");
    let (_serve, _url) = start_serve(&laptop);
    wait_until("serve publishes the rotation", async || team_version(bao).await == 2).await;
    wait_until("and makes it current here", async || team_copies(&laptop) == [(NAME.to_string(), 2)]).await;
    assert!(provider.is_live(&value(&laptop)));
}

#[test]
fn without_a_team_a_team_copy_is_not_rotated_by_its_rotator() {
    let provider = Provider::start();
    let kg = Kg::headless();
    kg.init();
    let mut vault = kg.open_in_process();
    let secret = secrecy::SecretString::from("sk-seeded");
    vault.store_team_version(NAME, &secret, 1, None).expect("a copy synced earlier");
    drop(vault);
    kg.ok_with_stdin(&["cred", "add", "admin"], format!("{ADMIN_KEY}\n").as_bytes());
    append_config(
        &kg.home(),
        &format!(
            "\n[rotator.{NAME}]\nkind = \"openrouter\"\nadmin_credential = \"admin\"\nbase_url = \"{}\"\n",
            provider.base()
        ),
    );
    assert_fails(&kg.run(&["cred", "rotate", NAME]), 2, "has no [team]");
    assert_eq!(provider.counts(), (0, 0), "nothing minted");
}
