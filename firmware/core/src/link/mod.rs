//! The host ↔ device link: framing and a reliable session, shared by both ends so they
//! cannot drift.
//!
//! - [`frame`]: one message per frame: postcard bytes, a CRC-32C, COBS-encoded and
//!   ended by a zero byte, and a streaming decoder with a fixed buffer.
//! - [`session`]: sequence numbers, cumulative acknowledgements, go-back-N
//!   retransmission over a small window, and a sync exchange that starts a new session
//!   (after a reboot or a lost peer) so old frames can never be taken for new ones.
//!
//! - [`msg`]: the messages: jobs, settings and suppression changes from the host;
//!   handshake, numbered events, status and errors from the device.

pub mod frame;
pub mod msg;
pub mod session;
