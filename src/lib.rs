//! Harmonia: a CRM in one executable — HTTP API, web UI, one SQLite database
//! per organization. `app(state)` is the whole server; `main.rs` only adds
//! the command line around it, and the tests build the same app.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod crm;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod derived;
pub mod doctor;
pub mod error;
pub mod events;
pub mod housekeeping;
pub mod http;
pub mod idset;
pub mod jobs;
pub mod log_output;
pub mod metrics;
pub mod order;
pub mod paths;
pub mod platform;
pub mod probe;
pub mod record;
pub mod search;
pub mod state;
pub mod tenant;
pub mod upgrade;
pub mod values;
pub mod vault;

pub use config::Config;
pub use http::app;
pub use state::AppState;

/// Opens the data directory with this build's kinds of record.
pub fn open_state(config: Config) -> anyhow::Result<AppState> {
    AppState::open(config, crm::tenant_hooks())
}
