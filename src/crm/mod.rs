//! The CRM's kinds of record, one module each, and `KINDS`: the one list of
//! kinds that routes, search, trash, the schema and the UI derive from.

pub mod activities;
pub mod archive;
pub mod birthdays;
pub mod companies;
pub mod contacts;
pub mod days;
pub mod deals;
pub mod files;
pub mod imports;
pub mod links;
pub mod merge;
pub mod notes;
pub mod privacy;
pub mod repeat;
pub mod rich;
pub mod search;
pub mod tasks;
pub mod timeline;
pub mod vcard;
pub mod webhooks;

use std::sync::LazyLock;

use crate::record::timeline::TimelineSource;
use crate::record::{Kind, KindOf, Kinds};
use crate::search::Source;

static CONTACTS: KindOf<contacts::Contacts> = KindOf::NEW;
static COMPANIES: KindOf<companies::Companies> = KindOf::NEW;
static DEALS: KindOf<deals::Deals> = KindOf::NEW;
static NOTES: KindOf<notes::Notes> = KindOf::NEW;
static TASKS: KindOf<tasks::Tasks> = KindOf::NEW;
static ACTIVITIES: KindOf<activities::Activities> = KindOf::NEW;

/// Every kind of record. Adding a kind here is all it takes for it to get
/// routes, lists, filters, custom fields, tags, views, trash, history and search.
pub static KINDS: &[&dyn Kind] = &[&CONTACTS, &COMPANIES, &DEALS, &NOTES, &TASKS, &ACTIVITIES];

/// What appears on records' timelines beside their history: one line per
/// source (`timeline::Linked::<Kind>::NEW` for a kind that links to records).
pub static TIMELINE: &[&dyn TimelineSource] = &[
    &timeline::Linked::<notes::Notes>::NEW,
    &timeline::Linked::<tasks::Tasks>::NEW,
    &timeline::Linked::<activities::Activities>::NEW,
    &deals::timeline::StageMoves,
    &files::timeline::FilesAdded,
];

static FILES: files::FileSource = files::FileSource;

/// What goes to the trash beside records.
static IN_TRASH: &[&dyn crate::record::trash::TrashSource] = &[&files::FilesInTrash];

/// Every kind of record, and files (found by name).
static SOURCES: LazyLock<Vec<&'static dyn Source>> = LazyLock::new(|| {
    KINDS
        .iter()
        .map(|k| *k as &'static dyn Source)
        .chain(std::iter::once(&FILES as &'static dyn Source))
        .collect()
});

/// What the tenant layer needs of the kinds: search sources, trash purge.
pub fn tenant_hooks() -> crate::tenant::TenantHooks {
    install();
    crate::tenant::TenantHooks {
        sources: &SOURCES,
        purge_trash: files::purge_all_trash,
        after_migrations: crate::record::store::after_migrations,
    }
}

/// The kinds, installed in the record layer.
pub fn kinds() -> Kinds {
    install();
    KINDS
}

fn install() {
    crate::record::install(KINDS);
    crate::record::trash::install(IN_TRASH);
    crate::record::timeline::install_sources(TIMELINE);
}
