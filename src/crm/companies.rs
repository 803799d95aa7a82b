//! Companies: the organizations a business's contacts work for.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::roles::Role;
use crate::clock;
use crate::crm::contacts::{self, Contact, ContactFilter};
use crate::crm::list::{self, Count, Filter, Page, Sort};
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems, Query};
use crate::platform::access::OrgAccess;
use crate::search::{SearchDoc, TableSource};
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

const READ_ONLY: &[&str] = &[
    "id",
    "contact_count",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
];

pub(crate) struct Clean {
    name: String,
    domain: Option<String>,
    industry: Option<String>,
    size: Option<Size>,
    phone: Option<String>,
    address: Option<Address>,
    owner_id: Option<String>,
}

impl CompanyInput {
    fn validate(self, region: &str) -> AppResult<Clean> {
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
                .map(|ph| values::phone_number(&mut p, "phone", &ph, region)),
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
const SELECT_COLUMNS: usize = 13;

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Company> {
    let size: Option<String> = r.get(4)?;
    let address: Option<String> = r.get(6)?;
    Ok(Company {
        id: r.get(0)?,
        name: r.get(1)?,
        domain: r.get(2)?,
        industry: r.get(3)?,
        size: size.as_deref().and_then(Size::parse),
        phone: r.get(5)?,
        address: address.and_then(|a| serde_json::from_str(&a).ok()),
        owner_id: r.get(7)?,
        contact_count: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        created_by: r.get(11)?,
        updated_by: r.get(12)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Company>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE t.id = ?1 AND t.deleted_at IS NULL"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// Validates and inserts a company stamped with time `at` (importers, demo).
pub fn insert_at(
    conn: &Connection,
    input: CompanyInput,
    region: &str,
    actor: &str,
    at: &str,
) -> AppResult<String> {
    let clean = input.validate(region)?;
    let id = clock::new_id();
    save(conn, &id, &clean, actor, false, at)?;
    Ok(id)
}

fn save(
    conn: &Connection,
    id: &str,
    c: &Clean,
    actor: &str,
    existing: bool,
    now: &str,
) -> AppResult<()> {
    let address = c
        .address
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| AppError::Internal(e.into()))?;
    let values = params![
        id,
        c.name,
        c.name.to_lowercase(),
        c.domain,
        c.industry,
        c.size.map(Size::as_str),
        c.phone,
        address,
        c.owner_id,
        now,
        actor
    ];
    crate::search::enqueue(conn, "company", id)?;
    if existing {
        // Its contacts show the company's name in search results.
        crate::search::enqueue_select(
            conn,
            "contact",
            "SELECT id FROM contacts WHERE company_id = ?2 AND deleted_at IS NULL",
            id,
        )?;
        conn.prepare_cached(
            "UPDATE companies SET name = ?2, sort_name = ?3, domain = ?4, industry = ?5, size = ?6,
               phone = ?7, address = ?8, owner_id = ?9, updated_at = ?10, updated_by = ?11
             WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .execute(values)?;
    } else {
        conn.prepare_cached(
            "INSERT INTO companies (id, name, sort_name, domain, industry, size, phone, address,
               owner_id, created_at, updated_at, created_by, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?11)",
        )?
        .execute(values)?;
    }
    Ok(())
}

/// Companies in search: found by name, domain, industry, phone, city.
pub static SEARCH: TableSource<Company> = TableSource {
    kind: "company",
    columns: COLUMNS,
    from: FROM,
    row: from_row,
    doc: search_doc,
};

fn search_doc(c: Company) -> SearchDoc {
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
    let phones: Vec<String> = c.phone.into_iter().collect();
    let mut snippets: Vec<String> = c.domain.into_iter().collect();
    snippets.extend(phones.iter().cloned());
    snippets.extend(c.industry);
    SearchDoc {
        kind: "company",
        id: c.id,
        title: c.name,
        subtitle,
        texts,
        phones,
        snippets,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyFilter {
    /// Page size, 1–200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// name, created or updated; prefix - for descending (default name).
    pub sort: Option<String>,
    /// Prefix of the name or the domain.
    pub q: Option<String>,
    /// Owner's user id.
    pub owner: Option<String>,
    /// Only companies changed at or after this RFC 3339 time.
    pub updated_since: Option<String>,
}

impl CompanyFilter {
    fn to_filter(&self) -> AppResult<Filter> {
        let mut f = Filter::new();
        f.prefix(
            self.q.clone(),
            "t.sort_name >= {lo} AND t.sort_name < {hi} OR t.domain >= {lo} AND t.domain < {hi}",
        );
        f.eq("owner_id", self.owner.clone());
        f.updated_since(self.updated_since.clone())?;
        Ok(f)
    }
}

/// List companies, keyset-paged, sorted and filtered.
#[utoipa::path(get, path = "/companies", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), CompanyFilter),
    responses((status = 200, body = Page<Company>), (status = 422, body = ErrorBody)))]
async fn list_companies(
    access: OrgAccess,
    Query(filter): Query<CompanyFilter>,
) -> AppResult<Json<Page<Company>>> {
    let sort = Sort::parse(filter.sort.as_deref())?;
    let limit = list::limit(filter.limit)?;
    let f = filter.to_filter()?;
    let page = access
        .tenant
        .db
        .read(move |c| {
            f.page(
                c,
                (COLUMNS, FROM),
                SELECT_COLUMNS,
                sort,
                filter.cursor.as_deref(),
                limit,
                from_row,
            )
        })
        .await?;
    Ok(Json(page))
}

/// How many companies match the same filters as the list.
#[utoipa::path(get, path = "/companies/count", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), CompanyFilter),
    responses((status = 200, body = Count), (status = 422, body = ErrorBody)))]
async fn count_companies(
    access: OrgAccess,
    Query(filter): Query<CompanyFilter>,
) -> AppResult<Json<Count>> {
    let f = filter.to_filter()?;
    let count = access
        .tenant
        .db
        .read(move |c| f.count(c, "companies"))
        .await?;
    Ok(Json(Count { count }))
}

/// Create a company (member+).
#[utoipa::path(post, path = "/companies", tag = "companies", request_body = CompanyInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = Company), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create_company(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(input): Json<CompanyInput>,
) -> AppResult<(StatusCode, Json<Company>)> {
    access.require(Role::Member)?;
    let region = access.org.default_country.clone();
    let clean = crate::db::off_runtime(move || input.validate(&region)).await?;
    crate::crm::check_owner(&state, &access.org.id, clean.owner_id.as_deref()).await?;
    let actor = access.actor().stamp();
    let company = access
        .tenant
        .write(move |tx| {
            let id = clock::new_id();
            save(tx, &id, &clean, &actor, false, &clock::now_stamp())?;
            get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(company)))
}

/// One company.
#[utoipa::path(get, path = "/companies/{id}", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Company), (status = 404, body = ErrorBody)))]
async fn get_company(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<Json<Company>> {
    let id = path.id;
    let company = access.tenant.db.read(move |c| get(c, &id)).await?;
    company.map(Json).ok_or(AppError::NotFound)
}

/// Change some fields of a company (member+): fields sent replace, null clears.
#[utoipa::path(patch, path = "/companies/{id}", tag = "companies", request_body = CompanyInput,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Company), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_company(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
    Json(patch): Json<serde_json::Value>,
) -> AppResult<Json<Company>> {
    access.require(Role::Member)?;
    let company = crate::crm::patch::apply::<Company>(&state, &access, path.id, patch).await?;
    Ok(Json(company))
}

impl crate::crm::patch::Patchable for Company {
    type Input = CompanyInput;
    type Clean = Clean;
    const READ_ONLY: &'static [&'static str] = READ_ONLY;

    fn load(conn: &Connection, id: &str) -> AppResult<Option<Self>> {
        get(conn, id)
    }
    fn to_input(&self) -> CompanyInput {
        self.as_input()
    }
    fn version(&self) -> &str {
        &self.updated_at
    }
    fn owner(&self) -> Option<&str> {
        self.owner_id.as_deref()
    }
    fn validate(input: CompanyInput, region: &str) -> AppResult<Clean> {
        input.validate(region)
    }
    fn clean_owner(clean: &Clean) -> Option<&str> {
        clean.owner_id.as_deref()
    }
    fn save(conn: &Connection, id: &str, clean: &Clean, actor: &str, now: &str) -> AppResult<()> {
        save(conn, id, clean, actor, true, now)
    }
}

/// Move a company to the trash (member+). Its contacts are unlinked from it.
#[utoipa::path(delete, path = "/companies/{id}", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_company(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<StatusCode> {
    let id = path.id;
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    access
        .tenant
        .write(move |tx| {
            crate::crm::trash(tx, "companies", &id, &actor)?;
            crate::search::enqueue_select(
                tx,
                "contact",
                "SELECT id FROM contacts WHERE company_id = ?2",
                &id,
            )?;
            tx.execute(
                "UPDATE contacts SET company_id = NULL, updated_at = ?2, updated_by = ?3
                 WHERE company_id = ?1",
                params![id, clock::now_stamp(), actor],
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a company back from the trash (member+). Contacts stay unlinked.
#[utoipa::path(post, path = "/companies/{id}/restore", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Company), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore_company(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<Json<Company>> {
    let id = path.id;
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let company = access
        .tenant
        .write(move |tx| {
            crate::crm::restore(tx, "companies", &id, &actor)?;
            get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(company))
}

/// The company's contacts, with the same paging, sorting and filters as the contact list.
#[utoipa::path(get, path = "/companies/{id}/contacts", tag = "companies",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path), ContactFilter),
    responses((status = 200, body = Page<Contact>), (status = 404, body = ErrorBody)))]
async fn company_contacts(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
    Query(mut filter): Query<ContactFilter>,
) -> AppResult<Json<Page<Contact>>> {
    let id = path.id;
    let lookup = id.clone();
    access
        .tenant
        .db
        .read(move |c| get(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    filter.company = Some(id);
    Ok(Json(contacts::list_page(&access, filter).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_companies, create_company))
        .routes(routes!(count_companies))
        .routes(routes!(get_company, update_company, delete_company))
        .routes(routes!(restore_company))
        .routes(routes!(company_contacts))
}
