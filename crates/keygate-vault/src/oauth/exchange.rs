//! The token endpoint's two exchanges: a code for the first tokens of a sign-in, and a
//! refresh token for the next (rotated). Access tokens are ordinary Keygate tokens minted
//! under the grant the person chose, so revoking the grant stops them and every refresh.

use std::fmt;

use secrecy::SecretString;

use super::code::CodeExchange;
use super::family::{self, NewFamily};
use super::{OAuthRefusal, client, hash_secret};
use crate::error::{Result, VaultError};
use crate::store;
use crate::token::IssuedToken;
use crate::vault::Vault;

/// A refresh token presented with what must match it.
pub struct RefreshExchange<'a> {
    /// The refresh token.
    pub refresh_token: &'a str,
    /// The client presenting it.
    pub client_id: &'a str,
    /// The resource asked for, if the client named one.
    pub resource: Option<&'a str>,
}

impl fmt::Debug for RefreshExchange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshExchange")
            .field("refresh_token", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .finish()
    }
}

/// What the token endpoint hands the client.
pub struct OAuthTokens {
    /// The access token: a Keygate token under the grant.
    pub access: IssuedToken,
    /// The next refresh token (the one presented, if any, is used up).
    pub refresh_token: SecretString,
    /// The grant the tokens are under.
    pub grant: String,
    /// How long the access token lives from now (for `expires_in`).
    pub expires_in: std::time::Duration,
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access", &self.access)
            .field("refresh_token", &"[redacted]")
            .field("grant", &self.grant)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A grant that can no longer mint.
fn grant_gone(error: &VaultError) -> bool {
    matches!(
        error,
        VaultError::GrantNotFound { .. } | VaultError::GrantRevoked { .. } | VaultError::GrantExpired { .. }
    )
}

impl Vault {
    /// Exchange an authorization code (with its PKCE verifier) for the first access and
    /// refresh tokens of a new sign-in.
    pub fn exchange_authorization_code(&mut self, exchange: &CodeExchange<'_>) -> Result<OAuthTokens> {
        let redeemed = self.redeem_code(exchange)?;
        // Read before minting, so `expires_in` is the grant's whole token lifetime.
        let now = self.clock.now();
        let access = match self.mint_grant_token(&redeemed.grant) {
            Ok(access) => access,
            Err(e) if grant_gone(&e) => return Err(VaultError::OAuth(OAuthRefusal::GrantGone)),
            Err(e) => return Err(e),
        };
        let new_family = NewFamily {
            client_id: &redeemed.client_id,
            grant: &redeemed.grant,
            resource: &redeemed.resource,
            code_hash: &redeemed.hash,
            token_id: &access.id,
        };
        let key = &self.keys.rows;
        let refresh_token = store::write(&mut self.conn, |tx| {
            client::touch(tx, &redeemed.client_id, now)?;
            family::start_in(tx, key, &new_family, now).map(|(_, refresh)| refresh)
        })?;
        let expires_in = access.expires_at.since(now);
        Ok(OAuthTokens { access, refresh_token, grant: redeemed.grant, expires_in })
    }

    /// Rotate a refresh token: the presented one is used up and a new pair is returned. A
    /// used one presented again revokes its whole family and the family's access tokens.
    pub fn refresh_oauth_tokens(&mut self, exchange: &RefreshExchange<'_>) -> Result<OAuthTokens> {
        let now = self.clock.now();
        let hash = hash_secret(exchange.refresh_token);
        let Some(stored) = family::find(&self.conn, &self.keys.rows, &hash)? else {
            return Err(VaultError::OAuth(OAuthRefusal::BadRefresh));
        };
        if stored.family_revoked {
            return Err(VaultError::OAuth(OAuthRefusal::FamilyRevoked));
        }
        if stored.used {
            self.revoke_family(&stored.family_id, "refresh token reused")?;
            return Err(VaultError::OAuth(OAuthRefusal::RefreshReused));
        }
        if now >= stored.expires_at || stored.client_id != exchange.client_id {
            return Err(VaultError::OAuth(OAuthRefusal::BadRefresh));
        }
        if exchange.resource.is_some_and(|r| r != stored.resource) {
            return Err(VaultError::OAuth(OAuthRefusal::ResourceMismatch));
        }
        let access = match self.mint_grant_token(&stored.grant) {
            Ok(access) => access,
            Err(e) if grant_gone(&e) => {
                self.revoke_family(&stored.family_id, "grant revoked or expired")?;
                return Err(VaultError::OAuth(OAuthRefusal::GrantGone));
            }
            Err(e) => return Err(e),
        };
        let key = &self.keys.rows;
        let outcome = store::write(&mut self.conn, |tx| {
            family::link_token_in(tx, key, &stored.family_id, &access.id)?;
            if !family::same_grant_in(tx, key, &stored.family_id, &access.id)? {
                // The grant was revoked and a new one took its name: not the grant consented to.
                family::revoke_in(tx, key, &stored.family_id, "grant replaced", now)?;
                return Ok(Err(OAuthRefusal::GrantGone));
            }
            if !family::use_refresh_in(tx, key, &hash, now)? {
                family::revoke_in(tx, key, &stored.family_id, "refresh token reused", now)?;
                return Ok(Err(OAuthRefusal::RefreshReused));
            }
            client::touch(tx, &stored.client_id, now)?;
            family::add_refresh_in(tx, key, &stored.family_id, now).map(Ok)
        })?;
        let refresh_token = outcome.map_err(VaultError::OAuth)?;
        let expires_in = access.expires_at.since(now);
        Ok(OAuthTokens { access, refresh_token, grant: stored.grant, expires_in })
    }

    fn revoke_family(&mut self, family_id: &str, why: &str) -> Result<()> {
        let now = self.clock.now();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| family::revoke_in(tx, key, family_id, why, now))
    }
}
