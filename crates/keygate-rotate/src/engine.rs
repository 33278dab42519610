//! The rotation: retire the previous key -> begin (attempt id) -> create -> pending -> test
//! -> promote -> (grace 0) revoke the old key. Each vault step is its own transaction and
//! idempotent, and every provider call is either idempotent (the attempt id, "gone" counts
//! as revoked) or undone before it is repeated (keys named after the attempt), so a run
//! killed anywhere leaves a working current version and the next run finishes the attempt.
//! The provider never holds more than two live keys of a credential: the previous one is
//! retired before a new one is minted.

use keygate_vault::{LogAction, MintedKey, Vault, VersionState};
use secrecy::SecretString;

use crate::config::{Kind, Rotator, RotatorSet};
use crate::error::{Result, RotateError};
use crate::probe;
use crate::provider::{MintRequest, Provider};
use crate::publish::{NoTeam, Publish, PublishError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The credential.
    pub credential: String,
    /// It finished an attempt an earlier run left.
    pub resumed: bool,
    /// The version now current.
    pub version: i64,
    /// What else happened worth saying (an old key that could not be revoked, ...).
    pub notes: Vec<String>,
}

/// Rotate `rotator.credential` now through its provider; a team copy is refused (see
/// [`rotate_team`]).
pub async fn rotate(vault: &mut Vault, rotator: &Rotator) -> Result<RotationReport> {
    rotate_team(vault, rotator, &NoTeam).await
}

/// Rotate `rotator.credential` now; a team copy's tested key is published to the team
/// through `team` before it becomes current here.
pub async fn rotate_team(vault: &mut Vault, rotator: &Rotator, team: &impl Publish) -> Result<RotationReport> {
    let name = rotator.credential.as_str();
    if matches!(rotator.kind, Kind::Manual) {
        return Err(RotateError::step(name, "create", "this rotator is manual: pipe the new value on stdin"));
    }
    let held = vault.team_versions()?.get(name).copied();
    if held.is_some() && !team.reaches_team() {
        return Err(RotateError::step(
            name,
            "create",
            "it is a team credential and this Keygate cannot reach the team: check [team] and `keygate team status`",
        ));
    }
    let admin = match &rotator.admin_credential {
        Some(admin) => Some(vault.open_credential(admin)?.value),
        None => None,
    };
    let provider = Provider::new(rotator, admin).map_err(|why| RotateError::step(name, "create", why))?;
    let mut notes = Vec::new();
    // Retire first: current + previous + a new key would be three live keys.
    if let Some(note) = retire(vault, &provider, name, true).await? {
        return Err(RotateError::step(name, "revoke", note));
    }
    let attempt = vault.begin_rotation(name)?;
    let pending = match attempt.pending {
        Some(version) => version,
        None => create(vault, &provider, name, &attempt.id, attempt.resumed).await?,
    };
    if !attempt.tested {
        test(vault, &provider, rotator, &attempt.id, pending).await?;
        vault.mark_tested(name, &attempt.id, pending)?;
    }
    let published = match held {
        Some(held) => Some(publish(vault, &provider, team, name, (&attempt.id, pending), held).await?),
        None => None,
    };
    let info = vault.promote_pending(name, &attempt.id)?;
    if let Some(version) = published {
        vault.record_team_version(name, version)?;
    }
    // With no grace the old key goes now; otherwise when the grace ends (retire_expired).
    if let Some(note) = retire(vault, &provider, name, false).await? {
        notes.push(note);
    }
    Ok(RotationReport { credential: name.to_string(), resumed: attempt.resumed, version: info.version, notes })
}

/// Check a pasted value with the rotator's test (a manual rotation) before it is stored.
pub async fn test_manual_value(rotator: &Rotator, value: &SecretString) -> Result<()> {
    let Some(probe) = &rotator.test else { return Ok(()) };
    let name = rotator.credential.as_str();
    let client = probe::client(rotator.timeout).map_err(|why| RotateError::step(name, "test", why))?;
    probe::test_key(&client, probe, value).await.map_err(|why| RotateError::step(name, "test", why))
}

/// Erase every previous version whose grace has ended, revoking it at its provider first
/// where there is one. Returns one line per credential that could not be finished.
pub async fn retire_expired(vault: &mut Vault, rotators: &RotatorSet) -> Vec<String> {
    let mut problems = Vec::new();
    let names = match vault.list_credentials() {
        Ok(list) => list.into_iter().map(|c| c.name).collect::<Vec<_>>(),
        Err(e) => return vec![e.to_string()],
    };
    for name in names {
        let outcome = match rotators.get(&name) {
            Some(rotator) => retire_with_rotator(vault, rotator).await,
            None => erase_expired(vault, &name),
        };
        if let Err(e) = outcome {
            problems.push(e.to_string());
        }
    }
    problems
}

async fn retire_with_rotator(vault: &mut Vault, rotator: &Rotator) -> Result<()> {
    let name = rotator.credential.as_str();
    if vault.retiring_version(name, false)?.is_none() {
        return Ok(());
    }
    let admin = match &rotator.admin_credential {
        Some(admin) => Some(vault.open_credential(admin)?.value),
        None => None,
    };
    let provider = Provider::new(rotator, admin).map_err(|why| RotateError::step(name, "revoke", why))?;
    match retire(vault, &provider, name, false).await? {
        Some(note) => Err(RotateError::step(name, "revoke", note)),
        None => Ok(()),
    }
}

/// A credential with no rotator: its previous version is only erased.
fn erase_expired(vault: &mut Vault, name: &str) -> Result<()> {
    if let Some(retiring) = vault.retiring_version(name, false)? {
        vault.erase_previous(name, retiring.version, LogAction::Erased)?;
    }
    Ok(())
}

/// Revoke and erase the previous version if its grace ended (or `force`). `Some(why)` when
/// the provider refused: the version is kept, to be tried again.
async fn retire(vault: &mut Vault, provider: &Provider<'_>, name: &str, force: bool) -> Result<Option<String>> {
    let Some(retiring) = vault.retiring_version(name, force)? else { return Ok(None) };
    let value = vault.open_version(name, retiring.version)?.value;
    match provider.revoke(name, &value, retiring.provider_id.as_deref()).await {
        Ok(true) => vault.erase_previous(name, retiring.version, LogAction::Revoked)?,
        Ok(false) => vault.erase_previous(name, retiring.version, LogAction::Erased)?,
        Err(_) if retiring.provider_id.is_none() && vault.team_versions()?.contains_key(name) => {
            // A team key this machine did not mint: the machine that minted it holds its id
            // and revokes it when its own grace ends.
            vault.erase_previous(name, retiring.version, LogAction::Erased)?;
        }
        Err(why) if retiring.provider_id.is_none() && !matches!(provider, Provider::Command { .. }) => {
            // A key Keygate did not mint (the one first pasted): nothing here can revoke it.
            vault.erase_previous(name, retiring.version, LogAction::RevokeFailed)?;
            return Ok(Some(format!("version {} was erased but not revoked: {why}", retiring.version)));
        }
        Err(why) => return Ok(Some(format!("cannot revoke version {}: {why}", retiring.version))),
    }
    Ok(None)
}

/// Mint the new key and store it as pending; a failure ends the attempt with nothing changed.
async fn create(vault: &mut Vault, provider: &Provider<'_>, name: &str, attempt: &str, resumed: bool) -> Result<i64> {
    if resumed {
        // An earlier run may have minted and died before storing: revoke that key first.
        provider.clean_up_attempt(name, attempt).await.map_err(|why| RotateError::step(name, "create", why))?;
    }
    let current = vault.open_credential(name)?;
    let current_id = provider_id(vault, name, VersionState::Current)?;
    let request = MintRequest { credential: name, current: &current.value, current_id: current_id.as_deref(), attempt };
    let minted = match provider.mint(&request).await {
        Ok(minted) => minted,
        Err(why) => {
            vault.abandon_rotation(name, attempt, LogAction::CreateFailed)?;
            return Err(RotateError::step(name, "create", why));
        }
    };
    let key = MintedKey { value: &minted.value, provider_id: minted.id.as_deref(), expires_at: minted.expires_at };
    match vault.store_pending(name, attempt, &key) {
        Ok(version) => Ok(version),
        Err(e) => {
            // A value the vault refuses (too long, a newline): revoke it, end the attempt.
            let _ = provider.revoke(name, &minted.value, minted.id.as_deref()).await;
            vault.abandon_rotation(name, attempt, LogAction::CreateFailed)?;
            Err(RotateError::step(name, "create", format!("the new key was refused and revoked: {e}")))
        }
    }
}

/// Send the test request with the pending key; a failure revokes it and ends the attempt.
async fn test(
    vault: &mut Vault,
    provider: &Provider<'_>,
    rotator: &Rotator,
    attempt: &str,
    pending: i64,
) -> Result<()> {
    let name = rotator.credential.as_str();
    let Some(probe) = &rotator.test else { return Ok(()) };
    let value = vault.open_version(name, pending)?.value;
    let client = probe::client(rotator.timeout).map_err(|why| RotateError::step(name, "test", why))?;
    let Err(why) = probe::test_key(&client, probe, &value).await else { return Ok(()) };
    let id = provider_id(vault, name, VersionState::Pending)?;
    let revoked = match provider.revoke(name, &value, id.as_deref()).await {
        Ok(true) => "the new key was revoked".to_string(),
        Ok(false) => "no revoke_command: the new key was only erased".to_string(),
        Err(e) => {
            vault.log_revoke_failed(name, pending)?;
            format!("the new key could not be revoked ({e}): revoke it by hand")
        }
    };
    vault.abandon_rotation(name, attempt, LogAction::TestFailed)?;
    Err(RotateError::step(name, "test", format!("{why}; {revoked}")))
}

/// Write the tested pending key to the team. Refused (a teammate's version came first): the
/// key is revoked and the attempt ended. Unsure: the attempt stays for the next run.
async fn publish(
    vault: &mut Vault,
    provider: &Provider<'_>,
    team: &impl Publish,
    name: &str,
    (attempt, pending): (&str, i64),
    held: i64,
) -> Result<i64> {
    let value = vault.open_version(name, pending)?.value;
    match team.publish(name, &value, held).await {
        Ok(version) => Ok(version),
        Err(PublishError::Unsure(why)) => Err(RotateError::step(
            name,
            "publish",
            format!("{why}; the tested key is kept and the next run publishes it"),
        )),
        Err(PublishError::Refused(why)) => {
            let id = provider_id(vault, name, VersionState::Pending)?;
            let revoked = match provider.revoke(name, &value, id.as_deref()).await {
                Ok(true) => "the new key was revoked",
                Ok(false) => "no revoke_command: the new key was only erased",
                Err(_) => {
                    vault.log_revoke_failed(name, pending)?;
                    "the new key could not be revoked: revoke it by hand"
                }
            };
            vault.abandon_rotation(name, attempt, LogAction::Discarded)?;
            Err(RotateError::step(name, "publish", format!("{why}; {revoked}")))
        }
    }
}

fn provider_id(vault: &Vault, name: &str, state: VersionState) -> Result<Option<String>> {
    let detail = vault.credential_detail(name)?;
    Ok(detail.versions.into_iter().find(|v| v.state == state).and_then(|v| v.provider_id))
}
