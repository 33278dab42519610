//! `keygate team ...`, and the team side of `cred add --team`, `cred rotate` and `cred
//! remove` for a team credential: each writes OpenBao first (check-and-set), then the local
//! copy, so the two never disagree for longer than one command.

use anyhow::{Context, Result};
use keygate_rotate::{RotationReport, Rotator};
use keygate_team::{Login, Remote, SyncReport, TeamConfig, TeamPublisher, TeamStatus, load_login, read_status};
use keygate_vault::{Home, Timestamp, Vault, VersionState};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::UsageError;
use crate::cli::TeamCommand;
use crate::commands::{open_vault, refuse_secret_in_argv};
use crate::output;
use crate::secret_input::read_value;

pub fn run_team(command: TeamCommand) -> Result<()> {
    match command {
        TeamCommand::Login { approle, refused } => login(approle.as_deref(), &refused),
        TeamCommand::Logout => {
            let vault = open_vault()?;
            let had = keygate_team::forget_login(vault.id())?;
            output::lines([if had {
                "Logged out: the team login is gone from the keychain."
            } else {
                "Not logged in."
            }])?;
            Ok(())
        }
        TeamCommand::Status(flag) => status(flag.json),
        TeamCommand::Sync(flag) => {
            let mut vault = open_vault()?;
            let remote = block_on(connect(&vault, &config()?))?;
            let report = block_on(async { Ok(keygate_team::sync(&mut vault, &remote).await?) })?;
            print_report(&report, flag.json)
        }
    }
}

fn config() -> Result<TeamConfig> {
    Ok(TeamConfig::require(&Home::from_env()?.config_path())?)
}

/// Run `future` to its end on a one-thread runtime (OpenBao is asked one thing at a time).
fn block_on<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(future)
}

async fn connect(vault: &Vault, config: &TeamConfig) -> Result<Remote> {
    let login = load_login(vault.id())?;
    Ok(Remote::connect(config, &login).await?)
}

fn login(approle: Option<&str>, refused: &crate::cli::RefusedSecret) -> Result<()> {
    refuse_secret_in_argv(refused)?;
    let config = config()?;
    match (approle, config.approle_role_id.as_deref()) {
        (Some(given), Some(configured)) if given != configured => {
            return Err(UsageError(format!(
                "--approle {} is not the role in [team] approle_role_id ({configured}): use that one, or change the config",
                keygate_mcp::printable(given, 64)
            ))
            .into());
        }
        (Some(_), None) => {
            return Err(UsageError(format!(
                "--approle needs `approle_role_id = \"ROLE_ID\"` in [team] of {}: add it, then log in again",
                config.file.display()
            ))
            .into());
        }
        _ => {}
    }
    let what = if config.approle_role_id.is_some() { "the AppRole secret id" } else { "the OpenBao token" };
    let vault = open_vault()?;
    let login = Login { secret: read_value(what)? };
    // Checked before it is kept: a mistyped token is refused here, not at the next sync.
    block_on(async {
        let remote = Remote::connect(&config, &login).await?;
        Ok(remote.check().await?)
    })?;
    keygate_team::store_login(vault.id(), &login)?;
    output::lines([format!(
        "Logged in to {}: the login is in the OS keychain. A running Keygate syncs the team credentials every {} s.",
        config.address,
        config.refresh.as_secs()
    )])?;
    Ok(())
}

/// Whether `name` is a local copy of a team credential.
pub fn is_team_copy(vault: &Vault, name: &str) -> Result<bool> {
    Ok(vault.team_versions()?.contains_key(name))
}

/// `cred add NAME --team`: create it on the team (refused if the team has it), then copy it.
pub fn add(vault: &mut Vault, name: &str, value: &SecretString, max_age_days: Option<i64>) -> Result<()> {
    if vault.current_version(name)?.is_some() {
        return Err(keygate_vault::VaultError::CredentialExists { name: name.to_string() }.into());
    }
    keygate_vault::validate_value(value)?;
    let config = config()?;
    let remote = block_on(connect(vault, &config))?;
    let version = block_on(async { Ok(remote.create(name, value, max_age_days).await?) })?;
    vault.store_team_version(name, value, version, max_age_days)?;
    output::lines([format!("Added {name} to the team at {} (version {version}) and to this vault.", config.address)])?;
    Ok(())
}

/// `cred rotate NAME` of a team credential: a new version over the one held (check-and-set).
pub fn rotate(vault: &mut Vault, name: &str, value: &SecretString) -> Result<()> {
    keygate_vault::validate_value(value)?;
    let held = vault.team_versions()?.get(name).copied().context("not a team credential")?;
    let remote = block_on(connect(vault, &config()?))?;
    let version = block_on(async { Ok(remote.update(name, value, held).await?) })?;
    vault.store_team_version(name, value, version, None)?;
    output::lines([format!(
        "Rotated team credential {name}: now version {version} on the team; other machines pick it up at their next sync."
    )])?;
    Ok(())
}

/// `cred rotate NAME` of a team credential with a rotator: minted, tested, published to the
/// team over the version held, then current here.
pub fn rotate_with_rotator(vault: &mut Vault, rotator: &Rotator) -> Result<RotationReport> {
    let config_path = Home::from_env()?.config_path();
    block_on(async {
        let Some(team) = TeamPublisher::for_vault(vault.id(), &config_path).await? else {
            return Err(UsageError(format!(
                "{} is a team credential, and {} has no [team]: add it back, or remove the copy with `keygate cred remove`",
                rotator.credential,
                config_path.display()
            ))
            .into());
        };
        Ok(keygate_rotate::rotate_team(vault, rotator, &team).await?)
    })
}

/// `cred rollback NAME` of a team credential: the team's version before the one held is
/// written again as the team's newest (check-and-set), after the rotator's test passes with
/// it (a key revoked at the provider since is refused), then made current here.
pub fn rollback(vault: &mut Vault, name: &str, rotator: Option<&Rotator>) -> Result<()> {
    let held = vault.team_versions()?.get(name).copied().context("not a team credential")?;
    let remote = block_on(connect(vault, &config()?))?;
    let Some((from, value)) = block_on(async { Ok(remote.previous(name, held).await?) })? else {
        return Err(UsageError(format!(
            "the team keeps no version of {name} before version {held}: nothing to roll back to"
        ))
        .into());
    };
    if let Some(rotator) = rotator {
        block_on(async { Ok(keygate_rotate::test_manual_value(rotator, &value).await?) })?;
    }
    let version = block_on(async { Ok(remote.update(name, &value, held).await?) })?;
    if holds_as_previous(vault, name, &value)? {
        vault.rollback_credential(name)?;
        vault.record_team_version(name, version)?;
    } else {
        vault.store_team_version(name, &value, version, None)?;
    }
    output::lines([format!(
        "Rolled back team credential {name}: team version {from}'s key is the team's version {version} and current here; \
         other machines pick it up at their next sync."
    )])?;
    Ok(())
}

/// Whether the local copy's previous version (kept for its grace) holds `value`.
fn holds_as_previous(vault: &Vault, name: &str, value: &SecretString) -> Result<bool> {
    let detail = vault.credential_detail(name)?;
    let Some(previous) = detail.versions.iter().find(|v| v.state == VersionState::Previous) else { return Ok(false) };
    Ok(vault.open_version(name, previous.version)?.value.expose_secret() == value.expose_secret())
}

/// `cred set NAME --max-age-days N` of a team credential: the policy is the team's, so every
/// machine reminds the same way.
pub fn set_max_age(vault: &Vault, name: &str, days: i64) -> Result<()> {
    keygate_vault::validate_max_age(days)?;
    let remote = block_on(connect(vault, &config()?))?;
    block_on(async { Ok(remote.set_max_age(name, days).await?) })
}

/// `cred remove NAME` of a team credential: deleted on the team, then here.
pub fn remove(vault: &mut Vault, name: &str) -> Result<()> {
    let remote = block_on(connect(vault, &config()?))?;
    match block_on(async { Ok(remote.delete(name).await) })? {
        Ok(()) | Err(keygate_team::TeamError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    vault.forget_team_credential(name)?;
    output::lines([format!("Removed team credential {name} from the team and from this vault.")])?;
    Ok(())
}

#[derive(Serialize)]
struct StatusView {
    address: String,
    path: String,
    reachable: bool,
    authenticated: bool,
    problem: Option<String>,
    credentials: Vec<CopyView>,
    last_sync: Option<TeamStatus>,
}

#[derive(Serialize)]
struct CopyView {
    name: String,
    local_version: i64,
    team_version: Option<i64>,
    behind: bool,
}

fn status(json: bool) -> Result<()> {
    let config = config()?;
    let vault = open_vault()?;
    let held = vault.team_versions()?;
    let probe = block_on(async {
        let remote = connect(&vault, &config).await?;
        remote.check().await?;
        let mut latest = Vec::new();
        for name in held.keys() {
            latest.push(remote.current_version(name).await?);
        }
        Ok(latest)
    });
    let (reachable, authenticated, problem, latest) = match probe {
        Ok(latest) => (true, true, None, latest),
        Err(e) => {
            let code = e.downcast_ref::<keygate_team::TeamError>().map(keygate_team::TeamError::code);
            let reachable = !matches!(code, Some("team_unreachable"));
            (reachable, false, Some(e.to_string()), vec![None; held.len()])
        }
    };
    let credentials = held
        .iter()
        .zip(latest)
        .map(|((name, local), team)| CopyView {
            name: name.clone(),
            local_version: *local,
            behind: team.is_some_and(|t| t > *local),
            team_version: team,
        })
        .collect();
    let view = StatusView {
        address: config.address.clone(),
        path: format!("{}/{}", config.mount, config.path),
        reachable,
        authenticated,
        problem,
        credentials,
        last_sync: read_status(vault.home().dir()),
    };
    if json {
        return Ok(output::json(&view)?);
    }
    output::lines(status_lines(&view))?;
    Ok(())
}

fn status_lines(view: &StatusView) -> Vec<String> {
    let mut lines = vec![format!("team:      {} ({})", view.address, view.path)];
    lines.push(match (&view.problem, view.authenticated) {
        (None, true) => "openbao:   reachable, logged in".to_string(),
        (Some(problem), _) => format!("openbao:   {problem}"),
        (None, false) => "openbao:   not logged in".to_string(),
    });
    lines.push(match &view.last_sync {
        None => "last sync: none by a running Keygate (run `keygate serve`, or `keygate team sync`)".to_string(),
        Some(s) => match (s.failing_since, &s.error) {
            (Some(since), Some((_, message))) => {
                format!("last sync: failing since {} ({message}); calls use the last synced versions", at(since))
            }
            _ => format!("last sync: {} ({} team credentials)", s.synced_at.map(at).unwrap_or_default(), s.credentials),
        },
    });
    if view.credentials.is_empty() {
        lines.push("credentials: none synced yet".to_string());
    }
    for c in &view.credentials {
        let team = c.team_version.map_or("?".to_string(), |v| v.to_string());
        let state = if c.behind { " (behind: the next sync takes the new version)" } else { "" };
        lines.push(format!("  {}  local copy of v{}, team v{team}{state}", c.name, c.local_version));
    }
    lines
}

fn at(millis: i64) -> String {
    Timestamp::from_unix_millis(millis).to_string()
}

fn print_report(report: &SyncReport, json: bool) -> Result<()> {
    #[derive(Serialize)]
    struct View<'a> {
        added: &'a [String],
        updated: &'a [String],
        removed: &'a [String],
        unchanged: usize,
        skipped: &'a [(String, String)],
    }
    if json {
        let view = View {
            added: &report.added,
            updated: &report.updated,
            removed: &report.removed,
            unchanged: report.unchanged,
            skipped: &report.skipped,
        };
        return Ok(output::json(&view)?);
    }
    let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let mut lines = vec![format!(
        "Synced: added {}; updated {}; removed {}; {} unchanged.",
        list(&report.added),
        list(&report.updated),
        list(&report.removed),
        report.unchanged
    )];
    lines.extend(report.skipped.iter().map(|(name, why)| format!("skipped {name}: {why}")));
    output::lines(lines)?;
    Ok(())
}
