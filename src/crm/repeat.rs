//! When a repeating task comes next. Completing a repeating task creates the
//! next one with its due moved by the rule: daily, weekly on some days,
//! monthly on a day of the month, yearly on a date. A month without that day
//! (the 31st, February 29th) gets its last day, and the rule keeps its day,
//! so a task on the 31st is back on the 31st once a month has one.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(d: Date) -> Day {
        use time::Weekday::*;
        match d.weekday() {
            Monday => Day::Mon,
            Tuesday => Day::Tue,
            Wednesday => Day::Wed,
            Thursday => Day::Thu,
            Friday => Day::Fri,
            Saturday => Day::Sat,
            Sunday => Day::Sun,
        }
    }
}

/// A repeat rule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub every: Every,
    /// Weekly: the days it falls on (default: the due date's weekday).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Day>,
    /// Monthly and yearly: the day of the month it falls on (default: the
    /// due date's), kept when a shorter month moves one occurrence earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 31)]
    pub day_of_month: Option<u8>,
}

impl Repeat {
    /// Fills in what the due date implies; an error names what is wrong.
    pub fn settle(mut self, due: Date) -> Result<Repeat, &'static str> {
        match self.every {
            Every::Weekly if self.days.is_empty() => self.days = vec![Day::of(due)],
            Every::Monthly | Every::Yearly if self.day_of_month.is_none() => {
                self.day_of_month = Some(due.day())
            }
            _ => {}
        }
        if self.day_of_month.is_some_and(|d| !(1..=31).contains(&d)) {
            return Err("day_of_month is 1 to 31");
        }
        if self.every != Every::Weekly && !self.days.is_empty() {
            return Err("days are for weekly repeats");
        }
        Ok(self)
    }

    /// The due date after `due`.
    pub fn next(&self, due: Date) -> Option<Date> {
        match self.every {
            Every::Daily => due.next_day(),
            Every::Weekly => {
                let mut d = due;
                for _ in 0..7 {
                    d = d.next_day()?;
                    if self.days.is_empty() || self.days.contains(&Day::of(d)) {
                        return Some(d);
                    }
                }
                None
            }
            Every::Monthly => {
                let (y, m) = if due.month() == Month::December {
                    (due.year() + 1, Month::January)
                } else {
                    (due.year(), due.month().next())
                };
                on_day(y, m, self.day_of_month.unwrap_or(due.day()))
            }
            Every::Yearly => on_day(
                due.year() + 1,
                due.month(),
                self.day_of_month.unwrap_or(due.day()),
            ),
        }
    }

    /// The next due time of a timed task: the same time of day on the `next`
    /// day, both as they are in `zone` (the assignee's), so a task at 09:00
    /// in Berlin stays at 09:00 there when the clocks change. A time the
    /// change skips moves forward by the gap; a time it repeats is the first.
    pub fn next_time(
        &self,
        due: time::OffsetDateTime,
        zone: &jiff::tz::TimeZone,
    ) -> Option<time::OffsetDateTime> {
        let ts = jiff::Timestamp::from_nanosecond(due.unix_timestamp_nanos()).ok()?;
        let local = ts.to_zoned(zone.clone()).datetime();
        let day = local.date();
        let today = Date::from_calendar_date(
            i32::from(day.year()),
            Month::try_from(u8::try_from(day.month()).ok()?).ok()?,
            u8::try_from(day.day()).ok()?,
        )
        .ok()?;
        let next = self.next(today)?;
        let shift = (next - today).whole_days();
        let at = local
            .checked_add(jiff::Span::new().days(shift))
            .ok()?
            .to_zoned(zone.clone())
            .ok()?;
        time::OffsetDateTime::from_unix_timestamp_nanos(at.timestamp().as_nanosecond()).ok()
    }
}

/// `day` of a month, or the month's last day if it is shorter.
fn on_day(year: i32, month: Month, day: u8) -> Option<Date> {
    let last = month.length(year);
    Date::from_calendar_date(year, month, day.min(last)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn rule(every: Every) -> Repeat {
        Repeat {
            every,
            days: Vec::new(),
            day_of_month: None,
        }
    }

    #[test]
    fn monthly_on_the_31st_clamps_and_comes_back() {
        let r = rule(Every::Monthly).settle(date!(2026 - 01 - 31)).unwrap();
        let feb = r.next(date!(2026 - 01 - 31)).unwrap();
        assert_eq!(feb, date!(2026 - 02 - 28));
        let mar = r.next(feb).unwrap();
        assert_eq!(mar, date!(2026 - 03 - 31));
        assert_eq!(r.next(date!(2026 - 12 - 31)), Some(date!(2027 - 01 - 31)));
        assert_eq!(r.next(date!(2028 - 01 - 31)), Some(date!(2028 - 02 - 29)));
    }

    #[test]
    fn yearly_on_leap_day() {
        let r = rule(Every::Yearly).settle(date!(2028 - 02 - 29)).unwrap();
        let next = r.next(date!(2028 - 02 - 29)).unwrap();
        assert_eq!(next, date!(2029 - 02 - 28));
        let mut d = next;
        for _ in 0..3 {
            d = r.next(d).unwrap();
        }
        assert_eq!(d, date!(2032 - 02 - 29), "back on the 29th in a leap year");
    }

    #[test]
    fn weekly_on_days() {
        let r = Repeat {
            every: Every::Weekly,
            days: vec![Day::Mon, Day::Thu],
            day_of_month: None,
        };
        // 2026-12-03 is a Thursday.
        assert_eq!(r.next(date!(2026 - 12 - 03)), Some(date!(2026 - 12 - 07)));
        assert_eq!(r.next(date!(2026 - 12 - 07)), Some(date!(2026 - 12 - 10)));
        let plain = rule(Every::Weekly).settle(date!(2026 - 12 - 03)).unwrap();
        assert_eq!(plain.days, vec![Day::Thu]);
        assert_eq!(
            plain.next(date!(2026 - 12 - 03)),
            Some(date!(2026 - 12 - 10))
        );
    }

    #[test]
    fn daily_and_timed() {
        let r = rule(Every::Daily);
        assert_eq!(r.next(date!(2026 - 12 - 31)), Some(date!(2027 - 01 - 01)));
        assert_eq!(
            r.next_time(datetime!(2026-12-31 09:30 UTC), &jiff::tz::TimeZone::UTC),
            Some(datetime!(2027-01-01 09:30 UTC))
        );
    }

    #[test]
    fn timed_repeats_keep_their_local_time_across_daylight_saving() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let weekly = rule(Every::Weekly).settle(date!(2026 - 03 - 23)).unwrap();
        // Monday 09:00 in Berlin is 08:00 UTC in winter; after the change on
        // Sunday 2026-03-29 it is 07:00 UTC.
        assert_eq!(
            weekly.next_time(datetime!(2026-03-23 08:00 UTC), &berlin),
            Some(datetime!(2026-03-30 07:00 UTC))
        );
        // And back in autumn (the change on 2026-10-25).
        assert_eq!(
            weekly.next_time(datetime!(2026-10-19 07:00 UTC), &berlin),
            Some(datetime!(2026-10-26 08:00 UTC))
        );
        // In UTC the time of day is simply kept.
        assert_eq!(
            weekly.next_time(datetime!(2026-03-23 08:00 UTC), &jiff::tz::TimeZone::UTC),
            Some(datetime!(2026-03-30 08:00 UTC))
        );
        // Days are the zone's: Monday 09:00 in Auckland is Sunday in UTC.
        let auckland = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
        let mondays = Repeat {
            every: Every::Weekly,
            days: vec![Day::Mon],
            day_of_month: None,
        };
        assert_eq!(
            mondays.next_time(datetime!(2026-12-06 20:00 UTC), &auckland),
            Some(datetime!(2026-12-13 20:00 UTC))
        );
        // 02:30 on the night the clocks go forward does not exist: an hour later.
        let daily = rule(Every::Daily);
        assert_eq!(
            daily.next_time(datetime!(2026-03-28 01:30 UTC), &berlin),
            Some(datetime!(2026-03-29 01:30 UTC))
        );
        // 02:30 on the night they go back happens twice: the first one.
        assert_eq!(
            daily.next_time(datetime!(2026-10-24 00:30 UTC), &berlin),
            Some(datetime!(2026-10-25 00:30 UTC))
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut r = rule(Every::Daily);
        r.days = vec![Day::Mon];
        assert!(r.settle(date!(2026 - 01 - 01)).is_err());
        let mut r = rule(Every::Monthly);
        r.day_of_month = Some(32);
        assert!(r.settle(date!(2026 - 01 - 01)).is_err());
    }
}
