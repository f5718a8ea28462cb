//! The callback outbox: every HTTP call relais owes an application (Kannel dlr-url
//! callbacks, Kannel sms-service calls for inbound messages, webhooks) is first a row
//! of table `callbacks`, written in the store, then delivered with retries.
//!
//! - The [producer](produce) reads the store's logs (`job_history`, `inbound`,
//!   `device_log`) past the marks in table `cursors` and turns each new entry into
//!   callback rows, moving the marks in the same transaction: a crash keeps both or
//!   neither, so no event is lost and none is produced twice.
//! - The [dispatcher](Dispatcher) takes due rows, calls them (concurrently, each with
//!   the configured timeout, no redirects), and records the outcome: a 2xx answer
//!   ends the row (`done`); anything else is tried again after the configured back-off
//!   until `callback_attempts` tries, then the row is a dead letter (`dead`). A row is
//!   delivered at least once: a crash between the call and its record calls it again,
//!   with the same event id.
//! - Webhooks are signed ([`sign`], and [`sign_android`] for SMS Gateway for Android's
//!   headers).

mod dispatch;
mod produce;

#[cfg(test)]
mod tests;

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::{HttpConfig, HttpService, WebhookConfig};

pub use dispatch::{Dispatcher, OutboxHost, Tick, run};
pub use produce::{ANDROID_EVENTS, dlr_type, produce, route, start_marks, webhook_event};

/// Header with relais's webhook signature ([`sign`]).
pub const SIGNATURE_HEADER: &str = "X-Relais-Signature";
/// Header with the Unix time (seconds) the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Relais-Timestamp";
/// Header with the event name (`delivered`, `received`, ...).
pub const EVENT_HEADER: &str = "X-Relais-Event";
/// Header with the event id: the same on every retry of one event.
pub const EVENT_ID_HEADER: &str = "X-Relais-Event-Id";
/// SMS Gateway for Android's signature header ([`sign_android`]).
pub const ANDROID_SIGNATURE_HEADER: &str = "X-Signature";
/// SMS Gateway for Android's timestamp header (Unix seconds).
pub const ANDROID_TIMESTAMP_HEADER: &str = "X-Timestamp";

/// What the outbox needs of `[http]`, checked and parsed.
#[derive(Clone)]
pub struct OutboxConfig {
    /// Inbound routing (`[[http.service]]`).
    pub services: Vec<HttpService>,
    /// Webhooks of the configuration (`[[http.webhook]]`).
    pub webhooks: Vec<WebhookConfig>,
    /// Key of webhooks registered through the API (none: they go unsigned).
    pub webhook_secret: Option<String>,
    /// Hosts a call may go to (empty: any).
    pub callback_hosts: Vec<String>,
    /// Tries per callback, the first included.
    pub attempts: u32,
    /// Waits before each retry, in seconds; the last one repeats.
    pub backoff: Vec<u64>,
    /// Time limit of one call.
    pub timeout: Duration,
    /// Calls made at once, at most.
    pub batch: usize,
    /// Log entries read per producer transaction, at most.
    pub produce_batch: usize,
    /// Real time between two looks at the store when nothing wakes the dispatcher.
    pub poll: Duration,
    /// `User-Agent` of the calls.
    pub user_agent: String,
}

impl std::fmt::Debug for OutboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("OutboxConfig")
            .field("services", &self.services.len())
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.url).collect::<Vec<_>>(),
            )
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "…"))
            .field("callback_hosts", &self.callback_hosts)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl OutboxConfig {
    /// The outbox part of `[http]` (errors name the setting).
    pub fn from_http(http: &HttpConfig) -> Result<OutboxConfig, String> {
        if http.callback_attempts == 0 {
            return Err("http.callback_attempts must be at least 1".into());
        }
        Ok(OutboxConfig {
            services: http.services.clone(),
            webhooks: http.webhooks.clone(),
            webhook_secret: http.webhook_secret.clone().filter(|s| !s.is_empty()),
            callback_hosts: http.callback_hosts.clone(),
            attempts: http.callback_attempts,
            backoff: http.backoff_secs()?,
            timeout: http.callback_timeout()?,
            batch: 32,
            produce_batch: 1000,
            poll: Duration::from_millis(500),
            user_agent: format!("relais/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// Seconds to wait after the `attempts`-th failed try (1 for the first), before
    /// jitter.
    pub fn backoff_after(&self, attempts: u32) -> u64 {
        let i = (attempts.max(1) - 1) as usize;
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(60)
    }
}

fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    for p in parts {
        mac.update(p);
    }
    hex(&mac.finalize().into_bytes())
}

/// Lower-case hex (signatures, body digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// Constant-time comparison of two signatures.
fn equal(a: &str, b: &str) -> bool {
    crate::http::auth::same_secret(a.as_bytes(), b.as_bytes())
}

/// relais's webhook signature, the value of `X-Relais-Signature`:
/// `sha256=` and the lower-case hex HMAC-SHA256, keyed with `secret`, of
/// `"<timestamp>.<body>"` (`timestamp` is `X-Relais-Timestamp`, Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hmac_hex(secret, &[timestamp.to_string().as_bytes(), b".", body])
    )
}

/// True when `signature` (with or without the `sha256=` prefix) is [`sign`]'s for
/// these; compared in constant time. The receiver decides how old a timestamp it
/// accepts.
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> bool {
    let expected = sign(secret, timestamp, body);
    let given = signature.trim();
    let given = given.strip_prefix("sha256=").unwrap_or(given);
    equal(&expected["sha256=".len()..], &given.to_ascii_lowercase())
}

/// SMS Gateway for Android's signature, the value of `X-Signature`: the lower-case
/// hex HMAC-SHA256, keyed with `secret`, of the body followed by the decimal
/// timestamp (`X-Timestamp`, Unix seconds), with no separator.
pub fn sign_android(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hmac_hex(secret, &[body, timestamp.to_string().as_bytes()])
}

/// True when `signature` is [`sign_android`]'s for these (constant time).
pub fn verify_android(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> bool {
    equal(
        &sign_android(secret, timestamp, body),
        &signature.trim().to_ascii_lowercase(),
    )
}

/// `scheme://host[:port]/path` of `url`: what logs may show of a callback (its query
/// may carry the message text or a password, its user-info a password).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}
