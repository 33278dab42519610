//! `keygate client list|connect|disconnect`: find the file, plan the edit, keep the original
//! sealed in the vault, then write. The knowledge of clients lives in keygate-clients.

use std::path::Path;

use anyhow::{Context, Result};
use keygate_clients::{
    Client, ClientStatus, EntryState, Launch, Location, Places, Plan, commit, detect, plan_connect_sealed,
    plan_disconnect_sealed, status, validate_grant,
};
use keygate_mcp::printable;
use keygate_vault::{GrantStatus, Home};

use crate::UsageError;
use crate::cli::ClientCommand;
use crate::commands::open_vault;
use crate::output;

pub fn run_client(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::List { project, json } => list(project.as_deref(), json),
        ClientCommand::Connect { client, grant, project, replace, dry_run } => {
            validate_grant(&grant).map_err(|e| UsageError(e.to_string()))?;
            connect(client, &grant, &locate(client, project.as_deref())?, replace, dry_run)
        }
        ClientCommand::Disconnect { client, project, dry_run, yes } => {
            disconnect(client, &locate(client, project.as_deref())?, dry_run, yes)
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

/// How the client launches this very binary.
fn launch(grant: &str) -> Result<Launch> {
    let exe = std::env::current_exe().context("cannot find the keygate binary")?;
    Ok(Launch::for_binary(&exe, grant, &Home::from_env()?)?)
}

fn connect(client: Client, grant: &str, location: &Location, replace: bool, dry_run: bool) -> Result<()> {
    let mut vault = open_vault()?;
    match vault.grant(grant)?.map(|g| g.status) {
        Some(GrantStatus::Active) => {}
        Some(status) => {
            return Err(UsageError(format!(
                "grant {grant} is {}: create a new one with `keygate grant create NAME --tool T`",
                status.as_str()
            ))
            .into());
        }
        None => {
            return Err(UsageError(format!(
                "no grant named {grant}: create it first with `keygate grant create {grant} --tool T` (the tools this agent may call)"
            ))
            .into());
        }
    }
    let plan = plan_connect_sealed(&vault, client, location, &launch(grant)?, replace)?;
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
    commit(&mut vault, &plan)?;
    Ok(output::lines([
        format!("Connected {}: {shown} now launches `keygate connect --grant {grant}`.", client.display_name()),
        "No secret is in the file; it was kept as it was before, sealed in the vault.".to_string(),
        format!("Restart {} to pick it up. Undo with `keygate client disconnect {client}`.", client.display_name()),
    ])?)
}

fn disconnect(client: Client, location: &Location, dry_run: bool, yes: bool) -> Result<()> {
    let mut vault = open_vault()?;
    let plan = plan_disconnect_sealed(&vault, client, location)?;
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
    crate::confirm::confirm(
        &format!(
            "Remove the keygate entry from {shown} ({} stops reaching its tools through Keygate)",
            client.display_name()
        ),
        yes,
        &format!("kept {shown} as it is"),
    )?;
    commit(&mut vault, &plan)?;
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
