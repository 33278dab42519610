//! The one error type of the server crate. Messages never carry secrets.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can stop the server from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// config.toml is missing, unreadable or wrong.
    #[error("{}{}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The 1-based line of the mistake, when known.
        line: Option<usize>,
        /// What is wrong and what to write instead.
        message: String,
    },

    /// The listening socket could not be opened.
    #[error(
        "cannot listen on {addr}: {cause} (is another keygate server running? change [listen] bind or pass --bind)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        cause: std::io::Error,
    },

    /// The HTTP client for upstream calls could not be built.
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(String),

    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] keygate_vault::VaultError),

    /// The OS random number generator failed (making the consent form's CSRF key).
    #[error("the OS random number generator failed: {0}")]
    Random(String),

    /// Serving failed.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}
