//! The file half of an import: one client's config with the imported entries taken out and the
//! one `keygate` entry in, format-preserving and checked to mean exactly that; and its undo.

use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::client::{Client, ENTRY_NAME};
use crate::document;
use crate::error::{ClientError, Result};
use crate::places::Location;
use crate::plan::{Action, Launch, Ownership, Plan, read_located};

/// SHA-256 of a text, in hex (what the vault keeps to recognise the text import wrote).
pub(crate) fn text_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Plan taking the entries `names` out of `client`'s file and putting in the `keygate` entry
/// launching `launch`. `scanned` is the text the scan read: a file changed since is refused.
/// `owned` is Keygate's record of its last write here (an earlier connect or import).
pub fn plan_import(
    client: Client,
    location: &Location,
    scanned: &str,
    names: &[String],
    launch: &Launch,
    owned: Option<&Ownership>,
) -> Result<Plan> {
    let (file, before) = read_located(client, location)?;
    let Some(text) = before.as_deref().map(String::as_str).filter(|now| *now == scanned) else {
        return Err(ClientError::ChangedMeanwhile { path: location.file.clone() });
    };
    let entry = client.stdio_entry(&launch.command, &launch.args());
    let mut ownership = Ownership::of(launch);
    let found = document::find_entry(client, text, &file)?;
    let ours = owned.filter(|o| found.as_ref().is_some_and(|f| o.owns(f)));
    if found.is_some() && ours.is_none() && !found.as_ref().is_some_and(|f| ownership.owns(f)) {
        return Err(ClientError::ForeignEntry {
            path: location.file.clone(),
            hint: "import leaves it alone: rename or remove that entry, then run `keygate import` again",
        });
    }
    if let Some(ours) = ours {
        ownership.created_servers = ours.created_servers;
        ownership.imported.clone_from(&ours.imported);
    }
    ownership.imported.extend(names.iter().cloned());
    let taken = document::without_entries(client, text, names, &file)?;
    let (after, keygate) = match found.filter(|f| ownership.owns(f)) {
        // Already launching this very command: what the client's UI added stays.
        Some(same) => (taken, same),
        None => {
            let (after, created) = document::with_entry(client, Some(&taken), &entry, &file)?;
            ownership.created_servers |= created;
            (after, entry.to_value())
        }
    };
    let mut changes: Vec<(&str, Option<Value>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    changes.push((ENTRY_NAME, Some(keygate)));
    document::check_entries(client, Some(text), &after, &changes, &file)?;
    ownership.written = Some(text_hash(&after));
    Ok(Plan::new(client, Action::Connect, location, file, before, Zeroizing::new(after), Some(ownership)))
}

/// Plan undoing an import recorded as `owned`, whose file was `original` before it. A file
/// still as import wrote it comes back byte for byte; one changed since gets back only what
/// import changed (its entries, and the `keygate` entry removed if still Keygate's), the rest
/// as it now is. `None`: the file is gone, nothing to give back to.
pub fn plan_undo_import(
    client: Client,
    location: &Location,
    owned: &Ownership,
    original: Option<&str>,
) -> Result<Option<Plan>> {
    let (file, before) = read_located(client, location)?;
    let Some(current) = before.as_deref().map(String::as_str) else { return Ok(None) };
    let plan = |after: String| {
        Plan::new(client, Action::Disconnect, location, file.clone(), before.clone(), Zeroizing::new(after), None)
    };
    let Some(original) = original else { return Ok(Some(plan(current.to_string()))) };
    if owned.written.as_deref() == Some(text_hash(current).as_str()) {
        return Ok(Some(plan(original.to_string())));
    }
    let mut changes: Vec<(&str, Option<Value>)> = Vec::new();
    let mut after = current.to_string();
    if document::find_entry(client, current, &file)?.is_some_and(|found| owned.owns(&found)) {
        after = document::without_entries(client, &after, &[ENTRY_NAME.to_string()], &file)?;
        changes.push((ENTRY_NAME, None));
    }
    let then = document::to_value(client, Some(original), &file)?;
    let now = document::to_value(client, Some(current), &file)?;
    for name in &owned.imported {
        let old = then.get(client.servers_key()).and_then(|s| s.get(name));
        let taken_since = now.get(client.servers_key()).and_then(|s| s.get(name)).is_some();
        if let Some(old) = old.filter(|_| !taken_since) {
            after = document::with_value(client, &after, name, old, &file)?;
            changes.push((name.as_str(), Some(old.clone())));
        }
    }
    document::check_entries(client, Some(current), &after, &changes, &file)?;
    Ok(Some(plan(after)))
}
