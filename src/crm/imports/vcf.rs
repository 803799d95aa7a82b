//! vCard files (`.vcf`, many cards, vCard 2.1/3.0/4.0 as Google, Apple and
//! Outlook export them) read through `calcard` — folded lines, quoted-
//! printable, encodings and photos are its business — and written out as a
//! CSV with fixed, recognisable headers. From there a vCard import is a CSV
//! import: the same suggested mapping, preview, dedupe, job, report and
//! undo. Birthdays (`BDAY`, with or without the year) come in as the
//! contact's birthday; inline photos are kept beside the CSV and become
//! files attached to the contacts (`photos`); properties without a contact
//! field are left out.

use std::path::Path;

use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty as P, VCardValue,
};
use calcard::{Entry, Parser};

use super::photos;
use crate::error::{AppError, AppResult};

/// Emails and phones kept per card (columns in the CSV).
const MAX_EACH: usize = 5;
/// The header of the photo column: the `vcard_photo` target's own name, so
/// that no other file's "Photo" column (Google's CSV has URLs there) maps to it.
pub const PHOTO_HEADER: &str = "vCard photo";

fn io(e: std::io::Error) -> AppError {
    crate::crm::files::blobs::io(e)
}

/// Whether a (UTF-8) file is a vCard file: its first non-blank line.
pub fn is_vcard(first_line: &str) -> bool {
    first_line
        .trim_start_matches('\u{feff}')
        .trim()
        .eq_ignore_ascii_case("BEGIN:VCARD")
}

#[derive(Default)]
struct Card {
    first: String,
    last: String,
    emails: Vec<String>,
    phones: Vec<String>,
    company: String,
    title: String,
    /// Street, city, region, postal code, country.
    address: [String; 5],
    /// `1985-04-12` or `--04-12`.
    birthday: String,
    /// The photo column's cell (`photos::from_card`).
    photo: String,
}

/// The card's birthday, as a contact keeps it; empty if it has none a
/// calendar knows.
fn birthday(vcard: &VCard) -> String {
    let Some(e) = vcard.property(&P::Bday) else {
        return String::new();
    };
    // Apple writes a birthday without year as 1604 and says so.
    let omit_year = e.params.iter().find_map(|p| match (&p.name, &p.value) {
        (VCardParameterName::Other(n), v) if n.eq_ignore_ascii_case("X-APPLE-OMIT-YEAR") => match v
        {
            VCardParameterValue::Text(t) => t.trim().parse::<i32>().ok(),
            VCardParameterValue::Integer(i) => i32::try_from(*i).ok(),
            _ => None,
        },
        _ => None,
    });
    // Read as text (`birthdays_as_text`); a date the parser made is taken
    // only whole.
    for v in &e.values {
        let text = match v {
            VCardValue::Text(t) => t.clone(),
            VCardValue::PartialDateTime(p) => match (p.year, p.month, p.day) {
                (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
                _ => continue,
            },
            _ => continue,
        };
        if let Some(b) = crate::crm::birthdays::read(&text, omit_year) {
            return b;
        }
    }
    String::new()
}

/// The text values of an entry, components joined by spaces.
fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .map(|v| {
            v.clone()
                .into_text()
                .map(|t| t.trim().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn first_text(e: &VCardEntry) -> String {
    texts(e)
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

/// The first entry of a property; the one marked preferred when several are.
fn preferred<'a>(card: &'a VCard, prop: &'a P) -> Vec<&'a VCardEntry> {
    let mut all: Vec<&VCardEntry> = card.properties(prop).collect();
    // PREF=1 (4.0) or TYPE=PREF (3.0) first.
    let is_pref = |e: &VCardEntry| {
        e.params.iter().any(|p| {
            format!("{:?} {:?}", p.name, p.value)
                .to_ascii_lowercase()
                .contains("pref")
        })
    };
    all.sort_by_key(|e| !is_pref(e));
    all
}

fn card_of(vcard: &VCard, photos_dir: &Path) -> AppResult<Card> {
    let mut c = Card {
        birthday: birthday(vcard),
        photo: photos::from_card(vcard, photos_dir)?,
        ..Card::default()
    };
    if let Some(n) = vcard.property(&P::N) {
        let parts = texts(n);
        c.last = parts.first().cloned().unwrap_or_default();
        c.first = parts.get(1).cloned().unwrap_or_default();
    }
    if c.first.is_empty()
        && c.last.is_empty()
        && let Some(full) = vcard.property(&P::Fn).map(first_text)
    {
        match full.rsplit_once(' ') {
            Some((first, last)) => {
                c.first = first.trim().to_string();
                c.last = last.trim().to_string();
            }
            None => c.first = full,
        }
    }
    for e in preferred(vcard, &P::Email) {
        let email = first_text(e);
        if !email.is_empty() && c.emails.len() < MAX_EACH && !c.emails.contains(&email) {
            c.emails.push(email);
        }
    }
    for e in preferred(vcard, &P::Tel) {
        let tel = first_text(e);
        let tel = tel.strip_prefix("tel:").unwrap_or(&tel).trim().to_string();
        if !tel.is_empty() && c.phones.len() < MAX_EACH && !c.phones.contains(&tel) {
            c.phones.push(tel);
        }
    }
    if let Some(org) = vcard.property(&P::Org) {
        c.company = texts(org).into_iter().next().unwrap_or_default();
    }
    if let Some(t) = vcard.property(&P::Title) {
        c.title = first_text(t);
    }
    if let Some(adr) = preferred(vcard, &P::Adr).first() {
        // PO box; extended; street; locality; region; postal code; country.
        let parts = texts(adr);
        let at = |i: usize| parts.get(i).cloned().unwrap_or_default();
        let street = [at(0), at(1), at(2)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        c.address = [street, at(3), at(4), at(5), country_code(&at(6))];
    }
    Ok(c)
}

/// Country names as address books write them, to the ISO code a contact's
/// address takes.
const COUNTRIES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("germany", "DE"),
    ("deutschland", "DE"),
    ("france", "FR"),
    ("spain", "ES"),
    ("españa", "ES"),
    ("italy", "IT"),
    ("italia", "IT"),
    ("netherlands", "NL"),
    ("the netherlands", "NL"),
    ("nederland", "NL"),
    ("canada", "CA"),
    ("australia", "AU"),
    ("ireland", "IE"),
    ("switzerland", "CH"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("austria", "AT"),
    ("österreich", "AT"),
    ("belgium", "BE"),
    ("belgique", "BE"),
    ("sweden", "SE"),
    ("sverige", "SE"),
    ("norway", "NO"),
    ("norge", "NO"),
    ("denmark", "DK"),
    ("danmark", "DK"),
    ("finland", "FI"),
    ("suomi", "FI"),
    ("portugal", "PT"),
    ("poland", "PL"),
    ("polska", "PL"),
    ("japan", "JP"),
    ("india", "IN"),
    ("brazil", "BR"),
    ("brasil", "BR"),
    ("mexico", "MX"),
    ("méxico", "MX"),
    ("new zealand", "NZ"),
    ("singapore", "SG"),
    ("china", "CN"),
];

/// A country as a two-letter code; a name not known is left out rather
/// than failing the whole card.
fn country_code(raw: &str) -> String {
    let t = raw.trim();
    if t.len() == 2 && crate::values::is_country(&t.to_ascii_uppercase()) {
        return t.to_ascii_uppercase();
    }
    let lower = t.to_lowercase();
    COUNTRIES
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, code)| code.to_string())
        .unwrap_or_default()
}

/// The file with every `BDAY` read as text (`BDAY;VALUE=text:…`): the
/// parser reads a date by the letter of RFC 6350, which loses the day of
/// `--04-12` (Google's birthday without year) and of `1985-04-12` in a 4.0
/// card (real writers use both); `birthdays::read` takes every form.
fn birthdays_as_text(text: &str) -> std::borrow::Cow<'_, str> {
    let is_bday = |line: &str| {
        let name = line.split([';', ':']).next().unwrap_or("");
        let name = name.rsplit('.').next().unwrap_or(name);
        name.eq_ignore_ascii_case("BDAY") && line.len() > name.len()
    };
    if !text.lines().any(is_bday) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if is_bday(line) {
            let at = line.find([';', ':']).unwrap_or(line.len());
            out.push_str(&line[..at]);
            out.push_str(";VALUE=text");
            out.push_str(&line[at..]);
        } else {
            out.push_str(line);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Reads the vCard file `from` and writes its cards to `to` as a CSV, and
/// their photos into `photos_dir`; answers how many cards. A file with no
/// card is refused.
pub fn to_csv(from: &Path, to: &Path, photos_dir: &Path) -> AppResult<usize> {
    let text = std::fs::read_to_string(from)
        .map_err(|_| AppError::field("file", "not a readable vCard file"))?;
    let text = birthdays_as_text(&text);
    let mut cards = Vec::new();
    let mut parser = Parser::new(&text);
    loop {
        match parser.entry() {
            Entry::VCard(v) => cards.push(card_of(&v, photos_dir)?),
            Entry::Eof => break,
            // Calendars, stray lines and broken cards are skipped: the
            // cards around them still come in.
            _ => {}
        }
    }
    if cards.is_empty() {
        return Err(AppError::field("file", "no vCard in this file"));
    }
    let emails = cards
        .iter()
        .map(|c| c.emails.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let phones = cards
        .iter()
        .map(|c| c.phones.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut header: Vec<&str> = vec!["First name", "Last name"];
    header.extend(std::iter::repeat_n("Email", emails));
    header.extend(std::iter::repeat_n("Phone", phones));
    header.extend([
        "Company",
        "Job title",
        "Street",
        "City",
        "Region",
        "Postal code",
        "Country",
    ]);
    // Only when some card has one: no empty column to map.
    let birthdays = cards.iter().any(|c| !c.birthday.is_empty());
    let with_photos = cards.iter().any(|c| !c.photo.is_empty());
    if birthdays {
        header.push("Birthday");
    }
    if with_photos {
        header.push(PHOTO_HEADER);
    }
    let file = std::fs::File::create(to).map_err(io)?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let bad = |e: csv::Error| AppError::Internal(anyhow::anyhow!("writing the vCard rows: {e}"));
    w.write_record(&header).map_err(bad)?;
    for c in &cards {
        let mut row: Vec<&str> = vec![&c.first, &c.last];
        row.extend((0..emails).map(|i| c.emails.get(i).map_or("", String::as_str)));
        row.extend((0..phones).map(|i| c.phones.get(i).map_or("", String::as_str)));
        row.extend([c.company.as_str(), c.title.as_str()]);
        row.extend(c.address.iter().map(String::as_str));
        if birthdays {
            row.push(&c.birthday);
        }
        if with_photos {
            row.push(&c.photo);
        }
        w.write_record(&row).map_err(bad)?;
    }
    w.flush().map_err(io)?;
    Ok(cards.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_tells_a_vcard_file() {
        assert!(is_vcard("BEGIN:VCARD\r\n"));
        assert!(is_vcard("\u{feff}begin:vcard\n"));
        assert!(!is_vcard("First name,Last name\n"));
    }

    fn first_birthday(card: &str) -> String {
        let text = birthdays_as_text(card);
        match Parser::new(&text).entry() {
            Entry::VCard(c) => birthday(&c),
            _ => panic!("a card"),
        }
    }

    #[test]
    fn birthdays_of_every_version_and_writer_are_read_whole() {
        for (line, want) in [
            ("BDAY:--04-12", "--04-12"),
            ("BDAY:--0412", "--04-12"),
            ("BDAY:1985-04-12", "1985-04-12"),
            ("BDAY:19850412", "1985-04-12"),
            ("BDAY;VALUE=date:1985-04-12", "1985-04-12"),
            ("item2.BDAY:1985-04-12T00:00:00Z", "1985-04-12"),
            ("BDAY;X-APPLE-OMIT-YEAR=1604:1604-11-03", "--11-03"),
            ("BDAY:1985-04", ""),
            ("BDAY:soon", ""),
        ] {
            for version in ["2.1", "3.0", "4.0"] {
                let card =
                    format!("BEGIN:VCARD\r\nVERSION:{version}\r\nFN:X\r\n{line}\r\nEND:VCARD\r\n");
                assert_eq!(first_birthday(&card), want, "{version} {line}");
            }
        }
        // Only the property's name counts: a note mentioning BDAY is left alone.
        let note = "NOTE:BDAY:1985-04-12\r\n";
        assert_eq!(birthdays_as_text(note), note);
    }

    #[test]
    fn country_names_become_codes_or_nothing() {
        assert_eq!(country_code("United Kingdom"), "GB");
        assert_eq!(country_code(" de "), "DE");
        assert_eq!(country_code("Atlantis"), "");
        assert_eq!(country_code(""), "");
    }
}
