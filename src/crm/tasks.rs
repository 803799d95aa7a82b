//! Tasks: things a member must do, due on a date or at a time, linked to
//! records of any kind. Open or done (with when and by whom); completing a
//! repeating task creates the next one. Lists take `assignee=me` and
//! `due=overdue|today|this_week|later|none`: days as they are where the
//! caller lives (their account's time zone; `tz=` overrides it; UTC if
//! neither is set).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock;
use crate::crm::links::{self, LinkInput, LinkTable};
use crate::crm::repeat::Repeat;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::refs::RecordRef;
use crate::record::store::Changed;
use crate::record::{
    Builtin, CREATED_AT, Extras, FieldType, RecordKind, SaveRow, UPDATED_AT, history, store,
};
use crate::search::SearchDoc;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl Priority {
    const ALL: [(Priority, &'static str); 4] = [
        (Priority::None, "none"),
        (Priority::Low, "low"),
        (Priority::Medium, "medium"),
        (Priority::High, "high"),
    ];
    fn as_str(self) -> &'static str {
        Priority::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, s)| *s)
            .unwrap_or("none")
    }
    fn parse(s: &str) -> Priority {
        Priority::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Done,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// A date (`2026-12-04`, a whole day in the assignee's zone) or an
    /// RFC 3339 UTC time.
    pub due: Option<String>,
    pub assignee_id: Option<String>,
    pub priority: Priority,
    /// Changed by `complete` and `reopen` (read-only here).
    pub status: Status,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
    pub repeat: Option<Repeat>,
    /// The task whose completion created this one.
    pub repeat_of: Option<String>,
    /// The records the task is about.
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
pub struct TaskInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `2026-12-04` or an RFC 3339 time.
    #[serde(default)]
    pub due: Option<String>,
    /// A member.
    #[serde(default)]
    pub assignee_id: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Needs a due date.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    #[serde(default)]
    pub links: Option<Vec<LinkInput>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Due {
    Day(Date),
    At(OffsetDateTime),
}

impl Due {
    fn parse(s: &str) -> Option<Due> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(d) = Date::parse(s, &fmt) {
            return Some(Due::Day(d));
        }
        let stamp = clock::parse_rfc3339(s)?;
        let t =
            OffsetDateTime::parse(&stamp, &time::format_description::well_known::Rfc3339).ok()?;
        Some(Due::At(t))
    }
    fn stored(&self) -> String {
        match self {
            Due::Day(d) => d.to_string(),
            Due::At(t) => clock::stamp(*t),
        }
    }
    fn date(&self) -> Date {
        match self {
            Due::Day(d) => *d,
            Due::At(t) => t.date(),
        }
    }
    /// The next due by the rule; a time keeps its time of day in `zone`.
    fn next(&self, r: &Repeat, zone: &jiff::tz::TimeZone) -> Option<Due> {
        match self {
            Due::Day(d) => r.next(*d).map(Due::Day),
            Due::At(t) => r.next_time(*t, zone).map(Due::At),
        }
    }
}

pub struct Clean {
    title: String,
    description: Option<String>,
    due: Option<Due>,
    assignee_id: Option<String>,
    priority: Priority,
    repeat: Option<Repeat>,
    links: Vec<LinkInput>,
}

fn validate(input: TaskInput) -> AppResult<Clean> {
    let mut p = Problems::new();
    let title = crate::values::text(&mut p, "title", input.title, 300);
    if title.is_none() {
        p.add("title", "required");
    }
    let description = crate::values::text(&mut p, "description", input.description, 10_000);
    let due = match input.due.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let d = Due::parse(s);
            if d.is_none() {
                p.add("due", "use a date (2026-12-31) or an RFC 3339 time");
            }
            d
        }
    };
    let repeat = match (input.repeat, &due) {
        (None, _) => None,
        (Some(_), None) => {
            p.add("repeat", "a repeating task needs a due date");
            None
        }
        (Some(r), Some(d)) => match r.settle(d.date()) {
            Ok(r) => Some(r),
            Err(e) => {
                p.add("repeat", e);
                None
            }
        },
    };
    let links = links::check(&mut p, "links", input.links.unwrap_or_default());
    let assignee_id = crate::values::text(&mut p, "assignee_id", input.assignee_id, 64);
    p.into_result()?;
    Ok(Clean {
        title: title.unwrap_or_default(),
        description,
        due,
        assignee_id,
        priority: input.priority.unwrap_or_default(),
        repeat,
        links,
    })
}

pub const LINKS: LinkTable = LinkTable {
    table: "task_links",
    owner: "task_id",
    times: (
        "created_at, done_at",
        "(SELECT created_at FROM tasks WHERE id = ?1), (SELECT done_at FROM tasks WHERE id = ?1)",
    ),
};

const COLUMNS: &str = "t.id, t.title, t.description, t.due, t.assignee_id, t.priority, t.status,
    t.done_at, t.done_by, t.repeat, t.repeat_of,
    (SELECT json_group_array(json_array(l.kind, l.record_id)) FROM task_links l WHERE l.task_id = t.id),
    t.created_at, t.updated_at, t.created_by, t.updated_by";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Task> {
    let priority: String = r.get(5)?;
    let status: String = r.get(6)?;
    let repeat: Option<String> = r.get(9)?;
    let links: String = r.get(11)?;
    Ok(Task {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        due: r.get(3)?,
        assignee_id: r.get(4)?,
        priority: Priority::parse(&priority),
        status: if status == "done" {
            Status::Done
        } else {
            Status::Open
        },
        done_at: r.get(7)?,
        done_by: r.get(8)?,
        repeat: repeat.and_then(|s| serde_json::from_str(&s).ok()),
        repeat_of: r.get(10)?,
        links: links::parse(&links),
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        created_by: r.get(14)?,
        updated_by: r.get(15)?,
        extras: Extras::default(),
    })
}

/// The task kind, as the record layer knows it.
pub struct Tasks;

static FIELDS: &[Builtin] = &[
    Builtin {
        not_null: true,
        ..Builtin::column("title", "Title", FieldType::Text, "t.sort_title")
    },
    Builtin::column("due", "Due", FieldType::Text, "t.due"),
    Builtin {
        param: Some("assignee"),
        // By the assignee's name (`people`, kept in step by triggers, V20).
        order_by: Some("t.assignee_key"),
        ..Builtin::column("assignee_id", "Assignee", FieldType::User, "t.assignee_id")
    },
    Builtin {
        options: &["none", "low", "medium", "high"],
        not_null: true,
        param: Some("priority"),
        ..Builtin::column("priority", "Priority", FieldType::Select, "t.priority")
    },
    Builtin {
        options: &["open", "done"],
        not_null: true,
        param: Some("status"),
        ..Builtin::column("status", "Status", FieldType::Select, "t.status")
    },
    Builtin::column("done_at", "Done", FieldType::Datetime, "t.done_at"),
    CREATED_AT,
    UPDATED_AT,
];

impl RecordKind for Tasks {
    const KIND: &'static str = "task";
    const PATH: &'static str = "tasks";
    const TABLE: &'static str = "tasks";
    const LABEL: &'static str = "Task";
    const LABEL_PLURAL: &'static str = "Tasks";
    const COLUMNS: &'static str = COLUMNS;
    const COLUMN_COUNT: usize = 16;
    const FROM: &'static str = "tasks t";
    const NAME_SQL: &'static str = "t.title";
    const QUICK_SEARCH: &'static str = "t.sort_title >= {lo} AND t.sort_title < {hi}";
    const READ_ONLY: &'static [&'static str] = &["status", "done_at", "done_by", "repeat_of"];
    // `search_doc` reads the title, the description and the links' names.
    const UNSEARCHED: &'static [&'static str] =
        &["due", "assignee_id", "priority", "repeat", "custom"];
    const DEFAULT_SORT: &'static str = "due,-created";
    const SHORTCUTS: &'static [&'static str] = &["due", "tz", "record"];

    type Record = Task;
    type Input = TaskInput;
    type Clean = Clean;

    fn fields() -> &'static [Builtin] {
        FIELDS
    }
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Task> {
        from_row(r)
    }
    fn to_input(t: &Task) -> TaskInput {
        TaskInput {
            title: Some(t.title.clone()),
            description: t.description.clone(),
            due: t.due.clone(),
            assignee_id: t.assignee_id.clone(),
            priority: Some(t.priority),
            repeat: t.repeat.clone(),
            links: Some(links::as_inputs(&t.links)),
        }
    }
    fn validate(input: TaskInput, _phones: &crate::values::Phones<'_>) -> AppResult<Clean> {
        validate(input)
    }
    fn owner_of(clean: &Clean) -> Option<&str> {
        clean.assignee_id.as_deref()
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
        let repeat = c
            .repeat
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| AppError::Internal(e.into()))?;
        let before: Option<(Option<String>, Option<String>)> = if existing {
            conn.prepare_cached("SELECT assignee_id, due FROM tasks WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
        } else {
            None
        };
        notify(conn, id, c, before, actor)?;
        let sort_title = c.title.to_lowercase();
        let due = c.due.as_ref().map(Due::stored);
        let priority = c.priority.as_str();
        let mut changed = None;
        if existing {
            changed = Some(store::update_changed(
                conn,
                "tasks",
                id,
                &[
                    ("title", &c.title),
                    ("sort_title", &sort_title),
                    ("description", &c.description),
                    ("due", &due),
                    ("assignee_id", &c.assignee_id),
                    ("priority", &priority),
                    ("repeat", &repeat),
                    ("updated_at", &now),
                    ("updated_by", &actor),
                    ("custom", &custom),
                ],
            )?);
        } else {
            conn.prepare_cached(
                "INSERT INTO tasks (id, title, sort_title, description, due, assignee_id, priority,
                   repeat, created_at, updated_at, created_by, updated_by, custom, assignee_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10, ?11,
                   (SELECT name_key FROM people WHERE user_id = ?6))",
            )?
            .execute(params![
                id,
                c.title,
                sort_title,
                c.description,
                due,
                c.assignee_id,
                priority,
                repeat,
                now,
                actor,
                custom
            ])?;
        }
        // Its search result shows the linked records' names.
        if LINKS.save(conn, id, &c.links)?
            && let Some(changed) = &mut changed
        {
            changed.add("links");
        }
        Ok(changed)
    }
    fn decorate(conn: &Connection, recs: &mut [Task]) -> AppResult<()> {
        links::name_all(conn, recs.iter_mut().map(|t| &mut t.links))
    }
    fn shortcut(
        name: &str,
        value: &str,
        params: &crate::record::list::Params,
        me: &crate::record::list::Viewer,
    ) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
        match name {
            "due" => {
                // An account's zone was checked when it was set; one the
                // zone database no longer knows counts as not set.
                let account = me
                    .time_zone
                    .as_deref()
                    .filter(|z| jiff::tz::TimeZone::get(z).is_ok());
                let tz = params
                    .get("tz")
                    .map(String::as_str)
                    .or(account)
                    .unwrap_or("UTC");
                crate::crm::days::due_condition(value, &crate::crm::days::days(tz, clock::now())?)
            }
            // Read by `due`; alone it only has to name a zone.
            "tz" => {
                crate::crm::days::days(value, clock::now())?;
                Ok(("1".into(), Vec::new()))
            }
            _ => crate::crm::notes::linked_to(name, value, "task_links", "task_id"),
        }
    }
    fn search_doc(t: Task) -> SearchDoc {
        let names: Vec<String> = t.links.iter().map(|l| l.name.clone()).collect();
        SearchDoc {
            rank: None,
            kind: "task",
            id: t.id,
            title: t.title,
            subtitle: names.join(" · "),
            texts: t.description.clone().into_iter().collect(),
            phones: Vec::new(),
            snippets: t.description.into_iter().collect(),
        }
    }
    fn extra_routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(complete))
            .routes(routes!(reopen))
    }
}

/// A task's owner, for the record layer, is its assignee.
impl crate::record::Record for Task {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        &self.updated_at
    }
    fn owner(&self) -> Option<&str> {
        self.assignee_id.as_deref()
    }
    fn extras(&self) -> &Extras {
        &self.extras
    }
    fn extras_mut(&mut self) -> &mut Extras {
        &mut self.extras
    }
}

/// What a task's write tells people: its new assignee that it is theirs
/// (unless they assigned it to themselves), and the reminders that its due
/// date, when set, changed or cleared, follows.
fn notify(
    conn: &Connection,
    id: &str,
    c: &Clean,
    before: Option<(Option<String>, Option<String>)>,
    actor: &str,
) -> AppResult<()> {
    use crate::platform::notifications::{Notice, enqueue};
    let (old_assignee, old_due) = before.unwrap_or((None, None));
    let due = c.due.as_ref().map(Due::stored);
    fn notice<'a>(
        event: &'a str,
        user_id: &'a str,
        c: &'a Clean,
        id: &'a str,
        actor: &'a str,
        key: &'a str,
        due: Option<&'a str>,
    ) -> Notice<'a> {
        Notice {
            event,
            user_id,
            title: &c.title,
            record_kind: Tasks::KIND,
            record_id: id,
            actor,
            key,
            due,
        }
    }
    if let Some(a) = c.assignee_id.as_deref()
        && old_assignee.as_deref() != Some(a)
        && a != actor
    {
        let key = format!("{id}:{a}");
        enqueue(conn, &notice("task_assigned", a, c, id, actor, &key, None))?;
    }
    if old_due != due || old_assignee != c.assignee_id {
        // The reminder follows the task's due date and assignee (or goes away).
        let user = c.assignee_id.as_deref().or(old_assignee.as_deref());
        if let Some(user) = user {
            let due = c.assignee_id.as_ref().and(due.as_deref());
            enqueue(conn, &notice("task_due", user, c, id, actor, id, due))?;
        }
    }
    Ok(())
}

/// Marks a task done; a repeating task's next occurrence is created in the
/// same transaction, a timed one at the same time of day in `zone` (its
/// assignee's). Completing a done task changes nothing.
fn complete_in(
    conn: &Connection,
    id: &str,
    actor: &str,
    zone: &jiff::tz::TimeZone,
) -> AppResult<()> {
    let Some(task) = store::load::<Tasks>(conn, id)? else {
        return Err(AppError::NotFound);
    };
    if task.status == Status::Done {
        return Ok(());
    }
    let now = clock::now_stamp();
    conn.prepare_cached(
        "UPDATE tasks SET status = 'done', done_at = ?2, done_by = ?3, updated_at = ?2,
           updated_by = ?3 WHERE id = ?1",
    )?
    .execute(params![id, now, actor])?;
    let mut changes = serde_json::Map::new();
    changes.insert("status".into(), serde_json::json!(["open", "done"]));
    history::record(conn, Tasks::KIND, id, actor, &now, "completed", &changes)?;
    crate::search::enqueue(conn, Tasks::KIND, id)?;
    let already: Option<String> = conn
        .prepare_cached("SELECT id FROM tasks WHERE repeat_of = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if let (Some(rule), Some(due), None) = (&task.repeat, task.due.as_deref(), already) {
        let Some(next) = Due::parse(due).and_then(|d| d.next(rule, zone)) else {
            return Ok(());
        };
        let mut input = Tasks::to_input(&task);
        input.due = Some(next.stored());
        let clean = validate(input)?;
        let custom: serde_json::Map<String, serde_json::Value> = task.extras.custom.clone();
        let next_id = store::insert::<Tasks>(conn, &clean, &custom, actor, &now)?;
        conn.prepare_cached("UPDATE tasks SET repeat_of = ?2 WHERE id = ?1")?
            .execute(params![next_id, id])?;
    }
    Ok(())
}

/// The time zone a task's repeats keep their time of day in: its
/// assignee's (an unassigned task's: the caller's), UTC if none is set.
async fn assignee_zone(
    state: &AppState,
    access: &OrgAccess,
    id: &str,
) -> AppResult<jiff::tz::TimeZone> {
    let lookup = id.to_string();
    let assignee: Option<String> = access
        .tenant
        .db
        .read(move |c| {
            Ok(
                c.prepare_cached("SELECT assignee_id FROM tasks WHERE id = ?1")?
                    .query_row([lookup], |r| r.get(0))
                    .optional()?
                    .flatten(),
            )
        })
        .await?;
    let zone = match assignee {
        Some(user) => {
            state
                .control
                .read(move |c| crate::platform::notifications::zone_of(c, &user))
                .await?
        }
        None => access.time_zone.clone(),
    };
    Ok(zone
        .and_then(|z| jiff::tz::TimeZone::get(&z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Marks a done task open again.
fn reopen_in(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    let Some(task) = store::load::<Tasks>(conn, id)? else {
        return Err(AppError::NotFound);
    };
    if task.status == Status::Open {
        return Ok(());
    }
    let now = clock::now_stamp();
    conn.prepare_cached(
        "UPDATE tasks SET status = 'open', done_at = NULL, done_by = NULL, updated_at = ?2,
           updated_by = ?3 WHERE id = ?1",
    )?
    .execute(params![id, now, actor])?;
    let mut changes = serde_json::Map::new();
    changes.insert("status".into(), serde_json::json!(["done", "open"]));
    history::record(conn, Tasks::KIND, id, actor, &now, "reopened", &changes)?;
    crate::search::enqueue(conn, Tasks::KIND, id)
}

/// Marks the task done (a repeating task's next one is created).
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Task), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn complete(
    axum::extract::State(state): axum::extract::State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<Task>> {
    access.require(crate::auth::roles::Role::Member)?;
    let actor = access.actor().stamp();
    let id = path.id;
    let zone = assignee_zone(&state, &access, &id).await?;
    let task = access
        .tenant
        .write(move |tx| {
            complete_in(tx, &id, &actor, &zone)?;
            store::get::<Tasks>(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    // The next occurrence of a repeating task has its own reminder.
    crate::record::patch::deliver(&state, &access).await;
    Ok(Json(task))
}

/// Marks a done task open again.
#[utoipa::path(post, path = "/tasks/{id}/reopen", tag = "tasks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Task), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reopen(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<Json<Task>> {
    access.require(crate::auth::roles::Role::Member)?;
    let actor = access.actor().stamp();
    let id = path.id;
    let task = access
        .tenant
        .write(move |tx| {
            reopen_in(tx, &id, &actor)?;
            store::get::<Tasks>(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(task))
}

/// Whether a task is still open, assigned to `user` and due `due` — what a
/// reminder set for it then is about.
fn still_due(conn: &Connection, id: &str, user: &str, due: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?1 AND deleted_at IS NULL
               AND status = 'open' AND assignee_id = ?2 AND due = ?3)",
        )?
        .query_row(params![id, user, due], |r| r.get(0))?)
}

/// The reminders job: every reminder whose time has come fires once (a task
/// done, moved or deleted meanwhile is marked fired without a notification).
pub async fn fire_reminders(state: &AppState, now: OffsetDateTime) -> AppResult<usize> {
    use crate::platform::notifications::{due_reminders, fire};
    let now = clock::stamp(now);
    let due = state.control.read(move |c| due_reminders(c, &now)).await?;
    let n = due.len();
    for r in due {
        let still = match state.tenants.get(&r.org_id).await {
            Ok(t) => {
                let (id, user, due) = (r.task_id.clone(), r.user_id.clone(), r.due.clone());
                t.db.read(move |c| still_due(c, &id, &user, &due)).await?
            }
            // An organization that is gone has nothing to remind of.
            Err(AppError::NotFound) => false,
            Err(e) => return Err(e),
        };
        state.control.write(move |c| fire(c, &r, still)).await?;
    }
    Ok(n)
}
