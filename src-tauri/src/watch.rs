//! Keeps the window and tray current: notices vault changes from any front (the CLI, the
//! server, the app itself) within half a second, and sends rotation reminders at start, on
//! changes and every hour.

use std::time::{Duration, Instant};

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::reminders::{notify, reminders_for};
use crate::state::{AppState, lock};
use crate::tray::refresh_tray;

/// The event the window listens to; it then reloads what it shows.
pub const CHANGED_EVENT: &str = "keygate://changed";
const POLL: Duration = Duration::from_millis(500);
const REMINDER_PERIOD: Duration = Duration::from_secs(3600);

/// Start watching on a thread of its own.
pub fn spawn_watcher<R: Runtime>(app: AppHandle<R>) {
    let spawned = std::thread::Builder::new().name("keygate-watch".into()).spawn(move || watch(&app));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the change watcher; the window will not refresh by itself");
    }
}

fn watch<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let mut marker = None;
    let mut last_hourly: Option<Instant> = None;
    loop {
        let current = state.with_vault(|vault| vault.change_marker()).ok();
        let changed = state.take_changed() || current != marker;
        marker = current;
        let hourly = last_hourly.is_none_or(|at| at.elapsed() >= REMINDER_PERIOD);
        if changed {
            tracing::debug!(?marker, "vault changed; telling the window");
        }
        if changed && let Err(e) = app.emit(CHANGED_EVENT, ()) {
            tracing::warn!(error = %e, "cannot tell the window about a change");
        }
        if changed || hourly {
            send_reminders(&state);
            refresh_tray(app);
        }
        if hourly {
            last_hourly = Some(Instant::now());
        }
        std::thread::sleep(POLL);
    }
}

/// Notify each credential that is due or due soon, unless it was notified in the last day.
fn send_reminders(state: &AppState) {
    let now = state.clock().now();
    let Ok(credentials) = state.with_vault(|vault| vault.list_credentials()) else { return };
    let unsent = lock(&state.reminders).take_unsent(&reminders_for(&credentials, now), now);
    for reminder in unsent {
        let outcome = notify(&reminder, now);
        if let Err(e) = &outcome {
            tracing::warn!(credential = %reminder.credential, error = %e, "no notification service; the reminder shows in the window and tray");
        }
        lock(&state.reminders).notifications_unavailable = outcome.err();
    }
}
