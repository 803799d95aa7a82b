//! Importing a CSV in a real browser (issue 18, items 1 and 7): from the
//! empty contacts list, a Windows-1252 file with semicolons is uploaded,
//! its columns come mapped, the preview shows the row that will fail and
//! why, the import runs, the report counts and explains, and undo takes
//! it all back.

use reqwest::Method;
use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn a_csv_is_uploaded_mapped_previewed_run_reported_and_undone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let b = &server.base;
    let s = api_session(b, "owner@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("old-crm.csv");
    // "Zoë" in Windows-1252 (ë = 0xEB); the third row's email is broken.
    let mut bytes = b"First name;Last name;E-mail;Job title\r\n".to_vec();
    bytes.extend_from_slice(b"Zo\xEB;Adams;zoe@example.com;CEO\r\n");
    bytes.extend_from_slice(b"Max;Mustermann;max@example.com;CTO\r\n");
    bytes.extend_from_slice(b"Bad;Row;not an email;Intern\r\n");
    std::fs::write(&file, bytes).expect("write");

    let br = browser().await;
    let c = &br.client;
    sign_in(c, b, "owner@example.com").await;
    c.goto(&format!("{b}/o/acme/contacts")).await.expect("goto");
    click(
        c,
        "//div[contains(@class,'empty')]//a[normalize-space()='Import from CSV']",
    )
    .await;
    wait_for_url(c, "/o/acme/contacts/import").await;
    screenshots(c, "import-upload", ".import-drop").await;
    let input = wait_for_css(c, "input.import-file").await;
    input
        .send_keys(&file.to_string_lossy())
        .await
        .expect("choose file");
    wait_for_url(c, "/o/acme/imports/").await;
    wait_for_css(c, ".import-map").await;
    // Detected and suggested: the header "E-mail" maps to the email field.
    let page = c
        .find(fantoccini::Locator::Css(".import-page"))
        .await
        .expect("page");
    let text = page.text().await.expect("text");
    assert!(
        text.contains("windows-1252") && text.contains("3 rows"),
        "{text}"
    );
    assert!(text.contains("Zoë"), "{text}");
    let chosen = c
        .execute(
            "return [...document.querySelectorAll('.import-map select')].map((s) => s.value)",
            vec![],
        )
        .await
        .expect("values");
    let chosen: Vec<String> = serde_json::from_value(chosen).expect("strings");
    assert!(chosen.iter().all(|v| !v.is_empty()), "{chosen:?}");
    screenshots(c, "import-mapping", ".import-map").await;

    click(c, "//button[normalize-space()='Preview']").await;
    wait_for_css(c, ".import-rows tr.import-bad").await;
    let bad = c
        .find(fantoccini::Locator::Css(".import-rows tr.import-bad"))
        .await
        .expect("bad row")
        .text()
        .await
        .expect("text");
    assert!(
        bad.contains("Error") && bad.to_lowercase().contains("email"),
        "{bad}"
    );
    screenshot_here(c, "import-preview-desktop-light").await;

    click(c, "//button[starts-with(normalize-space(), 'Import 3')]").await;
    wait_for_css(c, ".import-stats").await;
    let report = c
        .find(fantoccini::Locator::Css(".import-page"))
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(report.contains("Import finished"), "{report}");
    let stats: Vec<String> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('.import-stat strong')].map((s) => s.textContent)",
            vec![],
        )
        .await
        .expect("stats"),
    )
    .expect("strings");
    assert_eq!(stats, ["2", "0", "0", "1"], "{report}");
    assert!(report.contains("Failed rows (CSV)"), "{report}");
    screenshots(c, "import-report", ".import-stats").await;
    let list: Value = api(b, &s, Method::GET, "/orgs/acme/contacts", Value::Null).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");

    click(c, "//button[normalize-space()='Undo import']").await;
    click(c, "//dialog//button[normalize-space()='Undo import']").await;
    wait_until(
        c,
        "document.querySelector('.import-step h2') && document.querySelector('.import-step h2').textContent === 'Import undone'",
    )
    .await;
    let list: Value = api(b, &s, Method::GET, "/orgs/acme/contacts", Value::Null).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
    let errors: Vec<String> = console_messages(c)
        .await
        .into_iter()
        .filter(|m| m.contains("SEVERE") || m.contains("Content Security Policy"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
