//! Read-only queries for the dashboard of `relais serve` (`/`, `/dashboard.json`).

use relais_core::compliance::tz::UtcInstant;

use super::db::params;
use super::{JobState, OptOut, Result, Store};

impl Store {
    /// Deferred jobs by deciding rule, the rule holding most first: `(rule, count,
    /// earliest due time)`; the rule is empty when none was recorded.
    pub fn deferrals_by_rule(&self) -> Result<Vec<(String, u64, Option<UtcInstant>)>> {
        let mut st = self.db.prepare_cached(
            "SELECT coalesce(rule, ''), count(*), min(due_at) FROM jobs
             WHERE state = 'deferred' GROUP BY coalesce(rule, '')
             ORDER BY count(*) DESC, 1",
        )?;
        let rows = st.query_map(params![], |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<i64>(1)?.max(0) as u64,
                r.get::<Option<i64>>(2)?.map(UtcInstant),
            ))
        })?;
        Ok(rows)
    }

    /// Job counts per campaign and state: `(campaign id, state, count)`, jobs outside
    /// campaigns left out. States this build does not know are skipped.
    pub fn campaign_state_counts(&self) -> Result<Vec<(i64, JobState, u64)>> {
        let mut st = self.db.prepare_cached(
            "SELECT campaign_id, state, count(*) FROM jobs
             WHERE campaign_id IS NOT NULL GROUP BY campaign_id, state",
        )?;
        let rows = st.query_map(params![], |r| {
            Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, state, n) = row;
            if let Some(s) = JobState::parse(&state) {
                out.push((id, s, n.max(0) as u64));
            }
        }
        Ok(out)
    }

    /// The latest opt-outs still in force, newest first, at most `limit`.
    pub fn recent_optouts(&self, limit: usize) -> Result<Vec<OptOut>> {
        let mut st = self.db.prepare_cached(
            "SELECT number, brand, keyword, tier, source, at FROM optouts
             ORDER BY at DESC, number, brand LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(OptOut {
                number: r.get(0)?,
                brand: r.get(1)?,
                keyword: r.get(2)?,
                tier: r.get::<Option<i64>>(3)?.and_then(|t| u8::try_from(t).ok()),
                source: r.get(4)?,
                at: UtcInstant(r.get(5)?),
            })
        })?;
        Ok(rows)
    }

    /// How many opt-outs are in force.
    pub fn optout_count(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_row("SELECT count(*) FROM optouts", params![], |r| {
                r.get::<i64>(0)
            })?;
        Ok(n.max(0) as u64)
    }

    /// How many inbound messages are stored.
    pub fn inbound_count(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_row("SELECT count(*) FROM inbound", params![], |r| {
                r.get::<i64>(0)
            })?;
        Ok(n.max(0) as u64)
    }
}
