//! Compliance: rule packs, recipient time, holidays, senders, keywords, decisions.
//!
//! One `no_std`, allocation-free core decides, before any SMS reaches a modem (on the
//! host and again on the device), whether to send, defer or refuse it, and says why:
//!
//! - [`number`] — E.164 numbers, country by calling code, candidate zones;
//! - [`tz`] — POSIX-TZ-style zone rules, UTC ↔ local;
//! - [`calendar`] — civil dates, Easter, public-holiday calendars;
//! - [`packs`] — per-country rules as data, each with its source;
//! - [`keywords`] — inbound STOP/START/HELP matching;
//! - [`decision`] — [`evaluate`] and its inputs.
//!
//! The product decisions are in `shared/rules/README.md`, the sourced facts in
//! `shared/rules/SOURCES.md`.

pub mod calendar;
pub mod decision;
pub mod keywords;
pub mod number;
pub mod packs;
pub mod tz;

pub use decision::{Decision, Outcome, evaluate};
pub use number::Msisdn;
pub use tz::UtcInstant;
