//! `[[server]]`: an existing MCP server that Keygate fronts, launched as a stdio child or
//! reached over Streamable HTTP, with credentials from the vault put into its environment or
//! headers just in time.

use std::time::Duration;

use serde::Deserialize;

/// Longest server name: it prefixes every tool name, which clients cap at 64 characters.
pub const MAX_SERVER_NAME_LEN: usize = 20;
/// Clients (Cursor, Windsurf, the model APIs) refuse tool names outside `^[A-Za-z0-9_-]{1,64}$`.
pub const MAX_EXPOSED_TOOL_LEN: usize = 64;
const DEFAULT_CALL_TIMEOUT_SECS: u64 = 60;
const MAX_CALL_TIMEOUT_SECS: u64 = 3600;
const MAX_IDLE_MINUTES: u64 = 7 * 24 * 60;

/// One fronted MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// `[a-z0-9-]{1,20}`: its tools are exposed as `<name>_<tool>`.
    pub name: String,
    /// How Keygate reaches it.
    pub transport: Transport,
    /// Stop the child after this long unused (stdio only); `None` keeps it running.
    pub idle: Option<Duration>,
    /// How long a call (or a start) may take before the agent gets a tool error.
    pub timeout: Duration,
    /// Patterns of its exposed tool names (`github_delete_*`) whose calls wait for a
    /// person's approval (`approve = [...]`).
    pub approve: Vec<String>,
}

impl ServerEntry {
    /// Whether a call to `exposed` (`<server>_<tool>`) waits for approval.
    pub fn needs_approval(&self, exposed: &str) -> bool {
        self.approve.iter().any(|pattern| keygate_policy::glob_matches(pattern, exposed))
    }
}

/// How a fronted server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Keygate launches it and speaks MCP over its stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments: never a secret (argv is readable by every process).
        args: Vec<String>,
        /// Its environment beyond the small allowlist, in file order.
        env: Vec<(String, Setting)>,
    },
    /// A remote Streamable HTTP server.
    Http {
        /// Its MCP endpoint.
        url: reqwest::Url,
        /// Headers sent on every request, in file order.
        headers: Vec<(reqwest::header::HeaderName, Setting)>,
    },
}

/// A value in `env` or `headers`: plain text, or a credential from the vault.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// Written as is (not secret).
    Plain(String),
    /// Opened from the vault just in time, with an optional prefix such as `Bearer `.
    Credential {
        /// The vault credential.
        credential: String,
        /// Text put before the value.
        #[serde(default)]
        prefix: String,
    },
}

impl ServerEntry {
    /// The vault credentials this server needs, in file order, without repeats.
    pub fn credentials(&self) -> Vec<&str> {
        let settings: Vec<&Setting> = match &self.transport {
            Transport::Stdio { env, .. } => env.iter().map(|(_, s)| s).collect(),
            Transport::Http { headers, .. } => headers.iter().map(|(_, s)| s).collect(),
        };
        let mut names: Vec<&str> = Vec::new();
        for setting in settings {
            if let Setting::Credential { credential, .. } = setting
                && !names.contains(&credential.as_str())
            {
                names.push(credential);
            }
        }
        names
    }

    /// `stdio` or `http`.
    pub fn kind(&self) -> &'static str {
        match self.transport {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
        }
    }

    /// The name agents see for this server's `tool`, or why it cannot be exposed.
    pub fn exposed_name(&self, tool: &str) -> Result<String, String> {
        let exposed = format!("{}_{tool}", self.name);
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
        if tool.is_empty() || exposed.len() > MAX_EXPOSED_TOOL_LEN || !exposed.chars().all(ok) {
            return Err(format!(
                "server {}: its tool {:?} cannot be exposed as {:?}: exposed names must match ^[A-Za-z0-9_-]{{1,64}}$ \
                 (give the server a shorter name)",
                self.name,
                crate::text::printable(tool, 80),
                crate::text::printable(&exposed, 100)
            ));
        }
        Ok(exposed)
    }
}

/// A server name is `[a-z0-9-]{1,20}`, so `<server>_<tool>` splits at the first `_`.
pub fn validate_server_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || name.len() > MAX_SERVER_NAME_LEN || !name.chars().all(ok) {
        return Err(format!(
            "server name {:?} is invalid: use 1-{MAX_SERVER_NAME_LEN} characters of a-z, 0-9 and `-` (no `_`: \
             it separates the server from the tool in `<server>_<tool>`)",
            crate::text::printable(name, 40)
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    name: String,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: toml::Table,
    url: Option<String>,
    #[serde(default)]
    headers: toml::Table,
    idle_minutes: Option<u64>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    approve: Vec<String>,
}

pub(super) fn validate_server(raw: RawServer) -> Result<ServerEntry, String> {
    validate_server_name(&raw.name)?;
    let name = &raw.name;
    let transport = match (raw.command, raw.url) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "server {name}: give either `command` (a local server) or `url` (a remote one), not both"
            ));
        }
        (None, None) => {
            return Err(format!(
                "server {name}: say how to reach it: `command = \"npx\"` with `args`, or `url = \"https://…/mcp\"`"
            ));
        }
        (Some(command), None) => stdio(name, command, raw.args, raw.env, &raw.headers)?,
        (None, Some(url)) => http(name, &url, &raw.args, &raw.env, raw.headers)?,
    };
    let idle = match raw.idle_minutes {
        None | Some(0) => None,
        Some(minutes) if minutes > MAX_IDLE_MINUTES => {
            return Err(format!("server {name}: idle_minutes {minutes} is too long: use at most {MAX_IDLE_MINUTES}"));
        }
        Some(minutes) => Some(Duration::from_secs(minutes * 60)),
    };
    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_CALL_TIMEOUT_SECS);
    if !(1..=MAX_CALL_TIMEOUT_SECS).contains(&timeout_secs) {
        return Err(format!(
            "server {name}: timeout_secs {timeout_secs} is out of range: use 1 to {MAX_CALL_TIMEOUT_SECS}"
        ));
    }
    let prefix = format!("{name}_");
    if let Some(bad) = raw.approve.iter().find(|p| !p.starts_with(&prefix) || p.len() > MAX_EXPOSED_TOOL_LEN) {
        return Err(format!(
            "server {name}: approve pattern {:?} must name this server's tools as agents see them, e.g. \"{prefix}delete_*\"",
            crate::text::printable(bad, 80)
        ));
    }
    Ok(ServerEntry {
        name: raw.name,
        transport,
        idle,
        timeout: Duration::from_secs(timeout_secs),
        approve: raw.approve,
    })
}

fn stdio(
    name: &str,
    command: String,
    args: Vec<String>,
    env: toml::Table,
    headers: &toml::Table,
) -> Result<Transport, String> {
    if !headers.is_empty() {
        return Err(format!("server {name}: `headers` are for remote servers (`url`); a local one takes `env`"));
    }
    if command.trim().is_empty() || command.contains('\0') {
        return Err(format!("server {name}: `command` must name a program, e.g. \"npx\""));
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err(format!("server {name}: an argument contains a NUL byte"));
    }
    let mut vars = Vec::with_capacity(env.len());
    for (var, value) in env {
        let valid = !var.is_empty() && !var.contains(['=', '\0']);
        if !valid {
            return Err(format!(
                "server {name}: env name {:?} is not a variable name",
                crate::text::printable(&var, 40)
            ));
        }
        vars.push((var.clone(), setting(name, &format!("env {var}"), value)?));
    }
    Ok(Transport::Stdio { command, args, env: vars })
}

fn http(name: &str, url: &str, args: &[String], env: &toml::Table, headers: toml::Table) -> Result<Transport, String> {
    if !args.is_empty() || !env.is_empty() {
        return Err(format!(
            "server {name}: `args` and `env` are for local servers (`command`); a remote one takes `headers`"
        ));
    }
    let url = reqwest::Url::parse(url).map_err(|e| {
        format!(
            "server {name}: url {:?} is not a URL ({e}): write e.g. https://mcp.example.com/mcp",
            crate::text::printable(url, 80)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("server {name}: url must be an http:// or https:// URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "server {name}: url holds a user or password: put the secret in the vault and send it in `headers`"
        ));
    }
    let mut list = Vec::with_capacity(headers.len());
    for (header, value) in headers {
        let parsed = reqwest::header::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            format!("server {name}: {:?} is not an HTTP header name", crate::text::printable(&header, 40))
        })?;
        let value = setting(name, &format!("header {header}"), value)?;
        let text = match &value {
            Setting::Plain(text) => text,
            Setting::Credential { prefix, .. } => prefix,
        };
        if reqwest::header::HeaderValue::from_str(text).is_err() {
            return Err(format!("server {name}: header {header} must be printable text on one line"));
        }
        list.push((parsed, value));
    }
    Ok(Transport::Http { url, headers: list })
}

fn setting(server: &str, what: &str, value: toml::Value) -> Result<Setting, String> {
    let parsed = Setting::deserialize(value).map_err(|_| {
        format!(
            "server {server}: {what} must be text or {{ credential = \"NAME\" }} (optionally with prefix = \"Bearer \")"
        )
    })?;
    match &parsed {
        Setting::Credential { credential, prefix } => {
            keygate_vault::validate_name(credential)
                .map_err(|_| format!("server {server}: {what}: {credential:?} is not a valid credential name"))?;
            if prefix.contains(['\0', '\r', '\n']) {
                return Err(format!("server {server}: {what}: the prefix must be one line of text"));
            }
        }
        Setting::Plain(text) if text.contains('\0') => {
            return Err(format!("server {server}: {what} contains a NUL byte"));
        }
        Setting::Plain(_) => {}
    }
    Ok(parsed)
}
