//! `relais serve`: the HTTP gateway in the daemon's process (docs/http.md).
//!
//! - [`kannel`]: Kannel's `/cgi-bin/sendsms` request, read from raw bytes (aliases,
//!   range checks, charsets) with Kannel's exact answers.
//! - [`escapes`]: Kannel's `%p`-style escape codes for dlr-url and sms-service URLs.
//! - [`outbox`]: callbacks and webhooks, produced from the store's logs in the same
//!   store, delivered with retries, signed.
//! - [`dashboard`]: the page for people at `/`.
//! - [`config`]: `[http]` of the configuration.

pub(crate) mod android;
pub(crate) mod api;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod escapes;
pub mod kannel;
pub mod outbox;
pub(crate) mod reply;
pub(crate) mod sendsms;
pub mod server;
pub(crate) mod writer;
