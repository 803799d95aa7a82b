//! Notes: rich text about one or more records of any kind. The client sends
//! HTML; it is sanitized on write (`rich`), kept with a plain-text copy for
//! search and previews and the members it @mentions. Pinned notes stay on
//! top of a record's timeline; who edited a note last and when is its
//! `updated_by`/`updated_at`, and every edit is in its history.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::crm::links::{self, LinkInput, LinkTable};
use crate::crm::rich;
use crate::error::{AppError, AppResult, Problems};
use crate::record::refs::RecordRef;
use crate::record::store::Changed;
use crate::record::{Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT};
use crate::search::SearchDoc;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Note {
    pub id: String,
    /// Sanitized HTML.
    pub body: String,
    /// The body as plain text (read-only).
    pub text: String,
    /// Member ids @mentioned in the body (read-only; from its
    /// `<span data-member="…">` elements).
    pub mentions: Vec<String>,
    pub pinned: bool,
    /// The records the note is about.
    pub links: Vec<RecordRef>,
    pub created_at: String,
    /// When it was last edited, and by whom (`updated_by`).
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    #[serde(flatten)]
    pub extras: Extras,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// HTML: paragraphs, headings, bold, italic, lists, links, quotes, code;
    /// mentions as `<span data-member="user id">@Name</span>`. Anything else
    /// is removed.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub pinned: Option<bool>,
    /// The records the note is about (up to 50).
    #[serde(default)]
    pub links: Option<Vec<LinkInput>>,
}

pub struct Clean {
    body: rich::Rich,
    pinned: bool,
    links: Vec<LinkInput>,
}

pub const LINKS: LinkTable = LinkTable {
    table: "note_links",
    owner: "note_id",
    times: ("at", "(SELECT created_at FROM notes WHERE id = ?1)"),
};

const COLUMNS: &str = "t.id, t.body, t.body_text, t.mentions, t.pinned,
    (SELECT json_group_array(json_array(l.kind, l.record_id)) FROM note_links l WHERE l.note_id = t.id),
    t.created_at, t.updated_at, t.created_by, t.updated_by";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Note> {
    let mentions: String = r.get(3)?;
    let links: String = r.get(5)?;
    Ok(Note {
        id: r.get(0)?,
        body: r.get(1)?,
        text: r.get(2)?,
        mentions: serde_json::from_str(&mentions).unwrap_or_default(),
        pinned: r.get(4)?,
        links: links::parse(&links),
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        created_by: r.get(8)?,
        updated_by: r.get(9)?,
        extras: Extras::default(),
    })
}

fn validate(input: NoteInput) -> AppResult<Clean> {
    let mut p = Problems::new();
    let html = input.body.unwrap_or_default();
    let body = if html.len() > rich::MAX_HTML {
        p.add("body", format!("use at most {} bytes", rich::MAX_HTML));
        None
    } else {
        let body = rich::clean(&html);
        if body.text.is_empty() {
            p.add("body", "required");
        }
        Some(body)
    };
    let links = links::check(&mut p, "links", input.links.unwrap_or_default());
    p.into_result()?;
    Ok(Clean {
        body: body.ok_or_else(|| AppError::field("body", "required"))?,
        pinned: input.pinned.unwrap_or(false),
        links,
    })
}

/// The note kind, as the record layer knows it.
pub struct Notes;

static FIELDS: &[Builtin] = &[
    Builtin {
        sortable: false,
        ..Builtin::column("text", "Text", FieldType::LongText, "t.body_text")
    },
    Builtin {
        param: Some("pinned"),
        ..Builtin::column("pinned", "Pinned", FieldType::Checkbox, "t.pinned")
    },
    Builtin {
        sortable: false,
        ..Builtin::column("created_by", "Author", FieldType::User, "t.created_by")
    },
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Notes {
    const KIND: &'static str = "note";
    const PATH: &'static str = "notes";
    const TABLE: &'static str = "notes";
    const LABEL: &'static str = "Note";
    const LABEL_PLURAL: &'static str = "Notes";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 10;
    const FROM: &'static str = "notes t";
    const NAME_SQL: &'static str = "substr(t.body_text, 1, 80)";
    const QUICK_SEARCH: &'static str = "lower(t.body_text) >= {lo} AND lower(t.body_text) < {hi}";
    const READ_ONLY: &'static [&'static str] = &["text", "mentions"];
    const DEFAULT_SORT: &'static str = "-created";
    const SHORTCUTS: &'static [&'static str] = &["record"];

    type Record = Note;
    type Input = NoteInput;
    type Clean = Clean;

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Note> {
        from_row(r)
    }
    fn to_input(n: &Note) -> NoteInput {
        NoteInput {
            body: Some(n.body.clone()),
            pinned: Some(n.pinned),
            links: Some(links::as_inputs(&n.links)),
        }
    }
    fn validate(input: NoteInput, _phones: &crate::values::Phones<'_>) -> AppResult<Clean> {
        validate(input)
    }
    fn owner_of(_clean: &Clean) -> Option<&str> {
        None
    }
    fn members_named(clean: &Clean) -> Vec<(String, String)> {
        named(&clean.body.mentions)
    }
    fn save(conn: &Connection, row: SaveRow<'_, Clean>) -> AppResult<Option<Changed>> {
        let SaveRow {
            id,
            clean: c,
            custom,
            actor,
            now,
            existing,
        } = row;
        let mentions =
            serde_json::to_string(&c.body.mentions).map_err(|e| AppError::Internal(e.into()))?;
        crate::crm::notes::notify_mentions(
            conn,
            "notes",
            Notes::KIND,
            id,
            &c.body,
            actor,
            existing,
        )?;
        let values = params![
            id,
            c.body.html,
            c.body.text,
            mentions,
            c.pinned,
            now,
            actor,
            custom
        ];
        if existing {
            conn.prepare_cached(
                "UPDATE notes SET body = ?2, body_text = ?3, mentions = ?4, pinned = ?5,
                   updated_at = ?6, updated_by = ?7, custom = ?8
                 WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .execute(values)?;
        } else {
            conn.prepare_cached(
                "INSERT INTO notes (id, body, body_text, mentions, pinned, created_at, updated_at,
                   created_by, updated_by, custom)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8)",
            )?
            .execute(values)?;
        }
        LINKS.save(conn, id, &c.links)?;
        // Written whole (and links are not columns): searched again.
        Ok(None)
    }
    fn decorate(conn: &Connection, recs: &mut [Note]) -> AppResult<()> {
        links::name_all(conn, recs.iter_mut().map(|n| &mut n.links))
    }
    fn shortcut(
        name: &str,
        value: &str,
        _params: &crate::record::list::Params,
        _me: &crate::record::list::Viewer,
    ) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
        linked_to(name, value, "note_links", "note_id")
    }
    fn search_doc(n: Note) -> SearchDoc {
        let names: Vec<String> = n.links.iter().map(|l| l.name.clone()).collect();
        SearchDoc {
            rank: None,
            kind: "note",
            id: n.id,
            title: rich::preview(&n.text, 80),
            subtitle: names.join(" · "),
            texts: vec![n.text.clone()],
            phones: Vec::new(),
            snippets: vec![rich::preview(&n.text, 160)],
        }
    }
}

/// `record=<id>`: the items linked to one record.
pub fn linked_to(
    name: &str,
    value: &str,
    table: &str,
    owner: &str,
) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
    if value.len() > 64 {
        return Err(AppError::field(name, "no such record"));
    }
    Ok((
        format!("t.id IN (SELECT {owner} FROM {table} WHERE record_id = ?)"),
        vec![rusqlite::types::Value::Text(value.to_string())],
    ))
}

/// Tells members newly @mentioned in a body (not the author of the edit).
pub fn notify_mentions(
    conn: &Connection,
    table: &str,
    kind: &str,
    id: &str,
    body: &rich::Rich,
    actor: &str,
    existing: bool,
) -> AppResult<()> {
    let before: Vec<String> = if existing {
        let json: Option<String> = conn
            .prepare_cached(&format!("SELECT mentions FROM {table} WHERE id = ?1"))?
            .query_row([id], |r| r.get(0))
            .optional()?;
        json.and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let title = rich::preview(&body.text, 120);
    for m in body
        .mentions
        .iter()
        .filter(|m| !before.contains(m) && m.as_str() != actor)
    {
        crate::platform::notifications::enqueue(
            conn,
            &crate::platform::notifications::Notice {
                event: "mentioned",
                user_id: m,
                title: &title,
                record_kind: kind,
                record_id: id,
                actor,
                key: &format!("{id}:{m}"),
                due: None,
            },
        )?;
    }
    Ok(())
}

/// Mentioned members as (field, user id) for the member check.
pub fn named(ids: &[String]) -> Vec<(String, String)> {
    ids.iter()
        .map(|m| ("body".to_string(), m.clone()))
        .collect()
}

impl crate::record::Record for Note {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        &self.updated_at
    }
    fn owner(&self) -> Option<&str> {
        None
    }
    fn extras(&self) -> &Extras {
        &self.extras
    }
    fn extras_mut(&mut self) -> &mut Extras {
        &mut self.extras
    }
}
