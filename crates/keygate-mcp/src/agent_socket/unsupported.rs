//! Platforms without Unix domain sockets (and SO_PEERCRED): no agent socket yet, so grants
//! mint nothing there; the server runs without it and `keygate connect` takes KEYGATE_TOKEN.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{MintError, MintedToken};
use crate::gate::Gate;

/// Always refuses: there is no socket to ask.
pub async fn mint_token(_home: &Path, _grant: &str) -> Result<MintedToken, MintError> {
    Err(MintError::Unsupported)
}

/// Never served on this platform.
#[derive(Debug)]
pub(crate) struct AgentSocket;

impl AgentSocket {
    pub(crate) fn spawn(_home: &Path, _gate: Gate, _url: String, _stop: CancellationToken) -> Option<Self> {
        None
    }

    pub(crate) fn path(&self) -> &Path {
        Path::new("")
    }

    pub(crate) async fn closed(self) {}
}
