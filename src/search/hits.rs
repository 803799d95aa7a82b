//! The best hits of some kinds of record, fast whatever their share.

use crate::error::AppResult;
use crate::search::index::{Matches, Stored, TenantSearch};
use crate::search::query;

/// How many hits of every kind are fetched to find `limit` of the kinds asked for.
const WIDEN: usize = 3;

/// The best `limit` hits of `kinds` (all kinds when empty). A kind filter
/// inside the query is a conjunction, which keeps Tantivy from skipping
/// low-scoring blocks (block-max WAND): it scores every match, and a 3-letter
/// prefix over 1,000,000 contacts took 3× as long. So the unfiltered query
/// runs first, for a few times `limit` hits, and keeps those of the kinds
/// asked for (loading stored documents only until it has `limit`); that is
/// the right answer when it keeps `limit` of them or has seen every match. For kinds that are a minority of the records, or when
/// that falls short, the filtered query runs (its conjunction is then cheap).
pub fn top_hits(
    search: &TenantSearch,
    parsed: &query::Parsed,
    kinds: &[String],
    fuzzy: bool,
    limit: usize,
) -> AppResult<Vec<(f32, Stored)>> {
    let fields = search.fields();
    let every_kind = search
        .sources()
        .iter()
        .all(|s| kinds.iter().any(|k| k == s.kind()));
    // Each query with its twin kept to whole-word matches (see `capped`).
    let run = |kinds: &[String], wide: usize, keep: &dyn Fn(&str) -> bool| {
        let q = || query::build(&fields, parsed, kinds, fuzzy);
        let whole = query::whole_words(&fields, parsed, q());
        search.run_where(q().as_ref(), whole.as_deref(), wide, limit, keep)
    };
    if kinds.is_empty() || every_kind {
        return Ok(run(&[], limit, &|_| true)?.0);
    }
    let filtered = || Ok(run(kinds, limit, &|_| true)?.0);
    if search.share_of(kinds)? < 0.5 {
        return filtered();
    }
    let (kept, seen_every_match) =
        run(&[], limit * WIDEN, &|kind| kinds.iter().any(|k| k == kind))?;
    if kept.len() == limit || seen_every_match {
        return Ok(kept);
    }
    filtered()
}

/// What a list's search box finds of one kind: its best `cap` matches (a
/// list then filters and sorts them in SQL), how many match in all, and
/// their ranks. Words match as in the palette; only when nothing matches
/// exactly are words allowed one typo, so a list narrowed by a correct word
/// shows no near misses.
pub fn list_ids(
    search: &TenantSearch,
    parsed: &query::Parsed,
    kind: &str,
    cap: usize,
) -> AppResult<Matches> {
    let fields = search.fields();
    let kinds = [kind.to_string()];
    let exact = search.ids(query::build(&fields, parsed, &kinds, false).as_ref(), cap)?;
    if exact.total > 0 || !query::has_fuzzy_words(parsed) {
        return Ok(exact);
    }
    search.ids(query::build(&fields, parsed, &kinds, true).as_ref(), cap)
}
