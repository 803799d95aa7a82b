//! A list's search box (`q`) through the search engine the palette uses:
//! typos, accents, phone numbers however written, emails, domains, company
//! names and job titles, narrowed to the list's kind. The engine answers
//! ids; the list then filters and sorts those records in SQL, so `q`
//! combines with every filter and sort.

use crate::error::AppResult;
use crate::platform::access::OrgAccess;
use crate::record::RecordKind;
use crate::record::list::{MAX_Q, Params};
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
pub async fn found<K: RecordKind>(
    access: &OrgAccess,
    params: &Params,
) -> AppResult<Option<Vec<String>>> {
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
        return Ok(Some(Vec::new()));
    }
    let tenant = access.tenant.clone();
    let ids = crate::db::off_runtime(move || {
        hits::list_ids(&tenant.search, &parsed, K::KIND, CAP).map(|(ids, _)| ids)
    })
    .await?;
    Ok(Some(ids))
}
