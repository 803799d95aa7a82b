//! Logged activities: a call, meeting, email or anything else that happened
//! with the people of some records — when, how long, how a call went, who
//! took part (contacts are links, members are listed), and a sanitized note.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::crm::links::{self, LinkInput, LinkTable};
use crate::crm::rich;
use crate::error::{AppError, AppResult, Problems};
use crate::record::refs::RecordRef;
use crate::record::store::Changed;
use crate::record::{Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT};
use crate::search::SearchDoc;

#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Call,
    Meeting,
    Email,
    Other,
}

const TYPES: &[&str] = &["call", "meeting", "email", "other"];

impl ActivityType {
    fn as_str(self) -> &'static str {
        match self {
            ActivityType::Call => "call",
            ActivityType::Meeting => "meeting",
            ActivityType::Email => "email",
            ActivityType::Other => "other",
        }
    }
    fn parse(s: &str) -> ActivityType {
        match s {
            "call" => ActivityType::Call,
            "meeting" => ActivityType::Meeting,
            "email" => ActivityType::Email,
            _ => ActivityType::Other,
        }
    }
}

/// How a call went.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Connected,
    NoAnswer,
    LeftVoicemail,
    Busy,
}

const OUTCOMES: &[&str] = &["connected", "no_answer", "left_voicemail", "busy"];

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::NoAnswer => "no_answer",
            Outcome::LeftVoicemail => "left_voicemail",
            Outcome::Busy => "busy",
        }
    }
    fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Connected,
            Outcome::NoAnswer,
            Outcome::LeftVoicemail,
            Outcome::Busy,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ActivityType,
    pub subject: String,
    /// When it happened (RFC 3339 UTC).
    pub occurred_at: String,
    pub duration_min: Option<i64>,
    /// Calls only.
    pub outcome: Option<Outcome>,
    /// Members who took part.
    pub members: Vec<String>,
    /// Sanitized HTML.
    pub body: String,
    /// The body as plain text (read-only).
    pub text: String,
    /// The records it is about (the contacts who took part among them).
    pub links: Vec<RecordRef>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    #[serde(flatten)]
    pub extras: Extras,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    #[serde(default, rename = "type")]
    pub kind: Option<ActivityType>,
    #[serde(default)]
    pub subject: Option<String>,
    /// RFC 3339; default: now.
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10080)]
    pub duration_min: Option<i64>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub members: Option<Vec<String>>,
    /// HTML, sanitized as a note's.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub links: Option<Vec<LinkInput>>,
}

pub struct Clean {
    kind: ActivityType,
    subject: String,
    occurred_at: String,
    duration_min: Option<i64>,
    outcome: Option<Outcome>,
    members: Vec<String>,
    body: rich::Rich,
    links: Vec<LinkInput>,
}

fn validate(input: ActivityInput) -> AppResult<Clean> {
    let mut p = Problems::new();
    let kind = input.kind.unwrap_or_else(|| {
        p.add("type", "required: call, meeting, email or other");
        ActivityType::Other
    });
    let subject = crate::values::text(&mut p, "subject", input.subject, 300).unwrap_or_default();
    let occurred_at = match input.occurred_at {
        None => clock::now_stamp(),
        Some(s) => clock::parse_rfc3339(&s).unwrap_or_else(|| {
            p.add("occurred_at", "use an RFC 3339 time");
            String::new()
        }),
    };
    if input
        .duration_min
        .is_some_and(|d| !(0..=10_080).contains(&d))
    {
        p.add("duration_min", "use 0 to 10080 minutes");
    }
    if input.outcome.is_some() && kind != ActivityType::Call {
        p.add("outcome", "only calls have an outcome");
    }
    let members = input.members.unwrap_or_default();
    if members.len() > 50 || members.iter().any(|m| m.is_empty() || m.len() > 64) {
        p.add("members", "up to 50 member ids");
    }
    let html = input.body.unwrap_or_default();
    if html.len() > rich::MAX_HTML {
        p.add("body", format!("use at most {} bytes", rich::MAX_HTML));
    }
    let body = rich::clean(if html.len() > rich::MAX_HTML {
        ""
    } else {
        &html
    });
    let links = links::check(&mut p, "links", input.links.unwrap_or_default());
    p.into_result()?;
    let mut unique: Vec<String> = Vec::new();
    for m in members {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    Ok(Clean {
        kind,
        subject,
        occurred_at,
        duration_min: input.duration_min,
        outcome: input.outcome,
        members: unique,
        body,
        links,
    })
}

pub const LINKS: LinkTable = LinkTable {
    table: "activity_links",
    owner: "activity_id",
    times: ("at", "(SELECT occurred_at FROM activities WHERE id = ?1)"),
};

const COLUMNS: &str = "t.id, t.type, t.subject, t.occurred_at, t.duration_min, t.outcome,
    t.members, t.body, t.body_text,
    (SELECT json_group_array(json_array(l.kind, l.record_id)) FROM activity_links l WHERE l.activity_id = t.id),
    t.created_at, t.updated_at, t.created_by, t.updated_by";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Activity> {
    let kind: String = r.get(1)?;
    let outcome: Option<String> = r.get(5)?;
    let members: String = r.get(6)?;
    let links: String = r.get(9)?;
    Ok(Activity {
        id: r.get(0)?,
        kind: ActivityType::parse(&kind),
        subject: r.get(2)?,
        occurred_at: r.get(3)?,
        duration_min: r.get(4)?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        members: serde_json::from_str(&members).unwrap_or_default(),
        body: r.get(7)?,
        text: r.get(8)?,
        links: links::parse(&links),
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        created_by: r.get(12)?,
        updated_by: r.get(13)?,
        extras: Extras::default(),
    })
}

/// The activity kind, as the record layer knows it.
pub struct Activities;

static FIELDS: &[Builtin] = &[
    Builtin {
        options: TYPES,
        not_null: true,
        param: Some("type"),
        ..Builtin::column("type", "Type", FieldType::Select, "t.type")
    },
    Builtin::column("subject", "Subject", FieldType::Text, "t.subject"),
    Builtin {
        not_null: true,
        ..Builtin::column("occurred_at", "When", FieldType::Datetime, "t.occurred_at")
    },
    Builtin::column(
        "duration_min",
        "Minutes",
        FieldType::Number,
        "t.duration_min",
    ),
    Builtin {
        options: OUTCOMES,
        ..Builtin::column("outcome", "Outcome", FieldType::Select, "t.outcome")
    },
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Activities {
    const KIND: &'static str = "activity";
    const PATH: &'static str = "activities";
    const TABLE: &'static str = "activities";
    const LABEL: &'static str = "Activity";
    const LABEL_PLURAL: &'static str = "Activities";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 14;
    const FROM: &'static str = "activities t";
    const NAME_SQL: &'static str = "CASE WHEN t.subject <> '' THEN t.subject ELSE t.type || ' ' || substr(t.occurred_at, 1, 10) END";
    const QUICK_SEARCH: &'static str = "lower(t.subject) >= {lo} AND lower(t.subject) < {hi}";
    const READ_ONLY: &'static [&'static str] = &["text"];
    const DEFAULT_SORT: &'static str = "-occurred_at";
    const SHORTCUTS: &'static [&'static str] = &["record"];

    type Record = Activity;
    type Input = ActivityInput;
    type Clean = Clean;

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Activity> {
        from_row(r)
    }
    fn to_input(a: &Activity) -> ActivityInput {
        ActivityInput {
            kind: Some(a.kind),
            subject: Some(a.subject.clone()),
            occurred_at: Some(a.occurred_at.clone()),
            duration_min: a.duration_min,
            outcome: a.outcome,
            members: Some(a.members.clone()),
            body: Some(a.body.clone()),
            links: Some(links::as_inputs(&a.links)),
        }
    }
    fn validate(input: ActivityInput, _phones: &crate::values::Phones<'_>) -> AppResult<Clean> {
        validate(input)
    }
    fn owner_of(_clean: &Clean) -> Option<&str> {
        None
    }
    fn members_named(clean: &Clean) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = clean
            .members
            .iter()
            .map(|m| ("members".to_string(), m.clone()))
            .collect();
        out.extend(crate::crm::notes::named(&clean.body.mentions));
        out
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
        let members =
            serde_json::to_string(&c.members).map_err(|e| AppError::Internal(e.into()))?;
        crate::crm::notes::notify_mentions(
            conn,
            "activities",
            Activities::KIND,
            id,
            &c.body,
            actor,
            existing,
        )?;
        let values = params![
            id,
            c.kind.as_str(),
            c.subject,
            c.occurred_at,
            c.duration_min,
            c.outcome.map(Outcome::as_str),
            members,
            c.body.html,
            c.body.text,
            now,
            actor,
            custom,
            serde_json::to_string(&c.body.mentions).map_err(|e| AppError::Internal(e.into()))?
        ];
        if existing {
            conn.prepare_cached(
                "UPDATE activities SET type = ?2, subject = ?3, occurred_at = ?4, duration_min = ?5,
                   outcome = ?6, members = ?7, body = ?8, body_text = ?9, updated_at = ?10,
                   updated_by = ?11, custom = ?12, mentions = ?13
                 WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .execute(values)?;
        } else {
            conn.prepare_cached(
                "INSERT INTO activities (id, type, subject, occurred_at, duration_min, outcome,
                   members, body, body_text, created_at, updated_at, created_by, updated_by, custom, mentions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?11, ?12, ?13)",
            )?
            .execute(values)?;
        }
        LINKS.save(conn, id, &c.links)?;
        // Written whole (and links are not columns): searched again.
        Ok(None)
    }
    fn decorate(conn: &Connection, recs: &mut [Activity]) -> AppResult<()> {
        links::name_all(conn, recs.iter_mut().map(|a| &mut a.links))
    }
    fn shortcut(
        name: &str,
        value: &str,
        _params: &crate::record::list::Params,
        _me: &crate::record::list::Viewer,
    ) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
        crate::crm::notes::linked_to(name, value, "activity_links", "activity_id")
    }
    fn search_doc(a: Activity) -> SearchDoc {
        let names: Vec<String> = a.links.iter().map(|l| l.name.clone()).collect();
        let title = if a.subject.is_empty() {
            format!(
                "{} {}",
                a.kind.as_str(),
                &a.occurred_at[..a.occurred_at.len().min(10)]
            )
        } else {
            a.subject.clone()
        };
        SearchDoc {
            rank: None,
            kind: "activity",
            id: a.id,
            title,
            subtitle: names.join(" · "),
            texts: vec![a.subject, a.text.clone()],
            phones: Vec::new(),
            snippets: vec![rich::preview(&a.text, 160)],
        }
    }
}

impl crate::record::Record for Activity {
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
