//! The secrets vault: credentials Harmonia keeps for other systems (webhook
//! signing secrets) and the keys of people's authenticator apps are stored
//! encrypted with AES-256-GCM under a 256-bit master key that lives in a
//! file — never in a database, never in a log, not in backups. Each value's
//! associated data names its organization and purpose, so a ciphertext
//! copied to another organization or another use fails to decrypt. Every
//! value records the id of the key that sealed it (the first 8 bytes of the
//! key's SHA-256): a server given the wrong key, or none, refuses to start
//! instead of failing later, and `harmonia rotate-key`
//! can be re-run after a crash. The SQL of the `secrets` table (control
//! database) lives here too.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::clock;
use crate::db::{Db, DbOptions, Schema};
use crate::error::{AppError, AppResult};

/// Where the master key lives unless `--master-key-file` says otherwise.
pub fn default_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

/// The organization id of platform secrets.
pub const PLATFORM: &str = "";

/// 32 random bytes, kept as 64 hex digits in a file of mode 0600.
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let digest = Sha256::digest(bytes);
        MasterKey {
            id: hex::encode(&digest[..8]),
            bytes: Zeroizing::new(bytes),
        }
    }

    /// The key's public fingerprint, stored with every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads a key file; None when there is none.
    pub fn read(path: &Path) -> anyhow::Result<Option<MasterKey>> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let raw = Zeroizing::new(hex::decode(text.trim()).unwrap_or_default());
                if raw.len() != 32 {
                    bail!(
                        "{} is not a master key (64 hexadecimal digits expected)",
                        path.display()
                    );
                }
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&raw);
                Ok(Some(MasterKey::from_bytes(bytes)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading the master key {}", path.display())),
        }
    }

    /// A fresh random key (not yet written anywhere).
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        MasterKey::from_bytes(bytes)
    }

    /// Writes the key to a new file, mode 0600, never overwriting one.
    pub fn create_file(&self, path: &Path) -> anyhow::Result<()> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(path)
            .with_context(|| format!("creating the master key {}", path.display()))?;
        f.write_all(Zeroizing::new(format!("{}\n", hex::encode(*self.bytes))).as_bytes())?;
        f.sync_all()?;
        Ok(())
    }

    /// Puts this key in place of the file at `path` in one rename (a crash
    /// leaves either the old key or the new one, never half of either).
    pub fn replace_file(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        self.create_file(&tmp)?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("replacing the master key {}", path.display()))?;
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.bytes).into())
    }
}

/// The associated data of a value: its organization and purpose.
fn associated(org_id: &str, purpose: &str) -> Vec<u8> {
    format!("harmonia-vault-1\0{org_id}\0{purpose}").into_bytes()
}

fn seal(key: &MasterKey, org_id: &str, purpose: &str, plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut nonce = [0u8; 12];
    rand::fill(&mut nonce[..]);
    let mut buf = plain.to_vec();
    // Encrypting a short in-memory value cannot fail (only absurd lengths can).
    let _ = key
        .cipher()
        .encrypt_in_place(&nonce.into(), &associated(org_id, purpose), &mut buf);
    (nonce.to_vec(), buf)
}

fn unseal(
    key: &MasterKey,
    org_id: &str,
    purpose: &str,
    nonce: &[u8],
    ct: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let mut buf = Zeroizing::new(ct.to_vec());
    key.cipher()
        .decrypt_in_place(&nonce.into(), &associated(org_id, purpose), &mut *buf)
        .ok()?;
    Some(buf)
}

/// A stored value as read back: whose, for what, under which key.
struct Sealed {
    org_id: String,
    purpose: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn sealed_from(r: &rusqlite::Row, first: usize) -> rusqlite::Result<Sealed> {
    Ok(Sealed {
        org_id: r.get(first)?,
        purpose: r.get(first + 1)?,
        key_id: r.get(first + 2)?,
        nonce: r.get(first + 3)?,
        ciphertext: r.get(first + 4)?,
    })
}

/// The vault of a running server: the master key and where it came from.
pub struct Vault {
    key: MasterKey,
    path: PathBuf,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({}, {})", self.key.id, self.path.display())
    }
}

/// How many secrets each key id sealed.
pub fn key_ids(conn: &Connection) -> AppResult<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare("SELECT key_id, count(*) FROM secrets GROUP BY key_id ORDER BY key_id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Why the key at `path` cannot open the secrets stored (None: it can).
pub fn mismatch(key: Option<&MasterKey>, path: &Path, ids: &[(String, i64)]) -> Option<String> {
    let total: i64 = ids.iter().map(|(_, n)| n).sum();
    match key {
        None if total > 0 => Some(format!(
            "the master key {} is missing, but {total} secret(s) are encrypted with key {}: \
             restore the key file from where you keep its copy (or point HARMONIA_MASTER_KEY_FILE at it); \
             without it webhook secrets and authenticator app keys cannot be read",
            path.display(),
            ids.iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
        Some(k) => {
            let others: Vec<String> = ids
                .iter()
                .filter(|(id, _)| id != k.id())
                .map(|(id, n)| format!("{n} with key {id}"))
                .collect();
            (!others.is_empty()).then(|| {
                format!(
                    "the master key {} (key {}) is not the key the secrets were encrypted with ({}): \
                     give the right key with HARMONIA_MASTER_KEY_FILE, or, if `harmonia rotate-key` \
                     was interrupted, run it again with the same --new-key-file",
                    path.display(),
                    k.id(),
                    others.join(", ")
                )
            })
        }
    }
}

impl Vault {
    /// Loads the master key (creating it when missing and no secret exists
    /// yet) and checks that it opens every stored secret's key id; the server
    /// refuses to start otherwise.
    pub fn open(path: &Path, control: &Db) -> anyhow::Result<Vault> {
        let ids = control
            .read_blocking(key_ids)
            .map_err(|e| anyhow::anyhow!("reading the vault: {e}"))?;
        let key = MasterKey::read(path)?;
        if let Some(problem) = mismatch(key.as_ref(), path, &ids) {
            bail!("{problem}");
        }
        let key = match key {
            Some(k) => k,
            None => {
                let k = MasterKey::generate();
                k.create_file(path)?;
                tracing::warn!(key = %path.display(),
                    "created the vault's master key: keep a copy somewhere safe, backups do not contain it");
                k
            }
        };
        Ok(Vault {
            key,
            path: path.to_path_buf(),
        })
    }

    pub fn key_id(&self) -> &str {
        self.key.id()
    }

    pub fn key_file(&self) -> &Path {
        &self.path
    }

    /// Stores a new secret of `org_id` for `purpose`; returns its id.
    pub fn put(
        &self,
        tx: &Connection,
        org_id: &str,
        purpose: &str,
        plain: &str,
    ) -> AppResult<String> {
        self.insert(tx, org_id, purpose, plain, &last4(plain))
    }

    /// Stores a new secret no answer ever shows a part of (an authenticator
    /// app's key: its last four characters would be 20 of its 160 bits).
    pub fn put_unshown(
        &self,
        tx: &Connection,
        org_id: &str,
        purpose: &str,
        plain: &str,
    ) -> AppResult<String> {
        self.insert(tx, org_id, purpose, plain, "")
    }

    fn insert(
        &self,
        tx: &Connection,
        org_id: &str,
        purpose: &str,
        plain: &str,
        shown: &str,
    ) -> AppResult<String> {
        let id = clock::new_id();
        let (nonce, ct) = seal(&self.key, org_id, purpose, plain.as_bytes());
        tx.execute(
            "INSERT INTO secrets (id, org_id, purpose, key_id, nonce, ciphertext, last4, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, org_id, purpose, self.key.id(), nonce, ct, shown, clock::now_stamp()],
        )?;
        Ok(id)
    }

    /// Replaces a secret's value in place (its id stays).
    pub fn replace(
        &self,
        tx: &Connection,
        id: &str,
        org_id: &str,
        purpose: &str,
        plain: &str,
    ) -> AppResult<()> {
        let (nonce, ct) = seal(&self.key, org_id, purpose, plain.as_bytes());
        let n = tx.execute(
            "UPDATE secrets SET key_id = ?4, nonce = ?5, ciphertext = ?6, last4 = ?7, rotated_at = ?8
             WHERE id = ?1 AND org_id = ?2 AND purpose = ?3",
            params![id, org_id, purpose, self.key.id(), nonce, ct, last4(plain), clock::now_stamp()],
        )?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// The plaintext of a secret — only when it belongs to `org_id` and was
    /// sealed for `purpose`. A value moved elsewhere fails authentication.
    pub fn reveal(
        &self,
        conn: &Connection,
        id: &str,
        org_id: &str,
        purpose: &str,
    ) -> AppResult<Zeroizing<String>> {
        let row: Option<Sealed> = conn
            .prepare_cached(
                "SELECT org_id, purpose, key_id, nonce, ciphertext FROM secrets WHERE id = ?1",
            )?
            .query_row([id], |r| sealed_from(r, 0))
            .optional()?;
        let Some(Sealed {
            org_id: row_org,
            purpose: row_purpose,
            key_id,
            nonce,
            ciphertext: ct,
        }) = row
        else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "secret {id} is missing"
            )));
        };
        if row_org != org_id || row_purpose != purpose {
            return Err(AppError::Internal(anyhow::anyhow!(
                "secret {id} belongs to another organization or purpose"
            )));
        }
        if key_id != self.key.id() {
            return Err(AppError::Internal(anyhow::anyhow!(
                "secret {id} was sealed by key {key_id}, not the loaded master key"
            )));
        }
        let plain = unseal(&self.key, org_id, purpose, &nonce, &ct).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "secret {id} does not decrypt for this organization and purpose"
            ))
        })?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("secret {id} is not text")))
    }

    /// Forgets a secret of `org_id`.
    pub fn delete(tx: &Connection, id: &str, org_id: &str) -> AppResult<()> {
        tx.execute(
            "DELETE FROM secrets WHERE id = ?1 AND org_id = ?2",
            params![id, org_id],
        )?;
        Ok(())
    }

    /// Forgets every secret of an organization (its erasure).
    pub fn delete_org(tx: &Connection, org_id: &str) -> AppResult<usize> {
        Ok(tx.execute("DELETE FROM secrets WHERE org_id = ?1", [org_id])?)
    }

    /// Whether the key file is still where the server read it (readiness:
    /// a deleted key would stop the next start).
    pub fn key_file_present(&self) -> bool {
        matches!(MasterKey::read(&self.path), Ok(Some(k)) if k.id() == self.key.id())
    }
}

/// The last four characters, all that answers ever show of a secret.
pub fn last4(plain: &str) -> String {
    let chars: Vec<char> = plain.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// What `harmonia rotate-key` did.
pub struct Rotated {
    pub rotated: usize,
    pub already: usize,
    pub new_key_id: String,
}

/// Re-encrypts every secret under the key in `new_key_file` (created when
/// missing) in one transaction, then puts that key in place of `key_file`
/// in one rename. Values already under the new key are skipped, so a run
/// interrupted between the two steps is finished by running it again. The
/// server must be stopped.
pub fn rotate(data_dir: &Path, key_file: &Path, new_key_file: &Path) -> anyhow::Result<Rotated> {
    let control = Db::open(
        &data_dir.join("harmonia.db"),
        Schema::Control,
        &DbOptions::new(true),
    )?;
    let new = match MasterKey::read(new_key_file)? {
        Some(k) => k,
        None => {
            let k = MasterKey::generate();
            k.create_file(new_key_file)?;
            k
        }
    };
    let old = MasterKey::read(key_file)?;
    let (rotated, already) = control
        .write_blocking(move |tx| {
            let mut stmt = tx.prepare(
                "SELECT id, org_id, purpose, key_id, nonce, ciphertext FROM secrets ORDER BY id",
            )?;
            let rows: Vec<(String, Sealed)> = stmt
                .query_map([], |r| Ok((r.get(0)?, sealed_from(r, 1)?)))?
                .collect::<Result<_, _>>()?;
            let (mut rotated, mut already) = (0, 0);
            for (id, sealed) in rows {
                let Sealed {
                    org_id: org,
                    purpose,
                    key_id,
                    nonce,
                    ciphertext: ct,
                } = sealed;
                if key_id == new.id() {
                    already += 1;
                    continue;
                }
                let plain = old
                    .as_ref()
                    .filter(|k| k.id() == key_id)
                    .and_then(|k| unseal(k, &org, &purpose, &nonce, &ct))
                    .ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!(
                            "secret {id} is sealed by key {key_id}, which is neither the current key file nor the new key"
                        ))
                    })?;
                let (nonce, ct) = seal(&new, &org, &purpose, &plain);
                tx.execute(
                    "UPDATE secrets SET key_id = ?2, nonce = ?3, ciphertext = ?4, rotated_at = ?5 WHERE id = ?1",
                    params![id, new.id(), nonce, ct, clock::now_stamp()],
                )?;
                rotated += 1;
            }
            Ok((rotated, already))
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(control);
    let new = MasterKey::read(new_key_file)?
        .ok_or_else(|| anyhow::anyhow!("{} vanished", new_key_file.display()))?;
    new.replace_file(key_file)?;
    Ok(Rotated {
        rotated,
        already,
        new_key_id: new.id().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_org_and_purpose() {
        let key = MasterKey::generate();
        let (nonce, ct) = seal(&key, "org-a", "webhook:1", b"s3cret-value");
        assert_eq!(
            unseal(&key, "org-a", "webhook:1", &nonce, &ct)
                .as_deref()
                .map(|v| v.as_slice()),
            Some(&b"s3cret-value"[..])
        );
        assert!(unseal(&key, "org-b", "webhook:1", &nonce, &ct).is_none());
        assert!(unseal(&key, "org-a", "webhook:2", &nonce, &ct).is_none());
        assert!(unseal(&MasterKey::generate(), "org-a", "webhook:1", &nonce, &ct).is_none());
        assert!(!ct.windows(6).any(|w| w == b"s3cret"));
    }

    #[test]
    fn last_four_characters() {
        assert_eq!(last4("whsec_abcdef"), "cdef");
        assert_eq!(last4("ab"), "ab");
        assert_eq!(last4("ééééé"), "éééé");
    }
}
