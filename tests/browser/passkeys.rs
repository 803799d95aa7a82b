//! Passkeys in the real browser through Chrome's virtual authenticator
//! (WebDriver's WebAuthn extension): add, rename, sign in with one alone and
//! as the second step, remove.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn a_passkey_is_added_signs_in_alone_and_as_the_second_step_and_is_removed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server_at_localhost();
    let base = server.base.clone();
    let b = browser().await;
    let c = &b.client;
    let authenticator = virtual_authenticator(c).await;
    assert!(!authenticator.is_empty());

    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/settings/security"))
        .await
        .expect("security");
    click(c, "//button[normalize-space()='Add a passkey']").await;
    type_into(c, "dialog input[name=name]", "Laptop").await;
    click(c, "//dialog//button[normalize-space()='Continue']").await;
    wait_for(
        c,
        "//ul[contains(@class,'passkey-list')]//strong[normalize-space()='Laptop']",
    )
    .await;
    // Rename it.
    click(c, "//button[@aria-label='Rename Laptop']").await;
    type_into(c, "dialog input[name=name]", "Work laptop").await;
    click(c, "//dialog//button[normalize-space()='Save']").await;
    wait_for(
        c,
        "//ul[contains(@class,'passkey-list')]//strong[normalize-space()='Work laptop']",
    )
    .await;
    screenshots(c, "security-passkeys", ".passkey-list").await;

    // Signed out, the passkey alone signs in (a discoverable credential):
    // the sign-in page offers it in the email field's autofill, and the
    // virtual authenticator, which needs no touch, takes the offer at once.
    c.delete_all_cookies().await.expect("cookies");
    c.goto(&format!("{base}/login")).await.expect("login");
    wait_for_url(c, "/o/acme/contacts").await;
    let (_, me) = page_fetch(c, "GET", "/api/v1/me", None, false).await;
    assert_eq!(me["user"]["email"], "owner@example.com");

    // A browser without passkey autofill: the button does the same. (From
    // here on the page sees no autofill, so the password can be typed.)
    cdp(
        c,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;"}),
    )
    .await;
    c.delete_all_cookies().await.expect("cookies");
    c.goto(&format!("{base}/login")).await.expect("login");
    click(c, "//button[normalize-space()='Sign in with a passkey']").await;
    wait_for_url(c, "/o/acme/contacts").await;

    // With the password, the passkey is the second step.
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
    screenshot_here(c, "signin-passkey-step-desktop-light").await;
    click(c, "//button[normalize-space()='Use a passkey']").await;
    wait_for_url(c, "/o/acme/contacts").await;

    // Remove it: sign-in takes the password alone again.
    c.goto(&format!("{base}/o/acme/settings/security"))
        .await
        .expect("security");
    click(c, "//button[@aria-label='Remove Work laptop']").await;
    click(c, "//dialog//button[normalize-space()='Remove']").await;
    wait_for(
        c,
        "//section[.//h2[normalize-space()='Passkeys']]//p[normalize-space()='No passkeys yet.']",
    )
    .await;
    let (_, activity) = page_fetch(c, "GET", "/api/v1/auth/activity", None, false).await;
    let seen: Vec<(String, String)> = activity["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for want in [
        ("passkey_added", "Laptop"),
        ("signed_in", "passkey"),
        ("passkey_removed", "Work laptop"),
    ] {
        assert!(
            seen.iter().any(|(k, d)| k == want.0 && d == want.1),
            "{want:?} in {seen:?}"
        );
    }
    c.delete_all_cookies().await.expect("cookies");
    sign_in(c, &base, "owner@example.com").await;
    let (_, mfa) = page_fetch(c, "GET", "/api/v1/auth/mfa", None, false).await;
    assert_eq!(mfa["passkeys"], json!(0));
    b.close().await;
}
