#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

pub mod at;
pub mod compliance;
pub mod link;
pub mod sms;
mod text;

/// Version of this crate, reported by the firmware at boot and in the link handshake.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
