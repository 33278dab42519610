//! Clients registered by RFC 7591 dynamic registration: public clients (no secret), their
//! redirect URIs matched exactly. Bounded: at the limit, the least recently used client with
//! no live sign-in makes room.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::random::random_hex;
use crate::vault::Vault;
use crate::{rows, store};

/// Most clients kept registered.
pub const MAX_CLIENTS: usize = 100;
/// Most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 8;
/// Longest client name kept (characters).
pub const MAX_CLIENT_NAME_LEN: usize = 100;
const MAX_REDIRECT_URI_LEN: usize = 2048;

/// What a client asks to be registered with (already validated by the HTTP layer).
#[derive(Debug, Clone)]
pub struct NewOAuthClient {
    /// Its `client_name`.
    pub name: String,
    /// Its redirect URIs, matched exactly later.
    pub redirect_uris: Vec<String>,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthClient {
    /// Its `client_id`.
    pub id: String,
    /// The name it gave (untrusted: escape before showing).
    pub name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// When it registered.
    pub created_at: Timestamp,
}

fn validate(client: &NewOAuthClient) -> Result<()> {
    let invalid = |reason: String| Err(VaultError::InvalidOAuthClient { reason });
    if client.name.chars().count() > MAX_CLIENT_NAME_LEN || client.name.chars().any(char::is_control) {
        return invalid(format!("client_name must be at most {MAX_CLIENT_NAME_LEN} characters, none of them control"));
    }
    if client.redirect_uris.is_empty() || client.redirect_uris.len() > MAX_REDIRECT_URIS {
        return invalid(format!("register between 1 and {MAX_REDIRECT_URIS} redirect_uris"));
    }
    if client.redirect_uris.iter().any(|uri| uri.is_empty() || uri.len() > MAX_REDIRECT_URI_LEN) {
        return invalid(format!("each redirect URI must be 1 to {MAX_REDIRECT_URI_LEN} bytes"));
    }
    Ok(())
}

impl Vault {
    /// Register a new OAuth client and return it with its new `client_id`.
    pub fn register_oauth_client(&mut self, client: &NewOAuthClient) -> Result<OAuthClient> {
        validate(client)?;
        let now = self.clock.now();
        let id = format!("kgclient_{}", random_hex(16)?);
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| VaultError::InvalidOAuthClient { reason: format!("redirect_uris cannot be stored: {e}") })?;
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let count: i64 = tx.query_row("SELECT count(*) FROM oauth_client", [], |r| r.get(0))?;
            if count as usize >= MAX_CLIENTS {
                make_room(tx)?;
            }
            tx.execute(
                "INSERT INTO oauth_client (id, name, redirect_uris, created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, client.name, uris, now.unix_millis()],
            )?;
            rows::OAUTH_CLIENT.reseal_matching(tx, key, "WHERE c.id = ?1", &[&id])
        })?;
        Ok(OAuthClient { id, name: client.name.clone(), redirect_uris: client.redirect_uris.clone(), created_at: now })
    }

    /// The registered client with this id, if any; refused if its row does not verify.
    pub fn oauth_client(&self, id: &str) -> Result<Option<OAuthClient>> {
        rows::OAUTH_CLIENT.require(&self.conn, &self.keys.rows, "WHERE c.id = ?1", &[&id])?;
        let row = self
            .conn
            .prepare_cached("SELECT name, redirect_uris, created_at FROM oauth_client WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
            .optional()?;
        let Some((name, uris, created_at)) = row else { return Ok(None) };
        let redirect_uris = serde_json::from_str(&uris).map_err(|_| VaultError::InvalidOAuthClient {
            reason: format!("client {id} has unreadable redirect URIs: register it again"),
        })?;
        Ok(Some(OAuthClient {
            id: id.to_string(),
            name,
            redirect_uris,
            created_at: Timestamp::from_unix_millis(created_at),
        }))
    }
}

/// Remove the least recently used client that has no live sign-in; refuse if every one has.
fn make_room(tx: &crate::store::Tx<'_>) -> Result<()> {
    let victim: Option<String> = tx
        .query_row(
            "SELECT id FROM oauth_client c WHERE NOT EXISTS
               (SELECT 1 FROM oauth_family f WHERE f.client_id = c.id AND f.revoked_at IS NULL)
             ORDER BY last_used_at, created_at LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(victim) = victim else { return Err(VaultError::OAuthClientLimit { max: MAX_CLIENTS }) };
    tx.execute("DELETE FROM oauth_client WHERE id = ?1", [victim])?;
    Ok(())
}

/// Stamp a client as used now (it keeps its place when room is made).
pub(super) fn touch(tx: &crate::store::Tx<'_>, client_id: &str, now: Timestamp) -> Result<()> {
    tx.execute("UPDATE oauth_client SET last_used_at = ?2 WHERE id = ?1", params![client_id, now.unix_millis()])?;
    Ok(())
}
