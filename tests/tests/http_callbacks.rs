//! The callback outbox of `relais serve` end to end, against a simulated GSM modem
//! (`relais sim`) and callback receivers that fail on purpose:
//!
//! - Kannel dlr-url callbacks are retried until the receiver takes them, every try of
//!   one event carrying the same `X-Relais-Event-Id`, and the escapes expand;
//! - webhooks are signed (HMAC-SHA256 over `"<timestamp>.<body>"`, checked here with
//!   the `hmac` crate) and their body names the same event id as the header;
//! - sms-services get inbound messages by keyword (GET templates, POST bodies with
//!   Kannel's headers), and a service with `reply = true` answers the sender by SMS;
//! - callbacks pending when serve is SIGKILLed go out after the restart, with the same
//!   event ids, and nothing is produced twice;
//! - a sendsms request answered 202 is in the store, even when serve is SIGKILLed at a
//!   random moment right after;
//! - SIGTERM stops serve cleanly, with requests in flight or not.

mod http_support;
mod sim_support;

use relais_tests::lcg::Lcg;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use http_support::{
    Answer, Received, Receiver, SCENARIO, Serve, WAIT, api_send, gateway_config, open_store, pct,
    receive_sms, unix_now, wait_for,
};
use serde_json::{Value, json};
use sha2::Sha256;
use sim_support::{Sim, scratch};

const DEVICE: &str = "paris-gsm";
const USER: &str = "shop";
const PASSWORD: &str = "pw-callbacks";
const TOKEN: &str = "tok-callbacks-0123456789";
const SECRET: &str = "whsec-test";

/// The configuration: the simulated modem when `link` is given, a sendsms user and an
/// API token, callbacks retried every second, then `extra` (`[[http.service]]`,
/// `[[http.webhook]]`).
fn config(link: Option<&Path>, attempts: u32, extra: &str) -> String {
    gateway_config(
        link.map(|l| (DEVICE, l)),
        &format!(
            r#"
[http]
callback_backoff = ["1s"]
callback_attempts = {attempts}

[[http.user]]
name = "{USER}"
password = "{PASSWORD}"

[[http.token]]
name = "app"
token = "{TOKEN}"
{extra}"#
        ),
    )
}

/// Starts the simulator and `relais serve` with its modem, in a [`Scratch`] directory,
/// with callbacks tried `attempts` times and `extra` (see [`config`]). Bind all three:
/// serve stops first, then its directory goes.
fn with_modem(test: &str, attempts: u32, extra: &str) -> (Sim, Scratch, Serve) {
    let sim = Sim::start(test, SCENARIO, &[]);
    let dir = Scratch::new(test);
    let serve = Serve::start(&dir, &config(Some(&sim.link()), attempts, extra));
    (sim, dir, serve)
}

/// A scratch directory for serve, removed when the test passes (kept when it fails).
/// Declared before the `Serve`, so that serve is stopped before it goes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        Scratch(scratch(test))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A sendsms GET for `to` with `text`, then `extra` (already encoded `&k=v` pairs).
fn sendsms(serve: &Serve, to: &str, text: &str, extra: &str) -> Answer {
    serve.get(
        &format!(
            "/cgi-bin/sendsms?username={USER}&password={PASSWORD}&to={}&text={}{extra}",
            pct(to.as_bytes()),
            pct(text.as_bytes())
        ),
        &[],
    )
}

/// A row of `callbacks`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    id: i64,
    kind: String,
    event: String,
    job_id: Option<i64>,
    inbound_id: Option<i64>,
    method: String,
    url: String,
    body: Option<Vec<u8>>,
    state: String,
    attempts: i64,
}

fn callback_rows(path: &Path) -> Vec<Row> {
    let db = open_store(path);
    let mut st = db
        .prepare(
            "SELECT id, kind, event, job_id, inbound_id, method, url, body, state, attempts
             FROM callbacks ORDER BY id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Row {
            id: r.get(0)?,
            kind: r.get(1)?,
            event: r.get(2)?,
            job_id: r.get(3)?,
            inbound_id: r.get(4)?,
            method: r.get(5)?,
            url: r.get(6)?,
            body: r.get(7)?,
            state: r.get(8)?,
            attempts: r.get(9)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Waits until the store has callbacks and every one is `done`.
fn wait_all_done(path: &Path) -> Vec<Row> {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = callback_rows(path);
        if !rows.is_empty() && rows.iter().all(|r| r.state == "done") {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "the callbacks did not all end `done`: {rows:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `X-Relais-Event-Id` of a call, as a number.
fn event_id(r: &Received) -> i64 {
    r.header("x-relais-event-id")
        .unwrap_or_else(|| panic!("a call without X-Relais-Event-Id: {r:#?}"))
        .parse()
        .unwrap_or_else(|_| panic!("X-Relais-Event-Id is not a number: {r:#?}"))
}

/// The calls by event id, in arrival order.
fn by_event(calls: &[Received]) -> BTreeMap<i64, Vec<&Received>> {
    let mut m: BTreeMap<i64, Vec<&Received>> = BTreeMap::new();
    for c in calls {
        m.entry(event_id(c)).or_default().push(c);
    }
    m
}

/// One line per call: method, target, event, event id, answer.
fn summary(calls: &[Received]) -> String {
    calls
        .iter()
        .map(|c| {
            format!(
                "  {} {} [{} #{}] -> {}\n",
                c.method,
                c.target,
                c.header("x-relais-event").unwrap_or("?"),
                c.header("x-relais-event-id").unwrap_or("?"),
                c.answered
            )
        })
        .collect()
}

/// Checks the retry discipline of each event: every call but the last was answered
/// 500, the last one 2xx (taken exactly once), and all of them are the same call.
fn check_retries(events: &BTreeMap<i64, Vec<&Received>>) {
    for (id, calls) in events {
        let (last, before) = calls.split_last().unwrap();
        assert_eq!(last.answered, 200, "event {id}: not taken: {calls:#?}");
        assert!(
            before.iter().all(|c| c.answered == 500),
            "event {id}: called again after it was taken, or a try was lost: {calls:#?}"
        );
        for c in before {
            assert_eq!(
                (&c.method, &c.target, &c.body, c.header("x-relais-event")),
                (
                    &last.method,
                    &last.target,
                    &last.body,
                    last.header("x-relais-event")
                ),
                "event {id}: a retry is not the same call"
            );
        }
    }
}

/// Lower-case hex HMAC-SHA256 of `"<ts>.<body>"` keyed with `secret`.
fn signature(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id of the job whose text is `text`.
fn job_id(db: &Path, text: &str) -> i64 {
    open_store(db)
        .query_row("SELECT id FROM jobs WHERE text = ?1", [text], |r| r.get(0))
        .unwrap_or_else(|e| panic!("no job with text {text:?}: {e}"))
}

#[test]
fn dlr_url_callbacks_are_retried_until_taken_with_the_same_event_id() {
    let receiver = Receiver::start(3, 200);
    let (sim, _dir, serve) = with_modem("http_cb_dlr", 10, "");
    let to = "+33612340001";
    let template = receiver.url("/dlr?type=%d&to=%p&id=%I");
    let a = sendsms(
        &serve,
        to,
        "dlr test",
        &format!("&dlr-mask=31&dlr-url={}", pct(template.as_bytes())),
    );
    assert_eq!(a.status, 202, "{}", a.text());
    let job = job_id(&serve.db(), "dlr test");

    // Taken: a `sent` (8) and a `delivered` (1) report.
    let taken_types = |r: &[Received]| -> BTreeSet<String> {
        r.iter()
            .filter(|c| c.answered == 200)
            .filter_map(|c| c.target.split("type=").nth(1))
            .map(|t| t.split('&').next().unwrap_or_default().to_string())
            .collect()
    };
    receiver.wait(WAIT, |r| {
        let t = taken_types(r);
        t.contains("8") && t.contains("1")
    });
    let rows = wait_all_done(&serve.db());
    let calls = receiver.requests();
    println!("dlr calls:\n{}", summary(&calls));

    let sent = sim.wait_entries("message", 1, WAIT);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["text"], "dlr test");

    // The first three calls failed, and were tried again with the same event id.
    assert!(calls.len() >= 5, "{calls:#?}");
    assert!(
        calls[..3].iter().all(|c| c.answered == 500),
        "the receiver fails the first three calls"
    );
    assert!(calls[3..].iter().all(|c| c.answered == 200));
    let events = by_event(&calls);
    assert_eq!(
        events.len(),
        2,
        "one event per report type (sent, delivered): {events:#?}"
    );
    check_retries(&events);
    let failures: usize = events.values().map(|c| c.len() - 1).sum();
    assert_eq!(failures, 3, "every failed call was retried until taken");
    assert_eq!(calls.len(), 3 + events.len());

    let mut types = BTreeSet::new();
    for (id, calls) in &events {
        let c = calls[0];
        assert_eq!(c.method, "GET");
        let event = c.header("x-relais-event").unwrap_or_default();
        let kind = match event {
            "sent" => 8,
            "delivered" => 1,
            other => panic!("event {id}: unexpected X-Relais-Event {other:?}"),
        };
        types.insert(kind);
        // `%d` the type, `%p` the recipient in Kannel's encoding, `%I` the job.
        assert_eq!(
            c.target,
            format!("/dlr?type={kind}&to=%2B33612340001&id={job}"),
            "event {id}"
        );
        assert!(
            c.header("x-relais-signature").is_none(),
            "dlr-url calls are not signed"
        );
        // The store agrees: one `done` row per event, with as many tries as calls.
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("no callbacks row {id}: {rows:#?}"));
        assert_eq!(
            (row.kind.as_str(), row.event.as_str(), row.job_id),
            ("dlr", event, Some(job))
        );
        assert_eq!(row.url, receiver.url(&c.target));
        assert_eq!(row.attempts, calls.len() as i64, "row {row:?}");
    }
    assert_eq!(types, BTreeSet::from([1, 8]));
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r.state == "done"), "{rows:#?}");
    let state: String = open_store(&serve.db())
        .query_row("SELECT state FROM jobs WHERE id = ?1", [job], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "delivered");
}

#[test]
fn webhooks_are_signed_and_carry_a_stable_event_id() {
    let receiver = Receiver::start(2, 200);
    let hook = receiver.url("/hook");
    let (sim, _dir, serve) = with_modem(
        "http_cb_webhook",
        10,
        &format!(
            r#"
[[http.webhook]]
url = "{hook}"
secret = "{SECRET}"
events = ["sent", "delivered", "received", "device.up"]
"#
        ),
    );
    let to = "+33612340002";
    let from = "+33698760002";
    let a = api_send(
        &serve,
        TOKEN,
        &json!({"to": to, "text": "webhook test"}),
        None,
    );
    assert_eq!(a.status, 202, "{}", a.text());
    let job = a.json()["messages"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no job id in {}", a.text()));
    receive_sms(&sim, from, "Bonjour relais");

    let wanted = ["sent", "delivered", "received", "device.up"];
    let taken = |r: &[Received]| -> BTreeSet<String> {
        r.iter()
            .filter(|c| c.answered == 200)
            .filter_map(|c| c.header("x-relais-event").map(str::to_string))
            .collect()
    };
    receiver.wait(WAIT, |r| wanted.iter().all(|w| taken(r).contains(*w)));
    let rows = wait_all_done(&serve.db());
    let calls = receiver.requests();
    println!("webhook calls:\n{}", summary(&calls));

    assert!(
        calls[..2].iter().all(|c| c.answered == 500),
        "the receiver fails the first two calls"
    );
    let events = by_event(&calls);
    check_retries(&events);
    let failures: usize = events.values().map(|c| c.len() - 1).sum();
    assert_eq!(failures, 2, "both failed calls were retried until taken");

    let now = unix_now();
    let mut seen = BTreeMap::new();
    for (id, tries) in &events {
        let event = tries[0].header("x-relais-event").unwrap().to_string();
        assert!(
            wanted.contains(&event.as_str()),
            "event {id}: {event:?} was not subscribed to"
        );
        *seen.entry(event.clone()).or_insert(0) += 1;
        for c in tries {
            assert_eq!((c.method.as_str(), c.target.as_str()), ("POST", "/hook"));
            assert_eq!(c.header("content-type"), Some("application/json"));
            let ts = c
                .header("x-relais-timestamp")
                .unwrap_or_else(|| panic!("event {id}: no X-Relais-Timestamp"));
            let t: i64 = ts.parse().expect("the timestamp is Unix seconds");
            assert!(
                (now - 300..=now + 5).contains(&t),
                "event {id}: timestamp {t}, now {now}"
            );
            let sig = c
                .header("x-relais-signature")
                .unwrap_or_else(|| panic!("event {id}: no X-Relais-Signature"));
            assert_eq!(
                sig,
                format!("sha256={}", signature(SECRET, ts, &c.body)),
                "event {id}: the signature does not verify"
            );
            assert_ne!(
                sig,
                format!("sha256={}", signature("another secret", ts, &c.body)),
            );
        }
        let body: Value = serde_json::from_slice(&tries[0].body)
            .unwrap_or_else(|e| panic!("event {id}: body is not JSON ({e})"));
        assert_eq!(
            body["id"],
            json!(id),
            "event {id}: body id vs header: {body}"
        );
        assert_eq!(body["event"], json!(event), "{body}");
        assert!(body["at"].is_string(), "{body}");
        match event.as_str() {
            "sent" | "delivered" => {
                assert_eq!(body["job"]["id"], json!(job), "{body}");
                assert_eq!(body["job"]["number"], to, "{body}");
                assert_eq!(body["job"]["state"], json!(event), "{body}");
                assert_eq!(body["job"]["origin"], "api:app", "{body}");
                assert_eq!(body["job"]["device"], DEVICE, "{body}");
            }
            "received" => {
                assert_eq!(body["message"]["from"], from, "{body}");
                assert_eq!(body["message"]["text"], "Bonjour relais", "{body}");
                assert_eq!(body["message"]["device"], DEVICE, "{body}");
            }
            _ => assert_eq!(body["device"]["name"], DEVICE, "{body}"),
        }
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("no callbacks row {id}"));
        assert_eq!(
            (row.kind.as_str(), row.event.as_str()),
            ("webhook", event.as_str())
        );
        assert_eq!(row.body.as_deref(), Some(tries[0].body.as_slice()));
        assert_eq!(row.attempts, tries.len() as i64);
    }
    for w in ["sent", "delivered", "received"] {
        assert_eq!(seen.get(w), Some(&1), "one {w} event: {seen:?}");
    }
    assert!(seen.get("device.up").is_some_and(|n| *n >= 1), "{seen:?}");
    assert_eq!(rows.len(), events.len(), "every row was called: {rows:#?}");
}

#[test]
fn sms_service_get_and_post_urls_get_inbound_messages() {
    const REPLY: &str = "Pong: we open at 9";
    let apps = Receiver::start(0, 200);
    let bot = Receiver::start_text(0, 200, REPLY);
    let (sim, _dir, serve) = with_modem(
        "http_cb_service",
        10,
        &format!(
            r#"
[[http.service]]
keyword = "info"
post_url = "{}"

[[http.service]]
keyword = "echo"
get_url = "{}"
reply = true

[[http.service]]
keyword = "default"
get_url = "{}"
"#,
            apps.url("/info"),
            bot.url("/echo?q=%r&from=%p"),
            apps.url("/in?from=%p&text=%a&kw=%k"),
        ),
    );
    let (alice, bob, carol) = ("+33611110001", "+33611110002", "+33611110003");
    receive_sms(&sim, alice, "INFO opening hours");
    receive_sms(&sim, bob, "hello there");
    receive_sms(&sim, carol, "echo ping pong");

    let got = apps.wait(WAIT, |r| r.len() >= 2);
    let info = got
        .iter()
        .find(|c| c.method == "POST")
        .unwrap_or_else(|| panic!("no POST to the info service: {got:#?}"));
    assert_eq!(info.target, "/info");
    assert_eq!(info.body, b"INFO opening hours");
    assert_eq!(info.header("x-kannel-from"), Some(alice));
    assert_eq!(info.header("x-kannel-smsc"), Some(DEVICE));
    assert!(
        info.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{info:#?}"
    );
    assert_eq!(info.header("x-relais-event"), Some("received"));
    let default = got
        .iter()
        .find(|c| c.method == "GET")
        .unwrap_or_else(|| panic!("no GET to the default service: {got:#?}"));
    // `%p` the sender, `%a` every word joined by `+`, `%k` the first word.
    assert_eq!(
        default.target,
        "/in?from=%2B33611110002&text=hello+there&kw=hello"
    );
    assert!(default.body.is_empty());
    assert_eq!(default.header("x-relais-event"), Some("received"));

    let echo = bot.wait(WAIT, |r| !r.is_empty());
    assert_eq!(echo.len(), 1, "{echo:#?}");
    // `%r` the words after the keyword.
    assert_eq!(echo[0].target, "/echo?q=ping+pong&from=%2B33611110003");
    assert_eq!(echo[0].method, "GET");

    // The reply reaches the network, to the sender, once.
    let deadline = Instant::now() + WAIT;
    let to_carol = loop {
        let m: Vec<Value> = sim
            .entries("message")
            .into_iter()
            .filter(|m| m["text"] == REPLY)
            .collect();
        if !m.is_empty() || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        to_carol.len(),
        1,
        "the service's answer as one SMS; ledger: {:#?}",
        sim.ledger()
    );
    assert_eq!(to_carol[0]["to"], carol, "{:#?}", to_carol[0]);
    let rows = wait_all_done(&serve.db());
    assert_eq!(rows.len(), 3, "one call per inbound message: {rows:#?}");
    assert!(rows.iter().all(|r| r.kind == "service"), "{rows:#?}");
    let db = open_store(&serve.db());
    let (number, class, origin): (String, String, String) = db
        .query_row(
            "SELECT number, class, origin FROM jobs WHERE text = ?1",
            [REPLY],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (number.as_str(), class.as_str(), origin.as_str()),
        (carol, "conversational", "service:echo")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(apps.requests().len(), 2, "no other call to the apps");
    assert_eq!(bot.requests().len(), 1, "no other call to the bot");
}

#[test]
fn callbacks_pending_at_a_sigkill_are_delivered_after_restart() {
    // Fails everything until healed.
    let receiver = Receiver::start(usize::MAX, 200);
    let (sim, dir, mut serve) = with_modem(
        "http_cb_kill",
        1000,
        &format!(
            r#"
[[http.service]]
keyword = "default"
get_url = "{}"

[[http.webhook]]
url = "{}"
secret = "{SECRET}"
"#,
            receiver.url("/in?from=%p&text=%a"),
            receiver.url("/hook"),
        ),
    );
    let dlr = pct(receiver.url("/dlr?type=%d&id=%I").as_bytes());
    let recipients = ["+33612350001", "+33612350002", "+33612350003"];
    let mut jobs = Vec::new();
    for (i, to) in recipients.iter().enumerate() {
        let text = format!("pending {i}");
        let a = sendsms(&serve, to, &text, &format!("&dlr-mask=9&dlr-url={dlr}"));
        assert_eq!(a.status, 202, "{}", a.text());
        jobs.push(job_id(&serve.db(), &text));
    }
    let senders = ["+33698770001", "+33698770002"];
    for (i, from) in senders.iter().enumerate() {
        receive_sms(&sim, from, &format!("question {i}"));
    }

    // Every event is a row, and every row has been tried (and failed) at least once.
    let before = wait_for("every callback tried once", WAIT, || {
        let rows = callback_rows(&serve.db());
        let count = |kind: &str, event: &str| {
            rows.iter()
                .filter(|r| r.kind == kind && r.event == event)
                .count()
        };
        let complete = count("dlr", "sent") == 3
            && count("dlr", "delivered") == 3
            && count("webhook", "sent") == 3
            && count("webhook", "delivered") == 3
            && count("service", "received") == 2
            && count("webhook", "received") == 2
            && count("webhook", "device.up") >= 1;
        (complete && rows.iter().all(|r| r.attempts >= 1)).then_some(rows)
    });
    serve.kill9();
    let stored = callback_rows(&serve.db());
    assert!(
        stored.iter().all(|r| r.state == "pending"),
        "nothing was taken: {stored:#?}"
    );
    assert!(stored.len() >= before.len());
    let device_log = |db: &Path| -> i64 {
        open_store(db)
            .query_row("SELECT count(*) FROM device_log", [], |r| r.get(0))
            .unwrap()
    };
    let logged_before = device_log(&serve.db());
    // Requests the kill cut short have arrived by now.
    std::thread::sleep(Duration::from_millis(300));
    let calls_before = receiver.requests();
    assert!(calls_before.iter().all(|c| c.answered == 500));
    receiver.heal();

    let serve = Serve::start_in(&dir);
    let pending: BTreeSet<i64> = stored.iter().map(|r| r.id).collect();
    let after = |r: &[Received]| -> Vec<Received> { r[calls_before.len()..].to_vec() };
    receiver.wait(WAIT, |r| {
        let taken: BTreeSet<i64> = after(r)
            .iter()
            .filter(|c| c.answered == 200)
            .map(event_id)
            .collect();
        pending.is_subset(&taken)
    });
    // The modem connected again: that event too is produced and taken.
    let (rows, logged_after) = wait_for("the modem's new device.up taken", WAIT, || {
        let logged = device_log(&serve.db());
        let rows = callback_rows(&serve.db());
        let new_device = rows
            .iter()
            .filter(|r| !pending.contains(&r.id) && r.event.starts_with("device."))
            .count() as i64;
        (logged > logged_before
            && new_device >= logged - logged_before
            && rows.iter().all(|r| r.state == "done"))
        .then_some((rows, logged))
    });
    let calls = receiver.requests();
    let later = after(&calls);
    println!(
        "{} rows before the kill, {} calls before, {} after; rows now: {}",
        stored.len(),
        calls_before.len(),
        later.len(),
        rows.len()
    );

    // Every event of before the kill went out after it, as the same call.
    let first_call: HashMap<i64, &Received> =
        calls_before.iter().map(|c| (event_id(c), c)).collect();
    for row in &stored {
        let taken: Vec<&Received> = later
            .iter()
            .filter(|c| event_id(c) == row.id && c.answered == 200)
            .collect();
        assert_eq!(taken.len(), 1, "row {row:?} taken {} times", taken.len());
        let c = taken[0];
        assert_eq!(receiver.url(&c.target), row.url, "row {}", row.id);
        assert_eq!(c.method, row.method);
        assert_eq!(c.body, row.body.clone().unwrap_or_default());
        assert_eq!(c.header("x-relais-event"), Some(row.event.as_str()));
        if let Some(b) = first_call.get(&row.id) {
            assert_eq!(
                (&b.target, &b.body),
                (&c.target, &c.body),
                "row {}: the call after the restart is not the one of before",
                row.id
            );
        }
    }
    // Nothing produced twice: the rows of before kept their ids, and the only new ones
    // are for what happened after the restart (the modem connecting again).
    for old in &stored {
        let now = rows.iter().find(|r| r.id == old.id).unwrap();
        assert_eq!(
            (
                &now.kind,
                &now.event,
                now.job_id,
                now.inbound_id,
                &now.url,
                &now.body
            ),
            (
                &old.kind,
                &old.event,
                old.job_id,
                old.inbound_id,
                &old.url,
                &old.body
            )
        );
    }
    let new: Vec<&Row> = rows.iter().filter(|r| !pending.contains(&r.id)).collect();
    assert!(
        new.iter()
            .all(|r| r.job_id.is_none() && r.inbound_id.is_none()),
        "a job or inbound event was produced again after the restart: {new:#?}"
    );
    assert_eq!(
        new.len() as i64,
        logged_after - logged_before,
        "one webhook per device event after the restart: {new:#?}"
    );
    let mut keys = BTreeSet::new();
    for r in rows
        .iter()
        .filter(|r| r.job_id.is_some() || r.inbound_id.is_some())
    {
        assert!(
            keys.insert((
                r.kind.clone(),
                r.event.clone(),
                r.job_id,
                r.inbound_id,
                r.url.clone()
            )),
            "two rows for one event: {r:#?}"
        );
    }
    for j in &jobs {
        for k in ["dlr", "webhook"] {
            for e in ["sent", "delivered"] {
                let n = rows
                    .iter()
                    .filter(|r| r.job_id == Some(*j) && r.kind == k && r.event == e)
                    .count();
                assert_eq!(n, 1, "job {j}: {n} {k} rows for {e}: {rows:#?}");
            }
        }
    }
    let inbound: BTreeSet<i64> = rows.iter().filter_map(|r| r.inbound_id).collect();
    assert_eq!(inbound.len(), senders.len(), "{rows:#?}");
    for i in inbound {
        for k in ["service", "webhook"] {
            let n = rows
                .iter()
                .filter(|r| r.inbound_id == Some(i) && r.kind == k)
                .count();
            assert_eq!(n, 1, "inbound {i}: {n} {k} rows: {rows:#?}");
        }
    }
    // Each event was taken exactly once over both runs.
    let taken: Vec<i64> = calls
        .iter()
        .filter(|c| c.answered == 200)
        .map(event_id)
        .collect();
    let unique: BTreeSet<i64> = taken.iter().copied().collect();
    assert_eq!(taken.len(), unique.len(), "an event taken twice");
    assert_eq!(unique, rows.iter().map(|r| r.id).collect());
}

/// Sends sendsms requests to `addr` over keep-alive connections until the server is
/// gone or `stop` is set; records the texts answered 202 (as soon as the status line
/// came).
fn flood(addr: SocketAddr, next: &AtomicU64, accepted: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            match TcpStream::connect(addr) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    conn = Some(BufReader::new(s));
                }
                Err(_) => return,
            }
        }
        let Some(c) = conn.as_mut() else { return };
        let n = next.fetch_add(1, Ordering::SeqCst);
        let text = format!("msg-{n}");
        let req = format!(
            "GET /cgi-bin/sendsms?username={USER}&password={PASSWORD}&to=%2B33612{:06}&text={text} \
             HTTP/1.1\r\nHost: relais\r\n\r\n",
            n % 1_000_000
        );
        if c.get_mut().write_all(req.as_bytes()).is_err() {
            conn = None;
            continue;
        }
        let mut status = String::new();
        match c.read_line(&mut status) {
            Ok(_) if status.ends_with("\r\n") => {}
            _ => {
                conn = None;
                continue;
            }
        }
        if status.split(' ').nth(1) == Some("202") {
            accepted.lock().unwrap().push(text);
        }
        let mut len = 0usize;
        let mut close = false;
        loop {
            let mut line = String::new();
            match c.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                _ => {
                    close = true;
                    break;
                }
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = vec![0u8; len];
        if close || c.read_exact(&mut body).is_err() {
            conn = None;
        }
    }
}

/// Starts `threads` flooding clients; returns their handles.
fn start_flood(
    threads: usize,
    addr: SocketAddr,
    next: &Arc<AtomicU64>,
    accepted: &Arc<Mutex<Vec<String>>>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|_| {
            let (next, accepted, stop) = (next.clone(), accepted.clone(), stop.clone());
            std::thread::spawn(move || flood(addr, &next, &accepted, &stop))
        })
        .collect()
}

/// Opens the store as relais does (its checks and migrations), checks its integrity,
/// and returns the texts of its jobs.
fn stored_texts(db: &Path) -> BTreeSet<String> {
    relais::store::Store::open(db).unwrap_or_else(|e| panic!("the store does not open: {e}"));
    let c = open_store(db);
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "the store is damaged");
    let mut st = c.prepare("SELECT text FROM jobs").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_202_is_never_lost_even_with_a_sigkill_right_after() {
    let seed: u64 = std::env::var("RELAIS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0202);
    let mut rng = Lcg(seed);
    let dir = Scratch::new("http_cb_202");
    std::fs::write(dir.join("relais.toml"), config(None, 10, "")).unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    for round in 0..3 {
        let mut serve = Serve::start_in(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let before = accepted.lock().unwrap().len();
        let clients = start_flood(3, serve.addr, &next, &accepted, &stop);
        let wait = Duration::from_millis(100 + rng.next(1100));
        std::thread::sleep(wait);
        serve.kill9();
        for c in clients {
            c.join().expect("a client thread panicked");
        }
        let all = accepted.lock().unwrap().clone();
        let stored = stored_texts(&serve.db());
        let lost: Vec<&String> = all.iter().filter(|t| !stored.contains(*t)).collect();
        eprintln!(
            "http_cb_202: seed {seed:#x}, round {round}: killed after {wait:?}; {} answered 202 \
             this round, {} sent in all, {} jobs stored",
            all.len() - before,
            next.load(Ordering::SeqCst),
            stored.len()
        );
        assert!(
            all.len() > before,
            "no request was answered 202 before the kill: the round proves nothing"
        );
        assert!(
            lost.is_empty(),
            "seed {seed:#x}, round {round}: {} texts answered 202 are not in the store: {lost:?}",
            lost.len()
        );
    }
    // And serve starts again on the store of the last kill.
    let serve = Serve::start_in(&dir);
    let h = serve.get("/api/v1/health", &[]);
    assert_eq!(h.status, 200, "{}", h.text());
}

#[test]
fn sigterm_stops_serve_cleanly() {
    // Callbacks keep failing: the outbox is busy when the signal comes.
    let receiver = Receiver::start(usize::MAX, 200);
    let (_sim, dir, mut serve) = with_modem(
        "http_cb_term",
        1000,
        &format!(
            "\n[[http.webhook]]\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
            receiver.url("/hook")
        ),
    );
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_flood(2, serve.addr, &next, &accepted, &stop);
    // And one request whose head never ends.
    let mut half = TcpStream::connect(serve.addr).unwrap();
    half.write_all(b"GET /cgi-bin/sendsms?username=shop HTTP/1.1\r\nHost: relais\r\n")
        .unwrap();
    receiver.wait(WAIT, |r| !r.is_empty());
    wait_for("requests answered 202", WAIT, || {
        (accepted.lock().unwrap().len() >= 20).then_some(())
    });

    let t0 = Instant::now();
    let status = serve.terminate().expect("serve was running");
    let took = t0.elapsed();
    assert!(status.success(), "serve exited with {status} after SIGTERM");
    // Requests under way get at most 5 s to finish; the unfinished head takes them all.
    assert!(
        took < Duration::from_secs(10),
        "serve took {took:?} to stop after SIGTERM"
    );
    eprintln!("http_cb_term: stopped in {took:?} with requests in flight");
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    drop(half);

    let all = accepted.lock().unwrap().clone();
    let stored = stored_texts(&serve.db());
    let lost: Vec<&String> = all.iter().filter(|t| !stored.contains(*t)).collect();
    assert!(lost.is_empty(), "answered 202 but not stored: {lost:?}");
    let db = open_store(&serve.db());
    let bad: i64 = db
        .query_row(
            "SELECT count(*) FROM callbacks WHERE state NOT IN ('pending', 'done', 'dead')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 0);
    let pending: i64 = db
        .query_row(
            "SELECT count(*) FROM callbacks WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(pending > 0, "the failing callbacks are still owed");
    drop(db);

    // Again, idle this time: a quick clean stop, and the owed callbacks go on.
    let before = receiver.requests().len();
    let mut serve = Serve::start_in(&dir);
    assert_eq!(serve.get("/api/v1/health", &[]).status, 200);
    receiver.wait(WAIT, |r| r.len() > before);
    let t0 = Instant::now();
    let status = serve.terminate().expect("serve was running");
    assert!(status.success(), "serve exited with {status} after SIGTERM");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "an idle serve took {:?} to stop",
        t0.elapsed()
    );
    stored_texts(&serve.db());
}

/// `relais callbacks` beside the running server.
fn callbacks_cli(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(sim_support::relais_binary())
        .current_dir(dir)
        .args(["callbacks", "--config", "relais.toml"])
        .args(args)
        .output()
        .expect("run relais callbacks");
    assert!(out.status.success(), "relais callbacks {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// After its last try a callback is a dead letter: kept, listed by `relais callbacks
/// list --state dead`, and tried again with the same event id after `relais callbacks
/// retry`.
#[test]
fn a_dead_letter_is_kept_listed_and_retried_with_its_event_id() {
    let app = Receiver::start(usize::MAX, 200);
    let (sim, _dir, serve) = with_modem("http_cb_dead", 2, "");
    let dlr = pct(app.url("/dlr?type=%d").as_bytes());
    let a = sendsms(
        &serve,
        "+33612340009",
        "dead letter",
        &format!("&dlr-mask=8&dlr-url={dlr}"),
    );
    assert_eq!(a.status, 202, "{a:?}");
    sim.wait_entries("message", 1, WAIT);
    // Two tries (the first and one retry a second later), then dead.
    let deadline = Instant::now() + WAIT;
    let dead = loop {
        let rows = callback_rows(&serve.db());
        if let Some(r) = rows.iter().find(|r| r.state == "dead") {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "no dead letter: {rows:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((dead.kind.as_str(), dead.attempts), ("dlr", 2));
    assert_eq!(app.requests().len(), 2, "two tries, no more");
    let listed = callbacks_cli(&serve.dir, &["list", "--state", "dead"]);
    assert!(
        listed.contains(&format!("{:>6} dead", dead.id)) && listed.contains("HTTP 500"),
        "{listed}"
    );
    assert!(
        !listed.contains("type=8"),
        "the list shows no query strings: {listed}"
    );
    app.heal();
    let retried = callbacks_cli(&serve.dir, &["retry", "--all-dead"]);
    assert!(retried.starts_with("1 dead letter(s)"), "{retried}");
    let calls = app.wait(WAIT, |r| r.iter().any(|c| c.answered == 200));
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| event_id(c) == dead.id && c.target == "/dlr?type=8")
    );
    let rows = wait_all_done(&serve.db());
    assert_eq!(rows.len(), 1, "retried, not produced again: {rows:#?}");
    assert_eq!(
        callbacks_cli(&serve.dir, &["list", "--state", "dead"]).trim(),
        "no callback dead"
    );
}
