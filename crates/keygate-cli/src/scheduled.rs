//! `keygate serve`'s scheduled rotations: a tick at start and then every
//! `keygate_rotate::TICK`, config.toml's rotators read afresh each time. Each tick opens the
//! vault on its own connection and closes it after, so the master key is held between ticks
//! only by the server's own vault (once in memory: see RELIABILITY.md, "Secrets in the
//! server's memory"). A headless server has no desktop to notify: each rotation and failure
//! is a log line (the app's agent notifies through the OS).

use std::sync::Arc;

use keygate_rotate::{Event, RotatorSet, Scheduler, TICK};
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
    for event in scheduler.tick(&mut vault, &rotators).await {
        log(&event);
    }
}

fn log(event: &Event) {
    match event {
        Event::Rotated { credential, version } => {
            tracing::info!(credential = %credential, version, "scheduled rotation done");
        }
        Event::Failed { credential, error, retry_at } => {
            tracing::warn!(credential = %credential, retry_at = %retry_at, "scheduled rotation failed: {error}");
        }
        Event::RetireFailed { error } => tracing::warn!("retiring a previous version failed: {error}"),
        _ => tracing::info!("{event:?}"),
    }
}
