//! Support for relais's end-to-end tests.
//!
//! - [`qemu`]: build the firmware once, boot it under `qemu-system-arm` with each UART
//!   wired to a host-side endpoint, read its defmt log, and always shut it down.
//! - [`tier`]: how a test that needs an external tool skips (loudly) or fails (in CI).

pub mod qemu;
pub mod tier;
