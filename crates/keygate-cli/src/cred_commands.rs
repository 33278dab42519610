//! `keygate cred show | rollback | set`: a credential's versions and rotation policy.

use std::time::Duration;

use anyhow::Result;
use keygate_rotate::{Kind, RotatorSet};
use keygate_vault::{CredentialDetail, VersionState, format_ttl, parse_ttl};

use crate::UsageError;
use crate::commands::open_vault;
use crate::output::{self, or_dash};
use crate::secret_input::read_value;

pub fn show(name: &str, json: bool) -> Result<()> {
    keygate_vault::validate_name(name)?;
    let detail = open_vault()?.credential_detail(name)?;
    if json {
        return Ok(output::json(&detail)?);
    }
    print_detail(&detail)
}

fn print_detail(detail: &CredentialDetail) -> Result<()> {
    let info = &detail.info;
    let grace = if detail.grace_secs == 0 { "0 (erased at once)".into() } else { grace_text(detail.grace_secs) };
    output::lines([
        format!("{}: version {}, max age {} days, due at {}", info.name, info.version, info.max_age_days, info.due_at),
        format!("grace: {grace}; previous version kept until {}", or_dash(detail.previous_until)),
        format!("rotation in flight: {}", or_dash(detail.attempt.as_ref())),
    ])?;
    let rows: Vec<Vec<String>> = detail
        .versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                state_word(v.state).to_string(),
                v.created_at.to_string(),
                or_dash(v.expires_at),
                or_dash(v.provider_id.as_ref()),
                v.team_version.map_or_else(|| "-".to_string(), |t| format!("v{t}")),
            ]
        })
        .collect();
    Ok(output::table(&["VERSION", "STATE", "CREATED", "EXPIRES", "PROVIDER ID", "TEAM"], &rows, "no versions")?)
}

fn state_word(state: VersionState) -> &'static str {
    match state {
        VersionState::Current => "current",
        VersionState::Previous => "previous",
        VersionState::Pending => "pending",
    }
}

fn grace_text(secs: i64) -> String {
    format_ttl(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

pub fn rollback(name: &str) -> Result<()> {
    keygate_vault::validate_name(name)?;
    let mut vault = open_vault()?;
    let before = vault.credential_info(name)?.version;
    if crate::team_commands::is_team_copy(&vault, name)? {
        let rotators = RotatorSet::load(&keygate_vault::Home::from_env()?.config_path())?;
        return crate::team_commands::rollback(&mut vault, name, rotators.get(name));
    }
    let info = vault.rollback_credential(name)?;
    output::lines([format!(
        "Rolled back {}: version {} is current again (version {before} kept as previous), next due at {}",
        info.name, info.version, info.due_at
    )])?;
    Ok(())
}

pub fn set_policy(name: &str, max_age_days: Option<i64>, grace: Option<&str>) -> Result<()> {
    keygate_vault::validate_name(name)?;
    if max_age_days.is_none() && grace.is_none() {
        return Err(UsageError("nothing to change: give --max-age-days N, --grace DURATION, or both".into()).into());
    }
    let grace = grace.map(parse_grace).transpose()?;
    let mut vault = open_vault()?;
    if let (Some(days), true) = (max_age_days, crate::team_commands::is_team_copy(&vault, name)?) {
        // The team's policy, which every machine's sync applies; the grace stays per machine.
        crate::team_commands::set_max_age(&vault, name, days)?;
    }
    vault.set_credential_policy(name, max_age_days, grace)?;
    let detail = vault.credential_detail(name)?;
    output::lines([format!(
        "Set {}: max age {} days (due at {}), grace {}",
        name,
        detail.info.max_age_days,
        detail.info.due_at,
        grace_text(detail.grace_secs)
    )])?;
    Ok(())
}

/// `0` (no grace) or a duration such as `24h`, `7d`.
fn parse_grace(text: &str) -> Result<Duration> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_ttl(text).map_err(|e| UsageError(format!("invalid --grace: {e}")).into())
}

/// `keygate cred rotate NAME`: through its rotator when config.toml has one (a manual
/// rotator tests the pasted value first), else the value from stdin or a hidden prompt.
pub fn rotate(name: &str) -> Result<()> {
    keygate_vault::validate_name(name)?;
    let home = keygate_vault::Home::from_env()?;
    let rotators = RotatorSet::load(&home.config_path())?;
    let mut vault = open_vault()?;
    vault.credential_info(name)?;
    // A team key rotates on OpenBao first, for every machine.
    let team = crate::team_commands::is_team_copy(&vault, name)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rotator = rotators.get(name).filter(|r| r.kind != Kind::Manual);
    if let Some(rotator) = rotator {
        let report = if team {
            crate::team_commands::rotate_with_rotator(&mut vault, rotator)?
        } else {
            runtime.block_on(keygate_rotate::rotate(&mut vault, rotator))?
        };
        let resumed = if report.resumed { " (finished the rotation an earlier run left)" } else { "" };
        let shared = if team { "; published to the team, other machines pick it up at their next sync" } else { "" };
        let mut lines = vec![format!(
            "Rotated {name} through its {} rotator: now version {}{resumed}{shared}; see `keygate cred show {name}`",
            rotator.kind.word(),
            report.version
        )];
        lines.extend(report.notes.iter().map(|n| format!("note: {n}")));
        output::lines(lines)?;
        return Ok(());
    }
    let value = read_value(name)?;
    if let Some(manual) = rotators.get(name) {
        runtime.block_on(keygate_rotate::test_manual_value(manual, &value))?;
    }
    if team {
        return crate::team_commands::rotate(&mut vault, name, &value);
    }
    let info = vault.rotate_credential(name, &value)?;
    output::lines([format!(
        "Rotated {}: now version {} (the previous version is kept for the grace; see `keygate cred show {}`), \
         next due at {}",
        info.name, info.version, info.name, info.due_at
    )])?;
    Ok(())
}

/// `keygate doctor`'s rotators line: each rotator's credential and admin credential are in the
/// vault, and no rotation was left unfinished.
pub fn doctor_rotators(context: &mut crate::doctor::Context) -> crate::doctor::Finding {
    use crate::doctor::Finding;
    let rotators = match RotatorSet::load(&context.home().config_path()) {
        Ok(rotators) => rotators,
        Err(e) => return Finding::Problem(e.to_string()),
    };
    if rotators.iter().next().is_none() {
        return Finding::Ok("none configured (see \"Automatic rotation\" in the README)".into());
    }
    let vault = match context.vault() {
        Ok(vault) => vault,
        Err(e) => return Finding::Problem(format!("cannot check them: {e}")),
    };
    let mut problems = Vec::new();
    let mut names = Vec::new();
    for rotator in rotators.iter() {
        let name = &rotator.credential;
        names.push(format!("{name} ({})", rotator.kind.word()));
        match vault.credential_detail(name) {
            Ok(detail) if detail.attempt.is_some() => {
                problems.push(format!("{name}'s last rotation did not finish: run `keygate cred rotate {name}`"));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("[rotator.{name}]: {e}")),
        }
        if let Some(admin) = &rotator.admin_credential
            && vault.credential_info(admin).is_err()
        {
            problems.push(format!(
                "[rotator.{name}]: its admin credential {admin} is not in the vault: `keygate cred add {admin}`"
            ));
        }
    }
    if problems.is_empty() { Finding::Ok(names.join(", ")) } else { Finding::Problem(problems.join("; ")) }
}
