//! Where a person's days begin: the task lists' `due=` groups (overdue,
//! today, this week, later, none) as SQL over `tasks t`, for "now" in a time
//! zone. A task due on a date is due that whole day where its assignee lives;
//! a timed task is due at its instant.

use time::OffsetDateTime;

use crate::clock;
use crate::error::{AppError, AppResult};

/// Where today, this week and the rest begin, in a zone: dates and UTC stamps.
pub struct Days {
    today: String,
    week_end: String,
    now: String,
    tomorrow_at: String,
    next_week_at: String,
}

pub fn days(tz: &str, now: OffsetDateTime) -> AppResult<Days> {
    let zone = jiff::tz::TimeZone::get(tz)
        .map_err(|_| AppError::field("tz", "use an IANA time zone such as Europe/Paris"))?;
    let bad = |e: jiff::Error| AppError::Internal(anyhow::anyhow!(e));
    let ts = jiff::Timestamp::from_nanosecond(now.unix_timestamp_nanos()).map_err(bad)?;
    let local = ts.to_zoned(zone.clone()).date();
    let week_end = local
        .checked_add(jiff::Span::new().days(7 - i64::from(local.weekday().to_monday_one_offset())))
        .map_err(bad)?;
    let start_of = |d: jiff::civil::Date| -> AppResult<String> {
        let z = d.to_zoned(zone.clone()).map_err(bad)?;
        let t = OffsetDateTime::from_unix_timestamp_nanos(z.timestamp().as_nanosecond())
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(clock::stamp(t))
    };
    let tomorrow = local.tomorrow().map_err(bad)?;
    Ok(Days {
        today: local.to_string(),
        week_end: week_end.to_string(),
        now: clock::stamp(now),
        tomorrow_at: start_of(tomorrow)?,
        next_week_at: start_of(week_end.tomorrow().map_err(bad)?)?,
    })
}

/// `due=`: disjoint groups (overdue, today, this week, later, none).
pub fn due_condition(value: &str, d: &Days) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
    use rusqlite::types::Value::Text;
    let (day, at) = ("length(t.due) = 10", "length(t.due) > 10");
    let (sql, args): (String, Vec<String>) = match value {
        "overdue" => (
            format!("t.status = 'open' AND ({day} AND t.due < ? OR {at} AND t.due < ?)"),
            vec![d.today.clone(), d.now.clone()],
        ),
        "today" => (
            format!("({day} AND t.due = ? OR {at} AND t.due >= ? AND t.due < ?)"),
            vec![d.today.clone(), d.now.clone(), d.tomorrow_at.clone()],
        ),
        "this_week" => (
            format!("({day} AND t.due > ? AND t.due <= ? OR {at} AND t.due >= ? AND t.due < ?)"),
            vec![
                d.today.clone(),
                d.week_end.clone(),
                d.tomorrow_at.clone(),
                d.next_week_at.clone(),
            ],
        ),
        "later" => (
            format!("({day} AND t.due > ? OR {at} AND t.due >= ?)"),
            vec![d.week_end.clone(), d.next_week_at.clone()],
        ),
        "none" => ("t.due IS NULL".into(), Vec::new()),
        _ => {
            return Err(AppError::field(
                "due",
                "use overdue, today, this_week, later or none",
            ));
        }
    };
    Ok((sql, args.into_iter().map(Text).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Which group each task falls in at `now` in `tz`, by running the SQL.
    fn groups(tz: &str, now: OffsetDateTime, dues: &[&str]) -> Vec<(String, &'static str)> {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE tasks (due TEXT, status TEXT NOT NULL DEFAULT 'open')")
            .unwrap();
        for d in dues {
            c.execute("INSERT INTO tasks (due) VALUES (?1)", [d])
                .unwrap();
        }
        let d = days(tz, now).unwrap();
        let mut out = Vec::new();
        for g in ["overdue", "today", "this_week", "later", "none"] {
            let (sql, args) = due_condition(g, &d).unwrap();
            let mut stmt = c
                .prepare(&format!(
                    "SELECT t.due FROM tasks t WHERE {sql} ORDER BY t.due"
                ))
                .unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
                .unwrap();
            for due in rows {
                out.push((due.unwrap(), g));
            }
        }
        out.sort();
        out
    }

    fn group_of(all: &[(String, &'static str)], due: &str) -> Vec<&'static str> {
        all.iter()
            .filter(|(d, _)| d == due)
            .map(|(_, g)| *g)
            .collect()
    }

    #[test]
    fn auckland_days_turn_at_its_midnight_not_utcs() {
        // 2026-12-07 is a Monday; Auckland is UTC+13 in December.
        let dues = [
            "2026-12-06",
            "2026-12-07",
            "2026-12-08",
            "2026-12-13",
            "2026-12-14",
            // 23:30 and 00:30 on the night of Monday to Tuesday, Auckland time.
            "2026-12-07T10:30:00.000000Z",
            "2026-12-07T11:30:00.000000Z",
        ];
        // One second before midnight on Monday in Auckland (10:59:59 UTC).
        let before = groups(
            "Pacific/Auckland",
            datetime!(2026-12-07 10:59:59 UTC),
            &dues,
        );
        assert_eq!(group_of(&before, "2026-12-06"), ["overdue"]);
        assert_eq!(group_of(&before, "2026-12-07"), ["today"]);
        assert_eq!(group_of(&before, "2026-12-08"), ["this_week"]);
        assert_eq!(group_of(&before, "2026-12-13"), ["this_week"]);
        assert_eq!(group_of(&before, "2026-12-14"), ["later"]);
        assert_eq!(
            group_of(&before, "2026-12-07T10:30:00.000000Z"),
            ["overdue"]
        );
        assert_eq!(
            group_of(&before, "2026-12-07T11:30:00.000000Z"),
            ["this_week"]
        );
        // At midnight Tuesday has begun there, while UTC is still on Monday.
        let after = groups("Pacific/Auckland", datetime!(2026-12-07 11:00 UTC), &dues);
        assert_eq!(group_of(&after, "2026-12-07"), ["overdue"]);
        assert_eq!(group_of(&after, "2026-12-08"), ["today"]);
        assert_eq!(group_of(&after, "2026-12-07T11:30:00.000000Z"), ["today"]);
        // The same instant in UTC: Monday, and Tuesday's tasks are this week.
        let utc = groups("UTC", datetime!(2026-12-07 11:00 UTC), &dues);
        assert_eq!(group_of(&utc, "2026-12-07"), ["today"]);
        assert_eq!(group_of(&utc, "2026-12-08"), ["this_week"]);
    }

    #[test]
    fn los_angeles_weeks_end_at_its_sunday_midnight() {
        // Sunday 2026-12-13 23:59:59 in Los Angeles (UTC-8) is Monday 07:59:59 UTC.
        let dues = [
            "2026-12-13",
            "2026-12-14",
            "2026-12-20",
            "2026-12-21",
            // Monday 00:30 and Sunday 23:30, Los Angeles time.
            "2026-12-14T08:30:00.000000Z",
            "2026-12-14T07:30:00.000000Z",
        ];
        let sunday = groups(
            "America/Los_Angeles",
            datetime!(2026-12-14 07:59:59 UTC),
            &dues,
        );
        assert_eq!(group_of(&sunday, "2026-12-13"), ["today"]);
        assert_eq!(group_of(&sunday, "2026-12-14"), ["later"]);
        assert_eq!(group_of(&sunday, "2026-12-14T08:30:00.000000Z"), ["later"]);
        assert_eq!(
            group_of(&sunday, "2026-12-14T07:30:00.000000Z"),
            ["overdue"]
        );
        let monday = groups(
            "America/Los_Angeles",
            datetime!(2026-12-14 08:00 UTC),
            &dues,
        );
        assert_eq!(group_of(&monday, "2026-12-13"), ["overdue"]);
        assert_eq!(group_of(&monday, "2026-12-14"), ["today"]);
        assert_eq!(group_of(&monday, "2026-12-20"), ["this_week"]);
        assert_eq!(group_of(&monday, "2026-12-21"), ["later"]);
        assert_eq!(group_of(&monday, "2026-12-14T08:30:00.000000Z"), ["today"]);
    }

    #[test]
    fn a_daylight_saving_day_is_a_whole_day() {
        // Los Angeles springs forward on Sunday 2026-03-08: the day is 23 hours
        // long, from 08:00 UTC to 07:00 UTC the next day.
        let dues = [
            "2026-03-08T07:59:00.000000Z",
            "2026-03-09T06:59:00.000000Z",
            "2026-03-09T07:00:00.000000Z",
        ];
        let g = groups(
            "America/Los_Angeles",
            datetime!(2026-03-08 08:00 UTC),
            &dues,
        );
        assert_eq!(group_of(&g, "2026-03-08T07:59:00.000000Z"), ["overdue"]);
        assert_eq!(group_of(&g, "2026-03-09T06:59:00.000000Z"), ["today"]);
        assert_eq!(group_of(&g, "2026-03-09T07:00:00.000000Z"), ["later"]);
    }

    #[test]
    fn an_unknown_zone_is_refused() {
        assert!(days("Mars/Olympus", datetime!(2026-12-07 11:00 UTC)).is_err());
    }
}
