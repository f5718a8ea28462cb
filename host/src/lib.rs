//! The relais host program as a library: the `relais` binary is a thin clap front end
//! over these modules, and benchmarks and end-to-end tests import them directly. What
//! only this crate uses stays private to it (the demo's QEMU launcher, the HTTP
//! gateway's handlers, the simulator's control socket and PDU decoding, the agent's
//! flash file and serial port).
//!
//! - [`pdu`]: `relais pdu` (encode, decode, count).
//! - [`policy`]: `relais policy` (compliance decisions, keywords, packs, overrides).
//! - [`sim`]: `relais sim`, the virtual modem and operator.

pub mod campaign;
pub mod commands;
pub mod config;
pub mod demo;
pub mod http;
pub mod link;
pub mod local;
pub mod pdu;
pub mod policy;
pub(crate) mod qemu;
pub mod report;
pub mod scheduler;
pub mod sim;
pub mod store;
