//! Authenticator apps, recovery codes and the two-step sign-in, with codes
//! computed here from the secret the server handed out.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The code of the time step `offset` steps from now.
pub fn code_at(secret: &str, offset: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32"))
        .build()
        .expect("totp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    totp.generate((now + offset * 30) as u64).to_string()
}

/// Waits out the last seconds of a 30 s step, so that a test's codes all
/// belong to the step they were computed for.
pub async fn early_in_a_step() {
    let into = time::OffsetDateTime::now_utc().unix_timestamp() % 30;
    if into > 15 {
        tokio::time::sleep(std::time::Duration::from_secs((31 - into) as u64)).await;
    }
}

/// Turns an authenticator app on; returns its secret and the recovery codes.
pub async fn enable_totp(s: &Session) -> (String, Vec<String>) {
    let (status, setup) = s.post("/api/v1/auth/mfa/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().expect("secret").to_string();
    let (status, body) = s
        .post(
            "/api/v1/auth/mfa/totp/confirm",
            json!({"code": code_at(&secret, -1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    (secret, codes)
}

/// The password step: answers the challenge (and checks no session was set).
pub async fn first_step(anon: &Anon, email: &str) -> String {
    let (status, body, session) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_none(), "no session before the second step");
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("csrf_token").is_none(), "{body}");
    body["challenge"].as_str().expect("challenge").to_string()
}

pub async fn second_step(anon: &Anon, body: Value) -> (StatusCode, Value, Option<Session>) {
    anon.sign_in_via("/api/v1/auth/mfa/verify", body).await
}

#[tokio::test]
async fn setup_shows_the_key_as_text_uri_and_qr_code_and_needs_a_right_code() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totp"], false);
    let (status, setup) = owner.post("/api/v1/auth/mfa/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().expect("secret");
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Harmonia:owner%40example.com?")
            && uri.contains(&format!("secret={secret}"))
            && uri.contains("issuer=Harmonia"),
        "{uri}"
    );
    assert!(setup["qr_svg"].as_str().expect("svg").starts_with("<?xml"));
    // Wrong codes, and codes from outside the ±1 step window, turn nothing on.
    for code in [
        "000000".to_string(),
        "12345".into(),
        "abcdef".into(),
        code_at(secret, -3),
        code_at(secret, 3),
    ] {
        let (status, body) = owner
            .post("/api/v1/auth/mfa/totp/confirm", json!({"code": code}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {body}");
        assert!(body["error"]["fields"]["code"].is_string(), "{body}");
    }
    let (_, body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(body["totp"], false, "not on before a right code");
    // Sign-in still takes one step.
    app.login("owner@example.com", PASSWORD).await;
    // A pasted code with spaces is fine.
    let now = code_at(secret, 0);
    let spaced = format!(" {} {} ", &now[..3], &now[3..]);
    let (status, body) = owner
        .post("/api/v1/auth/mfa/totp/confirm", json!({"code": spaced}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes = body["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    let (_, body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(
        (body["totp"].clone(), body["recovery_codes_left"].clone()),
        (json!(true), json!(10))
    );
    // A second setup while on is refused.
    let (status, _) = owner.post("/api/v1/auth/mfa/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_second_step_takes_the_current_previous_and_next_code_each_once() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (secret, _) = enable_totp(&owner).await; // used the previous step (-1)
    let anon = app.anon();

    let challenge = first_step(&anon, "owner@example.com").await;
    for (code, why) in [
        ("000000".to_string(), "wrong"),
        (code_at(&secret, -1), "replayed: the step confirm used"),
        (code_at(&secret, -2), "too old"),
        (code_at(&secret, 2), "too far ahead"),
    ] {
        let (status, body, session) =
            second_step(&anon, json!({"challenge": challenge, "code": code})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert_eq!(body["error"]["code"], "invalid_code", "{why}");
        assert!(session.is_none());
    }
    // With the password, five attempts from this address: the next waits a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The current step's code signs in.
    let (status, body, session) = second_step(
        &anon,
        json!({"challenge": challenge, "code": code_at(&secret, 0)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = session.expect("signed in");
    assert_eq!(
        session.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
    // The challenge signed in once: it is spent.
    let (status, body, _) = second_step(
        &anon,
        json!({"challenge": challenge, "code": code_at(&secret, 1)}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "challenge_expired", "{body}");

    // The same code again, on a new sign-in, is refused; so is the previous
    // step's; the next step's is accepted once.
    let challenge = first_step(&anon, "owner@example.com").await;
    for code in [code_at(&secret, 0), code_at(&secret, -1)] {
        let (status, body, _) =
            second_step(&anon, json!({"challenge": challenge, "code": code})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, body, _) = second_step(
        &anon,
        json!({"challenge": challenge, "code": code_at(&secret, 1)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, body) = owner.get("/api/v1/auth/activity").await;
    let kinds: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "second_factor_failed")
            .count(),
        6,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"totp_enabled"));
    assert_eq!(body["items"][0]["detail"], "totp");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_an_expired_challenge_not_at_all() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (secret, codes) = enable_totp(&owner).await;
    let anon = app.anon();

    let challenge = first_step(&anon, "owner@example.com").await;
    // Typed in upper case with a space instead of the dash: still the code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let (status, body, session) = second_step(
        &anon,
        json!({"challenge": challenge, "recovery_code": typed}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
    let (_, status_body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(status_body["recovery_codes_left"], 9);

    let challenge = first_step(&anon, "owner@example.com").await;
    let (status, body, _) = second_step(
        &anon,
        json!({"challenge": challenge, "recovery_code": codes[3]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "used once: {body}");
    assert_eq!(body["error"]["code"], "invalid_code");
    // Both or neither of code and recovery_code: a 422.
    for bad in [
        json!({"challenge": challenge}),
        json!({"challenge": challenge, "code": "1", "recovery_code": "2"}),
    ] {
        let (status, _, _) = second_step(&anon, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // Five minutes later the challenge is gone, whatever the code.
    let control = app.state.control.clone();
    control
        .write(|tx| {
            tx.execute(
                "UPDATE mfa_challenges SET expires_at = '2000-01-01T00:00:00.000000Z'",
                [],
            )?;
            Ok(())
        })
        .await
        .expect("age the challenge");
    let (status, body, session) = second_step(
        &anon,
        json!({"challenge": challenge, "code": code_at(&secret, 0)}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "challenge_expired", "{body}");
    assert!(session.is_none());
    // A made-up challenge is just as unknown.
    let (status, body, _) = second_step(
        &anon,
        json!({"challenge": "x".repeat(43), "code": "123456"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("challenge_expired"))
    );
}

#[tokio::test]
async fn new_recovery_codes_and_turning_the_app_off_need_the_password_and_a_code() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (secret, old_codes) = enable_totp(&owner).await;

    for bad in [
        json!({"password": "wrong password!", "code": code_at(&secret, 0)}),
        json!({"password": PASSWORD, "code": "000000"}),
        json!({"password": PASSWORD}),
    ] {
        let (status, body) = owner.post("/api/v1/auth/mfa/recovery-codes", bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, body) = owner
        .post(
            "/api/v1/auth/mfa/recovery-codes",
            json!({"password": PASSWORD, "code": code_at(&secret, 0)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !old_codes.contains(c)));
    let anon = app.anon();
    let challenge = first_step(&anon, "owner@example.com").await;
    let (status, _, _) = second_step(
        &anon,
        json!({"challenge": challenge, "recovery_code": old_codes[0]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "old codes stopped working"
    );

    // Off: the code just used (step 0) is spent, so the next step's it is.
    let (status, _) = owner
        .send(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(json!({"password": PASSWORD, "code": code_at(&secret, 0)})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = owner
        .send(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(json!({"password": PASSWORD, "code": code_at(&secret, 1)})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(body["totp"], false);
    assert_eq!(body["recovery_codes_left"], 0);
    app.login("owner@example.com", PASSWORD).await;
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_address_and_the_owner_still_gets_in_elsewhere() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (secret, _) = enable_totp(&owner).await;
    let attacker = app.anon_from("127.0.0.7".parse().expect("ip"));
    let challenge = first_step(&attacker, "owner@example.com").await;
    let mut throttled = None;
    for i in 0..8 {
        let (status, body, _) = second_step(
            &attacker,
            json!({"challenge": challenge, "code": format!("{:06}", i)}),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(i);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Five free attempts — the password's counts until the second step
    // succeeds — then a wait.
    assert!(
        matches!(throttled, Some(4..=6)),
        "throttled after the free failures: {throttled:?}"
    );
    // Even the right code waits now, from that address…
    let (status, _, _) = second_step(
        &attacker,
        json!({"challenge": challenge, "code": code_at(&secret, 0)}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // …and the right password does not wipe the wrong codes' count: the
    // password step from there waits too.
    let (status, body) = attacker
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // …but the owner, elsewhere, signs in with both steps.
    let owner_elsewhere = app.anon_from("127.0.0.8".parse().expect("ip"));
    let challenge = first_step(&owner_elsewhere, "owner@example.com").await;
    let (status, body, session) = second_step(
        &owner_elsewhere,
        json!({"challenge": challenge, "code": code_at(&secret, 0)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
}

#[tokio::test]
async fn one_code_sent_twice_at_once_signs_in_once() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (secret, codes) = enable_totp(&owner).await;
    let (a, b) = (app.anon(), app.anon());
    let (ca, cb) = (
        first_step(&a, "owner@example.com").await,
        first_step(&b, "owner@example.com").await,
    );
    let code = code_at(&secret, 0);
    let (ra, rb) = tokio::join!(
        second_step(&a, json!({"challenge": ca, "code": code})),
        second_step(&b, json!({"challenge": cb, "code": code})),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::UNAUTHORIZED],
        "{} {}",
        ra.1,
        rb.1
    );
    // The same for a recovery code.
    let (ca, cb) = (
        first_step(&a, "owner@example.com").await,
        first_step(&b, "owner@example.com").await,
    );
    let (ra, rb) = tokio::join!(
        second_step(&a, json!({"challenge": ca, "recovery_code": codes[0]})),
        second_step(&b, json!({"challenge": cb, "recovery_code": codes[0]})),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
}

/// The control database's authenticator rows and their sealed keys:
/// (user id, `secret` column, `secret_id`) and (id, purpose, last4) of
/// every `totp:` secret.
type Keys = (
    Vec<(String, String, Option<String>)>,
    Vec<(String, String, String)>,
);

fn stored_keys(data: &std::path::Path) -> Keys {
    let c = rusqlite::Connection::open(data.join("harmonia.db")).expect("control db");
    let factors = c
        .prepare("SELECT user_id, secret, secret_id FROM totp_factors ORDER BY user_id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let sealed = c
        .prepare("SELECT id, purpose, last4 FROM secrets WHERE purpose LIKE 'totp:%' ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    (factors, sealed)
}

/// Whether `needle` is anywhere in the control database's files (the
/// database and its write-ahead log), as bytes.
fn control_files_contain(data: &std::path::Path, needle: &str) -> bool {
    ["harmonia.db", "harmonia.db-wal"].iter().any(|f| {
        std::fs::read(data.join(f))
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn an_authenticator_key_is_stored_only_sealed_in_the_vault() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    // A setup that is never confirmed, then another: one sealed key remains.
    let (status, first) = owner.post("/api/v1/auth/mfa/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (secret, _) = enable_totp(&owner).await;
    assert_ne!(first["secret"].as_str(), Some(secret.as_str()));
    let (factors, sealed) = stored_keys(app.dir.path());
    assert_eq!(factors.len(), 1, "{factors:?}");
    let (user_id, plain, secret_id) = &factors[0];
    assert_eq!(plain, "", "no key as text");
    assert_eq!(sealed.len(), 1, "the unconfirmed key went: {sealed:?}");
    assert_eq!(secret_id.as_deref(), Some(sealed[0].0.as_str()));
    assert_eq!(sealed[0].1, format!("totp:{user_id}"));
    assert_eq!(sealed[0].2, "", "no part of the key is kept to show");
    assert!(!control_files_contain(app.dir.path(), &secret));

    // A row as a server before the vault kept it: the key as text. The next
    // start seals it, and the app's codes still sign in.
    let (dir, config) = app.stop().await;
    {
        let c = rusqlite::Connection::open(dir.path().join("harmonia.db")).expect("control db");
        c.execute(
            "UPDATE totp_factors SET secret = ?1, secret_id = NULL",
            [&secret],
        )
        .expect("as before");
        let left: i64 = c
            .query_row(
                "SELECT count(*) FROM secrets WHERE purpose LIKE 'totp:%'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0, "a replaced key's sealed value goes with it");
    }
    let app = start(dir, config).await;
    let (factors, sealed) = stored_keys(app.dir.path());
    assert_eq!(factors[0].1, "", "sealed at start");
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert_eq!(factors[0].2.as_deref(), Some(sealed[0].0.as_str()));
    // Folded from the log into the database, the text is in neither file.
    let c = rusqlite::Connection::open(app.dir.path().join("harmonia.db")).expect("control db");
    let busy: i64 = c
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .expect("checkpoint");
    assert_eq!(busy, 0, "checkpointed");
    drop(c);
    assert!(!control_files_contain(app.dir.path(), &secret));
    let anon = app.anon();
    let challenge = first_step(&anon, "owner@example.com").await;
    let (status, body, session) = second_step(
        &anon,
        json!({"challenge": challenge, "code": code_at(&secret, 0)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let owner = session.expect("signed in with the sealed key");

    // A sealed key opens only as its own person's: the same ciphertext under
    // a member's purpose fails to decrypt.
    let member = app
        .add_member(&owner, "acme", "mia@example.com", "member")
        .await;
    let (sid, vault) = (sealed[0].0.clone(), app.state.vault.clone());
    let as_member = format!("totp:{}", member.user_id);
    let moved = app
        .state
        .control
        .read_blocking(move |c| vault.reveal(c, &sid, "", &as_member));
    assert!(moved.is_err(), "a key is bound to its person");

    // Turned off: the sealed key goes too.
    let (status, body) = owner
        .send(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(json!({"password": PASSWORD, "code": code_at(&secret, 1)})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (factors, sealed) = stored_keys(app.dir.path());
    assert!(
        factors.is_empty() && sealed.is_empty(),
        "{factors:?} {sealed:?}"
    );
}
