//! Tokens: `kg_<id>_<secret>`, shown once. The vault keeps the id and the SHA-256 of the
//! secret part; checks compare hashes in constant time and look at expiry, revocation and
//! scope on every call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use keygate_policy::StoredPolicy;

use crate::clock::Timestamp;
use crate::config::format_ttl;
use crate::error::{Result, VaultError};
use crate::kept_rows::TokenRow;
use crate::mac::RowMac;
use crate::random::{fill_random, random_hex};
use crate::vault::Vault;
use crate::{rows, store};

const PREFIX: &str = "kg_";
const ID_HEX_LEN: usize = 16;
/// 32 random bytes: 256 bits in the secret part.
const SECRET_BYTES: usize = 32;
const SECRET_HEX_LEN: usize = 2 * SECRET_BYTES;
const MAX_LABEL_LEN: usize = 64;
const MAX_TOOL_NAME_LEN: usize = 128;

/// What a new token may do and for how long.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The MCP tool names it may call (at least one).
    pub tools: Vec<String>,
    /// Its lifetime; the policy's default if `None`.
    pub ttl: Option<Duration>,
    /// A note to recognise it by.
    pub label: Option<String>,
}

/// A token just issued. The only time its secret exists outside the agent that holds it.
pub struct IssuedToken {
    /// The public id, for listing and revoking.
    pub id: String,
    /// The whole token, to hand to the agent once.
    pub token: SecretString,
    /// Tools it may call, sorted.
    pub tools: Vec<String>,
    /// Its label.
    pub label: Option<String>,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("tools", &self.tools)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A token's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl TokenStatus {
    /// The word shown: `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// What is shown of a token: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Label, if any.
    pub label: Option<String>,
    /// Tools it may call.
    pub tools: Vec<String>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it was last used to call a tool.
    pub last_used_at: Option<Timestamp>,
    /// How many tool calls it has made.
    pub uses: i64,
    /// active, expired or revoked.
    pub status: TokenStatus,
    /// The grant it was minted under, if any.
    pub grant: Option<String>,
    /// Its own argument rules (a plain token's `--allow`), as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Its calls wait for a person's approval.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approve: bool,
}

/// A token that checked out: who it is and what it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The token's id.
    pub token_id: String,
    /// Tools it may call.
    pub tools: Vec<String>,
    /// When it expires.
    pub expires_at: Timestamp,
    /// The grant it was minted under, if any: tokens of one grant may continue each other's
    /// sessions (a bridge renewing its token keeps its session).
    pub grant: Option<String>,
    /// The argument rules and approval its calls are under (its grant's, or a plain token's
    /// own), as stored: `keygate_policy::StoredPolicy`'s JSON, compiled by the server.
    pub policy: Option<String>,
}

impl TokenGrant {
    /// Whether this grant covers `tool`, by exact name or a `<server>_*` pattern.
    pub fn allows(&self, tool: &str) -> bool {
        self.tools.iter().any(|scope| scope_covers(scope, tool))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// Not of the form `kg_<id>_<secret>`.
    #[error("the token is malformed")]
    Malformed,
    /// No such token, or the secret does not match.
    #[error("the token is unknown")]
    Unknown,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// Revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// Valid, but not for this tool.
    #[error("the token does not allow this tool")]
    OutOfScope,
    /// Its row (or its grant's) was changed in the vault without the master key.
    #[error("the token's record was changed without the master key")]
    Tampered,
}

impl Denial {
    /// A stable word for audits and logs: `malformed`, `unknown`, `expired`, `revoked`, `out_of_scope`,
    /// `tampered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::Malformed => "malformed",
            Denial::Unknown => "unknown",
            Denial::Expired => "expired",
            Denial::Revoked => "revoked",
            Denial::OutOfScope => "out_of_scope",
            Denial::Tampered => "tampered",
        }
    }
}

/// The answer to a token check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenDecision {
    /// The token may proceed.
    Allowed(TokenGrant),
    /// Refused. `token_id` is set only once the token is proven genuine (known id and matching
    /// secret), so an audit never attributes a guess to a real token.
    Denied {
        /// The token's id, if the token is genuine.
        token_id: Option<String>,
        /// Why.
        reason: Denial,
    },
}

/// A token's row as `check_token` read it from the file.
enum Read {
    Missing,
    /// Its MAC (or its grant's) does not verify; only the secret's hash was read.
    Tampered {
        secret_hash: Vec<u8>,
    },
    Intact(TokenRow),
}

/// Whether one scope entry covers `tool`: the same name, or a `prefix_*` pattern that
/// covers every tool starting with `prefix_` (all tools of one gateway server).
pub fn scope_covers(scope: &str, tool: &str) -> bool {
    match scope.strip_suffix('*') {
        Some(prefix) => tool.len() > prefix.len() && tool.starts_with(prefix),
        None => scope == tool,
    }
}

/// Split a token into (id, secret) if it has the right shape.
pub(crate) fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (is_token_id(id) && secret.len() == SECRET_HEX_LEN && is_lower_hex(secret)).then_some((id, secret))
}

/// The id part of a well-formed token (not a proof that the token is genuine).
pub fn token_id(token: &str) -> Option<&str> {
    parse(token).map(|(id, _)| id)
}

/// Whether `id` has the shape of a token id.
pub fn is_token_id(id: &str) -> bool {
    id.len() == ID_HEX_LEN && is_lower_hex(id)
}

fn is_lower_hex(text: &str) -> bool {
    // Every byte looked at, no early exit: the loop compiles to vector compares (on every
    // token check, for the id and the secret).
    text.bytes().fold(true, |hex, b| hex & (b.is_ascii_digit() | (b'a'..=b'f').contains(&b)))
}

/// SHA-256 of the secret's 32 raw bytes (one compression block). The secret is 256 random
/// bits, so a fast hash is enough: there is nothing to brute-force.
fn hash_secret(raw: &[u8; SECRET_BYTES]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

/// The raw bytes of a secret written as lowercase hex, or `None` if it is not 64 such digits.
/// Decoding takes no branch and no table lookup on a digit's value, and a tenth of the time
/// of the `hex` crate, which looks each digit up in a table (this runs on every call).
fn decode_secret(secret_hex: &str) -> Option<Zeroizing<[u8; SECRET_BYTES]>> {
    let (pairs, rest) = secret_hex.as_bytes().as_chunks::<2>();
    if pairs.len() != SECRET_BYTES || !rest.is_empty() || !is_lower_hex(secret_hex) {
        return None;
    }
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    for (byte, [high, low]) in raw.iter_mut().zip(pairs) {
        *byte = (hex_value(*high) << 4) | hex_value(*low);
    }
    Some(raw)
}

/// The value of a lowercase hex digit: `0`–`9` have 0 in bit 6 and their value in the low
/// nibble; `a`–`f` have 1 in bit 6 and their value minus 9 in the low nibble.
fn hex_value(digit: u8) -> u8 {
    (digit & 0x0f) + 9 * (digit >> 6)
}

/// Check a scope's tool names (exact names or `SERVER_*` patterns); sorted and deduplicated.
pub(crate) fn validate_tools(tools: &[String]) -> std::result::Result<Vec<String>, String> {
    if tools.is_empty() {
        return Err("name at least one tool it may call".into());
    }
    for tool in tools {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        let name = tool.strip_suffix("_*").unwrap_or(tool);
        if name.is_empty() || tool.len() > MAX_TOOL_NAME_LEN || !name.chars().all(ok_char) {
            return Err(format!(
                "invalid tool name {tool:?}: use 1-128 characters of A-Z, a-z, 0-9, `_`, `-`, `.`, \
                 or SERVER_* for every tool of a server"
            ));
        }
    }
    let mut tools = tools.to_vec();
    tools.sort();
    tools.dedup();
    Ok(tools)
}

fn validate_request(request: &TokenRequest, max_ttl: Duration) -> Result<Vec<String>> {
    let invalid = |reason: String| Err(VaultError::InvalidTokenRequest { reason });
    let tools = validate_tools(&request.tools).map_err(|reason| VaultError::InvalidTokenRequest { reason })?;
    if let Some(label) = &request.label
        && (label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control))
    {
        return invalid(format!("the label must be at most {MAX_LABEL_LEN} characters with no control characters"));
    }
    if let Some(ttl) = request.ttl
        && ttl < Duration::from_secs(1)
    {
        return invalid("ttl must be at least one second".into());
    }
    if let Some(ttl) = request.ttl
        && ttl > max_ttl
    {
        return invalid(format!(
            "ttl {} is longer than the maximum {} (raise [tokens] max_ttl in config.toml)",
            format_ttl(ttl),
            format_ttl(max_ttl)
        ));
    }
    Ok(tools)
}

/// A new token's parts: its id, the SHA-256 of its secret, and the whole token.
fn new_token() -> Result<(String, [u8; 32], SecretString)> {
    let id = random_hex(ID_HEX_LEN / 2)?;
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    fill_random(raw.as_mut_slice())?;
    let hash = hash_secret(&raw);
    let token = SecretString::from(format!("{PREFIX}{id}_{}", hex::encode(raw.as_slice())));
    Ok((id, hash, token))
}

/// What a new token row holds besides its secret.
pub(crate) struct NewToken<'a> {
    pub tools: &'a [String],
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub grant_id: Option<i64>,
    /// A plain token's own policy (`StoredPolicy::to_stored`); a grant's tokens use the grant's.
    pub policy: Option<&'a str>,
}

/// Insert a new token inside a write transaction; its secret is returned once, never stored.
pub(crate) fn insert_token(tx: &crate::store::Tx<'_>, key: &RowMac, new: NewToken<'_>) -> Result<IssuedToken> {
    let (id, hash, token) = new_token()?;
    let tools = new.tools.join(" ");
    let expires_at = new.expires_at.unix_millis();
    // The columns of `rows::TOKEN`, in its order.
    let mut mac = key.start(rows::TOKEN.table);
    mac.text(&id).value(ValueRef::Blob(&hash)).text(&tools).int(expires_at).null().opt_int(new.grant_id);
    if let Some(policy) = new.policy {
        mac.text(policy);
    }
    tx.prepare_cached(
        "INSERT INTO token (id, secret_hash, label, tools, created_at, expires_at, grant_id, mac, policy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        hash,
        new.label,
        tools,
        new.created_at.unix_millis(),
        expires_at,
        new.grant_id,
        mac.finish(),
        new.policy
    ])?;
    Ok(IssuedToken { id, token, tools: new.tools.to_vec(), label: new.label, expires_at: new.expires_at })
}

/// Feed a column added later (a policy) only when it holds something, as `rows::Spec` does
/// for its `optional_last`.
fn optional_last<S: crate::mac::Sink>(mac: &mut crate::mac::MacWriter<S>, value: ValueRef<'_>) {
    if value != ValueRef::Null {
        mac.value(value);
    }
}

/// A policy checked against the scope it narrows: each rule's tool must be one the scope
/// covers (a rule for a tool it cannot call would never apply, which hides a typo).
pub(crate) fn checked_policy(policy: &StoredPolicy, tools: &[String]) -> std::result::Result<StoredPolicy, String> {
    let checked = StoredPolicy::new(policy.allow.clone(), policy.approve).map_err(|e| format!("--allow: {e}"))?;
    let compiled = checked.compile().map_err(|e| format!("--allow: {e}"))?;
    for (index, rule) in compiled.rules().iter().enumerate() {
        let covered = tools.iter().any(|scope| scope == rule.tool() || scope_covers(scope, rule.tool()));
        if !covered {
            return Err(format!(
                "--allow: rule {} is for tool {}, which is not among the tools it may call ({}): add the tool \
                 with --tool or fix the rule's tool name",
                index + 1,
                rule.tool(),
                tools.join(", ")
            ));
        }
    }
    Ok(checked)
}

/// Add `uses` uses to a token inside a write transaction.
pub(crate) fn count_uses(tx: &crate::store::Tx<'_>, id: &str, uses: i64, now: Timestamp) -> Result<()> {
    let changed = tx
        .prepare_cached("UPDATE token SET uses = uses + ?3, last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now.unix_millis(), uses])?;
    if changed == 0 {
        return Err(VaultError::TokenNotFound { id: id.to_string() });
    }
    Ok(())
}

/// Revoke every unrevoked token matching `filter` (over `rows::TOKEN`'s SELECT, alias `t`),
/// resealing those whose MAC verified: an unverified row is revoked but never laundered.
pub(crate) fn revoke_tokens(
    tx: &crate::store::Tx<'_>,
    key: &RowMac,
    filter: &str,
    params: &[&dyn rusqlite::ToSql],
    now: i64,
) -> Result<()> {
    let checked = rows::TOKEN.check(tx, key, &format!("{filter} AND t.revoked_at IS NULL"), params)?;
    let mut intact: Vec<Vec<Value>> = Vec::new();
    for row in checked {
        tx.prepare_cached("UPDATE token SET revoked_at = ?2 WHERE id = ?1")?.execute(params![row.ids[0], now])?;
        if row.intact {
            intact.push(row.ids);
        }
    }
    rows::TOKEN.reseal(tx, key, &intact)
}

impl Vault {
    /// Issue a new token. Its secret is returned once and never stored.
    pub fn issue_token(&mut self, request: &TokenRequest) -> Result<IssuedToken> {
        self.issue_token_with_policy(request, &StoredPolicy::default())
    }

    /// Issue a token whose calls are also under argument rules and/or approval (`keygate
    /// token create --allow ... --approve`). Each rule must name a tool the token may call.
    pub fn issue_token_with_policy(&mut self, request: &TokenRequest, policy: &StoredPolicy) -> Result<IssuedToken> {
        let tools = validate_request(request, self.token_policy.max_ttl)?;
        let policy = checked_policy(policy, &tools).map_err(|reason| VaultError::InvalidTokenRequest { reason })?;
        let now = self.clock.now();
        let expires_at = now.plus(request.ttl.unwrap_or(self.token_policy.default_ttl));
        let label = request.label.clone().filter(|l| !l.is_empty());
        let policy = policy.to_stored();
        let new =
            NewToken { tools: &tools, label, created_at: now, expires_at, grant_id: None, policy: policy.as_deref() };
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| insert_token(tx, key, new))
    }

    /// Check a presented token, and if `tool` is given, that it may call that tool.
    /// Expiry and revocation are read from the vault on every check (a kept row is the
    /// file's as long as nothing was committed since it was read: `kept_rows.rs`).
    pub fn check_token(&self, token: &str, tool: Option<&str>) -> Result<TokenDecision> {
        let denied =
            |token_id: Option<&str>, reason| TokenDecision::Denied { token_id: token_id.map(String::from), reason };
        let Some((id, secret)) = parse(token) else { return Ok(denied(None, Denial::Malformed)) };
        let Some(raw) = decode_secret(secret) else { return Ok(denied(None, Denial::Malformed)) };
        let presented = hash_secret(&raw);
        let genuine = |stored: &[u8]| bool::from(presented.ct_eq(stored));
        let row = match self.kept_rows().and_then(|kept| kept.token(id)) {
            Some(row) => row,
            None => match self.read_token_row(id)? {
                Read::Missing => return Ok(denied(None, Denial::Unknown)),
                Read::Tampered { secret_hash } if genuine(&secret_hash) => {
                    return Ok(denied(Some(id), Denial::Tampered));
                }
                Read::Tampered { .. } => return Ok(denied(None, Denial::Unknown)),
                Read::Intact(row) => {
                    let row = Arc::new(row);
                    if let Some(kept) = self.kept_rows() {
                        kept.keep_token(id, &row);
                    }
                    row
                }
            },
        };
        if !genuine(&row.secret_hash) {
            return Ok(denied(None, Denial::Unknown));
        }
        let now = self.clock.now();
        let reason = if row.revoked {
            Denial::Revoked
        } else if now >= row.expires_at || row.grant_ends_at.is_some_and(|grant_end| now >= grant_end) {
            Denial::Expired
        } else if tool.is_some_and(|tool| !row.tools.split(' ').any(|scope| scope_covers(scope, tool))) {
            Denial::OutOfScope
        } else {
            let allowed = TokenGrant {
                token_id: id.to_string(),
                tools: row.tools.split(' ').map(String::from).collect(),
                expires_at: row.expires_at,
                grant: row.grant.clone(),
                policy: row.policy.clone(),
            };
            return Ok(TokenDecision::Allowed(allowed));
        };
        Ok(denied(Some(id), reason))
    }

    /// How many token checks and credential opens read the vault file; the others were
    /// answered from rows kept since (`kept_rows.rs`). For tests and benchmarks.
    #[doc(hidden)]
    pub fn kept_row_reads(&self) -> u64 {
        self.kept.reads()
    }

    /// Token `id`'s row and its grant's, if there is such a token, and whether their MACs
    /// verify (the columns of a row that does not are not read).
    fn read_token_row(&self, id: &str) -> Result<Read> {
        // One indexed query: the token by primary key and, for a grant's token, its grant by
        // primary key, so revoking or expiring a grant stops its tokens on their next request.
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.secret_hash, t.expires_at, t.revoked_at, t.tools, g.expires_at, g.revoked_at, g.name,
                    t.grant_id, t.mac, g.tools, g.token_ttl_secs, g.created_at, g.mac, t.policy, g.policy
             FROM token t LEFT JOIN agent_grant g ON g.id = t.grant_id WHERE t.id = ?1",
        )?;
        let mut rows = stmt.query([id])?;
        let Some(row) = rows.next()? else { return Ok(Read::Missing) };
        let secret_hash = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?.to_vec();
        if !self.token_row_intact(id, row)? {
            return Ok(Read::Tampered { secret_hash });
        }
        let optional_int = |i| Ok::<_, VaultError>(row.get_ref(i)?.as_i64_or_null().map_err(rusqlite::Error::from)?);
        Ok(Read::Intact(TokenRow {
            secret_hash,
            expires_at: Timestamp::from_unix_millis(row.get(1)?),
            revoked: optional_int(2)?.is_some() || optional_int(5)?.is_some(),
            grant_ends_at: optional_int(4)?.map(Timestamp::from_unix_millis),
            tools: row.get(3)?,
            grant: row.get(6)?,
            // A grant's token follows its grant's policy; a plain token carries its own.
            policy: row.get::<_, Option<String>>(14)?.or(row.get(13)?),
        }))
    }

    /// Whether the token row of `check_token`'s query, and its grant's if it has one, carry
    /// valid MACs. A grant token whose grant row is gone is not intact either.
    fn token_row_intact(&self, id: &str, row: &rusqlite::Row<'_>) -> Result<bool> {
        let get = |i| row.get_ref(i).map_err(VaultError::from);
        let stored = |i| Ok::<_, VaultError>(get(i)?.as_blob_or_null().map_err(rusqlite::Error::from)?);
        let key = &self.keys.rows;
        // The columns of `rows::TOKEN`, in its order.
        let mut mac = key.message(rows::TOKEN.table);
        mac.text(id).value(get(0)?).value(get(3)?).value(get(1)?).value(get(2)?).value(get(7)?);
        optional_last(&mut mac, get(13)?);
        if !key.verify_remembered(mac, stored(8)?, &self.verified) {
            return Ok(false);
        }
        let ValueRef::Integer(grant_id) = get(7)? else { return Ok(true) };
        // The columns of `rows::GRANT`, in its order.
        let mut mac = key.message(rows::GRANT.table);
        mac.int(grant_id).value(get(6)?).value(get(9)?).value(get(10)?).value(get(11)?).value(get(4)?).value(get(5)?);
        optional_last(&mut mac, get(14)?);
        Ok(key.verify_remembered(mac, stored(12)?, &self.verified))
    }

    /// Count one use of a token and stamp `last_used_at`.
    pub fn record_token_use(&mut self, id: &str) -> Result<()> {
        let now = self.clock.now();
        store::write(&mut self.conn, |tx| count_uses(tx, id, 1, now))
    }

    /// Revoke a token at once. Returns false if it was already revoked. A token whose row
    /// does not verify is revoked too (it stays refused either way).
    pub fn revoke_token(&mut self, id: &str) -> Result<bool> {
        if !is_token_id(id) {
            return Err(VaultError::InvalidTokenId);
        }
        let now = self.clock.now().unix_millis();
        let key = &self.keys.rows;
        store::write(&mut self.conn, |tx| {
            let revoked: Option<Option<i64>> =
                tx.query_row("SELECT revoked_at FROM token WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            match revoked {
                None => Err(VaultError::TokenNotFound { id: id.to_string() }),
                Some(Some(_)) => Ok(false),
                Some(None) => {
                    revoke_tokens(tx, key, "WHERE t.id = ?1", &[&id], now)?;
                    Ok(true)
                }
            }
        })
    }

    /// Every token, newest first, with its status now.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        rows::TOKEN.require(&self.conn, &self.keys.rows, "", &[])?;
        rows::GRANT.require(&self.conn, &self.keys.rows, "", &[])?;
        let now = self.clock.now();
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.label, t.tools, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.uses, g.name,
                    t.policy
             FROM token t LEFT JOIN agent_grant g ON g.id = t.grant_id ORDER BY t.created_at DESC, t.id",
        )?;
        let rows = stmt.query_map([], |row| {
            let expires_at = Timestamp::from_unix_millis(row.get(4)?);
            let revoked: Option<i64> = row.get(5)?;
            let status = match revoked {
                Some(_) => TokenStatus::Revoked,
                None if now >= expires_at => TokenStatus::Expired,
                None => TokenStatus::Active,
            };
            let info = TokenInfo {
                id: row.get(0)?,
                label: row.get(1)?,
                tools: row.get::<_, String>(2)?.split(' ').map(String::from).collect(),
                created_at: Timestamp::from_unix_millis(row.get(3)?),
                expires_at,
                revoked_at: revoked.map(Timestamp::from_unix_millis),
                last_used_at: row.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix_millis),
                uses: row.get(7)?,
                status,
                grant: row.get(8)?,
                allow: Vec::new(),
                approve: false,
            };
            Ok((info, row.get::<_, Option<String>>(9)?))
        })?;
        let mut tokens: Vec<(TokenInfo, Option<String>)> = rows.collect::<rusqlite::Result<_>>()?;
        for (token, policy) in &mut tokens {
            let policy = crate::grant::read_policy(policy.as_deref())?;
            (token.allow, token.approve) = (policy.allow, policy.approve);
        }
        Ok(tokens.into_iter().map(|(token, _)| token).collect())
    }
}

impl Vault {
    /// The name of the grant a token was minted under (`None` for a plain or unknown token).
    /// The server asks for a token it has just refused, to tell whether it was the one that
    /// owns a session.
    pub fn token_grant_name(&self, id: &str) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT g.name FROM token t JOIN agent_grant g ON g.id = t.grant_id WHERE t.id = ?1")?;
        let mut rows = stmt.query([id])?;
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_the_exact_shape() {
        let id = "0123456789abcdef";
        let secret = "a".repeat(64);
        assert_eq!(parse(&format!("kg_{id}_{secret}")), Some((id, secret.as_str())));
        assert_eq!(parse(&format!("kg_{id}_{secret}0")), None, "long secret");
        assert_eq!(parse(&format!("kg_{id}_{}", &secret[1..])), None, "short secret");
        assert_eq!(parse(&format!("kg_{}_{secret}", id.to_uppercase())), None, "upper case");
        assert_eq!(parse(&format!("xx_{id}_{secret}")), None, "prefix");
        assert_eq!(parse(""), None);
        assert_eq!(parse("kg_"), None);
        assert_eq!(parse(&format!("kg_{id}_{}é", &secret[2..])), None, "non-ascii");
    }

    #[test]
    fn the_secret_decodes_as_the_hex_crate_decodes_it() {
        for seed in 0u8..=255 {
            let raw: Vec<u8> = (0..SECRET_BYTES as u8).map(|i| i.wrapping_mul(37).wrapping_add(seed)).collect();
            let decoded = decode_secret(&hex::encode(&raw)).expect("64 lowercase hex digits");
            assert_eq!(decoded.as_slice(), raw.as_slice());
        }
        let good = "0123456789abcdef".repeat(4);
        assert!(decode_secret(&good).is_some());
        for bad in [&good[1..], &format!("{good}0"), &good.to_uppercase(), &format!("g{}", &good[1..]), ""] {
            assert!(decode_secret(bad).is_none(), "{bad:?} decoded");
        }
        let with_non_ascii = format!("é{}", &good[2..]);
        assert!(decode_secret(&with_non_ascii).is_none());
    }

    #[test]
    fn a_server_pattern_covers_that_servers_tools_only() {
        assert!(scope_covers("github_*", "github_create_issue"));
        assert!(!scope_covers("github_*", "github_"), "the pattern needs a tool after the prefix");
        assert!(!scope_covers("github_*", "githubx_create"));
        assert!(!scope_covers("github_*", "gitlab_create"));
        assert!(scope_covers("web_search", "web_search"));
        assert!(!scope_covers("web_search", "web_search2"));
        assert!(!scope_covers("web_*x", "web_ax"), "only a trailing star is a pattern");
    }
}
