//! Rotation in the app: the agent's scheduled rotations (keygate-rotate's Scheduler on a
//! thread of its own with its own vault connection, so a slow provider never holds the
//! window's vault) with an OS notification for each success and failure, and what the
//! Credentials view shows of each credential's rotator.

use std::sync::Arc;

use keygate_rotate::{Event, Kind, RotatorSet, Scheduler, TICK};
use keygate_vault::{Actor, CredentialInfo, Timestamp, Vault, VersionState};
use serde::Serialize;

use crate::state::AppState;

/// What the Credentials view shows of a credential's rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotationSummary {
    /// The rotator's kind (`openai`, `command`, `manual`, ...), if config.toml has one.
    pub rotator: Option<String>,
    /// When it rotates by itself next (its due date); `None`: manual or no rotator.
    pub next_rotation: Option<Timestamp>,
    /// A previous version is kept, so Roll back can restore it.
    pub has_previous: bool,
    /// A rotation that did not finish (the next run finishes it).
    pub in_flight: bool,
    /// How long the previous version is kept after a rotation, in seconds.
    pub grace_secs: i64,
}

/// The rotators in the home's config.toml; none when it cannot be read (the view says so
/// through the config header, which shows the load error).
pub fn rotators(state: &AppState) -> RotatorSet {
    RotatorSet::load(&state.home().config_path()).unwrap_or_default()
}

/// The credentials whose rotator runs by itself (`schedule = "max_age"`, not manual).
pub fn self_rotating(state: &AppState) -> std::collections::HashSet<String> {
    rotators(state).iter().filter(|r| runs_by_itself(r)).map(|r| r.credential.clone()).collect()
}

fn runs_by_itself(rotator: &keygate_rotate::Rotator) -> bool {
    rotator.schedule == keygate_rotate::Schedule::MaxAge && rotator.kind != Kind::Manual
}

/// `info`'s rotation summary.
pub fn summary(vault: &Vault, rotators: &RotatorSet, info: &CredentialInfo) -> RotationSummary {
    let Ok(detail) = vault.credential_detail(&info.name) else { return RotationSummary::default() };
    let rotator = rotators.get(&info.name);
    let scheduled = rotator.is_some_and(runs_by_itself);
    RotationSummary {
        rotator: rotator.map(|r| r.kind.word().to_string()),
        next_rotation: scheduled.then_some(info.due_at),
        has_previous: detail.versions.iter().any(|v| v.state == VersionState::Previous),
        in_flight: detail.attempt.is_some(),
        grace_secs: detail.grace_secs,
    }
}

/// Start the agent's scheduled rotations. Each tick opens the vault on its own connection and
/// closes it after (the master key is not kept in a second place between ticks).
pub fn spawn_scheduler(state: &AppState) {
    let (home, clock) = (state.home().clone(), Arc::clone(state.clock()));
    let keys = state.key_source_fn();
    let spawned = std::thread::Builder::new().name("keygate-rotations".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return tracing::error!(error = %e, "scheduled rotations are off: no async runtime"),
        };
        let mut scheduler = Scheduler::new(Arc::clone(&clock));
        loop {
            let opened =
                (keys.as_ref())().and_then(|source| Vault::open(&home, source, Arc::clone(&clock), Actor::App));
            match (opened, RotatorSet::load(&home.config_path())) {
                (Ok(mut vault), Ok(set)) => runtime.block_on(scheduler.tick(&mut vault, &set)).iter().for_each(notify),
                (Err(e), _) => tracing::debug!("scheduled rotations wait for the vault: {e}"),
                (_, Err(e)) => tracing::warn!("scheduled rotations skipped: {e}"),
            }
            std::thread::sleep(TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start scheduled rotations");
    }
}

/// The notification's title and body for `event`.
pub fn notification_text(event: &Event) -> (String, String) {
    match event {
        Event::Rotated { credential, version } => (
            format!("Rotated {credential}"),
            format!(
                "{credential} is now version {version}; the next call uses it. Roll back is in its row of Credentials."
            ),
        ),
        Event::Failed { credential, error, retry_at } => (
            format!("Rotating {credential} failed"),
            format!("{error}. Keygate tries again at {retry_at}; the current key still works."),
        ),
        Event::RetireFailed { error } => {
            ("An old key was not revoked".into(), format!("{error}. Keygate tries again."))
        }
        other => ("Keygate rotation".into(), format!("{other:?}")),
    }
}

fn notify(event: &Event) {
    let (summary, body) = notification_text(event);
    match event {
        Event::Rotated { .. } => tracing::info!("{summary}"),
        _ => tracing::warn!("{summary}: {body}"),
    }
    let shown = notify_rust::Notification::new()
        .appname("Keygate")
        .summary(&summary)
        .body(&body)
        .icon("dialog-password")
        .show();
    if let Err(e) = shown {
        tracing::warn!(error = %e, "no notification service; the rotation shows in the Credentials view");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_say_what_happened_and_what_still_works() {
        let (title, body) = notification_text(&Event::Rotated { credential: "openai_key".into(), version: 3 });
        assert_eq!(title, "Rotated openai_key");
        assert!(body.contains("version 3"), "{body}");
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
