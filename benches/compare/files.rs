//! Files (issue "Files and attachments on any record"): upload and download
//! throughput of a 40 MiB file over loopback, and how much the server's
//! resident memory grows while it receives a 50 MiB upload (streamed to disk:
//! it should not hold the file).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Ctx;
use crate::data::{self, Dataset};

const MIB: usize = 1024 * 1024;

pub struct FileFigures {
    /// Best of three, 40 MiB each.
    pub upload: Duration,
    pub download: Duration,
    pub rss_before: u64,
    pub rss_peak: u64,
}

impl FileFigures {
    pub fn mb_per_s(d: Duration) -> f64 {
        (40 * MIB) as f64 / 1_000_000.0 / d.as_secs_f64().max(1e-9)
    }
    pub fn growth(&self) -> u64 {
        self.rss_peak.saturating_sub(self.rss_before)
    }
}

/// Bytes that do not compress, different for each `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn upload(
    http: &reqwest::Client,
    url: &str,
    auth: &str,
    record: &str,
    body: reqwest::Body,
    len: u64,
) -> anyhow::Result<String> {
    let part = reqwest::multipart::Part::stream_with_length(body, len).file_name("bench.bin");
    let form = reqwest::multipart::Form::new()
        .text("record", record.to_string())
        .part("file", part);
    let resp = http
        .post(url)
        .header("authorization", auth)
        .multipart(form)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if status.as_u16() != 201 {
        bail!("upload answered {status}: {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(v["id"].as_str().context("file id")?.to_string())
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<FileFigures> {
    let dataset: Dataset = data::ensure(&ctx.bin, &ctx.args.cache, 300)?;
    let copy = data::copy(&dataset, &ctx.work.join("files"))?;
    let contact = data::read_contacts(&copy.tenant_db()?, 1)?
        .pop()
        .context("a contact")?
        .id;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        crate::harmonia::start_ready(&ctx.http, &ctx.bin, &copy.dir, &ctx.log("files"), cpus)
            .await?;
    let base = format!(
        "http://{}/api/v1/orgs/{}/files",
        server.addr,
        ::harmonia::demo::DEMO_SLUG
    );
    let auth = format!("Bearer {key}");
    let record = format!("contact:{contact}");
    let http = reqwest::Client::new();

    eprintln!("files: 40 MiB up and down, three times");
    let (mut up, mut down) = (Duration::MAX, Duration::MAX);
    for i in 0..3 {
        let bytes = noise(40 * MIB, i + 1);
        let start = Instant::now();
        let id = upload(
            &http,
            &base,
            &auth,
            &record,
            bytes.into(),
            (40 * MIB) as u64,
        )
        .await?;
        up = up.min(start.elapsed());
        let start = Instant::now();
        let got = http
            .get(format!("{base}/{id}/content"))
            .header("authorization", &auth)
            .send()
            .await?
            .bytes()
            .await?;
        down = down.min(start.elapsed());
        if got.len() != 40 * MIB {
            bail!("downloaded {} bytes of {}", got.len(), 40 * MIB);
        }
    }

    eprintln!("files: server memory during a 50 MiB upload");
    server.wait_idle(Duration::from_millis(500));
    server.reset_peak();
    let rss_before = server.rss();
    // Sent in chunks from a stream: the server sees a real streamed body.
    let chunk: Arc<[u8]> = noise(MIB, 99).into();
    let chunks = futures_util::stream::iter(
        (0..50).map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&chunk))),
    );
    upload(
        &http,
        &base,
        &auth,
        &record,
        reqwest::Body::wrap_stream(chunks),
        (50 * MIB) as u64,
    )
    .await?;
    let rss_peak = server.peak_rss().max(server.rss());
    server.stop()?;
    Ok(FileFigures {
        upload: up,
        download: down,
        rss_before,
        rss_peak,
    })
}
