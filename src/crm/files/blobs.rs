//! Files on disk, per organization: `tenants/<org>/files/blobs/<ab>/<sha256>`
//! (one per distinct content), `files/thumbs/<sha256>` (derived previews),
//! and `upload-tmp/` for uploads in progress (outside `files/`, so backups
//! never copy a half-written upload).
//!
//! An upload streams into a temporary file while it is hashed; the file is
//! renamed into place inside the write transaction that inserts its rows, so
//! a crash leaves at worst a blob without a row (or a temporary file), which
//! `collect` removes — never a row without its blob.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// Names this process's temporary files: any other process's are leftovers.
static BOOT: LazyLock<String> = LazyLock::new(crate::clock::new_id);

/// How many leading bytes are kept to sniff the type from.
const SNIFF_BYTES: usize = 8192;

/// An organization's file storage.
#[derive(Clone, Debug)]
pub struct Store {
    /// `tenants/<org-id>`
    pub org_dir: PathBuf,
    /// fsync blobs before they are moved into place (`--sync-full`).
    pub sync: bool,
}

impl Store {
    pub fn new(org_dir: PathBuf, sync: bool) -> Store {
        Store { org_dir, sync }
    }
    pub fn files_dir(&self) -> PathBuf {
        self.org_dir.join("files")
    }
    fn blobs_dir(&self) -> PathBuf {
        self.files_dir().join("blobs")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.org_dir.join("upload-tmp")
    }
    pub fn blob(&self, sha: &str) -> PathBuf {
        self.blobs_dir().join(&sha[..2.min(sha.len())]).join(sha)
    }
    pub fn thumb(&self, sha: &str) -> PathBuf {
        self.files_dir().join("thumbs").join(sha)
    }

    /// A new temporary file for an upload, removed when dropped unless kept.
    pub fn temp(&self) -> AppResult<Upload> {
        let dir = self.tmp_dir();
        std::fs::create_dir_all(&dir).map_err(io)?;
        let path = dir.join(format!("{}-{}", *BOOT, crate::clock::new_id()));
        let file = std::fs::File::create(&path).map_err(io)?;
        Ok(Upload {
            path,
            file: Some(std::io::BufWriter::with_capacity(256 * 1024, file)),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            placed: false,
        })
    }

    /// Moves a finished upload into place as the blob `sha` (called inside
    /// the write transaction that inserts its row). If the blob is already
    /// there the upload is simply dropped.
    pub fn place(&self, upload: &mut Upload, sha: &str) -> AppResult<()> {
        let to = self.blob(sha);
        if to.exists() {
            return Ok(());
        }
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::rename(&upload.path, &to).map_err(io)?;
        upload.placed = true;
        if self.sync
            && let Some(dir) = to.parent()
        {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

pub fn io(e: std::io::Error) -> AppError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        AppError::DiskFull
    } else {
        AppError::Internal(e.into())
    }
}

/// An upload being written: bytes go to the temporary file and the hash.
pub struct Upload {
    pub path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    hasher: Sha256,
    pub size: u64,
    /// The first bytes, to sniff the type from.
    pub head: Vec<u8>,
    placed: bool,
}

/// What a finished upload is.
#[derive(Clone, Debug)]
pub struct Finished {
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
}

impl Upload {
    pub fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(chunk).map_err(io),
            None => Err(AppError::Internal(anyhow::anyhow!(
                "upload already finished"
            ))),
        }
    }

    /// Flushes (and with `sync`, fsyncs) the file; its hash and sniffed type.
    pub fn finish(&mut self, sync: bool) -> AppResult<Finished> {
        let f = self
            .file
            .take()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("upload already finished")))?;
        let f = f.into_inner().map_err(|e| io(e.into_error()))?;
        if sync {
            f.sync_all().map_err(io)?;
        }
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(Finished {
            sha256: sha,
            size: self.size,
            content_type: sniff(&self.head).to_string(),
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.placed {
            self.file = None;
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The type of content from its first bytes; the client's word is never
/// taken. Text that is valid UTF-8 without control bytes is `text/plain`.
pub fn sniff(head: &[u8]) -> &'static str {
    if let Some(t) = infer::get(head) {
        return t.mime_type();
    }
    if head.is_empty() {
        return "application/octet-stream";
    }
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        // The head may end inside a character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(s)
            if s.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')) =>
        {
            let lower = s
                .trim_start()
                .get(..256.min(s.trim_start().len()))
                .unwrap_or("")
                .to_ascii_lowercase();
            if lower.starts_with("<?xml") || lower.starts_with("<svg") {
                "image/svg+xml"
            } else if lower.starts_with("<!doctype html")
                || lower.starts_with("<html")
                || lower.contains("<script")
            {
                "text/html"
            } else {
                "text/plain"
            }
        }
        _ => "application/octet-stream",
    }
}

/// Removes what no row accounts for: temporary files of earlier processes,
/// blobs and thumbnails whose content no blob row names. `live` answers
/// whether a sha256 has a row; it runs under the organization's writer so
/// no upload commits in between. How many files it removed.
pub fn collect(store: &Store, live: &dyn Fn(&str) -> AppResult<bool>) -> AppResult<usize> {
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(store.tmp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(BOOT.as_str()) && std::fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    for dir in [store.blobs_dir(), store.files_dir().join("thumbs")] {
        for path in walk(&dir) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let sha = name.split('.').next().unwrap_or("");
            if (!is_sha(sha) || !live(sha)?) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

pub fn is_sha(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(e.path()),
                Ok(t) if t.is_file() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_from_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(
            sniff(b"<!DOCTYPE html><script>alert(1)</script>"),
            "text/html"
        );
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            "image/svg+xml"
        );
        assert_eq!(sniff("plain words, caf\u{e9}".as_bytes()), "text/plain");
        assert_eq!(sniff(b"\x00\x01\x02"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }
}
