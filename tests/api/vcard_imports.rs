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
