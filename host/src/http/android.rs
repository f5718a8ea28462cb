//! The local API of SMS Gateway for Android (capcom6/android-sms-gateway), so the
//! client libraries written for it work unchanged against relais: HTTP Basic with a
//! `[[http.user]]`, `POST /message` (and `/messages`) with `phoneNumbers` and
//! `textMessage.text` (or the older `message`), `GET /message/{id}`, and
//! `GET/POST /webhooks`, `DELETE /webhooks/{id}` (also under `/webhook`).
//!
//! Its message states are Pending, Processed, Sent, Delivered and Failed; relais maps
//! its own onto them ([`state_name`]). Webhooks registered here with its event names
//! (`sms:received`, `sms:sent`, `sms:delivered`, `sms:failed`) get its body shape and
//! its `X-Signature`/`X-Timestamp` headers, signed with `[http] webhook_secret`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use relais_core::compliance::tz::UtcInstant;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Client, MessageOptions, authenticate, count, jobs_of, rand_id};
use super::server::{App, Metrics};
use super::writer::{Fate, Outcome, Submission, Written};
use crate::store::Origin;

/// Its routes.
pub fn routes() -> Router<Arc<App>> {
    let mut r = Router::new();
    for base in ["/message", "/messages"] {
        r = r
            .route(base, post(send))
            .route(&format!("{base}/{{id}}"), get(read));
    }
    for base in ["/webhook", "/webhooks"] {
        r = r
            .route(base, get(webhooks).post(add_webhook))
            .route(&format!("{base}/{{id}}"), delete(remove_webhook));
    }
    r
}

/// Its error shape: `{"message": ...}`.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    (status, axum::Json(json!({"message": message.into()}))).into_response()
}

fn caller(app: &App, headers: &HeaderMap, peer: SocketAddr) -> Result<Client, Response<Body>> {
    authenticate(app, headers, peer, true).map_err(|r| {
        let status = r.status();
        let mut out = refuse(
            status,
            if status == StatusCode::TOO_MANY_REQUESTS {
                "too many requests"
            } else {
                "unauthorized"
            },
        );
        if status == StatusCode::UNAUTHORIZED {
            out.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"relais\""),
            );
        }
        out
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextMessage {
    text: String,
}

/// Its request; fields relais does not use (simNumber, priority, deviceId) are
/// accepted and recorded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    text_message: Option<TextMessage>,
    #[serde(default)]
    data_message: Option<Value>,
    #[serde(default)]
    phone_numbers: Vec<String>,
    #[serde(default)]
    sim_number: Option<i64>,
    #[serde(default)]
    with_delivery_report: Option<bool>,
    #[serde(default)]
    is_encrypted: Option<bool>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    ttl: Option<i64>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    schedule_at: Option<String>,
}

/// Its state name for a relais job state.
pub fn state_name(state: &str) -> &'static str {
    match state {
        "queued" | "deferred" | "retry" | "submitted" | "accepted" | "held" => "Pending",
        "sending" => "Processed",
        "sent" => "Sent",
        "delivered" => "Delivered",
        _ => "Failed",
    }
}

/// The state of a message from its recipients' states.
fn message_state(states: &[&str]) -> &'static str {
    for s in ["Pending", "Processed"] {
        if states.contains(&s) {
            return s;
        }
    }
    if states.iter().all(|s| *s == "Failed") {
        "Failed"
    } else if states.contains(&"Sent") {
        "Sent"
    } else if states.contains(&"Delivered") {
        "Delivered"
    } else {
        "Failed"
    }
}

/// A 2026-01-01T10:00:00.000Z time, as its clients parse.
fn iso(t: UtcInstant) -> String {
    let s = t.to_string();
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}.000Z"),
        None => s,
    }
}

async fn send(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let client = match caller(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let req: PostMessage = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
    };
    let kinds = [
        req.message.is_some(),
        req.text_message.is_some(),
        req.data_message.is_some(),
    ];
    match kinds.iter().filter(|k| **k).count() {
        0 => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Must specify exactly one of: textMessage, dataMessage, or message",
            );
        }
        1 => {}
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Cannot specify multiple message types simultaneously",
            );
        }
    }
    if req.data_message.is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "data messages are not sent by relais; send a textMessage",
        );
    }
    if req.is_encrypted == Some(true) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "encrypted messages are not supported: relais must read the text to apply the compliance rules",
        );
    }
    let text = req
        .message
        .or(req.text_message.map(|t| t.text))
        .unwrap_or_default();
    if text.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Text message is empty");
    }
    if req.phone_numbers.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "phoneNumbers is empty");
    }
    if req.sim_number.is_some_and(|n| n < 1) {
        return refuse(StatusCode::BAD_REQUEST, "simNumber must be >= 1");
    }
    if req.ttl.is_some() && req.valid_until.is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "fields conflict: ttl and validUntil",
        );
    }
    let now = app.ctx.clock.now();
    let expires = match (req.ttl, req.valid_until.as_deref()) {
        (Some(ttl), _) if ttl > 0 => Some(now.plus(ttl).to_string()),
        (Some(_), _) => return refuse(StatusCode::BAD_REQUEST, "message already expired"),
        (None, Some(v)) => Some(v.to_string()),
        (None, None) => None,
    };
    let id = match req.id {
        Some(i) if !i.is_empty() && i.len() <= 64 => i,
        Some(_) => return refuse(StatusCode::BAD_REQUEST, "id must have 1 to 64 characters"),
        None => format!("{:016x}", rand_id()),
    };
    let numbers = req.phone_numbers.clone();
    let jobs = match jobs_of(
        &app,
        &client,
        vec![(
            req.phone_numbers,
            text,
            MessageOptions {
                not_before: req.schedule_at,
                expires,
                ..Default::default()
            },
        )],
    ) {
        Ok(j) => j,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    let meta = json!({
        "simNumber": req.sim_number,
        "withDeliveryReport": req.with_delivery_report,
        "priority": req.priority,
        "deviceId": req.device_id,
    });
    let identity = match app.identity_for(&client.brand, client.device.as_deref()) {
        Ok(i) => i,
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    {
        // Its ids are the client's: one already used is refused rather than mixed.
        let store = app.ctx.store();
        match store.message_jobs(&client.origin, &id) {
            Ok(v) if !v.is_empty() => {
                return refuse(StatusCode::CONFLICT, format!("message {id:?} exists"));
            }
            Ok(_) => {}
            Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
    let sub = Submission {
        origin: Origin {
            client: client.origin.clone(),
            meta: Some(meta.to_string()),
            message_id: Some(id.clone()),
            via: client.device.clone(),
            ..Default::default()
        },
        jobs,
        identity,
        idempotency: None,
    };
    match app.writer.submit(sub).await {
        Ok(Written::Stored { outcomes, .. }) => {
            count(&app, &outcomes);
            let recipients: Vec<Value> = numbers
                .iter()
                .zip(&outcomes)
                .map(|(n, o)| recipient(n, o))
                .collect();
            let states: Vec<&str> = recipients
                .iter()
                .map(|r| r["state"].as_str().unwrap_or("Failed"))
                .collect();
            let state = message_state(&states);
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({
                    "id": id,
                    "state": state,
                    "recipients": recipients,
                    "isEncrypted": false,
                    "states": {state: iso(now)},
                })),
            )
                .into_response()
        }
        Ok(_) => refuse(StatusCode::CONFLICT, format!("message {id:?} exists")),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.0),
    }
}

fn recipient(number: &str, o: &Outcome) -> Value {
    match &o.fate {
        Fate::Queued | Fate::Deferred { .. } => {
            json!({"phoneNumber": number, "state": "Pending", "error": null})
        }
        Fate::Refused { rule, reason } => json!({
            "phoneNumber": number, "state": "Failed", "error": format!("{reason} ({rule})"),
        }),
    }
}

async fn read(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    let client = match caller(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let jobs = match app.ctx.store().message_jobs(&client.origin, &id) {
        Ok(j) => j,
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    if jobs.is_empty() {
        return refuse(StatusCode::NOT_FOUND, "message not found");
    }
    let recipients: Vec<Value> = jobs
        .iter()
        .map(|(_, number, state, reason, _)| {
            let s = state_name(state);
            json!({
                "phoneNumber": number,
                "state": s,
                "error": (s == "Failed").then(|| reason.clone().unwrap_or_else(|| state.clone())),
            })
        })
        .collect();
    let states: Vec<&str> = jobs.iter().map(|(_, _, s, _, _)| state_name(s)).collect();
    let state = message_state(&states);
    let last = jobs.iter().map(|j| j.4).max().unwrap_or(UtcInstant(0));
    (
        StatusCode::OK,
        axum::Json(json!({
            "id": id,
            "state": state,
            "recipients": recipients,
            "isEncrypted": false,
            "states": {state: iso(last)},
        })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebHookIn {
    #[serde(default)]
    id: Option<String>,
    url: String,
    event: String,
    #[serde(default)]
    #[allow(dead_code)]
    device_id: Option<String>,
}

/// Its webhook events.
const EVENTS: &[&str] = &["sms:received", "sms:sent", "sms:delivered", "sms:failed"];

async fn webhooks(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let client = match caller(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.ctx.store().webhooks(Some(&client.origin)) {
        Ok(rows) => (
            StatusCode::OK,
            axum::Json(
                rows.iter()
                    .map(|w| json!({"id": w.id, "url": w.url, "event": w.event, "deviceId": null}))
                    .collect::<Vec<_>>(),
            ),
        )
            .into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn add_webhook(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let client = match caller(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let w: WebHookIn = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
    };
    if !EVENTS.contains(&w.event.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("unknown event {:?}; one of {}", w.event, EVENTS.join(", ")),
        );
    }
    // Registration goes through the JSON API's checks (URL, secret); its store
    // errors come back in this API's shape.
    match super::api::register_webhook(&app, &client.origin, w.id, w.url, w.event) {
        Ok(row) => (
            StatusCode::CREATED,
            axum::Json(json!({"id": row.id, "url": row.url, "event": row.event, "deviceId": null})),
        )
            .into_response(),
        Err(r) => {
            let status = r.status();
            let bytes = axum::body::to_bytes(r.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| "invalid webhook".into());
            refuse(status, message)
        }
    }
}

async fn remove_webhook(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    let client = match caller(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.ctx.store().remove_webhook(&client.origin, &id) {
        // Its server answers 204 whether or not the id existed.
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relais_states_map_onto_its_states() {
        assert_eq!(state_name("deferred"), "Pending");
        assert_eq!(state_name("held"), "Pending");
        assert_eq!(state_name("sending"), "Processed");
        assert_eq!(state_name("sent"), "Sent");
        assert_eq!(state_name("delivered"), "Delivered");
        assert_eq!(state_name("refused"), "Failed");
        assert_eq!(message_state(&["Delivered", "Pending"]), "Pending");
        assert_eq!(message_state(&["Delivered", "Sent"]), "Sent");
        assert_eq!(message_state(&["Delivered", "Failed"]), "Delivered");
        assert_eq!(message_state(&["Failed", "Failed"]), "Failed");
        assert_eq!(iso(UtcInstant(0)), "1970-01-01T00:00:00.000Z");
    }
}
