//! What the Keygate server sends the bridge besides answers: progress of a call, passed on to
//! the agent under the agent's own progress token, and tools/list_changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, Peer, RoleClient, RoleServer};

/// Progress routes and the agent, shared by the bridge's two sides.
#[derive(Debug, Default)]
pub(crate) struct Relay {
    /// The progress token the bridge sent Keygate -> the agent's own.
    progress: Mutex<HashMap<ProgressToken, ProgressToken>>,
    /// The agent, once it has made a request.
    agent: OnceLock<Peer<RoleServer>>,
}

impl Relay {
    /// Remember the agent (its peer is the same for every request).
    pub(crate) fn agent_is(&self, peer: &Peer<RoleServer>) {
        let _ = self.agent.set(peer.clone());
    }

    /// Pass progress for `ours` on to the agent as `theirs` until the route is dropped.
    pub(crate) fn route(self: &Arc<Self>, ours: ProgressToken, theirs: ProgressToken) -> Route {
        lock(&self.progress).insert(ours.clone(), theirs);
        Route { relay: Arc::clone(self), ours }
    }
}

/// A progress route, removed when the call ends.
pub(crate) struct Route {
    relay: Arc<Relay>,
    ours: ProgressToken,
}

impl Drop for Route {
    fn drop(&mut self) {
        lock(&self.relay.progress).remove(&self.ours);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The bridge's client side.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamEvents(pub(crate) Arc<Relay>);

impl ClientHandler for UpstreamEvents {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("keygate-connect", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(&self, mut params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        let theirs = lock(&self.0.progress).get(&params.progress_token).cloned();
        if let (Some(theirs), Some(agent)) = (theirs, self.0.agent.get()) {
            params.progress_token = theirs;
            let _ = agent.notify_progress(params).await;
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(agent) = self.0.agent.get() {
            let _ = agent.notify_tool_list_changed().await;
        }
    }
}
