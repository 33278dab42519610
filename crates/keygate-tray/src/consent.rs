//! OAuth sign-ins waiting for the person: listed in the tray and the Agents view, each opening
//! its consent page (served by the running Keygate) in the default browser. The client's name
//! is whatever the client called itself: escaped and cut before anything shows it.

use std::process::{Command, Stdio};

use keygate_mcp::printable;
use keygate_vault::{PendingConsent, Timestamp};
use serde::Serialize;

use crate::error::AppError;
use crate::server::{self, ServerStatus};
use crate::state::AppState;

/// The longest client name shown.
const NAME_CHARS: usize = 40;
/// The most requests listed (a flood of registrations must not fill the tray).
const SHOWN: usize = 5;

/// A waiting request as the Agents view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRow {
    /// The request's id, to open its page with.
    pub id: String,
    /// The client's name as it gave it, made printable and cut.
    pub client_name: String,
    created_at: Timestamp,
    /// When it stops waiting.
    pub expires_at: Timestamp,
}

impl From<PendingConsent> for ConsentRow {
    fn from(pending: PendingConsent) -> Self {
        Self {
            client_name: shown_name(&pending.client_name),
            id: pending.id,
            created_at: pending.created_at,
            expires_at: pending.expires_at,
        }
    }
}

/// The requests waiting now, oldest first; an error when the vault is not open or a request
/// fails its check (shown, never read as "none waiting").
pub fn pending(state: &AppState) -> Result<Vec<ConsentRow>, AppError> {
    let all = state.with_vault(|vault| vault.list_pending_consents())?;
    Ok(all.into_iter().take(SHOWN).map(ConsentRow::from).collect())
}

/// The tray's line when the waiting sign-ins cannot be listed.
pub const TRAY_UNREADABLE: &str = "Waiting sign-ins cannot be read: open Agents";

/// The tray's line for a request: "NAME asks for access (until HH:MM)". `name` is escaped and
/// cut; `&` is doubled because menus read a single one as a keyboard accelerator.
pub fn tray_line(name: &str, until: &str) -> String {
    let name = shown_name(name).replace('&', "&&");
    format!("{name} asks for access (until {until})")
}

/// A client's name made printable and cut, with the invisible characters that reorder or hide
/// text (bidi overrides, zero-width marks) escaped too, so it cannot disguise what follows it.
fn shown_name(name: &str) -> String {
    let invisible =
        |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    printable(name, NAME_CHARS)
        .chars()
        .flat_map(|c| if invisible(c) { c.escape_unicode().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

/// `at` as HH:MM on this computer's clock.
pub fn local_time(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.unix_millis())
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_else(|| "?".to_string())
}

/// Open the consent page of the waiting request `id` in the default browser. Only a request
/// that is waiting now is opened, on the running server's own address.
pub fn open(state: &AppState, id: &str) -> Result<(), AppError> {
    let waiting = state.with_vault(|vault| vault.list_pending_consents())?;
    let Some(request) = waiting.into_iter().find(|r| r.id == id) else {
        return Err(AppError::new(
            "consent_not_pending",
            "That sign-in is no longer waiting (it was answered or it expired): start it again from the agent.",
        ));
    };
    let ServerStatus::Running { address, .. } = server::server_status(state) else {
        return Err(AppError::new(
            "server_not_running",
            "Keygate's MCP server is not running, so nothing serves the consent page: choose Start server.",
        ));
    };
    open_with_desktop(&keygate_mcp::consent_page_url(address, &request.id))
}

/// Hand `url` (a page or a file) to the desktop's opener as one argument (never through a shell).
pub fn open_with_desktop(url: &str) -> Result<(), AppError> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let mut child = Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| AppError::new("no_opener", format!("Cannot start {opener} ({e}): open {url} yourself.")))?;
    // Collected once it exits, so it never lingers as a zombie.
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tray_line_names_the_client_escaped_and_cut() {
        assert_eq!(tray_line("Claude Code", "14:05"), "Claude Code asks for access (until 14:05)");
        let hostile = "Evil\u{1b}[2J\nApp & Co\u{202e}";
        let line = tray_line(hostile, "09:30");
        assert!(!line.chars().any(|c| c.is_control() || c == '\u{202e}'), "{line:?}");
        assert!(line.contains("&&") && line.ends_with(" asks for access (until 09:30)"), "{line:?}");
        let long = tray_line(&"x".repeat(500), "09:30");
        assert!(long.chars().count() < NAME_CHARS + 40, "{long}");
    }

    #[test]
    fn local_time_is_hours_and_minutes() {
        let shown = local_time(Timestamp::from_unix_millis(1_800_000_000_000));
        assert_eq!(shown.len(), 5, "{shown}");
        assert_eq!(shown.as_bytes()[2], b':', "{shown}");
    }
}
