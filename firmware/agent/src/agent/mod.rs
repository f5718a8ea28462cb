//! The device agent: the main loop that takes jobs from the host link, checks every
//! segment against the compliance core, drives the modem, and reports every state change
//! back through a durable outbox. `no_std`, no allocator, never blocks: call
//! [`Agent::poll`] in a loop, like [`Modem::poll`].
//!
//! The same agent runs on the microcontroller (flash [`Store`], UART host link) and
//! inside the host for `relais direct` (a RAM store, an in-memory link).
//!
//! # The loop
//!
//! Each [`Agent::poll`] call:
//!
//! 1. reads what the host link has (a bounded number of bytes): frames are decoded,
//!    checked and handed to the link [`Session`] (the device is its
//!    [`Role::Responder`]); each host message is acted on at once. A checked frame
//!    whose message does not decode (a newer host) is acknowledged through
//!    [`peek_header`](relais_core::link::msg::peek_header) and answered [`LinkError::UnknownMessage`];
//! 2. polls the modem driver for a few events (send outcomes, inbound messages, status
//!    reports, registration, network time);
//! 3. starts the next segment when the modem is free, the pace allows it, and the
//!    compliance gate says send (see [`jobs`](self#jobs));
//! 4. queues answers and outbox events in the session window and writes frames to the
//!    link as fast as the port takes them.
//!
//! It returns one [`Activity`] (something happened: log it) or `WouldBlock`.
//!
//! # Handshake and time
//!
//! A host [`HostMsg::Hello`] of another protocol gets [`LinkError::Version`] and no
//! jobs. Otherwise the device answers [`DeviceMsg::Hello`] (firmware, the [`BootId`]
//! counted by the store at start, capabilities, credits, next event id), then sends
//! every event still in the outbox, oldest first. The host sends its [`Settings`] after
//! each handshake ([`HostMsg::Configure`]); until then the defaults apply.
//!
//! UTC comes from the modem's network time when it has some ([`time::network_utc`]),
//! else from the host's `Hello`, and is carried forward by the monotonic clock. The modem
//! clock is read again every minute, and a reading that moved resets UTC (see [`time`]
//! for what that does to waiting jobs). With no time at all nothing is sent: no time
//! rule could be checked.
//!
//! # Jobs
//!
//! `SLOTS` jobs are held in RAM at once. A [`HostMsg::Submit`] is answered by its
//! idempotency record in the [`Store`]: unknown key → [`Event::Accepted`] and a slot;
//! known and finished, or known and in a slot → [`Event::Duplicate`]; known, open and
//! not in a slot (the device rebooted and the host submits again) → `Accepted`, and
//! sending resumes after the last segment the network accepted. No free slot →
//! [`LinkError::NoCredit`]. [`DeviceMsg::Credits`] follows every change of the free
//! slots.
//!
//! Slots get the modem in this order: a message whose sending started, then
//! transactional and conversational jobs, then marketing, each by acceptance.
//!
//! Before every segment the job passes the compliance gate ([`gate`]): refused jobs end
//! ([`Event::Refused`]); deferred ones wait in their slot ([`Event::Deferred`], once per
//! distinct instant), unless nothing of them went yet and the wait is longer than
//! [`RELEASE_AFTER_S`]: then the slot goes back to the host with the job
//! ([`Event::Released`]; the key is finished here, the host submits the job again under
//! a new key when it is due). `not_before` defers the same way and `expires` ends the
//! job ([`SendFailure::Expired`](relais_core::link::msg::SendFailure::Expired)). A
//! message is decided whole before its first segment: the pace's caps must have room
//! for all its segments ([`pacing`]) and the gate must also allow the instant its last
//! segment is expected to go; its later segments are judged at that first instant. The
//! pace's counters are kept in the store after each segment and counted again after a
//! reboot. One segment is with the modem at a time. The in-flight
//! journal ([`Store::begin_send`]) is written before the modem gets the PDU and cleared
//! after its answer; one found at boot makes that job [`Event::Unknown`], never resent.
//! A temporary failure is retried with back-off ([`RETRY_DELAYS_MS`]), then
//! [`SendFailure::RetriesExhausted`](relais_core::link::msg::SendFailure::RetriesExhausted); a permanent one fails the job.
//!
//! # Keyword replies and the reserved key space
//!
//! Opt-out confirmations and help texts that [`crate::inbound`] asks for are sent by the
//! device itself, through the same gate (judged as conversational, without the
//! suppression check: [`gate::reply`]) and the same send path, journal included. They
//! get keys in a space the host must not use: every key with the top 16 bits set
//! ([`REPLY_KEYS`]), with the boot id in bits 16–47 and a counter in bits 0–15, so
//! they never repeat. Their events (`SegmentSent`, `Sent`, `Failed`, `Unknown`) carry
//! those keys; a host may log or ignore them. A submitted job with such a key is
//! refused ([`RefusalCode::BadIdentity`](relais_core::link::msg::RefusalCode::BadIdentity)). A queued reply is also kept in the
//! store ([`Store::put_reply`]) until it ends: after a reboot it is queued again under
//! its key, and its job record and the in-flight journal decide, as for a host job,
//! whether it still goes (once) or already went.
//!
//! # Outbox
//!
//! Every event is written to the store's outbox first ([`Store::push_event`]), then
//! sent as [`DeviceMsg::Event`] while the session window has room; the host's
//! [`HostMsg::AckEvents`] drops them. When the outbox is nearly full
//! ([`OUTBOX_HEADROOM`] events left) credits drop to 0 and no new job work starts until
//! acknowledgements free room; the headroom keeps room for the outcomes of sends
//! already under way, delivery reports and inbound messages.
//!
//! # Memory
//!
//! The agent's bulk is in [`AgentBuffers`]: inside the agent for [`Agent::new`]
//! ([`InlineBuffers`], for hosts), in a static of the caller's for
//! [`Agent::with_buffers`] and [`Agent::init_in`] (boards: nothing of that size then
//! passes through the stack while the agent is built). Measured on `thumbv7m-none-eabi`
//! (release, `-Z print-type-sizes` of the QEMU board; `tests/agent_ram.rs` guards the
//! host-side sizes):
//!
//! | Part, with `SLOTS` = 4 and `WINDOW` = 4 | bytes |
//! |---|---|
//! | [`AgentBuffers<4>`](AgentBuffers) | 8 136 |
//! | … job slots (840 each: a [`Job`](relais_core::link::msg::Job) holds its 640-byte text) and the reply queue | 4 048 |
//! | … the inbound side ([`AgentInbound`]) | 2 272 |
//! | … the two frame buffers ([`MAX_FRAME`](relais_core::link::msg::MAX_FRAME) each) | 1 630 |
//! | … recent marketing sends | 272 |
//! | `Agent<…, &'static mut AgentBuffers<4>>`, store excluded | 3 712 |
//! | … the modem driver | 2 344 |
//! | … the link session (its window holds no copy of an event: about 100 bytes a place) | 528 |
//! | … the pacer | 376 |
//!
//! Each job slot fewer saves 840 bytes. Events are read from the outbox when their
//! frame is written, so the session window holds only their ids.
//!
//! Stack, measured on the board under QEMU (the stack is painted at boot, the deepest
//! use read back): about 7.3 KiB in the loop at worst, around an inbound SMS (the
//! deepest frames: its 640-byte event read back from the outbox, decoded and encoded
//! again for the host); about 6.5 KiB for a host frame (postcard's nested `Deserialize`
//! of a `Submit`) or a segment through the compliance gate (2 KiB of it the core's
//! rendering buffer). An inbound SMS is handled in place ([`Inbound::on_pdu_into`]) and
//! its keyword event is built after the store writes. Start-up ([`Agent::init_in`] into
//! a static, after the buffers were written into theirs) takes about 4.3 KiB, most of it
//! the modem driver and the store being made before they move into the agent.

mod buffers;
pub mod gate;
mod jobs;
mod link;
pub mod pacing;
mod reports;
pub mod time;

use core::mem::MaybeUninit;
use core::ops::DerefMut;

use heapless::Deque;
use relais_core::compliance::decision::Options;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::frame::FrameError;
use relais_core::link::msg::{
    BootId, Capabilities, Counters, DeviceHello, DeviceMsg, Event, EventEpoch, EventId, HostMsg,
    JobKey, KeywordKind, Label, LinkError, MAX_TEXT, ModemStatus, PROTOCOL, Registration, Settings,
    bounded,
};
use relais_core::link::session::{self, Role, Session, SessionId};

use crate::inbound::{Inbound, InboundOutcome};
use crate::modem::{self, Clock, Modem, ModemPower, RegStatus, SerialError, SimState};
use crate::store::{Store, StoreError};
use embedded_hal_nb::serial::{ErrorKind, Read, Write};

pub use buffers::{AgentBuffers, InlineBuffers};
pub use gate::RecentSends;
pub use jobs::{RELEASE_AFTER_S, REPLY_KEYS, RETRY_DELAYS_MS};
pub use time::TimeSource;

/// Events of room the outbox keeps for work already under way (see the module docs).
pub const OUTBOX_HEADROOM: usize = 8;

/// Keyword replies waiting to be sent; more are dropped ([`Activity::ReplyDropped`]).
const REPLY_QUEUE: usize = 2;
/// Recent marketing sends remembered for per-recipient caps.
const RECENT_SENDS: usize = 16;
/// Link errors waiting for room in the session window.
const ERROR_QUEUE: usize = 4;
/// Activities waiting to be returned by `poll`.
const ACTIVITY_QUEUE: usize = 8;
/// Modem events handled per `poll`.
const MODEM_EVENTS_PER_POLL: usize = 4;

/// The inbound side's sizes: 2 concatenated messages of up to 4 parts in reassembly,
/// the brand that last sent remembered for 16 numbers.
pub type AgentInbound = Inbound<2, 4, 16>;

/// What the agent is told at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Firmware version, for the handshake.
    pub firmware: Label,
    /// Version of the compiled-in rule packs, for the handshake (the packs are part of
    /// `relais-core`: its version by default).
    pub packs: Label,
    /// Link session timing.
    pub session: session::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            firmware: bounded(crate::VERSION),
            packs: bounded(relais_core::VERSION),
            session: session::Config::default(),
        }
    }
}

/// Something the agent did in one [`Agent::poll`], for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activity {
    /// A host `Hello` was answered (`accepted`: same protocol).
    Handshake {
        /// The host speaks our protocol.
        accepted: bool,
    },
    /// A host message was handled.
    HostMessage,
    /// A host message of an unknown kind was acknowledged and answered with an error.
    UnknownMessage,
    /// A frame from the host was dropped.
    BadFrame(FrameError),
    /// An event entered the outbox.
    Event(EventId),
    /// An event could not be stored (outbox full or storage failure): it is lost.
    EventLost,
    /// A segment was handed to the modem.
    SegmentStarted {
        /// Its job.
        key: JobKey,
        /// Its number, from 1.
        part: u8,
    },
    /// The modem reported something (status, inbound message, report).
    Modem,
    /// UTC was set.
    TimeSet(TimeSource),
    /// A keyword reply could not be queued (queue full) or was not allowed.
    ReplyDropped,
}

/// A fault the agent noticed and carried on after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The host link's serial port reported an error.
    Link(ErrorKind),
    /// The modem's serial port reported an error.
    Modem(SerialError),
    /// The store failed; sending stops until the agent is restarted if the failure hit
    /// the bookkeeping of a send.
    Storage(StoreError),
}

#[cfg(feature = "defmt")]
impl defmt::Format for Fault {
    fn format(&self, f: defmt::Formatter) {
        match self {
            Fault::Link(kind) => defmt::write!(f, "Link({=str})", kind_name(*kind)),
            Fault::Modem(e) => defmt::write!(f, "Modem({})", e),
            Fault::Storage(e) => defmt::write!(f, "Storage({})", e),
        }
    }
}

#[cfg(feature = "defmt")]
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Overrun => "overrun",
        ErrorKind::FrameFormat => "framing",
        ErrorKind::Parity => "parity",
        ErrorKind::Noise => "noise",
        _ => "other",
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Fault::Link(kind) => write!(f, "host link serial error: {kind:?}"),
            Fault::Modem(e) => write!(f, "{e}"),
            Fault::Storage(e) => write!(f, "agent storage: {e}"),
        }
    }
}

impl core::error::Error for Fault {}

/// The host link: serial port and session (its frame buffers are in [`AgentBuffers`]).
#[derive(Debug)]
struct Link<L, const W: usize> {
    serial: L,
    /// Bytes of the frame in `AgentBuffers::tx`.
    tx_len: usize,
    tx_sent: usize,
    session: Session<Outgoing, W>,
}

/// Where the host conversation stands.
#[derive(Debug)]
struct HostState {
    /// The session the flags below belong to.
    session: Option<SessionId>,
    /// A host of our protocol said `Hello` in this session.
    handshaken: bool,
    hello_due: bool,
    suppression_due: bool,
    status_due: bool,
    errors: Deque<LinkError, ERROR_QUEUE>,
    /// Credits last told to the host.
    credits_sent: Option<u8>,
    /// The newest event handed to the session in this handshake.
    events_sent: Option<EventId>,
}

impl HostState {
    const fn new() -> Self {
        HostState {
            session: None,
            handshaken: false,
            hello_due: false,
            suppression_due: false,
            status_due: false,
            errors: Deque::new(),
            credits_sent: None,
            events_sent: None,
        }
    }

    fn error(&mut self, e: LinkError) {
        if self.errors.is_full() {
            self.errors.pop_front();
        }
        let _ = self.errors.push_back(e);
    }
}

/// The outbox as the agent tracks it.
#[derive(Debug)]
struct Outbox {
    /// Events in it (refreshed after each change).
    len: usize,
    /// Capacity, from the store or learned at the first `Full`.
    capacity: Option<usize>,
    /// Events that could not be stored since boot.
    lost: u32,
    /// The id the next event gets.
    next_id: u32,
    /// The store's event numbering.
    epoch: EventEpoch,
}

impl Outbox {
    /// The id of the oldest event in the outbox (`next_id` when it is empty).
    fn oldest(&self) -> u32 {
        let len = u32::try_from(self.len).unwrap_or(u32::MAX);
        self.next_id.saturating_sub(len)
    }

    fn nearly_full(&self) -> bool {
        self.capacity
            .is_some_and(|c| self.len.saturating_add(OUTBOX_HEADROOM) >= c)
    }
}

/// The device agent; see the [module docs](self).
///
/// `L` is the host link's serial port, `S`/`P`/`C` the modem's port, power control and
/// clock, `St` the persistent store. `SLOTS` jobs are held at once; `WINDOW` messages
/// may be unacknowledged on the link. `B` holds the [`AgentBuffers`]: inside the agent
/// ([`InlineBuffers`], from [`Agent::new`]) or in the caller's static
/// (`&'static mut AgentBuffers`, from [`Agent::with_buffers`] or [`Agent::init_in`]).
#[derive(Debug)]
pub struct Agent<
    L,
    S,
    P,
    C,
    St,
    const SLOTS: usize = 4,
    const WINDOW: usize = 4,
    B = InlineBuffers<SLOTS>,
> {
    link: Link<L, WINDOW>,
    /// Job slots, frame buffers, inbound side, recent sends.
    buf: B,
    modem: Modem<S, P, C>,
    clock: C,
    store: St,
    config: Config,
    boot: BootId,
    host: HostState,
    settings: Settings,
    options: Options,
    time: Option<time::TimeBase>,
    pacer: pacing::Pacer,
    modem_status: ModemStatus,
    counters: Counters,
    outbox: Outbox,
    activities: Deque<Activity, ACTIVITY_QUEUE>,
}

impl<L, S, P, C, St, const SLOTS: usize, const WINDOW: usize> Agent<L, S, P, C, St, SLOTS, WINDOW>
where
    L: Read<u8> + Write<u8>,
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
{
    /// Starts the agent with its buffers inside it ([`InlineBuffers`]): counts a boot
    /// in `store`, and settles a send that a reset interrupted (its segment becomes
    /// [`Event::Unknown`], or — when the store shows the network accepted it — its
    /// `SegmentSent` is reported again). `clock` must be the modem's clock or one that
    /// reads the same.
    ///
    /// The agent is returned by value (about 12 KB, see the [module docs](self#memory)):
    /// for hosts. On a microcontroller use [`Agent::init_in`].
    pub fn new(
        link: L,
        modem: Modem<S, P, C>,
        clock: C,
        store: St,
        config: Config,
    ) -> Result<Self, StoreError> {
        Self::with_buffers(InlineBuffers::new(), link, modem, clock, store, config)
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
    /// [`Agent::new`] with the [`AgentBuffers`] somewhere else, typically a
    /// `&'static mut` to a static. The buffers are cleared first.
    pub fn with_buffers(
        buffers: B,
        link: L,
        modem: Modem<S, P, C>,
        clock: C,
        store: St,
        config: Config,
    ) -> Result<Self, StoreError> {
        let mut agent = Self::fresh(buffers, link, modem, clock, store, config);
        agent.start()?;
        Ok(agent)
    }

    /// [`Agent::with_buffers`] building the agent in `place` (a static, on a board):
    /// nothing the size of the agent passes through the stack. With the buffers
    /// elsewhere the agent itself is about 4.5 KB (see the [module docs](self#memory)).
    ///
    /// On an error the agent stays in `place` without being dropped.
    pub fn init_in(
        place: &mut MaybeUninit<Self>,
        buffers: B,
        link: L,
        modem: Modem<S, P, C>,
        clock: C,
        store: St,
        config: Config,
    ) -> Result<&mut Self, StoreError> {
        let agent = place.write(Self::fresh(buffers, link, modem, clock, store, config));
        agent.start()?;
        Ok(agent)
    }

    /// The agent before [`Agent::start`]. Inlined so that [`Agent::init_in`] writes
    /// the fields straight into its place.
    #[inline(always)]
    fn fresh(
        buffers: B,
        link: L,
        modem: Modem<S, P, C>,
        clock: C,
        store: St,
        config: Config,
    ) -> Self {
        let settings = Settings::default();
        Agent {
            link: Link {
                serial: link,
                tx_len: 0,
                tx_sent: 0,
                session: Session::new(Role::Responder, config.session),
            },
            buf: buffers,
            modem,
            clock,
            store,
            config,
            boot: BootId(0),
            host: HostState::new(),
            options: settings.options(),
            settings,
            time: None,
            pacer: pacing::Pacer::new(0),
            modem_status: ModemStatus {
                ready: false,
                registration: Registration::Unknown,
                sim_ready: false,
                power_cycles: 0,
                network_time: false,
                halted: None,
            },
            counters: Counters::default(),
            outbox: Outbox {
                len: 0,
                capacity: None,
                lost: 0,
                next_id: 0,
                epoch: EventEpoch::NONE,
            },
            activities: Deque::new(),
        }
    }

    /// Counts a boot in the store, reads the outbox's state, and settles a send that
    /// a reset interrupted.
    fn start(&mut self) -> Result<(), StoreError> {
        self.buf.clear();
        // Inbound messages leave the SIM only once stored (`store_inbound`).
        self.modem.keep_received(true);
        self.boot = self.store.next_boot()?;
        // A different rhythm each boot.
        self.pacer.reseed(self.boot.0);
        self.outbox = Outbox {
            len: self.store.outbox_len()?,
            capacity: self.store.outbox_capacity(),
            lost: 0,
            next_id: self.store.next_event_id()?.0,
            epoch: self.store.epoch()?,
        };
        self.recover_in_flight()?;
        self.restore_replies();
        Ok(())
    }

    /// Does what can be done now (see the [module docs](self)) and returns what
    /// happened, or `WouldBlock` when nothing did. Faults are returned as `Other`; the
    /// agent carries on.
    pub fn poll(&mut self) -> nb::Result<Activity, Fault> {
        if let Some(a) = self.activities.pop_front() {
            return Ok(a);
        }
        let now = self.clock.now_ms();
        let mut fault = self.read_link(now).err();
        if let Err(e) = self.poll_modem() {
            fault = fault.or(Some(e));
        }
        let now = self.clock.now_ms();
        if let Err(e) = self.schedule(now) {
            fault = fault.or(Some(Fault::Storage(e)));
        }
        if let Err(f) = self.write_link(now) {
            fault = fault.or(Some(f));
        }
        if let Some(f) = fault {
            return Err(nb::Error::Other(f));
        }
        self.activities.pop_front().ok_or(nb::Error::WouldBlock)
    }

    /// Handles a few modem events.
    #[inline(never)]
    fn poll_modem(&mut self) -> Result<(), Fault> {
        for _ in 0..MODEM_EVENTS_PER_POLL {
            match self.modem.poll() {
                Ok(event) => self.on_modem(event),
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(Fault::Modem(e)),
            }
        }
        // An incomplete message that waited too long for its parts, if any.
        self.on_received(None, self.clock.now_ms());
        Ok(())
    }

    /// This run's boot id.
    pub fn boot_id(&self) -> BootId {
        self.boot
    }

    /// Running totals since boot.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Modem and time status as last reported.
    pub fn modem_status(&self) -> &ModemStatus {
        &self.modem_status
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// UTC now, if the agent has time.
    pub fn now_utc(&self) -> Option<UtcInstant> {
        let now = self.clock.now_ms();
        self.time.map(|t| t.at(now))
    }

    /// Where UTC comes from, if the agent has time.
    pub fn time_source(&self) -> Option<TimeSource> {
        self.time.map(|t| t.source)
    }

    /// Free job slots (what the host may submit; 0 while the outbox is nearly full).
    pub fn credits(&self) -> u8 {
        if self.is_halted() || self.outbox.nearly_full() {
            return 0;
        }
        u8::try_from(self.buf.jobs.free_slots()).unwrap_or(u8::MAX)
    }

    /// Events that could not be stored since boot (outbox full or storage failure).
    pub fn lost_events(&self) -> u32 {
        self.outbox.lost
    }

    /// True once a send's bookkeeping failed in the store: nothing more is sent until
    /// restart (the journal stays set, so the restart reports the segment as unknown).
    /// The reason is in [`ModemStatus::halted`], which the host is told at once.
    pub fn is_halted(&self) -> bool {
        self.modem_status.halted.is_some()
    }

    /// True when no job holds a slot and the modem has no send queued or under way (a
    /// keyword reply waiting for its turn is not counted). A host that runs the agent
    /// in virtual time may then move time ahead (`relais::local`).
    pub fn is_idle(&self) -> bool {
        self.buf.jobs.free_slots() == SLOTS && !self.modem.is_sending()
    }

    /// The store (for inspection).
    pub fn store(&self) -> &St {
        &self.store
    }

    /// The inbound handler (e.g. to set its default brand).
    pub fn inbound_mut(&mut self) -> &mut AgentInbound {
        &mut self.buf.inbound
    }

    /// Stops the agent and gives its parts back (a test "reboots" by building a new
    /// agent from them).
    pub fn release(self) -> (L, Modem<S, P, C>, C, St) {
        (self.link.serial, self.modem, self.clock, self.store)
    }

    fn activity(&mut self, a: Activity) {
        if self.activities.is_full() {
            self.activities.pop_front();
        }
        let _ = self.activities.push_back(a);
    }

    /// Writes `event` to the outbox; false when it could not be stored.
    fn emit(&mut self, event: Event) -> bool {
        self.emit_ref(&event)
    }

    /// [`Agent::emit`] for an event that lives elsewhere (no copy on the stack).
    #[inline(never)]
    fn emit_ref(&mut self, event: &Event) -> bool {
        match self.store.push_event(event) {
            Ok(id) => {
                self.count(event);
                self.outbox.len = self.outbox.len.saturating_add(1);
                self.outbox.next_id = id.0.saturating_add(1);
                self.activity(Activity::Event(id));
                true
            }
            Err(e) => {
                if e == StoreError::Full && self.outbox.capacity.is_none() {
                    self.outbox.capacity = Some(self.outbox.len);
                }
                warn!("agent: event lost: {}", e);
                self.outbox.lost = self.outbox.lost.saturating_add(1);
                self.activity(Activity::EventLost);
                false
            }
        }
    }

    fn count(&mut self, event: &Event) {
        let c = &mut self.counters;
        let field = match event {
            Event::Accepted(_) => &mut c.accepted,
            Event::Refused { .. } => &mut c.refused,
            Event::Deferred { .. } | Event::Released { .. } => &mut c.deferred,
            Event::SegmentSent { .. } => &mut c.segments_sent,
            Event::Failed { .. } => &mut c.failed,
            Event::Unknown { .. } => &mut c.unknown,
            Event::Inbound { .. } => &mut c.inbound,
            Event::Keyword {
                kind: KeywordKind::OptOut,
                ..
            } => &mut c.opt_outs,
            _ => return,
        };
        *field = field.saturating_add(1);
    }

    #[inline(never)]
    fn on_modem(&mut self, event: modem::Event) {
        let now = self.clock.now_ms();
        let before = self.modem_status.clone();
        match event {
            // Bring-up passed the SIM check.
            modem::Event::Ready => self.modem_status.sim_ready = true,
            modem::Event::Sent(outcome) => self.on_sent(outcome, now),
            modem::Event::Received(pdu) => self.on_received(Some(&pdu), now),
            modem::Event::StatusReport(pdu) => self.on_status_report(&pdu),
            modem::Event::Unreadable(_) => {}
            modem::Event::Registration { status, .. } => {
                self.modem_status.registration = registration(status);
            }
            modem::Event::Sim(state) => self.modem_status.sim_ready = state == SimState::Ready,
            // At bring-up and again every minute: applied when it moved (`time`).
            modem::Event::NetworkTime(clock) => {
                let utc = time::network_utc(&clock);
                if let Some(base) = utc.and_then(|u| time::network_rebase(self.time, u, now)) {
                    self.time = Some(base);
                    self.modem_status.network_time = true;
                    self.activity(Activity::TimeSet(TimeSource::Network));
                }
            }
            modem::Event::Rebooted | modem::Event::PowerCycling(_) => {
                self.modem_status.power_cycles = self.modem_status.power_cycles.saturating_add(1);
            }
            modem::Event::SupplyWarning => {
                warn!("agent: modem supply warning");
            }
        }
        // The driver goes back to bring-up on its own after timeouts: follow it.
        self.modem_status.ready = self.modem.is_ready();
        if self.modem_status != before {
            self.host.status_due = true;
        }
        self.activity(Activity::Modem);
    }

    /// An inbound SMS (or, for `None`, an incomplete message that waited too long):
    /// [`crate::inbound`] decodes and reassembles it, acts on keywords (suppression is
    /// written before it returns) and hands back events and a reply. What it settles is
    /// deleted from the modem only once stored ([`Agent::store_inbound`]).
    #[inline(never)]
    fn on_received(&mut self, pdu: Option<&modem::InboundPdu>, now: u64) {
        // Filled in place: the outcome is large (events with full texts).
        let mut outcome = InboundOutcome::new();
        let (inbound, store) = (&mut self.buf.inbound, &mut self.store);
        let result = match pdu {
            Some(pdu) => inbound.on_pdu_into(pdu, now, store, &self.settings, &mut outcome),
            None => inbound
                .expire_into(now, store, &self.settings, &mut outcome)
                .map(drop),
        };
        if result.is_err() || !self.store_inbound(&outcome) {
            // Still in the modem's storage: the next listing reads it again. Nothing was
            // suppressed half-way.
            warn!("agent: inbound message kept for later on a store error");
            return;
        }
        if let Some(reply) = &outcome.reply {
            if !self.queue_reply(reply) {
                self.activity(Activity::ReplyDropped);
            }
        }
    }

    /// Stores the events of an inbound outcome and notes its PDUs
    /// ([`crate::inbound::remember`]), then has the modem delete those it keeps: false,
    /// with nothing deleted, when the events could not be stored (the PDUs are read
    /// again). A failed note only costs the recognition of a repeat after a power cut.
    fn store_inbound(&mut self, outcome: &InboundOutcome) -> bool {
        // All of a message's events or none, when the outbox says how much room it has.
        let events = outcome.events.len();
        if self
            .outbox
            .capacity
            .is_some_and(|c| self.outbox.len.saturating_add(events) > c)
        {
            return false;
        }
        for event in outcome.events.iter() {
            if !self.emit_ref(event) {
                return false;
            }
        }
        if crate::inbound::remember(&mut self.store, outcome).is_err() {
            warn!("agent: inbound message stored but not noted");
        }
        for &part in &outcome.parts {
            if let Some(index) = crate::inbound::part_slot(part) {
                self.modem.delete(index);
            }
        }
        true
    }

    #[inline(never)]
    fn on_host(&mut self, msg: HostMsg, now: u64) {
        match msg {
            HostMsg::Hello(hello) => {
                let accepted = hello.protocol == PROTOCOL;
                if accepted {
                    // A fresh store takes the host's epoch; a failure leaves it at NONE,
                    // which the host treats as a numbering it cannot trust.
                    if let Ok(epoch) = self.store.adopt_epoch(hello.epoch) {
                        self.outbox.epoch = epoch;
                    }
                    self.host.handshaken = true;
                    self.host.hello_due = true;
                    // The host learns at once whether this device halted.
                    self.host.status_due = true;
                    self.host.events_sent = None;
                    if self.time.is_none_or(|t| t.source != TimeSource::Network) {
                        self.time = Some(time::TimeBase::new(hello.time, now, TimeSource::Host));
                        self.activity(Activity::TimeSet(TimeSource::Host));
                    }
                } else {
                    self.host.handshaken = false;
                    self.host.error(LinkError::Version {
                        supported: PROTOCOL,
                    });
                }
                self.activity(Activity::Handshake { accepted });
                return;
            }
            HostMsg::Submit(job) => self.submit(job),
            HostMsg::Cancel(key) => self.cancel(key),
            HostMsg::Suppression(op) => self.suppression(op),
            HostMsg::Configure(settings) => {
                self.options = settings.options();
                if settings.sim_pin != self.settings.sim_pin {
                    self.modem.set_pin(settings.sim_pin);
                }
                self.settings = settings;
                // New rules may open or close windows: judge waiting jobs again.
                self.buf.jobs.wake_all();
            }
            // Ids of another store's numbering say nothing about this outbox.
            HostMsg::AckEvents(epoch, _) if epoch != self.outbox.epoch => {}
            HostMsg::AckEvents(_, upto) => {
                let acked = self
                    .store
                    .ack_events(upto)
                    .and_then(|_| self.store.outbox_len());
                match acked {
                    Ok(len) => self.outbox.len = len,
                    Err(_) => self.host.error(LinkError::Storage),
                }
            }
            HostMsg::Status => self.host.status_due = true,
        }
        self.activity(Activity::HostMessage);
    }

    fn suppression(&mut self, op: relais_core::link::msg::SuppressionOp) {
        use relais_core::link::msg::SuppressionOp as Op;
        let done = match op {
            Op::Add(number, scope) => self.store.suppress(&number, scope),
            // A STOP the host has not stored yet is newer than the opt-in it knows of.
            Op::Remove(number, _) if self.unacknowledged_opt_out(&number) => Ok(()),
            Op::Remove(number, scope) => self.store.unsuppress(&number, scope),
            Op::Digest => {
                self.host.suppression_due = true;
                Ok(())
            }
        };
        if done.is_err() {
            self.host.error(LinkError::Storage);
        }
    }

    /// True when the outbox holds an opt-out from `number` that the host has not
    /// acknowledged (an unreadable outbox counts as holding one: the entry stays).
    fn unacknowledged_opt_out(&self, number: &Msisdn) -> bool {
        // Read from the stored bytes: decoding whole events here would link the event
        // decoder into the firmware for this alone (about 3.5 KB).
        let mut found = false;
        for id in self.outbox.oldest()..self.outbox.next_id {
            let read = self.store.event_bytes(EventId(id), &mut |bytes| {
                found |= Event::keyword_in(bytes) == Some((*number, KeywordKind::OptOut));
            });
            if read.is_err() || found {
                return true;
            }
        }
        false
    }

    /// The next message for the host, when one is due.
    #[inline(never)]
    fn next_message(&mut self) -> Option<Outgoing> {
        if let Some(e) = self.host.errors.pop_front() {
            return Some(Outgoing::Error(e));
        }
        if !self.host.handshaken {
            return None;
        }
        if self.host.hello_due {
            self.host.hello_due = false;
            let credits = self.credits();
            self.host.credits_sent = Some(credits);
            return Some(Outgoing::Hello(DeviceHello {
                protocol: PROTOCOL,
                firmware: self.config.firmware.clone(),
                boot: self.boot,
                capabilities: Capabilities {
                    job_slots: u8::try_from(SLOTS).unwrap_or(u8::MAX),
                    suppression_capacity: self.store.suppression_capacity(),
                    max_text: MAX_TEXT as u16,
                    packs: self.config.packs.clone(),
                    modem: bounded(self.modem.profile().name),
                },
                credits,
                next_event: EventId(self.outbox.next_id),
                epoch: self.outbox.epoch,
                outbox: u16::try_from(self.outbox.len).unwrap_or(u16::MAX),
            }));
        }
        if core::mem::take(&mut self.host.suppression_due) {
            return Some(match self.store.suppression_summary() {
                Ok((count, digest)) => Outgoing::Suppression { count, digest },
                Err(_) => Outgoing::Error(LinkError::Storage),
            });
        }
        if core::mem::take(&mut self.host.status_due) {
            return Some(Outgoing::Status(self.modem_status.clone(), self.counters));
        }
        let credits = self.credits();
        if self.host.credits_sent != Some(credits) {
            self.host.credits_sent = Some(credits);
            return Some(Outgoing::Credits(credits));
        }
        // Ids are consecutive and acknowledgements drop the oldest: the outbox holds
        // `oldest..next_id`.
        let oldest = self.outbox.oldest();
        let next = match self.host.events_sent {
            Some(sent) => sent.0.saturating_add(1).max(oldest),
            None => oldest,
        };
        if next >= self.outbox.next_id {
            return None;
        }
        self.host.events_sent = Some(EventId(next));
        Some(Outgoing::Event(EventId(next)))
    }
}

/// A message waiting in the session window. Events are kept by id only and read from
/// the outbox when their frame is written: the window does not hold copies of
/// 700-byte events.
#[derive(Debug)]
enum Outgoing {
    Hello(DeviceHello),
    Event(EventId),
    Credits(u8),
    Status(ModemStatus, Counters),
    Suppression { count: u32, digest: u64 },
    Error(LinkError),
}

impl Outgoing {
    /// The message as it goes on the wire. An event goes as the outbox stored it,
    /// without being decoded ([`Store::event_bytes`], in `link`); one the host
    /// acknowledged since it was queued (a retransmission after `AckEvents`) is gone from
    /// the outbox: the host has it, and the frame carries the current credits instead to
    /// keep its number.
    fn to_wire(&self, credits: u8) -> DeviceMsg {
        match self {
            Outgoing::Hello(h) => DeviceMsg::Hello(h.clone()),
            Outgoing::Event(_) => DeviceMsg::Credits(credits),
            Outgoing::Credits(c) => DeviceMsg::Credits(*c),
            Outgoing::Status(status, counters) => DeviceMsg::Status(status.clone(), *counters),
            Outgoing::Suppression { count, digest } => DeviceMsg::Suppression {
                count: *count,
                digest: *digest,
            },
            Outgoing::Error(e) => DeviceMsg::Error(*e),
        }
    }
}

fn registration(status: RegStatus) -> Registration {
    match status {
        RegStatus::NotRegistered => Registration::None,
        RegStatus::Home => Registration::Home,
        RegStatus::Searching => Registration::Searching,
        RegStatus::Denied => Registration::Denied,
        RegStatus::Roaming => Registration::Roaming,
        RegStatus::Unknown => Registration::Unknown,
        other if other.is_registered() => Registration::Home,
        _ => Registration::Unknown,
    }
}
