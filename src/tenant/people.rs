//! The organization's members' names, kept in its own database so that lists
//! sort by an owner's name with an index (`owner_key` beside each record,
//! kept by the triggers of tenant V20). The names' home is the control
//! database; the registry copies them here when an organization opens, and
//! the platform layer when someone joins or renames themselves. Rows are
//! never deleted: a former member's records keep sorting by their last name.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::error::AppResult;
use crate::order::natural_key;

/// A member as the control database knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub name: String,
}

/// The people whose row here is missing or has another name.
pub fn changed(conn: &Connection, people: Vec<Person>) -> AppResult<Vec<Person>> {
    let mut stmt = conn.prepare_cached("SELECT user_id, name FROM people")?;
    let known: HashMap<String, String> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(people
        .into_iter()
        .filter(|p| known.get(&p.user_id) != Some(&p.name))
        .collect())
}

/// Writes these people's names; the triggers move their records' keys.
pub fn save(conn: &Connection, people: &[Person]) -> AppResult<usize> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO people (user_id, name, name_key) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, name_key = excluded.name_key
         WHERE name IS NOT excluded.name",
    )?;
    let mut n = 0;
    for p in people {
        n += stmt.execute(params![p.user_id, p.name, natural_key(&p.name)])?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        crate::db::tenant_in_memory()
    }

    fn person(id: &str, name: &str) -> Person {
        Person {
            user_id: id.into(),
            name: name.into(),
        }
    }

    fn owner_keys(conn: &Connection) -> Vec<(String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT id, owner_key FROM companies ORDER BY id")
            .expect("query");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("keys")
    }

    #[test]
    fn records_follow_their_owners_name_whenever_it_becomes_known_or_changes() {
        let conn = db();
        // As the API's inserts do: the owner's key if their name is known.
        let insert = |id: &str, owner: Option<&str>| {
            conn.execute(
                "INSERT INTO companies (id, name, sort_name, owner_id, created_at, updated_at,
                     created_by, updated_by, owner_key)
                 VALUES (?1, ?1, ?1, ?2, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'u', 'u',
                     (SELECT name_key FROM people WHERE user_id = ?2))",
                params![id, owner],
            )
            .expect("insert company");
        };
        // Written before the owner's name is here (the demo generator, an
        // archive): no key yet.
        insert("a", Some("u1"));
        insert("b", None);
        assert_eq!(owner_keys(&conn)[0].1, None);

        let people = vec![person("u1", "Ágota Zed"), person("u2", "Bob 10")];
        let todo = changed(&conn, people.clone()).expect("diff");
        assert_eq!(todo.len(), 2);
        assert_eq!(save(&conn, &todo).expect("save"), 2);
        assert!(changed(&conn, people).expect("diff").is_empty());
        insert("c", Some("u2"));
        assert_eq!(
            owner_keys(&conn),
            vec![
                ("a".into(), Some("agota zed".into())),
                ("b".into(), None),
                ("c".into(), Some("bob 210".into())),
            ]
        );

        // A rename moves the keys; a new owner takes theirs.
        save(&conn, &[person("u1", "Zoe")]).expect("rename");
        conn.execute("UPDATE companies SET owner_id = 'u1' WHERE id = 'c'", [])
            .expect("reassign");
        conn.execute("UPDATE companies SET owner_id = NULL WHERE id = 'a'", [])
            .expect("unassign");
        assert_eq!(
            owner_keys(&conn),
            vec![
                ("a".into(), None),
                ("b".into(), None),
                ("c".into(), Some("zoe".into())),
            ]
        );
        // The same name again writes nothing.
        assert_eq!(save(&conn, &[person("u1", "Zoe")]).expect("same"), 0);
    }
}
