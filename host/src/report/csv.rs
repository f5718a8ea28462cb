//! The report as `metric,value` CSV (`--format csv`) and the [`metrics`] behind it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Latency, Report};

/// The report as `(metric, value)` pairs with stable names, as the CSV format writes
/// them: `jobs.total`, `state.<state>` (every state), `jobs.sent`, `delivery_rate`
/// (4 decimals, empty when nothing was sent), `failed.reason.<reason>`,
/// `deferred.rule.<rule>`, `refused.rule.<rule>`, `refused.reason.<reason>`,
/// `optout.total`, `optout.keyword.<keyword>.tier.<n>`, `optout.no_keyword`,
/// `optout.source.<source>`, `keywords.total`, `keywords.kind.<kind>`,
/// `keyword.<kind>.<keyword>`, `inbound.total`, `latency.samples`,
/// `latency.{p50,p90,p99,max}_s` (empty without deliveries), `hour.<RFC 3339>.<series>`
/// for hours with activity, and for a whole-store report `campaign.<name>.<metric>`
/// (`no_campaign.<metric>` for jobs outside campaigns).
pub fn metrics(report: &Report) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = Vec::new();
    let mut put = |name: String, value: String| m.push((name, value));
    put(
        "report.campaign".into(),
        report
            .campaign
            .as_ref()
            .map_or_else(String::new, |c| c.name.clone()),
    );
    put(
        "period.from".into(),
        report
            .period
            .as_ref()
            .map_or_else(String::new, |p| p.from.clone()),
    );
    put(
        "period.to".into(),
        report
            .period
            .as_ref()
            .map_or_else(String::new, |p| p.to.clone()),
    );
    put("jobs.total".into(), report.jobs.to_string());
    for d in &report.halted_devices {
        put(format!("device.{}.halted", d.device), d.reason.clone());
    }
    for (state, n) in report.states.iter() {
        put(format!("state.{}", state.name()), n.to_string());
    }
    for (name, n) in [
        ("submitted", report.submitted),
        ("sent", report.sent),
        ("delivered", report.delivered),
        ("undelivered", report.undelivered),
        ("failed", report.failed),
        ("unknown", report.unknown),
        ("pending", report.pending),
        ("deferred", report.deferred),
        ("refused", report.refused),
        ("expired", report.expired),
        ("cancelled", report.cancelled),
    ] {
        put(format!("jobs.{name}"), n.to_string());
    }
    put("delivery_rate".into(), rate_value(report.delivery_rate));
    for r in &report.failed_by_reason {
        put(format!("failed.reason.{}", r.reason), r.count.to_string());
    }
    for r in &report.deferred_by_rule {
        put(format!("deferred.rule.{}", r.rule), r.count.to_string());
    }
    let mut refused_rules: BTreeMap<&str, u64> = BTreeMap::new();
    let mut refused_reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &report.refused_by_rule {
        *refused_rules.entry(&r.rule).or_default() += r.count;
        *refused_reasons.entry(&r.reason).or_default() += r.count;
    }
    for (rule, n) in refused_rules {
        put(format!("refused.rule.{rule}"), n.to_string());
    }
    for (reason, n) in refused_reasons {
        put(format!("refused.reason.{reason}"), n.to_string());
    }
    put("optout.total".into(), report.opt_outs.total.to_string());
    for o in &report.opt_outs.by_keyword {
        let mut name = match &o.keyword {
            Some(k) => format!("optout.keyword.{k}"),
            None => "optout.no_keyword".to_string(),
        };
        if let Some(t) = o.tier {
            let _ = write!(name, ".tier.{t}");
        }
        put(name, o.count.to_string());
    }
    for s in &report.opt_outs.by_source {
        put(format!("optout.source.{}", s.source), s.count.to_string());
    }
    put("keywords.total".into(), report.keywords.total.to_string());
    for k in &report.keywords.by_kind {
        put(format!("keywords.kind.{}", k.kind), k.count.to_string());
    }
    for k in &report.keywords.by_keyword {
        put(
            format!("keyword.{}.{}", k.kind, k.keyword),
            k.count.to_string(),
        );
    }
    put("inbound.total".into(), report.inbound.to_string());
    let l = report.latency.as_ref();
    put(
        "latency.samples".into(),
        l.map_or(0, |l| l.samples).to_string(),
    );
    for (name, pick) in [
        ("p50_s", (|l: &Latency| l.p50_s) as fn(&Latency) -> i64),
        ("p90_s", |l| l.p90_s),
        ("p99_s", |l| l.p99_s),
        ("max_s", |l| l.max_s),
    ] {
        put(
            format!("latency.{name}"),
            l.map_or_else(String::new, |l| pick(l).to_string()),
        );
    }
    for h in &report.hours {
        for (series, n) in [
            ("sent", h.sent),
            ("delivered", h.delivered),
            ("inbound", h.inbound),
            ("keywords", h.keywords),
            ("deferrals", h.deferrals),
        ] {
            put(format!("hour.{}.{series}", h.hour), n.to_string());
        }
    }
    for c in &report.campaigns {
        let prefix = match &c.name {
            Some(n) => format!("campaign.{n}"),
            None => "no_campaign".to_string(),
        };
        for (name, n) in [
            ("jobs", c.jobs),
            ("submitted", c.submitted),
            ("sent", c.sent),
            ("delivered", c.delivered),
            ("undelivered", c.undelivered),
            ("failed", c.failed),
            ("refused", c.refused),
            ("pending", c.pending),
            ("deferred", c.deferred),
            ("unknown", c.unknown),
            ("expired", c.expired),
            ("cancelled", c.cancelled),
        ] {
            put(format!("{prefix}.{name}"), n.to_string());
        }
        put(
            format!("{prefix}.delivery_rate"),
            rate_value(c.delivery_rate),
        );
        if let Some(n) = c.opt_outs {
            put(format!("{prefix}.opt_outs"), n.to_string());
        }
    }
    m
}

fn rate_value(r: Option<f64>) -> String {
    r.map_or_else(String::new, |r| format!("{r:.4}"))
}

pub(super) fn render_csv(report: &Report) -> Result<String, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["metric", "value"])?;
    for (metric, value) in metrics(report) {
        w.write_record([metric, value])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
