//! The dashboard at `/`: one self-contained page for people (inline CSS and script, no
//! external resource) that polls `/dashboard.json` every 2 s and draws devices, the
//! queue by state, campaigns, deferrals, inbound messages, opt-outs and callbacks.
//!
//! Both routes take the credentials of the JSON API: a `[[http.user]]` name and
//! password with HTTP Basic (a browser asks for them: a refusal carries
//! `WWW-Authenticate: Basic realm="relais"`) or a `[[http.token]]` as a Bearer token.
//! The browser keeps the Basic credentials it was asked for and sends them again with
//! the page's own requests to `/dashboard.json`, which is on the same origin.
//!
//! The page writes every text from the data with `textContent`, never as HTML: inbound
//! texts and numbers come from whoever sends an SMS. Its Content-Security-Policy allows
//! only its own inline script and style (by their SHA-256) and requests to its origin.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use relais_core::compliance::tz::UtcInstant;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::api::authenticate;
use super::server::{App, Metrics};
use crate::config::{Config, DeviceKind};
use crate::store::{Campaign, DeviceRow, InboundRow, JobState, OptOut, Store, StoreError};

/// The page, served as it is.
pub const PAGE: &str = include_str!("dashboard.html");

/// How many inbound messages and opt-outs the snapshot lists.
pub const RECENT: usize = 20;

/// The page (`GET /`).
pub async fn page(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    if let Err(r) = authenticate(&app, &headers, peer, true) {
        return challenge(r, false);
    }
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE,
    )
        .into_response();
    secure(&mut r, true);
    r
}

/// The page's data (`GET /dashboard.json`): see [`build`].
pub async fn snapshot(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    if let Err(r) = authenticate(&app, &headers, peer, true) {
        return challenge(r, true);
    }
    let up = app.ctx.devices_up();
    let now = app.ctx.clock.now();
    // Read everything under the lock, build and serialize after it is released.
    let gathered = {
        let store = app.ctx.store();
        gather(&store, &app.config)
    };
    let mut r = match gathered {
        Ok(g) => (
            StatusCode::OK,
            axum::Json(render(&g, &up, now, &app.config)),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("dashboard: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": {"code": "store", "message": e.to_string()}})),
            )
                .into_response()
        }
    };
    secure(&mut r, false);
    r
}

/// A refusal of the credentials as a Basic challenge, so that a browser asks for a
/// name and password; other refusals (rate limit) pass unchanged.
fn challenge(refused: Response<Body>, json: bool) -> Response<Body> {
    if refused.status() != StatusCode::UNAUTHORIZED {
        return refused;
    }
    let mut r = if json {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {
                "code": "unauthorized",
                "message": "sign in with an [[http.user]] name and password",
            }})),
        )
            .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "relais: sign in with an [[http.user]] name and password.\n",
        )
            .into_response()
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"relais\", charset=\"UTF-8\""),
    );
    secure(&mut r, false);
    r
}

/// Headers of every dashboard answer: never cached, never sniffed, never framed; the
/// page also gets its Content-Security-Policy.
fn secure(r: &mut Response<Body>, page: bool) {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let csp = if page {
        content_security_policy()
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The page's Content-Security-Policy: its one inline script and its one inline style
/// by their SHA-256, requests to its own origin only.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |tag: &str| {
            inline(PAGE, tag)
                .map(|body| format!("'sha256-{}'", base64(&Sha256::digest(body.as_bytes()))))
                .unwrap_or_else(|| "'none'".into())
        };
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash("script"),
            hash("style")
        )
    })
}

/// The text between `<tag>` and `</tag>` in `page` (the first such element).
fn inline<'p>(page: &'p str, tag: &str) -> Option<&'p str> {
    let open = format!("<{tag}>");
    let start = page.find(&open)? + open.len();
    let len = page[start..].find(&format!("</{tag}>"))?;
    Some(&page[start..start + len])
}

/// Standard base64 with padding (RFC 4648 §4), as CSP hashes are written.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ----- the snapshot -----------------------------------------------------------------

/// What the snapshot reads from the store, read in one go under its lock.
#[derive(Debug)]
struct Gathered {
    devices: Vec<DeviceRow>,
    /// Jobs on each device (configured or known), by name.
    on_device: Vec<(String, u64)>,
    jobs: Vec<(JobState, u64)>,
    next_due: Option<UtcInstant>,
    campaigns: Vec<Campaign>,
    campaign_counts: Vec<(i64, JobState, u64)>,
    deferrals: Vec<(String, u64, Option<UtcInstant>)>,
    inbound: Vec<InboundRow>,
    inbound_total: u64,
    optouts: Vec<OptOut>,
    optout_total: u64,
    callbacks: Vec<(String, i64)>,
}

fn gather(store: &Store, config: &Config) -> Result<Gathered, StoreError> {
    let devices = store.devices()?;
    let mut names: Vec<&str> = config.devices.iter().map(|d| d.name.as_str()).collect();
    for d in &devices {
        if !names.contains(&d.name.as_str()) {
            names.push(&d.name);
        }
    }
    let on_device = names
        .iter()
        .map(|n| Ok((n.to_string(), store.on_device_count(n)?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Gathered {
        on_device,
        jobs: store.job_counts(None)?,
        next_due: store.next_due()?,
        campaigns: store.campaigns()?,
        campaign_counts: store.campaign_state_counts()?,
        deferrals: store.deferrals_by_rule()?,
        inbound: store.inbound(RECENT)?,
        inbound_total: store.inbound_count()?,
        optouts: store.recent_optouts(RECENT)?,
        optout_total: store.optout_count()?,
        callbacks: store.callback_counts()?,
        devices,
    })
}

/// The snapshot of `/dashboard.json` from `store`, with `up` the devices whose link is
/// up now (`Context::devices_up`), `now` the server's time and `config` for the
/// configured devices. Keys (times are UTC seconds since 1970, `null` when unknown):
///
/// - `server`: `version`, `now`, `devices_up`, `devices_configured`;
/// - `devices[]`: `name`, `kind` (`device`, `modem`, or `null` when no longer
///   configured), `sender`, `connected`, `firmware`, `modem`, `slots`, `on_device`,
///   `free_slots`, `ready`, `sim_ready`, `registration`, `network_time`, `halted`,
///   `halted_reason`, `counters`, `updated_at`;
/// - `queue`: `states[]` (`state`, `group`: waiting, on-device or final, `count`; every
///   state, zeros included), `waiting`, `on_device`, `final`, `total`, `next_due`;
/// - `campaigns[]`: `name`, `status`, `brand`, `class`, `total`, `waiting`,
///   `on_device`, `sent`, `delivered`, `awaiting_report` (sent, no report yet), `failed`, `refused`, `cancelled`, `done`,
///   `percent` (share of jobs in a final state, 0 to 100);
/// - `deferrals[]`: `rule`, `count`, `next_due`;
/// - `inbound`: `total`, `recent[]` (`at`, `from`, `device`, `text`), newest first;
/// - `optouts`: `total`, `recent[]` (`number`, `brand`, `keyword`, `source`, `at`);
/// - `callbacks`: `pending`, `done`, `dead`.
pub fn build(
    store: &Store,
    up: &BTreeSet<String>,
    now: UtcInstant,
    config: &Config,
) -> Result<Value, StoreError> {
    Ok(render(&gather(store, config)?, up, now, config))
}

fn render(g: &Gathered, up: &BTreeSet<String>, now: UtcInstant, config: &Config) -> Value {
    json!({
        "server": {
            "version": env!("CARGO_PKG_VERSION"),
            "now": now.0,
            "devices_up": up.len(),
            "devices_configured": config.devices.len(),
        },
        "devices": devices(g, up, config),
        "queue": queue(g),
        "campaigns": campaigns(g),
        "deferrals": g.deferrals.iter().map(|(rule, count, next)| json!({
            "rule": rule,
            "count": count,
            "next_due": next.map(|t| t.0),
        })).collect::<Vec<_>>(),
        "inbound": {
            "total": g.inbound_total,
            "recent": g.inbound.iter().map(|m| json!({
                "at": m.at.0,
                "from": m.sender,
                "device": m.device,
                "text": m.text,
            })).collect::<Vec<_>>(),
        },
        "optouts": {
            "total": g.optout_total,
            "recent": g.optouts.iter().map(|o| json!({
                "number": o.number,
                "brand": o.brand,
                "keyword": o.keyword,
                "source": o.source,
                "at": o.at.0,
            })).collect::<Vec<_>>(),
        },
        "callbacks": {
            "pending": callback_count(&g.callbacks, "pending"),
            "done": callback_count(&g.callbacks, "done"),
            "dead": callback_count(&g.callbacks, "dead"),
        },
    })
}

fn callback_count(counts: &[(String, i64)], state: &str) -> i64 {
    counts
        .iter()
        .find(|(s, _)| s == state)
        .map_or(0, |(_, n)| (*n).max(0))
}

/// Configured devices in the configuration's order, then those only the store knows.
fn devices(g: &Gathered, up: &BTreeSet<String>, config: &Config) -> Vec<Value> {
    let null = Value::Null;
    g.on_device
        .iter()
        .map(|(name, on_device)| {
            let conf = config.device(name);
            let row = g.devices.iter().find(|d| &d.name == name);
            // The stored status is whatever the device said: read it leniently.
            let status = row.map_or(&null, |r| &r.status);
            let text = |k: &str| status.get(k).and_then(Value::as_str);
            let flag = |k: &str| status.get(k).and_then(Value::as_bool);
            let slots = status.get("slots").and_then(Value::as_u64);
            let halted = match status.get("halted") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            };
            let counters: Map<String, Value> = status
                .get("counters")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| v.is_u64())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "name": name,
                "kind": conf.map(|c| match c.kind {
                    DeviceKind::Device => "device",
                    DeviceKind::Modem => "modem",
                }),
                "sender": conf.map(|c| c.sender.as_str()),
                "connected": up.contains(name),
                "firmware": text("firmware"),
                "modem": text("modem"),
                "slots": slots,
                "on_device": on_device,
                "free_slots": slots.map(|s| s.saturating_sub(*on_device)),
                "ready": flag("ready"),
                "sim_ready": flag("sim_ready"),
                "registration": text("registration"),
                "network_time": flag("network_time"),
                "halted": halted.is_some(),
                "halted_reason": halted,
                "counters": counters,
                "updated_at": row.map(|r| r.updated_at.0),
            })
        })
        .collect()
}

fn group(s: JobState) -> &'static str {
    if s.is_waiting() {
        "waiting"
    } else if s.is_on_device() {
        "on-device"
    } else {
        "final"
    }
}

fn queue(g: &Gathered) -> Value {
    let count = |s: JobState| {
        g.jobs
            .iter()
            .find(|(st, _)| *st == s)
            .map_or(0, |(_, n)| *n)
    };
    let sum = |f: fn(JobState) -> bool| -> u64 {
        JobState::ALL.into_iter().filter(|s| f(*s)).map(count).sum()
    };
    json!({
        "states": JobState::ALL.into_iter().map(|s| json!({
            "state": s.name(),
            "group": group(s),
            "count": count(s),
        })).collect::<Vec<_>>(),
        "waiting": sum(JobState::is_waiting),
        "on_device": sum(JobState::is_on_device),
        "final": sum(JobState::is_final),
        "total": sum(|_| true),
        "next_due": g.next_due.map(|t| t.0),
    })
}

fn campaigns(g: &Gathered) -> Vec<Value> {
    use JobState as S;
    g.campaigns
        .iter()
        .map(|c| {
            let count = |states: &[JobState]| -> u64 {
                g.campaign_counts
                    .iter()
                    .filter(|(id, s, _)| *id == c.id && states.contains(s))
                    .map(|(_, _, n)| n)
                    .sum()
            };
            let total = count(&S::ALL);
            let finals: Vec<JobState> = S::ALL.into_iter().filter(|s| s.is_final()).collect();
            let done = count(&finals);
            let percent = if total == 0 {
                0.0
            } else {
                (done as f64 * 1000.0 / total as f64).round() / 10.0
            };
            json!({
                "name": c.name,
                "status": c.status.name(),
                "brand": c.brand,
                "class": c.class.name(),
                "total": total,
                "waiting": count(&[S::Queued, S::Deferred, S::Retry]),
                "on_device": count(&[S::Submitted, S::Accepted, S::Held, S::Sending]),
                "sent": count(&[S::Sent, S::Delivered, S::Undelivered]),
                "delivered": count(&[S::Delivered]),
                "awaiting_report": count(&[S::Sent]),
                "failed": count(&[S::Failed, S::Undelivered, S::Unknown, S::Expired]),
                "refused": count(&[S::Refused]),
                "cancelled": count(&[S::Cancelled]),
                "done": done,
                "percent": percent,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::params;
    use crate::store::{Change, NewCampaign, NewJob};
    use relais_core::compliance::decision::{Class, ConsentStatus};

    fn job(number: &str) -> NewJob {
        NewJob {
            number: number.into(),
            text: "hello".into(),
            class: Class::Transactional,
            brand: "Acme".into(),
            categories: String::new(),
            department: None,
            consent: ConsentStatus::None,
            not_before: None,
            expires: None,
        }
    }

    const CONFIG: &str = r#"
[[brand]]
name = "Acme"
[[device]]
name = "m1"
kind = "modem"
port = "/dev/null"
sender = "longnum:+33700000001"
[[device]]
name = "spare"
kind = "device"
port = "/dev/null"
sender = "longnum:+33700000002"
"#;

    #[test]
    fn the_snapshot_counts_everything_and_survives_bad_status() {
        let config = Config::parse(CONFIG).unwrap();
        let mut store = Store::open_in_memory().unwrap();
        let t = UtcInstant(1_770_000_000);
        // Two loose jobs: one queued, one deferred by a rule.
        store.insert_job(&job("+33612345001"), t).unwrap();
        let d = store.insert_job(&job("+33612345002"), t).unwrap();
        let change = Change {
            due_at: Some(UtcInstant(t.0 + 3600)),
            rule: Some("fr.quiet-hours"),
            ..Change::default()
        };
        store
            .transition(d, JobState::Deferred, t, &change, "quiet hours")
            .unwrap();
        // A campaign of four: one delivered, one refused, two queued.
        let jobs: Vec<NewJob> = (0..4).map(|i| job(&format!("+3361234510{i}"))).collect();
        let cid = store
            .create_campaign(
                &NewCampaign {
                    name: "spring".into(),
                    template: "hello".into(),
                    class: Class::Transactional,
                    brand: "Acme".into(),
                    categories: String::new(),
                },
                &jobs,
                t,
            )
            .unwrap();
        let ids: Vec<i64> = store
            .db()
            .prepare("SELECT id FROM jobs WHERE campaign_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([cid], |r| r.get(0))
            .unwrap();
        store
            .transition(ids[0], JobState::Delivered, t, &Change::default(), "")
            .unwrap();
        store
            .transition(ids[1], JobState::Refused, t, &Change::default(), "")
            .unwrap();
        // A device with a good status and one that reported garbage.
        store
            .set_device_status(
                "m1",
                Some(7),
                &json!({"firmware": "1.2.3", "slots": 4, "modem": "sim800",
                        "sim_ready": true, "registration": "Home", "network_time": true,
                        "halted": "store-failed", "counters": {"accepted": 3, "x": "y"}}),
                t,
            )
            .unwrap();
        store.log_device("m1", true, "up", t).unwrap();
        store
            .db()
            .execute(
                "INSERT INTO devices (name, status, updated_at) VALUES ('old', 'not json', 5)",
                params![],
            )
            .unwrap();
        store
            .db()
            .execute(
                "INSERT INTO inbound (device, sender, text, at) VALUES
                 ('m1', '+33612345678', '<b>STOP</b>', 100), ('m1', '+33699999999', 'hi', 200)",
                params![],
            )
            .unwrap();
        store
            .add_optout(&OptOut {
                number: "+33612345678".into(),
                brand: "Acme".into(),
                keyword: Some("STOP".into()),
                tier: Some(1),
                source: "sms:m1".into(),
                at: UtcInstant(100),
            })
            .unwrap();

        let up: BTreeSet<String> = ["m1".to_string()].into();
        let v = build(&store, &up, UtcInstant(t.0 + 10), &config).unwrap();

        assert_eq!(v["server"]["now"], t.0 + 10);
        assert_eq!(v["server"]["devices_up"], 1);
        assert_eq!(v["server"]["devices_configured"], 2);

        let devices = v["devices"].as_array().unwrap();
        let names: Vec<&str> = devices
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["m1", "spare", "old"]);
        let m1 = &devices[0];
        assert_eq!(m1["connected"], true);
        assert_eq!(m1["kind"], "modem");
        assert_eq!(m1["firmware"], "1.2.3");
        assert_eq!(m1["slots"], 4);
        assert_eq!(m1["free_slots"], 4);
        assert_eq!(m1["sim_ready"], true);
        assert_eq!(m1["halted"], true);
        assert_eq!(m1["halted_reason"], "store-failed");
        assert_eq!(m1["counters"], json!({"accepted": 3}));
        assert_eq!(m1["updated_at"], t.0);
        assert_eq!(devices[1]["connected"], false);
        assert_eq!(devices[1]["updated_at"], Value::Null);
        let old = &devices[2];
        assert_eq!(old["kind"], Value::Null);
        assert_eq!(old["firmware"], Value::Null);
        assert_eq!(old["halted"], false);

        let states = v["queue"]["states"].as_array().unwrap();
        assert_eq!(states.len(), JobState::ALL.len());
        let count = |s: &str| {
            states
                .iter()
                .find(|x| x["state"] == s)
                .map(|x| x["count"].as_u64().unwrap())
                .unwrap()
        };
        assert_eq!(count("queued"), 3);
        assert_eq!(count("deferred"), 1);
        assert_eq!(count("delivered"), 1);
        assert_eq!(count("refused"), 1);
        assert_eq!(count("sending"), 0);
        assert_eq!(v["queue"]["total"], 6);
        assert_eq!(v["queue"]["waiting"], 4);
        assert_eq!(v["queue"]["final"], 2);

        let c = &v["campaigns"][0];
        assert_eq!(c["name"], "spring");
        assert_eq!(c["total"], 4);
        assert_eq!(c["delivered"], 1);
        assert_eq!(c["sent"], 1);
        assert_eq!(c["refused"], 1);
        assert_eq!(c["waiting"], 2);
        assert_eq!(c["done"], 2);
        assert_eq!(c["percent"], 50.0);

        assert_eq!(
            v["deferrals"],
            json!([{"rule": "fr.quiet-hours", "count": 1, "next_due": t.0 + 3600}])
        );
        assert_eq!(v["inbound"]["total"], 2);
        assert_eq!(v["inbound"]["recent"][0]["text"], "hi");
        assert_eq!(v["inbound"]["recent"][1]["text"], "<b>STOP</b>");
        assert_eq!(v["inbound"]["recent"][1]["from"], "+33612345678");
        assert_eq!(v["optouts"]["total"], 1);
        assert_eq!(v["optouts"]["recent"][0]["keyword"], "STOP");
        assert_eq!(v["optouts"]["recent"][0]["source"], "sms:m1");
        assert_eq!(v["callbacks"], json!({"pending": 0, "done": 0, "dead": 0}));
    }

    #[test]
    fn an_empty_store_gives_zeros() {
        let config = Config::parse("").unwrap();
        let store = Store::open_in_memory().unwrap();
        let v = build(&store, &BTreeSet::new(), UtcInstant(0), &config).unwrap();
        assert_eq!(v["devices"], json!([]));
        assert_eq!(v["queue"]["total"], 0);
        assert!(
            v["queue"]["states"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["count"] == 0)
        );
        assert_eq!(v["campaigns"], json!([]));
    }

    #[test]
    fn the_page_is_self_contained_and_its_policy_matches_it() {
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        // One inline script and one inline style, nothing loaded from elsewhere.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        for attr in [" src=", "<link rel=\"stylesheet\"", "@import", "url("] {
            assert!(!PAGE.contains(attr), "the page loads something: {attr}");
        }
        // Data is written as text, never as markup.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!PAGE.contains(sink), "the page uses {sink}");
        }
        let csp = content_security_policy();
        let script = inline(PAGE, "script").unwrap();
        let digest = base64(&Sha256::digest(script.as_bytes()));
        assert!(
            csp.contains(&format!("script-src 'sha256-{digest}'")),
            "{csp}"
        );
        assert!(csp.contains("style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("connect-src 'self'"));
    }
}
