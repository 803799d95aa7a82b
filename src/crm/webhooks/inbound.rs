//! Inbound webhooks: another system POSTs signed events carrying records to
//! upsert by its own ids. The signature is the outbound one
//! (`Harmonia-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`),
//! checked on the raw bytes in constant time; the timestamp must be within
//! five minutes and the event id new to the endpoint. Everything an event
//! carries is written in one transaction with its id, or nothing is.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::inbound_store as store;
use crate::crm::activities::Activities;
use crate::crm::companies::Companies;
use crate::crm::contacts::Contacts;
use crate::crm::deals::Deals;
use crate::error::{AppError, AppResult};
use crate::platform::orgs::Org;
use crate::record::RecordKind;
use crate::record::upsert::{create_in_tx, update_in_tx};

/// The largest body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// How far a signature's time may be from the server's.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// Records per event.
pub const MAX_RECORDS: usize = 100;
/// The kinds an event may carry.
pub const KINDS: &[&str] = &["contact", "company", "deal", "activity"];

/// The vault purpose of an endpoint's secret.
pub fn secret_purpose(endpoint_id: &str) -> String {
    format!("inbound:{endpoint_id}")
}

/// Checks `header` (`t=…,v1=…`, several v1 allowed while a sender rotates)
/// against the raw body; `now` is the server's unix time.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: i64) -> AppResult<()> {
    let bad = |why: &str| AppError::BadSignature(why.to_string());
    let header = header.ok_or_else(|| bad("the Harmonia-Signature header is missing"))?;
    let mut t: Option<i64> = None;
    let mut sigs: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.trim().parse().ok(),
            Some(("v1", v)) => {
                if let Ok(s) = hex::decode(v.trim()) {
                    sigs.push(s);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or_else(|| bad("the signature has no valid t= timestamp"))?;
    let matches = sigs.iter().any(|sig| {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(sig).is_ok()
    });
    if !matches {
        return Err(bad("the signature does not match the body"));
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(bad(
            "the signature's timestamp is more than 5 minutes from the server's clock",
        ));
    }
    Ok(())
}

/// An event as sent.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundEvent {
    /// The sender's unique id of this event (a repeat is refused with 409).
    pub id: String,
    /// Free text naming what happened (kept for the sender's own use).
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// 1–100 records to create or update.
    pub records: Vec<InboundRecord>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundRecord {
    /// `contact`, `company`, `deal` or `activity`.
    pub kind: String,
    /// The sender's id of the record: the first event creates it, later ones update it.
    pub external_id: String,
    /// The record's fields as the kind's API takes them (owner and assignees excepted).
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// What became of one record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Upserted {
    pub kind: String,
    pub external_id: String,
    pub id: String,
    /// `created` or `updated`.
    pub action: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub event_id: String,
    pub records: Vec<Upserted>,
}

/// Parses and checks the shape of a verified body (422 otherwise).
pub fn parse(body: &[u8]) -> AppResult<InboundEvent> {
    let ev: InboundEvent = serde_json::from_slice(body)
        .map_err(|e| AppError::field("body", format!("not a valid event: {e}")))?;
    let text_ok = |s: &str| !s.trim().is_empty() && s.chars().count() <= 200;
    if !text_ok(&ev.id) {
        return Err(AppError::field("id", "1 to 200 characters"));
    }
    if ev.records.is_empty() || ev.records.len() > MAX_RECORDS {
        return Err(AppError::field("records", "1 to 100 records"));
    }
    for (i, r) in ev.records.iter().enumerate() {
        if !KINDS.contains(&r.kind.as_str()) {
            return Err(AppError::field(
                format!("records[{i}].kind"),
                "one of contact, company, deal, activity",
            ));
        }
        if !text_ok(&r.external_id) {
            return Err(AppError::field(
                format!("records[{i}].external_id"),
                "1 to 200 characters",
            ));
        }
    }
    Ok(ev)
}

/// Writes an event: its id (409 if seen), then every record, in the
/// caller's transaction. A record's 422 names it (`records[2].email`).
pub fn apply(
    tx: &Connection,
    endpoint_id: &str,
    ev: InboundEvent,
    org: &Org,
) -> AppResult<Accepted> {
    store::first_time(tx, endpoint_id, &ev.id)?;
    let actor = format!("inbound_hook:{endpoint_id}");
    let mut out = Vec::with_capacity(ev.records.len());
    for (i, r) in ev.records.into_iter().enumerate() {
        let fields = Value::Object(r.fields);
        let done = match r.kind.as_str() {
            "contact" => upsert::<Contacts>(tx, &r.external_id, fields, org, &actor),
            "company" => upsert::<Companies>(tx, &r.external_id, fields, org, &actor),
            "deal" => upsert::<Deals>(tx, &r.external_id, fields, org, &actor),
            _ => upsert::<Activities>(tx, &r.external_id, fields, org, &actor),
        };
        let (id, action) = done.map_err(|e| match e {
            AppError::Validation { message, fields } => AppError::Validation {
                message,
                fields: fields
                    .into_iter()
                    .map(|(k, v)| (format!("records[{i}].{k}"), v))
                    .collect(),
            },
            other => other,
        })?;
        out.push(Upserted {
            kind: r.kind,
            external_id: r.external_id,
            id,
            action: action.into(),
        });
    }
    Ok(Accepted {
        event_id: ev.id,
        records: out,
    })
}

fn upsert<K: RecordKind>(
    tx: &Connection,
    external_id: &str,
    fields: Value,
    org: &Org,
    actor: &str,
) -> AppResult<(String, &'static str)> {
    if let Some(id) = store::linked(tx, K::KIND, external_id)?
        && update_in_tx::<K>(tx, &id, fields.clone(), org, actor)?
    {
        return Ok((id, "updated"));
    }
    // New, or its record was deleted: a new record takes the outside id.
    let id = create_in_tx::<K>(tx, fields, org, actor)?;
    store::link(tx, K::KIND, external_id, &id)?;
    Ok((id, "created"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_recent_signature_verifies() {
        let body = br#"{"id":"e1","records":[]}"#;
        let now = 1_700_000_000;
        let good = super::super::sign::header_value("whsec_x", now, body);
        assert!(verify("whsec_x", Some(&good), body, now).is_ok());
        assert!(verify("whsec_x", Some(&good), body, now + 299).is_ok());
        assert!(verify("whsec_y", Some(&good), body, now).is_err());
        assert!(verify("whsec_x", Some(&good), b"{}", now).is_err());
        assert!(verify("whsec_x", Some(&good), body, now + 301).is_err());
        assert!(verify("whsec_x", Some(&good), body, now - 301).is_err());
        assert!(verify("whsec_x", None, body, now).is_err());
        assert!(verify("whsec_x", Some("t=abc,v1=zz"), body, now).is_err());
        // Another timestamp with the same mac does not verify.
        let moved = good.replace(&now.to_string(), &(now + 1).to_string());
        assert!(verify("whsec_x", Some(&moved), body, now).is_err());
    }
}
