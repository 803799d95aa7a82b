//! The daily backup job's work: a backup of the whole instance into the
//! backup directory, named by its time, and removal of those past retention.

use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{BackupKey, Summary};

const NAME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("harmonia-[year][month][day]T[hour][minute][second]Z.hbk");

/// Where and how scheduled backups are kept.
#[derive(Clone, Debug)]
pub struct Plan {
    pub data_dir: PathBuf,
    pub dir: PathBuf,
    pub key_file: PathBuf,
    pub keep_days: u32,
}

/// Makes today's backup, then deletes the backups older than the retention.
/// Running it twice makes two backups, which is harmless.
pub fn run(plan: &Plan, now: OffsetDateTime) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(&plan.dir)
        .with_context(|| format!("creating the backup directory {}", plan.dir.display()))?;
    let key = BackupKey::load(&plan.key_file, true)?;
    let name = now.format(NAME).context("naming the backup")?;
    let summary = super::create(&plan.data_dir, &plan.dir.join(name), &key, None)?;
    let removed = prune(
        &plan.dir,
        now - time::Duration::days(i64::from(plan.keep_days.max(1))),
    )?;
    if removed > 0 {
        tracing::info!(removed, "removed backups past their retention");
    }
    Ok(summary)
}

/// Removes scheduled backups (by the time in their name) made before
/// `cutoff`; other files in the directory are left alone.
pub fn prune(dir: &Path, cutoff: OffsetDateTime) -> anyhow::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(made) = name
            .to_str()
            .and_then(|n| time::PrimitiveDateTime::parse(n, NAME).ok())
            .map(|t| t.assume_utc())
        else {
            continue;
        };
        if made < cutoff {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn only_old_scheduled_backups_are_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        for name in [
            "harmonia-20260101T030000Z.hbk",
            "harmonia-20260301T030000Z.hbk",
            "my-own-backup.hbk",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let removed = prune(dir.path(), datetime!(2026-02-01 00:00 UTC)).expect("prune");
        assert_eq!(removed, 1);
        assert!(!dir.path().join("harmonia-20260101T030000Z.hbk").exists());
        assert!(dir.path().join("harmonia-20260301T030000Z.hbk").exists());
        assert!(dir.path().join("my-own-backup.hbk").exists());
    }
}
