//! Rich text of notes and activities: the HTML a client sends, sanitized on
//! write against an explicit allow-list, with a plain-text copy for search
//! and previews, and the members it @mentions.
//!
//! The allow-list is ammonia's `Builder::empty()` plus what the composer
//! makes — paragraphs, headings, bold, italic, lists, links, quotes, code —
//! so nothing ammonia allows by default (relative URLs, images, tables)
//! slips through. No attribute but `href` on links and `data-member` on
//! mention spans survives: no `style`, no handlers, no `id`/`class` games.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};

/// The longest body accepted, in bytes of HTML as sent.
pub const MAX_HTML: usize = 100_000;

const TAGS: &[&str] = &[
    "p",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "code",
    "pre",
    "span",
];

static CLEANER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.tags(TAGS.iter().copied().collect::<HashSet<_>>())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("span", HashSet::from(["data-member"])),
        ]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        // Only absolute links: a relative one would point into Harmonia itself.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        // Whatever sits inside these is dropped with them, not shown as text.
        .clean_content_tags(HashSet::from(["script", "style"]));
    b
});

/// A body, sanitized: the HTML to keep, its text, the member ids mentioned.
#[derive(Debug, PartialEq)]
pub struct Rich {
    pub html: String,
    pub text: String,
    pub mentions: Vec<String>,
}

/// Sanitizes `html`. Mentions are `<span data-member="user id">@Name</span>`.
pub fn clean(html: &str) -> Rich {
    let html = CLEANER.clean(html).to_string();
    let text = plain(&html);
    let mentions = mentions(&html);
    Rich {
        html,
        text,
        mentions,
    }
}

/// The member ids in `data-member` attributes of sanitized HTML. ammonia
/// writes every attribute as `name="value"` with `"` escaped, so the value
/// ends at the next quote.
fn mentions(html: &str) -> Vec<String> {
    const ATTR: &str = "data-member=\"";
    let mut out: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(pos) = rest.find(ATTR) {
        rest = &rest[pos + ATTR.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && id.len() <= 64 && !out.iter().any(|m| m == id) {
            out.push(id.to_string());
        }
        rest = &rest[end..];
    }
    out
}

/// Text of sanitized HTML: tags dropped (block ends become line breaks),
/// the entities ammonia writes decoded, runs of blank lines folded.
pub fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        if c == '<' {
            let mut tag = String::new();
            for t in chars.by_ref() {
                if t == '>' {
                    break;
                }
                tag.push(t);
            }
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if matches!(
                name.as_str(),
                "p" | "br" | "h1" | "h2" | "h3" | "h4" | "li" | "blockquote" | "pre"
            ) && !out.ends_with('\n')
                && !out.is_empty()
            {
                out.push('\n');
            }
        } else if c == '&' {
            let mut ent = String::new();
            for t in chars.by_ref() {
                if t == ';' || ent.len() > 8 {
                    break;
                }
                ent.push(t);
            }
            out.push_str(match ent.as_str() {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "#39" | "apos" => "'",
                "nbsp" => " ",
                _ => "",
            });
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// The first line of a text, at most `max` characters, for previews.
pub fn preview(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut s: String = line.chars().take(max).collect();
    if line.chars().count() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_composer_s_formatting() {
        let r = clean(
            "<h2>Plan</h2><p><strong>Bold</strong> and <em>it</em></p><ul><li>one</li></ul>\
             <blockquote>q</blockquote><pre><code>x</code></pre>",
        );
        assert_eq!(
            r.html,
            "<h2>Plan</h2><p><strong>Bold</strong> and <em>it</em></p><ul><li>one</li></ul>\
             <blockquote>q</blockquote><pre><code>x</code></pre>"
        );
        assert_eq!(r.text, "Plan\nBold and it\none\nq\nx");
    }

    #[test]
    fn links_are_absolute_and_get_rel() {
        let r = clean(r#"<a href="https://example.com/a?b=1&amp;c=2" target="_blank">x</a>"#);
        assert_eq!(
            r.html,
            r#"<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">x</a>"#
        );
        assert_eq!(
            clean(r#"<a href="/admin">x</a>"#).html,
            "<a rel=\"noopener noreferrer\">x</a>"
        );
    }

    #[test]
    fn mentions_are_read_from_spans() {
        let r = clean(
            r#"<p>Hi <span data-member="u1" class="x" onclick="y">@Ann</span> and <span data-member="u2">@Bo</span> <span data-member="u1">@Ann</span></p>"#,
        );
        assert_eq!(r.mentions, vec!["u1".to_string(), "u2".to_string()]);
        assert!(!r.html.contains("onclick") && !r.html.contains("class"));
    }

    #[test]
    fn script_content_is_dropped_not_shown() {
        let r = clean("<p>a</p><script>alert(1)</script><style>p{}</style>");
        assert_eq!(r.html, "<p>a</p>");
        assert_eq!(r.text, "a");
    }

    #[test]
    fn preview_takes_the_first_line() {
        assert_eq!(preview("\nhello world\nmore", 5), "hello…");
    }
}
