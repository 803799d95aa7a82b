//! When a job runs: every N seconds, daily at a wall-clock time in a time
//! zone, or once at a given instant. Stored as text in the `jobs` table
//! (`every 30s`, `daily 03:00 Europe/Paris`, `at 2026-12-04T12:00:00.000000Z`)
//! so an operator reading the database or `harmonia jobs` sees it plainly.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::clock;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Every { secs: u64 },
    Daily { hour: u8, minute: u8, zone: String },
    At(OffsetDateTime),
}

impl Schedule {
    pub fn every(secs: u64) -> Schedule {
        Schedule::Every { secs: secs.max(1) }
    }

    /// `at` is `HH:MM`; `zone` an IANA name such as `Europe/Paris` or `UTC`.
    pub fn daily(at: &str, zone: &str) -> Result<Schedule, String> {
        let (hour, minute) = parse_hh_mm(at)?;
        jiff::tz::TimeZone::get(zone).map_err(|_| format!("unknown time zone {zone:?}"))?;
        Ok(Schedule::Daily {
            hour,
            minute,
            zone: zone.to_string(),
        })
    }

    pub fn is_once(&self) -> bool {
        matches!(self, Schedule::At(_))
    }

    /// The first time this schedule fires for a job created at `now`:
    /// recurring intervals start right away (a restart catches up), daily
    /// jobs at their next time of day, one-off jobs at their instant (right
    /// away when it has passed: a one-off job runs once, never zero times).
    pub fn first(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Schedule::Every { .. } => Some(now),
            Schedule::At(t) => Some(*t),
            Schedule::Daily { .. } => self.next_after(now),
        }
    }

    /// The next time strictly after `now`; None for a one-off job whose time
    /// has passed (it ran).
    pub fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Schedule::Every { secs } => {
                Some(now + time::Duration::seconds(i64::try_from(*secs).unwrap_or(i64::MAX / 2)))
            }
            Schedule::At(t) => (*t > now).then_some(*t),
            Schedule::Daily { hour, minute, zone } => next_daily(now, *hour, *minute, zone),
        }
    }
}

fn parse_hh_mm(s: &str) -> Result<(u8, u8), String> {
    let bad = || format!("{s:?} is not a time of day: use HH:MM, e.g. 03:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let hour: u8 = h.parse().map_err(|_| bad())?;
    let minute: u8 = m.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

/// The next `hour:minute` on the wall clock of `zone` after `now`. A time
/// that a daylight-saving jump skips runs at the equivalent instant after the
/// jump (jiff's "compatible" rule), and a repeated hour runs once.
fn next_daily(now: OffsetDateTime, hour: u8, minute: u8, zone: &str) -> Option<OffsetDateTime> {
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let ts = jiff::Timestamp::from_nanosecond(now.unix_timestamp_nanos()).ok()?;
    let mut date = ts.to_zoned(tz.clone()).date();
    // Two days cover every case: today's time may have passed already.
    for _ in 0..3 {
        let at = date
            .at(i8::try_from(hour).ok()?, i8::try_from(minute).ok()?, 0, 0)
            .to_zoned(tz.clone())
            .ok()?;
        let t = OffsetDateTime::from_unix_timestamp_nanos(at.timestamp().as_nanosecond()).ok()?;
        if t > now {
            return Some(t);
        }
        date = date.tomorrow().ok()?;
    }
    None
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every { secs } => write!(f, "every {secs}s"),
            Schedule::Daily { hour, minute, zone } => {
                write!(f, "daily {hour:02}:{minute:02} {zone}")
            }
            Schedule::At(t) => write!(f, "at {}", clock::stamp(*t)),
        }
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Schedule, String> {
        let mut words = s.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("every"), Some(n), None, None) => n
                .strip_suffix('s')
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(Schedule::every)
                .ok_or_else(|| format!("{s:?}: use e.g. \"every 30s\"")),
            (Some("daily"), Some(at), Some(zone), None) => Schedule::daily(at, zone),
            (Some("at"), Some(t), None, None) => clock::parse_rfc3339(t)
                .and_then(|t| {
                    OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
                })
                .map(Schedule::At)
                .ok_or_else(|| format!("{s:?}: use \"at\" and an RFC 3339 time")),
            _ => Err(format!("{s:?} is not a schedule")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn schedules_read_back_what_they_write() {
        for s in [
            Schedule::every(30),
            Schedule::daily("03:00", "Europe/Paris").expect("daily"),
            Schedule::At(datetime!(2026-12-04 12:00 UTC)),
        ] {
            assert_eq!(s.to_string().parse::<Schedule>(), Ok(s.clone()), "{s}");
        }
        for bad in [
            "",
            "every",
            "every 0s",
            "every 10",
            "daily 3:00 UTC",
            "daily 24:00 UTC",
            "daily 03:00 Mars/Olympus",
            "at tomorrow",
            "weekly",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn daily_follows_the_zone_and_its_clock_changes() {
        let s = Schedule::daily("03:00", "Europe/Paris").expect("daily");
        // 02:30 UTC on a winter day is 03:30 in Paris: the next run is tomorrow 02:00 UTC.
        assert_eq!(
            s.next_after(datetime!(2026-01-10 02:30 UTC)),
            Some(datetime!(2026-01-11 02:00 UTC))
        );
        // Summer: UTC+2.
        assert_eq!(
            s.next_after(datetime!(2026-07-10 00:00 UTC)),
            Some(datetime!(2026-07-10 01:00 UTC))
        );
        // 29 March 2026: clocks jump from 02:00 to 03:00 in Paris; 02:30 is skipped
        // and runs at 03:30 local (01:30 UTC).
        let gap = Schedule::daily("02:30", "Europe/Paris").expect("daily");
        assert_eq!(
            gap.next_after(datetime!(2026-03-29 00:00 UTC)),
            Some(datetime!(2026-03-29 01:30 UTC))
        );
    }

    #[test]
    fn intervals_and_one_offs() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let every = Schedule::every(60);
        assert_eq!(every.first(now), Some(now));
        assert_eq!(every.next_after(now), Some(datetime!(2026-01-01 00:01 UTC)));
        let once = Schedule::At(datetime!(2026-01-01 00:05 UTC));
        assert_eq!(once.first(now), Some(datetime!(2026-01-01 00:05 UTC)));
        assert_eq!(once.next_after(datetime!(2026-01-01 00:05 UTC)), None);
    }
}
