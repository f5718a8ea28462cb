//! The report's SQL: every number [`super::build`] reads from the store.

use std::collections::BTreeMap;

use crate::store::db::{Db, DbResult, Engine, Row, params};
use relais_core::compliance::tz::UtcInstant;

use super::{
    CampaignInfo, CampaignRow, HaltedDevice, HourRow, KeywordCount, Keywords, KindCount, Latency,
    OptOutCount, OptOuts, Period, ReasonCount, RefusalCount, Report, RuleCount, SourceCount,
    StateCounts,
};
use crate::store::{JobState, Store, StoreError};

/// Which rows a report covers. Ids and times are integers read from the store, so they
/// are written into the SQL text as numbers; no user text is ever formatted into SQL.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sel {
    /// Campaign id and creation time.
    pub(super) campaign: Option<(i64, i64)>,
}

impl Sel {
    /// Condition on `jobs` rows.
    fn jobs(self) -> String {
        match self.campaign {
            Some((id, _)) => format!("campaign_id = {id}"),
            None => "1 = 1".into(),
        }
    }

    /// Condition on rows with a sender or number column and a time column: from a
    /// number of the campaign's jobs, since the campaign was created.
    fn by_numbers(self, number: &str, at: &str) -> String {
        match self.campaign {
            Some((id, since)) => format!(
                "{at} >= {since} AND EXISTS (SELECT 1 FROM jobs j WHERE j.number = {number} AND j.campaign_id = {id})"
            ),
            None => "1 = 1".into(),
        }
    }

    /// Condition on `job_history` rows (alias `h`).
    fn history(self) -> String {
        match self.campaign {
            Some((id, _)) => format!("h.job_id IN (SELECT id FROM jobs WHERE campaign_id = {id})"),
            None => "1 = 1".into(),
        }
    }
}

type Sql<T> = std::result::Result<T, StoreError>;

fn rows<T>(db: &Db, sql: &str, f: impl FnMut(&Row<'_>) -> DbResult<T>) -> Sql<Vec<T>> {
    Ok(db.query_map(sql, params![], f)?)
}

fn count(db: &Db, sql: &str) -> Sql<u64> {
    let n: i64 = db.query_value(sql, params![])?;
    Ok(n.max(0) as u64)
}

/// A non-negative count from column `i`.
fn col(r: &Row<'_>, i: usize) -> DbResult<u64> {
    Ok(r.get::<Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
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

pub(super) fn collect(store: &Store, campaign: Option<CampaignInfo>, sel: Sel) -> Sql<Report> {
    // The caller reads in one snapshot (`Store::snapshot`): every figure is from the
    // same instant, whatever other hosts write meanwhile.
    let conn = store.db();
    let f = sel.jobs();

    let mut states = StateCounts::default();
    let by_state = rows(
        conn,
        &format!("SELECT state, count(*) FROM jobs WHERE {f} GROUP BY state"),
        |r| Ok((r.get::<String>(0)?, col(r, 1)?)),
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
        params![],
        |r| {
            Ok((
                col(r, 0)?,
                col(r, 1)?,
                col(r, 2)?,
                r.get::<Option<i64>>(3)?,
                r.get::<Option<i64>>(4)?,
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
    Ok(report)
}

fn halted_devices(conn: &Db) -> Sql<Vec<HaltedDevice>> {
    // The status is a JSON object in a text column (see `Store::set_device_status`).
    let devices = rows(
        conn,
        "SELECT name, status, updated_at FROM devices ORDER BY name",
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)),
    )?;
    Ok(devices
        .into_iter()
        .filter_map(|(device, status, at)| {
            let status: serde_json::Value = serde_json::from_str(&status).ok()?;
            let reason = match status.get("halted")? {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(HaltedDevice {
                device,
                reason,
                since: UtcInstant(at).to_string(),
            })
        })
        .collect())
}

fn opt_outs(conn: &Db, sel: Sel) -> Sql<OptOuts> {
    let w = format!(
        "o.action = 'opt-out' AND {}",
        sel.by_numbers("o.number", "o.at")
    );
    let by_keyword = rows(
        conn,
        &format!(
            "SELECT keyword, tier, count(*) FROM optout_log o WHERE {w}
             GROUP BY keyword, tier ORDER BY count(*) DESC, keyword NULLS FIRST, tier NULLS FIRST"
        ),
        |r| {
            Ok(OptOutCount {
                keyword: r.get(0)?,
                tier: r.get(1)?,
                count: col(r, 2)?,
            })
        },
    )?;
    // Sources are `kind:detail` (`sms:modem1`, `import:file.csv`): counted by kind.
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for (source, n) in rows(
        conn,
        &format!("SELECT source, count(*) FROM optout_log o WHERE {w} GROUP BY source"),
        |r| Ok((r.get::<String>(0)?, col(r, 1)?)),
    )? {
        let kind = source.split_once(':').map_or(source.as_str(), |(k, _)| k);
        *kinds.entry(kind.to_string()).or_default() += n;
    }
    let mut by_source: Vec<SourceCount> = kinds
        .into_iter()
        .map(|(source, count)| SourceCount { source, count })
        .collect();
    by_source.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.source.cmp(&b.source)));
    Ok(OptOuts {
        total: by_keyword.iter().map(|o| o.count).sum(),
        by_keyword,
        by_source,
    })
}

fn keywords(conn: &Db, sel: Sel) -> Sql<Keywords> {
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
pub(super) fn rank(p: u64, n: u64) -> u64 {
    (p * n).div_ceil(100).clamp(1, n) - 1
}

fn latency(conn: &Db, sel: Sel) -> Sql<Option<Latency>> {
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
    let mut i = 0u64;
    conn.query_map(
        &format!(
            "SELECT CASE WHEN delivered_at > sent_at THEN delivered_at - sent_at ELSE 0 END AS l
             FROM jobs WHERE {w} ORDER BY l"
        ),
        params![],
        |row| {
            let v: i64 = row.get(0)?;
            for (w, g) in want.iter().zip(got.iter_mut()) {
                if *w == i {
                    *g = v;
                }
            }
            max = v;
            i += 1;
            Ok(())
        },
    )?;
    Ok(Some(Latency {
        samples: n,
        p50_s: got[0],
        p90_s: got[1],
        p99_s: got[2],
        max_s: max,
    }))
}

fn hours(conn: &Db, sel: Sel) -> Sql<Vec<HourRow>> {
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
        for (hour, n) in rows(conn, sql, |r| Ok((r.get::<i64>(0)?, col(r, 1)?)))? {
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
    let conn = store.db();
    let sqlite = conn.engine() == Engine::Sqlite;
    // One pass over the table: through the (campaign_id, state) index every row would
    // cost a random read of its time stamps (SQLite: measured 4x slower on a million
    // jobs; PostgreSQL's planner picks the scan itself).
    let n = |cond: String| format!("count(*) FILTER (WHERE {cond})");
    let is = |state: &str| n(format!("state = '{state}'"));
    let sql = format!(
        "SELECT campaign_id, count(*), count(submitted_at), count(sent_at),
                {}, {}, {}, {}, {}, {}, {}, {}, {}
         FROM jobs {} GROUP BY campaign_id",
        is("delivered"),
        is("undelivered"),
        is("failed"),
        is("refused"),
        n(format!("state IN ({})", state_list(is_pending))),
        n(format!("state IN ({})", state_list(is_deferred))),
        is("unknown"),
        is("expired"),
        is("cancelled"),
        if sqlite { "NOT INDEXED" } else { "" },
    );
    let mut by_id: BTreeMap<Option<i64>, CampaignRow> = BTreeMap::new();
    for (id, row) in rows(conn, &sql, |r| {
        Ok((
            r.get::<Option<i64>>(0)?,
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
        &format!(
            "SELECT j.campaign_id, count(DISTINCT o.id) FROM optout_log o
             {} jobs j ON j.number = o.number
             JOIN campaigns c ON c.id = j.campaign_id AND o.at >= c.created_at
             WHERE o.action = 'opt-out' GROUP BY j.campaign_id",
            if sqlite { "CROSS JOIN" } else { "JOIN" }
        ),
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
