//! Keeps the agent current by polling, twice a second, what is cheap to read: the vault's
//! change marker (moved by any front: the CLI, the server, a window), and the small files the
//! processes nudge each other with. It rescans client configs for plaintext keys each minute
//! and after an import (the tray's line), sends rotation reminders, and publishes the agent's
//! status for windows. [`spawn_loop`] is the window's loop too.

use std::time::{Duration, Instant};

use crate::agent::{self, AgentStatus};
use crate::approvals::{self, ApprovalPrompts};
use crate::consent;
use crate::import_view::{self, IMPORTED_FILE};
use crate::refusals::{self, RefusalWatch};
use crate::reminders::{notify, reminders_for};
use crate::run::Agent;
use crate::server::{self, ServerStatus};
use crate::state::{AppState, lock};
use crate::tray::refresh_tray;
use crate::window_process::reap_window;

/// How often both processes look.
pub const POLL: Duration = Duration::from_millis(500);
const REMINDER_PERIOD: Duration = Duration::from_secs(3600);
/// How often the agent rescans client configs for plaintext keys (it reads files).
const IMPORT_SCAN_PERIOD: Duration = Duration::from_secs(60);

/// Run `step` on a thread of its own every [`POLL`] until it returns false.
pub fn spawn_loop(name: &str, mut step: impl FnMut() -> bool + Send + 'static) {
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
        while step() {
            std::thread::sleep(POLL);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start {name}; Keygate will not refresh by itself");
    }
}

/// The agent's loop: reminders, the tray, its published status, and retries a window asks for.
pub fn watch_as_agent(agent: Agent) {
    let home = agent.state().home().clone();
    let mut marker = None;
    let mut nudged = agent::stamp(&home, agent::NUDGE_FILE);
    let mut last_hourly: Option<Instant> = None;
    let mut waiting = Some(Vec::new());
    let mut team_failing = None;
    let mut last_scan: Option<Instant> = None;
    let mut imported = agent::stamp(&home, IMPORTED_FILE);
    let quit = agent::stamp(&home, agent::QUIT_FILE);
    let mut refused = RefusalWatch::starting_at(agent.state().clock().now());
    let mut prompts = ApprovalPrompts::default();
    spawn_loop("keygate-agent-watch", move || {
        let state = agent.state();
        let quit_now = agent::stamp(state.home(), agent::QUIT_FILE);
        if quit_now != quit {
            tracing::info!("the window asked Keygate to quit");
            agent.quit();
            return false;
        }
        let current = state.with_vault(|vault| vault.change_marker()).ok();
        if current != marker {
            // Any refused connection since the last look raises a (rate-limited) notification.
            refusals::notify_new(state, &mut refused);
        }
        // A call waiting for approval changes no row either: one notification per call.
        approvals::prompt_new(state, &mut prompts);
        // A sign-in that expires unanswered changes no row: the tray must drop it anyway.
        let waiting_now = consent::pending(state).ok();
        // The team sync failing (or recovering) changes the tray's line.
        let team_failing_now = keygate_team::read_status(state.home().dir()).and_then(|s| s.failing_since);
        let mut changed =
            state.take_changed() || current != marker || waiting_now != waiting || team_failing_now != team_failing;
        (marker, waiting, team_failing) = (current, waiting_now, team_failing_now);
        let stamp = agent::stamp(state.home(), agent::NUDGE_FILE);
        if stamp != nudged {
            nudged = stamp;
            retry(&agent);
            changed = true;
        }
        let imported_now = agent::stamp(state.home(), IMPORTED_FILE);
        if imported_now != imported || last_scan.is_none_or(|at| at.elapsed() >= IMPORT_SCAN_PERIOD) {
            (imported, last_scan) = (imported_now, Some(Instant::now()));
            changed |= state.set_plaintext_keys(import_view::plaintext_keys(state));
        }
        let hourly = last_hourly.is_none_or(|at| at.elapsed() >= REMINDER_PERIOD);
        if changed || hourly {
            send_reminders(state);
            refresh_tray(&agent);
        }
        if hourly {
            last_hourly = Some(Instant::now());
        }
        publish_status(state);
        reap_window();
        true
    });
}

/// Open the vault or start the server again, whichever failed.
fn retry(agent: &Agent) {
    let state = agent.state();
    if state.vault_error().is_some() && state.open_vault().is_err() {
        return;
    }
    if matches!(server::server_status(state), ServerStatus::Stopped { .. }) {
        agent.block_on(server::start_server(state));
    }
}

/// Write the agent's status for windows, if it changed.
pub fn publish_status(state: &AppState) {
    let status = AgentStatus {
        pid: std::process::id(),
        server: server::server_status(state),
        notifications_unavailable: lock(&state.reminders).notifications_unavailable.clone(),
        created_notice: state.created_notice(),
    };
    if agent::read_status(state.home()).as_ref() == Some(&status) {
        return;
    }
    if let Err(e) = agent::write_status(state.home(), &status) {
        tracing::warn!(error = %e, "cannot publish the agent's status for the window");
    }
}

/// Notify each credential that is due or due soon, unless it was notified in the last day.
fn send_reminders(state: &AppState) {
    let now = state.clock().now();
    let Ok(mut credentials) = state.with_vault(|vault| vault.list_credentials()) else { return };
    // A credential whose rotator runs by itself needs no reminder: its rotation notifies.
    let automatic = crate::rotations::self_rotating(state);
    credentials.retain(|c| !automatic.contains(&c.name));
    let unsent = {
        let mut log = lock(&state.reminders);
        let unsent = log.take_unsent(&reminders_for(&credentials, now), now);
        if !unsent.is_empty()
            && let Err(e) = log.save(state.home().dir())
        {
            tracing::warn!(error = %e, "cannot remember which reminders were sent; a restart may repeat them");
        }
        unsent
    };
    for reminder in unsent {
        let outcome = notify(&reminder, now);
        if let Err(e) = &outcome {
            tracing::warn!(credential = %reminder.credential, error = %e, "no notification service; the reminder shows in the window and tray");
        }
        lock(&state.reminders).notifications_unavailable = outcome.err();
    }
}
