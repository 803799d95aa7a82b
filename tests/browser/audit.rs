//! Settings → Audit log and Settings → API keys' request log, in the real
//! browser: entries with actor, action, target and change; the filters; the
//! export link carries the filter.

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

fn rows_text(table: &str) -> String {
    format!(
        "return [...document.querySelectorAll('{table} tbody tr')].map(r => r.textContent).join('\\n')"
    )
}

#[tokio::test]
async fn the_audit_log_lists_changes_and_filters_them() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    let s = api_session(&base, "owner@example.com").await;
    let mia = api(
        &base,
        &s,
        Method::POST,
        "/orgs/acme/members",
        json!({"email": "mia@example.com", "role": "member"}),
    )
    .await;
    let mia_id = mia["member"]["user_id"].as_str().expect("id").to_string();
    api(
        &base,
        &s,
        Method::PATCH,
        &format!("/orgs/acme/members/{mia_id}"),
        json!({"role": "viewer"}),
    )
    .await;
    let key = api(
        &base,
        &s,
        Method::POST,
        "/orgs/acme/api-keys",
        json!({"name": "Zapier sync", "role": "member"}),
    )
    .await;
    let secret = key["secret"].as_str().expect("secret").to_string();
    let used = crate::harness::http_client()
        .get(format!("{base}/api/v1/orgs/acme/contacts"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("use key");
    assert!(used.status().is_success());

    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/settings/audit"))
        .await
        .expect("audit");
    wait_for(c, "//h1[normalize-space()='Audit log']").await;
    wait_until(
        c,
        "[...document.querySelectorAll('.audit-table tbody tr')].some(r => r.textContent.includes('Zapier sync'))",
    )
    .await;
    let text = c
        .execute(&rows_text(".audit-table"), vec![])
        .await
        .expect("rows");
    let text = text.as_str().unwrap_or_default().to_string();
    for expected in [
        "Member invited",
        "mia@example.com",
        "Member role changed",
        "role: member → viewer",
        "API key created",
        "owner@example.com",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }

    // Only API key entries.
    let action = wait_for_css(c, ".audit-filters select[name=action]").await;
    action.select_by_value("api_key.").await.expect("select");
    wait_until(
        c,
        "(() => { const rows = [...document.querySelectorAll('.audit-table tbody tr')];
                  return rows.length === 1 && rows[0].textContent.includes('API key created'); })()",
    )
    .await;
    // The export link carries the same filter.
    let href = c
        .execute(
            "return document.querySelector('a[aria-label=\"Export CSV\"]').getAttribute('href')",
            vec![],
        )
        .await
        .expect("href");
    let href = href.as_str().unwrap_or_default().to_string();
    assert!(
        href.contains("/orgs/acme/audit/export") && href.contains("action=api_key."),
        "{href}"
    );
    // A person who did nothing: nothing matches.
    type_into(c, ".audit-filters input[name=actor]", "nobody-at-all").await;
    wait_for(c, "//*[normalize-space()='No entries match']").await;

    screenshots(c, "audit-log", ".audit-table tbody tr").await;

    // Settings → API keys: the key's request is in the request log.
    c.goto(&format!("{base}/o/acme/settings/api-keys"))
        .await
        .expect("keys");
    wait_until(
        c,
        "[...document.querySelectorAll('.api-requests tbody tr')].some(r => r.textContent.includes('Zapier sync') && r.textContent.includes('/orgs/{org}/contacts'))",
    )
    .await;
    // All requests: the app's own (the owner's) are there too.
    let which = wait_for_css(c, ".api-requests-section select[name=which]").await;
    which.select_by_value("").await.expect("select");
    wait_until(
        c,
        "[...document.querySelectorAll('.api-requests tbody tr')].some(r => r.textContent.includes('owner@example.com'))",
    )
    .await;
    screenshots(c, "api-requests", ".api-requests tbody tr").await;
    b.close().await;
    drop(server);
}
