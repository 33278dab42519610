//! Where each client keeps its config, per OS. Pure path logic over a [`Places`], so the macOS
//! and Windows table is tested on Linux and tests never look at the real home.

use std::path::{Path, PathBuf};

use crate::client::Client;
use crate::error::{ClientError, Result};

/// The operating systems whose client paths Keygate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and the BSDs (XDG layout).
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this build runs on.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The directories client paths are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// The OS whose layout applies.
    pub os: Os,
    /// The user's home directory.
    pub home: PathBuf,
    /// Per-user application config: `$XDG_CONFIG_HOME` or `~/.config` (Linux),
    /// `~/Library/Application Support` (macOS), `%APPDATA%` (Windows).
    pub app_config: PathBuf,
    /// `$CODEX_HOME`, if set.
    pub codex_home: Option<PathBuf>,
}

/// Where one client's config file is, and the directory whose presence says it is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file (it may not exist yet).
    pub file: PathBuf,
    /// A directory the client creates when installed or first run.
    pub installed_marker: PathBuf,
}

impl Places {
    /// The places of the running user, from the environment (`HOME`, `XDG_CONFIG_HOME`, `APPDATA`,
    /// `CODEX_HOME`).
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME").or_else(|| var("USERPROFILE")).filter(|p| p.is_absolute()).ok_or(ClientError::NoHome)?;
        let os = Os::current();
        let absolute = |p: PathBuf| p.is_absolute().then_some(p);
        let app_config = match os {
            Os::Linux => var("XDG_CONFIG_HOME").and_then(absolute).unwrap_or_else(|| home.join(".config")),
            Os::MacOs => home.join("Library").join("Application Support"),
            Os::Windows => var("APPDATA").and_then(absolute).unwrap_or_else(|| home.join("AppData").join("Roaming")),
        };
        Ok(Self { os, home, app_config, codex_home: var("CODEX_HOME").and_then(absolute) })
    }

    /// Where `client` keeps its user-level config.
    pub fn location(&self, client: Client) -> Location {
        let home = &self.home;
        let at = |marker: PathBuf, file: &str| Location { file: marker.join(file), installed_marker: marker };
        match client {
            Client::ClaudeDesktop => at(self.app_config.join("Claude"), "claude_desktop_config.json"),
            Client::ClaudeCode => Location { file: home.join(".claude.json"), installed_marker: home.join(".claude") },
            Client::Cursor => at(home.join(".cursor"), "mcp.json"),
            Client::VsCode => at(self.vscode_user(), "mcp.json"),
            Client::Windsurf => at(home.join(".codeium").join("windsurf"), "mcp_config.json"),
            Client::Codex => at(self.codex_home.clone().unwrap_or_else(|| home.join(".codex")), "config.toml"),
            Client::Gemini => at(home.join(".gemini"), "settings.json"),
            Client::Zed => at(self.zed_dir(), "settings.json"),
            Client::Cline => {
                let storage = self.vscode_user().join("globalStorage").join("saoudrizwan.claude-dev");
                Location { file: storage.join("settings").join("cline_mcp_settings.json"), installed_marker: storage }
            }
        }
    }

    fn vscode_user(&self) -> PathBuf {
        self.app_config.join("Code").join("User")
    }

    /// Zed reads `~/.config/zed` on macOS as on Linux (not Application Support).
    fn zed_dir(&self) -> PathBuf {
        match self.os {
            Os::Linux => self.app_config.join("zed"),
            Os::MacOs => self.home.join(".config").join("zed"),
            Os::Windows => self.app_config.join("Zed"),
        }
    }
}

impl Location {
    /// Whether the client looks installed: its marker directory (or its config file) exists.
    pub fn is_installed(&self) -> bool {
        self.installed_marker.is_dir() || self.file.is_file()
    }

    /// A project-level location: the project directory itself is the marker.
    pub fn in_project(client: Client, dir: &Path) -> Result<Self> {
        Ok(Self { file: client.project_file(dir)?, installed_marker: dir.to_path_buf() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(os: Os, home: &str, app_config: &str) -> Places {
        Places { os, home: home.into(), app_config: app_config.into(), codex_home: None }
    }

    fn file(places: &Places, client: Client) -> String {
        places.location(client).file.to_string_lossy().replace('\\', "/")
    }

    #[test]
    fn linux_paths_follow_xdg() {
        let p = places(Os::Linux, "/home/u", "/home/u/.config");
        let expected = [
            (Client::ClaudeDesktop, "/home/u/.config/Claude/claude_desktop_config.json"),
            (Client::ClaudeCode, "/home/u/.claude.json"),
            (Client::Cursor, "/home/u/.cursor/mcp.json"),
            (Client::VsCode, "/home/u/.config/Code/User/mcp.json"),
            (Client::Windsurf, "/home/u/.codeium/windsurf/mcp_config.json"),
            (Client::Codex, "/home/u/.codex/config.toml"),
            (Client::Gemini, "/home/u/.gemini/settings.json"),
            (Client::Zed, "/home/u/.config/zed/settings.json"),
            (
                Client::Cline,
                "/home/u/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
            ),
        ];
        for (client, path) in expected {
            assert_eq!(file(&p, client), path, "{client}");
        }
        let moved = places(Os::Linux, "/home/u", "/xdg");
        assert_eq!(file(&moved, Client::Zed), "/xdg/zed/settings.json");
        assert_eq!(file(&moved, Client::VsCode), "/xdg/Code/User/mcp.json");
    }

    #[test]
    fn macos_paths_use_application_support_except_zed() {
        let p = places(Os::MacOs, "/Users/u", "/Users/u/Library/Application Support");
        assert_eq!(
            file(&p, Client::ClaudeDesktop),
            "/Users/u/Library/Application Support/Claude/claude_desktop_config.json"
        );
        assert_eq!(file(&p, Client::VsCode), "/Users/u/Library/Application Support/Code/User/mcp.json");
        assert_eq!(file(&p, Client::Zed), "/Users/u/.config/zed/settings.json");
        assert_eq!(file(&p, Client::Cursor), "/Users/u/.cursor/mcp.json");
    }

    #[test]
    fn windows_paths_use_appdata() {
        let p = places(Os::Windows, "C:/Users/u", "C:/Users/u/AppData/Roaming");
        assert_eq!(file(&p, Client::ClaudeDesktop), "C:/Users/u/AppData/Roaming/Claude/claude_desktop_config.json");
        assert_eq!(file(&p, Client::Zed), "C:/Users/u/AppData/Roaming/Zed/settings.json");
        assert_eq!(
            file(&p, Client::Cline),
            "C:/Users/u/AppData/Roaming/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
        );
        assert_eq!(file(&p, Client::Codex), "C:/Users/u/.codex/config.toml");
    }

    #[test]
    fn codex_home_moves_codex() {
        let mut p = places(Os::Linux, "/home/u", "/home/u/.config");
        p.codex_home = Some("/srv/codex".into());
        assert_eq!(file(&p, Client::Codex), "/srv/codex/config.toml");
    }

    #[test]
    fn project_files() {
        let dir = Path::new("/work/p");
        assert_eq!(Location::in_project(Client::ClaudeCode, dir).expect("file").file, dir.join(".mcp.json"));
        assert_eq!(Location::in_project(Client::VsCode, dir).expect("file").file, dir.join(".vscode/mcp.json"));
        assert_eq!(Location::in_project(Client::Zed, dir).expect("file").file, dir.join(".zed/settings.json"));
        assert_eq!(Location::in_project(Client::Codex, dir).expect("file").file, dir.join(".codex/config.toml"));
        assert!(Location::in_project(Client::Windsurf, dir).is_err());
        assert!(Location::in_project(Client::ClaudeDesktop, dir).is_err());
    }
}
