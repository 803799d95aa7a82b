//! `harmonia jobs`: the jobs as a plain-text table for the terminal.

use super::store::{JobRow, OrgJobRow};

/// One line per job: where it lives, its name, schedule, last run and
/// outcome (with the error of a failed one), next run.
pub fn table(platform: &[JobRow], orgs: &[OrgJobRow]) -> String {
    let rows: Vec<[String; 6]> = platform
        .iter()
        .map(|j| ("(platform)", j))
        .chain(orgs.iter().map(|o| (o.org.as_str(), &o.job)))
        .map(|(scope, j)| {
            let outcome = match (j.running, j.last_outcome.as_deref()) {
                (true, _) => "running".to_string(),
                (false, Some("failed")) => format!(
                    "FAILED ({}x): {}",
                    j.attempts,
                    j.last_error.as_deref().unwrap_or("no detail")
                ),
                (false, Some(o)) => o.to_string(),
                (false, None) => "never ran".to_string(),
            };
            [
                scope.to_string(),
                j.name.clone(),
                j.schedule.clone(),
                j.last_finished_at.clone().unwrap_or_else(|| "-".into()),
                j.next_run_at.clone().unwrap_or_else(|| "-".into()),
                outcome,
            ]
        })
        .collect();
    let header = [
        "where", "job", "schedule", "last run", "next run", "outcome",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header.map(String::from)).chain(rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 5 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
