//! Contacts as vCard 4.0 (RFC 6350) for exports: property values escaped
//! (§3.4), compound values split on `;`, lines folded at 75 octets without
//! splitting a character (§3.2), CRLF line ends.

use crate::crm::contacts::Contact;

/// Escapes a text value: backslash, comma, semicolon and line breaks.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded: at most 75 octets per physical line,
/// continuation lines starting with a space.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// A label as a vCard TYPE (`work`, `home`, `cell`, …), or none.
fn type_param(label: Option<&str>, phone: bool) -> &'static str {
    match label.map(|l| l.trim().to_lowercase()).as_deref() {
        Some("work") => ";TYPE=work",
        Some("home" | "personal" | "private") => ";TYPE=home",
        Some("mobile" | "cell") if phone => ";TYPE=cell",
        Some("fax") if phone => ";TYPE=fax",
        _ => "",
    }
}

/// `2026-12-04T20:30:00.123Z` as a vCard timestamp, `20261204T203000Z`.
fn timestamp(rfc3339: &str) -> Option<String> {
    let digits: String = rfc3339
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit())
        .collect();
    (digits.len() == 14).then(|| format!("{}T{}Z", &digits[..8], &digits[8..]))
}

pub fn card(c: &Contact) -> String {
    let mut out = String::with_capacity(512);
    line(&mut out, "BEGIN:VCARD");
    line(&mut out, "VERSION:4.0");
    let uid = match uuid::Uuid::parse_str(&c.id) {
        Ok(u) => format!("urn:uuid:{u}"),
        Err(_) => format!("harmonia:contact:{}", c.id),
    };
    line(&mut out, &format!("UID:{}", esc(&uid)));
    let name = if c.name.is_empty() {
        c.emails.first().map(|e| e.email.as_str()).unwrap_or("")
    } else {
        &c.name
    };
    line(&mut out, &format!("FN:{}", esc(name)));
    line(
        &mut out,
        &format!("N:{};{};;;", esc(&c.last_name), esc(&c.first_name)),
    );
    for (i, e) in c.emails.iter().enumerate() {
        let pref = if i == 0 { ";PREF=1" } else { "" };
        let ty = type_param(e.label.as_deref(), false);
        line(&mut out, &format!("EMAIL{ty}{pref}:{}", esc(&e.email)));
    }
    for (i, p) in c.phones.iter().enumerate() {
        let pref = if i == 0 { ";PREF=1" } else { "" };
        let ty = type_param(p.label.as_deref(), true);
        // E.164 as a tel: URI; the number holds only + and digits.
        let number: String = p
            .phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        line(&mut out, &format!("TEL;VALUE=uri{ty}{pref}:tel:{number}"));
    }
    if let Some(company) = &c.company {
        line(&mut out, &format!("ORG:{}", esc(&company.name)));
    }
    if let Some(t) = c.job_title.as_deref().filter(|t| !t.is_empty()) {
        line(&mut out, &format!("TITLE:{}", esc(t)));
    }
    if let Some(a) = &c.address {
        let part = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
        line(
            &mut out,
            &format!(
                "ADR:;;{};{};{};{};{}",
                part(&a.street),
                part(&a.city),
                part(&a.region),
                part(&a.postal_code),
                part(&a.country)
            ),
        );
    }
    if let Some(b) = c.birthday.as_deref() {
        // A date value: `19850412`, or `--0412` without the year.
        line(
            &mut out,
            &format!("BDAY:{}", crate::crm::birthdays::vcard(b)),
        );
    }
    if !c.extras.tags.is_empty() {
        let tags: Vec<String> = c.extras.tags.iter().map(|t| esc(&t.name)).collect();
        line(&mut out, &format!("CATEGORIES:{}", tags.join(",")));
    }
    if let Some(rev) = timestamp(&c.updated_at) {
        line(&mut out, &format!("REV:{rev}"));
    }
    line(&mut out, "END:VCARD");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(esc("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        let value = "é".repeat(100);
        line(&mut out, &format!("NOTE:{value}"));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let unfolded = out.trim_end().replace("\r\n ", "");
        assert_eq!(unfolded, format!("NOTE:{value}"));
    }

    #[test]
    fn timestamps_are_basic_format() {
        assert_eq!(
            timestamp("2026-12-04T20:30:05.123Z").as_deref(),
            Some("20261204T203005Z")
        );
    }
}
