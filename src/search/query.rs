//! From what a person typed to a Tantivy query, built term by term (never
//! parsed, so no input is a syntax error), and the snippet that shows why a
//! result matched.
//!
//! Every word of the query must match (several words narrow the result); a
//! word matches a record when it is the start of one of its words, the whole
//! word (ranked higher, higher still in the title), within one typo of a word
//! for words of four letters or more without digits, or part of a phone number.

use serde::Serialize;
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;

use crate::error::{AppError, AppResult};
use crate::search::index::Fields;
use crate::search::text;

pub const MAX_QUERY_CHARS: usize = 200;
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 40;
const FUZZY_FROM: usize = 4;

/// A query, cleaned: words to match, or one phone number.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub words: Vec<String>,
    pub phone: Option<String>,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phone.is_none()
    }
}

pub fn parse(q: &str) -> AppResult<Parsed> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::field(
            "q",
            format!("use at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let q: String = q.chars().filter(|c| !c.is_control()).collect();
    if text::looks_like_phone(&q) {
        return Ok(Parsed {
            words: Vec::new(),
            phone: Some(text::digits(&q)),
        });
    }
    let words = text::words(&q)
        .into_iter()
        .map(|w| w.chars().take(MAX_WORD_CHARS).collect())
        .take(MAX_WORDS)
        .collect();
    Ok(Parsed { words, phone: None })
}

fn term(field: tantivy::schema::Field, s: &str) -> Term {
    Term::from_field_text(field, s)
}

fn boosted(q: Box<dyn Query>, by: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(q, by)))
}

fn term_query(field: tantivy::schema::Field, s: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(term(field, s), IndexRecordOption::Basic))
}

/// Whether a typo-tolerant pass could find more than the exact one.
pub fn has_fuzzy_words(p: &Parsed) -> bool {
    p.words.iter().any(|w| fuzzy_word(w))
}

fn fuzzy_word(w: &str) -> bool {
    // Typos are forgiven in words, not in numbers (`rebuild0` ≠ `rebuild1`).
    w.chars().count() >= FUZZY_FROM && !w.chars().any(|c| c.is_ascii_digit())
}

/// The query for `p`; with `fuzzy`, words may also be one typo away. Search
/// runs the exact query first and the fuzzy one only when that found too
/// little: exact matches rank first, and the common case stays cheap.
pub fn build(f: &Fields, p: &Parsed, kinds: &[String], fuzzy: bool) -> Box<dyn Query> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(digits) = &p.phone {
        // `030 …` (trunk prefix) and `0049 …` (international prefix) are
        // written with zeros the stored E.164 number does not have.
        let mut variants = vec![digits.as_str()];
        let trimmed = digits.trim_start_matches('0');
        if trimmed != digits && trimmed.len() >= text::MIN_PHONE_DIGITS {
            variants.push(trimmed);
        }
        let any = variants
            .into_iter()
            .map(|v| (Occur::Should, term_query(f.phone, v)))
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    for w in &p.words {
        let mut any: Vec<(Occur, Box<dyn Query>)> = vec![
            boosted(term_query(f.title_prefixes, w), 2.0),
            boosted(
                Box::new(TermQuery::new(
                    term(f.words, w),
                    IndexRecordOption::WithFreqs,
                )),
                3.0,
            ),
        ];
        // One or two letters: the start of a name (or a whole word), not the
        // start of every word of every email and domain.
        if w.chars().count() >= 3 {
            any.push(boosted(term_query(f.prefixes, w), 1.0));
        }
        if fuzzy && fuzzy_word(w) {
            any.push(boosted(
                Box::new(FuzzyTermQuery::new_prefix(term(f.words, w), 1, true)),
                0.5,
            ));
        }
        if w.len() >= text::MIN_PHONE_DIGITS && w.chars().all(|c| c.is_ascii_digit()) {
            any.push(boosted(term_query(f.phone, w), 1.0));
        }
        must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    if !kinds.is_empty() {
        let of_kind = kinds
            .iter()
            .map(|k| (Occur::Should, term_query(f.kind, k)))
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(of_kind))));
    }
    if must.len() == 1
        && let Some((_, only)) = must.pop()
    {
        return only;
    }
    Box::new(BooleanQuery::new(must))
}

/// `q` kept to the records where every query word is a whole word, scored
/// as `q` alone scores them (the words' own clause counts nothing): the
/// matches a cap on scoring must not leave out (`search::capped`). None
/// for a query without words (a phone number).
pub fn whole_words(f: &Fields, p: &Parsed, q: Box<dyn Query>) -> Option<Box<dyn Query>> {
    if p.words.is_empty() {
        return None;
    }
    let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, q)];
    for w in &p.words {
        must.push((
            Occur::Must,
            Box::new(BoostQuery::new(term_query(f.words, w), 0.0)),
        ));
    }
    Some(Box::new(BooleanQuery::new(must)))
}

/// A stored value and the parts of it that matched, as [start, end) offsets
/// in UTF-16 code units (JavaScript string indices), for the UI to mark.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Snippet {
    pub text: String,
    pub ranges: Vec<[usize; 2]>,
}

/// The first candidate value in which query words (or the phone number)
/// appear, with those places marked.
pub fn snippet(candidates: &[String], p: &Parsed) -> Option<Snippet> {
    for c in candidates {
        if let Some(digits) = &p.phone {
            let trimmed = digits.trim_start_matches('0');
            let stored = text::digits(c);
            if stored.contains(digits.as_str()) || (!trimmed.is_empty() && stored.contains(trimmed))
            {
                return Some(Snippet {
                    text: c.clone(),
                    ranges: vec![[0, text::utf16_offset(c, c.len())]],
                });
            }
            continue;
        }
        let mut ranges = Vec::new();
        for w in text::words_with_offsets(c) {
            if let Some(q) = p.words.iter().find(|q| w.text.starts_with(q.as_str())) {
                // Mark as many original characters as the query word has, or
                // the whole word when folding changed its length.
                let original = &c[w.from..w.to];
                let end = if original.chars().count() == w.text.chars().count() {
                    w.from
                        + original
                            .char_indices()
                            .nth(q.chars().count())
                            .map(|(i, _)| i)
                            .unwrap_or(original.len())
                } else {
                    w.to
                };
                ranges.push([text::utf16_offset(c, w.from), text::utf16_offset(c, end)]);
            }
        }
        if !ranges.is_empty() {
            return Some(Snippet {
                text: c.clone(),
                ranges,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_typed_parses() {
        for q in [
            "",
            "   ",
            "a AND (b",
            "\"unclosed",
            "*:*",
            "🙂🙂",
            "\u{0}\u{7}x",
            "title:x OR",
        ] {
            assert!(parse(q).is_ok(), "{q:?}");
        }
        assert_eq!(
            parse("+1 (415) 555-0132")
                .ok()
                .and_then(|p| p.phone)
                .as_deref(),
            Some("14155550132")
        );
        assert_eq!(
            parse("José  Ál").map(|p| p.words).ok(),
            Some(vec!["jose".into(), "al".into()])
        );
        assert!(parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn snippets_mark_what_matched() {
        let p = parse("lov glo").expect("parse");
        let s = snippet(&["ada@globex.com".into()], &p).expect("snippet");
        assert_eq!(s.ranges, vec![[4, 7]]);
        let p = parse("jos").expect("parse");
        let s = snippet(&["nothing here".into(), "José Núñez".into()], &p).expect("snippet");
        assert_eq!(s.text, "José Núñez");
        assert_eq!(s.ranges, vec![[0, 3]]);
        let p = parse("415 555").expect("parse");
        assert!(snippet(&["+14155550132".into()], &p).is_some());
    }
}
