//! Reading a CSV file as people's spreadsheets and CRMs write it: the
//! encoding (UTF-8 with or without a byte-order mark, UTF-16 with one,
//! otherwise Windows-1252), the delimiter (comma, semicolon, tab, pipe),
//! then the header and rows. The upload is turned into UTF-8 once, so every
//! later read (preview, run, failed rows) parses one plain file.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::error::{AppError, AppResult};

/// How much of the file the encoding and delimiter are guessed from.
const SNIFF_BYTES: usize = 256 * 1024;
/// Rows kept as samples per column.
pub const SAMPLES: usize = 5;
/// The widest file accepted, in columns.
pub const MAX_COLUMNS: usize = 500;

fn io(e: std::io::Error) -> AppError {
    crate::crm::files::blobs::io(e)
}

/// The encoding of a file from its first bytes.
pub fn encoding(head: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(head) {
        return enc;
    }
    // Valid UTF-8 (a cut multi-byte character at the end aside) is UTF-8;
    // anything else from a spreadsheet is almost always Windows-1252.
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => WINDOWS_1252,
    }
}

/// The name an encoding is reported by.
pub fn encoding_name(enc: &'static Encoding) -> &'static str {
    if enc == UTF_16LE {
        "UTF-16LE"
    } else if enc == UTF_16BE {
        "UTF-16BE"
    } else {
        enc.name()
    }
}

/// Copies `from` into `to` as UTF-8 without a byte-order mark; answers the
/// encoding it was in.
pub fn to_utf8(from: &Path, to: &Path) -> AppResult<&'static Encoding> {
    let mut input = std::fs::File::open(from).map_err(io)?;
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut n = 0;
    while n < head.len() {
        let got = input.read(&mut head[n..]).map_err(io)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    head.truncate(n);
    let enc = encoding(&head);
    // The BOM is removed by the decoder; a UTF-8 one is skipped here too.
    let mut decoder = enc.new_decoder_with_bom_removal();
    let mut out =
        std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(to).map_err(io)?);
    let mut text = String::with_capacity(128 * 1024);
    let mut chunk = head;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let last = chunk.is_empty();
        let mut rest: &[u8] = &chunk;
        loop {
            text.clear();
            text.reserve(rest.len() * 3 + 16);
            let (result, read, _) = decoder.decode_to_string(rest, &mut text, last);
            out.write_all(text.as_bytes()).map_err(io)?;
            rest = &rest[read..];
            if matches!(result, encoding_rs::CoderResult::InputEmpty) {
                break;
            }
        }
        if last {
            break;
        }
        let got = input.read(&mut buf).map_err(io)?;
        chunk = buf[..got].to_vec();
    }
    out.flush().map_err(io)?;
    Ok(enc)
}

/// The delimiter of a UTF-8 CSV: of comma, semicolon, tab and pipe, the one
/// that splits the first rows into the same number (more than one) of
/// columns most consistently; a comma when nothing splits.
pub fn delimiter(head: &str) -> u8 {
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(d)
            .flexible(true)
            .has_headers(false)
            .from_reader(head.as_bytes());
        let widths: Vec<usize> = r
            .records()
            .take(30)
            .map_while(Result::ok)
            .map(|rec| rec.len())
            .collect();
        let Some(first) = widths.first().copied() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        // The last row read may be cut by the end of the sample.
        let consistent = widths.iter().filter(|w| **w == first).count();
        let score = consistent * 1000 + first;
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// A reader of the UTF-8 file with its delimiter; ragged rows are read as
/// they are (missing cells are empty, extra ones ignored by the mapping).
pub fn reader(path: &Path, delimiter: u8) -> AppResult<csv::Reader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(io)?;
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(file))
}

/// What the upload looks like: its header, a few sample rows, its row count.
pub struct Shape {
    pub delimiter: u8,
    pub headers: Vec<String>,
    pub samples: Vec<Vec<String>>,
    pub rows: i64,
}

/// Reads the whole UTF-8 file once: delimiter, header, samples, rows.
pub fn shape(path: &Path) -> AppResult<Shape> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    BufReader::new(std::fs::File::open(path).map_err(io)?)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let head = String::from_utf8_lossy(&head);
    let delimiter = delimiter(&head);
    let mut r = reader(path, delimiter)?;
    let headers: Vec<String> = r
        .headers()
        .map_err(bad_csv)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(AppError::field(
            "file",
            "the file is empty: the first row names the columns",
        ));
    }
    if headers.len() > MAX_COLUMNS {
        return Err(AppError::field(
            "file",
            format!("at most {MAX_COLUMNS} columns"),
        ));
    }
    let mut samples = Vec::new();
    let mut rows = 0i64;
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(bad_csv)? {
        if is_blank(&rec) {
            continue;
        }
        rows += 1;
        if samples.len() < SAMPLES {
            samples.push(rec.iter().map(str::to_string).collect());
        }
    }
    Ok(Shape {
        delimiter,
        headers,
        samples,
        rows,
    })
}

/// A row with nothing in it (spreadsheets leave them at the end).
pub fn is_blank(rec: &csv::StringRecord) -> bool {
    rec.iter().all(|c| c.trim().is_empty())
}

pub fn bad_csv(e: csv::Error) -> AppError {
    let at = e
        .position()
        .map(|p| format!(" (line {})", p.line()))
        .unwrap_or_default();
    AppError::field("file", format!("not a readable CSV file{at}"))
}

/// The first line of a file, for a quick look (vCard or CSV).
pub fn first_line(path: &Path) -> AppResult<String> {
    let mut line = String::new();
    BufReader::new(std::fs::File::open(path).map_err(io)?)
        .take(4096)
        .read_line(&mut line)
        .map_err(io)?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_apart() {
        assert_eq!(encoding(b"\xEF\xBB\xBFname"), UTF_8);
        assert_eq!(encoding(b"\xFF\xFEn\0"), UTF_16LE);
        assert_eq!(encoding(b"\xFE\xFF\0n"), UTF_16BE);
        assert_eq!(encoding("Zoë".as_bytes()), UTF_8);
        assert_eq!(encoding(b"Zo\xEB,Caf\xE9"), WINDOWS_1252);
    }

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(delimiter("a,b,c\n1,2,3\n"), b',');
        assert_eq!(delimiter("a;b;c\n1;\"2,5\";3\n"), b';');
        assert_eq!(delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(delimiter("a|b|c\n1|2|3\n"), b'|');
        assert_eq!(delimiter("just one column\n"), b',');
    }
}
