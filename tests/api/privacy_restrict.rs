//! Restricting a person's data (issue 18, item 6; GDPR art. 18): every
//! kind of write to a restricted contact is refused (409 `restricted`) and
//! leaves nothing half-changed; an import's update skips it and says why;
//! it is left out of every export format and of webhook deliveries, even
//! one queued before; lifting brings everything back; admins only, and
//! other organizations see nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::exports::download;
use crate::files::upload as upload_file;
use crate::helpers::*;
use crate::imports::{import, uploaded};
use crate::webhooks::{hooks_app, receiver};

const O: &str = "/api/v1/orgs/acme";
const ANN: &str = "annabel@example.com";

async fn created(s: &Session, path: &str, body: Value) -> String {
    let (status, v) = s.post(&format!("{O}/{path}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_str().expect("id").to_string()
}

async fn people(s: &Session) -> (String, String) {
    let ann = created(
        s,
        "contacts",
        json!({"first_name": "Annabel", "last_name": "Quist", "job_title": "Analyst",
               "emails": [{"email": ANN}], "phones": [{"phone": "+1 415 555 0177"}]}),
    )
    .await;
    let bob = created(
        s,
        "contacts",
        json!({"first_name": "Bob", "last_name": "Stays", "emails": [{"email": "bob@example.com"}]}),
    )
    .await;
    (ann, bob)
}

/// A 409 that names the restriction.
fn refused(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::CONFLICT, "{what}: {body}");
    assert_eq!(body["error"]["code"], "restricted", "{what}: {body}");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("privacy request") && msg.contains("lift"),
        "{what}: {msg}"
    );
}

async fn restrict(s: &Session, on: bool) -> Value {
    let path = if on { "restrict" } else { "lift" };
    let (status, body) = s
        .post(&format!("{O}/privacy/{path}"), json!({"email": ANN}))
        .await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

#[tokio::test]
async fn a_restricted_contact_refuses_every_write_and_nothing_is_half_changed() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (ann, bob) = people(&s).await;
    let (_, vip) = s.post(&format!("{O}/tags"), json!({"name": "VIP"})).await;
    let vip = vip["id"].as_str().expect("tag").to_string();
    let (_, cold) = s.post(&format!("{O}/tags"), json!({"name": "Cold"})).await;
    let cold = cold["id"].as_str().expect("tag").to_string();
    let (status, _) = s
        .post(
            &format!("{O}/contacts/{ann}/tags"),
            json!({"tag_ids": [vip]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, file) = upload_file(&s, "acme", "cv.txt", b"cv".to_vec(), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let file = file["id"].as_str().expect("file").to_string();

    let done = restrict(&s, true).await;
    assert_eq!(done, json!({"contacts": 1, "changed": 1, "ids": [ann]}));
    // Again: nothing more changes.
    assert_eq!(restrict(&s, true).await["changed"], 0);
    let (status, before) = s.get(&format!("{O}/contacts/{ann}")).await;
    assert_eq!(status, StatusCode::OK, "reads go on");
    assert_eq!(before["restricted"], true, "{before}");
    assert!(before["restricted_at"].as_str().is_some(), "{before}");
    let (_, b) = s.get(&format!("{O}/contacts/{bob}")).await;
    assert!(b.get("restricted").is_none(), "{b}");
    let (_, list) = s.get(&format!("{O}/contacts")).await;
    assert!(list.to_string().contains("\"restricted\":true"), "{list}");

    let (st, body) = s
        .patch(&format!("{O}/contacts/{ann}"), json!({"job_title": "Spy"}))
        .await;
    refused("PATCH", st, &body);
    let (st, body) = s.delete(&format!("{O}/contacts/{ann}")).await;
    refused("DELETE", st, &body);
    let (st, body) = s
        .post(
            &format!("{O}/contacts/{ann}/tags"),
            json!({"tag_ids": [cold]}),
        )
        .await;
    refused("add a tag", st, &body);
    let (st, body) = s.delete(&format!("{O}/contacts/{ann}/tags/{vip}")).await;
    refused("remove a tag", st, &body);
    // Many at once: refused whole, Bob untouched.
    let (st, body) = s
        .post(
            &format!("{O}/contacts/bulk/tags"),
            json!({"ids": [bob, ann], "add": [cold]}),
        )
        .await;
    refused("bulk tags", st, &body);
    for bulk in [
        json!({"ids": [bob, ann], "set": {"stage": "customer"}}),
        json!({"ids": [bob, ann], "add_tags": [cold]}),
        json!({"matching": {}, "delete": true}),
    ] {
        let (st, body) = s.post(&format!("{O}/contacts/bulk"), bulk.clone()).await;
        refused(&format!("bulk {bulk}"), st, &body);
    }
    for ids in [json!([ann, bob]), json!([bob, ann])] {
        let (st, body) = s
            .post(&format!("{O}/contacts/merge"), json!({"ids": ids}))
            .await;
        refused(&format!("merge {ids}"), st, &body);
    }
    // Nothing new is attached to her.
    let (st, body) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<p>More about her</p>", "links": [{"kind": "contact", "id": ann}]}),
        )
        .await;
    refused("a note about her", st, &body);
    let (st, body) = s
        .post(
            &format!("{O}/deals"),
            json!({"title": "Upsell", "contacts": [{"contact_id": ann, "role": "champion"}]}),
        )
        .await;
    refused("a deal with her", st, &body);
    let (st, body) = s
        .post(
            &format!("{O}/files/{file}/links"),
            json!({"kind": "contact", "id": ann}),
        )
        .await;
    refused("a file attached", st, &body);
    let (st, body) = upload_file(
        &s,
        "acme",
        "photo.txt",
        b"x".to_vec(),
        &[format!("contact:{ann}")],
    )
    .await;
    refused("a file uploaded to her", st, &body);

    // An import matching her by email skips her and says why; Bob is updated.
    let csv =
        format!("Email,First Name,Job Title\n{ANN},Anna,Spy\nbob@example.com,Robert,Builder\n");
    let imp = uploaded(&s, "contact", csv.into_bytes()).await;
    let id = imp["id"].as_str().expect("id").to_string();
    let dedupe = json!({"dedupe": {"match": "email", "action": "overwrite"}});
    let done = import(&app, &s, &id, dedupe).await;
    assert_eq!(done["report"]["updated"], 1, "{done}");
    assert_eq!(done["report"]["skipped"], 1, "{done}");
    assert_eq!(done["warnings"][0]["row"], 1, "{done}");
    assert!(
        done["warnings"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("restricted by a privacy request")),
        "{done}"
    );
    let (_, b) = s.get(&format!("{O}/contacts/{bob}")).await;
    assert_eq!(b["first_name"], "Robert");

    // She is exactly as she was: fields, tags, history (created, then
    // restricted), and no note, deal or file joined her.
    let (_, after) = s.get(&format!("{O}/contacts/{ann}")).await;
    assert_eq!(after, before);
    let (_, hist) = s.get(&format!("{O}/contacts/{ann}/history")).await;
    let actions: Vec<&str> = hist["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert_eq!(actions, ["restricted", "created"], "{hist}");
    let (_, found) = s.get(&format!("{O}/privacy/subject?email={ANN}")).await;
    for key in ["deals", "notes", "files"] {
        assert_eq!(found[key], json!([]), "{key}: {found}");
    }
    let (_, b) = s.get(&format!("{O}/contacts/{bob}")).await;
    assert_eq!(b["stage"], "lead", "the refused bulk changed no one");
    assert_eq!(b["tags"], json!([]), "{b}");

    // Lifted: everything works again.
    let lifted = restrict(&s, false).await;
    assert_eq!(lifted, json!({"contacts": 1, "changed": 1, "ids": [ann]}));
    let (st, a) = s
        .patch(&format!("{O}/contacts/{ann}"), json!({"job_title": "Spy"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert!(a.get("restricted").is_none(), "{a}");
    let (st, _) = s
        .post(
            &format!("{O}/contacts/{ann}/tags"),
            json!({"tag_ids": [cold]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, m) = s
        .post(&format!("{O}/contacts/merge"), json!({"ids": [bob, ann]}))
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");

    // Logged like every request (no personal data), and in the audit log.
    let (_, log) = s.get(&format!("{O}/privacy/requests")).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["lift", "find", "restrict", "restrict"], "{log}");
    assert_eq!(log["items"][0]["handled_by"], json!(s.user_id));
    assert!(!log.to_string().contains("annabel"), "{log}");
    let (_, audit) = s.get(&format!("{O}/audit?action=privacy.")).await;
    let audited: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        audited.contains(&"privacy.restrict") && audited.contains(&"privacy.lift"),
        "{audit}"
    );
    assert!(!audit.to_string().contains("annabel"), "{audit}");
}

#[tokio::test]
async fn a_restricted_contact_in_the_trash_stays_there_and_erasure_ends_the_restriction() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (ann, _) = people(&s).await;
    assert_eq!(
        s.delete(&format!("{O}/contacts/{ann}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(restrict(&s, true).await["contacts"], 1);
    let (st, body) = s
        .post(&format!("{O}/contacts/{ann}/restore"), json!({}))
        .await;
    refused("restore", st, &body);
    let (st, body) = s
        .post(
            &format!("{O}/trash/restore"),
            json!({"items": [{"kind": "contact", "id": ann}]}),
        )
        .await;
    refused("restore from the trash", st, &body);
    let (st, body) = s.delete(&format!("{O}/trash/contact/{ann}")).await;
    refused("erase from the trash", st, &body);
    // An erasure request is the person's own: it ends the restriction.
    let (st, erased) = s
        .post(&format!("{O}/privacy/erase"), json!({"email": ANN}))
        .await;
    assert_eq!(st, StatusCode::OK, "{erased}");
    assert_eq!(erased["contacts"], 1);
    let (_, found) = s.get(&format!("{O}/privacy/subject?email={ANN}")).await;
    assert_eq!(found["contacts_in_trash"], json!([]), "{found}");
}

/// The names in an export of contacts, in any format.
async fn exported(s: &Session, format: &str) -> String {
    let (status, _, _, body) =
        download(s, &format!("{O}/contacts/export"), &[("format", format)]).await;
    assert_eq!(status, StatusCode::OK, "{format}");
    if format != "xlsx" {
        return String::from_utf8(body).expect("utf-8");
    }
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(body)).expect("zip");
    let mut text = String::new();
    for name in ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"] {
        if let Ok(mut f) = z.by_name(name) {
            f.read_to_string(&mut text).expect("xml");
        }
    }
    text
}

#[tokio::test]
async fn a_restricted_contact_is_left_out_of_exports_and_webhooks() {
    let (app, runner) = hooks_app(true).await;
    let s = app.setup_owner().await;
    let (url, rx) = receiver(0).await;
    let (status, hook) = s
        .post(
            &format!("{O}/webhooks"),
            json!({"url": url, "events": ["contact.created", "contact.updated", "contact.deleted"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let (ann, bob) = people(&s).await;
    let about = |id: &str| {
        rx.all()
            .into_iter()
            .filter(|r| {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                v["data"]["id"] == json!(id)
            })
            .collect::<Vec<_>>()
    };
    let start = std::time::Instant::now();
    while about(&ann).is_empty() || about(&bob).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no events");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An update of hers is queued, and its delivery fails for now…
    rx.fail_first.store(1_000_000, Ordering::SeqCst);
    let (st, _) = s
        .patch(
            &format!("{O}/contacts/{ann}"),
            json!({"job_title": "Lead analyst"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    while about(&ann).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "no retry");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // …then she is restricted: the queued delivery is withdrawn, so when the
    // receiver is back (retries come after 0.1 s, 0.2 s, 0.4 s, …) nothing of
    // hers arrives, while Bob's change does.
    restrict(&s, true).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    rx.fail_first.store(0, Ordering::SeqCst);
    let (st, _) = s
        .patch(
            &format!("{O}/contacts/{bob}"),
            json!({"job_title": "Builder"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    while about(&bob).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "bob's update");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hers = about(&ann);
    assert!(
        hers.iter().skip(1).all(|r| r.answered == 500),
        "her queued update was delivered after the restriction: {hers:?}"
    );

    // Every export format leaves her out, and keeps Bob.
    for format in ["csv", "ndjson", "xlsx", "vcf"] {
        let text = exported(&s, format).await;
        assert!(text.contains("Bob"), "{format}: {text}");
        assert!(!text.contains("Annabel"), "{format}: {text}");
    }

    // Lifted: exported and heard of again.
    restrict(&s, false).await;
    for format in ["csv", "ndjson", "xlsx", "vcf"] {
        assert!(exported(&s, format).await.contains("Annabel"), "{format}");
    }
    let seen = about(&ann).len();
    let (st, _) = s
        .patch(
            &format!("{O}/contacts/{ann}"),
            json!({"job_title": "Analyst"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    while about(&ann).len() <= seen {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "her update after lifting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(about(&ann).last().map(|r| r.answered), Some(200));
    runner.abort();
}

#[tokio::test]
async fn restricting_is_for_admins_of_the_organization_and_checks_its_input() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let (ann, _) = people(&s).await;
    for path in ["restrict", "lift"] {
        for body in [
            json!({}),
            json!({"email": "x"}),
            json!({"email": ANN, "all": true}),
        ] {
            let (st, err) = s.post(&format!("{O}/privacy/{path}"), body.clone()).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {err}");
        }
    }
    let member = app.add_member(&s, "acme", "m@example.com", "member").await;
    let viewer = app.add_member(&s, "acme", "v@example.com", "viewer").await;
    for who in [&member, &viewer] {
        for path in ["restrict", "lift"] {
            let (st, _) = who
                .post(&format!("{O}/privacy/{path}"), json!({"email": ANN}))
                .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let (_, a) = s.get(&format!("{O}/contacts/{ann}")).await;
    assert!(a.get("restricted").is_none(), "{a}");
    // Another organization's admin: our slug is 404, theirs matches no one.
    let (status, body, other) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@bobco.example", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other = other.expect("session");
    for path in ["restrict", "lift"] {
        let (st, _) = other
            .post(&format!("{O}/privacy/{path}"), json!({"email": ANN}))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        let (st, done) = other
            .post(
                &format!("/api/v1/orgs/bobco/privacy/{path}"),
                json!({"email": ANN}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{done}");
        assert_eq!(done["contacts"], 0, "{done}");
    }
    let (_, a) = s.get(&format!("{O}/contacts/{ann}")).await;
    assert!(a.get("restricted").is_none(), "{a}");
    // A member may still read a restricted contact; an admin restricts.
    let admin = app.add_member(&s, "acme", "a@example.com", "admin").await;
    let (st, done) = admin
        .post(
            &format!("{O}/privacy/restrict"),
            json!({"phone": "+14155550177"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["ids"], json!([ann]));
    let (st, a) = member.get(&format!("{O}/contacts/{ann}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(a["restricted"], true);
}
