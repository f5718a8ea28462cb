//! The dispatcher: calls the due rows of `callbacks` and records what came of them.
//!
//! One [`Dispatcher::tick`]: produce (one short transaction), read up to
//! `batch` due rows (a read, lock released), call them concurrently (no store lock
//! held), record every outcome (one short transaction). Calls for the same job or
//! inbound message to the same URL go one after the other, in row order, so that a
//! receiver normally sees `sent` before `delivered`; after a failed try that order is
//! no longer kept (every body says when its event happened).

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use crate::store::db::{Db, params};
use relais_core::compliance::tz::UtcInstant;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::produce::produce_some;
use super::{
    ANDROID_SIGNATURE_HEADER, ANDROID_TIMESTAMP_HEADER, EVENT_HEADER, EVENT_ID_HEADER,
    OutboxConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER, redact, sign, sign_android,
};
use crate::http::config::check_url;
use crate::scheduler::{Clock, SystemClock};
use crate::store::{Store, StoreError};

/// Most bytes of an sms-service answer handed to [`OutboxHost::service_answer`].
const MAX_ANSWER: usize = 64 * 1024;

/// Where the dispatcher finds the store and the time.
pub trait OutboxHost: Send + Sync + 'static {
    /// Locks the store (held only between awaits, never across one).
    fn store(&self) -> MutexGuard<'_, Store>;
    /// Now, for due times and back-off (a virtual clock in the demo and in tests).
    fn now(&self) -> UtcInstant;
    /// An sms-service call for inbound message `inbound_id` was answered 2xx, with
    /// this body (at most 64 KiB) and content type: the place to send Kannel-style
    /// replies. Called after the call is recorded as done, so at most once per
    /// callback row. Does nothing by default.
    fn service_answer(&self, _inbound_id: i64, _content_type: Option<&str>, _body: &[u8]) {}
}

impl OutboxHost for crate::scheduler::Context {
    fn store(&self) -> MutexGuard<'_, Store> {
        crate::scheduler::Context::store(self)
    }

    fn now(&self) -> UtcInstant {
        self.clock.now()
    }
}

/// What one [`Dispatcher::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Callback rows the producer wrote.
    pub produced: usize,
    /// Calls made (or refused before the call: bad URL).
    pub calls: usize,
    /// Calls answered 2xx.
    pub done: usize,
    /// Calls that failed and wait for another try.
    pub retried: usize,
    /// Callbacks given up: dead letters.
    pub dead: usize,
    /// More work is waiting right now (a full batch, or logs not read to the end).
    pub more: bool,
}

/// A due callback row.
#[derive(Debug)]
struct Due {
    id: i64,
    kind: String,
    event: String,
    job_id: Option<i64>,
    inbound_id: Option<i64>,
    method: String,
    url: String,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    secret: Option<String>,
    attempts: u32,
    /// For sms-service calls: the inbound message's sender, device and time.
    inbound: Option<(String, String, i64)>,
}

/// How a call went.
#[derive(Debug)]
enum Result {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer (connection, timeout, ...).
    Failed(String),
    /// Not called: the URL or method cannot be called (a dead letter at once).
    Invalid(String),
}

#[derive(Debug)]
struct Outcome {
    id: i64,
    kind: String,
    event: String,
    url: String,
    attempts: u32,
    inbound_id: Option<i64>,
    result: Result,
    /// A 2xx answer of an sms-service call.
    answer: Option<(Option<String>, Vec<u8>)>,
}

/// Calls callbacks; see the module documentation.
#[derive(Debug)]
pub struct Dispatcher<H> {
    host: Arc<H>,
    cfg: Arc<OutboxConfig>,
    client: reqwest::Client,
}

impl<H: OutboxHost> Dispatcher<H> {
    /// A dispatcher with one HTTP client: the configured timeout, no redirects.
    pub fn new(host: Arc<H>, cfg: OutboxConfig) -> std::result::Result<Dispatcher<H>, String> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for callbacks: {e}"))?;
        Ok(Dispatcher {
            host,
            cfg: Arc::new(cfg),
            client,
        })
    }

    /// One round: produce, call what is due, record the outcomes.
    pub async fn tick(&self) -> std::result::Result<Tick, StoreError> {
        let cfg = &self.cfg;
        let now = self.host.now();
        let produced = self
            .host
            .store()
            .transaction(|tx| produce_some(tx, cfg, now))?;
        let due = due(&self.host.store(), now, cfg.batch.max(1))?;
        let mut tick = Tick {
            produced: produced.callbacks,
            calls: due.len(),
            more: produced.more || due.len() >= cfg.batch.max(1),
            ..Default::default()
        };
        if due.is_empty() {
            return Ok(tick);
        }
        // One task per (job or inbound message, URL): in row order within it.
        let mut groups: Vec<Vec<Due>> = Vec::new();
        let mut index: HashMap<(Option<i64>, Option<i64>, String), usize> = HashMap::new();
        for d in due {
            if d.job_id.is_none() && d.inbound_id.is_none() {
                groups.push(vec![d]);
                continue;
            }
            let key = (d.job_id, d.inbound_id, d.url.clone());
            match index.get(&key) {
                Some(&i) => groups[i].push(d),
                None => {
                    index.insert(key, groups.len());
                    groups.push(vec![d]);
                }
            }
        }
        let mut set = JoinSet::new();
        for group in groups {
            let client = self.client.clone();
            let cfg = Arc::clone(&self.cfg);
            set.spawn(async move {
                let mut out = Vec::with_capacity(group.len());
                for d in group {
                    out.push(call(&client, &cfg, d).await);
                }
                out
            });
        }
        let mut outcomes = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => outcomes.extend(v),
                // Its rows stay pending and go again.
                Err(e) => tracing::warn!("a callback task failed: {e}"),
            }
        }
        let now = self.host.now();
        self.host
            .store()
            .transaction(|tx| record(tx, cfg, &outcomes, now))?;
        for o in &outcomes {
            match classify(o, cfg) {
                Class::Done => tick.done += 1,
                Class::Retry { .. } => tick.retried += 1,
                Class::Dead { tries, error, .. } => {
                    tick.dead += 1;
                    tracing::warn!(
                        callback = o.id,
                        kind = %o.kind,
                        event = %o.event,
                        target = %redact(&o.url),
                        tries,
                        %error,
                        "callback given up (dead letter)"
                    );
                }
            }
            if let (Some(inbound), Some((ct, body))) = (o.inbound_id, &o.answer) {
                self.host.service_answer(inbound, ct.as_deref(), body);
            }
        }
        Ok(tick)
    }

    /// Ticks until `stop` turns true (or its sender is gone): at once again while
    /// work waits, else after `cfg.poll` or when `wake` is notified (the HTTP side
    /// notifies it after a write that may make callbacks). Calls under way when `stop`
    /// comes are dropped; their rows stay pending and go again at the next start.
    pub async fn run(&self, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            let busy = tokio::select! {
                r = self.tick() => match r {
                    Ok(t) => t.more,
                    Err(e) => {
                        tracing::warn!("callback outbox: {e}");
                        false
                    }
                },
                r = stop.changed() => {
                    if r.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if busy {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.cfg.poll) => {}
                r = stop.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Runs the outbox until `stop` turns true: see [`Dispatcher::run`].
pub async fn run<H: OutboxHost>(
    host: Arc<H>,
    cfg: OutboxConfig,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> std::result::Result<(), String> {
    Dispatcher::new(host, cfg)?.run(wake, stop).await;
    Ok(())
}

fn due(store: &Store, now: UtcInstant, limit: usize) -> std::result::Result<Vec<Due>, StoreError> {
    let mut st = store.db().prepare_cached(
        "SELECT c.id, c.kind, c.event, c.job_id, c.inbound_id, c.method, c.url, c.content_type,
                c.body, c.secret, c.attempts, i.sender, i.device, i.at
         FROM callbacks c LEFT JOIN inbound i ON c.kind = 'service' AND i.id = c.inbound_id
         WHERE c.state = 'pending' AND c.due_at <= ?1
         ORDER BY c.due_at, c.id LIMIT ?2",
    )?;
    let rows = st.query_map(params![now.0, limit as i64], |r| {
        let inbound = match (
            r.get::<Option<String>>(11)?,
            r.get::<Option<String>>(12)?,
            r.get::<Option<i64>>(13)?,
        ) {
            (Some(s), Some(d), Some(at)) => Some((s, d, at)),
            _ => None,
        };
        Ok(Due {
            id: r.get(0)?,
            kind: r.get(1)?,
            event: r.get(2)?,
            job_id: r.get(3)?,
            inbound_id: r.get(4)?,
            method: r.get(5)?,
            url: r.get(6)?,
            content_type: r.get(7)?,
            body: r.get(8)?,
            secret: r.get(9)?,
            attempts: r.get::<i64>(10)?.clamp(0, i64::from(u32::MAX)) as u32,
            inbound,
        })
    })?;
    Ok(rows)
}

fn header(headers: &mut HeaderMap, name: &str, value: impl AsRef<[u8]>) {
    // A value that cannot be a header (a control character in a sender) is left out
    // rather than failing the call for ever.
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_ref()),
    ) {
        headers.insert(n, v);
    }
}

/// `YYYY-MM-DD HH:MM:SS`, UTC: Kannel's `X-Kannel-Time`.
fn kannel_header_time(t: UtcInstant) -> String {
    let (d, s) = t.to_date();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The error and its causes, without the URL (it may carry the text or a password).
fn describe(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if timeout && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    text
}

async fn call(client: &reqwest::Client, cfg: &OutboxConfig, d: Due) -> Outcome {
    let mut out = Outcome {
        id: d.id,
        kind: d.kind.clone(),
        event: d.event.clone(),
        url: d.url.clone(),
        attempts: d.attempts,
        inbound_id: d.inbound_id,
        result: Result::Failed(String::new()),
        answer: None,
    };
    if let Err(e) = check_url(&d.url, &cfg.callback_hosts) {
        out.result = Result::Invalid(format!("not called: {}", redact_error(&e, &d.url)));
        return out;
    }
    let url = match reqwest::Url::parse(&d.url) {
        Ok(u) => u,
        Err(e) => {
            out.result = Result::Invalid(format!("not called: not a valid URL ({e})"));
            return out;
        }
    };
    // The host the client will really connect to: `check_url` reads the text, the
    // URL parser may see another host in it (`http://a.example\\@b.example/`).
    if let Err(e) = allowed(&url, &cfg.callback_hosts) {
        out.result = Result::Invalid(format!("not called: {e}"));
        return out;
    }
    let method = match d.method.as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        other => {
            out.result = Result::Invalid(format!("not called: method {other:?}"));
            return out;
        }
    };
    let mut headers = HeaderMap::new();
    if let Some(ct) = &d.content_type {
        header(&mut headers, "content-type", ct);
    }
    // Every call says which event it carries, so a receiver can drop a repeat.
    header(&mut headers, EVENT_HEADER, &d.event);
    header(&mut headers, EVENT_ID_HEADER, d.id.to_string());
    if d.kind == "webhook" {
        let ts = SystemClock.now().0;
        let body = d.body.as_deref().unwrap_or_default();
        header(&mut headers, TIMESTAMP_HEADER, ts.to_string());
        if let Some(secret) = d.secret.as_deref().filter(|s| !s.is_empty()) {
            header(
                &mut headers,
                SIGNATURE_HEADER,
                sign(secret.as_bytes(), ts, body),
            );
            header(&mut headers, ANDROID_TIMESTAMP_HEADER, ts.to_string());
            header(
                &mut headers,
                ANDROID_SIGNATURE_HEADER,
                sign_android(secret.as_bytes(), ts, body),
            );
        }
    }
    if d.kind == "service" && d.method == "POST" {
        // Kannel's post-url headers (gw/smsbox.c), for what relais knows.
        if let Some((sender, device, at)) = &d.inbound {
            header(&mut headers, "X-Kannel-From", sender);
            header(
                &mut headers,
                "X-Kannel-Time",
                kannel_header_time(UtcInstant(*at)),
            );
            header(&mut headers, "X-Kannel-SMSC", device);
        }
        header(&mut headers, "X-Kannel-Coding", "0");
    }
    let mut request = client.request(method, url).headers(headers);
    if let Some(body) = d.body {
        request = request.body(body);
    }
    match request.send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            out.result = Result::Status(status);
            if d.kind == "service" && response.status().is_success() {
                let ct = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut body = Vec::new();
                // An answer that breaks off is taken as far as it came.
                while let Ok(Some(chunk)) = response.chunk().await {
                    let room = MAX_ANSWER - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_ANSWER {
                        break;
                    }
                }
                out.answer = Some((ct, body));
            }
        }
        Err(e) => out.result = Result::Failed(describe(e)),
    }
    out
}

/// Checks the parsed URL: http or https, and a host of `hosts` when it is not empty.
fn allowed(url: &reqwest::Url, hosts: &[String]) -> std::result::Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not called", url.scheme()));
    }
    let bare = |h: &str| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    };
    let host = bare(url.host_str().unwrap_or_default());
    if host.is_empty() {
        return Err("no host".into());
    }
    if !hosts.is_empty() && !hosts.iter().any(|h| bare(h) == host) {
        return Err(format!(
            "host {host:?} is not in http.callback_hosts ({})",
            hosts.join(", ")
        ));
    }
    Ok(())
}

/// `check_url`'s words with the URL cut to what logs may show.
fn redact_error(error: &str, url: &str) -> String {
    error.replace(&format!("{url:?}"), &format!("{:?}", redact(url)))
}

/// Extra wait after a failed try, up to a tenth of `wait`, fixed per row and try (the
/// retries of many callbacks that failed together spread out).
fn jitter(id: i64, attempts: u32, wait: u64) -> u64 {
    let spread = (id.unsigned_abs() % 1_000_003)
        .wrapping_mul(7919)
        .wrapping_add(u64::from(attempts).wrapping_mul(104_729))
        % 101;
    wait.saturating_mul(spread) / 1000
}

/// What an outcome makes of its row.
enum Class {
    Done,
    Retry {
        attempts: u32,
        status: Option<u16>,
        error: String,
    },
    Dead {
        /// Tries made (an invalid URL is never tried).
        tries: u32,
        status: Option<u16>,
        error: String,
    },
}

fn classify(o: &Outcome, cfg: &OutboxConfig) -> Class {
    let (status, error) = match &o.result {
        Result::Status(s) if (200..300).contains(s) => return Class::Done,
        Result::Invalid(e) => {
            return Class::Dead {
                tries: o.attempts,
                status: None,
                error: e.clone(),
            };
        }
        Result::Status(s) => (Some(*s), format!("HTTP {s}")),
        Result::Failed(e) => (None, e.clone()),
    };
    let attempts = o.attempts.saturating_add(1);
    if attempts >= cfg.attempts {
        Class::Dead {
            tries: attempts,
            status,
            error,
        }
    } else {
        Class::Retry {
            attempts,
            status,
            error,
        }
    }
}

fn record(
    tx: &Db,
    cfg: &OutboxConfig,
    outcomes: &[Outcome],
    now: UtcInstant,
) -> std::result::Result<(), StoreError> {
    for o in outcomes {
        match classify(o, cfg) {
            Class::Done => {
                let status = match o.result {
                    Result::Status(s) => Some(s),
                    _ => None,
                };
                tx.prepare_cached(
                    "UPDATE callbacks SET state = 'done', attempts = attempts + 1, last_status = ?2,
                         last_error = NULL, done_at = ?3
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![o.id, status, now.0])?;
            }
            Class::Dead {
                tries,
                status,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE callbacks SET state = 'dead', attempts = ?2, last_status = ?3,
                         last_error = ?4, done_at = ?5
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![o.id, tries, status, error, now.0])?;
            }
            Class::Retry {
                attempts,
                status,
                error,
            } => {
                let wait = cfg.backoff_after(attempts);
                let due = now
                    .plus(i64::try_from(wait).unwrap_or(i64::MAX))
                    .plus(i64::try_from(jitter(o.id, attempts, wait)).unwrap_or(0));
                tx.prepare_cached(
                    "UPDATE callbacks SET attempts = ?2, last_status = ?3, last_error = ?4,
                         due_at = ?5
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![o.id, attempts, status, error, due.0])?;
            }
        }
    }
    Ok(())
}
