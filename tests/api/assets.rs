//! The embedded web UI: gzip bytes to clients that take gzip, the plain file
//! to those that don't, both equal to `web/`; the shell links this build's
//! version, which is cached for a year; nothing outside `web/` is reachable.

use std::io::Read;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};

use crate::helpers::{http_client, spawn_app};

fn version_in(shell: &str) -> String {
    let start = shell.find("/assets/").expect("the shell links assets") + "/assets/".len();
    let end = start + shell[start..].find('/').expect("a version segment");
    shell[start..end].to_string()
}

#[tokio::test]
async fn assets_are_served_compressed_or_plain_and_equal_the_files() {
    let app = spawn_app().await;
    let client = http_client();
    let shell = client
        .get(format!("{}/contacts", app.base))
        .send()
        .await
        .expect("shell");
    assert_eq!(shell.status(), StatusCode::OK);
    assert_eq!(shell.headers()[CACHE_CONTROL], "no-cache");
    let shell = shell.text().await.expect("shell text");
    assert!(
        !shell.contains("{{VERSION}}"),
        "every version placeholder is replaced"
    );
    let version = version_in(&shell);
    assert_eq!(version.len(), 12);

    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("screens/list.js", "text/javascript; charset=utf-8"),
        ("tokens.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let on_disk = std::fs::read(format!("web/{file}")).expect("the file in web/");
        let url = format!("{}/assets/{version}/{file}", app.base);

        let gz = client
            .get(&url)
            .header(ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8, *;q=0.1")
            .send()
            .await
            .expect("asset");
        assert_eq!(gz.status(), StatusCode::OK, "{file}");
        assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip", "{file}");
        assert_eq!(gz.headers()[CONTENT_TYPE], content_type, "{file}");
        assert_eq!(gz.headers()[VARY], "accept-encoding", "{file}");
        assert_eq!(
            gz.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{file}"
        );
        let body = gz.bytes().await.expect("body");
        assert!(body.len() < on_disk.len(), "{file} is sent smaller");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .expect("one gzip stream, not compressed twice");
        assert_eq!(plain, on_disk, "{file}");

        for refuses in [
            None,
            Some("identity"),
            Some("gzip;q=0, deflate"),
            Some("*;q=0"),
        ] {
            let mut req = client.get(&url);
            if let Some(v) = refuses {
                req = req.header(ACCEPT_ENCODING, v);
            }
            let plain = req.send().await.expect("asset");
            assert_eq!(plain.status(), StatusCode::OK, "{file} {refuses:?}");
            assert!(
                plain.headers().get(CONTENT_ENCODING).is_none(),
                "{file} {refuses:?}"
            );
            assert_eq!(plain.headers()[CONTENT_TYPE], content_type);
            assert_eq!(
                plain.bytes().await.expect("body"),
                on_disk,
                "{file} {refuses:?}"
            );
        }
    }

    // Every file of web/ is found, whatever its name sorts next to.
    let mut names = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("web")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("web/") {
            let path = entry.expect("web/ entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                names.push(path);
            }
        }
    }
    assert!(names.len() > 50, "the whole UI: {}", names.len());
    for path in names {
        let name = path
            .strip_prefix("web")
            .expect("under web/")
            .to_string_lossy()
            .replace('\\', "/");
        let r = client
            .get(format!("{}/assets/{version}/{name}", app.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(
            r.bytes().await.expect("body"),
            std::fs::read(&path).expect("file"),
            "{name}"
        );
    }

    // A page from an older build gets today's file, but not for a year.
    let stale = client
        .get(format!("{}/assets/000000000000/app.js", app.base))
        .send()
        .await
        .expect("asset");
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(stale.headers()[CACHE_CONTROL], "no-cache");

    // (A client resolves a literal `..` before sending; encoded ones reach
    // the server.)
    for missing in [
        "nothing.js",
        "..%2FCargo.toml",
        "..%2F..%2Fbuild.rs",
        "index.html/",
    ] {
        let r = client
            .get(format!("{}/assets/{version}/{missing}", app.base))
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
        assert!(!r.text().await.expect("body").contains("[package]"));
    }
}
