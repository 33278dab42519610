//! OAuth 2.1 for MCP clients: the durable half of Keygate's loopback authorization server.
//! Registered clients, consent requests waiting for the person, single-use authorization
//! codes, and refresh-token families that rotate on every use. Codes and refresh tokens are
//! kept only as SHA-256 hashes; the HTTP half lives in keygate-mcp.

mod client;
mod code;
mod consent;
mod exchange;
mod family;

use std::time::Duration;

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Result;
use crate::random::fill_random;

pub use client::{MAX_CLIENT_NAME_LEN, MAX_CLIENTS, MAX_REDIRECT_URIS, NewOAuthClient, OAuthClient};
pub use code::{CodeBinding, CodeExchange};
pub use consent::{CONSENT_TTL, ConsentRequest, MAX_PENDING_CONSENTS, NewConsent, PendingConsent};
pub use exchange::{OAuthTokens, RefreshExchange};

/// How long an authorization code can be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a refresh token lives unused (each rotation starts a new one).
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

const SECRET_BYTES: usize = 32;

/// Why an OAuth request was refused. The HTTP layer turns each into an OAuth error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthRefusal {
    /// No client with that id is registered.
    #[error("the client is not registered: register it again")]
    UnknownClient,
    /// The consent request is unknown, already answered or expired.
    #[error("the consent request is unknown, already answered or expired: start the sign-in again")]
    ConsentGone,
    /// Too many consent requests are waiting.
    #[error("too many consent requests are waiting: answer or let them expire first")]
    TooManyConsents,
    /// The code is unknown, expired or already used.
    #[error("the authorization code is unknown, expired or already used")]
    BadCode,
    /// The code was issued to another client or for another redirect URI.
    #[error("the authorization code was issued to another client or redirect URI")]
    CodeMismatch,
    /// The PKCE verifier does not match the challenge.
    #[error("the code_verifier does not match the code_challenge")]
    BadVerifier,
    /// The `resource` differs from the one authorized.
    #[error("the resource does not match the one authorized")]
    ResourceMismatch,
    /// The refresh token is unknown or expired.
    #[error("the refresh token is unknown or expired: sign in again")]
    BadRefresh,
    /// A refresh token was used twice: the whole family is revoked.
    #[error("the refresh token was already used: every token of this sign-in is revoked; sign in again")]
    RefreshReused,
    /// The sign-in was revoked (replay, or its grant revoked).
    #[error("this sign-in has been revoked: sign in again")]
    FamilyRevoked,
    /// The grant is revoked, expired, or was replaced by another of the same name.
    #[error("the grant is revoked or expired: sign in again and pick another")]
    GrantGone,
}

impl OAuthRefusal {
    /// The RFC 6749 error code for a token endpoint answer.
    pub fn error_code(self) -> &'static str {
        match self {
            OAuthRefusal::UnknownClient => "invalid_client",
            OAuthRefusal::ConsentGone | OAuthRefusal::TooManyConsents => "invalid_request",
            _ => "invalid_grant",
        }
    }
}

/// A new random secret `<prefix><64 hex>` and the SHA-256 that the vault keeps of it.
fn new_secret(prefix: &str) -> Result<(SecretString, [u8; 32])> {
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    fill_random(raw.as_mut_slice())?;
    let secret = Zeroizing::new(format!("{prefix}{}", hex::encode(raw.as_slice())));
    let hash = hash_secret(&secret);
    Ok((SecretString::from(secret.as_str()), hash))
}

/// The SHA-256 kept of a code or refresh token. They hold 256 random bits, so a fast hash
/// leaves nothing to brute-force.
fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
