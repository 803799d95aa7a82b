//! Bad input of every kind gets the JSON error shape with the right status,
//! names the field, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn bad_contact_and_company_input_is_refused_field_by_field() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, existing) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let id = existing["id"].as_str().expect("id");
    let long = "x".repeat(201);
    let contact_cases: Vec<(Value, &str)> = vec![
        (json!({}), "first_name"),
        (json!({"first_name": "   "}), "first_name"),
        (json!({"first_name": long}), "first_name"),
        (
            json!({"first_name": "A", "emails": [{"email": "not-an-email"}]}),
            "emails[0].email",
        ),
        (
            json!({"first_name": "A", "emails": [{"email": "a@b.co"}, {"email": "A@B.CO"}]}),
            "emails[1].email",
        ),
        (json!({"first_name": "A", "emails": "a@b.co"}), "emails"),
        (
            json!({"first_name": "A", "emails": [{"mail": "a@b.co"}]}),
            "emails[0]",
        ),
        (
            json!({"first_name": "A", "phones": [{"phone": "12"}]}),
            "phones[0].phone",
        ),
        (
            json!({"first_name": "A", "phones": [{"phone": "call me maybe"}]}),
            "phones[0].phone",
        ),
        (json!({"first_name": "A", "stage": "boss"}), "stage"),
        (
            json!({"first_name": "A", "phones": vec![json!({"phone": "+1 415 555 0100"}); 21]}),
            "phones",
        ),
        (
            json!({"first_name": "A", "emails": [{"email": "a@localhost"}]}),
            "emails[0].email",
        ),
        (
            json!({"first_name": "A", "company_id": "no-such-company"}),
            "company_id",
        ),
        (
            json!({"first_name": "A", "owner_id": "no-such-user"}),
            "owner_id",
        ),
        (
            json!({"first_name": "A", "address": {"planet": "Mars"}}),
            "address",
        ),
        (
            json!({"first_name": "A", "address": {"city": long}}),
            "address.city",
        ),
        // An address is an object: an array is not read as street, city, …
        (
            json!({"first_name": "A", "address": ["Main St", "Paris"]}),
            "address",
        ),
        (json!({"first_name": "A", "address": "Main St"}), "address"),
        (
            json!({"first_name": "A", "favourite_colour": "blue"}),
            "favourite_colour",
        ),
        (json!({"first_name": 42}), "first_name"),
        (json!({"first_name": "A\u{0000}B"}), "first_name"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in &contact_cases {
        let (status, resp) = s.post("/api/v1/orgs/acme/contacts", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "create {body}: {resp}"
        );
        assert_eq!(resp["error"]["code"], "validation_failed");
        let fields = resp["error"]["fields"].as_object().expect("fields");
        assert!(
            fields.keys().any(|k| k.starts_with(field)),
            "create {body} should name {field}: {resp}"
        );
        // The same change as a PATCH fails too (a blank first name is fine
        // there: the contact keeps its last name and email).
        let blank_name = body["first_name"] == json!("   ");
        if body.as_object().is_some_and(|o| !o.is_empty()) && !blank_name {
            let (status, resp) = s
                .patch(&format!("/api/v1/orgs/acme/contacts/{id}"), body.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "patch {body}: {resp}"
            );
        }
    }
    assert_eq!(contact_count(&s, "acme").await, 1, "nothing was written");
    let (_, after) = s.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(after, existing, "the record is unchanged");

    let company_cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": "X", "domain": "not a domain"}), "domain"),
        (json!({"name": "X", "domain": "ftp://x.com"}), "domain"),
        (json!({"name": "X", "phone": "abc"}), "phone"),
        (json!({"name": "X", "size": "huge"}), "size"),
        (
            json!({"name": "X", "address": ["Main St", "Paris"]}),
            "address",
        ),
    ];
    let (_, company) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Kept"}))
        .await;
    let company_id = company["id"].as_str().expect("id");
    for (body, field) in &company_cases {
        let (status, resp) = s.post("/api/v1/orgs/acme/companies", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {resp}");
        assert!(
            resp["error"]["fields"].get(*field).is_some(),
            "{body} should name {field}: {resp}"
        );
        if body.as_object().is_some_and(|o| !o.is_empty()) {
            let (status, resp) = s
                .patch(
                    &format!("/api/v1/orgs/acme/companies/{company_id}"),
                    body.clone(),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "patch {body}: {resp}"
            );
        }
    }
    let (_, count) = s.get("/api/v1/orgs/acme/companies/count").await;
    assert_eq!(count["count"], 1);
    let (_, after) = s
        .get(&format!("/api/v1/orgs/acme/companies/{company_id}"))
        .await;
    assert_eq!(after, company, "the company is unchanged");
}

#[tokio::test]
async fn bad_list_parameters_name_the_parameter() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("sort=password", "sort"),
        ("cursor=garbage", "cursor"),
        ("stage=boss", "stage"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=9999-12-31T23:59:59-23:59", "updated_since"),
    ] {
        let (status, body) = s.get(&format!("/api/v1/orgs/acme/contacts?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(
            body["error"]["fields"].get(field).is_some(),
            "{query}: {body}"
        );
    }
    // SQL in a filter is just text.
    let (status, body) = s
        .get("/api/v1/orgs/acme/contacts?q=%27%20OR%201%3D1%20--")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn protocol_errors_have_the_json_shape() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let http = crate::helpers::http_client();
    let url = format!("{}/api/v1/orgs/acme/contacts", app.base);
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            ct.starts_with("application/json"),
            "{status} has content-type {ct}"
        );
        (status, body)
    };
    let authed = |m: Method, u: &str| {
        http.request(m, u)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
    };
    let (status, body) = send(
        authed(Method::POST, &url)
            .header("content-type", "application/json")
            .body("{\"first_name\": "),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, _) = send(authed(Method::POST, &url).body("{}")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"first_name": "A", "source": "x".repeat(1024 * 1024 + 10)});
    let (status, body) = send(authed(Method::POST, &url).json(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) = send(authed(Method::PUT, &url).json(&json!({}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let (status, body) = send(authed(
        Method::GET,
        &format!("{}/api/v1/no/such/thing", app.base),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = send(http.get(format!("{}/api/other", app.base))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Too long an address, too large headers: the same shape, not an empty body.
    let (status, body) = send(authed(
        Method::GET,
        &format!("{url}?q={}", "a".repeat(40_000)),
    ))
    .await;
    assert_eq!(status, StatusCode::URI_TOO_LONG, "{body}");
    assert_eq!(body["error"]["code"], "uri_too_long");
    let (status, body) =
        send(authed(Method::GET, &url).header("x-padding", "p".repeat(40_000))).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{body}"
    );
    assert_eq!(body["error"]["code"], "headers_too_large");
    assert_eq!(contact_count(&s, "acme").await, 0);
}

/// A change sent by a browser from another site is refused even with the
/// right CSRF token (defence in depth); the same request from our own
/// origin, or with no Origin at all (not a browser), goes through.
#[tokio::test]
async fn changes_from_another_site_are_refused() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let http = crate::helpers::http_client();
    let url = format!("{}/api/v1/orgs/acme/contacts", app.base);
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = http
            .post(&url)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .json(&sample_contact("Eve"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let resp = req.send().await.expect("send");
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for hostile in [
        vec![("origin", "https://evil.example".to_string())],
        vec![("origin", "null".to_string())],
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![
            ("origin", app.base.clone()),
            ("sec-fetch-site", "cross-site".to_string()),
        ],
        // Another port on the same host is another origin.
        vec![("origin", "http://127.0.0.1:1".to_string())],
    ] {
        let (status, body) = post(hostile.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{hostile:?}: {body}");
        assert_eq!(body["error"]["code"], "csrf_failed");
    }
    assert_eq!(contact_count(&s, "acme").await, 0);
    for fine in [
        vec![],
        vec![
            ("origin", app.base.clone()),
            ("sec-fetch-site", "same-origin".to_string()),
        ],
    ] {
        let (status, body) = post(fine.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{fine:?}: {body}");
    }
    // API keys are never sent by a browser on its own: no Origin rule.
    let key = app.api_key(&s, "acme", "member").await;
    let resp = http
        .post(&url)
        .bearer_auth(&key.secret)
        .header("origin", "https://integration.example")
        .json(&sample_contact("Zap"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn slow_requests_time_out_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.request_timeout = std::time::Duration::from_millis(2000)).await;
    let s = app.setup_owner().await;
    // Promise a body, send a few bytes of it, then nothing.
    let addr = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/orgs/acme/contacts HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\
         X-CSRF-Token: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"first_name\":",
        s.cookie, s.csrf
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), tcp.read(&mut buf))
        .await
        .expect("answered before 15 s")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"timeout\""), "{text}");
    assert_eq!(contact_count(&s, "acme").await, 0);
}

#[tokio::test]
async fn health_and_openapi_cover_every_route() {
    let app = spawn_app().await;
    let (status, body) = app.anon().send(Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, doc) = app
        .anon()
        .send(Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/setup", "post"),
        ("/auth/login", "post"),
        ("/me", "get"),
        ("/orgs", "post"),
        ("/orgs/{org}/members/{user_id}", "patch"),
        ("/orgs/{org}/api-keys/{id}", "delete"),
        ("/orgs/{org}/contacts", "get"),
        ("/orgs/{org}/contacts/{id}", "patch"),
        ("/orgs/{org}/contacts/{id}/restore", "post"),
        ("/orgs/{org}/companies/{id}/contacts", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // Every documented operation answers something other than "no such route".
    let total: usize = paths
        .values()
        .map(|p| p.as_object().map(|o| o.len()).unwrap_or(0))
        .sum();
    assert!(total >= 30, "only {total} operations documented");
}
