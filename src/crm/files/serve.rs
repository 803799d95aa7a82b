//! Serving stored content so that nothing in it can run: the type is the
//! one sniffed at upload (and only a few types are served as themselves),
//! `attachment` unless an image or PDF is asked for inline, always `nosniff`
//! and a sandboxing CSP; strong ETags (the SHA-256) and byte ranges.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::names;
use crate::error::{AppError, AppResult};

/// Every stored file is served under this policy: a sandbox (no scripts, no
/// same-origin, no forms, no plugins) and nothing loaded from anywhere.
pub const CSP: &str = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'";

/// Types shown in the browser when asked for inline: raster images and PDF.
/// SVG, HTML and everything else are only ever downloaded.
pub fn inline_ok(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf"
    )
}

/// The type a sniffed type is served as: itself for a few harmless types,
/// `application/octet-stream` for the rest.
pub fn served_type(sniffed: &str) -> &'static str {
    match sniffed {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "application/pdf" => "application/pdf",
        "text/plain" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What to send.
pub struct Content {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub sniffed: String,
    pub name: String,
    pub inline: bool,
}

/// A range no byte of the content is in.
#[derive(Debug, PartialEq)]
pub struct Unsatisfiable;

/// A byte range asked for: None to send everything (no header, several
/// ranges, or one this server does not read), Err when it cannot be met.
pub fn parse_range(h: &str, size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(Unsatisfiable);
        }
        return Ok(Some((size.saturating_sub(n), size - 1)));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(Unsatisfiable);
    }
    Ok(Some((start, end.min(size - 1))))
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

fn set(h: &mut HeaderMap, name: header::HeaderName, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(name, v);
    }
}

/// The response for `content` given the request's headers.
pub async fn respond(req: &HeaderMap, c: Content) -> AppResult<Response> {
    let etag = format!("\"{}\"", c.sha256);
    let inline = c.inline && inline_ok(&c.sniffed);
    let mut headers = HeaderMap::new();
    set(&mut headers, header::ETAG, &etag);
    set(&mut headers, header::ACCEPT_RANGES, "bytes");
    set(&mut headers, header::CONTENT_TYPE, served_type(&c.sniffed));
    set(
        &mut headers,
        header::CONTENT_DISPOSITION,
        &names::disposition(if inline { "inline" } else { "attachment" }, &c.name),
    );
    set(&mut headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(&mut headers, header::CACHE_CONTROL, "private, no-cache");
    set(
        &mut headers,
        "cross-origin-resource-policy"
            .parse()
            .map_err(|_| AppError::NotFound)?,
        "same-origin",
    );
    if inline {
        // The record page previews it in a frame of its own origin.
        set(&mut headers, header::X_FRAME_OPTIONS, "SAMEORIGIN");
    }
    let header_str = |n: header::HeaderName| req.get(n).and_then(|v| v.to_str().ok());
    if let Some(list) = header_str(header::IF_NONE_MATCH)
        && etag_matches(list, &etag)
    {
        return Ok(build(StatusCode::NOT_MODIFIED, headers, Body::empty()));
    }
    let wanted = match header_str(header::RANGE) {
        // A range applies only to the content the client already has part of.
        Some(r) if header_str(header::IF_RANGE).is_none_or(|v| v.trim() == etag) => {
            parse_range(r, c.size)
        }
        _ => Ok(None),
    };
    let (status, start, len) = match wanted {
        Err(Unsatisfiable) => {
            set(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{}", c.size),
            );
            let mut r = AppError::RangeNotSatisfiable.into_response();
            for (k, v) in headers.iter() {
                if k == header::CONTENT_RANGE || k == header::ETAG {
                    r.headers_mut().insert(k.clone(), v.clone());
                }
            }
            return Ok(r);
        }
        Ok(None) => (StatusCode::OK, 0, c.size),
        Ok(Some((a, b))) => {
            set(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {a}-{b}/{}", c.size),
            );
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    let mut file = tokio::fs::File::open(&c.path)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blob {} missing: {e}", c.sha256)))?;
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(super::blobs::io)?;
    }
    set(&mut headers, header::CONTENT_LENGTH, &len.to_string());
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 * 1024);
    Ok(build(status, headers, Body::from_stream(stream)))
}

fn build(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

#[cfg(test)]
mod tests {
    use super::{Unsatisfiable, parse_range};

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some((0, 99))));
        assert_eq!(parse_range("bytes=50-1000", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("bytes=9-1", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=0-", 0), Err(Unsatisfiable));
    }
}
