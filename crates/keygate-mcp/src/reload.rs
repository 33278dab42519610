//! `keygate reload`: ask the Keygate running on a home to read config.toml again now, through
//! the same request directory `keygate server restart` uses. The CLI leaves
//! `requests/reload-<nonce>`; the server reloads (or keeps the old config and names the
//! mistake) and answers in `requests/reloaded-<nonce>.json`, which the CLI reads and removes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, ToolConfig};
use crate::watch::REQUESTS_DIR;

const REQUEST_PREFIX: &str = "reload-";
const ANSWER_PREFIX: &str = "reloaded-";
const MAX_NONCE_LEN: usize = 40;

/// What a reload did: the changes now served, or why the file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// The config file read.
    pub config: PathBuf,
    /// What is served differently now (`tool search: url changed`, ...); empty if nothing.
    pub changes: Vec<String>,
    /// The mistake in the file (with its path and line); the previous config is still served.
    pub error: Option<String>,
}

/// A reload asked of a running Keygate, whose answer has yet to come.
#[derive(Debug)]
pub struct PendingReload {
    request: PathBuf,
    answer: PathBuf,
}

impl PendingReload {
    /// The answer, once the server has written it (the answer file is removed as it is read).
    pub fn answer(&self) -> Option<ReloadReport> {
        let text = std::fs::read_to_string(&self.answer).ok()?;
        let report = serde_json::from_str(&text).ok()?;
        let _ = std::fs::remove_file(&self.answer);
        Some(report)
    }

    /// Withdraw the request (nobody picked it up).
    pub fn cancel(self) {
        let _ = std::fs::remove_file(&self.request);
        let _ = std::fs::remove_file(&self.answer);
    }
}

/// Ask the Keygate running on `home` to reload its config (picked up within a second).
pub fn request_reload(home: &Path) -> std::io::Result<PendingReload> {
    let dir = home.join(REQUESTS_DIR);
    std::fs::create_dir_all(&dir)?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let nonce = format!("{}-{}", std::process::id(), hex::encode(random));
    let request = dir.join(format!("{REQUEST_PREFIX}{nonce}"));
    std::fs::write(&request, b"")?;
    Ok(PendingReload { request, answer: dir.join(format!("{ANSWER_PREFIX}{nonce}.json")) })
}

/// The reload requests waiting in `home` (their nonces); each request file is removed.
pub(crate) fn take_requests(home: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(home.join(REQUESTS_DIR)) else { return Vec::new() };
    let mut nonces = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(nonce) = name.strip_prefix(REQUEST_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '-';
            if !nonce.is_empty() && nonce.len() <= MAX_NONCE_LEN && nonce.chars().all(valid) {
                nonces.push(nonce.to_string());
            }
        }
    }
    nonces
}

/// Answer the request `nonce` (atomically: the CLI never reads half a file).
pub(crate) fn answer(home: &Path, nonce: &str, report: &ReloadReport) {
    let dir = home.join(REQUESTS_DIR);
    let path = dir.join(format!("{ANSWER_PREFIX}{nonce}.json"));
    let temp = dir.join(format!(".{ANSWER_PREFIX}{nonce}.tmp"));
    let written = serde_json::to_vec(report)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(&temp, json))
        .and_then(|()| std::fs::rename(&temp, &path));
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot answer a reload request");
    }
}

/// What serving `new` instead of `old` changes, one line each, in file order.
pub fn config_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut changes = Vec::new();
    if new.bind != old.bind {
        changes.push(format!("[listen] bind {} -> {} (takes effect when Keygate restarts)", old.bind, new.bind));
    }
    for tool in &new.tools {
        match old.tool(&tool.name) {
            None => changes.push(format!("tool {}: added", tool.name)),
            Some(before) => {
                let fields = changed_tool_fields(before, tool);
                if !fields.is_empty() {
                    changes.push(format!("tool {}: {} changed", tool.name, fields.join(", ")));
                }
            }
        }
    }
    changes
        .extend(old.tools.iter().filter(|t| new.tool(&t.name).is_none()).map(|t| format!("tool {}: removed", t.name)));
    for server in &new.servers {
        match old.server(&server.name) {
            None => changes.push(format!("server {}: added", server.name)),
            Some(before) if before != server => changes.push(format!("server {}: changed (restarted)", server.name)),
            Some(_) => {}
        }
    }
    changes.extend(
        old.servers.iter().filter(|s| new.server(&s.name).is_none()).map(|s| format!("server {}: removed", s.name)),
    );
    changes
}

fn changed_tool_fields(old: &ToolConfig, new: &ToolConfig) -> Vec<&'static str> {
    let checks = [
        ("url", old.url != new.url),
        ("method", old.method != new.method),
        ("credential", old.credential != new.credential),
        ("credential_header", old.credential_header != new.credential_header),
        ("credential_prefix", old.credential_prefix != new.credential_prefix),
        ("timeout_secs", old.timeout != new.timeout),
        ("description", old.description != new.description),
        ("input_schema", old.input_schema != new.input_schema),
    ];
    checks.into_iter().filter(|(_, changed)| *changed).map(|(field, _)| field).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[tool]]
name = "search"
description = "Search"
credential = "search_key"
method = "GET"
url = "https://one.example/search"
credential_header = "X-Api-Key"
input_schema = { type = "object" }

[[tool]]
name = "gone"
description = "Gone"
credential = "k"
method = "GET"
url = "https://one.example/gone"
credential_header = "X-Api-Key"
input_schema = { type = "object" }
"#;

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("config.toml")).expect("valid config")
    }

    #[test]
    fn changes_name_each_tool_and_field() {
        let old = parse(BASE);
        let edited = BASE
            .replace("https://one.example/search", "https://two.example/search")
            .replace("name = \"gone\"", "name = \"fresh\"");
        let changes = config_changes(&old, &parse(&edited));
        assert_eq!(changes, ["tool search: url changed", "tool fresh: added", "tool gone: removed"]);
        assert!(config_changes(&old, &parse(BASE)).is_empty());
    }

    #[test]
    fn requests_are_taken_once_and_answered() {
        let home = tempfile::tempdir().expect("tempdir");
        let pending = request_reload(home.path()).expect("request");
        assert!(pending.answer().is_none(), "no answer before the server writes one");
        std::fs::write(home.path().join(REQUESTS_DIR).join("reload-"), b"").expect("an empty nonce");
        let nonces = take_requests(home.path());
        assert_eq!(nonces.len(), 1, "{nonces:?}");
        assert!(take_requests(home.path()).is_empty(), "taken once");
        let report = ReloadReport { config: "c.toml".into(), changes: vec!["tool a: added".into()], error: None };
        answer(home.path(), &nonces[0], &report);
        assert_eq!(pending.answer(), Some(report));
        assert!(pending.answer().is_none(), "the answer file is removed as it is read");
    }
}
