//! The import routes under `/orgs/{org}/imports` (admin+): upload, list,
//! look, set the mapping and dedupe rule, preview, run, cancel, undo, and
//! the failed rows as CSV.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::run::{self, RowResult, Rows};
use super::store::{self, Counts, Failure, Stored};
use super::targets::{self, Target};
use super::undo::{self, UndoReport};
use super::{Dedupe, JOB, check_kind, photos, sniff, vcf};
use crate::audit;
use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::custom::{self, CustomField};
use crate::state::AppState;

/// The largest file an import takes.
pub const MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Failed rows listed with an import (all of them are in `failed.csv`).
const FAILURES_SHOWN: i64 = 100;
/// The most a file over the limit is read past it, so the client hears the
/// 413 rather than a reset connection.
const DRAIN: u64 = 64 * 1024 * 1024;

/// The upload form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The CSV file (UTF-8 with or without BOM, UTF-16 with BOM, or Windows-1252).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `contact`, `company` or `deal`.
    kind: String,
}

/// A column of the file.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ImportColumn)]
pub struct Column {
    pub index: usize,
    pub header: String,
    /// The first rows' values.
    pub samples: Vec<String>,
    /// The field its header or values suggest, if any.
    pub suggested: Option<String>,
}

/// Progress while it runs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub rows_done: i64,
    pub rows_total: i64,
    pub rows_per_second: Option<f64>,
    pub seconds_left: Option<i64>,
}

/// An import: its file, settings, progress and report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Import {
    pub id: String,
    pub kind: String,
    /// `csv`, or `vcard` (a vCard file, read as a CSV of its cards).
    pub format: String,
    pub file_name: String,
    /// `uploaded`, `queued`, `running`, `done`, `failed`, `cancelled` or `undone`.
    pub state: String,
    /// The encoding detected: `UTF-8`, `UTF-16LE`, `UTF-16BE` or `windows-1252`.
    pub encoding: String,
    /// The delimiter detected: `,`, `;`, tab or `|`.
    pub delimiter: String,
    pub headers: Vec<String>,
    /// Data rows in the file (blank lines are not rows).
    pub row_count: i64,
    /// Columns with sample values and suggestions (on a single import only).
    pub columns: Option<Vec<Column>>,
    /// The field each column fills (null: not imported), by column.
    pub mapping: Vec<Option<String>>,
    /// True once the mapping was saved (PATCH); new files with the same
    /// columns start from the last saved one.
    pub mapping_saved: bool,
    pub dedupe: Dedupe,
    /// The fields a column can fill (on a single import only).
    pub targets: Option<Vec<Target>>,
    pub progress: Progress,
    pub report: Counts,
    /// The first failed rows and why (all of them: `failed.csv`).
    pub failures: Option<Vec<Failure>>,
    /// The first rows with a warning, and what: imported with a part left
    /// out (a vCard photo too large or not an image), or skipped because the
    /// matching record is restricted by a privacy request.
    pub warnings: Option<Vec<Failure>>,
    pub error: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Until when it can be undone; null if it cannot (any more).
    pub undo_until: Option<String>,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
    /// What the undo did.
    #[schema(value_type = Option<UndoReport>)]
    pub undo: Option<serde_json::Value>,
}

fn progress(i: &Stored) -> Progress {
    let done = i.counts.rows_done;
    let rate = i.started_at.as_deref().and_then(|s| {
        let start =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        let end = i
            .finished_at
            .as_deref()
            .and_then(|f| {
                time::OffsetDateTime::parse(f, &time::format_description::well_known::Rfc3339).ok()
            })
            .unwrap_or_else(clock::now);
        let secs = (end - start).as_seconds_f64();
        (secs > 0.0 && done > 0).then(|| (done as f64 / secs * 10.0).round() / 10.0)
    });
    let left = (i.row_count - done).max(0);
    Progress {
        rows_done: done,
        rows_total: i.row_count,
        rows_per_second: rate,
        seconds_left: match i.state.as_str() {
            "running" | "queued" => rate
                .filter(|r| *r > 0.0)
                .map(|r| (left as f64 / r).ceil() as i64),
            _ => None,
        },
    }
}

fn view(i: Stored) -> Import {
    let undo_until = store::undoable(&i).then(|| {
        i.finished_at.as_deref().and_then(|f| {
            time::OffsetDateTime::parse(f, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| clock::stamp(t + time::Duration::days(super::UNDO_DAYS)))
        })
    });
    Import {
        progress: progress(&i),
        id: i.id,
        kind: i.kind,
        format: i.format,
        file_name: i.file_name,
        state: i.state,
        encoding: i.encoding,
        delimiter: i.delimiter,
        headers: i.headers,
        row_count: i.row_count,
        columns: None,
        mapping: i.mapping,
        mapping_saved: i.mapping_set,
        dedupe: i.dedupe,
        targets: None,
        report: i.counts,
        failures: None,
        warnings: None,
        error: i.error,
        created_at: i.created_at,
        created_by: i.created_by,
        started_at: i.started_at,
        finished_at: i.finished_at,
        undo_until: undo_until.flatten(),
        undone_at: i.undone_at,
        undone_by: i.undone_by,
        undo: i.undo_report,
    }
}

fn file_of(state: &AppState, org_id: &str, id: &str) -> PathBuf {
    run::file(&state.tenants.dir(org_id), id)
}

/// The first rows of the file, as text.
fn samples(path: &FsPath, delimiter: &str) -> AppResult<Vec<Vec<String>>> {
    let mut rows = Rows::open(path, delimiter, 0)?;
    Ok(rows
        .take(sniff::SAMPLES)?
        .into_iter()
        .map(|(_, r)| r.iter().map(str::to_string).collect())
        .collect())
}

/// An import with everything the mapping screen needs.
async fn full(state: &AppState, access: &OrgAccess, id: String) -> AppResult<Import> {
    let (i, fields, failures) = access
        .tenant
        .db
        .read(move |c| {
            let i = store::get(c, &id)?.ok_or(AppError::NotFound)?;
            let fields = custom::of_kind(c, &i.kind)?;
            let failures = store::failures(c, &i.id, FAILURES_SHOWN)?;
            let warnings = store::warnings(c, &i.id, FAILURES_SHOWN)?;
            Ok((i, fields, (failures, warnings)))
        })
        .await?;
    let (failures, warnings) = failures;
    let path = file_of(state, &access.org.id, &i.id);
    let delimiter = i.delimiter.clone();
    let rows = crate::db::off_runtime(move || {
        if path.exists() {
            samples(&path, &delimiter)
        } else {
            Ok(Vec::new())
        }
    })
    .await?;
    let suggested = targets::suggest(&i.kind, &fields, &i.headers, &rows);
    let columns = i
        .headers
        .iter()
        .enumerate()
        .map(|(n, h)| Column {
            index: n,
            header: h.clone(),
            samples: rows.iter().filter_map(|r| r.get(n).cloned()).collect(),
            suggested: suggested.get(n).cloned().flatten(),
        })
        .collect();
    let kind = i.kind.clone();
    let mut v = view(i);
    v.columns = Some(columns);
    v.targets = Some(targets::targets(&kind, &fields));
    v.failures = Some(failures);
    v.warnings = Some(warnings);
    Ok(v)
}

fn bad_part(e: MultipartError) -> AppError {
    AppError::BadRequest(format!(
        "the multipart body could not be read: {}",
        e.body_text()
    ))
}

async fn next<T>(
    idle: Duration,
    f: impl std::future::Future<Output = Result<T, MultipartError>>,
) -> AppResult<T> {
    match tokio::time::timeout(idle, f).await {
        Ok(r) => r.map_err(bad_part),
        Err(_) => Err(AppError::Timeout),
    }
}

/// A file being received, removed unless kept.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The photos of a vCard file being received, removed unless kept.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Upload a CSV file to import (admin+): multipart `file` and `kind`
/// (contact, company or deal), at most 100 MiB (413 above, nothing kept).
/// Answers the encoding and delimiter detected, the columns with samples, a
/// suggested mapping (or the one saved for the last file with the same
/// columns) and the fields a column can fill. Nothing is imported yet.
#[utoipa::path(post, path = "/imports", tag = "imports",
    params(("org" = String, Path, description = "organization slug")),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Import), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 408, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 507, body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    access: OrgAccess,
    form: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<Import>)> {
    access.require(Role::Admin)?;
    let mut form = form.map_err(|_| {
        AppError::UnsupportedMediaType(
            "send multipart/form-data with a file part and a kind part".into(),
        )
    })?;
    let idle = state.config.request_timeout;
    let id = clock::new_id();
    let dir = run::dir(&state.tenants.dir(&access.org.id));
    std::fs::create_dir_all(&dir).map_err(crate::crm::files::blobs::io)?;
    let raw = TempFile(dir.join(format!("{id}.upload")));
    let mut kind = None;
    let mut got_file: Option<String> = None;
    let (mut over, mut drained, mut size) = (false, 0u64, 0u64);
    while let Some(mut field) = next(idle, form.next_field()).await? {
        match field.name().unwrap_or("") {
            "file" => {
                if got_file.is_some() || over {
                    return Err(AppError::field("file", "send one file"));
                }
                let name = field.file_name().unwrap_or("import.csv").to_string();
                let mut out = std::io::BufWriter::with_capacity(
                    256 * 1024,
                    std::fs::File::create(&raw.0).map_err(crate::crm::files::blobs::io)?,
                );
                while let Some(chunk) = next(idle, field.chunk()).await? {
                    if over {
                        drained += chunk.len() as u64;
                        if drained > DRAIN {
                            break;
                        }
                        continue;
                    }
                    if size + chunk.len() as u64 > MAX_BYTES {
                        over = true;
                        continue;
                    }
                    size += chunk.len() as u64;
                    std::io::Write::write_all(&mut out, &chunk)
                        .map_err(crate::crm::files::blobs::io)?;
                }
                std::io::Write::flush(&mut out).map_err(crate::crm::files::blobs::io)?;
                if over && drained > DRAIN {
                    break;
                }
                got_file = Some(name);
            }
            "kind" => {
                let mut buf = Vec::new();
                while let Some(chunk) = next(idle, field.chunk()).await? {
                    buf.extend_from_slice(&chunk);
                    if buf.len() > 64 {
                        return Err(AppError::field("kind", "contact, company or deal"));
                    }
                }
                kind = Some(String::from_utf8_lossy(&buf).trim().to_string());
            }
            other => {
                return Err(AppError::field(
                    other.chars().take(64).collect::<String>(),
                    "unknown part: send file and kind",
                ));
            }
        }
    }
    if over {
        return Err(AppError::TooLargeBecause(format!(
            "an import file may be at most {} MiB",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    let kind = check_kind(
        kind.as_deref()
            .ok_or_else(|| AppError::field("kind", "required: contact, company or deal"))?,
    )?;
    let Some(file_name) = got_file else {
        return Err(AppError::field("file", "required: the CSV file"));
    };
    let file_name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let utf8 = TempFile(run::file(&state.tenants.dir(&access.org.id), &id));
    let (raw_path, utf8_path) = (raw.0.clone(), utf8.0.clone());
    let photos = TempDir(photos::dir(&dir, &id));
    let photos_path = photos.0.clone();
    let (enc, shape, format) = crate::db::off_runtime(move || {
        let enc = sniff::to_utf8(&raw_path, &utf8_path)?;
        // A vCard file becomes a CSV of its cards; the rest is the same.
        let format = if vcf::is_vcard(&sniff::first_line(&utf8_path)?) {
            if kind != "contact" {
                return Err(AppError::field("kind", "a vCard file imports as contacts"));
            }
            vcf::to_csv(&utf8_path, &raw_path, &photos_path)?;
            std::fs::rename(&raw_path, &utf8_path).map_err(crate::crm::files::blobs::io)?;
            "vcard"
        } else {
            "csv"
        };
        Ok((enc, sniff::shape(&utf8_path)?, format))
    })
    .await?;
    drop(raw);
    let fields = access
        .tenant
        .db
        .read(move |c| custom::of_kind(c, kind))
        .await?;
    let key = store::headers_key(kind, &shape.headers);
    let lookup = key.clone();
    let saved = access
        .tenant
        .db
        .read(move |c| store::saved_mapping(c, &lookup))
        .await?;
    let suggested = targets::suggest(kind, &fields, &shape.headers, &shape.samples);
    let mapping = saved
        .filter(|m| m.len() == shape.headers.len() && valid_mapping(kind, &fields, m).is_ok())
        .unwrap_or(suggested);
    let dedupe = default_dedupe(kind, &mapping);
    let stored = Stored {
        id: id.clone(),
        kind: kind.to_string(),
        format: format.into(),
        file_name,
        encoding: sniff::encoding_name(enc).to_string(),
        delimiter: (shape.delimiter as char).to_string(),
        headers: shape.headers,
        headers_key: key,
        row_count: shape.rows,
        mapping,
        mapping_set: false,
        dedupe,
        state: "uploaded".into(),
        cancel: false,
        counts: Counts::default(),
        error: None,
        created_at: clock::now_stamp(),
        created_by: access.actor().stamp(),
        started_at: None,
        finished_at: None,
        undone_at: None,
        undone_by: None,
        undo_report: None,
    };
    access
        .tenant
        .db
        .write(move |tx| store::insert(tx, &stored))
        .await?;
    // The file (and its photos) are the import's now.
    std::mem::forget(utf8);
    std::mem::forget(photos);
    Ok((StatusCode::CREATED, Json(full(&state, &access, id).await?)))
}

/// Match on email (contacts) or domain (companies) when the file has it.
fn default_dedupe(kind: &str, mapping: &[Option<String>]) -> Dedupe {
    let has = |t: &str| mapping.iter().any(|m| m.as_deref() == Some(t));
    let on = match kind {
        "contact" if has("email") => "email",
        "company" if has("domain") => "domain",
        _ => "none",
    };
    Dedupe {
        on: on.into(),
        action: super::Action::Skip,
    }
}

fn valid_mapping(kind: &str, fields: &[CustomField], mapping: &[Option<String>]) -> AppResult<()> {
    let all = targets::targets(kind, fields);
    let mut seen: Vec<&str> = Vec::new();
    for (n, m) in mapping.iter().enumerate() {
        let Some(m) = m else { continue };
        let Some(t) = all.iter().find(|t| &t.key == m) else {
            return Err(AppError::field(
                format!("mapping.{n}"),
                "no such field for this kind",
            ));
        };
        if !t.repeatable && seen.contains(&m.as_str()) {
            return Err(AppError::field(
                format!("mapping.{n}"),
                "another column fills this field",
            ));
        }
        seen.push(m);
    }
    Ok(())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1–100 (default 20).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportPage {
    pub items: Vec<Import>,
    pub next_cursor: Option<String>,
}

/// Past and running imports, newest first (admin+).
#[utoipa::path(get, path = "/imports", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ListParams),
    responses((status = 200, body = ImportPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(access: OrgAccess, Query(p): Query<ListParams>) -> AppResult<Json<ImportPage>> {
    access.require(Role::Admin)?;
    let limit = match p.limit.as_deref() {
        None => 20,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| AppError::field("limit", "a number from 1 to 100"))?,
    };
    let cursor = p.cursor.clone();
    let rows = access
        .tenant
        .db
        .read(move |c| store::list(c, cursor.as_deref(), limit + 1))
        .await?;
    let more = rows.len() as i64 > limit;
    let mut items: Vec<Import> = rows.into_iter().take(limit as usize).map(view).collect();
    let next_cursor = more
        .then(|| items.last().map(|i| format!("{}|{}", i.created_at, i.id)))
        .flatten();
    items.shrink_to_fit();
    Ok(Json(ImportPage { items, next_cursor }))
}

/// An import: settings, progress while it runs, report when done (admin+).
#[utoipa::path(get, path = "/imports/{id}", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Import), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
) -> AppResult<Json<Import>> {
    access.require(Role::Admin)?;
    Ok(Json(full(&state, &access, p.id).await?))
}

/// The mapping and the dedupe rule.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ImportSettings)]
pub struct Settings {
    /// A field per column (null: not imported); as long as `headers`.
    pub mapping: Option<Vec<Option<String>>>,
    pub dedupe: Option<Dedupe>,
}

/// Set the mapping and the dedupe rule of an uploaded import (admin+); the
/// mapping is remembered for the next file with the same columns.
#[utoipa::path(patch, path = "/imports/{id}", tag = "imports", request_body = Settings,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Import), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
    Json(body): Json<Settings>,
) -> AppResult<Json<Import>> {
    access.require(Role::Admin)?;
    let id = p.id.clone();
    access
        .tenant
        .write(move |tx| {
            let i = store::get(tx, &id)?.ok_or(AppError::NotFound)?;
            if i.state != "uploaded" {
                return Err(AppError::Conflict(
                    "this import has run; upload the file again to change it".into(),
                ));
            }
            let fields = custom::of_kind(tx, &i.kind)?;
            let mapping = body.mapping.unwrap_or(i.mapping);
            if mapping.len() != i.headers.len() {
                return Err(AppError::field(
                    "mapping",
                    format!(
                        "give a field (or null) for each of the {} columns",
                        i.headers.len()
                    ),
                ));
            }
            valid_mapping(&i.kind, &fields, &mapping)?;
            let dedupe = body.dedupe.unwrap_or(i.dedupe);
            dedupe.check(&i.kind, &fields)?;
            store::set_settings(tx, &id, &mapping, &dedupe)
        })
        .await?;
    Ok(Json(full(&state, &access, p.id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// Rows to preview, 1–100 (default 20).
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub rows: Vec<RowResult>,
}

/// The first rows as the import would write them — created, updated,
/// skipped or failing with each row's errors — through the same
/// validation as the API's create and PATCH; nothing is kept (admin+).
#[utoipa::path(get, path = "/imports/{id}/preview", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path), PreviewParams),
    responses((status = 200, body = Preview), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
    Query(q): Query<PreviewParams>,
) -> AppResult<Json<Preview>> {
    access.require(Role::Admin)?;
    let limit = match q.limit.as_deref() {
        None => 20,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| AppError::field("limit", "a number from 1 to 100"))?,
    };
    let plan = run::plan(&state, &access.tenant, &p.id).await?;
    let path = file_of(&state, &access.org.id, &p.id);
    let delimiter = plan.import.delimiter.clone();
    let batch = crate::db::off_runtime(move || {
        if !path.exists() {
            return Ok(Vec::new());
        }
        Rows::open(&path, &delimiter, 0)?.take(limit)
    })
    .await?;
    let rows = access
        .tenant
        .db
        .write(move |tx| run::preview(tx, &plan, &batch))
        .await?;
    Ok(Json(Preview { rows }))
}

/// Start the import as a background job (admin+): 202 with the import
/// (`queued`); its progress shows on `GET /imports/{id}`. An import that
/// failed part-way resumes where it stopped.
#[utoipa::path(post, path = "/imports/{id}/run", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 202, body = Import), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
) -> AppResult<(StatusCode, Json<Import>)> {
    access.require(Role::Admin)?;
    let id = p.id.clone();
    let who = access.audit_actor();
    let job = access
        .tenant
        .db
        .write(move |tx| {
            let i = store::get(tx, &id)?.ok_or(AppError::NotFound)?;
            audit::record(
                tx,
                &audit::Entry::new(who, "import.started")
                    .target("import", &id, &i.file_name)
                    .after(serde_json::json!({"kind": i.kind, "format": i.format})),
            )?;
            if !matches!(i.state.as_str(), "uploaded" | "failed") {
                return Err(AppError::Conflict(format!("this import is {}", i.state)));
            }
            let fields = custom::of_kind(tx, &i.kind)?;
            i.dedupe.check(&i.kind, &fields)?;
            valid_mapping(&i.kind, &fields, &i.mapping)?;
            store::set_state(tx, &id, "queued")?;
            tx.execute(
                "UPDATE imports SET error = NULL, cancel = 0 WHERE id = ?1",
                [&id],
            )?;
            let now = clock::now();
            let name = format!("import:{id}");
            crate::jobs::store::ensure(
                tx,
                &name,
                JOB,
                &crate::jobs::Schedule::At(now).to_string(),
                &serde_json::json!({ "import": id }).to_string(),
                Some(&clock::stamp(now)),
                &clock::stamp(now),
            )?;
            crate::jobs::store::get(tx, &name)
        })
        .await?;
    // The runner opens an organization it has already seen only when the
    // control database's mirror says one of its jobs is due: without this,
    // the import would wait for the next restart.
    if let Some(row) = job {
        let org_id = access.org.id.clone();
        state
            .control
            .write(move |c| crate::jobs::store::mirror(c, &org_id, &[row]))
            .await?;
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(full(&state, &access, p.id).await?),
    ))
}

/// Cancel a queued or running import (admin+): it stops after the batch it
/// is writing; what it wrote stays (undo removes it).
#[utoipa::path(post, path = "/imports/{id}/cancel", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Import), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
) -> AppResult<Json<Import>> {
    access.require(Role::Admin)?;
    let id = p.id.clone();
    let who = access.audit_actor();
    access
        .tenant
        .db
        .write(move |tx| {
            let i = store::get(tx, &id)?.ok_or(AppError::NotFound)?;
            match i.state.as_str() {
                "queued" | "running" => store::request_cancel(tx, &id)?,
                "uploaded" => store::set_state(tx, &id, "cancelled")?,
                other => return Err(AppError::Conflict(format!("this import is {other}"))),
            }
            audit::record(
                tx,
                &audit::Entry::new(who, "import.cancelled").target("import", &id, &i.file_name),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(full(&state, &access, p.id).await?))
}

/// Undo an import within 30 days of its end (admin+): the records it
/// created go to the trash, the records it changed get their old values
/// back. Records changed by someone since are left as they are and listed
/// in `undo.noted` with the reason.
#[utoipa::path(post, path = "/imports/{id}/undo", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Import), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn undo_import(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
) -> AppResult<Json<Import>> {
    access.require(Role::Admin)?;
    let id = p.id.clone();
    let i = access
        .tenant
        .db
        .read(move |c| store::get(c, &id)?.ok_or(AppError::NotFound))
        .await?;
    if !store::undoable(&i) {
        return Err(AppError::Conflict(match i.state.as_str() {
            "undone" => "this import was undone already".to_string(),
            "queued" | "running" => "cancel the import first".to_string(),
            "uploaded" => "this import has not run".to_string(),
            _ => format!("an import can be undone for {} days", super::UNDO_DAYS),
        }));
    }
    let actor = access.actor().stamp();
    let region = access.org.default_country.clone();
    let mut report = UndoReport::default();
    for by_name in [false, true] {
        let mut after = (0i64, -1i64);
        loop {
            let (id, region, actor) = (p.id.clone(), region.clone(), actor.clone());
            let mut r = std::mem::take(&mut report);
            let (next, r) = access
                .tenant
                .write(move |tx| {
                    let next = undo::batch(tx, &id, by_name, after, &region, &actor, &mut r)?;
                    Ok((next, r))
                })
                .await?;
            report = r;
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
    }
    let (id, by) = (p.id.clone(), actor.clone());
    let value = serde_json::to_value(&report).map_err(|e| AppError::Internal(e.into()))?;
    let (who, file_name) = (access.audit_actor(), i.file_name.clone());
    access
        .tenant
        .db
        .write(move |tx| {
            store::set_undone(tx, &id, &by, &value)?;
            audit::record(
                tx,
                &audit::Entry::new(who, "import.undone")
                    .target("import", &id, &file_name)
                    .after(value),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(full(&state, &access, p.id).await?))
}

/// The failed rows as CSV, in the file's own columns plus `error`: fix them
/// and import the file again (admin+).
#[utoipa::path(get, path = "/imports/{id}/failed.csv", tag = "imports",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn failed_csv(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(p): Path<IdPath>,
) -> AppResult<Response> {
    access.require(Role::Admin)?;
    let id = p.id.clone();
    let (i, failed) = access
        .tenant
        .db
        .read(move |c| {
            let i = store::get(c, &id)?.ok_or(AppError::NotFound)?;
            let failed = store::failed_map(c, &i.id)?;
            Ok((i, failed))
        })
        .await?;
    let path = file_of(&state, &access.org.id, &i.id);
    let (headers, delimiter) = (i.headers.clone(), i.delimiter.clone());
    let bytes = crate::db::off_runtime(move || {
        // A BOM, so spreadsheets open it as UTF-8.
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(b"\xEF\xBB\xBF".to_vec());
        let mut head = headers.clone();
        head.push("error".into());
        w.write_record(&head)
            .map_err(|e| AppError::Internal(e.into()))?;
        if !failed.is_empty() && path.exists() {
            let mut rows = Rows::open(&path, &delimiter, 0)?;
            while let Some((seq, rec)) = rows.next_row()? {
                if let Some(err) = failed.get(&seq) {
                    let mut cells: Vec<&str> = rec.iter().collect();
                    cells.resize(headers.len(), "");
                    cells.push(err);
                    w.write_record(&cells)
                        .map_err(|e| AppError::Internal(e.into()))?;
                }
            }
        }
        w.into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))
    })
    .await?;
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"failed-rows.csv\""),
    );
    Ok(res)
}

/// Routes under `/orgs/{org}`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload reads its own body, streamed, with its own limit.
        .routes(routes!(upload, list).layer(DefaultBodyLimit::disable()))
        .routes(routes!(get_one, set))
        .routes(routes!(preview))
        .routes(routes!(start))
        .routes(routes!(cancel))
        .routes(routes!(undo_import))
        .routes(routes!(failed_csv))
}
