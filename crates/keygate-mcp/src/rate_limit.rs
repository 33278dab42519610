//! A limit on failed authentication. Failures drain a token bucket; while it is empty the
//! server stops checking requests whose token id it has not recently seen succeed, so a flood
//! of bad tokens costs the vault nothing and agents with good tokens carry on.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

/// Failures allowed per second once the burst is spent.
const FAILURES_PER_SECOND: f64 = 20.0;
/// Failures allowed at once.
const FAILURE_BURST: f64 = 50.0;
/// How many recently good token ids to remember.
const MAX_REMEMBERED: usize = 10_000;

/// The failure bucket and the ids that recently authenticated.
#[derive(Debug)]
pub struct FailureLimiter {
    bucket: Mutex<Bucket>,
    recently_good: Mutex<HashSet<String>>,
}

#[derive(Debug)]
struct Bucket {
    available: f64,
    updated: Instant,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        Self {
            bucket: Mutex::new(Bucket { available: FAILURE_BURST, updated: Instant::now() }),
            recently_good: Mutex::new(HashSet::new()),
        }
    }
}

impl FailureLimiter {
    /// Whether failures have used up the allowance.
    pub fn is_flooded(&self) -> bool {
        self.refilled(|bucket| bucket.available < 1.0)
    }

    /// Count one failed authentication.
    pub fn record_failure(&self) {
        self.refilled(|bucket| bucket.available = (bucket.available - 1.0).max(0.0));
    }

    /// Remember a token id that authenticated.
    pub fn record_success(&self, token_id: &str) {
        let mut good = self.recently_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if good.len() >= MAX_REMEMBERED {
            good.clear();
        }
        if !good.contains(token_id) {
            good.insert(token_id.to_string());
        }
    }

    /// Whether this id authenticated recently (it still gets a full check).
    pub fn recently_good(&self, token_id: &str) -> bool {
        self.recently_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(token_id)
    }

    fn refilled<T>(&self, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut bucket = self.bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.available = (bucket.available + elapsed * FAILURES_PER_SECOND).min(FAILURE_BURST);
        bucket.updated = now;
        f(&mut bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_floods_and_good_ids_are_remembered() {
        let limiter = FailureLimiter::default();
        assert!(!limiter.is_flooded());
        for _ in 0..(FAILURE_BURST as usize) {
            limiter.record_failure();
        }
        assert!(limiter.is_flooded());
        assert!(!limiter.recently_good("abc"));
        limiter.record_success("abc");
        assert!(limiter.recently_good("abc"));
    }
}
