//! Jobs: one SMS to one recipient, its state and every change of it.
//!
//! ```text
//! queued ─┬─► submitted ─► accepted ─► sending ─► sent ─► delivered | undelivered
//!         │        │           │ ▲         │
//!         │        │           ▼ │         ├─► failed (permanent, or retries used up)
//!         │        │         held          ├─► retry ─► submitted ... (temporary failure)
//!         │        │    (long: deferred)   └─► unknown (may have been sent; never resent)
//!         ├─► deferred ─► (due) ─► submitted ...     (host pre-check: a time rule)
//!         ├─► refused                                (host pre-check or device)
//!         └─► expired | cancelled
//! ```
//!
//! `queued`, `deferred` and `retry` wait in the host until `due_at`; `submitted`,
//! `accepted`, `held` (deferred by the device for a few minutes, in its slot) and
//! `sending` are on a device; the rest are final. A job the device holds longer gives
//! its slot back (`Released`): it is `deferred` in the host again. The idempotency key
//! the device sees is `id << 8 | attempt`: the same for every resubmission of one
//! attempt (the device dedupes), new for a retry after a temporary failure and after a
//! release.

use super::db::{Db, DbResult, Engine, OptionalExt as _, Row, params};
use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::{UtcInstant, Zone};
use relais_core::link::msg::JobKey;

use super::{Result, Store, StoreError, consent_name, parse_consent};

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting in the host until due.
    Queued,
    /// A time rule (host pre-check) holds it until `due_at`.
    Deferred,
    /// A temporary failure; tried again at `due_at`.
    Retry,
    /// Handed to a device, no answer yet.
    Submitted,
    /// In a device slot.
    Accepted,
    /// In a device slot, deferred by the device until `due_at`.
    Held,
    /// At least one segment went out.
    Sending,
    /// The network accepted every segment.
    Sent,
    /// Delivery reports say delivered.
    Delivered,
    /// Delivery reports say it failed or expired.
    Undelivered,
    /// Failed (permanent, or retries used up).
    Failed,
    /// Refused by a compliance rule (host or device).
    Refused,
    /// May or may not have been sent: never resent.
    Unknown,
    /// Not sent before its expiry.
    Expired,
    /// Cancelled before it was sent.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 15] = [
        JobState::Queued,
        JobState::Deferred,
        JobState::Retry,
        JobState::Submitted,
        JobState::Accepted,
        JobState::Held,
        JobState::Sending,
        JobState::Sent,
        JobState::Delivered,
        JobState::Undelivered,
        JobState::Failed,
        JobState::Refused,
        JobState::Unknown,
        JobState::Expired,
        JobState::Cancelled,
    ];

    /// The stored name.
    pub const fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Deferred => "deferred",
            JobState::Retry => "retry",
            JobState::Submitted => "submitted",
            JobState::Accepted => "accepted",
            JobState::Held => "held",
            JobState::Sending => "sending",
            JobState::Sent => "sent",
            JobState::Delivered => "delivered",
            JobState::Undelivered => "undelivered",
            JobState::Failed => "failed",
            JobState::Refused => "refused",
            JobState::Unknown => "unknown",
            JobState::Expired => "expired",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.name() == text)
    }

    /// Waiting in the host.
    pub const fn is_waiting(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Deferred | JobState::Retry
        )
    }

    /// On a device.
    pub const fn is_on_device(self) -> bool {
        matches!(
            self,
            JobState::Submitted | JobState::Accepted | JobState::Held | JobState::Sending
        )
    }

    /// No further send will happen (delivery reports may still move `sent`).
    pub const fn is_final(self) -> bool {
        !self.is_waiting() && !self.is_on_device()
    }
}

/// A job to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// E.164 recipient.
    pub number: String,
    /// Rendered text.
    pub text: String,
    /// Class.
    pub class: Class,
    /// Brand.
    pub brand: String,
    /// Categories, comma separated.
    pub categories: String,
    /// French department, when known.
    pub department: Option<u8>,
    /// Consent recorded for the brand at creation.
    pub consent: ConsentStatus,
    /// Not before.
    pub not_before: Option<UtcInstant>,
    /// Give up after.
    pub expires: Option<UtcInstant>,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Its campaign.
    pub campaign_id: Option<i64>,
    /// Recipient.
    pub number: String,
    /// Rendered text.
    pub text: String,
    /// Class.
    pub class: Class,
    /// Brand.
    pub brand: String,
    /// Categories.
    pub categories: String,
    /// French department.
    pub department: Option<u8>,
    /// The contact's verified time zone, when the contact list gives one.
    pub zone: Option<Zone>,
    /// Consent at creation.
    pub consent: ConsentStatus,
    /// State.
    pub state: JobState,
    /// Next action time.
    pub due_at: UtcInstant,
    /// Expiry.
    pub expires_at: Option<UtcInstant>,
    /// Retries so far.
    pub attempt: u8,
    /// The device it went to.
    pub device: Option<String>,
}

impl JobRow {
    /// The idempotency key the device sees for the current attempt.
    pub fn key(&self) -> JobKey {
        key_of(self.id, self.attempt)
    }
}

/// `id << 8 | attempt`.
pub const fn key_of(id: i64, attempt: u8) -> JobKey {
    JobKey(((id as u64) << 8) | attempt as u64)
}

/// The job id and attempt of a key (`None` for device-reserved keys).
pub const fn split_key(key: JobKey) -> Option<(i64, u8)> {
    if key.0 >> 48 == 0xffff {
        return None;
    }
    Some(((key.0 >> 8) as i64, (key.0 & 0xff) as u8))
}

/// The device gave job `job` back unsent ([`relais_core::link::msg::Event::Released`]):
/// it waits in the host until `until` (`deferred`, off the device) and goes again under
/// a new key, since the old one is finished on the device (a resubmission of it that was
/// already on its way is answered `Duplicate` and never sent). `attempt` therefore counts
/// the job's keys, retries and releases alike; the retry budget counts retries only
/// ([`retries`]). A job with no key left (255 of them) fails.
///
/// It is due no sooner than [`RELEASE_FLOOR_S`] from now: a device whose clock is behind
/// the host's gives back an `until` the host sees as past, and would otherwise get the
/// job back at once, again and again, until its clock catches up.
pub(super) fn release(
    tx: &Db,
    job: &JobRow,
    until: UtcInstant,
    rule: &str,
    now: UtcInstant,
) -> Result<JobState> {
    let Some(attempt) = job.attempt.checked_add(1) else {
        set_state(
            tx,
            job.id,
            JobState::Failed,
            now,
            &Change {
                reason: Some("keys-exhausted"),
                ..Default::default()
            },
            "given back by the device with no key left to submit it again",
        )?;
        return Ok(JobState::Failed);
    };
    let due = until.max(now.plus(RELEASE_FLOOR_S));
    tx.execute(
        "UPDATE jobs SET state = 'deferred', due_at = ?2, attempt = ?3, rule = ?4,
             device = NULL, updated_at = ?5 WHERE id = ?1",
        params![job.id, due.0, attempt, rule, now.0],
    )?;
    history(
        tx,
        job.id,
        now,
        JobState::Deferred,
        &format!("given back by the device until {until} ({rule}); next key: attempt {attempt}"),
    )?;
    Ok(JobState::Deferred)
}

/// Least wait before a job a device gave back goes again (see [`release`]).
pub(super) const RELEASE_FLOOR_S: i64 = 60;

/// Retries job `id` had after temporary failures (its `retry` states): what the retry
/// budget counts, whatever else gave it new keys.
pub(super) fn retries(tx: &Db, id: i64) -> Result<u8> {
    let n: i64 = tx
        .prepare_cached("SELECT count(*) FROM job_history WHERE job_id = ?1 AND state = 'retry'")?
        .query_row([id], |r| r.get(0))?;
    Ok(u8::try_from(n).unwrap_or(u8::MAX))
}

/// The job's columns, and its contact's verified zone (read when the job is: a zone
/// verified after the campaign started still counts).
const COLUMNS: &str = "id, campaign_id, number, text, class, brand, categories, department,
    consent, state, due_at, expires_at, attempt, device,
    (SELECT zone FROM contacts WHERE contacts.number = jobs.number)";

fn job_row(r: &Row<'_>) -> DbResult<JobRow> {
    let class: String = r.get(4)?;
    let consent: String = r.get(8)?;
    let state: String = r.get(9)?;
    Ok(JobRow {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        number: r.get(2)?,
        text: r.get(3)?,
        class: Class::parse(&class).unwrap_or(Class::Marketing),
        brand: r.get(5)?,
        categories: r.get(6)?,
        department: r.get(7)?,
        consent: parse_consent(&consent).unwrap_or(ConsentStatus::None),
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        due_at: UtcInstant(r.get(10)?),
        expires_at: r.get::<Option<i64>>(11)?.map(UtcInstant),
        attempt: r.get(12)?,
        device: r.get(13)?,
        zone: r
            .get::<Option<String>>(14)?
            .and_then(|z| Zone::from_name(&z)),
    })
}

pub(super) fn insert(tx: &Db, campaign: Option<i64>, job: &NewJob, now: UtcInstant) -> Result<i64> {
    let due = job.not_before.map_or(now.0, |t| t.0.max(now.0));
    let id: i64 = tx.query_value(
        "INSERT INTO jobs (campaign_id, number, text, class, brand, categories, department,
             consent, state, due_at, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', ?9, ?10, ?11, ?11) RETURNING id",
        params![
            campaign,
            job.number,
            job.text,
            job.class.name(),
            job.brand,
            job.categories,
            job.department,
            consent_name(job.consent),
            due,
            job.expires.map(|t| t.0),
            now.0
        ],
    )?;
    history(tx, id, now, JobState::Queued, "created")?;
    Ok(id)
}

pub(super) fn history(
    tx: &Db,
    id: i64,
    at: UtcInstant,
    state: JobState,
    detail: &str,
) -> Result<()> {
    super::log_order(tx)?;
    tx.prepare_cached(
        "INSERT INTO job_history (job_id, at, state, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, at.0, state.name(), detail])?;
    Ok(())
}

pub(super) fn get(tx: &Db, id: i64) -> Result<Option<JobRow>> {
    tx.query_row(
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        job_row,
    )
    .optional()
    .map_err(Into::into)
}

/// A change of state, with the columns that change with it.
#[derive(Clone, Debug, Default)]
pub struct Change<'a> {
    /// New due time.
    pub due_at: Option<UtcInstant>,
    /// New attempt number.
    pub attempt: Option<u8>,
    /// Device.
    pub device: Option<&'a str>,
    /// Deciding rule.
    pub rule: Option<&'a str>,
    /// Reason.
    pub reason: Option<&'a str>,
    /// Segments.
    pub parts: Option<u8>,
    /// Stamp `submitted_at`, `sent_at` or `delivered_at` with the time.
    pub stamp: Option<&'static str>,
}

pub(super) fn set_state(
    tx: &Db,
    id: i64,
    state: JobState,
    at: UtcInstant,
    change: &Change<'_>,
    detail: &str,
) -> Result<()> {
    let stamp = match change.stamp {
        Some(col @ ("submitted_at" | "sent_at" | "delivered_at")) => {
            format!(", {col} = coalesce({col}, ?9)")
        }
        Some(other) => return Err(StoreError::Invalid(format!("bad stamp column {other}"))),
        None => String::new(),
    };
    tx.execute(
        &format!(
            "UPDATE jobs SET state = ?2, due_at = coalesce(?3, due_at), attempt = coalesce(?4, attempt),
                 device = coalesce(?5, device), rule = coalesce(?6, rule), reason = coalesce(?7, reason),
                 parts = coalesce(?8, parts), updated_at = ?9 {stamp}
             WHERE id = ?1"
        ),
        params![
            id,
            state.name(),
            change.due_at.map(|t| t.0),
            change.attempt,
            change.device,
            change.rule,
            change.reason,
            change.parts,
            at.0
        ],
    )?;
    history(tx, id, at, state, detail)
}

/// Who asked for a job over HTTP, and where its delivery reports go (`relais serve`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// `sendsms:<user>` or `api:<token>`.
    pub client: String,
    /// The sender the client asked for (recorded; the device's identity sends).
    pub sender: Option<String>,
    /// Kannel dlr-url template.
    pub dlr_url: Option<String>,
    /// Kannel dlr-mask.
    pub dlr_mask: Option<u8>,
    /// Parameters recorded but not acted on (JSON object).
    pub meta: Option<String>,
    /// The client's id for a message to several recipients.
    pub message_id: Option<String>,
    /// The only device that may send it.
    pub via: Option<String>,
}

impl Store {
    /// Creates one job outside any campaign for an HTTP client.
    pub fn insert_job_from(
        &mut self,
        job: &NewJob,
        origin: &Origin,
        now: UtcInstant,
    ) -> Result<i64> {
        self.transaction(|tx| {
            let id = insert(tx, None, job, now)?;
            tx.prepare_cached(
                "UPDATE jobs SET origin = ?2, sender = ?3, dlr_url = ?4, dlr_mask = ?5, meta = ?6,
                     message_id = ?7, via = ?8 WHERE id = ?1",
            )?
            .execute(params![
                id,
                origin.client,
                origin.sender,
                origin.dlr_url,
                origin.dlr_mask,
                origin.meta,
                origin.message_id,
                origin.via
            ])?;
            Ok(id)
        })
    }

    /// Creates one job outside any campaign (`relais send`).
    pub fn insert_job(&mut self, job: &NewJob, now: UtcInstant) -> Result<i64> {
        self.transaction(|tx| insert(tx, None, job, now))
    }

    /// The job with this id.
    pub fn job(&self, id: i64) -> Result<Option<JobRow>> {
        get(&self.db, id)
    }

    /// Jobs waiting in the host and due at `now` (campaign running, or no campaign),
    /// at most `limit`; only brands in `brands` (empty: any). Transactional and
    /// conversational jobs come first (an OTP never waits behind a campaign), then
    /// marketing; each oldest due first.
    pub fn due_jobs(
        &self,
        now: UtcInstant,
        brands: &[String],
        limit: usize,
    ) -> Result<Vec<JobRow>> {
        self.due_jobs_for(now, None, brands, limit)
    }

    /// [`Store::due_jobs`] for `device`: without the jobs another device must send
    /// (`via`, an HTTP user's `device`). `None`: every device's.
    pub fn due_jobs_for(
        &self,
        now: UtcInstant,
        device: Option<&str>,
        brands: &[String],
        limit: usize,
    ) -> Result<Vec<JobRow>> {
        self.due(now, device, brands, limit, false)
    }

    /// [`Store::due_jobs_for`], claimed for this transaction: on PostgreSQL the rows
    /// are locked until it ends and other hosts' claims skip them (`FOR UPDATE SKIP
    /// LOCKED`), so two hosts never hand the same job to their devices; SQLite's
    /// immediate transaction already holds the only write lock. Call it inside
    /// [`Store::batch`] and move each job on (submitted, deferred, ended) before the
    /// batch ends.
    pub fn claim_due(
        &self,
        now: UtcInstant,
        device: Option<&str>,
        brands: &[String],
        limit: usize,
    ) -> Result<Vec<JobRow>> {
        self.due(now, device, brands, limit, true)
    }

    fn due(
        &self,
        now: UtcInstant,
        device: Option<&str>,
        brands: &[String],
        limit: usize,
        claim: bool,
    ) -> Result<Vec<JobRow>> {
        // The brand list goes in as a JSON array so that the filter runs in SQL (a
        // device for one brand is never starved by other brands' jobs) and the
        // statement stays cacheable.
        let brands = serde_json::to_string(brands).unwrap_or_else(|_| "[]".into());
        let (brand_in, lock) = match self.db.engine() {
            Engine::Sqlite => ("SELECT value FROM json_each(?3)", ""),
            Engine::Postgres => (
                "SELECT json_array_elements_text(CAST(?3 AS json))",
                if claim { "FOR UPDATE SKIP LOCKED" } else { "" },
            ),
        };
        let mut st = self.db.prepare_cached(format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE state IN ('queued', 'deferred', 'retry') AND due_at <= ?1
               AND (campaign_id IS NULL OR campaign_id IN (SELECT id FROM campaigns WHERE status = 'running'))
               AND (?3 = '[]' OR brand IN ({brand_in}))
               AND (CAST(?4 AS TEXT) IS NULL OR via IS NULL OR via = ?4)
             ORDER BY class = 'marketing', due_at, id LIMIT ?2 {lock}"
        ))?;
        let rows = st.query_map(params![now.0, limit as i64, brands, device], job_row)?;
        Ok(rows)
    }

    /// The earliest `due_at` of a waiting job that can run (campaign running or none).
    pub fn next_due(&self) -> Result<Option<UtcInstant>> {
        let v: Option<i64> = self.db.query_row(
            "SELECT min(due_at) FROM jobs
             WHERE state IN ('queued', 'deferred', 'retry')
               AND (campaign_id IS NULL OR campaign_id IN (SELECT id FROM campaigns WHERE status = 'running'))",
            params![],
            |r| r.get(0),
        )?;
        Ok(v.map(UtcInstant))
    }

    /// Jobs on `device` (submitted, accepted, held, sending): to resubmit after a
    /// reconnect or reboot, with the same keys.
    pub fn on_device(&self, device: &str) -> Result<Vec<JobRow>> {
        let mut st = self.db.prepare(format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE device = ?1 AND state IN ('submitted', 'accepted', 'held', 'sending')
             ORDER BY id"
        ))?;
        let rows = st.query_map([device], job_row)?;
        Ok(rows)
    }

    /// Jobs sent at or after `since` whose delivery report has not come yet.
    pub fn awaiting_reports(&self, since: UtcInstant) -> Result<u64> {
        let n: i64 = self.db.query_row(
            "SELECT count(*) FROM jobs WHERE state = 'sent' AND sent_at >= ?1",
            [since.0],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// How many jobs are on `device` (cheaper than [`Store::on_device`] when only the
    /// number matters).
    pub fn on_device_count(&self, device: &str) -> Result<u64> {
        let n: i64 = self
            .db
            .prepare_cached(
                "SELECT count(*) FROM jobs
             WHERE device = ?1 AND state IN ('submitted', 'accepted', 'held', 'sending')",
            )?
            .query_row([device], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Counts of jobs per state, for one campaign or all.
    pub fn job_counts(&self, campaign: Option<i64>) -> Result<Vec<(JobState, u64)>> {
        let mut st = self.db.prepare(
            "SELECT state, count(*) FROM jobs WHERE CAST(?1 AS BIGINT) IS NULL OR campaign_id = ?1 GROUP BY state",
        )?;
        let rows = st.query_map([campaign], |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, n) = row;
            if let Some(s) = JobState::parse(&s) {
                out.push((s, n as u64));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Records the host pre-check's verdict or a hand-over: one transaction.
    pub fn transition(
        &mut self,
        id: i64,
        state: JobState,
        at: UtcInstant,
        change: &Change<'_>,
        detail: &str,
    ) -> Result<()> {
        self.transaction(|tx| set_state(tx, id, state, at, change, detail))
    }

    /// Cancels every waiting job of a campaign (or one job); returns how many.
    pub fn cancel_waiting(
        &mut self,
        campaign: Option<i64>,
        job: Option<i64>,
        at: UtcInstant,
    ) -> Result<usize> {
        self.transaction(|tx| {
            let ids: Vec<i64> = tx.query_map(
                "SELECT id FROM jobs WHERE state IN ('queued', 'deferred', 'retry')
                 AND (CAST(?1 AS BIGINT) IS NULL OR campaign_id = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR id = ?2)",
                params![campaign, job],
                |r| r.get(0),
            )?;
            for id in &ids {
                set_state(
                    tx,
                    *id,
                    JobState::Cancelled,
                    at,
                    &Change::default(),
                    "cancelled",
                )?;
            }
            Ok(ids.len())
        })
    }

    /// A job's history: (time, state, detail), oldest first.
    pub fn history(&self, id: i64) -> Result<Vec<(UtcInstant, String, String)>> {
        let mut st = self
            .db
            .prepare("SELECT at, state, detail FROM job_history WHERE job_id = ?1 ORDER BY id")?;
        let rows = st.query_map([id], |r| Ok((UtcInstant(r.get(0)?), r.get(1)?, r.get(2)?)))?;
        Ok(rows)
    }
}
