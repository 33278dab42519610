//! The vault's half of a rotator's rotation: each step one transaction, each logged, each
//! idempotent under its attempt id, so a process killed between any two of them leaves a
//! working current version and the next run resumes (or cleans up) the same attempt.
//!
//! begin (attempt id stored) -> store_pending -> mark_tested -> promote (old current becomes
//! previous), or abandon (pending erased). The provider calls happen between these, outside
//! any transaction, in keygate-rotate.

use rusqlite::params;
use rusqlite::types::Value;
use secrecy::{ExposeSecret, SecretString};

use crate::clock::Timestamp;
use crate::credential::{CredentialInfo, OpenedCredential, current_version, validate_value};
use crate::error::{Result, VaultError};
use crate::random::random_hex;
use crate::rotation::{self, LogAction};
use crate::rotation_state::{self, State};
use crate::seal::Binding;
use crate::vault::Vault;
use crate::{rows, store};

/// The rotation in flight, as `begin_rotation` found or started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Stable across every retry of this rotation (the command rotator's `attempt`).
    pub id: String,
    /// An attempt a previous run started and did not finish.
    pub resumed: bool,
    /// Its pending version, if the key was minted and stored already.
    pub pending: Option<i64>,
    /// Whether that pending version passed its test already.
    pub tested: bool,
}

/// A key a rotator minted: stored sealed as the pending version.
pub struct MintedKey<'a> {
    /// The key.
    pub value: &'a SecretString,
    /// The provider's id of it, to revoke it later.
    pub provider_id: Option<&'a str>,
    /// When the provider says it expires.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for MintedKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MintedKey {{ value: [redacted], provider_id: {:?} }}", self.provider_id)
    }
}

impl Vault {
    /// Start a rotation of `name`, or find the one in flight (`resumed`).
    pub fn begin_rotation(&mut self, name: &str) -> Result<Attempt> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        let fresh_id = random_hex(8)?;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            rows::CREDENTIAL.require(tx, &keys.rows, "WHERE c.name = ?1", &[&name])?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            let pending = rotation_state::pending_version(tx, name, current, state.previous_version)?;
            if let Some(id) = state.attempt.clone() {
                let tested = match pending {
                    Some(v) => last_step_is(tx, name, LogAction::Tested, v)?,
                    None => false,
                };
                return Ok(Attempt { id, resumed: true, pending, tested });
            }
            // A pending version with no attempt cannot be trusted to be anyone's: erase it.
            rotation_state::erase_versions_except(tx, name, &keep(current, state.previous_version))?;
            state.attempt = Some(fresh_id.clone());
            state.attempt_started_at = Some(now.unix_millis());
            rotation_state::save(tx, keys, name, &state)?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::Started, Some(current), None, actor)?;
            Ok(Attempt { id: fresh_id, resumed: false, pending: None, tested: false })
        })
    }

    /// Store the minted key as the pending version of attempt `attempt`; a second call for
    /// the same attempt keeps the first key and returns its version.
    pub fn store_pending(&mut self, name: &str, attempt: &str, key: &MintedKey<'_>) -> Result<i64> {
        validate_value(key.value)?;
        let now = self.clock.now();
        let actor = self.actor;
        let (sealer, vault_id, keys) = (&self.sealer, self.vault_id.as_str(), &self.keys);
        store::write(&mut self.conn, |tx| {
            let (current, state) = in_flight(tx, keys, name, attempt)?;
            if let Some(v) = rotation_state::pending_version(tx, name, current, state.previous_version)? {
                return Ok(v);
            }
            let version = rotation_state::next_version(tx, name)?;
            let binding = Binding::Credential { vault_id, name, version };
            let sealed = sealer.seal(binding, key.value.expose_secret().as_bytes())?;
            tx.execute(
                "INSERT INTO credential_version (name, version, sealed, created_at, provider_id, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name,
                    version,
                    sealed,
                    now.unix_millis(),
                    key.provider_id,
                    key.expires_at.map(|t| t.unix_millis())
                ],
            )?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::Pending, Some(current), Some(version), actor)?;
            Ok(version)
        })
    }

    /// Record that the pending version passed its test.
    pub fn mark_tested(&mut self, name: &str, attempt: &str, version: i64) -> Result<()> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let (current, _) = in_flight(tx, keys, name, attempt)?;
            if last_step_is(tx, name, LogAction::Tested, version)? {
                return Ok(());
            }
            rotation::append(tx, &keys.rotation, now, name, LogAction::Tested, Some(current), Some(version), actor)
        })
    }

    /// Make the pending version current; the current one becomes previous until the grace
    /// ends; the attempt ends. Logged `rotated`. A second call after success is a no-op.
    pub fn promote_pending(&mut self, name: &str, attempt: &str) -> Result<CredentialInfo> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            rows::CREDENTIAL.require(tx, &keys.rows, "WHERE c.name = ?1", &[&name])?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            if state.attempt.as_deref() != Some(attempt) {
                return if last_attempt_promoted(tx, name)? { Ok(()) } else { Err(mismatch(name, attempt)) };
            }
            let pending = rotation_state::pending_version(tx, name, current, state.previous_version)?
                .ok_or_else(|| VaultError::NoPendingVersion { name: name.to_string() })?;
            rotation_state::erase_versions_except(tx, name, &[current, pending])?;
            tx.execute(
                "UPDATE credential SET current_version = ?2, rotated_at = ?3 WHERE name = ?1",
                params![name, pending, now.unix_millis()],
            )?;
            state.previous_version = Some(current);
            state.previous_until = Some(rotation_state::previous_until(now, state.grace_secs));
            state.attempt = None;
            state.attempt_started_at = None;
            rotation_state::save(tx, keys, name, &state)?;
            rows::CREDENTIAL.reseal(tx, &keys.rows, &[vec![Value::Text(name.to_string())]])?;
            rotation::append(tx, &keys.rotation, now, name, LogAction::Rotated, Some(current), Some(pending), actor)
        })?;
        self.credential_info(name)
    }

    /// End attempt `attempt` without promoting: its pending version (if any) is erased and
    /// `why` is logged (`create_failed`, `test_failed` or `discarded`). No-op if it ended.
    pub fn abandon_rotation(&mut self, name: &str, attempt: &str, why: LogAction) -> Result<()> {
        let now = self.clock.now();
        let actor = self.actor;
        let keys = &self.keys;
        store::write(&mut self.conn, |tx| {
            let current = current_version(tx, name)?;
            let mut state = rotation_state::load(tx, keys, name, current)?;
            if state.attempt.as_deref() != Some(attempt) {
                return Ok(());
            }
            let pending = rotation_state::pending_version(tx, name, current, state.previous_version)?;
            rotation_state::erase_versions_except(tx, name, &keep(current, state.previous_version))?;
            state.attempt = None;
            state.attempt_started_at = None;
            rotation_state::save(tx, keys, name, &state)?;
            rotation::append(tx, &keys.rotation, now, name, why, pending, None, actor)
        })
    }

    /// Log that the provider refused to revoke `version` of `name` (a pending key whose test
    /// failed): the person must revoke it by hand.
    pub fn log_revoke_failed(&mut self, name: &str, version: i64) -> Result<()> {
        let now = self.clock.now();
        let actor = self.actor;
        let key = &self.keys.rotation;
        store::write(&mut self.conn, |tx| {
            current_version(tx, name)?;
            rotation::append(tx, key, now, name, LogAction::RevokeFailed, Some(version), None, actor)
        })
    }

    /// Decrypt one stored version of `name` (a pending key to test, a previous one to revoke).
    pub fn open_version(&self, name: &str, version: i64) -> Result<OpenedCredential> {
        let (sealed, team_version): (Vec<u8>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT sealed, team_version FROM credential_version WHERE name = ?1 AND version = ?2",
                params![name, version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => VaultError::CannotOpen { name: name.to_string(), version },
                e => e.into(),
            })?;
        let binding = Binding::Credential { vault_id: &self.vault_id, name, version };
        let cannot_open = || VaultError::CannotOpen { name: name.to_string(), version };
        let plaintext = self.sealer.open(binding, &sealed).ok_or_else(cannot_open)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| cannot_open())?;
        Ok(OpenedCredential { version, team_version, value: SecretString::from(text) })
    }
}

fn keep(current: i64, previous: Option<i64>) -> Vec<i64> {
    std::iter::once(current).chain(previous).collect()
}

fn mismatch(name: &str, attempt: &str) -> VaultError {
    VaultError::AttemptMismatch { name: name.to_string(), attempt: crate::rows::printable(attempt) }
}

/// The current version and state of `name`, if `attempt` is its rotation in flight.
fn in_flight(tx: &rusqlite::Connection, keys: &crate::mac::Keys, name: &str, attempt: &str) -> Result<(i64, State)> {
    let current = current_version(tx, name)?;
    let state = rotation_state::load(tx, keys, name, current)?;
    if state.attempt.as_deref() == Some(attempt) { Ok((current, state)) } else { Err(mismatch(name, attempt)) }
}

/// Whether `name`'s newest log row is `action` on `version`.
fn last_step_is(tx: &rusqlite::Connection, name: &str, action: LogAction, version: i64) -> Result<bool> {
    let last: Option<(String, Option<i64>)> = tx
        .query_row(
            "SELECT action, to_version FROM rotation_log WHERE credential = ?1 ORDER BY id DESC LIMIT 1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    Ok(last.is_some_and(|(a, v)| a == action.as_str() && v == Some(version)))
}

/// Whether `name`'s newest rotation step was a promotion (a retried promote after success).
fn last_attempt_promoted(tx: &rusqlite::Connection, name: &str) -> Result<bool> {
    let last: Option<String> = tx
        .query_row("SELECT action FROM rotation_log WHERE credential = ?1 ORDER BY id DESC LIMIT 1", [name], |r| {
            r.get(0)
        })
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    Ok(last.as_deref() == Some(LogAction::Rotated.as_str()))
}
