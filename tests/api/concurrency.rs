use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_creations_all_succeed() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.post(
                    "/api/v1/orgs/acme/contacts",
                    sample_contact(&format!("P{i}")),
                )
                .await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.insert(body["id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids.len(), 50);
    assert_eq!(contact_count(&s, "acme").await, 50);
    for id in ids {
        assert_eq!(
            s.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await.0,
            StatusCode::OK
        );
    }
}

/// Concurrent writes share transactions (group commit); one that fails must
/// roll back alone and the others must commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_among_concurrent_ones_fails_alone() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut body = sample_contact(&format!("Q{i}"));
                if i % 3 == 0 {
                    // Valid on its face, refused inside the write transaction.
                    body["company_id"] = serde_json::json!("no-such-company");
                }
                (i, s.post("/api/v1/orgs/acme/contacts", body).await)
            })
        })
        .collect();
    for t in tasks {
        let (i, (status, body)) = t.await.expect("task");
        let want = if i % 3 == 0 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::CREATED
        };
        assert_eq!(status, want, "{i}: {body}");
    }
    assert_eq!(contact_count(&s, "acme").await, 40);
    let (_, list) = s.get("/api/v1/orgs/acme/contacts?limit=200").await;
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|c| c["company_id"].is_null())
    );
}

/// Partial updates name only their fields and carry no version: concurrent
/// ones on the same contact all succeed and none loses another's field.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_contact_all_land() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, made) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Race"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let path = format!(
        "/api/v1/orgs/acme/contacts/{}",
        made["id"].as_str().expect("id")
    );
    let fields = ["job_title", "source", "last_name"];
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (s, path) = (s.clone(), path.clone());
            let field = fields[i % fields.len()];
            tokio::spawn(async move {
                let value = format!("{field}-{i}");
                let (status, body) = s.patch(&path, serde_json::json!({ field: value })).await;
                (status, body, field)
            })
        })
        .collect();
    for t in tasks {
        let (status, body, field) = t.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{field}: {body}");
    }
    let (_, now) = s.get(&path).await;
    for field in fields {
        let value = now[field].as_str().unwrap_or_default();
        assert!(
            value.starts_with(&format!("{field}-")),
            "{field} lost: {now}"
        );
    }
    assert_eq!(now["first_name"], "Race");
}
