//! The agent socket: a Unix domain socket in the Keygate home through which local helpers
//! (`keygate connect --grant`, `keygate token --grant --headers`) get short-lived tokens under
//! a grant from the running Keygate, which alone holds the vault open. Nothing secret is ever
//! written to a file: the helper asks, the server mints, the token lives minutes.
//!
//! The socket is 0600 in the 0700 home, and every peer's uid is checked with SO_PEERCRED
//! (both ways): only the user who runs Keygate can mint.

mod client;
mod listener;
mod protocol;

pub use client::{MintError, MintedToken, mint_token, socket_path};
pub(crate) use listener::AgentSocket;
pub use protocol::parse_request;

/// The socket's file name in the Keygate home.
pub const AGENT_SOCKET: &str = "agent.sock";
/// The lock a serving Keygate holds for as long as it serves the socket.
const AGENT_LOCK: &str = "agent.lock";
