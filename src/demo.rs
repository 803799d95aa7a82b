//! `harmonia demo`: an organization full of realistic, generated CRM data,
//! made offline from a fixed seed (the same seed gives the same data).
//! Records go through the same validation and SQL as the API, in batches,
//! so a million contacts stay a matter of a minute.

use std::io::Write;

use crate::auth::users;
use crate::clock;
use crate::crm::companies::{self, CompanyInput, Size};
use crate::crm::contacts::{self, ContactInput, Stage};
use crate::error::{AppError, AppResult};
use crate::platform::orgs::{self, NewOrg};
use crate::platform::setup;
use crate::state::AppState;
use crate::values::{Address, LabeledEmail, LabeledPhone};

pub const DEMO_EMAIL: &str = "demo@harmonia.example";
pub const DEMO_PASSWORD: &str = "harmonia-demo";
pub const DEMO_SLUG: &str = "demo";
const BATCH: usize = 5_000;

/// SplitMix64: tiny, fast, and deterministic across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "Ada",
    "Amara",
    "Ben",
    "Carlos",
    "Chloé",
    "Daniel",
    "Elena",
    "Emeka",
    "Fatima",
    "François",
    "Grace",
    "Hana",
    "Hiroshi",
    "Ines",
    "Isaac",
    "Jamal",
    "José",
    "Julia",
    "Kai",
    "Lars",
    "Leila",
    "Lucas",
    "Maya",
    "Mei",
    "Mohammed",
    "Nadia",
    "Noah",
    "Olivia",
    "Omar",
    "Priya",
    "Rafael",
    "Rosa",
    "Sam",
    "Sofia",
    "Søren",
    "Tariq",
    "Uma",
    "Valentina",
    "Wei",
    "Zoë",
    "Aisha",
    "Björn",
    "Camille",
    "Dmitri",
    "Esther",
    "Felix",
    "Gabriel",
    "Helga",
    "Ivan",
    "Jana",
];
const LAST: &[&str] = &[
    "Adeyemi",
    "Álvarez",
    "Andersen",
    "Bauer",
    "Chen",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Gupta",
    "Hansen",
    "Hernández",
    "Ibrahim",
    "Ito",
    "Jansen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lee",
    "López",
    "Martin",
    "Müller",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Pereira",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Sørensen",
    "Tanaka",
    "Thompson",
    "Nguyen",
    "Varga",
    "Wagner",
    "Walker",
    "Wang",
    "Weber",
    "Yilmaz",
    "Zhang",
    "O'Brien",
    "Murphy",
    "Kovács",
    "Haddad",
];
const COMPANY_A: &[&str] = &[
    "Blue", "North", "Bright", "Silver", "Green", "Iron", "Clear", "Swift", "Summit", "Harbor",
    "Cedar", "Atlas", "Nova", "Pioneer", "Golden", "Coastal", "Prime", "Urban", "Maple", "Polar",
];
const COMPANY_B: &[&str] = &[
    "Labs",
    "Works",
    "Systems",
    "Logistics",
    "Foods",
    "Health",
    "Analytics",
    "Design",
    "Energy",
    "Partners",
    "Robotics",
    "Textiles",
    "Media",
    "Ventures",
    "Bakery",
    "Dental",
    "Legal",
    "Builders",
    "Travel",
    "Software",
];
const INDUSTRIES: &[&str] = &[
    "Software",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Logistics",
    "Hospitality",
    "Construction",
    "Financial services",
    "Education",
    "Food & beverage",
    "Media",
    "Energy",
];
const TITLES: &[&str] = &[
    "CEO",
    "Founder",
    "Head of Sales",
    "Office Manager",
    "CTO",
    "Marketing Lead",
    "Operations Director",
    "Account Manager",
    "Purchasing Manager",
    "Product Manager",
    "Finance Director",
    "Customer Success Lead",
    "Engineer",
    "Consultant",
    "Owner",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "CA", "US"),
    ("Austin", "TX", "US"),
    ("New York", "NY", "US"),
    ("Chicago", "IL", "US"),
    ("Seattle", "WA", "US"),
    ("Denver", "CO", "US"),
    ("Boston", "MA", "US"),
    ("Toronto", "ON", "CA"),
    ("London", "", "GB"),
    ("Berlin", "", "DE"),
    ("Lyon", "", "FR"),
    ("Madrid", "", "ES"),
];
const AREA_CODES: &[&str] = &[
    "415", "512", "212", "312", "206", "303", "617", "646", "720",
];
const SOURCES: &[&str] = &[
    "referral",
    "web form",
    "trade show",
    "cold email",
    "partner",
    "inbound call",
];
const SIZES: &[Size] = &[
    Size::S1to10,
    Size::S11to50,
    Size::S51to200,
    Size::S201to500,
    Size::S501to1000,
];

fn slug_part(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The letter an email local part uses for an accented one (Björn Álvarez →
/// bjorn.alvarez), whatever its case.
fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' | 'ő' => out.push('o'),
            'ú' | 'ù' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ś' | 'š' | 'ş' => out.push('s'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            'ł' => out.push('l'),
            'ř' => out.push('r'),
            'ť' => out.push('t'),
            'ď' | 'đ' | 'ð' => out.push('d'),
            'ğ' => out.push('g'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ß' => out.push_str("ss"),
            'þ' => out.push_str("th"),
            other => out.push(other),
        }
    }
    out
}

/// The email local part of a person: folded to ASCII, letters and digits
/// only, first and last name joined by a dot.
fn email_local(first: &str, last: &str) -> String {
    format!(
        "{}.{}",
        slug_part(&ascii_fold(first)),
        slug_part(&ascii_fold(last))
    )
}

/// The `i`-th company's name. The first 400 are every pairing of the two word
/// lists once, in an order the seed shuffles (7 is prime to 400, so the
/// stride visits each pairing exactly once); later ones repeat the pairings
/// with a number. Names, and so domains, are never the same twice.
fn company_name(i: usize, offset: usize) -> String {
    let pairs = COMPANY_A.len() * COMPANY_B.len();
    let k = (i % pairs * 7 + offset) % pairs;
    let base = format!(
        "{} {}",
        COMPANY_A[k / COMPANY_B.len()],
        COMPANY_B[k % COMPANY_B.len()]
    );
    if i < pairs {
        base
    } else {
        format!("{base} {}", i / pairs + 1)
    }
}

fn phone(rng: &mut Rng) -> String {
    format!("+1 {} 555 01{:02}", rng.pick(AREA_CODES), rng.below(100))
}

fn address(rng: &mut Rng) -> Address {
    let (city, region, country) = CITIES[rng.below(CITIES.len())];
    Address {
        street: Some(format!(
            "{} {} Street",
            1 + rng.below(900),
            rng.pick(COMPANY_A)
        )),
        city: Some(city.into()),
        region: (!region.is_empty()).then(|| region.to_string()),
        postal_code: Some(format!("{:05}", rng.below(99_999))),
        country: Some(country.into()),
    }
}

/// A time within the last two years, earlier for lower `i` so lists look lived-in.
fn stamp_for(rng: &mut Rng, i: usize, n: usize) -> String {
    let span = 730 * 24 * 3600;
    let back = span - (span as usize * i / n.max(1)) as i64 + rng.below(3600) as i64;
    clock::stamp(clock::now() - time::Duration::seconds(back.max(0)))
}

struct Progress {
    label: &'static str,
    total: usize,
    shown: usize,
}

/// A 25-character bar for a percentage (capped at 100: a count that grew
/// while it was shown must not underflow the bar).
pub fn progress_bar(pct: usize) -> String {
    let filled = pct.min(100) / 4;
    "#".repeat(filled) + &".".repeat(25 - filled)
}

impl Progress {
    fn update(&mut self, done: usize) {
        let pct = done * 100 / self.total.max(1);
        if pct == self.shown && done != self.total {
            return;
        }
        self.shown = pct;
        let bar = progress_bar(pct);
        eprint!(
            "\r{:<10} [{bar}] {pct:>3}% {done}/{}",
            self.label, self.total
        );
        if done == self.total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    }
}

/// Creates the demo user and organization (if missing) and fills it.
/// Returns false when the demo organization already exists (left as it is).
pub fn generate(
    state: &AppState,
    contacts_n: usize,
    companies_n: usize,
    seed: u64,
) -> anyhow::Result<bool> {
    let err = |e: AppError| anyhow::anyhow!("{e}");
    let exists = state
        .control
        .read_blocking(|c| orgs::by_slug(c, DEMO_SLUG))
        .map_err(err)?;
    if exists.is_some() {
        return Ok(false);
    }
    let hash = crate::auth::password::hash_now(DEMO_PASSWORD).map_err(err)?;
    let new_org = || NewOrg {
        name: "Northwind Demo".into(),
        slug: Some(DEMO_SLUG.into()),
        default_country: Some("US".into()),
    };
    let org = state
        .control
        .write_now(|tx| {
            let user = match users::by_email(tx, DEMO_EMAIL)? {
                Some((u, _)) => u,
                None if !users::any_exist(tx)? => {
                    return setup::create_first_owner(
                        tx,
                        state,
                        "Demo Owner",
                        DEMO_EMAIL,
                        &hash,
                        new_org(),
                    )
                    .map(|(_, org)| org);
                }
                None => users::insert(tx, DEMO_EMAIL, "Demo Owner", Some(&hash), false)?,
            };
            orgs::create(tx, &state.tenants, new_org(), &user.id)
        })
        .map_err(err)?;
    let owner = state
        .control
        .read_blocking(|c| users::by_email(c, DEMO_EMAIL))
        .map_err(err)?
        .map(|(u, _)| u.id)
        .ok_or_else(|| anyhow::anyhow!("demo user vanished"))?;

    // Straight to the database, without an indexer: after the bulk load the
    // index is marked stale and rebuilt in one pass when the server opens it,
    // which is far faster than a million single updates.
    let db = state.tenants.open_db_blocking(&org.id)?;
    // The owner's name first, so the records' owner sort keys are written
    // with them rather than all at once when the organization opens.
    let org_id = org.id.clone();
    let people = state
        .control
        .read_blocking(|c| users::names_in_org(c, &org_id))
        .map_err(err)?;
    db.write_now(|tx| crate::tenant::people::save(tx, &people))
        .map_err(err)?;
    let mut rng = Rng(seed);

    let offset = rng.below(COMPANY_A.len() * COMPANY_B.len());
    let mut company_ids: Vec<(String, String)> = Vec::with_capacity(companies_n);
    let mut progress = Progress {
        label: "companies",
        total: companies_n,
        shown: 101,
    };
    let mut done = 0;
    while done < companies_n {
        let end = (done + BATCH).min(companies_n);
        let made = db
            .write_now(|tx| {
                let mut out = Vec::new();
                for i in done..end {
                    let name = company_name(i, offset);
                    let domain = format!(
                        "{}{}.example",
                        slug_part(&name),
                        if i % 3 == 0 { "" } else { "-co" }
                    );
                    let input = CompanyInput {
                        name: Some(name),
                        domain: Some(domain.clone()),
                        industry: Some(rng.pick(INDUSTRIES).into()),
                        size: Some(SIZES[rng.below(SIZES.len())]),
                        phone: Some(phone(&mut rng)),
                        address: Some(address(&mut rng)),
                        owner_id: rng.chance(80).then(|| owner.clone()),
                    };
                    let at = stamp_for(&mut rng, i, companies_n);
                    let id = companies::insert_at(tx, input, "US", &owner, &at)?;
                    out.push((id, domain));
                }
                Ok(out)
            })
            .map_err(err)?;
        company_ids.extend(made);
        done = end;
        progress.update(done);
    }

    let stages = [
        Stage::Lead,
        Stage::Lead,
        Stage::Prospect,
        Stage::Customer,
        Stage::Customer,
        Stage::FormerCustomer,
    ];
    let mut progress = Progress {
        label: "contacts",
        total: contacts_n,
        shown: 101,
    };
    let mut done = 0;
    let mut deal_contacts: Vec<String> = Vec::new();
    while done < contacts_n {
        let end = (done + BATCH).min(contacts_n);
        db.write_now(|tx| {
            for i in done..end {
                let first = rng.pick(FIRST);
                let last = rng.pick(LAST);
                let company = (!company_ids.is_empty() && rng.chance(85))
                    .then(|| &company_ids[rng.below(company_ids.len())]);
                let domain = company.map(|(_, d)| d.as_str()).unwrap_or("mail.example");
                let local = email_local(first, last);
                let mut emails = vec![LabeledEmail {
                    label: Some("work".into()),
                    email: format!(
                        "{local}{}@{domain}",
                        if i < 1000 {
                            String::new()
                        } else {
                            (i % 997).to_string()
                        }
                    ),
                }];
                if rng.chance(20) {
                    emails.push(LabeledEmail {
                        label: Some("personal".into()),
                        email: format!("{local}{}@personal.example", rng.below(1000)),
                    });
                }
                let input = ContactInput {
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    emails: Some(emails),
                    phones: Some(if rng.chance(70) {
                        vec![LabeledPhone {
                            label: Some("mobile".into()),
                            phone: phone(&mut rng),
                        }]
                    } else {
                        vec![]
                    }),
                    job_title: rng.chance(75).then(|| rng.pick(TITLES).to_string()),
                    company_id: company.map(|(id, _)| id.clone()),
                    address: rng.chance(40).then(|| address(&mut rng)),
                    owner_id: rng.chance(70).then(|| owner.clone()),
                    stage: Some(stages[rng.below(stages.len())]),
                    source: rng.chance(60).then(|| rng.pick(SOURCES).to_string()),
                    birthday: None,
                };
                let at = stamp_for(&mut rng, i, contacts_n);
                let id = contacts::insert_at(tx, input, "US", &owner, &at)?;
                if deal_contacts.len() < 2_000 {
                    deal_contacts.push(id);
                }
            }
            Ok(())
        })
        .map_err(err)?;
        done = end;
        progress.update(done);
    }
    // A year of deals on two pipelines, one for every two contacts.
    let deals_n = (contacts_n / 2).clamp(60, 3_000);
    db.write_now(|tx| {
        crate::crm::deals::demo::fill(
            tx,
            &owner,
            &company_ids,
            &deal_contacts,
            deals_n,
            &mut |k| rng.below(k),
        )
    })
    .map_err(err)?;
    db.write_now(crate::search::invalidate).map_err(err)?;
    Ok(true)
}

/// For the CLI: validation errors as one readable line.
pub fn check_sizes(contacts_n: usize, companies_n: usize) -> AppResult<()> {
    if contacts_n > 5_000_000 || companies_n > 1_000_000 {
        return Err(AppError::BadRequest(
            "the demo generator makes at most 5,000,000 contacts and 1,000,000 companies".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_stays_25_wide_past_100_percent() {
        assert_eq!(progress_bar(0), ".".repeat(25));
        assert_eq!(progress_bar(50), "#".repeat(12) + &".".repeat(13));
        assert_eq!(progress_bar(100), "#".repeat(25));
        assert_eq!(progress_bar(108), "#".repeat(25));
    }

    #[test]
    fn accented_names_make_plain_email_local_parts() {
        assert_eq!(email_local("Björn", "Álvarez"), "bjorn.alvarez");
        assert_eq!(email_local("Søren", "Kovács"), "soren.kovacs");
        assert_eq!(email_local("Zoë", "O'Brien"), "zoe.obrien");
        assert_eq!(email_local("Chloé", "Müller"), "chloe.muller");
        for first in FIRST {
            for last in LAST {
                let local = email_local(first, last);
                let (f, l) = local.split_once('.').unwrap();
                // Every letter of the name survives: no accented letter is dropped.
                assert_eq!(
                    f.len(),
                    first.chars().filter(|c| c.is_alphanumeric()).count(),
                    "{first}"
                );
                assert_eq!(
                    l.len(),
                    last.chars().filter(|c| c.is_alphanumeric()).count(),
                    "{last}"
                );
            }
        }
    }

    #[test]
    fn companies_never_share_a_name_or_domain() {
        for offset in [0, 13, 399] {
            let mut names = std::collections::HashSet::new();
            let mut domains = std::collections::HashSet::new();
            for i in 0..2_000 {
                let name = company_name(i, offset);
                assert!(domains.insert(slug_part(&name)), "{name}");
                assert!(names.insert(name));
            }
        }
    }
}
