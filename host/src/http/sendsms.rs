//! `/cgi-bin/sendsms`: Kannel's sendsms interface (docs/http.md, "Kannel").
//!
//! The request is read and checked by [`super::kannel`] in Kannel's order, the user by
//! its name, password and address, then each receiver becomes a job, judged at once by
//! the compliance core and stored (group commit) before the answer:
//!
//! - 202 `0: Accepted for delivery`: stored, and a device is up to send it now;
//! - 202 `3: Queued for later delivery`: stored, but a rule defers it, or no device
//!   is up;
//! - 403 `Not routable. Do not try again.` (Kannel's permanent failure): the compliance
//!   core refused every receiver (the jobs are stored `refused` with their rule), or
//!   relais cannot send such a message at all (8-bit data, a UDH, a text over the
//!   link's limit: nothing stored);
//! - 503 `Temporal failure, try again later.`: the store could not take it, or the
//!   user's rate limit is reached.
//!
//! `validity` and `deferred` are honoured (expiry and not-before); `from` is recorded
//! (the device's identity sends); `smsc`, `mclass`, `mwi`, `pid`, `account`,
//! `priority`, `alt-dcs`, `rpi`, `binfo`, `compress`, `meta-data` and `coding` are
//! recorded with the job.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use relais_core::compliance::decision::ConsentStatus;
use relais_core::compliance::number::{Msisdn, NumberError};

use super::kannel::{self, Answer, Coding, Limits, RawRequest};
use super::server::{App, Metrics};
use super::writer::{Fate, Submission, Written};
use crate::store::{NewJob, Origin};

/// A receiver as Kannel clients write them: international (`+33...`, `0033...`, or
/// digits alone: `33612345678`), or national with a leading 0 when the user has a
/// `country_code`.
pub fn receiver(text: &str, country_code: Option<u16>) -> Result<Msisdn, NumberError> {
    let t = text.trim();
    if t.starts_with('+') || t.starts_with("00") {
        return Msisdn::parse(t);
    }
    if let Some(rest) = t.strip_prefix('0') {
        return match country_code {
            Some(cc) => Msisdn::parse(&format!("+{cc}{rest}")),
            None => Err(NumberError::NotInternational),
        };
    }
    if t.is_empty() {
        return Err(NumberError::Empty);
    }
    Msisdn::parse(&format!("+{t}"))
}

/// Kannel's answer as an HTTP response, with Kannel's headers.
pub fn respond(a: &Answer) -> Response<Body> {
    let mut r = Response::new(Body::from(a.body.to_string()));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in kannel::REPLY_HEADERS {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// Answers one sendsms request.
pub async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    Metrics::bump(&app.metrics.requests);
    respond(&answer(&app, peer, &method, &uri, &headers, &body).await)
}

async fn answer(
    app: &App,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let raw = RawRequest {
        post: method == Method::POST,
        query: uri.query(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        headers: &pairs,
        body,
    };
    let params = match kannel::parse(&raw) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let user = match params.credentials() {
        Ok(c) => app
            .creds
            .user(c.username, c.password.as_bytes(), peer.ip())
            .cloned(),
        Err(a) => {
            Metrics::bump(&app.metrics.auth_failures);
            return a;
        }
    };
    let Some(user) = user else {
        Metrics::bump(&app.metrics.auth_failures);
        return Answer::authorization_failed();
    };
    let u = &user.config;
    let origin = format!("sendsms:{}", u.name);
    if !app.limiter.allow(&origin, u.rate) {
        Metrics::bump(&app.metrics.rate_limited);
        return Answer::temporal_failure();
    }
    let limits = Limits {
        max_messages: u.max_messages,
        ..Limits::default()
    };
    let sms = match params.validate(&limits) {
        Ok(s) => s,
        Err(a) => return a,
    };
    if let Some(url) = &sms.dlr_url
        && let Err(e) = super::config::check_url(url, &app.config.http.callback_hosts)
    {
        tracing::info!(user = %u.name, "dlr-url refused: {e}");
        return Answer::dlr_url_misformed();
    }
    // What relais cannot send at all: refused before anything is stored.
    let cannot = if sms.coding == Coding::EightBit || sms.binary.is_some() {
        Some("8-bit data messages are not sent by relais")
    } else if sms.udh.is_some() {
        Some(
            "messages with a user data header are not sent by relais (it splits long texts itself)",
        )
    } else if let Err(e) = crate::campaign::check_text(&sms.text) {
        tracing::info!(user = %u.name, "text refused: {e}");
        Some("the text is empty or longer than relais sends")
    } else {
        None
    };
    if let Some(why) = cannot {
        tracing::info!(user = %u.name, "sendsms refused: {why}");
        return Answer::not_routable();
    }
    let numbers: Vec<String> = sms
        .to
        .iter()
        .filter_map(|n| match receiver(n, u.country_code) {
            Ok(m) => Some(m.to_string()),
            Err(e) => {
                tracing::info!(user = %u.name, receiver = %n, "receiver set aside: {e}");
                None
            }
        })
        .collect();
    if numbers.is_empty() {
        return Answer::receivers_denied();
    }
    let now = app.ctx.clock.now();
    let brand = app.default_brand(u.brand.as_deref());
    let class = crate::campaign::parse_class(&u.class)
        .unwrap_or(relais_core::compliance::class::Class::Transactional);
    let not_before = sms.deferred_minutes.map(|m| now.plus(i64::from(m) * 60));
    let expires = sms
        .validity_minutes
        .map(|m| not_before.unwrap_or(now).plus(i64::from(m) * 60));
    let jobs: Vec<NewJob> = numbers
        .iter()
        .map(|n| NewJob {
            number: n.clone(),
            text: sms.text.clone(),
            class,
            brand: brand.clone(),
            categories: u.categories.clone(),
            department: None,
            consent: ConsentStatus::None,
            not_before,
            expires,
        })
        .collect();
    let identity = match app.identity_for(&brand, u.device.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("identity for {brand:?}: {e}");
            return Answer::temporal_failure();
        }
    };
    let meta = serde_json::Value::Object(sms.recorded()).to_string();
    let sub = Submission {
        origin: Origin {
            client: origin,
            sender: sms.from.clone(),
            dlr_url: sms.dlr_url.clone(),
            dlr_mask: sms.dlr_mask,
            meta: Some(meta),
            message_id: None,
            via: u.device.clone(),
        },
        jobs,
        identity,
        idempotency: None,
    };
    let outcomes = match app.writer.submit(sub).await {
        Ok(Written::Stored { outcomes, .. }) => outcomes,
        Ok(_) => return Answer::temporal_failure(),
        Err(e) => {
            tracing::error!("store: {}", e.0);
            return Answer::temporal_failure();
        }
    };
    super::api::count(app, &outcomes);
    app.wake.notify_one();
    if outcomes
        .iter()
        .all(|o| matches!(o.fate, Fate::Refused { .. }))
    {
        for o in &outcomes {
            if let Fate::Refused { rule, reason } = &o.fate {
                tracing::info!(job = o.id, %rule, %reason, "refused by the compliance core");
            }
        }
        return Answer::not_routable();
    }
    let deferred = outcomes
        .iter()
        .any(|o| matches!(o.fate, Fate::Deferred { .. }));
    if deferred || not_before.is_some() || !app.any_device_up() {
        Answer::queued()
    } else {
        Answer::accepted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_are_read_as_kannel_clients_write_them() {
        let r = |t: &str, cc| receiver(t, cc).map(|m| m.to_string());
        assert_eq!(r("+33612345678", None).unwrap(), "+33612345678");
        assert_eq!(r("0033612345678", None).unwrap(), "+33612345678");
        assert_eq!(r("33612345678", None).unwrap(), "+33612345678");
        assert_eq!(r("0612345678", Some(33)).unwrap(), "+33612345678");
        assert_eq!(r("0612345678", None), Err(NumberError::NotInternational));
        assert_eq!(r("0044 7700 900123", Some(33)).unwrap(), "+447700900123");
        assert!(r("", Some(33)).is_err());
        assert!(r("12", None).is_err(), "too short");
        assert!(r("33-61x", None).is_err());
    }
}
