//! Thumbnails of images (PNG, JPEG, WebP, GIF), made in the background
//! after an upload and by the files job for any left over. A thumbnail is a
//! new image re-encoded from pixels only, so EXIF (GPS, camera, …) never
//! reaches it; the image is turned upright first. Images larger than the
//! dimension and memory limits are refused before decoding, so a
//! decompression bomb costs nothing.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use rusqlite::{Connection, params};

use super::blobs::Store;
use crate::error::{AppError, AppResult};

/// Longest side of a thumbnail, in pixels.
pub const SIZE: u32 = 320;
/// Images wider or taller than this are not decoded.
pub const MAX_SIDE: u32 = 12_000;
/// Memory the decoder may use for one image.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Types a thumbnail is made for.
pub fn is_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/webp" | "image/gif"
    )
}

pub struct Made {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// The original's size, upright.
    pub width: u32,
    pub height: u32,
}

pub fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// A thumbnail of the image at `path`, or an error when it is not an image
/// this server decodes, is damaged or exceeds the limits.
pub fn make(path: &Path) -> anyhow::Result<Made> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let small = img.thumbnail(SIZE, SIZE);
    drop(img);
    let mut bytes = Vec::new();
    let content_type = if small.color().has_alpha() {
        small.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)?;
        "image/png"
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 82).encode_image(&rgb)?;
        "image/jpeg"
    };
    Ok(Made {
        content_type,
        bytes,
        width,
        height,
    })
}

/// Blobs of images still without a thumbnail (oldest first).
pub fn pending(conn: &Connection, limit: usize) -> AppResult<Vec<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT sha256, content_type FROM file_blobs WHERE thumb IS NULL ORDER BY created_at LIMIT ?1",
        )?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// Makes the thumbnail of one blob (off the async runtime) and records it:
/// its type and the image's size, or '' when none can be made.
pub async fn make_for(
    db: &std::sync::Arc<crate::db::Db>,
    store: &Store,
    sha: &str,
    content_type: &str,
) -> AppResult<()> {
    let (src, out) = (store.blob(sha), store.thumb(sha));
    let image = is_image(content_type);
    let made = crate::db::off_runtime(move || {
        if !image {
            return Ok(None);
        }
        match make(&src) {
            Ok(m) => {
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir).map_err(super::blobs::io)?;
                }
                let tmp = out.with_extension("part");
                std::fs::write(&tmp, &m.bytes).map_err(super::blobs::io)?;
                std::fs::rename(&tmp, &out).map_err(super::blobs::io)?;
                Ok(Some(m))
            }
            Err(e) => {
                tracing::info!(error = %e, "no thumbnail for an image");
                Ok(None)
            }
        }
    })
    .await?;
    let sha = sha.to_string();
    db.write(move |tx| {
        let (t, w, h) = match &made {
            Some(m) => (m.content_type, Some(m.width), Some(m.height)),
            None => ("", None, None),
        };
        tx.prepare_cached(
            "UPDATE file_blobs SET thumb = ?2, width = ?3, height = ?4 WHERE sha256 = ?1 AND thumb IS NULL",
        )?
        .execute(params![sha, t, w, h])
        .map_err(AppError::from)?;
        Ok(())
    })
    .await
}
