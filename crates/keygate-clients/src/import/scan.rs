//! Reading every server entry of a client's config, read-only: what each one runs or reaches,
//! which of its values are secrets, which are references, and whether Keygate can take it over.
//! Values stay in [`SecretString`]s; what is shown or serialized names fields, never values.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::detect::{
    is_key_format, is_reference, is_secret_header, is_secret_name, secret_argument, url_has_credentials,
};
use crate::client::{Client, ENTRY_NAME};
use crate::document;
use crate::error::printable;
use crate::places::{Location, Places};

/// Fields of an entry that change nothing about how the server is run or reached.
const HARMLESS_FIELDS: [&str; 20] = [
    "type",
    "transport",
    "disabled",
    "enabled",
    "autoApprove",
    "alwaysAllow",
    "timeout",
    "description",
    "trust",
    "startup_timeout_sec",
    "startup_timeout_ms",
    "tool_timeout_sec",
    "includeTools",
    "excludeTools",
    "enabled_tools",
    "disabled_tools",
    "source",
    "settings",
    "gallery",
    "version",
];
/// Fields Codex uses to name environment variables holding keys: references.
const REFERENCE_FIELDS: [&str; 2] = ["bearer_token_env_var", "env_http_headers"];

/// A value of `env` or `headers`.
#[derive(Clone)]
pub(crate) enum Val {
    Plain(String),
    Secret(SecretString),
}

/// What Keygate would run or reach instead of the client.
#[derive(Clone)]
pub(crate) enum Definition {
    Stdio { command: String, args: Vec<String>, env: Vec<(String, Val)> },
    Remote { url: String, headers: Vec<(String, Val)> },
}

/// What Keygate does with a server entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    /// Its secrets move into the vault and it is reached through Keygate.
    Import,
    /// It holds no plaintext secret: left as it is.
    NoSecret,
    /// It holds a secret Keygate cannot take over: left as it is, for the reason given.
    Left(String),
}

/// One server entry of a client's config. Shows names only.
#[derive(Clone, Serialize)]
pub struct FoundServer {
    /// Its name in the client's config (made printable).
    pub name: String,
    /// Where its secrets are: `env GITHUB_TOKEN`, `header Authorization`, `argument 3`, `url`.
    pub secrets: Vec<String>,
    /// Where it uses references the client resolves (`${VAR}`, `op://...`), left alone.
    pub references: Vec<String>,
    /// What import does with it.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Its name exactly as in the file (to edit it).
    #[serde(skip)]
    pub(crate) key: String,
    #[serde(skip)]
    pub(crate) definition: Option<Definition>,
}

impl std::fmt::Debug for FoundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundServer")
            .field("name", &self.name)
            .field("secrets", &self.secrets)
            .field("references", &self.references)
            .field("verdict", &self.verdict)
            .finish_non_exhaustive()
    }
}

/// Whether a client's config could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum FileState {
    /// No file there.
    Absent,
    /// Unreadable or unparsable: left untouched (the reason names file and line).
    Unreadable(String),
    /// Read.
    Read,
}

/// One client's config, scanned.
#[derive(Serialize)]
pub struct ClientScan {
    /// The client.
    #[serde(serialize_with = "crate::import::report::client_id")]
    pub client: Client,
    /// Its config file, as located.
    pub path: PathBuf,
    /// Whether it could be read.
    #[serde(flatten)]
    pub state: FileState,
    /// Its server entries (Keygate's own `keygate` entry aside).
    pub servers: Vec<FoundServer>,
    #[serde(skip)]
    pub(crate) location: Location,
    #[serde(skip)]
    pub(crate) text: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for ClientScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientScan")
            .field("client", &self.client)
            .field("path", &self.path)
            .field("state", &self.state)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl ClientScan {
    /// The servers import takes over.
    pub fn importable(&self) -> impl Iterator<Item = &FoundServer> {
        self.servers.iter().filter(|s| s.verdict == Verdict::Import)
    }
}

/// Scan the user-level config of each of `clients` (all of them when empty).
pub fn scan(places: &Places, clients: &[Client]) -> Vec<ClientScan> {
    let chosen: Vec<Client> = if clients.is_empty() { Client::ALL.to_vec() } else { clients.to_vec() };
    chosen.into_iter().map(|client| scan_location(client, &places.location(client))).collect()
}

/// Scan one client's file at `location`.
pub fn scan_location(client: Client, location: &Location) -> ClientScan {
    let mut scanned = ClientScan {
        client,
        path: location.file.clone(),
        state: FileState::Absent,
        servers: Vec::new(),
        location: location.clone(),
        text: None,
    };
    let file = std::fs::canonicalize(&location.file).unwrap_or_else(|_| location.file.clone());
    match document::read(&file) {
        Ok(None) => {}
        Err(e) => scanned.state = FileState::Unreadable(e.to_string()),
        Ok(Some(text)) => match servers_in(client, &text, &file) {
            Ok(servers) => {
                scanned.state = FileState::Read;
                scanned.servers = servers;
                scanned.text = Some(text);
            }
            Err(reason) => scanned.state = FileState::Unreadable(reason),
        },
    }
    scanned
}

/// Every entry under the client's servers key, examined.
pub(crate) fn servers_in(client: Client, text: &str, file: &Path) -> Result<Vec<FoundServer>, String> {
    let value = document::to_value(client, Some(text), file).map_err(|e| e.to_string())?;
    let Some(top) = value.as_object() else {
        return Err(format!("{} its top level is not an object; it was left untouched", file.display()));
    };
    let servers = match top.get(client.servers_key()) {
        None => return Ok(Vec::new()),
        Some(Value::Object(servers)) => servers,
        Some(_) => {
            return Err(format!(
                "{} `{}` is not an object; it was left untouched",
                file.display(),
                client.servers_key()
            ));
        }
    };
    Ok(servers
        .iter()
        .filter(|(name, _)| name.as_str() != ENTRY_NAME)
        .map(|(name, entry)| examine(name, entry))
        .collect())
}

/// What one entry runs, where its secrets are, and whether import can take it over.
fn examine(name: &str, entry: &Value) -> FoundServer {
    let mut found = FoundServer {
        name: printable(name),
        secrets: Vec::new(),
        references: Vec::new(),
        verdict: Verdict::NoSecret,
        key: name.to_string(),
        definition: None,
    };
    let Some(fields) = entry.as_object() else {
        found.verdict = Verdict::Left("its entry is not an object".into());
        return found;
    };
    let mut problems = Vec::new();
    let definition = definition(fields, &mut found, &mut problems);
    if fields.get("disabled") == Some(&Value::Bool(true)) || fields.get("enabled") == Some(&Value::Bool(false)) {
        problems.push("it is disabled in the client".to_string());
    }
    found.verdict = if found.secrets.is_empty() {
        Verdict::NoSecret
    } else if let Some(problem) = problems.into_iter().next() {
        Verdict::Left(problem)
    } else if !found.references.is_empty() {
        Verdict::Left("it also uses references the client resolves, which Keygate cannot".into())
    } else {
        found.definition = definition;
        Verdict::Import
    };
    found
}

fn definition(fields: &Map<String, Value>, found: &mut FoundServer, problems: &mut Vec<String>) -> Option<Definition> {
    for field in fields.keys() {
        if REFERENCE_FIELDS.contains(&field.as_str()) {
            found.references.push(printable(field));
        } else if !is_known(field) {
            problems.push(format!("its field `{}` has no equivalent in Keygate", printable(field)));
        }
    }
    // Zed's older shape: `"command": { "path", "args", "env" }`.
    let (command, inner) = match fields.get("command") {
        Some(Value::Object(inner)) => (inner.get("path"), Some(inner)),
        other => (other, None),
    };
    let part = |key: &str| inner.and_then(|i| i.get(key)).or_else(|| fields.get(key));
    let url = ["url", "serverUrl", "httpUrl"].iter().find_map(|key| fields.get(*key));
    match (command, url) {
        (Some(command), None) => {
            let command = text(command, "command", problems);
            let args = strings(part("args"), problems);
            if let Some(index) = secret_argument(&args) {
                found.secrets.push(format!("argument {}", index + 1));
                problems.push("a key in its arguments: Keygate never passes keys in argv (every process can read it); move it to env by hand".into());
            }
            let env = values(part("env"), "env", is_secret_name, found, problems);
            Some(Definition::Stdio { command, args, env })
        }
        (None, Some(url)) => {
            let url = text(url, "url", problems);
            if url_has_credentials(&url) {
                found.secrets.push("url".into());
                problems.push("a key in its URL: Keygate sends keys in headers only".into());
            }
            let mut headers = values(fields.get("headers"), "header", is_secret_header, found, problems);
            headers.extend(values(fields.get("http_headers"), "header", is_secret_header, found, problems));
            Some(Definition::Remote { url, headers })
        }
        (Some(_), Some(_)) | (None, None) => {
            let problem =
                if url.is_some() { "it has both a command and a URL" } else { "it has neither a command nor a URL" };
            problems.push(problem.into());
            // Still say where its keys are, so the preview lists them.
            values(part("env"), "env", is_secret_name, found, problems);
            values(fields.get("headers"), "header", is_secret_header, found, problems);
            None
        }
    }
}

fn is_known(field: &str) -> bool {
    HARMLESS_FIELDS.contains(&field)
        || ["command", "args", "env", "url", "serverUrl", "httpUrl", "headers", "http_headers"].contains(&field)
}

fn text(value: &Value, what: &str, problems: &mut Vec<String>) -> String {
    match value.as_str() {
        Some(text) => text.to_string(),
        None => {
            problems.push(format!("its {what} is not text"));
            String::new()
        }
    }
}

fn strings(value: Option<&Value>, problems: &mut Vec<String>) -> Vec<String> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(str::to_string).collect()
        }
        Some(_) => {
            problems.push("its args are not a list of text".into());
            Vec::new()
        }
    }
}

/// `env` or `headers`: each value plain, secret (by name or form) or a reference.
fn values(
    value: Option<&Value>,
    what: &str,
    secret_name: fn(&str) -> bool,
    found: &mut FoundServer,
    problems: &mut Vec<String>,
) -> Vec<(String, Val)> {
    let Some(value) = value else { return Vec::new() };
    let Some(map) = value.as_object() else {
        problems.push(format!("its {what}s are not an object"));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let Some(value) = value.as_str() else {
            problems.push(format!("its {what} {} is not text", printable(name)));
            continue;
        };
        let label = format!("{what} {}", printable(name));
        if is_reference(value) {
            found.references.push(label);
            out.push((name.clone(), Val::Plain(value.to_string())));
        } else if !value.trim().is_empty() && (secret_name(name) || is_key_format(value)) {
            found.secrets.push(label);
            out.push((name.clone(), Val::Secret(SecretString::from(value))));
        } else {
            out.push((name.clone(), Val::Plain(value.to_string())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn servers(client: Client, text: &str) -> Vec<FoundServer> {
        servers_in(client, text, Path::new("test")).expect("parses")
    }

    #[test]
    fn every_documented_shape_is_understood() {
        let zed = r#"{ "context_servers": { "old": { "command": { "path": "npx", "args": ["x"],
            "env": { "API_KEY": "abc-plaintext" } }, "settings": {} } } }"#;
        let found = servers(Client::Zed, zed);
        assert_eq!(found[0].verdict, Verdict::Import, "{found:?}");
        assert_eq!(found[0].secrets, ["env API_KEY"]);
        let windsurf = r#"{ "mcpServers": { "r": { "serverUrl": "https://x.test/mcp",
            "headers": { "X-Custom": "ghp_abcdefghijklmnopqrstu" } } } }"#;
        assert_eq!(servers(Client::Windsurf, windsurf)[0].verdict, Verdict::Import);
        let codex = "[mcp_servers.a]\ncommand = \"x\"\nenv = { TOKEN = \"t-plaintext\" }\ncwd = \"/srv\"\n";
        let found = servers(Client::Codex, codex);
        assert!(matches!(&found[0].verdict, Verdict::Left(reason) if reason.contains("cwd")), "{found:?}");
    }

    #[test]
    fn references_disabled_entries_and_odd_shapes_are_left_and_listed() {
        let text = r#"{ "mcpServers": {
            "ref": { "command": "x", "env": { "A_KEY": "sk-plaintext-0000", "B_TOKEN": "${env:B}" } },
            "off": { "command": "x", "env": { "A_KEY": "sk-plaintext-0000" }, "disabled": true },
            "list": ["not", "an", "object"],
            "both": { "command": "x", "url": "https://x.test", "env": { "A_KEY": "value" } },
            "plain": { "command": "x", "env": { "LOG_LEVEL": "debug" } },
            "keygate": { "command": "keygate" } } }"#;
        let found = servers(Client::Cursor, text);
        let verdict = |name: &str| found.iter().find(|s| s.name == name).map(|s| s.verdict.clone()).expect(name);
        assert!(matches!(verdict("ref"), Verdict::Left(r) if r.contains("references")));
        assert!(matches!(verdict("off"), Verdict::Left(r) if r.contains("disabled")));
        assert!(matches!(verdict("list"), Verdict::Left(_)) || verdict("list") == Verdict::NoSecret);
        assert!(matches!(verdict("both"), Verdict::Left(r) if r.contains("both")));
        assert_eq!(verdict("plain"), Verdict::NoSecret);
        assert!(found.iter().all(|s| s.name != "keygate"), "Keygate's own entry is not scanned");
        let shown = serde_json::to_string(&found).expect("serializes");
        assert!(!shown.contains("sk-plaintext"), "{shown}");
    }
}
