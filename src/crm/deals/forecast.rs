//! The forecast: what is expected to close and when. Open deals expected
//! to close by the end of the sixth month from now (overdue ones included)
//! with their weighted amounts, and what was won this month — grouped by
//! expected-close month, by owner or by stage; won this month against last
//! month; the win rate of the last 90 days. All money in integer minor
//! units per currency.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::clock;
use crate::error::{AppError, AppResult};

use super::board::{SPLIT, joined};
use super::pipelines;
use super::weighted;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Month,
    Owner,
    Stage,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// One pipeline's deals; all pipelines when left out.
    pub pipeline: Option<String>,
    /// month (default), owner or stage.
    pub by: Option<GroupBy>,
}

#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Amounts {
    pub currency: String,
    /// Open deals' amounts.
    #[schema(value_type = i64)]
    pub open: i128,
    /// Open deals' amounts × their stages' probabilities.
    #[schema(value_type = i64)]
    pub weighted: i128,
    /// Won this month.
    #[schema(value_type = i64)]
    pub won: i128,
}

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct ForecastRow {
    /// `overdue` or `YYYY-MM` by month; a user id (empty: no owner) by
    /// owner; a stage id by stage.
    pub key: String,
    /// The month (`2026-12`), `Overdue`, the stage's name; by owner the user id.
    pub label: String,
    /// Open deals counted in the row.
    pub deals: i64,
    pub amounts: Vec<Amounts>,
}

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct CurrencyAmount {
    pub currency: String,
    #[schema(value_type = i64)]
    pub amount: i128,
}

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct WinRate {
    pub won: i64,
    pub lost: i64,
    /// won / (won + lost) in whole percent; null when nothing closed.
    pub percent: Option<i64>,
}

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub by: GroupBy,
    pub rows: Vec<ForecastRow>,
    pub won_this_month: Vec<CurrencyAmount>,
    pub won_last_month: Vec<CurrencyAmount>,
    /// Deals won and lost in the last 90 days.
    pub win_rate_90_days: WinRate,
}

fn month_start(d: Date, add: i32) -> Date {
    let total = d.year() * 12 + (d.month() as i32 - 1) + add;
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    Date::from_calendar_date(total.div_euclid(12), month, 1).unwrap_or(d)
}

fn ym(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month() as u8)
}

fn stamp_of(d: Date) -> String {
    clock::stamp(d.midnight().assume_utc())
}

fn row<'a>(rows: &'a mut BTreeMap<String, ForecastRow>, key: &str) -> &'a mut ForecastRow {
    rows.entry(key.to_string()).or_insert_with(|| ForecastRow {
        key: key.to_string(),
        label: key.to_string(),
        deals: 0,
        amounts: Vec::new(),
    })
}

fn amounts<'a>(r: &'a mut ForecastRow, currency: &str) -> &'a mut Amounts {
    if let Some(i) = r.amounts.iter().position(|a| a.currency == currency) {
        return &mut r.amounts[i];
    }
    r.amounts.push(Amounts {
        currency: currency.to_string(),
        ..Amounts::default()
    });
    r.amounts.sort_by(|a, b| a.currency.cmp(&b.currency));
    let i = r
        .amounts
        .iter()
        .position(|a| a.currency == currency)
        .unwrap_or(0);
    &mut r.amounts[i]
}

fn won_between(
    conn: &Connection,
    pipeline: Option<&str>,
    from: &str,
    to: &str,
) -> AppResult<Vec<CurrencyAmount>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.currency, sum(coalesce(t.amount, 0) / {SPLIT}), sum(coalesce(t.amount, 0) % {SPLIT})
         FROM deals t
         WHERE t.deleted_at IS NULL AND t.status = 'won' AND t.closed_at >= ?1 AND t.closed_at < ?2
           AND (?3 IS NULL OR t.pipeline_id = ?3)
         GROUP BY t.currency ORDER BY t.currency"
    ))?;
    let rows = stmt.query_map(rusqlite::params![from, to, pipeline], |r| {
        Ok(CurrencyAmount {
            currency: r.get(0)?,
            amount: joined(r.get(1)?, r.get(2)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn forecast(
    conn: &Connection,
    pipeline: Option<&str>,
    by: GroupBy,
    now: OffsetDateTime,
) -> AppResult<Forecast> {
    let stages = match pipeline {
        Some(p) => pipelines::get(conn, p)?.ok_or(AppError::NotFound)?.stages,
        None => Vec::new(),
    };
    let today = now.date();
    let this_month = month_start(today, 0);
    let end = month_start(today, 6);
    let key_sql = match by {
        // By day, in the index's order (no sort); months are made below.
        GroupBy::Month => "t.close_date",
        GroupBy::Owner => "coalesce(t.owner_id, '')",
        GroupBy::Stage => "t.stage_id",
    };
    let mut rows: BTreeMap<String, ForecastRow> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    if by == GroupBy::Month {
        order.push("overdue".into());
        row(&mut rows, "overdue").label = "Overdue".into();
        for i in 0..6 {
            let k = ym(month_start(today, i));
            row(&mut rows, &k);
            order.push(k);
        }
    }
    for s in &stages {
        if by == GroupBy::Stage {
            row(&mut rows, &s.id).label = s.name.clone();
            order.push(s.id.clone());
        }
    }
    // Grouped on the deals alone (one covering index); the stages' names
    // and probabilities are joined here.
    let all_stages: Vec<pipelines::Stage> = match pipeline {
        Some(_) => stages.clone(),
        None => pipelines::all(conn)?
            .into_iter()
            .flat_map(|p| p.stages)
            .collect(),
    };
    let stage_of = |id: &str| all_stages.iter().find(|s| s.id == id);
    let in_pipeline = if pipeline.is_some() {
        "t.pipeline_id = ?3 AND"
    } else {
        "?3 IS NULL AND"
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {key_sql}, t.currency, t.stage_id, count(*),
                sum(coalesce(t.amount, 0) / {SPLIT}), sum(coalesce(t.amount, 0) % {SPLIT})
         FROM deals t
         WHERE {in_pipeline} t.status = 'open' AND t.close_date < ?2 AND t.deleted_at IS NULL
         GROUP BY 1, t.stage_id, t.currency"
    ))?;
    let today_s = today.to_string();
    let open = stmt.query_map(
        rusqlite::params![today.to_string(), end.to_string(), pipeline],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                joined(r.get(4)?, r.get(5)?),
            ))
        },
    )?;
    for o in open {
        let (key, currency, stage_id, n, amount) = o?;
        let key = match by {
            GroupBy::Month if key < today_s => "overdue".to_string(),
            GroupBy::Month => key.chars().take(7).collect(),
            _ => key,
        };
        let stage = stage_of(&stage_id);
        let r = row(&mut rows, &key);
        if by == GroupBy::Stage {
            r.label = stage.map_or_else(|| key.clone(), |s| s.name.clone());
        }
        r.deals += n;
        let a = amounts(r, &currency);
        a.open += amount;
        a.weighted += weighted(amount, stage.map_or(0, |s| s.probability));
    }
    let from = stamp_of(this_month);
    let to = stamp_of(month_start(today, 1));
    let won_key = match by {
        GroupBy::Month => format!("'{}'", ym(this_month)),
        _ => key_sql.to_string(),
    };
    let won_pipeline = if pipeline.is_some() {
        "t.pipeline_id = ?1 AND"
    } else {
        "?1 IS NULL AND"
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {won_key}, t.currency, t.stage_id, sum(coalesce(t.amount, 0) / {SPLIT}),
                sum(coalesce(t.amount, 0) % {SPLIT})
         FROM deals t
         WHERE {won_pipeline} t.status = 'won' AND t.closed_at >= ?2 AND t.closed_at < ?3
           AND t.deleted_at IS NULL
         GROUP BY 1, t.currency, t.stage_id"
    ))?;
    let won = stmt.query_map(rusqlite::params![pipeline, from, to], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            joined(r.get(3)?, r.get(4)?),
        ))
    })?;
    for w in won {
        let (key, currency, stage_id, amount) = w?;
        let r = row(&mut rows, &key);
        if by == GroupBy::Stage {
            r.label = stage_of(&stage_id).map_or_else(|| key.clone(), |s| s.name.clone());
        }
        amounts(r, &currency).won += amount;
    }
    let mut out: Vec<ForecastRow> = order.iter().filter_map(|k| rows.remove(k)).collect();
    out.extend(rows.into_values());
    let last_from = stamp_of(month_start(today, -1));
    let since = clock::stamp(now - time::Duration::days(90));
    let (won_n, lost_n): (i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE status = 'won'), count(*) FILTER (WHERE status = 'lost')
         FROM deals WHERE deleted_at IS NULL AND status <> 'open' AND closed_at >= ?1
           AND (?2 IS NULL OR pipeline_id = ?2)",
        rusqlite::params![since, pipeline],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let total = won_n + lost_n;
    Ok(Forecast {
        by,
        rows: out,
        won_this_month: won_between(conn, pipeline, &from, &to)?,
        won_last_month: won_between(conn, pipeline, &last_from, &from)?,
        win_rate_90_days: WinRate {
            won: won_n,
            lost: lost_n,
            percent: (total > 0).then(|| (won_n * 100 + total / 2) / total),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_roll_over_years() {
        assert_eq!(month_start(date!(2026 - 12 - 04), 1), date!(2027 - 01 - 01));
        assert_eq!(
            month_start(date!(2026 - 01 - 31), -1),
            date!(2025 - 12 - 01)
        );
        assert_eq!(ym(month_start(date!(2026 - 08 - 15), 5)), "2027-01");
    }
}
