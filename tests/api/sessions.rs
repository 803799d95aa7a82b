use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn login_sets_a_safe_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let s = app.login("OWNER@example.com ", PASSWORD).await;
    let cookie = s
        .set_cookie
        .iter()
        .find(|c| c.starts_with("harmonia_session="))
        .expect("cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    assert_eq!(s.get("/api/v1/me").await.0, StatusCode::OK);

    let (status, _) = s.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[test]
fn cookies_are_secure_behind_https() {
    let mut config = harmonia::Config::for_data_dir(std::path::PathBuf::from("unused"));
    config.public_url = url::Url::parse("https://crm.example.com").expect("url");
    let cookie = harmonia::auth::session::session_cookie("t".into(), &config).to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[tokio::test]
async fn every_new_login_gets_a_new_session() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let a = app.login("owner@example.com", PASSWORD).await;
    let b = app.login("owner@example.com", PASSWORD).await;
    assert_ne!(a.cookie, b.cookie);
    assert_ne!(a.csrf, b.csrf);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let anon = app.anon();
    let known = json!({"email": "owner@example.com", "password": "wrong password!"});
    let unknown = json!({"email": "nobody@example.com", "password": "wrong password!"});
    let (s1, b1) = anon.post("/api/v1/auth/login", known.clone()).await;
    let (s2, b2) = anon.post("/api/v1/auth/login", unknown.clone()).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &b1), (s2, &b2));
    // Both run one argon2 verification: alternate a few of each (staying under
    // the throttle's five free failures) and compare the fastest of each. A
    // busy machine only ever adds time, so the minimum is the honest cost;
    // skipping the hash for an unknown email would make it ten times smaller.
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for (body, times) in [(&known, &mut k), (&unknown, &mut u)] {
            let t = std::time::Instant::now();
            anon.post("/api/v1/auth/login", body.clone()).await;
            times.push(t.elapsed());
        }
    }
    let k = k.into_iter().min().unwrap_or_default();
    let u = u.into_iter().min().unwrap_or_default();
    assert!(u * 5 > k && k * 5 > u, "{k:?} vs {u:?}");
}

#[tokio::test]
async fn password_change_ends_other_sessions_only() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let here = app.login("owner@example.com", PASSWORD).await;
    let elsewhere = app.login("owner@example.com", PASSWORD).await;

    let (status, body) = here
        .post(
            "/api/v1/auth/password",
            json!({"current_password": "not it at all", "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["current_password"].is_string());
    let (status, body) = here
        .post(
            "/api/v1/auth/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["new_password"].is_string());

    let (status, body) = here
        .post(
            "/api/v1/auth/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(here.get("/api/v1/me").await.0, StatusCode::OK);
    assert_eq!(
        elsewhere.get("/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _) = app
        .anon()
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("owner@example.com", "a brand new secret").await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_all_sessions() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let a = app.login("owner@example.com", PASSWORD).await;
    let b = app.login("owner@example.com", PASSWORD).await;
    assert_eq!(
        a.post("/api/v1/auth/logout-all", json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(a.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unsafe_methods_without_the_csrf_token_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, created) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().expect("id");
    let path = format!("/api/v1/orgs/acme/contacts/{id}");

    for csrf in [None, Some("wrong"), Some("")] {
        let (status, body) = s
            .send_with_csrf(
                Method::POST,
                "/api/v1/orgs/acme/contacts",
                Some(sample_contact("Eve")),
                csrf,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "csrf_failed");
        let (status, _) = s
            .send_with_csrf(
                Method::PATCH,
                &path,
                Some(json!({"first_name": "Mallory"})),
                csrf,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = s.send_with_csrf(Method::DELETE, &path, None, csrf).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = s
            .send_with_csrf(Method::POST, "/api/v1/auth/logout", None, csrf)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Another session's token does not work either.
    let other = app.login("owner@example.com", PASSWORD).await;
    let (status, _) = s
        .send_with_csrf(
            Method::PATCH,
            &path,
            Some(json!({"first_name": "Mallory"})),
            Some(&other.csrf),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    assert_eq!(contact_count(&s, "acme").await, 1);
    let (_, still) = s.get(&path).await;
    assert_eq!(still["first_name"], "Ada");
    assert_eq!(
        s.get("/api/v1/me").await.0,
        StatusCode::OK,
        "logout must not have happened"
    );
}

/// What a request learned of its caller is kept for the next (see
/// `platform::access::grant`); a session that goes idle meanwhile must
/// still end on time, though nothing was written in between.
#[tokio::test]
async fn an_idle_session_ends_on_time_though_its_grant_was_kept() {
    let app = spawn_app_with(|c| c.session_idle = std::time::Duration::from_secs(2)).await;
    let s = app.setup_owner().await;
    for _ in 0..3 {
        let (status, body) = s.get("/api/v1/orgs/acme/contacts").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, body) = s.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn api_keys_need_no_csrf_and_stop_working_when_revoked() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let key = app.api_key(&s, "acme", "member").await;
    assert!(key.secret.starts_with("hmn_"));
    let (status, body) = key
        .post("/api/v1/orgs/acme/contacts", sample_contact("Bob"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created_by"], format!("api_key:{}", key.id));

    let (_, list) = s.get("/api/v1/orgs/acme/api-keys").await;
    let listed = &list["items"][0];
    assert!(
        listed.get("secret").is_none(),
        "the secret is shown once only"
    );
    assert!(listed["last_used_at"].is_string());
    assert!(
        key.secret
            .starts_with(listed["prefix"].as_str().expect("prefix"))
    );

    let (status, _) = s
        .delete(&format!("/api/v1/orgs/acme/api-keys/{}", key.id))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = key.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = key.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_credentials_of_every_kind_get_401() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let anon = app.anon();
    let (status, _) = anon.send(Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for header in ["Bearer hmn_nope", "Bearer nothmn", "Basic abc", "Bearer "] {
        let resp = anon
            .http
            .get(format!("{}/api/v1/orgs/acme/contacts", app.base))
            .header("authorization", header)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
    let resp = anon
        .http
        .get(format!("{}/api/v1/me", app.base))
        .header("cookie", "harmonia_session=forged")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
