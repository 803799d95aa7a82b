//! Imports: a CSV file (or a vCard file) becomes contacts, companies or
//! deals. Uploaded once and turned into UTF-8 (`sniff`), mapped column by
//! column to fields (`targets`), previewed row by row through the records
//! layer's own validation, run as a job in batches with its progress kept
//! (`run`), reported, and undone within 30 days (`undo`). Every row's
//! outcome is kept in `import_rows`: what undo needs, and the failed rows'
//! reasons.

pub mod photos;
pub mod routes;
pub mod run;
pub mod sniff;
pub mod store;
pub mod targets;
pub mod undo;
pub mod vcf;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// The job handler that runs imports.
pub const JOB: &str = "imports.run";
/// How long an import can be undone.
pub const UNDO_DAYS: i64 = 30;

/// The kinds a file can be imported as.
pub const KINDS: &[&str] = &["contact", "company", "deal"];

/// What a row that matches an existing record does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave the existing record as it is.
    #[default]
    Skip,
    /// Fill the existing record's empty fields only.
    UpdateEmpty,
    /// Write every mapped value over the existing record.
    Overwrite,
}

/// How rows are matched with existing records (and earlier rows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dedupe {
    /// `none`, `email` (contacts), `phone` (contacts, companies), `domain`
    /// or `name` (companies), or `custom.<key>`: a custom field holding the
    /// other system's id (the external-id column is mapped to it).
    #[serde(rename = "match")]
    pub on: String,
    #[serde(default)]
    pub action: Action,
}

impl Dedupe {
    pub fn none() -> Dedupe {
        Dedupe {
            on: "none".into(),
            action: Action::Skip,
        }
    }

    /// 422 unless the rule makes sense for the kind.
    pub fn check(
        &self,
        kind: &str,
        custom: &[crate::record::custom::CustomField],
    ) -> AppResult<()> {
        let ok = match (kind, self.on.as_str()) {
            (_, "none") => true,
            ("contact", "email" | "phone") => true,
            ("company", "phone" | "domain" | "name") => true,
            (_, on) => on.strip_prefix("custom.").is_some_and(|k| {
                custom
                    .iter()
                    .any(|f| f.key == k && targets::importable(f.ty))
            }),
        };
        if ok {
            Ok(())
        } else {
            Err(AppError::field(
                "dedupe.match",
                format!(
                    "a {kind} cannot be matched on {:?}",
                    self.on.chars().take(60).collect::<String>()
                ),
            ))
        }
    }
}

/// The record-layer name of a kind from an import's `kind`.
pub fn check_kind(kind: &str) -> AppResult<&'static str> {
    KINDS
        .iter()
        .copied()
        .find(|k| *k == kind)
        .ok_or_else(|| AppError::field("kind", "contact, company or deal"))
}
