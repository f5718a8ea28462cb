//! `relais report [--campaign NAME] [--format table|json|csv|html]`: what happened to
//! the jobs of one campaign, or of every job in the store — states, sends and
//! deliveries, failures by reason, deferrals and refusals by deciding rule, opt-outs by
//! keyword and tier, keywords and inbound messages received, delivery latency, and
//! activity per UTC hour — as a terminal table, JSON, `metric,value` CSV, or one
//! self-contained HTML page with bar charts.
//!
//! [`build`] reads the numbers, [`render`] writes them in a [`Format`]. This file holds
//! the model; the SQL is in `query`, the renderers in `table`, `csv` and `html` (JSON is
//! the model's `Serialize`).
//!
//! - Every count is an SQL aggregate over the store's indexes, and all queries read one
//!   snapshot (one read transaction), so the numbers agree with each other while a
//!   daemon keeps writing. Latency percentiles stream the delivered jobs' latencies in
//!   order and keep four values: a report on a million jobs holds only grouped rows.
//! - For one campaign: its jobs; and opt-outs, keywords and inbound messages from the
//!   numbers of its jobs received since the campaign was created. Without a campaign:
//!   every job, opt-out, keyword and inbound message, plus one row per campaign (and one
//!   for jobs sent outside any campaign).
//! - Opt-outs come from the opt-out log (`optout_log`, action `opt-out`): SMS keywords
//!   (every opt-out keyword the device acted on is logged there with its keyword and
//!   tier) and opt-outs from the command line or imports (no keyword). The raw keyword
//!   table (kind `opt-out`, `opt-in`, `help`, `possible-opt-out`) is reported under
//!   keywords received.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::store::{Campaign, JobState, Store};

mod csv;
mod html;
mod query;
mod table;
#[cfg(test)]
mod tests;

pub use self::csv::metrics;

// ----- the numbers ----------------------------------------------------------------

/// Everything `relais report` shows, for one campaign or for the whole store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The campaign reported on; `None` for every job in the store.
    pub campaign: Option<CampaignInfo>,
    /// When the selected jobs were created and last changed; `None` without jobs.
    pub period: Option<Period>,
    /// Jobs in all.
    pub jobs: u64,
    /// Jobs per state, every state present.
    pub states: StateCounts,
    /// Jobs that reached a device (`submitted_at` set), whatever happened next.
    pub submitted: u64,
    /// Jobs the network accepted (`sent_at` set): sent, delivered and undelivered.
    pub sent: u64,
    /// Jobs delivery reports say were delivered.
    pub delivered: u64,
    /// Jobs delivery reports say failed or expired.
    pub undelivered: u64,
    /// Jobs that failed (permanent failure, or retries used up).
    pub failed: u64,
    /// Failed jobs by reason (`cms-500`, `no-prompt`, ...), most first.
    pub failed_by_reason: Vec<ReasonCount>,
    /// Jobs that may or may not have been sent (never resent).
    pub unknown: u64,
    /// Jobs waiting in the host or on a device (queued, deferred, retry, submitted,
    /// accepted, held, sending).
    pub pending: u64,
    /// Jobs deferred right now, by the host (`deferred`) or a device (`held`).
    pub deferred: u64,
    /// Jobs deferred right now by deciding rule, most first.
    pub deferred_by_rule: Vec<RuleCount>,
    /// Jobs refused by a compliance rule.
    pub refused: u64,
    /// Refused jobs by deciding rule and reason, most first.
    pub refused_by_rule: Vec<RefusalCount>,
    /// Jobs not sent before their expiry.
    pub expired: u64,
    /// Jobs cancelled before they were sent.
    pub cancelled: u64,
    /// `delivered / sent`; `None` when nothing was sent.
    pub delivery_rate: Option<f64>,
    /// Opt-outs recorded in the period.
    pub opt_outs: OptOuts,
    /// Keywords the devices recognised and acted on.
    pub keywords: Keywords,
    /// Inbound messages received.
    pub inbound: u64,
    /// Send-to-delivery latency of delivered jobs; `None` when none was delivered.
    pub latency: Option<Latency>,
    /// Activity per UTC hour, oldest first; hours without any activity are left out.
    pub hours: Vec<HourRow>,
    /// One row per campaign (then one for jobs outside any campaign) when the report
    /// covers the whole store; empty for a one-campaign report.
    pub campaigns: Vec<CampaignRow>,
    /// Devices that halted (their store failed during a send) and send nothing until
    /// they restart, as they last reported.
    pub halted_devices: Vec<HaltedDevice>,
}

/// A device that stopped sending on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HaltedDevice {
    /// The device.
    pub device: String,
    /// Why (`store-full`, `store-medium`, `store-corrupt`).
    pub reason: String,
    /// When it last reported.
    pub since: String,
}

impl HaltedDevice {
    fn line(&self) -> String {
        format!(
            "Device {} is HALTED ({}, reported {}): its store failed while it recorded a send, \
             and it sends nothing until it restarts.",
            self.device, self.reason, self.since
        )
    }
}

/// The campaign a report covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CampaignInfo {
    /// Its name.
    pub name: String,
    /// `draft`, `running` or `paused`.
    pub status: String,
    /// Its brand.
    pub brand: String,
    /// Its message class (`marketing`, `transactional`).
    pub class: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
}

impl CampaignInfo {
    fn of(c: &Campaign) -> CampaignInfo {
        CampaignInfo {
            name: c.name.clone(),
            status: c.status.name().to_string(),
            brand: c.brand.clone(),
            class: c.class.name().to_string(),
            created_at: c.created_at.to_string(),
        }
    }
}

/// The time span of the selected jobs (RFC 3339, UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Creation of the first job.
    pub from: String,
    /// Last change of any job.
    pub to: String,
}

/// Jobs per state, every [`JobState`] present (0 included). Serialises as an object in
/// lifecycle order: `{"queued": 3, "deferred": 0, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts([u64; JobState::ALL.len()]);

impl StateCounts {
    /// Jobs in `state`.
    pub fn get(&self, state: JobState) -> u64 {
        self.0.get(state_index(state)).copied().unwrap_or(0)
    }

    /// Every state and its count, in lifecycle order.
    pub fn iter(&self) -> impl Iterator<Item = (JobState, u64)> + '_ {
        JobState::ALL.into_iter().zip(self.0.iter().copied())
    }

    fn add(&mut self, state: JobState, n: u64) {
        if let Some(slot) = self.0.get_mut(state_index(state)) {
            *slot += n;
        }
    }

    fn sum(&self, pick: impl Fn(JobState) -> bool) -> u64 {
        self.iter().filter(|(s, _)| pick(*s)).map(|(_, n)| n).sum()
    }
}

fn state_index(state: JobState) -> usize {
    JobState::ALL
        .iter()
        .position(|s| *s == state)
        .unwrap_or(usize::MAX)
}

impl Serialize for StateCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (state, n) in self.iter() {
            map.serialize_entry(state.name(), &n)?;
        }
        map.end()
    }
}

/// Jobs with one failure reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason (`unspecified` when none was stored).
    pub reason: String,
    /// Jobs.
    pub count: u64,
}

/// Jobs with one deciding rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// The rule id (`fr.quiet-hours`, ...; `unspecified` when none was stored).
    pub rule: String,
    /// Jobs.
    pub count: u64,
}

/// Refused jobs with one deciding rule and reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusalCount {
    /// The rule id (`unspecified` when none was stored).
    pub rule: String,
    /// The refusal reason (`opted-out`, `no-consent`, ...; `unspecified` when none).
    pub reason: String,
    /// Jobs.
    pub count: u64,
}

/// Opt-outs recorded in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OptOuts {
    /// Opt-outs in all.
    pub total: u64,
    /// By keyword and matching tier, most first.
    pub by_keyword: Vec<OptOutCount>,
    /// By source kind (`sms`, `cli`, `import`, ...: the source up to its first `:`).
    pub by_source: Vec<SourceCount>,
}

/// Opt-outs with one keyword and tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OptOutCount {
    /// The keyword; `None` for opt-outs that did not come by SMS.
    pub keyword: Option<String>,
    /// Its matching tier (docs/compliance.md § Normalisation and matching, 1 = exact);
    /// `None` without a keyword.
    pub tier: Option<i64>,
    /// Opt-outs.
    pub count: u64,
}

/// Opt-outs from one kind of source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    /// `sms`, `cli`, `import`, ...
    pub source: String,
    /// Opt-outs.
    pub count: u64,
}

/// Keywords received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Keywords {
    /// Keywords in all.
    pub total: u64,
    /// By kind (`help`, `opt-in`, `opt-out`, `possible-opt-out`), alphabetical.
    pub by_kind: Vec<KindCount>,
    /// By kind and keyword.
    pub by_keyword: Vec<KeywordCount>,
}

/// Keywords of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// The kind.
    pub kind: String,
    /// Keywords.
    pub count: u64,
}

/// One keyword of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeywordCount {
    /// The kind.
    pub kind: String,
    /// The keyword as matched (normalised by the device).
    pub keyword: String,
    /// Times received.
    pub count: u64,
}

/// Send-to-delivery latency (`delivered_at - sent_at`) of delivered jobs, in seconds.
///
/// Percentiles are nearest-rank: the smallest latency with at least p % of the samples
/// at or below it. `delivered_at` is the service centre's discharge time and `sent_at`
/// the host's clock; a negative difference (clocks apart) counts as 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Delivered jobs measured.
    pub samples: u64,
    /// Median.
    pub p50_s: i64,
    /// 90th percentile.
    pub p90_s: i64,
    /// 99th percentile.
    pub p99_s: i64,
    /// Longest.
    pub max_s: i64,
}

/// Activity in one UTC hour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HourRow {
    /// Start of the hour, RFC 3339 (`2026-06-01T14:00:00Z`).
    pub hour: String,
    /// Start of the hour, seconds since 1970.
    pub start: i64,
    /// Jobs sent (by `sent_at`).
    pub sent: u64,
    /// Jobs delivered (by `delivered_at`).
    pub delivered: u64,
    /// Inbound messages (by service-centre time).
    pub inbound: u64,
    /// Keywords acted on.
    pub keywords: u64,
    /// Deferrals: changes to `deferred` (host) or `held` (device) in the job history.
    pub deferrals: u64,
}

/// One campaign's line in a whole-store report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CampaignRow {
    /// The campaign; `None` for jobs outside any campaign (`relais send`).
    pub name: Option<String>,
    /// Its status; `None` for jobs outside any campaign.
    pub status: Option<String>,
    /// Jobs.
    pub jobs: u64,
    /// Reached a device.
    pub submitted: u64,
    /// Sent (`sent_at` set).
    pub sent: u64,
    /// Delivered.
    pub delivered: u64,
    /// Undelivered.
    pub undelivered: u64,
    /// Failed.
    pub failed: u64,
    /// Refused.
    pub refused: u64,
    /// Waiting or on a device.
    pub pending: u64,
    /// Deferred now (`deferred` or `held`).
    pub deferred: u64,
    /// Outcome unknown.
    pub unknown: u64,
    /// Expired.
    pub expired: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// `delivered / sent`; `None` when nothing was sent.
    pub delivery_rate: Option<f64>,
    /// Opt-outs from its numbers since it was created; `None` outside campaigns.
    pub opt_outs: Option<u64>,
}

/// Builds the report for campaign `campaign`, or for the whole store when `None`.
///
/// An unknown campaign is an error naming the known ones; so is a database error.
pub fn build(store: &Store, campaign: Option<&str>) -> Result<Report, String> {
    let (info, sel) = match campaign {
        Some(name) => {
            let found = store
                .campaign(name)
                .map_err(|e| format!("cannot read the campaigns: {e}"))?;
            let Some(c) = found else {
                return Err(unknown_campaign(store, name));
            };
            (
                Some(CampaignInfo::of(&c)),
                query::Sel {
                    campaign: Some((c.id, c.created_at.0)),
                },
            )
        }
        None => (None, query::Sel { campaign: None }),
    };
    store
        .snapshot(|s| query::collect(s, info, sel))
        .map_err(|e| format!("cannot build the report: {e}"))
}

fn unknown_campaign(store: &Store, name: &str) -> String {
    const SHOWN: usize = 20;
    match store.campaigns() {
        Ok(list) if list.is_empty() => {
            format!("no campaign named {name:?}: the store has no campaigns yet")
        }
        Ok(list) => {
            let mut names: Vec<String> = list
                .iter()
                .take(SHOWN)
                .map(|c| format!("{:?}", c.name))
                .collect();
            if list.len() > SHOWN {
                names.push(format!("and {} more", list.len() - SHOWN));
            }
            format!(
                "no campaign named {name:?}; known campaigns: {}",
                names.join(", ")
            )
        }
        Err(e) => format!("no campaign named {name:?} (and the campaigns cannot be listed: {e})"),
    }
}

// ----- formats --------------------------------------------------------------------

/// How [`render`] writes a report (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for an 80-column terminal.
    #[default]
    Table,
    /// Pretty-printed JSON of [`Report`].
    Json,
    /// `metric,value` rows with stable metric names.
    Csv,
    /// One self-contained HTML page with inline CSS and SVG charts.
    Html,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [Format::Table, Format::Json, Format::Csv, Format::Html];

    /// Its name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    /// `table`, `json`, `csv` or `html`, in any case.
    fn from_str(s: &str) -> Result<Format, String> {
        let wanted = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("unknown report format {s:?}; use table, json, csv or html"))
    }
}

/// Writes `report` in `format`. Every format ends with a newline.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render_table(report),
        Format::Json => match serde_json::to_string_pretty(report) {
            Ok(mut s) => {
                s.push('\n');
                s
            }
            Err(e) => format!("{}\n", serde_json::json!({ "error": e.to_string() })),
        },
        Format::Csv => {
            self::csv::render_csv(report).unwrap_or_else(|e| format!("metric,value\nerror,{e}\n"))
        }
        Format::Html => html::render_html(report),
    }
}

/// What the report covers, in words.
fn scope_line(report: &Report) -> String {
    match &report.campaign {
        Some(c) => format!(
            "Campaign \"{}\": {}, brand {}, {}, created {}",
            c.name, c.status, c.brand, c.class, c.created_at
        ),
        None => "All jobs in the store".to_string(),
    }
}

fn period_line(report: &Report) -> String {
    match &report.period {
        Some(p) => format!(
            "Jobs created from {}; last change {}. Times are UTC.",
            p.from, p.to
        ),
        None => "No jobs.".to_string(),
    }
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{:.1} %", r * 100.0))
}

/// `42 s`, `3 min 05 s`, `2 h 03 min`.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

/// The headline numbers as (label, value) pairs, shared by the table and the HTML.
fn summary(report: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("Jobs", report.jobs.to_string()),
        ("Submitted to a device", report.submitted.to_string()),
        ("Sent", report.sent.to_string()),
        ("Delivered", report.delivered.to_string()),
        ("Undelivered", report.undelivered.to_string()),
        (
            "Delivery rate (delivered / sent)",
            percent(report.delivery_rate),
        ),
        ("Failed", report.failed.to_string()),
        ("Outcome unknown", report.unknown.to_string()),
        (
            "Pending (waiting or on a device)",
            report.pending.to_string(),
        ),
        ("Deferred now", report.deferred.to_string()),
        ("Refused", report.refused.to_string()),
        ("Expired", report.expired.to_string()),
        ("Cancelled", report.cancelled.to_string()),
        ("Opt-outs", report.opt_outs.total.to_string()),
        ("Keywords received", report.keywords.total.to_string()),
        ("Inbound messages", report.inbound.to_string()),
    ]
}

fn opt_keyword(o: &OptOutCount) -> String {
    o.keyword.clone().unwrap_or_else(|| "(no keyword)".into())
}

fn opt_tier(o: &OptOutCount) -> String {
    o.tier.map_or_else(|| "-".into(), |t| t.to_string())
}

/// `2026-06-01 14:00` from `2026-06-01T14:00:00Z`.
fn short_hour(rfc3339: &str) -> String {
    rfc3339
        .get(..16)
        .map_or_else(|| rfc3339.to_string(), |s| s.replacen('T', " ", 1))
}
