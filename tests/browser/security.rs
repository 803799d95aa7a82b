//! Account → Security, the second sign-in step and the organization's
//! two-factor policy, in the real browser.

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

pub(crate) fn code_at(secret: &str, offset: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32"))
        .build()
        .expect("totp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    totp.generate((now + offset * 30) as u64).to_string()
}

pub(crate) async fn early_in_a_step() {
    let into = time::OffsetDateTime::now_utc().unix_timestamp() % 30;
    if into > 15 {
        tokio::time::sleep(std::time::Duration::from_secs((31 - into) as u64)).await;
    }
}

#[tokio::test]
async fn two_factor_sign_in_sessions_and_the_org_policy_through_the_ui() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    // Another session of the owner's (a "laptop"), and a member without a factor.
    let laptop = api_session(&base, "owner@example.com").await;
    let invite = api(
        &base,
        &laptop,
        Method::POST,
        "/orgs/acme/members",
        json!({"email": "mia@example.com", "role": "member"}),
    )
    .await;
    let token = invite["invite_url"]
        .as_str()
        .and_then(|u| u.split("token=").nth(1))
        .expect("invite token")
        .to_string();
    let accepted = crate::harness::http_client()
        .post(format!("{base}/api/v1/invites/accept"))
        .json(&json!({"token": token, "name": "Mia Member", "password": PASSWORD}))
        .send()
        .await
        .expect("accept");
    assert!(accepted.status().is_success());

    let b = browser().await;
    let c = &b.client;
    early_in_a_step().await;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/settings/security"))
        .await
        .expect("security");
    wait_for(c, "//h2[normalize-space()='Where you’re signed in']").await;
    wait_for(
        c,
        "//*[contains(@class,'badge') and normalize-space()='This device']",
    )
    .await;
    screenshots(c, "security", ".session-list").await;

    // Set up the app: the key as text, the QR code, a code from "the phone".
    click(c, "//button[normalize-space()='Set up authenticator app']").await;
    let key = wait_for_css(c, "dialog .totp-key")
        .await
        .text()
        .await
        .expect("key")
        .replace(' ', "");
    let qr_loaded = c
        .execute(
            "const i = document.querySelector('dialog img.qr'); return !!i && i.complete && i.naturalWidth > 0;",
            vec![],
        )
        .await
        .expect("qr");
    assert_eq!(qr_loaded, json!(true), "the QR code is drawn");
    screenshot_here(c, "security-totp-setup-desktop-light").await;
    type_into(c, "dialog input[name=code]", "000000").await;
    click(c, "//dialog//button[normalize-space()='Turn on']").await;
    wait_for_css(c, "dialog [data-field=code] .field-error").await;
    type_into(c, "dialog input[name=code]", &code_at(&key, 0)).await;
    click(c, "//dialog//button[normalize-space()='Turn on']").await;
    wait_for_css(c, "dialog ol.recovery-codes").await;
    let codes = c
        .execute(
            "return [...document.querySelectorAll('dialog ol.recovery-codes li')].map(l => l.textContent)",
            vec![],
        )
        .await
        .expect("codes");
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{codes}");
    let download = c
        .execute(
            "return document.querySelector('dialog a[download]').getAttribute('download')",
            vec![],
        )
        .await
        .expect("download");
    assert_eq!(download, json!("harmonia-recovery-codes.txt"));
    screenshot_here(c, "security-recovery-codes-desktop-light").await;
    click(c, "//dialog//button[normalize-space()='I saved them']").await;
    wait_for(
        c,
        "//h3[contains(normalize-space(),'Authenticator app') and .//*[normalize-space()='On']]",
    )
    .await;

    // Sign the laptop out from its row: it stops working at once.
    click(c, "//li[contains(@class,'session-row') and not(.//*[normalize-space()='This device'])]//button[normalize-space()='Sign out']").await;
    wait_until(c, "document.querySelectorAll('.session-row').length === 1").await;
    let status = crate::harness::http_client()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &laptop.0)
        .send()
        .await
        .expect("me")
        .status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    wait_for(
        c,
        "//ul[contains(@class,'activity-list')]//*[normalize-space()='Signed out a session']",
    )
    .await;

    // Require two-factor sign-in for the organization.
    c.goto(&format!("{base}/o/acme/settings/org-security"))
        .await
        .expect("org security");
    click(c, "//label[@for='require-mfa']").await;
    wait_for(
        c,
        "//*[contains(normalize-space(),'Two-factor sign-in is now required')]",
    )
    .await;
    let (_, org) = page_fetch(c, "GET", "/api/v1/orgs/acme", None, false).await;
    assert_eq!(org["require_mfa"], true);
    screenshots(c, "org-security", "#require-mfa").await;

    // Sign in again: the password, then the second step.
    c.delete_all_cookies().await.expect("cookies");
    c.goto(&format!("{base}/login")).await.expect("login");
    type_into(c, "input[name=email]", "owner@example.com").await;
    type_into(c, "input[name=password]", PASSWORD).await;
    click(
        c,
        "//button[@type='submit' and normalize-space()='Sign in']",
    )
    .await;
    wait_for(c, "//h1[normalize-space()='Two-step verification']").await;
    screenshot_here(c, "signin-second-step-desktop-light").await;
    type_into(c, "input[name=code]", "000 000").await;
    wait_for_css(c, "[data-field=code] .field-error").await;
    // A pasted code with a space goes through by itself.
    let next = code_at(&key, 1);
    type_into(
        c,
        "input[name=code]",
        &format!("{} {}", &next[..3], &next[3..]),
    )
    .await;
    wait_for_url(c, "/o/acme/contacts").await;

    // The member without a factor is sent to set one up.
    c.delete_all_cookies().await.expect("cookies");
    sign_in_with(c, &base, "mia@example.com", PASSWORD).await;
    wait_for_url(c, "/o/acme/settings/security").await;
    wait_for(c, "//*[contains(@class,'callout') and contains(normalize-space(),'requires two-factor sign-in')]").await;
    screenshots(c, "security-required", ".callout").await;

    let console = console_messages(c).await;
    assert!(
        console
            .iter()
            .all(|m| !m.contains("Refused") && !m.contains("Uncaught")),
        "{console:?}"
    );
    b.close().await;
}

#[tokio::test]
async fn an_admin_makes_a_reset_link_and_the_member_chooses_a_new_password() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    let owner = api_session(&base, "owner@example.com").await;
    let invite = api(
        &base,
        &owner,
        Method::POST,
        "/orgs/acme/members",
        json!({"email": "mia@example.com", "role": "member"}),
    )
    .await;
    let token = invite["invite_url"]
        .as_str()
        .and_then(|u| u.split("token=").nth(1))
        .expect("invite token")
        .to_string();
    crate::harness::http_client()
        .post(format!("{base}/api/v1/invites/accept"))
        .json(&json!({"token": token, "name": "Mia Member", "password": PASSWORD}))
        .send()
        .await
        .expect("accept");
    let mia = api_session(&base, "mia@example.com").await;

    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/settings/members"))
        .await
        .expect("members");
    click(c, "//button[@aria-label='Actions for Mia Member']").await;
    click(
        c,
        "//*[@role='menuitem' and contains(normalize-space(),'Password reset link')]",
    )
    .await;
    click(c, "//dialog//button[normalize-space()='Make link']").await;
    let link = wait_for_css(c, "dialog .copybox input")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("link");
    assert!(
        link.starts_with(&format!("{base}/reset-password?token=")),
        "{link}"
    );
    screenshot_here(c, "members-reset-link-desktop-light").await;
    click(c, "//dialog//button[normalize-space()='Done']").await;

    c.delete_all_cookies().await.expect("cookies");
    c.goto(&link).await.expect("reset page");
    wait_for(c, "//h1[normalize-space()='Choose a new password']").await;
    wait_for_css(c, "input[name=password]").await;
    screenshots(c, "reset-password", "input[name=password]").await;
    type_into(c, "input[name=password]", "a brand new password").await;
    click(c, "//button[normalize-space()='Set password']").await;
    wait_for(c, "//h1[normalize-space()='Password changed']").await;
    // Mia's other session ended; the new password signs in.
    let status = crate::harness::http_client()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &mia.0)
        .send()
        .await
        .expect("me")
        .status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    sign_in_with(c, &base, "mia@example.com", "a brand new password").await;
    // The link is spent.
    c.goto(&link).await.expect("reset page again");
    wait_for(c, "//h1[normalize-space()='Link not valid']").await;
    b.close().await;
}
