//! Privacy requests (data-subject rights), admin+: find everything held
//! about a person by email or phone — their contacts (in the trash too),
//! the companies and deals they are on, the notes, tasks, activities and
//! files linked to them — export it as one JSON document, erase it, or
//! restrict it (`restrict`: read-only until lifted).
//! Erasing removes the contacts for good (not to the trash), with their
//! history, tags and links; notes, tasks, activities and files linked to
//! no one else go with them; everything erased leaves the search index.
//! Every request is logged with who handled it and when; the person is
//! logged only as a hash, so the log holds no personal data.

mod restrict;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::roles::Role;
use crate::clock;
use crate::crm::activities::Activities;
use crate::crm::companies::{Companies, Company};
use crate::crm::contacts::{Contact, Contacts};
use crate::crm::deals::Deals;
use crate::crm::notes::Notes;
use crate::crm::tasks::Tasks;
use crate::error::{AppError, AppResult, ErrorBody, Json, Problems, Query};
use crate::platform::access::OrgAccess;
use crate::record::{RecordKind, store};

/// Who the request is about: an email, a phone number, or both.
#[derive(Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Person {
    pub email: Option<String>,
    /// Any notation; compared in E.164 (the organization's country for numbers without +).
    pub phone: Option<String>,
}

/// Everything held about a person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Subject {
    /// Their contacts (live ones as the API shows them).
    #[schema(value_type = Vec<Object>)]
    pub contacts: Vec<Contact>,
    /// Ids of their contacts in the trash.
    pub contacts_in_trash: Vec<String>,
    /// The companies their contacts belong to.
    #[schema(value_type = Vec<Object>)]
    pub companies: Vec<Company>,
    #[schema(value_type = Vec<Object>)]
    pub deals: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub notes: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub tasks: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub activities: Vec<Value>,
    /// Files attached to them: id, name, when (content at `GET …/files/{id}/content`).
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<Value>,
}

/// What an erasure removed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Erased {
    pub contacts: usize,
    pub notes: usize,
    pub tasks: usize,
    pub activities: usize,
    pub files: usize,
}

/// A logged request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Request {
    pub id: String,
    /// `find`, `export`, `erase`, `restrict` or `lift`.
    pub action: String,
    /// A hash of the organization and the email or phone asked about.
    pub subject: String,
    pub handled_by: String,
    pub handled_at: String,
    #[schema(value_type = Object)]
    pub summary: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Requests {
    pub items: Vec<Request>,
}

/// The normalized email and E.164 phone asked about.
pub(super) struct Who {
    email: Option<String>,
    phone: Option<String>,
}

impl Who {
    pub(super) fn of(p: Person, region: &str) -> AppResult<Who> {
        let email = p
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        let mut problems = Problems::new();
        let phone = p
            .phone
            .filter(|x| !x.trim().is_empty())
            .map(|x| crate::values::phone_number(&mut problems, "phone", &x, region));
        if let Some(e) = &email
            && !crate::values::is_email(e)
        {
            problems.add("email", "not a valid email address");
        }
        problems.into_result()?;
        if email.is_none() && phone.is_none() {
            return Err(AppError::field("email", "give an email or a phone number"));
        }
        Ok(Who { email, phone })
    }

    pub(super) fn hash(&self, org_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(org_id.as_bytes());
        h.update(b"\n");
        h.update(self.email.as_deref().unwrap_or("").as_bytes());
        h.update(b"\n");
        h.update(self.phone.as_deref().unwrap_or("").as_bytes());
        hex::encode(h.finalize())
    }
}

fn ids(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let out = stmt
        .query_map(args, |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(out)
}

/// Their contacts, live and in the trash.
pub(super) fn contact_ids(conn: &Connection, who: &Who) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    if let Some(e) = &who.email {
        out.extend(ids(
            conn,
            "SELECT contact_id FROM contact_emails WHERE email = ?1",
            &[e],
        )?);
    }
    if let Some(p) = &who.phone {
        out.extend(ids(
            conn,
            "SELECT c.id FROM contacts c, json_each(c.phones) p
             WHERE json_extract(p.value, '$.phone') = ?1",
            &[p],
        )?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Ids of `table`'s rows linked (through `links`.`col`) to any of `to`.
fn linked(conn: &Connection, links: &str, col: &str, to: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for id in to {
        out.extend(ids(
            conn,
            &format!("SELECT {col} FROM {links} WHERE record_id = ?1"),
            &[id],
        )?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn as_values<K: RecordKind>(conn: &Connection, ids: &[String]) -> AppResult<Vec<Value>> {
    store::get_many::<K>(conn, ids)?
        .into_iter()
        .map(|r| serde_json::to_value(r).map_err(|e| AppError::Internal(e.into())))
        .collect()
}

fn gather(conn: &Connection, who: &Who) -> AppResult<Subject> {
    let all = contact_ids(conn, who)?;
    let contacts = store::get_many::<Contacts>(conn, &all)?;
    let live: Vec<String> = contacts.iter().map(|c| c.id.clone()).collect();
    let contacts_in_trash = all.iter().filter(|i| !live.contains(i)).cloned().collect();
    let mut company_ids: Vec<String> = contacts
        .iter()
        .filter_map(|c| c.company_id.clone())
        .collect();
    company_ids.sort();
    company_ids.dedup();
    let deal_ids = linked_deals(conn, &all)?;
    let mut files = Vec::new();
    for id in linked(conn, "file_links", "file_id", &all)? {
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, created_at FROM files WHERE id = ?1 AND deleted_at IS NULL",
        )?;
        let rows = stmt.query_map([&id], |r| {
            Ok(
                json!({"id": r.get::<_, String>(0)?, "name": r.get::<_, String>(1)?,
                      "created_at": r.get::<_, String>(2)?}),
            )
        })?;
        for f in rows {
            files.push(f?);
        }
    }
    Ok(Subject {
        contacts,
        contacts_in_trash,
        companies: store::get_many::<Companies>(conn, &company_ids)?,
        deals: as_values::<Deals>(conn, &deal_ids)?,
        notes: as_values::<Notes>(conn, &linked(conn, "note_links", "note_id", &all)?)?,
        tasks: as_values::<Tasks>(conn, &linked(conn, "task_links", "task_id", &all)?)?,
        activities: as_values::<Activities>(
            conn,
            &linked(conn, "activity_links", "activity_id", &all)?,
        )?,
        files,
    })
}

fn linked_deals(conn: &Connection, contacts: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for id in contacts {
        out.extend(ids(
            conn,
            "SELECT deal_id FROM deal_contacts WHERE contact_id = ?1",
            &[id],
        )?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(super) fn log(
    conn: &Connection,
    action: &str,
    subject: &str,
    by: &str,
    summary: &Value,
) -> AppResult<()> {
    conn.execute(
        "INSERT INTO privacy_requests (id, action, subject, handled_by, handled_at, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            clock::new_id(),
            action,
            subject,
            by,
            clock::now_stamp(),
            summary.to_string()
        ],
    )?;
    Ok(())
}

/// A privacy request as every step handles it (admins only): who it is
/// about, their hash (all the logs hold of them), who handles it.
pub(super) struct Handling {
    pub who: Who,
    pub subject: String,
    pub by: String,
    pub auditor: audit::Actor,
}

impl Handling {
    pub(super) fn of(access: &OrgAccess, p: Person) -> AppResult<Handling> {
        access.require(Role::Admin)?;
        let who = Who::of(p, &access.org.default_country)?;
        Ok(Handling {
            subject: who.hash(&access.org.id),
            who,
            by: access.actor().stamp(),
            auditor: access.audit_actor(),
        })
    }
}

fn counts(s: &Subject) -> Value {
    json!({"contacts": s.contacts.len() + s.contacts_in_trash.len(), "companies": s.companies.len(),
           "deals": s.deals.len(), "notes": s.notes.len(), "tasks": s.tasks.len(),
           "activities": s.activities.len(), "files": s.files.len()})
}

async fn find_logged(access: &OrgAccess, p: Person, action: &'static str) -> AppResult<Subject> {
    let Handling {
        who,
        subject,
        by,
        auditor,
    } = Handling::of(access, p)?;
    access
        .tenant
        .db
        .write(move |tx| {
            let s = gather(tx, &who)?;
            log(tx, action, &subject, &by, &counts(&s))?;
            // The person is named only by the request's hash: the audit
            // log outlives an erasure and must hold nothing about them.
            audit::record(
                tx,
                &audit::Entry::new(auditor, &format!("privacy.{action}"))
                    .target("person", &subject, "")
                    .after(counts(&s)),
            )?;
            Ok(s)
        })
        .await
}

/// Everything held about a person, by email or phone (admin+; logged).
#[utoipa::path(get, path = "/privacy/subject", tag = "privacy",
    params(("org" = String, Path), Person),
    responses((status = 200, body = Subject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn find(access: OrgAccess, Query(p): Query<Person>) -> AppResult<Json<Subject>> {
    Ok(Json(find_logged(&access, p, "find").await?))
}

/// The same, as a JSON file to hand to the person (admin+; logged).
#[utoipa::path(get, path = "/privacy/export", tag = "privacy",
    params(("org" = String, Path), Person),
    responses((status = 200, body = Subject, content_type = "application/json"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn export(access: OrgAccess, Query(p): Query<Person>) -> AppResult<Response> {
    let s = find_logged(&access, p, "export").await?;
    let body = serde_json::to_vec_pretty(&s).map_err(|e| AppError::Internal(e.into()))?;
    let name = format!(
        "attachment; filename=\"{}-privacy-export-{}.json\"",
        access.org.slug,
        &clock::now_stamp()[..10]
    );
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Deletes `table`'s rows linked to `id` and to nothing else; answers their ids.
fn only_linked(
    tx: &Connection,
    table: &str,
    links: &str,
    col: &str,
    id: &str,
) -> AppResult<Vec<String>> {
    let found = ids(
        tx,
        &format!(
            "SELECT l.{col} FROM {links} l WHERE l.record_id = ?1
             AND NOT EXISTS (SELECT 1 FROM {links} o WHERE o.{col} = l.{col} AND o.record_id <> ?1)"
        ),
        &[&id],
    )?;
    for f in &found {
        tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [f])?;
        tx.execute(
            "DELETE FROM record_history WHERE record_id = ?1",
            [f.as_str()],
        )?;
    }
    tx.execute(&format!("DELETE FROM {links} WHERE record_id = ?1"), [id])?;
    Ok(found)
}

/// Erases the person's contacts for good, and what is linked to them alone
/// (admin+; logged without personal data).
#[utoipa::path(post, path = "/privacy/erase", tag = "privacy",
    params(("org" = String, Path)), request_body = Person,
    responses((status = 200, body = Erased), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn erase(access: OrgAccess, Json(p): Json<Person>) -> AppResult<Json<Erased>> {
    let Handling {
        who,
        subject,
        by,
        auditor,
    } = Handling::of(&access, p)?;
    let contact = crate::record::kind("contact")
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the contact kind")))?;
    let erased = access
        .tenant
        .db
        .write(move |tx| {
            let all = contact_ids(tx, &who)?;
            let mut e = Erased {
                contacts: 0,
                notes: 0,
                tasks: 0,
                activities: 0,
                files: 0,
            };
            // Records whose search entries show her name are indexed again
            // once she is gone: her deals, and what she shared with others.
            let mut reindex: Vec<(&str, String)> = Vec::new();
            for d in linked_deals(tx, &all)? {
                reindex.push(("deal", d));
            }
            for (kind, links, col) in [
                ("note", "note_links", "note_id"),
                ("task", "task_links", "task_id"),
                ("activity", "activity_links", "activity_id"),
            ] {
                for r in linked(tx, links, col, &all)? {
                    reindex.push((kind, r));
                }
            }
            for id in &all {
                for (kind, table, links, col) in [
                    ("note", "notes", "note_links", "note_id"),
                    ("task", "tasks", "task_links", "task_id"),
                    ("activity", "activities", "activity_links", "activity_id"),
                ] {
                    let gone = only_linked(tx, table, links, col, id)?;
                    for g in &gone {
                        crate::search::enqueue(tx, kind, g)?;
                    }
                    match kind {
                        "note" => e.notes += gone.len(),
                        "task" => e.tasks += gone.len(),
                        _ => e.activities += gone.len(),
                    }
                }
                // Files: their rows go; blobs no file uses are removed by
                // the files upkeep job.
                e.files += only_linked(tx, "files", "file_links", "file_id", id)?.len();
                tx.execute("DELETE FROM record_tags WHERE record_id = ?1", [id])?;
                // An erasure asked after a restriction ends it: nothing is left to keep.
                crate::record::restrict::lift(tx, id)?;
                let live = store::load::<Contacts>(tx, id)?.is_some();
                if live {
                    store::trash::<Contacts>(tx, id, &by)?;
                }
                crate::record::trash::erase(tx, contact, id)?;
                e.contacts += 1;
            }
            for (kind, id) in &reindex {
                crate::search::enqueue(tx, kind, id)?;
            }
            let summary = serde_json::to_value(&e).map_err(|x| AppError::Internal(x.into()))?;
            log(tx, "erase", &subject, &by, &summary)?;
            audit::record(
                tx,
                &audit::Entry::new(auditor, "privacy.erase")
                    .target("person", &subject, "")
                    .after(summary),
            )?;
            Ok(e)
        })
        .await?;
    Ok(Json(erased))
}

/// The log of privacy requests, newest first (admin+).
#[utoipa::path(get, path = "/privacy/requests", tag = "privacy",
    params(("org" = String, Path)),
    responses((status = 200, body = Requests), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn requests(access: OrgAccess) -> AppResult<Json<Requests>> {
    access.require(Role::Admin)?;
    let items = access
        .tenant
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, action, subject, handled_by, handled_at, summary
                 FROM privacy_requests ORDER BY handled_at DESC, id DESC LIMIT 500",
            )?;
            let rows = stmt.query_map([], |r| {
                let summary: String = r.get(5)?;
                Ok(Request {
                    id: r.get(0)?,
                    action: r.get(1)?,
                    subject: r.get(2)?,
                    handled_by: r.get(3)?,
                    handled_at: r.get(4)?,
                    summary: serde_json::from_str(&summary).unwrap_or(Value::Null),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(Requests { items }))
}

pub fn router() -> OpenApiRouter<crate::state::AppState> {
    OpenApiRouter::new()
        .routes(routes!(find))
        .routes(routes!(export))
        .routes(routes!(erase))
        .routes(routes!(requests))
        .merge(restrict::router())
}
