//! The web UI in a real browser (Debian's Chromium, headless, through
//! chromedriver) against the real binary on port 0.

mod audit;
mod deals;
mod duplicates;
mod files;
mod harness;
mod imports;
mod international;
mod lists;
mod passkeys;
mod privacy;
mod security;
mod webhooks;
mod work;
#[path = "../api/xss_corpus.rs"]
mod xss_corpus;

use harness::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn first_run_sign_in_and_a_contacts_whole_life() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(false);
    let b = browser().await;
    let c = &b.client;

    // First-run setup from the logged link.
    let link = server.setup_link.clone().expect("setup link in the log");
    c.goto(&link).await.expect("goto setup");
    type_into(c, "input[name=org_name]", "Acme Inc").await;
    type_into(c, "input[name=name]", "Olivia Owner").await;
    type_into(c, "input[name=email]", "owner@example.com").await;
    type_into(c, "input[name=password]", PASSWORD).await;
    click(c, "//button[@type='submit']").await;
    wait_for_url(c, "/o/acme-inc/contacts").await;

    // Sign out (forget the cookie) and sign in again.
    c.delete_all_cookies().await.expect("cookies");
    sign_in(c, &server.base, "owner@example.com").await;
    wait_for_url(c, "/o/acme-inc/contacts").await;

    // Create a contact: a bad email is shown next to its field, nothing typed is lost.
    click(c, "//button[@aria-label='New contact']").await;
    type_into(c, "dialog input[name=first_name]", "Grace").await;
    type_into(c, "dialog input[name=last_name]", "Hopper").await;
    type_into(c, "dialog input[aria-label='Email 1']", "grace at navy").await;
    click(c, "//dialog//button[@type='submit']").await;
    let err = wait_for_css(c, "dialog [data-field^='emails'] .field-error").await;
    let text = err.text().await.expect("text");
    assert!(text.to_lowercase().contains("valid email"), "{text}");
    let kept = c
        .execute(
            "return document.querySelector('dialog input[name=first_name]').value",
            vec![],
        )
        .await
        .expect("value");
    assert_eq!(kept, json!("Grace"));
    type_into(
        c,
        "dialog input[aria-label='Email 1']",
        "grace@navy.example",
    )
    .await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;

    // It is in the list; open it.
    c.goto(&format!("{}/o/acme-inc/contacts", server.base))
        .await
        .expect("list");
    click(c, "//table//a[normalize-space()='Grace Hopper']").await;
    wait_for(c, "//h1[normalize-space()='Grace Hopper']").await;
    wait_for_url(c, "/o/acme-inc/contacts/").await;

    // Edit it through the form.
    click(c, "//button[normalize-space()='Edit']").await;
    type_into(c, "dialog input[name=job_title]", "Rear Admiral").await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_for(
        c,
        "//*[contains(@class,'facts')]//*[contains(normalize-space(),'Rear Admiral')]",
    )
    .await;

    // Delete it: gone from the list and from the API.
    click(c, "//button[@aria-label='More actions']").await;
    click(
        c,
        "//*[@role='menuitem' and contains(normalize-space(),'Delete contact')]",
    )
    .await;
    wait_for_url(c, "/o/acme-inc/contacts").await;
    wait_until(c, "!document.querySelector('h1') || document.querySelector('h1').textContent !== 'Grace Hopper'").await;
    let (status, count) = page_fetch(
        c,
        "GET",
        "/api/v1/orgs/acme-inc/contacts/count",
        None,
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(count["count"], 0);
    b.close().await;
}

async fn seed(base: &str) -> (String, String) {
    let s = api_session(base, "owner@example.com").await;
    let initech = api(
        base,
        &s,
        Method::POST,
        "/orgs/acme/companies",
        json!({"name": "Initech", "domain": "initech.example"}),
    )
    .await;
    let hooli = api(
        base,
        &s,
        Method::POST,
        "/orgs/acme/companies",
        json!({"name": "Hooli"}),
    )
    .await;
    let people = [
        ("Bill", "Lumbergh", "customer", &initech),
        ("Peter", "Gibbons", "lead", &initech),
        ("Gavin", "Belson", "customer", &hooli),
        ("Zelda", "Aaron", "prospect", &hooli),
    ];
    let mut first_id = String::new();
    for (first, last, stage, co) in people {
        let c = api(
            base,
            &s,
            Method::POST,
            "/orgs/acme/contacts",
            json!({
                "first_name": first, "last_name": last, "stage": stage, "company_id": co["id"],
                "emails": [{"email": format!("{}@example.com", first.to_lowercase())}]
            }),
        )
        .await;
        if first_id.is_empty() {
            first_id = c["id"].as_str().unwrap_or_default().to_string();
        }
    }
    (
        initech["id"].as_str().unwrap_or_default().to_string(),
        first_id,
    )
}

async fn first_row_name(c: &fantoccini::Client) -> String {
    c.execute(
        "const a = document.querySelector('table tbody td.name-cell a'); return a ? a.textContent.trim() : ''",
        vec![],
    )
    .await
    .expect("script")
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[tokio::test]
async fn lists_sort_and_filter_and_a_company_shows_its_contacts() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (initech, _) = seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("list");
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 4",
    )
    .await;
    assert_eq!(first_row_name(c).await, "Bill Lumbergh");

    // Sort by name, descending, by clicking the header.
    click(c, "//th//*[normalize-space()='Name']").await;
    wait_until(c, "(document.querySelector('table tbody td.name-cell a')||{}).textContent?.trim() === 'Zelda Aaron'").await;
    wait_for_url(c, "sort=-name").await;

    // Filter by stage.
    let stage = wait_for_css(c, ".filterbar select").await;
    stage.select_by_value("customer").await.expect("select");
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 2",
    )
    .await;
    let names = c
        .execute("return [...document.querySelectorAll('table tbody td.name-cell a')].map(a => a.textContent.trim())", vec![])
        .await
        .expect("names");
    let names: Vec<String> = serde_json::from_value(names).expect("list");
    assert!(
        names
            .iter()
            .all(|n| n == "Gavin Belson" || n == "Bill Lumbergh"),
        "{names:?}"
    );

    // The company page lists its contacts.
    c.goto(&format!("{}/o/acme/companies/{initech}", server.base))
        .await
        .expect("company");
    wait_for(c, "//h1[normalize-space()='Initech']").await;
    wait_for(c, "//a[normalize-space()='Peter Gibbons']").await;
    wait_for(c, "//a[normalize-space()='Bill Lumbergh']").await;
    assert!(
        c.find(fantoccini::Locator::XPath(
            "//a[normalize-space()='Gavin Belson']"
        ))
        .await
        .is_err()
    );
    b.close().await;
}

#[tokio::test]
async fn a_viewer_sees_no_edit_controls_and_a_forged_write_is_refused() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (_, contact) = seed(&server.base).await;
    let owner = api_session(&server.base, "owner@example.com").await;
    let added = api(
        &server.base,
        &owner,
        Method::POST,
        "/orgs/acme/members",
        json!({"email": "vera@example.com", "role": "viewer"}),
    )
    .await;
    let token = added["invite_url"]
        .as_str()
        .expect("invite")
        .split("token=")
        .nth(1)
        .expect("token")
        .to_string();
    let resp = crate::harness::http_client()
        .post(format!("{}/api/v1/invites/accept", server.base))
        .json(&json!({"token": token, "name": "Vera Viewer", "password": PASSWORD}))
        .send()
        .await
        .expect("accept");
    assert!(resp.status().is_success());

    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "vera@example.com").await;
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("list");
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length >= 4",
    )
    .await;
    assert!(
        c.find(fantoccini::Locator::XPath(
            "//button[@aria-label='New contact']"
        ))
        .await
        .is_err()
    );
    c.goto(&format!("{}/o/acme/contacts/{contact}", server.base))
        .await
        .expect("record");
    wait_for(c, "//h1[normalize-space()='Bill Lumbergh']").await;
    let edit_controls = c
        .execute("return [...document.querySelectorAll('button')].filter(b => /^(Edit|Delete)/.test(b.textContent.trim()) || /^Edit /.test(b.getAttribute('aria-label')||'')).length", vec![])
        .await
        .expect("count");
    assert_eq!(edit_controls, json!(0));

    // A write forged from the page, with a valid CSRF token, is refused by the API.
    let (status, body) = page_fetch(
        c,
        "PATCH",
        &format!("/api/v1/orgs/acme/contacts/{contact}"),
        Some(json!({"first_name": "Hacked"})),
        true,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (_, after) = page_fetch(
        c,
        "GET",
        &format!("/api/v1/orgs/acme/contacts/{contact}"),
        None,
        false,
    )
    .await;
    assert_eq!(after["first_name"], "Bill");
    b.close().await;
}

#[tokio::test]
async fn markup_in_a_name_is_shown_as_text_and_never_runs() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    let evil = "<img src=x onerror=alert(1)>";
    let created = api(&server.base, &s, Method::POST, "/orgs/acme/contacts", json!({"first_name": evil, "last_name": "<b>bold</b>", "job_title": "<script>alert(2)</script>"})).await;
    let id = created["id"].as_str().expect("id");
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    for path in [
        "/o/acme/contacts".to_string(),
        format!("/o/acme/contacts/{id}"),
    ] {
        c.goto(&format!("{}{path}", server.base))
            .await
            .expect("goto");
        wait_until(
            c,
            "document.body.textContent.includes('<img src=x onerror=alert(1)>')",
        )
        .await;
        let injected = c
            .execute(
                "return document.querySelectorAll('img[src=\"x\"], script:not([src])').length
                    + [...document.querySelectorAll('b')].filter(e => e.textContent === 'bold').length",
                vec![],
            )
            .await
            .expect("count");
        assert_eq!(injected, json!(0), "{path}: markup became elements");
        assert!(c.get_alert_text().await.is_err(), "{path}: an alert opened");
    }
    b.close().await;
}

#[tokio::test]
async fn strict_csp_no_violations_and_no_other_hosts() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (initech, contact) = seed(&server.base).await;
    let resp = reqwest::get(format!("{}/o/acme/contacts", server.base))
        .await
        .expect("shell");
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(
        resp.headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(resp.headers().get("referrer-policy").is_some());
    let html = resp.text().await.expect("html");
    assert!(
        !html.contains("<script>") && !html.contains(" style=") && !html.contains("<style"),
        "inline code in the shell"
    );

    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    for path in [
        "/o/acme/contacts".to_string(),
        format!("/o/acme/contacts/{contact}"),
        "/o/acme/companies".to_string(),
        format!("/o/acme/companies/{initech}"),
        "/o/acme/settings/organization".to_string(),
        "/o/acme/settings/members".to_string(),
        "/o/acme/settings/api-keys".to_string(),
        "/o/acme/settings/account".to_string(),
        "/o/acme/settings/fields".to_string(),
        "/o/acme/settings/tags".to_string(),
        "/o/acme/deals".to_string(),
        "/o/acme/deals?layout=table&forecast=1".to_string(),
        "/o/acme/deals?forecast=1".to_string(),
        "/o/acme/settings/pipelines".to_string(),
    ] {
        c.goto(&format!("{}{path}", server.base))
            .await
            .expect("goto");
        wait_until(c, "document.querySelector('h1')").await;
        let foreign = c
            .execute("return performance.getEntriesByType('resource').map(e => e.name).filter(u => !u.startsWith(location.origin))", vec![])
            .await
            .expect("resources");
        assert_eq!(foreign, json!([]), "{path}: requests to other hosts");
    }
    // Open a dialog too: dynamic UI must not need inline styles either.
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("list");
    click(c, "//button[@aria-label='New contact']").await;
    wait_for_css(c, "dialog[open]").await;
    // And a popover (the filter builder), placed by script.
    click(c, "//dialog[@open]//button[@aria-label='Close']").await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    click(
        c,
        "//button[contains(@class,'vb-btn') and normalize-space()='Filter']",
    )
    .await;
    wait_for_css(c, ".popover.filter-builder").await;
    let is_violation =
        |m: &String| m.contains("Content Security Policy") || m.contains("Refused to");
    let log = console_messages(c).await;
    let violations: Vec<&String> = log.iter().filter(|m| is_violation(m)).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");

    // Positive controls: the log channel works, and a violation would be seen.
    c.execute(
        "console.error('harmonia-log-probe');
         const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.append(d);",
        vec![],
    )
    .await
    .expect("probe");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = console_messages(c).await;
    assert!(
        log.iter().any(|m| m.contains("harmonia-log-probe")),
        "console log not captured: {log:?}"
    );
    assert!(
        log.iter().any(is_violation),
        "a deliberate inline style was not reported: {log:?}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_deep_link_survives_a_reload() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (_, contact) = seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    let url = format!("{}/o/acme/contacts/{contact}", server.base);
    c.goto(&url).await.expect("goto");
    wait_for(c, "//h1[normalize-space()='Bill Lumbergh']").await;
    c.refresh().await.expect("reload");
    wait_for(c, "//h1[normalize-space()='Bill Lumbergh']").await;
    assert_eq!(c.current_url().await.expect("url").as_str(), url);
    b.close().await;
}

/// Measurement, not a test (ignored by `cargo test`): how long the contacts
/// screen takes to show rows in a big organization made by `harmonia demo`.
///
///   harmonia --data-dir /tmp/demo1m demo --contacts 1000000 --no-serve
///   HARMONIA_BENCH_DATA=/tmp/demo1m cargo test --release --test browser -- \
///       --ignored --nocapture contacts_screen_time
#[tokio::test]
#[ignore]
async fn contacts_screen_time() {
    let _one = ONE_AT_A_TIME.lock().await;
    let data = std::env::var("HARMONIA_BENCH_DATA")
        .expect("HARMONIA_BENCH_DATA=<data dir with a demo org>");
    let server = server_on(std::path::Path::new(&data));
    let b = browser().await;
    let c = &b.client;
    sign_in_with(c, &server.base, "demo@harmonia.example", "harmonia-demo").await;
    let rows = "document.querySelectorAll('table tbody td.name-cell a').length > 0";
    let mut in_app = Vec::new();
    let mut full_load = Vec::new();
    for _ in 0..7 {
        // In-app navigation: from the companies screen, click Contacts in the sidebar.
        c.goto(&format!("{}/o/demo/companies", server.base))
            .await
            .expect("companies");
        wait_until(c, rows).await;
        c.execute("window.__t0 = performance.now(); document.querySelector('nav a[href$=\"/contacts\"]').click();", vec![])
            .await
            .expect("click");
        wait_until(c, "location.pathname.endsWith('/contacts') && document.querySelectorAll('table tbody td.name-cell a').length > 0").await;
        let t = c
            .execute("return performance.now() - window.__t0", vec![])
            .await
            .expect("t");
        in_app.push(t.as_f64().unwrap_or(f64::NAN));
        // A cold page load of the contacts URL, from navigation start.
        c.goto(&format!("{}/o/demo/contacts", server.base))
            .await
            .expect("contacts");
        wait_until(c, rows).await;
        let t = c
            .execute("return performance.now()", vec![])
            .await
            .expect("t");
        full_load.push(t.as_f64().unwrap_or(f64::NAN));
    }
    let (_, count) = page_fetch(c, "GET", "/api/v1/orgs/demo/contacts/count", None, false).await;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "contacts in org: {}; in-app navigation to rows: median {:.0} ms (all {:?}); full page load to rows: median {:.0} ms",
        count["count"],
        median(&mut in_app),
        in_app.iter().map(|t| t.round()).collect::<Vec<_>>(),
        median(&mut full_load)
    );
    b.close().await;
}

#[tokio::test]
async fn the_palette_finds_as_you_type_and_opens_with_enter() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/companies", server.base))
        .await
        .expect("companies");
    wait_until(c, "document.querySelector('h1')").await;
    // `/` opens the palette from anywhere that is not a text field.
    c.execute(
        "document.activeElement && document.activeElement.blur()",
        vec![],
    )
    .await
    .expect("blur");
    let body = wait_for_css(c, "body").await;
    body.send_keys("/").await.expect("slash");
    wait_for_css(c, "dialog.palette[open]").await;
    let input = wait_for_css(c, "dialog.palette .palette-input").await;
    // A typo and no accents still find her; the match is marked.
    input.send_keys("lumbregh").await.expect("type");
    wait_for(c, "//dialog[@open]//*[contains(@class,'palette-title') and contains(normalize-space(),'Bill Lumbergh')]").await;
    input.clear().await.expect("clear");
    input.send_keys("gibb").await.expect("type");
    wait_for(
        c,
        "//dialog[@open]//*[contains(@class,'palette-option')]//mark[normalize-space()='Gibb']",
    )
    .await;
    input
        .send_keys(&fantoccini::key::Key::Enter)
        .await
        .expect("enter");
    wait_for(c, "//h1[normalize-space()='Peter Gibbons']").await;
    wait_for_url(c, "/o/acme/contacts/").await;
    b.close().await;
}

async fn texts(c: &fantoccini::Client, css: &str) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())",
            vec![json!(css)],
        )
        .await
        .expect("texts");
    serde_json::from_value(v).expect("strings")
}

async fn close_popover(c: &fantoccini::Client) {
    c.execute(
        "const p = document.querySelector('.popover'); if (p) p.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));",
        vec![],
    )
    .await
    .expect("escape");
    wait_until(c, "!document.querySelector('.popover')").await;
}

#[tokio::test]
async fn a_custom_field_is_set_inline_filtered_saved_as_a_view_and_reloaded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (_, bill) = seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;

    // Settings → Fields: a select field "Plan" with two coloured options.
    c.goto(&format!("{}/o/acme/settings/fields", server.base))
        .await
        .expect("fields");
    click(c, "//button[@aria-label='New field']").await;
    type_into(c, "dialog input[name=label]", "Plan").await;
    let key = c
        .execute(
            "return document.querySelector('dialog input[name=key]').value",
            vec![],
        )
        .await
        .expect("key");
    assert_eq!(key, json!("plan"), "the key is made from the label");
    wait_for_css(c, "dialog select[name=type]")
        .await
        .select_by_value("select")
        .await
        .expect("type");
    type_into(c, "dialog input[aria-label='Option 1']", "Basic").await;
    click(c, "//dialog//button[normalize-space()='Add option']").await;
    type_into(c, "dialog input[aria-label='Option 2']", "Pro").await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    wait_for(
        c,
        "//li[contains(@class,'field-row')]//*[normalize-space()='Plan']",
    )
    .await;

    // Set it on a contact, inline on the record page.
    c.goto(&format!("{}/o/acme/contacts/{bill}", server.base))
        .await
        .expect("record");
    wait_for(c, "//h1[normalize-space()='Bill Lumbergh']").await;
    click(
        c,
        "//div[contains(@class,'prop')][dt[normalize-space()='Plan']]//div[contains(@class,'prop-value')]",
    )
    .await;
    wait_for_css(c, ".prop.is-editing select")
        .await
        .select_by_value("pro")
        .await
        .expect("pick");
    click(
        c,
        "//*[contains(@class,'prop-edit')]//button[normalize-space()='Save']",
    )
    .await;
    wait_for(
        c,
        "//div[contains(@class,'prop')][dt[normalize-space()='Plan']]//*[contains(@class,'chip') and normalize-space()='Pro']",
    )
    .await;
    wait_until(c, "!document.querySelector('.prop.saving')").await;
    let (_, saved) = page_fetch(
        c,
        "GET",
        &format!("/api/v1/orgs/acme/contacts/{bill}"),
        None,
        false,
    )
    .await;
    assert_eq!(saved["custom"]["plan"], "pro", "{saved}");

    // Filter the list by it with the filter builder, and show it as a column.
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("list");
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 4",
    )
    .await;
    click(
        c,
        "//button[contains(@class,'vb-btn') and normalize-space()='Filter']",
    )
    .await;
    wait_for_css(c, ".filter-builder select[aria-label='Filter 1 field']")
        .await
        .select_by_value("custom.plan")
        .await
        .expect("field");
    click(
        c,
        "//*[contains(@class,'filter-builder')]//button[@aria-pressed and normalize-space()='Pro']",
    )
    .await;
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 1",
    )
    .await;
    close_popover(c).await;
    click(
        c,
        "//button[contains(@class,'vb-btn') and normalize-space()='Columns']",
    )
    .await;
    click(
        c,
        "//*[contains(@class,'col-chooser')]//label[normalize-space()='Plan']/input",
    )
    .await;
    wait_for(c, "//table//th[normalize-space()='Plan']").await;
    close_popover(c).await;
    assert_eq!(first_row_name(c).await, "Bill Lumbergh");
    let heads = texts(c, "table thead th").await;

    // Save it as a view; its URL carries only the view.
    click(c, "//button[normalize-space()='Save as new']").await;
    type_into(c, "dialog input[name=name]", "Pro plans").await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_for_url(c, "view=").await;
    wait_for(
        c,
        "//nav[contains(@class,'view-tabs')]//a[@aria-current='page' and normalize-space()='Pro plans']",
    )
    .await;
    let url = c.current_url().await.expect("url").to_string();
    assert!(!url.contains("filter="), "{url}");

    // Reload: the same rows and columns.
    c.refresh().await.expect("reload");
    wait_for(
        c,
        "//nav[contains(@class,'view-tabs')]//a[@aria-current='page' and normalize-space()='Pro plans']",
    )
    .await;
    wait_until(c, "document.querySelectorAll('table tbody td.name-cell a').length === 1 && !document.querySelector('.skel-row')").await;
    assert_eq!(first_row_name(c).await, "Bill Lumbergh");
    assert_eq!(texts(c, "table thead th").await, heads);
    wait_for(
        c,
        "//table//tbody//*[contains(@class,'chip') and normalize-space()='Pro']",
    )
    .await;
    assert_eq!(c.current_url().await.expect("url").to_string(), url);
    b.close().await;
}

#[tokio::test]
async fn markup_in_fields_options_tags_and_views_is_shown_as_text() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    let evil = "<img src=x onerror=alert(1)>";
    api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/fields",
        json!({"kind": "contact", "key": "evil", "label": evil, "type": "select",
               "options": [{"label": "<b>bold</b>", "color": "red"}]}),
    )
    .await;
    let tag = api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/tags",
        json!({"name": "<script>alert(2)</script>"}),
    )
    .await;
    let created = api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Ada", "custom": {"evil": "<b>bold</b>"}}),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    api(
        &server.base,
        &s,
        Method::POST,
        &format!("/orgs/acme/contacts/{id}/tags"),
        json!({"tag_ids": [tag["id"]]}),
    )
    .await;
    let view = api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/views",
        json!({"kind": "contact", "name": evil, "scope": "personal",
               "columns": [{"field": "name"}, {"field": "custom.evil"}, {"field": "tags"}]}),
    )
    .await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    for (path, shows) in [
        (
            format!(
                "/o/acme/contacts?view={}",
                view["id"].as_str().unwrap_or_default()
            ),
            "<script>alert(2)</script>",
        ),
        (format!("/o/acme/contacts/{id}"), "<b>bold</b>"),
        ("/o/acme/settings/fields".to_string(), evil),
        (
            "/o/acme/settings/tags".to_string(),
            "<script>alert(2)</script>",
        ),
    ] {
        c.goto(&format!("{}{path}", server.base))
            .await
            .expect("goto");
        wait_until(
            c,
            &format!("document.body.textContent.includes({})", json!(shows)),
        )
        .await;
        let injected = c
            .execute(
                "return document.querySelectorAll('img[src=\"x\"], script:not([src])').length
                    + [...document.querySelectorAll('b')].filter(e => e.textContent === 'bold').length",
                vec![],
            )
            .await
            .expect("count");
        assert_eq!(injected, json!(0), "{path}: markup became elements");
        assert!(c.get_alert_text().await.is_err(), "{path}: an alert opened");
    }
    b.close().await;
}

/// An organization job that failed its last run shows above the settings
/// pages for admins.
#[tokio::test]
async fn a_failing_job_shows_in_settings() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "setup",
            "--org-name",
            "Acme",
            "--email",
            "owner@example.com",
            "--password-file",
        ])
        .arg(&pw)
        .env("HARMONIA_LOG", "warn")
        .status()
        .expect("setup");
    assert!(ok.success());
    let org = std::fs::read_dir(data.join("tenants"))
        .expect("tenants")
        .flatten()
        .next()
        .expect("org")
        .path();
    // The trash job failed, and its retry is far away.
    rusqlite::Connection::open(org.join("crm.db"))
        .expect("open")
        .execute(
            "INSERT INTO jobs (name, handler, schedule, next_run_at, attempts, last_started_at,
                 last_finished_at, last_outcome, last_error, created_at)
             VALUES ('housekeeping.trash', 'housekeeping.trash', 'every 3600s',
                 '2999-01-01T00:00:00.000000Z', 3, '2026-12-01T00:00:00.000000Z',
                 '2026-12-01T00:00:01.000000Z', 'failed', 'disk I/O error', '2026-12-01T00:00:00.000000Z')",
            [],
        )
        .expect("plant a failed job");
    let server = server_on(&data);
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/settings/members", server.base))
        .await
        .expect("goto");
    let notice = wait_for_css(c, ".jobs-notice").await;
    let text = notice.text().await.expect("text");
    assert!(text.contains("A background job failed"), "{text}");
    assert!(
        text.contains("housekeeping.trash — disk I/O error"),
        "{text}"
    );
    b.close().await;
    drop(server);
}

/// The owner closes the organization from its settings with their
/// password: every page says it is closed and until when, the export is
/// offered once ready, and reopening takes the banner away.
#[tokio::test]
async fn an_owner_closes_and_reopens_the_organization() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/settings/organization", server.base))
        .await
        .expect("goto");
    click(c, "//button[contains(., 'Close organization')]").await;
    type_into(c, "dialog input[name=password]", "not my password").await;
    click(c, "//dialog//button[@type='submit']").await;
    let err = wait_for_css(c, "dialog .field-error, dialog [role=alert]").await;
    assert!(!err.text().await.expect("text").is_empty());
    c.execute(
        "document.querySelector('dialog input[name=password]').value = ''",
        vec![],
    )
    .await
    .expect("clear");
    type_into(c, "dialog input[name=password]", PASSWORD).await;
    click(c, "//dialog//button[@type='submit']").await;
    let banner = wait_for_css(c, ".org-banner:not([hidden])").await;
    let text = banner.text().await.expect("text");
    assert!(text.contains("closed and read-only"), "{text}");
    assert!(text.contains("erased on"), "{text}");
    // The export is offered once it is ready (the page asks again).
    let start = std::time::Instant::now();
    loop {
        c.goto(&format!("{}/o/acme/settings/organization", server.base))
            .await
            .expect("goto");
        wait_for(c, "//h2[contains(., 'This organization is closed')]").await;
        if c.find(fantoccini::Locator::XPath(
            "//a[contains(., 'Download its data')]",
        ))
        .await
        .is_ok()
        {
            break;
        }
        assert!(start.elapsed().as_secs() < 30, "export never offered");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // Every page carries the banner.
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("goto");
    wait_for_css(c, ".org-banner:not([hidden])").await;
    c.goto(&format!("{}/o/acme/settings/organization", server.base))
        .await
        .expect("goto");
    click(c, "//button[normalize-space(.)='Reopen']").await;
    wait_for(c, "//button[contains(., 'Close organization')]").await;
    wait_until(c, "document.querySelector('.org-banner').hidden").await;
    b.close().await;
    drop(server);
}

/// An owner asks for an export of everything from the organization's
/// settings; the list says it is being prepared, then offers the download,
/// which is the ZIP archive. An admin does not see the panel.
#[tokio::test]
async fn an_owner_exports_everything_from_settings() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/settings/organization", server.base))
        .await
        .expect("goto");
    wait_for(c, "//h2[contains(., 'Export everything')]").await;
    click(c, "//button[contains(., 'Prepare an export')]").await;
    let link = wait_for_css(c, ".archive-list li[data-status=ready] a").await;
    assert_eq!(link.text().await.expect("text").trim(), "Download");
    let href = link.attr("href").await.expect("href").expect("an href");
    // The link answers the archive: a ZIP (its first bytes), as an attachment.
    let v = c
        .execute_async(
            r#"const [href, done] = arguments;
               fetch(href).then(async (r) => {
                 const b = new Uint8Array(await r.arrayBuffer());
                 done([r.status, r.headers.get('content-disposition'), String.fromCharCode(b[0], b[1])]);
               }).catch((e) => done([0, String(e), '']));"#,
            vec![json!(href)],
        )
        .await
        .expect("fetch");
    assert_eq!(v[0], 200, "{v}");
    assert!(v[1].as_str().unwrap_or("").starts_with("attachment"), "{v}");
    assert_eq!(v[2], "PK", "{v}");
    c.execute(
        "document.getElementById('org-archives').scrollIntoView()",
        vec![],
    )
    .await
    .expect("scroll");
    screenshots_desktop(c, "org-export").await;
    b.close().await;
    drop(server);
}

/// A company deleted from its page comes back from the Trash screen with
/// its contacts linked; an admin deletes another record forever.
#[tokio::test]
async fn the_trash_restores_a_company_with_its_contacts_and_deletes_forever() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let (initech, bill) = seed(&server.base).await;
    let s = api_session(&server.base, "owner@example.com").await;
    api(
        &server.base,
        &s,
        Method::DELETE,
        &format!("/orgs/acme/companies/{initech}"),
        json!(null),
    )
    .await;
    api(
        &server.base,
        &s,
        Method::DELETE,
        &format!("/orgs/acme/contacts/{bill}"),
        json!(null),
    )
    .await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/settings/trash", server.base))
        .await
        .expect("trash");
    wait_until(
        c,
        "document.querySelectorAll('.trash-table tbody tr').length === 2",
    )
    .await;
    let text = wait_for_css(c, ".trash-table")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("Initech") && text.contains("Bill Lumbergh"),
        "{text}"
    );
    assert!(text.contains("by Olivia Owner (you)"), "{text}");
    // Only companies.
    click(
        c,
        "//div[@class='chip-filter']/button[normalize-space()='Companies']",
    )
    .await;
    wait_until(
        c,
        "document.querySelectorAll('.trash-table tbody tr').length === 1",
    )
    .await;
    click(c, "//button[@aria-label='Restore Initech']").await;
    wait_for_css(c, ".empty, .empty-state").await;
    // The company is back with its contact (Peter; Bill is still in the trash).
    c.goto(&format!("{}/o/acme/companies/{initech}", server.base))
        .await
        .expect("company");
    wait_for(c, "//a[contains(., 'Peter Gibbons')]").await;

    c.goto(&format!("{}/o/acme/settings/trash", server.base))
        .await
        .expect("trash");
    click(c, "//button[@aria-label='Delete Bill Lumbergh forever']").await;
    click(c, "//dialog//button[normalize-space()='Delete forever']").await;
    wait_for_css(c, ".empty, .empty-state").await;
    let left = api(
        &server.base,
        &s,
        Method::GET,
        "/orgs/acme/trash",
        json!(null),
    )
    .await;
    assert_eq!(left["items"], json!([]));
    b.close().await;
    drop(server);
}

/// Shift-click selects a range; deleting more than a few asks once, naming
/// how many; Undo brings them all back.
#[tokio::test]
async fn shift_click_selects_a_range_and_bulk_delete_asks_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    seed(&server.base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts", server.base))
        .await
        .expect("list");
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 4",
    )
    .await;
    c.execute(
        "const boxes = document.querySelectorAll('table tbody .col-check input');
         boxes[0].click();
         boxes[3].dispatchEvent(new MouseEvent('click', {shiftKey: true, bubbles: true, cancelable: true}));",
        vec![],
    )
    .await
    .expect("select");
    wait_until(
        c,
        "document.querySelectorAll('table tbody .col-check input:checked').length === 4",
    )
    .await;
    click(c, "//button[normalize-space()='Delete']").await;
    // The dialog fades in: WebDriver's visible text is empty while its
    // opacity is 0, so read the text from the DOM once it is there.
    wait_for_css(c, "dialog[open]").await;
    wait_until(
        c,
        "(document.querySelector('dialog[open]')?.textContent || '').includes('Delete 4 contacts?')",
    )
    .await;
    click(c, "//dialog//button[normalize-space()='Delete 4 contacts']").await;
    wait_for_css(c, ".empty").await;
    click(
        c,
        "//div[contains(@class,'toast')]//button[normalize-space()='Undo']",
    )
    .await;
    wait_until(
        c,
        "document.querySelectorAll('table tbody td.name-cell a').length === 4",
    )
    .await;
    b.close().await;
    drop(server);
}

/// A server nobody has set up says how to finish, instead of "Welcome back".
#[tokio::test]
async fn a_fresh_server_says_how_to_finish_setup() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(false);
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{}/", server.base)).await.expect("home");
    let h1 = wait_for(c, "//h1[normalize-space()='Finish setting up Harmonia']").await;
    assert!(h1.is_displayed().await.expect("shown"));
    let text = wait_for_css(c, ".auth-card")
        .await
        .text()
        .await
        .expect("text");
    assert!(text.contains("harmonia setup"), "{text}");
    b.close().await;
    drop(server);
}

/// An unknown address inside an organization is "not found" inside the
/// app frame, with the sidebar still there; a field error goes as soon as
/// the field is changed.
#[tokio::test]
async fn not_found_stays_in_the_frame_and_field_errors_clear_on_edit() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/no-such-screen", server.base))
        .await
        .expect("goto");
    wait_for(
        c,
        "//main[@id='content']//h2[normalize-space()='Page not found']",
    )
    .await;
    wait_for_css(c, "aside.sidebar").await;

    c.goto(&format!("{}/o/acme/settings/account", server.base))
        .await
        .expect("account");
    click(c, "//button[normalize-space()='Change password']").await;
    wait_for_css(c, "[data-field=current_password] .field-error").await;
    type_into(c, "input[name=current_password]", "x").await;
    wait_until(
        c,
        "!document.querySelector('[data-field=current_password] .field-error')",
    )
    .await;
    b.close().await;
    drop(server);
}
