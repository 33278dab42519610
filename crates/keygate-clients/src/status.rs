//! What `keygate client list` shows: each client, its config file, and whether Keygate is in it.

use std::path::PathBuf;

use serde::Serialize;

use crate::client::Client;
use crate::document;
use crate::places::{Location, Places};

/// One client's config file and what its `keygate` entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientStatus {
    /// The client's id (`cursor`, `claude-code`, ...).
    pub client: &'static str,
    /// The name people know it by.
    pub name: &'static str,
    /// The config file.
    pub config: PathBuf,
    /// Whether the client looks installed.
    pub installed: bool,
    /// Whether the config file exists.
    pub exists: bool,
    /// The `keygate` entry in it.
    pub keygate: EntryState,
}

/// What the file says about Keygate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    /// No `keygate` entry.
    Absent,
    /// An entry launching `keygate connect --grant GRANT`.
    Connected {
        /// The grant it mints tokens under.
        grant: String,
    },
    /// A `keygate` entry of another shape (e.g. a pasted token from before `keygate client`).
    Other,
    /// The file could not be read or parsed.
    Unreadable {
        /// Why (names the file and line, never its text).
        reason: String,
    },
}

/// The status of every client's user-level config.
pub fn detect(places: &Places) -> Vec<ClientStatus> {
    Client::ALL.into_iter().map(|client| status(client, &places.location(client))).collect()
}

/// The status of one client's config at `location`.
pub fn status(client: Client, location: &Location) -> ClientStatus {
    let (exists, keygate) = match document::read(&location.file) {
        Ok(None) => (false, EntryState::Absent),
        Ok(Some(text)) => (true, entry_state(client, &text, location)),
        Err(e) => (location.file.exists(), EntryState::Unreadable { reason: e.to_string() }),
    };
    ClientStatus {
        client: client.id(),
        name: client.display_name(),
        config: location.file.clone(),
        installed: location.is_installed(),
        exists,
        keygate,
    }
}

fn entry_state(client: Client, text: &str, location: &Location) -> EntryState {
    match document::find_entry(client, text, &location.file) {
        Err(e) => EntryState::Unreadable { reason: e.to_string() },
        Ok(None) => EntryState::Absent,
        Ok(Some(found)) => grant_of(&found).map_or(EntryState::Other, |grant| EntryState::Connected { grant }),
    }
}

/// The grant of an entry shaped `{command: .../keygate, args: [connect, --grant, NAME, ...]}`.
fn grant_of(found: &serde_json::Value) -> Option<String> {
    let command = found.get("command")?.as_str()?;
    let args: Vec<&str> = found.get("args")?.as_array()?.iter().filter_map(|a| a.as_str()).collect();
    let program = std::path::Path::new(command).file_stem()?.to_str()?;
    match args.as_slice() {
        ["connect", "--grant", grant, ..] if program == "keygate" => Some((*grant).to_string()),
        _ => None,
    }
}
