//! The tray icon and its menu: open, the server's state, rotation due, tools held back, OAuth
//! sign-ins waiting for consent (each opens its page), plaintext keys left in agent configs
//! (opens Import), Start at login, quit.

use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use std::process::Child;
use std::sync::Mutex;

use crate::agent::{self, FOCUS_FILE, WINDOW_FLAG};
use crate::autostart::Autostart;
use crate::consent;
use crate::reminders::reminders_for;
use crate::server::{self, stop_server};
use crate::state::{AppState, lock};

const TRAY: &str = "keygate";
/// Menu ids of waiting sign-ins: this prefix, then the request's id.
const CONSENT_ITEM: &str = "consent:";
const IMPORT_ITEM: &str = "import";

/// Put the icon in the tray. Succeeds even where no tray host runs.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Keygate")
        .menu(&build_menu(app)?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Rebuild the menu from the current state.
pub fn refresh_tray<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY) else { return };
    match build_menu(app) {
        Ok(menu) => {
            if let Err(e) = tray.set_menu(Some(menu)) {
                tracing::warn!(error = %e, "cannot update the tray menu");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot build the tray menu"),
    }
}

fn build_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let state = app.state::<AppState>();
    let info = |text: String| MenuItem::new(app, text, false, None::<&str>);
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, "open", "Open Keygate", true, None::<&str>)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&info(server::server_status(&state).tray_line())?)?;
    for line in rotation_lines(&state) {
        menu.append(&info(line)?)?;
    }
    if let Some(line) = held_back_line(crate::servers::held_back(&state)) {
        menu.append(&info(line)?)?;
    }
    if let Some(line) = team_line(state.home().dir()) {
        menu.append(&info(line)?)?;
    }
    if let Some(line) = crate::import_view::tray_line(state.plaintext_keys()) {
        menu.append(&MenuItem::with_id(app, IMPORT_ITEM, line, true, None::<&str>)?)?;
    }
    match consent::pending(&state) {
        Ok(waiting) => {
            for request in waiting {
                let line = consent::tray_line(&request.client_name, &consent::local_time(request.expires_at));
                let id = format!("{CONSENT_ITEM}{}", request.id);
                menu.append(&MenuItem::with_id(app, id, line, true, None::<&str>)?)?;
            }
        }
        Err(e) if state.vault_is_open() => {
            tracing::warn!(error = %e.message, "cannot list the sign-ins waiting for consent");
            menu.append(&MenuItem::with_id(app, "open", consent::TRAY_UNREADABLE, true, None::<&str>)?)?;
        }
        Err(_) => {}
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if let Some(autostart) = autostart(&state) {
        let on = autostart.is_enabled();
        menu.append(&CheckMenuItem::with_id(app, "autostart", "Start at login", true, on, None::<&str>)?)?;
    }
    menu.append(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

/// "N credentials due for rotation" and "N due within 3 days", when there are any.
fn rotation_lines(state: &AppState) -> Vec<String> {
    let now = state.clock().now();
    let Ok(mut credentials) = state.with_vault(|vault| vault.list_credentials()) else {
        return vec!["Vault not open (open Keygate for why)".to_string()];
    };
    // As for reminders: a credential whose rotator runs by itself is not "due" for the person.
    let automatic = crate::rotations::self_rotating(state);
    credentials.retain(|c| !automatic.contains(&c.name));
    let reminders = reminders_for(&credentials, now);
    let due = reminders.iter().filter(|r| r.overdue).count();
    let soon = reminders.len() - due;
    let mut lines = Vec::new();
    if due > 0 {
        lines.push(format!("{due} credential{} due for rotation", if due == 1 { "" } else { "s" }));
    }
    if soon > 0 {
        lines.push(format!("{soon} credential{} due within 3 days", if soon == 1 { "" } else { "s" }));
    }
    lines
}

/// "Team vault unreachable since 14:05" while the team sync fails (calls go on with the last
/// synced versions).
fn team_line(home: &std::path::Path) -> Option<String> {
    let since = keygate_team::read_status(home)?.failing_since?;
    let at = consent::local_time(keygate_vault::Timestamp::from_unix_millis(since));
    Some(format!("Team vault unreachable since {at}"))
}

/// "N tools held back" when fronted servers have new or changed tools waiting for approval.
fn held_back_line(count: usize) -> Option<String> {
    (count > 0).then(|| format!("{count} tool{} held back (review in Servers)", if count == 1 { "" } else { "s" }))
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        "open" => open_window(&app.state::<AppState>()),
        "quit" => quit(app),
        "autostart" => toggle_autostart(app),
        IMPORT_ITEM => {
            let state = app.state::<AppState>();
            agent::request_view(state.home(), "import");
            open_window(&state);
        }
        other => {
            if let Some(request) = other.strip_prefix(CONSENT_ITEM)
                && let Err(e) = consent::open(&app.state::<AppState>(), request)
            {
                tracing::warn!(code = %e.code, "cannot open the consent page: {}", e.message);
                refresh_tray(app);
            }
        }
    }
}

/// The login entry for this user and this binary (none where neither is known).
pub fn autostart(state: &AppState) -> Option<Autostart> {
    Autostart::for_user(state.home(), std::env::current_exe().ok()?)
}

fn toggle_autostart<R: Runtime>(app: &AppHandle<R>) {
    let Some(autostart) = autostart(&app.state::<AppState>()) else { return };
    if let Err(e) = autostart.set(!autostart.is_enabled()) {
        tracing::error!(error = %e, "cannot change Start at login");
    }
    refresh_tray(app);
}

/// The window process this agent started, if any.
static WINDOW: Mutex<Option<Child>> = Mutex::new(None);

/// Collect the window process once it has exited, so none lingers as a zombie.
pub fn reap_window() {
    let mut window = lock(&WINDOW);
    if window.as_mut().is_some_and(|child| !matches!(child.try_wait(), Ok(None))) {
        *window = None;
    }
}

/// Bring the window to the front, starting a window process if none is open.
pub fn open_window(state: &AppState) {
    let mut window = lock(&WINDOW);
    if window.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None))) {
        agent::nudge(state.home(), FOCUS_FILE);
        return;
    }
    match agent::spawn_self(WINDOW_FLAG) {
        Ok(child) => *window = Some(child),
        Err(e) => tracing::error!(error = %e, "cannot open the Keygate window"),
    }
}

/// Stop the server cleanly (open requests finish, outcomes are written), then exit; the
/// window sees the agent go and closes too.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    tauri::async_runtime::block_on(shut_down(app));
}

/// What Quit and a stop signal do.
pub async fn shut_down<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    stop_server(&state, "Keygate quit").await;
    crate::watch::publish_status(&state);
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use super::{held_back_line, team_line};

    #[test]
    fn held_back_tools_get_a_line_only_when_there_are_any() {
        assert_eq!(held_back_line(0), None);
        assert_eq!(held_back_line(1).as_deref(), Some("1 tool held back (review in Servers)"));
        assert_eq!(held_back_line(3).as_deref(), Some("3 tools held back (review in Servers)"));
    }

    #[test]
    fn a_failing_team_sync_gets_a_line_and_a_working_one_none() {
        let home = tempfile::tempdir().expect("home");
        assert_eq!(team_line(home.path()), None, "no team");
        let mut status = keygate_team::TeamStatus { synced_at: Some(1), ..Default::default() };
        keygate_team::write_status(home.path(), &status).expect("write");
        assert_eq!(team_line(home.path()), None, "synced");
        status.failing_since = Some(1_800_000_000_000);
        keygate_team::write_status(home.path(), &status).expect("write");
        let line = team_line(home.path()).expect("a line");
        assert!(
            line.starts_with("Team vault unreachable since ")
                && line.len() == "Team vault unreachable since 00:00".len(),
            "{line}"
        );
    }
}
