//! File names as people gave them, made safe to store and to hand back in a
//! `Content-Disposition` header (RFC 6266 with an RFC 8187 UTF-8 name).

/// The longest name kept, in bytes (common file systems' limit).
pub const MAX_NAME_BYTES: usize = 255;

/// Characters that change how text around them is shown or read: bidi
/// controls (`invoice<U+202E>fdp.exe` shows as `invoiceexe.pdf`), zero-width marks.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A safe name: the last path component only, no control or bidi
/// characters, no leading dots, at most 255 bytes with its extension
/// kept; `None` when nothing is left.
pub fn clean(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut s: String = last
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .collect();
    s = s.trim().trim_start_matches('.').trim().to_string();
    if s.is_empty() {
        return None;
    }
    if s.len() > MAX_NAME_BYTES {
        let ext = s
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| !e.is_empty() && e.len() <= 16)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let mut stem = s[..s.len() - ext.len()].to_string();
        while stem.len() + ext.len() > MAX_NAME_BYTES {
            stem.pop();
        }
        s = format!("{}{ext}", stem.trim_end());
    }
    Some(s)
}

/// `attachment` or `inline`, with an ASCII fallback name and the exact
/// UTF-8 one.
pub fn disposition(kind: &str, name: &str) -> String {
    let name = clean(name).unwrap_or_else(|| "file".to_string());
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(clean("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(clean("..\\..\\boot.ini").as_deref(), Some("boot.ini"));
        assert_eq!(clean("a\0b\r\nc.txt").as_deref(), Some("abc.txt"));
        assert_eq!(
            clean("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(clean("...").as_deref(), None);
        assert_eq!(clean("  ").as_deref(), None);
        let long = format!("{}.pdf", "é".repeat(1000));
        let c = clean(&long).expect("name");
        assert!(c.len() <= MAX_NAME_BYTES && c.ends_with(".pdf"), "{c}");
    }

    #[test]
    fn disposition_quotes_nothing_dangerous() {
        let d = disposition("attachment", "say \"hi\"; x=1 \u{e9}.txt");
        assert_eq!(
            d,
            "attachment; filename=\"say _hi__ x=1 _.txt\"; filename*=UTF-8''say%20%22hi%22%3B%20x%3D1%20%C3%A9.txt"
        );
    }
}
