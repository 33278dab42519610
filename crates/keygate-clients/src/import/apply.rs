//! Carrying out a prepared import, in an order that keeps every state consistent: credentials
//! and grants first (nothing refers to them yet), then config.toml in one atomic write, then
//! each client's file (original sealed, then one atomic rename). A failure stops there: files
//! already rewritten are complete and work, the rest are as they were, and running import
//! again finishes the job (what exists is recognised and reused). And its undo.

use keygate_mcp::write_config_atomically;
use keygate_vault::{GrantRequest, Home, Vault};
use secrecy::ExposeSecret;

use super::prepare::Prepared;
use super::report::{ClientOutcome, FileOutcome, Leftover, leftovers_in};
use super::scan::{ClientScan, FileState};
use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::places::Places;
use crate::sealed::{commit, ownership};

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// Each client's file.
    pub files: Vec<ClientOutcome>,
    /// Imported values still found in the files read (file and line only).
    pub leftovers: Vec<Leftover>,
}

impl Applied {
    /// Whether every file import meant to rewrite was.
    pub fn complete(&self) -> bool {
        self.files.iter().all(|f| matches!(f.outcome, FileOutcome::Rewritten | FileOutcome::Unchanged))
    }
}

/// Write what `prepared` planned. An error before any client file is written (vault,
/// config.toml) is returned; a client file that fails is reported in [`Applied::files`].
pub fn apply(vault: &mut Vault, home: &Home, prepared: &Prepared, scans: &[ClientScan]) -> Result<Applied> {
    for credential in &prepared.new_credentials {
        vault.add_credential(&credential.name, &credential.value, None)?;
    }
    for grant in prepared.grants.iter().filter(|g| g.new) {
        vault.create_grant(&GrantRequest::new(grant.name.clone(), grant.tools.clone()))?;
    }
    write_servers(home, prepared)?;
    let mut files = Vec::new();
    let mut failed = false;
    for plan in prepared.plans() {
        let outcome = if failed {
            FileOutcome::NotAttempted
        } else {
            match commit(vault, plan) {
                Ok(()) => FileOutcome::Rewritten,
                Err(e) => {
                    failed = true;
                    FileOutcome::Failed(e.to_string())
                }
            }
        };
        files.push(ClientOutcome { client: plan.client(), path: plan.path().to_path_buf(), outcome });
    }
    let values: Vec<(String, &str)> =
        prepared.new_credentials.iter().map(|c| (c.name.clone(), c.value.expose_secret())).collect();
    Ok(Applied { files, leftovers: leftovers(scans, &values) })
}

/// config.toml with every new `[[server]]`, in one atomic write, refused if it changed since
/// the import was planned.
fn write_servers(home: &Home, prepared: &Prepared) -> Result<()> {
    if prepared.new_servers.is_empty() {
        return Ok(());
    }
    let path = home.config_path();
    let now = std::fs::read_to_string(&path).ok();
    if now != prepared.config_before {
        return Err(ClientError::ChangedMeanwhile { path });
    }
    let mut text = prepared.config_before.clone().unwrap_or_default();
    for server in &prepared.new_servers {
        text = keygate_mcp::add_server(&text, server).map_err(ClientError::Gateway)?;
    }
    home.ensure_dir()?;
    write_config_atomically(&path, &text).map_err(|e| ClientError::Gateway(e.to_string()))
}

/// Every place an imported value still appears in a file the scan read.
fn leftovers(scans: &[ClientScan], pairs: &[(String, &str)]) -> Vec<Leftover> {
    let mut found = Vec::new();
    for scanned in scans.iter().filter(|s| s.state == FileState::Read) {
        let file = std::fs::canonicalize(&scanned.path).unwrap_or_else(|_| scanned.path.clone());
        if let Ok(Some(text)) = crate::document::read(&file) {
            found.extend(leftovers_in(&scanned.path, &text, pairs));
        }
    }
    found
}

/// Undo the imports of `clients` (all when empty): each file import rewrote gets back what
/// import changed. Credentials, `[[server]]` entries and grants stay.
pub fn undo(vault: &mut Vault, places: &Places, clients: &[Client]) -> Vec<ClientOutcome> {
    let chosen: Vec<Client> = if clients.is_empty() { Client::ALL.to_vec() } else { clients.to_vec() };
    let mut outcomes = Vec::new();
    for client in chosen {
        let location = places.location(client);
        let outcome = match undo_one(vault, client, &location) {
            Ok(None) => continue,
            Ok(Some(true)) => FileOutcome::Rewritten,
            Ok(Some(false)) => FileOutcome::Unchanged,
            Err(e) => FileOutcome::Failed(e.to_string()),
        };
        outcomes.push(ClientOutcome { client, path: location.file.clone(), outcome });
    }
    outcomes
}

/// `None`: Keygate's last write to this file was no import.
fn undo_one(vault: &mut Vault, client: Client, location: &crate::places::Location) -> Result<Option<bool>> {
    let file = std::fs::canonicalize(&location.file).unwrap_or_else(|_| location.file.clone());
    let Some((owned, id)) = ownership(vault, client, &file)? else { return Ok(None) };
    if owned.imported.is_empty() {
        return Ok(None);
    }
    let original = vault.open_client_config(&id)?;
    let Some(plan) =
        super::edit::plan_undo_import(client, location, &owned, original.as_ref().map(|o| o.expose_secret()))?
    else {
        return Ok(Some(false));
    };
    if plan.changes_nothing() {
        return Ok(Some(false));
    }
    commit(vault, &plan)?;
    Ok(Some(true))
}
