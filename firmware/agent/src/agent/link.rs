//! The host link: bytes in → frames → session → host messages; answers and outbox
//! events → session window → frames → bytes out, as fast as the port takes them.

use core::ops::DerefMut;

use embedded_hal_nb::serial::{Error as _, Read, Write};
use relais_core::link::frame::{self, Feed, FrameError};
use relais_core::link::msg::{HostMsg, LinkError, peek_header};
use relais_core::link::session::{Body, Envelope, State};

use super::{Activity, Agent, AgentBuffers, Fault, Link, Outgoing};
use crate::modem::{Clock, ModemPower};
use crate::store::Store;

/// Bytes read from the host link per `poll` (about two full frames).
const LINK_BYTES_PER_POLL: usize = 2 * relais_core::link::msg::MAX_FRAME;

/// The start of a [`DeviceMsg::Event`](relais_core::link::msg::DeviceMsg::Event) on the
/// wire: its variant number. What follows, `(EventId, Event)` in postcard, is the
/// outbox item as the store keeps it ([`Store::event_bytes`]), so an event is sent
/// without being decoded and encoded again (code and 4 KiB of stack).
struct EventHead;

/// The number of `DeviceMsg::Event` among `DeviceMsg`'s variants (a test checks it).
const EVENT_VARIANT: u32 = 1;

impl serde::Serialize for EventHead {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant("DeviceMsg", EVENT_VARIANT, "Event", &())
    }
}

impl<L, S, P, C, St, const SLOTS: usize, const WINDOW: usize, B>
    Agent<L, S, P, C, St, SLOTS, WINDOW, B>
where
    L: Read<u8> + Write<u8>,
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
    B: DerefMut<Target = AgentBuffers<SLOTS>>,
{
    /// Reads what the host link has, a bounded amount per call.
    #[inline(never)]
    pub(super) fn read_link(&mut self, now_ms: u64) -> Result<(), Fault> {
        for _ in 0..LINK_BYTES_PER_POLL {
            match self.link.serial.read() {
                Ok(byte) => self.on_link_byte(byte, now_ms),
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(Fault::Link(e.kind())),
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn on_link_byte(&mut self, byte: u8, now_ms: u64) {
        match self.buf.decoder.feed::<Envelope<HostMsg>>(&[byte]) {
            Feed::Consumed => {}
            Feed::Frame { value, .. } => {
                let msg = self.link.session.receive(value);
                self.track_session();
                if let Some(msg) = msg {
                    self.on_host(msg, now_ms);
                }
            }
            Feed::Error {
                error: FrameError::Message,
                ..
            } => self.on_unknown_message(),
            Feed::Error { error, .. } => self.bad_frame(error),
        }
    }

    /// A checked frame whose message this build does not know: acknowledge it so the
    /// session goes on, and tell the host.
    fn on_unknown_message(&mut self) {
        let header = self.buf.decoder.undecodable_payload().and_then(peek_header);
        let Some((seq, envelope)) = header.and_then(|h| Some((h.data?, h.envelope()?))) else {
            return self.bad_frame(FrameError::Message);
        };
        let delivered = self.link.session.receive(envelope).is_some();
        self.track_session();
        // A retransmission of one already answered is only acknowledged again.
        if delivered {
            self.host.error(LinkError::UnknownMessage { seq });
            self.activity(Activity::UnknownMessage);
        }
    }

    fn bad_frame(&mut self, error: FrameError) {
        self.counters.bad_frames = self.counters.bad_frames.saturating_add(1);
        self.activity(Activity::BadFrame(error));
    }

    /// A new session (the host reconnected or restarted) needs a new handshake.
    fn track_session(&mut self) {
        let session = &self.link.session;
        if session.state() != State::Established {
            return;
        }
        let id = session.session_id();
        if self.host.session != Some(id) {
            self.host.session = Some(id);
            self.host.handshaken = false;
            self.host.hello_due = false;
            self.host.credits_sent = None;
            self.host.events_sent = None;
        }
    }

    /// Encodes the next frame the session wants on the line; false when there is none.
    #[inline(never)]
    fn next_frame(&mut self, now_ms: u64) -> bool {
        let credits = self.credits();
        let Link {
            session, tx_len, ..
        } = &mut self.link;
        let tx = &mut self.buf.tx;
        let Some(envelope) = session.poll_transmit(now_ms) else {
            return false;
        };
        if let Body::Data {
            seq,
            msg: Outgoing::Event(id),
        } = envelope.body
        {
            // The event's bytes as the outbox stored them: not decoded and encoded again.
            let head = Envelope {
                session: envelope.session,
                ack: envelope.ack,
                body: Body::Data {
                    seq,
                    msg: EventHead,
                },
            };
            let mut len = 0;
            let found = self.store.event_bytes(*id, &mut |item| {
                len = frame::encode_with_tail(&head, item, tx).map_or(0, |f| f.len());
            });
            if matches!(found, Ok(true)) && len > 0 {
                *tx_len = len;
                return true;
            }
        }
        let body = match envelope.body {
            Body::Data { seq, msg } => Body::Data {
                seq,
                msg: msg.to_wire(credits),
            },
            Body::Ack => Body::Ack,
            Body::Sync => Body::Sync,
            Body::SyncAck => Body::SyncAck,
            Body::Reject => Body::Reject,
        };
        let wire = Envelope {
            session: envelope.session,
            ack: envelope.ack,
            body,
        };
        *tx_len = match frame::encode(&wire, tx) {
            Ok(frame) => frame.len(),
            // Cannot happen: MAX_FRAME bounds every message (checked in relais-core).
            Err(_) => 0,
        };
        true
    }

    /// Queues due answers and outbox events while the session window has room.
    #[inline(never)]
    fn fill_window(&mut self) {
        if self.link.session.state() != State::Established {
            return;
        }
        while self.link.session.can_send() {
            let Some(msg) = self.next_message() else {
                break;
            };
            // Cannot fail: `can_send` was true.
            let _ = self.link.session.send(msg);
        }
    }

    /// Fills the session window and writes frames while the port takes bytes.
    #[inline(never)]
    pub(super) fn write_link(&mut self, now_ms: u64) -> Result<(), Fault> {
        loop {
            while let Some(&byte) = self.buf.tx.get(self.link.tx_sent) {
                if self.link.tx_sent >= self.link.tx_len {
                    break;
                }
                match self.link.serial.write(byte) {
                    Ok(()) => self.link.tx_sent += 1,
                    Err(nb::Error::WouldBlock) => return Ok(()),
                    Err(nb::Error::Other(e)) => return Err(Fault::Link(e.kind())),
                }
            }
            self.link.tx_len = 0;
            self.link.tx_sent = 0;
            self.fill_window();
            if !self.next_frame(now_ms) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use relais_core::compliance::tz::UtcInstant;
    use relais_core::link::msg::{DeviceMsg, Event, EventId, MAX_FRAME, bounded};
    use relais_core::link::session::{Seq, SessionId};

    #[test]
    fn an_event_sent_from_its_stored_bytes_is_the_event_encoded() {
        let event = Event::Inbound {
            from: bounded("+33612345678"),
            text: bounded("STOP"),
            at: UtcInstant(1_700_000_000),
            truncated: false,
        };
        let id = EventId(300);
        let mut stored = [0u8; 64];
        let stored = postcard::to_slice(&(id.0, &event), &mut stored).unwrap();
        let (session, ack, seq) = (SessionId(7), Seq(3), Seq(9));
        let mut a = [0u8; MAX_FRAME + 1];
        let head = Envelope {
            session,
            ack,
            body: Body::Data {
                seq,
                msg: EventHead,
            },
        };
        let a = frame::encode_with_tail(&head, stored, &mut a).unwrap();
        let mut b = [0u8; MAX_FRAME + 1];
        let whole = Envelope {
            session,
            ack,
            body: Body::Data {
                seq,
                msg: DeviceMsg::Event(id, event),
            },
        };
        let b = frame::encode(&whole, &mut b).unwrap();
        assert_eq!(a, b);
    }
}
