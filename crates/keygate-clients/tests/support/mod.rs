//! Shared set-up: a temp home laid out as on Linux, golden files, and the cases (one config per
//! client, in its documented shape, with comments and other servers holding plaintext keys).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use keygate_clients::{Client, Launch, Location, Os, Ownership, Places};

pub const KEYGATE: &str = "/opt/keygate/bin/keygate";

/// One client config to connect and disconnect.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub client: Client,
    pub project: bool,
    pub ext: &'static str,
}

pub const CASES: [Case; 10] = [
    Case { name: "claude-desktop", client: Client::ClaudeDesktop, project: false, ext: "json" },
    Case { name: "claude-code", client: Client::ClaudeCode, project: false, ext: "json" },
    Case { name: "claude-code-project", client: Client::ClaudeCode, project: true, ext: "json" },
    Case { name: "cursor", client: Client::Cursor, project: false, ext: "json" },
    Case { name: "vscode", client: Client::VsCode, project: false, ext: "json" },
    Case { name: "windsurf", client: Client::Windsurf, project: false, ext: "json" },
    Case { name: "codex", client: Client::Codex, project: false, ext: "toml" },
    Case { name: "gemini", client: Client::Gemini, project: false, ext: "json" },
    Case { name: "zed", client: Client::Zed, project: false, ext: "json" },
    Case { name: "cline", client: Client::Cline, project: false, ext: "json" },
];

/// A temp directory standing in for the user's home (and the project).
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    pub fn places(&self) -> Places {
        let home = self.dir.path().join("home");
        Places { os: Os::Linux, app_config: home.join(".config"), home, codex_home: None }
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// The case's location, with the client "installed" (its marker directory made).
    pub fn location(&self, case: Case) -> Location {
        let location = if case.project {
            Location::in_project(case.client, &self.project()).unwrap()
        } else {
            self.places().location(case.client)
        };
        std::fs::create_dir_all(&location.installed_marker).unwrap();
        location
    }

    /// The case's location with its config file written from the golden `before` file.
    pub fn with_config(&self, case: Case) -> Location {
        let location = self.location(case);
        std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
        std::fs::write(&location.file, golden(case, "before")).unwrap();
        location
    }
}

pub fn launch(grant: &str) -> Launch {
    Launch { command: KEYGATE.into(), grant: grant.into(), home: None }
}

pub fn golden_path(case: Case, stage: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{}.{stage}.{}", case.name, case.ext))
}

pub fn golden(case: Case, stage: &str) -> String {
    std::fs::read_to_string(golden_path(case, stage))
        .unwrap_or_else(|e| panic!("{}: {e}", golden_path(case, stage).display()))
}

/// Compare with a golden file; `KEYGATE_UPDATE_GOLDEN=1` writes it instead (review the diff!).
pub fn assert_golden(case: Case, stage: &str, actual: &str) {
    if std::env::var_os("KEYGATE_UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path(case, stage), actual).unwrap();
        return;
    }
    assert_eq!(actual, golden(case, stage), "{} differs from {}", case.name, golden_path(case, stage).display());
}

/// The plaintext keys the `before` files hold (each contains "plaintext").
pub fn plaintext_keys(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.contains("plaintext"))
        .map(str::to_string)
        .collect()
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

pub fn owned(grant: &str, created_servers: bool) -> Ownership {
    let launch = launch(grant);
    Ownership { created_servers, ..Ownership::of(&launch) }
}
