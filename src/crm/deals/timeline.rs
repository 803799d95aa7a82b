//! Deal stage moves on timelines: a deal's own, and those of the deals of a
//! company or a contact on their pages ("Acme renewal: Proposal → Won").

use rusqlite::{Connection, params};
use serde_json::json;

use crate::error::AppResult;
use crate::record::timeline::{Entry, Position, Subject, TimelineSource};

pub struct StageMoves;

/// Keys sort like positions: zero-padded so text order is number order.
fn key(seq: i64) -> String {
    format!("deal-stage:{seq:020}")
}

impl TimelineSource for StageMoves {
    fn group(&self) -> &'static str {
        "deals"
    }

    fn entries(
        &self,
        conn: &Connection,
        subject: &Subject<'_>,
        before: Option<&Position>,
        limit: usize,
    ) -> AppResult<Vec<Entry>> {
        let ids = serde_json::to_string(&subject.ids)
            .map_err(|e| crate::error::AppError::Internal(e.into()))?;
        let (at, k) = match before {
            Some(p) => (p.at.clone(), p.key.clone()),
            None => ("\u{10ffff}".to_string(), String::new()),
        };
        // The deals the subject is, or whose company or contact it is;
        // a move is news, the stage a deal was created in is not.
        let mut stmt = conn.prepare_cached(
            "SELECT c.seq, c.deal_id, d.title, d.deleted_at IS NOT NULL, c.from_stage_name,
                    c.to_stage_name, c.actor, c.at
             FROM deal_stage_changes c JOIN deals d ON d.id = c.deal_id
             WHERE c.from_stage_id IS NOT NULL
               AND c.deal_id IN (
                   SELECT value FROM json_each(?1)
                   UNION SELECT id FROM deals WHERE company_id IN (SELECT value FROM json_each(?1))
                   UNION SELECT deal_id FROM deal_contacts
                         WHERE contact_id IN (SELECT value FROM json_each(?1)))
               AND (c.at < ?2 OR (c.at = ?2 AND printf('deal-stage:%020d', c.seq) < ?3))
             ORDER BY c.at DESC, c.seq DESC LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![ids, at, k, limit as i64], |r| {
                let seq: i64 = r.get(0)?;
                let at: String = r.get(7)?;
                Ok(Entry {
                    key: key(seq),
                    group: "deals".into(),
                    event: "moved".into(),
                    actor: Some(r.get(6)?),
                    item: json!({
                        "deal": {"id": r.get::<_, String>(1)?, "name": r.get::<_, String>(2)?,
                                 "deleted": r.get::<_, bool>(3)?},
                        "from": r.get::<_, Option<String>>(4)?,
                        "to": r.get::<_, String>(5)?,
                    }),
                    position: Position {
                        at: at.clone(),
                        key: key(seq),
                    },
                    at,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
