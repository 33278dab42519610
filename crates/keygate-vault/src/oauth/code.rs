//! Authorization codes: single use, valid for a minute, bound to the client, the redirect
//! URI, the PKCE challenge, the resource and the grant the person chose. A code presented a
//! second time revokes the sign-in its first use started (OAuth 2.1 section 4.1.3).

use std::fmt;

use base64::Engine as _;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{CODE_TTL, OAuthRefusal, family, hash_secret, new_secret};
use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::vault::Vault;
use crate::{rows, store};

const CODE_PREFIX: &str = "kgcode_";
/// How long a used code is remembered after it expired (a replay then revokes its sign-in).
const USED_CODE_KEPT_MS: i64 = 24 * 3600 * 1000;

/// What a new code is bound to.
#[derive(Debug, Clone)]
pub struct CodeBinding {
    /// The client it is issued to.
    pub client_id: String,
    /// The redirect URI it is sent to (and must be presented with).
    pub redirect_uri: String,
    /// The PKCE S256 challenge its verifier must match.
    pub code_challenge: String,
    /// The resource the tokens will be for.
    pub resource: String,
    /// The grant the person chose: tokens are minted under it.
    pub grant: String,
}

/// A code presented at the token endpoint with what must match it.
pub struct CodeExchange<'a> {
    /// The code.
    pub code: &'a str,
    /// The client presenting it.
    pub client_id: &'a str,
    /// The redirect URI given at the token endpoint.
    pub redirect_uri: &'a str,
    /// The PKCE verifier.
    pub code_verifier: &'a str,
    /// The resource asked for, if the client named one.
    pub resource: Option<&'a str>,
}

impl fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("code", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &"[redacted]")
            .field("resource", &self.resource)
            .finish()
    }
}

/// A code redeemed: what its tokens are for.
#[derive(Debug, Clone)]
pub(super) struct RedeemedCode {
    pub hash: [u8; 32],
    pub client_id: String,
    pub grant: String,
    pub resource: String,
}

/// Whether `verifier` is a well-formed PKCE verifier whose S256 is `challenge`.
pub(super) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

impl Vault {
    /// Issue a code for an approved consent. Its secret is returned once and never stored.
    pub fn issue_authorization_code(&mut self, binding: &CodeBinding) -> Result<SecretString> {
        let now = self.clock.now();
        let (code, hash) = new_secret(CODE_PREFIX)?;
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            rows::OAUTH_CLIENT.require(tx, key, "WHERE c.id = ?1", &[&binding.client_id])?;
            // Unused codes go once expired; used ones are kept a day longer, to catch a replay.
            tx.execute("DELETE FROM oauth_code WHERE expires_at <= ?1 AND used_at IS NULL", [now.unix_millis()])?;
            let day_ago = now.unix_millis().saturating_sub(USED_CODE_KEPT_MS);
            tx.execute("DELETE FROM oauth_code WHERE expires_at <= ?1", [day_ago])?;
            tx.execute(
                "INSERT INTO oauth_code (hash, client_id, redirect_uri, code_challenge, resource, grant_name, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    hash,
                    binding.client_id,
                    binding.redirect_uri,
                    binding.code_challenge,
                    binding.resource,
                    binding.grant,
                    now.plus(CODE_TTL).unix_millis()
                ],
            )?;
            rows::OAUTH_CODE.reseal_matching(tx, key, "WHERE k.hash = ?1", &[&hash])
        })?;
        Ok(code)
    }

    /// Redeem a code: it is used up by this presentation whatever the outcome, so a guess at
    /// the verifier gets one try.
    pub(super) fn redeem_code(&mut self, exchange: &CodeExchange<'_>) -> Result<RedeemedCode> {
        let now = self.clock.now();
        let hash = hash_secret(exchange.code);
        let key = &self.keys.rows;
        let outcome = store::write(&mut self.conn, |tx| {
            // A code (or its client) changed without the master key is refused, and not used up.
            rows::OAUTH_CODE.require(tx, key, "WHERE k.hash = ?1", &[&hash])?;
            let client = "WHERE c.id = (SELECT client_id FROM oauth_code WHERE hash = ?1)";
            rows::OAUTH_CLIENT.require(tx, key, client, &[&hash])?;
            let row = tx
                .query_row(
                    "SELECT client_id, redirect_uri, code_challenge, resource, grant_name, expires_at, used_at, family_id
                     FROM oauth_code WHERE hash = ?1",
                    [hash],
                    |r| {
                        Ok(StoredCode {
                            client_id: r.get(0)?,
                            redirect_uri: r.get(1)?,
                            code_challenge: r.get(2)?,
                            resource: r.get(3)?,
                            grant: r.get(4)?,
                            expires_at: Timestamp::from_unix_millis(r.get(5)?),
                            used: r.get::<_, Option<i64>>(6)?.is_some(),
                            family_id: r.get(7)?,
                        })
                    },
                )
                .optional()?;
            let Some(stored) = row else { return Ok(Err(OAuthRefusal::BadCode)) };
            if stored.used {
                if let Some(family_id) = &stored.family_id {
                    family::revoke_in(tx, key, family_id, "authorization code reused", now)?;
                }
                return Ok(Err(OAuthRefusal::BadCode));
            }
            tx.execute("UPDATE oauth_code SET used_at = ?2 WHERE hash = ?1", params![hash, now.unix_millis()])?;
            // It verified above, in this transaction.
            rows::OAUTH_CODE.reseal(tx, key, &[vec![Value::Blob(hash.to_vec())]])?;
            Ok(stored.check(exchange, now).map(|()| RedeemedCode {
                hash,
                client_id: stored.client_id,
                grant: stored.grant,
                resource: stored.resource,
            }))
        })?;
        outcome.map_err(VaultError::OAuth)
    }
}

struct StoredCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    resource: String,
    grant: String,
    expires_at: Timestamp,
    used: bool,
    family_id: Option<String>,
}

impl StoredCode {
    fn check(&self, exchange: &CodeExchange<'_>, now: Timestamp) -> std::result::Result<(), OAuthRefusal> {
        if now >= self.expires_at {
            Err(OAuthRefusal::BadCode)
        } else if exchange.client_id != self.client_id || exchange.redirect_uri != self.redirect_uri {
            Err(OAuthRefusal::CodeMismatch)
        } else if !pkce_matches(exchange.code_verifier, &self.code_challenge) {
            Err(OAuthRefusal::BadVerifier)
        } else if exchange.resource.is_some_and(|r| r != self.resource) {
            Err(OAuthRefusal::ResourceMismatch)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pkce_matches;

    #[test]
    fn pkce_s256_per_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(&format!("{verifier} "), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
