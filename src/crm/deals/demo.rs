//! Demo deals for `harmonia demo`: a second pipeline and a year of deals —
//! won, lost and open ones, each having walked its stages over time with
//! every stage change recorded — so the board and the forecast look alive.
//! Rows are written directly (with their past times), like the rest of the
//! demo data; the search index is rebuilt after the load.

use rusqlite::{Connection, params};

use crate::clock;
use crate::error::AppResult;

use super::moves::GAP;
use super::pipelines::{self, CleanStage, Stage, StageKind};

const PRODUCTS: &[&str] = &[
    "Annual plan",
    "Team upgrade",
    "Pilot",
    "Expansion",
    "Renewal",
    "Onboarding package",
    "Enterprise licence",
    "Support contract",
    "Training",
    "Integration project",
];
const SOURCES: &[&str] = &[
    "Inbound", "Referral", "Outbound", "Event", "Partner", "Website",
];
const REASONS: &[&str] = &[
    "Price",
    "Went with a competitor",
    "No budget",
    "No decision",
    "Timing",
    "Lost touch",
];
const STEPS: &[&str] = &[
    "Send the proposal",
    "Book a demo with the team",
    "Follow up on pricing",
    "Security review call",
    "Get the contract signed",
];

/// The pipeline the demo adds beside "Sales".
fn partnerships(conn: &Connection) -> AppResult<Vec<Stage>> {
    let stage =
        |name: &str, probability: i64, kind: StageKind, rotting_days: Option<i64>| CleanStage {
            id: None,
            name: name.into(),
            probability,
            kind,
            rotting_days,
        };
    let p = pipelines::create(
        conn,
        "Partnerships",
        None,
        &[
            stage("Intro", 10, StageKind::Open, Some(30)),
            stage("Evaluation", 30, StageKind::Open, Some(21)),
            stage("Contract", 70, StageKind::Open, Some(14)),
            stage("Signed", 100, StageKind::Won, None),
            stage("Dropped", 0, StageKind::Lost, None),
        ],
    )?;
    Ok(p.stages)
}

/// Adds `n` deals spread over the last year; `below(k)` draws from 0..k.
pub fn fill(
    conn: &Connection,
    owner: &str,
    companies: &[(String, String)],
    contacts: &[String],
    n: usize,
    below: &mut dyn FnMut(usize) -> usize,
) -> AppResult<()> {
    let sales = match pipelines::default_id(conn)? {
        Some(id) => pipelines::stages_of(conn, &id)?,
        None => return Ok(()),
    };
    let partner = partnerships(conn)?;
    let now = clock::now();
    let mut next_position = std::collections::HashMap::<String, i64>::new();
    for i in 0..n {
        let stages = if below(5) == 0 { &partner } else { &sales };
        let open: Vec<&Stage> = stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .collect();
        let (Some(won), Some(lost)) = (
            stages.iter().find(|s| s.kind == StageKind::Won),
            stages.iter().find(|s| s.kind == StageKind::Lost),
        ) else {
            continue;
        };
        let age_days = below(365) as i64 + 1;
        let created =
            now - time::Duration::days(age_days) - time::Duration::minutes(below(600) as i64);
        let roll = below(100);
        // Older deals have mostly closed; young ones are mostly open.
        let outcome = match (age_days > 45, roll) {
            (true, r) if r < 42 => Some(won),
            (true, r) if r < 75 => Some(lost),
            (false, r) if r < 8 => Some(won),
            (false, r) if r < 14 => Some(lost),
            _ => None,
        };
        // The open stages it walked (at least the first), then its end.
        let walked = 1 + below(open.len());
        let mut path: Vec<&Stage> = open.iter().take(walked).copied().collect();
        path.extend(outcome);
        let span = age_days * 24 * 60;
        let closes_after = if outcome.is_some() {
            span * (40 + below(50) as i64) / 100
        } else {
            span
        };
        let step = closes_after / path.len() as i64;
        let company_id = match companies.get(below(companies.len().max(1))) {
            Some((id, _)) if below(10) < 9 => Some(id.clone()),
            _ => None,
        };
        let company_name: Option<String> = match &company_id {
            Some(cid) => conn
                .prepare_cached("SELECT name FROM companies WHERE id = ?1")?
                .query_row([cid], |r| r.get(0))
                .ok(),
            None => None,
        };
        let product = PRODUCTS[below(PRODUCTS.len())];
        let title = match company_name {
            Some(c) => format!("{c} — {product}"),
            None => product.to_string(),
        };
        let currency = match below(20) {
            0..=2 => "EUR",
            3 => "GBP",
            _ => "USD",
        };
        let amount = ((2 + below(60)) * 1_000 + below(20) * 250) as i64 * 100;
        let id = clock::new_id();
        let stamps: Vec<String> = (0..path.len())
            .map(|k| clock::stamp(created + time::Duration::minutes(step * k as i64)))
            .collect();
        let last = path.last().copied().unwrap_or(open[0]);
        let entered = stamps
            .last()
            .cloned()
            .unwrap_or_else(|| clock::stamp(created));
        let closed_at = outcome.map(|_| entered.clone());
        let close_date = match outcome {
            Some(_) => closed_at.as_deref().map(|s| s[..10].to_string()),
            None => Some((now.date() + time::Duration::days(below(150) as i64 - 25)).to_string()),
        };
        let position = next_position.entry(last.id.clone()).or_insert(0);
        *position += GAP;
        let created_s = clock::stamp(created);
        conn.prepare_cached(
            "INSERT INTO deals (id, title, sort_title, pipeline_id, stage_id, status, position,
               amount, currency, close_date, owner_id, company_id, source, next_step, lost_reason,
               closed_at, stage_entered_at, created_at, updated_at, created_by, updated_by,
               title_key, owner_key, company_key)
             VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
               ?16, ?17, ?16, ?18, ?18, ?19, (SELECT name_key FROM people WHERE user_id = ?10),
               (SELECT name_key FROM companies WHERE id = ?11))",
        )?
        .execute(params![
            id,
            title,
            last.pipeline_id,
            last.id,
            last.kind.as_str(),
            *position,
            amount,
            currency,
            close_date,
            (below(10) < 8).then_some(owner),
            company_id,
            SOURCES[below(SOURCES.len())],
            (outcome.is_none() && below(3) > 0).then(|| STEPS[below(STEPS.len())]),
            (last.kind == StageKind::Lost).then(|| REASONS[below(REASONS.len())]),
            closed_at,
            entered,
            created_s,
            owner,
            crate::order::natural_key(&title)
        ])?;
        for (k, s) in path.iter().enumerate() {
            let from = k.checked_sub(1).map(|j| path[j]);
            super::moves::record_change(conn, &id, from, s, owner, &stamps[k])?;
        }
        crate::record::history::created(conn, "deal", &id, owner, &created_s)?;
        if !contacts.is_empty() {
            let people = 1 + below(3);
            for k in 0..people {
                let cid = &contacts[(i * 7 + k * 13 + below(contacts.len())) % contacts.len()];
                let role = ["decision_maker", "champion", "influencer", "user"][k.min(3)];
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO deal_contacts (deal_id, contact_id, role, position)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![id, cid, role, k as i64])?;
            }
        }
    }
    Ok(())
}
