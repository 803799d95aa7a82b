//! The encrypted container of a backup: AES-256-GCM in the STREAM
//! construction (big-endian 32-bit counter, last-chunk flag in the nonce),
//! so a backup of any size is encrypted and checked 64 KiB at a time, and a
//! reordered, dropped, truncated or altered chunk fails authentication.
//!
//! File layout: a clear header — magic, format version, key id (first 8 bytes
//! of the key's SHA-256, to tell "wrong key" from "damaged file"), the 7-byte
//! nonce prefix — then chunks, each `flag (0 more / 1 last) | u32 length |
//! ciphertext`. The header is every chunk's associated data.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::Path;

use aead_stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::{Aes256Gcm, KeyInit};
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"HMNBKUP\0";
const FORMAT: u8 = 1;
const NONCE_PREFIX: usize = 7;
const HEADER: usize = MAGIC.len() + 1 + 8 + NONCE_PREFIX;
/// Plaintext bytes per chunk.
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// The backup key: 32 random bytes, kept as hex in a file outside the databases.
pub struct BackupKey {
    bytes: [u8; 32],
}

impl BackupKey {
    /// Reads the key file, or creates it (mode 0600, never overwriting) when
    /// `create` and it does not exist yet.
    pub fn load(path: &Path, create: bool) -> anyhow::Result<BackupKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let raw = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
                let Some(raw) = raw else {
                    bail!(
                        "{} is not a backup key (64 hexadecimal digits expected)",
                        path.display()
                    );
                };
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&raw);
                Ok(BackupKey { bytes })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => Self::create(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
                "no backup key at {}: give the key the backup was made with (--backup-key-file)",
                path.display()
            ),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn create(path: &Path) -> anyhow::Result<BackupKey> {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(path)
            .with_context(|| format!("creating the backup key {}", path.display()))?;
        f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
        f.sync_all()?;
        tracing::warn!(key = %path.display(),
            "created a new backup key: keep a copy somewhere else, backups cannot be restored without it");
        Ok(BackupKey { bytes })
    }

    fn id(&self) -> [u8; 8] {
        let digest = Sha256::digest(self.bytes);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        id
    }

    fn cipher(&self) -> anyhow::Result<Aes256Gcm> {
        Aes256Gcm::new_from_slice(&self.bytes).map_err(|_| anyhow::anyhow!("bad key length"))
    }
}

/// Encrypts everything written to it; `finish` writes the last chunk.
pub struct EncryptWriter<W: Write> {
    out: W,
    header: Vec<u8>,
    stream: Option<EncryptorBE32<Aes256Gcm>>,
    buf: Vec<u8>,
}

impl<W: Write> EncryptWriter<W> {
    pub fn new(mut out: W, key: &BackupKey) -> anyhow::Result<Self> {
        let mut prefix = [0u8; NONCE_PREFIX];
        rand::fill(&mut prefix[..]);
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.push(FORMAT);
        header.extend_from_slice(&key.id());
        header.extend_from_slice(&prefix);
        out.write_all(&header)?;
        let stream = EncryptorBE32::from_aead(key.cipher()?, (&prefix).into());
        Ok(EncryptWriter {
            out,
            header,
            stream: Some(stream),
            buf: Vec::with_capacity(CHUNK + TAG),
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("the backup stream is already finished"));
        };
        let failed = |_| io::Error::other("encryption failed");
        if last {
            let stream = self
                .stream
                .take()
                .ok_or_else(|| io::Error::other("finished"))?;
            stream
                .encrypt_last_in_place(&self.header, &mut self.buf)
                .map_err(failed)?;
        } else {
            stream
                .encrypt_next_in_place(&self.header, &mut self.buf)
                .map_err(failed)?;
        }
        let len = u32::try_from(self.buf.len()).map_err(|_| io::Error::other("chunk too big"))?;
        self.out.write_all(&[u8::from(last)])?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Encrypts what is left as the last chunk and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full chunk is sealed only once more data comes, so the last chunk
        // (sealed by `finish`) is never an extra empty one by accident.
        if self.buf.len() == CHUNK && !data.is_empty() {
            self.emit(false)?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Decrypts and authenticates a backup as it is read. Any damage, a wrong
/// key or a missing end is an error, never silently short data.
pub struct DecryptReader<R: Read> {
    input: R,
    header: Vec<u8>,
    stream: Option<DecryptorBE32<Aes256Gcm>>,
    plain: Vec<u8>,
    at: usize,
    done: bool,
}

/// Why a backup cannot be read; the messages are what the operator sees.
pub fn damaged() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the backup is damaged or was altered: a chunk failed authentication",
    )
}

impl<R: Read> DecryptReader<R> {
    pub fn new(mut input: R, key: &BackupKey) -> anyhow::Result<Self> {
        let mut header = vec![0u8; HEADER];
        input
            .read_exact(&mut header)
            .context("this is not a Harmonia backup (too short)")?;
        if &header[..MAGIC.len()] != MAGIC {
            bail!("this is not a Harmonia backup");
        }
        if header[MAGIC.len()] != FORMAT {
            bail!(
                "this backup has format {}, which this version of Harmonia cannot read",
                header[MAGIC.len()]
            );
        }
        let id = &header[MAGIC.len() + 1..MAGIC.len() + 9];
        if id != key.id() {
            bail!(
                "this backup was made with another backup key (key id {}; the given key is {})",
                hex::encode(id),
                hex::encode(key.id())
            );
        }
        let mut prefix = [0u8; NONCE_PREFIX];
        prefix.copy_from_slice(&header[MAGIC.len() + 9..]);
        let stream = DecryptorBE32::from_aead(key.cipher()?, (&prefix).into());
        Ok(DecryptReader {
            input,
            header,
            stream: Some(stream),
            plain: Vec::new(),
            at: 0,
            done: false,
        })
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let mut frame = [0u8; 5];
        if let Err(e) = self.input.read_exact(&mut frame) {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the backup is truncated: its last chunk is missing",
                )
            } else {
                e
            });
        }
        let last = match frame[0] {
            0 => false,
            1 => true,
            _ => return Err(damaged()),
        };
        let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        if !(TAG..=CHUNK + TAG).contains(&len) {
            return Err(damaged());
        }
        self.plain.resize(len, 0);
        self.input.read_exact(&mut self.plain).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                damaged()
            } else {
                e
            }
        })?;
        if last {
            let stream = self.stream.take().ok_or_else(damaged)?;
            stream
                .decrypt_last_in_place(&self.header, &mut self.plain)
                .map_err(|_| damaged())?;
            let mut extra = [0u8; 1];
            if self.input.read(&mut extra)? != 0 {
                return Err(damaged());
            }
            self.done = true;
        } else {
            self.stream
                .as_mut()
                .ok_or_else(damaged)?
                .decrypt_next_in_place(&self.header, &mut self.plain)
                .map_err(|_| damaged())?;
        }
        self.at = 0;
        Ok(())
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path, name: &str) -> BackupKey {
        BackupKey::load(&dir.join(name), true).expect("key")
    }

    fn seal(key: &BackupKey, data: &[u8]) -> Vec<u8> {
        let mut w = EncryptWriter::new(Vec::new(), key).expect("writer");
        for part in data.chunks(10_000) {
            w.write_all(part).expect("write");
        }
        w.finish().expect("finish")
    }

    fn open(key: &BackupKey, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut r = DecryptReader::new(sealed, key)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_any_size() {
        let dir = tempfile::tempdir().expect("dir");
        let k = key(dir.path(), "k");
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            assert_eq!(open(&k, &seal(&k, &data)).expect("open"), data, "{size}");
        }
    }

    #[test]
    fn the_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let a = key(dir.path(), "k");
        let b = BackupKey::load(&dir.path().join("k"), false).expect("again");
        assert_eq!(a.bytes, b.bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("k"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let missing = BackupKey::load(&dir.path().join("none"), false);
        assert!(missing.is_err());
    }

    #[test]
    fn any_flipped_byte_wrong_key_or_truncation_fails() {
        let dir = tempfile::tempdir().expect("dir");
        let k = key(dir.path(), "k");
        let data: Vec<u8> = (0..2 * CHUNK + 100).map(|i| (i % 7) as u8).collect();
        let sealed = seal(&k, &data);
        for at in [HEADER + 2, HEADER + 100, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            let err = open(&k, &bad).expect_err("flipped byte");
            assert!(err.to_string().contains("damaged"), "{at}: {err}");
        }
        let err = open(&k, &sealed[..sealed.len() - CHUNK]).expect_err("truncated");
        assert!(err.to_string().contains("truncated") || err.to_string().contains("damaged"));
        let other = key(dir.path(), "other");
        let err = open(&other, &sealed).expect_err("wrong key");
        assert!(err.to_string().contains("another backup key"), "{err}");
        let err = open(&k, b"not a backup at all, clearly").expect_err("junk");
        assert!(err.to_string().contains("not a Harmonia backup"), "{err}");
    }
}
