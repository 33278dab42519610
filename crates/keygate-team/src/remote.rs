//! The team's OpenBao, through vaultrs: one KV v2 secret per credential at
//! `<mount>/data/<path>/<name>`, holding `{"value": "..."}`, its policy in the secret's custom
//! metadata. Every write is check-and-set: 0 to create, the version read to update.

use std::collections::HashMap;
use std::time::Duration;

use keygate_vault::{TeamVersion, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use vaultrs::api::kv2::requests::{SetSecretMetadataRequest, SetSecretRequestOptions};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use crate::config::TeamConfig;
use crate::error::{Result, TeamError};
use crate::login::Login;

/// OpenBao is asked nothing that should take longer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Reasons OpenBao gives are shown cut to this many characters.
const REASON_CHARS: usize = 300;
/// The custom metadata key holding the rotation policy.
const MAX_AGE_KEY: &str = "keygate_max_age_days";

/// One team secret's current version.
pub struct RemoteSecret {
    /// OpenBao's version number.
    pub version: i64,
    /// The value.
    pub value: SecretString,
    /// The rotation policy the team set, if any.
    pub max_age_days: Option<i64>,
    /// When the team created this version (`created_time`), if it could be read.
    pub created_at: Option<Timestamp>,
}

impl std::fmt::Debug for RemoteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RemoteSecret {{ version: {}, value: [redacted], max_age_days: {:?}, created_at: {:?} }}",
            self.version, self.max_age_days, self.created_at
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Data {
    value: String,
}

/// A logged-in connection to the team's KV v2 path.
pub struct Remote {
    client: VaultClient,
    address: String,
    mount: String,
    path: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote {{ address: {}, mount: {}, path: {} }}", self.address, self.mount, self.path)
    }
}

impl Remote {
    /// Connect with the stored login: the token itself, or AppRole's login exchanged for one.
    pub async fn connect(config: &TeamConfig, login: &Login) -> Result<Self> {
        let token = match &config.approle_role_id {
            None => login.secret.expose_secret().to_string(),
            Some(role_id) => {
                let anonymous = client(config, "")?;
                let auth = vaultrs::auth::approle::login(&anonymous, "approle", role_id, login.secret.expose_secret())
                    .await
                    .map_err(|e| api_error(e, "the AppRole login", &config.address))?;
                auth.client_token
            }
        };
        let client = client(config, &token)?;
        Ok(Self { client, address: config.address.clone(), mount: config.mount.clone(), path: config.path.clone() })
    }

    /// Check that OpenBao answers and the login is valid.
    pub async fn check(&self) -> Result<()> {
        vaultrs::token::lookup_self(&self.client).await.map(|_| ()).map_err(|e| self.error(e, "the login"))
    }

    /// The credential names under the team's path (an empty path lists none).
    pub async fn list(&self) -> Result<Vec<String>> {
        match vaultrs::kv2::list(&self.client, &self.mount, &self.path).await {
            Ok(keys) => Ok(keys.into_iter().filter(|k| !k.ends_with('/')).collect()),
            Err(ClientError::APIError { code: 404, .. }) => Ok(Vec::new()),
            Err(e) => Err(self.error(e, &format!("listing {}/{}", self.mount, self.path))),
        }
    }

    /// The current version of `name`, or `None` if there is none (never written, or its
    /// current version deleted or destroyed).
    pub async fn current_version(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.metadata(name).await?.map(|team| team.version))
    }

    /// What one read of `name`'s metadata says of its current version: number, `created_time`
    /// and the team's policy; `None` if there is no current version.
    pub async fn metadata(&self, name: &str) -> Result<Option<TeamVersion>> {
        let key = self.key(name);
        let meta = match vaultrs::kv2::read_metadata(&self.client, &self.mount, &key).await {
            Ok(meta) => meta,
            Err(ClientError::APIError { code: 404, .. }) => return Ok(None),
            Err(e) => return Err(self.error(e, &format!("reading {name}"))),
        };
        let Some(current) = meta.versions.get(&meta.current_version.to_string()) else { return Ok(None) };
        if !current.deletion_time.is_empty() || current.destroyed {
            return Ok(None);
        }
        let created_at = Timestamp::parse_rfc3339(&current.created_time);
        if created_at.is_none() {
            tracing::warn!(name, "the team version's created_time is not RFC 3339: dated by this machine's clock");
        }
        let max_age_days = meta.custom_metadata.as_ref().and_then(|m| m.get(MAX_AGE_KEY)).and_then(|days| {
            let valid = days.parse().ok().filter(|d| keygate_vault::validate_max_age(*d).is_ok());
            if valid.is_none() {
                tracing::warn!(name, "the team's {MAX_AGE_KEY} is not a number of days from 1 to 3650: not applied");
            }
            valid
        });
        let version = i64::try_from(meta.current_version).unwrap_or(i64::MAX);
        Ok(Some(TeamVersion { version, created_at, max_age_days }))
    }

    /// The value of `name` at `version`, or `None` if that version is gone (deleted since).
    pub async fn read_value(&self, name: &str, version: i64) -> Result<Option<SecretString>> {
        let key = self.key(name);
        let version = u64::try_from(version).unwrap_or_default();
        let data: serde_json::Value = match vaultrs::kv2::read_version(&self.client, &self.mount, &key, version).await {
            Ok(data) => data,
            Err(ClientError::APIError { code: 404, .. }) => return Ok(None),
            Err(e) => return Err(self.error(e, &format!("reading {name}"))),
        };
        let bad = |detail: &str| TeamError::BadSecret { name: name.to_string(), detail: detail.to_string() };
        let data: Data = serde_json::from_value(data)
            .map_err(|_| bad("its data is not {\"value\": \"...\"} (write it with `keygate cred add --team`)"))?;
        Ok(Some(SecretString::from(data.value)))
    }

    /// The current version of `name` with its value, policy and date, or `None` (one read of
    /// the metadata, one of the value).
    pub async fn read(&self, name: &str) -> Result<Option<RemoteSecret>> {
        let Some(team) = self.metadata(name).await? else { return Ok(None) };
        let Some(value) = self.read_value(name, team.version).await? else { return Ok(None) };
        Ok(Some(RemoteSecret {
            version: team.version,
            value,
            max_age_days: team.max_age_days,
            created_at: team.created_at,
        }))
    }

    /// The newest live version of `name` older than `before`, with its value (what a
    /// rollback restores), or `None` if the team keeps none.
    pub async fn previous(&self, name: &str, before: i64) -> Result<Option<(i64, SecretString)>> {
        let key = self.key(name);
        let meta = match vaultrs::kv2::read_metadata(&self.client, &self.mount, &key).await {
            Ok(meta) => meta,
            Err(ClientError::APIError { code: 404, .. }) => return Ok(None),
            Err(e) => return Err(self.error(e, &format!("reading {name}"))),
        };
        let live = |(number, v): (&String, &vaultrs::api::kv2::responses::SecretMetadata)| {
            let number: i64 = number.parse().ok()?;
            (number < before && v.deletion_time.is_empty() && !v.destroyed).then_some(number)
        };
        let Some(version) = meta.versions.iter().filter_map(live).max() else { return Ok(None) };
        let data: serde_json::Value = vaultrs::kv2::read_version(&self.client, &self.mount, &key, version as u64)
            .await
            .map_err(|e| self.error(e, &format!("reading version {version} of {name}")))?;
        let data: Data = serde_json::from_value(data).map_err(|_| TeamError::BadSecret {
            name: name.to_string(),
            detail: format!("version {version}'s data is not {{\"value\": \"...\"}}"),
        })?;
        Ok(Some((version, SecretString::from(data.value))))
    }

    /// Create `name` (check-and-set 0: refused if the team has it already); its version.
    pub async fn create(&self, name: &str, value: &SecretString, max_age_days: Option<i64>) -> Result<i64> {
        let version = self.write(name, value, 0).await.map_err(|e| match e {
            TeamError::Conflict { name } => TeamError::Exists { name },
            other => other,
        })?;
        if let Some(days) = max_age_days {
            self.set_max_age(name, days).await?;
        }
        Ok(version)
    }

    /// Set `name`'s rotation policy (days a version may live), which every machine applies.
    pub async fn set_max_age(&self, name: &str, days: i64) -> Result<()> {
        let metadata = HashMap::from([(MAX_AGE_KEY.to_string(), days.to_string())]);
        let mut request = SetSecretMetadataRequest::builder();
        request.custom_metadata(metadata);
        vaultrs::kv2::set_metadata(&self.client, &self.mount, &self.key(name), Some(&mut request))
            .await
            .map_err(|e| self.error(e, &format!("setting the policy of {name}")))
    }

    /// Write a new version of `name` over `expected` (check-and-set); its version.
    pub async fn update(&self, name: &str, value: &SecretString, expected: i64) -> Result<i64> {
        self.write(name, value, expected).await
    }

    /// Delete `name` and all its versions from the team.
    pub async fn delete(&self, name: &str) -> Result<()> {
        match vaultrs::kv2::delete_metadata(&self.client, &self.mount, &self.key(name)).await {
            Ok(()) => Ok(()),
            Err(ClientError::APIError { code: 404, .. }) => Err(TeamError::NotFound { name: name.to_string() }),
            Err(e) => Err(self.error(e, &format!("deleting {name}"))),
        }
    }

    async fn write(&self, name: &str, value: &SecretString, cas: i64) -> Result<i64> {
        let data = Data { value: value.expose_secret().to_string() };
        let options = SetSecretRequestOptions { cas: u32::try_from(cas).unwrap_or(u32::MAX) };
        match vaultrs::kv2::set_with_options(&self.client, &self.mount, &self.key(name), &data, options).await {
            Ok(meta) => Ok(meta.version as i64),
            Err(ClientError::APIError { code: 400, errors }) if errors.iter().any(|e| e.contains("check-and-set")) => {
                Err(TeamError::Conflict { name: name.to_string() })
            }
            Err(e) => Err(self.error(e, &format!("writing {name}"))),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    fn error(&self, e: ClientError, what: &str) -> TeamError {
        api_error(e, what, &self.address)
    }
}

fn client(config: &TeamConfig, token: &str) -> Result<VaultClient> {
    // Every setting is given: none may come from VAULT_* variables of whoever started Keygate.
    let settings = VaultClientSettingsBuilder::default()
        .address(&config.address)
        .token(token)
        .timeout(Some(TIMEOUT))
        .verify(true)
        .build()
        .map_err(|e| TeamError::Config { path: config.file.clone(), detail: e.to_string() })?;
    VaultClient::new(settings)
        .map_err(|e| TeamError::Unreachable { address: config.address.clone(), detail: e.to_string() })
}

fn api_error(e: ClientError, what: &str, address: &str) -> TeamError {
    match e {
        ClientError::APIError { code: 403, errors } => {
            TeamError::Denied { what: what.to_string(), reason: reason(&errors, "permission denied") }
        }
        ClientError::APIError { code, errors } => {
            TeamError::Api { what: what.to_string(), status: code, reason: reason(&errors, "no reason given") }
        }
        ClientError::RestClientError { source } => {
            TeamError::Unreachable { address: address.to_string(), detail: cut(&chain(&source)) }
        }
        other => TeamError::Api { what: what.to_string(), status: 0, reason: cut(&other.to_string()) },
    }
}

/// An error and its causes, as one line ("error sending request: connection closed ...").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// OpenBao's reasons, joined, made printable and cut.
fn reason(errors: &[String], none: &str) -> String {
    if errors.is_empty() { none.to_string() } else { cut(&errors.join("; ")) }
}

fn cut(text: &str) -> String {
    text.chars().take(REASON_CHARS).flat_map(char::escape_debug).collect()
}
