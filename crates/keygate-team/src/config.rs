//! `[team]` in config.toml: where the team's OpenBao is and which KV v2 path holds the keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Result, TeamError};

/// The section's name in config.toml.
pub const TEAM_SECTION: &str = "team";

const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

/// Where a team's credentials live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamConfig {
    /// OpenBao's address, `http(s)://host:port` (http only on loopback).
    pub address: String,
    /// A KV v2 mount.
    pub mount: String,
    /// The folder under the mount that holds one secret per credential.
    pub path: String,
    /// How often a running Keygate checks for new versions.
    pub refresh: Duration,
    /// AppRole's role id, when the machine logs in with AppRole (the secret id is in the keychain).
    pub approle_role_id: Option<String>,
    /// The config file, named in errors.
    pub file: PathBuf,
}

#[derive(Deserialize)]
struct File {
    team: Option<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    address: String,
    mount: String,
    path: String,
    refresh_seconds: Option<u64>,
    approle_role_id: Option<String>,
}

impl TeamConfig {
    /// The `[team]` section of the config file at `path`; `None` if the file or the section
    /// is missing.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(config_error(path, format!("cannot be read ({e})"))),
        };
        Self::parse(&text, path)
    }

    /// Like [`TeamConfig::load`], but a missing section is an error naming the file.
    pub fn require(path: &Path) -> Result<Self> {
        Self::load(path)?.ok_or_else(|| TeamError::NotConfigured { path: path.to_path_buf() })
    }

    /// The `[team]` section of `text`, the config file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Option<Self>> {
        // Only this section is read here: the rest of the file is checked by its owners.
        let table: toml::Table = toml::from_str(text).map_err(|e| config_error(path, first_line(&e.to_string())))?;
        let file: File =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| config_error(path, e.to_string()))?;
        let Some(raw) = file.team else { return Ok(None) };
        let refresh = raw.refresh_seconds.unwrap_or(30);
        if !REFRESH_RANGE.contains(&refresh) {
            return Err(config_error(path, format!("refresh_seconds = {refresh}: use 1 to 86400")));
        }
        Ok(Some(Self {
            address: check_address(&raw.address).map_err(|d| config_error(path, d))?,
            mount: check_segments("mount", &raw.mount).map_err(|d| config_error(path, d))?,
            path: check_segments("path", &raw.path).map_err(|d| config_error(path, d))?,
            refresh: Duration::from_secs(refresh),
            approle_role_id: raw
                .approle_role_id
                .map(|r| check_role(&r).map_err(|d| config_error(path, d)))
                .transpose()?,
            file: path.to_path_buf(),
        }))
    }
}

fn check_address(address: &str) -> std::result::Result<String, String> {
    let bad = |why: &str| format!("address = {address:?}: {why}");
    let url = reqwest::Url::parse(address).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let Some(host) = url.host_str() else { return Err(bad("no host")) };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("use https (plain http only to this computer)")),
        _ => return Err(bad("use https://host:port")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("give only scheme, host, port and path; the login goes in `keygate team login`"));
    }
    Ok(address.trim_end_matches('/').to_string())
}

/// A mount or path: `/`-separated segments of `[A-Za-z0-9_.-]`, no `.` or `..`.
fn check_segments(field: &str, value: &str) -> std::result::Result<String, String> {
    let trimmed = value.trim_matches('/');
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.len() <= 100
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if trimmed.is_empty() || !trimmed.split('/').all(valid) {
        return Err(format!(
            "{field} = {value:?}: use segments of letters, digits, `_`, `-` and `.`, separated by `/`"
        ));
    }
    Ok(trimmed.to_string())
}

fn check_role(role: &str) -> std::result::Result<String, String> {
    let valid = !role.is_empty() && role.len() <= 128 && role.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(role.to_string())
    } else {
        Err("approle_role_id: use the role id OpenBao gave (letters, digits, `-`)".into())
    }
}

fn config_error(path: &Path, detail: String) -> TeamError {
    TeamError::Config { path: path.to_path_buf(), detail }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<TeamConfig>> {
        TeamConfig::parse(text, Path::new("config.toml"))
    }

    #[test]
    fn a_team_section_is_read_and_checked() {
        let text = "[team]\naddress = \"http://127.0.0.1:8200/\"\nmount = \"secret\"\npath = \"/keygate/acme/\"\n";
        let team = parse(text).expect("valid").expect("present");
        assert_eq!(
            (team.address.as_str(), team.mount.as_str(), team.path.as_str()),
            ("http://127.0.0.1:8200", "secret", "keygate/acme")
        );
        assert_eq!(team.refresh, Duration::from_secs(30));
        assert_eq!(parse("[tokens]\nmax_ttl = \"1h\"\n").expect("valid"), None);
    }

    #[test]
    fn bad_sections_name_the_field() {
        let base = |extra: &str| format!("[team]\nmount = \"secret\"\npath = \"kg\"\n{extra}");
        for (extra, needle) in [
            ("address = \"http://bao.example.com:8200\"", "use https"),
            ("address = \"https://user:pw@bao.example.com\"", "team login"),
            ("address = \"ftp://x\"", "use https://"),
            ("address = \"not a url\"", "not a URL"),
            ("address = \"https://bao.example.com\"\nrefresh_seconds = 0", "refresh_seconds"),
            ("address = \"https://bao.example.com\"\ncolour = 1", "colour"),
        ] {
            let error = parse(&base(extra)).expect_err(extra).to_string();
            assert!(error.contains(needle) && error.contains("config.toml"), "{extra}: {error}");
        }
        let error = parse("[team]\naddress = \"https://b\"\nmount = \"../sys\"\npath = \"kg\"\n").expect_err("dots");
        assert!(error.to_string().contains("mount"), "{error}");
    }
}
