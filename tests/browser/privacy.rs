//! Settings → Privacy in a real browser (issue 18, item 6): an admin finds
//! a person by email, sees what is linked to them, erases it, and the
//! request log shows who did it; or restricts it, and the contact's page
//! says so and offers no way to change it until the restriction is lifted.

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

#[tokio::test]
async fn an_admin_restricts_a_person_and_the_contact_page_is_read_only() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let b = &server.base;
    let s = api_session(b, "owner@example.com").await;
    let ann: Value = api(b, &s, Method::POST, "/orgs/acme/contacts",
        json!({"first_name": "Annabel", "last_name": "Quist", "emails": [{"email": "annabel@example.com"}]})).await;
    let id = ann["id"].as_str().expect("id").to_string();

    let br = browser().await;
    let c = &br.client;
    sign_in(c, b, "owner@example.com").await;
    // Before: the contact page can be edited.
    c.goto(&format!("{b}/o/acme/contacts/{id}"))
        .await
        .expect("goto");
    wait_for_css(c, ".prop-edit-btn").await;

    c.goto(&format!("{b}/o/acme/settings/privacy"))
        .await
        .expect("goto");
    type_into(c, ".privacy-form input[name=email]", "annabel@example.com").await;
    click(
        c,
        "//form[contains(@class,'privacy-form')]//button[@type='submit']",
    )
    .await;
    wait_for_css(c, ".privacy-card").await;
    click(c, "//button[normalize-space()='Restrict…']").await;
    click(c, "//dialog//button[normalize-space()='Restrict']").await;
    wait_for(c, "//button[normalize-space()='Lift restriction…']").await;
    let card = wait_for_css(c, ".privacy-card").await;
    assert!(
        card.text().await.expect("text").contains("(restricted)"),
        "the card marks her contact"
    );
    wait_until(
        c,
        "[...document.querySelectorAll('.privacy-requests tbody td')].some((td) => td.textContent === 'Restricted')",
    )
    .await;
    let got: Value = api(
        b,
        &s,
        Method::GET,
        &format!("/orgs/acme/contacts/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(got["restricted"], true, "{got}");

    // The contact page: a calm banner, and no editing controls.
    c.goto(&format!("{b}/o/acme/contacts/{id}"))
        .await
        .expect("goto");
    let banner = wait_for_css(c, ".record-banner").await;
    let text = banner.text().await.expect("text");
    assert!(
        text.contains("Restricted by a privacy request") && text.contains("read-only"),
        "{text}"
    );
    wait_for_css(c, ".props").await;
    wait_until(
        c,
        "document.querySelectorAll('.prop-edit-btn, .record-actions button, [data-testid=attach-files]').length === 0",
    )
    .await;
    crate::harness::screenshot_here(c, "contact-restricted-desktop-light").await;

    // Lifted from Settings → Privacy: the page is editable again.
    c.goto(&format!("{b}/o/acme/settings/privacy"))
        .await
        .expect("goto");
    type_into(c, ".privacy-form input[name=email]", "annabel@example.com").await;
    click(
        c,
        "//form[contains(@class,'privacy-form')]//button[@type='submit']",
    )
    .await;
    click(c, "//button[normalize-space()='Lift restriction…']").await;
    click(c, "//dialog//button[normalize-space()='Lift restriction']").await;
    wait_for(c, "//button[normalize-space()='Restrict…']").await;
    c.goto(&format!("{b}/o/acme/contacts/{id}"))
        .await
        .expect("goto");
    wait_for_css(c, ".prop-edit-btn").await;
    assert!(
        c.find(fantoccini::Locator::Css(".record-banner"))
            .await
            .is_err(),
        "no banner once lifted"
    );
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| m.contains("SEVERE") || m.contains("Content Security Policy"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
