//! A list's search box (`q`) through the search engine the palette uses:
//! typos, accents, phone numbers however written, emails, domains, company
//! names and job titles, narrowed to the list's kind. The engine answers
//! ids; the list then filters and sorts those records in SQL, so `q`
//! combines with every filter and sort.

use crate::error::AppResult;
use crate::platform::access::OrgAccess;
use crate::record::RecordKind;
use crate::record::list::{Found, MAX_Q, Params};
use crate::search::{hits, query};

/// The most matches a list's search narrows to: the best ones by
/// relevance when more match. Reading them by id and sorting them stays a
/// few milliseconds at any size of organization.
pub const CAP: usize = 10_000;

/// The ids that `q` finds among records of kind `K`, or None when the list
/// has no search (no `q`, or only spaces), when `q` is too long (the list
/// refuses it), or while the index is being rebuilt from the database —
/// then a list falls back to a prefix match on its key columns, so its
/// search keeps answering.
pub async fn found<K: RecordKind>(access: &OrgAccess, params: &Params) -> AppResult<Option<Found>> {
    let Some(text) = params.get("q") else {
        return Ok(None);
    };
    if text.trim().is_empty() || text.chars().count() > MAX_Q {
        return Ok(None);
    }
    if access.tenant.search.is_rebuilding() {
        return Ok(None);
    }
    let parsed = query::parse(text)?;
    if parsed.is_empty() {
        // Only punctuation: nothing to find.
        return Ok(Some(Found::default()));
    }
    let tenant = access.tenant.clone();
    let found = crate::db::off_runtime(move || {
        let mut matches = hits::list_ids(&tenant.search, &parsed, K::KIND, CAP)?;
        let of_kind = tenant.search.count_of(K::KIND)?;
        // In id order, a read by id walks SQLite's id index and table
        // forward: a quarter faster for 10,000 ids at 1,000,000 records
        // than in relevance order.
        match matches.ranks.take() {
            Some(ranks) => {
                let mut pairs: Vec<(u128, u64)> = matches.uuids.drain(..).zip(ranks).collect();
                pairs.sort_unstable();
                let (uuids, ranks) = pairs.into_iter().unzip();
                matches.uuids = uuids;
                matches.ranks = Some(ranks);
            }
            None => matches.uuids.sort_unstable(),
        }
        matches.others.sort_unstable();
        Ok(Found { matches, of_kind })
    })
    .await?;
    Ok(Some(found))
}
