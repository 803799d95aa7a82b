//! vCard imports (issue 18, item 2): files as Google, Apple and Outlook
//! export them and vCard 4.0 — folded lines, quoted-printable, groups,
//! photos — become contacts through the same mapping, preview, dedupe,
//! report and undo as a CSV.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::imports::{by_email, contacts, import, run_jobs, upload, uploaded};

/// Google Contacts (vCard 3.0): groups, folded lines, a photo by URL.
const GOOGLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
item1.EMAIL;TYPE=INTERNET:ada@example.com\r\nitem1.X-ABLabel:\r\n\
TEL;TYPE=CELL:+44 20 7946 01\r\n 23\r\nORG:Analytical Engines Ltd\r\nTITLE:Programmer\r\n\
ADR;TYPE=HOME:;;12 St James's Square;London;;SW1Y 4JH;United Kingdom\r\n\
PHOTO:https://lh3.googleusercontent.com/photo.jpg\r\nEND:VCARD\r\n";

/// Apple Contacts (vCard 3.0): an inline base64 photo over folded lines,
/// the preferred email second, escaped commas.
const APPLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\n\
N:Hopper;Grace;Brewster;;\r\nFN:Grace Hopper\r\nORG:US Navy\\, Reserve;\r\n\
EMAIL;type=INTERNET;type=HOME:grace@home.example\r\n\
EMAIL;type=INTERNET;type=WORK;type=pref:grace@navy.example\r\n\
item1.TEL;type=pref:+1 415 555 0142\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDA\r\n sLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgN\r\n DRgyIRwhMjIyMjIy\r\n\
END:VCARD\r\n";

/// Outlook (vCard 2.1): quoted-printable UTF-8 with a soft line break.
const OUTLOOK: &str = "BEGIN:VCARD\r\nVERSION:2.1\r\n\
N;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\n\
FN;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller\r\n\
ORG;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:Gro=C3=9Fe Maschinen=\r\n GmbH\r\n\
TITLE:Einkauf\r\nTEL;WORK;VOICE:+49 30 901820\r\nEMAIL;PREF;INTERNET:juergen@example.de\r\n\
END:VCARD\r\n";

/// vCard 4.0: a tel: URI with PREF=1, only FN.
const V4: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Linus Torvalds\r\n\
TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+1-503-555-0100\r\nEMAIL:linus@example.org\r\nEND:VCARD\r\n";

fn file() -> Vec<u8> {
    format!("{GOOGLE}{APPLE}\r\n{OUTLOOK}{V4}").into_bytes()
}

#[tokio::test]
async fn vcards_of_google_apple_and_outlook_become_contacts_and_undo() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let imp = uploaded(&s, "contact", file()).await;
    assert_eq!(imp["format"], "vcard", "{imp}");
    assert_eq!(imp["row_count"], 4, "{imp}");
    let id = imp["id"].as_str().expect("id").to_string();
    let mapped: Vec<&str> = imp["mapping"]
        .as_array()
        .expect("mapping")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "first_name",
        "last_name",
        "email",
        "phone",
        "company_name",
        "job_title",
    ] {
        assert!(mapped.contains(&want), "{want} not mapped: {imp}");
    }
    assert_eq!(imp["dedupe"]["match"], "email", "{imp}");
    let (status, preview) = s
        .get(&format!("/api/v1/orgs/acme/imports/{id}/preview"))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let actions: Vec<&str> = preview["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["create"; 4], "{preview}");

    let done = import(&app, &s, &id, Value::Null).await;
    assert_eq!(done["report"]["created"], 4, "{done}");
    assert_eq!(done["report"]["failed"], 0, "{done}");
    let list = contacts(&s).await;
    let ada = by_email(&list, "ada@example.com").expect("ada");
    assert_eq!(ada["first_name"], "Ada");
    assert_eq!(ada["last_name"], "Lovelace");
    assert_eq!(ada["phones"][0]["phone"], "+442079460123", "folded: {ada}");
    assert_eq!(ada["job_title"], "Programmer");
    assert_eq!(ada["address"]["city"], "London", "{ada}");
    assert_eq!(ada["address"]["country"], "GB", "{ada}");
    let grace = by_email(&list, "grace@navy.example").expect("grace");
    assert_eq!(
        grace["emails"][0]["email"], "grace@navy.example",
        "preferred first: {grace}"
    );
    assert_eq!(grace["emails"].as_array().map(Vec::len), Some(2), "{grace}");
    let jurgen = by_email(&list, "juergen@example.de").expect("jürgen");
    assert_eq!(jurgen["first_name"], "Jürgen", "{jurgen}");
    assert_eq!(jurgen["last_name"], "Müller", "{jurgen}");
    let linus = by_email(&list, "linus@example.org").expect("linus");
    assert_eq!(linus["first_name"], "Linus", "{linus}");
    assert_eq!(linus["last_name"], "Torvalds");
    assert_eq!(linus["phones"][0]["phone"], "+15035550100", "{linus}");
    // Companies by name, created once.
    let (_, cos) = s.get("/api/v1/orgs/acme/companies").await;
    let names: Vec<&str> = cos["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"Große Maschinen GmbH"), "{names:?}");
    assert!(names.contains(&"Analytical Engines Ltd"), "{names:?}");

    // The same file again: every card matches by email and is skipped.
    let again = uploaded(&s, "contact", file()).await;
    let again_id = again["id"].as_str().expect("id").to_string();
    let second = import(&app, &s, &again_id, Value::Null).await;
    assert_eq!(second["report"]["skipped"], 4, "{second}");
    assert_eq!(contacts(&s).await.len(), 4);

    // Undo takes the first import's contacts back out.
    let (status, undone) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert!(contacts(&s).await.is_empty());
}

#[tokio::test]
async fn a_vcard_file_is_for_contacts_and_must_hold_a_card() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, err) = upload(&s, "acme", "company", "cards.vcf", file()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"]["fields"]["kind"].is_string(), "{err}");
    for bad in [
        "BEGIN:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Never ends\r\n",
        "BEGIN:VCARD\r\n\u{0}\u{1}garbage",
    ] {
        let (status, err) = upload(&s, "acme", "contact", "bad.vcf", bad.as_bytes().to_vec()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CREATED,
            "{bad:?}: {status} {err}"
        );
        if status == StatusCode::CREATED {
            // Whatever a broken file yields runs without a server error.
            let id = err["id"].as_str().expect("id").to_string();
            s.post(&format!("/api/v1/orgs/acme/imports/{id}/run"), json!({}))
                .await;
            run_jobs(&app).await;
        }
    }
}

fn picture(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(24, 24, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), format)
        .expect("encode");
    out
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A content line folded as vCard 3.0/4.0 writers do: 75 octets, then CRLF
/// and a space.
fn folded(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut first = true;
    while !rest.is_empty() {
        let take = rest.len().min(if first { 75 } else { 74 });
        if !first {
            out.push(' ');
        }
        out.push_str(&rest[..take]);
        out.push_str("\r\n");
        rest = &rest[take..];
        first = false;
    }
    out
}

/// Cards with birthdays and photos as Google, Apple and Outlook export
/// them and as vCard 4.0 writes them; `fetch_me` is a URL nothing may fetch.
fn photo_cards(jpeg: &[u8], png: &[u8], fetch_me: &str) -> String {
    let mut f = String::new();
    // Google (3.0): a full birthday; the photo a URL (never fetched).
    f += "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nora Google\r\nN:Google;Nora;;;\r\n\
          EMAIL;TYPE=INTERNET:nora@example.com\r\nBDAY:1985-04-12\r\n";
    f += &format!("PHOTO:{fetch_me}\r\nEND:VCARD\r\n");
    // Google (3.0): a birthday without the year.
    f += "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Omar Google\r\nN:Google;Omar;;;\r\n\
          EMAIL;TYPE=INTERNET:omar@example.com\r\nBDAY:--04-12\r\nEND:VCARD\r\n";
    // Apple (3.0): year 1604 standing for none; a base64 JPEG folded.
    f += "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\n\
          N:Apple;Petra;;;\r\nFN:Petra Apple\r\nEMAIL;type=INTERNET;type=pref:petra@example.com\r\n\
          BDAY;X-APPLE-OMIT-YEAR=1604:1604-11-03\r\n";
    f += &folded(&format!("PHOTO;ENCODING=b;TYPE=JPEG:{}", b64(jpeg)));
    f += "END:VCARD\r\n";
    // Outlook (2.1): a basic-format birthday; base64 on indented lines, a blank line after.
    f += "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Outlook;Quentin\r\nFN:Quentin Outlook\r\n\
          EMAIL;PREF;INTERNET:quentin@example.com\r\nBDAY:19780923\r\nPHOTO;TYPE=PNG;ENCODING=BASE64:\r\n";
    for chunk in b64(png).as_bytes().chunks(76) {
        f += &format!("  {}\r\n", String::from_utf8_lossy(chunk));
    }
    f += "\r\nEND:VCARD\r\n";
    // vCard 4.0: 29 February without a year; a data: URI.
    f += "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Rosa Four\r\nEMAIL:rosa@example.com\r\nBDAY:--0229\r\n";
    f += &folded(&format!("PHOTO:data:image/png;base64,{}", b64(png)));
    f += "END:VCARD\r\n";
    // 4.0: a "photo" that is no image.
    f += "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Sam Text\r\nEMAIL:sam@example.com\r\n";
    f += &format!(
        "PHOTO:data:image/png;base64,{}\r\nEND:VCARD\r\n",
        b64(b"just some words, not a picture at all")
    );
    // 3.0: a photo over 5 MiB.
    let mut big = jpeg[..4].to_vec();
    big.resize(5 * 1024 * 1024 + 100, 0);
    f += "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Tara Big\r\nEMAIL:tara@example.com\r\n";
    f += &folded(&format!("PHOTO;ENCODING=b;TYPE=JPEG:{}", b64(&big)));
    f += "END:VCARD\r\n";
    // A birthday no calendar has: the card still comes, without it.
    f += "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Uma Odd\r\nEMAIL:uma@example.com\r\nBDAY:sometime in May\r\nEND:VCARD\r\n";
    f
}

async fn files_of(s: &Session, contact: &Value) -> Vec<Value> {
    let id = contact["id"].as_str().expect("id");
    let (status, page) = s
        .get(&format!("/api/v1/orgs/acme/files?record=contact:{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn birthdays_and_photos_of_google_apple_and_outlook_cards_come_in() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    // Anything that connects here would be the server fetching a photo URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let fetch_me = format!("http://{}/photo.jpg", listener.local_addr().expect("addr"));
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = fetched.clone();
    let watcher = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (jpeg, png) = (
        picture(image::ImageFormat::Jpeg),
        picture(image::ImageFormat::Png),
    );
    let file = photo_cards(&jpeg, &png, &fetch_me);

    let imp = uploaded(&s, "contact", file.clone().into_bytes()).await;
    assert_eq!(imp["row_count"], 8, "{imp}");
    let mapping: Vec<&str> = imp["mapping"]
        .as_array()
        .expect("mapping")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(mapping.contains(&"birthday"), "{imp}");
    assert!(mapping.contains(&"vcard_photo"), "{imp}");
    let id = imp["id"].as_str().expect("id").to_string();
    let done = import(&app, &s, &id, Value::Null).await;
    assert_eq!(done["report"]["created"], 8, "{done}");
    assert_eq!(done["report"]["failed"], 0, "{done}");
    let warned: Vec<(i64, String)> = done["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| {
            (
                w["row"].as_i64().unwrap_or(0),
                w["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(warned.len(), 2, "{done}");
    assert_eq!(warned[0].0, 6);
    assert!(
        warned[0].1.contains("not a JPEG, PNG, GIF or WebP"),
        "{warned:?}"
    );
    assert_eq!(warned[1].0, 7);
    assert!(warned[1].1.contains("larger than 5 MiB"), "{warned:?}");

    let list = contacts(&s).await;
    let who = |email: &str| by_email(&list, email).expect(email).clone();
    for (email, birthday) in [
        ("nora@example.com", json!("1985-04-12")),
        ("omar@example.com", json!("--04-12")),
        ("petra@example.com", json!("--11-03")),
        ("quentin@example.com", json!("1978-09-23")),
        ("rosa@example.com", json!("--02-29")),
        ("uma@example.com", Value::Null),
    ] {
        let c = who(email);
        assert_eq!(c.get("birthday").unwrap_or(&Value::Null), &birthday, "{c}");
    }
    // Photos: attached as files, byte for byte; none fetched by URL.
    for (email, ty, bytes) in [
        ("petra@example.com", "image/jpeg", &jpeg),
        ("quentin@example.com", "image/png", &png),
        ("rosa@example.com", "image/png", &png),
    ] {
        let got = files_of(&s, &who(email)).await;
        assert_eq!(got.len(), 1, "{email}: {got:?}");
        assert_eq!(got[0]["content_type"], ty, "{email}");
        let fid = got[0]["id"].as_str().expect("file id");
        let resp = s
            .http
            .get(format!("{}/api/v1/orgs/acme/files/{fid}/content", s.base))
            .header("cookie", &s.cookie)
            .send()
            .await
            .expect("content");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.bytes().await.expect("bytes")[..] == bytes[..],
            "{email}"
        );
    }
    for email in ["nora@example.com", "sam@example.com", "tara@example.com"] {
        assert!(files_of(&s, &who(email)).await.is_empty(), "{email}");
    }
    assert_eq!(
        fetched.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a photo URL was fetched"
    );

    // The vCard export writes the birthdays back.
    let (status, _, _, body) = crate::exports::download(
        &s,
        "/api/v1/orgs/acme/contacts/export",
        &[("format", "vcf")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cards = String::from_utf8(body).expect("utf-8");
    for line in ["BDAY:19850412", "BDAY:--0412", "BDAY:--1103", "BDAY:--0229"] {
        assert!(cards.contains(&format!("{line}\r\n")), "{line}: {cards}");
    }

    // The same file again, overwriting: no photo is attached twice.
    let again = uploaded(&s, "contact", file.into_bytes()).await;
    let again_id = again["id"].as_str().expect("id").to_string();
    import(
        &app,
        &s,
        &again_id,
        json!({"dedupe": {"match": "email", "action": "overwrite"}}),
    )
    .await;
    assert_eq!(files_of(&s, &who("petra@example.com")).await.len(), 1);

    // Undo of the first import: its contacts and their photos go to the trash.
    let (status, undone) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    let (_, trash) = s.get("/api/v1/orgs/acme/trash?kind=file").await;
    assert_eq!(trash["items"].as_array().map(Vec::len), Some(3), "{trash}");
    watcher.abort();
}

#[tokio::test]
async fn a_birthday_is_a_date_or_a_day_without_the_year() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, c) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Vera", "birthday": "1990-06-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["birthday"], "1990-06-01");
    let id = c["id"].as_str().expect("id");
    let path = format!("/api/v1/orgs/acme/contacts/{id}");
    let (status, c) = s.patch(&path, json!({"birthday": "--06-01"})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["birthday"], "--06-01");
    for bad in [
        "1990-02-30",
        "06/01/1990",
        "2999-01-01",
        "--13-01",
        "tomorrow",
    ] {
        let (status, err) = s.patch(&path, json!({"birthday": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert!(
            err["error"]["fields"]["birthday"].is_string(),
            "{bad}: {err}"
        );
    }
    let (status, c) = s.patch(&path, json!({"birthday": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(c["birthday"].is_null(), "{c}");
    let (_, schema) = s.get("/api/v1/orgs/acme/schema").await;
    assert!(
        schema.to_string().contains("\"birthday\""),
        "the schema names the field"
    );
    // Lists filter by it (full dates compare as dates).
    s.patch(&path, json!({"birthday": "1990-06-01"})).await;
    let filter = json!({"and": [{"field": "birthday", "op": "lt", "value": "2000-01-01"}]});
    let (status, page) = s
        .get_query(
            "/api/v1/orgs/acme/contacts",
            &[("filter", &filter.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}
