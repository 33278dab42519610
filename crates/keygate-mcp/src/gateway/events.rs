//! What flows from fronted servers back to agents: progress of a call to the agent that made
//! it, and "the tools changed" to every connected agent (after Keygate has re-checked the pins).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, Peer, RoleClient, RoleServer};
use tokio::sync::{Notify, broadcast, mpsc};

use super::secrets::Injected;
use crate::progress::ProgressSink;
use crate::text::printable;

/// (server, the progress token Keygate sent the child).
type ChildProgress = (String, ProgressToken);
/// The agent that asked, the progress token it sent, and what of it is still on its way.
type AgentProgress = (ProgressSink, ProgressToken, Arc<Pending>);

/// A call's progress notifications: counted as they arrive from the child (in its order, by
/// `InOrder`) and as they are delivered to the agent, which happens in tasks of their own.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    arrived: AtomicU64,
    delivered: AtomicU64,
    changed: Notify,
}

/// Routes shared by every fronted server.
#[derive(Debug)]
pub(crate) struct Relay {
    /// (server, the token Keygate sent the child) -> (the agent, the token the agent sent).
    progress: Mutex<HashMap<ChildProgress, AgentProgress>>,
    /// Agents connected in a session, to tell when tools change.
    agents: Mutex<Vec<Peer<RoleServer>>>,
    /// Names of servers whose tools changed, for the gateway to re-list.
    changed: mpsc::UnboundedSender<String>,
    /// Tools held back as new or changed, for whoever tells the person (the app).
    quarantine: broadcast::Sender<Quarantined>,
}

/// A tool a listing held back until a person approves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The server.
    pub server: String,
    /// The tool's exposed name.
    pub tool: String,
    /// True if the tool is new; false if its definition changed.
    pub is_new: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Relay {
    pub(crate) fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<String>) {
        let (changed, receiver) = mpsc::unbounded_channel();
        let (quarantine, _) = broadcast::channel(64);
        let relay = Self { progress: Mutex::default(), agents: Mutex::default(), changed, quarantine };
        (Arc::new(relay), receiver)
    }

    /// Send the child's progress for `child_token` to the agent as `agent_token`, until the
    /// returned route is dropped.
    pub(crate) fn route_progress(
        self: &Arc<Self>,
        server: &str,
        child_token: ProgressToken,
        agent: ProgressSink,
        agent_token: ProgressToken,
    ) -> ProgressRoute {
        let key = (server.to_string(), child_token);
        let pending = Arc::new(Pending::default());
        lock(&self.progress).insert(key.clone(), (agent, agent_token, Arc::clone(&pending)));
        ProgressRoute { relay: Arc::clone(self), key, pending }
    }

    /// A progress notification for `token` came in from `server` (before its handler runs).
    pub(crate) fn progress_arrived(&self, server: &str, token: &ProgressToken) {
        if let Some((_, _, pending)) = lock(&self.progress).get(&(server.to_string(), token.clone())) {
            pending.arrived.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Tell subscribers (the app's notifications) that a tool was held back.
    pub(crate) fn announce_quarantine(&self, server: &str, tool: &str, status: &str) {
        let event = Quarantined { server: server.into(), tool: tool.into(), is_new: status == "quarantined_new" };
        let _ = self.quarantine.send(event);
    }

    pub(crate) fn subscribe_quarantine(&self) -> broadcast::Receiver<Quarantined> {
        self.quarantine.subscribe()
    }

    /// Remember an agent that keeps a session, to tell it when tools change.
    pub(crate) fn add_agent(&self, peer: Peer<RoleServer>) {
        let mut agents = lock(&self.agents);
        agents.retain(|p| !p.is_transport_closed());
        agents.push(peer);
    }

    /// Tell every connected agent that the tool list changed.
    pub(crate) async fn tell_agents_tools_changed(&self) {
        let agents: Vec<_> = {
            let mut agents = lock(&self.agents);
            agents.retain(|p| !p.is_transport_closed());
            agents.clone()
        };
        for agent in agents {
            let _ = agent.notify_tool_list_changed().await;
        }
    }
}

/// A progress route, removed when the call ends.
pub(crate) struct ProgressRoute {
    relay: Arc<Relay>,
    key: ChildProgress,
    pending: Arc<Pending>,
}

impl ProgressRoute {
    /// Wait (at most `limit`) until every progress notification that arrived before the
    /// answer has been passed on, so the agent gets them before the result.
    pub(crate) async fn delivered(&self, limit: Duration) {
        let all_delivered = async {
            loop {
                let changed = self.pending.changed.notified();
                if self.pending.delivered.load(Ordering::SeqCst) >= self.pending.arrived.load(Ordering::SeqCst) {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(limit, all_delivered).await;
    }
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        lock(&self.relay.progress).remove(&self.key);
    }
}

/// The client side of one fronted server's connection.
#[derive(Clone)]
pub(crate) struct ChildEvents {
    server: String,
    relay: Arc<Relay>,
    injected: Injected,
}

impl ChildEvents {
    pub(crate) fn new(server: &str, relay: Arc<Relay>, injected: Injected) -> Self {
        Self { server: server.to_string(), relay, injected }
    }

    /// `transport`, counting progress as it arrives (see `InOrder`).
    pub(crate) fn in_order<T>(&self, transport: T) -> super::in_order::InOrder<T> {
        super::in_order::InOrder::new(transport, Arc::clone(&self.relay), &self.server)
    }
}

impl ClientHandler for ChildEvents {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("keygate", env!("CARGO_PKG_VERSION")))
    }

    async fn on_progress(&self, mut params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        let key = (self.server.clone(), params.progress_token.clone());
        let route = lock(&self.relay.progress).get(&key).cloned();
        if let Some((agent, agent_token, pending)) = route {
            params.progress_token = agent_token;
            params.message = params.message.map(|m| self.injected.redact(&m));
            agent.notify(params).await;
            pending.delivered.fetch_add(1, Ordering::SeqCst);
            pending.changed.notify_waiters();
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.relay.changed.send(self.server.clone());
    }

    #[allow(deprecated)] // servers still send log messages; they go to Keygate's log, redacted
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let text = printable(&self.injected.redact(&params.data.to_string()), 2000);
        tracing::info!(target: "keygate::gateway::log", server = %self.server, "{text}");
    }
}
