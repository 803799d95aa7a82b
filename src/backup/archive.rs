//! What a backup holds and how it is written and read back: a tar stream
//! (inside the encrypted container) whose first entry is `manifest.json`,
//! followed by every part it lists — consistent copies of the databases made
//! with SQLite's online backup API, and organizations' files. Reading checks
//! each part's size and SHA-256 against the manifest as it streams.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypt::{BackupKey, DecryptReader, EncryptWriter};

pub const MANIFEST: &str = "manifest.json";
const MANIFEST_MAX: u64 = 128 * 1024 * 1024;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub harmonia_version: String,
    pub created_at: String,
    /// `instance` (control database and every organization) or `org`.
    pub scope: String,
    pub orgs: Vec<OrgEntry>,
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgEntry {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub default_country: String,
    /// Backups made before organizations had a currency restore as USD.
    #[serde(default = "usd")]
    pub default_currency: String,
    pub created_at: String,
    /// Who belonged to it (email, role), to restore one organization
    /// into another instance.
    pub members: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Part {
    /// Path inside the data directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// `database` or `file`.
    pub kind: String,
    /// The last migration applied to a database.
    pub schema_version: Option<i64>,
}

impl Manifest {
    pub fn databases(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.kind == "database")
    }
}

/// Opens a database that must exist. Read and write flags even though only
/// reading follows: a read-only connection cannot open a WAL database whose
/// `-shm` file is missing (the server closed cleanly).
pub fn open_existing(path: &Path) -> anyhow::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    c.busy_timeout(Duration::from_secs(10))?;
    Ok(c)
}

/// A consistent copy of a live database, made with SQLite's online backup
/// API in one step: the reader's snapshot holds for the whole copy, and in
/// WAL mode writers carry on meanwhile.
pub fn snapshot(src: &Path, dst: &Path) -> anyhow::Result<()> {
    copy_live(src, dst, true)
}

/// A copy like [`snapshot`] that is never synced to disk: for a scratch
/// copy read once into an archive (which is synced). Syncing it too would
/// flush the whole database to disk a second time, stalling the server's
/// own commits behind it.
pub fn scratch_copy(src: &Path, dst: &Path) -> anyhow::Result<()> {
    copy_live(src, dst, false)
}

fn copy_live(src: &Path, dst: &Path, durable: bool) -> anyhow::Result<()> {
    let from = open_existing(src)?;
    let mut to = Connection::open(dst).with_context(|| format!("creating {}", dst.display()))?;
    if !durable {
        to.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    }
    let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
    for _ in 0..200 {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => return Ok(()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    bail!("{} stayed locked; could not copy it", src.display())
}

pub fn schema_version(db: &Path) -> anyhow::Result<Option<i64>> {
    let c = open_existing(db)?;
    let has_history: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'refinery_schema_history')",
        [],
        |r| r.get(0),
    )?;
    if !has_history {
        return Ok(None);
    }
    Ok(c.query_row(
        "SELECT MAX(version) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )?)
}

/// `PRAGMA integrity_check` on a database file; Err names what is wrong.
pub fn integrity_check(db: &Path) -> anyhow::Result<()> {
    let c = open_existing(db)?;
    let result: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if result != "ok" {
        bail!("{} failed its integrity check: {result}", db.display());
    }
    Ok(())
}

fn usd() -> String {
    "USD".into()
}

/// The organizations in a control database, with their members.
pub fn read_orgs(control: &Path) -> anyhow::Result<Vec<OrgEntry>> {
    let c = open_existing(control)?;
    let mut stmt =
        c.prepare("SELECT id, slug, name, default_country, created_at, default_currency FROM orgs ORDER BY slug")?;
    let mut orgs = stmt
        .query_map([], |r| {
            Ok(OrgEntry {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                default_country: r.get(3)?,
                created_at: r.get(4)?,
                default_currency: r.get(5)?,
                members: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut members = c.prepare(
        "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.status = 'active' ORDER BY u.email",
    )?;
    for org in &mut orgs {
        org.members = members
            .query_map([&org.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(orgs)
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hashing = Hashing {
        inner: &mut f,
        hash: Sha256::new(),
        size: 0,
    };
    io::copy(&mut hashing, &mut io::sink())?;
    Ok((hashing.size, hex::encode(hashing.hash.finalize())))
}

/// A part and where its bytes are read from while writing the archive.
pub struct Source {
    pub part: Part,
    pub from: PathBuf,
}

impl Source {
    pub fn database(path: &str, from: PathBuf) -> anyhow::Result<Source> {
        let (size, sha256) = hash_file(&from)?;
        Ok(Source {
            part: Part {
                path: path.to_string(),
                size,
                sha256,
                kind: "database".into(),
                schema_version: schema_version(&from)?,
            },
            from,
        })
    }

    pub fn file(path: &str, from: PathBuf) -> anyhow::Result<Source> {
        let (size, sha256) = hash_file(&from)?;
        Ok(Source {
            part: Part {
                path: path.to_string(),
                size,
                sha256,
                kind: "file".into(),
                schema_version: None,
            },
            from,
        })
    }
}

/// Writes the encrypted archive to `out`: the manifest, then every source.
pub fn write(
    out: &Path,
    key: &BackupKey,
    manifest: &Manifest,
    sources: &[Source],
) -> anyhow::Result<u64> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let sealed = EncryptWriter::new(BufWriter::with_capacity(256 * 1024, file), key)?;
    let mut tar = tar::Builder::new(sealed);
    let json = serde_json::to_vec_pretty(manifest)?;
    append(&mut tar, MANIFEST, json.len() as u64, &mut json.as_slice())?;
    for s in sources {
        let mut f = File::open(&s.from).with_context(|| format!("reading {}", s.from.display()))?;
        // Exactly the bytes hashed: a file that grew since is cut to size
        // and then fails verification rather than passing unchecked.
        append(
            &mut tar,
            &s.part.path,
            s.part.size,
            &mut (&mut f).take(s.part.size),
        )?;
    }
    let sealed = tar.into_inner()?;
    let file = sealed.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: &mut dyn Read,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data)
        .with_context(|| format!("adding {path} to the backup"))
}

/// A part's path made safe to join to a directory: relative, no `..`.
pub fn safe_path(path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("the backup names an unsafe path {path:?}");
    }
    Ok(p.to_path_buf())
}

/// Reads an archive, handing each part's bytes to `sink` (which may write
/// them somewhere or ignore them) and checking sizes and checksums. Returns
/// the manifest once every part has been seen and matched.
pub fn read(
    file: &Path,
    key: &BackupKey,
    mut sink: impl FnMut(&Manifest, &Part, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<Manifest> {
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let plain = DecryptReader::new(BufReader::with_capacity(256 * 1024, f), key)?;
    let mut archive = tar::Archive::new(plain);
    let mut entries = archive.entries().map_err(explain)?;
    let mut first = entries
        .next()
        .ok_or_else(|| anyhow::anyhow!("the backup is empty"))?
        .map_err(explain)?;
    if first.path().map_err(explain)?.to_str() != Some(MANIFEST) {
        bail!("the backup does not start with its manifest");
    }
    let mut json = Vec::new();
    (&mut first)
        .take(MANIFEST_MAX)
        .read_to_end(&mut json)
        .map_err(explain)?;
    drop(first);
    let manifest: Manifest =
        serde_json::from_slice(&json).context("the backup's manifest is unreadable")?;
    if manifest.format != 1 {
        bail!(
            "this backup's manifest has format {}, which this version cannot read",
            manifest.format
        );
    }
    for p in &manifest.parts {
        safe_path(&p.path)?;
    }
    let mut seen = vec![false; manifest.parts.len()];
    for entry in entries {
        let mut entry = entry.map_err(explain)?;
        let path = entry
            .path()
            .map_err(explain)?
            .to_string_lossy()
            .into_owned();
        let Some(i) = manifest.parts.iter().position(|p| p.path == path) else {
            bail!("the backup holds {path}, which its manifest does not list");
        };
        if std::mem::replace(&mut seen[i], true) {
            bail!("the backup holds {path} twice");
        }
        let part = &manifest.parts[i];
        let mut hashing = Hashing {
            inner: &mut entry,
            hash: Sha256::new(),
            size: 0,
        };
        sink(&manifest, part, &mut hashing)?;
        io::copy(&mut hashing, &mut io::sink()).map_err(explain)?;
        let (size, sha) = (hashing.size, hex::encode(hashing.hash.finalize()));
        if size != part.size || sha != part.sha256 {
            bail!("{path} does not match its checksum in the manifest: the backup was altered");
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        bail!(
            "the backup is incomplete: {} is missing",
            manifest.parts[i].path
        );
    }
    Ok(manifest)
}

/// tar reports our decryption errors inside its own; keep ours in front.
fn explain(e: io::Error) -> anyhow::Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("damaged") || text.contains("truncated") {
            return anyhow::anyhow!("{text}");
        }
        source = s.source();
    }
    anyhow::anyhow!("the backup cannot be read: {e}")
}

struct Hashing<'a, R: Read> {
    inner: &'a mut R,
    hash: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
