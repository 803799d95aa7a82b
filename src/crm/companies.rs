//! Companies: the organizations a business's contacts work for. The record
//! layer does the rest; what is special here: the contact count, the
//! company's contacts, and what deleting a company does to them.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock;
use crate::crm::contacts::{Contact, Contacts};
use crate::error::{AppError, AppResult, ErrorBody, JsonBytes, Path, Problems, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::list::{Page, Params};
use crate::record::store::Changed;
use crate::record::{
    Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT, routes::list_page,
    store,
};
use crate::search::SearchDoc;
use crate::state::AppState;
use crate::values::{self, Address};

/// Head-count ranges, as most CRMs and data providers bucket them.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub enum Size {
    #[serde(rename = "1-10")]
    S1to10,
    #[serde(rename = "11-50")]
    S11to50,
    #[serde(rename = "51-200")]
    S51to200,
    #[serde(rename = "201-500")]
    S201to500,
    #[serde(rename = "501-1000")]
    S501to1000,
    #[serde(rename = "1001-5000")]
    S1001to5000,
    #[serde(rename = "5001+")]
    S5001Plus,
}

impl Size {
    const ALL: [(Size, &'static str); 7] = [
        (Size::S1to10, "1-10"),
        (Size::S11to50, "11-50"),
        (Size::S51to200, "51-200"),
        (Size::S201to500, "201-500"),
        (Size::S501to1000, "501-1000"),
        (Size::S1001to5000, "1001-5000"),
        (Size::S5001Plus, "5001+"),
    ];
    fn as_str(self) -> &'static str {
        Size::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, n)| *n)
            .unwrap_or("1-10")
    }
    fn parse(s: &str) -> Option<Size> {
        Size::ALL.iter().find(|(_, n)| *n == s).map(|(s, _)| *s)
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Company {
    pub id: String,
    pub name: String,
    /// Web domain without scheme or www, e.g. acme.com.
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub size: Option<Size>,
    /// E.164.
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub owner_id: Option<String>,
    /// Contacts linked to this company (read-only).
    pub contact_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    #[serde(flatten)]
    pub extras: Extras,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    #[serde(default)]
    pub name: Option<String>,
    /// A domain or a website URL; stored as the bare domain.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub size: Option<Size>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub owner_id: Option<String>,
}

pub struct Clean {
    name: String,
    domain: Option<String>,
    industry: Option<String>,
    size: Option<Size>,
    phone: Option<String>,
    address: Option<Address>,
    owner_id: Option<String>,
}

impl CompanyInput {
    fn validate(self, read: &values::Phones<'_>) -> AppResult<Clean> {
        let mut p = Problems::new();
        let name = values::text(&mut p, "name", self.name, 200);
        if name.is_none() {
            p.add("name", "required");
        }
        let clean = Clean {
            name: name.unwrap_or_default(),
            domain: values::domain(&mut p, "domain", self.domain),
            industry: values::text(&mut p, "industry", self.industry, 100),
            size: self.size,
            phone: values::text(&mut p, "phone", self.phone, 40)
                .map(|ph| read.read(&mut p, "phone", &ph)),
            address: values::address(&mut p, "address", self.address),
            owner_id: values::text(&mut p, "owner_id", self.owner_id, 64),
        };
        p.into_result()?;
        Ok(clean)
    }
}

impl Company {
    fn as_input(&self) -> CompanyInput {
        CompanyInput {
            name: Some(self.name.clone()),
            domain: self.domain.clone(),
            industry: self.industry.clone(),
            size: self.size,
            phone: self.phone.clone(),
            address: self.address.clone(),
            owner_id: self.owner_id.clone(),
        }
    }
}

const COLUMNS: &str = "t.id, t.name, t.domain, t.industry, t.size, t.phone, t.address,
    t.owner_id, (SELECT count(*) FROM contacts c WHERE c.company_id = t.id AND c.deleted_at IS NULL),
    t.created_at, t.updated_at, t.created_by, t.updated_by";
const FROM: &str = "companies t";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Company> {
    let size: Option<String> = r.get(4)?;
    let address: Option<String> = r.get(6)?;
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(Company {
        id: r.get(0)?,
        name: r.get(1)?,
        domain: r.get(2)?,
        industry: r.get(3)?,
        size: size
            .map(|s| Size::parse(&s).ok_or_else(|| bad(4, format!("unknown size {s:?}"))))
            .transpose()?,
        phone: r.get(5)?,
        address: address
            .map(|a| serde_json::from_str(&a).map_err(|e| bad(6, e.to_string())))
            .transpose()?,
        owner_id: r.get(7)?,
        contact_count: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        created_by: r.get(11)?,
        updated_by: r.get(12)?,
        extras: Extras::default(),
    })
}

/// Validates and inserts a company stamped with time `at` (importers, demo).
pub fn insert_at(
    conn: &Connection,
    input: CompanyInput,
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
    Companies::save(conn, row)?;
    crate::search::enqueue(conn, Companies::KIND, &id)?;
    Ok(id)
}

/// Companies in search: found by name, domain, industry, phone, city, tags.
fn search_doc(c: Company) -> SearchDoc {
    let tags: Vec<String> = c.extras.tags.iter().map(|t| t.name.clone()).collect();
    let subtitle = [c.domain.clone(), c.industry.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let mut texts: Vec<String> = [c.domain.clone(), c.industry.clone()]
        .into_iter()
        .flatten()
        .collect();
    if let Some(a) = c.address {
        texts.extend([a.city, a.region, a.country].into_iter().flatten());
    }
    texts.extend(tags);
    let phones: Vec<String> = c.phone.into_iter().collect();
    let mut snippets: Vec<String> = c.domain.into_iter().collect();
    snippets.extend(phones.iter().cloned());
    snippets.extend(c.industry);
    SearchDoc {
        rank: None,
        kind: "company",
        id: c.id,
        title: c.name,
        subtitle,
        texts,
        phones,
        snippets,
    }
}

/// The company kind, as the record layer knows it.
pub struct Companies;

const SIZES: &[&str] = &[
    "1-10",
    "11-50",
    "51-200",
    "201-500",
    "501-1000",
    "1001-5000",
    "5001+",
];

static FIELDS: &[Builtin] = &[
    Builtin {
        not_null: true,
        order_by: Some("t.name_key"),
        ..Builtin::column("name", "Name", FieldType::Text, "t.sort_name")
    },
    Builtin::column("domain", "Domain", FieldType::Text, "t.domain"),
    Builtin::column("industry", "Industry", FieldType::Text, "t.industry"),
    Builtin {
        options: SIZES,
        ..Builtin::column("size", "Size", FieldType::Select, "t.size")
    },
    Builtin::column("phone", "Phone", FieldType::Phone, "t.phone"),
    Builtin {
        param: Some("owner"),
        // By the owner's name (`people`, kept in step by triggers, V20).
        order_by: Some("t.owner_key"),
        ..Builtin::column("owner_id", "Owner", FieldType::User, "t.owner_id")
    },
    Builtin {
        sql: None,
        sortable: false,
        ..Builtin::column("contact_count", "Contacts", FieldType::Number, "")
    },
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Companies {
    const KIND: &'static str = "company";
    const PATH: &'static str = "companies";
    const TABLE: &'static str = "companies";
    const LABEL: &'static str = "Company";
    const LABEL_PLURAL: &'static str = "Companies";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 13;
    const FROM: &'static str = FROM;
    const NAME_SQL: &'static str = "t.name";
    const QUICK_SEARCH: &'static str =
        "t.sort_name >= {lo} AND t.sort_name < {hi} OR t.domain >= {lo} AND t.domain < {hi}";
    const READ_ONLY: &'static [&'static str] = &["contact_count"];
    // `search_doc` reads the name, domain, industry, phone, address and tags.
    const UNSEARCHED: &'static [&'static str] = &["size", "owner_id", "custom"];

    type Record = Company;
    type Input = CompanyInput;
    type Clean = Clean;

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Company> {
        from_row(r)
    }
    fn to_input(r: &Company) -> CompanyInput {
        r.as_input()
    }
    fn validate(input: CompanyInput, phones: &values::Phones<'_>) -> AppResult<Clean> {
        input.validate(phones)
    }
    fn stored_phones(r: &Company) -> Vec<&str> {
        r.phone.as_deref().into_iter().collect()
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
        let address = c
            .address
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| AppError::Internal(e.into()))?;
        let sort_name = c.name.to_lowercase();
        let size = c.size.map(Size::as_str);
        let name_key = crate::order::natural_key(&c.name);
        if existing {
            let changed = store::update_changed(
                conn,
                "companies",
                id,
                &[
                    ("name", &c.name),
                    ("sort_name", &sort_name),
                    ("domain", &c.domain),
                    ("industry", &c.industry),
                    ("size", &size),
                    ("phone", &c.phone),
                    ("address", &address),
                    ("owner_id", &c.owner_id),
                    ("updated_at", &now),
                    ("updated_by", &actor),
                    ("custom", &custom),
                    ("name_key", &name_key),
                ],
            )?;
            if changed.any(&["name"]) {
                // Its contacts and deals show the company's name in search results.
                crate::search::enqueue_select(
                    conn,
                    "contact",
                    "SELECT id FROM contacts WHERE company_id = ?2 AND deleted_at IS NULL",
                    id,
                )?;
                crate::search::enqueue_select(
                    conn,
                    "deal",
                    "SELECT id FROM deals WHERE company_id = ?2 AND deleted_at IS NULL",
                    id,
                )?;
            }
            return Ok(Some(changed));
        } else {
            conn.prepare_cached(
                "INSERT INTO companies (id, name, sort_name, domain, industry, size, phone, address,
                   owner_id, created_at, updated_at, created_by, updated_by, custom, name_key,
                   owner_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?11, ?12, ?13,
                   (SELECT name_key FROM people WHERE user_id = ?9))",
            )?
            .execute(params![
                id,
                c.name,
                sort_name,
                c.domain,
                c.industry,
                size,
                c.phone,
                address,
                c.owner_id,
                now,
                actor,
                custom,
                name_key
            ])?;
        }
        Ok(None)
    }
    fn search_doc(c: Company) -> SearchDoc {
        search_doc(c)
    }
    /// A deleted company's contacts are unlinked from it; which ones is
    /// kept, and a restore links them again.
    fn after_trash(conn: &Connection, id: &str, actor: &str) -> AppResult<Map<String, Value>> {
        let linked: Vec<String> = conn
            .prepare_cached("SELECT id FROM contacts WHERE company_id = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        crate::search::enqueue_select(
            conn,
            Contacts::KIND,
            "SELECT id FROM contacts WHERE company_id = ?2",
            id,
        )?;
        conn.execute(
            "UPDATE contacts SET company_id = NULL, updated_at = ?2, updated_by = ?3
             WHERE company_id = ?1",
            params![id, clock::now_stamp(), actor],
        )?;
        let mut undo = Map::new();
        undo.insert("unlinked_contacts".into(), Value::from(linked));
        Ok(undo)
    }
    /// Links again the contacts the deletion unlinked, unless they have
    /// been given another company since.
    fn after_restore(
        conn: &Connection,
        id: &str,
        undo: &Map<String, Value>,
        actor: &str,
    ) -> AppResult<()> {
        let Some(ids) = undo.get("unlinked_contacts") else {
            return Ok(());
        };
        let ids = ids.to_string();
        conn.execute(
            "UPDATE contacts SET company_id = ?1, updated_at = ?3, updated_by = ?4
             WHERE id IN (SELECT value FROM json_each(?2)) AND company_id IS NULL",
            params![id, ids, clock::now_stamp(), actor],
        )?;
        crate::search::enqueue_select(
            conn,
            Contacts::KIND,
            "SELECT id FROM contacts WHERE company_id = ?2",
            id,
        )?;
        Ok(())
    }
    /// `include=related` on a company's timeline: its contacts' entries too.
    fn related(conn: &Connection, id: &str) -> AppResult<Vec<String>> {
        Ok(conn
            .prepare_cached("SELECT id FROM contacts WHERE company_id = ?1 AND deleted_at IS NULL")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }
    fn extra_routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(company_contacts))
    }
}

crate::impl_record!(Company);

/// The company's contacts, with the same paging, sorting and filters as the contact list.
#[utoipa::path(get, path = "/companies/{id}/contacts", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path),
           ("limit" = Option<usize>, Query, description = "page size, 1–200"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
           ("sort" = Option<String>, Query, description = "as the contact list"),
           ("q" = Option<String>, Query, description = "as the contact list"),
           ("filter" = Option<String>, Query, description = "as the contact list")),
    responses((status = 200, body = Page<Contact>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn company_contacts(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<Params>,
) -> AppResult<JsonBytes> {
    let id = path.id;
    let lookup = id.clone();
    access
        .tenant
        .db
        .read(move |c| store::load::<Companies>(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    list_page::<Contacts>(&access, params, Some(("t.company_id = ?", id))).await
}
