//! The agents Keygate can set up, and the stdio entry each one's own docs define.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{ClientError, Result, printable};

/// The name of the entry Keygate adds to a client's server list.
pub const ENTRY_NAME: &str = "keygate";

/// A desktop agent whose MCP config Keygate can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// Claude Desktop: `claude_desktop_config.json`, `mcpServers`.
    ClaudeDesktop,
    /// Claude Code: `~/.claude.json` (user scope) or a project's `.mcp.json`, `mcpServers`.
    ClaudeCode,
    /// Cursor: `~/.cursor/mcp.json` or a project's `.cursor/mcp.json`, `mcpServers`.
    Cursor,
    /// VS Code: the user profile's `mcp.json` or a workspace's `.vscode/mcp.json`, `servers`.
    VsCode,
    /// Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers`.
    Windsurf,
    /// Codex: `~/.codex/config.toml` (or `$CODEX_HOME`), `[mcp_servers.NAME]`.
    Codex,
    /// Gemini CLI: `~/.gemini/settings.json`, `mcpServers`.
    Gemini,
    /// Zed: its `settings.json`, `context_servers`.
    Zed,
    /// Cline (a VS Code extension): `cline_mcp_settings.json` in its global storage, `mcpServers`.
    Cline,
}

/// How a client's config file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON with comments and trailing commas allowed (what these editors read).
    Jsonc,
    /// TOML.
    Toml,
}

impl Client {
    /// Every client, in the order they are listed.
    pub const ALL: [Client; 9] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::VsCode,
        Client::Windsurf,
        Client::Codex,
        Client::Gemini,
        Client::Zed,
        Client::Cline,
    ];

    /// The name used on the command line and in the vault.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::VsCode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Zed => "zed",
            Client::Cline => "cline",
        }
    }

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::VsCode => "VS Code",
            Client::Windsurf => "Windsurf",
            Client::Codex => "Codex",
            Client::Gemini => "Gemini CLI",
            Client::Zed => "Zed",
            Client::Cline => "Cline",
        }
    }

    /// The file format of its config.
    pub fn format(self) -> Format {
        if self == Client::Codex { Format::Toml } else { Format::Jsonc }
    }

    /// The top-level key holding its servers, by name.
    pub fn servers_key(self) -> &'static str {
        match self {
            Client::VsCode => "servers",
            Client::Codex => "mcp_servers",
            Client::Zed => "context_servers",
            _ => "mcpServers",
        }
    }

    /// The config file of a project at `dir`, for clients that read one.
    pub fn project_file(self, dir: &Path) -> Result<PathBuf> {
        match self {
            Client::ClaudeCode => Ok(dir.join(".mcp.json")),
            Client::Cursor => Ok(dir.join(".cursor").join("mcp.json")),
            Client::VsCode => Ok(dir.join(".vscode").join("mcp.json")),
            Client::Codex => Ok(dir.join(".codex").join("config.toml")),
            Client::Gemini => Ok(dir.join(".gemini").join("settings.json")),
            Client::Zed => Ok(dir.join(".zed").join("settings.json")),
            _ => Err(ClientError::NoProjectFile { client: self.display_name() }),
        }
    }

    /// The entry launching `command args...` as a stdio server, in this client's documented shape.
    pub fn stdio_entry(self, command: &str, args: &[String]) -> Entry {
        let mut fields = Vec::with_capacity(4);
        // Claude Code (`claude mcp add`) and VS Code name the transport.
        if matches!(self, Client::ClaudeCode | Client::VsCode) {
            fields.push(("type", json!("stdio")));
        }
        fields.push(("command", json!(command)));
        fields.push(("args", json!(args)));
        // Cline's settings carry `disabled` (its panel's switch) on every server.
        if self == Client::Cline {
            fields.push(("disabled", json!(false)));
        }
        Entry { fields }
    }
}

/// A server entry, its fields in the order they are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    fields: Vec<(&'static str, Value)>,
}

impl Entry {
    /// The fields in order.
    pub fn fields(&self) -> &[(&'static str, Value)] {
        &self.fields
    }

    /// The entry as one JSON value (for comparing with what a file holds).
    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect())
    }
}

impl std::str::FromStr for Client {
    type Err = ClientError;

    fn from_str(text: &str) -> Result<Self> {
        Client::ALL.into_iter().find(|c| c.id() == text).ok_or_else(|| ClientError::UnknownClient {
            name: printable(text),
            known: Client::ALL.iter().map(|c| c.id()).collect::<Vec<_>>().join(", "),
        })
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// Check a grant name against `[a-z0-9-]{1,32}`. Whether the grant exists is the vault's to say.
pub fn validate_grant(name: &str) -> Result<()> {
    let valid = (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid { Ok(()) } else { Err(ClientError::InvalidGrant { name: printable(name) }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_names_list_the_known() {
        for client in Client::ALL {
            assert_eq!(client.id().parse::<Client>().expect("known"), client);
        }
        let err = "emacs\u{1b}[2J".parse::<Client>().expect_err("unknown").to_string();
        assert!(err.contains("claude-desktop") && err.contains("cline") && !err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn grant_names_are_checked() {
        for good in ["cursor", "a", "claude-desktop-2", &"x".repeat(32)] {
            assert!(validate_grant(good).is_ok(), "{good}");
        }
        for bad in ["", "Cursor", "a_b", "a b", "../x", &"x".repeat(33), "é"] {
            assert!(validate_grant(bad).is_err(), "{bad}");
        }
    }
}
