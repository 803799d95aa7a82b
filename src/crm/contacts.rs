//! Contacts: the people a business works with. The record layer does the
//! rest (lists, filters, custom fields, tags, trash, history, search).

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{AppError, AppResult, Problems};
use crate::record::store::Changed;
use crate::record::{
    Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT, store,
};
use crate::search::SearchDoc;
use crate::values::{self, Address, LabeledEmail, LabeledPhone};

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Lead,
    Prospect,
    Customer,
    FormerCustomer,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Prospect => "prospect",
            Stage::Customer => "customer",
            Stage::FormerCustomer => "former_customer",
        }
    }
    pub const ALL: [Stage; 4] = [
        Stage::Lead,
        Stage::Prospect,
        Stage::Customer,
        Stage::FormerCustomer,
    ];

    fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CompanyRef {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    /// Display name (read-only): first and last name, or the first email.
    pub name: String,
    pub emails: Vec<LabeledEmail>,
    pub phones: Vec<LabeledPhone>,
    pub job_title: Option<String>,
    pub company_id: Option<String>,
    /// The linked company (read-only).
    pub company: Option<CompanyRef>,
    pub address: Option<Address>,
    pub owner_id: Option<String>,
    pub stage: Stage,
    pub source: Option<String>,
    /// `1985-04-12`, or `--04-12` when the year is not known.
    pub birthday: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    #[serde(flatten)]
    pub extras: Extras,
}

/// What a client sends to create a contact, or (partially) to change one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<LabeledEmail>>,
    #[serde(default)]
    pub phones: Option<Vec<LabeledPhone>>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// lead (default), prospect, customer or former_customer.
    #[serde(default)]
    pub stage: Option<Stage>,
    /// Where the contact came from (free text, e.g. "web form", "referral").
    #[serde(default)]
    pub source: Option<String>,
    /// `1985-04-12`, or `--04-12` when the year is not known.
    #[serde(default)]
    #[schema(pattern = r"^(\d{4}|-)-\d{2}-\d{2}$")]
    pub birthday: Option<String>,
}

pub struct Clean {
    first_name: String,
    last_name: String,
    emails: Vec<LabeledEmail>,
    phones: Vec<LabeledPhone>,
    job_title: Option<String>,
    company_id: Option<String>,
    address: Option<Address>,
    owner_id: Option<String>,
    stage: Stage,
    source: Option<String>,
    birthday: Option<String>,
}

impl ContactInput {
    fn validate(self, read: &values::Phones<'_>) -> AppResult<Clean> {
        let mut p = Problems::new();
        let first_name =
            values::text(&mut p, "first_name", self.first_name, 100).unwrap_or_default();
        let last_name = values::text(&mut p, "last_name", self.last_name, 100).unwrap_or_default();
        let emails = values::emails(&mut p, "emails", self.emails.unwrap_or_default());
        let phones = values::phones(&mut p, "phones", self.phones.unwrap_or_default(), read);
        if first_name.is_empty() && last_name.is_empty() && emails.is_empty() {
            p.add("first_name", "give a name or an email address");
        }
        let clean = Clean {
            first_name,
            last_name,
            emails,
            phones,
            job_title: values::text(&mut p, "job_title", self.job_title, 200),
            company_id: values::text(&mut p, "company_id", self.company_id, 64),
            address: values::address(&mut p, "address", self.address),
            owner_id: values::text(&mut p, "owner_id", self.owner_id, 64),
            stage: self.stage.unwrap_or_default(),
            source: values::text(&mut p, "source", self.source, 100),
            birthday: values::text(&mut p, "birthday", self.birthday, 20).and_then(|b| {
                let day = crate::crm::birthdays::parse(&b);
                if day.is_none() {
                    p.add(
                        "birthday",
                        "use a date like 1985-04-12, or --04-12 without the year (not in the future)",
                    );
                }
                day
            }),
        };
        p.into_result()?;
        Ok(clean)
    }
}

impl Contact {
    fn as_input(&self) -> ContactInput {
        ContactInput {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            emails: Some(self.emails.clone()),
            phones: Some(self.phones.clone()),
            job_title: self.job_title.clone(),
            company_id: self.company_id.clone(),
            address: self.address.clone(),
            owner_id: self.owner_id.clone(),
            stage: Some(self.stage),
            source: self.source.clone(),
            birthday: self.birthday.clone(),
        }
    }
}

fn display_name(first: &str, last: &str, emails: &[LabeledEmail]) -> String {
    // Built by hand, not `format!(…).trim().to_string()`: this runs for
    // every row of every list page, and that was two allocations and the
    // formatting machinery each time (1.3 % of a list request's CPU).
    let mut full = String::with_capacity(first.len() + 1 + last.len());
    full.push_str(first);
    full.push(' ');
    full.push_str(last);
    let trimmed = full.trim();
    if trimmed.is_empty() {
        emails.first().map(|e| e.email.clone()).unwrap_or_default()
    } else if trimmed.len() == full.len() {
        full
    } else {
        trimmed.to_string()
    }
}

const COLUMNS: &str = "t.id, t.first_name, t.last_name, t.emails, t.phones, t.job_title,
    t.company_id, co.name, t.address, t.owner_id, t.stage, t.source,
    t.created_at, t.updated_at, t.created_by, t.updated_by, t.birthday";
const FROM: &str =
    "contacts t LEFT JOIN companies co ON co.id = t.company_id AND co.deleted_at IS NULL";

fn bad_value(i: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
}

fn json_text<T: serde::de::DeserializeOwned>(i: usize, s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| bad_value(i, e))
}

/// A JSON column parsed where SQLite holds it (no copy of the text first).
fn json_col<T: serde::de::DeserializeOwned>(r: &rusqlite::Row, i: usize) -> rusqlite::Result<T> {
    json_text(i, text_col(r, i)?)
}

fn text_col<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(|e| bad_value(i, e))
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Contact> {
    let first_name: String = r.get(1)?;
    let last_name: String = r.get(2)?;
    let emails: Vec<LabeledEmail> = json_col(r, 3)?;
    let company_id: Option<String> = r.get(6)?;
    let company_name: Option<String> = r.get(7)?;
    let address = r
        .get_ref(8)?
        .as_str_or_null()
        .map_err(|e| bad_value(8, e))?;
    let stage = text_col(r, 10)?;
    Ok(Contact {
        id: r.get(0)?,
        name: display_name(&first_name, &last_name, &emails),
        first_name,
        last_name,
        emails,
        phones: json_col(r, 4)?,
        job_title: r.get(5)?,
        company: match (&company_id, company_name) {
            (Some(id), Some(name)) => Some(CompanyRef {
                id: id.clone(),
                name,
            }),
            _ => None,
        },
        company_id,
        address: address.map(|a| json_text(8, a)).transpose()?,
        owner_id: r.get(9)?,
        stage: Stage::parse(stage)
            .ok_or_else(|| bad_value(10, format!("unknown stage {stage:?}")))?,
        source: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        created_by: r.get(14)?,
        updated_by: r.get(15)?,
        birthday: r.get(16)?,
        extras: Extras::default(),
    })
}

fn check_company(conn: &Connection, company_id: Option<&str>) -> AppResult<()> {
    if let Some(cid) = company_id {
        let exists: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM companies WHERE id = ?1 AND deleted_at IS NULL)",
            )?
            .query_row([cid], |r| r.get(0))?;
        if !exists {
            return Err(AppError::field("company_id", "no such company"));
        }
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// Validates and inserts a contact stamped with time `at` (for importers
/// and the demo generator: the same rules as the API, in the caller's
/// transaction). The owner is not checked against the members.
pub fn insert_at(
    conn: &Connection,
    input: ContactInput,
    region: &str,
    actor: &str,
    at: &str,
) -> AppResult<String> {
    let clean = input.validate(&values::Phones::new(region))?;
    let id = clock::new_id();
    let row = SaveRow {
        id: &id,
        clean: &clean,
        custom: "{}",
        actor,
        now: at,
        existing: false,
    };
    Contacts::save(conn, row)?;
    crate::search::enqueue(conn, Contacts::KIND, &id)?;
    Ok(id)
}

/// Contacts in search: found by name, email, phone, job title, company, city.
fn search_doc(c: Contact) -> SearchDoc {
    let tags: Vec<String> = c.extras.tags.iter().map(|t| t.name.clone()).collect();
    let company = c.company.map(|co| co.name);
    let emails: Vec<String> = c.emails.into_iter().map(|e| e.email).collect();
    let phones: Vec<String> = c.phones.into_iter().map(|p| p.phone).collect();
    let subtitle = [c.job_title.clone(), company.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let subtitle = if subtitle.is_empty() {
        emails.first().cloned().unwrap_or_default()
    } else {
        subtitle
    };
    let mut texts = vec![c.first_name, c.last_name];
    texts.extend(c.job_title.clone());
    texts.extend(company.clone());
    texts.extend(emails.iter().cloned());
    texts.extend(c.source);
    texts.extend(tags);
    if let Some(a) = c.address {
        texts.extend([a.city, a.region, a.country].into_iter().flatten());
    }
    let mut snippets = emails;
    snippets.extend(phones.iter().cloned());
    snippets.extend(c.job_title);
    snippets.extend(company);
    SearchDoc {
        rank: None,
        kind: "contact",
        id: c.id,
        title: c.name,
        subtitle,
        texts,
        phones,
        snippets,
    }
}

/// The contact kind, as the record layer knows it.
pub struct Contacts;

const STAGES: &[&str] = &["lead", "prospect", "customer", "former_customer"];

static FIELDS: &[Builtin] = &[
    Builtin {
        not_null: true,
        aliases: &[],
        order_by: Some("t.name_key"),
        // `save` makes it from `sort_name`; `sort_name` has no index.
        order_is_natural_key: true,
        ..Builtin::column("name", "Name", FieldType::Text, "t.sort_name")
    },
    Builtin::column("first_name", "First name", FieldType::Text, "t.first_name"),
    Builtin::column("last_name", "Last name", FieldType::Text, "t.last_name"),
    Builtin {
        sql: None,
        // By the first email.
        order_by: Some("t.email_key"),
        ..Builtin::column("emails", "Emails", FieldType::Email, "")
    },
    Builtin {
        sql: None,
        sortable: false,
        ..Builtin::column("phones", "Phones", FieldType::Phone, "")
    },
    Builtin::column("job_title", "Job title", FieldType::Text, "t.job_title"),
    Builtin {
        target: Some("company"),
        param: Some("company"),
        // By the company's name (kept beside the contact by triggers, V19).
        order_by: Some("t.company_key"),
        ..Builtin::column("company_id", "Company", FieldType::Record, "t.company_id")
    },
    Builtin {
        param: Some("owner"),
        // By the owner's name (`people`, kept in step by triggers, V20).
        order_by: Some("t.owner_key"),
        ..Builtin::column("owner_id", "Owner", FieldType::User, "t.owner_id")
    },
    Builtin {
        not_null: true,
        options: STAGES,
        param: Some("stage"),
        // A stage's contacts by name: the filter's index serves the sort.
        then: Some("name"),
        ..Builtin::column("stage", "Stage", FieldType::Select, "t.stage")
    },
    Builtin::column("source", "Source", FieldType::Text, "t.source"),
    Builtin::column("birthday", "Birthday", FieldType::Date, "t.birthday"),
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Contacts {
    const KIND: &'static str = "contact";
    const PATH: &'static str = "contacts";
    const TABLE: &'static str = "contacts";
    const LABEL: &'static str = "Contact";
    const LABEL_PLURAL: &'static str = "Contacts";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 17;
    const FROM: &'static str = FROM;
    const NAME_SQL: &'static str = "coalesce(nullif(trim(t.first_name || ' ' || t.last_name), ''),
        json_extract(t.emails, '$[0].email'), '')";
    const QUICK_SEARCH: &'static str = "t.sort_name >= {lo} AND t.sort_name < {hi}
        OR t.last_key >= {lo} AND t.last_key < {hi}
        OR t.id IN (SELECT contact_id FROM contact_emails WHERE email >= {lo} AND email < {hi})";
    const READ_ONLY: &'static [&'static str] = &["name", "company"];
    // `search_doc` reads names, emails, phones, job title, company,
    // address, source and tags; the rank is the name's.
    const UNSEARCHED: &'static [&'static str] = &["stage", "owner_id", "birthday", "custom"];

    type Record = Contact;
    type Input = ContactInput;
    type Clean = Clean;

    const VCARD: bool = true;
    fn vcard(c: &Contact) -> Option<String> {
        Some(crate::crm::vcard::card(c))
    }

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Contact> {
        from_row(r)
    }
    fn to_input(r: &Contact) -> ContactInput {
        r.as_input()
    }
    fn validate(input: ContactInput, phones: &values::Phones<'_>) -> AppResult<Clean> {
        input.validate(phones)
    }
    fn stored_phones(r: &Contact) -> Vec<&str> {
        r.phones.iter().map(|p| p.phone.as_str()).collect()
    }
    fn owner_of(clean: &Clean) -> Option<&str> {
        clean.owner_id.as_deref()
    }
    fn save(conn: &Connection, row: SaveRow<'_, Clean>) -> AppResult<Option<Changed>> {
        let SaveRow {
            id,
            clean: c,
            custom,
            actor,
            now,
            existing,
        } = row;
        check_company(conn, c.company_id.as_deref())?;
        let sort_name = format!("{} {}", c.first_name, c.last_name)
            .trim()
            .to_lowercase();
        let sort_name = if sort_name.is_empty() {
            c.emails
                .first()
                .map(|e| e.email.to_lowercase())
                .unwrap_or_default()
        } else {
            sort_name
        };
        let name_key = crate::order::natural_key(&sort_name);
        let email_key = c.emails.first().map(|e| e.email.to_lowercase());
        let emails = to_json(&c.emails)?;
        let phones = to_json(&c.phones)?;
        let address = c.address.as_ref().map(to_json).transpose()?;
        let last_key = c.last_name.to_lowercase();
        if existing {
            let stage = c.stage.as_str();
            let changed = store::update_changed(
                conn,
                "contacts",
                id,
                &[
                    ("first_name", &c.first_name),
                    ("last_name", &c.last_name),
                    ("sort_name", &sort_name),
                    ("last_key", &last_key),
                    ("emails", &emails),
                    ("phones", &phones),
                    ("job_title", &c.job_title),
                    ("company_id", &c.company_id),
                    ("address", &address),
                    ("owner_id", &c.owner_id),
                    ("stage", &stage),
                    ("source", &c.source),
                    ("updated_at", &now),
                    ("updated_by", &actor),
                    ("custom", &custom),
                    ("birthday", &c.birthday),
                    ("name_key", &name_key),
                    ("email_key", &email_key),
                ],
            )?;
            if changed.any(&["sort_name"]) {
                // Deals are found by their contacts' names.
                crate::search::enqueue_select(
                    conn,
                    "deal",
                    "SELECT deal_id AS id FROM deal_contacts WHERE contact_id = ?2",
                    id,
                )?;
            }
            if !changed.any(&["emails"]) {
                return Ok(Some(changed));
            }
            conn.prepare_cached("DELETE FROM contact_emails WHERE contact_id = ?1")?
                .execute([id])?;
            add_emails(conn, id, &c.emails)?;
            return Ok(Some(changed));
        } else {
            conn.prepare_cached(
                "INSERT INTO contacts (id, first_name, last_name, sort_name, last_key, emails, phones,
                   job_title, company_id, address, owner_id, stage, source,
                   created_at, updated_at, created_by, updated_by, custom, birthday, name_key,
                   email_key, company_key, owner_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?15, ?16,
                   ?17, ?18, ?19, (SELECT name_key FROM companies WHERE id = ?9),
                   (SELECT name_key FROM people WHERE user_id = ?11))",
            )?
            .execute(params![
                id,
                c.first_name,
                c.last_name,
                sort_name,
                last_key,
                emails,
                phones,
                c.job_title,
                c.company_id,
                address,
                c.owner_id,
                c.stage.as_str(),
                c.source,
                now,
                actor,
                custom,
                c.birthday,
                name_key,
                email_key
            ])?;
        }
        add_emails(conn, id, &c.emails)?;
        Ok(None)
    }
    fn search_doc(c: Contact) -> SearchDoc {
        search_doc(c)
    }
}

/// A contact's email lookup rows (deduplication, a list's `q`).
fn add_emails(conn: &Connection, id: &str, emails: &[LabeledEmail]) -> AppResult<()> {
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO contact_emails (email, contact_id) VALUES (?1, ?2)",
    )?;
    for e in emails {
        add.execute(params![e.email.to_lowercase(), id])?;
    }
    Ok(())
}

crate::impl_record!(Contact);

#[cfg(test)]
mod tests {
    use super::display_name;
    use crate::values::LabeledEmail;

    #[test]
    fn a_contact_is_named_by_its_names_or_else_its_first_email() {
        let email = |e: &str| LabeledEmail {
            label: Some("work".into()),
            email: e.into(),
        };
        let emails = [email("ada@example.com"), email("a@example.org")];
        assert_eq!(display_name("Ada", "Lovelace", &emails), "Ada Lovelace");
        assert_eq!(display_name("Ada", "", &emails), "Ada");
        assert_eq!(display_name("", "Lovelace", &emails), "Lovelace");
        assert_eq!(display_name("", "", &emails), "ada@example.com");
        assert_eq!(display_name(" ", "", &emails), "ada@example.com");
        assert_eq!(display_name("", "", &[]), "");
        assert_eq!(display_name("Ada ", " Lovelace", &[]), "Ada   Lovelace");
    }
}
