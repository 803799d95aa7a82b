//! Duplicates in a real browser (issue 18, item 5): the list's menu leads
//! to the duplicate groups; a group opens side by side, the person picks
//! whose job title stays, merges, and the other contact is in the trash
//! with its note now on the survivor.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn duplicates_are_merged_side_by_side_choosing_each_value() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    let b = &server.base;
    let ada: Value = api(
        b,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Ada", "last_name": "Lovelace", "job_title": "Analyst",
               "emails": [{"label": "work", "email": "ada@example.com"}]}),
    )
    .await;
    let ada2: Value = api(
        b,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Ada", "last_name": "King", "job_title": "Countess",
               "emails": [{"label": "home", "email": "ADA@example.com"}],
               "phones": [{"label": "mobile", "phone": "+44 20 7946 0000"}]}),
    )
    .await;
    api(
        b,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Grace", "last_name": "Hopper"}),
    )
    .await;
    api(b, &s, Method::POST, "/orgs/acme/notes",
        json!({"body": "<p>Met at the salon</p>", "links": [{"kind": "contact", "id": ada2["id"]}]})).await;
    let (a, a2) = (
        ada["id"].as_str().expect("id").to_string(),
        ada2["id"].as_str().expect("id").to_string(),
    );

    let br = browser().await;
    let c = &br.client;
    sign_in(c, b, "owner@example.com").await;
    c.goto(&format!("{b}/o/acme/contacts")).await.expect("goto");
    click(c, "//button[@aria-label='More actions for contacts']").await;
    click(
        c,
        "//*[@role='menu']//*[normalize-space()='Find duplicates']",
    )
    .await;
    wait_for_url(c, "/o/acme/contacts/duplicates").await;
    let group = wait_for_css(c, ".dup-group").await;
    let text = group.text().await.expect("text");
    assert!(
        text.contains("Same email") && text.contains("ada@example.com"),
        "{text}"
    );
    assert!(!text.contains("Grace"), "{text}");
    screenshots(c, "duplicates", ".dup-group").await;

    click(c, "//button[starts-with(@aria-label, 'Review and merge')]").await;
    wait_for_css(c, ".dup-table").await;
    // Names differ: both offered; the same-looking rows are not choices.
    click(c, "//input[@aria-label='Job title: Countess']").await;
    screenshot_here(c, "duplicates-merge-desktop-light").await;
    click(
        c,
        "//div[contains(@class,'dup-merge')]//button[starts-with(normalize-space(), 'Merge')]",
    )
    .await;
    click(c, "//dialog//button[normalize-space()='Merge']").await;
    wait_until(
        c,
        "!document.querySelector('.dup-group') && document.querySelector('.empty')",
    )
    .await;

    // The survivor is the first, with the chosen title and the other's phone and note.
    let merged: Value = api(
        b,
        &s,
        Method::GET,
        &format!("/orgs/acme/contacts/{a}"),
        Value::Null,
    )
    .await;
    assert_eq!(merged["job_title"], "Countess", "{merged}");
    assert_eq!(merged["last_name"], "Lovelace", "{merged}");
    assert_eq!(merged["phones"][0]["phone"], "+442079460000", "{merged}");
    let trash: Value = api(
        b,
        &s,
        Method::GET,
        "/orgs/acme/trash?kind=contact",
        Value::Null,
    )
    .await;
    assert_eq!(trash["items"][0]["id"], json!(a2), "{trash}");
    let t: Value = api(
        b,
        &s,
        Method::GET,
        &format!("/orgs/acme/contacts/{a}/timeline?types=notes"),
        Value::Null,
    )
    .await;
    assert_eq!(t["items"].as_array().map(Vec::len), Some(1), "{t}");
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| m.contains("SEVERE") || m.contains("Content Security Policy"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
