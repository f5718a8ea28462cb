#![doc = include_str!("../README.md")]
#![no_std]

#[macro_use]
mod fmt;

pub mod agent;
pub mod inbound;
pub mod modem;
mod ordered;
pub mod passthrough;
pub mod store;

pub use relais_core as core;

/// Version of the agent, reported by the firmware at boot.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
