//! Agent client configs: where each client (Claude Desktop, Claude Code, Cursor, VS Code,
//! Windsurf, Codex, Gemini CLI, Zed, Cline) keeps its MCP servers on each OS, and
//! format-preserving edits that add or remove one `keygate` entry launching
//! `keygate connect --grant NAME`, which holds no secret. Files in, plan out; `sealed` is the
//! one room that touches the vault: it seals the original there before it [`apply`]s a plan.
//!
//! ```text
//! detect(places)                         -> every client's file and whether Keygate is in it
//! plan_connect(client, location, launch) -> Plan { diff(), original(), ownership() }
//! plan_disconnect(client, location, owned)
//! apply(&plan)                           -> atomic write, refused if the file changed meanwhile
//! plan_*_sealed(vault, ...), commit(vault, &plan) -> the same, knowing Keygate's own entry and
//!                                           sealing the original first
//! ```

mod client;
mod document;
mod error;
pub mod import;
mod jsonc;
mod mask;
mod places;
mod plan;
mod sealed;
mod status;
mod toml_doc;
mod write;

pub use client::{Client, ENTRY_NAME, Entry, Format, validate_grant};
pub use document::MAX_FILE_BYTES;
pub use error::{ClientError, Result};
pub use mask::MASK;
pub use places::{Location, Os, Places};
pub use plan::{Action, Launch, Ownership, Plan, plan_connect, plan_disconnect};
pub use sealed::{commit, plan_connect_sealed, plan_disconnect_sealed};
pub use status::{ClientStatus, EntryState, detect, status};
pub use write::apply;

/// Edits of a text without files, for fuzzing and property tests.
#[doc(hidden)]
pub mod fuzz {
    use std::path::Path;

    use crate::client::{Client, ENTRY_NAME};
    use crate::document;
    use crate::error::Result;

    /// Connect then disconnect `text` as `client`'s config, each edit checked. Returns the text
    /// after disconnecting, and whether it should be `text` again, whitespace aside: no
    /// `keygate` entry was there before, and `text` was not empty (an empty file gets `{}`).
    pub fn round_trip(client: Client, text: &str) -> Result<(String, bool)> {
        let path = Path::new("fuzz-input");
        let empty = document::is_empty(client, text, path)?;
        let comparable = !empty && document::find_entry(client, text, path)?.is_none();
        let args = ["connect".to_string(), "--grant".to_string(), ENTRY_NAME.to_string()];
        let entry = client.stdio_entry("/opt/keygate/bin/keygate", &args);
        let (connected, created) = document::with_entry(client, Some(text), &entry, path)?;
        document::check_edit(client, Some(text), &connected, Some(&entry), path)?;
        let back = document::without_entry(client, &connected, created, path)?;
        document::check_edit(client, Some(&connected), &back, None, path)?;
        Ok((back, comparable))
    }

    /// The `round_trip` fuzz target's whole body (and the corpus replay's): the first byte
    /// picks the client, the rest is its config's text. Connecting then disconnecting never
    /// panics, every edit passes the "only the entry changed" check, and the text comes back
    /// (whitespace aside).
    pub fn round_trip_input(data: &[u8]) {
        let Some((&selector, rest)) = data.split_first() else { return };
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let client = Client::ALL[usize::from(selector) % Client::ALL.len()];
        if let Ok((back, comparable)) = round_trip(client, text)
            && comparable
        {
            let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(squeeze(&back), squeeze(text), "{client:?}: disconnecting did not give the text back");
        }
    }
}
