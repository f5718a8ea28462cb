//! The report as tables for an 80-column terminal (`--format table`).

use std::fmt::Write as _;

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};

use super::{
    Report, duration, opt_keyword, opt_tier, percent, period_line, scope_line, short_hour, summary,
};
use crate::store::JobState;

/// Terminal width the tables fit in.
const WIDTH: u16 = 80;
/// Hours with activity the table shows (the latest ones); JSON and CSV have them all.
const TABLE_HOURS: usize = 48;

fn new_table(header: &[&str], numeric_from: usize) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(header.to_vec());
    for i in numeric_from..header.len() {
        if let Some(c) = t.column_mut(i) {
            // Numbers never wrap; text columns take the rest of the width.
            c.set_cell_alignment(CellAlignment::Right);
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    t
}

/// `text` cut at spaces into lines of at most `width` characters (a longer word is cut
/// where it must be).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + chars.len() > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        while len + chars.len() > width {
            let rest = chars.split_off(width - len);
            line.extend(chars);
            lines.push(std::mem::take(&mut line));
            len = 0;
            chars = rest;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        len += chars.len();
        line.extend(chars);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn text_line(out: &mut String, text: &str) {
    for line in wrap(text, usize::from(WIDTH)) {
        let _ = writeln!(out, "{line}");
    }
}

fn section(out: &mut String, title: &str, table: Option<Table>) {
    out.push('\n');
    text_line(out, title);
    match table {
        Some(t) => {
            let _ = writeln!(out, "{t}");
        }
        None => out.push_str("  none\n"),
    }
}

pub(super) fn render_table(report: &Report) -> String {
    let mut out = String::from("relais report\n");
    text_line(&mut out, &scope_line(report));
    text_line(&mut out, &period_line(report));
    for d in &report.halted_devices {
        text_line(&mut out, &d.line());
    }

    let mut t = new_table(&["Metric", "Value"], 1);
    for (label, value) in summary(report) {
        t.add_row(vec![label.to_string(), value]);
    }
    section(&mut out, "Summary", Some(t));

    // Two state columns side by side keep the section short.
    let all: Vec<(JobState, u64)> = report.states.iter().collect();
    let half = all.len().div_ceil(2);
    let mut t = new_table(&["State", "Jobs", "State", "Jobs"], 1);
    if let Some(c) = t.column_mut(2) {
        c.set_cell_alignment(CellAlignment::Left);
    }
    for i in 0..half {
        let cell = |j: usize| {
            all.get(j).map_or((String::new(), String::new()), |(s, n)| {
                (s.name().to_string(), n.to_string())
            })
        };
        let (a, an) = cell(i);
        let (b, bn) = cell(i + half);
        t.add_row(vec![a, an, b, bn]);
    }
    section(&mut out, "Jobs by state", Some(t));

    let t = (!report.failed_by_reason.is_empty()).then(|| {
        let mut t = new_table(&["Reason", "Jobs"], 1);
        for r in &report.failed_by_reason {
            t.add_row(vec![r.reason.clone(), r.count.to_string()]);
        }
        t
    });
    section(&mut out, "Failed, by reason", t);

    let t = (!report.deferred_by_rule.is_empty()).then(|| {
        let mut t = new_table(&["Rule", "Jobs"], 1);
        for r in &report.deferred_by_rule {
            t.add_row(vec![r.rule.clone(), r.count.to_string()]);
        }
        t
    });
    section(&mut out, "Deferred now, by rule", t);

    let t = (!report.refused_by_rule.is_empty()).then(|| {
        let mut t = new_table(&["Rule", "Reason", "Jobs"], 2);
        for r in &report.refused_by_rule {
            t.add_row(vec![r.rule.clone(), r.reason.clone(), r.count.to_string()]);
        }
        t
    });
    section(&mut out, "Refused, by rule and reason", t);

    let t = (!report.opt_outs.by_keyword.is_empty()).then(|| {
        let mut t = new_table(&["Keyword", "Tier", "Opt-outs"], 1);
        for o in &report.opt_outs.by_keyword {
            t.add_row(vec![opt_keyword(o), opt_tier(o), o.count.to_string()]);
        }
        t
    });
    section(&mut out, "Opt-outs, by keyword and tier", t);
    if !report.opt_outs.by_source.is_empty() {
        let sources: Vec<String> = report
            .opt_outs
            .by_source
            .iter()
            .map(|s| format!("{} {}", s.source, s.count))
            .collect();
        text_line(&mut out, &format!("By source: {}", sources.join(", ")));
    }

    let t = (!report.keywords.by_keyword.is_empty()).then(|| {
        let mut t = new_table(&["Kind", "Keyword", "Received"], 2);
        for k in &report.keywords.by_keyword {
            t.add_row(vec![k.kind.clone(), k.keyword.clone(), k.count.to_string()]);
        }
        t
    });
    section(&mut out, "Keywords received", t);

    let t = report.latency.as_ref().map(|l| {
        let mut t = new_table(&["Delivered", "p50", "p90", "p99", "Max"], 0);
        t.add_row(vec![
            l.samples.to_string(),
            duration(l.p50_s),
            duration(l.p90_s),
            duration(l.p99_s),
            duration(l.max_s),
        ]);
        t
    });
    section(&mut out, "Delivery latency (sent to delivered)", t);

    let skipped = report.hours.len().saturating_sub(TABLE_HOURS);
    let t = (!report.hours.is_empty()).then(|| {
        let mut t = new_table(
            &[
                "Hour (UTC)",
                "Sent",
                "Delivered",
                "Deferrals",
                "Inbound",
                "Keywords",
            ],
            1,
        );
        for h in report.hours.iter().skip(skipped) {
            t.add_row(vec![
                short_hour(&h.hour),
                h.sent.to_string(),
                h.delivered.to_string(),
                h.deferrals.to_string(),
                h.inbound.to_string(),
                h.keywords.to_string(),
            ]);
        }
        t
    });
    let title = if skipped > 0 {
        format!(
            "Per hour: the last {TABLE_HOURS} hours with activity ({skipped} earlier ones in --format json, csv or html)"
        )
    } else {
        "Per hour".to_string()
    };
    section(&mut out, &title, t);

    if report.campaign.is_none() {
        let t = (!report.campaigns.is_empty()).then(|| {
            // Failures per campaign are in the other formats: eight columns fit in 80.
            let mut t = new_table(
                &[
                    "Campaign", "Jobs", "Sent", "Deliv.", "Rate", "Pend.", "Refus.", "Opt-outs",
                ],
                1,
            );
            for c in &report.campaigns {
                t.add_row(vec![
                    c.name.clone().unwrap_or_else(|| "(no campaign)".into()),
                    c.jobs.to_string(),
                    c.sent.to_string(),
                    c.delivered.to_string(),
                    percent(c.delivery_rate),
                    c.pending.to_string(),
                    c.refused.to_string(),
                    c.opt_outs.map_or_else(|| "-".into(), |n| n.to_string()),
                ]);
            }
            t
        });
        section(&mut out, "Campaigns", t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("é é é", 3), ["é é", "é"]);
    }
}
