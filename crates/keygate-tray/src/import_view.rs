//! The Import view: what each client's config holds in plaintext (names only), one "Secure
//! these keys" that runs keygate_clients::import as `keygate import` does, and the result per
//! client. Also what decides the window's first tab and the tray's reminder line.
//!
//! The import API hands out names only (no value ever reaches this module); paths, server
//! names and reasons come from files on disk, so they are made printable and cut here.

use keygate_clients::import::{self, Applied, ClientScan, FileOutcome, FileState, Prepared, Verdict};
use keygate_mcp::printable;
use serde::Serialize;

use crate::agents::{keygate_binary, places};
use crate::error::AppError;
use crate::state::AppState;

const PATH_CHARS: usize = 300;
const NAME_CHARS: usize = 80;
const REASON_CHARS: usize = 600;
/// Present once the user said "Not now": the window no longer opens on Import by itself.
const DISMISSED_FILE: &str = ".import-dismissed";
/// Touched after an import, so the agent rescans (and drops its tray line) at once.
pub const IMPORTED_FILE: &str = ".import-done";

/// One server entry of a client's config.
#[derive(Debug, Serialize)]
pub struct ServerRow {
    name: String,
    /// Where its keys are (`env GITHUB_TOKEN`, `header Authorization`): names only.
    keys: Vec<String>,
    references: Vec<String>,
    /// `import`, `no_secret` or `left`.
    verdict: &'static str,
    /// What Secure will do with it, in words.
    action: String,
}

/// One client's config as scanned.
#[derive(Debug, Serialize)]
pub struct ScannedClient {
    client: &'static str,
    name: &'static str,
    config: String,
    /// `absent`, `read` or `unreadable`.
    state: &'static str,
    problem: Option<String>,
    servers: Vec<ServerRow>,
}

/// What Secure would add to Keygate (names only), or why it cannot run now.
#[derive(Debug, Default, Serialize)]
pub struct PlanView {
    credentials: Vec<String>,
    servers: Vec<String>,
    grants: Vec<String>,
    skipped: Vec<String>,
}

/// Everything the Import view shows before Secure.
#[derive(Debug, Serialize)]
pub struct ImportOverview {
    clients: Vec<ScannedClient>,
    /// Plaintext keys Secure would move into the vault.
    plaintext_keys: usize,
    plan: Option<PlanView>,
    /// Why Secure cannot run now (no vault, no `keygate` CLI, a bad config.toml).
    blocked: Option<AppError>,
    /// The tray's reminder line, while there is one.
    tray_line: Option<String>,
    dismissed: bool,
}

/// One client's file after Secure.
#[derive(Debug, Serialize)]
pub struct FileRow {
    client: &'static str,
    name: &'static str,
    config: String,
    /// `rewritten`, `unchanged`, `failed` or `not_attempted`.
    result: &'static str,
    detail: Option<String>,
}

/// An imported value still found in a file (file and line, never the value).
#[derive(Debug, Serialize)]
pub struct LeftoverRow {
    config: String,
    line: usize,
    credential: String,
}

/// What Secure did.
#[derive(Debug, Serialize)]
pub struct ImportResult {
    files: Vec<FileRow>,
    leftovers: Vec<LeftoverRow>,
    plan: PlanView,
    complete: bool,
    message: String,
}

/// Scan every client's config and plan the import, writing nothing.
pub fn overview(state: &AppState) -> Result<ImportOverview, AppError> {
    let scans = import::scan(&places(state)?, &[]);
    let (plan, blocked) = match plan(state, &scans) {
        Ok(prepared) => (Some(prepared), None),
        Err(e) => (None, Some(e)),
    };
    let count = plaintext_keys_in(&scans);
    Ok(ImportOverview {
        clients: scans.iter().map(|s| scanned(s, plan.as_ref())).collect(),
        plaintext_keys: count,
        plan: plan.as_ref().map(plan_view),
        blocked,
        tray_line: tray_line(count),
        dismissed: dismissed(state),
    })
}

fn plan(state: &AppState, scans: &[ClientScan]) -> Result<Prepared, AppError> {
    let binary = keygate_binary(state)?;
    state.with_open_vault(|vault| Ok(import::prepare(vault, state.home(), &binary, scans)?))
}

/// Move every plaintext key found into the vault and rewrite the clients' configs to reach
/// their servers through Keygate.
pub fn secure(state: &AppState) -> Result<ImportResult, AppError> {
    let scans = import::scan(&places(state)?, &[]);
    let binary = keygate_binary(state)?;
    let (prepared, applied) = state.with_open_vault(|vault| {
        let prepared = import::prepare(vault, state.home(), &binary, &scans)?;
        let applied =
            if prepared.is_empty() { None } else { Some(import::apply(vault, state.home(), &prepared, &scans)?) };
        Ok((prepared, applied))
    })?;
    crate::agent::nudge(state.home(), IMPORTED_FILE);
    let Some(applied) = applied else {
        return Ok(ImportResult {
            files: Vec::new(),
            leftovers: Vec::new(),
            plan: plan_view(&prepared),
            complete: true,
            message: "Nothing to import: no plaintext key Keygate can take over.".into(),
        });
    };
    Ok(result(&prepared, &applied))
}

fn result(prepared: &Prepared, applied: &Applied) -> ImportResult {
    let message = if applied.complete() {
        "Done: the keys are in the vault and the agents reach their servers through Keygate. Restart the agents to \
         pick it up; `keygate import --undo` gives the files back."
    } else {
        "Import stopped at a file it could not write (see below); fix it and press Secure again."
    };
    ImportResult {
        files: applied.files.iter().map(file_row).collect(),
        leftovers: applied
            .leftovers
            .iter()
            .map(|l| LeftoverRow {
                config: shown_path(&l.path),
                line: l.line,
                credential: printable(&l.credential, NAME_CHARS),
            })
            .collect(),
        plan: plan_view(prepared),
        complete: applied.complete(),
        message: message.into(),
    }
}

fn file_row(file: &import::ClientOutcome) -> FileRow {
    let (result, detail) = match &file.outcome {
        FileOutcome::Rewritten => ("rewritten", None),
        FileOutcome::Unchanged => ("unchanged", None),
        FileOutcome::Failed(reason) => ("failed", Some(printable(reason, REASON_CHARS))),
        FileOutcome::NotAttempted => ("not_attempted", None),
    };
    FileRow {
        client: file.client.id(),
        name: file.client.display_name(),
        config: shown_path(&file.path),
        result,
        detail,
    }
}

fn scanned(scan: &ClientScan, plan: Option<&Prepared>) -> ScannedClient {
    let (state, problem) = match &scan.state {
        FileState::Absent => ("absent", None),
        FileState::Read => ("read", None),
        FileState::Unreadable(reason) => ("unreadable", Some(printable(reason, REASON_CHARS))),
    };
    let servers = scan
        .servers
        .iter()
        .map(|server| {
            let target =
                plan.and_then(|p| p.mappings.iter().find(|m| m.client == scan.client && m.name == server.name));
            let (verdict, action) = match (&server.verdict, target) {
                (Verdict::Import, Some(m)) => {
                    ("import", format!("moves into the vault; reached as server {}", m.server))
                }
                (Verdict::Import, None) => ("import", "moves into the vault".to_string()),
                (Verdict::NoSecret, _) => ("no_secret", "no plaintext key: left as is".to_string()),
                (Verdict::Left(reason), _) => ("left", format!("left as is: {reason}")),
            };
            ServerRow {
                name: printable(&server.name, NAME_CHARS),
                keys: server.secrets.iter().map(|s| printable(s, NAME_CHARS)).collect(),
                references: server.references.iter().map(|s| printable(s, NAME_CHARS)).collect(),
                verdict,
                action: printable(&action, REASON_CHARS),
            }
        })
        .collect();
    ScannedClient {
        client: scan.client.id(),
        name: scan.client.display_name(),
        config: shown_path(&scan.path),
        state,
        problem,
        servers,
    }
}

fn plan_view(prepared: &Prepared) -> PlanView {
    let names = |list: Vec<&String>| list.into_iter().map(|n| printable(n, NAME_CHARS)).collect();
    PlanView {
        credentials: names(prepared.credentials.iter().filter(|c| c.new).map(|c| &c.name).collect()),
        servers: names(prepared.servers.iter().filter(|s| s.new).map(|s| &s.name).collect()),
        grants: names(prepared.grants.iter().filter(|g| g.new).map(|g| &g.name).collect()),
        skipped: prepared
            .skipped
            .iter()
            .map(|(c, reason)| printable(&format!("{}: {reason}", c.display_name()), REASON_CHARS))
            .collect(),
    }
}

fn shown_path(path: &std::path::Path) -> String {
    printable(&path.display().to_string(), PATH_CHARS)
}

fn plaintext_keys_in(scans: &[ClientScan]) -> usize {
    scans.iter().flat_map(ClientScan::importable).map(|s| s.secrets.len()).sum()
}

/// How many plaintext keys the known client configs hold (reads the files; no vault).
pub fn plaintext_keys(state: &AppState) -> usize {
    places(state).map_or(0, |places| plaintext_keys_in(&import::scan(&places, &[])))
}

/// The tray's reminder, while any known config holds a plaintext key.
pub fn tray_line(count: usize) -> Option<String> {
    (count > 0).then(|| format!("{count} plaintext key{} in agent configs (Import)", if count == 1 { "" } else { "s" }))
}

fn dismissed(state: &AppState) -> bool {
    state.home().dir().join(DISMISSED_FILE).exists()
}

/// Remember that the user does not want the window to open on Import by itself.
pub fn dismiss(state: &AppState) -> Result<(), AppError> {
    let path = state.home().dir().join(DISMISSED_FILE);
    crate::agent::write_json(&path, &"dismissed")
        .map_err(|e| AppError::new("home_unwritable", format!("Cannot write {}: {e}", shown_path(&path))))
}

/// The plaintext keys the window's reminder counts: none once the person dismissed Import.
pub fn reminder_count(state: &AppState) -> usize {
    if dismissed(state) { 0 } else { plaintext_keys(state) }
}

/// Whether the window should open on Import: it holds plaintext keys and was not dismissed.
pub fn wanted_first(state: &AppState) -> bool {
    !dismissed(state) && plaintext_keys(state) > 0
}

#[cfg(test)]
mod tests {
    use super::tray_line;

    #[test]
    fn the_tray_line_counts_keys_and_is_gone_at_zero() {
        assert_eq!(tray_line(0), None);
        assert_eq!(tray_line(1).as_deref(), Some("1 plaintext key in agent configs (Import)"));
        assert_eq!(tray_line(4).as_deref(), Some("4 plaintext keys in agent configs (Import)"));
    }
}
