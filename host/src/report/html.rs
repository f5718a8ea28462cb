//! The report as one self-contained HTML page with inline CSS and SVG bar charts
//! (`--format html`).

use std::fmt::Write as _;

use relais_core::compliance::tz::UtcInstant;

use super::{
    CampaignRow, HourRow, Report, duration, opt_keyword, opt_tier, percent, period_line,
    scope_line, short_hour, summary,
};

/// `&`, `<`, `>`, `"` and `'` as character references (HTML Living Standard §13.1.2.6,
/// enough for text and double-quoted attribute values).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2733;
  background:#f6f7f9;margin:0;padding:24px;max-width:980px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
p.meta{color:#56606c;margin:2px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px;min-width:110px}
.card .v{display:block;font-size:22px;font-weight:600}.card .k{color:#56606c;font-size:13px}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e6;margin:4px 0}
th,td{padding:4px 12px;border-bottom:1px solid #eceef1;text-align:left}
th{background:#eef1f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:1fr;gap:12px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin:0 0 4px 4px}
svg{display:block;width:100%;height:auto}svg text{font:11px sans-serif;fill:#56606c}
p.none{color:#56606c;margin:4px 0}
";

/// Bars a chart draws at most; longer spans group several hours per bar.
const MAX_BARS: u64 = 168;

/// The shared time axis of the charts: `bars` buckets of `step` seconds from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Axis {
    start: i64,
    step: i64,
    bars: usize,
}

fn axis(hours: &[HourRow]) -> Option<Axis> {
    let first = hours.first()?.start;
    let last = hours.last()?.start;
    // Hours spanned, at least 1 (`u64` for `div_ceil`, stable on unsigned integers).
    let span = u64::try_from(last.saturating_sub(first) / 3600).unwrap_or(0) + 1;
    let needed = span.div_ceil(MAX_BARS).max(1);
    let per_bar = [1, 2, 3, 4, 6, 12, 24]
        .into_iter()
        .find(|n| *n >= needed)
        .unwrap_or_else(|| needed.div_ceil(24).saturating_mul(24));
    Some(Axis {
        start: first,
        step: i64::try_from(per_bar.saturating_mul(3600)).unwrap_or(i64::MAX),
        bars: usize::try_from(span.div_ceil(per_bar)).unwrap_or(1).max(1),
    })
}

/// Picks one series out of an hour's row.
type Series = fn(&HourRow) -> u64;

fn bucket(axis: Axis, hours: &[HourRow], pick: Series) -> Vec<u64> {
    let mut values = vec![0u64; axis.bars];
    for h in hours {
        let i = usize::try_from(h.start.saturating_sub(axis.start) / axis.step).unwrap_or(0);
        if let Some(v) = values.get_mut(i) {
            *v += pick(h);
        }
    }
    values
}

fn step_words(step: i64) -> String {
    match step / 3600 {
        1 => "per hour".into(),
        24 => "per day".into(),
        h if h % 24 == 0 => format!("per {} days", h / 24),
        h => format!("per {h} hours"),
    }
}

/// One bar chart as inline SVG: `values` over `axis`, or a "no activity" note.
fn svg_chart(label: &str, values: &[u64], axis: Option<Axis>, color: &str) -> String {
    const W: f64 = 720.0;
    const H: f64 = 190.0;
    const LEFT: f64 = 46.0;
    const RIGHT: f64 = 10.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 30.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let mut s = format!(
        r#"<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        esc(label)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#9aa3ad"/>"##,
        W - RIGHT
    );
    let max = values.iter().copied().max().unwrap_or(0);
    let Some(axis) = axis.filter(|_| max > 0) else {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">no activity</text></svg>"#,
            W / 2.0,
            TOP + plot_h / 2.0
        );
        return s;
    };
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{}" y2="{TOP}" stroke="#eceef1"/><text x="{}" y="{}" text-anchor="end">{max}</text><text x="{}" y="{base}" text-anchor="end">0</text>"##,
        W - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        LEFT - 6.0
    );
    let slot = plot_w / values.len().max(1) as f64;
    let width = (slot * 0.8).max(1.0);
    for (i, v) in values.iter().enumerate() {
        if *v == 0 {
            continue;
        }
        let h = (*v as f64 / max as f64 * plot_h).max(1.0);
        let x = LEFT + i as f64 * slot + (slot - width) / 2.0;
        let at = UtcInstant(
            axis.start
                .saturating_add(axis.step.saturating_mul(i as i64)),
        );
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="{width:.1}" height="{h:.1}" fill="{color}"><title>{}: {v}</title></rect>"#,
            base - h,
            short_hour(&at.to_string())
        );
    }
    // The edges of the time axis under it: start of the first bucket, end of the last.
    let end = axis
        .start
        .saturating_add(axis.step.saturating_mul(values.len() as i64));
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="{y}" text-anchor="start">{}</text><text x="{}" y="{y}" text-anchor="end">{}</text>"#,
        short_hour(&UtcInstant(axis.start).to_string()),
        W - RIGHT,
        short_hour(&UtcInstant(end).to_string()),
        y = base + 18.0
    );
    s.push_str("</svg>");
    s
}

/// An HTML table; `numeric_from` and later columns are right-aligned. Cells are escaped.
fn html_table(out: &mut String, header: &[&str], rows: &[Vec<String>], numeric_from: usize) {
    if rows.is_empty() {
        out.push_str("<p class=\"none\">None.</p>\n");
        return;
    }
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

pub(super) fn render_html(report: &Report) -> String {
    let title = match &report.campaign {
        Some(c) => format!("relais report: {}", c.name),
        None => "relais report: all jobs".to_string(),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>relais report</h1>\n\
         <p class=\"meta\">{}</p><p class=\"meta\">{}</p>\n",
        esc(&title),
        esc(&scope_line(report)),
        esc(&period_line(report))
    );
    for d in &report.halted_devices {
        let _ = writeln!(
            out,
            "<p class=\"meta\"><strong>{}</strong></p>",
            esc(&d.line())
        );
    }

    out.push_str("<div class=\"cards\">");
    for (label, value) in [
        ("jobs", report.jobs.to_string()),
        ("sent", report.sent.to_string()),
        ("delivered", report.delivered.to_string()),
        ("delivery rate", percent(report.delivery_rate)),
        ("pending", report.pending.to_string()),
        ("refused", report.refused.to_string()),
        ("failed", report.failed.to_string()),
        ("opt-outs", report.opt_outs.total.to_string()),
    ] {
        let _ = write!(
            out,
            "<div class=\"card\"><span class=\"v\">{}</span><span class=\"k\">{}</span></div>",
            esc(&value),
            esc(label)
        );
    }
    out.push_str("</div>\n");

    let axis = axis(&report.hours);
    let step = axis.map_or_else(|| "per hour".to_string(), |a| step_words(a.step));
    out.push_str("<h2>Activity (UTC)</h2>\n<div class=\"charts\">\n");
    let charts: [(&str, Series, &str); 4] = [
        ("Sent", |h| h.sent, "#3a78c2"),
        ("Delivered", |h| h.delivered, "#2f9e6a"),
        ("Deferrals", |h| h.deferrals, "#d08a1e"),
        ("Keywords received", |h| h.keywords, "#8a5cc2"),
    ];
    for (name, pick, color) in charts {
        let label = format!("{name} {step}");
        let values = axis.map_or_else(Vec::new, |a| bucket(a, &report.hours, pick));
        let _ = writeln!(
            out,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            esc(&label),
            svg_chart(&label, &values, axis, color)
        );
    }
    out.push_str("</div>\n");

    out.push_str("<h2>Summary</h2>\n");
    let rows: Vec<Vec<String>> = summary(report)
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    html_table(&mut out, &["Metric", "Value"], &rows, 1);

    out.push_str("<h2>Jobs by state</h2>\n");
    let rows: Vec<Vec<String>> = report
        .states
        .iter()
        .map(|(s, n)| vec![s.name().to_string(), n.to_string()])
        .collect();
    html_table(&mut out, &["State", "Jobs"], &rows, 1);

    out.push_str("<h2>Failed, by reason</h2>\n");
    let rows: Vec<Vec<String>> = report
        .failed_by_reason
        .iter()
        .map(|r| vec![r.reason.clone(), r.count.to_string()])
        .collect();
    html_table(&mut out, &["Reason", "Jobs"], &rows, 1);

    out.push_str("<h2>Deferred now, by rule</h2>\n");
    let rows: Vec<Vec<String>> = report
        .deferred_by_rule
        .iter()
        .map(|r| vec![r.rule.clone(), r.count.to_string()])
        .collect();
    html_table(&mut out, &["Rule", "Jobs"], &rows, 1);

    out.push_str("<h2>Refused, by rule and reason</h2>\n");
    let rows: Vec<Vec<String>> = report
        .refused_by_rule
        .iter()
        .map(|r| vec![r.rule.clone(), r.reason.clone(), r.count.to_string()])
        .collect();
    html_table(&mut out, &["Rule", "Reason", "Jobs"], &rows, 2);

    out.push_str("<h2>Opt-outs, by keyword and tier</h2>\n");
    let rows: Vec<Vec<String>> = report
        .opt_outs
        .by_keyword
        .iter()
        .map(|o| vec![opt_keyword(o), opt_tier(o), o.count.to_string()])
        .collect();
    html_table(&mut out, &["Keyword", "Tier", "Opt-outs"], &rows, 2);
    let rows: Vec<Vec<String>> = report
        .opt_outs
        .by_source
        .iter()
        .map(|s| vec![s.source.clone(), s.count.to_string()])
        .collect();
    if !rows.is_empty() {
        html_table(&mut out, &["Source", "Opt-outs"], &rows, 1);
    }

    out.push_str("<h2>Keywords received</h2>\n");
    let rows: Vec<Vec<String>> = report
        .keywords
        .by_keyword
        .iter()
        .map(|k| vec![k.kind.clone(), k.keyword.clone(), k.count.to_string()])
        .collect();
    html_table(&mut out, &["Kind", "Keyword", "Received"], &rows, 2);
    let _ = writeln!(
        out,
        "<p class=\"meta\">Inbound messages: {}</p>",
        report.inbound
    );

    out.push_str("<h2>Delivery latency (sent to delivered)</h2>\n");
    let rows: Vec<Vec<String>> = report
        .latency
        .iter()
        .map(|l| {
            vec![
                l.samples.to_string(),
                duration(l.p50_s),
                duration(l.p90_s),
                duration(l.p99_s),
                duration(l.max_s),
            ]
        })
        .collect();
    html_table(
        &mut out,
        &["Delivered", "p50", "p90", "p99", "Max"],
        &rows,
        0,
    );

    out.push_str("<h2>Per hour (UTC, hours with activity)</h2>\n");
    let rows: Vec<Vec<String>> = report
        .hours
        .iter()
        .map(|h| {
            vec![
                short_hour(&h.hour),
                h.sent.to_string(),
                h.delivered.to_string(),
                h.deferrals.to_string(),
                h.inbound.to_string(),
                h.keywords.to_string(),
            ]
        })
        .collect();
    html_table(
        &mut out,
        &[
            "Hour",
            "Sent",
            "Delivered",
            "Deferrals",
            "Inbound",
            "Keywords",
        ],
        &rows,
        1,
    );

    if report.campaign.is_none() {
        out.push_str("<h2>Campaigns</h2>\n");
        let rows: Vec<Vec<String>> = report
            .campaigns
            .iter()
            .map(|c| {
                vec![
                    campaign_label(c),
                    c.jobs.to_string(),
                    c.sent.to_string(),
                    c.delivered.to_string(),
                    percent(c.delivery_rate),
                    c.pending.to_string(),
                    c.refused.to_string(),
                    c.failed.to_string(),
                    c.opt_outs.map_or_else(|| "-".into(), |n| n.to_string()),
                ]
            })
            .collect();
        html_table(
            &mut out,
            &[
                "Campaign",
                "Jobs",
                "Sent",
                "Delivered",
                "Rate",
                "Pending",
                "Refused",
                "Failed",
                "Opt-outs",
            ],
            &rows,
            1,
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn campaign_label(c: &CampaignRow) -> String {
    match (&c.name, &c.status) {
        (Some(n), Some(s)) => format!("{n} ({s})"),
        (Some(n), None) => n.clone(),
        (None, _) => "(no campaign)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::T0;

    #[test]
    fn long_spans_group_hours_into_at_most_168_bars() {
        let row = |h: i64| HourRow {
            start: T0.0 + h * 3600,
            sent: 1,
            ..HourRow::default()
        };
        let a = axis(&[row(0), row(5)]).unwrap();
        assert_eq!((a.step, a.bars), (3600, 6));
        let hours = [row(0), row(24 * 30)];
        let a = axis(&hours).unwrap();
        assert_eq!(a.step, 6 * 3600);
        assert!(a.bars <= MAX_BARS as usize);
        let values = bucket(a, &hours, |h| h.sent);
        assert_eq!(values.iter().sum::<u64>(), 2);
        assert_eq!((values[0], values[a.bars - 1]), (1, 1));
        assert_eq!(axis(&[]), None);
    }
}
