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
