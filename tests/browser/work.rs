//! Notes, activities, tasks and the timeline in a real browser: the XSS
//! corpus opened on a record page runs nothing; a note with bold and a
//! mention, a logged call and a task added and completed from a contact
//! page show in the timeline in order; the Tasks screen and quick add.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;
use crate::xss_corpus::{PAYLOADS, unsafe_parts};

/// Saves a screenshot into docs/screenshots when HARMONIA_SCREENSHOTS is set.
async fn shot(c: &fantoccini::Client, name: &str) {
    if std::env::var_os("HARMONIA_SCREENSHOTS").is_none() {
        return;
    }
    let png = c.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(format!("{name}.png"));
    std::fs::write(path, png).expect("write screenshot");
}

#[tokio::test]
async fn the_xss_corpus_on_a_record_page_runs_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    let contact = api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Target"}),
    )
    .await;
    let id = contact["id"].as_str().expect("id").to_string();
    for p in PAYLOADS {
        api(
            &server.base,
            &s,
            Method::POST,
            "/orgs/acme/notes",
            json!({"body": format!("<p>note</p>{p}"), "links": [{"kind": "contact", "id": id}]}),
        )
        .await;
        api(
            &server.base,
            &s,
            Method::POST,
            "/orgs/acme/activities",
            json!({"type": "call", "subject": p.chars().take(200).collect::<String>(), "body": p, "links": [{"kind": "contact", "id": id}]}),
        )
        .await;
    }
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts/{id}", server.base))
        .await
        .expect("goto");
    wait_until(c, "document.querySelectorAll('.tl-entry').length >= 30").await;
    // Every page of the timeline, each click showing more.
    for _ in 0..10 {
        let more: Value = c
            .execute("const b = document.querySelector('.tl-more'); if (b && !b.hidden) { b.click(); return true; } return false;", vec![])
            .await
            .expect("more");
        if more != Value::Bool(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    wait_until(
        c,
        &format!(
            "document.querySelectorAll('.tl-entry').length >= {}",
            PAYLOADS.len() * 2
        ),
    )
    .await;
    let bodies: Value = c
        .execute(
            "return [...document.querySelectorAll('.tl-panel .rich')].map(e => e.innerHTML)",
            vec![],
        )
        .await
        .expect("bodies");
    let bodies = bodies.as_array().expect("array");
    assert!(
        bodies.len() >= PAYLOADS.len(),
        "every note body is shown: {}",
        bodies.len()
    );
    for html in bodies {
        let html = html.as_str().unwrap_or("");
        // target="_blank" is the page's own addition to links.
        let bad: Vec<String> =
            unsafe_parts(&html.replace(" target=\"_blank\" data-native=\"\"", ""))
                .into_iter()
                .collect();
        assert!(bad.is_empty(), "{html}: {bad:?}");
    }
    let ran: Value = c
        .execute(
            "return [window.__xss === undefined,
                     document.querySelectorAll(['img', 'script', 'iframe', 'svg', 'math', 'object', 'embed', '[style]', 'form', 'video', 'details', 'base', 'meta', 'link'].map(t => `.tl-card ${t}, .tl-head > b ${t}`).join(', ')).length]",
            vec![],
        )
        .await
        .expect("check");
    assert_eq!(ran, json!([true, 0]), "nothing ran, no unsafe element");
    // Hover and focus everything that could carry a handler.
    c.execute(
        "for (const e of document.querySelectorAll('.tl-panel *')) { e.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); e.dispatchEvent(new FocusEvent('focus')); }",
        vec![],
    )
    .await
    .expect("hover");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ran: Value = c
        .execute("return window.__xss === undefined", vec![])
        .await
        .expect("x");
    assert_eq!(ran, json!(true));
    assert!(c.get_alert_text().await.is_err(), "an alert opened");
    b.close().await;
}

#[tokio::test]
async fn a_note_a_call_and_a_task_from_a_contact_page_show_in_order() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let s = api_session(&server.base, "owner@example.com").await;
    let contact = api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Grace", "last_name": "Hopper"}),
    )
    .await;
    let id = contact["id"].as_str().expect("id").to_string();
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/contacts/{id}", server.base))
        .await
        .expect("goto");
    // A note with bold text and a mention picked with @.
    let area = wait_for_css(c, "form[data-form=note] .rich-input").await;
    area.click().await.expect("focus");
    click(c, "//button[@aria-label='Bold (Ctrl+B)']").await;
    area.send_keys("Important").await.expect("type");
    click(c, "//button[@aria-label='Bold (Ctrl+B)']").await;
    area.send_keys(" ask @Oli").await.expect("type");
    let option = wait_for_css(c, ".mention-list li").await;
    option.click().await.expect("pick");
    area.send_keys("about it").await.expect("type");
    click(c, "//form[@data-form='note']//button[@type='submit']").await;
    wait_until(c, "[...document.querySelectorAll('.tl-notes:not(.pending) .rich b, .tl-notes:not(.pending) .rich strong')].some(e => e.textContent === 'Important')").await;
    wait_until(c, "[...document.querySelectorAll('.tl-notes .mention')].some(e => e.textContent.startsWith('@Olivia'))").await;
    // Log a call.
    click(c, "//button[@data-mode='activity']").await;
    type_into(
        c,
        "form[data-form=activity] input[aria-label=Subject]",
        "Intro call",
    )
    .await;
    c.execute("const s = document.querySelector('form[data-form=activity] select[aria-label=Outcome]'); s.value = 'connected'; s.dispatchEvent(new Event('change'));", vec![])
        .await
        .expect("outcome");
    click(c, "//form[@data-form='activity']//button[@type='submit']").await;
    wait_until(c, "document.querySelector('.tl-activities:not(.pending)') && document.querySelector('.tl-activities').textContent.includes('Intro call')").await;
    // Add a task, then complete it from the timeline.
    click(c, "//button[@data-mode='task']").await;
    type_into(
        c,
        "form[data-form=task] input[aria-label='Task title']",
        "Send the offer",
    )
    .await;
    click(c, "//form[@data-form='task']//button[@type='submit']").await;
    let check = wait_for_css(c, ".tl-tasks input.task-check").await;
    shot(c, "timeline-desktop-light").await;
    check.click().await.expect("complete");
    wait_until(c, "document.querySelector('.tl-entry') && document.querySelector('.tl-entry').textContent.includes('completed')").await;
    let order: Value = c
        .execute(
            "return [...document.querySelectorAll('.tl-list > .tl-entry')].map(e => e.className.split(' ')[1])",
            vec![],
        )
        .await
        .expect("order");
    assert_eq!(
        order,
        json!([
            "tl-tasks",
            "tl-tasks",
            "tl-activities",
            "tl-notes",
            "tl-changes"
        ]),
        "completed, added, call, note, created"
    );
    // Pin the note from its menu: it moves on top, out of the stream.
    click(
        c,
        "//li[contains(@class, 'tl-notes')]//button[@aria-label='Note actions']",
    )
    .await;
    click(c, "//*[@role='menuitem'][contains(., 'Pin to top')]").await;
    wait_until(c, "document.querySelector('.tl-pinned .tl-notes') && !document.querySelector('.tl-list:not(.tl-pinned) > .tl-notes')").await;
    // What was stored: bold and the mention as a member id.
    let notes = api(
        &server.base,
        &s,
        Method::GET,
        &format!("/orgs/acme/notes?record={id}"),
        Value::Null,
    )
    .await;
    let body = notes["items"][0]["body"].as_str().expect("body");
    assert!(
        body.contains("<b>Important</b>") || body.contains("<strong>Important</strong>"),
        "{body}"
    );
    assert!(body.contains("data-member=\""), "{body}");
    assert_eq!(
        notes["items"][0]["mentions"].as_array().map(Vec::len),
        Some(1)
    );

    // Quick add with `t` links the task to the contact on screen; the Tasks screen lists it.
    c.execute(
        "document.activeElement && document.activeElement.blur()",
        vec![],
    )
    .await
    .expect("blur");
    c.execute(
        "document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 't', bubbles: true}))",
        vec![],
    )
    .await
    .expect("t");
    type_into(c, "dialog input[name=title]", "Follow up").await;
    c.execute("document.querySelector('dialog input[name=due]').value = new Date().toISOString().slice(0, 10)", vec![])
        .await
        .expect("due");
    click(c, "//dialog//button[@type='submit']").await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    c.goto(&format!("{}/o/acme/tasks", server.base))
        .await
        .expect("tasks");
    wait_until(c, "document.querySelector('.task-today') && document.querySelector('.task-today').textContent.includes('Follow up')").await;
    wait_until(c, "[...document.querySelectorAll('.task-today .task-link')].some(a => a.textContent.includes('Grace'))").await;
    shot(c, "tasks-desktop-light").await;
    let row = wait_for_css(c, ".task-today input.task-check").await;
    row.click().await.expect("complete");
    wait_until(c, "!document.querySelector('.task-today')").await;

    // A task due in a second: the reminders job notifies, the bell counts it, and its entry
    // opens the record the task is about.
    let due = (time::OffsetDateTime::now_utc() + time::Duration::seconds(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    api(
        &server.base,
        &s,
        Method::POST,
        "/orgs/acme/tasks",
        json!({"title": "Renew contract", "due": due,
        "assignee_id": contact["created_by"], "links": [{"kind": "contact", "id": id}]}),
    )
    .await;
    wait_until(c, "document.querySelector('.bell-count') && !document.querySelector('.bell-count').hidden || (window.dispatchEvent(new Event('focus')), false)").await;
    // The panel asks for the list when it opens; on a busy machine it is opened again until
    // the reminder is in it.
    let start = std::time::Instant::now();
    loop {
        let found: Value = c
            .execute(
                "if (![...document.querySelectorAll('.bell-list a')].some(a => a.textContent.includes('Renew contract'))) {
                   if (!document.querySelector('.bell-pop')) document.querySelector('button.bell').click();
                   else if (Math.random() < 0.05) document.querySelector('button.bell').click();
                   return false;
                 }
                 return true;",
                vec![],
            )
            .await
            .expect("bell");
        if found == Value::Bool(true) {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "the reminder never showed in the bell"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shot(c, "notifications-desktop-light").await;
    click(
        c,
        "//ul[contains(@class, 'bell-list')]//a[contains(., 'Renew contract')]",
    )
    .await;
    wait_for_url(c, &format!("/o/acme/contacts/{id}")).await;
    // Opening it marked it read, and the bell shows what is still unread
    // (a task added above may be due by now too: its reminder counts).
    let start = std::time::Instant::now();
    let unread = loop {
        let page = api(
            &server.base,
            &s,
            Method::GET,
            "/notifications?limit=30",
            json!(null),
        )
        .await;
        let renew_read = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|n| n["title"] == "Renew contract" && n["read_at"].is_string());
        if renew_read {
            break page["unread"].as_i64().expect("unread");
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "the notification was not marked read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let shown = if unread == 0 {
        "document.querySelector('.bell-count').hidden".to_string()
    } else {
        format!(
            "!document.querySelector('.bell-count').hidden && document.querySelector('.bell-count').textContent === '{unread}'"
        )
    };
    wait_until(
        c,
        &format!("{shown} || (window.dispatchEvent(new Event('focus')), false)"),
    )
    .await;
    b.close().await;
}
