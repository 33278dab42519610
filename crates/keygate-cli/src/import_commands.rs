//! `keygate import [--client C] [--dry-run] [--json]` and `--undo`: the preview, then the
//! import itself; the work is keygate_clients::import's (the app calls the same functions).

use anyhow::{Context, Result};
use keygate_clients::Places;
use keygate_clients::import::{self, Applied, ClientOutcome, ClientScan, FileOutcome, FileState, Prepared, Verdict};
use keygate_mcp::printable;
use keygate_vault::Home;
use serde::Serialize;

use crate::cli::ImportArgs;
use crate::commands::open_vault;
use crate::output;

#[derive(Serialize)]
struct Report<'a> {
    clients: &'a [ClientScan],
    mappings: &'a [import::ServerMapping],
    servers: &'a [import::PlannedServer],
    credentials: &'a [import::PlannedCredential],
    grants: &'a [import::PlannedGrant],
    skipped: Vec<Skipped>,
    dry_run: bool,
    applied: Option<&'a Applied>,
}

#[derive(Serialize)]
struct Skipped {
    client: String,
    reason: String,
}

pub fn run_import(args: &ImportArgs) -> Result<()> {
    let places = Places::from_env()?;
    if args.undo {
        return undo(&places, args);
    }
    let home = Home::from_env()?;
    let mut vault = open_vault()?;
    let binary = std::env::current_exe().context("cannot find the keygate binary")?;
    let scans = import::scan(&places, &args.clients);
    let prepared = import::prepare(&vault, &home, &binary, &scans)?;
    let applied = if args.dry_run || prepared.is_empty() {
        None
    } else {
        Some(import::apply(&mut vault, &home, &prepared, &scans)?)
    };
    let skipped = prepared.skipped.iter().map(|(c, r)| Skipped { client: c.id().into(), reason: r.clone() }).collect();
    let report = Report {
        clients: &scans,
        mappings: &prepared.mappings,
        servers: &prepared.servers,
        credentials: &prepared.credentials,
        grants: &prepared.grants,
        skipped,
        dry_run: args.dry_run,
        applied: applied.as_ref(),
    };
    if args.json {
        output::json(&report)?;
    } else {
        output::lines(preview(&scans, &prepared))?;
        output::lines(outcome(&prepared, applied.as_ref(), args.dry_run))?;
    }
    match applied {
        Some(applied) if !applied.complete() => {
            anyhow::bail!(
                "import stopped at a file it could not write (see above); run `keygate import` again once fixed"
            )
        }
        _ => Ok(()),
    }
}

/// Per client and server: what was found and what will happen. Names only.
fn preview(scans: &[ClientScan], prepared: &Prepared) -> Vec<String> {
    let mut lines = Vec::new();
    for scanned in scans {
        let path = printable(&scanned.path.display().to_string(), 200);
        match &scanned.state {
            FileState::Absent => continue,
            FileState::Unreadable(reason) => {
                lines.push(format!("{}: {}", scanned.client.display_name(), printable(reason, 400)));
                continue;
            }
            FileState::Read => lines.push(format!("{} ({path}):", scanned.client.display_name())),
        }
        if scanned.servers.is_empty() {
            lines.push("  no MCP servers".into());
        }
        for server in &scanned.servers {
            let target = prepared
                .mappings
                .iter()
                .find(|m| m.client == scanned.client && m.name == server.name)
                .map(|m| m.server.clone());
            let action = match (&server.verdict, target) {
                (Verdict::Import, Some(target)) => format!("import as server {target}"),
                (Verdict::Import, None) => "left as is (its file is left out, see below)".into(),
                (Verdict::NoSecret, _) => "no plaintext key: left as is".into(),
                (Verdict::Left(reason), _) => format!("left as is: {reason}"),
            };
            lines.push(format!("  {}: {action}", server.name));
            if !server.secrets.is_empty() {
                lines.push(format!("    keys in: {}", server.secrets.join(", ")));
            }
            if !server.references.is_empty() {
                lines.push(format!("    references (left alone): {}", server.references.join(", ")));
            }
        }
    }
    for (client, reason) in &prepared.skipped {
        lines.push(format!("{} is left out: {}", client.display_name(), printable(reason, 400)));
    }
    for credential in &prepared.credentials {
        let what = if credential.new { "new credential" } else { "existing credential" };
        lines.push(format!("{what} {} (from {})", credential.name, credential.found_in.join("; ")));
    }
    for server in prepared.servers.iter().filter(|s| s.new) {
        lines.push(format!(
            "new [[server]] {} ({}, credentials {})",
            server.name,
            server.transport,
            server.credentials.join(", ")
        ));
    }
    for grant in &prepared.grants {
        let what = if grant.new { "new grant" } else { "existing grant" };
        lines.push(format!("{what} {} for {}: {}", grant.name, grant.client.display_name(), grant.tools.join(" ")));
    }
    lines
}

fn outcome(prepared: &Prepared, applied: Option<&Applied>, dry_run: bool) -> Vec<String> {
    if prepared.is_empty() {
        return vec!["Nothing to import: no plaintext key Keygate can take over.".into()];
    }
    if dry_run {
        return vec!["Dry run: nothing was written. No value is ever shown.".into()];
    }
    let mut lines = Vec::new();
    if let Some(applied) = applied {
        lines.extend(applied.files.iter().map(file_line));
        for leftover in &applied.leftovers {
            lines.push(format!(
                "leftover: {} line {} still holds the value now in credential {}",
                printable(&leftover.path.display().to_string(), 200),
                leftover.line,
                leftover.credential
            ));
        }
        if applied.complete() {
            lines.push("Done. Restart the clients to pick it up; `keygate import --undo` gives the files back.".into());
        }
    }
    lines
}

fn file_line(file: &ClientOutcome) -> String {
    let path = printable(&file.path.display().to_string(), 200);
    match &file.outcome {
        FileOutcome::Rewritten => format!("rewrote {path}: its original is sealed in the vault"),
        FileOutcome::Unchanged => format!("{path}: nothing to change"),
        FileOutcome::Failed(reason) => format!("{path}: left as it was: {}", printable(reason, 400)),
        FileOutcome::NotAttempted => format!("{path}: left as it was (not attempted after the failure above)"),
    }
}

fn undo_line(file: &ClientOutcome) -> String {
    let path = printable(&file.path.display().to_string(), 200);
    match &file.outcome {
        FileOutcome::Rewritten => format!("gave back {path}: the entries import took out are there again"),
        _ => file_line(file),
    }
}

fn undo(places: &Places, args: &ImportArgs) -> Result<()> {
    let mut vault = open_vault()?;
    crate::confirm::confirm(
        "Give back the agents' config files as they were before `keygate import` (their plaintext keys return to them)",
        args.yes,
        "kept the files as they are: nothing was undone",
    )?;
    let outcomes = import::undo(&mut vault, places, &args.clients);
    let failed = outcomes.iter().any(|o| matches!(o.outcome, FileOutcome::Failed(_)));
    if args.json {
        output::json(&outcomes)?;
    } else if outcomes.is_empty() {
        output::lines(["Nothing to undo: Keygate's last write to each client's file was no import."])?;
    } else {
        let mut lines: Vec<String> = outcomes.iter().map(undo_line).collect();
        lines.push("The credentials stay in the vault, and the [[server]] entries and grants in Keygate (`keygate grant revoke NAME` to stop one).".into());
        output::lines(lines)?;
    }
    if failed {
        anyhow::bail!("some files could not be given back (see above)");
    }
    Ok(())
}
