//! The JSON API under `/api/v1` (docs/http.md): send one message or many, read one
//! with its history, list with filters and a cursor, cancel, read inbound messages,
//! webhooks, health and Prometheus metrics. Every route but health takes a Bearer
//! token of `[[http.token]]`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use relais_core::compliance::class::Class;
use relais_core::compliance::decision::ConsentStatus;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{basic, bearer};
use super::server::{App, Metrics};
use super::writer::{Fate, Idempotency, Outcome, Submission, Written};
use crate::store::{JobState, MessageFilter, NewJob, Origin, WebhookRow};

/// Most recipients in one request.
pub const MAX_RECIPIENTS: usize = 1000;

/// Its routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/messages", post(send).get(list))
        .route("/messages/{id}", get(read).delete(cancel))
        .route("/inbound", get(inbound))
        .route("/webhooks", get(webhooks).post(add_webhook))
        .route("/webhooks/{id}", delete(remove_webhook))
}

/// A JSON error: `{"error": {"code": ..., "message": ...}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    let mut r = (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"relais\""),
        );
    }
    r
}

fn json_answer(status: StatusCode, v: &Value) -> Response<Body> {
    (status, axum::Json(v)).into_response()
}

/// Who is calling, with the defaults of its credentials.
#[derive(Debug, Clone)]
pub struct Client {
    /// `api:<token>` or `sendsms:<user>`: the jobs' origin.
    pub origin: String,
    /// Default brand.
    pub brand: String,
    /// Default class.
    pub class: Class,
    /// Default categories.
    pub categories: String,
    /// The device its messages are judged for.
    pub device: Option<String>,
}

/// The caller of a JSON route: a Bearer token (or, where `basic` is true, a sendsms
/// user with HTTP Basic), allowed from `peer`, within its rate.
pub fn authenticate(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
    basic_too: bool,
) -> Result<Client, Response<Body>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let refuse = || {
        Metrics::bump(&app.metrics.auth_failures);
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid Bearer token is needed",
        )
    };
    let (client, name, rate) = if let Some(t) = bearer(auth) {
        let t = app
            .creds
            .token(t.as_bytes(), peer.ip())
            .ok_or_else(refuse)?;
        let c = &t.config;
        let class = crate::campaign::parse_class(&c.class).unwrap_or(Class::Transactional);
        (
            Client {
                origin: format!("api:{}", c.name),
                brand: app.default_brand(c.brand.as_deref()),
                class,
                categories: String::new(),
                device: None,
            },
            c.name.clone(),
            c.rate,
        )
    } else if let Some((user, pass)) = basic(auth).filter(|_| basic_too) {
        let u = app.creds.user(&user, &pass, peer.ip()).ok_or_else(refuse)?;
        let c = &u.config;
        let class = crate::campaign::parse_class(&c.class).unwrap_or(Class::Transactional);
        (
            Client {
                origin: format!("sendsms:{}", c.name),
                brand: app.default_brand(c.brand.as_deref()),
                class,
                categories: c.categories.clone(),
                device: c.device.clone(),
            },
            c.name.clone(),
            c.rate,
        )
    } else {
        return Err(refuse());
    };
    if !app.limiter.allow(&client.origin, rate) {
        Metrics::bump(&app.metrics.rate_limited);
        tracing::debug!(client = %name, "rate limited");
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests; slow down",
        ));
    }
    Ok(client)
}

// ----- health and metrics -----------------------------------------------------------

async fn health(State(app): State<Arc<App>>) -> Response<Body> {
    let up = app.ctx.devices_up().len();
    let store_ok = app.ctx.store().next_due().is_ok();
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_answer(
        status,
        &json!({
            "status": if store_ok { "ok" } else { "store-unavailable" },
            "devices": {"configured": app.config.devices.len(), "up": up},
            "version": env!("CARGO_PKG_VERSION"),
        }),
    )
}

async fn metrics(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    if let Err(r) = authenticate(&app, &headers, peer, true) {
        return r;
    }
    let text = match prometheus(&app) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, "store", e),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The Prometheus text exposition of the store's counts and the server's counters.
pub fn prometheus(app: &App) -> Result<String, String> {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let store = app.ctx.store();
    let jobs = store.job_counts(None).map_err(|e| e.to_string())?;
    let callbacks = store.callback_counts().map_err(|e| e.to_string())?;
    drop(store);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP relais_messages Messages in the store by state."
    );
    let _ = writeln!(out, "# TYPE relais_messages gauge");
    for s in JobState::ALL {
        let n = jobs.iter().find(|(st, _)| *st == s).map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "relais_messages{{state=\"{}\"}} {n}", s.name());
    }
    let _ = writeln!(
        out,
        "# HELP relais_callbacks Callbacks and webhooks by state."
    );
    let _ = writeln!(out, "# TYPE relais_callbacks gauge");
    for state in ["pending", "done", "dead"] {
        let n = callbacks
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "relais_callbacks{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP relais_devices Devices configured and connected."
    );
    let _ = writeln!(out, "# TYPE relais_devices gauge");
    let _ = writeln!(
        out,
        "relais_devices{{state=\"configured\"}} {}",
        app.config.devices.len()
    );
    let _ = writeln!(
        out,
        "relais_devices{{state=\"up\"}} {}",
        app.ctx.devices_up().len()
    );
    let m = &app.metrics;
    for (name, help, c) in [
        (
            "relais_http_requests_total",
            "Requests answered.",
            &m.requests,
        ),
        (
            "relais_http_auth_failures_total",
            "Requests refused for their credentials.",
            &m.auth_failures,
        ),
        (
            "relais_http_rate_limited_total",
            "Requests refused by a rate limit.",
            &m.rate_limited,
        ),
        (
            "relais_http_accepted_total",
            "Messages stored from HTTP requests.",
            &m.accepted,
        ),
        (
            "relais_http_deferred_total",
            "Messages a rule deferred when they were asked for.",
            &m.deferred,
        ),
        (
            "relais_http_refused_total",
            "Messages the compliance core refused when they were asked for.",
            &m.refused,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", c.load(Relaxed));
    }
    Ok(out)
}

// ----- send ---------------------------------------------------------------------------

/// One message of a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageIn {
    to: Recipients,
    text: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    categories: Option<String>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Recipients {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SendBody {
    Many { messages: Vec<MessageIn> },
    One(MessageIn),
}

/// A client error before anything is stored.
fn bad(message: impl Into<String>) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

/// Turns the request's messages into jobs; every error is the client's (400).
pub(super) fn jobs_of(
    app: &App,
    client: &Client,
    items: Vec<(Vec<String>, String, MessageOptions)>,
) -> Result<Vec<NewJob>, String> {
    let mut jobs = Vec::new();
    for (i, (to, text, o)) in items.into_iter().enumerate() {
        let at = |e: String| format!("message {i}: {e}");
        crate::campaign::check_text(&text).map_err(at)?;
        let class = match o.class.as_deref() {
            Some(c) => crate::campaign::parse_class(c).map_err(at)?,
            None => client.class,
        };
        let brand = o.brand.unwrap_or_else(|| client.brand.clone());
        if !app.config.brands.is_empty() && !app.config.has_brand(&brand) {
            return Err(at(format!(
                "unknown brand {brand:?}; configured: {}",
                app.config.brand_names().join(", ")
            )));
        }
        let categories = o.categories.unwrap_or_else(|| client.categories.clone());
        crate::scheduler::parse_categories(&categories).map_err(at)?;
        let time = |t: Option<String>, what: &str| -> Result<Option<UtcInstant>, String> {
            t.map(|t| {
                UtcInstant::parse_rfc3339(&t)
                    .ok_or_else(|| format!("{what} {t:?} is not an RFC 3339 time"))
            })
            .transpose()
        };
        let not_before = time(o.not_before, "not_before").map_err(at)?;
        let expires = time(o.expires, "expires").map_err(at)?;
        if to.is_empty() {
            return Err(at("no recipient".into()));
        }
        for n in to {
            let number = Msisdn::parse(&n).map_err(|e| at(format!("to {n:?}: {e}")))?;
            jobs.push(NewJob {
                number: number.to_string(),
                text: text.clone(),
                class,
                brand: brand.clone(),
                categories: categories.clone(),
                department: None,
                consent: ConsentStatus::None,
                not_before,
                expires,
            });
        }
    }
    if jobs.len() > MAX_RECIPIENTS {
        return Err(format!(
            "{} recipients in one request; at most {MAX_RECIPIENTS}",
            jobs.len()
        ));
    }
    Ok(jobs)
}

/// Per-message options of the JSON shapes.
#[derive(Debug, Default)]
pub(super) struct MessageOptions {
    pub class: Option<String>,
    pub brand: Option<String>,
    pub categories: Option<String>,
    pub not_before: Option<String>,
    pub expires: Option<String>,
}

/// The per-recipient answer of the JSON API.
pub fn outcome_json(o: &Outcome) -> Value {
    match &o.fate {
        Fate::Queued => json!({"id": o.id, "to": o.number, "status": "queued"}),
        Fate::Deferred { until, rule } => json!({
            "id": o.id, "to": o.number, "status": "deferred",
            "until": until.to_string(), "rule": rule,
        }),
        Fate::Refused { rule, reason } => json!({
            "id": o.id, "to": o.number, "status": "refused",
            "rule": rule, "reason": reason,
        }),
    }
}

/// Counts the outcomes in the metrics.
pub fn count(app: &App, outcomes: &[Outcome]) {
    for o in outcomes {
        Metrics::bump(&app.metrics.accepted);
        match o.fate {
            Fate::Queued => {}
            Fate::Deferred { .. } => Metrics::bump(&app.metrics.deferred),
            Fate::Refused { .. } => Metrics::bump(&app.metrics.refused),
        }
    }
}

/// Reads an `Idempotency-Key` header: at most 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let k = v
        .to_str()
        .map_err(|_| "Idempotency-Key must be visible ASCII".to_string())?;
    if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Idempotency-Key must be 1 to 255 visible ASCII characters".into());
    }
    Ok(Some(k.to_string()))
}

async fn send(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let client = match authenticate(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let parsed: SendBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad(format!("the body is not a message request: {e}")),
    };
    let list = match parsed {
        SendBody::Many { messages } => messages,
        SendBody::One(m) => vec![m],
    };
    if list.is_empty() {
        return bad("no message");
    }
    let items = list
        .into_iter()
        .map(|m| {
            let to = match m.to {
                Recipients::One(n) => vec![n],
                Recipients::Many(v) => v,
            };
            (
                to,
                m.text,
                MessageOptions {
                    class: m.class,
                    brand: m.brand,
                    categories: m.categories,
                    not_before: m.not_before,
                    expires: m.expires,
                },
            )
        })
        .collect();
    let jobs = match jobs_of(&app, &client, items) {
        Ok(j) => j,
        Err(e) => return bad(e),
    };
    let brand = jobs
        .first()
        .map_or(client.brand.clone(), |j| j.brand.clone());
    let identity = match app.identity_for(&brand, client.device.as_deref()) {
        Ok(i) => i,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "configuration", e),
    };
    let idempotency = key.map(|k| {
        let build: super::writer::AnswerFn = Box::new(|outcomes: &[Outcome]| {
            let v = json!({"messages": outcomes.iter().map(outcome_json).collect::<Vec<_>>()});
            (202, v.to_string())
        });
        (Idempotency::new(&client.origin, &k, &body), build)
    });
    let sub = Submission {
        origin: Origin {
            client: client.origin.clone(),
            ..Default::default()
        },
        jobs,
        identity,
        idempotency,
    };
    match app.writer.submit(sub).await {
        Ok(Written::Stored { outcomes, answer }) => {
            count(&app, &outcomes);
            match answer {
                Some((status, body)) => raw_json(status, body),
                None => json_answer(
                    StatusCode::ACCEPTED,
                    &json!({"messages": outcomes.iter().map(outcome_json).collect::<Vec<_>>()}),
                ),
            }
        }
        Ok(Written::Replay(status, body)) => {
            let mut r = raw_json(status, body);
            r.headers_mut().insert(
                "idempotent-replayed",
                header::HeaderValue::from_static("true"),
            );
            r
        }
        Ok(Written::Conflict) => error(
            StatusCode::CONFLICT,
            "idempotency-key-reused",
            "this Idempotency-Key was used with another body",
        ),
        Err(e) => {
            tracing::error!("store: {}", e.0);
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store",
                "the store cannot take messages now; try again later",
            )
        }
    }
}

fn raw_json(status: u16, body: String) -> Response<Body> {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

// ----- read, list, cancel -------------------------------------------------------------

fn parse_id(id: &str) -> Result<i64, Response<Body>> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| bad(format!("{id:?} is not a message id")))
}

/// The prologue of the routes on one message: its caller (a Bearer token, see
/// [`authenticate`]), then the message id of its path.
fn client_and_id(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
    id: &str,
) -> Result<(Client, i64), Response<Body>> {
    let client = authenticate(app, headers, peer, false)?;
    Ok((client, parse_id(id)?))
}

async fn read(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let (client, id) = match client_and_id(&app, &headers, peer, &id) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let store = app.ctx.store();
    let view = store.message_view(id, Some(&client.origin));
    let history = store.message_history(id);
    drop(store);
    match (view, history) {
        (Ok(Some(v)), Ok(h)) => {
            let mut j = serde_json::to_value(&v).unwrap_or_default();
            j["history"] = serde_json::to_value(&h).unwrap_or_default();
            json_answer(StatusCode::OK, &j)
        }
        (Ok(None), _) => error(StatusCode::NOT_FOUND, "not-found", "no such message"),
        (Err(e), _) | (_, Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    cursor: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn list(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let client = match authenticate(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(Query(q)) = query else {
        return bad("query: state, to, since (RFC 3339), cursor, limit (1 to 500)");
    };
    if let Some(s) = q.state.as_deref()
        && JobState::parse(s).is_none()
    {
        return bad(format!("unknown state {s:?}"));
    }
    let since = match q.since.as_deref().map(UtcInstant::parse_rfc3339) {
        Some(None) => return bad("since must be an RFC 3339 time"),
        Some(t) => t,
        None => None,
    };
    let to = match q.to.as_deref().map(Msisdn::parse) {
        Some(Err(e)) => return bad(format!("to: {e}")),
        Some(Ok(n)) => Some(n.to_string()),
        None => None,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return bad("limit must be 1 to 500");
    }
    let filter = MessageFilter {
        origin: Some(&client.origin),
        state: q.state.as_deref(),
        to: to.as_deref(),
        since,
        before: q.cursor,
        limit,
    };
    let rows = app.ctx.store().message_views(&filter);
    match rows {
        Ok(rows) => {
            let next = (rows.len() == limit as usize)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            json_answer(StatusCode::OK, &json!({"messages": rows, "next": next}))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}

async fn cancel(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let (client, id) = match client_and_id(&app, &headers, peer, &id) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = app.ctx.clock.now();
    let mut store = app.ctx.store();
    let view = match store.message_view(id, Some(&client.origin)) {
        Ok(Some(v)) => v,
        Ok(None) => return error(StatusCode::NOT_FOUND, "not-found", "no such message"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    };
    match store.cancel_waiting(None, Some(id), now) {
        Ok(1) => json_answer(StatusCode::OK, &json!({"id": id, "state": "cancelled"})),
        Ok(_) => error(
            StatusCode::CONFLICT,
            "not-cancellable",
            format!(
                "the message is {}: only queued, deferred and retry messages can be cancelled",
                view.state
            ),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn inbound(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<InboundQuery>, axum::extract::rejection::QueryRejection>,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    if let Err(r) = authenticate(&app, &headers, peer, false) {
        return r;
    }
    let Ok(Query(q)) = query else {
        return bad("query: after (an id), limit (1 to 500)");
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return bad("limit must be 1 to 500");
    }
    match app.ctx.store().inbound_after(q.after.unwrap_or(0), limit) {
        Ok(rows) => {
            let next = rows.last().map(|r| r.id);
            json_answer(StatusCode::OK, &json!({"inbound": rows, "next": next}))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}

// ----- webhooks -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookIn {
    #[serde(default)]
    id: Option<String>,
    url: String,
    #[serde(default)]
    event: Option<String>,
}

async fn webhooks(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let client = match authenticate(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.ctx.store().webhooks(Some(&client.origin)) {
        Ok(rows) => json_answer(StatusCode::OK, &json!({ "webhooks": rows })),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}

/// Checks and stores a webhook registration for `client`.
pub(super) fn register_webhook(
    app: &App,
    client: &str,
    id: Option<String>,
    url: String,
    event: String,
) -> Result<WebhookRow, Response<Body>> {
    if app.config.http.webhook_secret.is_none() {
        return Err(error(
            StatusCode::CONFLICT,
            "no-webhook-secret",
            "set [http] webhook_secret in the configuration to register webhooks (they are signed with it)",
        ));
    }
    super::config::check_url(&url, &app.config.http.callback_hosts).map_err(bad)?;
    if event != "*"
        && !super::config::WEBHOOK_EVENTS.contains(&event.as_str())
        && !super::outbox::ANDROID_EVENTS.contains(&event.as_str())
    {
        return Err(bad(format!(
            "unknown event {event:?}; one of {} or *",
            super::config::WEBHOOK_EVENTS.join(", ")
        )));
    }
    let id = match id {
        Some(i) if !i.is_empty() && i.len() <= 64 && i.bytes().all(|b| b.is_ascii_graphic()) => i,
        Some(_) => return Err(bad("id must be 1 to 64 visible ASCII characters")),
        None => format!("wh-{:016x}", rand_id()),
    };
    let row = WebhookRow {
        id,
        client: client.to_string(),
        url,
        event,
    };
    let unavailable = |e: crate::store::StoreError| {
        error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string())
    };
    // Ids are global in the store, where the same id again replaces the row: an id
    // another client registered stays theirs (one store lock for the check and the
    // write, so no other registration comes in between).
    let mut store = app.ctx.store();
    if store
        .webhooks(None)
        .map_err(unavailable)?
        .iter()
        .any(|w| w.id == row.id && w.client != row.client)
    {
        return Err(error(
            StatusCode::CONFLICT,
            "webhook-id-taken",
            format!(
                "another client registered a webhook with id {:?}; choose another id",
                row.id
            ),
        ));
    }
    store
        .add_webhook(&row, app.ctx.clock.now())
        .map_err(unavailable)?;
    Ok(row)
}

/// A random 64-bit id.
pub fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

async fn add_webhook(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let client = match authenticate(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let w: WebhookIn = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => return bad(format!("the body is not a webhook: {e}")),
    };
    match register_webhook(
        &app,
        &client.origin,
        w.id,
        w.url,
        w.event.unwrap_or_else(|| "*".into()),
    ) {
        Ok(row) => json_answer(
            StatusCode::CREATED,
            &serde_json::to_value(&row).unwrap_or_default(),
        ),
        Err(r) => r,
    }
}

async fn remove_webhook(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    let client = match authenticate(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.ctx.store().remove_webhook(&client.origin, &id) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "not-found", "no such webhook"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()),
    }
}
