//! Reliable, ordered delivery of messages over frames that can be lost, corrupted
//! (the frame layer drops those), duplicated or delayed.
//!
//! Go-back-N with cumulative acknowledgements: each end numbers its messages, keeps up
//! to `W` unacknowledged ones, and resends all of them, oldest first, when the oldest
//! has waited `retransmit_ms` without an acknowledgement. The receiver delivers only
//! the next expected number and acknowledges it (piggybacked on its own data, or in an
//! `Ack` frame), so within a session every message is delivered once, in order.
//!
//! Sessions: the initiator (the host) opens one with `Sync(id)`; the responder (the
//! device) adopts the id, restarts its numbering and answers `SyncAck`. A responder
//! that receives frames of a session it does not know (it has just rebooted) answers
//! `Reject`, and the initiator opens a new session. Frames of an older session are
//! ignored. Messages that were still unacknowledged when a new session starts are sent
//! again in it: across a sync, delivery is at-least-once, so the messages themselves
//! carry idempotency keys (jobs) or event ids (events).
//!
//! Sans-I/O: the caller passes each received [`Envelope`] to [`Session::receive`],
//! writes whatever [`Session::poll_transmit`] returns, and supplies the time.

use heapless::Deque;
use serde::{Deserialize, Serialize};

/// Identifies one session; chosen by the initiator, unique across its restarts
/// (e.g. random).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionId(pub u32);

/// A message sequence number; wraps around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Seq(pub u16);

impl Seq {
    fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }

    /// True when `self` comes strictly before `other` (within half the number space).
    fn precedes(self, other: Self) -> bool {
        let distance = other.0.wrapping_sub(self.0);
        distance != 0 && distance < 0x8000
    }
}

/// What a frame carries besides the session and the acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Body<M> {
    /// Message number `seq`.
    Data { seq: Seq, msg: M },
    /// Only the acknowledgement.
    Ack,
    /// Initiator → responder: start the session named in the envelope.
    Sync,
    /// Responder → initiator: the session is started.
    SyncAck,
    /// Responder → initiator: the session named in the envelope is unknown here.
    Reject,
}

/// One frame's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Envelope<M> {
    /// The session this frame belongs to.
    pub session: SessionId,
    /// Cumulative acknowledgement: the next number the sender of this frame expects.
    pub ack: Seq,
    /// The payload.
    pub body: Body<M>,
}

/// Which end of the link this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// Opens sessions (the host).
    Initiator,
    /// Accepts sessions (the device).
    Responder,
}

/// Session timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// How long the oldest unacknowledged message (or a `Sync`) waits before the
    /// window is sent again.
    pub retransmit_ms: u32,
}

impl Default for Config {
    /// 250 ms: several round trips of a full frame at 115 200 bit/s.
    fn default() -> Self {
        Self { retransmit_ms: 250 }
    }
}

/// Counters for logs, status reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Messages delivered to the caller.
    pub delivered: u32,
    /// Data frames sent again after a timeout.
    pub retransmitted: u32,
    /// Data frames received again (already delivered) and dropped.
    pub duplicates: u32,
    /// Data frames received ahead of a gap and dropped.
    pub out_of_order: u32,
    /// Frames ignored because they belong to another session.
    pub foreign: u32,
    /// Sessions started.
    pub syncs: u32,
}

/// Where the session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// No session yet (a responder waiting for `Sync`, or an initiator before `connect`).
    Idle,
    /// Initiator: `Sync` sent, waiting for `SyncAck`.
    Syncing,
    /// Messages flow.
    Established,
}

#[derive(Debug)]
struct Pending<M> {
    seq: Seq,
    msg: M,
    sent_at: Option<u64>,
}

/// One end of a link session with a window of `W` unacknowledged messages.
#[derive(Debug)]
pub struct Session<M, const W: usize> {
    role: Role,
    config: Config,
    state: State,
    session: SessionId,
    next_seq: Seq,
    expected: Seq,
    pending: Deque<Pending<M>, W>,
    ack_due: bool,
    sync_ack_due: bool,
    sync_sent_at: Option<u64>,
    reject_due: Option<SessionId>,
    stats: Stats,
}

impl<M, const W: usize> Session<M, W> {
    /// A session end with nothing sent or received.
    pub const fn new(role: Role, config: Config) -> Self {
        Self {
            role,
            config,
            state: State::Idle,
            session: SessionId(0),
            next_seq: Seq(0),
            expected: Seq(0),
            pending: Deque::new(),
            ack_due: false,
            sync_ack_due: false,
            sync_sent_at: None,
            reject_due: None,
            stats: Stats {
                delivered: 0,
                retransmitted: 0,
                duplicates: 0,
                out_of_order: 0,
                foreign: 0,
                syncs: 0,
            },
        }
    }

    /// Initiator: opens session `id` (unique across restarts of this end). Messages
    /// already queued are numbered afresh and sent once the responder confirms.
    pub fn connect(&mut self, id: SessionId) {
        self.state = State::Syncing;
        self.session = id;
        self.sync_sent_at = None;
        self.restart_numbering();
    }

    /// Queues `msg` for sending. Gives it back when the window is full: the caller
    /// keeps it and tries again after acknowledgements arrive.
    pub fn send(&mut self, msg: M) -> Result<(), M> {
        let seq = self.next_seq;
        self.pending
            .push_back(Pending {
                seq,
                msg,
                sent_at: None,
            })
            .map_err(|p| p.msg)?;
        self.next_seq = seq.next();
        Ok(())
    }

    /// True when [`Session::send`] would accept a message.
    pub fn can_send(&self) -> bool {
        !self.pending.is_full()
    }

    /// Messages sent or queued but not yet acknowledged.
    pub fn unacknowledged(&self) -> usize {
        self.pending.len()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current session id (meaningful once not [`State::Idle`]).
    pub fn session_id(&self) -> SessionId {
        self.session
    }

    /// Counters since creation.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The next frame to write to the line at `now_ms`, if any. Call until `None`.
    pub fn poll_transmit(&mut self, now_ms: u64) -> Option<Envelope<&M>> {
        let retransmit = u64::from(self.config.retransmit_ms);
        if self.state == State::Syncing {
            let due = self
                .sync_sent_at
                .is_none_or(|t| now_ms.saturating_sub(t) >= retransmit);
            if due {
                self.sync_sent_at = Some(now_ms);
                return Some(self.envelope(Body::Sync));
            }
        }
        if self.sync_ack_due {
            self.sync_ack_due = false;
            return Some(self.envelope(Body::SyncAck));
        }
        if let Some(session) = self.reject_due.take() {
            return Some(Envelope {
                session,
                ack: Seq(0),
                body: Body::Reject,
            });
        }
        if self.state != State::Established {
            return None;
        }
        let timed_out = self
            .pending
            .front()
            .and_then(|p| p.sent_at)
            .is_some_and(|t| now_ms.saturating_sub(t) >= retransmit);
        if timed_out {
            // Go back N: everything after the oldest was dropped by the receiver.
            for p in self.pending.iter_mut() {
                if p.sent_at.take().is_some() {
                    self.stats.retransmitted = self.stats.retransmitted.wrapping_add(1);
                }
            }
        }
        if let Some(index) = self.pending.iter().position(|p| p.sent_at.is_none()) {
            self.ack_due = false;
            let (session, ack) = (self.session, self.expected);
            let p = self.pending.iter_mut().nth(index)?;
            p.sent_at = Some(now_ms);
            return Some(Envelope {
                session,
                ack,
                body: Body::Data {
                    seq: p.seq,
                    msg: &p.msg,
                },
            });
        }
        if self.ack_due {
            self.ack_due = false;
            return Some(self.envelope(Body::Ack));
        }
        None
    }

    /// Handles a received frame; returns the message it delivers, if any.
    ///
    /// The incoming message type `I` may differ from the outgoing `M` (host and device
    /// speak different message sets over one session).
    pub fn receive<I>(&mut self, envelope: Envelope<I>) -> Option<I> {
        match (self.role, envelope.body) {
            (Role::Responder, Body::Sync) => {
                if self.state != State::Established || envelope.session != self.session {
                    self.session = envelope.session;
                    self.state = State::Established;
                    self.restart_numbering();
                }
                // Answer every Sync: the previous SyncAck may have been lost.
                self.sync_ack_due = true;
                None
            }
            (Role::Initiator, Body::SyncAck) => {
                if self.state == State::Syncing && envelope.session == self.session {
                    self.state = State::Established;
                    self.stats.syncs = self.stats.syncs.wrapping_add(1);
                }
                None
            }
            (Role::Initiator, Body::Reject) => {
                if envelope.session == self.session && self.state != State::Idle {
                    // The responder lost our session (it rebooted): open a new one.
                    self.connect(SessionId(self.session.0.wrapping_add(1)));
                }
                None
            }
            (_, Body::Sync | Body::SyncAck | Body::Reject) => None,
            (_, body @ (Body::Data { .. } | Body::Ack)) => {
                if self.state != State::Established || envelope.session != self.session {
                    self.stats.foreign = self.stats.foreign.wrapping_add(1);
                    if self.role == Role::Responder && self.state != State::Established {
                        self.reject_due = Some(envelope.session);
                    }
                    return None;
                }
                self.acknowledged(envelope.ack);
                match body {
                    Body::Data { seq, msg } => self.accept(seq, msg),
                    _ => None,
                }
            }
        }
    }

    fn accept<I>(&mut self, seq: Seq, msg: I) -> Option<I> {
        self.ack_due = true;
        if seq == self.expected {
            self.expected = seq.next();
            self.stats.delivered = self.stats.delivered.wrapping_add(1);
            Some(msg)
        } else if seq.precedes(self.expected) {
            self.stats.duplicates = self.stats.duplicates.wrapping_add(1);
            None
        } else {
            self.stats.out_of_order = self.stats.out_of_order.wrapping_add(1);
            None
        }
    }

    /// Drops every pending message numbered before `ack`. An `ack` beyond what was
    /// sent is a confused or hostile peer and is ignored.
    fn acknowledged(&mut self, ack: Seq) {
        if ack != self.next_seq && !ack.precedes(self.next_seq) {
            return;
        }
        while let Some(front) = self.pending.front() {
            if !front.seq.precedes(ack) {
                break;
            }
            self.pending.pop_front();
        }
    }

    /// New session: number from zero, pending messages first, all unsent.
    fn restart_numbering(&mut self) {
        self.expected = Seq(0);
        self.next_seq = Seq(0);
        self.ack_due = false;
        for p in self.pending.iter_mut() {
            p.seq = self.next_seq;
            p.sent_at = None;
            self.next_seq = self.next_seq.next();
        }
        if self.role == Role::Responder {
            self.stats.syncs = self.stats.syncs.wrapping_add(1);
        }
    }

    fn envelope<'m>(&self, body: Body<&'m M>) -> Envelope<&'m M> {
        Envelope {
            session: self.session,
            ack: self.expected,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::link::frame::{self, Feed, FrameDecoder};
    use std::vec::Vec;

    type Msg = u32;
    const W: usize = 4;

    /// Small deterministic generator for the lossy line.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn percent(&mut self, p: u64) -> bool {
            self.next() % 100 < p
        }
    }

    /// A serial line in one direction that loses, corrupts and duplicates frames and
    /// flips bits, at `fault_percent` each, and takes `delay_ms` to deliver.
    struct Line {
        in_flight: Vec<(u64, Vec<u8>)>,
        decoder: FrameDecoder<64>,
        fault_percent: u64,
        delay_ms: u64,
    }

    impl Line {
        fn new(fault_percent: u64) -> Self {
            Self {
                in_flight: Vec::new(),
                decoder: FrameDecoder::new(),
                fault_percent,
                delay_ms: 3,
            }
        }

        fn send(&mut self, now: u64, envelope: &Envelope<&Msg>, rng: &mut XorShift) {
            let mut buf = [0u8; 64];
            let mut bytes = frame::encode(envelope, &mut buf).unwrap().to_vec();
            let p = self.fault_percent;
            if rng.percent(p) {
                return; // lost
            }
            if rng.percent(p) {
                let i = (rng.next() as usize) % bytes.len();
                bytes[i] ^= 1 << (rng.next() % 8); // corrupted
            }
            if rng.percent(p) {
                let i = (rng.next() as usize) % bytes.len();
                bytes.remove(i); // a byte lost in the UART
            }
            if rng.percent(p) {
                self.in_flight.push((now + self.delay_ms, bytes.clone())); // duplicated
            }
            self.in_flight.push((now + self.delay_ms, bytes));
        }

        fn arrivals(&mut self, now: u64) -> Vec<Envelope<Msg>> {
            let mut out = Vec::new();
            let mut keep = Vec::new();
            for (at, bytes) in self.in_flight.drain(..) {
                if at > now {
                    keep.push((at, bytes));
                    continue;
                }
                let mut input = &bytes[..];
                loop {
                    match self.decoder.feed::<Envelope<Msg>>(input) {
                        Feed::Consumed => break,
                        Feed::Frame { value, remaining } => {
                            out.push(value);
                            input = remaining;
                        }
                        Feed::Error { remaining, .. } => input = remaining,
                    }
                }
            }
            self.in_flight = keep;
            out
        }
    }

    struct Run {
        host: Session<Msg, W>,
        device: Session<Msg, W>,
        to_device: Line,
        to_host: Line,
        rng: XorShift,
        now: u64,
        host_got: Vec<Msg>,
        device_got: Vec<Msg>,
    }

    impl Run {
        fn new(fault_percent: u64, seed: u64) -> Self {
            let mut host = Session::new(Role::Initiator, Config::default());
            host.connect(SessionId(0xC0FFEE));
            Self {
                host,
                device: Session::new(Role::Responder, Config::default()),
                to_device: Line::new(fault_percent),
                to_host: Line::new(fault_percent),
                rng: XorShift(seed),
                now: 0,
                host_got: Vec::new(),
                device_got: Vec::new(),
            }
        }

        /// One millisecond of both ends working.
        fn step(&mut self) {
            self.now += 1;
            while let Some(env) = self.host.poll_transmit(self.now) {
                self.to_device.send(self.now, &env, &mut self.rng);
            }
            while let Some(env) = self.device.poll_transmit(self.now) {
                self.to_host.send(self.now, &env, &mut self.rng);
            }
            for env in self.to_device.arrivals(self.now) {
                self.device_got.extend(self.device.receive(env));
            }
            for env in self.to_host.arrivals(self.now) {
                self.host_got.extend(self.host.receive(env));
            }
        }

        /// Sends `count` messages each way, numbered from `first`, and runs until all
        /// are acknowledged.
        fn exchange(&mut self, first: Msg, count: Msg) {
            let (mut up, mut down) = (first, first);
            let end = first + count;
            let deadline = self.now + 60_000 + u64::from(count) * 50;
            while up < end
                || down < end
                || self.host.unacknowledged() > 0
                || self.device.unacknowledged() > 0
            {
                if up < end && self.host.send(up).is_ok() {
                    up += 1;
                }
                if down < end && self.device.send(down + 1_000_000).is_ok() {
                    down += 1;
                }
                self.step();
                assert!(self.now < deadline, "no progress: up {up}, down {down}");
            }
        }
    }

    #[test]
    fn clean_line_delivers_in_order_without_retransmission() {
        let mut run = Run::new(0, 1);
        run.exchange(0, 200);
        assert_eq!(run.device_got, (0..200).collect::<Vec<_>>());
        assert_eq!(run.host_got, (1_000_000..1_000_200).collect::<Vec<_>>());
        assert_eq!(run.host.stats().retransmitted, 0);
        assert_eq!(run.device.stats().retransmitted, 0);
    }

    #[test]
    fn faulty_line_delivers_everything_once_in_order() {
        for seed in 1..=20u64 {
            let mut run = Run::new(5, seed * 7919);
            run.exchange(0, 300);
            assert_eq!(run.device_got, (0..300).collect::<Vec<_>>(), "seed {seed}");
            assert_eq!(
                run.host_got,
                (1_000_000..1_000_300).collect::<Vec<_>>(),
                "seed {seed}"
            );
            assert!(
                run.host.stats().retransmitted > 0,
                "seed {seed}: the faults must have bitten"
            );
        }
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut run = Run::new(1, 99);
        run.exchange(0, 70_000);
        assert_eq!(run.device_got.len(), 70_000);
        assert!(run.device_got.iter().copied().eq(0..70_000));
    }

    #[test]
    fn device_reboot_leads_to_a_new_session_and_nothing_is_lost() {
        let mut run = Run::new(3, 4242);
        run.exchange(0, 50);
        let first_session = run.host.session_id();
        // Queue more, let some of it fly, then reboot the device mid-stream.
        for m in 50..54 {
            run.host.send(m).unwrap();
        }
        for _ in 0..2 {
            run.step();
        }
        run.device = Session::new(Role::Responder, Config::default());
        run.exchange(54, 100);
        assert_ne!(
            run.host.session_id(),
            first_session,
            "host opened a new session"
        );
        // Every message arrived, in order; only those in flight at the reboot may
        // arrive twice (at-least-once across a sync).
        let got = &run.device_got;
        let mut unique = got.clone();
        unique.dedup();
        assert_eq!(unique, (0..154).collect::<Vec<_>>());
        assert!(
            got.len() - unique.len() <= W,
            "{} duplicates",
            got.len() - unique.len()
        );
    }

    #[test]
    fn frames_of_an_old_session_are_ignored() {
        let mut device: Session<Msg, W> = Session::new(Role::Responder, Config::default());
        device.receive(Envelope::<Msg> {
            session: SessionId(2),
            ack: Seq(0),
            body: Body::Sync,
        });
        let stale = Envelope {
            session: SessionId(1),
            ack: Seq(0),
            body: Body::Data {
                seq: Seq(0),
                msg: 7,
            },
        };
        assert_eq!(device.receive(stale), None);
        assert_eq!(device.stats().foreign, 1);
        let fresh = Envelope {
            session: SessionId(2),
            ack: Seq(0),
            body: Body::Data {
                seq: Seq(0),
                msg: 8,
            },
        };
        assert_eq!(device.receive(fresh), Some(8));
    }

    #[test]
    fn full_window_gives_the_message_back() {
        let mut s: Session<Msg, 2> = Session::new(Role::Initiator, Config::default());
        assert_eq!(s.send(1), Ok(()));
        assert_eq!(s.send(2), Ok(()));
        assert!(!s.can_send());
        assert_eq!(s.send(3), Err(3));
    }

    #[test]
    fn acknowledgement_beyond_what_was_sent_is_ignored() {
        let mut host: Session<Msg, W> = Session::new(Role::Initiator, Config::default());
        host.connect(SessionId(5));
        host.receive(Envelope::<Msg> {
            session: SessionId(5),
            ack: Seq(0),
            body: Body::SyncAck,
        });
        host.send(1).unwrap();
        host.receive(Envelope::<Msg> {
            session: SessionId(5),
            ack: Seq(900),
            body: Body::Ack,
        });
        assert_eq!(host.unacknowledged(), 1);
    }
}
