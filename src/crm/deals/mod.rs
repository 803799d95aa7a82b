//! Deals: sales opportunities moving through a pipeline's stages. The
//! record layer gives them lists, filters, custom fields, tags, views,
//! trash, history and search; what is special lives here and beside it:
//! money rules (integer minor units, ISO currency, no floating point), the
//! stage a deal is in and every change of it, derived figures (weighted
//! amount, days in stage, rotting), pipelines (`pipelines.rs`), moves and
//! column order (`moves.rs`), the board and forecast (`board.rs`,
//! `forecast.rs`) and their routes (`routes.rs`).

pub mod board;
pub mod demo;
pub mod forecast;
pub mod moves;
pub mod pipelines;
pub mod routes;
pub mod timeline;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;

use crate::clock;
use crate::crm::contacts::CompanyRef;
use crate::error::{AppError, AppResult, Problems};
use crate::platform::orgs::Org;
use crate::record::store::Changed;
use crate::record::{
    Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT, store,
};
use crate::search::SearchDoc;
use crate::state::AppState;
use crate::values;

use pipelines::{Stage, StageKind};

/// The largest amount a deal takes, in minor units: 2^53 − 1, the largest
/// integer every JSON client (JavaScript included) holds exactly.
pub const MAX_AMOUNT: i64 = 9_007_199_254_740_991;
pub const MAX_CONTACTS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    DecisionMaker,
    Champion,
    Influencer,
    User,
    Other,
}

impl ContactRole {
    const ALL: [(ContactRole, &'static str); 5] = [
        (ContactRole::DecisionMaker, "decision_maker"),
        (ContactRole::Champion, "champion"),
        (ContactRole::Influencer, "influencer"),
        (ContactRole::User, "user"),
        (ContactRole::Other, "other"),
    ];
    fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("other", |(_, s)| s)
    }
}

/// A person on a deal, with the part they play.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct DealContact {
    pub contact_id: String,
    pub role: ContactRole,
    /// The contact's name (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The stage a deal is in, as the deal shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StageRef {
    pub id: String,
    pub name: String,
    pub kind: StageKind,
    pub probability: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Deal {
    pub id: String,
    pub title: String,
    pub pipeline_id: String,
    pub stage_id: String,
    /// The current stage (read-only).
    pub stage: StageRef,
    /// open, won or lost: the kind of its stage (read-only).
    pub status: StageKind,
    /// Order within the stage's column (read-only; see `/move`).
    pub position: i64,
    /// Integer minor units of `currency` (cents for EUR, yen for JPY).
    pub amount: Option<i64>,
    /// ISO 4217.
    pub currency: String,
    /// amount × stage probability, rounded half up (read-only).
    pub weighted_amount: Option<i64>,
    /// Expected close date, YYYY-MM-DD.
    pub close_date: Option<String>,
    pub owner_id: Option<String>,
    pub company_id: Option<String>,
    /// The linked company (read-only).
    pub company: Option<CompanyRef>,
    pub contacts: Vec<DealContact>,
    pub source: Option<String>,
    pub next_step: Option<String>,
    pub lost_reason: Option<String>,
    /// When it was won or lost (read-only).
    pub closed_at: Option<String>,
    /// When it entered its stage (read-only).
    pub stage_entered_at: String,
    /// Whole days in the current stage (read-only).
    pub days_in_stage: i64,
    /// Left alone (no edit, note, logged activity or completed task) longer
    /// than its stage's rotting days (read-only).
    pub rotting: bool,
    /// The time of the latest note, logged activity or completed task linked
    /// to it (read-only).
    pub last_activity_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    #[serde(flatten)]
    pub extras: Extras,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealInput {
    #[serde(default)]
    pub title: Option<String>,
    /// Defaults to the stage's pipeline, or the first pipeline.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    /// Defaults to the pipeline's first open stage. Entering a lost stage
    /// needs a `lost_reason`.
    #[serde(default)]
    pub stage_id: Option<String>,
    /// Integer minor units, 0 to 2^53 − 1.
    #[serde(default)]
    pub amount: Option<i64>,
    /// ISO 4217; the organization's default currency when left out.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub close_date: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub company_id: Option<String>,
    /// The whole list of people on the deal.
    #[serde(default)]
    pub contacts: Option<Vec<DealContact>>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub next_step: Option<String>,
    #[serde(default)]
    pub lost_reason: Option<String>,
}

pub struct Clean {
    title: String,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    amount: Option<i64>,
    currency: String,
    close_date: Option<String>,
    owner_id: Option<String>,
    company_id: Option<String>,
    contacts: Vec<(String, ContactRole)>,
    source: Option<String>,
    next_step: Option<String>,
    lost_reason: Option<String>,
}

fn date(p: &mut Problems, field: &str, v: Option<String>) -> Option<String> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(&v, &fmt) {
        Ok(d) if (1900..=2999).contains(&d.year()) => Some(v),
        _ => {
            p.add(field, "use a date like 2026-12-31");
            None
        }
    }
}

impl DealInput {
    fn validate(self) -> AppResult<Clean> {
        let mut p = Problems::new();
        let title = values::text(&mut p, "title", self.title, 200);
        if title.is_none() {
            p.add("title", "required");
        }
        if let Some(a) = self.amount
            && !(0..=MAX_AMOUNT).contains(&a)
        {
            p.add(
                "amount",
                format!("use whole minor units from 0 to {MAX_AMOUNT}"),
            );
        }
        let currency = self
            .currency
            .map(|c| c.trim().to_ascii_uppercase())
            .unwrap_or_default();
        if !values::is_currency(&currency) {
            p.add("currency", "use an ISO 4217 code such as EUR");
        }
        let contacts = self.contacts.unwrap_or_default();
        if contacts.len() > MAX_CONTACTS {
            p.add(
                "contacts",
                format!("at most {MAX_CONTACTS} contacts on a deal"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in contacts.iter().enumerate() {
            if c.contact_id.len() > 64 {
                p.add(format!("contacts[{i}].contact_id"), "no such contact");
            } else if !seen.insert(c.contact_id.clone()) {
                p.add(format!("contacts[{i}].contact_id"), "listed twice");
            }
        }
        let clean = Clean {
            title: title.unwrap_or_default(),
            pipeline_id: values::text(&mut p, "pipeline_id", self.pipeline_id, 64),
            stage_id: values::text(&mut p, "stage_id", self.stage_id, 64),
            amount: self.amount,
            currency,
            close_date: date(&mut p, "close_date", self.close_date),
            owner_id: values::text(&mut p, "owner_id", self.owner_id, 64),
            company_id: values::text(&mut p, "company_id", self.company_id, 64),
            contacts: contacts
                .into_iter()
                .map(|c| (c.contact_id, c.role))
                .collect(),
            source: values::text(&mut p, "source", self.source, 100),
            next_step: values::text(&mut p, "next_step", self.next_step, 500),
            lost_reason: values::text(&mut p, "lost_reason", self.lost_reason, 500),
        };
        p.into_result()?;
        Ok(clean)
    }
}

/// amount × probability / 100, rounded half up, without floating point.
pub fn weighted(amount: i128, probability: i64) -> i128 {
    (amount * i128::from(probability) + 50).div_euclid(100)
}

/// A deal's weighted amount as it is shown (a probability of at most 100
/// keeps it within the amount's range).
pub(crate) fn weighted_amount(amount: Option<i64>, probability: i64) -> Option<i64> {
    amount.map(|a| i64::try_from(weighted(i128::from(a), probability)).unwrap_or(a))
}

/// The company a deal names, with its name, when it is live.
pub(crate) fn company_ref(id: &Option<String>, name: Option<String>) -> Option<CompanyRef> {
    match (id, name) {
        (Some(id), Some(name)) => Some(CompanyRef {
            id: id.clone(),
            name,
        }),
        _ => None,
    }
}

/// The time of the latest live note, logged activity or completed task
/// linked to deal `t` (an SQL expression).
macro_rules! last_activity {
    () => {
        "(SELECT max(at) FROM (
        SELECT l.at FROM activity_links l JOIN activities a ON a.id = l.activity_id
         WHERE l.record_id = t.id AND a.deleted_at IS NULL
        UNION ALL
        SELECT l.at FROM note_links l JOIN notes n ON n.id = l.note_id
         WHERE l.record_id = t.id AND n.deleted_at IS NULL
        UNION ALL
        SELECT l.done_at FROM task_links l JOIN tasks k ON k.id = l.task_id
         WHERE l.record_id = t.id AND k.deleted_at IS NULL))"
    };
}
pub(crate) use last_activity;

const COLUMNS: &str = concat!(
    r#"t.id, t.title, t.pipeline_id, t.stage_id, s.name, s.kind, s.probability,
    s.rotting_days, t.position, t.amount, t.currency, t.close_date, t.owner_id, t.company_id,
    co.name,
    (SELECT json_group_array(json_object('contact_id', x.contact_id, 'role', x.role, 'name', x.name))
       FROM (SELECT dc.contact_id, dc.role,
               coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''),
                        json_extract(c.emails, '$[0].email'), '') AS name
             FROM deal_contacts dc JOIN contacts c ON c.id = dc.contact_id AND c.deleted_at IS NULL
             WHERE dc.deal_id = t.id ORDER BY dc.position) AS x),
    t.source, t.next_step, t.lost_reason, t.closed_at, t.stage_entered_at,
    t.created_at, t.updated_at, t.created_by, t.updated_by, "#,
    last_activity!()
);
const FROM: &str = "deals t JOIN stages s ON s.id = t.stage_id
    LEFT JOIN companies co ON co.id = t.company_id AND co.deleted_at IS NULL";

fn bad(i: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
}

fn parse_stamp(stamp: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()
}

/// Whole days from a stored stamp to now (0 if it does not parse).
fn days_since(stamp: &str) -> i64 {
    parse_stamp(stamp).map_or(0, |t| (clock::now() - t).whole_days().max(0))
}

/// Whole days a deal has been left alone: since its last edit or the last
/// note, logged activity or completed task on it, whichever came last. An
/// activity planned for later counts as attention now.
fn days_idle(updated_at: &str, last_activity_at: Option<&str>) -> i64 {
    let last = [Some(updated_at), last_activity_at]
        .into_iter()
        .flatten()
        .filter_map(parse_stamp)
        .max();
    last.map_or(0, |t| (clock::now() - t).whole_days().max(0))
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Deal> {
    let kind: String = r.get(5)?;
    let kind = StageKind::parse(&kind).ok_or_else(|| bad(5, format!("unknown kind {kind:?}")))?;
    let probability: i64 = r.get(6)?;
    let rotting_days: Option<i64> = r.get(7)?;
    let amount: Option<i64> = r.get(9)?;
    let company_id: Option<String> = r.get(13)?;
    let company_name: Option<String> = r.get(14)?;
    let contacts: String = r.get(15)?;
    let stage_entered_at: String = r.get(20)?;
    let updated_at: String = r.get(22)?;
    let last_activity_at: Option<String> = r.get(25)?;
    let stage_id: String = r.get(3)?;
    Ok(Deal {
        id: r.get(0)?,
        title: r.get(1)?,
        pipeline_id: r.get(2)?,
        stage: StageRef {
            id: stage_id.clone(),
            name: r.get(4)?,
            kind,
            probability,
        },
        stage_id,
        status: kind,
        position: r.get(8)?,
        weighted_amount: weighted_amount(amount, probability),
        amount,
        currency: r.get(10)?,
        close_date: r.get(11)?,
        owner_id: r.get(12)?,
        company: company_ref(&company_id, company_name),
        company_id,
        contacts: serde_json::from_str(&contacts).map_err(|e| bad(15, e))?,
        source: r.get(16)?,
        next_step: r.get(17)?,
        lost_reason: r.get(18)?,
        closed_at: r.get(19)?,
        days_in_stage: days_since(&stage_entered_at),
        rotting: kind == StageKind::Open
            && rotting_days
                .is_some_and(|d| days_idle(&updated_at, last_activity_at.as_deref()) > d),
        last_activity_at,
        stage_entered_at,
        created_at: r.get(21)?,
        updated_at,
        created_by: r.get(23)?,
        updated_by: r.get(24)?,
        extras: Extras::default(),
    })
}

/// The stage a saved deal is in: the one named, checked against its
/// pipeline; after a pipeline change alone, the new pipeline's first open
/// stage; with neither, the first pipeline's first open stage.
fn resolve_stage(conn: &Connection, c: &Clean, current: Option<&Current>) -> AppResult<Stage> {
    let pipeline_changed =
        current.is_some_and(|cur| c.pipeline_id.as_deref() != Some(&cur.pipeline_id));
    let stage_kept = current.is_some_and(|cur| c.stage_id.as_deref() == Some(&cur.stage_id));
    let named = match (&c.stage_id, pipeline_changed && stage_kept) {
        (Some(sid), false) => Some(
            pipelines::stage(conn, sid)?
                .ok_or_else(|| AppError::field("stage_id", "no such stage"))?,
        ),
        _ => None,
    };
    if let Some(s) = named {
        if let Some(pid) = &c.pipeline_id
            && pid != &s.pipeline_id
        {
            return Err(AppError::field("stage_id", "not a stage of that pipeline"));
        }
        return Ok(s);
    }
    let pipeline = match &c.pipeline_id {
        Some(p) => {
            if pipelines::get(conn, p)?.is_none() {
                return Err(AppError::field("pipeline_id", "no such pipeline"));
            }
            p.clone()
        }
        None => match current {
            Some(cur) => cur.pipeline_id.clone(),
            None => pipelines::default_id(conn)?
                .ok_or_else(|| AppError::field("pipeline_id", "create a pipeline first"))?,
        },
    };
    pipelines::first_open(conn, &pipeline)?
        .ok_or_else(|| AppError::field("stage_id", "the pipeline has no open stage"))
}

/// The stored fields a save compares against.
struct Current {
    pipeline_id: String,
    stage_id: String,
    status: String,
    position: i64,
    closed_at: Option<String>,
    stage_entered_at: String,
    company_id: Option<String>,
    owner_id: Option<String>,
}

fn current(conn: &Connection, id: &str) -> AppResult<Option<Current>> {
    Ok(conn
        .prepare_cached(
            "SELECT pipeline_id, stage_id, status, position, closed_at, stage_entered_at,
               company_id, owner_id
             FROM deals WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Current {
                pipeline_id: r.get(0)?,
                stage_id: r.get(1)?,
                status: r.get(2)?,
                position: r.get(3)?,
                closed_at: r.get(4)?,
                stage_entered_at: r.get(5)?,
                company_id: r.get(6)?,
                owner_id: r.get(7)?,
            })
        })
        .optional()?)
}

/// The company and contacts a deal names are live records; a company it
/// already had is kept even while that company is in the trash.
fn check_links(conn: &Connection, id: &str, c: &Clean, current: Option<&Current>) -> AppResult<()> {
    let mut p = Problems::new();
    let kept = current.is_some_and(|cur| cur.company_id == c.company_id);
    if let Some(cid) = &c.company_id
        && !kept
        && !crate::record::store::exists(conn, "companies", cid)?
    {
        p.add("company_id", "no such company");
    }
    for (i, (cid, _)) in c.contacts.iter().enumerate() {
        if !crate::record::store::exists(conn, "contacts", cid)? {
            p.add(format!("contacts[{i}].contact_id"), "no such contact");
        }
    }
    p.into_result()?;
    // A restricted contact stays on the deals it was on, and joins no other.
    for (cid, _) in &c.contacts {
        if crate::record::restrict::since(conn, cid)?.is_none() {
            continue;
        }
        let on_it: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM deal_contacts WHERE deal_id = ?1 AND contact_id = ?2)",
            )?
            .query_row(params![id, cid], |r| r.get(0))?;
        if !on_it {
            return Err(AppError::restricted("this contact"));
        }
    }
    Ok(())
}

/// A deal's contacts in their order; whether they changed. The same ones
/// are left as they are: rewriting them put pages of `deal_contacts` and its
/// index in the WAL at every update of the deal.
fn save_contacts(
    conn: &Connection,
    id: &str,
    contacts: &[(String, ContactRole)],
) -> AppResult<bool> {
    let stored: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT contact_id, role FROM deal_contacts WHERE deal_id = ?1 ORDER BY position",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let same = stored.len() == contacts.len()
        && stored
            .iter()
            .zip(contacts)
            .all(|((sid, srole), (cid, role))| sid == cid && srole == role.as_str());
    if same {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM deal_contacts WHERE deal_id = ?1")?
        .execute([id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO deal_contacts (deal_id, contact_id, role, position) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, (cid, role)) in contacts.iter().enumerate() {
        insert.execute(params![id, cid, role.as_str(), i as i64])?;
    }
    Ok(true)
}

/// Inserts or updates a deal: the record layer's `save`, plus what a stage
/// change means (status, close time, column, the change recorded).
fn save(conn: &Connection, row: SaveRow<'_, Clean>) -> AppResult<Option<Changed>> {
    let SaveRow {
        id,
        clean: c,
        custom,
        actor,
        now,
        existing,
    } = row;
    let cur = if existing { current(conn, id)? } else { None };
    if existing && cur.is_none() {
        return Err(AppError::NotFound);
    }
    check_links(conn, id, c, cur.as_ref())?;
    let stage = resolve_stage(conn, c, cur.as_ref())?;
    let moved = cur.as_ref().is_none_or(|cur| cur.stage_id != stage.id);
    let lost_reason = match stage.kind {
        StageKind::Lost => Some(
            c.lost_reason
                .clone()
                .ok_or_else(|| AppError::field("lost_reason", "say why the deal was lost"))?,
        ),
        _ => None,
    };
    let e = moves::entry(
        cur.as_ref().map(|x| x.status.as_str()),
        cur.as_ref().and_then(|x| x.closed_at.clone()),
        &stage,
        now,
    );
    let (position, entered) = match (&cur, moved) {
        (Some(x), false) => (x.position, x.stage_entered_at.clone()),
        _ => (moves::top_of(conn, &stage.id)?, now.to_string()),
    };
    let sort_title = c.title.to_lowercase();
    let title_key = crate::order::natural_key(&c.title);
    let mut changed = None;
    if existing {
        changed = Some(store::update_changed(
            conn,
            "deals",
            id,
            &[
                ("title", &c.title),
                ("sort_title", &sort_title),
                ("pipeline_id", &stage.pipeline_id),
                ("stage_id", &stage.id),
                ("status", &e.status),
                ("position", &position),
                ("amount", &c.amount),
                ("currency", &c.currency),
                ("close_date", &c.close_date),
                ("owner_id", &c.owner_id),
                ("company_id", &c.company_id),
                ("source", &c.source),
                ("next_step", &c.next_step),
                ("lost_reason", &lost_reason),
                ("closed_at", &e.closed_at),
                ("stage_entered_at", &entered),
                ("custom", &custom),
                ("updated_at", &now),
                ("updated_by", &actor),
                ("title_key", &title_key),
            ],
        )?);
    } else {
        conn.prepare_cached(
            "INSERT INTO deals (id, title, sort_title, pipeline_id, stage_id, status, position,
               amount, currency, close_date, owner_id, company_id, source, next_step,
               lost_reason, closed_at, stage_entered_at, custom, created_at, updated_at,
               created_by, updated_by, title_key, owner_key, company_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
               ?17, ?18, ?19, ?19, ?20, ?20, ?21, (SELECT name_key FROM people WHERE user_id = ?11),
               (SELECT name_key FROM companies WHERE id = ?12))",
        )?
        .execute(params![
            id,
            c.title,
            sort_title,
            stage.pipeline_id,
            stage.id,
            e.status,
            position,
            c.amount,
            c.currency,
            c.close_date,
            c.owner_id,
            c.company_id,
            c.source,
            c.next_step,
            lost_reason,
            e.closed_at,
            entered,
            custom,
            now,
            actor,
            title_key
        ])?;
    }
    if save_contacts(conn, id, &c.contacts)?
        && let Some(changed) = &mut changed
    {
        changed.add("contacts");
    }
    notify_owner(conn, id, c, cur.as_ref(), actor)?;
    if moved {
        let from = match &cur {
            Some(x) => pipelines::stage(conn, &x.stage_id)?,
            None => None,
        };
        moves::record_change(conn, id, from.as_ref(), &stage, actor, now)?;
    }
    Ok(changed)
}

/// A deal given to someone (created with them as owner, or its owner
/// changed) tells them, unless they gave it to themselves. The notice goes to
/// the organization's outbox in this transaction, like a task's assignment.
fn notify_owner(
    conn: &Connection,
    id: &str,
    c: &Clean,
    cur: Option<&Current>,
    actor: &str,
) -> AppResult<()> {
    let Some(owner) = c.owner_id.as_deref() else {
        return Ok(());
    };
    if owner == actor || cur.is_some_and(|x| x.owner_id.as_deref() == Some(owner)) {
        return Ok(());
    }
    crate::platform::notifications::enqueue(
        conn,
        &crate::platform::notifications::Notice {
            event: "deal_assigned",
            user_id: owner,
            title: &c.title,
            record_kind: "deal",
            record_id: id,
            actor,
            key: &format!("{id}:{owner}"),
            due: None,
        },
    )
}

/// Deals in search: found by title, company, contacts, source, next step, tags.
fn search_doc(d: Deal) -> SearchDoc {
    let company = d.company.map(|c| c.name);
    let subtitle = [company.clone(), Some(d.stage.name.clone())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let mut texts: Vec<String> = company.into_iter().collect();
    texts.extend(d.contacts.into_iter().filter_map(|c| c.name));
    texts.extend(d.source);
    texts.extend(d.next_step.clone());
    texts.extend(d.extras.tags.iter().map(|t| t.name.clone()));
    SearchDoc {
        rank: None,
        kind: "deal",
        id: d.id,
        title: d.title,
        subtitle,
        texts,
        phones: Vec::new(),
        snippets: d.next_step.into_iter().collect(),
    }
}

/// The deal kind, as the record layer knows it.
pub struct Deals;

static FIELDS: &[Builtin] = &[
    // `name` is what lists sort by when asked for nothing else.
    Builtin {
        not_null: true,
        aliases: &["name"],
        order_by: Some("t.title_key"),
        ..Builtin::column("title", "Title", FieldType::Text, "t.sort_title")
    },
    Builtin {
        param: Some("pipeline"),
        not_null: true,
        ..Builtin::column("pipeline_id", "Pipeline", FieldType::Text, "t.pipeline_id")
    },
    Builtin {
        param: Some("stage"),
        not_null: true,
        ..Builtin::column("stage_id", "Stage", FieldType::Text, "t.stage_id")
    },
    Builtin {
        param: Some("status"),
        not_null: true,
        options: &["open", "won", "lost"],
        ..Builtin::column("status", "Status", FieldType::Select, "t.status")
    },
    Builtin {
        not_null: true,
        ..Builtin::column("open", "Open", FieldType::Checkbox, "(t.status = 'open')")
    },
    Builtin::column("amount", "Amount", FieldType::Money, "t.amount"),
    Builtin {
        param: Some("currency"),
        not_null: true,
        ..Builtin::column("currency", "Currency", FieldType::Text, "t.currency")
    },
    Builtin::column("close_date", "Close date", FieldType::Date, "t.close_date"),
    Builtin {
        param: Some("owner"),
        // By the owner's name (`people`, kept in step by triggers, V20).
        order_by: Some("t.owner_key"),
        ..Builtin::column("owner_id", "Owner", FieldType::User, "t.owner_id")
    },
    Builtin {
        target: Some("company"),
        param: Some("company"),
        // By the company's name (kept beside the deal by triggers, V19).
        order_by: Some("t.company_key"),
        ..Builtin::column("company_id", "Company", FieldType::Record, "t.company_id")
    },
    Builtin::column("source", "Source", FieldType::Text, "t.source"),
    Builtin::column("next_step", "Next step", FieldType::Text, "t.next_step"),
    Builtin::column(
        "lost_reason",
        "Lost reason",
        FieldType::Text,
        "t.lost_reason",
    ),
    Builtin::column("closed_at", "Closed", FieldType::Datetime, "t.closed_at"),
    Builtin {
        not_null: true,
        ..Builtin::column("position", "Board order", FieldType::Number, "t.position")
    },
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Deals {
    const KIND: &'static str = "deal";
    const PATH: &'static str = "deals";
    const TABLE: &'static str = "deals";
    const LABEL: &'static str = "Deal";
    const LABEL_PLURAL: &'static str = "Deals";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 26;
    const FROM: &'static str = FROM;
    const NAME_SQL: &'static str = "t.title";
    const QUICK_SEARCH: &'static str = "t.sort_title >= {lo} AND t.sort_title < {hi}";
    const READ_ONLY: &'static [&'static str] = &[
        "stage",
        "status",
        "position",
        "weighted_amount",
        "company",
        "closed_at",
        "stage_entered_at",
        "days_in_stage",
        "rotting",
        "last_activity_at",
    ];
    // `search_doc` reads the title, company, stage, contacts, source, next
    // step and tags; the rank is the title's.
    const UNSEARCHED: &'static [&'static str] = &[
        "amount",
        "currency",
        "close_date",
        "owner_id",
        "custom",
        "lost_reason",
    ];

    type Record = Deal;
    type Input = DealInput;
    type Clean = Clean;

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Deal> {
        from_row(r)
    }
    fn to_input(d: &Deal) -> DealInput {
        DealInput {
            title: Some(d.title.clone()),
            pipeline_id: Some(d.pipeline_id.clone()),
            stage_id: Some(d.stage_id.clone()),
            amount: d.amount,
            currency: Some(d.currency.clone()),
            close_date: d.close_date.clone(),
            owner_id: d.owner_id.clone(),
            company_id: d.company_id.clone(),
            contacts: Some(
                d.contacts
                    .iter()
                    .map(|c| DealContact {
                        contact_id: c.contact_id.clone(),
                        role: c.role,
                        name: None,
                    })
                    .collect(),
            ),
            source: d.source.clone(),
            next_step: d.next_step.clone(),
            lost_reason: d.lost_reason.clone(),
        }
    }
    fn validate(input: DealInput, _phones: &crate::values::Phones<'_>) -> AppResult<Clean> {
        input.validate()
    }
    fn owner_of(clean: &Clean) -> Option<&str> {
        clean.owner_id.as_deref()
    }
    fn save(conn: &Connection, row: SaveRow<'_, Clean>) -> AppResult<Option<Changed>> {
        save(conn, row)
    }
    fn search_doc(d: Deal) -> SearchDoc {
        search_doc(d)
    }
    fn org_defaults(input: &mut Map<String, Value>, org: &Org) {
        if input.get("currency").is_none_or(Value::is_null) {
            input.insert(
                "currency".into(),
                Value::String(org.default_currency.clone()),
            );
        }
    }
    fn extra_routes() -> OpenApiRouter<AppState> {
        routes::router()
    }
}

crate::impl_record!(Deal);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_amounts_round_half_up_without_floats() {
        assert_eq!(weighted(1000, 25), 250);
        assert_eq!(weighted(1, 50), 1);
        assert_eq!(weighted(1, 49), 0);
        assert_eq!(weighted(999, 10), 100);
        assert_eq!(
            weighted(i128::from(MAX_AMOUNT), 75),
            (i128::from(MAX_AMOUNT) * 75 + 50) / 100
        );
    }

    #[test]
    fn amounts_are_whole_minor_units_within_bounds() {
        let input = |amount: i64| DealInput {
            title: Some("Deal".into()),
            amount: Some(amount),
            currency: Some("eur".into()),
            ..DealInput::default()
        };
        assert!(input(0).validate().is_ok());
        assert_eq!(
            input(MAX_AMOUNT).validate().map(|c| c.currency).ok(),
            Some("EUR".into())
        );
        assert!(input(MAX_AMOUNT + 1).validate().is_err());
        assert!(input(-1).validate().is_err());
    }
}
