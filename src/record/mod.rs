//! The record layer: everything every kind of CRM record shares, written once.
//!
//! A kind (contacts, companies, and the kinds to come) describes itself by
//! implementing `RecordKind`: its table, columns, validation, row mapping,
//! search document and catalogue of built-in fields. From that description the
//! layer gives it create, get, keyset lists with the filter language and
//! sorts, partial updates, trash/restore/purge, history, custom fields, tags,
//! the search outbox and its routes with their OpenAPI description. This layer
//! names no kind: the list of kinds is handed to it from above (`install`).

pub mod bulk;
pub mod catalogue;
pub mod custom;
pub mod export;
pub mod filter;
pub mod find;
pub mod history;
pub mod list;
pub mod openapi;
pub mod patch;
pub mod refs;
pub mod restrict;
pub mod routes;
pub mod schema;
pub mod sort;
pub mod store;
pub mod tag_routes;
pub mod tags;
pub mod timeline;
pub mod trash;
pub mod upsert;
pub mod views;

use std::marker::PhantomData;
use std::sync::OnceLock;

use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppResult;
use crate::record::store::Changed;
use crate::search::{SearchDoc, Source};
use crate::state::AppState;
use crate::values::Phones;

pub use catalogue::{Builtin, CREATED_AT, FieldType, UPDATED_AT};

/// A kind of record, described once.
pub trait RecordKind: Send + Sync + Sized + 'static {
    /// Singular name used in references, search results and the schema (`contact`).
    const KIND: &'static str;
    /// The path segment of its routes (`contacts`).
    const PATH: &'static str;
    const TABLE: &'static str;
    const LABEL: &'static str;
    const LABEL_PLURAL: &'static str;
    /// `SELECT` columns with the kind's table aliased `t`, and the `FROM`
    /// clause (which may join); `from_row` reads exactly these columns.
    const COLUMNS: &'static str;
    const COLUMN_COUNT: usize;
    const FROM: &'static str;
    /// SQL (table aliased `t`) for the name a reference to it shows.
    const NAME_SQL: &'static str;
    /// Prefix search for the list's `q`: SQL over `t` with `{lo}`/`{hi}`
    /// bounds of the lower-cased prefix range.
    const QUICK_SEARCH: &'static str;
    /// Fields of `Record` that are derived (a PATCH may carry them back;
    /// they are ignored), beside id, times and authors.
    const READ_ONLY: &'static [&'static str];
    /// A list's order when none is asked for.
    const DEFAULT_SORT: &'static str = "name";
    /// Columns that `search_doc` never reads, nor the rank it is given: an
    /// update that changes only these (and `updated_at`/`updated_by`)
    /// leaves the record's search document as it was, so the search index
    /// is not asked to write it again (`store::replace`; a contact's stage,
    /// a company's owner). Only for kinds whose `save` answers what
    /// changed.
    const UNSEARCHED: &'static [&'static str] = &[];

    /// What the API returns.
    type Record: Record;
    /// What a client sends to create one, or (partially) to change one.
    type Input: Serialize + DeserializeOwned + utoipa::ToSchema + Send + 'static;
    /// A validated input, ready to save.
    type Clean: Send + 'static;

    /// The built-in fields: what lists filter and sort by.
    fn fields() -> &'static [Builtin];
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Self::Record>;
    fn to_input(r: &Self::Record) -> Self::Input;
    /// Checks and normalises an input; `phones` reads its phone numbers
    /// (in the organization's country; those the record holds as they are).
    fn validate(input: Self::Input, phones: &Phones<'_>) -> AppResult<Self::Clean>;
    /// The phone numbers a record holds (in E.164, as validated when stored).
    fn stored_phones(_r: &Self::Record) -> Vec<&str> {
        Vec::new()
    }
    /// The member a clean input names as owner (checked against the members).
    fn owner_of(clean: &Self::Clean) -> Option<&str>;
    /// Inserts (or, with `existing`, replaces the fields of) a record whose
    /// custom values are the JSON object `custom`. An update answers the
    /// columns it changed when the kind knows them (`store::update_changed`);
    /// None: a new record, or one written whole.
    fn save(conn: &Connection, row: SaveRow<'_, Self::Clean>) -> AppResult<Option<Changed>>;
    fn search_doc(r: Self::Record) -> SearchDoc;
    /// What else changes when a record goes to the trash (in its
    /// transaction). What it answers is kept with the deletion in the
    /// record's history and handed to `after_restore`, so a restore undoes
    /// exactly what the delete did.
    fn after_trash(_conn: &Connection, _id: &str, _actor: &str) -> AppResult<Map<String, Value>> {
        Ok(Map::new())
    }
    /// Undoes what `after_trash` did (`undo` is what it answered).
    fn after_restore(
        _conn: &Connection,
        _id: &str,
        _undo: &Map<String, Value>,
        _actor: &str,
    ) -> AppResult<()> {
        Ok(())
    }
    /// Fills in what a new record takes from its organization when the
    /// client leaves it out (a deal's currency), before validation.
    fn org_defaults(_input: &mut Map<String, Value>, _org: &crate::platform::orgs::Org) {}
    /// Users the input names beside the owner (assignees, @mentions,
    /// participants) as (field, user id): each must be a member.
    fn members_named(_clean: &Self::Clean) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Fills in what the kind shows from other tables (its links' names).
    fn decorate(_conn: &Connection, _recs: &mut [Self::Record]) -> AppResult<()> {
        Ok(())
    }
    /// Records whose timeline entries this one's shows with
    /// `include=related` (a company's contacts and deals).
    fn related(_conn: &Connection, _id: &str) -> AppResult<Vec<String>> {
        Ok(Vec::new())
    }
    /// List parameters of the kind's own beyond field equality (`due=today`).
    const SHORTCUTS: &'static [&'static str] = &[];
    /// The condition (SQL over `t`, bound arguments) of shortcut `name`;
    /// `params` are the whole query (a shortcut may read a companion, `tz`);
    /// `me` is who asks (their id and time zone).
    fn shortcut(
        name: &str,
        _value: &str,
        _params: &list::Params,
        _me: &list::Viewer,
    ) -> AppResult<(String, Vec<rusqlite::types::Value>)> {
        Err(crate::error::AppError::field(name, "unknown parameter"))
    }
    /// Whether records of this kind export as vCards (`format=vcf`).
    const VCARD: bool = false;
    /// One record as a vCard 4.0 (RFC 6350), CRLF line ends included.
    fn vcard(_rec: &Self::Record) -> Option<String> {
        None
    }
    /// Routes that only this kind has, beside the ones every kind gets.
    fn extra_routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
    }
}

/// One record's write: its id, validated fields and custom values.
pub struct SaveRow<'a, C> {
    pub id: &'a str,
    pub clean: &'a C,
    /// The custom values, a JSON object.
    pub custom: &'a str,
    pub actor: &'a str,
    pub now: &'a str,
    pub existing: bool,
}

/// What the layer needs of any record the API returns.
pub trait Record: Serialize + utoipa::ToSchema + Send + 'static {
    fn id(&self) -> &str;
    /// Changes whenever the record is written (its `updated_at`).
    fn version(&self) -> &str;
    fn owner(&self) -> Option<&str>;
    fn extras(&self) -> &Extras;
    fn extras_mut(&mut self) -> &mut Extras;
}

/// `Record` for a struct with `id`, `updated_at`, `owner_id` and `extras`.
#[macro_export]
macro_rules! impl_record {
    ($t:ty) => {
        impl $crate::record::Record for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn version(&self) -> &str {
                &self.updated_at
            }
            fn owner(&self) -> Option<&str> {
                self.owner_id.as_deref()
            }
            fn extras(&self) -> &$crate::record::Extras {
                &self.extras
            }
            fn extras_mut(&mut self) -> &mut $crate::record::Extras {
                &mut self.extras
            }
        }
    };
}

/// What every record carries beside its own fields: custom field values and
/// tags.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Extras {
    /// Custom field values by key (see `GET /schema`).
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    pub tags: Vec<tags::TagRef>,
    /// True while a privacy request restricts the record: it can be read,
    /// not changed, and is left out of exports and webhooks (absent when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
    /// When it was restricted (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted_at: Option<String>,
}

/// The same description, as an object: what code iterating over kinds holds.
pub trait Kind: Source + Sync {
    /// The singular name (`contact`), as `RecordKind::KIND`.
    fn name(&self) -> &'static str;
    fn path(&self) -> &'static str;
    fn table(&self) -> &'static str;
    fn label(&self) -> &'static str;
    fn label_plural(&self) -> &'static str;
    fn fields(&self) -> &'static [Builtin];
    fn name_sql(&self) -> &'static str;
    /// Every route of the kind, described in OpenAPI.
    fn router(&self) -> OpenApiRouter<AppState>;
    /// Brings a record back from the trash, undoing what its delete changed.
    fn restore(&self, conn: &Connection, id: &str, actor: &str) -> crate::error::AppResult<()>;
}

/// A `RecordKind` as a `Kind`: `static CONTACTS: KindOf<Contacts> = KindOf::NEW;`.
pub struct KindOf<K>(PhantomData<fn() -> K>);

impl<K> KindOf<K> {
    pub const NEW: KindOf<K> = KindOf(PhantomData);
}

impl<K: RecordKind> Kind for KindOf<K> {
    fn name(&self) -> &'static str {
        K::KIND
    }
    fn path(&self) -> &'static str {
        K::PATH
    }
    fn table(&self) -> &'static str {
        K::TABLE
    }
    fn label(&self) -> &'static str {
        K::LABEL
    }
    fn label_plural(&self) -> &'static str {
        K::LABEL_PLURAL
    }
    fn fields(&self) -> &'static [Builtin] {
        K::fields()
    }
    fn name_sql(&self) -> &'static str {
        K::NAME_SQL
    }
    fn router(&self) -> OpenApiRouter<AppState> {
        routes::router::<K>()
    }
    fn restore(&self, conn: &Connection, id: &str, actor: &str) -> crate::error::AppResult<()> {
        store::restore::<K>(conn, id, actor)
    }
}

impl<K: RecordKind> Source for KindOf<K> {
    fn kind(&self) -> &'static str {
        K::KIND
    }
    fn docs(&self, conn: &Connection, ids: &[String]) -> AppResult<Vec<SearchDoc>> {
        let ids =
            serde_json::to_string(ids).map_err(|e| crate::error::AppError::Internal(e.into()))?;
        store::search_docs::<K>(conn, "t.id IN (SELECT value FROM json_each(?1))", [ids])
    }
    fn count(&self, conn: &Connection) -> AppResult<usize> {
        store::live_count::<K>(conn)
    }
    fn docs_after(
        &self,
        conn: &Connection,
        after: &str,
        limit: usize,
    ) -> AppResult<Vec<SearchDoc>> {
        store::search_docs::<K>(
            conn,
            "t.id > ?1 ORDER BY t.id LIMIT ?2",
            rusqlite::params![after, limit as i64],
        )
    }
}

/// The list of kinds, handed in once at start-up.
pub type Kinds = &'static [&'static dyn Kind];

static KINDS: OnceLock<Kinds> = OnceLock::new();

/// Hands the layer the list of kinds (the first call wins; every app in a
/// process has the same list).
pub fn install(kinds: Kinds) {
    let _ = KINDS.set(kinds);
}

/// Every kind (empty before `install`).
pub fn kinds() -> Kinds {
    KINDS.get().copied().unwrap_or(&[])
}

pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    kinds().iter().copied().find(|k| k.name() == name)
}

/// The routes of the record layer: every kind's, custom fields, tags, views,
/// the schema.
pub fn router() -> OpenApiRouter<AppState> {
    let mut r = OpenApiRouter::new()
        .merge(custom::routes::router())
        .merge(tag_routes::router())
        .merge(views::router())
        .merge(schema::router())
        .merge(trash::router());
    for k in kinds() {
        r = r.merge(k.router());
    }
    r
}
