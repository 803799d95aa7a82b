//! Birthdays: a contact's is a calendar date, `1985-04-12`, or a day of the
//! year without the year, `--04-12` (the form of ISO 8601 and vCard 4.0:
//! address books hold many birthdays whose year nobody was told).
//!
//! The API takes exactly those two forms; files bring more (`19850412`,
//! `--0412`, a time after the date, Apple's year 1604 for "no year"), read
//! by `read`; a vCard export writes the basic form (`19850412`, `--0412`).

use time::{Date, Month};

use crate::clock;

/// A checked birthday, in one of the two stored forms.
fn make(year: Option<i32>, month: u8, day: u8) -> Option<String> {
    let m = Month::try_from(month).ok()?;
    match year {
        Some(y) => {
            let d = Date::from_calendar_date(y, m, day).ok()?;
            // Not before anyone alive was born, not after today.
            if y < 1850 || d > clock::now().date() {
                return None;
            }
            Some(format!("{y:04}-{month:02}-{day:02}"))
        }
        None => {
            // Any day of some year: 29 February is a birthday.
            Date::from_calendar_date(2000, m, day).ok()?;
            Some(format!("--{month:02}-{day:02}"))
        }
    }
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A birthday as the API takes it: `YYYY-MM-DD` or `--MM-DD`; None if it
/// is neither (or no real day, or in the future).
pub fn parse(s: &str) -> Option<String> {
    let s = s.trim();
    let (year, rest) = match s.strip_prefix("--") {
        Some(rest) => (None, rest),
        None => {
            let (y, rest) = s.split_once('-')?;
            if y.len() != 4 {
                return None;
            }
            (Some(digits(y)? as i32), rest)
        }
    };
    let (m, d) = rest.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    make(
        year,
        u8::try_from(digits(m)?).ok()?,
        u8::try_from(digits(d)?).ok()?,
    )
}

/// A birthday as files write it: the API's forms, the basic forms
/// `19850412` and `--0412`, with a time after it (`T…`), or with Apple's
/// placeholder year 1604 (`omit_year`: the year the card says stands for
/// none). None if it is no birthday.
pub fn read(raw: &str, omit_year: Option<i32>) -> Option<String> {
    let s = raw.trim();
    let s = s.split(['T', ' ']).next().unwrap_or(s);
    let (year, md): (Option<i32>, String) = if let Some(rest) = s.strip_prefix("--") {
        (None, rest.replace('-', ""))
    } else {
        let compact = s.replace('-', "");
        if compact.len() != 8 {
            return None;
        }
        (
            Some(digits(&compact[..4])? as i32),
            compact[4..].to_string(),
        )
    };
    if md.len() != 4 {
        return None;
    }
    let year = year.filter(|y| Some(*y) != omit_year);
    make(
        year,
        u8::try_from(digits(&md[..2])?).ok()?,
        u8::try_from(digits(&md[2..])?).ok()?,
    )
}

/// A stored birthday as a vCard 4.0 `BDAY` value: `19850412` or `--0412`.
pub fn vcard(stored: &str) -> String {
    match stored.strip_prefix("--") {
        Some(md) => format!("--{}", md.replace('-', "")),
        None => stored.replace('-', ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_takes_a_date_or_a_day_without_year() {
        assert_eq!(parse("1985-04-12").as_deref(), Some("1985-04-12"));
        assert_eq!(parse(" --04-12 ").as_deref(), Some("--04-12"));
        assert_eq!(parse("--02-29").as_deref(), Some("--02-29"));
        for bad in [
            "1985-02-30",
            "1985-4-12",
            "85-04-12",
            "--13-01",
            "--04-31",
            "19850412",
            "1700-01-01",
            "2999-01-01",
            "",
            "--",
            "yesterday",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn files_write_birthdays_many_ways() {
        assert_eq!(read("19850412", None).as_deref(), Some("1985-04-12"));
        assert_eq!(read("1985-04-12", None).as_deref(), Some("1985-04-12"));
        assert_eq!(
            read("1985-04-12T00:00:00Z", None).as_deref(),
            Some("1985-04-12")
        );
        assert_eq!(read("--0412", None).as_deref(), Some("--04-12"));
        assert_eq!(read("--04-12", None).as_deref(), Some("--04-12"));
        assert_eq!(read("1604-04-12", Some(1604)).as_deref(), Some("--04-12"));
        assert_eq!(read("1604-04-12", None), None, "too long ago");
        assert_eq!(read("--0230", None), None);
        assert_eq!(read("April 12", None), None);
    }

    #[test]
    fn a_vcard_writes_the_basic_form() {
        assert_eq!(vcard("1985-04-12"), "19850412");
        assert_eq!(vcard("--04-12"), "--0412");
    }
}
