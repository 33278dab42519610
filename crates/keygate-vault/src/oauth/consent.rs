//! Authorization requests waiting for the person: made by `/authorize`, answered once on the
//! consent page (or from the tray, which lists them), gone after a few minutes.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::OAuthRefusal;
use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::mac::RowMac;
use crate::random::random_hex;
use crate::vault::Vault;
use crate::{rows, store};

/// How long a consent request waits for an answer.
pub const CONSENT_TTL: Duration = Duration::from_secs(5 * 60);
/// Most consent requests waiting at once.
pub const MAX_PENDING_CONSENTS: usize = 20;

/// An authorization request, checked by the HTTP layer (client known, redirect URI registered,
/// PKCE challenge well-formed, resource this server's).
#[derive(Debug, Clone, Default)]
pub struct NewConsent {
    /// The client asking.
    pub client_id: String,
    /// Where the answer goes (one of the client's registered URIs).
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The client's `state`, returned as it came.
    pub state: Option<String>,
    /// The resource (RFC 8707) the tokens will be for.
    pub resource: String,
}

/// A consent request with everything needed to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    /// Its id (in the consent page's URL).
    pub id: String,
    /// The client asking.
    pub client_id: String,
    /// The client's name (untrusted: escape before showing).
    pub client_name: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The client's `state`.
    pub state: Option<String>,
    /// The resource the tokens will be for.
    pub resource: String,
    /// When it stops waiting.
    pub expires_at: Timestamp,
}

/// What the tray shows of a waiting request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingConsent {
    /// Its id: the consent page is `/oauth/consent?request=<id>` on the running server.
    pub id: String,
    /// The client asking.
    pub client_id: String,
    /// The client's name (untrusted: escape before showing).
    pub client_name: String,
    /// When it was asked.
    pub created_at: Timestamp,
    /// When it stops waiting.
    pub expires_at: Timestamp,
}

const SELECT: &str = "SELECT r.id, r.client_id, c.name, r.redirect_uri, r.code_challenge, r.state, r.resource,
                             r.expires_at
                      FROM oauth_consent r JOIN oauth_client c ON c.id = r.client_id";

fn read_request(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConsentRequest> {
    Ok(ConsentRequest {
        id: row.get(0)?,
        client_id: row.get(1)?,
        client_name: row.get(2)?,
        redirect_uri: row.get(3)?,
        code_challenge: row.get(4)?,
        state: row.get(5)?,
        resource: row.get(6)?,
        expires_at: Timestamp::from_unix_millis(row.get(7)?),
    })
}

impl Vault {
    /// Record an authorization request for the person to answer.
    pub fn create_consent_request(&mut self, request: &NewConsent) -> Result<ConsentRequest> {
        let now = self.clock.now();
        let id = random_hex(16)?;
        let expires_at = now.plus(CONSENT_TTL);
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            rows::OAUTH_CLIENT.require(tx, key, "WHERE c.id = ?1", &[&request.client_id])?;
            tx.execute("DELETE FROM oauth_consent WHERE expires_at <= ?1", [now.unix_millis()])?;
            let waiting: i64 = tx.query_row("SELECT count(*) FROM oauth_consent", [], |r| r.get(0))?;
            if waiting as usize >= MAX_PENDING_CONSENTS {
                return Err(VaultError::OAuth(OAuthRefusal::TooManyConsents));
            }
            let changed = tx.execute(
                "INSERT INTO oauth_consent (id, client_id, redirect_uri, code_challenge, state, resource, created_at, expires_at)
                 SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8 FROM oauth_client WHERE id = ?2",
                params![
                    id,
                    request.client_id,
                    request.redirect_uri,
                    request.code_challenge,
                    request.state,
                    request.resource,
                    now.unix_millis(),
                    expires_at.unix_millis()
                ],
            )?;
            if changed == 0 {
                return Err(VaultError::OAuth(OAuthRefusal::UnknownClient));
            }
            rows::OAUTH_CONSENT.reseal_matching(tx, key, "WHERE r.id = ?1", &[&id])
        })?;
        self.consent_request(&id)
    }

    /// A waiting consent request (not expired).
    pub fn consent_request(&self, id: &str) -> Result<ConsentRequest> {
        let now = self.clock.now().unix_millis();
        require_request(&self.conn, &self.keys.rows, "WHERE r.id = ?1", &[&id])?;
        self.conn
            .prepare_cached(&format!("{SELECT} WHERE r.id = ?1 AND r.expires_at > ?2"))?
            .query_row(params![id, now], read_request)
            .optional()?
            .ok_or(VaultError::OAuth(OAuthRefusal::ConsentGone))
    }

    /// Take a waiting request to answer it: it can be answered once.
    pub fn take_consent_request(&mut self, id: &str) -> Result<ConsentRequest> {
        let now = self.clock.now().unix_millis();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            require_request(tx, key, "WHERE r.id = ?1", &[&id])?;
            let request = tx
                .prepare_cached(&format!("{SELECT} WHERE r.id = ?1 AND r.expires_at > ?2"))?
                .query_row(params![id, now], read_request)
                .optional()?
                .ok_or(VaultError::OAuth(OAuthRefusal::ConsentGone))?;
            tx.execute("DELETE FROM oauth_consent WHERE id = ?1", [id])?;
            Ok(request)
        })
    }

    /// The consent requests waiting now, oldest first (for the tray).
    pub fn list_pending_consents(&self) -> Result<Vec<PendingConsent>> {
        let now = self.clock.now().unix_millis();
        require_request(&self.conn, &self.keys.rows, "WHERE r.expires_at > ?1", &[&now])?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, r.client_id, c.name, r.created_at, r.expires_at
             FROM oauth_consent r JOIN oauth_client c ON c.id = r.client_id
             WHERE r.expires_at > ?1 ORDER BY r.created_at, r.id",
        )?;
        let rows = stmt.query_map([now], |row| {
            Ok(PendingConsent {
                id: row.get(0)?,
                client_id: row.get(1)?,
                client_name: row.get(2)?,
                created_at: Timestamp::from_unix_millis(row.get(3)?),
                expires_at: Timestamp::from_unix_millis(row.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Refuse if a consent request matching `filter` (over `r`), or the client it names, does not
/// verify: the person would be shown, and the code bound to, what someone else wrote.
fn require_request(conn: &Connection, key: &RowMac, filter: &str, params: &[&dyn ToSql]) -> Result<()> {
    rows::OAUTH_CONSENT.require(conn, key, filter, params)?;
    let clients = format!("WHERE c.id IN (SELECT r.client_id FROM oauth_consent r {filter})");
    rows::OAUTH_CLIENT.require(conn, key, &clients, params)
}
