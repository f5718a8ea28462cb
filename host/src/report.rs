//! `relais report [--campaign NAME] [--format table|json|csv|html]`: what happened to
//! the jobs of one campaign, or of every job in the store — states, sends and
//! deliveries, failures by reason, deferrals and refusals by deciding rule, opt-outs by
//! keyword and tier, keywords and inbound messages received, delivery latency, and
//! activity per UTC hour — as a terminal table, JSON, `metric,value` CSV, or one
//! self-contained HTML page with bar charts.
//!
//! [`build`] reads the numbers, [`render`] writes them in a [`Format`].
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

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};
use relais_core::compliance::tz::UtcInstant;
use rusqlite::Connection;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::store::{Campaign, JobState, Store, StoreError};

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
                Sel {
                    campaign: Some((c.id, c.created_at.0)),
                },
            )
        }
        None => (None, Sel { campaign: None }),
    };
    collect(store, info, sel).map_err(|e| format!("cannot build the report: {e}"))
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

/// Which rows a report covers. Ids and times are integers read from the store, so they
/// are written into the SQL text as numbers; no user text is ever formatted into SQL.
#[derive(Clone, Copy, Debug)]
struct Sel {
    /// Campaign id and creation time.
    campaign: Option<(i64, i64)>,
}

impl Sel {
    /// Condition on `jobs` rows.
    fn jobs(self) -> String {
        match self.campaign {
            Some((id, _)) => format!("campaign_id = {id}"),
            None => "1".into(),
        }
    }

    /// Condition on rows with a sender or number column and a time column: from a
    /// number of the campaign's jobs, since the campaign was created.
    fn by_numbers(self, number: &str, at: &str) -> String {
        match self.campaign {
            Some((id, since)) => format!(
                "{at} >= {since} AND EXISTS (SELECT 1 FROM jobs j WHERE j.number = {number} AND j.campaign_id = {id})"
            ),
            None => "1".into(),
        }
    }

    /// Condition on `job_history` rows (alias `h`).
    fn history(self) -> String {
        match self.campaign {
            Some((id, _)) => format!("h.job_id IN (SELECT id FROM jobs WHERE campaign_id = {id})"),
            None => "1".into(),
        }
    }
}

type Sql<T> = std::result::Result<T, StoreError>;

fn rows<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Sql<Vec<T>> {
    let mut st = conn.prepare(sql)?;
    let out = st.query_map([], f)?.collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

fn count(conn: &Connection, sql: &str) -> Sql<u64> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// A non-negative count from column `i`.
fn col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
}

/// `'a', 'b', ...` of the states `pick` selects (names are constants, not user text).
fn state_list(pick: impl Fn(JobState) -> bool) -> String {
    JobState::ALL
        .into_iter()
        .filter(|s| pick(*s))
        .map(|s| format!("'{}'", s.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_pending(s: JobState) -> bool {
    s.is_waiting() || s.is_on_device()
}

fn is_deferred(s: JobState) -> bool {
    matches!(s, JobState::Deferred | JobState::Held)
}

fn rate(delivered: u64, sent: u64) -> Option<f64> {
    (sent > 0).then(|| delivered as f64 / sent as f64)
}

fn collect(store: &Store, campaign: Option<CampaignInfo>, sel: Sel) -> Sql<Report> {
    let conn = store.connection();
    // One read transaction: every query sees the same snapshot (rolled back on drop).
    let snapshot = conn.unchecked_transaction()?;
    let f = sel.jobs();

    let mut states = StateCounts::default();
    let by_state = rows(
        conn,
        &format!("SELECT state, count(*) FROM jobs WHERE {f} GROUP BY state"),
        |r| Ok((r.get::<_, String>(0)?, col(r, 1)?)),
    )?;
    for (name, n) in by_state {
        if let Some(state) = JobState::parse(&name) {
            states.add(state, n);
        }
    }

    let (jobs, submitted, sent, first, last) = conn.query_row(
        &format!(
            "SELECT count(*), count(submitted_at), count(sent_at), min(created_at), max(updated_at)
             FROM jobs WHERE {f}"
        ),
        [],
        |r| {
            Ok((
                col(r, 0)?,
                col(r, 1)?,
                col(r, 2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        },
    )?;
    let period = first.zip(last).map(|(from, to)| Period {
        from: UtcInstant(from).to_string(),
        to: UtcInstant(to).to_string(),
    });

    let failed_by_reason = rows(
        conn,
        &format!(
            "SELECT coalesce(reason, 'unspecified') AS k, count(*) FROM jobs
             WHERE {f} AND state = 'failed' GROUP BY k ORDER BY count(*) DESC, k"
        ),
        |r| {
            Ok(ReasonCount {
                reason: r.get(0)?,
                count: col(r, 1)?,
            })
        },
    )?;
    let deferred_by_rule = rows(
        conn,
        &format!(
            "SELECT coalesce(rule, 'unspecified') AS k, count(*) FROM jobs
             WHERE {f} AND state IN ({}) GROUP BY k ORDER BY count(*) DESC, k",
            state_list(is_deferred)
        ),
        |r| {
            Ok(RuleCount {
                rule: r.get(0)?,
                count: col(r, 1)?,
            })
        },
    )?;
    let refused_by_rule = rows(
        conn,
        &format!(
            "SELECT coalesce(rule, 'unspecified') AS k, coalesce(reason, 'unspecified') AS why,
                    count(*) FROM jobs
             WHERE {f} AND state = 'refused' GROUP BY k, why ORDER BY count(*) DESC, k, why"
        ),
        |r| {
            Ok(RefusalCount {
                rule: r.get(0)?,
                reason: r.get(1)?,
                count: col(r, 2)?,
            })
        },
    )?;

    let delivered = states.get(JobState::Delivered);
    let report = Report {
        campaign,
        period,
        jobs,
        submitted,
        sent,
        delivered,
        undelivered: states.get(JobState::Undelivered),
        failed: states.get(JobState::Failed),
        failed_by_reason,
        unknown: states.get(JobState::Unknown),
        pending: states.sum(is_pending),
        deferred: states.sum(is_deferred),
        deferred_by_rule,
        refused: states.get(JobState::Refused),
        refused_by_rule,
        expired: states.get(JobState::Expired),
        cancelled: states.get(JobState::Cancelled),
        delivery_rate: rate(delivered, sent),
        opt_outs: opt_outs(conn, sel)?,
        keywords: keywords(conn, sel)?,
        inbound: count(
            conn,
            &format!(
                "SELECT count(*) FROM inbound i WHERE {}",
                sel.by_numbers("i.sender", "i.at")
            ),
        )?,
        latency: latency(conn, sel)?,
        hours: hours(conn, sel)?,
        campaigns: if sel.campaign.is_none() {
            campaign_rows(store)?
        } else {
            Vec::new()
        },
        halted_devices: halted_devices(conn)?,
        states,
    };
    drop(snapshot);
    Ok(report)
}

fn halted_devices(conn: &Connection) -> Sql<Vec<HaltedDevice>> {
    rows(
        conn,
        "SELECT name, json_extract(status, '$.halted'), updated_at FROM devices
         WHERE json_extract(status, '$.halted') IS NOT NULL ORDER BY name",
        |r| {
            Ok(HaltedDevice {
                device: r.get(0)?,
                reason: r.get(1)?,
                since: UtcInstant(r.get(2)?).to_string(),
            })
        },
    )
}

fn opt_outs(conn: &Connection, sel: Sel) -> Sql<OptOuts> {
    let w = format!(
        "o.action = 'opt-out' AND {}",
        sel.by_numbers("o.number", "o.at")
    );
    let by_keyword = rows(
        conn,
        &format!(
            "SELECT keyword, tier, count(*) FROM optout_log o WHERE {w}
             GROUP BY keyword, tier ORDER BY count(*) DESC, keyword, tier"
        ),
        |r| {
            Ok(OptOutCount {
                keyword: r.get(0)?,
                tier: r.get(1)?,
                count: col(r, 2)?,
            })
        },
    )?;
    let by_source = rows(
        conn,
        &format!(
            "SELECT CASE WHEN instr(source, ':') > 0 THEN substr(source, 1, instr(source, ':') - 1)
                         ELSE source END AS s, count(*)
             FROM optout_log o WHERE {w} GROUP BY s ORDER BY count(*) DESC, s"
        ),
        |r| {
            Ok(SourceCount {
                source: r.get(0)?,
                count: col(r, 1)?,
            })
        },
    )?;
    Ok(OptOuts {
        total: by_keyword.iter().map(|o| o.count).sum(),
        by_keyword,
        by_source,
    })
}

fn keywords(conn: &Connection, sel: Sel) -> Sql<Keywords> {
    let by_keyword = rows(
        conn,
        &format!(
            "SELECT kind, keyword, count(*) FROM keywords k WHERE {}
             GROUP BY kind, keyword ORDER BY kind, count(*) DESC, keyword",
            sel.by_numbers("k.sender", "k.at")
        ),
        |r| {
            Ok(KeywordCount {
                kind: r.get(0)?,
                keyword: r.get(1)?,
                count: col(r, 2)?,
            })
        },
    )?;
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for k in &by_keyword {
        *kinds.entry(k.kind.as_str()).or_default() += k.count;
    }
    Ok(Keywords {
        total: by_keyword.iter().map(|k| k.count).sum(),
        by_kind: kinds
            .into_iter()
            .map(|(kind, count)| KindCount {
                kind: kind.to_string(),
                count,
            })
            .collect(),
        by_keyword,
    })
}

/// Index (0-based) of the nearest-rank `p`th percentile among `n >= 1` sorted samples.
fn rank(p: u64, n: u64) -> u64 {
    (p * n).div_ceil(100).clamp(1, n) - 1
}

fn latency(conn: &Connection, sel: Sel) -> Sql<Option<Latency>> {
    let w = format!(
        "{} AND state = 'delivered' AND sent_at IS NOT NULL AND delivered_at IS NOT NULL",
        sel.jobs()
    );
    let n = count(conn, &format!("SELECT count(*) FROM jobs WHERE {w}"))?;
    if n == 0 {
        return Ok(None);
    }
    let want = [rank(50, n), rank(90, n), rank(99, n)];
    let mut got = [0i64; 3];
    let mut max = 0i64;
    let mut st = conn.prepare(&format!(
        "SELECT max(0, delivered_at - sent_at) AS l FROM jobs WHERE {w} ORDER BY l"
    ))?;
    let mut cursor = st.query([])?;
    let mut i = 0u64;
    while let Some(row) = cursor.next()? {
        let v: i64 = row.get(0)?;
        for (w, g) in want.iter().zip(got.iter_mut()) {
            if *w == i {
                *g = v;
            }
        }
        max = v;
        i += 1;
    }
    Ok(Some(Latency {
        samples: n,
        p50_s: got[0],
        p90_s: got[1],
        p99_s: got[2],
        max_s: max,
    }))
}

fn hours(conn: &Connection, sel: Sel) -> Sql<Vec<HourRow>> {
    let f = sel.jobs();
    let queries = [
        format!(
            "SELECT sent_at / 3600, count(*) FROM jobs WHERE {f} AND sent_at IS NOT NULL GROUP BY 1"
        ),
        format!(
            "SELECT delivered_at / 3600, count(*) FROM jobs
             WHERE {f} AND state = 'delivered' AND delivered_at IS NOT NULL GROUP BY 1"
        ),
        format!(
            "SELECT i.at / 3600, count(*) FROM inbound i WHERE {} GROUP BY 1",
            sel.by_numbers("i.sender", "i.at")
        ),
        format!(
            "SELECT k.at / 3600, count(*) FROM keywords k WHERE {} GROUP BY 1",
            sel.by_numbers("k.sender", "k.at")
        ),
        format!(
            "SELECT h.at / 3600, count(*) FROM job_history h
             WHERE h.state IN ({}) AND {} GROUP BY 1",
            state_list(is_deferred),
            sel.history()
        ),
    ];
    let mut map: BTreeMap<i64, HourRow> = BTreeMap::new();
    for (which, sql) in queries.iter().enumerate() {
        for (hour, n) in rows(conn, sql, |r| Ok((r.get::<_, i64>(0)?, col(r, 1)?)))? {
            let start = hour.saturating_mul(3600);
            let row = map.entry(hour).or_insert_with(|| HourRow {
                hour: UtcInstant(start).to_string(),
                start,
                ..HourRow::default()
            });
            let slot = match which {
                0 => &mut row.sent,
                1 => &mut row.delivered,
                2 => &mut row.inbound,
                3 => &mut row.keywords,
                _ => &mut row.deferrals,
            };
            *slot += n;
        }
    }
    Ok(map.into_values().collect())
}

fn campaign_rows(store: &Store) -> Sql<Vec<CampaignRow>> {
    let conn = store.connection();
    // One pass over the table: through the (campaign_id, state) index every row would
    // cost a random read of its time stamps (measured 4x slower on a million jobs).
    let sql = format!(
        "SELECT campaign_id, count(*), count(submitted_at), count(sent_at),
                sum(state = 'delivered'), sum(state = 'undelivered'), sum(state = 'failed'),
                sum(state = 'refused'), sum(state IN ({})), sum(state IN ({})),
                sum(state = 'unknown'), sum(state = 'expired'), sum(state = 'cancelled')
         FROM jobs NOT INDEXED GROUP BY campaign_id",
        state_list(is_pending),
        state_list(is_deferred)
    );
    let mut by_id: BTreeMap<Option<i64>, CampaignRow> = BTreeMap::new();
    for (id, row) in rows(conn, &sql, |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?,
            CampaignRow {
                name: None,
                status: None,
                jobs: col(r, 1)?,
                submitted: col(r, 2)?,
                sent: col(r, 3)?,
                delivered: col(r, 4)?,
                undelivered: col(r, 5)?,
                failed: col(r, 6)?,
                refused: col(r, 7)?,
                pending: col(r, 8)?,
                deferred: col(r, 9)?,
                unknown: col(r, 10)?,
                expired: col(r, 11)?,
                cancelled: col(r, 12)?,
                delivery_rate: None,
                opt_outs: None,
            },
        ))
    })? {
        by_id.insert(id, row);
    }
    // Opt-outs per campaign in one query driven by the (small) opt-out log: each
    // opt-out finds its number's jobs through the number index (`CROSS JOIN` keeps that
    // order), counted once per campaign created before it.
    let opt_outs: BTreeMap<i64, u64> = rows(
        conn,
        "SELECT j.campaign_id, count(DISTINCT o.id) FROM optout_log o
         CROSS JOIN jobs j ON j.number = o.number
         JOIN campaigns c ON c.id = j.campaign_id AND o.at >= c.created_at
         WHERE o.action = 'opt-out' GROUP BY j.campaign_id",
        |r| Ok((r.get(0)?, col(r, 1)?)),
    )?
    .into_iter()
    .collect();
    let mut out = Vec::new();
    for c in store.campaigns()? {
        let mut row = by_id.remove(&Some(c.id)).unwrap_or_default();
        row.opt_outs = Some(opt_outs.get(&c.id).copied().unwrap_or(0));
        row.name = Some(c.name);
        row.status = Some(c.status.name().to_string());
        out.push(row);
    }
    // Jobs outside any campaign, then (should the store hold any) jobs whose campaign
    // row is missing, each under no name.
    out.extend(by_id.into_values());
    for row in &mut out {
        row.delivery_rate = rate(row.delivered, row.sent);
    }
    Ok(out)
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
        Format::Table => render_table(report),
        Format::Json => match serde_json::to_string_pretty(report) {
            Ok(mut s) => {
                s.push('\n');
                s
            }
            Err(e) => format!("{}\n", serde_json::json!({ "error": e.to_string() })),
        },
        Format::Csv => render_csv(report).unwrap_or_else(|e| format!("metric,value\nerror,{e}\n")),
        Format::Html => render_html(report),
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

// ----- table ------------------------------------------------------------------------

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

fn render_table(report: &Report) -> String {
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

fn campaign_label(c: &CampaignRow) -> String {
    match (&c.name, &c.status) {
        (Some(n), Some(s)) => format!("{n} ({s})"),
        (Some(n), None) => n.clone(),
        (None, _) => "(no campaign)".into(),
    }
}

/// `2026-06-01 14:00` from `2026-06-01T14:00:00Z`.
fn short_hour(rfc3339: &str) -> String {
    rfc3339
        .get(..16)
        .map_or_else(|| rfc3339.to_string(), |s| s.replacen('T', " ", 1))
}

// ----- CSV --------------------------------------------------------------------------

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

fn render_csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["metric", "value"])?;
    for (metric, value) in metrics(report) {
        w.write_record([metric, value])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

// ----- HTML -------------------------------------------------------------------------

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

fn render_html(report: &Report) -> String {
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

#[cfg(test)]
mod tests {
    use relais_core::compliance::decision::{Class, ConsentStatus};
    use relais_core::compliance::number::Msisdn;
    use relais_core::link::msg::{BrandId, Event, EventId, KeywordKind, Scope, bounded};

    use super::*;
    use crate::store::{BrandNames, Change, NewCampaign, NewJob, OptOut, RetryPolicy};

    /// 2026-05-28T20:00:00Z, on an hour boundary.
    const T0: UtcInstant = UtcInstant(1_779_998_400);

    fn number(n: usize) -> String {
        format!("+336123456{n:02}")
    }

    fn new_job(number: String) -> NewJob {
        NewJob {
            number,
            text: "Hello".into(),
            class: Class::Marketing,
            brand: "Acme".into(),
            categories: String::new(),
            department: None,
            consent: ConsentStatus::OptedIn,
            not_before: None,
            expires: None,
        }
    }

    /// Creates campaign `name` with jobs for `numbers`; returns the job ids in order.
    fn campaign(s: &mut Store, name: &str, numbers: &[String]) -> Vec<i64> {
        let id = s
            .create_campaign(
                &NewCampaign {
                    name: name.into(),
                    template: "Hello".into(),
                    class: Class::Marketing,
                    brand: "Acme".into(),
                    categories: String::new(),
                },
                &numbers
                    .iter()
                    .map(|n| new_job(n.clone()))
                    .collect::<Vec<_>>(),
                T0,
            )
            .unwrap();
        let mut st = s
            .connection()
            .prepare("SELECT id FROM jobs WHERE campaign_id = ?1 ORDER BY id")
            .unwrap();
        st.query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn mv(s: &mut Store, id: i64, state: JobState, at: i64, change: Change<'_>) {
        s.transition(id, state, T0.plus(at), &change, "test")
            .unwrap();
    }

    fn submit(s: &mut Store, id: i64, at: i64) {
        let change = Change {
            device: Some("dev"),
            stamp: Some("submitted_at"),
            ..Default::default()
        };
        mv(s, id, JobState::Submitted, at, change);
    }

    fn send(s: &mut Store, id: i64, at: i64) {
        submit(s, id, at);
        let change = Change {
            stamp: Some("sent_at"),
            ..Default::default()
        };
        mv(s, id, JobState::Sent, at + 60, change);
    }

    /// Sent at `at + 60`, delivered `latency` seconds later.
    fn deliver(s: &mut Store, id: i64, at: i64, latency: i64) {
        send(s, id, at);
        let change = Change {
            stamp: Some("delivered_at"),
            ..Default::default()
        };
        mv(s, id, JobState::Delivered, at + 60 + latency, change);
    }

    fn with_rule<'a>(rule: &'a str, reason: Option<&'a str>) -> Change<'a> {
        Change {
            rule: Some(rule),
            reason,
            ..Default::default()
        }
    }

    /// Campaign "spring" (10 jobs): 5 delivered (latencies 10, 20, 30, 40, 3600 s), 1
    /// undelivered, 1 sent, 1 deferred and 1 held by fr.quiet-hours, 1 refused by
    /// core.optout. Campaign "autumn" (3 jobs): 1 refused by fr.quiet-hours, 1 failed
    /// cms-500, 1 queued. One job outside campaigns, expired. Opt-outs: STOP (tier 1,
    /// spring number, by SMS), STOPALL (tier 2, other number, by SMS), a cli one (spring
    /// number) and an import one before the campaigns were created; a HELP keyword from
    /// a spring number; one inbound message from a spring number.
    fn fixture() -> Store {
        let mut s = Store::open_in_memory().unwrap();
        let spring = campaign(&mut s, "spring", &(0..10).map(number).collect::<Vec<_>>());
        let autumn = campaign(&mut s, "autumn", &(10..13).map(number).collect::<Vec<_>>());
        let single = s.insert_job(&new_job(number(13)), T0).unwrap();

        for (id, latency) in spring.iter().zip([10, 20, 30, 40, 3600]) {
            deliver(&mut s, *id, 0, latency);
        }
        send(&mut s, spring[5], 0);
        mv(
            &mut s,
            spring[5],
            JobState::Undelivered,
            200,
            Change {
                reason: Some("failed"),
                ..Default::default()
            },
        );
        send(&mut s, spring[6], 0);
        mv(
            &mut s,
            spring[7],
            JobState::Deferred,
            0,
            with_rule("fr.quiet-hours", None),
        );
        mv(
            &mut s,
            spring[8],
            JobState::Refused,
            0,
            with_rule("core.optout", Some("opted-out")),
        );
        submit(&mut s, spring[9], 0);
        mv(
            &mut s,
            spring[9],
            JobState::Held,
            3605,
            with_rule("fr.quiet-hours", None),
        );

        mv(
            &mut s,
            autumn[0],
            JobState::Refused,
            0,
            with_rule("fr.quiet-hours", Some("no-open-slot")),
        );
        submit(&mut s, autumn[1], 0);
        mv(
            &mut s,
            autumn[1],
            JobState::Failed,
            30,
            Change {
                reason: Some("cms-500"),
                ..Default::default()
            },
        );
        mv(&mut s, single, JobState::Expired, 0, Change::default());

        let brands = BrandNames::new(["Acme"]);
        let retry = RetryPolicy::default();
        let keyword = |from: &str, kind, word: &str, tier, scope| Event::Keyword {
            from: Msisdn::parse(from).unwrap(),
            kind,
            keyword: bounded(word),
            tier,
            scope,
            confirmed: true,
        };
        let events = [
            keyword(
                &number(0),
                KeywordKind::OptOut,
                "STOP",
                1,
                Some(Scope::Brand(BrandId::of("Acme"))),
            ),
            keyword(
                "+33699999999",
                KeywordKind::OptOut,
                "STOPALL",
                2,
                Some(Scope::All),
            ),
            keyword(&number(3), KeywordKind::Help, "INFO", 1, None),
            Event::Inbound {
                from: bounded(&number(0)),
                text: bounded("STOP"),
                at: T0.plus(150),
                truncated: false,
            },
        ];
        for (i, e) in events.iter().enumerate() {
            s.apply_event(
                "dev",
                (relais_core::link::msg::EventEpoch(1), EventId(i as u32 + 1)),
                e,
                T0.plus(200),
                &brands,
                &retry,
            )
            .unwrap();
        }
        let optout = |number: String, source: &str, at| OptOut {
            number,
            brand: "Acme".into(),
            keyword: None,
            tier: None,
            source: source.into(),
            at,
        };
        s.add_optout(&optout(number(1), "cli", T0.plus(300)))
            .unwrap();
        s.add_optout(&optout(number(2), "import:old.csv", T0.plus(-100)))
            .unwrap();
        s
    }

    #[test]
    fn counts_per_state_agree_with_the_jobs() {
        let s = fixture();
        let r = build(&s, None).unwrap();
        let expected = [
            (JobState::Queued, 1),
            (JobState::Deferred, 1),
            (JobState::Held, 1),
            (JobState::Sent, 1),
            (JobState::Delivered, 5),
            (JobState::Undelivered, 1),
            (JobState::Failed, 1),
            (JobState::Refused, 2),
            (JobState::Expired, 1),
        ];
        for state in JobState::ALL {
            let want = expected
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            assert_eq!(r.states.get(state), want, "{}", state.name());
        }
        assert_eq!(r.jobs, 14);
        assert_eq!(r.states.iter().map(|(_, n)| n).sum::<u64>(), 14);
        // The store's own per-state count agrees.
        for (state, n) in s.job_counts(None).unwrap() {
            assert_eq!(r.states.get(state), n);
        }
        assert_eq!(r.submitted, 9);
        assert_eq!(r.sent, 7);
        assert_eq!(r.delivered, 5);
        assert_eq!(r.undelivered, 1);
        assert_eq!(r.pending, 3);
        assert_eq!(r.deferred, 2);
        assert_eq!(r.refused, 2);
        assert_eq!(r.expired, 1);
        assert_eq!(r.cancelled, 0);
        assert_eq!(r.unknown, 0);
        assert_eq!(
            r.failed_by_reason,
            [ReasonCount {
                reason: "cms-500".into(),
                count: 1
            }]
        );
        assert_eq!(
            r.period,
            Some(Period {
                from: T0.to_string(),
                to: T0.plus(3660).to_string()
            })
        );

        let spring = build(&s, Some("spring")).unwrap();
        assert_eq!(spring.jobs, 10);
        assert_eq!(spring.states.get(JobState::Delivered), 5);
        assert_eq!(spring.states.get(JobState::Failed), 0);
        assert_eq!(spring.pending, 2);
        assert_eq!(spring.campaign.as_ref().unwrap().name, "spring");
        assert!(spring.campaigns.is_empty());
    }

    #[test]
    fn delivery_rate_and_latency_percentiles() {
        let s = fixture();
        let r = build(&s, None).unwrap();
        let rate = r.delivery_rate.unwrap();
        assert!((rate - 5.0 / 7.0).abs() < 1e-12, "{rate}");
        assert_eq!(
            r.latency,
            Some(Latency {
                samples: 5,
                p50_s: 30,
                p90_s: 3600,
                p99_s: 3600,
                max_s: 3600
            })
        );
        let autumn = build(&s, Some("autumn")).unwrap();
        assert_eq!(autumn.sent, 0);
        assert_eq!(autumn.delivery_rate, None);
        assert_eq!(autumn.latency, None);

        // 100 deliveries with latencies 1..=100 s, stored out of order.
        let mut s = Store::open_in_memory().unwrap();
        let ids = campaign(&mut s, "bulk", &(0..100).map(number).collect::<Vec<_>>());
        for (i, id) in ids.iter().enumerate() {
            deliver(&mut s, *id, 0, (i as i64 * 37) % 100 + 1);
        }
        let l = build(&s, Some("bulk")).unwrap().latency.unwrap();
        assert_eq!(
            (l.samples, l.p50_s, l.p90_s, l.p99_s, l.max_s),
            (100, 50, 90, 99, 100)
        );
        assert_eq!(
            (rank(50, 1), rank(99, 1), rank(50, 2), rank(99, 2)),
            (0, 0, 0, 1)
        );
    }

    #[test]
    fn refusals_and_deferrals_are_grouped_by_rule() {
        let s = fixture();
        let r = build(&s, None).unwrap();
        assert_eq!(
            r.deferred_by_rule,
            [RuleCount {
                rule: "fr.quiet-hours".into(),
                count: 2
            }]
        );
        let refusal = |rule: &str, reason: &str| RefusalCount {
            rule: rule.into(),
            reason: reason.into(),
            count: 1,
        };
        assert_eq!(
            r.refused_by_rule,
            [
                refusal("core.optout", "opted-out"),
                refusal("fr.quiet-hours", "no-open-slot")
            ]
        );
        let autumn = build(&s, Some("autumn")).unwrap();
        assert_eq!(
            autumn.refused_by_rule,
            [refusal("fr.quiet-hours", "no-open-slot")]
        );
        assert!(autumn.deferred_by_rule.is_empty());
        // Deferral changes per hour come from the history: one deferred at T0, one
        // held an hour later.
        let deferrals: Vec<(i64, u64)> = r.hours.iter().map(|h| (h.start, h.deferrals)).collect();
        assert_eq!(deferrals, [(T0.0, 1), (T0.0 + 3600, 1)]);
        let first = &r.hours[0];
        assert_eq!(
            (
                first.hour.as_str(),
                first.sent,
                first.delivered,
                first.inbound,
                first.keywords
            ),
            ("2026-05-28T20:00:00Z", 7, 4, 1, 3)
        );
        assert_eq!(r.hours[1].delivered, 1);
    }

    #[test]
    fn opt_outs_by_keyword_tier_and_source() {
        let s = fixture();
        let r = build(&s, None).unwrap();
        let o = |keyword: Option<&str>, tier: Option<i64>, count| OptOutCount {
            keyword: keyword.map(String::from),
            tier,
            count,
        };
        assert_eq!(r.opt_outs.total, 4);
        assert_eq!(
            r.opt_outs.by_keyword,
            [
                o(None, None, 2),
                o(Some("STOP"), Some(1), 1),
                o(Some("STOPALL"), Some(2), 1)
            ]
        );
        let sources: Vec<(&str, u64)> = r
            .opt_outs
            .by_source
            .iter()
            .map(|s| (s.source.as_str(), s.count))
            .collect();
        assert_eq!(sources, [("sms", 2), ("cli", 1), ("import", 1)]);
        assert_eq!(r.keywords.total, 3);
        let kinds: Vec<(&str, u64)> = r
            .keywords
            .by_kind
            .iter()
            .map(|k| (k.kind.as_str(), k.count))
            .collect();
        assert_eq!(kinds, [("help", 1), ("opt-out", 2)]);
        assert_eq!(r.inbound, 1);

        // A campaign counts opt-outs from its numbers since it was created: not the
        // STOPALL from another number, not the import from before.
        let spring = build(&s, Some("spring")).unwrap();
        assert_eq!(spring.opt_outs.total, 2);
        assert_eq!(
            spring.opt_outs.by_keyword,
            [o(None, None, 1), o(Some("STOP"), Some(1), 1)]
        );
        assert_eq!(spring.keywords.total, 2);
        assert_eq!(spring.inbound, 1);
        let autumn = build(&s, Some("autumn")).unwrap();
        assert_eq!(autumn.opt_outs, OptOuts::default());
        assert_eq!(autumn.keywords.total, 0);
        assert_eq!(autumn.inbound, 0);

        let rows: Vec<(Option<&str>, u64, Option<u64>)> = r
            .campaigns
            .iter()
            .map(|c| (c.name.as_deref(), c.jobs, c.opt_outs))
            .collect();
        assert_eq!(
            rows,
            [
                (Some("spring"), 10, Some(2)),
                (Some("autumn"), 3, Some(0)),
                (None, 1, None)
            ]
        );
    }

    #[test]
    fn csv_parses_back_with_stable_metric_names() {
        let s = fixture();
        let text = render(&build(&s, None).unwrap(), Format::Csv);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap(), vec!["metric", "value"]);
        let mut values = BTreeMap::new();
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.len(), 2);
            let old = values.insert(record[0].to_string(), record[1].to_string());
            assert!(old.is_none(), "metric {} twice", &record[0]);
        }
        for (metric, value) in [
            ("jobs.total", "14"),
            ("state.delivered", "5"),
            ("state.cancelled", "0"),
            ("jobs.sent", "7"),
            ("delivery_rate", "0.7143"),
            ("failed.reason.cms-500", "1"),
            ("deferred.rule.fr.quiet-hours", "2"),
            ("refused.rule.fr.quiet-hours", "1"),
            ("refused.rule.core.optout", "1"),
            ("refused.reason.opted-out", "1"),
            ("optout.total", "4"),
            ("optout.keyword.STOP.tier.1", "1"),
            ("optout.no_keyword", "2"),
            ("optout.source.sms", "2"),
            ("keywords.kind.opt-out", "2"),
            ("keyword.help.INFO", "1"),
            ("inbound.total", "1"),
            ("latency.p50_s", "30"),
            ("latency.p99_s", "3600"),
            ("hour.2026-05-28T20:00:00Z.sent", "7"),
            ("hour.2026-05-28T21:00:00Z.deferrals", "1"),
            ("campaign.spring.delivered", "5"),
            ("campaign.autumn.opt_outs", "0"),
            ("no_campaign.expired", "1"),
        ] {
            assert_eq!(
                values.get(metric).map(String::as_str),
                Some(value),
                "{metric}"
            );
        }
        for state in JobState::ALL {
            assert!(values.contains_key(&format!("state.{}", state.name())));
        }
        // An empty store keeps the names, with empty values where there is no number.
        let empty = render(
            &build(&Store::open_in_memory().unwrap(), None).unwrap(),
            Format::Csv,
        );
        assert!(empty.contains("\ndelivery_rate,\n"), "{empty}");
        assert!(empty.contains("\nlatency.p50_s,\n"));
    }

    #[test]
    fn html_is_self_contained_with_charts_and_escapes_names() {
        let mut s = fixture();
        let name = "<script>alert(1)</script>";
        let ids = campaign(&mut s, name, &[number(50)]);
        deliver(&mut s, ids[0], 7200, 5);
        for r in [build(&s, Some(name)).unwrap(), build(&s, None).unwrap()] {
            let html = render(&r, Format::Html);
            assert!(html.starts_with("<!DOCTYPE html>"));
            assert!(html.ends_with("</html>\n"));
            assert_eq!(
                html.matches("<svg").count(),
                4,
                "one chart each for sent, delivered, deferrals, keywords"
            );
            assert_eq!(html.matches("</svg>").count(), 4);
            assert!(html.contains("<rect"), "bars drawn");
            assert!(!html.to_ascii_lowercase().contains("<script"));
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
            assert!(
                !html.to_ascii_lowercase().contains("http"),
                "no URL of any kind"
            );
            assert!(html.contains("<style>"));
        }
        // Without activity the charts say so instead of drawing nothing.
        let empty = render(
            &build(&Store::open_in_memory().unwrap(), None).unwrap(),
            Format::Html,
        );
        assert_eq!(empty.matches("<svg").count(), 4);
        assert_eq!(empty.matches("no activity").count(), 4);
    }

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

    #[test]
    fn json_round_trips_with_the_numbers() {
        let s = fixture();
        let text = render(&build(&s, None).unwrap(), Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["jobs"], 14);
        assert_eq!(v["states"].as_object().unwrap().len(), JobState::ALL.len());
        assert_eq!(v["states"]["delivered"], 5);
        assert_eq!(v["states"]["sending"], 0);
        assert_eq!(v["sent"], 7);
        let rate = v["delivery_rate"].as_f64().unwrap();
        assert!((rate - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(v["latency"]["p50_s"], 30);
        assert_eq!(v["latency"]["max_s"], 3600);
        assert_eq!(v["refused_by_rule"][1]["rule"], "fr.quiet-hours");
        assert_eq!(v["opt_outs"]["by_keyword"][1]["keyword"], "STOP");
        assert_eq!(v["opt_outs"]["by_keyword"][1]["tier"], 1);
        assert_eq!(v["campaigns"][0]["name"], "spring");
        assert!(v["campaigns"][2]["name"].is_null());
        assert!(v["campaign"].is_null());
        assert_eq!(v["hours"][0]["hour"], "2026-05-28T20:00:00Z");
        let spring: serde_json::Value =
            serde_json::from_str(&render(&build(&s, Some("spring")).unwrap(), Format::Json))
                .unwrap();
        assert_eq!(spring["campaign"]["name"], "spring");
        assert_eq!(spring["campaign"]["status"], "draft");
        assert!(spring["autumn"].is_null());
    }

    #[test]
    fn table_fits_80_columns() {
        let mut s = fixture();
        let long = "a campaign with a rather long name that has to wrap somewhere";
        campaign(&mut s, long, &[number(60)]);
        for r in [build(&s, None).unwrap(), build(&s, Some("spring")).unwrap()] {
            let text = render(&r, Format::Table);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{} chars: {line}",
                    line.chars().count()
                );
            }
            let mut parts = vec!["Summary", "fr.quiet-hours", "71.4 %", "1 h 00 min"];
            if r.campaign.is_none() {
                parts.extend(["cms-500", "STOPALL", "(no campaign)", "a rather long"]);
            }
            for part in parts {
                assert!(text.contains(part), "{part} missing:\n{text}");
            }
        }
        let empty = render(
            &build(&Store::open_in_memory().unwrap(), None).unwrap(),
            Format::Table,
        );
        assert!(empty.contains("No jobs."));
    }

    #[test]
    fn text_wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("é é é", 3), ["é é", "é"]);
    }

    #[test]
    fn unknown_campaigns_are_named_errors() {
        let s = fixture();
        let err = build(&s, Some("winter")).unwrap_err();
        assert!(err.contains("\"winter\""), "{err}");
        assert!(
            err.contains("\"spring\"") && err.contains("\"autumn\""),
            "{err}"
        );
        let err = build(&Store::open_in_memory().unwrap(), Some("winter")).unwrap_err();
        assert!(err.contains("no campaigns yet"), "{err}");
    }

    #[test]
    fn formats_parse_in_any_case() {
        assert_eq!("json".parse(), Ok(Format::Json));
        assert_eq!(" HTML ".parse(), Ok(Format::Html));
        assert_eq!("Csv".parse(), Ok(Format::Csv));
        for f in Format::ALL {
            assert_eq!(f.to_string().parse(), Ok(f));
            assert_eq!(
                <Format as clap::ValueEnum>::from_str(f.name(), false),
                Ok(f)
            );
        }
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .contains("table, json, csv or html")
        );
    }
}
