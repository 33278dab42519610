//! The window's half of keeping current (the agent's is keygate-tray's watch.rs): twice a
//! second it looks at the vault's change marker, the agent's published status and the fronted
//! servers' states, tells the page when any moved, comes to the front when asked, and closes
//! when the agent is gone.

use tauri::{AppHandle, Emitter, Manager, Runtime};

use keygate_tray::watch::spawn_loop;

use crate::agent::{self, AgentStatus};
use crate::state::AppState;
use crate::window::show_window;

/// The event the window listens to; it then reloads what it shows.
pub const CHANGED_EVENT: &str = "keygate://changed";
/// What the window hears when the tray asks it to show a tab; the payload is the tab.
pub const VIEW_EVENT: &str = "keygate://view";

/// The window's loop: tell the page about changes, come to the front when asked, and close
/// when the agent is gone (Quit).
pub fn watch_as_window<R: Runtime>(app: AppHandle<R>) {
    let mut marker = None;
    let mut published: Option<AgentStatus> = None;
    let mut servers = None;
    let mut focus = agent::stamp(app.state::<AppState>().home(), agent::FOCUS_FILE);
    let mut agent_seen = false;
    spawn_loop("keygate-window-watch", move || {
        let state = app.state::<AppState>();
        let agent_running = agent::agent_running(state.home());
        if agent_seen && !agent_running {
            tracing::info!("Keygate quit; closing the window");
            app.exit(0);
            return false;
        }
        agent_seen |= agent_running;
        let current = state.with_vault(|vault| vault.change_marker()).ok();
        let status = agent::read_status(state.home());
        // The fronted servers' live states (started, stopped when idle, failed) change no vault row.
        let servers_now = agent::stamp(state.home(), keygate_mcp::STATUS_FILE);
        let changed = state.take_changed() || current != marker || status != published || servers_now != servers;
        (marker, published, servers) = (current, status, servers_now);
        if changed && let Err(e) = app.emit(CHANGED_EVENT, ()) {
            tracing::warn!(error = %e, "cannot tell the window about a change");
        }
        let stamp = agent::stamp(state.home(), agent::FOCUS_FILE);
        if stamp != focus {
            focus = stamp;
            show_window(&app);
            if let Some(view) = agent::take_requested_view(state.home())
                && let Err(e) = app.emit(VIEW_EVENT, view)
            {
                tracing::warn!(error = %e, "cannot tell the window which view to show");
            }
        }
        true
    });
}
