//! `config.toml`: the vault reads only its `[tokens]` and `[audit]` tables; the server owns the rest.

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
    #[serde(default)]
    audit: Option<AuditTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditTable {
    keep_days: Option<i64>,
}

/// How long audit rows are kept (`[audit] keep_days`); `None`: for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditPolicy {
    /// Days a row is kept before retention prunes it behind a checkpoint.
    pub keep_days: Option<u32>,
}

impl AuditPolicy {
    /// The policy in `path`, or the default (keep everything) if the file does not exist.
    pub fn load(path: &Path) -> Result<Self> {
        let Some(text) = read(path)? else { return Ok(Self::default()) };
        Self::parse(&text, path)
    }

    /// The policy in `text`, the contents of the config file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file = parse_file(text, path)?;
        let Some(days) = file.audit.and_then(|a| a.keep_days) else { return Ok(Self::default()) };
        match u32::try_from(days) {
            Ok(days @ 1..=36_500) => Ok(Self { keep_days: Some(days) }),
            _ => Err(VaultError::Config {
                path: path.to_path_buf(),
                detail: format!("[audit] keep_days = {days}: write a number of days from 1 to 36500"),
            }),
        }
    }
}

/// The file's text, or `None` if it does not exist.
fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::io_error("cannot read", path)(e)),
    }
}

fn parse_file(text: &str, path: &Path) -> Result<File> {
    toml::from_str(text).map_err(|e| VaultError::Config { path: path.to_path_buf(), detail: e.to_string() })
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
        let Some(text) = read(path)? else { return Ok(Self::default()) };
        Self::parse(&text, path)
    }

    /// The policy in `text`, the contents of the config file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file = parse_file(text, path)?;
        let config_error = |detail: String| VaultError::Config { path: path.to_path_buf(), detail };
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
    fn audit_keep_days_is_read_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        assert_eq!(AuditPolicy::load(&path).expect("no file"), AuditPolicy::default());
        std::fs::write(&path, "[audit]\nkeep_days = 90\n").expect("write");
        assert_eq!(AuditPolicy::load(&path).expect("load").keep_days, Some(90));
        std::fs::write(&path, "[audit]\nkeep_days = 0\n").expect("write");
        let err = AuditPolicy::load(&path).expect_err("zero").to_string();
        assert!(err.contains("keep_days"), "{err}");
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
