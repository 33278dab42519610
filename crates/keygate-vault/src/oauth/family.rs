//! Refresh families: one sign-in of one client under one grant, across all its rotations.
//! Every refresh token is used once; a second use means one of two holders is not the
//! client, so the whole family and every access token minted in it are revoked.

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;

use super::{REFRESH_TTL, new_secret};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::mac::RowMac;
use crate::random::random_hex;
use crate::token::revoke_tokens;

const REFRESH_PREFIX: &str = "kgrefresh_";

/// A refresh token as stored, with its family.
#[derive(Debug, Clone)]
pub(super) struct StoredRefresh {
    pub family_id: String,
    pub client_id: String,
    pub grant: String,
    pub resource: String,
    pub family_revoked: bool,
    pub expires_at: Timestamp,
    pub used: bool,
}

/// What a new family starts from: a redeemed code and the first access token.
pub(super) struct NewFamily<'a> {
    pub client_id: &'a str,
    pub grant: &'a str,
    pub resource: &'a str,
    pub code_hash: &'a [u8; 32],
    pub token_id: &'a str,
}

/// Start a family; returns its id and its first refresh token.
pub(super) fn start_in(
    tx: &rusqlite::Transaction<'_>,
    family: &NewFamily<'_>,
    now: Timestamp,
) -> Result<(String, SecretString)> {
    let id = random_hex(16)?;
    tx.execute(
        "INSERT INTO oauth_family (id, client_id, grant_name, grant_id, resource, created_at)
         VALUES (?1, ?2, ?3, (SELECT grant_id FROM token WHERE id = ?4), ?5, ?6)",
        params![id, family.client_id, family.grant, family.token_id, family.resource, now.unix_millis()],
    )?;
    tx.execute("UPDATE oauth_code SET family_id = ?2 WHERE hash = ?1", params![family.code_hash, id])?;
    link_token_in(tx, &id, family.token_id)?;
    let refresh = add_refresh_in(tx, &id, now)?;
    Ok((id, refresh))
}

/// A new refresh token in `family_id`.
pub(super) fn add_refresh_in(tx: &rusqlite::Transaction<'_>, family_id: &str, now: Timestamp) -> Result<SecretString> {
    let (secret, hash) = new_secret(REFRESH_PREFIX)?;
    // Expired refresh tokens can no longer be used or replayed usefully: they go.
    tx.execute("DELETE FROM oauth_refresh WHERE expires_at <= ?1", [now.unix_millis()])?;
    tx.execute(
        "INSERT INTO oauth_refresh (hash, family_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, family_id, now.unix_millis(), now.plus(REFRESH_TTL).unix_millis()],
    )?;
    Ok(secret)
}

/// Record an access token as minted in `family_id`.
pub(super) fn link_token_in(tx: &rusqlite::Transaction<'_>, family_id: &str, token_id: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO oauth_family_token (family_id, token_id) VALUES (?1, ?2)",
        params![family_id, token_id],
    )?;
    Ok(())
}

/// Whether the token `token_id` was minted under the grant the family started with.
pub(super) fn same_grant_in(tx: &rusqlite::Transaction<'_>, family_id: &str, token_id: &str) -> Result<bool> {
    let same: Option<bool> = tx
        .query_row(
            "SELECT f.grant_id IS t.grant_id FROM oauth_family f, token t WHERE f.id = ?1 AND t.id = ?2",
            params![family_id, token_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(same.unwrap_or(false))
}

/// Mark a refresh token used; false if it already was (a concurrent replay).
pub(super) fn use_refresh_in(tx: &rusqlite::Transaction<'_>, hash: &[u8; 32], now: Timestamp) -> Result<bool> {
    let changed = tx.execute(
        "UPDATE oauth_refresh SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
        params![hash, now.unix_millis()],
    )?;
    Ok(changed == 1)
}

/// Revoke a family and every access token minted in it.
pub(super) fn revoke_in(
    tx: &rusqlite::Transaction<'_>,
    key: &RowMac,
    family_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<()> {
    let now = now.unix_millis();
    tx.execute(
        "UPDATE oauth_family SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![family_id, now, why],
    )?;
    let filter = "WHERE t.id IN (SELECT token_id FROM oauth_family_token WHERE family_id = ?1)";
    revoke_tokens(tx, key, filter, &[&family_id], now)
}

/// The refresh token with this hash, with its family.
pub(super) fn find(conn: &rusqlite::Connection, hash: &[u8; 32]) -> Result<Option<StoredRefresh>> {
    let found = conn
        .prepare_cached(
            "SELECT f.id, f.client_id, f.grant_name, f.resource, f.revoked_at, r.expires_at, r.used_at
             FROM oauth_refresh r JOIN oauth_family f ON f.id = r.family_id WHERE r.hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(StoredRefresh {
                family_id: r.get(0)?,
                client_id: r.get(1)?,
                grant: r.get(2)?,
                resource: r.get(3)?,
                family_revoked: r.get::<_, Option<i64>>(4)?.is_some(),
                expires_at: Timestamp::from_unix_millis(r.get(5)?),
                used: r.get::<_, Option<i64>>(6)?.is_some(),
            })
        })
        .optional()?;
    Ok(found)
}
