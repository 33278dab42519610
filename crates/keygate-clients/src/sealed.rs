//! The vault's half of a client edit, shared by `keygate client`, the app's Agents view and
//! `keygate import`: what Keygate wrote last (to recognise its own entry), and the file as it
//! was, sealed in the vault before every write (it may hold other servers' plaintext keys).
//!
//! ```text
//! plan_connect_sealed / plan_disconnect_sealed (vault, ...) -> Plan   (nothing written yet)
//! commit(vault, &plan)                                      -> original sealed, then apply
//! ```

use std::path::{Path, PathBuf};

use keygate_vault::{ClientConfigWrite, Home, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::places::Location;
use crate::plan::{Action, Launch, Ownership, Plan, plan_connect, plan_disconnect};
use crate::write::apply;

impl Launch {
    /// `keygate` at `command` (made absolute and canonical), minting under `grant`, with the
    /// home passed on only when it is not the default one, so the bridge opens the same vault.
    pub fn for_binary(command: &Path, grant: &str, home: &Home) -> Result<Self> {
        let utf8 = |path: &Path, what: &'static str| {
            path.to_str().map(str::to_string).ok_or_else(|| ClientError::NotUtf8 { what, path: path.to_path_buf() })
        };
        let command = canonical(command);
        let dir = canonical(home.dir());
        let default = Home::default_dir().map(|d| canonical(&d));
        let home = if default.as_deref() == Some(dir.as_path()) { None } else { Some(utf8(&dir, "Keygate home")?) };
        Ok(Self { command: utf8(&command, "keygate binary")?, grant: grant.to_string(), home })
    }
}

fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    std::fs::canonicalize(&absolute).unwrap_or(absolute)
}

/// What connecting `client` would write, knowing which `keygate` entry is Keygate's own.
pub fn plan_connect_sealed(
    vault: &Vault,
    client: Client,
    location: &Location,
    launch: &Launch,
    replace: bool,
) -> Result<Plan> {
    let owned = ownership(vault, client, &location.file)?.map(|(ownership, _)| ownership);
    plan_connect(client, location, launch, owned.as_ref(), replace)
}

/// What disconnecting `client` would write: only Keygate's own entry goes, and a file untouched
/// since the connect comes back from its sealed original.
pub fn plan_disconnect_sealed(vault: &Vault, client: Client, location: &Location) -> Result<Plan> {
    let owned = ownership(vault, client, &location.file)?;
    let original = match &owned {
        Some((_, id)) => vault.open_client_config(id)?,
        None => None,
    };
    let owned = owned.map(|(ownership, _)| ownership);
    plan_disconnect(client, location, owned.as_ref(), original.as_ref().map(|o| o.expose_secret()))
}

/// Seal the file as it is in the vault with what Keygate writes, then write the plan. If
/// sealing fails nothing is written; if the write is refused (the file changed) the sealed
/// copy stays, harmless.
pub fn commit(vault: &mut Vault, plan: &Plan) -> Result<()> {
    let record = match plan.ownership() {
        Some(ownership) => serde_json::to_string(ownership).map_err(|e| ClientError::Record(e.to_string()))?,
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
    apply(plan)
}

/// What Keygate wrote at its last connect of this file, and that write's id in the vault (its
/// original), if the last write was a connect.
pub(crate) fn ownership(vault: &Vault, client: Client, file: &Path) -> Result<Option<(Ownership, String)>> {
    let Some(last) = vault.last_client_config(client.id(), &path_key(file))? else { return Ok(None) };
    if last.action != Action::Connect.as_str() {
        return Ok(None);
    }
    Ok(serde_json::from_str(&last.record).ok().map(|ownership| (ownership, last.id)))
}

fn path_key(file: &Path) -> String {
    file.to_string_lossy().into_owned()
}
