//! `GET /orgs/{org}/search`: typed results across every searchable kind.

use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, AppResult, ErrorBody, JsonBytes, Query};
use crate::platform::access::OrgAccess;
use crate::search::hits::top_hits;
use crate::search::query::{self, Snippet};
use crate::search::source;
use crate::state::AppState;

pub const MAX_LIMIT: usize = 50;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What the person typed (any text, at most 200 characters).
    pub q: Option<String>,
    /// Comma-separated kinds to search, e.g. `contact,company` (default: all).
    pub types: Option<String>,
    /// 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// `contact` or `company`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub title: String,
    pub subtitle: String,
    /// Why it matched, with the matching parts marked (the title itself when the
    /// name matched); null for a match only within one typo.
    pub snippet: Option<Snippet>,
    pub score: f32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// True while the index is being rebuilt from the database: results may be incomplete.
    pub rebuilding: bool,
}

/// Search the organization's contacts and companies as you type: prefixes,
/// one typo in longer words, accents, phone numbers however written, emails.
#[utoipa::path(get, path = "/search", tag = "search",
    params(("org" = String, Path, description = "organization slug"), SearchParams),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
async fn search(access: OrgAccess, Query(params): Query<SearchParams>) -> AppResult<JsonBytes> {
    let limit = match params.limit {
        None => 20,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(AppError::field("limit", format!("use 1 to {MAX_LIMIT}"))),
    };
    let mut kinds = Vec::new();
    for k in params
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let sources = access.tenant.search.sources();
        if source(sources, k).is_none() {
            let known: Vec<_> = sources.iter().map(|s| s.kind()).collect();
            return Err(AppError::field(
                "types",
                format!("use any of {}", known.join(", ")),
            ));
        }
        kinds.push(k.to_string());
    }
    let parsed = query::parse(params.q.as_deref().unwrap_or(""))?;
    let rebuilding = access.tenant.search.is_rebuilding();
    if parsed.is_empty() {
        return JsonBytes::of(&SearchResults {
            items: Vec::new(),
            rebuilding,
        });
    }
    let tenant = access.tenant.clone();
    // The answer is written where the hits were read (see `JsonBytes`).
    crate::db::off_runtime(move || {
        let search = &tenant.search;
        let mut hits = top_hits(search, &parsed, &kinds, false, limit)?;
        if hits.len() < limit && query::has_fuzzy_words(&parsed) {
            for (score, d) in top_hits(search, &parsed, &kinds, true, limit)? {
                if hits.len() == limit {
                    break;
                }
                if !hits.iter().any(|(_, h)| h.id == d.id && h.kind == d.kind) {
                    hits.push((score, d));
                }
            }
        }
        let items = hits
            .into_iter()
            .map(|(score, d)| {
                // The stored values first, then the title: a name match is marked too.
                let mut candidates = d.snippets.clone();
                candidates.push(d.title.clone());
                let snippet = query::snippet(&candidates, &parsed);
                SearchHit {
                    kind: d.kind,
                    id: d.id,
                    title: d.title,
                    subtitle: d.subtitle,
                    snippet,
                    score,
                }
            })
            .collect();
        JsonBytes::of(&SearchResults { items, rebuilding })
    })
    .await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}
