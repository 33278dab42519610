//! Refresh families: one sign-in of one client under one grant, across all its rotations.
//! Every refresh token is used once; a second use means one of two holders is not the
//! client, so the whole family and every access token minted in it are revoked.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;

use super::{REFRESH_TTL, new_secret};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::mac::RowMac;
use crate::random::random_hex;
use crate::rows;
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
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    family: &NewFamily<'_>,
    now: Timestamp,
) -> Result<(String, SecretString)> {
    let id = random_hex(16)?;
    tx.execute(
        "INSERT INTO oauth_family (id, client_id, grant_name, grant_id, resource, created_at)
         VALUES (?1, ?2, ?3, (SELECT grant_id FROM token WHERE id = ?4), ?5, ?6)",
        params![id, family.client_id, family.grant, family.token_id, family.resource, now.unix_millis()],
    )?;
    rows::OAUTH_FAMILY.reseal_matching(tx, key, "WHERE f.id = ?1", &[&id])?;
    let code = "WHERE k.hash = ?1";
    let intact = rows::OAUTH_CODE.intact_ids(tx, key, code, &[family.code_hash])?;
    tx.execute("UPDATE oauth_code SET family_id = ?2 WHERE hash = ?1", params![family.code_hash, id])?;
    rows::OAUTH_CODE.reseal(tx, key, &intact)?;
    link_token_in(tx, key, &id, family.token_id)?;
    let refresh = add_refresh_in(tx, key, &id, now)?;
    Ok((id, refresh))
}

/// A new refresh token in `family_id`.
pub(super) fn add_refresh_in(
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    family_id: &str,
    now: Timestamp,
) -> Result<SecretString> {
    let (secret, hash) = new_secret(REFRESH_PREFIX)?;
    // Expired refresh tokens can no longer be used or replayed usefully: they go.
    tx.execute("DELETE FROM oauth_refresh WHERE expires_at <= ?1", [now.unix_millis()])?;
    tx.execute(
        "INSERT INTO oauth_refresh (hash, family_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, family_id, now.unix_millis(), now.plus(REFRESH_TTL).unix_millis()],
    )?;
    rows::OAUTH_REFRESH.reseal_matching(tx, key, "WHERE r.hash = ?1", &[&hash])?;
    Ok(secret)
}

/// Record an access token as minted in `family_id`. (Its MAC covers only the two ids, so
/// sealing a link that was there already cannot vouch for anything else.)
pub(super) fn link_token_in(tx: &crate::store::Tx<'_>, key: &RowMac, family_id: &str, token_id: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO oauth_family_token (family_id, token_id) VALUES (?1, ?2)",
        params![family_id, token_id],
    )?;
    let filter = "WHERE l.family_id = ?1 AND l.token_id = ?2";
    rows::OAUTH_FAMILY_TOKEN.reseal_matching(tx, key, filter, &[&family_id, &token_id])
}

/// Whether the token `token_id` was minted under the grant the family started with; refused
/// if the family's row does not verify.
pub(super) fn same_grant_in(tx: &crate::store::Tx<'_>, key: &RowMac, family_id: &str, token_id: &str) -> Result<bool> {
    rows::OAUTH_FAMILY.require(tx, key, "WHERE f.id = ?1", &[&family_id])?;
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
pub(super) fn use_refresh_in(tx: &crate::store::Tx<'_>, key: &RowMac, hash: &[u8; 32], now: Timestamp) -> Result<bool> {
    rows::OAUTH_REFRESH.require(tx, key, "WHERE r.hash = ?1", &[hash])?;
    let changed = tx.execute(
        "UPDATE oauth_refresh SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
        params![hash, now.unix_millis()],
    )?;
    // It verified just above, in this transaction.
    rows::OAUTH_REFRESH.reseal(tx, key, &[vec![Value::Blob(hash.to_vec())]])?;
    Ok(changed == 1)
}

/// Revoke a family and every access token minted in it.
pub(super) fn revoke_in(
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    family_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<()> {
    let now = now.unix_millis();
    // Revoked even if its row does not verify; resealed only if it did (never laundered).
    let intact = rows::OAUTH_FAMILY.intact_ids(tx, key, "WHERE f.id = ?1", &[&family_id])?;
    tx.execute(
        "UPDATE oauth_family SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![family_id, now, why],
    )?;
    rows::OAUTH_FAMILY.reseal(tx, key, &intact)?;
    let filter = "WHERE t.id IN (SELECT token_id FROM oauth_family_token WHERE family_id = ?1)";
    revoke_tokens(tx, key, filter, &[&family_id], now)
}

/// The refresh token with this hash, with its family; refused if the token's row, its
/// family's or its client's does not verify.
pub(super) fn find(conn: &rusqlite::Connection, key: &RowMac, hash: &[u8; 32]) -> Result<Option<StoredRefresh>> {
    rows::OAUTH_REFRESH.require(conn, key, "WHERE r.hash = ?1", &[hash])?;
    let family = "WHERE f.id = (SELECT family_id FROM oauth_refresh WHERE hash = ?1)";
    rows::OAUTH_FAMILY.require(conn, key, family, &[hash])?;
    let client = "WHERE c.id = (SELECT f.client_id FROM oauth_family f JOIN oauth_refresh r ON r.family_id = f.id
                                WHERE r.hash = ?1)";
    rows::OAUTH_CLIENT.require(conn, key, client, &[hash])?;
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
