//! Validation and normalisation of the field kinds CRM records share:
//! short texts, labelled emails and phones, postal addresses, web domains.
//! Each function records problems under the field's JSON path and returns
//! the cleaned value, so one 422 can name every bad field at once.

use serde::{Deserialize, Serialize};

use crate::error::Problems;

pub const MAX_LABELLED: usize = 20;

/// Trims; empty means absent; longer than `max` characters is a problem.
pub fn text(p: &mut Problems, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let v = value?.trim().to_string();
    if v.is_empty() {
        return None;
    }
    if v.chars().count() > max {
        p.add(field, format!("use at most {max} characters"));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        p.add(field, "contains control characters");
    }
    Some(v)
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabeledEmail {
    /// Free text such as work, personal (default: work).
    #[serde(default)]
    pub label: Option<String>,
    pub email: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabeledPhone {
    /// Free text such as mobile, work (default: work).
    #[serde(default)]
    pub label: Option<String>,
    /// Any common way of writing it; stored and returned in E.164 (+14155550123).
    pub phone: String,
}

fn label(p: &mut Problems, field: String, value: Option<String>) -> String {
    text(p, &field, value, 40).unwrap_or_else(|| "work".into())
}

/// An address people can write to from the internet: valid syntax and a
/// domain with a dot (`ann@localhost` is valid RFC 5321 but never a customer).
pub fn is_email(addr: &str) -> bool {
    addr.len() <= 254
        && email_address::EmailAddress::is_valid(addr)
        && addr.rsplit_once('@').is_some_and(|(_, domain)| {
            domain.contains('.') && !domain.ends_with('.') && !domain.starts_with('[')
        })
}

pub fn emails(p: &mut Problems, field: &str, list: Vec<LabeledEmail>) -> Vec<LabeledEmail> {
    if list.len() > MAX_LABELLED {
        p.add(field, format!("at most {MAX_LABELLED} entries"));
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, e) in list.into_iter().enumerate() {
        let path = format!("{field}[{i}].email");
        let addr = e.email.trim().to_string();
        if !is_email(&addr) {
            p.add(path, "not a valid email address");
        } else if !seen.insert(addr.to_lowercase()) {
            p.add(path, "listed twice");
        }
        out.push(LabeledEmail {
            label: Some(label(p, format!("{field}[{i}].label"), e.label)),
            email: addr,
        });
    }
    out
}

/// The phonenumber crate keeps its compiled patterns in one global cache
/// behind a mutex that it takes dozens of times per number; from many threads
/// at once that convoys badly (hundreds of ms at the tail). Taking our own
/// lock once per number makes its inner locks uncontended.
static PHONE_PARSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A phone number in E.164, read in `region` when written without +country.
pub fn phone_number(p: &mut Problems, field: &str, raw: &str, region: &str) -> String {
    let raw = raw.trim();
    let _one_at_a_time = PHONE_PARSER.lock().unwrap_or_else(|e| e.into_inner());
    let region = phonenumber::country::Id::try_from(region).ok();
    match phonenumber::parse(region, raw) {
        Ok(n) if phonenumber::is_valid(&n) => n.format().mode(phonenumber::Mode::E164).to_string(),
        _ => {
            p.add(
                field,
                "not a valid phone number (add the country code, e.g. +44 …)",
            );
            raw.to_string()
        }
    }
}

/// How one record's phone numbers are read: written without +country, in
/// the organization's country; a number the record already holds, as it
/// is. That one was read when it was stored, and reading an E.164 number
/// again was half of an update's validation, for a number the change may
/// not even name.
pub struct Phones<'a> {
    region: &'a str,
    stored: Vec<&'a str>,
}

impl<'a> Phones<'a> {
    /// For a new record.
    pub fn new(region: &'a str) -> Phones<'a> {
        Phones {
            region,
            stored: Vec::new(),
        }
    }

    /// For a change of a record that holds the numbers `stored`.
    pub fn with_stored(region: &'a str, stored: Vec<&'a str>) -> Phones<'a> {
        Phones { region, stored }
    }

    /// The organization's country.
    pub fn region(&self) -> &'a str {
        self.region
    }

    /// `raw` in E.164, as `phone_number` reads it unless the record
    /// already holds exactly this number.
    pub fn read(&self, p: &mut Problems, field: &str, raw: &str) -> String {
        match self.stored.iter().find(|s| **s == raw) {
            Some(known) => (*known).to_string(),
            None => phone_number(p, field, raw, self.region),
        }
    }
}

pub fn phones(
    p: &mut Problems,
    field: &str,
    list: Vec<LabeledPhone>,
    read: &Phones<'_>,
) -> Vec<LabeledPhone> {
    if list.len() > MAX_LABELLED {
        p.add(field, format!("at most {MAX_LABELLED} entries"));
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, ph) in list.into_iter().enumerate() {
        let path = format!("{field}[{i}].phone");
        let number = read.read(p, &path, &ph.phone);
        if !seen.insert(number.clone()) {
            p.add(path, "listed twice");
        }
        out.push(LabeledPhone {
            label: Some(label(p, format!("{field}[{i}].label"), ph.label)),
            phone: number,
        });
    }
    out
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Address {
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code such as GB (any case in, upper case out).
    #[serde(default)]
    pub country: Option<String>,
}

/// An address is a JSON object and nothing else: serde's derived structs
/// also take an array of their fields in order, which would read
/// `["Main St", "Paris"]` as a street and a city.
impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Parts {
            #[serde(default)]
            street: Option<String>,
            #[serde(default)]
            city: Option<String>,
            #[serde(default)]
            region: Option<String>,
            #[serde(default)]
            postal_code: Option<String>,
            #[serde(default)]
            country: Option<String>,
        }
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let p =
            Parts::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom)?;
        Ok(Address {
            street: p.street,
            city: p.city,
            region: p.region,
            postal_code: p.postal_code,
            country: p.country,
        })
    }
}

/// Cleans every part; an address with no part left is no address.
pub fn address(p: &mut Problems, field: &str, a: Option<Address>) -> Option<Address> {
    let a = a?;
    let clean = Address {
        street: text(p, &format!("{field}.street"), a.street, 200),
        city: text(p, &format!("{field}.city"), a.city, 100),
        region: text(p, &format!("{field}.region"), a.region, 100),
        postal_code: text(p, &format!("{field}.postal_code"), a.postal_code, 20),
        country: a
            .country
            .and_then(|c| country(p, &format!("{field}.country"), &c)),
    };
    (clean != Address::default()).then_some(clean)
}

/// ISO 3166-1 alpha-2: every officially assigned code.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS \
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE \
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM \
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC \
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split([' ', '\n']).any(|c| c == code)
}

/// A country as its ISO 3166-1 alpha-2 code (any case in, upper case out);
/// empty means absent.
pub fn country(p: &mut Problems, field: &str, raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return None;
    }
    if !is_country(&code) {
        p.add(
            field,
            "use a two-letter ISO 3166 country code, e.g. GB or DE",
        );
        return Some(raw.trim().chars().take(100).collect());
    }
    Some(code)
}

/// The ways dates can be written, independent of language: `d`/`dd` day,
/// `m`/`mm` month number, `mmm` short month name, `yyyy` year.
pub const DATE_FORMATS: [&str; 6] = [
    "mmm d, yyyy",
    "d mmm yyyy",
    "yyyy-mm-dd",
    "dd/mm/yyyy",
    "mm/dd/yyyy",
    "dd.mm.yyyy",
];

pub fn is_date_format(f: &str) -> bool {
    DATE_FORMATS.contains(&f)
}

/// An IANA time zone name that the bundled zone database knows.
pub fn is_time_zone(z: &str) -> bool {
    !z.is_empty() && z.len() <= 64 && jiff::tz::TimeZone::get(z).is_ok()
}

/// A company's web domain: accepts `acme.com`, `www.acme.com` or a pasted URL
/// and keeps the lower-case host without `www.` (internationalised names in
/// their ASCII form).
pub fn domain(p: &mut Problems, field: &str, value: Option<String>) -> Option<String> {
    let raw = value?.trim().to_string();
    if raw.is_empty() {
        return None;
    }
    let with_scheme = if raw.contains("://") {
        raw.clone()
    } else {
        format!("http://{raw}")
    };
    let host = url::Url::parse(&with_scheme)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| match u.host() {
            Some(url::Host::Domain(d)) => Some(d.to_string()),
            _ => None,
        });
    let valid = host.filter(|h| {
        let labels: Vec<&str> = h.split('.').collect();
        h.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
            && labels.last().is_some_and(|tld| {
                tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--")
            })
    });
    match valid {
        Some(h) => Some(h.strip_prefix("www.").unwrap_or(&h).to_string()),
        None => {
            p.add(field, "not a valid domain, e.g. acme.com");
            Some(raw)
        }
    }
}

/// ISO 4217 codes in use.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD \
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR \
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR \
MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK \
SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES \
VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && CURRENCIES.split(' ').any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_takes_the_numbers_its_record_holds_as_they_are() {
        // A number stored before (by rules since changed, say) is not read
        // again; only exactly that text is taken on trust.
        let held = "+1555";
        let read = Phones::with_stored("US", vec![held, "+442079460958"]);
        let mut p = Problems::new();
        let list = |nums: &[&str]| {
            nums.iter()
                .map(|n| LabeledPhone {
                    label: None,
                    phone: n.to_string(),
                })
                .collect::<Vec<_>>()
        };
        let out = phones(&mut p, "phones", list(&[held, "(415) 555-0132"]), &read);
        assert!(p.is_empty(), "{:?}", p.into_result());
        assert_eq!(out[0].phone, held);
        assert_eq!(out[1].phone, "+14155550132", "a new number is read");
        let mut p = Problems::new();
        phones(&mut p, "phones", list(&[held]), &Phones::new("US"));
        assert!(!p.is_empty(), "a new record's numbers are all read");
        let mut p = Problems::new();
        phones(&mut p, "phones", list(&["+1 555"]), &read);
        assert!(!p.is_empty(), "the same digits written otherwise are read");
        let mut p = Problems::new();
        phones(
            &mut p,
            "phones",
            list(&["+442079460958", "+442079460958"]),
            &read,
        );
        assert!(!p.is_empty(), "a held number listed twice is still refused");
    }

    #[test]
    fn phones_become_e164() {
        let mut p = Problems::new();
        assert_eq!(
            phone_number(&mut p, "f", "(415) 555-0132", "US"),
            "+14155550132"
        );
        assert_eq!(
            phone_number(&mut p, "f", "+44 20 7946 0958", "US"),
            "+442079460958"
        );
        assert_eq!(phone_number(&mut p, "f", "030 901820", "DE"), "+4930901820");
        assert!(p.is_empty());
        phone_number(&mut p, "f", "12", "US");
        phone_number(&mut p, "g", "call me", "US");
        assert!(p.into_result().is_err());
    }

    #[test]
    fn countries_are_iso_codes() {
        let mut p = Problems::new();
        assert_eq!(country(&mut p, "c", " gb ").as_deref(), Some("GB"));
        assert_eq!(country(&mut p, "c", "AQ").as_deref(), Some("AQ"));
        assert_eq!(country(&mut p, "c", "  "), None);
        assert!(p.is_empty());
        for bad in ["UK", "XX", "USA", "United Kingdom", "G", "E\u{0}"] {
            let mut p = Problems::new();
            country(&mut p, "c", bad);
            assert!(!p.is_empty(), "{bad} should be refused");
        }
        assert_eq!(
            COUNTRIES
                .split([' ', '\n'])
                .filter(|c| !c.is_empty())
                .count(),
            249
        );
    }

    #[test]
    fn uk_numbers_are_read_in_a_uk_org() {
        let mut p = Problems::new();
        assert_eq!(
            phone_number(&mut p, "f", "020 7946 0958", "GB"),
            "+442079460958"
        );
        assert_eq!(
            phone_number(&mut p, "f", "07911 123456", "GB"),
            "+447911123456"
        );
        assert!(p.is_empty());
        // The same digits mean nothing in a US organization.
        phone_number(&mut p, "f", "020 7946 0958", "US");
        assert!(!p.is_empty());
    }

    #[test]
    fn domains_are_normalised() {
        let mut p = Problems::new();
        assert_eq!(
            domain(&mut p, "d", Some("Acme.COM".into())).as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            domain(&mut p, "d", Some("https://www.acme.co.uk/about?x=1".into())).as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(
            domain(&mut p, "d", Some("bücher.de".into())).as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert!(p.is_empty());
        for bad in [
            "localhost",
            "acme",
            "1.2.3.4",
            "ftp://acme.com",
            "acme..com",
            "-a.com",
        ] {
            let mut p = Problems::new();
            domain(&mut p, "d", Some(bad.into()));
            assert!(!p.is_empty(), "{bad} should be refused");
        }
    }

    #[test]
    fn emails_are_checked_and_deduplicated() {
        let mut p = Problems::new();
        let out = emails(
            &mut p,
            "emails",
            vec![
                LabeledEmail {
                    label: None,
                    email: " ann@example.com ".into(),
                },
                LabeledEmail {
                    label: Some("home".into()),
                    email: "ANN@example.com".into(),
                },
                LabeledEmail {
                    label: None,
                    email: "not-an-email".into(),
                },
                LabeledEmail {
                    label: None,
                    email: "nadia@not-a-domain".into(),
                },
            ],
        );
        assert_eq!(out[0].email, "ann@example.com");
        assert_eq!(out[0].label.as_deref(), Some("work"));
        let Err(crate::error::AppError::Validation { fields, .. }) = p.into_result() else {
            panic!("expected problems")
        };
        assert!(fields.contains_key("emails[1].email"));
        assert!(fields.contains_key("emails[2].email"));
        assert!(fields.contains_key("emails[3].email"));
    }

    #[test]
    fn empty_addresses_vanish() {
        let mut p = Problems::new();
        assert_eq!(
            address(
                &mut p,
                "a",
                Some(Address {
                    city: Some("  ".into()),
                    ..Default::default()
                })
            ),
            None
        );
        assert!(
            address(
                &mut p,
                "a",
                Some(Address {
                    city: Some("Lyon".into()),
                    ..Default::default()
                })
            )
            .is_some()
        );
    }
}
