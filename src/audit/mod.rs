//! The audit log: who did what to what, when and from where, for the
//! operations an administrator has to be able to review (sign-ins, second
//! factors, members, API keys, settings, custom fields, pipelines, erasures,
//! backups, closures). An organization's events live in its own database,
//! platform events in the control database; both have the same `audit_log`
//! table (tenant V14, control V12).
//!
//! Entries are append-only and chained: each one's hash is SHA-256 over the
//! previous entry's hash and the entry's own content, so editing, removing or
//! reordering an entry breaks every hash after it (`verify`). Triggers refuse
//! UPDATE and DELETE; the only deletion is the retention purge (`purge_old`),
//! which first moves the chain's recorded start (`audit_chain`) past the
//! entries it removes and then logs itself.
//!
//! Adding an audited operation is one line inside the write transaction that
//! makes the change:
//! `audit::record(tx, &Entry::new(actor, "webhook.created").target("webhook", &id, &url))?;`
//!
//! This module sits at the bottom of the layers (beside `db` and `clock`) so
//! that auth, platform, record and crm can all call it.

pub mod query;
pub mod requests;
pub mod verify;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::error::AppResult;

pub use verify::{Broken, purge_old, verify};

/// How long entries are kept.
pub const RETENTION: time::Duration = time::Duration::days(365);

/// The hash the first entry of a new chain points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest user agent and label kept.
const MAX_TEXT: usize = 512;

/// Who acted: a person, an API key, the server itself, or someone not
/// signed in (a failed sign-in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// `user`, `api_key`, `system` or `anonymous`.
    pub kind: &'static str,
    pub id: Option<String>,
    /// What a reader recognises: an email, a key's name, "system".
    pub label: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn user(id: &str, email: &str) -> Actor {
        Actor::new("user", Some(id), email)
    }

    pub fn api_key(id: &str, name: &str) -> Actor {
        Actor::new("api_key", Some(id), name)
    }

    /// The server on its own (a scheduled job, the command line).
    pub fn system(what: &str) -> Actor {
        Actor::new("system", None, what)
    }

    /// Someone not signed in.
    pub fn anonymous() -> Actor {
        Actor::new("anonymous", None, "anonymous")
    }

    fn new(kind: &'static str, id: Option<&str>, label: &str) -> Actor {
        Actor {
            kind,
            id: id.map(str::to_string),
            label: cut(label),
            ip: None,
            user_agent: None,
        }
    }

    /// Where the request came from.
    pub fn from(mut self, ip: &str, user_agent: &str) -> Actor {
        self.ip = Some(ip.to_string());
        self.user_agent = Some(cut(user_agent));
        self
    }
}

/// One audited operation, before it is stored.
#[derive(Clone, Debug)]
pub struct Entry {
    pub actor: Actor,
    /// `area.verb`: `member.invited`, `api_key.revoked`, `account.signed_in`, …
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Entry {
    pub fn new(actor: Actor, action: &str) -> Entry {
        Entry {
            actor,
            action: action.to_string(),
            target_kind: None,
            target_id: None,
            target_label: None,
            before: None,
            after: None,
        }
    }

    /// What was acted on: its kind, id and a readable label.
    pub fn target(mut self, kind: &str, id: &str, label: &str) -> Entry {
        self.target_kind = Some(kind.to_string());
        self.target_id = Some(id.to_string());
        self.target_label = Some(cut(label));
        self
    }

    pub fn before(mut self, v: Value) -> Entry {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: Value) -> Entry {
        self.after = Some(v);
        self
    }
}

fn cut(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

/// An entry as stored, every column.
#[derive(Clone, Debug)]
pub struct Stored {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

pub const COLUMNS: &str = "seq, id, at, actor_kind, actor_id, actor_label, action, target_kind, \
     target_id, target_label, ip, user_agent, before, after, prev_hash, hash";

impl Stored {
    pub fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Stored> {
        Ok(Stored {
            seq: r.get(0)?,
            id: r.get(1)?,
            at: r.get(2)?,
            actor_kind: r.get(3)?,
            actor_id: r.get(4)?,
            actor_label: r.get(5)?,
            action: r.get(6)?,
            target_kind: r.get(7)?,
            target_id: r.get(8)?,
            target_label: r.get(9)?,
            ip: r.get(10)?,
            user_agent: r.get(11)?,
            before: r.get(12)?,
            after: r.get(13)?,
            prev_hash: r.get(14)?,
            hash: r.get(15)?,
        })
    }

    /// The hash this entry must carry: SHA-256 over the previous hash and
    /// every other column, as one JSON array (unambiguous: no separator can
    /// be forged inside a field).
    pub fn compute_hash(&self) -> String {
        let content = serde_json::json!([
            self.seq,
            self.id,
            self.at,
            self.actor_kind,
            self.actor_id,
            self.actor_label,
            self.action,
            self.target_kind,
            self.target_id,
            self.target_label,
            self.ip,
            self.user_agent,
            self.before,
            self.after,
        ]);
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(content.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

/// Where the chain goes on: the last entry's number and hash, or — when
/// every entry was purged or none was ever written — the recorded start.
pub(crate) fn tail(conn: &Connection) -> AppResult<(i64, String)> {
    let last = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    if let Some(last) = last {
        return Ok(last);
    }
    let (start_seq, start_hash) = verify::chain_start(conn)?;
    Ok((start_seq - 1, start_hash))
}

/// Appends `entry` to the log of the database `conn` belongs to, inside the
/// caller's transaction: the entry exists exactly when the change does.
/// Returns the stored entry's id.
pub fn record(conn: &Connection, entry: &Entry) -> AppResult<String> {
    let (last_seq, last_hash) = tail(conn)?;
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    let mut stored = Stored {
        seq: last_seq + 1,
        id: clock::new_id(),
        at: clock::now_stamp(),
        actor_kind: entry.actor.kind.to_string(),
        actor_id: entry.actor.id.clone(),
        actor_label: entry.actor.label.clone(),
        action: entry.action.clone(),
        target_kind: entry.target_kind.clone(),
        target_id: entry.target_id.clone(),
        target_label: entry.target_label.clone(),
        ip: entry.actor.ip.clone(),
        user_agent: entry.actor.user_agent.clone(),
        before: json(&entry.before),
        after: json(&entry.after),
        prev_hash: last_hash,
        hash: String::new(),
    };
    stored.hash = stored.compute_hash();
    let s = &stored;
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, actor_label, action,
           target_kind, target_id, target_label, ip, user_agent, before, after, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        s.seq,
        s.id,
        s.at,
        s.actor_kind,
        s.actor_id,
        s.actor_label,
        s.action,
        s.target_kind,
        s.target_id,
        s.target_label,
        s.ip,
        s.user_agent,
        s.before,
        s.after,
        s.prev_hash,
        s.hash
    ])?;
    Ok(stored.id)
}

/// The fields of two JSON objects that differ, as (before, after) objects
/// holding only those fields: what an entry shows of a settings change.
pub fn changed(before: &Value, after: &Value) -> (Value, Value) {
    let (mut b, mut a) = (serde_json::Map::new(), serde_json::Map::new());
    if let (Some(bo), Some(ao)) = (before.as_object(), after.as_object()) {
        for (k, av) in ao {
            let bv = bo.get(k).unwrap_or(&Value::Null);
            if bv != av {
                b.insert(k.clone(), bv.clone());
                a.insert(k.clone(), av.clone());
            }
        }
    }
    (Value::Object(b), Value::Object(a))
}

/// Appends `entry` to the log of the database file at `path` from outside
/// the server (the command line: backups, restores), which may be running
/// meanwhile: SQLite's own lock orders the two writers. A database from
/// before the audit log (no `audit_log` table) is left alone.
pub fn record_in_file(path: &std::path::Path, entry: &Entry) -> anyhow::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let has_log: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'",
        [],
        |r| r.get(0),
    )?;
    if has_log {
        record(&tx, entry).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tx.commit()?;
    Ok(())
}

/// The command line as an actor: the operating-system user running it.
pub fn command_line() -> Actor {
    let who = std::env::var("USER").unwrap_or_default();
    Actor::system(format!("command line {who}").trim())
}
