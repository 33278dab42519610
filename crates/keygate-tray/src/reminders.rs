//! Rotation reminders: which credentials are due or due soon, and an OS notification for each,
//! at most once per credential per day. Without a notification service the window and tray
//! still show every reminder.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;

pub use keygate_vault::DUE_SOON;
use keygate_vault::{CredentialInfo, Timestamp};
use serde::Serialize;

const DAY: Duration = Duration::from_secs(24 * 3600);
/// Where the agent remembers when it last notified each credential, so that restarting
/// Keygate does not notify again the same day.
const SENT_FILE: &str = ".reminders-sent.json";

/// One credential that needs rotating soon or now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The credential's name.
    pub credential: String,
    /// When its current version is (or was) due.
    pub due_at: Timestamp,
    /// Whether that time has passed.
    pub overdue: bool,
}

impl Reminder {
    /// The sentence a notification or banner shows.
    pub fn message(&self, now: Timestamp) -> String {
        let date = self.due_at.rfc3339();
        let date = date.get(..10).unwrap_or(&date);
        let when = if self.overdue {
            format!("is due for rotation (since {date})")
        } else {
            let days = self.due_at.since(now).as_secs().div_ceil(DAY.as_secs()).max(1);
            let plural = if days == 1 { "" } else { "s" };
            format!("is due for rotation in {days} day{plural} ({date})")
        };
        format!("{} {when}. Choose Rotate in its row of Keygate's Credentials view.", self.credential)
    }
}

/// Whether `credential` is not due yet but will be within [`DUE_SOON`] (of `now`, which the
/// vault's own flag was computed against when the list was read).
pub fn due_soon(credential: &CredentialInfo, now: Timestamp) -> bool {
    !credential.due && credential.due_at <= now.plus(DUE_SOON)
}

/// The credentials that are due, or due within [`DUE_SOON`], most urgent first.
pub fn reminders_for(credentials: &[CredentialInfo], now: Timestamp) -> Vec<Reminder> {
    let mut reminders: Vec<Reminder> = credentials
        .iter()
        .filter(|c| c.due || due_soon(c, now))
        .map(|c| Reminder { credential: c.name.clone(), due_at: c.due_at, overdue: c.due || c.due_at <= now })
        .collect();
    reminders.sort_by_key(|r| r.due_at);
    reminders
}

/// What was notified, and whether notifications work.
#[derive(Debug, Default)]
pub struct ReminderLog {
    last_sent: HashMap<String, Timestamp>,
    /// Why the last notification failed, if it did; cleared by one that succeeds.
    pub notifications_unavailable: Option<String>,
}

impl ReminderLog {
    /// The log kept in `dir`; empty when there is none yet or it cannot be read.
    pub fn load(dir: &Path) -> Self {
        let sent: HashMap<String, i64> = std::fs::read(dir.join(SENT_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let last_sent = sent.into_iter().map(|(name, millis)| (name, Timestamp::from_unix_millis(millis))).collect();
        Self { last_sent, notifications_unavailable: None }
    }

    /// Keep the log in `dir`.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let sent: HashMap<&str, i64> =
            self.last_sent.iter().map(|(name, at)| (name.as_str(), at.unix_millis())).collect();
        crate::agent::write_json(&dir.join(SENT_FILE), &sent)
    }

    /// The reminders not notified in the last day, marked as notified now.
    pub fn take_unsent(&mut self, reminders: &[Reminder], now: Timestamp) -> Vec<Reminder> {
        let fresh: Vec<Reminder> = reminders
            .iter()
            .filter(|r| self.last_sent.get(&r.credential).is_none_or(|&sent| now.since(sent) >= DAY))
            .cloned()
            .collect();
        for reminder in &fresh {
            self.last_sent.insert(reminder.credential.clone(), now);
        }
        fresh
    }
}

/// Show one OS notification.
pub fn notify(reminder: &Reminder, now: Timestamp) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("Keygate")
        .summary(&format!("Rotate {}", reminder.credential))
        .body(&reminder.message(now))
        .icon("dialog-password")
        .show()
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

    fn credential(name: &str, due_in: i64) -> CredentialInfo {
        let due_at = Timestamp::from_unix_millis(NOW.unix_millis() + due_in * 3_600_000);
        CredentialInfo {
            name: name.into(),
            version: 1,
            created_at: NOW,
            rotated_at: None,
            max_age_days: 30,
            due: due_in <= 0,
            due_soon: due_in > 0 && due_in <= 72,
            due_at,
        }
    }

    #[test]
    fn due_and_due_within_three_days_are_reminded_most_urgent_first() {
        let credentials = [credential("later", 24 * 4), credential("soon", 48), credential("late", -5)];
        let reminders = reminders_for(&credentials, NOW);
        let names: Vec<_> = reminders.iter().map(|r| r.credential.as_str()).collect();
        assert_eq!(names, ["late", "soon"]);
        assert!(reminders[0].overdue && !reminders[1].overdue);
    }

    #[test]
    fn at_most_one_notification_per_credential_per_day() {
        let mut log = ReminderLog::default();
        let reminders = reminders_for(&[credential("a", 1), credential("b", 2)], NOW);
        assert_eq!(log.take_unsent(&reminders, NOW).len(), 2);
        let later = NOW.plus(Duration::from_secs(23 * 3600));
        assert!(log.take_unsent(&reminders, later).is_empty(), "not again within the day");
        let next_day = NOW.plus(DAY);
        assert_eq!(log.take_unsent(&reminders, next_day).len(), 2);
    }

    #[test]
    fn a_restart_remembers_what_was_notified_today() {
        let dir = tempfile::tempdir().expect("temp");
        let reminders = reminders_for(&[credential("a", 1)], NOW);
        let mut log = ReminderLog::load(dir.path());
        assert_eq!(log.take_unsent(&reminders, NOW).len(), 1);
        log.save(dir.path()).expect("save");
        let mut restarted = ReminderLog::load(dir.path());
        assert!(restarted.take_unsent(&reminders, NOW.plus(Duration::from_secs(3600))).is_empty());
        assert_eq!(restarted.take_unsent(&reminders, NOW.plus(DAY)).len(), 1);
    }

    #[test]
    fn messages_say_when_and_how_to_rotate() {
        let soon = &reminders_for(&[credential("scavio_api_key", 30)], NOW)[0];
        let text = soon.message(NOW);
        assert!(text.starts_with("scavio_api_key is due for rotation in 2 days"), "{text}");
        assert!(text.ends_with("Choose Rotate in its row of Keygate's Credentials view."), "{text}");
        assert!(!text.contains("keygate cred"), "points at the button, not the CLI: {text}");
        let late = &reminders_for(&[credential("k", -1)], NOW)[0];
        assert!(late.message(NOW).starts_with("k is due for rotation (since "), "{}", late.message(NOW));
    }
}
