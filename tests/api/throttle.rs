use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

#[tokio::test]
async fn repeated_failures_are_throttled_but_the_real_user_still_gets_in() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let attacker = app.anon_from(ip(1));
    let wrong = json!({"email": "owner@example.com", "password": "guess guess guess"});
    for _ in 0..5 {
        let (status, _) = attacker.post("/api/v1/auth/login", wrong.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Throttled now: 429 with Retry-After, even for the right password, so the
    // answer reveals nothing.
    let resp = attacker
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!(retry >= 1);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // The owner, from another address, signs in during the attack.
    let (status, body, _) = app
        .anon_from(ip(2))
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_distributed_attack_cannot_lock_out_a_known_browser() {
    let app = spawn_app().await;
    app.setup_owner().await;
    // The owner has signed in from this browser before: it holds a device cookie.
    let owner = app.login("owner@example.com", PASSWORD).await;
    let device = owner.device.clone().expect("device cookie");

    // Many addresses, each staying under its own limit, together pass the
    // per-account threshold.
    let wrong = json!({"email": "owner@example.com", "password": "guess guess guess"});
    let mut tasks = Vec::new();
    for host in 10..30u8 {
        let client = app.anon_from(ip(host));
        let wrong = wrong.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                client.post("/api/v1/auth/login", wrong.clone()).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    // A new browser is now held back for this account...
    let (status, _) = app
        .anon_from(ip(3))
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but the owner's known browser, from a fresh address, still signs in.
    let resp = app
        .anon_from(ip(4))
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("cookie", device)
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A burst of parallel guesses is counted as it arrives: no more than the free
/// attempts get a password verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_outrun_the_counter() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let wrong = json!({"email": "owner@example.com", "password": "guess guess guess"});
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let client = app.anon_from(ip(7));
            let wrong = wrong.clone();
            tokio::spawn(async move { client.post("/api/v1/auth/login", wrong).await.0 })
        })
        .collect();
    let mut verified = 0;
    for t in tasks {
        if t.await.expect("task") == StatusCode::UNAUTHORIZED {
            verified += 1;
        }
    }
    // The five free attempts, plus what the backoff (1 s, 2 s, 4 s, … after
    // the fifth) let through if the burst took that long on a busy machine.
    let elapsed = started.elapsed().as_secs_f64();
    let backoff_allows = (elapsed + 1.0).log2().floor() as usize + 1;
    assert!(
        (5..=5 + backoff_allows).contains(&verified),
        "{verified} of 30 parallel guesses were checked in {elapsed:.1} s"
    );
}
