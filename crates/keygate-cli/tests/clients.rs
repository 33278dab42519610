//! `keygate client list|connect|disconnect` with the real binary, a real vault and a temp
//! HOME / XDG_CONFIG_HOME, so the real user's files are never touched.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Kg, assert_fails};
use secrecy::ExposeSecret;

const CRED_VALUE: &str = "vault-credential-value-0123456789";

struct Setup {
    kg: Kg,
}

impl Setup {
    fn new() -> Self {
        let kg = Kg::headless();
        kg.init();
        kg.ok_with_stdin(&["cred", "add", "brave_key"], CRED_VALUE.as_bytes());
        for grant in ["work", "editor", "repo", "cli", "all", "x"] {
            kg.ok(&["grant", "create", grant, "--tool", "brave_*"]);
        }
        Self { kg }
    }

    fn user_home(&self) -> PathBuf {
        self.kg.dir.path().join("user")
    }

    fn xdg(&self) -> PathBuf {
        self.kg.dir.path().join("xdg")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.kg.command(args);
        cmd.env("HOME", self.user_home()).env("XDG_CONFIG_HOME", self.xdg()).env_remove("CODEX_HOME");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run keygate")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "keygate {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Lay down a config file from the keygate-clients golden files.
    fn config(&self, relative: &str, golden: &str) -> (PathBuf, String) {
        let path = self.user_home().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let text = std::fs::read_to_string(golden_dir().join(golden)).expect("golden");
        std::fs::write(&path, &text).expect("write config");
        (path, text)
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keygate-clients/tests/golden")
}

fn row<'a>(list: &'a serde_json::Value, client: &str) -> &'a serde_json::Value {
    list.as_array().expect("array").iter().find(|r| r["client"] == client).expect("client listed")
}

#[test]
fn connect_list_and_disconnect_a_client_with_nothing_secret_written() {
    let s = Setup::new();
    let token = s.ok(&["token", "create", "--tool", "web_search", "--json"]);
    let token: serde_json::Value = serde_json::from_str(&token).expect("json");
    let token = token["token"].as_str().expect("token").to_string();
    let (cursor, original) = s.config(".cursor/mcp.json", "cursor.before.json");
    std::fs::create_dir_all(s.xdg().join("zed")).expect("zed installed, no settings yet");

    let list: serde_json::Value = serde_json::from_str(&s.ok(&["client", "list", "--json"])).expect("json");
    assert_eq!(row(&list, "cursor")["keygate"]["state"], "absent");
    assert_eq!(row(&list, "cursor")["installed"], true);
    assert_eq!(row(&list, "zed")["exists"], false);
    assert_eq!(row(&list, "zed")["config"], s.xdg().join("zed/settings.json").display().to_string());
    assert_eq!(row(&list, "windsurf")["installed"], false);

    let dry = s.ok(&["client", "connect", "cursor", "--grant", "work", "--dry-run"]);
    assert!(dry.contains("+        \"keygate\": {") && dry.contains("Dry run: nothing was written"), "{dry}");
    assert!(!dry.contains("fc-plaintext"), "{dry}");
    assert_eq!(std::fs::read_to_string(&cursor).expect("read"), original, "the dry run wrote");

    let out = s.ok(&["client", "connect", "cursor", "--grant", "work"]);
    assert!(out.contains("Connected Cursor") && out.contains("sealed in the vault"), "{out}");
    let connected = std::fs::read_to_string(&cursor).expect("read");
    let uncommented: String = connected.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    let value: serde_json::Value = serde_json::from_str(&uncommented).expect("still JSON");
    let entry = &value["mcpServers"]["keygate"];
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_keygate")).expect("exe");
    assert_eq!(entry["command"], exe.display().to_string());
    let home = std::fs::canonicalize(s.kg.home()).expect("home");
    assert_eq!(entry["args"], serde_json::json!(["connect", "--grant", "work", "--home", home.display().to_string()]));
    assert!(connected.contains("// Cursor: four-space indent"), "comment lost");
    let again = s.ok(&["client", "connect", "cursor", "--grant", "work"]);
    assert!(again.contains("already connected"), "{again}");

    s.ok(&["client", "connect", "zed", "--grant", "editor"]);
    let zed = s.xdg().join("zed/settings.json");
    assert!(std::fs::read_to_string(&zed).expect("zed settings made").contains("\"editor\""));
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["client", "list", "--json"])).expect("json");
    assert_eq!(row(&list, "cursor")["keygate"], serde_json::json!({ "state": "connected", "grant": "work" }));
    let table = s.ok(&["client", "list"]);
    assert!(table.lines().any(|l| l.starts_with("zed") && l.contains("grant editor")), "{table}");

    // Every file Keygate wrote, read back: no token, no credential value, nothing beside them.
    for file in [&cursor, &zed] {
        let text = std::fs::read_to_string(file).expect("read");
        assert!(!text.contains(&token) && !text.contains("kg_") && !text.contains(CRED_VALUE), "{text}");
        let siblings: Vec<_> = std::fs::read_dir(file.parent().expect("dir")).expect("ls").collect();
        assert_eq!(siblings.len(), 1, "a file was left beside {}", file.display());
    }
    // The original, with Firecrawl's plaintext key, is in the vault only sealed.
    let mut disk = std::fs::read(s.kg.vault_path()).expect("vault");
    disk.extend(std::fs::read(s.kg.home().join("vault.db-wal")).unwrap_or_default());
    assert!(!disk.windows(12).any(|w| w == b"fc-plaintext"), "the original is in the vault in the clear");
    let vault = s.kg.open_in_process();
    let kept = vault.client_config_history().expect("history");
    assert_eq!(kept.len(), 2);
    assert_eq!((kept[0].client.as_str(), kept[0].action.as_str()), ("cursor", "connect"));
    let opened = vault.open_client_config(&kept[0].id).expect("open").expect("had a file");
    assert_eq!(opened.expose_secret(), original);
    assert!(!kept[1].had_original, "zed's settings did not exist");
    drop(vault);

    let connected = std::fs::read_to_string(&cursor).expect("read");
    assert_fails(&s.run(&["client", "disconnect", "cursor"]), 2, "add --yes to confirm");
    assert_eq!(std::fs::read_to_string(&cursor).expect("read"), connected, "nobody said yes: unchanged");
    let out = s.ok(&["client", "disconnect", "cursor", "--yes"]);
    assert!(out.contains("Disconnected Cursor"), "{out}");
    assert_eq!(std::fs::read_to_string(&cursor).expect("read"), original, "disconnect restores the bytes");
    let out = s.ok(&["client", "disconnect", "cursor", "--yes"]);
    assert!(out.contains("not connected"), "{out}");
}

#[test]
fn refusals_are_clear_and_touch_nothing() {
    let s = Setup::new();
    assert_fails(&s.run(&["client", "connect", "cursor", "--grant", "Bad_Name"]), 2, "grant name");
    assert_fails(&s.run(&["client", "connect", "emacs", "--grant", "work"]), 2, "unknown client");
    assert_fails(&s.run(&["client", "connect", "cursor", "--grant", "nosuch"]), 2, "no grant named nosuch");
    s.kg.ok(&["grant", "revoke", "x", "--yes"]);
    assert_fails(&s.run(&["client", "connect", "cursor", "--grant", "x"]), 2, "grant x is revoked");
    assert_fails(&s.run(&["client", "connect", "windsurf", "--grant", "work"]), 1, "does not seem to be installed");
    assert!(!s.user_home().join(".codeium").exists());

    let broken = "{\n  \"theme\": \"GitHub\",\n  \"mcpServers\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n";
    let gemini = s.user_home().join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().expect("dir")).expect("mkdir");
    std::fs::write(&gemini, broken).expect("write");
    let out = s.run(&["client", "connect", "gemini", "--grant", "work"]);
    assert_fails(&out, 1, "line 4");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&gemini.display().to_string()));
    assert_eq!(std::fs::read_to_string(&gemini).expect("read"), broken);

    // An entry pasted by hand (the old token way) is neither replaced nor removed silently.
    let (claude, _) = s.config(".claude.json", "claude-code.before.json");
    let pasted = std::fs::read_to_string(&claude).expect("read").replace(
        "\"notion\": {",
        "\"keygate\": { \"command\": \"keygate\", \"args\": [\"connect\"], \"env\": { \"KEYGATE_TOKEN\": \"kg_aaaaaaaaaaaaaaaa_pastedsecret\" } },\n    \"notion\": {",
    );
    std::fs::write(&claude, &pasted).expect("write");
    assert_fails(&s.run(&["client", "connect", "claude-code", "--grant", "work"]), 1, "--replace");
    assert_fails(&s.run(&["client", "disconnect", "claude-code"]), 1, "no record");
    assert_eq!(std::fs::read_to_string(&claude).expect("read"), pasted);
    let dry = s.ok(&["client", "connect", "claude-code", "--grant", "work", "--replace", "--dry-run"]);
    assert!(!dry.contains("pastedsecret") && !dry.contains("ghp_plaintext") && dry.contains("********"), "{dry}");
    s.ok(&["client", "connect", "claude-code", "--grant", "work", "--replace"]);
    let replaced = std::fs::read_to_string(&claude).expect("read");
    assert!(!replaced.contains("pastedsecret") && replaced.contains("\"--grant\""), "{replaced}");
}

#[test]
fn a_project_config_is_written_in_the_project() {
    let s = Setup::new();
    let project = s.kg.dir.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    let dir = project.display().to_string();
    s.ok(&["client", "connect", "claude-code", "--grant", "repo", "--project", &dir]);
    let text = std::fs::read_to_string(project.join(".mcp.json")).expect(".mcp.json made");
    assert!(text.contains("\"type\": \"stdio\"") && text.contains("\"repo\""), "{text}");
    let list: serde_json::Value =
        serde_json::from_str(&s.ok(&["client", "list", "--project", &dir, "--json"])).expect("json");
    let rows: Vec<_> = list.as_array().expect("rows").iter().filter(|r| r["client"] == "claude-code").collect();
    assert_eq!(rows.len(), 2, "user and project files");
    assert_eq!(rows[1]["keygate"]["grant"], "repo");
    assert_fails(&s.run(&["client", "connect", "windsurf", "--grant", "x", "--project", &dir]), 2, "no project config");
    s.ok(&["client", "disconnect", "claude-code", "--project", &dir, "--yes"]);
    assert!(!std::fs::read_to_string(project.join(".mcp.json")).expect("read").contains("keygate"));
}

#[test]
fn an_untouched_file_comes_back_exactly_from_the_sealed_original() {
    let s = Setup::new();
    let gemini = s.user_home().join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().expect("dir")).expect("mkdir");
    std::fs::write(&gemini, "{ \"theme\": \"GitHub\" }").expect("write");
    s.ok(&["client", "connect", "gemini", "--grant", "cli"]);
    assert!(std::fs::read_to_string(&gemini).expect("read").contains("\"mcpServers\": {"));
    s.ok(&["client", "disconnect", "gemini", "--yes"]);
    assert_eq!(std::fs::read_to_string(&gemini).expect("read"), "{ \"theme\": \"GitHub\" }");
    let vault = s.kg.open_in_process();
    let actions: Vec<String> = vault.client_config_history().expect("history").into_iter().map(|h| h.action).collect();
    assert_eq!(actions, ["connect", "disconnect"]);
}

#[test]
fn every_client_connected_and_read_back_holds_no_secret() {
    let s = Setup::new();
    let token = s.ok(&["token", "create", "--tool", "web_search", "--json"]);
    let token =
        serde_json::from_str::<serde_json::Value>(&token).expect("json")["token"].as_str().expect("token").to_string();
    let master_key = s.kg.master_key.clone().expect("headless");
    let (home, xdg) = (s.user_home(), s.xdg());
    let markers = [
        xdg.join("Claude"),
        home.join(".claude"),
        home.join(".cursor"),
        xdg.join("Code/User/globalStorage/saoudrizwan.claude-dev"),
        home.join(".codeium/windsurf"),
        home.join(".codex"),
        home.join(".gemini"),
        xdg.join("zed"),
    ];
    for marker in markers {
        std::fs::create_dir_all(marker).expect("install");
    }
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["client", "list", "--json"])).expect("json");
    for entry in list.as_array().expect("rows") {
        let client = entry["client"].as_str().expect("id");
        assert_eq!(entry["installed"], true, "{client}");
        s.ok(&["client", "connect", client, "--grant", "all"]);
        let file = PathBuf::from(entry["config"].as_str().expect("path"));
        let text = std::fs::read_to_string(&file).expect("written");
        for secret in [token.as_str(), CRED_VALUE, master_key.as_str(), "kg_", "KEYGATE_TOKEN"] {
            assert!(!text.contains(secret), "{client}: {} holds a secret:\n{text}", file.display());
        }
        assert!(text.contains("\"all\""), "{client}: {text}");
        let names: Vec<String> = std::fs::read_dir(file.parent().expect("dir"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && n.contains("keygate"))
            .collect();
        assert!(names.is_empty(), "{client}: left beside the config: {names:?}");
    }
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["client", "list", "--json"])).expect("json");
    assert!(list.as_array().expect("rows").iter().all(|r| r["keygate"]["grant"] == "all"), "{list}");
    for entry in list.as_array().expect("rows") {
        s.ok(&["client", "disconnect", entry["client"].as_str().expect("id"), "--yes"]);
    }
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["client", "list", "--json"])).expect("json");
    assert!(list.as_array().expect("rows").iter().all(|r| r["keygate"]["state"] == "absent"), "{list}");
}
