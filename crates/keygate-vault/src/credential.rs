//! Credentials: named secrets, each version sealed on its own. Adding, rotating, removing,
//! listing, and opening the current version just in time.

use std::fmt;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};

use crate::store::Tx;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::kept_rows::SealedCredential;
use crate::rotation::{self, LogAction};
use crate::rotation_state;
use crate::seal::Binding;
use crate::vault::Vault;
use crate::{rows, store};

/// Default rotation policy: a version is due after this many days.
pub const DEFAULT_MAX_AGE_DAYS: i64 = 30;
/// The longest value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 16 * 1024;

/// What is shown of a credential: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    /// Its name.
    pub name: String,
    /// The current version.
    pub version: i64,
    /// When the credential was first added.
    pub created_at: Timestamp,
    /// When the current version replaced another; `None` if never rotated.
    pub rotated_at: Option<Timestamp>,
    /// Rotation policy: days a version may live.
    pub max_age_days: i64,
    /// Whether the current version is at least `max_age_days` old.
    pub due: bool,
    /// Not due yet, but within [`crate::DUE_SOON`] of it.
    pub due_soon: bool,
    /// When the current version becomes due.
    pub due_at: Timestamp,
}

/// The current value of a credential, opened for one use.
pub struct OpenedCredential {
    /// Which version this is.
    pub version: i64,
    /// For a team copy, the team's version this local version holds; `None` for a local one.
    pub team_version: Option<i64>,
    /// The value; zeroized when dropped.
    pub value: SecretString,
}

impl fmt::Debug for OpenedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OpenedCredential {{ version: {}, team_version: {:?}, value: [redacted] }}",
            self.version, self.team_version
        )
    }
}

/// Check a name against `[a-z0-9][a-z0-9_.-]{0,63}`.
pub fn validate_name(name: &str) -> Result<()> {
    let valid_first = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid_rest = |c: char| valid_first(c) || matches!(c, '_' | '.' | '-');
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(valid_first) && chars.all(valid_rest) && name.len() <= 64;
    if ok { Ok(()) } else { Err(VaultError::InvalidName { name: name.to_string() }) }
}

/// Check a value: not empty, not too long, one line with no control characters.
pub fn validate_value(value: &SecretString) -> Result<()> {
    let value = value.expose_secret();
    let reason = if value.is_empty() {
        "it is empty".to_string()
    } else if value.len() > MAX_VALUE_LEN {
        format!("it is {} bytes, more than the {MAX_VALUE_LEN} allowed", value.len())
    } else if value.chars().any(char::is_control) {
        "it contains a control character such as a newline or tab; an API key is one line".to_string()
    } else {
        return Ok(());
    };
    Err(VaultError::InvalidValue { reason })
}

/// Check a rotation policy: 1 to 3650 days.
pub fn validate_max_age(days: i64) -> Result<()> {
    if (1..=3650).contains(&days) { Ok(()) } else { Err(VaultError::InvalidMaxAge { days }) }
}

impl Vault {
    /// Add a new credential as version 1.
    pub fn add_credential(
        &mut self,
        name: &str,
        value: &SecretString,
        max_age_days: Option<i64>,
    ) -> Result<CredentialInfo> {
        validate_name(name)?;
        validate_value(value)?;
        let max_age_days = max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS);
        validate_max_age(max_age_days)?;
        let now = self.clock.now();
        let sealed = self.seal_version(name, 1, value)?;
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM credential WHERE name = ?1)", [name], |r| r.get(0))?;
            if exists {
                return Err(VaultError::CredentialExists { name: name.to_string() });
            }
            tx.execute(
                "INSERT INTO credential (name, current_version, max_age_days, created_at) VALUES (?1, 1, ?2, ?3)",
                params![name, max_age_days, now.unix_millis()],
            )?;
            insert_version(tx, name, 1, &sealed, now)?;
            // A name removed and added again starts with no grace and no previous version.
            tx.execute("DELETE FROM credential_rotation WHERE name = ?1", [name])?;
            rows::CREDENTIAL.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::Created, None, Some(1), actor)
        })?;
        self.credential_info(name)
    }

    /// Make `value` the new current version; the previous one is kept, older ones are erased.
    pub fn rotate_credential(&mut self, name: &str, value: &SecretString) -> Result<CredentialInfo> {
        validate_name(name)?;
        validate_value(value)?;
        let now = self.clock.now();
        let actor = self.actor;
        let (sealer, vault_id, keys) = (&self.sealer, self.vault_id.as_str(), &self.keys);
        store::write(&mut self.conn, |tx| {
            // The version number is only known under the write lock, so seal inside it.
            let current = current_version(tx, name)?;
            // Never build on a rolled-back or edited row: the next version would follow it.
            rows::CREDENTIAL.require(tx, &keys.rows, "WHERE c.name = ?1", &[&name])?;
            let next = rotation_state::next_version(tx, name)?;
            let binding = Binding::Credential { vault_id, name, version: next };
            let sealed = sealer.seal(binding, value.expose_secret().as_bytes())?;
            insert_version(tx, name, next, &sealed, now)?;
            tx.execute(
                "UPDATE credential SET current_version = ?2, rotated_at = ?3 WHERE name = ?1",
                params![name, next, now.unix_millis()],
            )?;
            // The old current becomes previous for the grace; older and pending versions go,
            // and a pasted value ends any rotator's attempt in flight.
            rotation_state::erase_versions_except(tx, name, &[current, next])?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            state.previous_version = Some(current);
            state.previous_until = Some(rotation_state::previous_until(now, state.grace_secs));
            state.attempt = None;
            state.attempt_started_at = None;
            rotation_state::save(tx, keys, name, &state)?;
            rows::CREDENTIAL.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::Rotated, Some(current), Some(next), actor)
        })?;
        self.credential_info(name)
    }

    /// Remove a credential and erase all its versions; the rotation log keeps a row.
    pub fn remove_credential(&mut self, name: &str) -> Result<()> {
        validate_name(name)?;
        let now = self.clock.now();
        let actor = self.actor;
        let key = &self.keys.rotation;
        // Allowed for a row that does not verify: removing it is how a person recovers.
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            tx.execute("DELETE FROM credential WHERE name = ?1", [name])?;
            rotation::append(tx, key, now, name, LogAction::Removed, Some(current), None, actor)
        })
    }

    /// Every credential, by name.
    pub fn list_credentials(&self) -> Result<Vec<CredentialInfo>> {
        rows::CREDENTIAL.require(&self.conn, &self.keys.rows, "", &[])?;
        let now = self.clock.now();
        let mut stmt = self.conn.prepare_cached(&format!("{INFO_QUERY} ORDER BY c.name"))?;
        let rows = stmt.query_map([], |row| info_from_row(row, now))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One credential's info.
    pub fn credential_info(&self, name: &str) -> Result<CredentialInfo> {
        self.require_credential(name)?;
        let now = self.clock.now();
        let mut stmt = self.conn.prepare_cached(&format!("{INFO_QUERY} WHERE c.name = ?1"))?;
        stmt.query_row([name], |row| info_from_row(row, now))
            .optional()?
            .ok_or_else(|| VaultError::CredentialNotFound { name: name.to_string() })
    }

    /// The current version of `name`, or `None` if there is no such credential (a cheap read,
    /// made on every gateway call to notice a rotation).
    pub fn current_version(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.current_versions(name)?.map(|(version, _)| version))
    }

    /// The current version of `name` and, for a team copy, the team version it holds (one
    /// read, made on every gateway call: a teammate's version noticed like a rotation).
    pub fn current_versions(&self, name: &str) -> Result<Option<(i64, Option<i64>)>> {
        match self.read_current(name) {
            Ok(current) => Ok(Some((current.version, current.team_version))),
            Err(VaultError::CredentialNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Decrypt the current version of `name` for one use. Its sealed row may come from the
    /// rows kept since nothing was committed (`kept_rows.rs`); it is decrypted every time.
    pub fn open_credential(&self, name: &str) -> Result<OpenedCredential> {
        let current = match self.kept_rows().and_then(|kept| kept.credential(name)) {
            Some(current) => current,
            None => {
                let current = Arc::new(self.read_current(name)?);
                if let Some(kept) = self.kept_rows() {
                    kept.keep_credential(name, &current);
                }
                current
            }
        };
        let SealedCredential { version, team_version, ref sealed } = *current;
        let binding = Binding::Credential { vault_id: &self.vault_id, name, version };
        let cannot_open = || VaultError::CannotOpen { name: name.to_string(), version };
        let plaintext = self.sealer.open(binding, sealed).ok_or_else(cannot_open)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| cannot_open())?;
        Ok(OpenedCredential { version, team_version, value: SecretString::from(text) })
    }

    /// `name`'s current version from the file, sealed, once its row's MAC verified.
    fn read_current(&self, name: &str) -> Result<SealedCredential> {
        let mut stmt = self.conn.prepare_cached(CURRENT_QUERY)?;
        let mut rows = stmt.query([name])?;
        let Some(row) = rows.next()? else { return Err(VaultError::CredentialNotFound { name: name.to_string() }) };
        self.require_current(name, row)?;
        let sealed = row.get_ref(7)?.as_blob().map_err(rusqlite::Error::from)?.to_vec();
        Ok(SealedCredential { version: row.get(0)?, team_version: row.get(5)?, sealed })
    }

    /// Refuse a `CURRENT_QUERY` row whose MAC does not verify (the hot path's inline check).
    fn require_current(&self, name: &str, row: &rusqlite::Row<'_>) -> Result<()> {
        // The columns of `rows::CREDENTIAL`, in its order.
        let mut mac = self.keys.rows.start(rows::CREDENTIAL.table);
        mac.text(name);
        for i in 0..5 {
            mac.value(row.get_ref(i)?);
        }
        // The team version is fed only when present (`optional_last`), as for local rows before it.
        let team_version = row.get_ref(5)?;
        if team_version != rusqlite::types::ValueRef::Null {
            mac.value(team_version);
        }
        let stored = row.get_ref(6)?.as_blob_or_null().map_err(rusqlite::Error::from)?;
        if mac.verify(stored) { Ok(()) } else { Err(rows::CREDENTIAL.tampered(&[Value::Text(name.to_string())])) }
    }

    /// Refuse `name` if its row (version, policy, due date) does not verify.
    fn require_credential(&self, name: &str) -> Result<()> {
        rows::CREDENTIAL.require(&self.conn, &self.keys.rows, "WHERE c.name = ?1", &[&name])
    }

    fn seal_version(&self, name: &str, version: i64, value: &SecretString) -> Result<Vec<u8>> {
        let binding = Binding::Credential { vault_id: &self.vault_id, name, version };
        self.sealer.seal(binding, value.expose_secret().as_bytes())
    }
}

/// A credential's authenticated columns (in `rows::CREDENTIAL`'s order after the name), its
/// MAC, and its current version's sealed value (NULL if that row is gone: the MAC then fails).
/// The call path's only read of the credential: the team version comes with it.
const CURRENT_QUERY: &str = "SELECT c.current_version, c.max_age_days, c.created_at, c.rotated_at, v.created_at,
            v.team_version, c.mac, v.sealed
     FROM credential c LEFT JOIN credential_version v ON v.name = c.name AND v.version = c.current_version
     WHERE c.name = ?1";

const INFO_QUERY: &str = "SELECT c.name, c.current_version, c.created_at, c.rotated_at, c.max_age_days, v.created_at
     FROM credential c JOIN credential_version v ON v.name = c.name AND v.version = c.current_version";

fn info_from_row(row: &rusqlite::Row<'_>, now: Timestamp) -> rusqlite::Result<CredentialInfo> {
    let max_age_days: i64 = row.get(4)?;
    let version_created = Timestamp::from_unix_millis(row.get(5)?);
    let due_at = rotation::due_at(version_created, max_age_days);
    Ok(CredentialInfo {
        name: row.get(0)?,
        version: row.get(1)?,
        created_at: Timestamp::from_unix_millis(row.get(2)?),
        rotated_at: row.get::<_, Option<i64>>(3)?.map(Timestamp::from_unix_millis),
        max_age_days,
        due: now >= due_at,
        due_soon: now < due_at && due_at <= now.plus(rotation::DUE_SOON),
        due_at,
    })
}

pub(crate) fn current_version(tx: &rusqlite::Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT current_version FROM credential WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| VaultError::CredentialNotFound { name: name.to_string() })
}

pub(crate) fn insert_version(tx: &Tx<'_>, name: &str, version: i64, sealed: &[u8], now: Timestamp) -> Result<()> {
    tx.execute(
        "INSERT INTO credential_version (name, version, sealed, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, version, sealed, now.unix_millis()],
    )?;
    Ok(())
}
