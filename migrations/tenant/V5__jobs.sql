-- The persisted job runner (src/jobs/): this organization's own jobs and
-- their runs, the same tables as the control database's platform jobs.

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
