//! Team credentials on OpenBao: a `[team]` section in config.toml names a KV v2 mount and a
//! path; `keygate team login` keeps the machine's OpenBao token (or AppRole secret id) in the
//! OS keychain; writes use check-and-set so two machines rotating at once never lose a
//! version; and [`sync`] keeps each team secret's current version as a sealed local
//! credential, so the MCP server never waits on the network for a call.

mod config;
mod error;
mod login;
mod publish;
mod remote;
mod status;
mod sync;

pub use config::{TEAM_SECTION, TeamConfig};
pub use error::{Result, TeamError};
pub use login::{Login, forget_login, load_login, store_login};
pub use publish::TeamPublisher;
pub use remote::{Remote, RemoteSecret};
pub use status::{TeamStatus, read_status, write_status};
pub use sync::{SyncReport, run_sync_loop, sync};
