//! `keygate client list|connect|disconnect`: find the file, plan the edit, keep the original
//! sealed in the vault, then write. The knowledge of clients lives in keygate-clients.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use keygate_clients::{
    Action, Client, ClientStatus, EntryState, Launch, Location, Ownership, Places, Plan, apply, detect, plan_connect,
    plan_disconnect, status, validate_grant,
};
use keygate_mcp::printable;
use keygate_vault::{ClientConfigWrite, Home, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::UsageError;
use crate::cli::ClientCommand;
use crate::commands::open_vault;
use crate::output;

pub fn run_client(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::List { project, json } => list(project.as_deref(), json),
        ClientCommand::Connect { client, grant, project, replace, dry_run } => {
            validate_grant(&grant).map_err(|e| UsageError(e.to_string()))?;
            // Whether the grant exists is the vault's to say once grants are there; the bridge
            // refuses an unknown grant at launch either way.
            connect(client, &grant, &locate(client, project.as_deref())?, replace, dry_run)
        }
        ClientCommand::Disconnect { client, project, dry_run } => {
            disconnect(client, &locate(client, project.as_deref())?, dry_run)
        }
    }
}

fn locate(client: Client, project: Option<&Path>) -> Result<Location> {
    match project {
        None => Ok(Places::from_env()?.location(client)),
        Some(dir) => {
            let dir = std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
            if !dir.is_dir() {
                return Err(UsageError(format!("--project {}: no such directory", dir.display())).into());
            }
            Location::in_project(client, &dir).map_err(|e| UsageError(e.to_string()).into())
        }
    }
}

fn list(project: Option<&Path>, json: bool) -> Result<()> {
    let mut rows = detect(&Places::from_env()?);
    for client in Client::ALL {
        if let Some(dir) = project
            && let Ok(location) = locate(client, Some(dir))
        {
            rows.push(status(client, &location));
        }
    }
    let headers = ["CLIENT", "INSTALLED", "KEYGATE", "CONFIG"];
    Ok(output::listing(&rows, json, &headers, "", |row: &ClientStatus| {
        vec![
            row.client.to_string(),
            if row.installed { "yes" } else { "no" }.to_string(),
            match &row.keygate {
                EntryState::Absent => "-".to_string(),
                EntryState::Connected { grant } => format!("grant {}", printable(grant, 40)),
                EntryState::Other => "other entry".to_string(),
                EntryState::Unreadable { .. } => "unreadable".to_string(),
            },
            printable(&row.config.display().to_string(), 200),
        ]
    })?)
}

/// How the client launches this very binary: its canonical path, the grant, and the home when
/// it is not the default (so the bridge opens the same vault).
fn launch(grant: &str) -> Result<Launch> {
    let exe = std::env::current_exe().and_then(std::fs::canonicalize).context("cannot find the keygate binary")?;
    let command = exe.to_str().context("the keygate binary's path is not UTF-8")?.to_string();
    let home = Home::from_env()?;
    let dir = std::path::absolute(home.dir()).context("cannot resolve the Keygate home")?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let default = Home::default_dir().map(|d| std::fs::canonicalize(&d).unwrap_or(d));
    let home = (default.as_deref() != Some(dir.as_path()))
        .then(|| dir.to_str().map(str::to_string).context("the Keygate home's path is not UTF-8"))
        .transpose()?;
    Ok(Launch { command, grant: grant.to_string(), home })
}

fn connect(client: Client, grant: &str, location: &Location, replace: bool, dry_run: bool) -> Result<()> {
    let mut vault = open_vault()?;
    let owned = ownership(&vault, client, &location.file)?.map(|(ownership, _)| ownership);
    let plan = plan_connect(client, location, &launch(grant)?, owned.as_ref(), replace)?;
    let shown = printable(&location.file.display().to_string(), 200);
    if plan.changes_nothing() {
        return Ok(output::lines([format!(
            "{} is already connected under grant {grant} ({shown}).",
            client.display_name()
        )])?);
    }
    if dry_run {
        return show_dry_run(&plan);
    }
    keep_original(&mut vault, &plan)?;
    apply(&plan)?;
    Ok(output::lines([
        format!("Connected {}: {shown} now launches `keygate connect --grant {grant}`.", client.display_name()),
        "No secret is in the file; it was kept as it was before, sealed in the vault.".to_string(),
        format!("Restart {} to pick it up. Undo with `keygate client disconnect {client}`.", client.display_name()),
    ])?)
}

fn disconnect(client: Client, location: &Location, dry_run: bool) -> Result<()> {
    let mut vault = open_vault()?;
    let owned = ownership(&vault, client, &location.file)?;
    let original = match &owned {
        Some((_, id)) => vault.open_client_config(id)?,
        None => None,
    };
    let owned = owned.map(|(ownership, _)| ownership);
    let original = original.as_ref().map(|o| o.expose_secret());
    let plan = plan_disconnect(client, location, owned.as_ref(), original)?;
    let shown = printable(&location.file.display().to_string(), 200);
    if plan.changes_nothing() {
        return Ok(output::lines([format!(
            "{} is not connected: {shown} has no keygate entry.",
            client.display_name()
        )])?);
    }
    if dry_run {
        return show_dry_run(&plan);
    }
    keep_original(&mut vault, &plan)?;
    apply(&plan)?;
    Ok(output::lines([format!(
        "Disconnected {}: removed the keygate entry from {shown}; everything else is as it was. Restart {} to pick it up.",
        client.display_name(),
        client.display_name()
    )])?)
}

fn show_dry_run(plan: &Plan) -> Result<()> {
    output::lines([printable_diff(&plan.diff())])?;
    Ok(output::lines(["Dry run: nothing was written (secret-looking values are masked)."])?)
}

/// The diff with control characters from the file made visible, line by line (tabs, which
/// indent many of these files, stay tabs).
fn printable_diff(diff: &str) -> String {
    let line = |line: &str| line.split('\t').map(|part| printable(part, 4096)).collect::<Vec<_>>().join("\t");
    diff.lines().map(line).collect::<Vec<_>>().join("\n")
}

/// What Keygate wrote at its last connect of this file, and that write's id in the vault (its
/// original), if the last write was a connect.
fn ownership(vault: &Vault, client: Client, file: &Path) -> Result<Option<(Ownership, String)>> {
    let Some(last) = vault.last_client_config(client.id(), &path_key(file))? else { return Ok(None) };
    if last.action != Action::Connect.as_str() {
        return Ok(None);
    }
    Ok(serde_json::from_str(&last.record).ok().map(|ownership| (ownership, last.id)))
}

fn keep_original(vault: &mut Vault, plan: &Plan) -> Result<()> {
    let record = match plan.ownership() {
        Some(ownership) => serde_json::to_string(ownership)?,
        None => "{}".to_string(),
    };
    let original = plan.original().map(SecretString::from);
    let path = path_key(plan.path());
    let write = ClientConfigWrite {
        client: plan.client().id(),
        path: &path,
        action: plan.action().as_str(),
        record: &record,
        original: original.as_ref(),
    };
    vault.keep_client_config(&write)?;
    Ok(())
}

fn path_key(file: &Path) -> String {
    PathBuf::from(file).to_string_lossy().into_owned()
}
