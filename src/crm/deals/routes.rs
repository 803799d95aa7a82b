//! Routes of deals beyond the ones every kind gets: pipelines (admins
//! write them), moving a deal, its stage history, the board, the forecast,
//! and a contact's or company's deals.

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, ErrorBody, Json, JsonBytes, Path, Problems, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::list::{Items, Page, Params};
use crate::record::routes::{list_page, me};
use crate::record::store;
use crate::state::AppState;

use super::board::{self, Board, BoardParams};
use super::forecast::{self, Forecast, ForecastParams, GroupBy};
use super::moves::{self, MoveDeal, StageChange};
use super::pipelines::{self, NewPipeline, Pipeline, PipelinePatch};
use super::{Deal, Deals};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pipelines, create_pipeline))
        .routes(routes!(get_pipeline, update_pipeline, delete_pipeline))
        .routes(routes!(pipeline_board))
        .routes(routes!(move_deal))
        .routes(routes!(stage_history))
        .routes(routes!(deal_forecast))
        .routes(routes!(contact_deals))
        .routes(routes!(company_deals))
}

/// Every pipeline with its stages, in order.
#[utoipa::path(get, path = "/pipelines", tag = "deals",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Items<Pipeline>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_pipelines(access: OrgAccess) -> AppResult<Json<Items<Pipeline>>> {
    let items = access.tenant.db.read(pipelines::all).await?;
    Ok(Json(Items { items }))
}

/// Create a pipeline with its stages (admin+).
#[utoipa::path(post, path = "/pipelines", tag = "deals", request_body = NewPipeline,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = Pipeline), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_pipeline(
    access: OrgAccess,
    Json(body): Json<NewPipeline>,
) -> AppResult<(StatusCode, Json<Pipeline>)> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let name = pipelines::clean_name(&mut p, "name", Some(body.name));
    let stages = pipelines::clean_stages(&mut p, body.stages);
    p.into_result()?;
    let name = name.unwrap_or_default();
    let position = body.position;
    let who = access.audit_actor();
    let created = access
        .tenant
        .write(move |tx| {
            let created = pipelines::create(tx, &name, position, &stages)?;
            audit::record(
                tx,
                &audit::Entry::new(who, "pipeline.created")
                    .target("pipeline", &created.id, &created.name)
                    .after(serde_json::to_value(&created).unwrap_or_default()),
            )?;
            Ok(created)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One pipeline with its stages.
#[utoipa::path(get, path = "/pipelines/{id}", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_pipeline(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<Json<Pipeline>> {
    let id = path.id;
    access
        .tenant
        .db
        .read(move |c| pipelines::get(c, &id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// Rename or reorder a pipeline, or change its stages (admin+): `stages`
/// is the whole new list; a left-out stage holding deals needs a target in
/// `move_deals`.
#[utoipa::path(patch, path = "/pipelines/{id}", tag = "deals", request_body = PipelinePatch,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_pipeline(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<PipelinePatch>,
) -> AppResult<Json<Pipeline>> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let name = match body.name {
        Some(n) => pipelines::clean_name(&mut p, "name", Some(n)),
        None => None,
    };
    let stages = body.stages.map(|s| pipelines::clean_stages(&mut p, s));
    p.into_result()?;
    let actor = access.actor().stamp();
    let id = path.id;
    let (position, moves) = (body.position, body.move_deals);
    let who = access.audit_actor();
    let updated = access
        .tenant
        .write(move |tx| {
            let was = pipelines::get(tx, &id)?;
            let updated = pipelines::update(tx, &id, name, position, stages, &moves, &actor)?;
            let (before, after) = audit::changed(
                &serde_json::to_value(&was).unwrap_or_default(),
                &serde_json::to_value(&updated).unwrap_or_default(),
            );
            audit::record(
                tx,
                &audit::Entry::new(who, "pipeline.updated")
                    .target("pipeline", &updated.id, &updated.name)
                    .before(before)
                    .after(after),
            )?;
            Ok(updated)
        })
        .await?;
    Ok(Json(updated))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// A stage of another pipeline for this pipeline's deals; required
    /// when it has any.
    pub move_to: Option<String>,
}

/// Delete a pipeline (admin+); its deals move to `move_to`. The last
/// pipeline cannot be deleted (409).
#[utoipa::path(delete, path = "/pipelines/{id}", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path), DeleteParams),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_pipeline(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<DeleteParams>,
) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    let actor = access.actor().stamp();
    let id = path.id;
    let who = access.audit_actor();
    access
        .tenant
        .write(move |tx| {
            let was = pipelines::get(tx, &id)?;
            pipelines::delete(tx, &id, params.move_to.as_deref(), &actor)?;
            let name = was.as_ref().map(|p| p.name.clone()).unwrap_or_default();
            audit::record(
                tx,
                &audit::Entry::new(who, "pipeline.deleted")
                    .target("pipeline", &id, &name)
                    .before(serde_json::to_value(&was).unwrap_or_default())
                    .after(serde_json::json!({"deals_moved_to": params.move_to})),
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The board: per stage, the count, sums per currency and the first page
/// of cards in column order; `stage` + `cursor` page one column.
#[utoipa::path(get, path = "/pipelines/{id}/board", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path), BoardParams),
    responses((status = 200, body = Board), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn pipeline_board(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<BoardParams>,
) -> AppResult<Response> {
    let me = me(&access);
    let id = path.id;
    let db = access.tenant.db.clone();
    // Before the read begins: see `Derived`.
    let generation = db.generation();
    // The whole answer is kept until the next write: a team reloads its
    // board far more often than it changes a deal. Days in stage and the
    // rotting flag move with the clock, so an answer is also kept no longer
    // than the minute it was made in.
    let minute = crate::clock::now().unix_timestamp().div_euclid(60);
    let key = format!(
        "board {id} {:?} {:?} {:?} {:?} {me:?} {minute}",
        params.filter, params.limit, params.stage, params.cursor
    );
    if let Some(body) = db.derived.get::<Bytes>(&key, generation) {
        return Ok(json_bytes((*body).clone()));
    }
    let reader = db.clone();
    let body = reader
        .read(move |c| {
            let b = board::board(c, &id, &params, me, &db.derived, generation)?;
            serde_json::to_vec(&b)
                .map(Bytes::from)
                .map_err(|e| AppError::Internal(e.into()))
        })
        .await?;
    reader
        .derived
        .put(key, generation, std::sync::Arc::new(body.clone()));
    Ok(json_bytes(body))
}

/// An answer already serialized as JSON.
fn json_bytes(body: Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from(body),
    )
        .into_response()
}

/// Move a deal to a stage and a place in its column (member+). Entering a
/// lost stage needs a `lost_reason` unless the deal has one.
#[utoipa::path(post, path = "/deals/{id}/move", tag = "deals", request_body = MoveDeal,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Deal), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_deal(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<MoveDeal>,
) -> AppResult<Json<Deal>> {
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let id = path.id;
    let deal = access
        .tenant
        .write(move |tx| {
            moves::move_deal(tx, &id, &body, &actor)?;
            store::get::<Deals>(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(deal))
}

/// Every stage change of a deal, newest first.
#[utoipa::path(get, path = "/deals/{id}/stage-history", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Items<StageChange>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn stage_history(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<Items<StageChange>>> {
    let id = path.id;
    let items = access
        .tenant
        .db
        .read(move |c| {
            let known: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM deals WHERE id = ?1)")?
                .query_row([&id], |r| r.get(0))?;
            if !known {
                return Err(AppError::NotFound);
            }
            moves::history_of(c, &id)
        })
        .await?;
    Ok(Json(Items { items }))
}

/// Open, weighted and won amounts by expected-close month (overdue and the
/// next six months), owner or stage; won this month and last; win rate.
#[utoipa::path(get, path = "/deals/forecast", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ForecastParams),
    responses((status = 200, body = Forecast), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn deal_forecast(
    access: OrgAccess,
    Query(params): Query<ForecastParams>,
) -> AppResult<Json<Forecast>> {
    let by = params.by.unwrap_or(GroupBy::Month);
    let db = access.tenant.db.clone();
    // Before the read begins: see `Derived`.
    let generation = db.generation();
    let f = access
        .tenant
        .db
        .read(move |c| {
            let now = crate::clock::now();
            let key = format!("forecast {:?} {by:?} {}", params.pipeline, now.date());
            db.derived.get_or(key, generation, || {
                forecast::forecast(c, params.pipeline.as_deref(), by, now)
            })
        })
        .await?;
    Ok(Json(Forecast::clone(&f)))
}

/// A contact's deals, open first, then by expected close date.
#[utoipa::path(get, path = "/contacts/{id}/deals", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path),
           ("limit" = Option<usize>, Query, description = "page size, 1–200"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
           ("sort" = Option<String>, Query, description = "as the deal list; default `status,close_date`")),
    responses((status = 200, body = Page<Deal>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn contact_deals(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<Params>,
) -> AppResult<JsonBytes> {
    related(
        &access,
        "contacts",
        path.id,
        params,
        "t.id IN (SELECT deal_id FROM deal_contacts WHERE contact_id = ?)",
    )
    .await
}

/// A company's deals, open first, then by expected close date.
#[utoipa::path(get, path = "/companies/{id}/deals", tag = "deals",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path),
           ("limit" = Option<usize>, Query, description = "page size, 1–200"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
           ("sort" = Option<String>, Query, description = "as the deal list; default `status,close_date`")),
    responses((status = 200, body = Page<Deal>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn company_deals(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<Params>,
) -> AppResult<JsonBytes> {
    related(&access, "companies", path.id, params, "t.company_id = ?").await
}

/// Deals linked to a live record of `table` (404 if there is none), open
/// ones first unless another sort is asked for.
async fn related(
    access: &OrgAccess,
    table: &'static str,
    id: String,
    mut params: Params,
    narrow: &'static str,
) -> AppResult<JsonBytes> {
    if let Some(k) = params
        .keys()
        .find(|k| !["limit", "cursor", "sort"].contains(&k.as_str()))
    {
        let shown: String = k.chars().take(60).collect();
        return Err(AppError::field(shown, "unknown parameter"));
    }
    let lookup = id.clone();
    let live = access
        .tenant
        .db
        .read(move |c| store::exists(c, table, &lookup))
        .await?;
    if !live {
        return Err(AppError::NotFound);
    }
    params
        .entry("sort".into())
        .or_insert_with(|| "-open,close_date".into());
    list_page::<Deals>(access, params, Some((narrow, id))).await
}
