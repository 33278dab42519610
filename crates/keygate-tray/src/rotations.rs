//! Rotation in the app: the agent's scheduled rotations (keygate-rotate's Scheduler on a
//! thread of its own with its own vault connection, so a slow provider never holds the
//! window's vault) with an OS notification for each success and failure, and what the
//! Credentials view shows of each credential's rotator.

use std::sync::Arc;

use keygate_rotate::{Event, Kind, RotatorSet, Scheduler, TICK};
use keygate_team::TeamPublisher;
use keygate_vault::{Actor, CredentialInfo, Home, Timestamp, Vault, VersionState};
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

/// One tick; team copies rotate too when the team is reachable (published there first).
async fn tick(scheduler: &mut Scheduler, vault: &mut Vault, set: &RotatorSet, home: &Home) -> Vec<Event> {
    match TeamPublisher::for_vault(vault.id(), &home.config_path()).await {
        Ok(Some(team)) => scheduler.tick_team(vault, set, &team).await,
        Ok(None) | Err(_) => scheduler.tick(vault, set).await,
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
                (Ok(mut vault), Ok(set)) => runtime
                    .block_on(tick(&mut scheduler, &mut vault, &set, &home))
                    .iter()
                    .for_each(keygate_rotate::notify),
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
