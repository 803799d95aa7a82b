//! Contact photos from vCard files. A card's inline `PHOTO` — vCard 3.0
//! `ENCODING=b` base64, or a 4.0 `data:` URI — is checked when the file is
//! uploaded (an image: JPEG, PNG, GIF or WebP, by its bytes; at most
//! `MAX_PHOTO`) and kept beside the import's CSV as `<sha256>.<ext>`; the
//! card's row names it in the `vCard photo` column, or says why it was left
//! out. A photo by URL is never fetched (it would be a request to any host
//! the file names). When the row creates or updates its contact, the photo
//! becomes a file attached to it through the files module (content-
//! addressed, within the organization's quota), and the import's undo puts
//! that file in the trash with the contact.

use std::path::{Path, PathBuf};

use base64::Engine;
use calcard::vcard::{VCard, VCardProperty, VCardValue};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::crm::files::{self, blobs};
use crate::error::AppResult;

/// The largest photo taken; a larger one is left out, the card comes in.
pub const MAX_PHOTO: usize = 5 * 1024 * 1024;
/// What a cell of the photo column says when the photo was left out.
const LEFT_OUT: &str = "left out: ";

/// Where an import keeps its cards' photos.
pub fn dir(imports_dir: &Path, import_id: &str) -> PathBuf {
    imports_dir.join(format!("{import_id}.photos"))
}

/// A card's photo, as found in the file.
enum Found {
    None,
    /// By URL: not fetched.
    Remote,
    Bytes(Vec<u8>),
    /// Inline but too large to decode.
    TooLarge,
}

fn decode(b64: &str) -> Found {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    if clean.len() / 4 * 3 > MAX_PHOTO + 3 {
        return Found::TooLarge;
    }
    // Padding or none: address books write both.
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    match engine.decode(&clean) {
        Ok(bytes) => Found::Bytes(bytes),
        // Not base64 at all: certainly no image.
        Err(_) => Found::Bytes(clean.into_bytes()),
    }
}

fn found_in(value: &VCardValue) -> Found {
    match value {
        VCardValue::Binary(d) => Found::Bytes(d.data.clone()),
        VCardValue::Text(t) => {
            let t = t.trim();
            let lower = t.get(..8).unwrap_or(t).to_ascii_lowercase();
            if lower.starts_with("data:") {
                // data:[<media type>][;base64],<data>
                match t.split_once(',') {
                    Some((head, data)) if head.to_ascii_lowercase().contains(";base64") => {
                        decode(data)
                    }
                    _ => Found::Bytes(Vec::new()),
                }
            } else if t.is_empty() {
                Found::None
            } else if t.contains("://") || lower.starts_with("cid:") || lower.starts_with("uri:") {
                Found::Remote
            } else {
                // 3.0 base64 a parser handed back as text.
                decode(t)
            }
        }
        _ => Found::None,
    }
}

fn extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// The cell of a card's photo: empty (none, or only by URL), the name of
/// the photo kept in `dir`, or why it was left out.
pub fn from_card(card: &VCard, dir: &Path) -> AppResult<String> {
    let mut found = Found::None;
    for entry in card.properties(&VCardProperty::Photo) {
        for v in &entry.values {
            match found_in(v) {
                Found::None | Found::Remote => {}
                inline => {
                    found = inline;
                    break;
                }
            }
        }
        if !matches!(found, Found::None) {
            break;
        }
    }
    let bytes = match found {
        Found::None | Found::Remote => return Ok(String::new()),
        Found::TooLarge => return Ok(format!("{LEFT_OUT}the photo is larger than 5 MiB")),
        Found::Bytes(b) if b.len() > MAX_PHOTO => {
            return Ok(format!("{LEFT_OUT}the photo is larger than 5 MiB"));
        }
        Found::Bytes(b) => b,
    };
    let head = &bytes[..bytes.len().min(8192)];
    let Some(ext) = extension(blobs::sniff(head)) else {
        return Ok(format!(
            "{LEFT_OUT}the photo is not a JPEG, PNG, GIF or WebP image"
        ));
    };
    let name = format!("{}.{ext}", hex::encode(Sha256::digest(&bytes)));
    let path = dir.join(&name);
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(blobs::io)?;
        std::fs::write(&path, &bytes).map_err(blobs::io)?;
    }
    Ok(name)
}

/// What a row's photo cell asks for.
pub enum Cell {
    /// A photo kept with the import: `<sha256>.<ext>`.
    Photo { sha: String, ext: String },
    /// Why it is left out.
    LeftOut(String),
}

/// Reads a photo cell; only names this module wrote pass, so a cell can
/// never point outside the import's photos.
pub fn cell(v: &str) -> Cell {
    if let Some(why) = v.strip_prefix(LEFT_OUT) {
        return Cell::LeftOut(why.to_string());
    }
    match v.split_once('.') {
        Some((sha, ext))
            if sha.len() == 64
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && ["jpg", "png", "gif", "webp"].contains(&ext) =>
        {
            Cell::Photo {
                sha: sha.to_string(),
                ext: ext.to_string(),
            }
        }
        _ => Cell::LeftOut("not a photo from this vCard file".into()),
    }
}

/// Where an import's photos are and where they go.
pub struct Photos {
    pub dir: PathBuf,
    pub store: blobs::Store,
    /// The organization's file quota, in bytes.
    pub quota: i64,
}

/// Attaches the photo `sha.ext` to contact `contact_id` (in the row's
/// transaction): Ok(Ok(Some(file id))) when attached, Ok(Ok(None)) when the
/// contact has it already, Ok(Err(why)) when it is left out.
pub fn attach(
    tx: &Connection,
    photos: Option<&Photos>,
    (sha, ext): (&str, &str),
    contact_id: &str,
    actor: &str,
) -> AppResult<Result<Option<String>, String>> {
    let Some(p) = photos else {
        return Ok(Err("photos come only with a vCard file".into()));
    };
    let from = p.dir.join(format!("{sha}.{ext}"));
    let Ok(meta) = std::fs::metadata(&from) else {
        return Ok(Err("not a photo from this vCard file".into()));
    };
    if files::has_content(tx, "contact", contact_id, sha)? {
        return Ok(Ok(None));
    }
    let is_new = !files::blob_exists(tx, sha)?;
    if is_new {
        if files::usage(tx)?.saturating_add(meta.len() as i64) > p.quota {
            return Ok(Err("the organization's file storage is full".into()));
        }
        place(&p.store, &from, sha)?;
    }
    let content_type = match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        _ => "image/webp",
    };
    let id = crate::clock::new_id();
    files::insert(
        tx,
        &files::NewFile {
            id: &id,
            name: &format!("photo.{ext}"),
            blob: &blobs::Finished {
                sha256: sha.to_string(),
                size: meta.len(),
                content_type: content_type.to_string(),
            },
            targets: &[files::Target {
                kind: "contact".into(),
                id: contact_id.to_string(),
            }],
            actor,
        },
        is_new,
    )?;
    Ok(Ok(Some(id)))
}

/// Puts the photo into the content-addressed store: a hard link (the
/// import keeps its copy for a run again after a cancel), or a copy across
/// file systems. Should the transaction roll back, the blob without a row
/// is removed by the files upkeep job, as an interrupted upload's is.
fn place(store: &blobs::Store, from: &Path, sha: &str) -> AppResult<()> {
    let to = store.blob(sha);
    if to.exists() {
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(blobs::io)?;
    }
    if std::fs::hard_link(from, &to).is_err() {
        std::fs::copy(from, &to).map_err(blobs::io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_name_only_photos_of_the_import() {
        let sha = "a".repeat(64);
        assert!(matches!(cell(&format!("{sha}.jpg")), Cell::Photo { .. }));
        for bad in [
            format!("{sha}.svg"),
            format!("../{sha}.jpg"),
            "A".repeat(64) + ".jpg",
            "photo.jpg".to_string(),
            String::new(),
        ] {
            assert!(matches!(cell(&bad), Cell::LeftOut(_)), "{bad}");
        }
        match cell("left out: the photo is larger than 5 MiB") {
            Cell::LeftOut(why) => assert_eq!(why, "the photo is larger than 5 MiB"),
            Cell::Photo { .. } => panic!("a reason is no photo"),
        }
    }

    #[test]
    fn urls_are_not_photos_and_data_uris_are() {
        assert!(matches!(
            found_in(&VCardValue::Text("https://example.com/a.jpg".into())),
            Found::Remote
        ));
        match found_in(&VCardValue::Text(
            "data:image/png;base64,iVBORw0KGgo=".into(),
        )) {
            Found::Bytes(b) => assert_eq!(&b[..4], b"\x89PNG"),
            _ => panic!("a data: URI is inline"),
        }
        let huge = "A".repeat(MAX_PHOTO * 2);
        assert!(matches!(
            found_in(&VCardValue::Text(format!("data:image/jpeg;base64,{huge}"))),
            Found::TooLarge
        ));
    }
}
