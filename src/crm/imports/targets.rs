//! What a column can become: the fields of each kind an import fills, how
//! they are recognised from the header names other CRMs and address books
//! export (Google, Outlook, HubSpot, Pipedrive, Salesforce) and from the
//! values themselves, and how a row's cells become a record's body — the
//! same JSON the API's create takes, so the records layer validates it.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::record::FieldType;
use crate::record::custom::CustomField;

/// A field a column can be mapped to.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ImportTarget)]
pub struct Target {
    /// `first_name`, `email`, `custom.<key>`, …
    pub key: String,
    pub label: String,
    /// Several columns may fill it (emails, phones).
    pub repeatable: bool,
}

struct Builtin {
    key: &'static str,
    label: &'static str,
    repeatable: bool,
    /// Header names it is recognised by, compared after `normal`.
    aliases: &'static [&'static str],
}

const fn b(
    key: &'static str,
    label: &'static str,
    repeatable: bool,
    aliases: &'static [&'static str],
) -> Builtin {
    Builtin {
        key,
        label,
        repeatable,
        aliases,
    }
}

const STREET: &[&str] = &[
    "street",
    "address",
    "street address",
    "address line 1",
    "address 1 street",
    "business street",
    "home street",
    "mailing street",
    "billing street",
    "address street",
];
const CITY: &[&str] = &[
    "city",
    "town",
    "address 1 city",
    "business city",
    "home city",
    "mailing city",
    "billing city",
    "address city",
];
const REGION: &[&str] = &[
    "region",
    "state",
    "province",
    "county",
    "state province",
    "address 1 region",
    "business state",
    "home state",
    "mailing state",
    "billing state",
    "state region",
];
const POSTAL: &[&str] = &[
    "postal code",
    "postcode",
    "zip",
    "zip code",
    "zipcode",
    "address 1 postal code",
    "business postal code",
    "home postal code",
    "mailing zip",
    "billing zip",
    "mailing postal code",
    "billing postal code",
];
const COUNTRY: &[&str] = &[
    "country",
    "country code",
    "address 1 country",
    "business country region",
    "home country region",
    "country region",
    "mailing country",
    "billing country",
];

const CONTACT: &[Builtin] = &[
    b(
        "first_name",
        "First name",
        false,
        &[
            "first name",
            "firstname",
            "given name",
            "first",
            "forename",
            "prenom",
            "vorname",
        ],
    ),
    b(
        "last_name",
        "Last name",
        false,
        &[
            "last name",
            "lastname",
            "surname",
            "family name",
            "last",
            "nom",
            "nachname",
        ],
    ),
    b(
        "full_name",
        "Full name (split into first and last)",
        false,
        &[
            "name",
            "full name",
            "contact name",
            "display name",
            "contact",
            "person",
            "person name",
        ],
    ),
    b(
        "email",
        "Email",
        true,
        &[
            "email",
            "e mail",
            "email address",
            "e mail address",
            "email 1 value",
            "email 2 value",
            "email 3 value",
            "e mail 1 value",
            "e mail 2 value",
            "e mail 2 address",
            "e mail 3 address",
            "work email",
            "primary email",
            "personal email",
            "home email",
            "other email",
            "email work",
            "email home",
            "mail",
        ],
    ),
    b(
        "phone",
        "Phone",
        true,
        &[
            "phone",
            "phone number",
            "telephone",
            "tel",
            "mobile",
            "mobile phone",
            "cell",
            "cell phone",
            "business phone",
            "business phone 2",
            "home phone",
            "work phone",
            "primary phone",
            "phone 1 value",
            "phone 2 value",
            "phone 3 value",
            "other phone",
            "company main phone",
            "phone work",
            "phone mobile",
            "phone home",
        ],
    ),
    b(
        "job_title",
        "Job title",
        false,
        &[
            "job title",
            "title",
            "position",
            "role",
            "jobtitle",
            "organization 1 title",
            "organization title",
        ],
    ),
    b(
        "company_name",
        "Company (linked by name, created if new)",
        false,
        &[
            "company",
            "company name",
            "organization",
            "organisation",
            "organization 1 name",
            "organization name",
            "account name",
            "account",
            "employer",
            "business",
        ],
    ),
    b("address.street", "Street", false, STREET),
    b("address.city", "City", false, CITY),
    b("address.region", "Region", false, REGION),
    b("address.postal_code", "Postal code", false, POSTAL),
    b(
        "address.country",
        "Country (ISO code or name)",
        false,
        COUNTRY,
    ),
    b(
        "stage",
        "Stage",
        false,
        &[
            "stage",
            "lifecycle stage",
            "lead status",
            "status",
            "contact stage",
        ],
    ),
    b(
        "source",
        "Source",
        false,
        &["source", "lead source", "original source", "origin"],
    ),
    b(
        "birthday",
        "Birthday",
        false,
        &[
            "birthday",
            "birth date",
            "birthdate",
            "date of birth",
            "dob",
            "born",
            "geburtstag",
            "anniversaire",
        ],
    ),
    // Only a vCard file's own column (its header is this key): the photos
    // it names were kept when the file was read.
    b("vcard_photo", "Photo (from the vCard file)", false, &[]),
];

const COMPANY: &[Builtin] = &[
    b(
        "name",
        "Name",
        false,
        &[
            "name",
            "company",
            "company name",
            "organization",
            "organisation",
            "organization name",
            "account name",
            "account",
        ],
    ),
    b(
        "domain",
        "Domain or website",
        false,
        &[
            "domain",
            "website",
            "web site",
            "url",
            "web",
            "homepage",
            "company domain name",
            "web page",
            "site",
        ],
    ),
    b(
        "industry",
        "Industry",
        false,
        &["industry", "sector", "vertical"],
    ),
    b(
        "size",
        "Size (employees)",
        false,
        &[
            "size",
            "employees",
            "company size",
            "number of employees",
            "headcount",
            "employee count",
        ],
    ),
    b(
        "phone",
        "Phone",
        false,
        &[
            "phone",
            "phone number",
            "telephone",
            "main phone",
            "company phone",
            "business phone",
            "phone 1 value",
        ],
    ),
    b("address.street", "Street", false, STREET),
    b("address.city", "City", false, CITY),
    b("address.region", "Region", false, REGION),
    b("address.postal_code", "Postal code", false, POSTAL),
    b(
        "address.country",
        "Country (ISO code or name)",
        false,
        COUNTRY,
    ),
];

const DEAL: &[Builtin] = &[
    b(
        "title",
        "Title",
        false,
        &[
            "title",
            "name",
            "deal name",
            "deal",
            "deal title",
            "opportunity name",
            "opportunity",
            "subject",
        ],
    ),
    b(
        "amount",
        "Amount",
        false,
        &[
            "amount",
            "value",
            "deal value",
            "deal amount",
            "price",
            "revenue",
            "opportunity amount",
        ],
    ),
    b(
        "currency",
        "Currency",
        false,
        &["currency", "currency code", "deal currency"],
    ),
    b(
        "close_date",
        "Close date",
        false,
        &[
            "close date",
            "expected close date",
            "closing date",
            "close",
            "closed date",
            "due date",
        ],
    ),
    b(
        "pipeline",
        "Pipeline (by name)",
        false,
        &["pipeline", "deal pipeline", "sales pipeline"],
    ),
    b(
        "stage",
        "Stage (by name)",
        false,
        &["stage", "deal stage", "status", "sales stage", "phase"],
    ),
    b(
        "company_name",
        "Company (linked by name, created if new)",
        false,
        &[
            "company",
            "company name",
            "organization",
            "organisation",
            "account name",
            "account",
            "organization name",
        ],
    ),
    b(
        "source",
        "Source",
        false,
        &["source", "lead source", "origin", "channel"],
    ),
    b(
        "next_step",
        "Next step",
        false,
        &["next step", "next action", "next activity"],
    ),
    b(
        "lost_reason",
        "Lost reason",
        false,
        &[
            "lost reason",
            "reason lost",
            "loss reason",
            "closed lost reason",
        ],
    ),
];

fn builtins(kind: &str) -> &'static [Builtin] {
    match kind {
        "contact" => CONTACT,
        "company" => COMPANY,
        _ => DEAL,
    }
}

/// Custom field types a cell can fill (users and records are not named in
/// files the same way everywhere: left to a later edit).
pub fn importable(ty: FieldType) -> bool {
    !matches!(ty, FieldType::User | FieldType::Record)
}

/// Every field a column of `kind` can be mapped to.
pub fn targets(kind: &str, custom: &[CustomField]) -> Vec<Target> {
    builtins(kind)
        .iter()
        .map(|t| Target {
            key: t.key.to_string(),
            label: t.label.to_string(),
            repeatable: t.repeatable,
        })
        .chain(custom.iter().filter(|f| importable(f.ty)).map(|f| Target {
            key: format!("custom.{}", f.key),
            label: f.label.clone(),
            repeatable: false,
        }))
        .collect()
}

/// A header as compared: lower case, letters and digits, single spaces,
/// "e-mail" as "email".
pub fn normal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'é' | 'è' | 'ê' => 'e',
            'à' | 'â' => 'a',
            'ö' => 'o',
            'ü' => 'u',
            c => c,
        };
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().replace("e mail", "email")
}

/// A field for each column: from its header first, from its values when the
/// header says nothing; each field once unless it takes several columns.
pub fn suggest(
    kind: &str,
    custom: &[CustomField],
    headers: &[String],
    samples: &[Vec<String>],
) -> Vec<Option<String>> {
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let n = normal(h);
        let by_header = custom
            .iter()
            .filter(|f| importable(f.ty))
            .find(|f| normal(&f.label) == n || normal(&f.key) == n)
            .map(|f| (format!("custom.{}", f.key), false))
            .or_else(|| {
                builtins(kind).iter().find_map(|t| {
                    let aliases = t.aliases.iter().map(|a| normal(a));
                    (normal(t.key) == n || aliases.into_iter().any(|a| a == n))
                        .then(|| (t.key.to_string(), t.repeatable))
                })
            });
        let values: Vec<&str> = samples
            .iter()
            .filter_map(|r| r.get(i))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let guess = by_header.or_else(|| by_values(kind, &values));
        let pick = guess.filter(|(key, repeatable)| *repeatable || !taken.contains(key));
        if let Some((key, _)) = &pick {
            taken.push(key.clone());
        }
        out.push(pick.map(|(k, _)| k));
    }
    out
}

fn by_values(kind: &str, values: &[&str]) -> Option<(String, bool)> {
    if values.is_empty() {
        return None;
    }
    let all = |f: fn(&str) -> bool| values.iter().all(|v| f(v));
    let found = if all(looks_like_email) {
        match kind {
            "contact" => Some(("email", true)),
            _ => None,
        }
    } else if all(looks_like_phone) {
        match kind {
            "contact" => Some(("phone", true)),
            "company" => Some(("phone", false)),
            _ => None,
        }
    } else if all(looks_like_domain) {
        (kind == "company").then_some(("domain", false))
    } else if all(|v| date(v, false).is_some()) {
        (kind == "deal").then_some(("close_date", false))
    } else {
        None
    };
    found.map(|(k, r)| (k.to_string(), r))
}

fn looks_like_email(v: &str) -> bool {
    let Some((local, host)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty() && host.contains('.') && !v.contains(char::is_whitespace)
}

fn looks_like_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    digits >= 7
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().x/".contains(c))
}

fn looks_like_domain(v: &str) -> bool {
    let v = v
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    let host = v.split('/').next().unwrap_or("");
    host.contains('.')
        && !host.contains('@')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// A date written as people write them: ISO (2026-03-31, with or without a
/// time), day first (31/03/2026, 31.03.2026) or month first (03/31/2026) —
/// `day_first` settles 01/02/2026 — as `YYYY-MM-DD`.
pub fn date(v: &str, day_first: bool) -> Option<String> {
    let v = v.trim();
    let head = v.split(['T', ' ']).next().unwrap_or(v);
    let parts: Vec<&str> = head.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    if n.len() != 3 {
        return None;
    }
    let (y, m, d) = if parts[0].len() == 4 {
        (n[0], n[1], n[2])
    } else if parts[2].len() == 4 || parts[2].len() == 2 {
        let y = if parts[2].len() == 2 {
            2000 + n[2]
        } else {
            n[2]
        };
        let (a, b) = (n[0], n[1]);
        // The one that cannot be a month settles it; otherwise the organization's habit.
        if a > 12 || (day_first && b <= 12) {
            (y, b, a)
        } else {
            (y, a, b)
        }
    } else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// A birthday as files write it: vCard's forms (`1985-04-12`, `19850412`,
/// `--04-12`) or a date as people write one (12/04/1985).
fn birthday(v: &str, day_first: bool) -> Option<String> {
    crate::crm::birthdays::read(v, None)
        .or_else(|| date(v, day_first).and_then(|d| crate::crm::birthdays::parse(&d)))
}

/// An amount as people write it (`$1,234.50`, `1.234,50 €`, `1 234`) in
/// minor units; None if it is not a number.
pub fn amount(v: &str) -> Option<i64> {
    let kept: String = v
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',' || *c == '-')
        .collect();
    if kept.is_empty() || kept.starts_with('-') {
        return None;
    }
    // The last separator followed by one or two digits is the decimal one.
    let (whole, frac) = match kept.rfind(['.', ',']) {
        Some(i) if kept.len() - i - 1 <= 2 => (&kept[..i], &kept[i + 1..]),
        _ => (kept.as_str(), ""),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// A contact stage from its name (`Former customer`, `former_customer`).
fn contact_stage(v: &str) -> String {
    normal(v).replace(' ', "_")
}

/// What a row's cells make: the body to validate, and problems found
/// before validation (an amount that is no number, an unknown stage).
#[derive(Default)]
pub struct Built {
    pub body: Map<String, Value>,
    pub problems: Vec<(String, String)>,
    /// The company named in the row, to link (or create) by name.
    pub company_name: Option<String>,
    /// The deal's pipeline and stage named in the row.
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    /// The contact's photo from a vCard file (`photos::cell`).
    pub photo: Option<String>,
}

fn label_of(header: &str) -> Option<String> {
    let h = normal(header);
    [
        "mobile", "home", "work", "personal", "business", "other", "cell", "main",
    ]
    .iter()
    .find(|l| h.split(' ').any(|w| w == **l))
    .map(|l| match *l {
        "business" => "work".to_string(),
        "cell" => "mobile".to_string(),
        l => l.to_string(),
    })
}

/// Builds a row's body from its cells and the mapping.
pub fn build(
    kind: &str,
    mapping: &[Option<String>],
    headers: &[String],
    cells: &csv::StringRecord,
    custom: &[CustomField],
    day_first: bool,
) -> Built {
    let mut out = Built::default();
    let mut address = Map::new();
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    let mut custom_values = Map::new();
    let mut full_name = None;
    for (i, target) in mapping.iter().enumerate() {
        let Some(target) = target else { continue };
        let Some(v) = cells.get(i).map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let header = headers.get(i).map(String::as_str).unwrap_or("");
        let text = Value::String(v.to_string());
        match (kind, target.as_str()) {
            (_, t) if t.starts_with("address.") => {
                address.insert(t["address.".len()..].to_string(), text);
            }
            (_, t) if t.starts_with("custom.") => {
                let key = &t["custom.".len()..];
                if let Some(f) = custom.iter().find(|f| f.key == key) {
                    custom_values.insert(key.to_string(), custom_value(f, v, day_first));
                }
            }
            ("contact", "email") => {
                for e in v.split([';', ',']).map(str::trim).filter(|e| !e.is_empty()) {
                    emails.push(json!({"email": e, "label": label_of(header)}));
                }
            }
            ("contact", "phone") => {
                phones.push(json!({"phone": v, "label": label_of(header)}));
            }
            ("contact", "full_name") => full_name = Some(v.to_string()),
            ("contact", "stage") => {
                out.body
                    .insert("stage".into(), Value::String(contact_stage(v)));
            }
            ("contact" | "deal", "company_name") => out.company_name = Some(v.to_string()),
            ("deal", "pipeline") => out.pipeline = Some(v.to_string()),
            ("deal", "stage") => out.stage = Some(v.to_string()),
            ("deal", "amount") => match amount(v) {
                Some(a) => {
                    out.body.insert("amount".into(), Value::from(a));
                }
                None => out
                    .problems
                    .push(("amount".into(), format!("{v:?} is not an amount"))),
            },
            ("deal", "currency") => {
                out.body
                    .insert("currency".into(), Value::String(v.to_uppercase()));
            }
            ("contact", "birthday") => match birthday(v, day_first) {
                Some(b) => {
                    out.body.insert("birthday".into(), Value::String(b));
                }
                None => out.problems.push((
                    "birthday".into(),
                    format!("{v:?} is not a birthday (1985-04-12, or --04-12 without the year)"),
                )),
            },
            ("contact", "vcard_photo") => out.photo = Some(v.to_string()),
            ("deal", "close_date") => match date(v, day_first) {
                Some(d) => {
                    out.body.insert("close_date".into(), Value::String(d));
                }
                None => out
                    .problems
                    .push(("close_date".into(), format!("{v:?} is not a date"))),
            },
            ("company", "size") => {
                out.body.insert("size".into(), Value::String(size(v)));
            }
            (_, t) => {
                out.body.insert(t.to_string(), text);
            }
        }
    }
    if let Some(name) = full_name {
        let has = |k: &str| out.body.get(k).is_some();
        if !has("first_name") && !has("last_name") {
            match name.rsplit_once(' ') {
                Some((first, last)) => {
                    out.body
                        .insert("first_name".into(), Value::String(first.trim().into()));
                    out.body
                        .insert("last_name".into(), Value::String(last.trim().into()));
                }
                None => {
                    out.body.insert("first_name".into(), Value::String(name));
                }
            }
        }
    }
    if !emails.is_empty() {
        out.body.insert("emails".into(), Value::Array(emails));
    }
    if !phones.is_empty() {
        out.body.insert("phones".into(), Value::Array(phones));
    }
    if !address.is_empty() {
        out.body.insert("address".into(), Value::Object(address));
    }
    if !custom_values.is_empty() {
        out.body
            .insert("custom".into(), Value::Object(custom_values));
    }
    out
}

/// A head count as one of the size ranges (`120` → `51-200`).
fn size(v: &str) -> String {
    let digits: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    if digits.len() != v.trim().replace(',', "").len() {
        return v.trim().to_string();
    }
    match digits.parse::<u64>() {
        Ok(0..=10) => "1-10",
        Ok(11..=50) => "11-50",
        Ok(51..=200) => "51-200",
        Ok(201..=500) => "201-500",
        Ok(501..=1000) => "501-1000",
        Ok(1001..=5000) => "1001-5000",
        Ok(_) => "5001+",
        Err(_) => return v.trim().to_string(),
    }
    .to_string()
}

/// A cell as the custom field's type takes it; the field's own validation
/// says what is wrong with it.
fn custom_value(f: &CustomField, v: &str, day_first: bool) -> Value {
    match f.ty {
        FieldType::Checkbox => match normal(v).as_str() {
            "yes" | "true" | "1" | "x" | "y" | "on" | "checked" => Value::Bool(true),
            "no" | "false" | "0" | "n" | "off" | "unchecked" => Value::Bool(false),
            _ => Value::String(v.to_string()),
        },
        FieldType::MultiSelect => Value::Array(
            v.split([';', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(option(f, s)))
                .collect(),
        ),
        FieldType::Select => Value::String(option(f, v)),
        FieldType::Date => Value::String(date(v, day_first).unwrap_or_else(|| v.to_string())),
        FieldType::Number => Value::String(v.replace([' ', '\u{a0}'], "")),
        _ => Value::String(v.to_string()),
    }
}

/// A select option's key from its label or key.
fn option(f: &CustomField, v: &str) -> String {
    f.options
        .iter()
        .find(|o| normal(&o.label) == normal(v) || o.value == v)
        .map(|o| o.value.clone())
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_other_crms_are_recognised() {
        let h: Vec<String> = [
            "E-mail Address",
            "First Name",
            "Company",
            "Phone 1 - Value",
            "Business Phone",
            "Notes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = suggest("contact", &[], &h, &[]);
        assert_eq!(
            got,
            vec![
                Some("email".into()),
                Some("first_name".into()),
                Some("company_name".into()),
                Some("phone".into()),
                Some("phone".into()),
                None
            ]
        );
    }

    #[test]
    fn values_say_what_a_column_is() {
        let h = vec!["a".to_string(), "b".to_string()];
        let rows = vec![vec!["x@y.com".to_string(), "+44 20 7946 0958".to_string()]];
        assert_eq!(
            suggest("contact", &[], &h, &rows),
            vec![Some("email".into()), Some("phone".into())]
        );
    }

    #[test]
    fn dates_and_amounts_parse() {
        assert_eq!(date("2026-03-31", false).as_deref(), Some("2026-03-31"));
        assert_eq!(date("31/03/2026", false).as_deref(), Some("2026-03-31"));
        assert_eq!(date("03/04/2026", true).as_deref(), Some("2026-04-03"));
        assert_eq!(date("03/04/2026", false).as_deref(), Some("2026-03-04"));
        assert_eq!(date("2026-02-30", false), None);
        assert_eq!(amount("$1,234.50"), Some(123450));
        assert_eq!(amount("1.234,5 €"), Some(123450));
        assert_eq!(amount("1 200"), Some(120000));
        assert_eq!(amount("abc"), None);
    }
}
