//! The gateway: MCP servers developers already run, fronted by Keygate. Each `[[server]]` is
//! launched (stdio) or reached (HTTP) with keys from the vault; its tools are exposed as
//! `<server>_<tool>`, scoped per token, pinned against silent changes, and audited per call.

mod call;
mod child;
mod downstream;
mod events;
mod in_order;
pub(crate) mod legacy_sse;
pub(crate) mod pins;
mod secrets;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use keygate_vault::TokenGrant;
use rmcp::model::Tool;
use tokio_util::sync::CancellationToken;

pub(crate) use call::GatewayCall;
pub(crate) use downstream::Downstream;
pub use downstream::ServerStatus;
pub use events::Quarantined;
pub(crate) use events::Relay;

use crate::config::{MAX_SERVER_NAME_LEN, ServerEntry};
use crate::gate::Gate;

/// How often idle children are looked for.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// Every fronted server, by name; replaced whole when the config changes.
pub(crate) struct Gateway {
    servers: RwLock<Arc<HashMap<String, Arc<Downstream>>>>,
    gate: Gate,
    relay: Arc<Relay>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("servers", &self.servers().keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway for `entries`, with its background work (re-listing on change, stopping
    /// idle children) running until `stop`.
    pub(crate) fn start(entries: &[ServerEntry], gate: Gate, stop: CancellationToken) -> Arc<Self> {
        let (relay, mut changed) = Relay::new();
        let gateway = Arc::new(Self { servers: RwLock::default(), gate, relay });
        gateway.apply(entries);
        let weak = Arc::downgrade(&gateway);
        tokio::spawn(async move {
            let mut idle_check = tokio::time::interval(IDLE_CHECK);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    Some(server) = changed.recv() => {
                        let Some(gateway) = weak.upgrade() else { break };
                        gateway.relist(&server).await;
                    }
                    _ = idle_check.tick() => {
                        let Some(gateway) = weak.upgrade() else { break };
                        for server in gateway.servers().values() {
                            server.stop_if_idle().await;
                        }
                    }
                }
            }
            if let Some(gateway) = weak.upgrade() {
                gateway.stop_all().await;
            }
        });
        gateway
    }

    fn servers(&self) -> Arc<HashMap<String, Arc<Downstream>>> {
        Arc::clone(&self.servers.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Take a new set of servers: unchanged ones keep running, the rest are let go.
    pub(crate) fn apply(&self, entries: &[ServerEntry]) {
        let current = self.servers();
        let next = entries
            .iter()
            .map(|entry| {
                let kept = current.get(&entry.name).filter(|server| server.entry == *entry);
                let server = kept.cloned().unwrap_or_else(|| {
                    Arc::new(Downstream::new(entry.clone(), self.gate.clone(), Arc::clone(&self.relay)))
                });
                (entry.name.clone(), server)
            })
            .collect();
        *self.servers.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }

    /// The server and tool an exposed name `<server>_<tool>` stands for.
    pub(crate) fn find(&self, exposed: &str) -> Option<(Arc<Downstream>, String)> {
        let (server, tool) = exposed.split_once('_')?;
        if server.len() > MAX_SERVER_NAME_LEN || tool.is_empty() {
            return None;
        }
        let found = self.servers().get(server).cloned()?;
        found.entry.exposed_name(tool).ok()?;
        Some((found, tool.to_string()))
    }

    /// The approved tools of every server `grant` may use something of, listed side by side
    /// (a server that cannot be listed is left out and its error logged; the others are not
    /// held up by it). Servers the grant has no tool of are not started to answer.
    pub(crate) async fn approved_tools(&self, grant: &TokenGrant) -> Vec<Tool> {
        let servers = self.servers();
        let wanted: Vec<&Arc<Downstream>> = servers
            .values()
            .filter(|server| grant.tools.iter().any(|scope| scope.starts_with(&format!("{}_", server.name()))))
            .collect();
        let listings = futures_util::future::join_all(wanted.iter().map(|s| s.approved_tools())).await;
        let mut tools = Vec::new();
        for (server, listing) in wanted.iter().zip(listings) {
            match listing {
                Ok(listed) => tools.extend(listed),
                Err(e) => tracing::warn!(server = %server.name(), "its tools are not listed: {e}"),
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        tools
    }

    /// The state of every server, in name order.
    pub(crate) fn statuses(&self) -> Vec<ServerStatus> {
        let mut statuses: Vec<_> = self.servers().values().map(|s| s.status()).collect();
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        statuses
    }

    /// Restart one server and re-list its tools; returns how many it listed.
    pub(crate) async fn restart(&self, name: &str) -> Result<usize, String> {
        let server =
            self.servers().get(name).cloned().ok_or_else(|| format!("no server named {name} in config.toml"))?;
        let listed = server.restart().await?;
        self.relay.tell_agents_tools_changed().await;
        Ok(listed)
    }

    pub(crate) fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    async fn relist(&self, name: &str) {
        let Some(server) = self.servers().get(name).cloned() else { return };
        match server.relist().await {
            Ok(()) => self.relay.tell_agents_tools_changed().await,
            Err(e) => tracing::warn!(server = %name, "re-listing after a change failed: {e}"),
        }
    }

    pub(crate) async fn stop_all(&self) {
        for server in self.servers().values() {
            server.stop().await;
        }
    }
}
