//! International basics: an organization's settings (slug, phone country,
//! currency, time zone, date format), phone numbers read in the
//! organization's country and stored in E.164, ISO countries in addresses,
//! and each person's own name, time zone and date format.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn field_error(body: &Value, field: &str) -> bool {
    body["error"]["fields"][field].is_string()
}

#[tokio::test]
async fn admins_change_the_organization_settings_and_members_read_them() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "a@example.com", "admin")
        .await;
    let member = app
        .add_member(&owner, "acme", "m@example.com", "member")
        .await;
    let viewer = app
        .add_member(&owner, "acme", "v@example.com", "viewer")
        .await;

    let (status, org) = member.get("/api/v1/orgs/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["time_zone"], "UTC");
    assert_eq!(org["date_format"], "mmm d, yyyy");
    assert_eq!(org["default_country"], "US");

    let change = json!({"time_zone": "Europe/London", "date_format": "dd/mm/yyyy",
                        "default_country": "gb", "default_currency": "gbp", "name": "Acme UK"});
    for s in [&member, &viewer] {
        let (status, body) = s.patch("/api/v1/orgs/acme", change.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (_, org) = member.get("/api/v1/orgs/acme").await;
    assert_eq!(org["time_zone"], "UTC", "a refused change wrote nothing");

    let (status, org) = admin.patch("/api/v1/orgs/acme", change).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["time_zone"], "Europe/London");
    assert_eq!(org["date_format"], "dd/mm/yyyy");
    assert_eq!(org["default_country"], "GB");
    assert_eq!(org["default_currency"], "GBP");
    assert_eq!(org["name"], "Acme UK");
    // Every member reads the new settings.
    let (_, seen) = viewer.get("/api/v1/orgs/acme").await;
    assert_eq!(seen["time_zone"], "Europe/London");
    assert_eq!(seen["date_format"], "dd/mm/yyyy");
    // An API key with the member role may not change them either.
    let key = app.api_key(&owner, "acme", "member").await;
    let (status, _) = key
        .send(
            reqwest::Method::PATCH,
            "/api/v1/orgs/acme",
            Some(json!({"time_zone": "UTC"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_organization_settings_are_refused_field_by_field() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for (body, field) in [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"time_zone": ""}), "time_zone"),
        (json!({"time_zone": "Europe/London\u{0}"}), "time_zone"),
        (json!({"date_format": "yyyy/dd/mm"}), "date_format"),
        (json!({"date_format": "%Y-%m-%d"}), "date_format"),
        (json!({"default_country": "UK"}), "default_country"),
        (
            json!({"default_country": "United Kingdom"}),
            "default_country",
        ),
        (json!({"default_currency": "XYZ"}), "default_currency"),
        (json!({"slug": "Acme Ltd"}), "slug"),
        (json!({"slug": "-acme"}), "slug"),
        (json!({"slug": "a"}), "slug"),
        (json!({"name": "Acme\u{7}"}), "name"),
        (json!({"name": "   "}), "name"),
    ] {
        let (status, err) = owner.patch("/api/v1/orgs/acme", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        assert!(field_error(&err, field), "{body} → {err}");
    }
    // Several bad fields are named at once, and nothing is written.
    let (status, err) = owner
        .patch(
            "/api/v1/orgs/acme",
            json!({"name": "Fine", "time_zone": "Nowhere", "date_format": "?"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&err, "time_zone") && field_error(&err, "date_format"));
    let (_, org) = owner.get("/api/v1/orgs/acme").await;
    assert_eq!(org["name"], "Acme");
    // Unknown fields and wrong types are refused too.
    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"locale": "en-GB"}))
        .await;
    assert!(status.is_client_error());
    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"date_format": 3}))
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn a_new_slug_moves_the_organization_and_a_taken_one_is_a_conflict() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, c) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let id = c["id"].as_str().expect("id").to_string();

    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, org) = owner
        .patch("/api/v1/orgs/acme", json!({"slug": "acme-uk"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["slug"], "acme-uk");
    let (status, _) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old slug leads nowhere");
    let (status, got) = owner
        .get(&format!("/api/v1/orgs/acme-uk/contacts/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    // Keeping one's own slug is not a conflict.
    let (status, _) = owner
        .patch("/api/v1/orgs/acme-uk", json!({"slug": "acme-uk"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Someone outside the organization gets 404 for it, as for a missing one.
    let app_outsider = app
        .add_member(&owner, "beta", "b@example.com", "admin")
        .await;
    let (status, _) = app_outsider
        .patch("/api/v1/orgs/acme-uk", json!({"time_zone": "UTC"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app_outsider.get("/api/v1/orgs/acme-uk").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn phone_numbers_are_read_in_the_organizations_country_and_stored_in_e164() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    // In a US organization a UK national number is not a number.
    let (status, err) = owner
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Ada", "phones": [{"phone": "020 7946 0958"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(field_error(&err, "phones[0].phone"), "{err}");

    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"default_country": "GB"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, c) = owner
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Ada", "phones": [{"phone": "020 7946 0958"}, {"label": "mobile", "phone": "07911 123456"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["phones"][0]["phone"], "+442079460958");
    assert_eq!(c["phones"][1]["phone"], "+447911123456");
    // Numbers with their country code keep it.
    let id = c["id"].as_str().expect("id");
    let (status, c) = owner
        .patch(
            &format!("/api/v1/orgs/acme/contacts/{id}"),
            json!({"phones": [{"phone": "+1 (415) 555-0132"}, {"phone": "(020) 7946-0958"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["phones"][0]["phone"], "+14155550132");
    assert_eq!(c["phones"][1]["phone"], "+442079460958");
    // Companies' numbers too.
    let (status, co) = owner
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Tower Ltd", "phone": "0161 234 5678"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{co}");
    assert_eq!(co["phone"], "+441612345678");
    // The export carries E.164 as stored.
    let (status, listed) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["phones"][1]["phone"], "+442079460958");
}

#[tokio::test]
async fn address_countries_are_iso_codes() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, c) = owner
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Ada", "address": {"city": "Leeds", "country": " gb "}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["address"]["country"], "GB");
    let id = c["id"].as_str().expect("id");
    for bad in ["UK", "United Kingdom", "XX", "G", "GBR", "G\u{0}"] {
        let (status, err) = owner
            .patch(
                &format!("/api/v1/orgs/acme/contacts/{id}"),
                json!({"address": {"city": "Leeds", "country": bad}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert!(field_error(&err, "address.country"), "{bad}: {err}");
        let (status, err) = owner
            .post(
                "/api/v1/orgs/acme/companies",
                json!({"name": "Bad Co", "address": {"country": bad}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert!(field_error(&err, "address.country"), "{bad}: {err}");
    }
    let (_, c) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(
        c["address"]["country"], "GB",
        "refused changes wrote nothing"
    );
    let (status, co) = owner
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Fjord AS", "address": {"city": "Oslo", "country": "no"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{co}");
    assert_eq!(co["address"]["country"], "NO");
}

#[tokio::test]
async fn people_set_their_own_name_time_zone_and_date_format() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let viewer = app
        .add_member(&owner, "acme", "v@example.com", "viewer")
        .await;
    let (status, me) = viewer.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(me["user"]["time_zone"].is_null() && me["user"]["date_format"].is_null());

    let (status, user) = viewer
        .patch(
            "/api/v1/account",
            json!({"name": "Vera Viewer", "time_zone": "Asia/Tokyo", "date_format": "yyyy-mm-dd"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["name"], "Vera Viewer");
    let (_, me) = viewer.get("/api/v1/me").await;
    assert_eq!(me["user"]["name"], "Vera Viewer");
    assert_eq!(me["user"]["time_zone"], "Asia/Tokyo");
    assert_eq!(me["user"]["date_format"], "yyyy-mm-dd");
    // Others see the new name among the members.
    let (_, members) = owner.get("/api/v1/orgs/acme/members").await;
    assert!(
        members["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|m| m["name"] == "Vera Viewer"),
        "{members}"
    );

    // A field left out stays; null goes back to the default.
    let (status, user) = viewer
        .patch("/api/v1/account", json!({"date_format": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(user["date_format"].is_null());
    assert_eq!(user["time_zone"], "Asia/Tokyo");
    assert_eq!(user["name"], "Vera Viewer");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "Vera\u{1b}[31m"}), "name"),
        (json!({"time_zone": "Tokyo"}), "time_zone"),
        (json!({"date_format": "dd-mm-yy"}), "date_format"),
    ] {
        let (status, err) = viewer.patch("/api/v1/account", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        assert!(field_error(&err, field), "{body} → {err}");
    }
    let (_, me) = viewer.get("/api/v1/me").await;
    assert_eq!(me["user"]["name"], "Vera Viewer");

    // Signed out, or with an API key, there is no account to change.
    let (status, _) = app
        .anon()
        .send(
            reqwest::Method::PATCH,
            "/api/v1/account",
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let key = app.api_key(&owner, "acme", "admin").await;
    let (status, _) = key
        .send(
            reqwest::Method::PATCH,
            "/api/v1/account",
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The browser formats phone numbers for people (`+44 20 7946 0958`, or `020 7946 0958` in
/// a UK organization) with the same formatting rules as the server's phone library, from
/// `web/phone-formats.js`. This test makes that file from the library and fails when the
/// committed one differs (rewrite it with `HARMONIA_WRITE_PHONE_FORMATS=1`).
#[test]
fn the_browser_formats_phones_with_the_servers_rules() {
    use phonenumber::metadata::DATABASE;
    let mut codes: std::collections::BTreeMap<u16, Value> = std::collections::BTreeMap::new();
    // The metadata's patterns are written spread over lines (free-spacing regular
    // expressions); the browser's are not, so the whitespace goes.
    let squeeze = |p: &str| p.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let format_list = |formats: &[phonenumber::metadata::Format]| -> Vec<Value> {
        formats
            .iter()
            .map(|f| {
                json!([
                    squeeze(f.pattern().as_str()),
                    f.format(),
                    squeeze(f.leading_digits().last().map(|r| r.as_str()).unwrap_or("")),
                    f.national_prefix().unwrap_or(""),
                ])
            })
            .collect()
    };
    for meta in DATABASE.iter() {
        let code = meta.country_code();
        let regions = DATABASE.by_code(&code).unwrap_or_default();
        // One set of rules per calling code: its main region's (GB for +44, US for +1).
        let main = regions.len() == 1 || meta.is_main_country_for_code();
        if !main || codes.contains_key(&code) {
            continue;
        }
        let intl = meta.international_formats();
        codes.insert(
            code,
            json!({
                "region": meta.id(),
                "np": meta.national_prefix().unwrap_or(""),
                "national": format_list(meta.formats()),
                "international": if intl.is_empty() { Value::Null } else { json!(format_list(intl)) },
            }),
        );
    }
    let body = serde_json::to_string(&codes).expect("json");
    let file = format!(
        "// Generated from the phone library the server uses (tests/api/international.rs); do not edit.\n\
         // Per calling code: its main region, national prefix, and [pattern, format, leading digits,\n\
         // national prefix rule] for national and (where they differ) international writing.\n\
         export default {body};\n"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/phone-formats.js");
    if std::env::var_os("HARMONIA_WRITE_PHONE_FORMATS").is_some() {
        std::fs::write(path, &file).expect("write");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == file,
        "web/phone-formats.js is stale: run this test with HARMONIA_WRITE_PHONE_FORMATS=1"
    );
}

/// A task due on a day reminds at 09:00 in its assignee's zone, else in the
/// organization's; changing the organization's zone moves the reminders of
/// members without their own.
#[tokio::test]
async fn date_reminders_follow_the_organizations_zone_for_people_without_one() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let mia = app
        .add_member(&owner, "acme", "mia@example.com", "member")
        .await;
    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"time_zone": "Asia/Tokyo"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, t) = owner
        .post(
            "/api/v1/orgs/acme/tasks",
            json!({"title": "Renewal", "due": "2026-12-20", "assignee_id": mia.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let at = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .expect("time")
    };
    let fire = |s: &'static str| {
        let state = app.state.clone();
        async move {
            harmonia::crm::tasks::fire_reminders(&state, at(s))
                .await
                .expect("run")
        }
    };
    // 09:00 in Tokyo is midnight UTC.
    assert_eq!(fire("2026-12-19T23:59:00Z").await, 0);
    assert_eq!(fire("2026-12-20T00:01:00Z").await, 1);

    // Another, then the organization moves to Paris: 09:00 there is 08:00 UTC in December.
    owner
        .post(
            "/api/v1/orgs/acme/tasks",
            json!({"title": "Follow up", "due": "2026-12-21", "assignee_id": mia.user_id}),
        )
        .await;
    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"time_zone": "Europe/Paris"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fire("2026-12-21T07:59:00Z").await, 0);
    assert_eq!(fire("2026-12-21T08:01:00Z").await, 1);

    // Her own zone wins over the organization's.
    let (status, _) = mia
        .patch("/api/v1/account", json!({"time_zone": "America/New_York"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    owner
        .post(
            "/api/v1/orgs/acme/tasks",
            json!({"title": "Call back", "due": "2026-12-22", "assignee_id": mia.user_id}),
        )
        .await;
    assert_eq!(fire("2026-12-22T13:59:00Z").await, 0);
    assert_eq!(fire("2026-12-22T14:01:00Z").await, 1);
}
