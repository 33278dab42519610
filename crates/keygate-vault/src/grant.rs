//! Grants: a named, revocable standing permission for one agent (`cursor`, `claude-desktop`).
//! The grant never leaves the machine; the running Keygate mints short-lived tokens under it,
//! each carrying the grant, and revoking or expiring the grant stops every one of them on its
//! next request (`check_token` reads the grant with the token).

use std::time::Duration;

use keygate_policy::StoredPolicy;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::config::format_ttl;
use crate::error::{Result, VaultError};
use crate::token::{IssuedToken, NewToken, checked_policy, insert_token, revoke_tokens, validate_tools};
use crate::vault::Vault;
use crate::{rows, store};

/// The token lifetime of a grant that names none: 15 minutes.
pub const DEFAULT_GRANT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
const MAX_GRANT_NAME_LEN: usize = 32;

/// What a new grant may do, how long its tokens live, and how long it lasts.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    /// `[a-z0-9-]{1,32}`, starting with a letter or digit.
    pub name: String,
    /// Tool names or `SERVER_*` patterns its tokens may call.
    pub tools: Vec<String>,
    /// The lifetime of each token minted under it (at least a second, at most `[tokens] max_ttl`).
    pub token_ttl: Duration,
    /// How long the grant itself lasts; `None`: until revoked.
    pub expires_in: Option<Duration>,
    /// Argument rules its tokens' calls must meet, and whether each call waits for approval.
    pub policy: StoredPolicy,
}

impl GrantRequest {
    /// A request with the default token lifetime and no expiry.
    pub fn new(name: impl Into<String>, tools: Vec<String>) -> Self {
        Self {
            name: name.into(),
            tools,
            token_ttl: DEFAULT_GRANT_TOKEN_TTL,
            expires_in: None,
            policy: StoredPolicy::default(),
        }
    }
}

/// A grant's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Mints tokens.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl GrantStatus {
    /// The word shown: `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
        }
    }
}

/// What is shown of a grant. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantInfo {
    /// Its name.
    pub name: String,
    /// Tools its tokens may call, sorted.
    pub tools: Vec<String>,
    /// Lifetime of each token minted under it, in seconds.
    pub token_ttl_secs: i64,
    /// When it was created.
    pub created_at: i64,
    /// When it stops minting; `None`: never.
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// When a token minted under it last made a call.
    pub last_used_at: Option<i64>,
    /// How many tokens it has minted.
    pub tokens_minted: i64,
    /// active, expired or revoked.
    pub status: GrantStatus,
    /// Argument rules its tokens' calls must meet, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Each call waits for a person's approval.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approve: bool,
}

/// Check a grant name: `[a-z0-9-]{1,32}`, starting with a letter or digit (never a flag).
pub fn validate_grant_name(name: &str) -> Result<()> {
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let valid =
        !name.is_empty() && name.len() <= MAX_GRANT_NAME_LEN && name.bytes().all(ok_char) && !name.starts_with('-');
    if valid {
        return Ok(());
    }
    Err(VaultError::InvalidGrant {
        reason: format!(
            "invalid grant name {:?}: use 1-{MAX_GRANT_NAME_LEN} characters of a-z, 0-9 and `-`, starting with a letter or digit",
            name.chars().take(64).collect::<String>()
        ),
    })
}

const GRANT_COLUMNS: &str = "g.name, g.tools, g.token_ttl_secs, g.created_at, g.expires_at, g.revoked_at,
     (SELECT max(t.last_used_at) FROM token t WHERE t.grant_id = g.id), g.tokens_minted, g.policy";

fn grant_from_row(row: &Row<'_>, now: i64) -> rusqlite::Result<GrantInfo> {
    let expires_at: Option<i64> = row.get(4)?;
    let revoked_at: Option<i64> = row.get(5)?;
    let status = match (revoked_at, expires_at) {
        (Some(_), _) => GrantStatus::Revoked,
        (None, Some(end)) if now >= end => GrantStatus::Expired,
        _ => GrantStatus::Active,
    };
    let name: String = row.get(0)?;
    let policy = read_policy(row.get_ref(8)?.as_str_or_null()?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(GrantInfo {
        name,
        tools: row.get::<_, String>(1)?.split(' ').map(String::from).collect(),
        token_ttl_secs: row.get(2)?,
        created_at: row.get(3)?,
        expires_at,
        revoked_at,
        last_used_at: row.get(6)?,
        tokens_minted: row.get(7)?,
        status,
        allow: policy.allow,
        approve: policy.approve,
    })
}

/// A stored policy (NULL: none) read back.
pub(crate) fn read_policy(stored: Option<&str>) -> Result<StoredPolicy> {
    match stored {
        None => Ok(StoredPolicy::default()),
        Some(text) => StoredPolicy::from_stored(text)
            .map_err(|e| VaultError::BadStoredPolicy { row: "a grant or token".into(), detail: e.to_string() }),
    }
}

impl Vault {
    fn validate_grant(&self, request: &GrantRequest) -> Result<Vec<String>> {
        validate_grant_name(&request.name)?;
        let invalid = |reason: String| VaultError::InvalidGrant { reason };
        let tools = validate_tools(&request.tools).map_err(invalid)?;
        let max = self.token_policy.max_ttl;
        if request.token_ttl < Duration::from_secs(1) {
            return Err(invalid("the token ttl must be at least one second".into()));
        }
        if request.token_ttl > max {
            return Err(invalid(format!(
                "token ttl {} is longer than the maximum {} (raise [tokens] max_ttl in config.toml)",
                format_ttl(request.token_ttl),
                format_ttl(max)
            )));
        }
        if request.expires_in.is_some_and(|d| d < Duration::from_secs(1)) {
            return Err(invalid("the grant's expiry must be at least one second away".into()));
        }
        Ok(tools)
    }

    /// Create a grant. Refused if an unrevoked grant has this name, or if a rule does not
    /// parse (the error names the rule and column) or names a tool outside its scope.
    pub fn create_grant(&mut self, request: &GrantRequest) -> Result<GrantInfo> {
        let tools = self.validate_grant(request)?;
        let policy = checked_policy(&request.policy, &tools).map_err(|reason| VaultError::InvalidGrant { reason })?;
        let policy = policy.to_stored();
        let now = self.clock.now();
        let expires_at = request.expires_in.map(|d| now.plus(d).unix_millis());
        let ttl_secs = i64::try_from(request.token_ttl.as_secs()).unwrap_or(i64::MAX);
        let name = request.name.as_str();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let live: Option<i64> = tx
                .query_row("SELECT id FROM agent_grant WHERE name = ?1 AND revoked_at IS NULL", [name], |r| r.get(0))
                .optional()?;
            if live.is_some() {
                return Err(VaultError::GrantExists { name: name.to_string() });
            }
            tx.execute(
                "INSERT INTO agent_grant (name, tools, token_ttl_secs, created_at, expires_at, policy)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, tools.join(" "), ttl_secs, now.unix_millis(), expires_at, policy],
            )?;
            rows::GRANT.reseal(tx, key, &[vec![tx.last_insert_rowid().into()]])
        })?;
        self.grant(name)?.ok_or_else(|| VaultError::GrantNotFound { name: name.to_string() })
    }

    /// The grant named `name`: the unrevoked one if there is one, else the newest revoked one.
    pub fn grant(&self, name: &str) -> Result<Option<GrantInfo>> {
        rows::GRANT.require(&self.conn, &self.keys.rows, "WHERE g.name = ?1", &[&name])?;
        let now = self.clock.now().unix_millis();
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM agent_grant g WHERE g.name = ?1
             ORDER BY g.revoked_at IS NULL DESC, g.id DESC LIMIT 1"
        );
        Ok(self.conn.prepare_cached(&sql)?.query_row([name], |row| grant_from_row(row, now)).optional()?)
    }

    /// Every grant, revoked ones included, newest first.
    pub fn list_grants(&self) -> Result<Vec<GrantInfo>> {
        rows::GRANT.require(&self.conn, &self.keys.rows, "", &[])?;
        let now = self.clock.now().unix_millis();
        let sql = format!("SELECT {GRANT_COLUMNS} FROM agent_grant g ORDER BY g.id DESC");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |row| grant_from_row(row, now))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Revoke a grant and every token minted under it. False if it was revoked already.
    pub fn revoke_grant(&mut self, name: &str) -> Result<bool> {
        validate_grant_name(name)?;
        let now = self.clock.now().unix_millis();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let live: Option<i64> = tx
                .query_row("SELECT id FROM agent_grant WHERE name = ?1 AND revoked_at IS NULL", [name], |r| r.get(0))
                .optional()?;
            let Some(id) = live else {
                let any: i64 =
                    tx.query_row("SELECT count(*) FROM agent_grant WHERE name = ?1", [name], |r| r.get(0))?;
                return if any > 0 { Ok(false) } else { Err(VaultError::GrantNotFound { name: name.to_string() }) };
            };
            // Revoked even if its row does not verify; resealed only if it did.
            let intact = rows::GRANT.intact_ids(tx, key, "WHERE g.id = ?1", &[&id])?;
            tx.execute("UPDATE agent_grant SET revoked_at = ?2 WHERE id = ?1", params![id, now])?;
            rows::GRANT.reseal(tx, key, &intact)?;
            revoke_tokens(tx, key, "WHERE t.grant_id = ?1", &[&id], now)?;
            Ok(true)
        })
    }

    /// Mint a token under a grant: its tools, living the grant's token ttl or until the grant
    /// expires, whichever comes first. The token's secret is returned once, never stored.
    pub fn mint_grant_token(&mut self, name: &str) -> Result<IssuedToken> {
        validate_grant_name(name)?;
        let now = self.clock.now();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let live: Option<(i64, String, i64, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT id, tools, token_ttl_secs, expires_at FROM agent_grant WHERE name = ?1 AND revoked_at IS NULL",
                )?
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let Some((id, tools, ttl_secs, grant_end)) = live else {
                let any: i64 =
                    tx.query_row("SELECT count(*) FROM agent_grant WHERE name = ?1", [name], |r| r.get(0))?;
                let name = name.to_string();
                return Err(if any > 0 {
                    VaultError::GrantRevoked { name }
                } else {
                    VaultError::GrantNotFound { name }
                });
            };
            rows::GRANT.require(tx, key, "WHERE g.id = ?1", &[&id])?;
            if grant_end.is_some_and(|end| now.unix_millis() >= end) {
                return Err(VaultError::GrantExpired { name: name.to_string() });
            }
            let ttl_end = now.plus(Duration::from_secs(u64::try_from(ttl_secs).unwrap_or(0)));
            let expires_at = match grant_end {
                Some(end) if end < ttl_end.unix_millis() => crate::clock::Timestamp::from_unix_millis(end),
                _ => ttl_end,
            };
            let tools: Vec<String> = tools.split(' ').map(String::from).collect();
            // The grant's policy applies to its tokens through the grant (read with the token).
            let new =
                NewToken { tools: &tools, label: None, created_at: now, expires_at, grant_id: Some(id), policy: None };
            let issued = insert_token(tx, key, new)?;
            tx.prepare_cached("UPDATE agent_grant SET tokens_minted = tokens_minted + 1 WHERE id = ?1")?
                .execute([id])?;
            Ok(issued)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_names_are_short_lowercase_words() {
        for good in ["cursor", "claude-desktop", "a", "0", &"x".repeat(32)] {
            assert!(validate_grant_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "Cursor", "a_b", "a b", "a.b", &"x".repeat(33), "é", "a\n"] {
            let err = validate_grant_name(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_grant", "{bad}");
        }
    }
}
