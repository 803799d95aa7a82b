//! Writing an archive from a consistent copy of an organization's database
//! and its files folder.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::{
    Column, FORMAT, FilesEntry, KindEntry, MANIFEST, Manifest, Member, Organization, TableEntry,
    VERSION, blob_file, exported, table_file, valid_table_name,
};
use crate::crm::files::blobs::Store;

/// What an archive is made from.
pub struct Source<'a> {
    /// A copy of the organization's database nobody writes to (made with
    /// the online backup API), so every table is read at one moment.
    pub db: &'a Path,
    pub files: &'a Store,
    pub organization: Organization,
    pub members: Vec<Member>,
}

/// Writes the archive to `out` (created with mode 0600) and returns its
/// manifest.
pub fn write(src: &Source, out: &Path) -> anyhow::Result<Manifest> {
    let conn = crate::backup::archive::open_existing(src.db)?;
    let schema_version: i64 = conn
        .query_row(
            "SELECT MAX(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .context("reading the database's schema version")?;
    let file = create_private(out)?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let text = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true)
        .unix_permissions(0o600);

    let mut tables = Vec::new();
    for name in table_names(&conn)? {
        tables.push(write_table(&conn, &name, &mut zip, text)?);
    }
    let files = write_files(&conn, src.files, &mut zip)?;
    let kinds = crate::crm::KINDS
        .iter()
        .map(|k| KindEntry {
            kind: k.name().to_string(),
            table: k.table().to_string(),
            file: table_file(k.table()),
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        harmonia_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::clock::now_stamp(),
        schema_version,
        organization: src.organization.clone(),
        members: src.members.clone(),
        kinds,
        tables,
        files,
    };
    zip.start_file(MANIFEST, text)?;
    serde_json::to_writer_pretty(&mut zip, &manifest)?;
    let mut out_file = zip
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the archive")?;
    out_file.flush()?;
    out_file.sync_all()?;
    Ok(manifest)
}

fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// The organization's tables that go into an export, by name.
fn table_names(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut kept = Vec::new();
    for name in names.into_iter().filter(|n| exported(n)) {
        // Every name is quoted into SQL below: only plain ones are accepted.
        if !valid_table_name(&name) {
            bail!("unexpected table name {name:?} in the organization's database");
        }
        kept.push(name);
    }
    Ok(kept)
}

pub fn columns(conn: &Connection, table: &str) -> anyhow::Result<Vec<Column>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let cols = stmt
        .query_map([], |r| {
            Ok(Column {
                name: r.get(1)?,
                ty: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(cols)
}

fn write_table<W: Write + std::io::Seek>(
    conn: &Connection,
    table: &str,
    zip: &mut ZipWriter<W>,
    opts: SimpleFileOptions,
) -> anyhow::Result<TableEntry> {
    let columns = columns(conn, table)?;
    let file = table_file(table);
    zip.start_file(file.as_str(), opts)?;
    let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
    let mut rows = stmt.query([])?;
    let (mut hash, mut count, mut line) = (Sha256::new(), 0u64, Vec::with_capacity(1024));
    while let Some(row) = rows.next()? {
        let mut obj = Map::with_capacity(columns.len());
        for (i, col) in columns.iter().enumerate() {
            obj.insert(
                col.name.clone(),
                to_json(row.get_ref(i)?, table, &col.name)?,
            );
        }
        line.clear();
        serde_json::to_writer(&mut line, &obj)?;
        line.push(b'\n');
        hash.update(&line);
        zip.write_all(&line)?;
        count += 1;
    }
    Ok(TableEntry {
        name: table.into(),
        file,
        rows: count,
        columns,
        sha256: hex::encode(hash.finalize()),
    })
}

/// One SQLite value as JSON: blobs as `{"base64": "…"}`, the rest as is.
fn to_json(v: ValueRef, table: &str, column: &str) -> anyhow::Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .with_context(|| format!("{table}.{column} holds {f}, which JSON cannot write"))?,
        ValueRef::Text(t) => Value::String(
            String::from_utf8(t.to_vec())
                .with_context(|| format!("{table}.{column} holds text that is not UTF-8"))?,
        ),
        ValueRef::Blob(b) => {
            let mut m = Map::new();
            m.insert(
                "base64".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
            Value::Object(m)
        }
    })
}

/// Every distinct content the organization's files have, checked against
/// its hash as it is copied (a damaged blob fails the export rather than
/// travelling on).
fn write_files<W: Write + std::io::Seek>(
    conn: &Connection,
    store: &Store,
    zip: &mut ZipWriter<W>,
) -> anyhow::Result<FilesEntry> {
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true)
        .unix_permissions(0o600);
    let mut stmt = conn.prepare("SELECT sha256, size FROM file_blobs ORDER BY sha256")?;
    let blobs = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    for (sha, size) in blobs {
        if !super::valid_sha256(&sha) {
            bail!("unexpected file hash {sha:?} in the organization's database");
        }
        let path = store.blob(&sha);
        let mut f =
            File::open(&path).with_context(|| format!("the content of file {sha} is missing"))?;
        zip.start_file(blob_file(&sha), stored)?;
        let (mut hash, mut n) = (Sha256::new(), 0u64);
        loop {
            let got = f.read(&mut buf)?;
            if got == 0 {
                break;
            }
            hash.update(&buf[..got]);
            zip.write_all(&buf[..got])?;
            n += got as u64;
        }
        if hex::encode(hash.finalize()) != sha || n != size as u64 {
            bail!("the content of file {sha} is damaged on disk");
        }
        count += 1;
        bytes += n;
    }
    Ok(FilesEntry { count, bytes })
}
