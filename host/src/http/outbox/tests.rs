use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::UtcInstant;
use serde_json::Value;

use super::*;
use crate::http::config::{HttpService, WebhookConfig};
use crate::store::db::params;
use crate::store::testing::both_engines;
use crate::store::{Change, JobState, NewJob, Store};

const T0: i64 = 1_767_261_600; // 2026-01-01T10:00:00Z

fn cfg() -> OutboxConfig {
    OutboxConfig {
        services: vec![],
        webhooks: vec![],
        webhook_secret: None,
        callback_hosts: vec![],
        attempts: 10,
        backoff: vec![10, 30],
        timeout: Duration::from_secs(5),
        batch: 32,
        produce_batch: 1000,
        poll: Duration::from_millis(20),
        user_agent: "relais-test".into(),
    }
}

/// An sms-service answer: inbound id, content type, body.
type Answer = (i64, Option<String>, Vec<u8>);

struct Host {
    store: Mutex<Store>,
    now: AtomicI64,
    answers: Mutex<Vec<Answer>>,
}

impl Host {
    fn new() -> Arc<Host> {
        Host::on(Store::open_in_memory().unwrap())
    }

    /// A host over `store`.
    fn on(store: Store) -> Arc<Host> {
        let host = Arc::new(Host {
            store: Mutex::new(store),
            now: AtomicI64::new(T0),
            answers: Mutex::new(Vec::new()),
        });
        // The first run marks the (empty) logs.
        produce_now(&host, &cfg());
        host
    }

    fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl OutboxHost for Host {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap()
    }
    fn now(&self) -> UtcInstant {
        UtcInstant(self.now.load(Ordering::SeqCst))
    }
    fn service_answer(&self, inbound_id: i64, content_type: Option<&str>, body: &[u8]) {
        self.answers.lock().unwrap().push((
            inbound_id,
            content_type.map(str::to_owned),
            body.to_vec(),
        ));
    }
}

fn produce_now(host: &Host, cfg: &OutboxConfig) -> usize {
    let now = host.now();
    host.store()
        .transaction(|tx| produce(tx, cfg, now))
        .unwrap()
}

fn job(host: &Host, number: &str) -> i64 {
    let now = host.now();
    host.store()
        .insert_job(
            &NewJob {
                number: number.into(),
                text: "Your code is 1234".into(),
                class: Class::Transactional,
                brand: "Shop".into(),
                categories: String::new(),
                department: None,
                consent: ConsentStatus::None,
                not_before: None,
                expires: None,
            },
            now,
        )
        .unwrap()
}

fn set_dlr(host: &Host, id: i64, url: &str, mask: i64) {
    host.store()
        .db()
        .execute(
            "UPDATE jobs SET dlr_url = ?2, dlr_mask = ?3, sender = 'Shop', origin = 'sendsms:alice'
             WHERE id = ?1",
            params![id, url, mask],
        )
        .unwrap();
}

fn go(host: &Host, id: i64, state: JobState, detail: &str) {
    let now = host.now();
    host.store()
        .transition(
            id,
            state,
            now,
            &Change {
                device: Some("modem1"),
                ..Default::default()
            },
            detail,
        )
        .unwrap();
}

fn inbound(host: &Host, sender: &str, text: &str) -> i64 {
    let s = host.store();
    s.db()
        .query_value(
            "INSERT INTO inbound (device, sender, text, at) VALUES ('modem1', ?1, ?2, ?3) RETURNING id",
            params![sender, text, T0 - 5],
        )
        .unwrap()
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: i64,
    kind: String,
    event: String,
    job_id: Option<i64>,
    method: String,
    url: String,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    secret: Option<String>,
    state: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
}

impl Row {
    fn json(&self) -> Value {
        serde_json::from_slice(self.body.as_deref().unwrap()).unwrap()
    }
}

fn rows(host: &Host) -> Vec<Row> {
    let s = host.store();
    let mut st = s
        .db()
        .prepare(
            "SELECT id, kind, event, job_id, method, url, content_type, body, secret, state,
                    attempts, last_status, last_error
             FROM callbacks ORDER BY id",
        )
        .unwrap();
    st.query_map(params![], |r| {
        Ok(Row {
            id: r.get(0)?,
            kind: r.get(1)?,
            event: r.get(2)?,
            job_id: r.get(3)?,
            method: r.get(4)?,
            url: r.get(5)?,
            content_type: r.get(6)?,
            body: r.get(7)?,
            secret: r.get(8)?,
            state: r.get(9)?,
            attempts: r.get(10)?,
            last_status: r.get(11)?,
            last_error: r.get(12)?,
        })
    })
    .unwrap()
}

fn cursors(host: &Host) -> Vec<(String, i64)> {
    let s = host.store();
    let mut st = s
        .db()
        .prepare("SELECT name, last FROM cursors ORDER BY name")
        .unwrap();
    st.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

// ----- a receiver -------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The statuses of the first answers; then 200.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> (String, Receiver) {
        let r = Receiver {
            seen: Arc::default(),
            script: Arc::new(Mutex::new(script)),
        };
        let state = r.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.seen.lock().unwrap().push(Seen {
                        method: method.to_string(),
                        uri: uri.to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    let mut script = state.script.lock().unwrap();
                    let status = if script.is_empty() {
                        200
                    } else {
                        script.remove(0)
                    };
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "text/plain")],
                        "Thanks!",
                    )
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (format!("http://{addr}"), r)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

// ----- the producer -----------------------------------------------------------------

both_engines! {
fn a_delivered_job_makes_the_dlr_calls_its_mask_asks_for(s) {
    let host = Host::on(s);
    let all = job(&host, "+33612345678");
    let one = job(&host, "+33698765432");
    let template =
        "http://app.example/dlr?id=%I&type=%d&to=%p&from=%P&at=%T&t=%t&smsc=%i&user=%n&r=%A";
    set_dlr(&host, all, template, 31);
    set_dlr(&host, one, "http://app.example/dlr?id=%I&type=%d", 1);
    for id in [all, one] {
        go(&host, id, JobState::Submitted, "handed to modem1");
        host.advance(2);
        go(&host, id, JobState::Sent, "sent, 1 segment(s)");
        // A second segment report and a stale event repeat the state: no new report.
        go(&host, id, JobState::Sent, "device already had it");
    }
    host.advance(3);
    for id in [all, one] {
        go(&host, id, JobState::Delivered, "delivery report: delivered");
    }
    assert_eq!(produce_now(&host, &cfg()), 3);
    let r = rows(&host);
    let calls: Vec<(&str, Option<i64>, &str, &str, &str)> = r
        .iter()
        .map(|c| {
            (
                c.kind.as_str(),
                c.job_id,
                c.event.as_str(),
                c.method.as_str(),
                c.url.as_str(),
            )
        })
        .collect();
    let sent_at = T0 + 2;
    let done_at = T0 + 7;
    assert_eq!(
        calls,
        vec![
            (
                "dlr",
                Some(all),
                "sent",
                "GET",
                &*format!(
                    "http://app.example/dlr?id={all}&type=8&to=%2B33612345678&from=Shop&at={sent_at}&t=2026-01-01+10:00:02&smsc=modem1&user=alice&r=sent%2C+1+segment(s)"
                )
            ),
            (
                "dlr",
                Some(all),
                "delivered",
                "GET",
                &*format!(
                    "http://app.example/dlr?id={all}&type=1&to=%2B33612345678&from=Shop&at={done_at}&t=2026-01-01+10:00:07&smsc=modem1&user=alice&r=delivery+report%3A+delivered"
                )
            ),
            (
                "dlr",
                Some(one),
                "delivered",
                "GET",
                &*format!("http://app.example/dlr?id={one}&type=1")
            ),
        ]
    );
    assert!(
        r.iter()
            .all(|c| c.state == "pending" && c.attempts == 0 && c.body.is_none())
    );
    // Nothing twice.
    assert_eq!(produce_now(&host, &cfg()), 0);
    assert_eq!(rows(&host).len(), 3);
}}

both_engines! {
fn every_kannel_report_type(s) {
    let host = Host::on(s);
    let cases = [
        (JobState::Deferred, Some(4)),
        (JobState::Held, Some(4)),
        (JobState::Refused, Some(16)),
        (JobState::Cancelled, Some(16)),
        (JobState::Failed, Some(2)),
        (JobState::Undelivered, Some(2)),
        (JobState::Expired, Some(2)),
        (JobState::Unknown, Some(2)),
        (JobState::Retry, None),
        (JobState::Accepted, None),
        (JobState::Sending, None),
    ];
    for (state, kind) in cases {
        assert_eq!(dlr_type(state), kind, "{state:?}");
        let id = job(&host, "+33612345678");
        set_dlr(&host, id, "http://a.example/?t=%d", 31);
        go(&host, id, state, "x");
    }
    produce_now(&host, &cfg());
    let types: Vec<String> = rows(&host).iter().map(|r| r.url.clone()).collect();
    let expected: Vec<String> = cases
        .iter()
        .filter_map(|(_, k)| k.map(|k| format!("http://a.example/?t={k}")))
        .collect();
    assert_eq!(types, expected);
}}

both_engines! {
fn held_then_deferred_is_one_buffered_report(s) {
    let host = Host::on(s);
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, "http://a.example/?t=%d", 4);
    go(&host, id, JobState::Submitted, "");
    go(&host, id, JobState::Held, "deferred by the device");
    go(&host, id, JobState::Deferred, "given back");
    go(&host, id, JobState::Submitted, "");
    go(&host, id, JobState::Held, "deferred by the device again");
    produce_now(&host, &cfg());
    assert_eq!(rows(&host).len(), 2);
}}

both_engines! {
fn the_first_run_starts_at_the_newest_entries(s) {
    let host = Arc::new(Host {
        store: Mutex::new(s),
        now: AtomicI64::new(T0),
        answers: Mutex::default(),
    });
    // A store with a past: jobs with dlr-urls, inbound messages, device events.
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, "http://a.example/?t=%d", 31);
    go(&host, id, JobState::Sent, "sent");
    go(&host, id, JobState::Delivered, "delivered");
    inbound(&host, "+33611111111", "hello");
    inbound(&host, "+33622222222", "STOP");
    host.store()
        .db()
        .execute(
            "INSERT INTO device_log (device, up, detail, at) VALUES ('modem1', 1, '', 1)",
            params![],
        )
        .unwrap();
    let mut c = cfg();
    c.webhooks = vec![WebhookConfig {
        url: "http://hooks.example/in".into(),
        events: vec![],
        secret: "k".into(),
    }];
    c.services = vec![HttpService {
        keyword: "default".into(),
        get_url: Some("http://app.example/mo?from=%p&text=%a".into()),
        post_url: None,
        reply: false,
        brand: None,
    }];
    assert_eq!(produce_now(&host, &c), 0);
    assert!(rows(&host).is_empty());
    assert_eq!(
        cursors(&host),
        vec![
            ("device_log".to_string(), 1),
            ("inbound".to_string(), 2),
            ("job_history".to_string(), 3),
        ]
    );
    // From now on, each new entry is heard of once.
    inbound(&host, "+33633333333", "Hi there");
    assert_eq!(produce_now(&host, &c), 2);
    assert_eq!(produce_now(&host, &c), 0);
    let r = rows(&host);
    assert_eq!(r[0].kind, "service");
    assert_eq!(
        r[0].url,
        "http://app.example/mo?from=%2B33633333333&text=Hi+there"
    );
    assert_eq!(r[1].kind, "webhook");
    assert_eq!(r[1].json()["message"]["text"], "Hi there");
    assert_eq!(cursors(&host)[1], ("inbound".to_string(), 3));
}}

both_engines! {
fn marks_set_at_start_up_make_what_comes_next_news(s) {
    let host = Arc::new(Host {
        store: Mutex::new(s),
        now: AtomicI64::new(T0),
        answers: Mutex::default(),
    });
    inbound(&host, "+33611111111", "history");
    // `relais serve` marks the logs when it opens the store; then a device connects
    // before the dispatcher's first pass (tests/tests/http_callbacks.rs lost its
    // device.up that way).
    host.store().transaction(start_marks).unwrap();
    host.store()
        .db()
        .execute(
            "INSERT INTO device_log (device, up, detail, at) VALUES ('modem1', 1, '', 1)",
            params![],
        )
        .unwrap();
    let mut c = cfg();
    c.webhooks = vec![WebhookConfig {
        url: "http://hooks.example/in".into(),
        events: vec![],
        secret: "k".into(),
    }];
    assert_eq!(produce_now(&host, &c), 1);
    let r = rows(&host);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].event, "device.up");
    // Marks that exist stay where they are.
    host.store().transaction(start_marks).unwrap();
    assert_eq!(
        cursors(&host),
        vec![
            ("device_log".to_string(), 1),
            ("inbound".to_string(), 1),
            ("job_history".to_string(), 0),
        ]
    );
    assert_eq!(produce_now(&host, &c), 0);
}}

both_engines! {
fn a_failed_transaction_keeps_neither_callbacks_nor_cursors(s) {
    let host = Host::on(s);
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, "http://a.example/?t=%d", 31);
    go(&host, id, JobState::Sent, "sent");
    let now = host.now();
    let before = cursors(&host);
    let r: crate::store::Result<()> = host.store().transaction(|tx| {
        assert_eq!(produce(tx, &cfg(), now)?, 1);
        Err(crate::store::StoreError::Invalid("crash".into()))
    });
    assert!(r.is_err());
    assert!(rows(&host).is_empty());
    assert_eq!(cursors(&host), before);
    // The next run produces it, once.
    assert_eq!(produce_now(&host, &cfg()), 1);
    assert_eq!(produce_now(&host, &cfg()), 0);
}}

both_engines! {
fn small_batches_catch_up_in_order(s) {
    let host = Host::on(s);
    let mut c = cfg();
    c.produce_batch = 2;
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, "http://a.example/?t=%d", 31);
    for s in [
        JobState::Submitted,
        JobState::Held,
        JobState::Submitted,
        JobState::Sent,
        JobState::Delivered,
    ] {
        go(&host, id, s, "");
    }
    let mut total = 0;
    for _ in 0..5 {
        total += produce_now(&host, &c);
    }
    assert_eq!(total, 3);
    let urls: Vec<String> = rows(&host).into_iter().map(|r| r.url).collect();
    assert_eq!(
        urls,
        [
            "http://a.example/?t=4",
            "http://a.example/?t=8",
            "http://a.example/?t=1"
        ]
    );
}}

both_engines! {
fn inbound_messages_go_to_the_service_of_their_keyword(s) {
    let host = Host::on(s);
    let mut c = cfg();
    c.services = vec![
        HttpService {
            keyword: "default".into(),
            get_url: None,
            post_url: Some("http://app.example/mo?kw=%k&id=%I".into()),
            reply: false,
            brand: None,
        },
        HttpService {
            keyword: "Info".into(),
            get_url: Some("http://app.example/info?from=%q&q=%s&rest=%r&at=%t&smsc=%i".into()),
            post_url: None,
            reply: true,
            brand: None,
        },
    ];
    let info = inbound(&host, "0033611111111", "  iNFO  opening hours please");
    let other = inbound(&host, "+33622222222", "Bonjour à tous");
    let stop = inbound(&host, "+33633333333", "STOP");
    assert_eq!(produce_now(&host, &c), 3);
    let r = rows(&host);
    assert_eq!(r[0].method, "GET");
    assert_eq!(
        r[0].url,
        "http://app.example/info?from=%2B33611111111&q=opening&rest=hours+please&at=2026-01-01+09:59:55&smsc=modem1"
    );
    assert_eq!(r[0].body, None);
    assert_eq!(r[1].method, "POST");
    assert_eq!(
        r[1].url,
        format!("http://app.example/mo?kw=Bonjour&id={other}")
    );
    assert_eq!(
        r[1].content_type.as_deref(),
        Some("text/plain; charset=\"UTF-8\"")
    );
    assert_eq!(r[1].body.as_deref(), Some("Bonjour à tous".as_bytes()));
    // STOP is routed like any message (the opt-out itself is handled elsewhere).
    assert_eq!(r[2].url, format!("http://app.example/mo?kw=STOP&id={stop}"));
    assert!(info < other);
    // No default service: unmatched messages go nowhere.
    assert!(route(&c.services[1..], "hello").is_none());
    assert_eq!(
        route(&c.services, "info").map(|s| s.keyword.as_str()),
        Some("Info")
    );
    assert_eq!(
        route(&c.services, "").map(|s| s.keyword.as_str()),
        Some("default")
    );
}}

both_engines! {
fn webhook_bodies_carry_their_row_id(s) {
    let host = Host::on(s);
    let mut c = cfg();
    c.webhook_secret = Some("api-secret".into());
    c.webhooks = vec![
        WebhookConfig {
            url: "http://hooks.example/all".into(),
            events: vec![],
            secret: "cfg-secret".into(),
        },
        WebhookConfig {
            url: "http://hooks.example/failures".into(),
            events: vec!["failed".into(), "refused".into()],
            secret: "cfg-secret-2".into(),
        },
    ];
    {
        let s = host.store();
        for (id, url, event) in [
            ("wh_android", "http://android.example/in", "sms:delivered"),
            ("wh_android_rx", "http://android.example/rx", "sms:received"),
            ("wh_any", "http://api.example/any", "*"),
            ("wh_odd", "http://api.example/odd", "nonsense"),
        ] {
            s.db()
                .execute(
                    "INSERT INTO webhooks (id, client, url, event, created_at) VALUES (?1, 'api:shop', ?2, ?3, 0)",
                    params![id, url, event],
                )
                .unwrap();
        }
    }
    let id = job(&host, "+33612345678");
    host.store()
        .db()
        .execute(
            "UPDATE jobs SET origin = 'api:shop', parts = 2, message_id = 'msg-7' WHERE id = ?1",
            [id],
        )
        .unwrap();
    go(&host, id, JobState::Submitted, "");
    go(&host, id, JobState::Sent, "sent, 2 segment(s)");
    host.advance(60);
    go(&host, id, JobState::Delivered, "delivery report: delivered");
    let refused = job(&host, "+33698765432");
    let now = host.now();
    host.store()
        .transition(
            refused,
            JobState::Refused,
            now,
            &Change {
                rule: Some("quiet-hours"),
                reason: Some("opted-out"),
                ..Default::default()
            },
            "refused: opted-out",
        )
        .unwrap();
    let rx = inbound(&host, "+33611111111", "Hello");
    host.store()
        .db()
        .execute(
            "INSERT INTO device_log (device, up, detail, at) VALUES ('modem1', 0, 'Eof', ?1)",
            [T0 + 61],
        )
        .unwrap();
    produce_now(&host, &c);
    let r = rows(&host);
    let summary: Vec<(&str, &str, Option<&str>)> = r
        .iter()
        .map(|c| (c.event.as_str(), c.url.as_str(), c.secret.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("sent", "http://hooks.example/all", Some("cfg-secret")),
            ("sent", "http://api.example/any", Some("api-secret")),
            ("delivered", "http://hooks.example/all", Some("cfg-secret")),
            ("delivered", "http://android.example/in", Some("api-secret")),
            ("delivered", "http://api.example/any", Some("api-secret")),
            ("refused", "http://hooks.example/all", Some("cfg-secret")),
            (
                "refused",
                "http://hooks.example/failures",
                Some("cfg-secret-2")
            ),
            // The refused job came from the command line, not from `api:shop`: its
            // webhooks do not hear of it.
            ("received", "http://hooks.example/all", Some("cfg-secret")),
            ("received", "http://android.example/rx", Some("api-secret")),
            ("received", "http://api.example/any", Some("api-secret")),
            (
                "device.down",
                "http://hooks.example/all",
                Some("cfg-secret")
            ),
            ("device.down", "http://api.example/any", Some("api-secret")),
        ]
    );
    assert!(r.iter().all(|c| c.kind == "webhook"
        && c.method == "POST"
        && c.content_type.as_deref() == Some("application/json")));
    // relais's shape: the event id is the row id.
    let delivered = r[2].json();
    assert_eq!(
        delivered,
        serde_json::json!({
            "id": r[2].id,
            "event": "delivered",
            "at": "2026-01-01T10:01:00Z",
            "job": {
                "id": id, "number": "+33612345678", "state": "delivered",
                "detail": "delivery report: delivered", "rule": null, "reason": null,
                "origin": "api:shop", "campaign_id": null, "device": "modem1", "parts": 2,
            },
        })
    );
    assert_eq!(r[5].json()["job"]["reason"], "opted-out");
    assert_eq!(r[5].json()["job"]["rule"], "quiet-hours");
    // SMS Gateway for Android's shape.
    assert_eq!(
        r[3].json(),
        serde_json::json!({
            "id": r[3].id.to_string(),
            "webhookId": "wh_android",
            "deviceId": "modem1",
            "event": "sms:delivered",
            "payload": {
                // The id its client gave the message, not relais's job id.
                "messageId": "msg-7",
                "phoneNumber": "+33612345678",
                "simNumber": null,
                "deliveredAt": "2026-01-01T10:01:00.000Z",
            },
        })
    );
    assert_eq!(
        r[8].json(),
        serde_json::json!({
            "id": r[8].id.to_string(),
            "webhookId": "wh_android_rx",
            "deviceId": "modem1",
            "event": "sms:received",
            "payload": {
                "messageId": rx.to_string(),
                "message": "Hello",
                "phoneNumber": "+33611111111",
                "simNumber": null,
                "receivedAt": "2026-01-01T09:59:55.000Z",
            },
        })
    );
    assert_eq!(
        r[7].json(),
        serde_json::json!({
            "id": r[7].id, "event": "received", "at": "2026-01-01T09:59:55Z",
            "message": { "id": rx, "device": "modem1", "from": "+33611111111", "text": "Hello", "truncated": false },
        })
    );
    assert_eq!(
        r[10].json(),
        serde_json::json!({
            "id": r[10].id, "event": "device.down", "at": "2026-01-01T10:01:01Z",
            "device": { "name": "modem1", "detail": "Eof" },
        })
    );
}}

// ----- signatures -------------------------------------------------------------------

#[test]
fn signatures_match_independent_vectors() {
    // python3: hmac.new(b"whsec_test_key", b"1767261600." + body, hashlib.sha256).hexdigest()
    let body = br#"{"event":"delivered","id":17}"#;
    let key = b"whsec_test_key";
    let relais = "sha256=a4b5af8433cf62e0e5bad2ab0a74160593cf0fe13300b06ae2b8d5f91cb85b5d";
    assert_eq!(sign(key, T0, body), relais);
    assert!(verify(key, T0, body, relais));
    assert!(verify(
        key,
        T0,
        body,
        &relais["sha256=".len()..].to_uppercase()
    ));
    assert!(!verify(key, T0 + 1, body, relais));
    assert!(!verify(b"other", T0, body, relais));
    assert!(!verify(key, T0, b"{}", relais));
    assert!(!verify(key, T0, body, "sha256="));
    // python3: hmac.new(b"whsec_test_key", body + b"1767261600", hashlib.sha256).hexdigest()
    let android = "d8ba05805f6a83bd03b073b4b4b9b1f608bd58d2822b5bff51ec0101df5e73df";
    assert_eq!(sign_android(key, T0, body), android);
    assert!(verify_android(key, T0, body, android));
    assert!(!verify_android(key, T0 - 1, body, android));
}

#[test]
fn logs_see_host_and_path_only() {
    assert_eq!(
        redact("https://user:pw@app.example:8443/dlr/x?pass=secret&text=hi#f"),
        "https://app.example:8443/dlr/x"
    );
    assert_eq!(redact("http://app.example?x=1"), "http://app.example");
    assert_eq!(redact("nonsense"), "://nonsense");
    let dbg = format!(
        "{:?}",
        OutboxConfig {
            webhook_secret: Some("top-secret".into()),
            webhooks: vec![WebhookConfig {
                url: "http://h.example/".into(),
                events: vec![],
                secret: "hidden-too".into(),
            }],
            ..cfg()
        }
    );
    assert!(
        !dbg.contains("top-secret") && !dbg.contains("hidden-too"),
        "{dbg}"
    );
}

// ----- the dispatcher ---------------------------------------------------------------

async fn tick(d: &Dispatcher<Host>) -> Tick {
    d.tick().await.unwrap()
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_the_same_event_four_times() {
    let (base, receiver) = Receiver::start(vec![500, 503, 404]).await;
    let host = Host::new();
    let mut c = cfg();
    c.webhooks = vec![WebhookConfig {
        url: format!("{base}/hook?token=abc"),
        events: vec!["sent".into()],
        secret: "s3cret".into(),
    }];
    let d = Dispatcher::new(Arc::clone(&host), c.clone()).unwrap();
    let id = job(&host, "+33612345678");
    go(&host, id, JobState::Sent, "sent");
    let t = tick(&d).await;
    assert_eq!((t.produced, t.calls, t.retried), (1, 1, 1));
    let row = rows(&host).remove(0);
    assert_eq!(
        (row.attempts, row.last_status, row.last_error.as_deref()),
        (1, Some(500), Some("HTTP 500"))
    );
    // Not due before the back-off (10 s, then 30 s, plus at most a tenth).
    assert_eq!(tick(&d).await.calls, 0);
    host.advance(9);
    assert_eq!(tick(&d).await.calls, 0);
    for wait in [2, 34, 34] {
        host.advance(wait);
        assert_eq!(tick(&d).await.calls, 1);
    }
    for _ in 0..3 {
        host.advance(3600);
        assert_eq!(tick(&d).await.calls, 0);
    }
    let seen = receiver.seen();
    assert_eq!(seen.len(), 4);
    let event_id = row.id.to_string();
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.uri, "/hook?token=abc");
        assert_eq!(s.header("x-relais-event-id"), event_id);
        assert_eq!(s.header("x-relais-event"), "sent");
        assert_eq!(s.header("content-type"), "application/json");
        assert_eq!(s.header("user-agent"), "relais-test");
        assert_eq!(s.body, seen[0].body);
        let body: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(body["id"], row.id);
        // Both signatures verify.
        let ts: i64 = s.header("x-relais-timestamp").parse().unwrap();
        assert!(verify(
            b"s3cret",
            ts,
            &s.body,
            s.header("x-relais-signature")
        ));
        let ts: i64 = s.header("x-timestamp").parse().unwrap();
        assert!(verify_android(
            b"s3cret",
            ts,
            &s.body,
            s.header("x-signature")
        ));
    }
    let row = rows(&host).remove(0);
    assert_eq!(
        (
            row.state.as_str(),
            row.attempts,
            row.last_status,
            row.last_error
        ),
        ("done", 4, Some(200), None)
    );
}

#[tokio::test]
async fn after_the_last_try_a_callback_is_a_dead_letter() {
    let (base, receiver) = Receiver::start(vec![503; 10]).await;
    let host = Host::new();
    let mut c = cfg();
    c.attempts = 3;
    c.backoff = vec![1];
    c.callback_hosts = vec!["127.0.0.1".into()];
    let d = Dispatcher::new(Arc::clone(&host), c).unwrap();
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, &format!("{base}/dlr?type=%d&text=%A"), 31);
    let bad = job(&host, "+33698765432");
    set_dlr(&host, bad, "http://elsewhere.example/dlr?type=%d", 31);
    go(&host, id, JobState::Sent, "sent");
    go(&host, bad, JobState::Sent, "sent");
    let t = tick(&d).await;
    assert_eq!((t.calls, t.retried, t.dead), (2, 1, 1));
    for _ in 0..5 {
        host.advance(2);
        tick(&d).await;
    }
    assert_eq!(receiver.seen().len(), 3);
    assert_eq!(receiver.seen()[0].uri, "/dlr?type=8&text=sent");
    let r = rows(&host);
    assert_eq!(
        (r[0].state.as_str(), r[0].attempts, r[0].last_status),
        ("dead", 3, Some(503))
    );
    // A host outside callback_hosts is never called.
    assert_eq!((r[1].state.as_str(), r[1].attempts), ("dead", 0));
    let why = r[1].last_error.clone().unwrap();
    assert!(why.contains("not in http.callback_hosts"), "{why}");
    assert!(!why.contains("type="), "{why}");
}

#[tokio::test]
async fn the_host_checked_is_the_host_called() {
    let host = Host::new();
    let mut c = cfg();
    c.callback_hosts = vec!["127.0.0.1".into()];
    let d = Dispatcher::new(Arc::clone(&host), c.clone()).unwrap();
    // A naive reading sees 127.0.0.1 after the `@`; a URL parser sees evil.example.
    // The configuration check refuses it; one stored anyway is still never called.
    let sneaky = "http://evil.example\\@127.0.0.1/dlr?t=%d";
    assert!(crate::http::config::check_url(sneaky, &c.callback_hosts).is_err());
    let id = job(&host, "+33612345678");
    set_dlr(&host, id, sneaky, 31);
    go(&host, id, JobState::Sent, "sent");
    assert_eq!(tick(&d).await.dead, 1);
    let row = rows(&host).remove(0);
    assert_eq!((row.state.as_str(), row.attempts), ("dead", 0));
    let why = row.last_error.unwrap();
    assert!(why.contains("\"evil.example\" is not in"), "{why}");
}

#[test]
fn the_defaults_of_http_make_an_outbox_config() {
    let c = OutboxConfig::from_http(&crate::http::config::HttpConfig::default()).unwrap();
    assert_eq!(c.attempts, 10);
    assert_eq!(c.backoff, vec![10, 30, 120, 600, 1800, 3600]);
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(
        (1..=8).map(|a| c.backoff_after(a)).collect::<Vec<_>>(),
        vec![10, 30, 120, 600, 1800, 3600, 3600, 3600]
    );
}

#[tokio::test]
async fn unreachable_receivers_are_retried() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let host = Host::new();
    let d = Dispatcher::new(Arc::clone(&host), cfg()).unwrap();
    let id = job(&host, "+33612345678");
    set_dlr(
        &host,
        id,
        &format!("http://127.0.0.1:{port}/dlr?pw=hunter2"),
        31,
    );
    go(&host, id, JobState::Sent, "sent");
    assert_eq!(tick(&d).await.retried, 1);
    let row = rows(&host).remove(0);
    let err = row.last_error.unwrap();
    assert_eq!((row.state.as_str(), row.last_status), ("pending", None));
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.is_empty());
}

#[tokio::test]
async fn service_posts_carry_kannel_s_headers_and_the_answer_is_handed_on() {
    let (base, receiver) = Receiver::start(vec![]).await;
    let host = Host::new();
    let mut c = cfg();
    c.services = vec![HttpService {
        keyword: "default".into(),
        get_url: None,
        post_url: Some(format!("{base}/mo?from=%p")),
        reply: true,
        brand: None,
    }];
    let d = Dispatcher::new(Arc::clone(&host), c).unwrap();
    let rx = inbound(&host, "+33611111111", "Où est ma commande ?");
    let t = tick(&d).await;
    assert_eq!((t.produced, t.done), (1, 1));
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.method, "POST");
    assert_eq!(s.uri, "/mo?from=%2B33611111111");
    assert_eq!(s.body, "Où est ma commande ?".as_bytes());
    assert_eq!(s.header("content-type"), "text/plain; charset=\"UTF-8\"");
    assert_eq!(s.header("x-kannel-from"), "+33611111111");
    assert_eq!(s.header("x-kannel-time"), "2026-01-01 09:59:55");
    assert_eq!(s.header("x-kannel-smsc"), "modem1");
    assert_eq!(s.header("x-kannel-coding"), "0");
    assert!(s.headers.get("x-relais-signature").is_none());
    assert_eq!(
        *host.answers.lock().unwrap(),
        vec![(rx, Some("text/plain".to_string()), b"Thanks!".to_vec())]
    );
}

#[tokio::test]
async fn run_wakes_on_notify_and_stops() {
    let (base, receiver) = Receiver::start(vec![]).await;
    let host = Host::new();
    let mut c = cfg();
    c.poll = Duration::from_secs(3600);
    c.services = vec![HttpService {
        keyword: "default".into(),
        get_url: Some(format!("{base}/mo?text=%a")),
        post_url: None,
        reply: false,
        brand: None,
    }];
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(Arc::clone(&host), c, Arc::clone(&wake), stop));
    // Let it settle into its sleep, then write and wake it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    inbound(&host, "+33611111111", "ping");
    wake.notify_one();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.seen().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.seen().len(), 1);
    assert_eq!(receiver.seen()[0].uri, "/mo?text=ping");
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops")
        .unwrap()
        .unwrap();
}
