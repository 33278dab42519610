//! `keygate serve`'s scheduled rotations: its own vault connection, a tick at start and then
//! every `keygate_rotate::TICK`, config.toml's rotators read afresh each time. A headless
//! server has no desktop to notify: each rotation and failure is a log line (the app's agent
//! notifies through the OS).

use std::sync::Arc;

use keygate_rotate::{Event, RotatorSet, Scheduler, TICK};
use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault};

/// Start the scheduler on the current runtime; a vault that cannot be opened is logged and
/// leaves the server serving without it.
pub fn spawn(home: &Home) {
    let clock = Arc::new(SystemClock);
    let vault = KeySource::from_env().and_then(|key| Vault::open(home, key, clock.clone(), Actor::Server));
    let mut vault = match vault {
        Ok(vault) => vault,
        Err(e) => {
            tracing::warn!("scheduled rotations are off: {e}");
            return;
        }
    };
    let config = home.config_path();
    tokio::spawn(async move {
        let mut scheduler = Scheduler::new(clock);
        loop {
            match RotatorSet::load(&config) {
                Ok(rotators) => {
                    for event in scheduler.tick(&mut vault, &rotators).await {
                        log(&event);
                    }
                }
                Err(e) => tracing::warn!("scheduled rotations skipped: {e}"),
            }
            tokio::time::sleep(TICK).await;
        }
    });
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
