//! How names sort: the key stored beside a name so that an index orders a
//! list the way people read it. Lower case, accents folded (Ábel beside
//! Abel, not after Zoe), white space collapsed, and runs of digits compared
//! as numbers ("Atlas 2" before "Atlas 10").

use icu_normalizer::DecomposingNormalizerBorrowed;

/// The longest digit run whose length the key tells apart; longer runs
/// still sort among themselves by their digits.
const MAX_RUN: usize = 40;

/// The sort key of a name.
pub fn natural_key(s: &str) -> String {
    let decomposed = DecomposingNormalizerBorrowed::new_nfd().normalize(s);
    let mut out = String::with_capacity(s.len() + 4);
    let mut digits = String::new();
    let mut space = false;
    for c in decomposed.chars().filter(|c| !is_combining_mark(*c)) {
        if c.is_ascii_digit() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            digits.push(c);
            continue;
        }
        flush_digits(&mut digits, &mut out);
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    flush_digits(&mut digits, &mut out);
    out
}

/// A digit run as its length (one character that grows with it) then its
/// digits without leading zeros: shorter numbers sort first, equal lengths
/// by their digits.
fn flush_digits(digits: &mut String, out: &mut String) {
    if digits.is_empty() {
        return;
    }
    let trimmed = digits.trim_start_matches('0');
    let run = if trimmed.is_empty() { "0" } else { trimmed };
    let len = run.len().min(MAX_RUN) as u8;
    out.push(char::from(b'0' + len));
    out.push_str(run);
    digits.clear();
}

/// Makes `harmonia_natural_key(text)` callable on `conn`, for migrations'
/// backfills. No schema object uses it, so other SQLite tools still read and
/// write the files.
pub fn register_sql(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "harmonia_natural_key",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let name: Option<String> = ctx.get(0)?;
            Ok(name.map(|n| natural_key(&n)))
        },
    )
}

/// Combining marks left over from decomposing accented letters.
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = names.to_vec();
        v.sort_by_key(|n| natural_key(n));
        v.into_iter().map(String::from).collect()
    }

    #[test]
    fn numbers_sort_as_numbers() {
        assert_eq!(
            sorted(&["Atlas 10", "Atlas 2", "Atlas 1", "Atlas 007", "Atlas"]),
            ["Atlas", "Atlas 1", "Atlas 2", "Atlas 007", "Atlas 10"]
        );
        assert_eq!(
            sorted(&["v1.10", "v1.9", "v1.2"]),
            ["v1.2", "v1.9", "v1.10"]
        );
    }

    #[test]
    fn accents_and_case_do_not_move_a_name() {
        assert_eq!(
            sorted(&["Zoe", "ábel", "Abel", "Émile", "eve"]),
            ["ábel", "Abel", "Émile", "eve", "Zoe"]
        );
        assert_eq!(natural_key("  Kovács   Anna "), "kovacs anna");
        assert_eq!(natural_key("Björn Álvarez"), natural_key("bjorn alvarez"));
    }

    #[test]
    fn digits_beside_letters_and_long_runs() {
        assert!(natural_key("Room 9b") < natural_key("Room 10a"));
        let long = "9".repeat(60);
        assert!(natural_key(&format!("A {long}")) > natural_key("A 12345"));
        assert_eq!(natural_key(""), "");
    }
}
