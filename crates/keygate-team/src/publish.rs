//! A team copy's rotation through its rotator, published: the tested key is written to
//! OpenBao over the team version this machine holds (check-and-set), before it becomes
//! current here. Losing the race to a teammate is final for this key (it is revoked); a lost
//! answer is not (the next run finds whether the write landed).

use std::path::Path;

use keygate_rotate::{Publish, PublishError};
use secrecy::{ExposeSecret, SecretString};

use crate::config::TeamConfig;
use crate::error::{Result, TeamError};
use crate::login::load_login;
use crate::remote::Remote;

/// Publishes to the team's OpenBao.
#[derive(Debug)]
pub struct TeamPublisher {
    remote: Remote,
}

impl TeamPublisher {
    /// Publish through `remote`.
    pub fn new(remote: Remote) -> Self {
        Self { remote }
    }

    /// A publisher for the `[team]` of the config at `config_path`, logged in with the
    /// stored login of the vault `vault_id`; `None` when config.toml has no `[team]`.
    pub async fn for_vault(vault_id: &str, config_path: &Path) -> Result<Option<Self>> {
        let Some(config) = TeamConfig::load(config_path)? else { return Ok(None) };
        let login = load_login(vault_id)?;
        Ok(Some(Self::new(Remote::connect(&config, &login).await?)))
    }
}

impl Publish for TeamPublisher {
    async fn publish(
        &self,
        credential: &str,
        value: &SecretString,
        held: i64,
    ) -> std::result::Result<i64, PublishError> {
        match self.remote.update(credential, value, held).await {
            Ok(version) => Ok(version),
            Err(TeamError::Conflict { .. }) => self.landed_already(credential, value).await,
            Err(e @ (TeamError::Denied { .. } | TeamError::NotFound { .. })) => {
                Err(PublishError::Refused(e.to_string()))
            }
            Err(e) => Err(PublishError::Unsure(e.to_string())),
        }
    }
}

impl TeamPublisher {
    /// After a check-and-set refusal: the team's current version is this value (an earlier
    /// run's write landed and its answer was lost), or a teammate's.
    async fn landed_already(&self, credential: &str, value: &SecretString) -> std::result::Result<i64, PublishError> {
        match self.remote.read(credential).await {
            Ok(Some(current)) if current.value.expose_secret() == value.expose_secret() => Ok(current.version),
            Ok(_) => Err(PublishError::Refused(format!(
                "the team's {credential} changed first (a teammate rotated or removed it); the next sync brings that here"
            ))),
            Err(e) => Err(PublishError::Unsure(e.to_string())),
        }
    }
}
