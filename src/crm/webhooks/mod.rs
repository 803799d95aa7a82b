//! Outbound webhooks: an organization's admins subscribe URLs to record
//! events; every change writes its event to the outbox in its own
//! transaction (events), and the delivery job POSTs it, signed,
//! with retries for up to three days. Targets in private networks are
//! refused (at creation and again after DNS resolution at each delivery)
//! unless the server runs with `--webhooks-allow-private`.

pub mod client;
pub mod deliver;
pub mod inbound;
pub mod inbound_routes;
pub mod inbound_store;
pub mod queue;
pub mod routes;
pub mod sign;
pub mod ssrf;
pub mod store;

use crate::record::kinds;

/// Event types beyond the per-kind ones.
const OTHER_EVENTS: &[&str] = &["deal.stage_changed", "member.added", "member.removed"];

/// The type of the event `POST …/webhooks/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";

/// Every event type a hook can subscribe to (besides `*`): created, updated
/// and deleted for every kind of record, and the others.
pub fn event_types() -> Vec<String> {
    let mut out: Vec<String> = kinds()
        .iter()
        .flat_map(|k| {
            ["created", "updated", "deleted"]
                .iter()
                .map(move |a| format!("{}.{a}", k.name()))
        })
        .collect();
    out.extend(OTHER_EVENTS.iter().map(|s| s.to_string()));
    out
}

/// The vault purpose of a hook's signing secret.
pub fn secret_purpose(hook_id: &str) -> String {
    format!("webhook:{hook_id}")
}
