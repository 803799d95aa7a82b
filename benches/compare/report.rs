//! The figures of a run, printed as markdown tables with each target marked
//! met (✓) or missed (✗).

use crate::Scenario;
use crate::load::{Measured, quantile_ms};
use crate::raw::Raw;
use std::fmt::Write;
use std::time::Duration;

/// One scenario against one server.
pub struct Row {
    pub measured: Measured,
    pub peak_rss: u64,
    pub cpu_secs: f64,
}

pub struct Growth {
    pub contacts: usize,
    pub figures: Vec<(Scenario, Row)>,
    pub db_bytes: u64,
    pub index_bytes: u64,
}

#[derive(Default)]
pub struct OrgFigures {
    pub idle_rss: u64,
    pub rss_active: Vec<(usize, u64)>,
    pub startup: Duration,
    pub on_disk: usize,
}

pub struct Report {
    pub connections: usize,
    pub duration: f64,
    pub warmup: f64,
    pub server_cpus: Option<String>,
    pub size: usize,
    pub harmonia: Vec<(Scenario, Row)>,
    /// The same scenarios with `--baseline-bin` (before the change).
    pub baseline: Vec<(Scenario, Row)>,
    /// With `--rounds` above 1 and a baseline: each scenario's after / before
    /// in every round.
    pub round_ratios: Vec<(Scenario, Vec<f64>)>,
    pub records: Option<crate::records::RecordsFigures>,
    pub deals: Option<crate::deals::DealsFigures>,
    pub work: Option<crate::work::WorkFigures>,
    pub lists: Option<crate::lists::ListFigures>,
    pub pocketbase: Vec<(Scenario, Row)>,
    pub pocketbase_version: &'static str,
    pub trailbase: Vec<(Scenario, Row)>,
    /// Scenarios TrailBase was not run for, and why.
    pub trailbase_missing: Vec<(Scenario, &'static str)>,
    pub trailbase_version: &'static str,
    /// Why TrailBase was not run at all (its binary is not there).
    pub trailbase_skipped: Option<String>,
    pub raw_insert: Option<Raw>,
    pub raw_get: Option<Raw>,
    pub raw_threads: usize,
    pub growth: Vec<Growth>,
    pub orgs: Option<OrgFigures>,
    pub backup: Option<crate::backup::BackupFigures>,
    pub files: Option<crate::files::FileFigures>,
    pub webhooks: Option<crate::webhooks::HookFigures>,
    pub metrics: Option<crate::metrics::MetricsFigures>,
    pub hook_cost: Option<crate::hook_cost::HookCostFigures>,
    pub storm: Option<crate::storm::StormFigures>,
    pub import: Option<crate::imports::ImportFigures>,
    pub export: Option<crate::exports::ExportFigures>,
}

/// A section written by `write` as text.
pub fn section(write: impl FnOnce(&mut String)) -> String {
    let mut o = String::new();
    write(&mut o);
    o
}

pub fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1_048_576.0)
}

pub fn num(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn ms(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.1} ms")
    }
}

pub fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

impl Report {
    pub fn new(
        connections: usize,
        duration: f64,
        warmup: f64,
        server_cpus: Option<String>,
    ) -> Report {
        Report {
            connections,
            duration,
            warmup,
            server_cpus,
            size: 0,
            harmonia: Vec::new(),
            baseline: Vec::new(),
            round_ratios: Vec::new(),
            records: None,
            deals: None,
            work: None,
            lists: None,
            pocketbase: Vec::new(),
            pocketbase_version: "",
            trailbase: Vec::new(),
            trailbase_missing: Vec::new(),
            trailbase_version: "",
            trailbase_skipped: None,
            raw_insert: None,
            raw_get: None,
            raw_threads: 0,
            growth: Vec::new(),
            orgs: None,
            backup: None,
            files: None,
            webhooks: None,
            metrics: None,
            hook_cost: None,
            storm: None,
            import: None,
            export: None,
        }
    }

    fn harmonia_row(&self, s: Scenario) -> Option<&Row> {
        self.harmonia.iter().find(|(x, _)| *x == s).map(|(_, r)| r)
    }

    /// Scenarios that failed: any error answer, or no request measured. A peer
    /// too slow to answer within the request timeout is a result, not a
    /// failure of the run (except in `strict` mode, the smoke test).
    pub fn failures(&self, strict: bool) -> Vec<String> {
        let mut out = Vec::new();
        let all = self
            .harmonia
            .iter()
            .map(|r| ("Harmonia", r))
            .chain(self.pocketbase.iter().map(|r| ("PocketBase", r)))
            .chain(self.trailbase.iter().map(|r| ("TrailBase", r)))
            .map(|(sys, (s, row))| (sys.to_string(), *s, row))
            .chain(
                self.baseline
                    .iter()
                    .map(|(s, row)| ("Harmonia (baseline)".to_string(), *s, row)),
            )
            .chain(self.growth.iter().flat_map(|g| {
                g.figures
                    .iter()
                    .map(move |(s, row)| (format!("Harmonia at {} contacts", g.contacts), *s, row))
            }));
        for (sys, s, row) in all {
            let m = &row.measured;
            let peer = sys.starts_with("PocketBase") || sys.starts_with("TrailBase");
            let only_timeouts = m.errors == m.timeouts;
            if peer && only_timeouts && !strict {
                continue;
            }
            if m.errors > 0 {
                out.push(format!(
                    "{sys}, {}: {} of {} requests failed; first: {}",
                    s.label(),
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("?")
                ));
            } else if m.requests == 0 && peer {
                // Every request still in flight when the window closed: a
                // peer that slow (bcrypt sign-ins on a busy machine) is a
                // result, not a broken benchmark. A peer that answers
                // errors still fails the run.
                eprintln!(
                    "note: {sys}, {}: no request completed in the window",
                    s.label()
                );
            } else if m.requests == 0 {
                out.push(format!("{sys}, {}: no request completed", s.label()));
            }
        }
        for (label, row) in self.backup.iter().flat_map(|b| {
            [
                ("readers, no backup", &b.idle),
                ("readers, during a backup", &b.during),
            ]
        }) {
            let m = &row.measured;
            if m.errors > 0 || m.requests == 0 {
                out.push(format!(
                    "backup, {label}: {} of {} requests failed; first: {}",
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("none completed")
                ));
            }
        }
        for (on, row) in self.metrics.iter().flat_map(|m| m.rounds.iter()) {
            let m = &row.measured;
            if m.errors > 0 || m.requests == 0 {
                out.push(format!(
                    "metrics {}: {} of {} requests failed; first: {}",
                    if *on { "on" } else { "off" },
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("none completed")
                ));
            }
        }
        for (label, _, row) in self.deals.iter().flat_map(|r| r.rows.iter()) {
            let m = &row.measured;
            if m.errors > 0 || m.requests == 0 {
                out.push(format!(
                    "deals, {label}: {} of {} requests failed; first: {}",
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("none completed")
                ));
            }
        }
        for (label, row) in self
            .records
            .iter()
            .flat_map(|r| r.rows.iter().map(|(l, row)| (*l, row)))
            .chain(
                self.work
                    .iter()
                    .flat_map(|w| w.rows.iter().map(|(l, row)| (*l, row))),
            )
            .chain(
                self.lists
                    .iter()
                    .flat_map(|l| l.rows.iter().map(|(l, row)| (l.as_str(), row))),
            )
        {
            let m = &row.measured;
            if m.errors > 0 || m.requests == 0 {
                out.push(format!(
                    "records, {label}: {} of {} requests failed; first: {}",
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("none completed")
                ));
            }
        }
        out.extend(self.hook_cost.iter().flat_map(|h| h.failures()));
        out.extend(self.storm.iter().flat_map(|s| s.failures()));
        out.extend(self.import.iter().flat_map(|i| i.failures()));
        out.extend(self.export.iter().flat_map(|e| e.failures()));
        out
    }

    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let pin = match &self.server_cpus {
            Some(c) => format!("servers pinned to CPUs {c}"),
            None => "nothing pinned".into(),
        };
        let _ = writeln!(
            o,
            "Machine: {}. Load: {} connections over loopback, {} s warm-up then {} s per scenario; {pin}.\n",
            crate::machine(),
            self.connections,
            self.warmup,
            self.duration
        );
        self.compare(&mut o);
        self.before_after(&mut o);
        self.records(&mut o);
        self.deals(&mut o);
        self.work(&mut o);
        self.lists(&mut o);
        self.limit(&mut o);
        self.growth(&mut o);
        self.orgs(&mut o);
        self.backup(&mut o);
        self.files(&mut o);
        self.webhooks(&mut o);
        if let Some(h) = &self.hook_cost {
            h.markdown(&mut o);
        }
        if let Some(s) = &self.storm {
            s.markdown(&mut o);
        }
        if let Some(i) = &self.import {
            i.markdown(&mut o);
        }
        if let Some(e) = &self.export {
            e.markdown(&mut o);
        }
        self.metrics(&mut o);
        o
    }

    fn webhooks(&self, o: &mut String) {
        let Some(w) = &self.webhooks else { return };
        let _ = writeln!(
            o,
            "### Webhooks: delivery to a receiver on 127.0.0.1\n\n| events | all delivered after | of which writing them | rate | target |\n| ---: | ---: | ---: | ---: | :---: |\n| {} | {:.2} s | {:.2} s | {:.0} events/s | ≥ 1,000/s {} |\n",
            w.events,
            w.elapsed.as_secs_f64(),
            w.writing.as_secs_f64(),
            w.per_s(),
            mark(w.per_s() >= 1000.0)
        );
    }

    fn metrics(&self, o: &mut String) {
        let Some(m) = &self.metrics else { return };
        let _ = writeln!(
            o,
            "### Metrics on and off: get contact by id, rounds interleaved\n"
        );
        let _ = writeln!(o, "| round | metrics | req/s | p50 | p99 |");
        let _ = writeln!(o, "| ---: | --- | ---: | ---: | ---: |");
        for (i, (on, row)) in m.rounds.iter().enumerate() {
            let r = &row.measured;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                i / 2 + 1,
                if *on { "on" } else { "off" },
                num(r.rate()),
                ms(r.quantile_ms(0.5)),
                ms(r.quantile_ms(0.99))
            );
        }
        let ratio = m.ratio();
        let _ = writeln!(
            o,
            "\nAll rounds: off {} req/s, on {} req/s: on is {:.1}% of off (target ≥ 97%) {}\n",
            num(m.rate(false)),
            num(m.rate(true)),
            ratio * 100.0,
            mark(ratio >= 0.97)
        );
    }

    fn files(&self, o: &mut String) {
        let Some(f) = &self.files else { return };
        use crate::files::FileFigures as F;
        let _ = writeln!(o, "### Files: 40 MiB over loopback, best of three\n");
        let _ = writeln!(o, "| step | time | throughput | target |");
        let _ = writeln!(o, "| --- | ---: | ---: | :---: |");
        for (label, d) in [
            ("upload (multipart, streamed)", f.upload),
            ("download", f.download),
        ] {
            let rate = F::mb_per_s(d);
            let _ = writeln!(
                o,
                "| {label} | {:.3} s | {rate:.0} MB/s | ≥ 200 MB/s {} |",
                d.as_secs_f64(),
                mark(rate >= 200.0)
            );
        }
        let _ = writeln!(
            o,
            "\n| server memory during a 50 MiB upload | private RSS before | peak | growth | target |\n| --- | ---: | ---: | ---: | :---: |\n| | {} | {} | {} | ≤ 20 MB {} |\n",
            mb(f.rss_before),
            mb(f.rss_peak),
            mb(f.growth()),
            mark(f.growth() <= 20 * 1_000_000)
        );
    }

    fn backup(&self, o: &mut String) {
        let Some(b) = &self.backup else { return };
        use crate::backup::BackupFigures as F;
        let _ = writeln!(
            o,
            "### Backup and restore of {} contacts ({} of databases and files, {} encrypted)\n",
            num(b.contacts as f64),
            mb(b.plain_bytes),
            mb(b.encrypted_bytes)
        );
        let _ = writeln!(o, "| step | time | throughput | target |");
        let _ = writeln!(o, "| --- | ---: | ---: | :---: |");
        for (label, d) in [
            ("backup, server idle", b.backup_alone),
            ("backup, server under read load", b.backup_under_load),
        ] {
            let rate = F::mb_per_s(b.plain_bytes, d);
            let _ = writeln!(
                o,
                "| {label} | {:.2} s | {rate:.0} MB/s | ≥ 100 MB/s {} |",
                d.as_secs_f64(),
                mark(rate >= 100.0)
            );
        }
        let _ = writeln!(
            o,
            "| restore into an empty data dir | {:.2} s | {:.0} MB/s | |\n",
            b.restore.as_secs_f64(),
            F::mb_per_s(b.plain_bytes, b.restore)
        );
        let (idle, during) = (&b.idle.measured, &b.during.measured);
        let _ = writeln!(o, "| get contact by id | req/s | p50 | p99 | target |");
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | :---: |");
        let _ = writeln!(
            o,
            "| no backup running | {} | {} | {} | |",
            num(idle.rate()),
            ms(idle.quantile_ms(0.5)),
            ms(idle.quantile_ms(0.99))
        );
        let _ = writeln!(
            o,
            "| during a backup | {} | {} | {} | p99 ≤ 2× idle {} |\n",
            num(during.rate()),
            ms(during.quantile_ms(0.5)),
            ms(during.quantile_ms(0.99)),
            mark(during.quantile_ms(0.99) <= 2.0 * idle.quantile_ms(0.99))
        );
    }

    fn before_after(&self, o: &mut String) {
        if self.baseline.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "### Before and after: this build against `--baseline-bin`, same run\n"
        );
        let _ = writeln!(
            o,
            "| scenario | before req/s | after req/s | after / before | before p99 | after p99 | within 10% |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: | :---: |");
        for (s, after) in &self.harmonia {
            let Some((_, before)) = self.baseline.iter().find(|(x, _)| x == s) else {
                continue;
            };
            let ratio = after.measured.rate() / before.measured.rate();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {ratio:.2}× | {} | {} | {} |",
                s.label(),
                num(before.measured.rate()),
                num(after.measured.rate()),
                ms(before.measured.quantile_ms(0.99)),
                ms(after.measured.quantile_ms(0.99)),
                mark(ratio >= 0.9)
            );
        }
        o.push('\n');
        if self.round_ratios.is_empty() {
            return;
        }
        let rounds = self
            .round_ratios
            .iter()
            .map(|(_, r)| r.len())
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "After / before in each of {rounds} rounds (this build ran first in odd rounds, \
             the baseline in even ones; the table above shows each build's median round):\n"
        );
        let heads: String = (1..=rounds).map(|r| format!(" round {r} |")).collect();
        let _ = writeln!(o, "| scenario |{heads} median |");
        let _ = writeln!(o, "| --- |{} ---: |", " ---: |".repeat(rounds));
        for (s, ratios) in &self.round_ratios {
            let cells: String = ratios.iter().map(|r| format!(" {r:.2}× |")).collect();
            let _ = writeln!(o, "| {} |{cells} {:.2}× |", s.label(), median(ratios));
        }
        o.push('\n');
    }

    fn deals(&self, o: &mut String) {
        let Some(d) = &self.deals else { return };
        let _ = writeln!(
            o,
            "### Sales pipeline: {} open deals on the board's pipeline\n",
            num(d.deals as f64)
        );
        let _ = writeln!(
            o,
            "| scenario | req/s | p50 | p95 | p99 | p99 target | met |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: | :---: |");
        for (label, target, row) in &d.rows {
            let m = &row.measured;
            let p99 = m.quantile_ms(0.99);
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | {} | ≤ {target} ms | {} |",
                num(m.rate()),
                ms(m.quantile_ms(0.5)),
                ms(m.quantile_ms(0.95)),
                ms(p99),
                mark(p99 <= *target)
            );
        }
        o.push('\n');
    }

    fn lists(&self, o: &mut String) {
        let Some(l) = &self.lists else { return };
        let title = format!(
            "Contact lists: search box and every column's sort ({} contacts)",
            num(self.size as f64)
        );
        p99_table(
            o,
            &title,
            l.rows.iter().map(|(label, row)| (label.as_str(), row)),
        );
    }

    fn work(&self, o: &mut String) {
        let Some(w) = &self.work else { return };
        let title = format!("Timelines and tasks ({} contacts)", num(self.size as f64));
        p99_table(o, &title, w.rows.iter().map(|(label, row)| (*label, row)));
    }

    fn records(&self, o: &mut String) {
        let Some(r) = &self.records else { return };
        let _ = writeln!(
            o,
            "### Lists by custom fields and tags, beside the same lists on built-in fields ({} contacts)\n",
            num(self.size as f64)
        );
        let _ = writeln!(
            o,
            "| list | req/s | p50 | p95 | p99 | p99 ≤ 2× built-in | req/s ≥ ½ built-in |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | :---: | :---: |");
        for (label, row) in &r.rows {
            let m = &row.measured;
            let twin = crate::records::twin(label)
                .and_then(|t| r.rows.iter().find(|(l, _)| *l == t))
                .map(|(_, t)| &t.measured);
            let (p99_ok, rate_ok) = match twin {
                Some(t) => (
                    mark(m.quantile_ms(0.99) <= 2.0 * t.quantile_ms(0.99)).to_string(),
                    mark(m.rate() >= 0.5 * t.rate()).to_string(),
                ),
                None => ("(built-in)".into(), "(built-in)".into()),
            };
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | {} | {p99_ok} | {rate_ok} |",
                num(m.rate()),
                ms(m.quantile_ms(0.5)),
                ms(m.quantile_ms(0.95)),
                ms(m.quantile_ms(0.99))
            );
        }
        o.push('\n');
    }

    fn compare(&self, o: &mut String) {
        if self.harmonia.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "### Side by side: one organization of {} contacts\n",
            num(self.size as f64)
        );
        let _ = writeln!(
            o,
            "| scenario | system | req/s | p50 | p95 | p99 | errors | server peak private RSS | server CPU s |"
        );
        let _ = writeln!(
            o,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        let pb = format!("PocketBase {}", self.pocketbase_version);
        let tb = format!("TrailBase {}", self.trailbase_version);
        for (s, h) in &self.harmonia {
            let p = self.pocketbase.iter().find(|(x, _)| x == s).map(|(_, r)| r);
            let t = self.trailbase.iter().find(|(x, _)| x == s).map(|(_, r)| r);
            for (sys, row) in [("Harmonia", Some(h)), (pb.as_str(), p), (tb.as_str(), t)] {
                let Some(r) = row else { continue };
                let m = &r.measured;
                let errors = match (m.errors, m.requests) {
                    (0, 0) => format!(
                        "none answered within {} s",
                        crate::load::REQUEST_TIMEOUT.as_secs()
                    ),
                    (e, _) if e == m.timeouts && e > 0 => format!("{e} (timeouts)"),
                    (e, _) => e.to_string(),
                };
                let _ = writeln!(
                    o,
                    "| {} | {sys} | {} | {} | {} | {} | {errors} | {} | {:.1} |",
                    s.label(),
                    num(m.rate()),
                    ms(m.quantile_ms(0.5)),
                    ms(m.quantile_ms(0.95)),
                    ms(m.quantile_ms(0.99)),
                    mb(r.peak_rss),
                    r.cpu_secs
                );
            }
            if let Some((_, why)) = self.trailbase_missing.iter().find(|(x, _)| x == s) {
                let _ = writeln!(
                    o,
                    "| {} | {tb} | — ({why}) | — | — | — | — | — | — |",
                    s.label()
                );
            }
        }
        if let Some(note) = &self.trailbase_skipped {
            let _ = writeln!(o, "\n{note}");
        }
        if self.pocketbase.is_empty() && self.trailbase.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "\n| scenario | Harmonia / PocketBase (req/s) | ≥ 5× | Harmonia / TrailBase (req/s) | Harmonia p99 ≤ 10 ms |"
        );
        let _ = writeln!(o, "| --- | ---: | :---: | ---: | :---: |");
        // Harmonia's rate over a peer's, "—" where the peer has no figure.
        let ratio = |h: &Row, peer: &[(Scenario, Row)], s: &Scenario, name: &str| match peer
            .iter()
            .find(|(x, _)| x == s)
        {
            None => ("—".to_string(), None),
            Some((_, p)) if p.measured.requests == 0 => {
                (format!("{name} answered none in time"), None)
            }
            Some((_, p)) => {
                let r = h.measured.rate() / p.measured.rate();
                (format!("{r:.2}×"), Some(r))
            }
        };
        for (s, h) in &self.harmonia {
            let (vs_pb, pb_ratio) = ratio(h, &self.pocketbase, s, "PocketBase");
            let (vs_tb, _) = ratio(h, &self.trailbase, s, "TrailBase");
            let (five, p99) = if *s == Scenario::SignIn {
                ("no target".to_string(), "no target".to_string())
            } else {
                (
                    pb_ratio
                        .map(|r| mark(r >= 5.0).to_string())
                        .unwrap_or_default(),
                    mark(h.measured.quantile_ms(0.99) <= 10.0).to_string(),
                )
            };
            let _ = writeln!(o, "| {} | {vs_pb} | {five} | {vs_tb} | {p99} |", s.label());
        }
        o.push('\n');
    }

    fn limit(&self, o: &mut String) {
        let (Some(ins), Some(get)) = (&self.raw_insert, &self.raw_get) else {
            return;
        };
        let _ = writeln!(
            o,
            "### The SQLite limit: the same writes and reads through rusqlite\n"
        );
        let _ = writeln!(
            o,
            "| operation | rusqlite ops/s | rusqlite p99 | Harmonia HTTP req/s | HTTP / rusqlite | target |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | --- |");
        for (label, raw, s, target) in [
            (
                "insert contact (1 transaction each, 1 thread)",
                ins,
                Scenario::Create,
                Some(0.40),
            ),
            ("get contact by id", get, Scenario::Get, None),
        ] {
            let http = self.harmonia_row(s).map(|r| r.measured.rate());
            let share = http.map(|h| h / raw.rate());
            let t = match (target, share) {
                (Some(t), Some(sh)) => format!("≥ {:.0}% {}", t * 100.0, mark(sh >= t)),
                _ => String::new(),
            };
            let label = if s == Scenario::Get {
                format!("{label} ({} threads)", self.raw_threads)
            } else {
                label.to_string()
            };
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | {} | {t} |",
                num(raw.rate()),
                ms(quantile_ms(&raw.latencies_us, 0.99)),
                http.map(num).unwrap_or_else(|| "–".into()),
                share
                    .map(|s| format!("{:.1}%", s * 100.0))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        o.push('\n');
    }

    fn growth(&self, o: &mut String) {
        if self.growth.is_empty() {
            return;
        }
        let _ = writeln!(o, "### Growth: one organization, more contacts\n");
        let _ = writeln!(
            o,
            "| contacts | get p99 (req/s) | list first page p99 (req/s) | search prefix p99 (req/s) | on disk per contact (database + index) |"
        );
        let _ = writeln!(o, "| ---: | ---: | ---: | ---: | ---: |");
        let cell = |g: &Growth, s: Scenario| {
            g.figures
                .iter()
                .find(|(x, _)| *x == s)
                .map(|(_, r)| {
                    format!(
                        "{} ({})",
                        ms(r.measured.quantile_ms(0.99)),
                        num(r.measured.rate())
                    )
                })
                .unwrap_or_default()
        };
        for g in &self.growth {
            let n = g.contacts.max(1) as u64;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} B ({} + {}) |",
                num(g.contacts as f64),
                cell(g, Scenario::Get),
                cell(g, Scenario::ListFirst),
                cell(g, Scenario::SearchPrefix),
                num(((g.db_bytes + g.index_bytes) / n) as f64),
                num((g.db_bytes / n) as f64),
                num((g.index_bytes / n) as f64),
            );
        }
        if let (Some(first), Some(last), true) = (
            self.growth.first(),
            self.growth.last(),
            self.growth.len() > 1,
        ) {
            let p99 = |g: &Growth, s: Scenario| {
                g.figures
                    .iter()
                    .find(|(x, _)| *x == s)
                    .map(|(_, r)| r.measured.quantile_ms(0.99))
                    .unwrap_or(f64::NAN)
            };
            let ratio = |s| {
                let r = p99(last, s) / p99(first, s);
                format!("{r:.2}× {}", mark(r < 2.0))
            };
            let _ = writeln!(
                o,
                "| p99 growth {} → {} (target < 2×) | {} | {} | {} | |",
                num(first.contacts as f64),
                num(last.contacts as f64),
                ratio(Scenario::Get),
                ratio(Scenario::ListFirst),
                ratio(Scenario::SearchPrefix),
            );
        }
        o.push('\n');
    }

    fn orgs(&self, o: &mut String) {
        let Some(f) = &self.orgs else { return };
        let _ = writeln!(o, "### Memory and start-up\n");
        let _ = writeln!(o, "| measure | value | target |");
        let _ = writeln!(o, "| --- | ---: | --- |");
        let _ = writeln!(
            o,
            "| idle private RSS (after start) | {} | < 30 MB {} |",
            mb(f.idle_rss),
            mark(f.idle_rss < 30 << 20)
        );
        for (n, rss) in &f.rss_active {
            let target = if *n == 1000 {
                format!("< 300 MB {}", mark(*rss < 300 << 20))
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "| private RSS with {n} organizations active | {} | {target} |",
                mb(*rss)
            );
        }
        let ms_ = f.startup.as_secs_f64() * 1000.0;
        let target = if f.on_disk >= 1000 {
            format!("< 200 ms {}", mark(ms_ < 200.0))
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "| start-up → healthy, {} organizations on disk | {ms_:.0} ms | {target} |",
            f.on_disk
        );
    }
}

/// A section of scenarios whose target is a p99 of at most 20 ms.
fn p99_table<'a>(o: &mut String, title: &str, rows: impl Iterator<Item = (&'a str, &'a Row)>) {
    let _ = writeln!(o, "### {title}\n");
    let _ = writeln!(o, "| request | req/s | p50 | p95 | p99 | p99 ≤ 20 ms |");
    let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | :---: |");
    for (label, row) in rows {
        let m = &row.measured;
        let _ = writeln!(
            o,
            "| {label} | {} | {} | {} | {} | {} |",
            num(m.rate()),
            ms(m.quantile_ms(0.5)),
            ms(m.quantile_ms(0.95)),
            ms(m.quantile_ms(0.99)),
            mark(m.quantile_ms(0.99) <= 20.0)
        );
    }
    o.push('\n');
}

/// Each scenario's row from the round with the median rate (so its p99 and
/// memory are that round's), in the first round's order.
pub fn median_rounds(rounds: Vec<Vec<(Scenario, Row)>>) -> Vec<(Scenario, Row)> {
    let order: Vec<Scenario> = rounds
        .first()
        .map(|r| r.iter().map(|(s, _)| *s).collect())
        .unwrap_or_default();
    let mut by_scenario: Vec<(Scenario, Vec<Row>)> =
        order.into_iter().map(|s| (s, Vec::new())).collect();
    for round in rounds {
        for (s, row) in round {
            if let Some((_, rows)) = by_scenario.iter_mut().find(|(x, _)| *x == s) {
                rows.push(row);
            }
        }
    }
    by_scenario
        .into_iter()
        .filter_map(|(s, mut rows)| {
            rows.sort_by(|a, b| a.measured.rate().total_cmp(&b.measured.rate()));
            let mid = rows.len() / 2;
            (!rows.is_empty()).then(|| (s, rows.swap_remove(mid)))
        })
        .collect()
}

/// After / before of every scenario in every round (rounds paired in order);
/// empty unless there are two rounds or more of each.
pub fn round_ratios(
    after: &[Vec<(Scenario, Row)>],
    before: &[Vec<(Scenario, Row)>],
) -> Vec<(Scenario, Vec<f64>)> {
    if after.len() < 2 || before.len() != after.len() {
        return Vec::new();
    }
    let Some(first) = after.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|(s, _)| {
            let ratios = after
                .iter()
                .zip(before)
                .filter_map(|(a, b)| {
                    let a = a.iter().find(|(x, _)| x == s)?.1.measured.rate();
                    let b = b.iter().find(|(x, _)| x == s)?.1.measured.rate();
                    Some(a / b.max(1e-9))
                })
                .collect();
            (*s, ratios)
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
