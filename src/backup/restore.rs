//! Putting a backup back: a whole instance into an empty data directory, or
//! one organization into an existing instance (under its own slug or a new
//! one). Nothing is left half-restored: parts are written to a scratch place,
//! checked (checksums while streaming, then `integrity_check`), and only then
//! moved into place.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::{OptionalExtension, params};

use super::archive::{self, OrgEntry};
use super::{BackupKey, CONTROL_DB, Scratch, Summary};

fn write_part(root: &Path, path: &Path, data: &mut dyn Read) -> anyhow::Result<()> {
    let to = root.join(path);
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::File::create(&to).with_context(|| format!("writing {}", to.display()))?;
    std::io::copy(data, &mut f)?;
    f.sync_all()?;
    Ok(())
}

fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Restores a whole-instance backup into `target`, which must be empty or
/// missing.
pub fn instance(file: &Path, key: &BackupKey, target: &Path) -> anyhow::Result<Summary> {
    if !is_empty_dir(target)? {
        bail!(
            "{} is not empty: a whole instance is restored only into an empty data directory",
            target.display()
        );
    }
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    let scratch = Scratch::beside(&target.join("restore"), "restoring")?;
    let manifest = archive::read(file, key, |manifest, part, data| {
        if manifest.scope != "instance" {
            bail!("this backup holds one organization: restore it with --org into an instance");
        }
        write_part(&scratch.0, &archive::safe_path(&part.path)?, data)
    })?;
    for part in manifest.databases() {
        archive::integrity_check(&scratch.0.join(archive::safe_path(&part.path)?))?;
    }
    std::fs::create_dir_all(scratch.0.join("tenants"))?;
    // Everything checked: move it in, entry by entry (same file system).
    for entry in std::fs::read_dir(&scratch.0)? {
        let entry = entry?;
        std::fs::rename(entry.path(), target.join(entry.file_name()))?;
    }
    let bytes = std::fs::metadata(file)?.len();
    Ok(Summary { manifest, bytes })
}

/// Where one organization was restored.
pub struct OrgRestored {
    pub summary: Summary,
    pub slug: String,
    pub org_id: String,
    /// Members of the backup that exist here and were given their role back.
    pub members: usize,
    /// The organization's previous folder, kept when it was replaced.
    pub previous: Option<PathBuf>,
}

/// Restores one organization (by its slug in the backup) into the instance
/// at `data_dir`, as `new_slug` if given. The server must be stopped (or the
/// organization closed): its database files are replaced underneath it.
pub fn org(
    file: &Path,
    key: &BackupKey,
    data_dir: &Path,
    slug: &str,
    new_slug: Option<&str>,
) -> anyhow::Result<OrgRestored> {
    let control_path = data_dir.join(CONTROL_DB);
    if !control_path.exists() {
        bail!("{} holds no Harmonia instance", data_dir.display());
    }
    if let Some(s) = new_slug {
        check_slug(s)?;
    }
    let tenants = data_dir.join("tenants");
    let scratch = Scratch::beside(&tenants.join("restore"), "restoring")?;
    let mut chosen: Option<OrgEntry> = None;
    let manifest = archive::read(file, key, |manifest, part, data| {
        let org = match &chosen {
            Some(o) => o.clone(),
            None => {
                let found = manifest.orgs.iter().find(|o| o.slug == slug).cloned();
                let Some(o) = found else {
                    bail!("the backup holds no organization with the slug {slug}");
                };
                chosen = Some(o.clone());
                o
            }
        };
        match part.path.strip_prefix(&format!("tenants/{}/", org.id)) {
            Some(rest) => write_part(&scratch.0, &archive::safe_path(rest)?, data),
            None => Ok(()),
        }
    })?;
    let org = chosen
        .or_else(|| manifest.orgs.iter().find(|o| o.slug == slug).cloned())
        .ok_or_else(|| anyhow::anyhow!("the backup holds no organization with the slug {slug}"))?;
    archive::integrity_check(&scratch.0.join("crm.db"))?;

    let target_slug = new_slug.unwrap_or(slug).to_string();
    let mut control = archive::open_existing(&control_path)?;
    let existing: Option<String> = control
        .query_row("SELECT id FROM orgs WHERE slug = ?1", [&target_slug], |r| {
            r.get(0)
        })
        .optional()?;
    let (org_id, previous, members) = match existing {
        Some(id) if new_slug.is_none() && id == org.id => {
            // The same organization, put back as it was: keep the current
            // folder aside rather than delete anything.
            let dir = tenants.join(&id);
            let aside = tenants.join(format!("{id}.before-restore-{}", crate::clock::new_id()));
            if dir.exists() {
                std::fs::rename(&dir, &aside)?;
            }
            std::fs::rename(&scratch.0, &dir)?;
            (id, Some(aside), 0)
        }
        Some(_) => bail!("the slug {target_slug} is taken here: choose another with --as NEW_SLUG"),
        None => {
            let id_taken: bool = control.query_row(
                "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)",
                [&org.id],
                |r| r.get(0),
            )?;
            let id = if id_taken || tenants.join(&org.id).exists() {
                uuid::Uuid::now_v7().to_string()
            } else {
                org.id.clone()
            };
            std::fs::rename(&scratch.0, tenants.join(&id))?;
            let members = insert_org(&mut control, &id, &target_slug, &org)?;
            (id, None, members)
        }
    };
    let bytes = std::fs::metadata(file)?.len();
    Ok(OrgRestored {
        summary: Summary { manifest, bytes },
        slug: target_slug,
        org_id,
        members,
        previous,
    })
}

/// The organization's control-plane row, and the memberships of those of its
/// members who have an account here.
fn insert_org(
    control: &mut rusqlite::Connection,
    id: &str,
    slug: &str,
    org: &OrgEntry,
) -> anyhow::Result<usize> {
    let tx = control.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO orgs (id, slug, name, default_country, created_at, default_currency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            slug,
            org.name,
            org.default_country,
            org.created_at,
            org.default_currency
        ],
    )?;
    let mut members = 0;
    for (email, role) in &org.members {
        members += tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at, status)
             SELECT ?1, id, ?3, ?4, 'active' FROM users WHERE email = ?2",
            params![id, email, role, crate::clock::now_stamp()],
        )?;
    }
    tx.commit()?;
    Ok(members)
}

fn check_slug(slug: &str) -> anyhow::Result<()> {
    let ok = (2..=48).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if !ok {
        bail!(
            "{slug:?} is not a valid slug: use 2–48 lower-case letters, digits and single hyphens"
        );
    }
    Ok(())
}
