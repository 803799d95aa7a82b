//! The SQL of the job runner. The `jobs` and `job_runs` tables have the same
//! shape in the control database (platform jobs) and in every organization's
//! database (its own jobs); `org_jobs` in the control database mirrors the
//! latter. Every function runs inside the caller's transaction.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::AppResult;

/// Runs kept per job; older ones are deleted as new ones finish.
pub const RUNS_KEPT: i64 = 50;

/// A job as stored, for lists and the mirror.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobRow {
    pub name: String,
    pub handler: String,
    /// `every 30s`, `daily 03:00 Europe/Paris` or `at <RFC 3339>`.
    pub schedule: String,
    /// When it runs next; null once a one-off job is done.
    pub next_run_at: Option<String>,
    /// Failures in a row (0 after a success).
    pub attempts: i64,
    /// True while a runner holds its lease.
    pub running: bool,
    pub last_started_at: Option<String>,
    pub last_finished_at: Option<String>,
    /// `ok` or `failed`; null before its first run ends.
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "name, handler, schedule, next_run_at, attempts, lease_owner IS NOT NULL,
     last_started_at, last_finished_at, last_outcome, last_error";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        name: r.get(0)?,
        handler: r.get(1)?,
        schedule: r.get(2)?,
        next_run_at: r.get(3)?,
        attempts: r.get(4)?,
        running: r.get(5)?,
        last_started_at: r.get(6)?,
        last_finished_at: r.get(7)?,
        last_outcome: r.get(8)?,
        last_error: r.get(9)?,
    })
}

/// Creates a job, or brings an existing one's handler, arguments and schedule
/// up to date; a changed schedule takes effect at once (`next_run_at`).
pub fn ensure(
    conn: &Connection,
    name: &str,
    handler: &str,
    schedule: &str,
    args: &str,
    first_run_at: Option<&str>,
    now: &str,
) -> AppResult<()> {
    conn.execute(
        "INSERT INTO jobs (name, handler, schedule, args, next_run_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (name) DO UPDATE SET
             handler = excluded.handler,
             args = excluded.args,
             next_run_at = CASE WHEN jobs.schedule = excluded.schedule
                                THEN jobs.next_run_at ELSE excluded.next_run_at END,
             schedule = excluded.schedule",
        params![name, handler, schedule, args, first_run_at, now],
    )?;
    Ok(())
}

/// Deletes the jobs (and their runs) whose handler is not among `handlers`.
pub fn retire_unknown(conn: &Connection, handlers: &[&str]) -> AppResult<usize> {
    let handlers = serde_json::to_string(handlers).unwrap_or_else(|_| "[]".into());
    Ok(conn.execute(
        "DELETE FROM jobs WHERE handler NOT IN (SELECT value FROM json_each(?1))",
        [handlers],
    )?)
}

pub fn list(conn: &Connection) -> AppResult<Vec<JobRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM jobs ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, name: &str) -> AppResult<Option<JobRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE name = ?1"),
            [name],
            from_row,
        )
        .optional()?)
}

/// A job a runner has taken: it holds the lease until `finish`.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub name: String,
    pub handler: String,
    pub schedule: String,
    pub args: String,
    /// Failures in a row before this run.
    pub attempts: i64,
    pub run_id: String,
}

/// Takes the earliest due job whose handler this runner knows and that no
/// live lease holds. A lease past its time means its runner died mid-run:
/// that run is marked abandoned and the job runs again. Being one write
/// transaction, two runners on one database never take the same job.
pub fn claim(
    conn: &Connection,
    owner: &str,
    handlers: &[&str],
    now: &str,
    lease_until: &str,
) -> AppResult<Option<Claimed>> {
    let handlers = serde_json::to_string(handlers).unwrap_or_else(|_| "[]".into());
    let found = conn
        .query_row(
            "SELECT name, handler, schedule, args, attempts, lease_owner FROM jobs
             WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
               AND handler IN (SELECT value FROM json_each(?2))
             ORDER BY next_run_at, name LIMIT 1",
            params![now, handlers],
            |r| {
                Ok((
                    Claimed {
                        name: r.get(0)?,
                        handler: r.get(1)?,
                        schedule: r.get(2)?,
                        args: r.get(3)?,
                        attempts: r.get(4)?,
                        run_id: crate::clock::new_id(),
                    },
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((job, previous_owner)) = found else {
        return Ok(None);
    };
    if previous_owner.is_some() {
        conn.execute(
            "UPDATE job_runs SET outcome = 'abandoned', finished_at = ?2,
                 error = 'its runner stopped before the run finished (lease expired)'
             WHERE job = ?1 AND outcome = 'running'",
            params![job.name, now],
        )?;
    }
    conn.execute(
        "UPDATE jobs SET lease_owner = ?2, lease_until = ?3, last_started_at = ?4 WHERE name = ?1",
        params![job.name, owner, lease_until, now],
    )?;
    conn.execute(
        "INSERT INTO job_runs (id, job, owner, attempt, started_at, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, 'running')",
        params![job.run_id, job.name, owner, job.attempts + 1, now],
    )?;
    Ok(Some(job))
}

/// Whether `claim` would find a job: a read, so that polling a database
/// with nothing due never takes its writer.
pub fn any_due(conn: &Connection, handlers: &[&str], now: &str) -> AppResult<bool> {
    let handlers = serde_json::to_string(handlers).unwrap_or_else(|_| "[]".into());
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM jobs
             WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
               AND handler IN (SELECT value FROM json_each(?2)))",
        params![now, handlers],
        |r| r.get(0),
    )?)
}

/// Extends a lease while its job still runs; false when it was lost (it ran
/// out and another runner took the job).
pub fn renew(conn: &Connection, name: &str, owner: &str, lease_until: &str) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE jobs SET lease_until = ?3 WHERE name = ?1 AND lease_owner = ?2",
        params![name, owner, lease_until],
    )? == 1)
}

/// How a run ended and what happens next.
pub struct Finish<'a> {
    pub error: Option<&'a str>,
    pub attempts: i64,
    pub next_run_at: Option<&'a str>,
    pub now: &'a str,
}

/// Records the end of a run and releases the lease. When the lease was lost
/// meanwhile, only the run is recorded: the runner that took over decides.
/// Returns the job as it now stands.
pub fn finish(conn: &Connection, job: &Claimed, owner: &str, f: &Finish) -> AppResult<JobRow> {
    let outcome = if f.error.is_some() { "failed" } else { "ok" };
    conn.execute(
        "UPDATE job_runs SET finished_at = ?2, outcome = ?3, error = ?4 WHERE id = ?1",
        params![job.run_id, f.now, outcome, f.error],
    )?;
    conn.execute(
        "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, last_finished_at = ?3,
             last_outcome = ?4, last_error = ?5, attempts = ?6,
             -- Made due again while it ran (`events::wake`): that time stands.
             next_run_at = CASE WHEN next_run_at > last_started_at
                                 AND (?7 IS NULL OR next_run_at < ?7)
                                THEN next_run_at ELSE ?7 END
         WHERE name = ?1 AND lease_owner = ?2",
        params![
            job.name,
            owner,
            f.now,
            outcome,
            f.error,
            f.attempts,
            f.next_run_at
        ],
    )?;
    conn.execute(
        "DELETE FROM job_runs WHERE job = ?1 AND id NOT IN
             (SELECT id FROM job_runs WHERE job = ?1 ORDER BY started_at DESC LIMIT ?2)",
        params![job.name, RUNS_KEPT],
    )?;
    get(conn, &job.name)?.ok_or_else(|| anyhow::anyhow!("job {} vanished", job.name).into())
}

/// One recorded run, newest first in lists.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunRow {
    pub job: String,
    pub attempt: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `ok`, `failed` or `abandoned` (its runner died mid-run).
    pub outcome: String,
    pub error: Option<String>,
}

pub fn runs(conn: &Connection, job: &str, limit: i64) -> AppResult<Vec<RunRow>> {
    let mut stmt = conn.prepare(
        "SELECT job, attempt, started_at, finished_at, outcome, error FROM job_runs
         WHERE job = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![job, limit], |r| {
            Ok(RunRow {
                job: r.get(0)?,
                attempt: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                outcome: r.get(4)?,
                error: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Copies an organization's job state into the control database's mirror.
pub fn mirror(conn: &Connection, org_id: &str, jobs: &[JobRow]) -> AppResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO org_jobs (org_id, name, handler, schedule, next_run_at, attempts,
             last_started_at, last_finished_at, last_outcome, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for j in jobs {
        stmt.execute(params![
            org_id,
            j.name,
            j.handler,
            j.schedule,
            j.next_run_at,
            j.attempts,
            j.last_started_at,
            j.last_finished_at,
            j.last_outcome,
            j.last_error
        ])?;
    }
    Ok(())
}

/// Drops an organization's mirrored jobs (before mirroring them afresh).
pub fn forget_mirror(conn: &Connection, org_id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM org_jobs WHERE org_id = ?1", [org_id])?;
    Ok(())
}

/// Organizations with a job due by `now`, by the mirror.
pub fn orgs_due(conn: &Connection, now: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT org_id FROM org_jobs WHERE next_run_at <= ?1 ORDER BY org_id LIMIT 100",
    )?;
    let ids = stmt
        .query_map([now], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// An organization's job as the mirror knows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OrgJobRow {
    pub org: String,
    #[serde(flatten)]
    pub job: JobRow,
}

/// Every organization's jobs (by slug), or only those that failed their last run.
pub fn org_jobs(conn: &Connection, only_failing: bool) -> AppResult<Vec<OrgJobRow>> {
    let mut stmt = conn.prepare(
        "SELECT o.slug, j.name, j.handler, j.schedule, j.next_run_at, j.attempts, 0,
                j.last_started_at, j.last_finished_at, j.last_outcome, j.last_error
         FROM org_jobs j JOIN orgs o ON o.id = j.org_id
         WHERE ?1 = 0 OR j.last_outcome = 'failed'
         ORDER BY o.slug, j.name LIMIT 1000",
    )?;
    let rows = stmt
        .query_map([only_failing], |r| {
            Ok(OrgJobRow {
                org: r.get(0)?,
                job: JobRow {
                    name: r.get(1)?,
                    handler: r.get(2)?,
                    schedule: r.get(3)?,
                    next_run_at: r.get(4)?,
                    attempts: r.get(5)?,
                    running: r.get(6)?,
                    last_started_at: r.get(7)?,
                    last_finished_at: r.get(8)?,
                    last_outcome: r.get(9)?,
                    last_error: r.get(10)?,
                },
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Platform jobs that failed their last run.
pub fn failing(conn: &Connection) -> AppResult<Vec<JobRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE last_outcome = 'failed' ORDER BY name"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}
