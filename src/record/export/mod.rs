//! Exports of any list: `GET /{kind}/export?format=csv|ndjson|xlsx|vcf`
//! with the list's own parameters (search, filters, sort) and optionally a
//! saved view's. The list's query (`ListQuery`) reads the rows in keyset
//! pages on a blocking thread, and each page is written to the response as
//! it comes, so memory stays flat however long the list.

pub mod table;
mod xlsx;

use std::io::Write;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::audit;
use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, Query};
use crate::platform::access::OrgAccess;
use crate::record::custom::CustomField;
use crate::record::list::{Found, ListQuery, Params, Viewer, fields_of};
use crate::record::routes::me;
use crate::record::{RecordKind, find, restrict, views};
use crate::tenant::Tenant;
use table::{Cell, Columns};

/// Rows read per page: big enough that a page's fixed cost vanishes,
/// small enough to stay a few hundred kilobytes.
const PAGE: usize = 1000;
/// Bytes gathered before they go to the client.
const CHUNK: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Xlsx,
    Vcf,
}

impl Format {
    pub const ALL: [&'static str; 4] = ["csv", "ndjson", "xlsx", "vcf"];

    fn parse(s: Option<&str>) -> AppResult<Format> {
        match s {
            None | Some("csv") => Ok(Format::Csv),
            Some("ndjson") => Ok(Format::Ndjson),
            Some("xlsx") => Ok(Format::Xlsx),
            Some("vcf") => Ok(Format::Vcf),
            Some(_) => Err(AppError::field("format", "use csv, ndjson, xlsx or vcf")),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Vcf => "text/vcard; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Xlsx => "xlsx",
            Format::Vcf => "vcf",
        }
    }
}

/// What one export reads: the list's parameters, checked once up front.
struct Job {
    tenant: std::sync::Arc<Tenant>,
    params: Params,
    fields: Vec<CustomField>,
    me: Viewer,
    found: Option<Found>,
    format: Format,
    sheet: String,
}

/// Adds a saved view's filter and sort to the list's parameters: its filter
/// and the one sent both apply; a `sort` sent wins over the view's.
fn with_view(params: &mut Params, view: views::View) {
    if let Some(vf) = view.filter {
        let filter = match params
            .get("filter")
            .map(|f| serde_json::from_str::<Value>(f))
        {
            // A broken filter is refused by the list query, as sent.
            Some(Err(_)) => return,
            Some(Ok(sent)) => serde_json::json!({ "and": [vf, sent] }),
            None => vf,
        };
        params.insert("filter".into(), filter.to_string());
    }
    if let Some(sort) = view.sort
        && !params.contains_key("sort")
    {
        params.insert("sort".into(), sort);
    }
}

/// The export route (member+).
pub async fn export<K: RecordKind>(
    access: OrgAccess,
    Query(mut params): Query<Params>,
) -> AppResult<Response> {
    access.require(Role::Member)?;
    let format = Format::parse(params.remove("format").as_deref())?;
    if format == Format::Vcf && !K::VCARD {
        return Err(AppError::field(
            "format",
            format!(
                "vCard is for contacts; export {} as csv, ndjson or xlsx",
                K::PATH
            ),
        ));
    }
    for p in ["limit", "cursor"] {
        if params.contains_key(p) {
            return Err(AppError::field(
                p,
                "an export is the whole list: leave it out",
            ));
        }
    }
    let me = me(&access);
    if let Some(view_id) = params.remove("view") {
        let user = me.id.clone().unwrap_or_default();
        let view = access
            .tenant
            .db
            .read(move |c| match views::one(c, &user, &view_id) {
                Err(AppError::NotFound) => Ok(None),
                other => other.map(Some),
            })
            .await?
            .filter(|v| v.kind == K::KIND)
            .ok_or_else(|| AppError::field("view", "no such saved view of this kind"))?;
        with_view(&mut params, view);
    }
    let found = find::found::<K>(&access, &params).await?;
    // Check the query before the answer starts: a bad filter is a 422.
    let fields = {
        let (params, me, found) = (params.clone(), me.clone(), found.clone());
        access
            .tenant
            .db
            .read(move |c| {
                let fields = fields_of::<K>(c)?;
                ListQuery::with_found::<K>(&params, &fields, me, found.as_ref())?;
                Ok(fields)
            })
            .await?
    };
    let name = format!(
        "{}-{}-{}.{}",
        access.org.slug,
        K::PATH,
        &clock::now_stamp()[..10],
        format.extension()
    );
    // Every export is in the audit log: who took which list out, filtered how.
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "export.created")
                .target(K::KIND, "", &name)
                .after(serde_json::json!({"format": format.extension(), "query": params})),
        )
        .await?;
    let job = Job {
        tenant: access.tenant.clone(),
        params,
        fields,
        me,
        found,
        format,
        sheet: K::LABEL_PLURAL.to_string(),
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = Sender {
            tx,
            buf: Vec::new(),
            gone: false,
        };
        if let Err(e) = run::<K>(&job, &mut out) {
            if !out.gone {
                tracing::warn!(error = %e, kind = K::KIND, "export failed part-way");
            }
            // The client sees the download fail rather than a short file.
            let _ = out
                .tx
                .blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    // Fused: a body may be polled once more after its end, which an
    // unfused `unfold` answers with a panic (and the client with a cut
    // download).
    let stream =
        futures_util::StreamExt::fuse(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Bytes on their way to the client, in chunks; a send fails once the
/// client has gone, which ends the export.
struct Sender {
    tx: mpsc::Sender<std::io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    /// The client closed the connection: stop quietly.
    gone: bool,
}

impl Sender {
    fn flush_if_full(&mut self) -> AppResult<()> {
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> AppResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            self.gone = true;
            AppError::BadRequest("the client went away".into())
        })
    }
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.flush_if_full()
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How rows become bytes, per format.
enum Encoder {
    Csv(Columns),
    Ndjson,
    Vcf,
    Xlsx(Columns, Box<xlsx::Book>),
}

fn json_err(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::Internal(anyhow::Error::new(e))
}

/// Reads the list page by page and writes each page out. Reading (the
/// query and the records) and writing (what the API shows of each record,
/// its cells, CSV or the workbook) take about the same time, so the pages
/// are read on a thread of their own while the one before is written: an
/// export uses two cores, not one. The records are turned into JSON on the
/// writing side, which also frees them: a profile had the reading thread
/// busy all the time with both and the writing one half idle.
fn run<K: RecordKind>(job: &Job, out: &mut Sender) -> AppResult<()> {
    std::thread::scope(|scope| {
        // Two pages ahead at most: memory stays flat.
        let (tx, rx) = std::sync::mpsc::sync_channel::<AppResult<Vec<K::Record>>>(2);
        scope.spawn(move || read_pages::<K>(job, tx));
        // Once this returns (done, or the client went away), the channel
        // closes and the reader stops at its next page.
        write_pages::<K>(job, out, rx)
    })
}

/// A record as the API shows it, for the columns of CSV and XLSX.
fn shown<R: serde::Serialize>(r: &R) -> AppResult<Map<String, Value>> {
    match serde_json::to_value(r).map_err(json_err)? {
        Value::Object(m) => Ok(m),
        _ => Err(AppError::Internal(anyhow::anyhow!("a record is an object"))),
    }
}

/// The list's pages in order, each sent as soon as it is read; a failure
/// is sent in its place and ends the reading.
fn read_pages<K: RecordKind>(
    job: &Job,
    tx: std::sync::mpsc::SyncSender<AppResult<Vec<K::Record>>>,
) {
    let mut cursor: Option<String> = None;
    loop {
        let page = job.tenant.db.read_blocking(|c| {
            let mut q = ListQuery::with_found::<K>(
                &job.params,
                &job.fields,
                job.me.clone(),
                job.found.as_ref(),
            )?;
            // Records restricted by a privacy request are not exported
            // (asked per page: one restricted meanwhile is left out too).
            if restrict::any(c)? {
                q.and_sql(restrict::NOT_RESTRICTED);
            }
            q.cursor = cursor.take();
            q.limit = PAGE;
            q.page::<K>(c)
        });
        let (items, next) = match page {
            Ok(p) => (Ok(p.items), p.next_cursor),
            Err(e) => (Err(e), None),
        };
        if tx.send(items).is_err() {
            return;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return,
        }
    }
}

fn write_pages<K: RecordKind>(
    job: &Job,
    out: &mut Sender,
    pages: std::sync::mpsc::Receiver<AppResult<Vec<K::Record>>>,
) -> AppResult<()> {
    let mut enc: Option<Encoder> = None;
    let builtins: Vec<&str> = K::fields().iter().map(|b| b.key).collect();
    for items in pages {
        let items = items?;
        let enc = match &mut enc {
            Some(e) => e,
            None => {
                let e = match job.format {
                    Format::Ndjson => Encoder::Ndjson,
                    Format::Vcf => Encoder::Vcf,
                    format => {
                        let sample = items.first().map(shown).transpose()?;
                        let cols = Columns::new(&builtins, sample.as_ref(), &job.fields);
                        if format == Format::Csv {
                            // A byte-order mark: Excel then reads the file as UTF-8.
                            out.buf.extend_from_slice("\u{FEFF}".as_bytes());
                            csv_row(out, cols.headers().iter().map(|h| Cell::Text(h.clone())))?;
                            Encoder::Csv(cols)
                        } else {
                            let book = xlsx::Book::new(&job.sheet, cols.headers())?;
                            Encoder::Xlsx(cols, Box::new(book))
                        }
                    }
                };
                enc.insert(e)
            }
        };
        for r in &items {
            match enc {
                Encoder::Ndjson => {
                    serde_json::to_writer(&mut out.buf, r).map_err(json_err)?;
                    out.buf.push(b'\n');
                }
                Encoder::Vcf => {
                    if let Some(card) = K::vcard(r) {
                        out.buf.extend_from_slice(card.as_bytes());
                    }
                }
                Encoder::Csv(cols) => csv_row(out, cols.row(&shown(r)?).into_iter())?,
                Encoder::Xlsx(cols, book) => book.row(&cols.row(&shown(r)?))?,
            }
        }
        out.flush_if_full()?;
    }
    match enc {
        Some(Encoder::Xlsx(_, book)) => book.finish(out)?,
        None if job.format == Format::Xlsx => {
            let cols = Columns::new(&builtins, None, &job.fields);
            xlsx::Book::new(&job.sheet, cols.headers())?.finish(out)?;
        }
        _ => {}
    }
    out.send()
}

/// One CSV line (RFC 4180: fields with a quote, comma or line break are
/// quoted, quotes doubled; lines end in CRLF), every text cell neutralized.
fn csv_row(out: &mut Sender, cells: impl Iterator<Item = Cell>) -> AppResult<()> {
    let buf = &mut out.buf;
    for (i, c) in cells.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let text = c.safe_text();
        if text
            .bytes()
            .any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'))
        {
            buf.push(b'"');
            for part in text.split('"').enumerate() {
                if part.0 > 0 {
                    buf.extend_from_slice(b"\"\"");
                }
                buf.extend_from_slice(part.1.as_bytes());
            }
            buf.push(b'"');
        } else {
            buf.extend_from_slice(text.as_bytes());
        }
    }
    buf.extend_from_slice(b"\r\n");
    Ok(())
}
