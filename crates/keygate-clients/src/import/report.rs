//! What an import plans and did, for people (the CLI's preview) and programs (`--json`, the
//! app's Import view). Names only: no type here holds a value.

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::client::Client;

pub(crate) fn client_id<S: Serializer>(client: &Client, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(client.id())
}

/// A client's server, and the Keygate server it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerMapping {
    /// The client.
    #[serde(serialize_with = "client_id")]
    pub client: Client,
    /// Its name in the client's config (made printable).
    pub name: String,
    /// The `[[server]]` it is reached through.
    pub server: String,
}

/// A `[[server]]` entry import uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedServer {
    /// Its name.
    pub name: String,
    /// `stdio` or `remote`.
    pub transport: &'static str,
    /// The vault credentials it references.
    pub credentials: Vec<String>,
    /// Whether import adds it (false: the same server is already in config.toml).
    pub new: bool,
}

/// A vault credential import uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCredential {
    /// Its name.
    pub name: String,
    /// Whether import adds it (false: the vault already holds this value under this name).
    pub new: bool,
    /// Where the value was found: `client server field`.
    pub found_in: Vec<String>,
}

/// The grant a client's `keygate` entry mints under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedGrant {
    /// The client.
    #[serde(serialize_with = "client_id")]
    pub client: Client,
    /// The grant's name.
    pub name: String,
    /// Its tools (`SERVER_*`).
    pub tools: Vec<String>,
    /// Whether import creates it (false: an active grant with these tools exists).
    pub new: bool,
}

/// What happened to one client's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Rewritten: its imported servers are reached through Keygate.
    Rewritten,
    /// Nothing to do.
    Unchanged,
    /// Left as it was, for the reason given (an error before or at its write).
    Failed(String),
    /// Not attempted: an earlier write failed.
    NotAttempted,
}

/// One client's file after an import or an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientOutcome {
    /// The client.
    #[serde(serialize_with = "client_id")]
    pub client: Client,
    /// Its file.
    pub path: PathBuf,
    /// What happened.
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// An imported value still found in a file import read (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// The credential the value now lives in.
    pub credential: String,
}

/// The 1-based lines of `text` where `needle` (or its JSON-escaped form) occurs.
pub(crate) fn lines_holding(text: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    let escaped = serde_json::to_string(needle).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    let mut lines: Vec<usize> = [needle, escaped]
        .iter()
        .filter(|n| !n.is_empty())
        .flat_map(|n| text.match_indices(*n).map(|(at, _)| text[..at].matches('\n').count() + 1))
        .collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// Leftovers of `values` (credential name, value) in the file at `path` as it is now.
pub(crate) fn leftovers_in(path: &Path, text: &str, values: &[(String, &str)]) -> Vec<Leftover> {
    let mut found = Vec::new();
    for (credential, value) in values {
        for line in lines_holding(text, value) {
            found.push(Leftover { path: path.to_path_buf(), line, credential: credential.clone() });
        }
    }
    found.sort_by(|a, b| (a.line, &a.credential).cmp(&(b.line, &b.credential)));
    found
}
