//! The Files section of a record page in the real browser: several files
//! through the picker with their progress, thumbnails, the lightbox, delete
//! with undo — and hostile files opened by their download URL run nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 180])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

/// A script that leaves a mark in the origin's storage if it ever runs.
const SCRIPT: &str = "<script>localStorage.setItem('pwned', location.href); document.title = 'pwned'; parent.__pwned = 1;</script>";

#[tokio::test]
async fn files_on_a_record_page_and_hostile_downloads_run_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = server(true);
    let base = server.base.clone();
    let s = api_session(&base, "owner@example.com").await;
    let contact = api(
        &base,
        &s,
        Method::POST,
        "/orgs/acme/contacts",
        json!({"first_name": "Ada", "last_name": "Lovelace"}),
    )
    .await;
    let id = contact["id"].as_str().expect("id").to_string();
    let dir = tempfile::tempdir().expect("dir");
    let files = [
        ("team-photo.png", png(640, 400)),
        (
            "proposal.html",
            format!("<!DOCTYPE html><html><body>{SCRIPT}</body></html>").into_bytes(),
        ),
        (
            "logo.svg",
            format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{SCRIPT}</svg>").into_bytes(),
        ),
        (
            "innocent.png",
            format!("<html>{SCRIPT}</html>").into_bytes(),
        ),
        ("Q3 figures.txt", b"revenue 42".to_vec()),
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            p.to_string_lossy().into_owned()
        })
        .collect();

    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "owner@example.com").await;
    c.goto(&format!("{base}/o/acme/contacts/{id}"))
        .await
        .expect("goto");
    wait_for_css(c, "[data-testid=files] .file-drop:not([hidden])").await;
    // Several files at once through the picker.
    let input = wait_for_css(c, "[data-testid=file-input]").await;
    input
        .send_keys(&paths.join("\n"))
        .await
        .expect("choose files");
    wait_until(
        c,
        "document.querySelectorAll('[data-testid=file]').length === 5",
    )
    .await;
    wait_until(
        c,
        "document.querySelectorAll('[data-testid=upload]').length === 0",
    )
    .await;
    // The photo gets its thumbnail shortly after.
    wait_until(c, "document.querySelector('[data-testid=file] img.file-thumb') && document.querySelector('[data-testid=file] img.file-thumb').naturalWidth > 0").await;
    // The timeline shows the files as added.
    wait_until(c, "[...document.querySelectorAll('.tl-entry')].length >= 1").await;

    // The lightbox shows the image.
    click(
        c,
        "//button[contains(@class,'file-name') and normalize-space()='team-photo.png']",
    )
    .await;
    wait_until(c, "document.querySelector('dialog .lightbox-img') && document.querySelector('dialog .lightbox-img').naturalWidth === 640").await;
    screenshot_here(c, "files-lightbox").await;
    c.execute(
        "document.querySelector('dialog').close(); document.querySelector('dialog').remove();",
        vec![],
    )
    .await
    .expect("close");

    // Open every hostile file's download URL (and inline preview URL) in the browser.
    let list = api(
        &base,
        &s,
        Method::GET,
        &format!("/orgs/acme/files?record=contact:{id}"),
        Value::Null,
    )
    .await;
    let page = c.current_url().await.expect("url");
    for f in list["items"].as_array().expect("items") {
        let fid = f["id"].as_str().expect("id");
        for q in ["", "?inline=true"] {
            let _ = c
                .goto(&format!("{base}/api/v1/orgs/acme/files/{fid}/content{q}"))
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    c.goto(page.as_str()).await.expect("back");
    wait_for_css(c, "[data-testid=file]").await;
    let ran: Value = c
        .execute("return [localStorage.getItem('pwned'), document.title.includes('pwned'), window.__pwned === undefined]", vec![])
        .await
        .expect("check");
    assert_eq!(
        ran,
        json!([null, false, true]),
        "no script of a stored file ran"
    );

    // Also framed inside the app page: the sandbox keeps its script out.
    let html_id = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|f| f["name"] == "proposal.html")
        .and_then(|f| f["id"].as_str())
        .expect("html file")
        .to_string();
    c.execute(
        "const f = document.createElement('iframe'); f.id = 'probe'; f.src = arguments[0]; document.body.appendChild(f);",
        vec![json!(format!("/api/v1/orgs/acme/files/{html_id}/content?inline=true"))],
    )
    .await
    .expect("frame");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let ran: Value = c
        .execute(
            "return [localStorage.getItem('pwned'), window.__pwned === undefined]",
            vec![],
        )
        .await
        .expect("check");
    assert_eq!(ran, json!([null, true]));
    c.execute("document.getElementById('probe').remove()", vec![])
        .await
        .expect("remove");

    screenshots(c, "contact-files", "[data-testid=file] img.file-thumb").await;

    // Delete with undo.
    let count = "document.querySelectorAll('[data-testid=file]').length";
    click(c, "//li[@data-testid='file'][.//*[normalize-space()='Q3 figures.txt']]//button[contains(@aria-label,'More actions')]").await;
    click(
        c,
        "//*[contains(@class,'menu-item') and normalize-space()='Delete']",
    )
    .await;
    wait_until(c, &format!("{count} === 4")).await;
    click(c, "//button[normalize-space()='Undo']").await;
    wait_until(c, &format!("{count} === 5")).await;

    // A file found by search opens on the record it is attached to, previewed there.
    let mut indexed = false;
    for _ in 0..50 {
        let found = api(
            &base,
            &s,
            Method::GET,
            "/orgs/acme/search?q=team-photo",
            Value::Null,
        )
        .await;
        if found["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["type"] == "file"))
        {
            indexed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(indexed, "the file is found by its name");
    c.goto(&format!("{base}/o/acme/companies"))
        .await
        .expect("companies");
    wait_until(c, "document.querySelector('h1')").await;
    c.execute(
        "document.activeElement && document.activeElement.blur()",
        vec![],
    )
    .await
    .expect("blur");
    wait_for_css(c, "body")
        .await
        .send_keys("/")
        .await
        .expect("slash");
    let input = wait_for_css(c, "dialog.palette .palette-input").await;
    input.send_keys("team-photo").await.expect("type");
    wait_for(c, "//dialog[@open]//*[contains(@class,'palette-title') and normalize-space()='team-photo.png']").await;
    input
        .send_keys(&fantoccini::key::Key::Enter)
        .await
        .expect("enter");
    wait_for_url(c, &format!("/o/acme/contacts/{id}?file=")).await;
    wait_until(c, "document.querySelector('dialog .lightbox-img') && document.querySelector('dialog .lightbox-img').naturalWidth === 640").await;
    wait_until(c, "document.querySelector('[data-testid=file].file-found')").await;

    // A deleted file waits in the Trash beside records and comes back from there.
    let list = api(&base, &s, Method::GET, "/orgs/acme/files", Value::Null).await;
    let q3 = list["items"]
        .as_array()
        .and_then(|i| i.iter().find(|f| f["name"] == "Q3 figures.txt"))
        .and_then(|f| f["id"].as_str())
        .expect("Q3 figures.txt")
        .to_string();
    api(
        &base,
        &s,
        Method::DELETE,
        &format!("/orgs/acme/files/{q3}"),
        Value::Null,
    )
    .await;
    c.goto(&format!("{base}/o/acme/settings/trash"))
        .await
        .expect("trash");
    click(
        c,
        "//div[@class='chip-filter']/button[normalize-space()='Files']",
    )
    .await;
    wait_until(
        c,
        "document.querySelectorAll('.trash-table tbody tr').length === 1",
    )
    .await;
    click(c, "//button[@aria-label='Restore Q3 figures.txt']").await;
    wait_for_css(c, ".empty, .empty-state").await;
    let back = api(
        &base,
        &s,
        Method::GET,
        &format!("/orgs/acme/files/{q3}"),
        Value::Null,
    )
    .await;
    assert_eq!(back["name"], "Q3 figures.txt", "{back}");
}
