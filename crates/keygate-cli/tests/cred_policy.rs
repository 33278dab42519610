//! `keygate cred show | rollback | set` through the built binary: versions with their
//! states and never a value, rollback logged, policy changed after `add`, bad input refused.

mod common;

use common::{Kg, assert_fails};

fn states(kg: &Kg, name: &str) -> Vec<(i64, String)> {
    let shown = kg.json(&["cred", "show", name, "--json"]);
    let versions = shown["versions"].as_array().expect("versions");
    versions
        .iter()
        .map(|v| (v["version"].as_i64().expect("n"), v["state"].as_str().expect("state").to_string()))
        .collect()
}

#[test]
fn show_rollback_and_set_work_and_never_print_a_value() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "openai"], b"sk-first-value\n");
    assert_eq!(states(&kg, "openai"), [(1, "current".to_string())]);
    kg.ok_with_stdin(&["cred", "rotate", "openai"], b"sk-second-value\n");
    assert_eq!(states(&kg, "openai"), [(2, "current".into()), (1, "previous".into())]);

    let out = kg.ok(&["cred", "set", "openai", "--max-age-days", "7", "--grace", "24h"]);
    assert!(out.contains("max age 7 days") && out.contains("grace 1d"), "{out}");
    let shown = kg.json(&["cred", "show", "openai", "--json"]);
    assert_eq!((shown["max_age_days"].as_i64(), shown["grace_secs"].as_i64()), (Some(7), Some(86_400)));
    assert!(shown["previous_until"].is_string(), "the previous version now has an end: {shown}");

    let out = kg.ok(&["cred", "rollback", "openai"]);
    assert!(out.contains("version 1 is current again"), "{out}");
    assert_eq!(states(&kg, "openai"), [(2, "previous".into()), (1, "current".into())]);
    let vault = kg.open_in_process();
    use secrecy::ExposeSecret;
    assert_eq!(vault.open_credential("openai").expect("open").value.expose_secret(), "sk-first-value");

    let human = kg.ok(&["cred", "show", "openai"]);
    assert!(human.contains("previous") && human.contains("current"), "{human}");
    for text in [human, kg.ok(&["cred", "show", "openai", "--json"])] {
        assert!(!text.contains("sk-first") && !text.contains("sk-second"), "a value was printed: {text}");
    }
    let log = kg.json(&["log", "--json"]);
    let actions: Vec<&str> = log.as_array().expect("log").iter().map(|e| e["action"].as_str().expect("a")).collect();
    assert_eq!(actions, ["created", "rotated", "policy_changed", "rolled_back"]);
    let vault = kg.open_in_process();
    assert_eq!(vault.verify_rows().expect("verify"), [], "the vault still verifies after a rollback");
}

#[test]
fn bad_rollbacks_and_policies_are_refused_with_what_to_do() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "k"], b"value-1\n");
    assert_fails(&kg.run(&["cred", "rollback", "k"]), 1, "no previous version to roll back to");
    assert_fails(&kg.run(&["cred", "rollback", "missing"]), 1, "no credential named missing");
    assert_fails(&kg.run(&["cred", "set", "k"]), 2, "nothing to change");
    assert_fails(&kg.run(&["cred", "set", "k", "--grace", "soon"]), 2, "invalid --grace");
    assert_fails(&kg.run(&["cred", "set", "k", "--max-age-days", "0"]), 1, "invalid max age");
    assert_fails(&kg.run(&["cred", "show", "Bad Name"]), 1, "invalid");
    let shown = kg.json(&["cred", "show", "k", "--json"]);
    assert_eq!((shown["max_age_days"].as_i64(), shown["grace_secs"].as_i64()), (Some(30), Some(0)));
}
