//! Preparing the archives owners asked for, in the background, and removing
//! them when they expire. The request starts preparation at once; the
//! archives job looks every minute for any left `preparing` (a restart in
//! between) and for expired files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use super::Organization;
use super::store;
use super::write::{Source, write};
use crate::backup::{BackupKey, Scratch};
use crate::clock;
use crate::state::AppState;

/// Where an organization's archives are kept (beside a closed
/// organization's export, and erased with it).
pub fn dir(data_dir: &Path, org_id: &str) -> PathBuf {
    crate::platform::closure::export_dir(data_dir, org_id).join("archives")
}

/// One preparation at a time: a request and the job never write one twice,
/// and two organizations' exports don't compete for the disk.
static PREPARING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Prepares every archive still `preparing`.
pub async fn prepare_pending(state: &AppState) -> anyhow::Result<usize> {
    let _turn = PREPARING.lock().await;
    let pending = state.control.read(store::preparing).await?;
    let mut done = 0;
    for row in pending {
        let (org_id, id) = (row.org_id.clone(), row.archive.id.clone());
        let made = prepare_one(state, &org_id, &id).await;
        match made {
            Ok((name, size)) => {
                let now = clock::now();
                let (at, expires) = (
                    clock::stamp(now),
                    clock::stamp(now + time::Duration::days(store::KEPT_DAYS)),
                );
                let (id2, name2, oid) = (id.clone(), name.clone(), org_id.clone());
                let by = row.archive.requested_by.clone();
                let kept = state
                    .control
                    .write(move |c| {
                        let kept = store::ready(c, &id2, &name2, size, &at, &expires)?;
                        if kept {
                            // They may have left the page: the bell says it is ready.
                            let org = crate::platform::orgs::by_id(c, &oid)?;
                            let title = format!(
                                "The export of {} is ready to download",
                                org.map_or_else(|| "the organization".into(), |o| o.name)
                            );
                            crate::platform::notifications::notify_user(
                                c,
                                &oid,
                                &by,
                                "org_export_ready",
                                &id2,
                                &title,
                            )?;
                        }
                        Ok(kept)
                    })
                    .await?;
                if !kept {
                    // Its organization went (erased) while it was written.
                    let _ = std::fs::remove_file(dir(&state.config.data_dir, &org_id).join(name));
                }
                tracing::info!(org = %org_id, bytes = size, "organization archive is ready");
                done += 1;
            }
            Err(e) => {
                tracing::warn!(org = %org_id, error = ?e, "preparing an organization archive failed");
                let msg = format!("{e:#}");
                state
                    .control
                    .write(move |c| store::failed(c, &id, &msg))
                    .await?;
            }
        }
    }
    Ok(done)
}

/// Writes one archive: a consistent copy of the database, the archive made
/// from it in a scratch folder, then encrypted into place.
async fn prepare_one(state: &AppState, org_id: &str, id: &str) -> anyhow::Result<(String, i64)> {
    let oid = org_id.to_string();
    let (org, members) = state
        .control
        .read(move |c| {
            let org = crate::platform::orgs::by_id(c, &oid)?;
            Ok((org, store::members(c, &oid)?))
        })
        .await?;
    let org = org.context("the organization no longer exists")?;
    let organization = Organization {
        id: org.id.clone(),
        slug: org.slug.clone(),
        name: org.name.clone(),
        default_country: org.default_country.clone(),
        default_currency: org.default_currency.clone(),
        time_zone: org.time_zone.clone(),
        date_format: org.date_format.clone(),
        require_mfa: org.require_mfa,
        created_at: org.created_at.clone(),
    };
    let tenant_dir = state.tenants.dir(org_id);
    let out_dir = dir(&state.config.data_dir, org_id);
    let key_file = state.config.backup.key_file(&state.config.data_dir);
    let files = crate::crm::files::routes::store(state, org_id);
    let name = format!("{}-{}.zip.enc", org.slug, id);
    let file_name = name.clone();
    crate::backup::priority::run_in_background("org-archive", move || {
        std::fs::create_dir_all(&out_dir)?;
        let key = BackupKey::load(&key_file, true)?;
        let scratch = Scratch::beside(&out_dir.join(&file_name), "preparing")?;
        let db = scratch.0.join("crm.db");
        crate::backup::archive::scratch_copy(&tenant_dir.join("crm.db"), &db)?;
        let plain = scratch.0.join("archive.zip");
        write(
            &Source {
                db: &db,
                files: &files,
                organization,
                members,
            },
            &plain,
        )?;
        let size = std::fs::metadata(&plain)?.len();
        let part = scratch.0.join("archive.enc");
        let mut enc =
            crate::backup::crypt::EncryptWriter::new(std::fs::File::create(&part)?, &key)?;
        std::io::copy(&mut std::fs::File::open(&plain)?, &mut enc)?;
        enc.finish()?.sync_all()?;
        std::fs::rename(&part, out_dir.join(&file_name))?;
        Ok((file_name, size as i64))
    })
    .await
}

/// Removes expired archives (and failed requests a month old).
pub async fn purge_expired(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let (stamp, month_ago) = (
        clock::stamp(now),
        clock::stamp(now - time::Duration::days(30)),
    );
    let rows = state
        .control
        .read(move |c| store::expired(c, &stamp, &month_ago))
        .await?;
    let n = rows.len();
    for row in rows {
        if let Some(file) = &row.file {
            match std::fs::remove_file(dir(&state.config.data_dir, &row.org_id).join(file)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("removing an expired archive"),
            }
        }
        let id = row.archive.id.clone();
        state.control.write(move |c| store::forget(c, &id)).await?;
    }
    Ok(n)
}

/// The archives job.
pub async fn run_job(state: &AppState, now: OffsetDateTime) -> anyhow::Result<()> {
    let prepared = prepare_pending(state).await;
    purge_expired(state, now).await?;
    prepared.map(|_| ())
}
