//! The real OS keychain: `keygate init` with no KEYGATE_MASTER_KEY stores the master key in
//! the Secret Service, and other processes read it back from there. `tests/run` provides an
//! unlocked gnome-keyring in a private D-Bus session; without a Secret Service this fails.

mod common;

use std::sync::Arc;

use common::{Kg, assert_fails};
use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault};
use secrecy::ExposeSecret;

fn require_session_bus() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests with tests/run, which starts an unlocked gnome-keyring"
    );
}

#[test]
fn init_stores_the_master_key_in_the_keychain_and_another_process_reads_it_back() {
    require_session_bus();
    let kg = Kg::keychain();
    let init = kg.ok(&["init"]);
    assert!(init.contains("in the OS keychain"), "{init}");
    kg.ok_with_stdin(&["cred", "add", "github_token"], b"ghp_keychain_test_value\n");
    assert_eq!(kg.json(&["cred", "list", "--json"])[0]["name"], "github_token");

    // This test process is another process: it opens the vault with the key from the keychain.
    let source = KeySource::from_env().expect("key source");
    assert!(matches!(source, KeySource::Keychain), "KEYGATE_MASTER_KEY must not be set here");
    let vault =
        Vault::open(&Home::at(kg.home()), source, Arc::new(SystemClock), Actor::Cli).expect("open via keychain");
    let opened = vault.open_credential("github_token").expect("open credential");
    assert_eq!(opened.value.expose_secret(), "ghp_keychain_test_value");
    assert_eq!(opened.version, 1);
}

#[test]
fn two_vaults_on_one_machine_keep_separate_keys() {
    require_session_bus();
    let (first, second) = (Kg::keychain(), Kg::keychain());
    first.init();
    second.init();
    first.ok_with_stdin(&["cred", "add", "a"], b"one\n");
    second.ok_with_stdin(&["cred", "add", "a"], b"two\n");
    for kg in [&first, &second] {
        assert_eq!(kg.json(&["cred", "list", "--json"]).as_array().map(Vec::len), Some(1));
    }
}

#[test]
fn a_vault_whose_key_is_not_in_the_keychain_says_so() {
    require_session_bus();
    let headless = Kg::headless();
    headless.init();
    let out = headless.command(&["cred", "list"]).env_remove("KEYGATE_MASTER_KEY").output().expect("run");
    assert_fails(&out, 1, "has no master key for vault");
}

#[test]
fn no_secret_service_is_a_clear_error_and_leaves_no_vault() {
    let kg = Kg::keychain();
    let out =
        kg.command(&["init"]).env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").output().expect("run");
    assert_fails(&out, 1, "the OS keychain is not available");
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEYGATE_MASTER_KEY"));
    assert!(!kg.vault_path().exists(), "a vault was left behind");
}
