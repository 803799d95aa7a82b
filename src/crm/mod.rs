//! The CRM's kinds of record, one module each, and `KINDS`: the one list of
//! kinds that routes, search, trash, the schema and the UI derive from.

pub mod companies;
pub mod contacts;
pub mod deals;
pub mod search;

use std::sync::LazyLock;

use crate::record::{Kind, KindOf, Kinds};
use crate::search::Source;

static CONTACTS: KindOf<contacts::Contacts> = KindOf::NEW;
static COMPANIES: KindOf<companies::Companies> = KindOf::NEW;
static DEALS: KindOf<deals::Deals> = KindOf::NEW;

/// Every kind of record. Adding a kind here is all it takes for it to get
/// routes, lists, filters, custom fields, tags, views, trash, history and search.
pub static KINDS: &[&dyn Kind] = &[&CONTACTS, &COMPANIES, &DEALS];

static SOURCES: LazyLock<Vec<&'static dyn Source>> =
    LazyLock::new(|| KINDS.iter().map(|k| *k as &'static dyn Source).collect());

/// What the tenant layer needs of the kinds: search sources, trash purge.
pub fn tenant_hooks() -> crate::tenant::TenantHooks {
    crate::record::install(KINDS);
    crate::tenant::TenantHooks {
        sources: &SOURCES,
        purge_trash: crate::record::store::purge_trash,
    }
}

/// The kinds, installed in the record layer.
pub fn kinds() -> Kinds {
    crate::record::install(KINDS);
    KINDS
}
