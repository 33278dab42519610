//! Where the bridge's token comes from: fixed (`KEYGATE_TOKEN`), or minted under a grant by
//! the running Keygate and renewed before it expires, so the agent never sees a refusal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::agent_socket::{MintError, MintedToken, mint_token};

/// A token is renewed once this share of its life has passed (2/3: a 15-minute token at 10
/// minutes, a 2-second one at 1.3 s), leaving time for calls in flight to be checked.
const RENEW_AT_NUMERATOR: u32 = 2;
const RENEW_AT_DENOMINATOR: u32 = 3;

/// The bridge's token, renewed as needed.
#[derive(Debug)]
pub(crate) enum Tokens {
    /// A token given once; nothing to renew.
    Fixed(SecretString),
    /// Tokens minted under a grant.
    Grant(GrantTokens),
}

/// Tokens minted under `grant` by the Keygate serving `home`.
#[derive(Debug)]
pub(crate) struct GrantTokens {
    home: PathBuf,
    grant: String,
    current: Mutex<Option<Held>>,
}

#[derive(Debug)]
struct Held {
    token: SecretString,
    renew_at: Instant,
}

impl Held {
    fn new(minted: MintedToken) -> Self {
        let now_millis = keygate_vault::Clock::now(&keygate_vault::SystemClock).unix_millis();
        let life = Duration::from_millis(u64::try_from(minted.expires_at.unix_millis() - now_millis).unwrap_or(0));
        let renew_at = Instant::now() + life * RENEW_AT_NUMERATOR / RENEW_AT_DENOMINATOR;
        Self { token: minted.token, renew_at }
    }
}

impl GrantTokens {
    /// Mint the first token now, so a missing Keygate or grant is reported before serving.
    pub(crate) async fn start(home: PathBuf, grant: String) -> Result<(Self, String), MintError> {
        let minted = mint_token(&home, &grant).await?;
        let url = minted.url.clone();
        let tokens = Self { home, grant, current: Mutex::new(Some(Held::new(minted))) };
        Ok((tokens, url))
    }

    async fn current(&self) -> Result<String, MintError> {
        let mut held = self.current.lock().await;
        if let Some(token) = held.as_ref().filter(|h| Instant::now() < h.renew_at) {
            return Ok(token.token.expose_secret().to_string());
        }
        self.mint_into(&mut held).await
    }

    async fn renew_after_refusal(&self, refused: &str) -> Result<String, MintError> {
        let mut held = self.current.lock().await;
        // Another request may have renewed it already.
        if let Some(token) = held.as_ref().filter(|h| h.token.expose_secret() != refused) {
            return Ok(token.token.expose_secret().to_string());
        }
        self.mint_into(&mut held).await
    }

    async fn mint_into(&self, held: &mut Option<Held>) -> Result<String, MintError> {
        let minted = mint_token(&self.home, &self.grant).await.inspect_err(|e| {
            tracing::warn!(grant = %self.grant, "cannot renew the token: {e}");
        })?;
        let token = minted.token.expose_secret().to_string();
        *held = Some(Held::new(minted));
        Ok(token)
    }
}

impl Tokens {
    /// The token to send now (renewed first if it is due).
    pub(crate) async fn current(&self) -> Result<String, MintError> {
        match self {
            Tokens::Fixed(token) => Ok(token.expose_secret().to_string()),
            Tokens::Grant(grant) => grant.current().await,
        }
    }

    /// A fresh token after `refused` was refused, or `None` when there is nothing to renew.
    pub(crate) async fn renew_after_refusal(&self, refused: &str) -> Option<Result<String, MintError>> {
        match self {
            Tokens::Fixed(_) => None,
            Tokens::Grant(grant) => Some(grant.renew_after_refusal(refused).await),
        }
    }
}
