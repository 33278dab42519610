//! `keygate cred rotate NAME` through a rotator (issue 12), against a mock provider on
//! 127.0.0.1 that records mints and revocations: full rotations (command, openai,
//! openrouter, cloudflare), grace and rollback, failed tests, provider errors, a command that
//! fails, hangs, prints garbage or too much, and the idempotent resume of an interrupted
//! attempt.

mod common;

use common::provider::{ADMIN_KEY, Provider, append_config, command_rotator};
use common::{Kg, assert_fails};
use secrecy::ExposeSecret;

fn actions(kg: &Kg) -> Vec<String> {
    let log = kg.json(&["log", "--json"]);
    log.as_array().expect("log").iter().map(|e| e["action"].as_str().expect("action").to_string()).collect()
}

fn current_value(kg: &Kg, name: &str) -> String {
    kg.open_in_process().open_credential(name).expect("open").value.expose_secret().to_string()
}

/// A home with credential `k` = a live seeded key, and `rotator` appended to config.toml.
fn home_with(provider: &Provider, rotator: &str) -> Kg {
    let kg = Kg::headless();
    kg.init();
    provider.seed("seed_1", "sk-seeded-first");
    kg.ok_with_stdin(&["cred", "add", "k"], b"sk-seeded-first\n");
    kg.ok_with_stdin(&["cred", "add", "admin"], format!("{ADMIN_KEY}\n").as_bytes());
    append_config(&kg.home(), rotator);
    kg
}

#[test]
fn a_command_rotator_creates_tests_promotes_and_revokes() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let kg = home_with(&provider, &command_rotator("k", &provider, dir.path()));
    let out = kg.ok(&["cred", "rotate", "k"]);
    assert!(out.contains("through its command rotator: now version 2"), "{out}");
    let value = current_value(&kg, "k");
    assert!(provider.is_live(&value) && value != "sk-seeded-first");
    assert!(!provider.is_live("sk-seeded-first"), "grace 0: the old key is revoked at once");
    assert_eq!(provider.live_count(), 1);
    assert_eq!(actions(&kg)[2..], ["started", "pending", "tested", "rotated", "revoked"]);
    assert!(!out.contains(&value), "the value is never printed");

    // With a grace the old key stays live for rollback; the next rotation retires it first.
    kg.ok(&["cred", "set", "k", "--grace", "24h"]);
    kg.ok(&["cred", "rotate", "k"]);
    assert_eq!(provider.live_count(), 2, "current + previous");
    kg.ok(&["cred", "rollback", "k"]);
    assert_eq!(current_value(&kg, "k"), value, "rolled back to a key that is still live");
    kg.ok(&["cred", "rotate", "k"]);
    assert_eq!(provider.live_count(), 2, "never more than current + previous");
    assert!(provider.max_live() <= 2, "max live {}", provider.max_live());
    let shown = kg.json(&["cred", "show", "k", "--json"]);
    let states: Vec<&str> =
        shown["versions"].as_array().expect("v").iter().map(|v| v["state"].as_str().expect("s")).collect();
    assert_eq!(states, ["current", "previous"]);
    assert!(shown["versions"][0]["provider_id"].is_string(), "{shown}");
}

#[test]
fn a_failed_test_never_promotes_and_revokes_the_new_key() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let rotator = command_rotator("k", &provider, dir.path()).replace("/check", "/deny");
    let kg = home_with(&provider, &rotator);
    let out = kg.run(&["cred", "rotate", "k"]);
    assert_fails(&out, 1, "the test step failed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the new key was revoked"), "{out:?}");
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
    assert_eq!(provider.live_count(), 1, "only the current key is live");
    assert_eq!(provider.counts(), (1, 1), "one mint, one revocation");
    assert_eq!(actions(&kg).last().map(String::as_str), Some("test_failed"));
    let shown = kg.json(&["cred", "show", "k", "--json"]);
    assert_eq!(shown["versions"].as_array().expect("v").len(), 1, "the pending version is erased");
}

#[test]
fn a_provider_error_leaves_the_current_version_and_the_next_run_works() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let kg = home_with(&provider, &command_rotator("k", &provider, dir.path()));
    provider.fail_next_mints(1);
    assert_fails(&kg.run(&["cred", "rotate", "k"]), 1, "the create step failed");
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
    assert_eq!(actions(&kg).last().map(String::as_str), Some("create_failed"));
    kg.ok(&["cred", "rotate", "k"]);
    assert!(provider.is_live(&current_value(&kg, "k")));
}

#[test]
fn a_bad_command_fails_with_why_and_never_shows_a_secret() {
    let provider = Provider::start();
    for (command, extra, needle) in [
        ("[\"sh\", \"-c\", \"echo not-json\"]", "", "did not print one JSON object"),
        ("[\"sleep\", \"30\"]", "timeout_secs = 1\n", "did not finish within 1 s"),
        ("[\"sh\", \"-c\", \"head -c 100000 /dev/zero | tr '\\\\0' a\"]", "", "more than 65536 bytes"),
        ("[\"sh\", \"-c\", \"cat >&2; exit 3\"]", "", "exited with status 3"),
        (r#"["printf", "%s", "{\"value\": \"a\\u0009tab\"}"]"#, "", "the new key was refused"),
        ("[\"/no/such/program\"]", "", "cannot start"),
    ] {
        let rotator = format!("\n[rotator.k]\nkind = \"command\"\ncommand = {command}\n{extra}");
        let kg = home_with(&provider, &rotator);
        let out = kg.run(&["cred", "rotate", "k"]);
        assert_fails(&out, 1, needle);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("sk-seeded-first"), "a secret in the error: {stderr}");
        assert_eq!(current_value(&kg, "k"), "sk-seeded-first", "{command}");
        let shown = kg.json(&["cred", "show", "k", "--json"]);
        assert_eq!(shown["attempt"], serde_json::Value::Null, "{command}: the attempt ended");
    }
    // stderr that echoes the current key is redacted.
    let rotator = "\n[rotator.k]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat >&2; exit 3\"]\n";
    let kg = home_with(&provider, rotator);
    let stderr = String::from_utf8_lossy(&kg.run(&["cred", "rotate", "k"]).stderr).to_string();
    assert!(stderr.contains("[redacted]") && !stderr.contains("sk-seeded-first"), "{stderr}");
}

#[test]
fn a_bad_rotator_config_is_refused_by_name() {
    let provider = Provider::start();
    let kg = home_with(&provider, "\n[rotator.k]\nkind = \"magic\"\n");
    assert_fails(&kg.run(&["cred", "rotate", "k"]), 1, "[rotator.k]: unknown kind");
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
}

fn builtin(kind: &str, provider: &Provider) -> String {
    // OpenAI's project is left out: the organization's only active one is found.
    format!(
        "\n[rotator.k]\nkind = \"{kind}\"\nadmin_credential = \"admin\"\nbase_url = \"{base}\"\n\
         test = {{ url = \"{base}/check\", prefix = \"Bearer \" }}\n",
        base = provider.base()
    )
}

#[test]
fn built_in_rotators_mint_through_the_providers_key_apis() {
    for kind in ["openai", "openrouter", "cloudflare"] {
        let provider = Provider::start();
        let kg = home_with(&provider, &builtin(kind, &provider));
        let out = kg.ok(&["cred", "rotate", "k"]);
        assert!(out.contains(&format!("its {kind} rotator: now version 2")), "{kind}: {out}");
        let first = current_value(&kg, "k");
        assert!(provider.is_live(&first), "{kind}");
        if kind == "cloudflare" {
            assert!(!provider.is_live("sk-seeded-first"), "cloudflare finds the pasted token's id and deletes it");
        } else {
            assert!(out.contains("erased but not revoked"), "{kind}: the pasted key has no id: {out}");
        }
        kg.ok(&["cred", "rotate", "k"]);
        assert!(!provider.is_live(&first), "{kind}: a minted key is revoked by its id");
        assert!(provider.is_live(&current_value(&kg, "k")), "{kind}");
        let names: Vec<String> = provider.state.lock().expect("lock").live.values().map(|(_, n)| n.clone()).collect();
        assert!(names.iter().any(|n| n.starts_with("keygate-k-")), "{kind}: keys carry the attempt: {names:?}");
    }
}

#[test]
fn an_openai_rotator_names_its_project_when_the_organization_has_several() {
    let provider = Provider::start();
    let kg = home_with(&provider, &builtin("openai", &provider));
    provider.state.lock().expect("lock").more_active_projects.push("proj_2".into());
    assert_fails(&kg.run(&["cred", "rotate", "k"]), 1, "2 active projects (proj_1, proj_2)");
    assert_eq!(provider.counts(), (0, 0), "nothing minted");
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
    let config = std::fs::read_to_string(kg.home().join("config.toml")).expect("config");
    std::fs::write(
        kg.home().join("config.toml"),
        config.replace("kind = \"openai\"", "kind = \"openai\"\nproject = \"proj_1\""),
    )
    .expect("write config");
    kg.ok(&["cred", "rotate", "k"]);
    assert!(provider.is_live(&current_value(&kg, "k")));
}

#[test]
fn a_built_in_whose_test_fails_or_whose_provider_errs_changes_nothing() {
    for kind in ["openai", "openrouter", "cloudflare"] {
        let provider = Provider::start();
        let kg = home_with(&provider, &builtin(kind, &provider).replace("/check", "/deny"));
        assert_fails(&kg.run(&["cred", "rotate", "k"]), 1, "the test step failed");
        assert_eq!(provider.counts(), (1, 1), "{kind}: the new key was minted and revoked");
        assert_eq!(current_value(&kg, "k"), "sk-seeded-first", "{kind}");

        let provider = Provider::start();
        let kg = home_with(&provider, &builtin(kind, &provider));
        provider.fail_next_mints(1);
        assert_fails(&kg.run(&["cred", "rotate", "k"]), 1, "answered 500");
        assert_eq!(current_value(&kg, "k"), "sk-seeded-first", "{kind}");
        assert_eq!(actions(&kg).last().map(String::as_str), Some("create_failed"), "{kind}");
        // A wrong admin key: refused by the provider, named, nothing changed.
        kg.ok_with_stdin(&["cred", "rotate", "admin"], b"not-the-admin-key\n");
        let out = kg.run(&["cred", "rotate", "k"]);
        assert_fails(&out, 1, "answered 401");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("not-the-admin-key"), "{kind}: {out:?}");
        assert_eq!(current_value(&kg, "k"), "sk-seeded-first", "{kind}");
    }
}

#[test]
fn an_attempt_interrupted_after_the_provider_minted_resumes_without_a_second_live_key() {
    let provider = Provider::start();
    let kg = home_with(&provider, &builtin("openrouter", &provider));
    // A run that died right after the provider minted: the attempt is in the vault, the key
    // at the provider, nothing stored.
    let attempt = kg.open_in_process().begin_rotation("k").expect("begin").id;
    {
        let mut s = provider.state.lock().expect("lock");
        s.live.insert("orphan".into(), ("sk-orphan".into(), format!("keygate-k-{attempt}")));
    }
    let out = kg.ok(&["cred", "rotate", "k"]);
    assert!(out.contains("finished the rotation an earlier run left"), "{out}");
    assert!(!provider.is_live("sk-orphan"), "the orphan of the attempt was revoked before minting again");
    assert!(provider.is_live(&current_value(&kg, "k")));
    assert_eq!(provider.counts().0, 1, "one mint in this run");
}

#[test]
fn a_manual_rotator_tests_the_pasted_value_before_it_becomes_current() {
    let provider = Provider::start();
    let rotator = format!(
        "\n[rotator.k]\nkind = \"manual\"\ntest = {{ url = \"{}/check\", prefix = \"Bearer \" }}\n",
        provider.base()
    );
    let kg = home_with(&provider, &rotator);
    assert_fails(&kg.run_with_stdin(&["cred", "rotate", "k"], b"sk-not-live\n"), 1, "the test step failed");
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
    provider.seed("pasted", "sk-pasted-live");
    kg.ok_with_stdin(&["cred", "rotate", "k"], b"sk-pasted-live\n");
    assert_eq!(current_value(&kg, "k"), "sk-pasted-live");
}

#[test]
fn keygate_serve_finishes_a_rotation_a_killed_run_left() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let kg = home_with(&provider, &command_rotator("k", &provider, dir.path()));
    kg.open_in_process().begin_rotation("k").expect("a run that died after starting");
    let notifications = common::notifications::NotificationWatch::start(dir.path().join("notify.log"));
    let (_server, _url) = common::start_serve(&kg);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let shown = kg.json(&["cred", "show", "k", "--json"]);
        let versions = shown["versions"].as_array().map_or(0, Vec::len);
        if shown["version"] == 2 && shown["attempt"].is_null() && versions == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "serve never finished the rotation: {shown}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(provider.is_live(&current_value(&kg, "k")));
    assert!(!provider.is_live("sk-seeded-first"), "grace 0: the old key was revoked before it was erased");
    notifications.wait_for("Rotated k");
}

#[test]
fn a_failed_test_whose_key_cannot_be_revoked_says_so_and_logs_it() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().expect("dir");
    let rotator: String = command_rotator("k", &provider, dir.path())
        .replace("/check", "/deny")
        .lines()
        .map(|line| {
            if line.starts_with("revoke_command") {
                "revoke_command = [\"false\"]\n".into()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let kg = home_with(&provider, &rotator);
    let out = kg.run(&["cred", "rotate", "k"]);
    assert_fails(&out, 1, "could not be revoked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoke it by hand"), "{out:?}");
    assert_eq!(actions(&kg)[2..], ["started", "pending", "revoke_failed", "test_failed"]);
    assert_eq!(current_value(&kg, "k"), "sk-seeded-first");
}

#[test]
fn doctor_names_a_rotator_whose_admin_credential_or_credential_is_missing() {
    let provider = Provider::start();
    let kg = home_with(&provider, &builtin("openrouter", &provider).replace("\"admin\"", "\"missing_admin\""));
    append_config(&kg.home(), "\n[rotator.ghost]\nkind = \"command\"\ncommand = [\"true\"]\n");
    let out = kg.run(&["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains("rotators:")).expect("a rotators line");
    assert!(line.starts_with("problem"), "{line}");
    assert!(line.contains("admin credential missing_admin is not in the vault"), "{line}");
    assert!(line.contains("no credential named ghost"), "{line}");
}
