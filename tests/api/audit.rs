//! The audit log: each audited action is recorded with its actor and target;
//! a tampered entry is found by `harmonia audit verify`; the retention purge
//! (with a test clock) keeps the chain verifiable; roles and isolation of
//! every audit route; the CSV export neutralises formulas.

use std::process::Command;
use std::sync::Arc;

use harmonia::clock::TestClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn entries(s: &Session, query: &str) -> Vec<Value> {
    let (status, body) = s.get(&format!("/api/v1/orgs/acme/audit{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().expect("items").clone()
}

fn verify(dir: &std::path::Path, org: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harmonia"));
    cmd.arg("--data-dir").arg(dir).args(["audit", "verify"]);
    if let Some(o) = org {
        cmd.args(["--org", o]);
    }
    let out = cmd
        .env("HARMONIA_LOG", "warn")
        .output()
        .expect("run harmonia");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn each_audited_action_is_recorded_with_its_actor_and_target() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let o = "/api/v1/orgs/acme";

    // Members: invited, role changed, removed.
    let (_, added) = owner
        .post(
            &format!("{o}/members"),
            json!({"email": "mia@example.com", "role": "member"}),
        )
        .await;
    let mia = added["member"]["user_id"].as_str().expect("id").to_string();
    owner
        .patch(&format!("{o}/members/{mia}"), json!({"role": "viewer"}))
        .await;
    owner.delete(&format!("{o}/members/{mia}")).await;
    // API keys: created by a person, then one made by that key, revoked.
    let key = app.api_key(&owner, "acme", "admin").await;
    let (status, made) = key
        .post(
            &format!("{o}/api-keys"),
            json!({"name": "made by a key", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let made_id = made["id"].as_str().expect("id").to_string();
    owner.delete(&format!("{o}/api-keys/{made_id}")).await;
    // Settings, a custom field, a pipeline, a record deleted forever.
    owner
        .patch(o, json!({"name": "Acme Ltd", "default_currency": "EUR"}))
        .await;
    let (_, field) = owner
        .post(
            &format!("{o}/fields"),
            json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
        )
        .await;
    let field_id = field["id"].as_str().expect("field").to_string();
    owner
        .patch(&format!("{o}/fields/{field_id}"), json!({"label": "Level"}))
        .await;
    owner.delete(&format!("{o}/fields/{field_id}")).await;
    let (_, pipeline) = owner
        .post(
            &format!("{o}/pipelines"),
            json!({"name": "Partners", "stages": [{"name": "Intro"}]}),
        )
        .await;
    let pipeline_id = pipeline["id"].as_str().expect("pipeline").to_string();
    owner
        .patch(
            &format!("{o}/pipelines/{pipeline_id}"),
            json!({"name": "Partnerships"}),
        )
        .await;
    let (_, cleo) = owner
        .post(&format!("{o}/contacts"), sample_contact("Cleo"))
        .await;
    let cleo = cleo["id"].as_str().expect("id").to_string();
    owner.delete(&format!("{o}/contacts/{cleo}")).await;
    let (status, _) = owner.delete(&format!("{o}/trash/contact/{cleo}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Webhooks out and in (the URL needs no answer: it is only checked for
    // being public, and an address needs no DNS lookup).
    let (status, hook) = owner
        .post(
            &format!("{o}/webhooks"),
            json!({"url": "https://93.184.215.14/hook", "events": ["contact.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let hook_id = hook["id"].as_str().expect("hook").to_string();
    owner
        .patch(
            &format!("{o}/webhooks/{hook_id}"),
            json!({"enabled": false}),
        )
        .await;
    owner
        .post(&format!("{o}/webhooks/{hook_id}/rotate-secret"), json!({}))
        .await;
    owner.delete(&format!("{o}/webhooks/{hook_id}")).await;
    let (status, inbound) = owner
        .post(&format!("{o}/inbound-hooks"), json!({"name": "Website"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inbound}");
    let inbound_id = inbound["id"].as_str().expect("inbound").to_string();
    owner
        .patch(
            &format!("{o}/inbound-hooks/{inbound_id}"),
            json!({"name": "Web form"}),
        )
        .await;
    owner
        .delete(&format!("{o}/inbound-hooks/{inbound_id}"))
        .await;

    let log = entries(&owner, "?limit=200").await;
    let find = |action: &str, target_id: &str| -> Value {
        log.iter()
            .find(|e| e["action"] == action && e["target_id"] == target_id)
            .unwrap_or_else(|| panic!("no {action} on {target_id} in {log:#?}"))
            .clone()
    };
    let owner_email = "owner@example.com";
    // (action, target id, actor label, target label)
    let table: Vec<(&str, &str, &str, &str)> = vec![
        ("member.invited", &mia, owner_email, "mia@example.com"),
        ("member.role_changed", &mia, owner_email, "mia@example.com"),
        ("member.removed", &mia, owner_email, "mia@example.com"),
        ("api_key.created", &key.id, owner_email, "admin"),
        ("api_key.created", &made_id, "admin", "made by a key"),
        ("api_key.revoked", &made_id, owner_email, "made by a key"),
        (
            "custom_field.created",
            &field_id,
            owner_email,
            "contact.tier (Tier)",
        ),
        (
            "custom_field.updated",
            &field_id,
            owner_email,
            "contact.tier (Level)",
        ),
        (
            "custom_field.deleted",
            &field_id,
            owner_email,
            "contact.tier (Level)",
        ),
        ("pipeline.created", &pipeline_id, owner_email, "Partners"),
        (
            "pipeline.updated",
            &pipeline_id,
            owner_email,
            "Partnerships",
        ),
        ("record.erased", &cleo, owner_email, "Cleo Lovelace"),
        (
            "webhook.created",
            &hook_id,
            owner_email,
            "https://93.184.215.14/hook",
        ),
        (
            "webhook.updated",
            &hook_id,
            owner_email,
            "https://93.184.215.14/hook",
        ),
        (
            "webhook.secret_rotated",
            &hook_id,
            owner_email,
            "https://93.184.215.14/hook",
        ),
        (
            "webhook.deleted",
            &hook_id,
            owner_email,
            "https://93.184.215.14/hook",
        ),
        ("inbound_hook.created", &inbound_id, owner_email, "Website"),
        ("inbound_hook.updated", &inbound_id, owner_email, "Web form"),
        ("inbound_hook.deleted", &inbound_id, owner_email, "Web form"),
    ];
    for (action, target, actor, label) in table {
        let e = find(action, target);
        assert_eq!(e["actor_label"], actor, "{action}: {e}");
        assert_eq!(e["target_label"], label, "{action}: {e}");
        assert_eq!(e["ip"], "127.0.0.1", "{action}: {e}");
        assert!(e["hash"].as_str().is_some_and(|h| h.len() == 64), "{e}");
    }
    // The key acted as itself, not as its owner.
    assert_eq!(find("api_key.created", &made_id)["actor_kind"], "api_key");
    // Before and after where it helps: only what changed.
    let role = find("member.role_changed", &mia);
    assert_eq!(role["before"], json!({"role": "member"}));
    assert_eq!(role["after"], json!({"role": "viewer"}));
    let (_, org) = owner.get(o).await;
    let settings = find("org.settings_changed", org["id"].as_str().expect("id"));
    assert_eq!(
        settings["after"],
        json!({"name": "Acme Ltd", "default_currency": "EUR"})
    );
    assert_eq!(settings["before"]["name"], "Acme");
    let disabled = find("webhook.updated", &hook_id);
    assert_eq!(disabled["before"]["enabled"], true, "{disabled}");
    assert_eq!(disabled["after"]["enabled"], false, "{disabled}");
    assert!(
        !log.iter().any(|e| e.to_string().contains("whsec_")),
        "no secret in the audit log"
    );

    // Filters: action prefix, actor, target, time window; newest first.
    let members = entries(&owner, "?action=member.").await;
    assert_eq!(members.len(), 3, "{members:#?}");
    assert_eq!(members[0]["action"], "member.removed");
    let by_key = entries(&owner, "?actor=made%20by").await;
    assert!(
        by_key.is_empty(),
        "the actor filter is about actors: {by_key:#?}"
    );
    let by_key = entries(&owner, &format!("?actor={}", key.id)).await;
    assert_eq!(by_key.len(), 1, "{by_key:#?}");
    let on_mia = entries(&owner, "?target=mia@").await;
    assert_eq!(on_mia.len(), 3);
    assert!(
        entries(&owner, "?until=2000-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert_eq!(
        entries(&owner, "?since=2000-01-01T00:00:00Z&limit=200")
            .await
            .len(),
        log.len()
    );
    // Paging with the cursor walks every entry once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = owner
            .get(&format!("{o}/audit?limit=4&cursor={cursor}"))
            .await;
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        log.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()
    );

    // Account events go to the platform's log: sign-in, a failure, an unknown email.
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/auth/login",
            json!({"email": owner_email, "password": "wrong password!"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.anon()
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.com", "password": "x"}),
        )
        .await;
    let (status, platform) = owner.get("/api/v1/admin/audit?action=account.").await;
    assert_eq!(status, StatusCode::OK, "{platform}");
    let items = platform["items"].as_array().expect("items");
    let failed: Vec<&Value> = items
        .iter()
        .filter(|e| e["action"] == "account.sign_in_failed")
        .collect();
    assert_eq!(failed.len(), 2, "{items:#?}");
    assert!(failed.iter().all(|e| e["actor_kind"] == "anonymous"));
    assert!(
        failed
            .iter()
            .any(|e| e["target_label"] == "nobody@example.com")
    );
    assert!(
        failed
            .iter()
            .any(|e| e["target_id"] == owner.user_id.as_str())
    );
    let signed_in = items
        .iter()
        .find(|e| e["action"] == "account.signed_in")
        .expect("setup signs in");
    assert_eq!(signed_in["actor_label"], owner_email);
    // The organization's log holds none of them.
    assert!(entries(&owner, "?action=account.").await.is_empty());

    // A password change: by the account's owner, on their account.
    let (status, body) = owner
        .post(
            "/api/v1/auth/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, changed) = owner
        .get("/api/v1/admin/audit?action=account.password_changed")
        .await;
    let changed = changed["items"].as_array().expect("items");
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["actor_label"], owner_email);
    assert_eq!(changed[0]["target_id"], owner.user_id.as_str());
}

#[tokio::test]
async fn a_tampered_entry_is_found_by_audit_verify() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for i in 0..3 {
        app.api_key(&owner, "acme", "viewer").await;
        let _ = i;
    }
    let (_, org) = owner.get("/api/v1/orgs/acme").await;
    let org_id = org["id"].as_str().expect("id").to_string();
    let dir = app.dir.path().to_path_buf();
    let (ok, out) = verify(&dir, None);
    assert!(ok, "{out}");
    assert!(out.contains("OK platform"), "{out}");
    assert!(out.contains("OK acme: 3 entries"), "{out}");

    // Someone with the file edits an entry (the trigger is no obstacle to them).
    let second: String = {
        let db = rusqlite::Connection::open(dir.join("tenants").join(&org_id).join("crm.db"))
            .expect("open");
        db.busy_timeout(std::time::Duration::from_secs(10))
            .expect("timeout");
        assert!(
            db.execute("UPDATE audit_log SET actor_label = 'x' WHERE seq = 2", [])
                .is_err(),
            "the trigger refuses edits"
        );
        db.execute_batch("DROP TRIGGER audit_log_no_update")
            .expect("drop");
        db.execute(
            "UPDATE audit_log SET target_label = 'nothing to see' WHERE seq = 2",
            [],
        )
        .expect("edit");
        db.query_row("SELECT id FROM audit_log WHERE seq = 2", [], |r| r.get(0))
            .expect("id")
    };
    let (ok, out) = verify(&dir, Some("acme"));
    assert!(!ok, "{out}");
    assert!(out.contains("BROKEN acme: entry 2"), "{out}");
    assert!(out.contains(&second), "names the entry's id: {out}");
    assert!(
        !out.contains("platform"),
        "only the organization asked for: {out}"
    );
    // Unknown slug: an error, not a silent OK.
    let (ok, out) = verify(&dir, Some("nope"));
    assert!(!ok && out.contains("no organization"), "{out}");
}

#[tokio::test]
async fn a_year_old_entries_are_purged_and_the_chain_still_verifies() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    app.api_key(&owner, "acme", "viewer").await;
    app.api_key(&owner, "acme", "viewer").await;
    // Entries from here on are younger than the cutoff.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let boundary = time::OffsetDateTime::now_utc();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let kept = app.api_key(&owner, "acme", "viewer").await;

    // Just before the year is up, nothing goes.
    let clock = Arc::new(TestClock::at(
        boundary + time::Duration::days(364) - time::Duration::hours(1),
    ));
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| b).expect("runner");
    runner.run_due().await;
    assert_eq!(entries(&owner, "").await.len(), 3);

    // A year after the boundary (the daily job is due again): the two older
    // entries go, and the purge is logged.
    clock.set(boundary + time::Duration::days(365));
    runner.run_due().await;
    let log = entries(&owner, "").await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[0]["action"], "audit.purged");
    assert_eq!(log[0]["actor_kind"], "system");
    assert_eq!(log[0]["after"]["removed"], 2);
    assert_eq!(log[1]["target_id"], kept.id.as_str());
    let (ok, out) = verify(app.dir.path(), Some("acme"));
    assert!(ok, "{out}");
    // The platform's log was purged the same way and verifies too.
    let (ok, out) = verify(app.dir.path(), None);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn audit_routes_are_for_admins_and_their_own_organization() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "ada@example.com", "admin")
        .await;
    let member = app
        .add_member(&owner, "acme", "mo@example.com", "member")
        .await;
    let viewer = app
        .add_member(&owner, "acme", "vi@example.com", "viewer")
        .await;
    let admin_key = app.api_key(&owner, "acme", "admin").await;
    let member_key = app.api_key(&owner, "acme", "member").await;
    for path in ["/api/v1/orgs/acme/audit", "/api/v1/orgs/acme/audit/export"] {
        assert_eq!(owner.get(path).await.0, StatusCode::OK, "{path}");
        assert_eq!(admin.get(path).await.0, StatusCode::OK, "{path}");
        assert_eq!(admin_key.get(path).await.0, StatusCode::OK, "{path}");
        assert_eq!(member.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(viewer.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            member_key.get(path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            app.anon().send(reqwest::Method::GET, path, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // No route edits or deletes entries.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let (status, _) = owner
            .send(method.clone(), "/api/v1/orgs/acme/audit", Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    // Another organization's owner: 404, like an organization that does not exist.
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Who made it is in the platform's log.
    let (_, made) = owner.get("/api/v1/admin/audit?action=org.created").await;
    let made = made["items"].as_array().expect("items");
    assert_eq!(made.len(), 1, "{made:#?}");
    assert_eq!(made[0]["target_label"], "beta");
    assert_eq!(made[0]["actor_label"], "owner@example.com");
    let beta_owner = app
        .add_member(&owner, "beta", "bo@example.com", "owner")
        .await;
    let beta_key = app.api_key(&beta_owner, "beta", "owner").await;
    for path in ["/api/v1/orgs/acme/audit", "/api/v1/orgs/acme/audit/export"] {
        assert_eq!(
            beta_owner.get(path).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(beta_key.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, beta) = beta_owner.get("/api/v1/orgs/beta/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !beta.to_string().contains("ada@example.com"),
        "beta's log holds nothing of acme: {beta}"
    );
    // The platform's log: platform admins only.
    for path in ["/api/v1/admin/audit", "/api/v1/admin/audit/export"] {
        assert_eq!(owner.get(path).await.0, StatusCode::OK, "{path}");
        assert_eq!(admin.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            beta_owner.get(path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(admin_key.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            app.anon().send(reqwest::Method::GET, path, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // Bad filters: 422 in the error shape.
    for q in [
        "since=yesterday",
        "cursor=abc",
        "limit=0",
        "limit=201",
        "actor=%01",
    ] {
        let (status, body) = owner.get(&format!("/api/v1/orgs/acme/audit?{q}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn the_csv_export_neutralises_formulas() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for name in [
        "=HYPERLINK(\"http://evil.example\")",
        "+1+1",
        "@SUM(A1)",
        "-2",
        "plain",
    ] {
        let (status, body) = owner
            .post(
                "/api/v1/orgs/acme/api-keys",
                json!({"name": name, "role": "viewer"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let resp = owner
        .http
        .get(format!(
            "{}/api/v1/orgs/acme/audit/export?action=api_key.created",
            app.base
        ))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_string();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let cd = resp.headers()["content-disposition"]
        .to_str()
        .expect("cd")
        .to_string();
    assert!(cd.starts_with("attachment"), "{cd}");
    let csv = resp.text().await.expect("body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[0].starts_with("at,actor_kind,actor"), "{csv}");
    for cell in [
        "\"'=HYPERLINK(\"\"http://evil.example\"\")\"",
        "\"'+1+1\"",
        "\"'@SUM(A1)\"",
        "\"'-2\"",
        "\"plain\"",
    ] {
        assert!(csv.contains(cell), "{cell} in {csv}");
    }
    // Every cell is quoted: no cell starts with a bare formula character.
    for line in &lines[1..] {
        assert!(line.starts_with('"'), "{line}");
        assert!(
            !line.contains(",=") && !line.contains(",+") && !line.contains(",@"),
            "{line}"
        );
    }
}

/// Taking data out, merging and privacy requests are in the log — the last
/// without anything that names the person.
#[tokio::test]
async fn exports_merges_and_privacy_requests_are_audited() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let o = "/api/v1/orgs/acme";
    let mut ids = Vec::new();
    for first in ["Ann", "Annie"] {
        let (_, c) = owner
            .post(&format!("{o}/contacts"), sample_contact(first))
            .await;
        ids.push(c["id"].as_str().expect("id").to_string());
    }
    let (status, _) = owner
        .get(&format!("{o}/contacts/export?format=csv&stage=prospect"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, merged) = owner
        .post(
            &format!("{o}/contacts/merge"),
            json!({"ids": [ids[0], ids[1]], "values": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let (status, _) = owner
        .get(&format!("{o}/privacy/subject?email=annie@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, erased) = owner
        .post(
            &format!("{o}/privacy/erase"),
            json!({"email": "annie@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");

    let log = entries(&owner, "?limit=200").await;
    let one = |action: &str| -> Value {
        log.iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {log:#?}"))
            .clone()
    };
    let export = one("export.created");
    assert_eq!(export["target_kind"], "contact");
    assert_eq!(export["after"]["format"], "csv");
    assert_eq!(export["after"]["query"]["stage"], "prospect");
    let merge = one("record.merged");
    assert_eq!(merge["target_id"], json!(ids[0]));
    assert_eq!(merge["after"]["merged"], json!([ids[1]]));
    for action in ["privacy.find", "privacy.erase"] {
        let e = one(action);
        assert_eq!(e["actor_label"], "owner@example.com", "{e}");
        assert_eq!(e["target_kind"], "person", "{e}");
    }
    assert_eq!(one("privacy.erase")["after"]["contacts"], 1);
    let text = serde_json::to_string(&log).expect("json");
    assert!(
        !text.contains("annie@example.com"),
        "the erased person's email is nowhere in the audit log"
    );
}
