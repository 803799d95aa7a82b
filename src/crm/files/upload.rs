//! Receiving an upload: `multipart/form-data` read part by part, the file's
//! bytes streamed into a temporary file while hashed (memory stays flat
//! whatever the size), the limits checked as the bytes come.

use std::time::Duration;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};

use super::blobs::{Finished, Store, Upload};
use super::{Target, names};
use crate::error::{AppError, AppResult};

/// The most a file over the limit is read past it, so the client hears the
/// 413 instead of a reset connection; beyond that the connection is dropped.
const DRAIN: u64 = 64 * 1024 * 1024;
/// Text parts (`record`, `name`) longer than this are refused.
const MAX_TEXT: usize = 2048;

/// What a client sent.
pub struct Received {
    pub upload: Upload,
    pub blob: Finished,
    pub name: String,
    pub targets: Vec<Target>,
}

fn bad(e: MultipartError) -> AppError {
    AppError::BadRequest(format!(
        "the multipart body could not be read: {}",
        e.body_text()
    ))
}

/// Each read waits at most `idle` for the client; a stalled upload ends in 408.
async fn next<T>(
    idle: Duration,
    f: impl std::future::Future<Output = Result<T, MultipartError>>,
) -> AppResult<T> {
    match tokio::time::timeout(idle, f).await {
        Ok(r) => r.map_err(bad),
        Err(_) => Err(AppError::Timeout),
    }
}

async fn text(idle: Duration, field: &mut Field<'_>, name: &str) -> AppResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = next(idle, field.chunk()).await? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_TEXT {
            return Err(AppError::field(name, format!("at most {MAX_TEXT} bytes")));
        }
    }
    String::from_utf8(buf).map_err(|_| AppError::field(name, "not UTF-8 text"))
}

/// Reads the whole form: one `file` part, any `record` parts (`kind:id`),
/// an optional `name` (else the file part's own file name).
pub async fn receive(
    mut form: Multipart,
    store: &Store,
    max_bytes: u64,
    idle: Duration,
) -> AppResult<Received> {
    let mut file: Option<(Upload, Option<String>)> = None;
    let mut name = None;
    let mut targets: Vec<Target> = Vec::new();
    let mut over = false;
    let mut drained: u64 = 0;
    while let Some(mut field) = next(idle, form.next_field()).await? {
        match field.name().unwrap_or("") {
            "file" => {
                if file.is_some() || over {
                    return Err(AppError::field("file", "send one file per request"));
                }
                let given = field.file_name().map(str::to_string);
                let mut upload = store.temp()?;
                while let Some(chunk) = next(idle, field.chunk()).await? {
                    if over {
                        drained += chunk.len() as u64;
                        if drained > DRAIN {
                            break;
                        }
                        continue;
                    }
                    if upload.size + chunk.len() as u64 > max_bytes {
                        // Nothing of it is kept; the rest is read and dropped.
                        over = true;
                        continue;
                    }
                    upload.write(&chunk)?;
                }
                if over {
                    drop(upload);
                    if drained > DRAIN {
                        break;
                    }
                } else {
                    file = Some((upload, given));
                }
            }
            "record" => {
                let t = Target::parse("record", text(idle, &mut field, "record").await?.trim())?;
                if targets.len() >= super::MAX_LINKS {
                    return Err(AppError::field(
                        "record",
                        format!("attach a file to at most {} records", super::MAX_LINKS),
                    ));
                }
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
            "name" => name = Some(text(idle, &mut field, "name").await?),
            other => {
                return Err(AppError::field(
                    other.chars().take(64).collect::<String>(),
                    "unknown part: send file, record and name",
                ));
            }
        }
    }
    if over {
        return Err(AppError::TooLargeBecause(format!(
            "a file may be at most {} MiB",
            max_bytes / (1024 * 1024)
        )));
    }
    let Some((mut upload, given)) = file else {
        return Err(AppError::field("file", "required: the file's content"));
    };
    let name = match name {
        Some(n) => {
            names::clean(&n).ok_or_else(|| AppError::field("name", "a file needs a name"))?
        }
        None => given
            .as_deref()
            .and_then(names::clean)
            .unwrap_or_else(|| "file".to_string()),
    };
    let sync = store.sync;
    let (upload, blob) = crate::db::off_runtime(move || {
        let blob = upload.finish(sync)?;
        Ok((upload, blob))
    })
    .await?;
    Ok(Received {
        upload,
        blob,
        name,
        targets,
    })
}
