//! Encrypted backups made while the server runs, verified and restored.
//!
//! A backup is one file: an AES-256-GCM STREAM container (`crypt`) around a
//! tar stream (`archive`) holding a manifest and consistent copies of the
//! control database and every organization's database (SQLite's online
//! backup API), plus organizations' files. Search indexes are left out: they
//! are rebuilt from the databases. The key lives in a file outside the
//! databases; without it a backup cannot be read.
//!
//! This module works on paths only; it knows the data directory's layout
//! (`harmonia.db`, `tenants/<org-id>/crm.db`, `tenants/<org-id>/files/`)
//! but no feature of the server.

pub mod archive;
pub mod crypt;
pub mod priority;
pub mod restore;
pub mod scheduled;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub use archive::Manifest;
pub use crypt::BackupKey;

use archive::Source;

pub const CONTROL_DB: &str = "harmonia.db";

/// The default key file: beside the databases, never inside them.
pub fn default_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("backup.key")
}

/// What a backup or a verification found, for the terminal and the job log.
pub struct Summary {
    pub manifest: Manifest,
    /// The encrypted file's size.
    pub bytes: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.manifest;
        let plain: u64 = m.parts.iter().map(|p| p.size).sum();
        write!(
            f,
            "{} backup of {} organization(s) made {} by Harmonia {}: {} database(s), {} file(s), {} bytes ({} encrypted)",
            m.scope,
            m.orgs.len(),
            m.created_at,
            m.harmonia_version,
            m.databases().count(),
            m.parts.len() - m.databases().count(),
            plain,
            self.bytes
        )
    }
}

/// A scratch directory next to `near`, removed when dropped.
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub fn beside(near: &Path, what: &str) -> anyhow::Result<Scratch> {
        let dir = near.with_file_name(format!(
            ".{}.{what}-{}",
            near.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("harmonia"),
            crate::clock::new_id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Backs up the instance (or one organization, by slug) from `data_dir` into
/// `out`. Safe while the server runs. The file appears only when complete.
pub fn create(
    data_dir: &Path,
    out: &Path,
    key: &BackupKey,
    only_org: Option<&str>,
) -> anyhow::Result<Summary> {
    let control = data_dir.join(CONTROL_DB);
    if !control.exists() {
        bail!("{} holds no Harmonia data", data_dir.display());
    }
    let mut orgs = archive::read_orgs(&control)?;
    if let Some(slug) = only_org {
        orgs.retain(|o| o.slug == slug);
        if orgs.is_empty() {
            bail!("no organization with the slug {slug}");
        }
    }
    let scratch = Scratch::beside(out, "parts")?;
    let mut sources = Vec::new();
    if only_org.is_none() {
        let copy = scratch.0.join(CONTROL_DB);
        archive::scratch_copy(&control, &copy)?;
        sources.push(Source::database(CONTROL_DB, copy)?);
    }
    for org in &orgs {
        let dir = data_dir.join("tenants").join(&org.id);
        let copy = scratch.0.join(format!("{}.db", org.id));
        archive::scratch_copy(&dir.join("crm.db"), &copy)
            .with_context(|| format!("copying organization {}", org.slug))?;
        sources.push(Source::database(
            &format!("tenants/{}/crm.db", org.id),
            copy,
        )?);
        let files = dir.join("files");
        if files.is_dir() {
            for (rel, path) in walk(&files)? {
                sources.push(Source::file(
                    &format!("tenants/{}/files/{rel}", org.id),
                    path,
                )?);
            }
        }
    }
    let manifest = Manifest {
        format: 1,
        harmonia_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: crate::clock::now_stamp(),
        scope: if only_org.is_some() {
            "org"
        } else {
            "instance"
        }
        .to_string(),
        orgs,
        parts: sources.iter().map(|s| s.part.clone()).collect(),
    };
    let partial = out.with_file_name(format!(
        "{}.partial",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("backup")
    ));
    let bytes = match archive::write(&partial, key, &manifest, &sources) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, out)
        .with_context(|| format!("moving the backup to {}", out.display()))?;
    Ok(Summary { manifest, bytes })
}

/// Every regular file under `root`, with its `/`-separated relative path.
fn walk(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(root)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((rel, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Decrypts the whole backup, checks every part against the manifest and
/// runs `PRAGMA integrity_check` on a copy of each database.
pub fn verify(file: &Path, key: &BackupKey) -> anyhow::Result<Summary> {
    let scratch = Scratch::beside(&std::env::temp_dir().join("harmonia"), "verify")?;
    let mut databases = Vec::new();
    let manifest = archive::read(file, key, |_, part, data| {
        if part.kind == "database" {
            let to = scratch.0.join(format!("{}.db", databases.len()));
            let mut f = std::fs::File::create(&to)?;
            std::io::copy(data, &mut f)?;
            databases.push((part.path.clone(), to));
        }
        Ok(())
    })?;
    for (name, path) in &databases {
        archive::integrity_check(path).with_context(|| format!("checking {name}"))?;
    }
    let bytes = std::fs::metadata(file)?.len();
    Ok(Summary { manifest, bytes })
}
