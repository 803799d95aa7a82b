//! When a failed job is tried again.

use std::time::Duration;

use time::OffsetDateTime;

use super::Schedule;

/// First retry after a failure; each further failure doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest wait between two tries.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A one-off job that failed this many times in a row is given up (it stays
/// listed as failed).
const ONE_OFF_ATTEMPTS: i64 = 10;

/// When to try again after the `attempts`-th failure in a row: 10 s, 20 s,
/// 40 s, … up to an hour — but a recurring job never later than its next
/// regular time. A one-off job gives up after a few tries (None).
pub fn retry_at(schedule: &Schedule, attempts: i64, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if schedule.is_once() && attempts >= ONE_OFF_ATTEMPTS {
        return None;
    }
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let wait = BACKOFF_BASE
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_MAX);
    let retry = now + time::Duration::try_from(wait).unwrap_or(time::Duration::HOUR);
    match schedule.next_after(now) {
        Some(regular) if !schedule.is_once() => Some(retry.min(regular)),
        _ => Some(retry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn waits_double_up_to_an_hour_but_not_past_the_next_regular_run() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let daily = Schedule::daily("12:00", "UTC").expect("daily");
        let waits: Vec<i64> = (1..=12)
            .map(|a| (retry_at(&daily, a, now).expect("retry") - now).whole_seconds())
            .collect();
        assert_eq!(
            waits,
            vec![10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
        );
        let minutely = Schedule::every(60);
        assert_eq!(
            retry_at(&minutely, 5, now),
            Some(datetime!(2026-01-01 00:01 UTC))
        );
        let once = Schedule::At(now);
        assert!(retry_at(&once, 9, now).is_some());
        assert_eq!(retry_at(&once, 10, now), None, "a one-off job gives up");
    }
}
