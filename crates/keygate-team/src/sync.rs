//! Keeping local copies of the team's secrets: each secret's current version sealed in the
//! local vault as an ordinary credential, replaced when the team has a newer version, deleted
//! when the team deleted it or no longer lets this machine read its path. The MCP server
//! serves from the copies, so calls never wait on OpenBao and go on when it is down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keygate_vault::{TeamChange, Vault, validate_name};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::TeamConfig;
use crate::error::{Result, TeamError};
use crate::login::load_login;
use crate::remote::Remote;
use crate::status::{TeamStatus, read_status, write_status};

/// How often a Keygate without a usable `[team]` section looks again.
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// New local copies.
    pub added: Vec<String>,
    /// Copies that now hold a newer team version.
    pub updated: Vec<String>,
    /// Copies deleted: gone from the team, or no longer readable by this machine.
    pub removed: Vec<String>,
    /// Copies already current.
    pub unchanged: usize,
    /// Team secrets not used, with why (a name Keygate cannot hold, data it did not write, a
    /// local credential of that name).
    pub skipped: Vec<(String, String)>,
}

impl SyncReport {
    /// Team credentials held locally after this sync.
    pub fn held(&self) -> usize {
        self.added.len() + self.updated.len() + self.unchanged
    }
}

/// Bring the vault's copies up to the team's current versions.
pub async fn sync(vault: &mut Vault, remote: &Remote) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let names = match remote.list().await {
        Ok(names) => names,
        // The policy no longer lets this machine read the team's path: its copies must go too.
        Err(TeamError::Denied { .. }) if !vault.team_versions()?.is_empty() => {
            report.removed = forget_all_but(vault, &[])?;
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    let held = vault.team_versions()?;
    let mut kept = Vec::new();
    for name in names {
        if validate_name(&name).is_err() {
            report.skipped.push((shown(&name), "not a name Keygate can hold (a-z, 0-9, `_`, `.`, `-`)".into()));
            continue;
        }
        match sync_one(vault, remote, &name, held.get(&name).copied()).await {
            Ok(Some(change)) => {
                kept.push(name.clone());
                match change {
                    TeamChange::Added | TeamChange::Adopted => report.added.push(name),
                    TeamChange::Updated => report.updated.push(name),
                    TeamChange::Unchanged => report.unchanged += 1,
                }
            }
            Ok(None) => {}
            Err(
                e @ (TeamError::BadSecret { .. } | TeamError::Vault(keygate_vault::VaultError::TeamNameTaken { .. })),
            ) => {
                kept.push(name.clone());
                report.skipped.push((name, e.to_string()));
            }
            Err(TeamError::Vault(e)) if e.code() == "invalid_value" => {
                // A value Keygate cannot hold (empty, too long): the copy held so far stays.
                kept.push(name.clone());
                report.skipped.push((name, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    report.removed = forget_all_but(vault, &kept)?;
    Ok(report)
}

/// One secret, of which the vault holds team version `held`: `None` if the team has no
/// current version of it (deleted). One metadata read gives the version, its date and the
/// policy; the value is read only for a version not held yet.
async fn sync_one(vault: &mut Vault, remote: &Remote, name: &str, held: Option<i64>) -> Result<Option<TeamChange>> {
    let Some(team) = remote.metadata(name).await? else { return Ok(None) };
    if held == Some(team.version) {
        // The due date and a teammate's policy change follow the team even with no new value;
        // a copy whose credential is gone is stored again from the value.
        match vault.follow_team_copy(name, &team) {
            Ok(change) => return Ok(Some(change)),
            Err(keygate_vault::VaultError::CredentialNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let Some(value) = remote.read_value(name, team.version).await? else { return Ok(None) };
    Ok(Some(vault.store_team_copy(name, &value, &team)?))
}

fn forget_all_but(vault: &mut Vault, kept: &[String]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for name in vault.team_versions()?.into_keys().filter(|n| !kept.contains(n)) {
        if vault.forget_team_credential(&name)? {
            removed.push(name);
        }
    }
    Ok(removed)
}

fn shown(name: &str) -> String {
    name.chars().take(80).flat_map(char::escape_debug).collect()
}

/// Sync every `refresh_seconds` of the `[team]` section in `config_path` (read again each
/// time, so a section added, changed or removed takes effect without a restart), and at once
/// when `nudge` is notified (an upstream refused a key: a teammate may have rotated it), until
/// `stop`. Each attempt's outcome goes to `team.json` in the home; a failure keeps the copies.
pub async fn run_sync_loop(mut vault: Vault, config_path: PathBuf, nudge: Arc<Notify>, stop: CancellationToken) {
    let home = vault.home().dir().to_path_buf();
    let mut remote: Option<(TeamConfig, Remote)> = None;
    loop {
        let wait = match TeamConfig::load(&config_path) {
            Ok(Some(config)) => {
                let outcome = attempt(&mut vault, &config, &mut remote).await;
                record(&home, &config, &outcome, keygate_vault::Clock::now(&keygate_vault::SystemClock).unix_millis());
                if let Err(e) = &outcome {
                    tracing::warn!(code = e.code(), "team sync failed; serving the last synced versions: {e}");
                    // A refused or expired login is read again from the keychain next time.
                    remote = None;
                }
                config.refresh
            }
            Ok(None) => IDLE_CHECK,
            Err(e) => {
                tracing::warn!("team sync paused: {e}");
                IDLE_CHECK
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = nudge.notified() => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn attempt(
    vault: &mut Vault,
    config: &TeamConfig,
    remote: &mut Option<(TeamConfig, Remote)>,
) -> Result<SyncReport> {
    if remote.as_ref().is_none_or(|(used, _)| used != config) {
        let login = load_login(vault.id())?;
        *remote = Some((config.clone(), Remote::connect(config, &login).await?));
    }
    let Some((_, connected)) = remote.as_ref() else { return Err(TeamError::NotLoggedIn) };
    let report = sync(vault, connected).await?;
    if !(report.added.is_empty() && report.updated.is_empty() && report.removed.is_empty()) {
        tracing::info!(added = ?report.added, updated = ?report.updated, removed = ?report.removed, "team credentials synced");
    }
    Ok(report)
}

fn record(home: &Path, config: &TeamConfig, outcome: &Result<SyncReport>, now: i64) {
    let previous = read_status(home).unwrap_or_default();
    let status = match outcome {
        Ok(report) => TeamStatus {
            address: config.address.clone(),
            checked_at: now,
            synced_at: Some(now),
            failing_since: None,
            error: None,
            credentials: report.held(),
            skipped: report.skipped.clone(),
        },
        Err(e) => TeamStatus {
            address: config.address.clone(),
            checked_at: now,
            failing_since: previous.failing_since.or(Some(now)),
            error: Some((e.code().to_string(), e.to_string())),
            ..previous
        },
    };
    if let Err(e) = write_status(home, &status) {
        tracing::warn!(error = %e, "cannot write team.json");
    }
}
