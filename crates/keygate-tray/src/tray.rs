//! The tray icon and its menu: open, the server's state, rotation due, tools held back, OAuth
//! sign-ins waiting for consent (each opens its page), plaintext keys left in agent configs
//! (opens Import), Start at login, quit.
//!
//! tray-icon and muda directly (no Tauri): their items live on the GTK thread (the main
//! thread, in `gtk::main`). What the menu says is worked out wherever the refresh is asked for
//! (it reads the vault), then only the finished lines cross to the GTK thread.

use std::cell::RefCell;

use muda::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::agent;
use crate::autostart::Autostart;
use crate::consent;
use crate::reminders::reminders_for;
use crate::run::Agent;
use crate::server;
use crate::state::AppState;
use crate::window_process::open_window;

/// Menu ids of waiting sign-ins: this prefix, then the request's id.
const CONSENT_ITEM: &str = "consent:";
const IMPORT_ITEM: &str = "import";
const OPEN_ITEM: &str = "open";
const QUIT_ITEM: &str = "quit";
const AUTOSTART_ITEM: &str = "autostart";

/// One line of the menu, as worked out from the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A line to click: its id and text.
    Action { id: String, text: String },
    /// A line that only informs (greyed out).
    Info(String),
    /// A switch: its id, text and whether it is on.
    Switch { id: String, text: String, on: bool },
    /// A separator.
    Separator,
}

fn action(id: &str, text: impl Into<String>) -> Entry {
    Entry::Action { id: id.to_string(), text: text.into() }
}

thread_local! {
    /// The icon, owned by the GTK thread (muda's and tray-icon's items are not `Send`).
    static TRAY: RefCell<Option<TrayIcon>> = const { RefCell::new(None) };
}

/// Put the icon in the tray and answer its menu. On the GTK thread, after `gtk::init`.
pub fn create_tray(agent: &Agent) -> Result<(), String> {
    let menu = build_menu(&menu_entries(agent.state()))?;
    let mut builder =
        TrayIconBuilder::new().with_tooltip("Keygate").with_menu(Box::new(menu)).with_menu_on_left_click(true);
    match icon() {
        Ok(icon) => builder = builder.with_icon(icon),
        Err(e) => tracing::warn!("the tray icon has no picture: {e}"),
    }
    let tray = builder.build().map_err(|e| format!("cannot put Keygate in the tray: {e}"))?;
    TRAY.with(|slot| *slot.borrow_mut() = Some(tray));
    let answering = agent.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| on_menu_event(&answering, event.id().as_ref())));
    Ok(())
}

/// Keygate's icon (the app's, 128x128 RGBA) for the tray.
fn icon() -> Result<Icon, String> {
    const PNG: &[u8] = include_bytes!("../../../src-tauri/icons/icon.png");
    let (rgba, width, height) = decode_rgba(PNG)?;
    Icon::from_rgba(rgba, width, height).map_err(|e| e.to_string())
}

fn decode_rgba(png_bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("the icon is too large")?;
    let mut rgba = vec![0; size];
    let frame = reader.next_frame(&mut rgba).map_err(|e| e.to_string())?;
    if frame.color_type != png::ColorType::Rgba || frame.bit_depth != png::BitDepth::Eight {
        return Err(format!("the icon is {:?} {:?}, not 8-bit RGBA", frame.color_type, frame.bit_depth));
    }
    rgba.truncate(frame.buffer_size());
    Ok((rgba, frame.width, frame.height))
}

/// Rebuild the menu from the current state; from any thread.
pub fn refresh_tray(agent: &Agent) {
    let entries = menu_entries(agent.state());
    gtk::glib::MainContext::default().invoke(move || {
        let menu = match build_menu(&entries) {
            Ok(menu) => menu,
            Err(e) => return tracing::warn!("cannot build the tray menu: {e}"),
        };
        TRAY.with(|slot| {
            if let Some(tray) = slot.borrow().as_ref() {
                tray.set_menu(Some(Box::new(menu)));
            }
        });
    });
}

fn build_menu(entries: &[Entry]) -> Result<Menu, String> {
    let menu = Menu::new();
    for entry in entries {
        let item: Box<dyn IsMenuItem> = match entry {
            Entry::Action { id, text } => Box::new(MenuItem::with_id(id.as_str(), text, true, None)),
            Entry::Info(text) => Box::new(MenuItem::new(text, false, None)),
            Entry::Switch { id, text, on } => Box::new(CheckMenuItem::with_id(id.as_str(), text, true, *on, None)),
            Entry::Separator => Box::new(PredefinedMenuItem::separator()),
        };
        menu.append(item.as_ref()).map_err(|e| e.to_string())?;
    }
    Ok(menu)
}

/// What the menu says now.
pub fn menu_entries(state: &AppState) -> Vec<Entry> {
    let mut entries = vec![action(OPEN_ITEM, "Open Keygate"), Entry::Separator];
    entries.push(Entry::Info(server::server_status(state).tray_line()));
    entries.extend(rotation_lines(state).into_iter().map(Entry::Info));
    entries.extend(held_back_line(crate::servers::held_back(state)).map(Entry::Info));
    entries.extend(team_line(state.home().dir()).map(Entry::Info));
    entries.extend(crate::import_view::tray_line(state.plaintext_keys()).map(|line| action(IMPORT_ITEM, line)));
    match consent::pending(state) {
        Ok(waiting) => entries.extend(waiting.into_iter().map(|request| {
            let line = consent::tray_line(&request.client_name, &consent::local_time(request.expires_at));
            action(&format!("{CONSENT_ITEM}{}", request.id), line)
        })),
        Err(e) if state.vault_is_open() => {
            tracing::warn!(error = %e.message, "cannot list the sign-ins waiting for consent");
            entries.push(action(OPEN_ITEM, consent::TRAY_UNREADABLE));
        }
        Err(_) => {}
    }
    entries.push(Entry::Separator);
    if let Some(autostart) = autostart(state) {
        let on = autostart.is_enabled();
        entries.push(Entry::Switch { id: AUTOSTART_ITEM.into(), text: "Start at login".into(), on });
    }
    entries.push(action(QUIT_ITEM, "Quit"));
    entries
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

fn on_menu_event(agent: &Agent, id: &str) {
    let state = agent.state();
    match id {
        OPEN_ITEM => open_window(state),
        QUIT_ITEM => agent.quit(),
        AUTOSTART_ITEM => toggle_autostart(agent),
        IMPORT_ITEM => {
            agent::request_view(state.home(), "import");
            open_window(state);
        }
        other => {
            if let Some(request) = other.strip_prefix(CONSENT_ITEM)
                && let Err(e) = consent::open(state, request)
            {
                tracing::warn!(code = %e.code, "cannot open the consent page: {}", e.message);
                refresh_tray(agent);
            }
        }
    }
}

/// The login entry for this user and this binary (none where neither is known).
pub fn autostart(state: &AppState) -> Option<Autostart> {
    Autostart::for_user(state.home(), std::env::current_exe().ok()?)
}

fn toggle_autostart(agent: &Agent) {
    let Some(autostart) = autostart(agent.state()) else { return };
    if let Err(e) = autostart.set(!autostart.is_enabled()) {
        tracing::error!(error = %e, "cannot change Start at login");
    }
    refresh_tray(agent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_decodes_to_the_apps_128_pixel_rgba_picture() {
        let (rgba, width, height) = decode_rgba(include_bytes!("../../../src-tauri/icons/icon.png")).expect("icon");
        assert_eq!((width, height, rgba.len()), (128, 128, 128 * 128 * 4));
        assert!(icon().is_ok());
        assert!(decode_rgba(b"not a png").is_err());
    }

    #[test]
    fn with_the_vault_closed_the_menu_opens_says_why_and_quits() {
        let dir = tempfile::tempdir().expect("temp");
        let home = keygate_vault::Home::at(dir.path().join("home"));
        let keys: crate::KeyProvider = Box::new(|| Ok(keygate_vault::KeySource::Keychain));
        let clock = std::sync::Arc::new(keygate_vault::SystemClock);
        let state = AppState::new(home, keys, clock, crate::ServerHost::in_process());
        let entries = menu_entries(&state);
        assert_eq!(
            entries[..4],
            [
                action(OPEN_ITEM, "Open Keygate"),
                Entry::Separator,
                Entry::Info("MCP server stopped (open Keygate for why)".into()),
                Entry::Info("Vault not open (open Keygate for why)".into()),
            ]
        );
        assert_eq!(entries.last(), Some(&action(QUIT_ITEM, "Quit")));
        assert!(!entries.iter().any(|e| matches!(e, Entry::Action { id, .. } if id.starts_with(CONSENT_ITEM))));
    }

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
