//! Authenticated rows: every row whose change would alter a decision (tokens, grants,
//! credentials, tool pins, and the OAuth server's clients, consent requests, codes, sign-ins,
//! refresh tokens and the access tokens minted in each sign-in) carries an HMAC of its
//! decisive columns under the rows key. A row whose MAC does not verify is refused by name
//! wherever it is read, never used or dropped.
//!
//! Each table's MAC is `start(table)` then its decisive columns in the order of its `Spec`'s
//! SELECT, fed as SQLite holds them; the hot paths (`check_token`, `insert_token`) feed the
//! same columns in the same order by hand.

use rusqlite::types::Value;
use rusqlite::{Connection, ToSql};
use serde::Serialize;

use crate::error::{Result, VaultError};
use crate::mac::{MacWriter, RowMac, Sink, VerifiedMacs};

/// One table's authenticated rows: a SELECT giving the row's identity columns (`ids` of
/// them), then its decisive columns, then its `mac`; and the UPDATE that stores a MAC.
pub(crate) struct Spec {
    /// The MAC's domain: the table's name.
    pub table: &'static str,
    /// How a person calls one row ("token", "credential").
    pub what: &'static str,
    select: &'static str,
    update: &'static str,
    ids: usize,
    /// The last decisive column is fed only when it is not NULL: a column added later
    /// (a grant's or token's policy), so rows from before it keep their MACs.
    optional_last: bool,
}

pub(crate) const TOKEN: Spec = Spec {
    table: "token",
    what: "token",
    select: "SELECT id, id, secret_hash, tools, expires_at, revoked_at, grant_id, policy, mac FROM token t",
    update: "UPDATE token SET mac = ?1 WHERE id = ?2",
    ids: 1,
    optional_last: true,
};

pub(crate) const GRANT: Spec = Spec {
    table: "agent_grant",
    what: "grant",
    select: "SELECT id, id, name, tools, token_ttl_secs, created_at, expires_at, revoked_at, policy, mac
             FROM agent_grant g",
    update: "UPDATE agent_grant SET mac = ?1 WHERE id = ?2",
    ids: 1,
    optional_last: true,
};

/// A credential's MAC also covers its current version's `created_at` (the due date) and, for
/// a team copy, the team version it holds (what the audit records; NULL for a local one).
pub(crate) const CREDENTIAL: Spec = Spec {
    table: "credential",
    what: "credential",
    select: "SELECT c.name, c.name, c.current_version, c.max_age_days, c.created_at, c.rotated_at, v.created_at,
                    v.team_version, c.mac
             FROM credential c LEFT JOIN credential_version v ON v.name = c.name AND v.version = c.current_version",
    update: "UPDATE credential SET mac = ?1 WHERE name = ?2",
    ids: 1,
    optional_last: true,
};

/// A credential's rotation state: its grace, the version rollback restores and when that
/// version is erased, and the rotation in flight.
pub(crate) const ROTATION: Spec = Spec {
    table: "credential_rotation",
    what: "credential rotation state",
    select: "SELECT r.name, r.name, r.grace_secs, r.previous_version, r.previous_until, r.attempt,
                    r.attempt_started_at, r.mac FROM credential_rotation r",
    update: "UPDATE credential_rotation SET mac = ?1 WHERE name = ?2",
    ids: 1,
    optional_last: false,
};

pub(crate) const PIN: Spec = Spec {
    table: "tool_pin",
    what: "tool pin",
    select: "SELECT server, tool, server, tool, seen_sha256, seen_definition, approved_sha256, approved_definition,
                    listed, mac FROM tool_pin p",
    update: "UPDATE tool_pin SET mac = ?1 WHERE server = ?2 AND tool = ?3",
    ids: 2,
    optional_last: false,
};

/// A registered OAuth client: its id and redirect URIs decide where codes go, its name is
/// what the person consents to. (`last_used_at` only orders eviction and is not covered.)
pub(crate) const OAUTH_CLIENT: Spec = Spec {
    table: "oauth_client",
    what: "OAuth client",
    select: "SELECT id, id, name, redirect_uris, created_at, mac FROM oauth_client c",
    update: "UPDATE oauth_client SET mac = ?1 WHERE id = ?2",
    ids: 1,
    optional_last: false,
};

/// A consent request waiting for the person: where its code goes and the PKCE it binds.
pub(crate) const OAUTH_CONSENT: Spec = Spec {
    table: "oauth_consent",
    what: "OAuth consent request",
    select: "SELECT id, id, client_id, redirect_uri, code_challenge, state, resource, created_at, expires_at, mac
             FROM oauth_consent r",
    update: "UPDATE oauth_consent SET mac = ?1 WHERE id = ?2",
    ids: 1,
    optional_last: false,
};

/// An authorization code (its hash): everything it binds, its use and the sign-in it started.
pub(crate) const OAUTH_CODE: Spec = Spec {
    table: "oauth_code",
    what: "OAuth authorization code",
    select: "SELECT hash, hash, client_id, redirect_uri, code_challenge, resource, grant_name, expires_at, used_at,
                    family_id, mac FROM oauth_code k",
    update: "UPDATE oauth_code SET mac = ?1 WHERE hash = ?2",
    ids: 1,
    optional_last: false,
};

/// A sign-in (refresh family): its client, grant (by name and id), resource and revocation.
/// (`revoked_why` only explains and is not covered.)
pub(crate) const OAUTH_FAMILY: Spec = Spec {
    table: "oauth_family",
    what: "OAuth sign-in",
    select: "SELECT id, id, client_id, grant_name, grant_id, resource, created_at, revoked_at, mac FROM oauth_family f",
    update: "UPDATE oauth_family SET mac = ?1 WHERE id = ?2",
    ids: 1,
    optional_last: false,
};

/// A refresh token (its hash): its sign-in, expiry and use.
pub(crate) const OAUTH_REFRESH: Spec = Spec {
    table: "oauth_refresh",
    what: "OAuth refresh token",
    select: "SELECT hash, hash, family_id, created_at, expires_at, used_at, mac FROM oauth_refresh r",
    update: "UPDATE oauth_refresh SET mac = ?1 WHERE hash = ?2",
    ids: 1,
    optional_last: false,
};

/// An access token minted in a sign-in (revoking the sign-in revokes it).
pub(crate) const OAUTH_FAMILY_TOKEN: Spec = Spec {
    table: "oauth_family_token",
    what: "OAuth sign-in's access token",
    select: "SELECT family_id, token_id, family_id, token_id, mac FROM oauth_family_token l",
    update: "UPDATE oauth_family_token SET mac = ?1 WHERE family_id = ?2 AND token_id = ?3",
    ids: 2,
    optional_last: false,
};

/// A credential that is a team secret's copy, and which team version it holds.
pub(crate) const TEAM_CREDENTIAL: Spec = Spec {
    table: "team_credential",
    what: "team credential",
    select: "SELECT name, name, team_version, mac FROM team_credential t",
    update: "UPDATE team_credential SET mac = ?1 WHERE name = ?2",
    ids: 1,
    optional_last: false,
};

/// The tables authenticated since row MACs came (key check v2).
pub(crate) const FIRST: [&Spec; 4] = [&TOKEN, &GRANT, &CREDENTIAL, &PIN];

/// The OAuth tables, authenticated since key check v3.
pub(crate) const OAUTH: [&Spec; 6] =
    [&OAUTH_CLIENT, &OAUTH_CONSENT, &OAUTH_CODE, &OAUTH_FAMILY, &OAUTH_REFRESH, &OAUTH_FAMILY_TOKEN];

/// Every authenticated table.
pub(crate) const ALL: [&Spec; 12] = [
    &TOKEN,
    &GRANT,
    &CREDENTIAL,
    &ROTATION,
    &PIN,
    &OAUTH_CLIENT,
    &OAUTH_CONSENT,
    &OAUTH_CODE,
    &OAUTH_FAMILY,
    &OAUTH_REFRESH,
    &OAUTH_FAMILY_TOKEN,
    &TEAM_CREDENTIAL,
];

/// A row whose MAC does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowFinding {
    /// The table (`token`, `agent_grant`, `credential`, `tool_pin`, `oauth_client`, ...,
    /// `rotation_log`).
    pub table: String,
    /// The row, as a person names it (`token 0123abcd...`, `credential openai`).
    pub row: String,
    /// What is wrong.
    pub problem: String,
}

/// A row read with its identity and whether its MAC verifies.
pub(crate) struct Checked {
    pub ids: Vec<Value>,
    pub intact: bool,
}

impl Spec {
    /// `token 0123...`, `tool pin github/create_issue`.
    pub fn name_row(&self, ids: &[Value]) -> String {
        let parts: Vec<String> = ids
            .iter()
            .map(|v| match v {
                Value::Text(t) => crate::rows::printable(t),
                Value::Integer(i) => i.to_string(),
                // A code's or refresh token's hash: its first 8 bytes name it well enough.
                Value::Blob(b) => hex::encode(&b[..b.len().min(8)]),
                _ => "?".into(),
            })
            .collect();
        format!("{} {}", self.what, parts.join("/"))
    }

    /// The error for a row of this table whose MAC does not verify.
    pub fn tampered(&self, ids: &[Value]) -> VaultError {
        VaultError::Tampered { row: self.name_row(ids) }
    }

    /// Every row matching `filter` (a WHERE clause over the SELECT's aliases), checked.
    pub fn check(&self, conn: &Connection, key: &RowMac, filter: &str, params: &[&dyn ToSql]) -> Result<Vec<Checked>> {
        let mut stmt = conn.prepare_cached(&self.select_where(filter))?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let count = row.as_ref().column_count();
            let mac = self.row_mac(key, row)?;
            let stored = row.get_ref(count - 1)?.as_blob_or_null().map_err(rusqlite::Error::from)?;
            let ids = self.ids_of(row)?;
            out.push(Checked { ids, intact: mac.verify(stored) });
        }
        Ok(out)
    }

    /// Refuse if any row matching `filter` does not verify; `Ok` also when none match.
    pub fn require(&self, conn: &Connection, key: &RowMac, filter: &str, params: &[&dyn ToSql]) -> Result<()> {
        match self.check(conn, key, filter, params)?.into_iter().find(|c| !c.intact) {
            Some(bad) => Err(self.tampered(&bad.ids)),
            None => Ok(()),
        }
    }

    /// The identities of rows matching `filter` whose MAC verifies now (to reseal after an
    /// update: a row that did not verify stays unverified, so an update never launders it).
    pub fn intact_ids(
        &self,
        conn: &Connection,
        key: &RowMac,
        filter: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Vec<Value>>> {
        Ok(self.check(conn, key, filter, params)?.into_iter().filter(|c| c.intact).map(|c| c.ids).collect())
    }

    /// Store a fresh MAC for each row named in `ids`, from its current columns.
    pub fn reseal(&self, conn: &Connection, key: &RowMac, ids: &[Vec<Value>]) -> Result<()> {
        let sql = self.select_where(&self.where_ids());
        for id in ids {
            let params: Vec<&dyn ToSql> = id.iter().map(|v| v as &dyn ToSql).collect();
            let mac =
                conn.prepare_cached(&sql)?.query_row(params.as_slice(), |row| Ok(self.row_mac(key, row)?.finish()))?;
            let mut update: Vec<&dyn ToSql> = vec![&mac as &dyn ToSql];
            update.extend(params);
            conn.prepare_cached(self.update)?.execute(update.as_slice())?;
        }
        Ok(())
    }

    /// Reseal the rows matching `filter` from their current columns, trusting them: only for
    /// rows just written, or at the one-time upgrade of a vault from before row MACs.
    pub fn reseal_matching(&self, conn: &Connection, key: &RowMac, filter: &str, params: &[&dyn ToSql]) -> Result<()> {
        let ids: Vec<Vec<Value>> = self.check(conn, key, filter, params)?.into_iter().map(|c| c.ids).collect();
        self.reseal(conn, key, &ids)
    }

    /// A MAC fed with a row's decisive columns (those after its ids, before its `mac`).
    fn row_mac(&self, key: &RowMac, row: &rusqlite::Row<'_>) -> rusqlite::Result<MacWriter> {
        let mut mac = key.start(self.table);
        self.feed(&mut mac, row)?;
        Ok(mac)
    }

    fn feed<S: Sink>(&self, mac: &mut MacWriter<S>, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let count = row.as_ref().column_count();
        for i in self.ids..count - 1 {
            let value = row.get_ref(i)?;
            if self.optional_last && i == count - 2 && value == rusqlite::types::ValueRef::Null {
                continue;
            }
            mac.value(value);
        }
        Ok(())
    }

    /// The row's identity columns (the first `ids` of the SELECT).
    fn ids_of(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<Value>> {
        (0..self.ids).map(|i| row.get_ref(i).map(crate::chain::owned)).collect()
    }

    /// This table's SELECT with `filter` (a WHERE clause over its aliases), for [`Self::read_one`].
    pub fn select_where(&self, filter: &str) -> String {
        format!("{} {filter}", self.select)
    }

    /// The row `sql` (from [`Self::select_where`]) finds, if any, handed to `read` once its MAC
    /// verifies, or refused by name. For the hot path: the MAC goes through `memo`, so a row
    /// read again unchanged is not hashed again.
    pub fn read_one<T>(
        &self,
        conn: &Connection,
        key: &RowMac,
        memo: &VerifiedMacs,
        sql: &str,
        params: &[&dyn ToSql],
        read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let Some(row) = rows.next()? else { return Ok(None) };
        let mut message = key.message(self.table);
        self.feed(&mut message, row)?;
        let stored = row.get_ref(row.as_ref().column_count() - 1)?.as_blob_or_null().map_err(rusqlite::Error::from)?;
        if !key.verify_remembered(message, stored, memo) {
            return Err(self.tampered(&self.ids_of(row)?));
        }
        Ok(Some(read(row)?))
    }

    /// `WHERE <first id column> = ?1 [AND <second> = ?2]`, from the SELECT's own columns.
    fn where_ids(&self) -> String {
        let columns: Vec<&str> = self.select["SELECT ".len()..].split(',').take(self.ids).map(str::trim).collect();
        let conds: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 1)).collect();
        format!("WHERE {}", conds.join(" AND "))
    }

    /// Every row of this table that does not verify, as findings.
    pub fn findings(&self, conn: &Connection, key: &RowMac) -> Result<Vec<RowFinding>> {
        Ok(self
            .check(conn, key, "", &[])?
            .into_iter()
            .filter(|c| !c.intact)
            .map(|c| RowFinding {
                table: self.table.to_string(),
                row: self.name_row(&c.ids),
                problem: "its MAC does not verify: it was changed or added without the master key".into(),
            })
            .collect())
    }
}

/// Text from the vault made safe to show: control characters escaped, length bounded.
pub(crate) fn printable(text: &str) -> String {
    let mut out: String = text.chars().take(80).flat_map(char::escape_debug).collect();
    if text.chars().count() > 80 {
        out.push_str("...");
    }
    out
}
