//! Support for relais's end-to-end tests.
//!
//! - [`qemu`]: build the firmware once, boot it under `qemu-system-arm` with each UART
//!   wired to a host-side endpoint, read its defmt log, and always shut it down.
//! - [`rp2040js`]: boot the Raspberry Pi Pico firmware in the rp2040js emulator
//!   (`tests/rp2040js/run.mjs` under node), wired to the simulated modem over TCP.
//! - [`lcg`]: the seeded generator of the tests that kill processes at random moments.
//! - [`guest_log`]: what both share: the decoded defmt log, errors, process care.
//! - [`tier`]: how a test that needs an external tool skips (loudly) or fails (in CI).

pub mod guest_log;
pub mod lcg;
pub mod qemu;
pub mod rp2040js;
/// Loud skips (moved to `relais-testkit`, shared with the host's unit tests).
pub use relais_testkit::tier;
