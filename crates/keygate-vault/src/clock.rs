//! Time as a value passed in, so expiry and rotation logic is tested without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, as milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This instant plus `duration`, saturating instead of overflowing.
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// An RFC 3339 time (any offset, any fraction of a second), to the millisecond; `None`
    /// if `text` is not one or lies outside what a timestamp holds.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok().map(Self)
    }

    /// RFC 3339 in UTC to the second, e.g. `2026-11-23T21:50:24Z`.
    pub fn rfc3339(self) -> String {
        let seconds = self.0.div_euclid(1000);
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| format!("@{seconds}"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

/// Where the vault reads the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // Whole seconds and the milliseconds within one: dividing the nanoseconds instead is a
        // 128-bit division, on every token check.
        let millis = |since: Duration| {
            let seconds = i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 1000);
            seconds.saturating_mul(1000).saturating_add(i64::from(since.subsec_millis()))
        };
        Timestamp(match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => millis(since),
            Err(before) => millis(before.duration()).saturating_neg(),
        })
    }
}

/// A clock that moves only when told to: for tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.0))
    }

    /// Move the clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_to_the_second() {
        assert_eq!(Timestamp::from_unix_millis(1_700_000_000_999).rfc3339(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn parses_rfc3339_to_the_millisecond_and_refuses_anything_else() {
        let parse = Timestamp::parse_rfc3339;
        assert_eq!(parse("2023-11-14T22:13:20.999999999Z"), Some(Timestamp::from_unix_millis(1_700_000_000_999)));
        assert_eq!(parse("2023-11-14T23:13:20+01:00"), Some(Timestamp::from_unix_millis(1_700_000_000_000)));
        for bad in ["", "yesterday", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock_in_milliseconds() {
        let wall = || OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let before = wall();
        let now = i128::from(SystemClock.now().unix_millis());
        assert!((before..=wall()).contains(&now), "{now} is not between two readings from {before}");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_unix_millis(1000));
        assert_eq!(clock.now().unix_millis(), 1000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now().unix_millis(), 3000);
    }

    #[test]
    fn since_never_goes_negative() {
        let a = Timestamp::from_unix_millis(5000);
        let b = Timestamp::from_unix_millis(2000);
        assert_eq!(a.since(b), Duration::from_secs(3));
        assert_eq!(b.since(a), Duration::ZERO);
    }
}
