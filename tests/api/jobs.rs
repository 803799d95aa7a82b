//! The job runner on real SQLite files with a test clock: schedules, back-off,
//! leases of killed runners, two runners on one database, and how a failing
//! job shows (API, /readyz).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use harmonia::clock::{Clock, TestClock, stamp};
use harmonia::db::{Db, DbOptions, Schema};
use harmonia::jobs::{JobSpec, Runner, Schedule, store};
use reqwest::StatusCode;
use serde_json::Value;
use time::macros::datetime;

use crate::helpers::*;

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::at(datetime!(2026-03-01 12:00 UTC)))
}

fn control_db(dir: &std::path::Path) -> Arc<Db> {
    Arc::new(
        Db::open(
            &dir.join("harmonia.db"),
            Schema::Control,
            &DbOptions::new(false),
        )
        .expect("db"),
    )
}

/// A runner on `db` with one job, `name`, whose handler counts its runs and
/// fails while `fail` says so.
fn counting_runner(
    db: &Arc<Db>,
    clock: &Arc<TestClock>,
    schedule: Schedule,
    runs: &Arc<AtomicUsize>,
    fail: bool,
) -> Runner {
    let runs = runs.clone();
    Runner::builder(db.clone(), clock.clone())
        .lease(Duration::from_secs(60))
        .platform_job(JobSpec::new("test.count", schedule))
        .handler("test.count", move |_| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if fail {
                    anyhow::bail!("the mail server said no");
                }
                Ok(())
            }
        })
        .build()
}

async fn job(db: &Arc<Db>, name: &str) -> store::JobRow {
    let name = name.to_string();
    db.read(move |c| store::get(c, &name))
        .await
        .expect("read")
        .expect("job exists")
}

async fn runs(db: &Arc<Db>, name: &str) -> Vec<store::RunRow> {
    let name = name.to_string();
    db.read(move |c| store::runs(c, &name, 100))
        .await
        .expect("runs")
}

#[tokio::test]
async fn a_job_runs_on_its_schedule() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let clock = clock();
    let count = Arc::new(AtomicUsize::new(0));
    let runner = counting_runner(&db, &clock, Schedule::every(60), &count, false);

    assert_eq!(
        runner.run_due().await,
        1,
        "an interval job starts right away"
    );
    assert_eq!(runner.run_due().await, 0, "and not again before its time");
    clock.advance(time::Duration::seconds(59));
    assert_eq!(runner.run_due().await, 0);
    clock.advance(time::Duration::seconds(1));
    assert_eq!(runner.run_due().await, 1);
    assert_eq!(count.load(Ordering::SeqCst), 2);

    let j = job(&db, "test.count").await;
    assert_eq!(j.last_outcome.as_deref(), Some("ok"));
    assert_eq!(
        j.next_run_at,
        Some(stamp(datetime!(2026-03-01 12:02 UTC))),
        "{j:?}"
    );
    let r = runs(&db, "test.count").await;
    assert_eq!(r.len(), 2);
    assert!(
        r.iter()
            .all(|r| r.outcome == "ok" && r.finished_at.is_some())
    );
}

#[tokio::test]
async fn a_daily_job_waits_for_its_time_of_day() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let clock = clock(); // 12:00 UTC = 13:00 in Paris
    let count = Arc::new(AtomicUsize::new(0));
    let daily = Schedule::daily("14:30", "Europe/Paris").expect("schedule");
    let runner = counting_runner(&db, &clock, daily, &count, false);
    assert_eq!(runner.run_due().await, 0);
    clock.set(datetime!(2026-03-01 13:29:59 UTC));
    assert_eq!(runner.run_due().await, 0);
    clock.set(datetime!(2026-03-01 13:30 UTC));
    assert_eq!(runner.run_due().await, 1);
    assert_eq!(
        job(&db, "test.count").await.next_run_at,
        Some(stamp(datetime!(2026-03-02 13:30 UTC)))
    );
}

#[tokio::test]
async fn a_failing_job_backs_off_exponentially() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let clock = clock();
    let count = Arc::new(AtomicUsize::new(0));
    let runner = counting_runner(&db, &clock, Schedule::every(3600), &count, true);

    let mut waits = Vec::new();
    for _ in 0..4 {
        assert_eq!(runner.run_due().await, 1);
        let j = job(&db, "test.count").await;
        let next = j.next_run_at.expect("retry planned");
        let now = stamp(clock.now());
        // Nothing runs before the retry time.
        clock.advance(time::Duration::seconds(1));
        assert_eq!(runner.run_due().await, 0);
        let mut waited = 1;
        while stamp(clock.now()) < next {
            clock.advance(time::Duration::seconds(1));
            waited += 1;
        }
        assert!(now < next);
        waits.push(waited);
    }
    assert_eq!(waits, vec![10, 20, 40, 80]);
    let j = job(&db, "test.count").await;
    assert_eq!(j.attempts, 4);
    assert_eq!(j.last_outcome.as_deref(), Some("failed"));
    assert_eq!(j.last_error.as_deref(), Some("the mail server said no"));
    assert!(
        runs(&db, "test.count")
            .await
            .iter()
            .all(|r| r.outcome == "failed")
    );
}

/// A runner that took a job and was killed (its lease is never renewed nor
/// released): the job waits for the lease to run out, then runs again.
#[tokio::test]
async fn a_job_whose_runner_died_is_taken_again_after_its_lease() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let clock = clock();
    let count = Arc::new(AtomicUsize::new(0));
    let runner = counting_runner(&db, &clock, Schedule::every(3600), &count, false);
    assert_eq!(runner.run_due().await, 1);
    clock.advance(time::Duration::hours(1));

    // The "killed" process: it claims the due job and never comes back.
    let (now, until) = (
        stamp(clock.now()),
        stamp(clock.now() + time::Duration::seconds(60)),
    );
    let claimed = db
        .write(move |c| store::claim(c, "dead-process", &["test.count"], &now, &until))
        .await
        .expect("claim");
    assert!(claimed.is_some());
    assert!(job(&db, "test.count").await.running);

    clock.advance(time::Duration::seconds(30));
    assert_eq!(runner.run_due().await, 0, "the lease still holds");
    clock.advance(time::Duration::seconds(30));
    assert_eq!(runner.run_due().await, 1, "the lease ran out: run again");
    assert_eq!(count.load(Ordering::SeqCst), 2);

    let r = runs(&db, "test.count").await;
    let outcomes: Vec<&str> = r.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["ok", "abandoned", "ok"]);
    let j = job(&db, "test.count").await;
    assert!(!j.running);
    assert_eq!(j.last_outcome.as_deref(), Some("ok"));
}

/// Two runners (two processes' connections) on one database file: each job
/// run happens once, and never two at a time.
#[tokio::test]
async fn two_runners_never_run_one_job_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db_a = control_db(dir.path());
    let db_b = control_db(dir.path());
    let clock = clock();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let make = |db: &Arc<Db>, owner: &str| {
        let (in_flight, most, total) = (in_flight.clone(), most.clone(), total.clone());
        Runner::builder(db.clone(), clock.clone())
            .owner(owner)
            .platform_job(JobSpec::new("test.exclusive", Schedule::every(10)))
            .handler("test.exclusive", move |_| {
                let (in_flight, most, total) = (in_flight.clone(), most.clone(), total.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .build()
    };
    let a = make(&db_a, "runner-a");
    let b = make(&db_b, "runner-b");
    for _ in 0..15 {
        let (ran_a, ran_b) = tokio::join!(a.run_due(), b.run_due());
        assert_eq!(ran_a + ran_b, 1, "exactly one runner took the due run");
        clock.advance(time::Duration::seconds(10));
    }
    assert_eq!(total.load(Ordering::SeqCst), 15);
    assert_eq!(most.load(Ordering::SeqCst), 1);
    let owners: std::collections::HashSet<String> = db_a
        .read(|c| {
            let mut s = c.prepare("SELECT DISTINCT owner FROM job_runs")?;
            let v = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(v)
        })
        .await
        .expect("owners");
    assert!(!owners.is_empty());
}

/// A job whose handler panics fails like any other and the runner goes on.
#[tokio::test]
async fn a_panicking_job_is_recorded_as_failed() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let runner = Runner::builder(db.clone(), clock())
        .platform_job(JobSpec::new("test.panic", Schedule::every(60)))
        .handler("test.panic", |_| async { panic!("boom") })
        .build();
    assert_eq!(runner.run_due().await, 1);
    let j = job(&db, "test.panic").await;
    assert_eq!(j.last_outcome.as_deref(), Some("failed"));
    assert_eq!(j.last_error.as_deref(), Some("the job panicked"));
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let resp = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("readyz");
    let status = resp.status();
    (status, resp.json().await.expect("json"))
}

/// A failing platform job and a failing organization job show in the admin
/// list, the organization's list and /readyz, and clear once they succeed.
#[tokio::test]
async fn failing_jobs_show_in_the_api_and_readyz() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    // Opening the organization lets the runner see it.
    let (status, _) = owner.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let clock = clock();
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| {
        let (p, o) = (broken.clone(), broken.clone());
        b.platform_job(JobSpec::new("test.platform", Schedule::every(60)))
            .handler("test.platform", move |_| {
                let broken = p.load(Ordering::SeqCst);
                async move {
                    anyhow::ensure!(!broken, "disk is full");
                    Ok(())
                }
            })
            .org_job(JobSpec::new("test.org", Schedule::every(60)))
            .handler("test.org", move |ctx| {
                let broken = o.load(Ordering::SeqCst);
                async move {
                    anyhow::ensure!(ctx.org_id.is_some(), "no organization");
                    anyhow::ensure!(!broken, "mailbox unreachable");
                    Ok(())
                }
            })
    })
    .expect("runner");
    assert!(runner.run_due().await >= 2);

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["jobs"]));
    let jobs = body["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "jobs"))
        .expect("a jobs check");
    let detail = jobs["detail"].as_str().expect("detail");
    assert!(detail.contains("2 job(s) failed"), "{detail}");
    assert!(detail.contains("platform: test.platform"), "{detail}");
    assert!(detail.contains("test.org in 1 organization(s)"), "{detail}");
    // The answer is public: no error text, no organization names.
    assert!(
        !detail.contains("disk is full") && !detail.contains("acme"),
        "{detail}"
    );

    let (status, body) = owner.get("/api/v1/admin/jobs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let platform = find(&body["items"], "test.platform");
    assert_eq!(platform["last_outcome"], "failed");
    assert_eq!(platform["attempts"], 1);
    assert!(find(&body["items"], harmonia::housekeeping::SESSIONS)["last_outcome"] == "ok");
    let org_job = find(&body["org_jobs"], "test.org");
    assert_eq!(org_job["org"], "acme");
    assert_eq!(org_job["last_error"], "mailbox unreachable");

    let (status, body) = owner.get("/api/v1/orgs/acme/jobs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(find(&body["items"], "test.org")["last_outcome"], "failed");
    assert_eq!(
        find(&body["items"], harmonia::housekeeping::TRASH)["last_outcome"],
        "ok"
    );
    assert_eq!(find(&body["items"], "test.org")["schedule"], "every 60s");

    // Fixed: the retries succeed and readiness comes back.
    broken.store(false, Ordering::SeqCst);
    clock.advance(time::Duration::seconds(10));
    assert!(runner.run_due().await >= 2);
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn job_lists_need_the_right_role() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "max@example.com", "member")
        .await;
    let admin = app
        .add_member(&owner, "acme", "ada@example.com", "admin")
        .await;
    let (status, body) = member.get("/api/v1/orgs/acme/jobs").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = admin.get("/api/v1/orgs/acme/jobs").await;
    assert_eq!(status, StatusCode::OK);
    // An organization admin is not a platform admin.
    let (status, body) = admin.get("/api/v1/admin/jobs").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = app
        .anon()
        .send(reqwest::Method::GET, "/api/v1/admin/jobs", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let key = app.api_key(&owner, "acme", "admin").await;
    let (status, _) = key.get("/api/v1/admin/jobs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = owner.get("/api/v1/orgs/nope/jobs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn find<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .expect("array")
        .iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {items}"))
}

/// An organization that is closed when one of its jobs comes due is opened
/// to run it: its jobs do not wait for someone to use it.
#[tokio::test]
async fn a_closed_organizations_due_job_still_runs() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = owner.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::OK);
    let clock = clock();
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| b).expect("runner");
    assert!(runner.run_due().await > 0);
    app.state
        .tenants
        .close_all_and_wait(Duration::from_secs(10))
        .await;
    assert_eq!(app.state.tenants.open_count(), 0);

    clock.advance(time::Duration::hours(1));
    runner.run_due().await;
    let (status, body) = owner.get("/api/v1/admin/jobs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trash = find(&body["org_jobs"], harmonia::housekeeping::TRASH);
    assert_eq!(
        trash["last_started_at"],
        stamp(datetime!(2026-03-01 13:00 UTC)),
        "{trash}"
    );
    assert_eq!(trash["last_outcome"], "ok");
}

/// A job whose handler is gone (its feature was switched off) is removed at
/// the next start rather than failing readiness for ever.
#[tokio::test]
async fn jobs_without_a_handler_are_retired() {
    let dir = tempfile::tempdir().expect("dir");
    let db = control_db(dir.path());
    let count = Arc::new(AtomicUsize::new(0));
    let before = counting_runner(&db, &clock(), Schedule::every(60), &count, true);
    assert_eq!(before.run_due().await, 1);
    assert_eq!(
        job(&db, "test.count").await.last_outcome.as_deref(),
        Some("failed")
    );

    let after = Runner::builder(db.clone(), clock())
        .platform_job(JobSpec::new("test.other", Schedule::every(60)))
        .handler("test.other", |_| async { Ok(()) })
        .build();
    assert_eq!(after.run_due().await, 1);
    let left = db.read(store::list).await.expect("list");
    let names: Vec<&str> = left.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, vec!["test.other"]);
    assert!(runs(&db, "test.count").await.is_empty());
}

/// The sessions job also forgets sign-in devices whose cookie has expired.
#[tokio::test]
async fn the_sessions_job_forgets_expired_devices() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let user = app.login("owner@example.com", PASSWORD).await.user_id;
    app.state
        .control
        .write(move |c| {
            c.execute(
                "INSERT INTO known_devices (token_hash, user_id, created_at)
                 VALUES (x'00', ?1, '2020-01-01T00:00:00.000000Z')",
                [&user],
            )?;
            Ok(())
        })
        .await
        .expect("an old device");
    let count = |state: harmonia::AppState| async move {
        state
            .control
            .read(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM known_devices", [], |r| {
                    r.get::<_, i64>(0)
                })?)
            })
            .await
            .expect("count")
    };
    let before = count(app.state.clone()).await;
    let runner = harmonia::housekeeping::runner(&app.state, clock(), |b| b).expect("runner");
    runner.run_due().await;
    assert_eq!(
        count(app.state.clone()).await,
        before - 1,
        "only the expired one goes"
    );
}

/// The statistics job gives an organization grown since it opened planner
/// statistics for its new index, so lists keep using the right index.
#[tokio::test]
async fn the_statistics_job_refreshes_planner_statistics() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = owner
        .post(
            "/api/v1/orgs/acme/fields",
            serde_json::json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for n in 0..5 {
        owner
            .post(
                "/api/v1/orgs/acme/contacts",
                serde_json::json!({"first_name": format!("P{n}"), "custom": {"tier": "gold"}}),
            )
            .await;
    }
    let org_id = app
        .state
        .control
        .read(|c| {
            Ok(
                c.query_row("SELECT id FROM orgs WHERE slug = 'acme'", [], |r| {
                    r.get::<_, String>(0)
                })?,
            )
        })
        .await
        .expect("org");
    let tenant = app.state.tenants.get(&org_id).await.expect("tenant");
    let stats_for = |index: &'static str| {
        let db = tenant.db.clone();
        async move {
            db.read(move |c| {
                let has_table: bool = c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')",
                    [],
                    |r| r.get(0),
                )?;
                if !has_table {
                    return Ok(false);
                }
                Ok(c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE idx = ?1)",
                    [index],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("read")
        }
    };
    assert!(
        !stats_for("cf_contacts_tier").await,
        "a new index has none yet"
    );
    let runner = harmonia::housekeeping::runner(&app.state, clock(), |b| b).expect("runner");
    assert!(runner.run_due().await > 0);
    assert!(stats_for("cf_contacts_tier").await, "the job analysed it");
}
