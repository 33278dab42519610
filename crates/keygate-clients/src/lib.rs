//! Agent client configs: where each client (Claude Desktop, Claude Code, Cursor, VS Code,
//! Windsurf, Codex, Gemini CLI, Zed, Cline) keeps its MCP servers on each OS, and
//! format-preserving edits that add or remove one `keygate` entry launching
//! `keygate connect --grant NAME`, which holds no secret. Pure files in, plan out: nothing here
//! touches the vault or the network; the CLI and the app seal the original in the vault and
//! then [`apply`] the plan.
//!
//! ```text
//! detect(places)                         -> every client's file and whether Keygate is in it
//! plan_connect(client, location, launch) -> Plan { diff(), original(), ownership() }
//! plan_disconnect(client, location, owned)
//! apply(&plan)                           -> atomic write, refused if the file changed meanwhile
//! ```

mod client;
mod document;
mod error;
mod jsonc;
mod mask;
mod places;
mod plan;
mod status;
mod toml_doc;
mod write;

pub use client::{Client, ENTRY_NAME, Entry, Format, validate_grant};
pub use document::MAX_FILE_BYTES;
pub use error::{ClientError, Result};
pub use mask::MASK;
pub use places::{Location, Os, Places};
pub use plan::{Action, Launch, Ownership, Plan, plan_connect, plan_disconnect};
pub use status::{ClientStatus, EntryState, detect, status};
pub use write::apply;
