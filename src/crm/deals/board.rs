//! The board: one column per stage of a pipeline, each with its deal count,
//! its sum and weighted sum per currency, and its first page of cards in
//! column order. Filters are the record layer's, so a board shows exactly
//! the deals the same filter lists.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};

use crate::crm::contacts::CompanyRef;
use crate::derived::Derived;
use crate::error::{AppError, AppResult};
use crate::record::list::{ListQuery, Params, fields_of};

use super::pipelines::{self, Pipeline, Stage, StageKind};
use super::{Deals, bad, company_ref, days_idle, days_since, weighted, weighted_amount};

/// Money summed per currency, in minor units. Sums are exact: they are
/// added as 128-bit integers (a column of many large deals can pass 2^63).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Total {
    pub currency: String,
    #[schema(value_type = i64)]
    pub amount: i128,
    /// Each deal's amount × its stage's probability, summed.
    #[schema(value_type = i64)]
    pub weighted: i128,
}

/// A deal as its card on the board shows it: the figures a card needs,
/// without the deal's people, custom values or tags (open the deal for
/// those). Fields mean what they mean on a deal.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BoardCard)]
pub struct Card {
    pub id: String,
    pub title: String,
    pub stage_id: String,
    /// open, won or lost: the kind of its stage.
    pub status: StageKind,
    pub position: i64,
    pub amount: Option<i64>,
    pub currency: String,
    pub weighted_amount: Option<i64>,
    pub close_date: Option<String>,
    pub owner_id: Option<String>,
    pub company_id: Option<String>,
    pub company: Option<CompanyRef>,
    pub lost_reason: Option<String>,
    pub days_in_stage: i64,
    pub rotting: bool,
    pub last_activity_at: Option<String>,
    pub updated_at: String,
}

const CARD_COLUMNS: &str = concat!(
    "t.id, t.title, t.stage_id, s.kind, s.probability, s.rotting_days, t.position, t.amount,
     t.currency, t.close_date, t.owner_id, t.company_id, co.name, t.lost_reason,
     t.stage_entered_at, t.updated_at, ",
    super::last_activity!()
);
const CARD_COLUMN_COUNT: usize = 17;
const CARD_FROM: &str = "deals t JOIN stages s ON s.id = t.stage_id
    LEFT JOIN companies co ON co.id = t.company_id AND co.deleted_at IS NULL";

fn card(r: &rusqlite::Row) -> rusqlite::Result<Card> {
    let kind: String = r.get(3)?;
    let status = StageKind::parse(&kind).ok_or_else(|| bad(3, format!("unknown kind {kind:?}")))?;
    let probability: i64 = r.get(4)?;
    let rotting_days: Option<i64> = r.get(5)?;
    let amount: Option<i64> = r.get(7)?;
    let company_id: Option<String> = r.get(11)?;
    let company_name: Option<String> = r.get(12)?;
    let stage_entered_at: String = r.get(14)?;
    let updated_at: String = r.get(15)?;
    let last_activity_at: Option<String> = r.get(16)?;
    Ok(Card {
        id: r.get(0)?,
        title: r.get(1)?,
        stage_id: r.get(2)?,
        status,
        position: r.get(6)?,
        weighted_amount: weighted_amount(amount, probability),
        amount,
        currency: r.get(8)?,
        close_date: r.get(9)?,
        owner_id: r.get(10)?,
        company: company_ref(&company_id, company_name),
        company_id,
        lost_reason: r.get(13)?,
        days_in_stage: days_since(&stage_entered_at),
        rotting: status == StageKind::Open
            && rotting_days
                .is_some_and(|d| days_idle(&updated_at, last_activity_at.as_deref()) > d),
        last_activity_at,
        updated_at,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BoardColumn)]
pub struct Column {
    pub stage: Stage,
    /// Deals in the column that match the filter.
    pub count: i64,
    /// Per currency, in currency order.
    pub totals: Vec<Total>,
    /// The first page of cards, in column order.
    pub deals: Vec<Card>,
    /// Pass as `cursor` with `stage` for the column's next page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Board {
    pub pipeline: Pipeline,
    pub columns: Vec<Column>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardParams {
    /// The filter language of `GET /deals`.
    pub filter: Option<String>,
    /// Cards per column, 1–200 (default 25).
    pub limit: Option<String>,
    /// Only this stage's column (to page it).
    pub stage: Option<String>,
    /// `next_cursor` of the column named by `stage`.
    pub cursor: Option<String>,
}

/// Splits a sum so SQLite never adds past 2^63: high and low parts of
/// each amount are summed apart and joined in 128 bits.
pub const SPLIT: i64 = 1_000_000_000;

/// Cards per column when the client asks for no other number: a screen
/// shows fewer; more come as the column scrolls.
pub const BOARD_PAGE: usize = 25;

pub fn joined(high: i64, low: i64) -> i128 {
    i128::from(high) * i128::from(SPLIT) + i128::from(low)
}

fn list_params(p: &BoardParams) -> Params {
    let mut out = Params::new();
    if let Some(f) = &p.filter {
        out.insert("filter".into(), f.clone());
    }
    out
}

/// Per stage: how many deals and their totals per currency.
type Sums = BTreeMap<String, (i64, Vec<Total>)>;

/// Count and totals per stage of the deals that match the query. Grouped
/// on the deals alone (the probability is the stage's, known already), so
/// an unfiltered board reads one covering index.
fn sums(conn: &Connection, pipeline: &Pipeline, query: &ListQuery) -> AppResult<Sums> {
    let (cond, args) = query.conditions();
    let sql = format!(
        "SELECT t.stage_id, t.currency, count(*),
                sum(coalesce(t.amount, 0) / {SPLIT}), sum(coalesce(t.amount, 0) % {SPLIT})
         FROM deals t
         WHERE {cond} AND t.pipeline_id = ?
         GROUP BY t.stage_id, t.currency ORDER BY t.stage_id, t.currency"
    );
    let mut all: Vec<Sql> = args.to_vec();
    all.push(Sql::Text(pipeline.id.clone()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(all.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            joined(r.get(3)?, r.get(4)?),
        ))
    })?;
    let mut out: BTreeMap<String, (i64, Vec<Total>)> = BTreeMap::new();
    for row in rows {
        let (stage, currency, n, amount) = row?;
        let probability = pipeline
            .stages
            .iter()
            .find(|s| s.id == stage)
            .map_or(0, |s| s.probability);
        let e = out.entry(stage).or_default();
        e.0 += n;
        e.1.push(Total {
            currency,
            amount,
            weighted: weighted(amount, probability),
        });
    }
    Ok(out)
}

/// The board of pipeline `id` (404 if there is none). Its sums are kept in
/// `derived` for the database's `generation` (read before this call): the
/// same board, unchanged, is summed once.
pub fn board(
    conn: &Connection,
    id: &str,
    p: &BoardParams,
    me: crate::record::list::Viewer,
    derived: &Derived,
    generation: u64,
) -> AppResult<Board> {
    let pipeline = pipelines::get(conn, id)?.ok_or(AppError::NotFound)?;
    if p.cursor.is_some() && p.stage.is_none() {
        return Err(AppError::field("cursor", "name the column's stage too"));
    }
    if let Some(s) = &p.stage
        && !pipeline.stages.iter().any(|st| &st.id == s)
    {
        return Err(AppError::field("stage", "no such stage in this pipeline"));
    }
    let fields = fields_of::<Deals>(conn)?;
    let base = list_params(p);
    let totals_query = ListQuery::new::<Deals>(&base, &fields, me.clone())?;
    // Keyed by what the sums read besides the database (whose changes the
    // generation covers): the pipeline, the conditions and their arguments.
    let (cond, args) = totals_query.conditions();
    let key = format!("board-sums {} {cond} {args:?}", pipeline.id);
    let sums: Arc<Sums> =
        derived.get_or(key, generation, || sums(conn, &pipeline, &totals_query))?;
    let mut columns = Vec::new();
    for stage in &pipeline.stages {
        if p.stage.as_ref().is_some_and(|s| s != &stage.id) {
            continue;
        }
        let mut params = base.clone();
        params.insert("sort".into(), "position".into());
        params.insert(
            "limit".into(),
            p.limit.clone().unwrap_or_else(|| BOARD_PAGE.to_string()),
        );
        if let Some(c) = &p.cursor {
            params.insert("cursor".into(), c.clone());
        }
        let mut q = ListQuery::new::<Deals>(&params, &fields, me.clone())?;
        q.and("t.stage_id = ?", Sql::Text(stage.id.clone()));
        let page = q.page_as::<Deals, _>(conn, CARD_COLUMNS, CARD_FROM, CARD_COLUMN_COUNT, card)?;
        let (count, totals) = sums.get(&stage.id).cloned().unwrap_or_default();
        columns.push(Column {
            stage: stage.clone(),
            count,
            totals,
            deals: page.items,
            next_cursor: page.next_cursor,
        });
    }
    Ok(Board { pipeline, columns })
}
