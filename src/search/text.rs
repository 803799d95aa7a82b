//! How text becomes search terms, the same way for documents and queries:
//! words are split on anything not a letter or digit, lower-cased and folded
//! to ASCII (`José` → `jose`). Prefix and phone terms are computed here at
//! index time, so a query for a prefix is one term lookup, not an expansion.

use std::cell::RefCell;
use std::collections::BTreeSet;

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};

/// Longest prefix indexed; longer query words still match through `words`.
pub const MAX_PREFIX: usize = 15;
/// Digits before a phone number can be matched as you type.
pub const MIN_PHONE_DIGITS: usize = 3;

thread_local! {
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
}

/// A normalized word and where it stands in the original text (bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub from: usize,
    pub to: usize,
}

pub fn words_with_offsets(text: &str) -> Vec<Word> {
    ANALYZER.with(|a| {
        let mut a = a.borrow_mut();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push(Word {
                text: t.text.clone(),
                from: t.offset_from,
                to: t.offset_to,
            });
        }
        out
    })
}

pub fn words(text: &str) -> Vec<String> {
    words_with_offsets(text)
        .into_iter()
        .map(|w| w.text)
        .collect()
}

/// `jose` → `j jo jos jose`, borrowed from the word (a document has a
/// hundred or more of them: a string each was a tenth of its indexing).
pub fn prefixes_of<'a>(word: &'a str, into: &mut BTreeSet<&'a str>) {
    let mut end = 0;
    for (n, c) in word.chars().enumerate() {
        if n >= MAX_PREFIX {
            break;
        }
        end += c.len_utf8();
        into.insert(&word[..end]);
    }
}

pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Terms that let a stored E.164 number be found however it is typed: with
/// its country code (`+1 415…`, `1415…`), without it (`(415) 555-…`, any of
/// the 1–3 digit codes), or by its last digits (`555-0132`, `0132`).
/// `d` is the number's digits (`digits`); the terms are borrowed from it.
pub fn phone_terms<'a>(d: &'a str, into: &mut BTreeSet<&'a str>) {
    let starts = [0usize, 1, 2, 3];
    for start in starts {
        if start >= d.len() {
            break;
        }
        let rest = &d[start..];
        for end in MIN_PHONE_DIGITS..=rest.len() {
            into.insert(&rest[..end]);
        }
    }
    for start in 0..d.len() {
        if d.len() - start >= 4 {
            into.insert(&d[start..]);
        }
    }
}

/// Whether a query reads as a phone number: only digits and the punctuation
/// people write numbers with, and enough digits to mean something.
pub fn looks_like_phone(q: &str) -> bool {
    q.chars()
        .all(|c| c.is_ascii_digit() || " +()-./".contains(c))
        && digits(q).len() >= MIN_PHONE_DIGITS
}

/// Byte offset → UTF-16 offset (what JavaScript string indices count).
pub fn utf16_offset(s: &str, byte: usize) -> usize {
    s[..byte.min(s.len())].encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_split() {
        assert_eq!(words("José Álvarez-Núñez"), ["jose", "alvarez", "nunez"]);
        assert_eq!(
            words("ada.lovelace@Example.com"),
            ["ada", "lovelace", "example", "com"]
        );
        assert_eq!(words("🙂 !!"), Vec::<String>::new());
    }

    #[test]
    fn prefixes_and_phones() {
        let mut p = BTreeSet::new();
        prefixes_of("jose", &mut p);
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            ["j", "jo", "jos", "jose"]
        );
        let mut t = BTreeSet::new();
        let d = digits("+14155550132");
        phone_terms(&d, &mut t);
        for want in ["141", "14155550132", "415", "4155550132", "5550132", "0132"] {
            assert!(t.contains(want), "{want}");
        }
        assert!(!t.contains("55501"), "middle fragments are not terms");
        assert!(looks_like_phone("+1 (415) 555-0132"));
        assert!(!looks_like_phone("ada 415"));
        assert!(!looks_like_phone("12"));
    }

    #[test]
    fn offsets_count_utf16_units() {
        assert_eq!(utf16_offset("é🙂a", "é🙂".len()), 3);
    }
}
