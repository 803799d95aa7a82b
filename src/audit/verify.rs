//! Walking the chain (`harmonia audit verify`) and the retention purge that
//! keeps it verifiable.

use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::{Actor, COLUMNS, Entry, RETENTION, Stored, record};
use crate::clock;
use crate::error::AppResult;

/// The first entry that does not fit the chain, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The entry's number in the chain.
    pub seq: i64,
    /// The entry's id (None when the problem is a missing entry).
    pub id: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "entry {} (id {id}): {}", self.seq, self.problem),
            None => write!(f, "entry {}: {}", self.seq, self.problem),
        }
    }
}

/// The recorded start of the kept chain: the first entry's number and the
/// hash it points back to.
pub(crate) fn chain_start(conn: &Connection) -> AppResult<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT start_seq, start_hash FROM audit_chain WHERE only = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Checks every kept entry: numbers follow each other from the recorded
/// start, each points back to the previous hash, each hash matches its
/// content, and the recorded start is the one the latest purge wrote down.
/// Ok(number of entries checked) or the first broken link.
pub fn verify(conn: &Connection) -> AppResult<Result<u64, Broken>> {
    let (start_seq, start_hash) = chain_start(conn)?;
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let (mut expect_seq, mut expect_prev) = (start_seq, start_hash.clone());
    let mut checked = 0u64;
    let mut last_purge: Option<Stored> = None;
    while let Some(row) = rows.next()? {
        let e = Stored::from_row(row)?;
        let broken = |problem: String| {
            Ok(Err(Broken {
                seq: e.seq,
                id: Some(e.id.clone()),
                problem,
            }))
        };
        if e.seq != expect_seq {
            return Ok(Err(Broken {
                seq: expect_seq,
                id: None,
                problem: format!("missing: the next kept entry is number {}", e.seq),
            }));
        }
        if e.prev_hash != expect_prev {
            return broken("its previous-hash does not match the entry before it".into());
        }
        if e.compute_hash() != e.hash {
            return broken("its content does not match its hash (edited)".into());
        }
        if e.action == PURGED {
            last_purge = Some(e.clone());
        }
        expect_seq = e.seq + 1;
        expect_prev = e.hash.clone();
        checked += 1;
    }
    if start_seq != 1 || start_hash != crate::audit::GENESIS {
        // The start moved: the latest purge must have written it down.
        let Some(purge) = last_purge else {
            return Ok(Err(Broken {
                seq: start_seq,
                id: None,
                problem: "the chain's start was moved without a purge entry".into(),
            }));
        };
        let after: serde_json::Value = purge
            .after
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        if after["chain_start_seq"].as_i64() != Some(start_seq)
            || after["chain_start_hash"].as_str() != Some(start_hash.as_str())
        {
            return Ok(Err(Broken {
                seq: purge.seq,
                id: Some(purge.id),
                problem: "the chain's recorded start differs from the latest purge's".into(),
            }));
        }
    }
    Ok(Ok(checked))
}

/// What `harmonia audit verify` found in one database.
pub struct Report {
    /// `platform`, or an organization's slug.
    pub name: String,
    pub outcome: Result<u64, Broken>,
}

/// Verifies the chains in a data directory, read-only (safe while the server
/// runs): the platform's and every organization's, or only the organization
/// `only` (a slug). An unknown slug is an error.
pub fn verify_data_dir(
    data_dir: &std::path::Path,
    only: Option<&str>,
) -> anyhow::Result<Vec<Report>> {
    use rusqlite::OpenFlags;
    let open = |path: &std::path::Path| -> anyhow::Result<Connection> {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    };
    let check = |conn: &Connection, name: &str| -> anyhow::Result<Report> {
        // One snapshot for the whole walk, so concurrent appends do not
        // show as a moving tail.
        conn.execute_batch("BEGIN")?;
        let outcome = verify(conn).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        conn.execute_batch("COMMIT")?;
        Ok(Report {
            name: name.to_string(),
            outcome,
        })
    };
    let control = open(&data_dir.join("harmonia.db"))?;
    let orgs: Vec<(String, String)> = control
        .prepare("SELECT id, slug FROM orgs ORDER BY slug")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut reports = Vec::new();
    if only.is_none() {
        reports.push(check(&control, "platform")?);
    }
    let chosen: Vec<_> = orgs
        .into_iter()
        .filter(|(_, slug)| only.is_none_or(|o| o == slug))
        .collect();
    if let Some(o) = only
        && chosen.is_empty()
    {
        anyhow::bail!("no organization with the slug {o}");
    }
    for (id, slug) in chosen {
        let conn = open(&data_dir.join("tenants").join(&id).join("crm.db"))?;
        reports.push(check(&conn, &slug)?);
    }
    Ok(reports)
}

/// The action a purge logs itself as.
pub const PURGED: &str = "audit.purged";

/// Deletes entries older than the retention at `now`, moving the chain's
/// recorded start past them first, then logs the purge (with the new start,
/// so `verify` can tell a purge from a truncation). Returns how many went.
pub fn purge_old(conn: &Connection, now: time::OffsetDateTime) -> AppResult<usize> {
    let cutoff = clock::stamp(now - RETENTION);
    let last_old: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log WHERE at <= ?1 ORDER BY seq DESC LIMIT 1")?
        .query_row([&cutoff], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((last_seq, last_hash)) = last_old else {
        return Ok(0);
    };
    conn.execute(
        "UPDATE audit_chain SET start_seq = ?1, start_hash = ?2 WHERE only = 1",
        params![last_seq + 1, last_hash],
    )?;
    let removed = conn.execute("DELETE FROM audit_log WHERE seq <= ?1", [last_seq])?;
    record(
        conn,
        &Entry::new(Actor::system("retention"), PURGED).after(serde_json::json!({
            "removed": removed,
            "older_than": cutoff,
            "chain_start_seq": last_seq + 1,
            "chain_start_hash": last_hash,
        })),
    )?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(include_str!("../../migrations/tenant/V14__audit_log.sql"))
            .expect("schema");
        conn
    }

    fn add(conn: &Connection, n: usize) {
        for i in 0..n {
            record(
                conn,
                &Entry::new(Actor::user("u1", "a@example.com"), "member.invited").target(
                    "member",
                    &format!("m{i}"),
                    "b@example.com",
                ),
            )
            .expect("record");
        }
    }

    #[test]
    fn a_fresh_chain_verifies_and_an_edit_is_found() {
        let conn = db();
        add(&conn, 5);
        assert_eq!(verify(&conn).expect("verify"), Ok(5));
        conn.execute_batch("DROP TRIGGER audit_log_no_update")
            .expect("drop");
        conn.execute("UPDATE audit_log SET actor_label = 'x' WHERE seq = 3", [])
            .expect("edit");
        let broken = verify(&conn).expect("verify").expect_err("broken");
        assert_eq!(broken.seq, 3);
        assert!(broken.problem.contains("edited"), "{broken}");
    }

    #[test]
    fn updates_and_deletes_are_refused() {
        let conn = db();
        add(&conn, 2);
        assert!(
            conn.execute("UPDATE audit_log SET action = 'x'", [])
                .is_err()
        );
        assert!(
            conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
                .is_err()
        );
    }

    #[test]
    fn a_removed_entry_is_found() {
        let conn = db();
        add(&conn, 4);
        conn.execute_batch("DROP TRIGGER audit_log_no_delete")
            .expect("drop");
        conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
            .expect("rm");
        let broken = verify(&conn).expect("verify").expect_err("broken");
        assert_eq!(broken.seq, 2);
    }

    #[test]
    fn a_purge_keeps_the_chain_verifiable() {
        let conn = db();
        add(&conn, 3);
        // Everything written so far is older than a year at "now + 1 year".
        let later = clock::now() + RETENTION + time::Duration::seconds(1);
        assert_eq!(purge_old(&conn, later).expect("purge"), 3);
        add(&conn, 2);
        assert_eq!(verify(&conn).expect("verify"), Ok(3));
        // Nothing more to purge at the same time: no second entry.
        assert_eq!(purge_old(&conn, clock::now()).expect("purge"), 0);
        // Moving the start by hand (hiding entries) is found.
        conn.execute("UPDATE audit_chain SET start_seq = 6", [])
            .expect("move");
        conn.execute_batch("DROP TRIGGER audit_log_no_delete")
            .expect("drop");
        conn.execute("DELETE FROM audit_log WHERE seq < 6", [])
            .expect("rm");
        assert!(verify(&conn).expect("verify").is_err());
    }
}
