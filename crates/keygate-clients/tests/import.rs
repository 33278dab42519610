//! `keygate_clients::import` against a real vault and real files: golden rewrites, a failure
//! injected between two client writes (everything consistent, a second run finishes the job),
//! and undo of a file its client rewrote since (only Keygate's changes go back).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keygate_clients::import::{self, FileOutcome};
use keygate_clients::{Client, Os, Places};
use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, Vault};

const CURSOR: &str = r#"{
    // Cursor: four-space indent
    "mcpServers": {
        "GitHub_MCP.v2": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_plaintextgithub0000000000000000000", "LOG": "1" }
        },
        "refd": { "command": "npx", "args": ["x"], "env": { "T_TOKEN": "${env:T_TOKEN}" } }
    },
    "unknownSetting": [1, 2]
}
"#;
const CODEX: &str = r#"# Codex configuration
model = "gpt-5-codex"

[mcp_servers.context7]
command = "npx"
args = ["-y", "@upstash/context7-mcp"]
env = { CONTEXT7_API_KEY = "ctx7-plaintext-0007" }

[mcp_servers.remote_one]
url = "https://mcp.example.test/mcp"
http_headers = { Authorization = "Bearer sk-plaintext-remote-0000" }

# keep this one last
[profiles.fast]
model = "gpt-5-mini"
"#;
const DESKTOP: &str = r#"{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_plaintextgithub0000000000000000000", "LOG": "1" }
    }
  }
}
"#;
const WINDSURF: &str = r#"{ "mcpServers": { "firecrawl": { "command": "npx", "args": ["-y", "firecrawl-mcp"],
  "env": { "FIRECRAWL_API_KEY": "fc-plaintext-firecrawl-0004" } } } }
"#;
const VALUES: [&str; 4] = [
    "ghp_plaintextgithub0000000000000000000",
    "ctx7-plaintext-0007",
    "sk-plaintext-remote-0000",
    "fc-plaintext-firecrawl-0004",
];

struct Fixture {
    dir: tempfile::TempDir,
    vault: Vault,
}

fn key() -> KeySource {
    KeySource::Given(MasterKey::from_bytes(&[7u8; 32]).unwrap())
}

impl Fixture {
    fn new(files: &[(Client, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("kg"));
        Vault::init(&home, key(), &SystemClock).unwrap();
        // A config of its own, so the golden config.toml does not follow the default one.
        std::fs::write(home.config_path(), "# mine\n[listen]\nbind = \"127.0.0.1:7447\"\n").unwrap();
        let vault = Vault::open(&home, key(), Arc::new(SystemClock), Actor::Cli).unwrap();
        let fixture = Self { dir, vault };
        for (client, text) in files {
            let location = fixture.places().location(*client);
            std::fs::create_dir_all(&location.installed_marker).unwrap();
            std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
            std::fs::write(&location.file, text).unwrap();
        }
        fixture
    }

    fn home(&self) -> Home {
        Home::at(self.dir.path().join("kg"))
    }

    fn places(&self) -> Places {
        let home = self.dir.path().join("user");
        Places { os: Os::Linux, app_config: home.join(".config"), home, codex_home: None }
    }

    fn file(&self, client: Client) -> PathBuf {
        self.places().location(client).file
    }

    fn text(&self, client: Client) -> String {
        std::fs::read_to_string(self.file(client)).unwrap()
    }

    /// Scan, prepare and apply; `meanwhile` runs between prepare and apply.
    fn import(&mut self, clients: &[Client], meanwhile: impl FnOnce(&Self)) -> import::Applied {
        let scans = import::scan(&self.places(), clients);
        let prepared =
            import::prepare(&self.vault, &self.home(), Path::new("/opt/keygate/bin/keygate"), &scans).unwrap();
        meanwhile(self);
        let home = self.home();
        import::apply(&mut self.vault, &home, &prepared, &scans).unwrap()
    }

    /// A text with the temp directory replaced, for golden files.
    fn normalized(&self, text: &str) -> String {
        let dir = std::fs::canonicalize(self.dir.path()).unwrap();
        text.replace(&dir.display().to_string(), "<tmp>").replace(&self.dir.path().display().to_string(), "<tmp>")
    }
}

fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/import").join(name);
    if std::env::var_os("KEYGATE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    assert_eq!(actual, std::fs::read_to_string(&path).unwrap(), "{} differs", path.display());
}

fn assert_no_value(what: &str, text: &str) {
    for value in VALUES {
        assert!(!text.contains(value), "{what} holds an imported value");
    }
}

#[test]
fn rewrites_match_the_golden_files_and_hold_no_value() {
    let mut f = Fixture::new(&[(Client::Cursor, CURSOR), (Client::Codex, CODEX)]);
    let applied = f.import(&[], |_| {});
    assert!(applied.complete(), "{applied:?}");
    assert!(applied.leftovers.is_empty(), "{:?}", applied.leftovers);
    let config = std::fs::read_to_string(f.home().config_path()).unwrap();
    for (name, text) in
        [("cursor.json", f.text(Client::Cursor)), ("codex.toml", f.text(Client::Codex)), ("config.toml", config)]
    {
        assert_no_value(name, &text);
        assert_golden(name, &f.normalized(&text));
    }
    let names: Vec<String> = f.vault.list_credentials().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["context7_context7_api_key", "github-mcp-v2_github_personal_access_token", "remote-one_authorization"]
    );
    let grant = f.vault.grant("codex").unwrap().unwrap();
    assert_eq!(grant.tools, ["context7_*", "remote-one_*"]);
}

#[test]
fn a_failure_between_two_writes_leaves_everything_consistent_and_a_second_run_finishes() {
    let mut f =
        Fixture::new(&[(Client::ClaudeDesktop, DESKTOP), (Client::Cursor, CURSOR), (Client::Windsurf, WINDSURF)]);
    let edited_cursor = CURSOR.replace("\"unknownSetting\"", "\"editedMeanwhile\": true,\n    \"unknownSetting\"");
    // Cursor's file changes after the plan: its write is refused, the next is not attempted.
    let applied = f.import(&[], |f| std::fs::write(f.file(Client::Cursor), &edited_cursor).unwrap());
    let outcomes: Vec<&FileOutcome> = applied.files.iter().map(|o| &o.outcome).collect();
    assert_eq!(outcomes[0], &FileOutcome::Rewritten);
    assert!(matches!(outcomes[1], FileOutcome::Failed(reason) if reason.contains("changed")), "{outcomes:?}");
    assert_eq!(outcomes[2], &FileOutcome::NotAttempted);
    assert_no_value("claude desktop", &f.text(Client::ClaudeDesktop));
    assert_eq!(f.text(Client::Cursor), edited_cursor, "the refused file is as it was");
    assert_eq!(f.text(Client::Windsurf), WINDSURF);
    // The vault is consistent with the files: the rewritten one's server works (credential and
    // [[server]] exist); the values of the others are in the vault too, used once they are.
    let names: Vec<String> = f.vault.list_credentials().unwrap().into_iter().map(|c| c.name).collect();
    let credentials = names.len();
    assert_eq!(
        names,
        ["firecrawl_firecrawl_api_key", "github_github_personal_access_token"],
        "one credential for the GitHub key both clients hold"
    );
    let config = std::fs::read_to_string(f.home().config_path()).unwrap();

    // A second run finishes: same credentials, the same servers reused, no file rewritten twice.
    let desktop = f.text(Client::ClaudeDesktop);
    let applied = f.import(&[], |_| {});
    assert!(applied.complete(), "{applied:?}");
    assert_eq!(applied.files.len(), 2);
    assert_eq!(f.vault.list_credentials().unwrap().len(), credentials);
    assert_eq!(std::fs::read_to_string(f.home().config_path()).unwrap(), config, "servers reused, not added again");
    assert_eq!(f.text(Client::ClaudeDesktop), desktop);
    assert_no_value("cursor", &f.text(Client::Cursor));
    assert_no_value("windsurf", &f.text(Client::Windsurf));

    // Undo gives each file back as it was before its import.
    let outcomes = {
        let places = f.places();
        import::undo(&mut f.vault, &places, &[])
    };
    assert!(outcomes.iter().all(|o| o.outcome == FileOutcome::Rewritten), "{outcomes:?}");
    assert_eq!(f.text(Client::ClaudeDesktop), DESKTOP);
    assert_eq!(f.text(Client::Cursor), edited_cursor);
    assert_eq!(f.text(Client::Windsurf), WINDSURF);
    // Nothing left to undo.
    let again = {
        let places = f.places();
        import::undo(&mut f.vault, &places, &[])
    };
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn undo_of_a_file_changed_since_gives_back_only_what_import_changed() {
    let claude = r#"{
  "numStartups": 1,
  "mcpServers": {
    "github": { "type": "stdio", "command": "npx", "args": ["-y", "gh"], "env": { "GITHUB_TOKEN": "ghp_plaintextgithub0000000000000000000" } }
  }
}
"#;
    let mut f = Fixture::new(&[(Client::ClaudeCode, claude)]);
    assert!(f.import(&[], |_| {}).complete());
    // Claude Code rewrites its file on start: a counter changes, the user adds a server.
    let now = f
        .text(Client::ClaudeCode)
        .replace("\"numStartups\": 1", "\"numStartups\": 2")
        .replace("\"mcpServers\": {", "\"mcpServers\": {\n    \"added\": { \"command\": \"added-server\" },");
    std::fs::write(f.file(Client::ClaudeCode), &now).unwrap();
    let outcomes = {
        let places = f.places();
        import::undo(&mut f.vault, &places, &[Client::ClaudeCode])
    };
    assert_eq!(outcomes[0].outcome, FileOutcome::Rewritten, "{outcomes:?}");
    let back = f.text(Client::ClaudeCode);
    assert!(back.contains("\"numStartups\": 2") && back.contains("added-server"), "{back}");
    assert!(back.contains("ghp_plaintextgithub") && !back.contains("keygate"), "{back}");
    assert_eq!(f.vault.list_credentials().unwrap().len(), 1, "credentials stay in the vault");
}

#[test]
fn a_file_changed_between_scan_and_plan_is_refused() {
    let f = Fixture::new(&[(Client::Windsurf, WINDSURF)]);
    let scans = import::scan(&f.places(), &[Client::Windsurf]);
    std::fs::write(f.file(Client::Windsurf), WINDSURF.replace("firecrawl-mcp", "firecrawl-mcp@2")).unwrap();
    let prepared = import::prepare(&f.vault, &f.home(), Path::new("/opt/keygate/bin/keygate"), &scans).unwrap();
    assert!(prepared.is_empty());
    assert_eq!(prepared.skipped.len(), 1);
    assert!(prepared.skipped[0].1.contains("changed"), "{:?}", prepared.skipped);
}
