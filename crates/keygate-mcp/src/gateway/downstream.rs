//! One fronted server's life: started on first need, shared by every agent, listed and pinned
//! on each start, restarted with backoff after a crash and with new keys after a rotation,
//! stopped when idle.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use keygate_vault::{AuditStart, Decision, PinReport};
use rmcp::model::Tool;
use serde::Serialize;

use super::child::Child;
use super::events::{ChildEvents, Relay};
use super::pins;
use super::secrets::Injected;
use crate::config::ServerEntry;
use crate::gate::Gate;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that exits sooner than this after starting is a young exit; this many in a row
/// are a crash loop, and restarts then wait with growing pauses.
const CRASH_LOOP_UPTIME: Duration = Duration::from_secs(5);
const CRASH_LOOP_EXITS: u32 = 3;

/// A fronted server as `keygate server list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServerStatus {
    /// Its name.
    pub name: String,
    /// `stdio` or `http`.
    pub kind: String,
    /// `stopped`, `running` or `failed`.
    pub state: String,
    /// The child's process id, while it runs.
    pub pid: Option<u32>,
    /// Tools it listed last time it started.
    pub tools: usize,
    /// Why it last failed, if it did.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Slot {
    child: Option<Arc<Child>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    /// Children in a row that exited soon after starting (a crash loop, if it grows).
    young_exits: u32,
}

/// One `[[server]]`.
pub(crate) struct Downstream {
    pub(crate) entry: ServerEntry,
    gate: Gate,
    relay: Arc<Relay>,
    slot: tokio::sync::Mutex<Slot>,
    /// The last status, readable without waiting for a start in progress.
    status: Mutex<ServerStatus>,
}

impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downstream").field("name", &self.entry.name).finish_non_exhaustive()
    }
}

impl Downstream {
    pub(crate) fn new(entry: ServerEntry, gate: Gate, relay: Arc<Relay>) -> Self {
        let kind = entry.kind();
        let status = ServerStatus {
            name: entry.name.clone(),
            kind: kind.into(),
            state: "stopped".into(),
            pid: None,
            tools: 0,
            last_error: None,
        };
        Self { entry, gate, relay, slot: tokio::sync::Mutex::default(), status: Mutex::new(status) }
    }

    pub(crate) fn name(&self) -> &str {
        &self.entry.name
    }

    pub(crate) fn status(&self) -> ServerStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Let `stale` go (its keys were rotated) if it is still the current child: calls in flight
    /// keep it until they end; the next `connected` starts one with the new values.
    pub(crate) async fn retire(&self, stale: &Arc<Child>) {
        let mut slot = self.slot.lock().await;
        if slot.child.as_ref().is_some_and(|child| Arc::ptr_eq(child, stale)) {
            tracing::info!(server = %self.entry.name, "a credential was rotated: restarting with the new value");
            slot.child = None;
        }
    }

    /// A live connection, started (or restarted) if needed. A server that keeps failing is
    /// retried with growing pauses; a call during a pause fails at once with the last error.
    pub(crate) async fn connected(&self) -> Result<Arc<Child>, String> {
        let mut slot = self.slot.lock().await;
        if let Some(child) = slot.child.clone() {
            if child.is_closed() {
                // Started again at once, unless it keeps dying young (then with growing pauses).
                slot.child = None;
                slot.young_exits = if child.uptime() < CRASH_LOOP_UPTIME { slot.young_exits + 1 } else { 0 };
                let error = format!("server {} exited", self.entry.name);
                if slot.young_exits >= CRASH_LOOP_EXITS {
                    let error = format!("{error} {} times in a row soon after starting", slot.young_exits);
                    self.failed(&mut slot, error);
                } else {
                    tracing::warn!(server = %self.entry.name, "{error}; starting it again");
                }
            } else {
                return Ok(child);
            }
        }
        if let Some(retry_at) = slot.retry_at
            && Instant::now() < retry_at
        {
            let wait = retry_at.saturating_duration_since(Instant::now());
            let last = slot.last_error.clone().unwrap_or_default();
            return Err(format!("{last}; Keygate tries again in {}s", wait.as_secs().max(1)));
        }
        match self.start().await {
            Ok(child) => {
                let child = Arc::new(child);
                *slot = Slot { child: Some(Arc::clone(&child)), young_exits: slot.young_exits, ..Slot::default() };
                self.publish(&slot);
                Ok(child)
            }
            Err(e) => {
                self.failed(&mut slot, e.clone());
                Err(e)
            }
        }
    }

    /// The tools agents may see: from the pinned definitions once the server has been
    /// listed (so nothing is started to answer a listing), else by starting it.
    pub(crate) async fn approved_tools(&self) -> Result<Vec<Tool>, String> {
        let pinned = self.gate.with(|vault| vault.tool_pins(&self.entry.name)).map_err(|e| e.to_string())?;
        let pinned = if pinned.is_empty() {
            self.connected().await?;
            self.gate.with(|vault| vault.tool_pins(&self.entry.name)).map_err(|e| e.to_string())?
        } else {
            pinned
        };
        Ok(pinned
            .iter()
            .filter(|pin| pin.listed && !pin.state.is_quarantined())
            .filter_map(|pin| {
                let exposed = self.entry.exposed_name(&pin.tool).ok()?;
                pins::tool_from_definition(&pin.definition, &exposed)
            })
            .collect())
    }

    /// The server says its tools changed: list and pin them again.
    pub(crate) async fn relist(&self) -> Result<(), String> {
        let child = self.slot.lock().await.child.clone();
        let Some(child) = child else { return Ok(()) };
        self.list_and_pin(&child).await
    }

    /// Start the server again, listing and pinning its tools; the old child stops once the
    /// calls it is serving end.
    pub(crate) async fn restart(&self) -> Result<usize, String> {
        {
            let mut slot = self.slot.lock().await;
            slot.child = None;
            slot.retry_at = None;
        }
        let child = self.connected().await?;
        Ok(child.tools.lock().map(|t| t.len()).unwrap_or_default())
    }

    /// Stop the child if it has been unused for its `idle_minutes`.
    pub(crate) async fn stop_if_idle(&self) {
        let Some(idle) = self.entry.idle else { return };
        let mut slot = self.slot.lock().await;
        if let Some(child) = &slot.child
            && child.calls_in_flight() == 0
            && child.idle_for() >= idle
        {
            tracing::info!(server = %self.entry.name, "stopping: unused for {} min", idle.as_secs() / 60);
            slot.child = None;
            self.publish(&slot);
        }
    }

    /// Let the child go: it stops once the calls it is serving end.
    pub(crate) async fn stop(&self) {
        let mut slot = self.slot.lock().await;
        slot.child = None;
        self.publish(&slot);
    }

    async fn start(&self) -> Result<Child, String> {
        let injected = self.gate.with(|vault| Injected::open(vault, &self.entry))?;
        let events = ChildEvents::new(&self.entry.name, Arc::clone(&self.relay), injected.clone());
        let child = Child::start(&self.entry, injected, events).await?;
        self.list_and_pin(&child).await?;
        tracing::info!(server = %self.entry.name, pid = ?child.pid, "server started");
        Ok(child)
    }

    async fn list_and_pin(&self, child: &Child) -> Result<(), String> {
        let name = &self.entry.name;
        let listing = tokio::time::timeout(self.entry.timeout, child.peer().list_all_tools()).await;
        let tools = match listing {
            Ok(Ok(tools)) => tools,
            Ok(Err(e)) => return Err(format!("server {name} could not list its tools ({e})")),
            Err(_) => {
                return Err(format!("server {name} did not list its tools within {}s", self.entry.timeout.as_secs()));
            }
        };
        let exposable: Vec<Tool> = tools
            .into_iter()
            .filter(|tool| match self.entry.exposed_name(&tool.name) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!("{e}");
                    false
                }
            })
            .collect();
        let listed: Vec<_> = exposable.iter().map(pins::listed).collect();
        let report = self.gate.with(|vault| vault.record_tool_listing(name, &listed)).map_err(|e| e.to_string())?;
        self.quarantined(&report);
        if let Ok(mut tools) = child.tools.lock() {
            *tools = exposable;
        }
        Ok(())
    }

    /// Audit and announce tools that a listing quarantined.
    fn quarantined(&self, report: &PinReport) {
        let name = &self.entry.name;
        let found = report.new_pending.iter().map(|t| (t, "quarantined_new"));
        let found = found.chain(report.newly_changed.iter().map(|t| (t, "quarantined_changed")));
        for (tool, status) in found {
            let exposed = self.entry.exposed_name(tool).unwrap_or_else(|_| format!("{name}_?"));
            tracing::warn!(
                server = %name,
                "tool {exposed} is {}: held back until approved with `keygate server approve {name} --tool {tool}`",
                if status == "quarantined_new" { "new" } else { "changed" }
            );
            let start = AuditStart {
                server: Some(name),
                token_id: None,
                tool: &exposed,
                credential: None,
                credential_version: None,
                team_version: None,
                decision: Decision::Denied,
                status: Some(status),
            };
            if let Err(e) = self.gate.with(|vault| vault.begin_audit(&start)) {
                tracing::error!(error = %e, "could not audit a quarantined tool");
            }
            self.relay.announce_quarantine(name, &exposed, status);
        }
    }

    fn failed(&self, slot: &mut Slot, error: String) {
        slot.failures += 1;
        let backoff = FIRST_BACKOFF.saturating_mul(1 << slot.failures.min(8).saturating_sub(1)).min(MAX_BACKOFF);
        slot.retry_at = Some(Instant::now() + backoff);
        tracing::warn!(server = %self.entry.name, "{error}");
        slot.last_error = Some(error);
        self.publish(slot);
    }

    fn publish(&self, slot: &Slot) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.pid = slot.child.as_ref().and_then(|c| c.pid);
        status.tools = slot.child.as_ref().map_or(status.tools, |c| c.tools.lock().map(|t| t.len()).unwrap_or(0));
        status.state = match (&slot.child, &slot.last_error) {
            (Some(_), _) => "running",
            (None, Some(_)) => "failed",
            (None, None) => "stopped",
        }
        .into();
        status.last_error = slot.last_error.clone();
    }
}
