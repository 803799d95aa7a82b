//! Settings → Webhooks in a real browser: an admin creates a webhook (the
//! signing secret shown once), sends a test event that a receiver on
//! 127.0.0.1 gets, reads it in the delivery log, disables the hook, and
//! makes an inbound endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::*;

/// A receiver on 127.0.0.1 answering 200 and counting requests that carry a signature.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let counter = counter.clone();
            async move {
                if headers.contains_key("harmonia-signature") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                "thanks"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn an_admin_creates_tests_and_disables_a_webhook() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server_with(&["--webhooks-allow-private"]);
    let (url, got) = receiver().await;
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &server.base, "owner@example.com").await;
    c.goto(&format!("{}/o/acme/settings/webhooks", server.base))
        .await
        .expect("goto");
    wait_for(c, "//*[.='No webhooks yet']").await;
    wait_for(c, "//*[.='No inbound endpoints']").await;
    screenshots_desktop(c, "webhooks-empty").await;

    click(c, "//button[@aria-label='New webhook']").await;
    type_into(c, "dialog input[name=url]", &url).await;
    click(c, "//dialog//label[.//code[.='contact.created']]").await;
    screenshot_here(c, "webhooks-new").await;
    click(c, "//dialog//button[@type='submit']").await;
    let secret_box = wait_for_css(c, "dialog .copybox input").await;
    let secret = secret_box
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(secret.starts_with("whsec_"), "{secret}");
    screenshot_here(c, "webhooks-secret-shown-once").await;
    click(c, "//dialog//button[.='Done']").await;

    // The row: its URL, active, only the secret's last four characters.
    wait_for(c, &format!("//table//span[.='{url}']")).await;
    wait_for(c, "//table//*[contains(@class,'badge')][.='Active']").await;
    let last4 = &secret[secret.len() - 4..];
    wait_for(c, &format!("//table//code[.='…{last4}']")).await;
    let page: String = c.source().await.expect("source");
    assert!(!page.contains(&secret), "the secret is shown only once");

    click(
        c,
        &format!("//button[@aria-label='Send a test event to {url}']"),
    )
    .await;
    for _ in 0..200 {
        if got.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        got.load(Ordering::SeqCst),
        1,
        "the receiver got the signed test event"
    );
    // The delivery log shows the answer (reopened until the attempt is recorded).
    let mut seen = false;
    for _ in 0..50 {
        click(c, &format!("//button[@aria-label='Delivery log of {url}']")).await;
        wait_for_css(c, "dialog").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let text: String = c
            .execute("return document.querySelector('dialog').innerText", vec![])
            .await
            .expect("text")
            .as_str()
            .unwrap_or_default()
            .to_string();
        if text.contains("webhook.test") && text.contains("200") {
            seen = true;
            break;
        }
        click(c, "//dialog//button[.='Close']").await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(seen, "the delivery log shows the test event answered 200");
    screenshot_here(c, "webhooks-delivery-log").await;
    click(c, "//dialog//button[.='Close']").await;

    click(c, &format!("//button[@aria-label='Disable {url}']")).await;
    wait_for(c, "//table//*[contains(@class,'badge')][.='Disabled']").await;

    // An inbound endpoint: URL and secret shown once.
    click(c, "//button[.='New inbound endpoint']").await;
    type_into(c, "dialog input[name=name]", "Website form").await;
    click(c, "//dialog//button[@type='submit']").await;
    wait_for(c, "//dialog//label[.='Signing secret']").await;
    click(c, "//dialog//button[.='Done']").await;
    wait_for(c, "//table//span[.='Website form']").await;
    screenshots_desktop(c, "webhooks").await;
    screenshots(c, "settings-webhooks", ".table-card table").await;

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
