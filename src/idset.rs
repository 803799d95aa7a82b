//! A set of record ids that SQL can ask about, `harmonia_in_set(id)`, and
//! a time limit on one statement.
//!
//! A list's search box that matches thousands of records reads fastest by
//! walking the list in its sort order and keeping the rows the search
//! found (`record::list`): fifty of them turn up after a few thousand index
//! entries, where reading every match by id and sorting them costs tens of
//! milliseconds at a million records. SQLite has no way to take a set from
//! the caller but a table or JSON it would index first; this function
//! answers from a hash set held by the thread that runs the statement.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// Record ids: UUIDs as numbers (hashed without a string each), any
/// others as text.
#[derive(Debug, Default)]
pub struct IdSet {
    pub uuids: HashSet<u128>,
    pub others: HashSet<String>,
}

impl IdSet {
    fn contains(&self, id: &str) -> bool {
        match uuid::Uuid::try_parse(id) {
            Ok(u) if self.uuids.contains(&u.as_u128()) => true,
            _ => !self.others.is_empty() && self.others.contains(id),
        }
    }
}

pub type Ids = Arc<IdSet>;

thread_local! {
    static SET: RefCell<Option<Ids>> = const { RefCell::new(None) };
}

/// Makes `harmonia_in_set(id)` callable on `conn`: 1 when `id` is in the set
/// of `with_set` running on this thread, else 0 (and 0 outside it). No
/// schema object uses it.
pub fn register_sql(conn: &Connection) -> rusqlite::Result<()> {
    // Not deterministic: its answer depends on the set of the moment.
    conn.create_scalar_function(
        "harmonia_in_set",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        |ctx| {
            let id = ctx.get_raw(0).as_str().ok();
            Ok(SET.with(|s| match (s.borrow().as_ref(), id) {
                (Some(set), Some(id)) => set.contains(id),
                _ => false,
            }))
        },
    )
}

/// Runs `f` with `set` as the set `harmonia_in_set` answers from, on this
/// thread; afterwards (even on a panic) the function answers 0 again.
pub fn with_set<T>(set: Ids, f: impl FnOnce() -> T) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            SET.with(|s| *s.borrow_mut() = None);
        }
    }
    SET.with(|s| *s.borrow_mut() = Some(set));
    let _clear = Clear;
    f()
}

/// SQLite virtual machine steps between two calls of the progress handler.
const STEPS_PER_CALL: i32 = 1_000;

/// Runs `f` on `conn`, interrupting its statements once they have taken
/// about `steps` virtual machine steps between them (they then fail with
/// SQLite's "interrupted", `is_interrupted`). Work, not time: under load a
/// statement waits for a core, and a time limit would stop walks that were
/// cheap. The connection is left without a limit.
pub fn within<T>(conn: &Connection, steps: u64, f: impl FnOnce() -> T) -> rusqlite::Result<T> {
    struct Unlimit<'a>(&'a Connection);
    impl Drop for Unlimit<'_> {
        fn drop(&mut self) {
            // Removing a handler cannot fail.
            let _ = self.0.progress_handler(0, None::<fn() -> bool>);
        }
    }
    let calls = steps / STEPS_PER_CALL as u64;
    let mut called = 0u64;
    conn.progress_handler(
        STEPS_PER_CALL,
        Some(move || {
            called += 1;
            called > calls
        }),
    )?;
    let _unlimit = Unlimit(conn);
    Ok(f())
}

/// Whether a statement failed because `within` stopped it.
pub fn is_interrupted(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().expect("memory db");
        register_sql(&c).expect("function");
        c.execute_batch(
            "CREATE TABLE t (id TEXT);
             INSERT INTO t VALUES ('a'), ('b'), ('c');",
        )
        .expect("table");
        c
    }

    fn kept(c: &Connection) -> Vec<String> {
        let mut stmt = c
            .prepare("SELECT id FROM t WHERE harmonia_in_set(id) ORDER BY id")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn the_set_is_asked_only_inside_with_set() {
        let c = conn();
        let set: Ids = Arc::new(IdSet {
            uuids: HashSet::from([7]),
            others: ["a", "c", "z"].iter().map(|s| s.to_string()).collect(),
        });
        assert_eq!(with_set(set, || kept(&c)), vec!["a", "c"]);
        // A UUID is found by its number.
        let seven = uuid::Uuid::from_u128(7).hyphenated().to_string();
        c.execute("INSERT INTO t VALUES (?1)", [&seven])
            .expect("insert");
        let set: Ids = Arc::new(IdSet {
            uuids: HashSet::from([7, 8]),
            others: HashSet::new(),
        });
        assert_eq!(with_set(set, || kept(&c)), vec![seven]);
        assert!(kept(&c).is_empty(), "the set outlived with_set");
    }

    #[test]
    fn a_statement_over_budget_is_interrupted_and_the_next_is_not() {
        let c = conn();
        let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
                    SELECT count(*) FROM (SELECT i FROM n LIMIT 100000000)";
        let r = within(&c, 1_000_000, || {
            c.query_row(slow, [], |r| r.get::<_, i64>(0))
        })
        .expect("handler set");
        let e = r.expect_err("a hundred million rows in a million steps");
        assert!(is_interrupted(&e), "{e}");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("no limit after within");
        assert_eq!(n, 3);
    }
}
