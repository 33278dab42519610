//! `config.toml` as the server reads it: `[listen]`, `[tokens]` (the vault's), `[[tool]]` and
//! `[[server]]`. Every mistake is reported with the file, the line and what to write instead.

mod edit;
mod server;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::arguments::ArgumentSchema;
use crate::error::McpError;

pub use edit::{NewServer, NewTransport, add_server, remove_server, write_config_atomically};
pub use server::{MAX_SERVER_NAME_LEN, ServerEntry, Setting, Transport, validate_server_name};

/// The address served when config.toml names none.
pub const DEFAULT_BIND: &str = "127.0.0.1:7447";
const DEFAULT_TIMEOUT_SECS: u64 = 15;
const MAX_TIMEOUT_SECS: u64 = 300;
const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 60;
const MAX_APPROVAL_TIMEOUT_SECS: u64 = 3600;

/// The whole server configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens (always loopback).
    pub bind: SocketAddr,
    /// The HTTP tools, in file order.
    pub tools: Vec<ToolConfig>,
    /// The fronted MCP servers, in file order.
    pub servers: Vec<ServerEntry>,
    /// How long a call waits for a person's approval before it is denied (`[approvals]
    /// timeout_secs`, default 60).
    pub approval_timeout: Duration,
}

/// HTTP method of an upstream call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// Arguments go in the query string.
    Get,
    /// Arguments are the JSON body.
    Post,
}

/// One MCP tool: an HTTP API whose key stays in the vault.
#[derive(Debug, Clone)]
pub struct ToolConfig {
    /// The MCP tool name.
    pub name: String,
    /// Shown to the agent.
    pub description: String,
    /// The vault credential injected into each call.
    pub credential: String,
    /// GET or POST.
    pub method: Method,
    /// The upstream URL; no argument can change it.
    pub url: reqwest::Url,
    /// The header that carries the credential.
    pub credential_header: reqwest::header::HeaderName,
    /// Text put before the credential in that header, e.g. `Bearer `.
    pub credential_prefix: String,
    /// Upstream timeout.
    pub timeout: Duration,
    /// The JSON Schema of the arguments, as the agent sees it.
    pub input_schema: Map<String, Value>,
    /// The compiled schema that checks arguments and applies defaults.
    pub arguments: ArgumentSchema,
    /// Every call waits for a person's approval (`approve = true`).
    pub approve: bool,
}

/// The file; `S` is the type of `server`: the `[[server]]` list, or (in configs written before
/// the gateway) a `[server]` table that held what `[listen]` holds now.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile<S> {
    #[serde(default)]
    listen: Option<RawListen>,
    #[serde(default)]
    server: S,
    /// Owned and checked by the vault; accepted here as is.
    #[serde(default)]
    #[allow(dead_code)]
    tokens: Option<toml::Table>,
    /// `[audit] keep_days`: owned and checked by the vault; accepted here as is.
    #[serde(default)]
    #[allow(dead_code)]
    audit: Option<toml::Table>,
    /// `[team]`: owned and checked by keygate-team; accepted here as is.
    #[serde(default)]
    #[allow(dead_code)]
    team: Option<toml::Table>,
    /// `[rotator.NAME]`: owned and checked by keygate-rotate; accepted here as is.
    #[serde(default)]
    #[allow(dead_code)]
    rotator: Option<toml::Table>,
    #[serde(default)]
    tool: Vec<toml::Spanned<RawTool>>,
    #[serde(default)]
    approvals: Option<toml::Spanned<RawApprovals>>,
}

/// `[approvals]`: how long a call waits for a person.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    timeout_secs: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawListen {
    bind: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: String,
    description: String,
    credential: String,
    method: Method,
    url: String,
    credential_header: String,
    #[serde(default)]
    credential_prefix: String,
    timeout_secs: Option<u64>,
    input_schema: Map<String, Value>,
    #[serde(default)]
    approve: bool,
}

impl Config {
    /// Read and validate `path`. A missing file is an error that says how to create one.
    /// The MCP endpoint agents should use per the config at `path`, or the default one when
    /// the config cannot be read (for snippets printed before anything is served).
    pub fn endpoint_url_at(path: &Path) -> String {
        match Self::load(path) {
            Ok(config) => crate::endpoint_url(config.bind),
            Err(_) => crate::endpoint_url(DEFAULT_BIND),
        }
    }

    pub fn load(path: &Path) -> Result<Self, McpError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let fix = if e.kind() == std::io::ErrorKind::NotFound { " (run `keygate init` to write one)" } else { "" };
            McpError::Config { path: path.to_path_buf(), line: None, message: format!("cannot read it: {e}{fix}") }
        })?;
        Self::parse(&text, path)
    }

    /// Validate config text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, McpError> {
        let at = |offset: usize, message: String| McpError::Config {
            path: path.to_path_buf(),
            line: Some(line_of(text, offset)),
            message,
        };
        let syntax = |e: toml::de::Error| McpError::Config {
            path: path.to_path_buf(),
            line: e.span().map(|span| line_of(text, span.start)),
            message: e.message().trim_end().to_string(),
        };
        let table: toml::Table = toml::from_str(text).map_err(syntax)?;
        let (raw, raw_servers) = if table.get("server").is_some_and(toml::Value::is_table) {
            let legacy: RawFile<Option<RawListen>> = toml::from_str(text).map_err(syntax)?;
            if legacy.listen.is_some() {
                return Err(at(0, "both [listen] and an old-style [server] table: move `bind` into [listen]".into()));
            }
            let listen = legacy.server;
            let (tokens, audit, team, rotator, tool, approvals) =
                (legacy.tokens, legacy.audit, legacy.team, legacy.rotator, legacy.tool, legacy.approvals);
            (RawFile { listen, server: (), tokens, audit, team, rotator, tool, approvals }, Vec::new())
        } else {
            let file: RawFile<Vec<toml::Spanned<server::RawServer>>> = toml::from_str(text).map_err(syntax)?;
            let servers = file.server;
            let (tokens, audit, team, rotator, tool, approvals) =
                (file.tokens, file.audit, file.team, file.rotator, file.tool, file.approvals);
            (RawFile { listen: file.listen, server: (), tokens, audit, team, rotator, tool, approvals }, servers)
        };
        let bind = match raw.listen.unwrap_or_default().bind {
            None => DEFAULT_BIND.parse().map_err(|_| at(0, "internal: bad default bind".into()))?,
            Some(bind) => parse_bind(bind.get_ref()).map_err(|m| at(bind.span().start, m))?,
        };
        let mut names = HashSet::new();
        let mut tools = Vec::with_capacity(raw.tool.len());
        for spanned in raw.tool {
            let offset = spanned.span().start;
            let tool = validate_tool(spanned.into_inner()).map_err(|m| at(offset, m))?;
            if !names.insert(tool.name.clone()) {
                return Err(at(
                    offset,
                    format!("tool {:?} is defined twice: give each [[tool]] its own name", tool.name),
                ));
            }
            tools.push(tool);
        }
        let mut servers: Vec<ServerEntry> = Vec::with_capacity(raw_servers.len());
        for spanned in raw_servers {
            let offset = spanned.span().start;
            let entry = server::validate_server(spanned.into_inner()).map_err(|m| at(offset, m))?;
            if servers.iter().any(|s| s.name == entry.name) {
                return Err(at(
                    offset,
                    format!("server {:?} is defined twice: give each [[server]] its own name", entry.name),
                ));
            }
            if let Some(tool) = tools.iter().find(|t| t.name.starts_with(&format!("{}_", entry.name))) {
                return Err(at(
                    offset,
                    format!(
                        "server {0:?} would expose tools named {0}_…, and [[tool]] {1:?} already starts so: rename one",
                        entry.name, tool.name
                    ),
                ));
            }
            servers.push(entry);
        }
        let approval_timeout = match raw.approvals {
            None => Duration::from_secs(DEFAULT_APPROVAL_TIMEOUT_SECS),
            Some(spanned) => {
                let secs = spanned.get_ref().timeout_secs;
                if !(1..=MAX_APPROVAL_TIMEOUT_SECS).contains(&secs) {
                    return Err(at(
                        spanned.span().start,
                        format!(
                            "[approvals] timeout_secs {secs} is out of range: use 1 to {MAX_APPROVAL_TIMEOUT_SECS}"
                        ),
                    ));
                }
                Duration::from_secs(secs)
            }
        };
        Ok(Self { bind, tools, servers, approval_timeout })
    }

    /// The fronted server with this name.
    pub fn server(&self, name: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The tool with this name.
    pub fn tool(&self, name: &str) -> Option<&ToolConfig> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Parse a bind address and refuse anything but loopback.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr =
        text.parse().map_err(|_| format!("bind {text:?} is not an address: write e.g. bind = \"{DEFAULT_BIND}\""))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "bind {text:?} is not a loopback address: Keygate serves only this machine; use 127.0.0.1 or [::1]"
        ));
    }
    Ok(addr)
}

fn validate_tool(raw: RawTool) -> Result<ToolConfig, String> {
    let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if raw.name.is_empty() || raw.name.len() > 128 || !raw.name.chars().all(name_ok) {
        return Err(format!("tool name {:?} is invalid: use 1-128 characters of A-Z a-z 0-9 _ - .", raw.name));
    }
    let tool = &raw.name;
    keygate_vault::validate_name(&raw.credential)
        .map_err(|_| format!("tool {tool}: credential {:?} is not a valid credential name", raw.credential))?;
    let url = reqwest::Url::parse(&raw.url).map_err(|e| {
        format!("tool {tool}: url {:?} is not a URL ({e}): write e.g. https://api.example.com/v1/search", raw.url)
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("tool {tool}: url {:?} must be an http:// or https:// URL with a host", raw.url));
    }
    let credential_header =
        reqwest::header::HeaderName::from_bytes(raw.credential_header.as_bytes()).map_err(|_| {
            format!("tool {tool}: credential_header {:?} is not an HTTP header name", raw.credential_header)
        })?;
    if reqwest::header::HeaderValue::from_str(&raw.credential_prefix).is_err() {
        return Err(format!("tool {tool}: credential_prefix must be printable text"));
    }
    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout_secs) {
        return Err(format!("tool {tool}: timeout_secs {timeout_secs} is out of range: use 1 to {MAX_TIMEOUT_SECS}"));
    }
    let arguments = ArgumentSchema::compile(&raw.input_schema).map_err(|e| format!("tool {tool}: input_schema {e}"))?;
    Ok(ToolConfig {
        name: raw.name,
        description: raw.description,
        credential: raw.credential,
        method: raw.method,
        url,
        credential_header,
        credential_prefix: raw.credential_prefix,
        timeout: Duration::from_secs(timeout_secs),
        input_schema: raw.input_schema,
        arguments,
        approve: raw.approve,
    })
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: &str = "[[tool]]\nname = \"t\"\ndescription = \"d\"\ncredential = \"k\"\nmethod = \"GET\"\n\
                        url = \"http://127.0.0.1:9/x\"\ncredential_header = \"x-api-key\"\ninput_schema = { type = \"object\" }\n";

    fn error_of(text: &str) -> String {
        Config::parse(text, Path::new("/home/me/config.toml")).expect_err("should be refused").to_string()
    }

    #[test]
    fn the_default_config_serves_web_search_on_7447() {
        let config = Config::parse(keygate_vault::DEFAULT_CONFIG, Path::new("config.toml")).expect("default parses");
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        let tool = config.tool("web_search").expect("web_search");
        assert_eq!(tool.credential, "scavio_api_key");
        assert_eq!(tool.method, Method::Post);
        assert_eq!(tool.credential_header.as_str(), "x-api-key");
        assert_eq!(tool.timeout, Duration::from_secs(15));
    }

    #[test]
    fn an_unknown_key_names_the_file_and_line() {
        let err = error_of(&format!("[server]\nbind = \"127.0.0.1:7447\"\n\n{TOOL}urll = \"x\"\n"));
        assert!(err.starts_with("/home/me/config.toml:12:"), "{err}");
        assert!(err.contains("urll"), "{err}");
    }

    #[test]
    fn each_mistake_is_named_with_its_line_and_fix() {
        let cases = [
            (TOOL.replace("http://127.0.0.1:9/x", "ftp://x/y"), "must be an http:// or https:// URL"),
            (TOOL.replace("http://127.0.0.1:9/x", "not a url"), "is not a URL"),
            (TOOL.replace("x-api-key", "bad header"), "not an HTTP header name"),
            (TOOL.replace("\"GET\"", "\"PATCH\""), "PATCH"),
            (TOOL.replace("credential = \"k\"", "credential = \"Bad Name\""), "not a valid credential name"),
            (TOOL.replace("{ type = \"object\" }", "{ type = \"string\" }"), "must be an object schema"),
            (
                TOOL.replace("{ type = \"object\" }", "{ type = \"object\", properties = { q = { type = 5 } } }"),
                "not a valid JSON Schema",
            ),
            (TOOL.replace("name = \"t\"", "name = \"has space\""), "tool name"),
            (format!("{TOOL}timeout_secs = 0\n"), "timeout_secs 0"),
            (format!("{TOOL}\n{TOOL}"), "defined twice"),
        ];
        for (text, needle) in cases {
            let err = error_of(&text);
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
            assert!(err.starts_with("/home/me/config.toml:"), "no file: {err}");
            assert!(err.split(':').nth(1).is_some_and(|line| line.parse::<usize>().is_ok()), "no line: {err}");
        }
    }

    const SERVER: &str = "[[server]]\nname = \"github\"\ncommand = \"npx\"\nargs = [\"-y\", \"server-github\"]\n\
                          env = { TOKEN = { credential = \"github_token\" }, TOOLSETS = \"repos\" }\nidle_minutes = 10\n";

    #[test]
    fn servers_parse_with_their_settings() {
        let remote = "[[server]]\nname = \"notion\"\nurl = \"https://mcp.notion.example/mcp\"\n\
                      headers = { Authorization = { credential = \"notion_key\", prefix = \"Bearer \" } }\n";
        let config = Config::parse(&format!("{SERVER}{remote}"), Path::new("c.toml")).expect("parses");
        let github = config.server("github").expect("github");
        assert_eq!(github.credentials(), ["github_token"]);
        assert_eq!(github.idle, Some(Duration::from_secs(600)));
        let Transport::Stdio { command, args, env } = &github.transport else { panic!("stdio") };
        assert_eq!((command.as_str(), args.len()), ("npx", 2));
        assert_eq!(env[1], ("TOOLSETS".to_string(), Setting::Plain("repos".into())));
        let notion = config.server("notion").expect("notion");
        let Transport::Http { headers, .. } = &notion.transport else { panic!("http") };
        assert_eq!(headers[0].1, Setting::Credential { credential: "notion_key".into(), prefix: "Bearer ".into() });
        assert_eq!(github.exposed_name("create_issue").expect("fits"), "github_create_issue");
        assert!(github.exposed_name(&"x".repeat(60)).expect_err("too long").contains("^[A-Za-z0-9_-]{1,64}$"));
        assert!(github.exposed_name("has space").is_err());
    }

    #[test]
    fn server_mistakes_are_named_with_line_and_fix() {
        let cases = [
            (SERVER.replace("\"github\"", "\"git_hub\""), "no `_`"),
            (SERVER.replace("\"github\"", "\"GitHub\""), "server name"),
            (SERVER.replace("command = \"npx\"", "url = \"https://x.example/mcp\"\ncommand = \"npx\""), "not both"),
            (SERVER.replace("command = \"npx\"\n", ""), "say how to reach it"),
            (SERVER.replace("\"github_token\"", "\"Bad Name\""), "not a valid credential name"),
            (SERVER.replace("{ credential = \"github_token\" }", "{ credentail = \"x\" }"), "must be text or"),
            (SERVER.replace("idle_minutes = 10", "idle_minutes = 99999999"), "idle_minutes"),
            (format!("{SERVER}timeout_secs = 0\n"), "timeout_secs 0"),
            (format!("{SERVER}\n{SERVER}"), "defined twice"),
            (format!("{SERVER}bogus = 1\n"), "bogus"),
            (
                "[[server]]\nname = \"n\"\nurl = \"https://user:pw@x.example/mcp\"\n".to_string(),
                "put the secret in the vault",
            ),
            (format!("{SERVER}{}", TOOL.replace("name = \"t\"", "name = \"github_x\"")), "rename one"),
        ];
        for (text, needle) in cases {
            let err = error_of(&text);
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
            assert!(err.split(':').nth(1).is_some_and(|line| line.parse::<usize>().is_ok()), "no line: {err}");
        }
    }

    #[test]
    fn an_old_style_server_table_still_sets_the_bind_address() {
        let config = Config::parse("[server]\nbind = \"127.0.0.1:9999\"\n", Path::new("c.toml")).expect("legacy");
        assert_eq!(config.bind.port(), 9999);
        assert!(config.servers.is_empty());
        let config = Config::parse("[listen]\nbind = \"127.0.0.1:9998\"\n", Path::new("c.toml")).expect("listen");
        assert_eq!(config.bind.port(), 9998);
    }

    #[test]
    fn only_loopback_binds_are_accepted() {
        assert!(parse_bind("127.0.0.1:7447").is_ok());
        assert!(parse_bind("[::1]:7447").is_ok());
        for bad in ["0.0.0.0:7447", "192.168.1.2:7447", "[::]:7447"] {
            assert!(parse_bind(bad).expect_err(bad).contains("not a loopback address"), "{bad}");
        }
        assert!(parse_bind("localhost:7447").expect_err("names are not addresses").contains("not an address"));
        let err = error_of("[server]\nbind = \"0.0.0.0:7447\"\n");
        assert!(err.starts_with("/home/me/config.toml:2:") && err.contains("loopback"), "{err}");
    }
}
