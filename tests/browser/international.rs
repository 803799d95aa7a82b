//! Issue 20 in the browser: a change made after the session ended is saved
//! after signing in again in place; the organization settings page; lists that
//! fit a 1440×900 laptop and a 390 px phone.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;
use crate::security::{code_at, early_in_a_step};

/// Emulates a screen of exactly this size (the window's frame does not count).
async fn viewport(c: &fantoccini::Client, w: u32, h: u32, mobile: bool) {
    cdp(
        c,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile}),
    )
    .await;
}

async fn js(c: &fantoccini::Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script")
}

async fn input_value(c: &fantoccini::Client, css: &str) -> Value {
    c.execute(
        "return document.querySelector(arguments[0]).value",
        vec![json!(css)],
    )
    .await
    .expect("value")
}

#[tokio::test]
async fn a_change_made_after_the_session_ended_is_saved_after_signing_in_again() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    // Another session of the owner's: it ends the browser's session, as an
    // expiry or a "sign out everywhere" on another device would.
    let laptop = api_session(&base, "owner@example.com").await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "owner@example.com").await;

    // A create form: what was typed survives the refusal and "Not now".
    c.goto(&format!("{base}/o/acme/contacts"))
        .await
        .expect("contacts");
    click(c, "//button[@aria-label='New contact']").await;
    type_into(c, "dialog input[name=first_name]", "Grace").await;
    type_into(c, "dialog input[name=last_name]", "Hopper").await;
    api(
        &base,
        &laptop,
        Method::POST,
        "/auth/sessions/revoke-others",
        json!({}),
    )
    .await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_for_css(c, "dialog.reauth-dialog[open]").await;
    wait_for(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//h2[normalize-space()='Your session has ended']",
    )
    .await;
    click(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//button[normalize-space()='Not now']",
    )
    .await;
    wait_until(c, "!document.querySelector('dialog.reauth-dialog')").await;
    // Still on the page, the form open with its values, saying why nothing was saved.
    assert_eq!(
        input_value(c, "dialog[open] input[name=first_name]").await,
        json!("Grace")
    );
    wait_until(
        c,
        "document.querySelector('dialog[open]').textContent.includes('session has ended')",
    )
    .await;
    assert!(
        c.current_url()
            .await
            .expect("url")
            .as_str()
            .contains("/o/acme/contacts")
    );

    // Saving again asks to sign in; the password alone (no second factor yet) saves it.
    click(c, "//dialog//button[@type='submit']").await;
    wait_for_css(c, "dialog.reauth-dialog[open]").await;
    screenshot_here(c, "session-ended-desktop-light").await;
    let email = input_value(c, "dialog.reauth-dialog input[name=email]").await;
    assert_eq!(email, json!("owner@example.com"));
    type_into(
        c,
        "dialog.reauth-dialog input[name=password]",
        "wrong password 123",
    )
    .await;
    click(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//button[@type='submit']",
    )
    .await;
    wait_for_css(c, "dialog.reauth-dialog [data-field=password] .field-error").await;
    type_into(c, "dialog.reauth-dialog input[name=password]", PASSWORD).await;
    click(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//button[@type='submit']",
    )
    .await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    let found = api(
        &base,
        &laptop,
        Method::GET,
        "/orgs/acme/contacts?limit=200",
        Value::Null,
    )
    .await;
    let items: Vec<&Value> = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|c| c["last_name"] == "Hopper")
        .collect();
    assert_eq!(items.len(), 1, "saved once: {found}");
    let id = items[0]["id"].as_str().expect("id").to_string();

    // An edit, on an account with an authenticator app: password, then the code.
    early_in_a_step().await;
    let setup = api(
        &base,
        &laptop,
        Method::POST,
        "/auth/mfa/totp/setup",
        json!({}),
    )
    .await;
    let secret = setup["secret"].as_str().expect("secret").to_string();
    api(
        &base,
        &laptop,
        Method::POST,
        "/auth/mfa/totp/confirm",
        json!({"code": code_at(&secret, 0)}),
    )
    .await;
    c.goto(&format!("{base}/o/acme/contacts/{id}"))
        .await
        .expect("contact");
    click(c, "//button[normalize-space()='Edit']").await;
    type_into(c, "dialog input[name=job_title]", "Rear Admiral").await;
    api(
        &base,
        &laptop,
        Method::POST,
        "/auth/sessions/revoke-others",
        json!({}),
    )
    .await;
    click(c, "//dialog//button[@type='submit']").await;
    type_into(c, "dialog.reauth-dialog input[name=password]", PASSWORD).await;
    click(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//button[@type='submit']",
    )
    .await;
    type_into(
        c,
        "dialog.reauth-dialog input[name=code]",
        &code_at(&secret, 1),
    )
    .await;
    click(
        c,
        "//dialog[contains(@class,'reauth-dialog')]//button[@type='submit']",
    )
    .await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    wait_for(c, "//*[normalize-space()='Rear Admiral']").await;
    let saved = api(
        &base,
        &laptop,
        Method::GET,
        &format!("/orgs/acme/contacts/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(saved["job_title"], "Rear Admiral");
    assert_eq!(saved["first_name"], "Grace");
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| m.contains("Uncaught"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    b.close().await;
}

#[tokio::test]
async fn the_organization_settings_page_changes_country_zone_dates_and_address() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    let laptop = api_session(&base, "owner@example.com").await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/settings/organization"))
        .await
        .expect("settings");
    wait_for_css(c, "select[name=default_country]").await;
    screenshots(c, "org-settings", "select[name=date_format]").await;

    // The country is a picker of ISO countries, named in the browser's language.
    let gb = js(
        c,
        "return document.querySelector('select[name=default_country] option[value=GB]').textContent",
    )
    .await;
    assert_eq!(gb, json!("United Kingdom"));
    c.execute(
        "const set = (n, v) => { const s = document.querySelector(`select[name=${n}]`); s.value = v; s.dispatchEvent(new Event('change', {bubbles: true})); };
         set('default_country', 'GB'); set('default_currency', 'GBP'); set('time_zone', 'Europe/London'); set('date_format', 'dd/mm/yyyy');",
        vec![],
    )
    .await
    .expect("choose");
    type_into(c, "input[name=slug]", "acme-uk").await;
    click(c, "//button[@type='submit' and normalize-space()='Save']").await;
    // A new address breaks old links: it is confirmed first.
    click(c, "//dialog//button[normalize-space()='Change address']").await;
    wait_for_url(c, "/o/acme-uk/settings/organization").await;
    let org = api(&base, &laptop, Method::GET, "/orgs/acme-uk", Value::Null).await;
    assert_eq!(org["default_country"], "GB");
    assert_eq!(org["default_currency"], "GBP");
    assert_eq!(org["time_zone"], "Europe/London");
    assert_eq!(org["date_format"], "dd/mm/yyyy");

    // A bad address is refused next to its field, and nothing else is lost.
    type_into(c, "input[name=slug]", "Not A Slug").await;
    click(c, "//button[@type='submit' and normalize-space()='Save']").await;
    click(c, "//dialog//button[normalize-space()='Change address']").await;
    wait_for_css(c, "[data-field=slug] .field-error").await;
    assert_eq!(
        input_value(c, "input[name=slug]").await,
        json!("Not A Slug")
    );

    // UK numbers typed the UK way are stored in E.164 and read back nationally;
    // other countries' numbers internationally.
    let contact = api(
        &base,
        &laptop,
        Method::POST,
        "/orgs/acme-uk/contacts",
        json!({"first_name": "Ada", "last_name": "Lovelace",
               "phones": [{"phone": "020 7946 0958"}, {"label": "mobile", "phone": "+1 415 555 0132"}],
               "address": {"city": "London", "country": "gb"}}),
    )
    .await;
    assert_eq!(contact["phones"][0]["phone"], "+442079460958");
    let id = contact["id"].as_str().expect("id");
    c.goto(&format!("{base}/o/acme-uk/contacts/{id}"))
        .await
        .expect("contact");
    wait_for(
        c,
        "//a[@href='tel:+442079460958' and normalize-space()='020 7946 0958']",
    )
    .await;
    wait_for(
        c,
        "//a[@href='tel:+14155550132' and normalize-space()='+1 415-555-0132']",
    )
    .await;
    // The address names its country, and the editor offers the picker.
    wait_for(c, "//*[contains(normalize-space(), 'United Kingdom')]").await;
    // Dates past a week are written in the organization's format, the exact time on hover.
    let old = js(
        c,
        "const u = new URL(document.querySelector('script[type=module]').src);
         return import(u.href.replace(/app\\.js$/, 'util.js')).then((m) => [m.relTime('2026-01-05T10:00:00Z', Date.parse('2026-06-01T00:00:00Z')), m.exactTime('2026-01-05T10:00:00Z')]);",
    )
    .await;
    assert_eq!(old[0], json!("05/01/2026"), "{old}");
    assert!(
        old[1].as_str().unwrap_or("").starts_with("05/01/2026"),
        "{old}"
    );
    // My account: one's own name, zone and date format; the page writes dates that way.
    c.goto(&format!("{base}/o/acme-uk/settings/account"))
        .await
        .expect("account");
    wait_for_css(c, "select[name=date_format]").await;
    type_into(c, "input[name=name]", "Olivia O. Owner").await;
    c.execute(
        "const s = document.querySelector('select[name=date_format]'); s.value = 'yyyy-mm-dd';
         const z = document.querySelector('select[name=time_zone]'); z.value = 'Asia/Tokyo';",
        vec![],
    )
    .await
    .expect("choose");
    click(
        c,
        "//button[@type='submit' and normalize-space()='Save profile']",
    )
    .await;
    wait_until(
        c,
        "[...document.querySelectorAll('.toast')].some((t) => t.textContent.includes('Saved'))",
    )
    .await;
    let me = api(&base, &laptop, Method::GET, "/me", Value::Null).await;
    assert_eq!(me["user"]["name"], "Olivia O. Owner");
    assert_eq!(me["user"]["date_format"], "yyyy-mm-dd");
    assert_eq!(me["user"]["time_zone"], "Asia/Tokyo");
    screenshots(c, "account", "select[name=date_format]").await;
    b.close().await;
}

#[tokio::test]
async fn the_contacts_list_fits_a_laptop_and_a_phone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    let laptop = api_session(&base, "owner@example.com").await;
    // Long unbroken words, as long as the fields take.
    let long = "x".repeat(100);
    let mut companies = Vec::new();
    for (name, domain) in [
        (
            "Northwind Traders International Holdings Group",
            "northwind.example",
        ),
        ("Northwind Traders", "northwind-traders.example"),
        ("Contoso", "contoso.example"),
    ] {
        let co = api(
            &base,
            &laptop,
            Method::POST,
            "/orgs/acme/companies",
            json!({"name": name, "domain": domain}),
        )
        .await;
        companies.push(co["id"].as_str().expect("id").to_string());
    }
    for i in 0..25 {
        api(
            &base,
            &laptop,
            Method::POST,
            "/orgs/acme/contacts",
            json!({"first_name": format!("Person{i}"), "last_name": if i == 0 { long.clone() } else { "Smith".into() },
                   "emails": [{"email": if i == 1 { format!("{}@example.com", "y".repeat(60)) } else { format!("p{i}@example.com") }}],
                   "phones": [{"phone": "+1 415 555 0132"}],
                   "job_title": if i == 2 { "j".repeat(200) } else { "Engineer".into() },
                   "company_id": companies[i % 3], "stage": "prospect"}),
        )
        .await;
    }
    let b = browser().await;
    let c = &b.client;
    viewport(c, 1440, 900, false).await;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/contacts"))
        .await
        .expect("contacts");
    wait_until(
        c,
        "document.querySelectorAll('table tbody tr[data-id]').length >= 25",
    )
    .await;
    // No sideways scrolling at 1440×900, long unbroken text included.
    let fit = js(
        c,
        "const s = document.querySelector('.content'); const t = document.querySelector('table.table');
         return [s.scrollWidth, s.clientWidth, t.getBoundingClientRect().right, s.getBoundingClientRect().right];",
    )
    .await;
    assert!(
        fit[0].as_f64() <= fit[1].as_f64(),
        "scrolls sideways: {fit}"
    );
    assert!(fit[2].as_f64() <= fit[3].as_f64(), "table overflows: {fit}");
    let shown = js(
        c,
        "return [...document.querySelectorAll('table thead th')].filter((th) => th.offsetWidth > 0).map((th) => th.textContent.trim()).filter(Boolean);",
    )
    .await;
    for col in ["Name", "Company", "Email", "Stage", "Owner", "Updated"] {
        assert!(
            shown.as_array().expect("cols").iter().any(|c| c == col),
            "{col} missing at 1440: {shown}"
        );
    }
    // A cut-short name shows in full on hover.
    let title = js(
        c,
        "const a = [...document.querySelectorAll('td.name-cell a')].find((x) => x.textContent.length > 100);
         a.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
         return a.closest('td').title;",
    )
    .await;
    assert_eq!(title, json!(format!("Person0 {long}")));
    screenshot_here(c, "contacts-1440-desktop-light").await;

    // A long unbroken message stays inside its toast and the screen.
    let toast = js(
        c,
        "const u = new URL(document.querySelector('script[type=module]').src);
         return import(u.href.replace(/app\\.js$/, 'components/toast.js')).then((m) => {
           m.toast('z'.repeat(400), { kind: 'error' });
           const t = [...document.querySelectorAll('.toast')].pop();
           const r = t.getBoundingClientRect();
           return [r.left >= 0 && r.right <= innerWidth, t.scrollWidth <= t.clientWidth, r.width];
         });",
    )
    .await;
    assert_eq!(toast[0], json!(true), "{toast}");
    assert_eq!(toast[1], json!(true), "{toast}");

    // The company filter tells companies apart: wide, with each one's domain.
    let combo = wait_for_css(c, ".filterbar input[aria-label=Company]").await;
    combo.click().await.expect("focus");
    combo.send_keys("north").await.expect("type");
    wait_until(
        c,
        "[...document.querySelectorAll('.filterbar .listbox li')].some((li) => li.textContent.includes('northwind-traders.example'))",
    )
    .await;
    let width = js(
        c,
        "return document.querySelector('.filterbar .listbox').getBoundingClientRect().width",
    )
    .await;
    assert!(width.as_f64().unwrap_or(0.0) >= 300.0, "{width}");
    combo.send_keys("\u{e00c}").await.expect("escape");

    // Narrower, the table scrolls sideways with the name pinned.
    viewport(c, 820, 900, false).await;
    wait_until(
        c,
        "document.querySelector('.content').scrollWidth > document.querySelector('.content').clientWidth",
    )
    .await;
    let pinned = js(
        c,
        "const s = document.querySelector('.content'); const td = document.querySelector('tbody td.name-cell');
         const other = td.nextElementSibling;
         s.scrollLeft = 0; const name0 = td.getBoundingClientRect().left, other0 = other.getBoundingClientRect().left;
         s.scrollLeft = 400; const delta = s.scrollLeft;
         const name1 = td.getBoundingClientRect().left, other1 = other.getBoundingClientRect().left;
         const edge = s.getBoundingClientRect().left;
         s.scrollLeft = 0; return [delta, other0 - other1, name0 - name1, name1 >= edge];",
    )
    .await;
    let delta = pinned[0].as_f64().unwrap_or(0.0);
    assert!(delta > 0.0, "{pinned}");
    assert_eq!(
        pinned[1].as_f64(),
        Some(delta),
        "the other columns scroll: {pinned}"
    );
    assert!(
        pinned[2].as_f64().unwrap_or(delta) < delta && pinned[3] == json!(true),
        "the name column stays pinned: {pinned}"
    );

    // A phone: name, company and stage; nothing sideways.
    viewport(c, 390, 844, true).await;
    c.refresh().await.expect("reload");
    wait_until(
        c,
        "document.querySelectorAll('table tbody tr[data-id]').length >= 25",
    )
    .await;
    let shown = js(
        c,
        "return [...document.querySelectorAll('table thead th')].filter((th) => th.offsetWidth > 0).map((th) => th.textContent.trim()).filter(Boolean);",
    )
    .await;
    assert_eq!(shown, json!(["Name", "Company", "Stage"]));
    let fit = js(
        c,
        "const s = document.querySelector('.content'); return [s.scrollWidth, s.clientWidth, document.documentElement.scrollWidth, innerWidth];",
    )
    .await;
    assert!(fit[0].as_f64() <= fit[1].as_f64(), "{fit}");
    assert!(fit[2].as_f64() <= fit[3].as_f64(), "{fit}");
    screenshot_here(c, "contacts-390-phone-light").await;
    b.close().await;
}
