//! The HTTP gateway of `relais serve` end to end, over real TCP against the real binary:
//!
//! - Kannel's `/cgi-bin/sendsms`: every answer compared byte for byte with the strings
//!   and headers of Kannel's smsbox (gw/smsbox.c), every range check at its edge, the
//!   store read beside the running server to show that only accepted requests made jobs
//!   (with their origin, sender, delivery-report settings and recorded parameters), and
//!   a compliance refusal stored with its rule;
//! - sendsms messages in several charsets and shapes (GET, POST text/plain, POST
//!   Kannel XML) reaching a simulated GSM modem (`relais sim`) with their text intact;
//! - the JSON API under `/api/v1`: send, idempotent replay, read with history, lists
//!   walked with a cursor, cancel, tokens kept apart, health, metrics, inbound;
//! - the API of SMS Gateway for Android: send (both message shapes), read until
//!   delivered, webhooks.

mod http_support;
mod sim_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use http_support::{
    Answer, Serve, WAIT, api_delete, api_get, api_send, basic, bearer, open_store, pct,
    receive_sms, start_with_modem, unix_now, wait_for, wait_until_up,
};
use serde_json::{Value, json};
use sim_support::{Sim, relais_binary, scratch};

const SENDSMS: &str = "/cgi-bin/sendsms";
/// Kannel's answer to a sendsms request it stored and can send now.
const ACCEPTED: &str = "0: Accepted for delivery";
/// Kannel's answer to a sendsms request it stored for later.
const QUEUED: &str = "3: Queued for later delivery";

// ----- shared helpers ------------------------------------------------------------------

/// Asserts a Kannel answer: status, body byte for byte (no newline added), and the three
/// headers Kannel's smsbox puts on every sendsms answer.
#[track_caller]
fn kannel(a: &Answer, status: u16, body: &str, what: &str) {
    assert_eq!(
        (a.status, a.text().as_str()),
        (status, body),
        "{what}: got {a:?}"
    );
    assert_eq!(a.body, body.as_bytes(), "{what}: the body, byte for byte");
    assert_eq!(a.header("content-type"), Some("text/html"), "{what}: {a:?}");
    assert_eq!(a.header("pragma"), Some("no-cache"), "{what}: {a:?}");
    assert_eq!(a.header("cache-control"), Some("no-cache"), "{what}: {a:?}");
    assert_eq!(
        a.header("content-length"),
        Some(body.len().to_string().as_str()),
        "{what}: {a:?}"
    );
}

/// RFC 3339 (UTC) of `secs` since 1970.
fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A job as the store holds it.
#[derive(Debug, Clone)]
struct Job {
    id: i64,
    number: String,
    text: String,
    class: String,
    state: String,
    origin: Option<String>,
    sender: Option<String>,
    dlr_url: Option<String>,
    dlr_mask: Option<i64>,
    meta: Option<String>,
    rule: Option<String>,
    reason: Option<String>,
    due_at: i64,
    created_at: i64,
    expires_at: Option<i64>,
    message_id: Option<String>,
}

impl Job {
    fn meta(&self) -> Value {
        serde_json::from_str(self.meta.as_deref().unwrap_or("null"))
            .unwrap_or_else(|e| panic!("meta of job {} is not JSON ({e}): {self:?}", self.id))
    }
}

/// Every job of the store, read through a read-only connection beside the server.
fn jobs(db: &Path) -> Vec<Job> {
    let conn = open_store(db);
    let mut st = conn
        .prepare(
            "SELECT id, number, text, class, state, origin, sender, dlr_url, dlr_mask, meta,
                    rule, reason, due_at, created_at, expires_at, message_id
             FROM jobs ORDER BY id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Job {
            id: r.get(0)?,
            number: r.get(1)?,
            text: r.get(2)?,
            class: r.get(3)?,
            state: r.get(4)?,
            origin: r.get(5)?,
            sender: r.get(6)?,
            dlr_url: r.get(7)?,
            dlr_mask: r.get(8)?,
            meta: r.get(9)?,
            rule: r.get(10)?,
            reason: r.get(11)?,
            due_at: r.get(12)?,
            created_at: r.get(13)?,
            expires_at: r.get(14)?,
            message_id: r.get(15)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The one job to `number`.
#[track_caller]
fn job_to<'a>(all: &'a [Job], number: &str) -> &'a Job {
    let found: Vec<&Job> = all.iter().filter(|j| j.number == number).collect();
    assert_eq!(found.len(), 1, "jobs to {number}: {found:#?}");
    found[0]
}

// ----- a gateway with a simulated modem ------------------------------------------------

const DEVICE: &str = "lyon-gsm";

/// Starts the simulator and `relais serve` with its modem as [`DEVICE`] plus `extra`
/// (users, tokens, `[http]` settings), and waits until the modem is up (health says
/// so).
fn gateway(test: &str, extra: &str) -> (Sim, Serve) {
    let (sim, serve) = start_with_modem(test, DEVICE, extra);
    let started = Instant::now();
    wait_until_up(&serve, 1);
    println!("{test}: the modem was up after {:?}", started.elapsed());
    (sim, serve)
}

/// Waits until the ledger holds a message to `to` with exactly `text`.
#[track_caller]
fn wait_ledger(sim: &Sim, to: &str, text: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let messages = sim.entries("message");
        if let Some(m) = messages.iter().find(|m| m["to"] == to) {
            assert_eq!(
                m["text"].as_str(),
                Some(text),
                "the text {to} received: {m:#}"
            );
            return m.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "no message to {to} reached the network in {WAIT:?}; ledger: {:#?}",
                sim.ledger()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ----- 1. Kannel's answers -------------------------------------------------------------

const KANNEL_CONFIG: &str = r#"
database = "relais.db"

[scheduler]
poll = "100ms"

[[brand]]
name = "Acme"

[http]
max_body = 4096

[[http.user]]
name = "kuser"
password = "kpass"

[[http.user]]
name = "slow"
password = "slowpw"
rate = 1

[[http.user]]
name = "far"
password = "farpw"
allow_ip = ["10.9.9.9"]

[[http.user]]
name = "promo"
password = "promopw"
class = "marketing"
brand = "Acme"
"#;

/// An accepted sendsms request: the receiver it names (unique per request), and the
/// job's `meta` it must leave, exactly.
struct Accepted {
    query: String,
    to: &'static str,
    meta: Value,
}

#[test]
fn kannel_answers_are_kannel_s_byte_for_byte() {
    let dir = scratch("http_gateway_kannel");
    let serve = Serve::start(&dir, KANNEL_CONFIG);
    let get = |q: &str| serve.get(&format!("{SENDSMS}?{q}"), &[]);
    let auth = "username=kuser&password=kpass";

    // ----- refused: nothing may be stored -----
    let refused: Vec<(String, u16, &str, &str)> = vec![
        (
            "username=kuser&password=wrong&to=%2B33612399001&text=hi".into(),
            403,
            "Authorization failed for sendsms",
            "wrong password",
        ),
        (
            "username=nobody&password=kpass&to=%2B33612399002&text=hi".into(),
            403,
            "Authorization failed for sendsms",
            "unknown user",
        ),
        (
            "to=%2B33612399003&text=hi".into(),
            403,
            "Authorization failed for sendsms",
            "no credentials",
        ),
        (
            "username=kuser&to=%2B33612399003&text=hi".into(),
            403,
            "Authorization failed for sendsms",
            "no password",
        ),
        (
            format!("{auth}&text=hi"),
            400,
            "Missing receiver number, rejected",
            "no to",
        ),
        (
            format!("{auth}&to=&text=hi"),
            400,
            "Empty receiver number not allowed, rejected",
            "empty to",
        ),
        (
            format!("{auth}&to=abc&text=hi"),
            400,
            "Number(s) has/have been denied by white- and/or black-lists.",
            "a receiver outside sendsms-chars",
        ),
        (
            format!("{auth}&to=%2B33612399004&text=hi&mclass=4"),
            400,
            "MClass field misformed, rejected",
            "mclass 4",
        ),
        (
            format!("{auth}&to=%2B33612399005&text=hi&coding=3"),
            400,
            "Coding field misformed, rejected",
            "coding 3",
        ),
        (
            format!("{auth}&to=%2B33612399006&text=hi&dlr-mask=64"),
            400,
            "DLR-Mask field misformed, rejected",
            "dlr-mask 64",
        ),
        (
            format!("{auth}&to=%2B33612399007&text=hi&mwi=8"),
            400,
            "MWI field misformed, rejected",
            "mwi 8",
        ),
        (
            format!("{auth}&to=%2B33612399008&text=hi&pid=256"),
            400,
            "PID field misformed, rejected",
            "pid 256",
        ),
        (
            format!("{auth}&to=%2B33612399009&text=hi&alt-dcs=2"),
            400,
            "Alt-DCS field misformed, rejected",
            "alt-dcs 2",
        ),
        (
            format!("{auth}&to=%2B33612399010&text=hi&rpi=3"),
            400,
            "RPI field misformed, rejected",
            "rpi 3",
        ),
        (
            format!("{auth}&to=%2B33612399011&text=hi&priority=4"),
            400,
            "Priority field misformed, rejected",
            "priority 4",
        ),
        (
            format!("{auth}&to=%2B33612399012&text=hi&validity=-2"),
            400,
            "Validity field misformed, rejected",
            "validity -2",
        ),
        (
            format!("{auth}&to=%2B33612399013&text=hi&deferred=-2"),
            400,
            "Deferred field misformed, rejected",
            "deferred -2",
        ),
        (
            format!("{auth}&to=%2B33612399014&text=hi&compress=2"),
            400,
            "Compress field misformed, rejected",
            "compress 2",
        ),
        (
            format!(
                "{auth}&to=%2B33612399015&text=hi&account={}",
                "a".repeat(65)
            ),
            400,
            "Account field misformed or too long, rejected",
            "account of 65 bytes",
        ),
        (
            format!("{auth}&to=%2B33612399016&text=hi&account=a%5Bb"),
            400,
            "Account field misformed or too long, rejected",
            "account with [",
        ),
        (
            format!("{auth}&to=%2B33612399017&text=hi&udh=%03%00%03"),
            400,
            "UDH field misformed, rejected",
            "a UDH whose first byte is not its length",
        ),
        (
            format!(
                "{auth}&to=%2B33612399018&text=hi&udh={}",
                pct(&[&[140u8][..], &[0u8; 140][..]].concat())
            ),
            400,
            "UDH field is too long, rejected",
            "a UDH of 141 bytes",
        ),
        (
            format!("{auth}&to=%2B33612399019&text=hi&dlr-url=ftp%3A%2F%2Fexample.org%2Fdlr"),
            400,
            "DLR-URL field misformed, rejected",
            "dlr-url not http(s)",
        ),
        (
            format!("{auth}&to=%2B33612399020&text=%FF%FEhi&charset=UTF-8"),
            400,
            "Charset or body misformed, rejected",
            "bytes that are not UTF-8",
        ),
        (
            format!("{auth}&to=%2B33612399021&text=%00h%00&coding=2&charset=UTF-16BE"),
            400,
            "Charset or body misformed, rejected",
            "an odd number of UTF-16 bytes",
        ),
        (
            format!("{auth}&to=%2B33612399022&text=hi&charset=KOI9-Z"),
            400,
            "Charset or body misformed, rejected",
            "an unknown charset",
        ),
        (
            format!("{auth}&to=%2B33612399023&text=hi&udh=%05%00%03%01%02%01"),
            403,
            "Not routable. Do not try again.",
            "a well-formed UDH (relais does not send one)",
        ),
        (
            format!("{auth}&to=%2B33612399024&text=hi&coding=1"),
            403,
            "Not routable. Do not try again.",
            "8-bit data",
        ),
        (
            "username=far&password=farpw&to=%2B33612399025&text=hi".into(),
            403,
            "Authorization failed for sendsms",
            "a user calling from outside its allow_ip",
        ),
    ];
    for (query, status, body, what) in &refused {
        kannel(&get(query), *status, body, what);
    }

    // The POST shapes: a body of `content_type` for user kuser with `password`, and
    // the receiver in X-Kannel-To (when there is one).
    let post = |content_type: &str, password: &str, to: Option<&str>, body: &[u8]| {
        let mut headers = vec![
            ("Content-Type", content_type),
            ("X-Kannel-Username", "kuser"),
            ("X-Kannel-Password", password),
        ];
        headers.extend(to.map(|to| ("X-Kannel-To", to)));
        serve.post(SENDSMS, &headers, body)
    };
    let plain = "text/plain; charset=UTF-8";
    kannel(
        &post(plain, "kpass", None, b"no receiver"),
        400,
        "Missing receiver(s) number(s), rejected",
        "POST text/plain without X-Kannel-To",
    );
    kannel(
        &post(
            "application/json",
            "kpass",
            Some("+33612399030"),
            br#"{"text":"hi"}"#,
        ),
        400,
        "Invalid content-type",
        "POST application/json",
    );
    kannel(
        &post("text/html", "kpass", Some("+33612399031"), b"<p>hi</p>"),
        415,
        "Unsupported content-type, rejected",
        "POST text/html",
    );
    kannel(
        &post(plain, "nope", Some("+33612399032"), b"hi"),
        403,
        "Authorization failed for sendsms",
        "POST with a wrong X-Kannel-Password",
    );
    // A body over [http] max_body (4096): refused before anything is read into a job.
    let a = post(plain, "kpass", Some("+33612399033"), &[b'x'; 5000]);
    assert_eq!(a.status, 413, "a body over max_body: {a:?}");

    // ----- accepted: one job each -----
    let account64 = "b".repeat(64);
    // A request to the one receiver `to`, with `rest` after it.
    let to_one = |to: &'static str, rest: &str, meta: Value| Accepted {
        query: format!("{auth}&to={}&{rest}", pct(to.as_bytes())),
        to,
        meta,
    };
    let accepted = vec![
        to_one(
            "+33612340001",
            "text=mclass+3&mclass=3&from=AcmeShop",
            json!({"mclass": 3, "coding": 0}),
        ),
        to_one(
            "+33612340002",
            "text=coding+2&coding=2&charset=UTF-8",
            json!({"coding": 2, "charset": "UTF-8"}),
        ),
        to_one(
            "+33612340003",
            &format!(
                "text=dlr&dlr-mask=63&dlr-url={}",
                pct(b"http://127.0.0.1:9/dlr?id=%i&s=%d")
            ),
            json!({"coding": 0}),
        ),
        to_one(
            "+33612340004",
            "text=mwi&mwi=7",
            json!({"mwi": 7, "coding": 0}),
        ),
        to_one(
            "+33612340005",
            "text=pid&pid=255",
            json!({"pid": 255, "coding": 0}),
        ),
        to_one(
            "+33612340006",
            "text=alt-dcs&alt-dcs=1",
            json!({"alt-dcs": 1, "coding": 0}),
        ),
        to_one(
            "+33612340007",
            "text=rpi&rpi=2",
            json!({"rpi": 2, "coding": 0}),
        ),
        to_one(
            "+33612340008",
            "text=priority&priority=3",
            json!({"priority": 3, "coding": 0}),
        ),
        to_one(
            "+33612340009",
            "text=validity&validity=-1",
            json!({"coding": 0}),
        ),
        to_one(
            "+33612340010",
            "text=validity&validity=10",
            json!({"validity": 10, "coding": 0}),
        ),
        to_one(
            "+33612340011",
            "text=deferred&deferred=5&validity=10",
            json!({"validity": 10, "coding": 0}),
        ),
        to_one(
            "+33612340012",
            &format!("text=account&account={account64}"),
            json!({"account": account64, "coding": 0}),
        ),
        to_one(
            "+33612340013",
            "text=compress&compress=1&mclass=0",
            json!({"compress": 1, "mclass": 0, "coding": 0}),
        ),
        Accepted {
            // The old names: user, pass, dlrmask, dlrurl.
            query: format!(
                "user=kuser&pass=kpass&to=%2B33612340014&text=aliases&dlrmask=3&dlrurl={}",
                pct(b"https://app.example/dlr?s=%d")
            ),
            to: "+33612340014",
            meta: json!({"coding": 0}),
        },
        to_one(
            "+33612340015",
            &format!(
                "text=meta&smsc=orange&binfo=b1&meta-data={}",
                pct(b"?smpp?key=value")
            ),
            json!({"smsc": "orange", "binfo": "b1", "meta-data": "?smpp?key=value", "coding": 0}),
        ),
        Accepted {
            // The same receiver twice: one job.
            query: format!("{auth}&to=%2B33612340019+%2B33612340019&text=twice"),
            to: "+33612340019",
            meta: json!({"coding": 0}),
        },
        Accepted {
            // A receiver outside sendsms-chars beside a good one: set aside.
            query: format!("{auth}&to=%2B33612340020+abc&text=one+of+two"),
            to: "+33612340020",
            meta: json!({"coding": 0}),
        },
    ];
    for a in &accepted {
        kannel(
            &get(&a.query),
            202,
            QUEUED,
            &format!("accepted: {}", a.query),
        );
    }
    // HTTP/1.0 without a Host header.
    let a = serve.raw(
        format!("GET {SENDSMS}?{auth}&to=%2B33612340016&text=old+client HTTP/1.0\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(a.version, "HTTP/1.0", "{a:?}");
    kannel(&a, 202, QUEUED, "HTTP/1.0 without Host");
    // A POST text/plain with X-Kannel headers, two receivers, from the query string's
    // dlr settings.
    let a = serve.post(
        &format!("{SENDSMS}?dlr-mask=1"),
        &[
            ("Content-Type", "text/plain; charset=ISO-8859-1"),
            ("X-Kannel-Username", "kuser"),
            ("X-Kannel-Password", "kpass"),
            ("X-Kannel-To", "+33612340017 +33612340018"),
            ("X-Kannel-From", "Acme"),
            ("X-Kannel-MClass", "1"),
        ],
        b"caf\xe9 post",
    );
    kannel(&a, 202, QUEUED, "POST text/plain");

    // A user limited to one request a second: three at once, at least one refused.
    let slow: Vec<Answer> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..3)
            .map(|i| {
                let get = &get;
                s.spawn(move || {
                    get(&format!(
                        "username=slow&password=slowpw&to=%2B3361234010{i}&text=slow"
                    ))
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut slow_accepted = Vec::new();
    for (i, a) in slow.iter().enumerate() {
        match a.status {
            202 => {
                kannel(a, 202, QUEUED, "slow user");
                slow_accepted.push(format!("+3361234010{i}"));
            }
            _ => kannel(
                a,
                503,
                "Temporal failure, try again later.",
                "slow user over its rate",
            ),
        }
    }
    assert!(
        slow_accepted.len() < 3,
        "rate = 1: three requests at once all passed"
    );
    assert!(
        !slow_accepted.is_empty(),
        "rate = 1: the first request must pass"
    );

    // A marketing user: a French number, an alphanumeric sender without a STOP code:
    // refused by the compliance core whatever the time (`relais policy check` agrees,
    // checked below), and stored refused with its rule.
    let a = get("username=promo&password=promopw&to=%2B33612345678&text=Promo+-20%25&from=Acme");
    kannel(
        &a,
        403,
        "Not routable. Do not try again.",
        "marketing refused by the compliance core",
    );
    for at in [
        "2026-03-10T03:00:00Z",
        "2026-03-10T10:00:00Z",
        "2026-03-15T14:00:00Z",
        "2026-05-01T10:00:00Z",
    ] {
        let out = Command::new(relais_binary())
            .current_dir(&dir)
            .args([
                "policy",
                "check",
                "--to",
                "+33612345678",
                "--sender",
                "alpha:relais",
                "--class",
                "marketing",
                "--brand",
                "Acme",
                "--text",
                "Promo -20%",
                "--json",
                "--at",
                at,
            ])
            .output()
            .expect("run relais policy check");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("policy check at {at}: {e}: {out:?}"));
        assert_eq!(v["decision"], "refuse", "at {at}: {v}");
        assert_eq!(v["rule"], "fr.marketing.stop", "at {at}: {v}");
    }

    // ----- the store: exactly the accepted requests -----
    let all = jobs(&serve.db());
    let mut want: BTreeSet<String> = accepted.iter().map(|a| a.to.to_string()).collect();
    for n in [
        "+33612340016",
        "+33612340017",
        "+33612340018",
        "+33612345678",
    ] {
        want.insert(n.into());
    }
    want.extend(slow_accepted.iter().cloned());
    let got: BTreeSet<String> = all.iter().map(|j| j.number.clone()).collect();
    assert_eq!(got, want, "the receivers of the stored jobs");
    assert_eq!(
        all.len(),
        want.len(),
        "one job per accepted receiver: {all:#?}"
    );
    for a in &accepted {
        let j = job_to(&all, a.to);
        assert_eq!(j.origin.as_deref(), Some("sendsms:kuser"), "{j:?}");
        assert_eq!(j.state, "queued", "{j:?}");
        assert_eq!(j.class, "transactional", "{j:?}");
        assert_eq!(j.meta(), a.meta, "meta of {}: {j:?}", a.query);
        if a.to != "+33612340003" && a.to != "+33612340014" {
            assert_eq!((&j.dlr_url, j.dlr_mask), (&None, None), "{j:?}");
        }
        if a.to != "+33612340001" {
            assert_eq!(j.sender, None, "{j:?}");
        }
    }
    let j = job_to(&all, "+33612340001");
    assert_eq!(j.sender.as_deref(), Some("AcmeShop"), "from is recorded");
    assert_eq!(j.text, "mclass 3");
    let j = job_to(&all, "+33612340003");
    assert_eq!(
        (j.dlr_url.as_deref(), j.dlr_mask),
        (Some("http://127.0.0.1:9/dlr?id=%i&s=%d"), Some(63)),
        "{j:?}"
    );
    let j = job_to(&all, "+33612340014");
    assert_eq!(
        (j.dlr_url.as_deref(), j.dlr_mask),
        (Some("https://app.example/dlr?s=%d"), Some(3)),
        "dlrurl / dlrmask aliases: {j:?}"
    );
    assert_eq!(j.text, "aliases");
    let j = job_to(&all, "+33612340009");
    assert_eq!(j.expires_at, None, "validity -1 is unset: {j:?}");
    // The request's clock and the commit's may be a second apart.
    let j = job_to(&all, "+33612340010");
    let validity = j.expires_at.map(|e| e - j.created_at);
    assert!(
        matches!(validity, Some(599..=600)),
        "validity 10 minutes: {j:?}"
    );
    let j = job_to(&all, "+33612340011");
    assert!(
        (299..=300).contains(&(j.due_at - j.created_at)),
        "deferred 5 minutes: {j:?}"
    );
    assert_eq!(
        j.expires_at,
        Some(j.due_at + 600),
        "validity counts from the deferred time: {j:?}"
    );
    let j = job_to(&all, "+33612340016");
    assert_eq!(j.text, "old client");
    assert_eq!(j.origin.as_deref(), Some("sendsms:kuser"));
    for n in ["+33612340017", "+33612340018"] {
        let j = job_to(&all, n);
        assert_eq!(j.text, "café post", "ISO-8859-1 body: {j:?}");
        assert_eq!(j.sender.as_deref(), Some("Acme"), "X-Kannel-From: {j:?}");
        assert_eq!(j.dlr_mask, Some(1), "dlr-mask of the query string: {j:?}");
        assert_eq!(
            j.meta(),
            json!({"mclass": 1, "coding": 0, "charset": "ISO-8859-1"}),
            "{j:?}"
        );
    }
    for n in &slow_accepted {
        assert_eq!(job_to(&all, n).origin.as_deref(), Some("sendsms:slow"));
    }
    let j = job_to(&all, "+33612345678");
    assert_eq!(j.origin.as_deref(), Some("sendsms:promo"), "{j:?}");
    assert_eq!(j.class, "marketing", "{j:?}");
    assert_eq!(j.state, "refused", "{j:?}");
    assert_eq!(j.rule.as_deref(), Some("fr.marketing.stop"), "{j:?}");
    assert_eq!(j.reason.as_deref(), Some("no-stop-code"), "{j:?}");
    assert_eq!(j.sender.as_deref(), Some("Acme"), "{j:?}");

    // `relais report` beside the server counts the refusal under its rule.
    let out = Command::new(relais_binary())
        .current_dir(&dir)
        .args(["report", "--format", "csv"])
        .output()
        .expect("run relais report");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "relais report: {out:?}");
    for line in [
        "state.refused,1",
        "refused.rule.fr.marketing.stop,1",
        "refused.reason.no-stop-code,1",
        &format!("jobs.total,{}", want.len()),
    ] {
        assert!(
            csv.lines().any(|l| l == line),
            "relais report lacks {line:?}:\n{csv}"
        );
    }

    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kannel's smsbox answers any other path on its port with 404 "Unknown request." and
/// its usual sendsms headers (gw/smsbox.c, `sendsms_thread`).
#[test]
fn unknown_paths_get_kannel_s_404() {
    let dir = scratch("http_gateway_unknown");
    let serve = Serve::start(&dir, KANNEL_CONFIG);
    for path in ["/cgi-bin/sendota", "/cgi-bin/sendsms/extra", "/nothing?x=1"] {
        let a = serve.get(path, &[]);
        assert_eq!(
            (a.status, a.text().as_str()),
            (404, "Unknown request."),
            "{path}"
        );
        assert_eq!(
            a.header("content-type"),
            Some("text/html"),
            "{path}: Kannel sends \"Unknown request.\" with its sendsms headers \
             (gw/smsbox.c, sendsms_thread: http_send_reply(client, status, \
             sendsms_reply_hdrs, answer)); relais' fallback (host/src/http/server.rs, \
             `unknown`) answers text/plain instead of sendsms::respond(&Answer::unknown_request())"
        );
        kannel(&a, 404, "Unknown request.", path);
    }
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Receivers as Kannel clients write them: `0033...` and bare digits are international;
/// a leading 0 is national when the user has a `country_code`, and set aside otherwise.
#[test]
fn national_and_bare_receivers_are_read_like_kannel_clients_write_them() {
    let dir = scratch("http_gateway_national");
    let config = format!(
        "{KANNEL_CONFIG}\n[[http.user]]\nname = \"fr\"\npassword = \"frpw\"\ncountry_code = 33\n"
    );
    let serve = Serve::start(&dir, &config);
    let send = |user: &str, pw: &str, to: &str| {
        serve.get(
            &format!("{SENDSMS}?username={user}&password={pw}&to={to}&text=hi"),
            &[],
        )
    };
    kannel(
        &send("fr", "frpw", "0612345001"),
        202,
        QUEUED,
        "national with a country code",
    );
    kannel(
        &send("fr", "frpw", "33612345002"),
        202,
        QUEUED,
        "bare digits",
    );
    kannel(
        &send("kuser", "kpass", "0033612345003"),
        202,
        QUEUED,
        "00 prefix",
    );
    kannel(
        &send("kuser", "kpass", "0612345004"),
        400,
        "Number(s) has/have been denied by white- and/or black-lists.",
        "national without a country code",
    );
    let numbers: Vec<String> = jobs(&serve.db()).into_iter().map(|j| j.number).collect();
    assert_eq!(numbers, ["+33612345001", "+33612345002", "+33612345003"]);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A relais device whose port is missing at start (unplugged) does not stop the
/// gateway: messages are queued, and the device is tried again.
#[test]
fn a_missing_device_port_does_not_stop_the_gateway() {
    let dir = scratch("http_gateway_missing_port");
    let port = dir.join("ttyACM-unplugged");
    let config = format!(
        "{KANNEL_CONFIG}\n[[device]]\nname = \"desk\"\nkind = \"device\"\nport = \"{}\"\nsender = \"alpha:Acme\"\n",
        port.display()
    );
    let serve = Serve::start(&dir, &config);
    let health = serve.get("/api/v1/health", &[]);
    assert_eq!(health.status, 200, "{health:?}");
    let h = health.json();
    assert_eq!(
        (
            h["devices"]["configured"].as_u64(),
            h["devices"]["up"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let a = serve.get(
        &format!("{SENDSMS}?username=kuser&password=kpass&to=%2B33612345678&text=hi"),
        &[],
    );
    kannel(&a, 202, QUEUED, "no device up: queued for later");
    // Still serving after a retry of the port (every 5 s).
    std::thread::sleep(Duration::from_millis(5500));
    assert_eq!(serve.get("/api/v1/health", &[]).status, 200);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- 2. sendsms to the modem ---------------------------------------------------------

#[test]
fn sendsms_messages_reach_the_modem_in_every_encoding() {
    let (sim, serve) = gateway(
        "http_gateway_sendsms",
        r#"
[[http.user]]
name = "kuser"
password = "kpass"
"#,
    );
    let get = |q: &str| serve.get(&format!("{SENDSMS}?{q}"), &[]);
    let auth = "username=kuser&password=kpass";

    // Two receivers, UTF-8 (by default) with characters outside GSM 7-bit.
    let text = "Grüße € ça va";
    let a = get(&format!(
        "{auth}&to=%2B33612345001+%2B33612345002&text={}",
        pct(text.as_bytes())
    ));
    kannel(&a, 202, ACCEPTED, "two receivers, UTF-8");
    // UCS-2 given as UTF-16BE bytes, a surrogate pair included.
    let cyrillic = "Привет 😀 Ελλάδα";
    let utf16: Vec<u8> = cyrillic
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let a = get(&format!(
        "{auth}&to=%2B33612345003&coding=2&charset=UTF-16BE&text={}",
        pct(&utf16)
    ));
    kannel(&a, 202, ACCEPTED, "UTF-16BE");
    // ISO-8859-1.
    let a = get(&format!(
        "{auth}&to=%2B33612345004&charset=ISO-8859-1&text=%E9t%E9"
    ));
    kannel(&a, 202, ACCEPTED, "ISO-8859-1");
    // POST text/plain with X-Kannel headers.
    let post_text = "Bonjour depuis un POST ✓";
    let a = serve.post(
        SENDSMS,
        &[
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("X-Kannel-Username", "kuser"),
            ("X-Kannel-Password", "kpass"),
            ("X-Kannel-To", "+33612345005"),
        ],
        post_text.as_bytes(),
    );
    kannel(&a, 202, ACCEPTED, "POST text/plain");
    // POST of Kannel's XML document with two <da>.
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <message>\n  <submit>\n\
        <da><number>+33612345006</number></da>\n\
        <da><number>+33612345007</number></da>\n\
        <oa><number>Acme</number></oa>\n\
        <ud>Caf&#233; &amp; XML %E2%82%AC</ud>\n\
        <from><username>kuser</username><password>kpass</password></from>\n\
        </submit>\n</message>\n";
    let a = serve.post(SENDSMS, &[("Content-Type", "text/xml")], xml.as_bytes());
    kannel(&a, 202, ACCEPTED, "POST text/xml");
    // Deferred one minute: stored, not sent now.
    let a = get(&format!("{auth}&to=%2B33612345008&text=later&deferred=1"));
    kannel(&a, 202, QUEUED, "deferred one minute");

    for (to, text) in [
        ("+33612345001", text),
        ("+33612345002", text),
        ("+33612345003", cyrillic),
        ("+33612345004", "été"),
        ("+33612345005", post_text),
        ("+33612345006", "Café & XML €"),
        ("+33612345007", "Café & XML €"),
    ] {
        let m = wait_ledger(&sim, to, text);
        assert_eq!(m["from"], "+33700000001", "{m}");
    }
    let all = jobs(&serve.db());
    let j = job_to(&all, "+33612345006");
    assert_eq!(j.sender.as_deref(), Some("Acme"), "<oa> is recorded: {j:?}");
    assert_eq!(j.origin.as_deref(), Some("sendsms:kuser"));
    let j = job_to(&all, "+33612345008");
    assert_eq!(j.state, "queued", "{j:?}");
    assert!(
        (59..=61).contains(&(j.due_at - j.created_at)),
        "deferred=1: due a minute after it was stored: {j:?}"
    );
    assert!(
        sim.entries("message")
            .iter()
            .all(|m| m["to"] != "+33612345008"),
        "the deferred message went out at once"
    );
}

// ----- 3. the JSON API -----------------------------------------------------------------

const TOKEN: &str = "tok-gateway-0123456789";
const OTHER: &str = "tok-other-9876543210";

/// The per-recipient answer of a send: (id, to) of each, all queued.
#[track_caller]
fn queued(a: &Answer) -> Vec<(i64, String)> {
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(a.header("content-type"), Some("application/json"), "{a:?}");
    let v = a.json();
    v["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {v}"))
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "queued", "{v}");
            (
                m["id"].as_i64().expect("id"),
                m["to"].as_str().expect("to").to_string(),
            )
        })
        .collect()
}

/// Asserts a JSON API error.
#[track_caller]
fn api_error(a: &Answer, status: u16, code: &str, what: &str) -> String {
    assert_eq!(a.status, status, "{what}: {a:?}");
    let v = a.json();
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no message in {v}"));
    assert!(!message.is_empty(), "{what}: {v}");
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "{what}: only `error`: {v}"
    );
    message.to_string()
}

#[test]
fn json_api_sends_reads_lists_cancels_and_replays() {
    let (sim, serve) = gateway(
        "http_gateway_api",
        &format!(
            r#"
[http]
webhook_secret = "whsec-api-0123456789"

[[http.token]]
name = "app"
token = "{TOKEN}"

[[http.token]]
name = "other"
token = "{OTHER}"
"#
        ),
    );
    let db = serve.db();

    // ----- credentials -----
    for (what, headers) in [
        ("no Authorization", vec![]),
        (
            "a wrong token",
            vec![("Authorization", "Bearer tok-wrong-000000000000")],
        ),
        (
            "Basic instead of Bearer",
            vec![("Authorization", "Basic YXBwOnRvaw==")],
        ),
    ] {
        for path in ["/api/v1/messages", "/api/v1/inbound", "/api/v1/metrics"] {
            let a = serve.get(path, &headers);
            api_error(&a, 401, "unauthorized", &format!("{path} with {what}"));
            assert_eq!(
                a.header("www-authenticate"),
                Some("Bearer realm=\"relais\""),
                "{path} with {what}"
            );
        }
        let a = serve.post("/api/v1/messages", &headers, b"{}");
        api_error(&a, 401, "unauthorized", &format!("POST with {what}"));
    }
    let h = serve.get("/api/v1/health", &[]);
    assert_eq!(h.status, 200, "health needs no credentials: {h:?}");
    let hv = h.json();
    assert_eq!(hv["status"], "ok", "{hv}");
    assert_eq!(hv["devices"], json!({"configured": 1, "up": 1}), "{hv}");

    // ----- bad requests: 400, nothing stored -----
    let before = jobs(&db).len();
    let auth = bearer(TOKEN);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for (what, body) in [
        ("invalid JSON", b"{\"to\": \"+33612345101\", ".to_vec()),
        ("not an object", b"[1, 2]".to_vec()),
        (
            "a bad number",
            json!({"to": "hello", "text": "hi"})
                .to_string()
                .into_bytes(),
        ),
        (
            "an unknown class",
            json!({"to": "+33612345101", "text": "hi", "class": "spam"})
                .to_string()
                .into_bytes(),
        ),
        (
            "an unknown brand",
            json!({"to": "+33612345101", "text": "hi", "brand": "Nobody"})
                .to_string()
                .into_bytes(),
        ),
        (
            "an empty text",
            json!({"to": "+33612345101", "text": "  "})
                .to_string()
                .into_bytes(),
        ),
        (
            "a bad not_before",
            json!({"to": "+33612345101", "text": "hi", "not_before": "tomorrow"})
                .to_string()
                .into_bytes(),
        ),
        (
            "an unknown field",
            json!({"to": "+33612345101", "text": "hi", "colour": "red"})
                .to_string()
                .into_bytes(),
        ),
        (
            "no message",
            json!({"messages": []}).to_string().into_bytes(),
        ),
        (
            "a good message then a bad one",
            json!({"messages": [
                {"to": "+33612345101", "text": "fine"},
                {"to": "+33612345102", "text": "bad", "class": "spam"},
            ]})
            .to_string()
            .into_bytes(),
        ),
    ] {
        let a = serve.post("/api/v1/messages", &headers, &body);
        api_error(&a, 400, "bad-request", what);
    }
    assert_eq!(jobs(&db).len(), before, "bad requests stored jobs");

    // ----- send one, send many -----
    let one = queued(&api_send(
        &serve,
        TOKEN,
        &json!({"to": "+33612345101", "text": "API one"}),
        None,
    ));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].1, "+33612345101");
    let later = rfc3339(unix_now() + 3600);
    let many = queued(&api_send(
        &serve,
        TOKEN,
        &json!({"messages": [
            {"to": ["+33612345102", "+33612345103"], "text": "API many"},
            {"to": "+33612345104", "text": "API later", "not_before": later},
        ]}),
        None,
    ));
    let tos: Vec<&str> = many.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(tos, ["+33612345102", "+33612345103", "+33612345104"]);
    let later_id = many[2].0;

    // ----- Idempotency-Key -----
    let body = json!({"to": ["+33612345105", "+33612345106"], "text": "API idempotent"});
    let first = api_send(&serve, TOKEN, &body, Some("order-42"));
    let idem = queued(&first);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = api_send(&serve, TOKEN, &body, Some("order-42"));
    assert_eq!(again.status, first.status, "{again:?}");
    assert_eq!(again.body, first.body, "the replay, byte for byte");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("content-type"), Some("application/json"));
    let other_body = json!({"to": "+33612345107", "text": "API idempotent, changed"});
    let conflict = api_send(&serve, TOKEN, &other_body, Some("order-42"));
    api_error(
        &conflict,
        409,
        "idempotency-key-reused",
        "same key, other body",
    );
    let bad_key = api_send(&serve, TOKEN, &other_body, Some("bad key"));
    api_error(&bad_key, 400, "bad-request", "a key with a space");
    // Keys belong to their token: the other one's same key is a new request.
    let theirs = queued(&api_send(&serve, OTHER, &body, Some("order-42")));
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|t| !idem.contains(t)), "{theirs:?}");
    let all = jobs(&db);
    for n in ["+33612345105", "+33612345106"] {
        let by_app = all
            .iter()
            .filter(|j| j.number == n && j.origin.as_deref() == Some("api:app"))
            .count();
        assert_eq!(by_app, 1, "{n}: one job for the key and its replay");
    }
    assert!(
        all.iter().all(|j| j.number != "+33612345107"),
        "the conflicting body stored a job"
    );

    let mine: Vec<i64> = one
        .iter()
        .chain(&many)
        .chain(&idem)
        .map(|(id, _)| *id)
        .collect();
    for j in all.iter().filter(|j| mine.contains(&j.id)) {
        assert_eq!(j.origin.as_deref(), Some("api:app"), "{j:?}");
        assert_eq!(j.class, "transactional", "{j:?}");
    }
    let j = all.iter().find(|j| j.id == later_id).unwrap();
    assert_eq!(j.due_at, unix_of(&later), "not_before is the due time");

    // ----- cancel the one not yet due -----
    let a = api_delete(&serve, OTHER, &format!("/api/v1/messages/{later_id}"));
    api_error(&a, 404, "not-found", "the other token cancels my message");
    let a = api_delete(&serve, TOKEN, &format!("/api/v1/messages/{later_id}"));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json(), json!({"id": later_id, "state": "cancelled"}));
    let a = api_delete(&serve, TOKEN, &format!("/api/v1/messages/{later_id}"));
    api_error(&a, 409, "not-cancellable", "cancelled twice");

    // ----- everything else is delivered -----
    let sent: Vec<(i64, String)> = one
        .iter()
        .chain(&many[..2])
        .chain(&idem)
        .chain(&theirs)
        .cloned()
        .collect();
    for (id, to) in &sent {
        let token = if theirs.iter().any(|(i, _)| i == id) {
            OTHER
        } else {
            TOKEN
        };
        let v = wait_for(&format!("message {id} to be delivered"), WAIT, || {
            let a = api_get(&serve, token, &format!("/api/v1/messages/{id}"));
            assert_eq!(a.status, 200, "{a:?}");
            let v = a.json();
            (v["state"] == "delivered").then_some(v)
        });
        assert_eq!(v["id"], *id, "{v}");
        assert_eq!(v["to"], to.as_str(), "{v}");
        assert_eq!(v["device"], DEVICE, "{v}");
        let history = v["history"].as_array().expect("history");
        let states: Vec<&str> = history.iter().filter_map(|h| h["state"].as_str()).collect();
        assert_eq!(states.last(), Some(&"delivered"), "{v}");
        assert!(
            states.contains(&"queued") && states.contains(&"sent"),
            "history {states:?}"
        );
        assert!(v["delivered_at"].is_string(), "{v}");
        // The other token cannot see it.
        let stranger = if token == TOKEN { OTHER } else { TOKEN };
        let a = api_get(&serve, stranger, &format!("/api/v1/messages/{id}"));
        api_error(&a, 404, "not-found", "another token's message");
    }
    for (id, to) in &sent {
        let text = all.iter().find(|j| j.id == *id).unwrap().text.clone();
        wait_ledger(&sim, to, &text);
    }
    let delivered_id = one[0].0;
    let a = api_delete(&serve, TOKEN, &format!("/api/v1/messages/{delivered_id}"));
    let m = api_error(&a, 409, "not-cancellable", "a delivered message");
    assert!(m.contains("delivered"), "{m}");
    assert!(
        sim.entries("message")
            .iter()
            .all(|m| m["to"] != "+33612345104"),
        "the cancelled message went out"
    );

    // ----- lists, walked one by one with the cursor -----
    let walk = |token: &str| -> Vec<i64> {
        let mut ids = Vec::new();
        let mut path = "/api/v1/messages?limit=1".to_string();
        for _ in 0..100 {
            let a = api_get(&serve, token, &path);
            assert_eq!(a.status, 200, "{path}: {a:?}");
            let v = a.json();
            let page = v["messages"].as_array().expect("messages");
            assert!(page.len() <= 1, "limit=1 gave {v}");
            ids.extend(page.iter().map(|m| m["id"].as_i64().unwrap()));
            match v["next"].as_i64() {
                Some(next) => path = format!("/api/v1/messages?limit=1&cursor={next}"),
                None => return ids,
            }
        }
        panic!("the cursor never ended: {ids:?}");
    };
    let mut want_mine = mine.clone();
    want_mine.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(walk(TOKEN), want_mine, "newest first, each once");
    let mut want_theirs: Vec<i64> = theirs.iter().map(|(i, _)| *i).collect();
    want_theirs.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(walk(OTHER), want_theirs);
    let a = api_get(&serve, TOKEN, "/api/v1/messages?state=cancelled");
    let v = a.json();
    let cancelled: Vec<i64> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(cancelled, [later_id], "{v}");
    assert_eq!(v["next"], Value::Null);
    for bad in [
        "limit=0",
        "limit=501",
        "state=bogus",
        "colour=red",
        "to=abc",
    ] {
        let a = api_get(&serve, TOKEN, &format!("/api/v1/messages?{bad}"));
        api_error(&a, 400, "bad-request", bad);
    }

    // ----- metrics -----
    let delivered_in_store = jobs(&db).iter().filter(|j| j.state == "delivered").count();
    assert_eq!(delivered_in_store, sent.len());
    let a = api_get(&serve, TOKEN, "/api/v1/metrics");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = a.text();
    for line in [
        format!("relais_messages{{state=\"delivered\"}} {}", sent.len()),
        "relais_messages{state=\"cancelled\"} 1".to_string(),
        "relais_devices{state=\"up\"} 1".to_string(),
        "relais_devices{state=\"configured\"} 1".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "metrics lack {line:?}:\n{text}"
        );
    }

    // ----- inbound -----
    receive_sms(&sim, "+33698765432", "Bonjour");
    let got = wait_for("the inbound message in GET /api/v1/inbound", WAIT, || {
        let a = api_get(&serve, TOKEN, "/api/v1/inbound");
        assert_eq!(a.status, 200, "{a:?}");
        let v = a.json();
        v["inbound"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["from"] == "+33698765432")
            .cloned()
    });
    assert_eq!(got["text"], "Bonjour", "{got}");
    assert_eq!(got["device"], DEVICE, "{got}");
    let id = got["id"].as_i64().expect("inbound id");
    let a = api_get(&serve, TOKEN, &format!("/api/v1/inbound?after={id}"));
    assert_eq!(a.json(), json!({"inbound": [], "next": null}));

    // ----- webhooks: an id stays its client's -----
    let hook = |token: &str, body: Value| {
        serve.post(
            "/api/v1/webhooks",
            &[
                ("Authorization", &bearer(token)),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let mine = json!({"id": "hook-app", "url": "http://127.0.0.1:9/app", "event": "delivered"});
    let a = hook(TOKEN, mine.clone());
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.json(), mine);
    let a = hook(
        OTHER,
        json!({"id": "hook-app", "url": "http://127.0.0.1:9/other"}),
    );
    api_error(&a, 409, "webhook-id-taken", "another token's webhook id");
    let a = api_get(&serve, TOKEN, "/api/v1/webhooks");
    assert_eq!(
        a.json(),
        json!({"webhooks": [mine]}),
        "the owner's webhook is untouched"
    );
    let a = api_get(&serve, OTHER, "/api/v1/webhooks");
    assert_eq!(a.json(), json!({"webhooks": []}));
    let a = hook(
        TOKEN,
        json!({"id": "hook-app", "url": "http://127.0.0.1:9/app2", "event": "failed"}),
    );
    assert_eq!(a.status, 201, "its owner replaces it: {a:?}");
    let a = hook(
        OTHER,
        json!({"url": "http://127.0.0.1:9/x", "event": "bogus"}),
    );
    api_error(&a, 400, "bad-request", "an unknown event");
    let a = api_delete(&serve, OTHER, "/api/v1/webhooks/hook-app");
    api_error(&a, 404, "not-found", "another token deletes my webhook");
    let a = api_delete(&serve, TOKEN, "/api/v1/webhooks/hook-app");
    assert_eq!(a.status, 204, "{a:?}");
    let a = api_get(&serve, TOKEN, "/api/v1/webhooks");
    assert_eq!(a.json(), json!({"webhooks": []}));
}

/// `s` (as [`rfc3339`] wrote it) in seconds since 1970.
fn unix_of(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .timestamp()
}

// ----- 4. SMS Gateway for Android ------------------------------------------------------

#[test]
fn android_gateway_clients_work_unchanged() {
    let (sim, serve) = gateway(
        "http_gateway_android",
        r#"
[http]
webhook_secret = "whsec-android-0123456789"

[[http.user]]
name = "phone"
password = "phone-pw"

[[http.user]]
name = "stranger"
password = "stranger-pw"
"#,
    );
    let auth = basic("phone", "phone-pw");
    let stranger = basic("stranger", "stranger-pw");
    let post = |path: &str, body: &Value| {
        serve.post(
            path,
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let refused = |a: &Answer, status: u16, message: &str, what: &str| {
        assert_eq!(a.status, status, "{what}: {a:?}");
        assert_eq!(a.json(), json!({"message": message}), "{what}");
    };

    // Credentials.
    let a = serve.post(
        "/message",
        &[("Authorization", &basic("phone", "wrong"))],
        b"{}",
    );
    refused(&a, 401, "unauthorized", "a wrong password");
    assert_eq!(a.header("www-authenticate"), Some("Basic realm=\"relais\""));
    let a = serve.get("/message/x", &[]);
    refused(&a, 401, "unauthorized", "no credentials");

    // textMessage.
    let a = post(
        "/message",
        &json!({"textMessage": {"text": "hi"}, "phoneNumbers": ["+33612345003"]}),
    );
    assert_eq!(a.status, 202, "{a:?}");
    let v = a.json();
    let id = v["id"].as_str().expect("id").to_string();
    assert!(!id.is_empty());
    assert_eq!(v["state"], "Pending", "{v}");
    assert_eq!(
        v["recipients"],
        json!([{"phoneNumber": "+33612345003", "state": "Pending", "error": null}]),
        "{v}"
    );
    assert_eq!(v["isEncrypted"], false);
    assert!(v["states"]["Pending"].is_string(), "{v}");
    // The legacy `message` shape, with the client's own id and two numbers.
    let a = post(
        "/message",
        &json!({"id": "legacy-1", "message": "hi legacy", "phoneNumbers": ["+33612345004", "+33612345005"]}),
    );
    assert_eq!(a.status, 202, "{a:?}");
    let legacy = a.json();
    assert_eq!(legacy["id"], "legacy-1");
    assert_eq!(legacy["recipients"].as_array().map(Vec::len), Some(2));
    // Its ids are the client's: the same again is refused.
    let a = post(
        "/message",
        &json!({"id": "legacy-1", "message": "again", "phoneNumbers": ["+33612345006"]}),
    );
    refused(&a, 409, "message \"legacy-1\" exists", "an id used before");

    // Refusals.
    let before = jobs(&serve.db()).len();
    let a = post(
        "/message",
        &json!({"message": "a", "textMessage": {"text": "b"}, "phoneNumbers": ["+33612345007"]}),
    );
    refused(
        &a,
        400,
        "Cannot specify multiple message types simultaneously",
        "both kinds",
    );
    let a = post("/message", &json!({"phoneNumbers": ["+33612345007"]}));
    refused(
        &a,
        400,
        "Must specify exactly one of: textMessage, dataMessage, or message",
        "no kind",
    );
    let a = post(
        "/message",
        &json!({"textMessage": {"text": "hi"}, "phoneNumbers": []}),
    );
    refused(&a, 400, "phoneNumbers is empty", "no number");
    assert_eq!(jobs(&serve.db()).len(), before, "refusals stored jobs");

    // Read until delivered.
    for (id, to, text) in [
        (id.as_str(), vec!["+33612345003"], "hi"),
        (
            "legacy-1",
            vec!["+33612345004", "+33612345005"],
            "hi legacy",
        ),
    ] {
        let v = wait_for(&format!("message {id} Delivered"), WAIT, || {
            let a = serve.get(&format!("/message/{id}"), &[("Authorization", &auth)]);
            assert_eq!(a.status, 200, "{a:?}");
            let v = a.json();
            (v["state"] == "Delivered").then_some(v)
        });
        let recipients: Vec<Value> = to
            .iter()
            .map(|n| json!({"phoneNumber": n, "state": "Delivered", "error": null}))
            .collect();
        assert_eq!(v["recipients"], Value::Array(recipients), "{v}");
        assert!(v["states"]["Delivered"].is_string(), "{v}");
        for n in to {
            wait_ledger(&sim, n, text);
        }
        // Another user does not see it.
        let a = serve.get(&format!("/message/{id}"), &[("Authorization", &stranger)]);
        refused(&a, 404, "message not found", "another user's message");
    }
    let all = jobs(&serve.db());
    let j = job_to(&all, "+33612345003");
    assert_eq!(j.origin.as_deref(), Some("sendsms:phone"), "{j:?}");
    assert_eq!(j.message_id.as_deref(), Some(id.as_str()), "{j:?}");

    // Webhooks.
    let a = post(
        "/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "event": "sms:received"}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let hook = a.json();
    let hook_id = hook["id"].as_str().expect("webhook id").to_string();
    assert_eq!(
        hook,
        json!({"id": hook_id, "url": "http://127.0.0.1:9/hook", "event": "sms:received", "deviceId": null})
    );
    let a = post(
        "/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "event": "sms:nothing"}),
    );
    assert_eq!(a.status, 400, "an unknown event: {a:?}");
    let a = post(
        "/webhooks",
        &json!({"url": "file:///etc/passwd", "event": "sms:sent"}),
    );
    assert_eq!(a.status, 400, "a file URL: {a:?}");
    // The webhooks `auth` lists, and `auth` deleting the one registered.
    let list = |auth: &str| serve.get("/webhooks", &[("Authorization", auth)]);
    let delete = |auth: &str| {
        serve.request(
            "DELETE",
            &format!("/webhooks/{hook_id}"),
            &[("Authorization", auth)],
            b"",
        )
    };
    let mine = list(&auth);
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(mine.json(), json!([hook]));
    let theirs = list(&stranger);
    assert_eq!(theirs.json(), json!([]), "another user's list");
    // Another user cannot take the webhook over by registering its id.
    let a = serve.post(
        "/webhooks",
        &[("Authorization", &stranger)],
        json!({"id": hook_id, "url": "http://127.0.0.1:9/evil", "event": "sms:received"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(a.status, 409, "another user's webhook id: {a:?}");
    assert!(
        a.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("another client")),
        "{a:?}"
    );
    assert_eq!(
        list(&auth).json(),
        json!([hook]),
        "the owner's webhook is untouched"
    );
    // Its server answers 204 to any DELETE; another user's leaves it in place.
    let a = delete(&stranger);
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(list(&auth).json(), json!([hook]));
    let a = delete(&auth);
    assert_eq!(a.status, 204, "{a:?}");
    assert!(a.body.is_empty());
    assert_eq!(list(&auth).json(), json!([]));
}

/// `relais serve` on a PostgreSQL store (a server the test starts): Kannel's sendsms
/// and the JSON API queue into it, the modem sends, the delivery report and an inbound
/// message are stored there and read back through the API.
#[test]
fn the_gateway_runs_on_a_postgres_store() {
    let test = "http_gateway_postgres";
    let Some(server) = relais_testkit::postgres::Server::start_or_skip(test) else {
        return;
    };
    let url = server.fresh_database().unwrap();
    let sim = Sim::start(test, http_support::SCENARIO, &[]);
    let dir = sim.dir.join("host");
    std::fs::create_dir_all(&dir).unwrap();
    let config = http_support::gateway_config(
        Some((DEVICE, &sim.link())),
        &format!(
            r#"
[[http.user]]
name = "kuser"
password = "kpass"

[[http.token]]
name = "app"
token = "{TOKEN}"
"#
        ),
    )
    .replace("database = \"relais.db\"", &format!("database = \"{url}\""));
    let serve = http_support::Serve::start(&dir, &config);
    http_support::wait_until_up(&serve, 1);

    let a = serve.get(
        &format!(
            "{SENDSMS}?username=kuser&password=kpass&to=%2B33612345201&text=Kannel+on+PostgreSQL"
        ),
        &[],
    );
    kannel(&a, 202, ACCEPTED, "sendsms into PostgreSQL");
    let sent = queued(&http_support::api_send(
        &serve,
        TOKEN,
        &json!({"to": "+33612345202", "text": "API on PostgreSQL"}),
        Some("pg-1"),
    ));
    assert_eq!(sent.len(), 1);
    wait_ledger(&sim, "+33612345201", "Kannel on PostgreSQL");
    wait_ledger(&sim, "+33612345202", "API on PostgreSQL");
    let path = format!("/api/v1/messages/{}", sent[0].0);
    let state = http_support::wait_for("the delivery report", WAIT, || {
        let v = http_support::api_get(&serve, TOKEN, &path).json();
        (v["state"] == "delivered").then_some(v)
    });
    assert_eq!(state["to"], "+33612345202", "{state}");
    http_support::receive_sms(&sim, "+33612345203", "Réponse sur PostgreSQL");
    let inbound = http_support::wait_for("the inbound message", WAIT, || {
        let v = http_support::api_get(&serve, TOKEN, "/api/v1/inbound").json();
        let found = v["inbound"]
            .as_array()?
            .iter()
            .any(|m| m["text"] == "Réponse sur PostgreSQL");
        found.then_some(v)
    });
    assert!(inbound["inbound"].as_array().is_some_and(|a| !a.is_empty()));
    // The store the gateway wrote is PostgreSQL's, not a file beside it.
    assert!(!dir.join("relais.db").exists());
    let store = relais::store::Store::open_at(&relais::store::Location::Postgres(url)).unwrap();
    let counts = store.job_counts(None).unwrap();
    assert_eq!(
        counts,
        vec![(relais::store::JobState::Delivered, 2)],
        "both delivered, in PostgreSQL"
    );
}
