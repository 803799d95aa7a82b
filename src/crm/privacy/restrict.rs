//! Restricting a person's data (GDPR art. 18) and lifting it, admin+: every
//! contact found by the email or phone — live or in the trash — becomes
//! read-only (the record layer refuses its writes; `record::restrict`), is
//! left out of exports and webhooks, and stays in the trash past its 30
//! days, until an admin lifts the restriction. Both are logged like the
//! other requests (the person only as a hash), in the audit log too, and in
//! each contact's history.

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Person, contact_ids, log};
use crate::audit;
use crate::clock;
use crate::error::{AppResult, ErrorBody, Json};
use crate::platform::access::OrgAccess;
use crate::record::{history, restrict};

/// What a restriction (or its lifting) did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RestrictionDone {
    /// The person's contacts (live and in the trash).
    pub contacts: usize,
    /// Of those, how many changed now (the others already were so).
    pub changed: usize,
    /// Their ids.
    pub ids: Vec<String>,
}

#[derive(Clone, Copy)]
enum Step {
    Restrict,
    Lift,
}

impl Step {
    fn action(self) -> &'static str {
        match self {
            Step::Restrict => "restrict",
            Step::Lift => "lift",
        }
    }

    /// What the contact's history says.
    fn event(self) -> &'static str {
        match self {
            Step::Restrict => "restricted",
            Step::Lift => "lifted",
        }
    }

    /// Applies it to one contact; false if it already was so.
    fn apply(self, tx: &Connection, id: &str, by: &str, now: &str) -> AppResult<bool> {
        match self {
            Step::Restrict => restrict::restrict(tx, "contact", id, by, now),
            Step::Lift => restrict::lift(tx, id),
        }
    }
}

async fn handle(access: OrgAccess, p: Person, step: Step) -> AppResult<RestrictionDone> {
    let super::Handling {
        who,
        subject,
        by,
        auditor,
    } = super::Handling::of(&access, p)?;
    access
        .tenant
        .write(move |tx| {
            let ids = contact_ids(tx, &who)?;
            let now = clock::now_stamp();
            let mut changed = 0;
            for id in &ids {
                if step.apply(tx, id, &by, &now)? {
                    changed += 1;
                    history::record(tx, "contact", id, &by, &now, step.event(), &Map::new())?;
                }
            }
            let summary = json!({"contacts": ids.len(), "changed": changed});
            log(tx, step.action(), &subject, &by, &summary)?;
            audit::record(
                tx,
                &audit::Entry::new(auditor, &format!("privacy.{}", step.action()))
                    .target("person", &subject, "")
                    .after(summary),
            )?;
            Ok(RestrictionDone {
                contacts: ids.len(),
                changed,
                ids,
            })
        })
        .await
}

/// Restricts the person's contacts: read-only, left out of exports and
/// webhooks until lifted (admin+; logged without personal data).
#[utoipa::path(post, path = "/privacy/restrict", tag = "privacy",
    params(("org" = String, Path)), request_body = Person,
    responses((status = 200, body = RestrictionDone), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn restrict_person(
    access: OrgAccess,
    Json(p): Json<Person>,
) -> AppResult<Json<RestrictionDone>> {
    Ok(Json(handle(access, p, Step::Restrict).await?))
}

/// Lifts the restriction of the person's contacts (admin+; logged).
#[utoipa::path(post, path = "/privacy/lift", tag = "privacy",
    params(("org" = String, Path)), request_body = Person,
    responses((status = 200, body = RestrictionDone), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn lift_person(access: OrgAccess, Json(p): Json<Person>) -> AppResult<Json<RestrictionDone>> {
    Ok(Json(handle(access, p, Step::Lift).await?))
}

pub fn router() -> OpenApiRouter<crate::state::AppState> {
    OpenApiRouter::new()
        .routes(routes!(restrict_person))
        .routes(routes!(lift_person))
}
