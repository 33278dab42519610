//! The kill -9 campaign of issue 12: `keygate cred rotate` killed at random points, over and
//! over, with a command rotator and a built-in (Cloudflare-shaped) one. After every kill the
//! vault opens, its current key is one the mock provider considers live, and the provider
//! never held more than two live keys (current + previous); along the way and at the end
//! `keygate cred show` and a call through the running MCP server work with the current key.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::provider::{ADMIN_KEY, Provider, append_config, command_rotator};
use common::{Bridge, Kg, start_serve};
use secrecy::ExposeSecret;
use serde_json::json;

/// What a campaign saw, for RELIABILITY.md.
#[derive(Debug, Default)]
struct Tally {
    killed_mid_run: usize,
    /// The last step the log had committed when a run was killed, counted.
    last_step: std::collections::BTreeMap<String, usize>,
    finished_before_kill: usize,
    mcp_calls: usize,
}

fn random_below(limit: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    u64::from_le_bytes(bytes) % limit.max(1)
}

/// A `[[tool]]` whose upstream is the mock's `/check` with `k` as a bearer key.
fn tool(provider: &Provider) -> String {
    format!(
        "\n[[tool]]\nname = \"probe\"\ndescription = \"answers 200 to a live key\"\ncredential = \"k\"\n\
         method = \"GET\"\nurl = \"{}/check\"\ncredential_header = \"Authorization\"\ncredential_prefix = \"Bearer \"\n\
         input_schema = {{ type = \"object\", properties = {{}} }}\n",
        provider.base()
    )
}

fn call_through_server(bridge: &mut Bridge, id: u64) {
    let reply = bridge.request(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "probe", "arguments": {}}}));
    assert_ne!(reply["result"]["isError"], true, "the call failed: {reply}");
    let text = reply["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("\"ok\":true"), "the upstream refused the current key: {reply}");
}

/// The checks after every kill.
fn assert_working(kg: &Kg, provider: &Provider, round: usize) {
    let vault = kg.open_in_process();
    let current = vault.open_credential("k").unwrap_or_else(|e| panic!("round {round}: no current version: {e}"));
    assert!(provider.is_live(current.value.expose_secret()), "round {round}: the current key is not live");
    assert!(provider.live_count() <= 2, "round {round}: {} live keys", provider.live_count());
    assert!(provider.max_live() <= 2, "round {round}: {} keys were live at once", provider.max_live());
    vault.credential_detail("k").unwrap_or_else(|e| panic!("round {round}: {e}"));
}

/// Time one uninterrupted rotation, so kills land anywhere within one.
fn one_rotation(kg: &Kg) -> Duration {
    let start = Instant::now();
    kg.ok(&["cred", "rotate", "k"]);
    start.elapsed()
}

#[allow(clippy::print_stderr)]
fn campaign(kg: &Kg, provider: &Provider, kills: usize, label: &str) -> Tally {
    let (_server, url) = start_serve(kg);
    let created = kg.json(&["token", "create", "--tool", "probe", "--json"]);
    let (mut bridge, _) = Bridge::connect(kg, &url, created["token"].as_str().expect("token"));
    let span = one_rotation(kg).as_millis() as u64 + 20;
    let mut tally = Tally::default();
    let mut round = 0;
    // Until `kills` runs were killed mid-run (a run that finished first does not count).
    while tally.killed_mid_run < kills {
        round += 1;
        assert!(round < kills * 3, "kills keep missing the runs: {tally:?}");
        let mut child = kg
            .command(&["cred", "rotate", "k"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keygate");
        std::thread::sleep(Duration::from_millis(random_below(span)));
        match child.try_wait().expect("poll") {
            Some(_) => tally.finished_before_kill += 1,
            None => {
                child.kill().expect("kill -9");
                tally.killed_mid_run += 1;
                child.wait().expect("reap");
                let log = kg.open_in_process().rotation_log().expect("log");
                let last = log.last().map_or("none".to_string(), |e| e.action.clone());
                *tally.last_step.entry(last).or_default() += 1;
            }
        }
        let _ = child.wait();
        assert_working(kg, provider, round);
        if round % 25 == 24 {
            kg.ok(&["cred", "show", "k"]);
            call_through_server(&mut bridge, round as u64 + 10);
            tally.mcp_calls += 1;
        }
    }
    // The end: a run that is not killed finishes whatever was left, and everything works.
    kg.ok(&["cred", "rotate", "k"]);
    assert_working(kg, provider, round + 1);
    let shown = kg.json(&["cred", "show", "k", "--json"]);
    assert_eq!(shown["attempt"], serde_json::Value::Null, "{shown}");
    call_through_server(&mut bridge, 1);
    tally.mcp_calls += 1;
    let vault = kg.open_in_process();
    assert_eq!(vault.verify_rows().expect("verify"), [], "every row still verifies");
    assert!(vault.verify_rotation_log().expect("chain").broken.is_none(), "the rotation log chain holds");
    let (mints, revocations) = provider.counts();
    eprintln!(
        "campaign {label}: {round} rounds, {} killed mid-run, {} finished first, span {span} ms, \
         {mints} mints, {revocations} revocations, max live {}, {} MCP calls ok; last step logged at each kill: {:?}",
        tally.killed_mid_run,
        tally.finished_before_kill,
        provider.max_live(),
        tally.mcp_calls,
        tally.last_step
    );
    tally
}

#[test]
fn kill_9_during_command_rotations_never_loses_the_current_key() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let kg = Kg::headless();
    kg.init();
    provider.seed("seed_1", "sk-seeded-first");
    kg.ok_with_stdin(&["cred", "add", "k"], b"sk-seeded-first\n");
    append_config(&kg.home(), &command_rotator("k", &provider, dir.path()));
    append_config(&kg.home(), &tool(&provider));
    let tally = campaign(&kg, &provider, 120, "command, grace 0");
    assert_eq!(tally.killed_mid_run, 120);
}

#[test]
fn kill_9_during_built_in_rotations_never_loses_the_current_key() {
    let provider = Provider::start();
    let kg = Kg::headless();
    kg.init();
    provider.seed("seed_1", "sk-seeded-first");
    kg.ok_with_stdin(&["cred", "add", "k"], b"sk-seeded-first\n");
    kg.ok_with_stdin(&["cred", "add", "admin"], format!("{ADMIN_KEY}\n").as_bytes());
    kg.ok(&["cred", "set", "k", "--grace", "1h"]);
    let rotator = format!(
        "\n[rotator.k]\nkind = \"cloudflare\"\nadmin_credential = \"admin\"\nbase_url = \"{base}\"\n\
         test = {{ url = \"{base}/check\", prefix = \"Bearer \" }}\n",
        base = provider.base()
    );
    append_config(&kg.home(), &rotator);
    append_config(&kg.home(), &tool(&provider));
    let tally = campaign(&kg, &provider, 100, "cloudflare, grace 1h");
    assert_eq!(tally.killed_mid_run, 100);
}
