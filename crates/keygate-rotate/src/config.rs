//! `[rotator.NAME]` tables of config.toml: one per credential that rotates itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::error::{Result, RotateError};

const DEFAULT_TIMEOUT_SECS: u64 = 30;
const MAX_TIMEOUT_SECS: u64 = 300;

/// Which provider mints the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A program: the issue's stdin/stdout JSON contract.
    Command {
        /// Mints a key (argv; never a secret).
        command: Vec<String>,
        /// Revokes one; without it old keys are only erased from the vault.
        revoke_command: Option<Vec<String>>,
    },
    /// OpenAI admin API: a project service account per key.
    OpenAi {
        /// The project whose service accounts hold the keys; `None`: the organization's one
        /// active project (refused, naming them, when there are several).
        project: Option<String>,
    },
    /// OpenRouter's `/api/v1/keys` (a provisioning key as admin credential).
    OpenRouter,
    /// Cloudflare API tokens (`/user/tokens`): a new token with the current one's policies.
    Cloudflare,
    /// A provider with no key API: the person pastes the new key (`keygate cred rotate NAME`
    /// with the value on stdin) and the test checks it before it becomes current.
    Manual,
}

impl Kind {
    /// The word used in config.toml.
    pub fn word(&self) -> &'static str {
        match self {
            Kind::Command { .. } => "command",
            Kind::OpenAi { .. } => "openai",
            Kind::OpenRouter => "openrouter",
            Kind::Cloudflare => "cloudflare",
            Kind::Manual => "manual",
        }
    }
}

/// When a rotator runs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// When the credential is due (its max age).
    MaxAge,
    /// Only on `keygate cred rotate` or Rotate now.
    Manual,
}

/// The test request a new key must pass before it becomes current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// GET, HEAD or POST.
    pub method: String,
    /// Where (http or https).
    pub url: Url,
    /// The header that carries the key.
    pub header: String,
    /// Put before the key, e.g. `Bearer `.
    pub prefix: String,
    /// The status that means the key works.
    pub expect_status: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    #[serde(default = "default_method")]
    method: String,
    url: String,
    #[serde(default = "default_header")]
    header: String,
    #[serde(default)]
    prefix: String,
    #[serde(default = "default_status")]
    expect_status: u16,
}

fn default_method() -> String {
    "GET".into()
}
fn default_header() -> String {
    "Authorization".into()
}
fn default_status() -> u16 {
    200
}

/// One credential's rotator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotator {
    /// The credential it rotates (the table's name).
    pub credential: String,
    /// The provider.
    pub kind: Kind,
    /// The vault credential that may mint keys (built-ins).
    pub admin_credential: Option<String>,
    /// The provider's API root; the provider's own by default.
    pub base_url: Option<Url>,
    /// When it runs by itself.
    pub schedule: Schedule,
    /// The test a new key must pass.
    pub test: Option<Probe>,
    /// How long one command or request may take.
    pub timeout: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotator {
    kind: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    revoke_command: Option<Vec<String>>,
    #[serde(default)]
    admin_credential: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    schedule: Option<Schedule>,
    #[serde(default)]
    test: Option<RawProbe>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    rotator: BTreeMap<String, toml::Value>,
}

/// Every rotator in config.toml, by credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotatorSet {
    rotators: BTreeMap<String, Rotator>,
}

impl RotatorSet {
    /// The rotators of the config file at `path` (none if it does not exist).
    pub fn load(path: &Path) -> Result<Self> {
        let file_error = |detail: String| RotateError::ConfigFile { path: path.display().to_string(), detail };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(file_error(e.to_string())),
        };
        Self::parse(&text).map_err(|e| match e {
            RotateError::ConfigFile { detail, .. } => file_error(detail),
            e => e,
        })
    }

    /// The rotators in `text`, a config.toml.
    pub fn parse(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text)
            .map_err(|e| RotateError::ConfigFile { path: "config.toml".into(), detail: one_line(&e.to_string()) })?;
        let mut rotators = BTreeMap::new();
        for (name, value) in file.rotator {
            keygate_vault::validate_name(&name).map_err(|e| config_error(&name, e.to_string()))?;
            let raw: RawRotator = value.try_into().map_err(|e| config_error(&name, one_line(&e.to_string())))?;
            rotators.insert(name.clone(), build(&name, raw)?);
        }
        Ok(Self { rotators })
    }

    /// The rotator of `credential`, if it has one.
    pub fn get(&self, credential: &str) -> Option<&Rotator> {
        self.rotators.get(credential)
    }

    /// Every rotator, by credential name.
    pub fn iter(&self) -> impl Iterator<Item = &Rotator> {
        self.rotators.values()
    }
}

fn build(name: &str, raw: RawRotator) -> Result<Rotator> {
    let err = |detail: &str| config_error(name, detail.to_string());
    let kind = match raw.kind.as_str() {
        "command" => {
            let command = raw.command.filter(|c| !c.is_empty()).ok_or_else(|| {
                err("kind = \"command\" needs command = [\"/path/to/program\", ...] (the program that mints a key)")
            })?;
            if raw.revoke_command.as_ref().is_some_and(Vec::is_empty) {
                return Err(err("revoke_command is empty: name a program, or leave it out"));
            }
            Kind::Command { command, revoke_command: raw.revoke_command }
        }
        "openai" => Kind::OpenAi { project: raw.project },
        "openrouter" => Kind::OpenRouter,
        "cloudflare" => Kind::Cloudflare,
        "manual" => Kind::Manual,
        other => {
            return Err(err(&format!(
                "unknown kind {:?}: use openai, openrouter, cloudflare, command or manual",
                shown(other)
            )));
        }
    };
    if !matches!(kind, Kind::Command { .. } | Kind::Manual) && raw.admin_credential.is_none() {
        return Err(err("a built-in rotator needs admin_credential = \"NAME\" (the vault credential that mints keys)"));
    }
    if let Some(admin) = &raw.admin_credential {
        keygate_vault::validate_name(admin).map_err(|e| err(&format!("admin_credential: {e}")))?;
        if admin == name {
            return Err(err("admin_credential cannot be the credential it rotates"));
        }
    }
    let test = raw.test.map(|probe| build_probe(probe).map_err(|d| err(&d))).transpose()?;
    let base_url = match raw.base_url {
        Some(text) => Some(parse_http(&text).map_err(|d| err(&format!("base_url: {d}")))?),
        None => None,
    };
    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout_secs) {
        return Err(err(&format!("timeout_secs = {timeout_secs}: use 1 to {MAX_TIMEOUT_SECS}")));
    }
    Ok(Rotator {
        credential: name.to_string(),
        kind,
        admin_credential: raw.admin_credential,
        base_url,
        schedule: raw.schedule.unwrap_or(Schedule::MaxAge),
        test,
        timeout: Duration::from_secs(timeout_secs),
    })
}

fn build_probe(probe: RawProbe) -> std::result::Result<Probe, String> {
    if !matches!(probe.method.as_str(), "GET" | "HEAD" | "POST") {
        return Err(format!("test.method {:?}: use GET, HEAD or POST", shown(&probe.method)));
    }
    let url = parse_http(&probe.url).map_err(|d| format!("test.url: {d}"))?;
    if reqwest::header::HeaderName::from_bytes(probe.header.as_bytes()).is_err() {
        return Err("test.header is not a valid HTTP header name".into());
    }
    if !(100..=599).contains(&probe.expect_status) {
        return Err(format!("test.expect_status = {}: use an HTTP status, 100 to 599", probe.expect_status));
    }
    let RawProbe { method, header, prefix, expect_status, .. } = probe;
    Ok(Probe { method, url, header, prefix, expect_status })
}

fn parse_http(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{:?} is not a URL ({e})", shown(text)))?;
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(url)
    } else {
        Err("use an http:// or https:// URL".into())
    }
}

fn config_error(name: &str, detail: String) -> RotateError {
    RotateError::Config { name: shown(name), detail }
}

/// Text from the file, escaped and bounded for an error (the file is the person's, but may hold anything).
/// `text` cut and escaped, to quote in a message.
pub(crate) fn shown(text: &str) -> String {
    text.chars().take(64).flat_map(char::escape_debug).collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_examples_parse() {
        let set = RotatorSet::parse(
            r#"
[rotator.openai_key]
kind = "openai"
project = "proj_1"
admin_credential = "openai_admin_key"
base_url = "https://api.openai.com"
schedule = "max_age"
test = { method = "GET", url = "https://api.openai.com/v1/models", header = "Authorization", prefix = "Bearer ", expect_status = 200 }

[rotator.legacy_key]
kind = "command"
command = ["/usr/local/bin/mint-key"]
revoke_command = ["/usr/local/bin/revoke-key"]
timeout_secs = 30
"#,
        )
        .expect("parses");
        let openai = set.get("openai_key").expect("openai");
        assert_eq!(openai.kind, Kind::OpenAi { project: Some("proj_1".into()) });
        assert_eq!(openai.test.as_ref().map(|t| t.prefix.as_str()), Some("Bearer "));
        let legacy = set.get("legacy_key").expect("legacy");
        assert_eq!(legacy.schedule, Schedule::MaxAge);
        assert_eq!(legacy.timeout, Duration::from_secs(30));
        assert!(set.get("other").is_none());
    }

    #[test]
    fn bad_rotators_are_refused_by_name_with_what_to_do() {
        for (text, needle) in [
            ("[rotator.k]\nkind = \"magic\"", "unknown kind"),
            ("[rotator.k]\nkind = \"command\"", "needs command"),
            ("[rotator.k]\nkind = \"openrouter\"", "needs admin_credential"),
            ("[rotator.k]\nkind = \"command\"\ncommand = [\"x\"]\ntimeout_secs = 0", "timeout_secs"),
            ("[rotator.k]\nkind = \"command\"\ncommand = [\"x\"]\ncolour = 1", "unknown field"),
            ("[rotator.k]\nkind = \"command\"\ncommand = [\"x\"]\ntest = { url = \"ftp://h/\" }", "test.url"),
            ("[rotator.K]\nkind = \"command\"\ncommand = [\"x\"]", "invalid"),
            ("[rotator.k]\nkind = \"cloudflare\"\nadmin_credential = \"k\"", "cannot be the credential"),
        ] {
            let err = RotatorSet::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
