//! One rotator's provider: mint a key, revoke one, and clean up what an interrupted attempt
//! may have minted. The command rotator runs programs; built-ins call the providers' key APIs.

use keygate_vault::Timestamp;
use secrecy::SecretString;

use crate::builtin::Builtin;
use crate::command;
use crate::config::{Kind, Rotator};

/// A key a provider minted.
pub struct Minted {
    /// The key.
    pub value: SecretString,
    /// The provider's id of it (to revoke it).
    pub id: Option<String>,
    /// When it expires, if the provider said.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Minted {{ value: [redacted], id: {:?}, expires_at: {:?} }}", self.id, self.expires_at)
    }
}

/// What a mint is asked, for idempotence: the same attempt always names the same key.
pub(crate) struct MintRequest<'a> {
    pub credential: &'a str,
    pub current: &'a SecretString,
    pub current_id: Option<&'a str>,
    pub attempt: &'a str,
}

pub(crate) enum Provider<'a> {
    Command { rotator: &'a Rotator },
    Builtin(Builtin<'a>),
}

impl<'a> Provider<'a> {
    pub(crate) fn new(rotator: &'a Rotator, admin: Option<SecretString>) -> Result<Self, String> {
        match &rotator.kind {
            Kind::Command { .. } => Ok(Provider::Command { rotator }),
            _ => {
                let admin = admin.ok_or("the admin credential is missing")?;
                Ok(Provider::Builtin(Builtin::new(rotator, admin)?))
            }
        }
    }

    pub(crate) async fn mint(&self, request: &MintRequest<'_>) -> Result<Minted, String> {
        match self {
            Provider::Command { rotator } => {
                let Kind::Command { command: argv, .. } = &rotator.kind else { return Err("not a command".into()) };
                let input =
                    command::mint_input(request.credential, request.current, request.current_id, request.attempt);
                let out = command::run(argv, &input, rotator.timeout, &[request.current]).await?;
                command::parse_minted(&out, &argv[0])
            }
            Provider::Builtin(builtin) => builtin.mint(request).await,
        }
    }

    /// Revoke a key; one already gone counts as revoked. `Ok(false)`: this provider cannot
    /// revoke (a command rotator without revoke_command).
    pub(crate) async fn revoke(
        &self,
        credential: &str,
        value: &SecretString,
        id: Option<&str>,
    ) -> Result<bool, String> {
        match self {
            Provider::Command { rotator } => {
                let Kind::Command { revoke_command, .. } = &rotator.kind else { return Err("not a command".into()) };
                let Some(argv) = revoke_command else { return Ok(false) };
                let input = command::revoke_input(credential, value, id);
                command::run(argv, &input, rotator.timeout, &[value]).await?;
                Ok(true)
            }
            Provider::Builtin(builtin) => builtin.revoke(value, id).await.map(|()| true),
        }
    }

    /// Revoke whatever an earlier run of `attempt` minted and did not store (built-ins name
    /// their keys after the attempt; a command is idempotent under the attempt by contract).
    pub(crate) async fn clean_up_attempt(&self, credential: &str, attempt: &str) -> Result<(), String> {
        match self {
            Provider::Command { .. } => Ok(()),
            Provider::Builtin(builtin) => builtin.clean_up(credential, attempt).await,
        }
    }
}
