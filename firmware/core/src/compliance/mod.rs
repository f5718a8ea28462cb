//! Compliance: rule packs, recipient time, holidays, senders, keywords, decisions.
//!
//! One `no_std`, allocation-free core decides, before any SMS reaches a modem (on the
//! host and again on the device), whether to send, defer or refuse it, and says why:
//!
//! - [`number`] — E.164 numbers, country by calling code, candidate zones;
//! - [`tz`] — POSIX-TZ-style zone rules, UTC ↔ local;
//! - [`calendar`] — civil dates, Easter, public-holiday calendars;
//! - [`class`] — a message's class and content categories;
//! - [`lang`] — the keyword languages and the replies written in each;
//! - [`sender`] — the sender identity a recipient sees;
//! - [`packs`] — per-country rules as data, each with its source;
//! - [`keywords`] — inbound STOP/START/HELP matching;
//! - [`mention`] — recognising an opt-out instruction in an outgoing text;
//! - [`decision`] — [`evaluate`] and its inputs.
//!
//! Each module uses only modules before it in this order, so they form no cycle:
//! `calendar` → `tz` → `number` → `class`, `lang`, `sender` (the shared vocabulary,
//! leaves) → `packs` → `keywords` → `mention` → `decision`. A new shared type goes into
//! a leaf, not into a module that uses the packs.
//!
//! The product decisions, and the public sources behind every rule, are in
//! `docs/compliance.md`.

pub mod calendar;
pub mod class;
pub mod decision;
pub mod keywords;
pub mod lang;
pub mod mention;
pub mod number;
pub mod packs;
pub mod sender;
pub mod tz;

pub use decision::{Decision, Outcome, evaluate};
pub use number::Msisdn;
pub use tz::UtcInstant;
