//! Config snippets that connect desktop agents to Keygate with a pasted token. Only the app's
//! token view still shows them; `keygate client connect` (crates/keygate-clients) writes configs
//! that hold no secret, and the app's Agents view is to use it instead, then this goes.

use serde_json::json;

/// A desktop agent Keygate knows how to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Claude Desktop: its config launches stdio servers only, so it runs `keygate connect`.
    ClaudeDesktop,
    /// Claude Code: `.mcp.json` in a project, HTTP with a header.
    ClaudeCode,
    /// Cursor: `~/.cursor/mcp.json`, HTTP with a header.
    Cursor,
    /// VS Code: `.vscode/mcp.json`, HTTP with a header.
    VsCode,
}

impl Client {
    /// Every client, for help texts and the app.
    pub const ALL: [Client; 4] = [Client::ClaudeDesktop, Client::ClaudeCode, Client::Cursor, Client::VsCode];

    /// The name used on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::VsCode => "vscode",
        }
    }

    /// Where the snippet goes.
    pub fn config_file(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => {
                "claude_desktop_config.json (Settings > Developer > Edit Config), then restart Claude Desktop"
            }
            Client::ClaudeCode => {
                ".mcp.json in your project root (or `claude mcp add-json keygate '<the inner object>'`)"
            }
            Client::Cursor => "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            Client::VsCode => ".vscode/mcp.json in your workspace",
        }
    }

    /// The JSON to paste. `keygate` is the path of the keygate binary (for the stdio bridge).
    pub fn snippet(self, url: &str, token: &str, keygate: &str) -> String {
        let header = json!({ "Authorization": format!("Bearer {token}") });
        let value = match self {
            Client::ClaudeDesktop => json!({ "mcpServers": { "keygate": {
                "command": keygate, "args": ["connect", "--url", url], "env": { "KEYGATE_TOKEN": token }
            }}}),
            Client::ClaudeCode => {
                json!({ "mcpServers": { "keygate": { "type": "http", "url": url, "headers": header }}})
            }
            Client::Cursor => json!({ "mcpServers": { "keygate": { "url": url, "headers": header }}}),
            Client::VsCode => json!({ "servers": { "keygate": { "type": "http", "url": url, "headers": header }}}),
        };
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

impl std::str::FromStr for Client {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Client::ALL.into_iter().find(|c| c.id() == text).ok_or_else(|| {
            let known: Vec<&str> = Client::ALL.iter().map(|c| c.id()).collect();
            format!("unknown client {text:?}: use one of {}", known.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_is_json_with_the_url_and_token() {
        for client in Client::ALL {
            let text = client.snippet("http://127.0.0.1:7447/mcp", "kg_x_y", "/usr/bin/keygate");
            let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            let flat = value.to_string();
            assert!(flat.contains("http://127.0.0.1:7447/mcp") && flat.contains("kg_x_y"), "{client:?}: {flat}");
            assert_eq!(client.id().parse::<Client>(), Ok(client));
        }
        assert!("emacs".parse::<Client>().expect_err("unknown").contains("claude-desktop"));
    }

    #[test]
    fn claude_desktop_passes_the_token_in_the_environment_not_argv() {
        let text = Client::ClaudeDesktop.snippet("http://127.0.0.1:7447/mcp", "kg_secret", "keygate");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        let server = &value["mcpServers"]["keygate"];
        assert!(!server["args"].to_string().contains("kg_secret"));
        assert_eq!(server["env"]["KEYGATE_TOKEN"], "kg_secret");
    }
}
