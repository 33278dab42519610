//! Scheduled rotations for the long-lived processes (`keygate serve`, the app's agent): on
//! each tick, previous versions whose grace ended are retired, and every `schedule =
//! "max_age"` rotator whose credential is due (or has an attempt in flight, left by a run
//! that died) rotates. A failure is retried with exponential backoff, per credential.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keygate_vault::{Clock, Timestamp, Vault};

use crate::config::{Kind, Rotator, RotatorSet, Schedule};
use crate::engine::{retire_expired, rotate_team};
use crate::publish::{NoTeam, Publish};

/// How often the long-lived processes tick.
pub const TICK: Duration = Duration::from_secs(60);
/// The wait after a first failure; it doubles per failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);
/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What a tick did, one event per credential it touched (for logs and OS notifications).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A rotation finished.
    Rotated {
        /// The credential.
        credential: String,
        /// Its new current version.
        version: i64,
    },
    /// A rotation failed; it is tried again at `retry_at`.
    Failed {
        /// The credential.
        credential: String,
        /// Why (nothing secret).
        error: String,
        /// The next try.
        retry_at: Timestamp,
    },
    /// Retiring a previous version failed (tried again next tick).
    RetireFailed {
        /// Why (nothing secret).
        error: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    next_try: Timestamp,
}

/// Remembers failures between ticks.
#[derive(Debug)]
pub struct Scheduler {
    clock: Arc<dyn Clock>,
    backoff: HashMap<String, Backoff>,
}

impl Scheduler {
    /// A scheduler reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, backoff: HashMap::new() }
    }

    /// Run what is due now; team copies are left alone (see [`Scheduler::tick_team`]).
    pub async fn tick(&mut self, vault: &mut Vault, rotators: &RotatorSet) -> Vec<Event> {
        self.tick_team(vault, rotators, &NoTeam).await
    }

    /// Run what is due now, team copies included when `team` reaches the team.
    pub async fn tick_team(&mut self, vault: &mut Vault, rotators: &RotatorSet, team: &impl Publish) -> Vec<Event> {
        let mut events: Vec<Event> =
            retire_expired(vault, rotators).await.into_iter().map(|error| Event::RetireFailed { error }).collect();
        // Unreadable: every rotation below fails with the vault's reason, as it should.
        let team_copies = vault.team_versions().unwrap_or_default();
        for rotator in rotators.iter().filter(|r| runs_by_itself(r)) {
            let name = rotator.credential.clone();
            if team_copies.contains_key(&name) && !team.reaches_team() {
                continue;
            }
            let now = self.clock.now();
            if self.backoff.get(&name).is_some_and(|b| b.next_try > now) {
                continue;
            }
            let due = match vault.credential_detail(&name) {
                Ok(detail) => detail.info.due || detail.attempt.is_some(),
                Err(e) => {
                    events.push(self.failed(&name, e.to_string()));
                    continue;
                }
            };
            if !due {
                continue;
            }
            match rotate_team(vault, rotator, team).await {
                Ok(report) => {
                    self.backoff.remove(&name);
                    events.push(Event::Rotated { credential: name, version: report.version });
                }
                Err(e) => events.push(self.failed(&name, e.to_string())),
            }
        }
        events
    }

    /// When `rotator` runs next by itself: its due date, or its retry after a failure;
    /// `None` for a manual one.
    pub fn next_rotation(&self, rotator: &Rotator, due_at: Timestamp) -> Option<Timestamp> {
        if !runs_by_itself(rotator) {
            return None;
        }
        Some(match self.backoff.get(&rotator.credential) {
            Some(backoff) => backoff.next_try.max(due_at),
            None => due_at,
        })
    }

    fn failed(&mut self, name: &str, error: String) -> Event {
        let failures = self.backoff.get(name).map_or(0, |b| b.failures) + 1;
        let wait = backoff_after(failures);
        let retry_at = self.clock.now().plus(wait);
        self.backoff.insert(name.to_string(), Backoff { failures, next_try: retry_at });
        Event::Failed { credential: name.to_string(), error, retry_at }
    }
}

/// The wait after `failures` failures in a row: 1 min, 2, 4, ... up to 6 h.
pub fn backoff_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

fn runs_by_itself(rotator: &Rotator) -> bool {
    rotator.schedule == Schedule::MaxAge && rotator.kind != Kind::Manual
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_up_to_six_hours() {
        let minutes: Vec<u64> = (1..=11).map(|n| backoff_after(n).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]);
        assert_eq!(backoff_after(u32::MAX), MAX_BACKOFF);
    }
}
