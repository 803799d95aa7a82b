//! The limit: the same inserts and point reads straight through rusqlite, with
//! Harmonia's schema and pragmas, one transaction per insert — no HTTP, no JSON,
//! no validation. What the API keeps of this is the cost of being an API.

use crate::data::DemoContact;
use crate::load::Rng;
use harmonia::db::{Db, DbOptions, Schema};
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Raw {
    pub ops: u64,
    pub secs: f64,
    pub latencies_us: Vec<u32>,
}

impl Raw {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
}

/// Inserts contacts into a fresh organization database at `path` for
/// `duration`, one `BEGIN IMMEDIATE … COMMIT` per contact, with the rows the
/// HTTP create writes: the contact, its outbox entry, its email keys.
pub fn inserts(path: &Path, rows: &[DemoContact], duration: Duration) -> anyhow::Result<Raw> {
    drop(Db::open(path, Schema::Tenant, &DbOptions::new(false))?);
    // SQLite's own unix VFS, as a plain rusqlite program gets it: Harmonia
    // registers its WAL writer (`db::walfile`) as the process's default,
    // and this baseline measures SQLite, not Harmonia's write path.
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), c"unix")?;
    harmonia::db::apply_pragmas(&conn, false)?;
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut i = 0usize;
    while start.elapsed() < duration {
        let row = &rows[i % rows.len()];
        i += 1;
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let id = harmonia::clock::new_id();
        let now = harmonia::clock::stamp(harmonia::clock::now());
        conn.prepare_cached(
            "INSERT INTO contacts (id, first_name, last_name, sort_name, last_key, emails, phones,
               job_title, company_id, address, owner_id, stage, source,
               created_at, updated_at, created_by, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL, ?9, ?10, ?11, ?11, ?12, ?12)",
        )?
        .execute(params![
            id,
            row.first_name,
            row.last_name,
            row.sort_name,
            row.last_name.to_lowercase(),
            row.emails_json,
            row.phones_json,
            row.job_title,
            row.stage,
            row.source,
            now,
            "bench"
        ])?;
        conn.prepare_cached("INSERT INTO search_outbox (kind, id) VALUES ('contact', ?1)")?
            .execute([&id])?;
        let emails: Vec<serde_json::Value> = serde_json::from_str(&row.emails_json)?;
        for e in emails {
            if let Some(email) = e["email"].as_str() {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO contact_emails (email, contact_id) VALUES (?1, ?2)",
                )?
                .execute(params![email.to_lowercase(), id])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        lat.push(t.elapsed().as_micros() as u32);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok(Raw {
        ops: lat.len() as u64,
        secs,
        latencies_us: lat,
    })
}

/// Reads contacts by id (every column, as the API's get does) from `db` on
/// `threads` read-only connections for `duration`.
pub fn reads(db: &Path, ids: &[String], threads: usize, duration: Duration) -> anyhow::Result<Raw> {
    let results: Vec<anyhow::Result<Vec<u32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> anyhow::Result<Vec<u32>> {
                    let conn = Connection::open_with_flags(
                        db,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    harmonia::db::apply_pragmas(&conn, false)?;
                    let mut stmt = conn.prepare(
                        "SELECT c.*, co.name FROM contacts c
                         LEFT JOIN companies co ON co.id = c.company_id
                         WHERE c.id = ?1 AND c.deleted_at IS NULL",
                    )?;
                    let columns = stmt.column_count();
                    let mut rng = Rng(t as u64 + 7);
                    let mut lat = Vec::new();
                    let start = Instant::now();
                    while start.elapsed() < duration {
                        let t0 = Instant::now();
                        let mut rows = stmt.query([rng.pick(ids)])?;
                        if let Some(row) = rows.next()? {
                            for i in 0..columns {
                                let _: rusqlite::types::Value = row.get(i)?;
                            }
                        }
                        lat.push(t0.elapsed().as_micros() as u32);
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("reader panicked")))
            })
            .collect()
    });
    let mut lat = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort_unstable();
    Ok(Raw {
        ops: lat.len() as u64,
        secs: duration.as_secs_f64(),
        latencies_us: lat,
    })
}
