//! `harmonia import-org ARCHIVE --slug NEW`: an archive into a new
//! organization. Safe while the server runs: the organization is built in a
//! scratch folder (database at the archive's schema, rows, files, search
//! index, upgraded to this version's schema) and appears, with its control
//! row and members, only once it is whole.
//!
//! The archive is read by name only (`manifest.json`, the tables it lists,
//! `files/<sha256>`): no entry's path ever becomes a path on disk, every
//! table's and file's SHA-256 is checked, and a line longer than
//! [`MAX_LINE`] is refused rather than buffered.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::{LEFT_OUT, MANIFEST, Manifest, NOT_LOADED, blob_file, valid_sha256, valid_table_name};
use crate::audit::{self, Actor, Entry};
use crate::backup::Scratch;
use crate::crm::files::blobs::Store;
use crate::db::{Db, DbOptions, Schema};
use crate::platform::orgs::{self, Org};

/// The longest row an archive may hold (a note with its HTML, a record with
/// all its custom fields stay far below).
const MAX_LINE: u64 = 64 * 1024 * 1024;
const MANIFEST_MAX: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Imported {
    pub org_id: String,
    pub slug: String,
    pub name: String,
    /// Rows loaded per record kind (kind, rows).
    pub records: Vec<(String, u64)>,
    pub files: u64,
    /// Members of the archive given their role here (they have an account).
    pub members: Vec<String>,
    /// Members of the archive with no account here: their records keep
    /// their user id and show as a former member.
    pub unmatched: Vec<String>,
}

/// Loads `archive` into a new organization `slug` of the instance at
/// `data_dir`. `owner` (an account's email) becomes an owner; without it,
/// the archive's owners who have an account here own the new organization.
pub fn import_org(
    data_dir: &Path,
    archive: &Path,
    slug: &str,
    owner: Option<&str>,
) -> anyhow::Result<Imported> {
    let control_path = data_dir.join(crate::backup::CONTROL_DB);
    if !control_path.exists() {
        bail!("{} holds no Harmonia instance", data_dir.display());
    }
    orgs::check_slug(slug).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut zip = ZipArchive::new(BufReader::new(
        File::open(archive).with_context(|| format!("opening {}", archive.display()))?,
    ))
    .context("the file is not a ZIP archive")?;
    let manifest = read_manifest(&mut zip)?;

    let mut control = crate::backup::archive::open_existing(&control_path)?;
    let taken: bool = control.query_row(
        "SELECT EXISTS (SELECT 1 FROM orgs WHERE slug = ?1)",
        [slug],
        |r| r.get(0),
    )?;
    if taken {
        bail!("the slug {slug} is taken here: choose another");
    }
    let people = match_members(&control, &manifest, owner)?;

    let org_id = crate::clock::new_id();
    let tenants = data_dir.join("tenants");
    std::fs::create_dir_all(&tenants)?;
    let scratch = Scratch::beside(&tenants.join(&org_id), "importing")?;
    let db_path = scratch.0.join("crm.db");
    let records = load_tables(&mut zip, &manifest, &db_path, &people.remap)?;
    let store = Store::new(scratch.0.clone(), true);
    let files = load_files(&mut zip, &db_path, &store)?;
    finish_database(
        &db_path,
        &scratch.0,
        imported_entry(&manifest, &org_id, slug),
    )?;

    let dir = tenants.join(&org_id);
    std::fs::rename(&scratch.0, &dir)?;
    let org = Org {
        id: org_id.clone(),
        slug: slug.to_string(),
        name: manifest.organization.name.clone(),
        default_country: manifest.organization.default_country.clone(),
        default_currency: manifest.organization.default_currency.clone(),
        require_mfa: manifest.organization.require_mfa,
        time_zone: manifest.organization.time_zone.clone(),
        date_format: manifest.organization.date_format.clone(),
        created_at: crate::clock::now_stamp(),
    };
    let joined = (|| -> anyhow::Result<()> {
        let tx = control.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        orgs::insert(&tx, &org).map_err(|e| anyhow::anyhow!("{e}"))?;
        for (user_id, role) in &people.memberships {
            orgs::add_member(&tx, &org.id, user_id, role).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        audit::record(&tx, &imported_entry(&manifest, &org.id, slug))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit()?;
        Ok(())
    })();
    if let Err(e) = joined {
        // No control row: the folder is nobody's; don't leave it behind.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(Imported {
        org_id,
        slug: slug.to_string(),
        name: org.name,
        records,
        files,
        members: people.matched,
        unmatched: people.unmatched,
    })
}

fn imported_entry(manifest: &Manifest, org_id: &str, slug: &str) -> Entry {
    Entry::new(Actor::system("import-org"), "org.imported")
        .target("organization", org_id, slug)
        .after(serde_json::json!({
            "from": {
                "organization": manifest.organization.id,
                "slug": manifest.organization.slug,
                "exported_at": manifest.created_at,
                "harmonia_version": manifest.harmonia_version,
            }
        }))
}

fn read_manifest<R: Read + std::io::Seek>(zip: &mut ZipArchive<R>) -> anyhow::Result<Manifest> {
    let entry = zip
        .by_name(MANIFEST)
        .context("the archive has no manifest.json: it is not a Harmonia organization export")?;
    let mut text = Vec::new();
    entry.take(MANIFEST_MAX + 1).read_to_end(&mut text)?;
    if text.len() as u64 > MANIFEST_MAX {
        bail!("manifest.json is larger than any Harmonia writes");
    }
    let m: Manifest = serde_json::from_slice(&text).context("manifest.json does not parse")?;
    if m.format != super::FORMAT {
        bail!(
            "the archive is a {:?}, not a Harmonia organization export",
            m.format
        );
    }
    if m.version != super::VERSION {
        bail!(
            "the archive's layout is version {}; this Harmonia reads version {}",
            m.version,
            super::VERSION
        );
    }
    let newest = newest_schema();
    if m.schema_version > newest || m.schema_version < 1 {
        bail!(
            "the archive was made by Harmonia {} with schema {}; this version knows up to {newest}: upgrade Harmonia first",
            m.harmonia_version,
            m.schema_version
        );
    }
    Ok(m)
}

fn newest_schema() -> i64 {
    Schema::Tenant
        .migrations()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// Who the archive's members are here.
struct People {
    /// (user id in the archive, user id here) where they differ.
    remap: Vec<(String, String)>,
    /// (user id here, role).
    memberships: Vec<(String, String)>,
    matched: Vec<String>,
    unmatched: Vec<String>,
}

fn match_members(
    control: &Connection,
    manifest: &Manifest,
    owner: Option<&str>,
) -> anyhow::Result<People> {
    let find = |email: &str| -> anyhow::Result<Option<String>> {
        Ok(control
            .query_row(
                "SELECT id FROM users WHERE email = ?1 COLLATE NOCASE",
                [email],
                |r| r.get(0),
            )
            .optional()?)
    };
    let mut people = People {
        remap: Vec::new(),
        memberships: Vec::new(),
        matched: Vec::new(),
        unmatched: Vec::new(),
    };
    let owner_id = match owner {
        Some(email) => {
            Some(find(email)?.with_context(|| format!("no account here has the email {email}"))?)
        }
        None => None,
    };
    for m in &manifest.members {
        match find(&m.email)? {
            Some(id) => {
                if id != m.user_id {
                    people.remap.push((m.user_id.clone(), id.clone()));
                }
                let role = if owner_id.as_deref() == Some(id.as_str()) {
                    "owner".to_string()
                } else {
                    m.role.clone()
                };
                people.memberships.push((id, role));
                people.matched.push(m.email.clone());
            }
            None => people.unmatched.push(m.email.clone()),
        }
    }
    if let Some(id) = owner_id
        && !people.memberships.iter().any(|(u, _)| *u == id)
    {
        people.memberships.push((id, "owner".into()));
    }
    if !people.memberships.iter().any(|(_, r)| r == "owner") {
        bail!(
            "none of the archive's owners has an account here: name one with --owner EMAIL (an existing account)"
        );
    }
    Ok(people)
}

/// Creates the database at the archive's schema and loads every table it
/// holds, in one transaction; foreign keys are checked once all are in.
fn load_tables<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    manifest: &Manifest,
    db_path: &Path,
    remap: &[(String, String)],
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut conn = Connection::open(db_path)?;
    crate::order::register_sql(&conn)?;
    let target = manifest
        .schema_version
        .try_into()
        .context("schema version")?;
    Schema::Tenant
        .migrations()
        .set_target(refinery::Target::Version(target))
        .run(&mut conn)
        .context("creating the archive's schema")?;
    conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
    let tx = conn.transaction()?;
    // Triggers that derive one table's columns from another's (a link's time
    // from its note) would fire with half the data loaded: rows go in
    // exactly as exported, and the triggers come back afterwards.
    let triggers = {
        let mut stmt = tx.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")?;
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
    };
    for (name, _) in &triggers {
        tx.execute(
            &format!("DROP TRIGGER \"{}\"", name.replace('"', "\"\"")),
            [],
        )?;
    }
    let mut loaded = Vec::new();
    for t in &manifest.tables {
        if !valid_table_name(&t.name) {
            bail!("the archive lists a table named {:?}", t.name);
        }
        if LEFT_OUT.contains(&t.name.as_str()) || NOT_LOADED.contains(&t.name.as_str()) {
            continue;
        }
        let here: Vec<String> = super::write::columns(&tx, &t.name)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        if here.is_empty() {
            bail!(
                "the archive holds a table {} that schema {} does not have",
                t.name,
                manifest.schema_version
            );
        }
        for c in &t.columns {
            if !here.contains(&c.name) {
                bail!(
                    "the archive's table {} has a column {} unknown here",
                    t.name,
                    c.name
                );
            }
        }
        // What the schema's own migrations seeded (the first pipeline) is
        // replaced by what the archive holds.
        tx.execute(&format!("DELETE FROM \"{}\"", t.name), [])?;
        let rows = load_table(zip, t, &tx, remap)?;
        loaded.push((t.name.clone(), rows));
    }
    let broken: Option<(String, i64)> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((table, row)) = broken {
        bail!("the archive's {table} row {row} refers to a row the archive does not hold");
    }
    for (_, sql) in &triggers {
        tx.execute_batch(sql)?;
    }
    tx.commit()?;
    let kinds = crate::crm::KINDS
        .iter()
        .map(|k| {
            let rows = loaded
                .iter()
                .find(|(t, _)| t == k.table())
                .map_or(0, |(_, n)| *n);
            (k.name().to_string(), rows)
        })
        .collect();
    Ok(kinds)
}

fn load_table<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    t: &super::TableEntry,
    tx: &Connection,
    remap: &[(String, String)],
) -> anyhow::Result<u64> {
    let names: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let mut insert = tx.prepare(&format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        t.name,
        names.join(", "),
        marks.join(", ")
    ))?;
    let entry = zip
        .by_name(&super::table_file(&t.name))
        .with_context(|| format!("the archive lists {} but does not hold it", t.file))?;
    let mut reader = BufReader::with_capacity(256 * 1024, entry);
    let (mut hash, mut rows, mut line) = (Sha256::new(), 0u64, Vec::new());
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if n as u64 > MAX_LINE {
            bail!("{} has a row longer than {MAX_LINE} bytes", t.file);
        }
        hash.update(&line);
        let obj: serde_json::Map<String, Value> = serde_json::from_slice(&line)
            .with_context(|| format!("{} row {} is not a JSON object", t.file, rows + 1))?;
        let mut values = Vec::with_capacity(t.columns.len());
        for c in &t.columns {
            let v = obj.get(&c.name).unwrap_or(&Value::Null);
            values.push(
                to_sql(v, remap)
                    .with_context(|| format!("{} row {} column {}", t.file, rows + 1, c.name))?,
            );
        }
        insert
            .execute(params_from_iter(values))
            .with_context(|| format!("loading {} row {}", t.file, rows + 1))?;
        rows += 1;
    }
    if hex::encode(hash.finalize()) != t.sha256 || rows != t.rows {
        bail!(
            "{} is damaged (its checksum or row count differs from the manifest)",
            t.file
        );
    }
    Ok(rows)
}

fn to_sql(v: &Value, remap: &[(String, String)]) -> anyhow::Result<Sql> {
    Ok(match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Sql::Integer(i),
            (None, Some(f)) => Sql::Real(f),
            _ => bail!("the number {n} does not fit"),
        },
        Value::String(s) => Sql::Text(remap_ids(s, remap)),
        Value::Object(o) => match o.get("base64") {
            Some(Value::String(b)) if o.len() == 1 => Sql::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .context("a blob is not valid base64")?,
            ),
            _ => bail!("an object that is not {{\"base64\": …}}"),
        },
        Value::Array(_) => bail!("an array where a value belongs"),
    })
}

/// Member ids are UUIDs: a text holding one (a column, a JSON list of
/// participants, a note's mention) can only mean that member.
fn remap_ids(s: &str, remap: &[(String, String)]) -> String {
    let mut out = s.to_string();
    for (from, to) in remap {
        if out.contains(from.as_str()) {
            out = out.replace(from.as_str(), to);
        }
    }
    out
}

/// Copies every file content the loaded `file_blobs` table names into the
/// new organization's store, checking each against its hash.
fn load_files<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    db_path: &Path,
    store: &Store,
) -> anyhow::Result<u64> {
    let conn = Connection::open(db_path)?;
    let mut stmt = conn.prepare("SELECT sha256, size FROM file_blobs ORDER BY sha256")?;
    let blobs = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut buf = vec![0u8; 64 * 1024];
    for (sha, size) in &blobs {
        if !valid_sha256(sha) {
            bail!("the archive's file_blobs names a file {sha:?}");
        }
        let mut entry = zip
            .by_name(&blob_file(sha))
            .with_context(|| format!("the archive does not hold the content of file {sha}"))?;
        let path: PathBuf = store.blob(sha);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = File::create(&path)?;
        let (mut hash, mut n) = (Sha256::new(), 0u64);
        loop {
            let got = entry.read(&mut buf)?;
            if got == 0 {
                break;
            }
            n += got as u64;
            if n > *size as u64 {
                bail!("the content of file {sha} is larger than file_blobs says");
            }
            hash.update(&buf[..got]);
            out.write_all(&buf[..got])?;
        }
        if hex::encode(hash.finalize()) != *sha || n != *size as u64 {
            bail!("the content of file {sha} is damaged in the archive");
        }
        out.sync_all()?;
    }
    // Thumbnails are not in the archive: the files job makes them again.
    conn.execute(
        "UPDATE file_blobs SET thumb = NULL WHERE thumb IS NOT NULL AND thumb <> ''",
        [],
    )?;
    Ok(blobs.len() as u64)
}

/// Upgrades the loaded database to this version's schema the way any
/// organization is upgraded, starts its audit log with the import, and
/// builds its search index.
fn finish_database(db_path: &Path, dir: &Path, imported: Entry) -> anyhow::Result<()> {
    let db = Db::open(db_path, Schema::Tenant, &DbOptions::new(false))?;
    db.write_blocking(move |c| {
        audit::record(c, &imported)?;
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let search = crate::search::TenantSearch::open(
        dir.join("index"),
        &db,
        crate::crm::tenant_hooks().sources,
    );
    search
        .rebuild(&db, &|_, _| {})
        .map_err(|e| anyhow::anyhow!("building the search index: {e}"))?;
    Ok(())
}
