//! Plans: what connecting or disconnecting a client would write, computed from the file as it is
//! now, shown as a masked diff, and applied only if the file is still what was read.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use similar::TextDiff;
use zeroize::Zeroizing;

use crate::client::{Client, Entry};
use crate::document;
use crate::error::{ClientError, Result};
use crate::mask;
use crate::places::Location;

/// How Keygate is launched from a client: `COMMAND connect --grant NAME [--home DIR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The absolute path of the `keygate` binary.
    pub command: String,
    /// The grant the bridge mints tokens under.
    pub grant: String,
    /// A Keygate home other than the default, passed on so the bridge finds the same one.
    pub home: Option<String>,
}

impl Launch {
    /// The arguments after the command.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["connect".to_string(), "--grant".to_string(), self.grant.clone()];
        if let Some(home) = &self.home {
            args.extend(["--home".to_string(), home.clone()]);
        }
        args
    }
}

/// What Keygate keeps (in the vault, beside the sealed original) about an entry it wrote, to
/// recognise it later. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    /// The command written.
    pub command: String,
    /// The arguments written.
    pub args: Vec<String>,
    /// Whether Keygate also created the servers object (then disconnect drops it if left empty).
    pub created_servers: bool,
    /// The entries `keygate import` took out of the file (their names), given back at undo.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imported: Vec<String>,
    /// SHA-256 (hex) of the text import wrote: the file still hashing so is given back whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
}

impl Ownership {
    /// What connecting as `launch` writes, before knowing whether the servers object is created.
    pub fn of(launch: &Launch) -> Self {
        Ownership {
            command: launch.command.clone(),
            args: launch.args(),
            created_servers: false,
            imported: Vec::new(),
            written: None,
        }
    }

    /// Whether the entry found in a file is this one: same command and arguments. Fields a
    /// client's own UI adds (`disabled`, `autoApprove`, ...) do not make it someone else's.
    pub fn owns(&self, found: &serde_json::Value) -> bool {
        let args: Option<Vec<&str>> =
            found.get("args").and_then(|a| a.as_array()).map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        found.get("command").and_then(|c| c.as_str()) == Some(self.command.as_str())
            && args.is_some_and(|a| a == self.args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// Connect or disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Add (or update) the `keygate` entry.
    Connect,
    /// Remove it.
    Disconnect,
}

impl Action {
    /// The word stored in the vault.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "connect",
            Action::Disconnect => "disconnect",
        }
    }
}

/// One planned write of one client's config file.
pub struct Plan {
    pub(crate) client: Client,
    pub(crate) action: Action,
    /// The file as located (shown to people).
    pub(crate) shown: PathBuf,
    /// The file written: `shown` with symlinks resolved, so a linked dotfile stays linked.
    pub(crate) file: PathBuf,
    pub(crate) before: Option<Zeroizing<String>>,
    pub(crate) after: Zeroizing<String>,
    pub(crate) ownership: Option<Ownership>,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("client", &self.client)
            .field("action", &self.action)
            .field("file", &self.file)
            .field("changes_nothing", &self.changes_nothing())
            .finish_non_exhaustive()
    }
}

impl Plan {
    pub(crate) fn new(
        client: Client,
        action: Action,
        location: &Location,
        file: PathBuf,
        before: Option<Zeroizing<String>>,
        after: Zeroizing<String>,
        ownership: Option<Ownership>,
    ) -> Self {
        Plan { client, action, shown: location.file.clone(), file, before, after, ownership }
    }

    /// The client.
    pub fn client(&self) -> Client {
        self.client
    }

    /// Connect or disconnect.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The config file, as located.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Whether the file already is as planned (nothing to write).
    pub fn changes_nothing(&self) -> bool {
        self.before.as_deref().map(String::as_str) == Some(self.after.as_str())
    }

    /// The file's text before the write (`None`: it does not exist yet). It may hold other
    /// servers' keys: seal it, never store it in the clear.
    pub fn original(&self) -> Option<&str> {
        self.before.as_deref().map(String::as_str)
    }

    /// For a connect: what to record about the entry, to recognise it at disconnect.
    pub fn ownership(&self) -> Option<&Ownership> {
        self.ownership.as_ref()
    }

    /// A unified diff of the planned change (3 lines of context), with every secret-looking
    /// value masked.
    pub fn diff(&self) -> String {
        self.diff_with_context(3)
    }

    /// [`Plan::diff`] with `lines` of context around each change.
    pub fn diff_with_context(&self, lines: usize) -> String {
        let before = self.original().unwrap_or("");
        let mut secrets =
            mask::secrets_in(&document::to_value(self.client, Some(before), &self.file).unwrap_or_default());
        secrets.extend(mask::secrets_in(
            &document::to_value(self.client, Some(&self.after), &self.file).unwrap_or_default(),
        ));
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let diff = TextDiff::configure().timeout(Duration::from_secs(2)).diff_lines(before, self.after.as_str());
        let shown = self.shown.display().to_string();
        let old_name = if self.before.is_some() { shown.as_str() } else { "/dev/null" };
        let text = diff.unified_diff().context_radius(lines).header(old_name, &shown).to_string();
        mask::mask(&text, &secrets)
    }
}

/// The SHA-256 of a file's text (`None` for no file), to notice a change before the rename.
pub(crate) fn fingerprint(text: Option<&str>) -> Option<[u8; 32]> {
    text.map(|t| Sha256::digest(t.as_bytes()).into())
}

/// Plan connecting `client` at `location` to Keygate as `launch` says. `owned` is what the vault
/// recorded at the last connect of this file, if any; `replace` allows taking the place of a
/// `keygate` entry Keygate did not write.
pub fn plan_connect(
    client: Client,
    location: &Location,
    launch: &Launch,
    owned: Option<&Ownership>,
    replace: bool,
) -> Result<Plan> {
    let (file, before) = read_located(client, location)?;
    let entry: Entry = client.stdio_entry(&launch.command, &launch.args());
    let found = match before.as_deref() {
        Some(text) => document::find_entry(client, text, &file)?,
        None => None,
    };
    let mut ownership = Ownership::of(launch);
    if let Some(found) = &found {
        let ours = owned.filter(|o| o.owns(found));
        if ours.is_none() && !ownership.owns(found) && !replace {
            return Err(ClientError::ForeignEntry {
                path: location.file.clone(),
                hint: "run `keygate client connect` with --replace to put Keygate's in its place \
                       (the file as it is now is kept sealed in the vault)",
            });
        }
        ownership.created_servers = ours.is_some_and(|o| o.created_servers);
        // Already launching this very command: what the client's UI added (`disabled`,
        // `autoApprove`, ...) stays.
        if ownership.owns(found) {
            let after = before.clone().unwrap_or_default();
            return Ok(Plan::new(client, Action::Connect, location, file, before, after, Some(ownership)));
        }
    }
    let (after, created) = document::with_entry(client, before.as_deref().map(String::as_str), &entry, &file)?;
    ownership.created_servers |= created;
    document::check_edit(client, before.as_deref().map(String::as_str), &after, Some(&entry), &file)?;
    Ok(Plan::new(client, Action::Connect, location, file, before, Zeroizing::new(after), Some(ownership)))
}

/// Plan removing the `keygate` entry Keygate wrote (`owned`, from the vault). Refuses an entry
/// Keygate has no record of, or one changed since; a file with no entry changes nothing.
/// `original` is the file as it was before that connect (opened from the vault): if nothing
/// was changed since, it comes back byte for byte, layout included.
pub fn plan_disconnect(
    client: Client,
    location: &Location,
    owned: Option<&Ownership>,
    original: Option<&str>,
) -> Result<Plan> {
    let (file, before) = read_located(client, location)?;
    let plan = |before, after| Plan::new(client, Action::Disconnect, location, file.clone(), before, after, None);
    let Some(text) = before.as_deref() else { return Ok(plan(None, Zeroizing::new(String::new()))) };
    let Some(found) = document::find_entry(client, text, &file)? else {
        let same = Zeroizing::new(text.to_string());
        return Ok(plan(before, same));
    };
    let owner = owned.filter(|o| o.owns(&found)).ok_or_else(|| ClientError::ForeignEntry {
        path: location.file.clone(),
        hint: if owned.is_some() {
            "it was changed after `keygate client connect`, so it is left alone: remove it by hand, \
             or run `keygate client connect` to make it Keygate's again"
        } else {
            "Keygate has no record of writing it, so it is left alone: remove it by hand"
        },
    })?;
    let after = match untouched_original(client, owner, original, text, &file) {
        Some(original) => original.to_string(),
        None => document::without_entry(client, text, owner.created_servers, &file)?,
    };
    document::check_edit(client, Some(text), &after, None, &file)?;
    Ok(plan(before, Zeroizing::new(after)))
}

/// `original`, if connecting it again would give exactly `current` (nothing changed since)
/// and it held no `keygate` entry of its own (a replaced one must not come back).
fn untouched_original<'a>(
    client: Client,
    owner: &Ownership,
    original: Option<&'a str>,
    current: &str,
    file: &Path,
) -> Option<&'a str> {
    let original = original?;
    if document::find_entry(client, original, file).ok()?.is_some() {
        return None;
    }
    let entry = client.stdio_entry(&owner.command, &owner.args);
    let (connected, _) = document::with_entry(client, Some(original), &entry, file).ok()?;
    (connected == current).then_some(original)
}

/// The file to write (symlinks resolved) and its text; refuses a client that is not installed.
pub(crate) fn read_located(client: Client, location: &Location) -> Result<(PathBuf, Option<Zeroizing<String>>)> {
    let file = std::fs::canonicalize(&location.file).unwrap_or_else(|_| location.file.clone());
    let before = document::read(&file)?;
    if before.is_none() && !location.is_installed() {
        return Err(ClientError::NotInstalled {
            client: client.display_name(),
            looked_for: location.installed_marker.clone(),
        });
    }
    Ok((file, before))
}
