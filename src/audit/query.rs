//! Reading the log: filtered pages, newest first, and the CSV export.

use rusqlite::{Connection, ToSql};
use serde::Serialize;

use crate::audit::{COLUMNS, Stored};
use crate::error::AppResult;

/// What a reader asks for. Every part is optional.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// An actor's id, or part of their label (email, key name).
    pub actor: Option<String>,
    /// An action (`member.invited`), or a prefix ending in a dot (`member.`).
    pub action: Option<String>,
    /// A target's id, or part of its label.
    pub target: Option<String>,
    /// Stored stamps (already normalised): from, inclusive.
    pub since: Option<String>,
    /// Up to, exclusive.
    pub until: Option<String>,
    /// Entries older than this one (its number).
    pub before_seq: Option<i64>,
}

/// One entry as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    pub id: String,
    /// The entry's number in its chain.
    pub seq: i64,
    pub at: String,
    /// `user`, `api_key`, `system` or `anonymous`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What changed, before (only the fields that changed, where it helps).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub hash: String,
}

impl From<Stored> for AuditItem {
    fn from(s: Stored) -> AuditItem {
        let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        AuditItem {
            id: s.id,
            seq: s.seq,
            at: s.at,
            actor_kind: s.actor_kind,
            actor_id: s.actor_id,
            actor_label: s.actor_label,
            action: s.action,
            target_kind: s.target_kind,
            target_id: s.target_id,
            target_label: s.target_label,
            ip: s.ip,
            user_agent: s.user_agent,
            before: parse(s.before),
            after: parse(s.after),
            hash: s.hash,
        }
    }
}

fn like(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Up to `limit` entries matching `f`, newest first.
pub fn list(conn: &Connection, f: &Filter, limit: u32) -> AppResult<Vec<AuditItem>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: Box<dyn ToSql>| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(a) = &f.actor {
        arg(&mut sql, " AND (actor_id = ?", Box::new(a.clone()));
        arg(
            &mut sql,
            " OR actor_label LIKE ? ESCAPE '\\')",
            Box::new(like(a)),
        );
    }
    if let Some(a) = &f.action {
        if a.ends_with('.') {
            arg(
                &mut sql,
                " AND action LIKE ? ESCAPE '\\'",
                Box::new(format!("{}%", like(a).trim_end_matches('%'))),
            );
        } else {
            arg(&mut sql, " AND action = ?", Box::new(a.clone()));
        }
    }
    if let Some(t) = &f.target {
        arg(&mut sql, " AND (target_id = ?", Box::new(t.clone()));
        arg(
            &mut sql,
            " OR target_label LIKE ? ESCAPE '\\')",
            Box::new(like(t)),
        );
    }
    if let Some(s) = &f.since {
        arg(&mut sql, " AND at >= ?", Box::new(s.clone()));
    }
    if let Some(u) = &f.until {
        arg(&mut sql, " AND at < ?", Box::new(u.clone()));
    }
    if let Some(b) = f.before_seq {
        arg(&mut sql, " AND seq < ?", Box::new(b));
    }
    arg(&mut sql, " ORDER BY seq DESC LIMIT ?", Box::new(limit));
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let items = stmt
        .query_map(params.as_slice(), Stored::from_row)?
        .map(|r| r.map(AuditItem::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// The CSV header and the columns of each row.
const CSV_HEADER: &str = "at,actor_kind,actor,actor_id,action,target_kind,target,target_id,ip,user_agent,before,after,id,hash";

/// One cell: quoted, and neutralised when a spreadsheet would read it as a
/// formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`).
pub fn csv_cell(s: &str) -> String {
    let neutral = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

pub fn csv_header() -> String {
    format!("{CSV_HEADER}\r\n")
}

pub fn csv_row(i: &AuditItem) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let json =
        |o: &Option<serde_json::Value>| o.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let cells = [
        i.at.clone(),
        i.actor_kind.clone(),
        i.actor_label.clone(),
        opt(&i.actor_id),
        i.action.clone(),
        opt(&i.target_kind),
        opt(&i.target_label),
        opt(&i.target_id),
        opt(&i.ip),
        opt(&i.user_agent),
        json(&i.before),
        json(&i.after),
        i.id.clone(),
        i.hash.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for s in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(s).starts_with("\"'"), "{s}");
        }
        assert_eq!(csv_cell("plain"), "\"plain\"");
    }
}
