//! The agent (`keygate-app`): one per home, holding the MCP server, the tray, reminders and
//! scheduled rotations. GTK's main loop runs on the main thread (tray-icon needs it there);
//! tokio runs the server on threads of its own; Quit, a stop signal or the window's Quit end
//! the GTK loop once the server has stopped cleanly.

use std::sync::Arc;

use keygate_vault::{Home, KeySource, SystemClock};

use crate::agent::{self, AgentLock, HIDDEN_FLAG};
use crate::launch::{begin, exit_with};
use crate::server::{self, ServerHost, stop_server};
use crate::state::AppState;
use crate::{rotations, tray, watch, window_process};

const HELP: &str = "Keygate: the tray app (the MCP server, reminders) and its window.\n\n\
     Usage: keygate-app [--hidden]\n\n\
     Options:\n  \
     --hidden    start in the tray only (as at login); a running Keygate is left as it is\n  \
     -h, --help  print this help\n  \
     -V, --version  print the version\n\n\
     Running keygate-app while Keygate runs opens (or focuses) its window.\n\
     The `keygate` command does everything headless: `keygate --help`.";

/// The running agent as its threads see it: the state and the async runtime.
#[derive(Clone)]
pub struct Agent {
    state: Arc<AppState>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("home", self.state.home()).finish_non_exhaustive()
    }
}

impl Agent {
    /// The agent's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Run `future` on the agent's runtime from a thread outside it (GTK's, the watcher's).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Stop the server cleanly (open requests finish, outcomes are written), close the window
    /// this agent started, then end the GTK loop, and with it the agent; any other window sees
    /// the agent go and closes too.
    pub fn quit(&self) {
        self.block_on(self.shut_down());
    }

    /// What Quit and a stop signal do.
    pub async fn shut_down(&self) {
        stop_server(&self.state, "Keygate quit").await;
        watch::publish_status(&self.state);
        window_process::end_window();
        gtk::glib::MainContext::default().invoke(gtk::main_quit);
    }
}

/// `keygate-app`: answer `--help`/`--version`, or run the agent until it is told to quit.
pub fn main() {
    if let Some((home, args)) = begin(agent::AGENT_EXE, HELP) {
        run_agent(home, args.iter().any(|arg| arg == HIDDEN_FLAG));
    }
}

fn run_agent(home: Home, hidden: bool) {
    // The agent holds the master key, upstream keys and tokens: no core dumps, no ptrace.
    keygate_mcp::harden_process();
    let _lock = match AgentLock::acquire(&home) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            // Keygate already runs for this home: just open its window.
            if !hidden && let Err(e) = agent::spawn_sibling(agent::WINDOW_EXE, &[]) {
                exit_with(&format!("cannot open the Keygate window: {e}"));
            }
            return;
        }
        Err(e) => exit_with(&format!("cannot lock {}: {e}", home.dir().display())),
    };
    if let Err(e) = gtk::init() {
        exit_with(&format!(
            "cannot start the tray: no desktop session ({e}). Run Keygate from your desktop, or run the MCP server alone with `keygate serve`."
        ));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("keygate-agent").build() {
        Ok(runtime) => runtime,
        Err(e) => exit_with(&format!("cannot start the agent's async runtime: {e}")),
    };
    let state = AppState::new(home, Box::new(KeySource::from_env), Arc::new(SystemClock), ServerHost::in_process());
    let agent = Agent { state: Arc::new(state), runtime: runtime.handle().clone() };
    if let Err(e) = start(&agent, hidden) {
        exit_with(&e);
    }
    gtk::main();
    // The server has stopped; a task still waiting on a slow peer does not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    tracing::info!("Keygate stopped");
}

fn start(agent: &Agent, hidden: bool) -> Result<(), String> {
    let state = agent.state();
    // The server first: agents may be waiting for the port.
    if state.open_vault().is_ok() {
        agent.block_on(server::start_server(state));
    }
    // Before the status is published: whoever sees the agent up sees Start at login set too.
    if let Some(autostart) = tray::autostart(state)
        && let Err(e) = autostart.on_agent_start()
    {
        tracing::warn!(error = %e, "cannot set up Start at login");
    }
    watch::publish_status(state);
    rotations::spawn_scheduler(state);
    tray::create_tray(agent)?;
    if !hidden {
        window_process::open_window(state);
    }
    agent.runtime.spawn(quit_on_signal(agent.clone()));
    watch::watch_as_agent(agent.clone());
    Ok(())
}

/// SIGTERM (logout, `kill`) and SIGINT (Ctrl-C in a terminal) quit as the tray's Quit does,
/// so the server finishes its requests and queued audit outcomes are written.
async fn quit_on_signal(agent: Agent) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; only Quit stops Keygate cleanly");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("asked to stop; stopping the MCP server");
    agent.shut_down().await;
}
