//! The Tools view: every tool agents can be given (each `[[tool]]`, and each fronted server's
//! listed tools) with the credentials it needs and whether it is ready to call. The shape is
//! the one `keygate tools` prints, so the view can move to the library's `tool_readiness`
//! without the window noticing.

use std::collections::{HashMap, HashSet};

use keygate_mcp::Config;
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
    /// Callable now: every credential is in the vault and the tool is not held back.
    pub ready: bool,
    /// The credentials it needs that are not in the vault.
    pub missing: Vec<String>,
    /// New or changed since its server's tools were approved: agents cannot call it yet.
    pub held_back: bool,
    /// What the tool does, as its config or server says.
    pub description: String,
}

/// Every tool of `config`: HTTP tools first, then each server's pinned (listed) tools.
pub fn readiness(
    config: &Config,
    pins: &HashMap<String, Vec<ToolPin>>,
    credentials: &HashSet<String>,
) -> Vec<ToolReadiness> {
    let missing_of = |needed: &[&str]| -> Vec<String> {
        needed.iter().filter(|name| !credentials.contains(**name)).map(|name| name.to_string()).collect()
    };
    let http = config.tools.iter().map(|tool| {
        let missing = missing_of(&[tool.credential.as_str()]);
        ToolReadiness {
            tool: tool.name.clone(),
            kind: "http",
            server: None,
            credential: Some(tool.credential.clone()),
            ready: missing.is_empty(),
            missing,
            held_back: false,
            description: keygate_mcp::printable(&tool.description, DESCRIPTION_CHARS),
        }
    });
    let served = config.servers.iter().flat_map(|entry| {
        let needed = entry.credentials();
        let missing = missing_of(&needed);
        let credential = (!needed.is_empty()).then(|| needed.join(", "));
        let listed: Vec<&ToolPin> = pins.get(&entry.name).into_iter().flatten().filter(|p| p.listed).collect();
        let row = |tool: String, held_back: bool, description: String| ToolReadiness {
            tool,
            kind: "server",
            server: Some(entry.name.clone()),
            credential: credential.clone(),
            ready: missing.is_empty() && !held_back,
            missing: missing.clone(),
            held_back,
            description,
        };
        if listed.is_empty() {
            let note =
                format!("every tool of server {} (not listed yet: it lists them when it first starts)", entry.name);
            return vec![row(format!("{}_*", entry.name), false, note)];
        }
        listed
            .into_iter()
            .map(|pin| {
                let exposed = entry.exposed_name(&pin.tool).unwrap_or_else(|_| format!("{}_{}", entry.name, pin.tool));
                let description = keygate_mcp::printable(&pin_description(&pin.definition), DESCRIPTION_CHARS);
                row(keygate_mcp::printable(&exposed, TOOL_CHARS), pin.state.is_quarantined(), description)
            })
            .collect()
    });
    http.chain(served).collect()
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
    state.with_vault(|vault| {
        let credentials = vault.list_credentials()?.into_iter().map(|c| c.name).collect();
        let mut pins = HashMap::new();
        for entry in &config.servers {
            pins.insert(entry.name.clone(), vault.tool_pins(&entry.name)?);
        }
        Ok(readiness(&config, &pins, &credentials))
    })
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

    #[test]
    fn a_tool_whose_credential_is_missing_names_it_and_is_not_ready() {
        let pins = HashMap::from([("github".to_string(), vec![pin("create_issue", PinState::Approved)])]);
        let rows = readiness(&config(), &pins, &HashSet::from(["github_token".to_string()]));
        let names: Vec<_> = rows.iter().map(|r| (r.tool.as_str(), r.kind, r.ready)).collect();
        assert_eq!(
            names,
            [("web_search", "http", false), ("github_create_issue", "server", true), ("docs_*", "server", true)]
        );
        assert_eq!(rows[0].missing, ["scavio_api_key"]);
        assert_eq!(rows[1].credential.as_deref(), Some("github_token"));
        assert_eq!(rows[1].description, "create_issue things");
        assert_eq!(rows[2].credential, None, "a server that needs no key");
    }

    #[test]
    fn a_held_back_tool_is_not_ready_even_with_its_keys() {
        let pins = HashMap::from([(
            "github".to_string(),
            vec![pin("create_issue", PinState::Changed), pin("list_issues", PinState::Approved)],
        )]);
        let all = HashSet::from(["github_token".to_string(), "scavio_api_key".to_string()]);
        let rows = readiness(&config(), &pins, &all);
        let github: Vec<_> = rows.iter().filter(|r| r.server.as_deref() == Some("github")).collect();
        assert_eq!(github.len(), 2);
        assert!(github[0].held_back && !github[0].ready && github[0].missing.is_empty());
        assert!(github[1].ready);
        assert!(rows[0].ready, "web_search has its key");
    }
}
