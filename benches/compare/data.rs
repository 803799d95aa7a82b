//! The data every system gets: organizations made by `harmonia demo` (cached
//! between runs, the generator is deterministic), and their contacts read back
//! so PocketBase, TrailBase and the raw-SQLite baseline receive the very same
//! rows.

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A contact as the demo generator wrote it, in API terms.
#[derive(Clone)]
pub struct DemoContact {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub sort_name: String,
    pub emails_json: String,
    pub phones_json: String,
    pub job_title: Option<String>,
    pub company: Option<String>,
    pub stage: String,
    pub source: Option<String>,
}

impl DemoContact {
    /// The create body both APIs accept (PocketBase adds its `org` and `sort_name`).
    pub fn create_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("first_name".into(), self.first_name.clone().into());
        m.insert("last_name".into(), self.last_name.clone().into());
        let emails: serde_json::Value =
            serde_json::from_str(&self.emails_json).unwrap_or(serde_json::Value::Null);
        let phones: serde_json::Value =
            serde_json::from_str(&self.phones_json).unwrap_or(serde_json::Value::Null);
        m.insert("emails".into(), emails);
        m.insert("phones".into(), phones);
        if let Some(t) = &self.job_title {
            m.insert("job_title".into(), t.clone().into());
        }
        m.insert("stage".into(), self.stage.clone().into());
        if let Some(s) = &self.source {
            m.insert("source".into(), s.clone().into());
        }
        m
    }
}

/// A data directory holding the demo organization with `contacts` contacts.
pub struct Dataset {
    pub dir: PathBuf,
    pub contacts: usize,
}

impl Dataset {
    /// The demo organization's database file.
    pub fn tenant_db(&self) -> anyhow::Result<PathBuf> {
        tenant_db(&self.dir)
    }
    /// The demo organization's folder (database and index).
    pub fn tenant_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self
            .tenant_db()?
            .parent()
            .context("tenant database without a folder")?
            .to_path_buf())
    }
}

/// Makes (or reuses) the demo data set of `contacts` contacts under `cache`.
pub fn ensure(bin: &Path, cache: &Path, contacts: usize) -> anyhow::Result<Dataset> {
    let dir = cache.join(format!("demo-{contacts}"));
    let ready = dir.join("bench-ready");
    if !ready.exists() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        eprintln!(
            "generating the demo organization with {contacts} contacts in {}",
            dir.display()
        );
        let status = Command::new(bin)
            .arg("--data-dir")
            .arg(&dir)
            .args(["demo", "--no-serve", "--contacts", &contacts.to_string()])
            .env("HARMONIA_LOG", "warn")
            .status()
            .context("running harmonia demo")?;
        if !status.success() {
            bail!("harmonia demo failed ({status})");
        }
        std::fs::write(&ready, "")?;
    }
    migrate(bin, &dir)?;
    Ok(Dataset { dir, contacts })
}

/// Brings a cached data set to `bin`'s schema before any run copies it.
/// Otherwise a build with a new migration migrates every copy as it starts
/// — a snapshot of the whole database, then the migration's own work — and
/// the first scenario shares the core with that (it took a fifth off the
/// get rate, 2026-12-06). The snapshots it leaves go: every run copies the
/// data set. A data set migrated by a newer build cannot be opened by this
/// one; that is said, with what to do.
fn migrate(bin: &Path, dir: &Path) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .arg("migrate")
        .env("HARMONIA_LOG", "warn")
        .output()
        .context("running harmonia migrate")?;
    if !out.status.success() {
        bail!(
            "{} cannot bring the cached data set {} to its schema (a newer build may have \
             migrated it; give this build another --cache): {}",
            bin.display(),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut folders = vec![dir.to_path_buf()];
    if let Ok(tenants) = std::fs::read_dir(dir.join("tenants")) {
        folders.extend(tenants.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    for folder in folders {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let is_snapshot = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".pre-migration-"));
            if is_snapshot {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Copies a data set (for scenarios that write), keeping the cached one intact.
pub fn copy(from: &Dataset, to: &Path) -> anyhow::Result<Dataset> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    let status = Command::new("cp")
        .arg("-a")
        .arg(&from.dir)
        .arg(to)
        .status()?;
    if !status.success() {
        bail!("copying {} failed", from.dir.display());
    }
    Ok(Dataset {
        dir: to.to_path_buf(),
        contacts: from.contacts,
    })
}

fn tenant_db(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let tenants = data_dir.join("tenants");
    for entry in std::fs::read_dir(&tenants).with_context(|| tenants.display().to_string())? {
        let db = entry?.path().join("crm.db");
        if db.exists() {
            return Ok(db);
        }
    }
    bail!("no organization database under {}", tenants.display())
}

/// Reads contacts (at most `limit`) in id order.
pub fn read_contacts(db: &Path, limit: usize) -> anyhow::Result<Vec<DemoContact>> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT c.id, c.first_name, c.last_name, c.sort_name, c.emails, c.phones, c.job_title,
                co.name, c.stage, c.source
         FROM contacts c LEFT JOIN companies co ON co.id = c.company_id
         WHERE c.deleted_at IS NULL ORDER BY c.id LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit as i64], |r| {
            Ok(DemoContact {
                id: r.get(0)?,
                first_name: r.get(1)?,
                last_name: r.get(2)?,
                sort_name: r.get(3)?,
                emails_json: r.get(4)?,
                phones_json: r.get(5)?,
                job_title: r.get(6)?,
                company: r.get(7)?,
                stage: r.get(8)?,
                source: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Search words drawn from the data: 3-letter prefixes, whole last names, and
/// those names with one letter changed (a typo).
pub struct Words {
    pub prefixes: Vec<String>,
    pub words: Vec<String>,
    pub typos: Vec<String>,
}

impl Words {
    /// The words a search scenario draws from.
    pub fn of(&self, s: crate::Scenario) -> &[String] {
        match s {
            crate::Scenario::SearchWord => &self.words,
            crate::Scenario::SearchTypo => &self.typos,
            _ => &self.prefixes,
        }
    }
}

/// The body of an update scenario, the same for every system: a new job
/// title (`Update`: searched text) or a new stage (`StageUpdate`: a column
/// Harmonia's search does not read, the commonest change in a CRM).
pub fn patch_of(s: crate::Scenario) -> fn(&mut crate::load::Rng) -> bytes::Bytes {
    match s {
        crate::Scenario::StageUpdate => stage_patch,
        _ => job_title_patch,
    }
}

fn stage_patch(rng: &mut crate::load::Rng) -> bytes::Bytes {
    const STAGES: [&str; 4] = ["lead", "prospect", "customer", "former_customer"];
    serde_json::json!({"stage": rng.pick(&STAGES)})
        .to_string()
        .into()
}

fn job_title_patch(rng: &mut crate::load::Rng) -> bytes::Bytes {
    const TITLES: [&str; 4] = [
        "Account Manager",
        "Head of Sales",
        "Buyer",
        "Office Manager",
    ];
    serde_json::json!({"job_title": rng.pick(&TITLES)})
        .to_string()
        .into()
}

pub fn words(contacts: &[DemoContact]) -> Words {
    let mut names: Vec<String> = contacts
        .iter()
        .map(|c| c.last_name.to_lowercase())
        .filter(|n| n.chars().count() >= 5 && n.chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    names.sort();
    names.dedup();
    let prefixes = {
        let mut p: Vec<String> = names.iter().map(|n| n[..3].to_string()).collect();
        p.dedup();
        p
    };
    let typos = names
        .iter()
        .map(|n| {
            // Swap the third letter for another: one substitution, like a slip.
            let mut b = n.clone().into_bytes();
            b[2] = if b[2] == b'x' { b'y' } else { b'x' };
            String::from_utf8(b).unwrap_or_default()
        })
        .collect();
    Words {
        prefixes,
        words: names,
        typos,
    }
}
