//! What a scheduled rotation tells the user: a log line and an OS notification per event,
//! the same from `keygate serve` and the app's agent. Without a notification service (a
//! headless server) the log line is all there is.

use crate::schedule::Event;

/// The notification's title and body for `event` (nothing secret: events carry none).
pub fn notification_text(event: &Event) -> (String, String) {
    match event {
        Event::Rotated { credential, version } => (
            format!("Rotated {credential}"),
            format!(
                "{credential} is now version {version}; the next call uses it. To undo: Roll back in Credentials, or `keygate cred rollback {credential}`."
            ),
        ),
        Event::Failed { credential, error, retry_at } => (
            format!("Rotating {credential} failed"),
            format!("{error}. Keygate tries again at {retry_at}; the current key still works."),
        ),
        Event::RetireFailed { error } => {
            ("An old key was not revoked".into(), format!("{error}. Keygate tries again."))
        }
    }
}

/// Log `event` and show it through the OS's notification service, if there is one.
pub fn notify(event: &Event) {
    let (summary, body) = notification_text(event);
    match event {
        Event::Rotated { .. } => tracing::info!("{summary}: {body}"),
        _ => tracing::warn!("{summary}: {body}"),
    }
    let shown = notify_rust::Notification::new()
        .appname("Keygate")
        .summary(&summary)
        .body(&body)
        .icon("dialog-password")
        .show();
    if let Err(e) = shown {
        tracing::debug!(error = %e, "no notification service: the rotation is in the log above and in `keygate log`");
    }
}

#[cfg(test)]
mod tests {
    use keygate_vault::Timestamp;

    use super::*;

    #[test]
    fn notifications_say_what_happened_and_what_still_works() {
        let (title, body) = notification_text(&Event::Rotated { credential: "openai_key".into(), version: 3 });
        assert_eq!(title, "Rotated openai_key");
        assert!(body.contains("version 3") && body.contains("keygate cred rollback openai_key"), "{body}");
        let failed = Event::Failed {
            credential: "k".into(),
            error: "rotating k: the test step failed".into(),
            retry_at: Timestamp::from_unix_millis(0),
        };
        let (title, body) = notification_text(&failed);
        assert_eq!(title, "Rotating k failed");
        assert!(body.contains("the current key still works") && body.contains("1970-01-01T00:00:00Z"), "{body}");
    }
}
