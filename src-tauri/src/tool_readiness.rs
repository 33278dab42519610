//! The Tools view: every tool agents can be given (each `[[tool]]`, and each fronted server's
//! listed tools) with the credentials it needs and whether it is ready to call. Whether a tool
//! is ready is decided once, by `keygate_mcp::tool_readiness` (what `keygate tools` prints);
//! this adds what the window shows beside it: the kind and the description.

use std::collections::HashMap;

use keygate_mcp::{Config, Readiness};
use keygate_vault::ToolPin;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

/// The longest tool name and description the window is given (they may come from a server).
const TOOL_CHARS: usize = 64;
const DESCRIPTION_CHARS: usize = 200;

/// One tool and whether an agent could call it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolReadiness {
    /// The name agents call (`<server>_<tool>` for a fronted server's tool; `<server>_*` for a
    /// server whose tools were never listed).
    pub tool: String,
    /// `http` (a `[[tool]]`) or `server` (a fronted MCP server's).
    pub kind: &'static str,
    /// The fronted server, for a server's tool.
    pub server: Option<String>,
    /// The credentials it needs, comma-separated; none for a server that needs no key.
    pub credential: Option<String>,
    /// Callable now: every credential is in the vault and the tool is not held back (a server
    /// not listed yet is started on its first call).
    pub ready: bool,
    /// The credentials it needs that are not in the vault (or that failed their check).
    pub missing: Vec<String>,
    /// New or changed since its server's tools were approved: agents cannot call it yet.
    pub held_back: bool,
    /// What the tool does, as its config or server says.
    pub description: String,
}

/// The window's rows for the library's verdicts, with each tool's description from `config`
/// (HTTP tools) or its server's pins (listed tools).
pub fn readiness(
    config: &Config,
    pins: &HashMap<String, Vec<ToolPin>>,
    verdicts: Vec<keygate_mcp::ToolReadiness>,
) -> Vec<ToolReadiness> {
    let mut descriptions: HashMap<String, String> =
        config.tools.iter().map(|t| (t.name.clone(), t.description.clone())).collect();
    for entry in &config.servers {
        for pin in pins.get(&entry.name).into_iter().flatten() {
            if let Ok(exposed) = entry.exposed_name(&pin.tool) {
                descriptions.insert(exposed, pin_description(&pin.definition));
            }
        }
        let unlisted =
            format!("every tool of server {} (not listed yet: it lists them when it first starts)", entry.name);
        descriptions.insert(format!("{}_*", entry.name), unlisted);
    }
    verdicts
        .into_iter()
        .map(|v| ToolReadiness {
            description: keygate_mcp::printable(
                descriptions.get(&v.tool).map_or("", String::as_str),
                DESCRIPTION_CHARS,
            ),
            tool: keygate_mcp::printable(&v.tool, TOOL_CHARS),
            kind: if v.server.is_some() { "server" } else { "http" },
            credential: (!v.credentials.is_empty()).then(|| v.credentials.join(", ")),
            ready: matches!(v.readiness, Readiness::Ready | Readiness::NotListed),
            held_back: v.readiness == Readiness::HeldBack,
            missing: v.missing,
            server: v.server,
        })
        .collect()
}

/// The `description` of a pinned definition (canonical JSON), or nothing.
fn pin_description(definition: &str) -> String {
    serde_json::from_str::<serde_json::Value>(definition)
        .ok()
        .and_then(|d| d.get("description")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The readiness of every configured tool, from config.toml and the vault.
pub fn list(state: &AppState) -> Result<Vec<ToolReadiness>, AppError> {
    let config = Config::load(&state.home().config_path())?;
    let (verdicts, pins) = state.with_vault(|vault| {
        let mut pins = HashMap::new();
        for entry in &config.servers {
            pins.insert(entry.name.clone(), vault.tool_pins(&entry.name)?);
        }
        Ok((keygate_mcp::tool_readiness(&config, vault), pins))
    })?;
    Ok(readiness(&config, &pins, verdicts?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_vault::PinState;

    const CONFIG: &str = r#"
[[tool]]
name = "web_search"
description = "Search the web"
credential = "scavio_api_key"
method = "POST"
url = "https://api.example.test/search"
credential_header = "x-api-key"
input_schema = { type = "object", properties = { query = { type = "string" } } }

[[server]]
name = "github"
command = "npx"
env = { GITHUB_TOKEN = { credential = "github_token" } }

[[server]]
name = "docs"
command = "docs-server"
"#;

    fn pin(tool: &str, state: PinState) -> ToolPin {
        ToolPin {
            tool: tool.into(),
            state,
            sha256: "0".repeat(64),
            definition: format!(r#"{{"description":"{tool} things","name":"{tool}"}}"#),
            listed: true,
        }
    }

    fn config() -> Config {
        Config::parse(CONFIG, std::path::Path::new("config.toml")).expect("config")
    }

    fn verdict(
        tool: &str,
        server: Option<&str>,
        credentials: &[&str],
        readiness: Readiness,
    ) -> keygate_mcp::ToolReadiness {
        let missing = if readiness == Readiness::NeedsCredential {
            credentials.iter().map(|c| c.to_string()).collect()
        } else {
            vec![]
        };
        keygate_mcp::ToolReadiness {
            tool: tool.into(),
            server: server.map(str::to_string),
            credentials: credentials.iter().map(|c| c.to_string()).collect(),
            readiness,
            missing,
            detail: String::new(),
            fix: None,
        }
    }

    #[test]
    fn the_library_verdicts_get_their_kind_and_description() {
        let pins = HashMap::from([("github".to_string(), vec![pin("create_issue", PinState::Approved)])]);
        let verdicts = vec![
            verdict("web_search", None, &["scavio_api_key"], Readiness::NeedsCredential),
            verdict("github_create_issue", Some("github"), &["github_token"], Readiness::Ready),
            verdict("docs_*", Some("docs"), &[], Readiness::NotListed),
        ];
        let rows = readiness(&config(), &pins, verdicts);
        let names: Vec<_> = rows.iter().map(|r| (r.tool.as_str(), r.kind, r.ready)).collect();
        assert_eq!(
            names,
            [("web_search", "http", false), ("github_create_issue", "server", true), ("docs_*", "server", true)]
        );
        assert_eq!(rows[0].missing, ["scavio_api_key"]);
        assert_eq!(rows[0].description, "Search the web");
        assert_eq!(rows[1].credential.as_deref(), Some("github_token"));
        assert_eq!(rows[1].description, "create_issue things");
        assert_eq!(rows[2].credential, None, "a server that needs no key");
        assert!(rows[2].description.contains("not listed yet"), "{}", rows[2].description);
    }

    #[test]
    fn a_held_back_tool_is_not_ready_even_with_its_keys() {
        let pins = HashMap::from([("github".to_string(), vec![pin("create_issue", PinState::Changed)])]);
        let verdicts = vec![verdict("github_create_issue", Some("github"), &["github_token"], Readiness::HeldBack)];
        let rows = readiness(&config(), &pins, verdicts);
        assert!(rows[0].held_back && !rows[0].ready && rows[0].missing.is_empty());
    }
}
