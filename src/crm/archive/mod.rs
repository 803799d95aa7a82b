//! The whole-organization export: one ZIP archive holding every record of
//! every kind, their relations, custom field and pipeline definitions,
//! notes' HTML and files, in open formats (NDJSON and the files as they were
//! uploaded), with a manifest describing it. `harmonia import-org` loads such
//! an archive into a new organization. `docs/org-export.md` is the format's
//! reference for anyone reading an archive without Harmonia.
//!
//! The archive is table-shaped on purpose: each table of the organization's
//! database is one NDJSON file, one JSON object per row, keyed by column.
//! That is what makes a round trip exact (ids, relations, history, trash and
//! all), and what lets a newer Harmonia load an older archive: it creates the
//! schema the archive was written with, loads it, then upgrades it the way it
//! upgrades any organization. A table nobody listed below is exported and
//! loaded, so a new table joins without anyone remembering to add it.

pub mod load;
pub mod prepare;
pub mod routes;
pub mod store;
pub mod write;

use serde::{Deserialize, Serialize};

/// `manifest.format`: what the archive is.
pub const FORMAT: &str = "harmonia-organization-export";
/// `manifest.version`: the layout of the archive (not of its tables).
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

/// Tables that are not part of an export: derived state rebuilt on load (the
/// search index's bookkeeping), work in flight (jobs, outboxes, deliveries),
/// what only means something on this server (webhook subscriptions, whose
/// signing secrets are in the server's vault; inbound hooks' external ids),
/// and import undo data.
pub const LEFT_OUT: &[&str] = &[
    "refinery_schema_history",
    "search_outbox",
    "search_state",
    "notice_outbox",
    "jobs",
    "job_runs",
    "webhooks",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "inbound_events",
    "external_ids",
    "imports",
    "import_rows",
];

/// Tables exported for the reader but not loaded by `import-org`: the audit
/// log is a hash chain of what happened to *this* organization; the new one
/// starts its own, with the import as its first entry.
pub const NOT_LOADED: &[&str] = &["audit_log", "audit_chain"];

pub fn exported(table: &str) -> bool {
    !table.starts_with("sqlite_") && !LEFT_OUT.contains(&table)
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub harmonia_version: String,
    pub created_at: String,
    /// The last migration of the organization's database when it was
    /// exported: the tables' shape (`docs/org-export.md`).
    pub schema_version: i64,
    pub organization: Organization,
    pub members: Vec<Member>,
    /// Each record kind and the table holding it.
    pub kinds: Vec<KindEntry>,
    pub tables: Vec<TableEntry>,
    pub files: FilesEntry,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub default_country: String,
    pub default_currency: String,
    pub time_zone: String,
    pub date_format: String,
    pub require_mfa: bool,
    pub created_at: String,
}

/// A member when the archive was made. Records refer to members by
/// `user_id` (owners, assignees, authors, mentions).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KindEntry {
    pub kind: String,
    pub table: String,
    pub file: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub name: String,
    /// `tables/<name>.ndjson`.
    pub file: String,
    pub rows: u64,
    pub columns: Vec<Column>,
    /// SHA-256 of the NDJSON file.
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Column {
    pub name: String,
    /// The declared SQLite type (`TEXT`, `INTEGER`, `REAL`, `BLOB`).
    #[serde(rename = "type")]
    pub ty: String,
}

/// Files' contents, one entry per distinct content: `files/<sha256>`, as
/// listed in the `file_blobs` table (names and links are in `files` and
/// `file_links`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FilesEntry {
    pub count: u64,
    pub bytes: u64,
}

pub fn table_file(table: &str) -> String {
    format!("tables/{table}.ndjson")
}

pub fn blob_file(sha256: &str) -> String {
    format!("files/{sha256}")
}

/// A table name as the archive may use it: what SQLite names tables here.
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub fn valid_sha256(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}
