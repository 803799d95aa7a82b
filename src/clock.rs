//! Identifiers and timestamps in the one format the whole system uses:
//! UUIDv7 text ids and RFC 3339 UTC times with fixed microsecond precision,
//! so that text order is time order in SQLite indexes.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn stamp(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(STAMP)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn now_stamp() -> String {
    stamp(now())
}

pub fn stamp_in(d: Duration) -> String {
    stamp(now() + d)
}

/// Parses any RFC 3339 time a client sends and returns it in our stored
/// format; None when it does not parse or cannot be expressed in UTC.
pub fn parse_rfc3339(s: &str) -> Option<String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    t.checked_to_offset(UtcOffset::UTC).map(stamp)
}

/// Where "now" comes from for code whose behaviour depends on time passing
/// (the job runner's schedules, leases and back-off), so tests can move time
/// forward instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        now()
    }
}

/// A clock that stands still until a test moves it.
pub struct TestClock(std::sync::Mutex<OffsetDateTime>);

impl TestClock {
    pub fn at(t: OffsetDateTime) -> TestClock {
        TestClock(std::sync::Mutex::new(t))
    }

    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += d;
    }

    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_like_times() {
        let a = stamp(OffsetDateTime::UNIX_EPOCH + Duration::seconds(9));
        let b = stamp(OffsetDateTime::UNIX_EPOCH + Duration::seconds(10));
        assert!(a < b, "{a} < {b}");
        assert_eq!(a, "1970-01-01T00:00:09.000000Z");
    }

    #[test]
    fn client_times_are_normalised_to_utc() {
        assert_eq!(
            parse_rfc3339("2026-01-02T03:04:05+02:00").as_deref(),
            Some("2026-01-02T01:04:05.000000Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59-23:59"), None);
    }
}
