//! `keygate serve`'s scheduled rotations: a tick at start and then every
//! `keygate_rotate::TICK`, config.toml's rotators read afresh each time. Each tick opens the
//! vault on its own connection and closes it after, so the master key is held between ticks
//! only by the server's own vault (once in memory: see RELIABILITY.md, "Secrets in the
//! server's memory"). Each rotation and failure is a log line and, where the session has a
//! notification service, an OS notification, as from the app's agent.

use std::sync::Arc;

use keygate_rotate::{RotatorSet, Scheduler, TICK};
use keygate_team::TeamPublisher;
use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault};

/// Start the scheduler on the current runtime.
pub fn spawn(home: &Home) {
    let home = home.clone();
    tokio::spawn(async move {
        let clock = Arc::new(SystemClock);
        let mut scheduler = Scheduler::new(clock.clone());
        loop {
            tick(&home, &clock, &mut scheduler).await;
            tokio::time::sleep(TICK).await;
        }
    });
}

async fn tick(home: &Home, clock: &Arc<SystemClock>, scheduler: &mut Scheduler) {
    let rotators = match RotatorSet::load(&home.config_path()) {
        Ok(rotators) => rotators,
        Err(e) => return tracing::warn!("scheduled rotations skipped: {e}"),
    };
    let opened = KeySource::from_env().and_then(|key| Vault::open(home, key, clock.clone(), Actor::Server));
    let mut vault = match opened {
        Ok(vault) => vault,
        Err(e) => return tracing::warn!("scheduled rotations skipped: {e}"),
    };
    let events = match team_publisher(vault.id().to_string(), home).await {
        Some(team) => scheduler.tick_team(&mut vault, &rotators, &team).await,
        None => scheduler.tick(&mut vault, &rotators).await,
    };
    events.iter().for_each(keygate_rotate::notify);
}

/// The team to publish team copies' rotations to, when `[team]` is set and reachable (else
/// they wait; the team sync reports why).
async fn team_publisher(vault_id: String, home: &Home) -> Option<TeamPublisher> {
    match TeamPublisher::for_vault(&vault_id, &home.config_path()).await {
        Ok(team) => team,
        Err(e) => {
            tracing::debug!("team credentials' scheduled rotations wait: {e}");
            None
        }
    }
}
