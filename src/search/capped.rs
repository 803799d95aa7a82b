//! The best hits of a query, scoring at most a fixed number of its matches.
//!
//! A short prefix matches a large share of a big organization (a 3-letter
//! prefix of a last name: ~25,000 of 1,000,000 contacts), and their scores
//! hardly differ (one term, short fields alike): every match was scored,
//! and that search grew 5× from 10,000 to 1,000,000 contacts. (Block-max
//! WAND, which skips blocks that cannot reach the top, skips next to
//! nothing when scores are this flat: tried, with frequencies indexed for
//! it, and no faster.) So each segment scores at most its share of `cap`
//! matches, in index order, and stops. An organization whose query matches
//! fewer than `cap` records gets exactly the hits it had; a larger one gets
//! the best of `cap` of them, and `TenantSearch::run_where` adds the
//! whole-word matches, looked up apart, so that a name typed in full is
//! never left out by the cap.

use std::cmp::Ordering;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TERMINATED};

/// Matches scored at most per query, shared by the segments by size.
pub const CAP: usize = 1_024;

pub struct CappedTop {
    /// Hits kept.
    pub wide: usize,
    /// Matches scored, over all segments.
    pub cap: usize,
    /// Documents in all segments (to share `cap` out).
    pub docs: u64,
}

/// The hits, best first, and whether some match was left unscored.
pub type Fruit = (Vec<(Score, DocAddress)>, bool);

impl CappedTop {
    fn share(&self, reader: &SegmentReader) -> usize {
        let of_cap =
            (self.cap as u64).saturating_mul(u64::from(reader.max_doc())) / self.docs.max(1);
        usize::try_from(of_cap).unwrap_or(usize::MAX).max(self.wide)
    }
}

/// Best first; equal scores in index order, as Tantivy's `TopDocs`.
fn better(a: &(Score, DocAddress), b: &(Score, DocAddress)) -> Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(&b.1))
}

pub struct Segment {
    ord: SegmentOrdinal,
    wide: usize,
    cap: usize,
    seen: usize,
    /// A match was left unscored.
    capped: bool,
    hits: Vec<(Score, DocAddress)>,
}

impl Segment {
    fn offer(&mut self, doc: DocId, score: Score) {
        self.seen += 1;
        // Matches come in index order, so one that only ties the worst hit
        // kept comes after it and loses: most of a flat query's matches
        // end here.
        if self.hits.len() == self.wide && self.hits.last().is_some_and(|w| score <= w.0) {
            return;
        }
        let hit = (score, DocAddress::new(self.ord, doc));
        if self.hits.len() < self.wide {
            self.hits.push(hit);
        } else if let Some(worst) = self.hits.last()
            && better(&hit, worst) == Ordering::Less
        {
            self.hits.pop();
            self.hits.push(hit);
        } else {
            return;
        }
        // Kept best first (a few dozen hits): the worst is the last.
        let mut i = self.hits.len() - 1;
        while i > 0 && better(&self.hits[i], &self.hits[i - 1]) == Ordering::Less {
            self.hits.swap(i, i - 1);
            i -= 1;
        }
    }
}

impl SegmentCollector for Segment {
    type Fruit = Fruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.seen < self.cap {
            self.offer(doc, score);
        } else {
            self.capped = true;
        }
    }

    fn harvest(self) -> Fruit {
        (self.hits, self.capped)
    }
}

impl Collector for CappedTop {
    type Fruit = Fruit;
    type Child = Segment;

    fn for_segment(&self, ord: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Segment> {
        Ok(Segment {
            ord,
            wide: self.wide,
            cap: self.share(reader),
            seen: 0,
            capped: false,
            hits: Vec::with_capacity(self.wide + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Fruit>) -> tantivy::Result<Fruit> {
        let capped = fruits.iter().any(|(_, c)| *c);
        let mut hits: Vec<_> = fruits.into_iter().flat_map(|(h, _)| h).collect();
        hits.sort_by(better);
        hits.truncate(self.wide);
        Ok((hits, capped))
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Fruit> {
        let mut segment = self.for_segment(ord, reader)?;
        let alive = reader.alive_bitset();
        let mut scorer = weight.scorer(reader, 1.0)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            if segment.seen == segment.cap {
                segment.capped = true;
                break;
            }
            if !alive.is_some_and(|a| a.is_deleted(doc)) {
                segment.offer(doc, scorer.score());
            }
            doc = scorer.advance();
        }
        Ok(segment.harvest())
    }
}

/// The best `wide` hits of `q` scoring at most `cap` matches, with those of
/// `whole` (the query kept to whole-word matches) added when the cap left
/// some match out; and whether it did.
pub fn best(
    searcher: &tantivy::Searcher,
    q: &dyn tantivy::query::Query,
    whole: Option<&dyn tantivy::query::Query>,
    wide: usize,
    cap: usize,
) -> tantivy::Result<Fruit> {
    let top_of = |q: &dyn tantivy::query::Query| {
        let docs = searcher.num_docs();
        searcher.search(q, &CappedTop { wide, cap, docs })
    };
    let (mut top, capped) = top_of(q)?;
    if capped && let Some(whole) = whole {
        let (named, _) = top_of(whole)?;
        for hit in named {
            if !top.iter().any(|(_, a)| *a == hit.1) {
                top.push(hit);
            }
        }
        top.sort_by(better);
        top.truncate(wide);
    }
    Ok((top, capped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::{IndexRecordOption, STORED, Schema, TEXT};
    use tantivy::{Index, TantivyDocument, Term, doc};

    use crate::search::index::{register_tokenizer, schema};
    use crate::search::query;

    /// Below the cap the hits are Tantivy's own top hits, ties included;
    /// past it a segment scores its share of the matches, in index order,
    /// keeps the best of them and says it stopped.
    #[test]
    fn the_cap_bounds_what_is_scored_and_changes_nothing_below_it() {
        let mut b = Schema::builder();
        let text = b.add_text_field("text", TEXT | STORED);
        let index = Index::create_in_ram(b.build());
        let mut writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        for n in 0..3_000 {
            // Longer texts score lower: the best ones are spread through.
            let filler = "x ".repeat(n % 7);
            writer
                .add_document(doc!(text => format!("smith {filler}")))
                .expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let q = TermQuery::new(
            Term::from_field_text(text, "smith"),
            IndexRecordOption::WithFreqs,
        );
        let docs = searcher.num_docs();
        let tantivy_top = searcher
            .search(&q, &TopDocs::with_limit(20).order_by_score())
            .expect("top");
        let (all, capped) = searcher
            .search(
                &q,
                &CappedTop {
                    wide: 20,
                    cap: 5_000,
                    docs,
                },
            )
            .expect("capped");
        assert!(!capped);
        assert_eq!(all, tantivy_top);
        let (some, capped) = searcher
            .search(
                &q,
                &CappedTop {
                    wide: 20,
                    cap: 100,
                    docs,
                },
            )
            .expect("capped");
        assert!(capped);
        assert_eq!(some.len(), 20);
        // Only the first 100 matches were scored: every hit is among them,
        // and they are the best of them.
        assert!(some.iter().all(|(_, a)| a.doc_id < 100), "{some:?}");
        assert_eq!(some[0].0, all[0].0);
    }

    /// Past the cap, a record whose name is the query word in full is
    /// still the first hit, though the matches scored before the cap
    /// stopped did not include it.
    #[test]
    fn a_whole_word_is_found_past_the_cap() {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        register_tokenizer(&index);
        let mut writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        let add = |w: &mut tantivy::IndexWriter, word: &str| {
            let mut doc = TantivyDocument::default();
            doc.add_text(f.kind, "contact");
            doc.add_text(f.words, word);
            doc.add_text(f.prefixes, format!("smi {word}"));
            doc.add_text(f.title_prefixes, format!("smi {word}"));
            w.add_document(doc).expect("add");
        };
        for _ in 0..500 {
            add(&mut writer, "smith");
        }
        add(&mut writer, "smi");
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let parsed = query::parse("smi").expect("parse");
        let q = query::build(&f, &parsed, &[], false);
        let whole = query::whole_words(&f, &parsed, query::build(&f, &parsed, &[], false));
        let (hits, was_capped) =
            best(&searcher, q.as_ref(), whole.as_deref(), 20, 100).expect("best");
        assert!(was_capped);
        assert_eq!(hits.len(), 20);
        assert_eq!(hits[0].1.doc_id, 500, "{hits:?}");
        // Without the whole-word query the cap leaves it out.
        let (hits, _) = best(&searcher, q.as_ref(), None, 20, 100).expect("best");
        assert!(hits.iter().all(|(_, a)| a.doc_id < 100), "{hits:?}");
    }
}
