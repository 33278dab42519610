//! The MCP server from keygate-mcp. The agent process runs it with its own vault connection
//! (so does the test runtime); a window process only shows what the agent published. If it
//! cannot start (port taken, config wrong), the app keeps running and says why.

use std::sync::Arc;

use keygate_mcp::{Config, McpError, RunningServer};
use keygate_vault::{Actor, Vault};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::agent::{self, AgentStatus};
use crate::error::AppError;
use crate::state::{AppState, lock};

/// The server as the window and tray show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServerStatus {
    /// Serving MCP at `url`.
    Running {
        /// host:port it listens on.
        address: String,
        /// The MCP endpoint for agents.
        url: String,
    },
    /// Not serving, and why, in words that say what to do.
    Stopped {
        /// Why it is not running.
        reason: String,
    },
}

impl ServerStatus {
    /// The tray's line for it.
    pub fn tray_line(&self) -> String {
        match self {
            ServerStatus::Running { address, .. } => format!("MCP server running on {address}"),
            ServerStatus::Stopped { .. } => "MCP server stopped (open Keygate for why)".to_string(),
        }
    }
}

/// The running server, if any, and its status.
#[derive(Debug)]
pub struct ServerSlot {
    /// What to show.
    pub status: ServerStatus,
    running: Option<RunningServer>,
}

impl Default for ServerSlot {
    fn default() -> Self {
        Self { status: ServerStatus::Stopped { reason: "not started yet".into() }, running: None }
    }
}

/// Where the server runs, as seen from this process.
#[derive(Debug)]
pub enum ServerHost {
    /// In this process (the agent, and tests).
    InProcess(Mutex<ServerSlot>),
    /// In the agent process; this is a window.
    Agent,
}

impl ServerHost {
    /// A host for a server run in this process, not started yet.
    pub fn in_process() -> Self {
        ServerHost::InProcess(Mutex::new(ServerSlot::default()))
    }
}

/// Start the server unless it runs already; the status says how it went. From a window, make
/// sure an agent runs (start one, or ask the running one to retry).
pub async fn start_server(state: &AppState) -> ServerStatus {
    let ServerHost::InProcess(slot) = state.server_host() else {
        ensure_agent(state);
        return server_status(state);
    };
    if let Some(status) = running_status(slot) {
        return status;
    }
    let status = match launch(state).await {
        Ok(server) => {
            let status = ServerStatus::Running { address: server.local_addr().to_string(), url: server.url() };
            let mut slot = lock(slot);
            slot.running = Some(server);
            slot.status = status.clone();
            return status;
        }
        Err(reason) => ServerStatus::Stopped { reason },
    };
    tracing::warn!("MCP server not started: {status:?}");
    lock(slot).status = status.clone();
    status
}

fn ensure_agent(state: &AppState) {
    if agent::agent_running(state.home()) {
        agent::nudge(state.home(), agent::NUDGE_FILE);
        return;
    }
    if let Err(e) = agent::spawn_sibling(agent::AGENT_EXE, &[agent::HIDDEN_FLAG]) {
        tracing::error!(error = %e, "cannot start Keygate's background process");
    }
}

/// Stop the server and wait until it has closed its connections.
pub async fn stop_server(state: &AppState, reason: &str) {
    let ServerHost::InProcess(slot) = state.server_host() else { return };
    let running = {
        let mut slot = lock(slot);
        slot.status = ServerStatus::Stopped { reason: reason.to_string() };
        slot.running.take()
    };
    if let Some(server) = running
        && let Err(e) = server.shutdown().await
    {
        tracing::warn!(error = %e, "the MCP server did not stop cleanly");
    }
}

/// The status to show now.
pub fn server_status(state: &AppState) -> ServerStatus {
    match state.server_host() {
        ServerHost::InProcess(slot) => lock(slot).status.clone(),
        ServerHost::Agent => match agent_view(state) {
            Some(agent) => agent.server,
            None => ServerStatus::Stopped {
                reason: "Keygate's background process is not running: choose Start server.".to_string(),
            },
        },
    }
}

/// What the agent published, when this is a window and an agent runs.
pub fn agent_view(state: &AppState) -> Option<AgentStatus> {
    match state.server_host() {
        ServerHost::Agent if agent::agent_running(state.home()) => agent::read_status(state.home()),
        _ => None,
    }
}

fn running_status(slot: &Mutex<ServerSlot>) -> Option<ServerStatus> {
    let slot = lock(slot);
    slot.running.as_ref().map(|_| slot.status.clone())
}

async fn launch(state: &AppState) -> Result<RunningServer, String> {
    let config_path = state.home().config_path();
    let config = Config::load(&config_path).map_err(|e| AppError::from(e).message)?;
    let key = state.key_source().map_err(|e| e.message)?;
    let vault = Vault::open(state.home(), key, Arc::clone(state.clock()), Actor::Server).map_err(|e| e.to_string())?;
    let server = keygate_mcp::start(config, vault, None).await.map_err(|e| match e {
        McpError::Bind { addr, cause } => format!(
            "cannot listen on {addr} ({cause}): another program, maybe `keygate serve`, has the port. \
             Stop it, or set another [listen] bind in {}, then choose Start server.",
            config_path.display()
        ),
        other => AppError::from(other).message,
    })?;
    server.follow_home(config_path);
    notify_quarantined_tools(server.quarantine_events());
    Ok(server)
}

/// A fronted server's tool that appeared or changed is held back: tell the person at once.
fn notify_quarantined_tools(mut events: tokio::sync::broadcast::Receiver<keygate_mcp::Quarantined>) {
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            let what = if event.is_new { "is new" } else { "changed" };
            let body = format!(
                "{} {what} since you approved server {}'s tools, so agents cannot use it. Review it in \
                 Keygate's Servers view and choose Approve if it looks right.",
                keygate_mcp::printable(&event.tool, 64),
                event.server,
            );
            let shown = notify_rust::Notification::new().summary("Keygate held back a tool").body(&body).show();
            if let Err(e) = shown {
                tracing::warn!(error = %e, "cannot show a notification: {body}");
            }
        }
    });
}
