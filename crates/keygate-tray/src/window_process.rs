//! The window process the agent starts (`keygate-window`, beside `keygate-app`): at most one,
//! brought to the front when it runs, collected when it exits.

use std::process::Child;
use std::sync::Mutex;

use crate::agent::{self, FOCUS_FILE, WINDOW_EXE};
use crate::state::{AppState, lock};

/// The window process this agent started, if any.
static WINDOW: Mutex<Option<Child>> = Mutex::new(None);

/// Collect the window process once it has exited, so none lingers as a zombie.
pub fn reap_window() {
    let mut window = lock(&WINDOW);
    if window.as_mut().is_some_and(|child| !matches!(child.try_wait(), Ok(None))) {
        *window = None;
    }
}

/// Ask the window this agent started to close (SIGTERM), as Quit does: a window still starting
/// might otherwise never see the agent it came up after, and stay open alone.
pub fn end_window() {
    let mut window = lock(&WINDOW);
    let Some(child) = window.as_mut() else { return };
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let Ok(pid) = i32::try_from(child.id()) else { return };
    if let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM) {
        tracing::warn!(error = %e, "cannot close the Keygate window");
    }
}

/// Bring the window to the front, starting a window process if none is open.
pub fn open_window(state: &AppState) {
    let mut window = lock(&WINDOW);
    if window.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None))) {
        agent::nudge(state.home(), FOCUS_FILE);
        return;
    }
    match agent::spawn_sibling(WINDOW_EXE, &[]) {
        Ok(child) => *window = Some(child),
        Err(e) => tracing::error!(error = %e, "cannot open the Keygate window"),
    }
}
