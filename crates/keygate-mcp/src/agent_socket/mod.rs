//! The agent socket: a Unix domain socket in the Keygate home through which local helpers
//! (`keygate connect --grant`, `keygate token --grant --headers`) get short-lived tokens under
//! a grant from the running Keygate, which alone holds the vault open. Nothing secret is ever
//! written to a file: the helper asks, the server mints, the token lives minutes.
//!
//! The socket is 0600 in the 0700 home, and every peer's uid is checked with SO_PEERCRED
//! (both ways): only the user who runs Keygate can mint.

#[cfg(unix)]
mod client;
#[cfg(unix)]
mod listener;
#[cfg_attr(not(unix), allow(dead_code))]
mod protocol;
#[cfg(not(unix))]
mod unsupported;

use std::fmt;
use std::path::{Path, PathBuf};

use keygate_vault::Timestamp;
use secrecy::SecretString;

#[cfg(unix)]
pub use client::mint_token;
#[cfg(unix)]
pub(crate) use listener::AgentSocket;
pub use protocol::parse_request;
#[cfg(not(unix))]
pub(crate) use unsupported::AgentSocket;
#[cfg(not(unix))]
pub use unsupported::mint_token;

/// The socket's file name in the Keygate home.
pub const AGENT_SOCKET: &str = "agent.sock";
/// The lock a serving Keygate holds for as long as it serves the socket.
#[cfg(unix)]
const AGENT_LOCK: &str = "agent.lock";

/// The agent socket of the Keygate home `home`.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(AGENT_SOCKET)
}

/// A token minted under a grant.
pub struct MintedToken {
    /// The whole token, for the Authorization header.
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The MCP endpoint of the Keygate that minted it.
    pub url: String,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("url", &self.url)
            .finish()
    }
}

/// Why no token came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// Nothing serves the socket: no Keygate is running for this home.
    #[error(
        "Keygate is not running (no agent socket at {}): start the Keygate app or `keygate serve`, then retry",
        .path.display()
    )]
    NotRunning {
        /// The socket looked for.
        path: PathBuf,
    },
    /// Keygate refused: no such grant, revoked, expired, ...
    #[error("{message}")]
    Refused {
        /// What Keygate said.
        message: String,
        /// Its stable code (`grant_revoked`, `grant_not_found`, ...).
        code: String,
    },
    /// This platform has no agent socket yet.
    #[error(
        "grants need Keygate's agent socket, which this platform does not have yet: use `keygate connect` with KEYGATE_TOKEN"
    )]
    Unsupported,
    /// The socket answered something that is not a reply, or too late.
    #[error("the Keygate agent socket at {}: {detail}", .path.display())]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

impl MintError {
    /// Whether asking again later could succeed (Keygate down or slow, not a refusal).
    pub fn is_transient(&self) -> bool {
        match self {
            MintError::Refused { code, .. } => code == "busy",
            MintError::Unsupported => false,
            MintError::NotRunning { .. } | MintError::Protocol { .. } => true,
        }
    }
}
