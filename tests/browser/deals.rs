//! The pipeline board and a deal's page in a real browser: drag a card to
//! another column and see both sums change, move one with the keyboard, mark
//! a deal lost with its reason, and find all of it persisted after a reload.

use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::key::Key;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

struct Seeded {
    session: (String, String),
    qualified: String,
    meeting: String,
    proposal: String,
    deals: Vec<String>,
}

async fn seed(base: &str) -> Seeded {
    let s = api_session(base, "owner@example.com").await;
    let p = api(base, &s, Method::GET, "/orgs/acme/pipelines", Value::Null).await;
    let stage = |name: &str| {
        p["items"][0]["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .find(|x| x["name"] == name)
            .and_then(|x| x["id"].as_str())
            .expect("stage")
            .to_string()
    };
    let (qualified, meeting, proposal) = (stage("Qualified"), stage("Meeting"), stage("Proposal"));
    let co = api(
        base,
        &s,
        Method::POST,
        "/orgs/acme/companies",
        json!({"name": "Initech"}),
    )
    .await;
    let mut deals = Vec::new();
    for (title, amount, st, close) in [
        ("Initech renewal", 1_200_000, &qualified, "2030-03-31"),
        ("Hooli pilot", 450_000, &qualified, "2020-01-15"),
        ("Globex expansion", 3_000_000, &meeting, "2030-06-30"),
        ("Umbrella onboarding", 800_000, &proposal, "2030-02-01"),
    ] {
        let d = api(
            base,
            &s,
            Method::POST,
            "/orgs/acme/deals",
            json!({"title": title, "amount": amount, "currency": "USD", "stage_id": st,
                   "close_date": close, "company_id": co["id"], "owner_id": owner_id(base, &s).await}),
        )
        .await;
        deals.push(d["id"].as_str().expect("id").to_string());
    }
    Seeded {
        session: s,
        qualified,
        meeting,
        proposal,
        deals,
    }
}

async fn owner_id(base: &str, s: &(String, String)) -> Value {
    api(base, s, Method::GET, "/me", Value::Null).await["user"]["id"].clone()
}

async fn column_total(c: &fantoccini::Client, stage: &str) -> String {
    c.execute(
        "return document.querySelector(`.board-col[data-stage='${arguments[0]}'] .col-total`).textContent",
        vec![json!(stage)],
    )
    .await
    .expect("total")
    .as_str()
    .unwrap_or_default()
    .to_string()
}

async fn center(c: &fantoccini::Client, css: &str) -> (i64, i64) {
    let v = c
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];",
            vec![json!(css)],
        )
        .await
        .expect("rect");
    (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0))
}

#[tokio::test]
async fn a_board_drag_a_keyboard_move_and_a_lost_deal_persist() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = &server.base;
    let seeded = seed(base).await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/deals"))
        .await
        .expect("board");
    wait_for_css(c, ".deal-card[data-id]").await;
    wait_until(c, "document.querySelectorAll('.board-col').length === 6").await;
    assert_eq!(column_total(c, &seeded.qualified).await, "$16.5K");
    assert_eq!(column_total(c, &seeded.meeting).await, "$30K");
    // The past close date is red, the future one is not.
    wait_until(
        c,
        &format!(
            "document.querySelector(`.deal-card[data-id='{}'] .deal-date.overdue`)",
            seeded.deals[1]
        ),
    )
    .await;

    // Drag "Initech renewal" from Qualified onto Meeting, above Globex.
    let from = center(c, &format!(".deal-card[data-id='{}']", seeded.deals[0])).await;
    let to = center(c, &format!(".deal-card[data-id='{}']", seeded.deals[2])).await;
    let steps: Vec<PointerAction> = std::iter::once(PointerAction::MoveTo {
        duration: None,
        x: from.0 as f64,
        y: from.1 as f64,
    })
    .chain([PointerAction::Down { button: 0 }])
    .chain((1..=10).map(|i| PointerAction::MoveTo {
        duration: Some(Duration::from_millis(30)),
        x: (from.0 + (to.0 - from.0) * i / 10) as f64,
        y: (from.1 + (to.1 - 20 - from.1) * i / 10) as f64,
    }))
    .chain([PointerAction::Up { button: 0 }])
    .collect();
    let mut mouse = MouseActions::new("mouse".into());
    for s in steps {
        mouse = mouse.then(s);
    }
    c.perform_actions(mouse).await.expect("drag");
    wait_until(
        c,
        &format!(
            "document.querySelector(`.board-col[data-stage='{}'] .deal-card[data-id='{}']`)",
            seeded.meeting, seeded.deals[0]
        ),
    )
    .await;
    wait_until(
        c,
        &format!(
            "document.querySelector(`.board-col[data-stage='{}'] .col-total`).textContent === '$42K'",
            seeded.meeting
        ),
    )
    .await;
    assert_eq!(column_total(c, &seeded.qualified).await, "$4.5K");
    let order: Value = c
        .execute(
            "return [...document.querySelectorAll(`.board-col[data-stage='${arguments[0]}'] .deal-card`)].map(e => e.dataset.id)",
            vec![json!(seeded.meeting)],
        )
        .await
        .expect("order");
    assert_eq!(order, json!([seeded.deals[0], seeded.deals[2]]));

    // Keyboard: focus Umbrella (Proposal) and move it left with Shift+ArrowLeft.
    c.execute(
        "document.querySelector(`.deal-card[data-id='${arguments[0]}']`).focus()",
        vec![json!(seeded.deals[3])],
    )
    .await
    .expect("focus");
    let card = c
        .find(fantoccini::Locator::Css(&format!(
            ".deal-card[data-id='{}']",
            seeded.deals[3]
        )))
        .await
        .expect("card");
    card.send_keys(&format!(
        "{}{}{}",
        char::from(Key::Shift),
        char::from(Key::Left),
        char::from(Key::Null)
    ))
    .await
    .expect("keys");
    wait_until(
        c,
        &format!(
            "document.querySelector(`.board-col[data-stage='{}'] .deal-card[data-id='{}']`)",
            seeded.meeting, seeded.deals[3]
        ),
    )
    .await;
    wait_until(c, "document.querySelector('[role=status]').textContent.includes('Moved “Umbrella onboarding” to Meeting')").await;
    wait_until(
        c,
        &format!(
            "document.querySelector(`.board-col[data-stage='{}'] .col-count`).textContent === '0'",
            seeded.proposal
        ),
    )
    .await;
    screenshots_desktop(c, "deals-board").await;

    // Reload: both moves were saved.
    c.refresh().await.expect("reload");
    wait_for_css(c, ".deal-card[data-id]").await;
    let meeting: Value = c
        .execute(
            "return [...document.querySelectorAll(`.board-col[data-stage='${arguments[0]}'] .deal-card`)].map(e => e.dataset.id)",
            vec![json!(seeded.meeting)],
        )
        .await
        .expect("meeting");
    assert_eq!(
        meeting,
        json!([seeded.deals[3], seeded.deals[0], seeded.deals[2]])
    );

    // The forecast panel draws its chart.
    click(c, "//button[contains(., 'Forecast')]").await;
    wait_for_css(c, ".forecast svg.bar-chart rect").await;
    screenshots_desktop(c, "deals-forecast").await;
    // By owner: one group, named after the person who owns every deal here.
    click(c, "//div[contains(@class,'forecast-by')]/button[.='Owner']").await;
    wait_until(
        c,
        "[...document.querySelectorAll('.forecast svg.bar-chart text.lbl title')].map(t => t.textContent).join('|') === 'Olivia Owner (you)'",
    )
    .await;
    // By stage: each stage holding open deals has its bars.
    click(c, "//div[contains(@class,'forecast-by')]/button[.='Stage']").await;
    wait_until(
        c,
        "[...document.querySelectorAll('.forecast svg.bar-chart text.lbl title')].some(t => t.textContent === 'Meeting')",
    )
    .await;

    // The deal page: mark it lost with a reason.
    c.goto(&format!("{base}/o/acme/deals/{}", seeded.deals[1]))
        .await
        .expect("deal");
    wait_for_css(c, ".stage-path").await;
    click(c, "//button[normalize-space(.)='Lost']").await;
    wait_for_css(c, "dialog[open] input[name=lost_reason]").await;
    click(
        c,
        "//dialog[@open]//button[normalize-space(.)='Mark as lost']",
    )
    .await;
    wait_for_css(c, "dialog[open] .field-error").await;
    type_into(
        c,
        "dialog[open] input[name=lost_reason]",
        "Chose a cheaper tool",
    )
    .await;
    click(
        c,
        "//dialog[@open]//button[normalize-space(.)='Mark as lost']",
    )
    .await;
    wait_until(c, "!document.querySelector('dialog[open]')").await;
    wait_for(
        c,
        "//p[contains(@class,'lost-reason')][contains(., 'Chose a cheaper tool')]",
    )
    .await;
    c.refresh().await.expect("reload");
    wait_for(
        c,
        "//p[contains(@class,'lost-reason')][contains(., 'Chose a cheaper tool')]",
    )
    .await;
    wait_for(
        c,
        "//ul[contains(@class,'stage-history')]//li[contains(., 'Lost')]",
    )
    .await;
    screenshots_desktop(c, "deal").await;
    let d = api(
        base,
        &seeded.session,
        Method::GET,
        &format!("/orgs/acme/deals/{}", seeded.deals[1]),
        Value::Null,
    )
    .await;
    assert_eq!(d["status"], "lost");
    assert_eq!(d["lost_reason"], "Chose a cheaper tool");

    // Stage editor and the deal table render.
    c.goto(&format!("{base}/o/acme/settings/pipelines"))
        .await
        .expect("settings");
    wait_for_css(c, ".stage-row").await;
    screenshots_desktop(c, "pipelines").await;
    c.goto(&format!("{base}/o/acme/deals?layout=table"))
        .await
        .expect("table");
    wait_for(c, "//table//a[.='Globex expansion']").await;
    screenshots_desktop(c, "deals-table").await;
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| {
            m.contains("SEVERE") || m.contains("Error") || m.contains("Content Security Policy")
        })
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    b.close().await;
}
