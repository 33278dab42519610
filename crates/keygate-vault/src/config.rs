//! `config.toml`: the vault reads only its `[tokens]` table; the server owns the rest.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Result, VaultError};

/// Written by `keygate init` when no config exists.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

/// Token lifetimes: the default when none is asked for, and the most that may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// TTL when a request names none.
    pub default_ttl: Duration,
    /// The longest TTL a token may have.
    pub max_ttl: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self { default_ttl: Duration::from_secs(3600), max_ttl: Duration::from_secs(30 * 24 * 3600) }
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    tokens: Option<TokensTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensTable {
    default_ttl: Option<String>,
    max_ttl: Option<String>,
}

impl TokenPolicy {
    /// The policy in `path`, or the default if the file does not exist.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(crate::error::io_error("cannot read", path)(e)),
        };
        let config_error = |detail: String| VaultError::Config { path: path.to_path_buf(), detail };
        let file: File = toml::from_str(&text).map_err(|e| config_error(e.to_string()))?;
        let mut policy = Self::default();
        let Some(tokens) = file.tokens else { return Ok(policy) };
        if let Some(text) = tokens.max_ttl {
            policy.max_ttl = parse_ttl(&text).map_err(|e| config_error(format!("[tokens] max_ttl: {e}")))?;
        }
        if let Some(text) = tokens.default_ttl {
            policy.default_ttl = parse_ttl(&text).map_err(|e| config_error(format!("[tokens] default_ttl: {e}")))?;
        }
        if policy.default_ttl > policy.max_ttl {
            return Err(config_error("[tokens] default_ttl is longer than max_ttl".into()));
        }
        Ok(policy)
    }
}

/// Parse a positive duration such as `90s`, `15m`, `1h`, `7d`.
pub fn parse_ttl(text: &str) -> std::result::Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); write e.g. 30m, 1h or 7d"))?;
    if duration < Duration::from_secs(1) {
        return Err(format!("{text:?} is shorter than one second"));
    }
    Ok(duration)
}

/// A duration the way people write it here: `90s`, `15m`, `2h`, `30d`.
pub fn format_ttl(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses_with_default_policy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, DEFAULT_CONFIG).expect("write");
        assert_eq!(TokenPolicy::load(&path).expect("load"), TokenPolicy::default());
    }

    #[test]
    fn bad_tokens_table_names_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[tokens]\nmax_ttl = \"soon\"\n").expect("write");
        let err = TokenPolicy::load(&path).expect_err("bad ttl").to_string();
        assert!(err.contains("max_ttl") && err.contains("soon"), "{err}");
        std::fs::write(&path, "[tokens]\nmax_tll = \"1h\"\n").expect("write");
        let err = TokenPolicy::load(&path).expect_err("typo").to_string();
        assert!(err.contains("max_tll"), "{err}");
    }

    #[test]
    fn ttl_formatting_uses_the_largest_whole_unit() {
        assert_eq!(format_ttl(Duration::from_secs(90 * 86_400)), "90d");
        assert_eq!(format_ttl(Duration::from_secs(7200)), "2h");
        assert_eq!(format_ttl(Duration::from_secs(90)), "90s");
        assert_eq!(format_ttl(Duration::from_secs(1800)), "30m");
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("-1h").is_err());
        assert!(parse_ttl("").is_err());
    }
}
