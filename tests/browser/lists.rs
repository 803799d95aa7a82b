//! The contacts list in a real browser (issue 20): its search box finds
//! with a typo and by a phone number written another way, as the palette
//! does; "Select all N matching" then changes the owner of every contact
//! the list matches, not only the rows loaded.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

async fn rows(c: &fantoccini::Client) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('.table tbody tr:not(.skel-row) .name-cell a')].map((a) => a.textContent.trim());",
            vec![],
        )
        .await
        .expect("rows");
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn search_list(c: &fantoccini::Client, text: &str) {
    let input = wait_for_css(c, "#global-search").await;
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
    input.send_keys("\u{E007}").await.expect("enter");
}

async fn assert_no_errors(c: &fantoccini::Client) {
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| {
            m.contains("SEVERE") || m.contains("Error") || m.contains("Content Security Policy")
        })
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test]
async fn a_lists_search_forgives_typos_and_reads_any_phone_notation() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    for body in [
        json!({"first_name": "Zoltán", "last_name": "Kovács", "phones": [{"phone": "+49 30 901820"}]}),
        json!({"first_name": "Ada", "last_name": "Lovelace", "phones": [{"phone": "+1 415 555 0132"}]}),
        json!({"first_name": "Grace", "last_name": "Hopper"}),
    ] {
        api(&server.base, &s, Method::POST, "/orgs/acme/contacts", body).await;
    }
    // Wait for the search index to have them (it follows writes).
    for _ in 0..200 {
        let r: Value = api(
            &server.base,
            &s,
            Method::GET,
            "/orgs/acme/contacts?q=hopper",
            Value::Null,
        )
        .await;
        if r["items"].as_array().is_some_and(|a| a.len() == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("goto");
    wait_until(
        c,
        "document.querySelectorAll('.table tbody tr:not(.skel-row)').length === 3",
    )
    .await;

    // Accents left out and one letter wrong.
    search_list(c, "kovavs").await;
    wait_until(c, "location.search.includes('q=kovavs') && document.querySelectorAll('.table tbody tr:not(.skel-row)').length === 1").await;
    assert_eq!(rows(c).await, ["Zoltán Kovács"]);
    screenshot_here(c, "contacts-list-search-typo").await;
    // A phone number written the way people in the US write it.
    search_list(c, "(415) 555-0132").await;
    wait_until(c, "location.search.includes('q=') && document.querySelectorAll('.table tbody tr:not(.skel-row)').length === 1 && document.querySelector('.table tbody .name-cell').textContent.includes('Ada')").await;
    assert_eq!(rows(c).await, ["Ada Lovelace"]);
    // No match: the empty state says so.
    search_list(c, "zzqxv").await;
    wait_until(c, "document.body.textContent.includes('No contacts match')").await;
    assert_no_errors(c).await;
    b.close().await;
}

#[tokio::test]
async fn select_all_matching_changes_the_owner_of_the_whole_list() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    // More leads than one page holds, and some customers that stay as they are.
    for i in 0..60 {
        let stage = if i < 55 { "lead" } else { "customer" };
        api(
            &server.base,
            &s,
            Method::POST,
            "/orgs/acme/contacts",
            json!({"first_name": format!("Person {i:02}"), "stage": stage}),
        )
        .await;
    }
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts?stage=lead", server.base))
        .await
        .expect("goto");
    wait_until(c, "document.querySelectorAll('.table tbody tr:not(.skel-row)').length === 50 && document.querySelector('.topbar-count').textContent === '55'").await;
    click(c, "//th[contains(@class,'col-check')]//input").await;
    wait_until(c, "!document.querySelector('.sel-all-matching').hidden").await;
    let label: Value = c
        .execute(
            "return document.querySelector('.sel-all-matching').textContent;",
            vec![],
        )
        .await
        .expect("label");
    assert_eq!(label, json!("Select all 55 matching"));
    screenshot_here(c, "contacts-select-all-matching").await;
    click(c, "//button[contains(@class,'sel-all-matching')]").await;
    wait_until(
        c,
        "document.querySelector('.selbar .count').textContent === 'All 55 contacts selected'",
    )
    .await;
    click(c, "//button[contains(@class,'bulk-owner')]").await;
    wait_for(c, "//div[@role='menu']").await;
    screenshot_here(c, "contacts-select-all-matching-owner").await;
    click(
        c,
        "//div[@role='menu']//button[contains(., 'Olivia Owner')]",
    )
    .await;
    wait_until(
        c,
        "document.body.textContent.includes('Gave 55 contacts to')",
    )
    .await;
    let me: Value = api(&server.base, &s, Method::GET, "/me", Value::Null).await;
    let my_id = me["user"]["id"].as_str().unwrap_or_default().to_string();
    let count: Value = api(
        &server.base,
        &s,
        Method::GET,
        &format!("/orgs/acme/contacts/count?owner={my_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(count["count"], 55, "every lead, loaded or not");
    let customers: Value = api(
        &server.base,
        &s,
        Method::GET,
        "/orgs/acme/contacts/count?stage=customer&filter=%7B%22field%22%3A%22owner_id%22%2C%22op%22%3A%22is_empty%22%7D",
        Value::Null,
    )
    .await;
    assert_eq!(customers["count"], 5, "the customers keep no owner");
    assert_no_errors(c).await;
    b.close().await;
}
