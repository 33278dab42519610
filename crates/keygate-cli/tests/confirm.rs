//! Destructive commands ask first, or take --yes; with nobody to ask (no terminal) they stop
//! with exit 2 and change nothing. (`client disconnect` is checked in clients.rs.)

mod common;

use common::{Kg, assert_fails};

const SERVER: &str = "\n[[server]]\nname = \"files\"\ncommand = \"/bin/true\"\n";

#[test]
fn grant_revoke_asks_first() {
    let kg = Kg::headless();
    kg.init();
    kg.ok(&["grant", "create", "cursor", "--tool", "web_search"]);
    assert_fails(&kg.run(&["grant", "revoke", "cursor"]), 2, "add --yes to confirm");
    assert_eq!(kg.json(&["grant", "list", "--json"])[0]["status"], "active", "nothing revoked");
    assert!(kg.ok(&["grant", "revoke", "cursor", "--yes"]).contains("Revoked grant cursor"));
    assert!(kg.ok(&["grant", "revoke", "cursor"]).contains("Already revoked"), "nothing left to ask about");
}

#[test]
fn server_remove_asks_first() {
    let kg = Kg::headless();
    kg.init();
    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config") + SERVER;
    std::fs::write(&config, &text).expect("write");
    assert_fails(&kg.run(&["server", "remove", "files"]), 2, "add --yes to confirm");
    assert_eq!(std::fs::read_to_string(&config).expect("read"), text, "config.toml unchanged");
    assert!(kg.ok(&["server", "remove", "files", "--yes"]).starts_with("Removed server files"));
}

#[test]
fn import_undo_asks_first_and_yes_needs_undo() {
    let kg = Kg::headless();
    kg.init();
    let out = kg
        .command(&["import", "--undo"])
        .env("HOME", kg.dir.path().join("user"))
        .env("XDG_CONFIG_HOME", kg.dir.path().join("user/.config"))
        .env_remove("CODEX_HOME")
        .output()
        .expect("run");
    assert_fails(&out, 2, "add --yes to confirm");
    assert_fails(&kg.run(&["import", "--yes"]), 2, "--undo");
}

#[test]
fn typos_get_a_suggestion() {
    let kg = Kg::headless();
    assert_fails(&kg.run(&["cred", "list", "--jsn"]), 2, "'--json'");
    assert_fails(&kg.run(&["staus"]), 2, "'status'");
    assert_fails(&kg.run(&["tools", "--jsn"]), 2, "'--json'");
    assert_fails(&kg.run(&["relod"]), 2, "'reload'");
}
