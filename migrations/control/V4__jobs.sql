-- The persisted job runner (src/jobs/). Platform jobs live here; each
-- organization's own jobs live in its database (tenant V5), and `org_jobs`
-- mirrors their state here so that /readyz, the admin and the runner see
-- every organization's jobs without opening thousands of files.

CREATE TABLE jobs (
    -- A stable name; one row per job (a handler may serve several jobs).
    name             TEXT PRIMARY KEY,
    handler          TEXT NOT NULL,
    -- "every 30s", "daily 03:00 Europe/Paris" or "at 2026-12-04T12:00:00.000000Z".
    schedule         TEXT NOT NULL,
    args             TEXT NOT NULL DEFAULT '{}',
    -- NULL once a one-off job is done (or gave up).
    next_run_at      TEXT,
    -- Failures in a row; drives the back-off, reset by a success.
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Who runs it now and until when: a lease past its time means the process
    -- died, and another runner takes the job again.
    lease_owner      TEXT,
    lease_until      TEXT,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_outcome     TEXT CHECK (last_outcome IN ('ok', 'failed')),
    last_error       TEXT,
    created_at       TEXT NOT NULL
) STRICT;
CREATE INDEX jobs_due ON jobs(next_run_at);

CREATE TABLE job_runs (
    id          TEXT PRIMARY KEY,
    job         TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    owner       TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- 'abandoned': the runner's lease ran out before it finished (process killed).
    outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'abandoned')),
    error       TEXT
) STRICT;
CREATE INDEX job_runs_by_job ON job_runs(job, started_at);

CREATE TABLE org_jobs (
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    handler          TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    next_run_at      TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_outcome     TEXT,
    last_error       TEXT,
    PRIMARY KEY (org_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX org_jobs_due ON org_jobs(next_run_at);
