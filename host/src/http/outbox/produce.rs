//! The producer: new entries of the store's logs become rows of `callbacks`.
//!
//! Each log (`job_history`, `inbound`, `device_log`) has a mark in `cursors`: the
//! last id turned into callbacks. [`produce`] reads the entries past the marks, writes
//! their callbacks and moves the marks, all inside the caller's transaction. Log ids
//! grow with every insert and SQLite has one writer at a time, so an entry with a
//! smaller id never commits after a larger one has been read: nothing is skipped.
//!
//! A store that has no mark yet (the first run of `relais serve` on it) starts at the
//! newest entry of each log: applications hear of what happens from then on, not of
//! the whole history.

use crate::store::db::{Db, OptionalExt as _, params};
use relais_core::compliance::tz::UtcInstant;
use serde_json::{Value, json};

use super::OutboxConfig;
use crate::http::config::HttpService;
use crate::http::escapes::{Escapes, expand, words};
use crate::store::{JobState, StoreError};

/// The logs and their tables.
const LOGS: [&str; 3] = ["job_history", "inbound", "device_log"];

/// SMS Gateway for Android's event names a webhook registered through the API may
/// use instead of relais's: its body then has that app's shape.
pub const ANDROID_EVENTS: &[&str] = &["sms:received", "sms:sent", "sms:delivered", "sms:failed"];

/// The Kannel delivery report type of a job state (`None`: no report):
/// 8 SMSC submit (sent), 1 delivered, 2 not delivered (undelivered, failed, expired,
/// unknown), 4 buffered (deferred, held), 16 SMSC reject (refused, cancelled: it never
/// reached the network).
pub const fn dlr_type(state: JobState) -> Option<i64> {
    match state {
        JobState::Sent => Some(8),
        JobState::Delivered => Some(1),
        JobState::Undelivered | JobState::Failed | JobState::Expired | JobState::Unknown => Some(2),
        JobState::Deferred | JobState::Held => Some(4),
        JobState::Refused | JobState::Cancelled => Some(16),
        JobState::Queued
        | JobState::Retry
        | JobState::Submitted
        | JobState::Accepted
        | JobState::Sending => None,
    }
}

/// The webhook event of a job state (`None`: none): sent, delivered, failed
/// (undelivered, failed, expired, unknown, cancelled) or refused.
pub const fn webhook_event(state: JobState) -> Option<&'static str> {
    match state {
        JobState::Sent => Some("sent"),
        JobState::Delivered => Some("delivered"),
        JobState::Undelivered
        | JobState::Failed
        | JobState::Expired
        | JobState::Unknown
        | JobState::Cancelled => Some("failed"),
        JobState::Refused => Some("refused"),
        _ => None,
    }
}

/// SMS Gateway for Android's name for a relais event.
fn android_event(event: &str) -> Option<&'static str> {
    match event {
        "received" => Some("sms:received"),
        "sent" => Some("sms:sent"),
        "delivered" => Some("sms:delivered"),
        "failed" | "refused" => Some("sms:failed"),
        _ => None,
    }
}

/// The `[[http.service]]` for an inbound text: the first whose keyword is the text's
/// first word (case-insensitive), else the first with keyword `default`.
pub fn route<'c>(services: &'c [HttpService], text: &str) -> Option<&'c HttpService> {
    let first = words(text).next().map(str::to_lowercase);
    first
        .and_then(|w| {
            services
                .iter()
                .find(|s| s.keyword != "default" && s.keyword.to_lowercase() == w)
        })
        .or_else(|| services.iter().find(|s| s.keyword == "default"))
}

/// A webhook to call: one of the configuration or one registered through the API.
#[derive(Debug)]
struct Target {
    /// `config:<n>` or the `webhooks` row id.
    id: String,
    url: String,
    /// relais events it takes (empty: all).
    events: Vec<String>,
    secret: Option<String>,
    android: bool,
    /// The client that registered it through the API (`None`: the configuration's):
    /// it gets the events of its own messages only.
    owner: Option<String>,
}

impl Target {
    fn takes(&self, event: &str) -> bool {
        if self.android {
            android_event(event).is_some_and(|a| self.events.iter().any(|e| e == a))
        } else {
            self.events.is_empty() || self.events.iter().any(|e| e == event)
        }
    }
}

fn targets(tx: &Db, cfg: &OutboxConfig) -> Result<Vec<Target>, StoreError> {
    let mut out: Vec<Target> = cfg
        .webhooks
        .iter()
        .enumerate()
        .map(|(i, w)| Target {
            id: format!("config:{i}"),
            url: w.url.clone(),
            events: w.events.clone(),
            secret: Some(w.secret.clone()).filter(|s| !s.is_empty()),
            android: false,
            owner: None,
        })
        .collect();
    let mut st =
        tx.prepare_cached("SELECT id, url, event, client FROM webhooks ORDER BY created_at, id")?;
    let rows = st.query_map(params![], |r| {
        Ok((
            r.get::<String>(0)?,
            r.get::<String>(1)?,
            r.get::<String>(2)?,
            r.get::<String>(3)?,
        ))
    })?;
    for row in rows {
        let (id, url, event, client) = row;
        let android = ANDROID_EVENTS.contains(&event.as_str());
        if !android
            && event != "*"
            && !crate::http::config::WEBHOOK_EVENTS.contains(&event.as_str())
        {
            continue;
        }
        out.push(Target {
            id,
            url,
            events: if event == "*" { vec![] } else { vec![event] },
            secret: cfg.webhook_secret.clone(),
            android,
            owner: Some(client),
        });
    }
    Ok(out)
}

/// One row of `callbacks` to write.
struct NewCallback<'a> {
    kind: &'a str,
    event: &'a str,
    job_id: Option<i64>,
    inbound_id: Option<i64>,
    method: &'a str,
    url: &'a str,
    content_type: Option<&'a str>,
    body: Option<&'a [u8]>,
    secret: Option<&'a str>,
}

fn insert(tx: &Db, c: &NewCallback<'_>, now: UtcInstant) -> Result<i64, StoreError> {
    Ok(tx.query_value(
        "INSERT INTO callbacks (kind, event, job_id, inbound_id, method, url, content_type,
             body, secret, state, attempts, due_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?10, ?10) RETURNING id",
        params![
            c.kind,
            c.event,
            c.job_id,
            c.inbound_id,
            c.method,
            c.url,
            c.content_type,
            c.body,
            c.secret,
            now.0
        ],
    )?)
}

/// Writes one webhook call per target that takes `event`; `body` makes the JSON body
/// from the event id (the row's id: the same on every retry) and the target. An event
/// about a message (`origin`: `Some` of its origin, empty for the command line's) goes
/// to the configuration's webhooks and to those of the client that sent it; inbound
/// messages and device events (`None`) go to every webhook that takes them.
#[allow(clippy::too_many_arguments)]
fn webhooks(
    tx: &Db,
    targets: &[Target],
    event: &str,
    job_id: Option<i64>,
    inbound_id: Option<i64>,
    origin: Option<&str>,
    now: UtcInstant,
    body: impl Fn(i64, &Target) -> Option<Value>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    let allowed = |t: &&Target| match (t.owner.as_deref(), origin) {
        (Some(owner), Some(origin)) => owner == origin,
        _ => true,
    };
    for t in targets.iter().filter(|t| t.takes(event)).filter(allowed) {
        let id = insert(
            tx,
            &NewCallback {
                kind: "webhook",
                event,
                job_id,
                inbound_id,
                method: "POST",
                url: &t.url,
                content_type: Some("application/json"),
                body: None,
                secret: t.secret.as_deref(),
            },
            now,
        )?;
        match body(id, t) {
            Some(b) => {
                tx.prepare_cached("UPDATE callbacks SET body = ?2 WHERE id = ?1")?
                    .execute(params![id, b.to_string().into_bytes()])?;
                n += 1;
            }
            // No body in this target's shape (a device event for an Android-shaped
            // webhook): the row goes again.
            None => {
                tx.prepare_cached("DELETE FROM callbacks WHERE id = ?1")?
                    .execute([id])?;
            }
        }
    }
    Ok(n)
}

/// SMS Gateway for Android's dates: `yyyy-MM-dd'T'HH:mm:ss.SSSXXX`, here in UTC.
fn android_time(t: UtcInstant) -> String {
    let s = t.to_string();
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}.000Z"),
        None => s,
    }
}

/// SMS Gateway for Android's envelope.
fn android_body(id: i64, t: &Target, event: &str, device: &str, payload: Value) -> Option<Value> {
    Some(json!({
        "id": id.to_string(),
        "webhookId": t.id,
        "deviceId": device,
        "event": android_event(event)?,
        "payload": payload,
    }))
}

/// The mark of `log`, created at the newest entry when the store has none.
fn cursor(tx: &Db, log: &str) -> Result<Option<i64>, StoreError> {
    let last: Option<i64> = tx
        .prepare_cached("SELECT last FROM cursors WHERE name = ?1")?
        .query_row([log], |r| r.get(0))
        .optional()?;
    if last.is_some() {
        return Ok(last);
    }
    // `log` is one of LOGS, never user input.
    let max: i64 = tx.query_row(
        &format!("SELECT coalesce(max(id), 0) FROM {log}"),
        params![],
        |r| r.get(0),
    )?;
    set_cursor(tx, log, max)?;
    Ok(None)
}

/// Sets the mark of each log that has none at its newest entry, as the first producer
/// pass would. `relais serve` calls it when it opens the store, before any device
/// starts: a device that connects (or a message that arrives) while serve starts up is
/// news, not history, even when it is logged before the dispatcher's first pass.
pub fn start_marks(tx: &Db) -> Result<(), StoreError> {
    for log in LOGS {
        cursor(tx, log)?;
    }
    Ok(())
}

fn set_cursor(tx: &Db, log: &str, last: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO cursors (name, last) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET last = excluded.last",
    )?
    .execute(params![log, last])?;
    Ok(())
}

/// What one producer pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Produced {
    /// Callback rows written.
    pub callbacks: usize,
    /// Some log had more entries than one pass reads: call again soon.
    pub more: bool,
}

/// Turns the log entries past the cursors into callbacks and moves the cursors, all
/// in `tx` (see the module documentation); returns how many callbacks it wrote. At
/// most `cfg.produce_batch` entries of each log are read per call.
pub fn produce(tx: &Db, cfg: &OutboxConfig, now: UtcInstant) -> Result<usize, StoreError> {
    produce_some(tx, cfg, now).map(|p| p.callbacks)
}

pub(super) fn produce_some(
    tx: &Db,
    cfg: &OutboxConfig,
    now: UtcInstant,
) -> Result<Produced, StoreError> {
    crate::store::read_logs_in_order(tx)?;
    let targets = targets(tx, cfg)?;
    let limit = cfg.produce_batch.max(1) as i64;
    let mut out = Produced::default();
    for log in LOGS {
        let Some(from) = cursor(tx, log)? else {
            continue;
        };
        let (read, last, callbacks) = match log {
            "job_history" => history(tx, &targets, from, limit, now)?,
            "inbound" => inbound(tx, cfg, &targets, from, limit, now)?,
            _ => devices(tx, &targets, from, limit, now)?,
        };
        if last > from {
            set_cursor(tx, log, last)?;
        }
        out.callbacks += callbacks;
        out.more |= read >= limit as usize;
    }
    Ok(out)
}

/// A job_history entry with its job.
struct HistoryRow {
    id: i64,
    job_id: i64,
    at: i64,
    state: String,
    detail: String,
    previous: Option<String>,
    job: Option<JobInfo>,
}

struct JobInfo {
    number: String,
    campaign_id: Option<i64>,
    device: Option<String>,
    rule: Option<String>,
    reason: Option<String>,
    parts: Option<i64>,
    origin: Option<String>,
    sender: Option<String>,
    dlr_url: Option<String>,
    dlr_mask: Option<i64>,
    meta: Option<String>,
    /// The client's id for a message to several recipients (SMS Gateway for Android).
    message_id: Option<String>,
}

/// Returns (entries read, last id read, callbacks written).
fn history(
    tx: &Db,
    targets: &[Target],
    from: i64,
    limit: i64,
    now: UtcInstant,
) -> Result<(usize, i64, usize), StoreError> {
    let rows: Vec<HistoryRow> = {
        let mut st = tx.prepare_cached(
            "SELECT h.id, h.job_id, h.at, h.state, h.detail,
                    (SELECT p.state FROM job_history p WHERE p.job_id = h.job_id AND p.id < h.id
                      ORDER BY p.id DESC LIMIT 1),
                    j.id, j.number, j.campaign_id, j.device, j.rule, j.reason, j.parts, j.origin,
                    j.sender, j.dlr_url, j.dlr_mask, j.meta, j.message_id
             FROM job_history h LEFT JOIN jobs j ON j.id = h.job_id
             WHERE h.id > ?1 ORDER BY h.id LIMIT ?2",
        )?;
        st.query_map(params![from, limit], |r| {
            let job = match r.get::<Option<i64>>(6)? {
                None => None,
                Some(_) => Some(JobInfo {
                    number: r.get(7)?,
                    campaign_id: r.get(8)?,
                    device: r.get(9)?,
                    rule: r.get(10)?,
                    reason: r.get(11)?,
                    parts: r.get(12)?,
                    origin: r.get(13)?,
                    sender: r.get(14)?,
                    dlr_url: r.get(15)?,
                    dlr_mask: r.get(16)?,
                    meta: r.get(17)?,
                    message_id: r.get(18)?,
                }),
            };
            Ok(HistoryRow {
                id: r.get(0)?,
                job_id: r.get(1)?,
                at: r.get(2)?,
                state: r.get(3)?,
                detail: r.get(4)?,
                previous: r.get(5)?,
                job,
            })
        })?
    };
    let mut written = 0;
    let mut last = from;
    for h in &rows {
        last = h.id;
        // Entries that repeat the state (a duplicate event, a later segment, a stale
        // event) are no change.
        if h.previous.as_deref() == Some(h.state.as_str()) {
            continue;
        }
        let (Some(state), Some(job)) = (JobState::parse(&h.state), h.job.as_ref()) else {
            continue;
        };
        let previous = h.previous.as_deref().and_then(JobState::parse);
        // held, then deferred again in the host: still the one "buffered" report.
        if previous.and_then(dlr_type) != dlr_type(state) {
            written += dlr(tx, h, state, job, now)?;
        }
        if let Some(event) = webhook_event(state) {
            let origin = Some(job.origin.as_deref().unwrap_or(""));
            written += webhooks(
                tx,
                targets,
                event,
                Some(h.job_id),
                None,
                origin,
                now,
                |id, t| job_body(id, t, event, h, job),
            )?;
        }
    }
    Ok((rows.len(), last, written))
}

/// The Kannel dlr-url call for one job state, when its dlr-mask asks for it.
fn dlr(
    tx: &Db,
    h: &HistoryRow,
    state: JobState,
    job: &JobInfo,
    now: UtcInstant,
) -> Result<usize, StoreError> {
    let (Some(template), Some(kind)) = (job.dlr_url.as_deref(), dlr_type(state)) else {
        return Ok(0);
    };
    if template.is_empty() || job.dlr_mask.unwrap_or(0) & kind == 0 {
        return Ok(0);
    }
    let meta: Value = job
        .meta
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null);
    let meta_str = |k: &str| meta.get(k).and_then(Value::as_str);
    let id = h.job_id.to_string();
    let service = job
        .origin
        .as_deref()
        .map(|o| o.split_once(':').map_or(o, |(_, name)| name));
    let e = Escapes {
        text: Some(&h.detail),
        phone: &job.number,
        own: job.sender.as_deref().unwrap_or_default(),
        time: Some(UtcInstant(h.at)),
        smsc: job.device.as_deref(),
        id: Some(&id),
        dlr: Some(kind),
        dlr_url: Some(template),
        foreign_id: None,
        service,
        account: meta_str("account"),
        binfo: meta_str("binfo"),
        meta_data: meta_str("meta-data").or(meta_str("meta_data")),
        coding: None,
        charset: None,
    };
    let url = expand(template, &e);
    insert(
        tx,
        &NewCallback {
            kind: "dlr",
            event: &h.state,
            job_id: Some(h.job_id),
            inbound_id: None,
            method: "GET",
            url: &url,
            content_type: None,
            body: None,
            secret: None,
        },
        now,
    )?;
    Ok(1)
}

fn job_body(id: i64, t: &Target, event: &str, h: &HistoryRow, job: &JobInfo) -> Option<Value> {
    let at = UtcInstant(h.at);
    let failure = matches!(event, "failed" | "refused");
    if t.android {
        let mut payload = json!({
            // Its clients know the id they gave (or were given) for the message.
            "messageId": job.message_id.clone().unwrap_or_else(|| h.job_id.to_string()),
            "phoneNumber": job.number,
            "simNumber": Value::Null,
        });
        let time = android_time(at);
        let fields = match event {
            "sent" => json!({ "sentAt": time, "partsCount": job.parts.unwrap_or(1) }),
            "delivered" => json!({ "deliveredAt": time }),
            _ => json!({
                "failedAt": time,
                "reason": job.reason.clone().or(job.rule.clone()).unwrap_or_else(|| h.state.clone()),
            }),
        };
        if let (Some(p), Value::Object(f)) = (payload.as_object_mut(), fields) {
            p.extend(f);
        }
        return android_body(
            id,
            t,
            event,
            job.device.as_deref().unwrap_or_default(),
            payload,
        );
    }
    Some(json!({
        "id": id,
        "event": event,
        "at": at.to_string(),
        "job": {
            "id": h.job_id,
            "number": job.number,
            "state": h.state,
            "detail": h.detail,
            "rule": if failure { job.rule.clone() } else { None },
            "reason": if failure { job.reason.clone() } else { None },
            "origin": job.origin,
            "campaign_id": job.campaign_id,
            "device": job.device,
            "parts": job.parts,
        },
    }))
}

/// Inbound messages: sms-service calls and `received` webhooks.
fn inbound(
    tx: &Db,
    cfg: &OutboxConfig,
    targets: &[Target],
    from: i64,
    limit: i64,
    now: UtcInstant,
) -> Result<(usize, i64, usize), StoreError> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, String, String, String, i64, bool)> = {
        let mut st = tx.prepare_cached(
            "SELECT id, device, sender, text, at, truncated FROM inbound
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        st.query_map(params![from, limit], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
    };
    let mut written = 0;
    let mut last = from;
    for (id, device, sender, text, at, truncated) in &rows {
        last = *id;
        if let Some(service) = route(&cfg.services, text) {
            let sid = id.to_string();
            let e = Escapes {
                text: Some(text),
                phone: sender,
                own: "",
                time: Some(UtcInstant(*at)),
                smsc: Some(device),
                id: Some(&sid),
                service: Some(&service.keyword),
                coding: Some(0),
                charset: Some("UTF-8"),
                ..Default::default()
            };
            let (method, template, content_type, body) = match (&service.get_url, &service.post_url)
            {
                (Some(u), _) => ("GET", u, None, None),
                (None, Some(u)) => (
                    "POST",
                    u,
                    Some("text/plain; charset=\"UTF-8\""),
                    Some(text.as_bytes()),
                ),
                (None, None) => continue,
            };
            let url = expand(template, &e);
            insert(
                tx,
                &NewCallback {
                    kind: "service",
                    event: "received",
                    job_id: None,
                    inbound_id: Some(*id),
                    method,
                    url: &url,
                    content_type,
                    body,
                    secret: None,
                },
                now,
            )?;
            written += 1;
        }
        let at = UtcInstant(*at);
        written += webhooks(
            tx,
            targets,
            "received",
            None,
            Some(*id),
            None,
            now,
            |cid, t| {
                if t.android {
                    let payload = json!({
                        "messageId": id.to_string(),
                        "message": text,
                        "phoneNumber": sender,
                        "simNumber": Value::Null,
                        "receivedAt": android_time(at),
                    });
                    return android_body(cid, t, "received", device, payload);
                }
                Some(json!({
                    "id": cid,
                    "event": "received",
                    "at": at.to_string(),
                    "message": {
                        "id": id,
                        "device": device,
                        "from": sender,
                        "text": text,
                        "truncated": truncated,
                    },
                }))
            },
        )?;
    }
    Ok((rows.len(), last, written))
}

/// Device connections and losses: `device.up` and `device.down` webhooks.
fn devices(
    tx: &Db,
    targets: &[Target],
    from: i64,
    limit: i64,
    now: UtcInstant,
) -> Result<(usize, i64, usize), StoreError> {
    let rows: Vec<(i64, String, bool, String, i64)> = {
        let mut st = tx.prepare_cached(
            "SELECT id, device, up, detail, at FROM device_log WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        st.query_map(params![from, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
    };
    let mut written = 0;
    let mut last = from;
    for (id, device, up, detail, at) in &rows {
        last = *id;
        let event = if *up { "device.up" } else { "device.down" };
        written += webhooks(tx, targets, event, None, None, None, now, |cid, t| {
            (!t.android).then(|| {
                json!({
                    "id": cid,
                    "event": event,
                    "at": UtcInstant(*at).to_string(),
                    "device": { "name": device, "detail": detail },
                })
            })
        })?;
    }
    Ok((rows.len(), last, written))
}
