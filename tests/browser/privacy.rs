//! Settings → Privacy in a real browser (issue 18, item 6): an admin finds
//! a person by email, sees what is linked to them, erases it, and the
//! request log shows who did it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn an_admin_finds_and_erases_a_person_from_settings() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let b = &server.base;
    let s = api_session(b, "owner@example.com").await;
    let ann: Value = api(b, &s, Method::POST, "/orgs/acme/contacts",
        json!({"first_name": "Annabel", "last_name": "Quist", "emails": [{"email": "annabel@example.com"}]})).await;
    api(
        b,
        &s,
        Method::POST,
        "/orgs/acme/notes",
        json!({"body": "<p>Allergic to nuts</p>", "links": [{"kind": "contact", "id": ann["id"]}]}),
    )
    .await;

    let br = browser().await;
    let c = &br.client;
    sign_in(c, b, "owner@example.com").await;
    c.goto(&format!("{b}/o/acme/settings/privacy"))
        .await
        .expect("goto");
    type_into(c, ".privacy-form input[name=email]", "annabel@example.com").await;
    click(
        c,
        "//form[contains(@class,'privacy-form')]//button[@type='submit']",
    )
    .await;
    let card = wait_for_css(c, ".privacy-card").await;
    let text = card.text().await.expect("text");
    assert!(
        text.contains("Annabel Quist") && text.contains("Allergic"),
        "{text}"
    );
    wait_for_css(c, ".privacy-requests").await;
    crate::harness::screenshot_here(c, "privacy-found-desktop-light").await;
    click(c, "//button[normalize-space()='Erase…']").await;
    click(c, "//dialog//button[normalize-space()='Erase']").await;
    wait_until(
        c,
        "document.querySelectorAll('.privacy-requests tbody tr').length === 2",
    )
    .await;
    let log = c
        .find(fantoccini::Locator::Css(".privacy-requests"))
        .await
        .expect("log")
        .text()
        .await
        .expect("text");
    assert!(
        log.contains("Erased") && log.contains("Olivia Owner"),
        "{log}"
    );
    assert!(!log.contains("annabel"), "{log}");
    screenshots(c, "privacy", ".privacy-requests").await;
    let found: Value = api(
        b,
        &s,
        Method::GET,
        "/orgs/acme/privacy/subject?email=annabel@example.com",
        Value::Null,
    )
    .await;
    assert_eq!(found["contacts"], json!([]), "{found}");
}
