//! The modem driver: bring-up, sending, receiving and recovery, polled with `nb`.
//!
//! [`Modem`] owns the modem's serial port (any `embedded_hal_nb` `Read + Write`), a
//! [`ModemPower`] to power-cycle it and a [`Clock`]. Call [`Modem::poll`] often: it
//! moves the bytes the port can take right now, advances the state machine and returns
//! at most one [`Event`], or `WouldBlock` when there is nothing to report. It never
//! waits.
//!
//! The driver is codec-independent: it sends PDUs encoded by someone else
//! ([`SubmitPdu`]) and hands up inbound PDUs and status reports still encoded
//! ([`InboundPdu`]).
//!
//! What happens, in order (see `docs/transcripts/` for annotated dialogs):
//!
//! 1. Bring-up: `AT` until the modem answers, `ATE0`, `AT+CMEE=1`, `AT+CPIN?` (and
//!    the PIN when the SIM asks for it, below), `AT+CREG=1` (and `AT+CEREG=1` on LTE
//!    profiles), `AT+CREG?` until registered,
//!    `AT+CMGF=0`, `AT+CPMS`, `AT+CNMI`, the profile's network-time command,
//!    `AT+CCLK?`, then `AT+CMGL=4` to drain stored messages. Then [`Event::Ready`].
//! 2. Sending ([`Modem::send`]): `AT+CMMS=1` when more segments follow, `AT+CMGS=<n>`,
//!    the prompt, the PDU in hex and Ctrl-Z, then `+CMGS: <mr>` →
//!    [`Event::Sent`]. No prompt in time: ESC, and a retry-later failure. No result in
//!    time after Ctrl-Z: ESC, and [`SendOutcome::Unknown`] — never a silent resend.
//! 3. Receiving: `+CMTI` → `AT+CMGR` → [`Event::Received`] → `AT+CMGD`; `+CMT`/`+CDS`
//!    are handed up directly; `AT+CMGL=4` every [`Profile::poll_interval`] as a
//!    fallback and a liveness check. With [`Modem::keep_received`] a received message
//!    stays stored until the caller deletes it ([`Modem::delete`]) once it is safe
//!    elsewhere; until then every listing hands it up again.
//! 4. Time: `AT+CCLK?` again every [`CLOCK_RESYNC_MS`] of the driver's clock, reported
//!    as [`Event::NetworkTime`] like the bring-up reading, so the caller follows a
//!    network clock that moved (a NITZ correction, a simulator's clock jump). Like the
//!    other polls it goes out only when no command is in flight and nothing else is
//!    due, and not while a multi-part message holds its link (`AT+CMMS`): never inside
//!    a send.
//! 5. Recovery: a command that times out leads back to `AT` sync and a full bring-up;
//!    no answer to `AT` (nor to the ESC among the probes, "A prompt left open" below)
//!    → power cycle. A start-up URC that is not the current boot's own
//!    ([`Event::Rebooted`], below) → bring-up again. Power-down URC, SIM removed, or
//!    registration lost for longer than the profile allows → power cycle.
//!
//! # Restarts
//!
//! A modem that restarts by itself (a SIM800 browns out on its 2 A transmit bursts,
//! docs/modems.md § Quirk 14) forgets every volatile setting: echo, `+CMEE`, `+CMGF` and
//! `+CNMI`. Without `+CNMI` it keeps status reports to itself, so the driver must
//! notice the restart and run bring-up again. The sign is a start-up URC (`RDY`,
//! `+CFUN: 1`, `+CPIN: READY`, `Call Ready`, `SMS Ready`/`SMS DONE`); the difficulty
//! is telling a restart from the late notices of the boot the driver already knows
//! about. The driver decides by what it has seen, not by the clock alone:
//!
//! - Until bring-up has completed after a power-on, a restart or the driver's start,
//!   start-up URCs within [`Profile::boot_window`] are that boot's own notices.
//! - Once bring-up has completed ([`Event::Ready`]), every start-up URC means a
//!   restart, however soon it comes. Bring-up only completes when the boot is over:
//!   `AT+CPIN?` must answer `READY`, and SIM-dependent SMS commands (`AT+CMGF`,
//!   `AT+CPMS`, `AT+CMGL`) are refused until `SMS Ready` (docs/modems.md § Quirk 5), so
//!   the notices of that boot are already out. A timer alone cannot tell: a modem that
//!   browns out on its first send restarts well inside its boot window.
//! - Later than the boot window, a start-up URC means a restart in any phase.
//!
//! A restart ends the send in progress exactly once: [`SendOutcome::Unknown`] when
//! the PDU and its Ctrl-Z had been written to the port (the modem may have sent it),
//! [`SendError::ModemReset`] otherwise (safe to retry). A send accepted by
//! [`Modem::send`] but not started yet ends as `ModemReset` too.
//!
//! # A prompt left open
//!
//! A modem keeps its state when the microcontroller resets: one reset between
//! `AT+CMGS=<n>` and Ctrl-Z leaves it at the `> ` prompt, taking every later `AT` as
//! PDU text and answering nothing (TS 27.005 §3.5.1: Ctrl-Z ends the PDU and sends it,
//! ESC cancels it). A power cycle would end it, but many boards cannot switch the
//! modem ([`NoPowerControl`]). So the second probe of every sync round (after one `AT`
//! went unanswered) is ESC: at a prompt it cancels the message, which was never
//! submitted, and the modem answers `OK`; in command mode it is ignored. Ctrl-Z is
//! never sent for this: it would submit whatever the modem had collected.
//!
//! # SIM PIN
//!
//! When `AT+CPIN?` answers `SIM PIN`, the driver enters the PIN given to
//! [`Modem::set_pin`] (`AT+CPIN="…"`, TS 27.007 §8.3), then asks `AT+CPIN?` again
//! until the SIM is `READY` (it answers "SIM busy" for a few seconds after unlocking).
//! A SIM blocks after three wrong entries in a row (3GPP TS 42.017), so the driver
//! enters the same PIN at most twice without seeing the SIM ready — once more after
//! a refusal, as a garbled line can corrupt the digits — across restarts and power
//! cycles, and never uses the SIM's last attempt. After that, or when no PIN is set,
//! it reports [`Event::Sim`] ([`SimState::PinRejected`] or [`SimState::PinRequired`])
//! and holds, checking again every minute; a different PIN from [`Modem::set_pin`]
//! starts over at once. The count lives in RAM: an agent that restarts the driver
//! should not hand it a PIN the SIM has already refused.

mod pdu;
mod power;
mod profile;
mod reports;

use core::fmt;

use embedded_hal::digital::OutputPin;
use embedded_hal_nb::serial::{self, ErrorKind, Read, Write};
use heapless::{Deque, Vec};
use relais_core::at::command::general::{
    CclkRead, Cmee, CpinRead, EnterPin, RegistrationRead, RegistrationUrcs,
};
use relais_core::at::command::sms::{Cmgd, Cmgf, Cmgl, Cmgr, Cmgs, Cmms, Cpms, MessageStatus};
use relais_core::at::command::v250::{At, CTRL_Z, ESC, Echo};
use relais_core::at::command::{Command, CommandLine, Millis, Raw};
use relais_core::at::{Event as AtEvent, Final, Parser, Urc};

pub use pdu::{InboundPdu, MAX_PDU, PduBytes, PduError, SubmitPdu};
// The `relais-core` types that appear in this module's API, so callers need one import.
pub use power::{KeyLevel, KeyTiming, NoStatus, PowerKey, PowerStatus, StatusPin};
pub use profile::Profile;
pub use relais_core::at::command::general::{InvalidPin, ModemClock, SimPin};
pub use relais_core::at::command::sms::MessageReference;
pub use relais_core::at::{
    CmeError, CmsError, Domain, ErrorClass, Memory, RegStatus, SimState, Slot,
};
pub use reports::{ReportMatcher, Submission, in_window, same_number};

/// A monotonic millisecond clock (never goes back; wraps only after 584 million years).
pub trait Clock {
    /// Milliseconds since an arbitrary start.
    fn now_ms(&self) -> u64;
}

/// Switches the modem's supply (or its power key) for a power cycle.
pub trait ModemPower {
    /// Removes power (or starts the power-down sequence).
    fn power_off(&mut self);
    /// Restores power (or starts the power-up sequence).
    fn power_on(&mut self);
}

/// [`ModemPower`] through one output pin driving the modem's supply switch: high = on.
/// Pin errors are ignored: a power cycle that did not happen shows up as a modem that
/// still does not answer, and is tried again.
#[derive(Debug)]
pub struct SupplyPin<P>(pub P);

impl<P: OutputPin> ModemPower for SupplyPin<P> {
    fn power_off(&mut self) {
        let _ = self.0.set_low();
    }
    fn power_on(&mut self) {
        let _ = self.0.set_high();
    }
}

/// [`ModemPower`] for modems whose power cannot be controlled: a power cycle only
/// waits and re-syncs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPowerControl;

impl ModemPower for NoPowerControl {
    fn power_off(&mut self) {}
    fn power_on(&mut self) {}
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// `+CMS ERROR: <err>`.
    Cms(CmsError),
    /// `+CME ERROR: <err>`.
    Cme(CmeError),
    /// A plain `ERROR` (or another non-OK final result).
    Rejected,
    /// The `> ` prompt did not come in time (aborted with ESC).
    NoPrompt,
    /// The modem reset, lost its SIM or was power-cycled before the PDU was sent.
    ModemReset,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Cms(e) => write!(f, "{e}"),
            SendError::Cme(e) => write!(f, "{e}"),
            SendError::Rejected => f.write_str("modem answered ERROR"),
            SendError::NoPrompt => f.write_str("no > prompt from the modem"),
            SendError::ModemReset => f.write_str("modem reset before the PDU was sent"),
        }
    }
}

impl core::error::Error for SendError {}

impl SendError {
    fn from_final(result: Final) -> SendError {
        match result {
            Final::Cms(e) => SendError::Cms(e),
            Final::Cme(e) => SendError::Cme(e),
            _ => SendError::Rejected,
        }
    }

    /// Whether sending the same PDU later can succeed.
    pub fn class(self) -> ErrorClass {
        match self {
            SendError::Cms(e) => e.class(),
            SendError::Cme(e) => e.class(),
            // Plain ERROR after CMGS is what SIMCom gives for a busy or unready stack as
            // well as for a bad PDU; treated as temporary, the agent bounds retries.
            SendError::Rejected | SendError::NoPrompt | SendError::ModemReset => {
                ErrorClass::RetryLater
            }
        }
    }
}

/// The end of one [`Modem::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendOutcome {
    /// The network accepted the segment; a status report will carry this reference.
    Accepted(MessageReference),
    /// Not sent.
    Failed {
        /// What went wrong.
        error: SendError,
        /// Whether to try again later.
        class: ErrorClass,
    },
    /// The PDU went to the modem but no result came back (timeout, reboot): it may or
    /// may not have been sent. Never resend automatically.
    Unknown,
}

/// Why the driver is power-cycling the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Recovery {
    /// The modem did not answer `AT`.
    NoResponse,
    /// It reported a power-down (`NORMAL POWER DOWN`, under/over-voltage).
    PoweredDown,
    /// The SIM is missing or failed.
    SimLost,
    /// Registration did not come back within the profile's budget.
    RegistrationLost,
    /// A bring-up step kept failing.
    BringUpFailed,
}

/// What the driver reports to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// Bring-up finished: [`Modem::send`] is accepted from now on.
    Ready,
    /// The send started by [`Modem::send`] ended.
    Sent(SendOutcome),
    /// An inbound SMS (normally an SMS-DELIVER), still encoded. A stored one is deleted
    /// from the modem by a later `poll()` call: keep it safe before polling again. With
    /// [`Modem::keep_received`], it stays until [`Modem::delete`].
    Received(InboundPdu),
    /// An SMS-STATUS-REPORT, still encoded; see [`InboundPdu::status_report_reference`].
    StatusReport(InboundPdu),
    /// A stored or routed message whose PDU was not valid hex; deleted if stored.
    Unreadable(Option<Slot>),
    /// Registration changed (URC or query).
    Registration {
        /// Which registration.
        domain: Domain,
        /// Its new status.
        status: RegStatus,
    },
    /// The SIM is not usable as is (PIN needed, removed, failed) or came back.
    Sim(SimState),
    /// The modem clock (network time where the profile enables it), read at the end of
    /// bring-up and again every [`CLOCK_RESYNC_MS`] while ready.
    NetworkTime(ModemClock),
    /// A start-up URC that is not the current boot's own: the modem restarted on its
    /// own (see the module docs, "Restarts"). Bring-up runs again.
    Rebooted,
    /// The driver is power-cycling the modem, then brings it up again.
    PowerCycling(Recovery),
    /// The modem warned about its supply voltage.
    SupplyWarning,
}

/// Why [`Modem::send`] refused a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendRejected {
    /// Bring-up or recovery is in progress; wait for [`Event::Ready`].
    NotReady,
    /// A send is in progress; wait for its [`Event::Sent`].
    Busy,
}

impl fmt::Display for SendRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendRejected::NotReady => "modem not ready",
            SendRejected::Busy => "a send is in progress",
        })
    }
}

impl core::error::Error for SendRejected {}

/// A serial port error, reported by [`Modem::poll`]; the driver carries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialError(pub ErrorKind);

#[cfg(feature = "defmt")]
impl defmt::Format for SerialError {
    fn format(&self, f: defmt::Formatter) {
        let kind = match self.0 {
            ErrorKind::Overrun => "overrun",
            ErrorKind::FrameFormat => "framing",
            ErrorKind::Parity => "parity",
            ErrorKind::Noise => "noise",
            _ => "other",
        };
        defmt::write!(f, "SerialError({=str})", kind)
    }
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "modem serial error: {:?}", self.0)
    }
}

impl core::error::Error for SerialError {}

/// Marks a deletion the caller asked for in [`Inner::deletes`].
const CALLER_DELETE: u16 = 0x8000;

/// Bytes [`Modem::poll`] reads at most before returning (more on the next call).
const BYTES_PER_POLL: usize = 128;
/// Line buffer: a 352-digit PDU line plus slack.
const LINE_CAPACITY: usize = 400;
/// Transmit buffer: a PDU in hex plus Ctrl-Z.
const TX_CAPACITY: usize = 2 * MAX_PDU + 1;
/// Retries of a failing bring-up step before power-cycling (SIM800 answers `ERROR` to
/// `AT+CMGF` until `SMS Ready`, docs/modems.md § Quirk 5).
const STEP_RETRIES: u8 = 10;
/// Delay before retrying a failed or busy step (python-gsmmodem retries CME 14/515).
const RETRY_DELAY: Millis = Millis(1000);
/// Interval of `AT+CREG?` while waiting for registration.
const REGISTRATION_POLL: Millis = Millis::secs(2);
/// Wait before power-cycling when the SIM needs a PIN or is missing.
const SIM_RETRY: Millis = Millis::secs(60);
/// Entries of one PIN without the SIM becoming ready, at most: the SIM blocks at three
/// (3GPP TS 42.017), and its last attempt is left to a person.
const PIN_ENTRIES: u8 = 2;
/// Time allowed for the `OK` after ESC.
const ESC_TIMEOUT: Millis = Millis::secs(2);
/// The probe of each sync round (counted from 0) that is ESC instead of `AT`: the one
/// after the first `AT` went unanswered (module docs, "A prompt left open").
const ESC_PROBE: u8 = 1;
/// `AT+CMMS=1` keeps the link 1–5 s after a `+CMGS` result (TS 27.005 §3.5.6); renew
/// it when more than the lower bound has passed.
const CMMS_HOLD: Millis = Millis(1000);
/// Interval of the `AT+CCLK?` re-read while ready, in milliseconds of the driver's
/// clock (our choice). The modem clock can move after bring-up: the network sets it
/// by NITZ when it chooses to (at attach, on a time-zone or daylight-saving change;
/// 3GPP TS 22.042), a SIM800 applies `AT+CLTS=1` only after a restart, and a
/// simulator's virtual clock jumps. A minute is the granularity of the quiet-hour
/// rules the agent applies with that time, and one short command a minute costs the
/// idle link nothing that matters.
pub const CLOCK_RESYNC_MS: u64 = 60_000;

/// Bring-up steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Echo,
    Cmee,
    Cpin,
    /// Entering the PIN; then `Cpin` again.
    Pin,
    CregUrc,
    CeregUrc,
    Register,
    Cmgf,
    Cpms,
    Cnmi,
    Nitz,
    Cclk,
    Drain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Power is off until `wake_at`.
    PowerOff,
    /// Power is on; the modem boots until `wake_at`.
    Booting,
    /// Probing with `AT`.
    Sync { tries: u8 },
    /// Bring-up.
    Init(Step),
    /// Waiting (SIM needs a PIN or is missing) until `wake_at`, then power-cycle.
    Held,
    /// Sending, receiving, polling.
    Ready,
}

/// What is stored at a slot we are about to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    Message,
    StatusReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Sync,
    Init(Step),
    Registration(Domain),
    Cmms,
    Prompt,
    Submit,
    Escape { after_body: bool },
    Select(Option<(Slot, Stored)>),
    Read(Slot, Stored),
    Delete,
    List,
    Clock,
}

/// What to do with a stored message, judged from its PDU line.
#[derive(Debug)]
enum Verdict {
    /// Decoded, and as long as the header said: hand up, delete.
    Good(InboundPdu),
    /// Garbled or inconsistent for the first time: read it again before deciding.
    Again,
    /// Still bad on the second read: hand up what decodes (the codec judges), else
    /// report it unreadable; delete either way so it cannot block the storage.
    Bad(Option<InboundPdu>),
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    op: Op,
    deadline: u64,
}

#[derive(Debug)]
struct Outgoing {
    pdu: SubmitPdu,
    more: bool,
    started: bool,
}

/// The modem driver. `S` is the serial port, `P` the power control, `C` the clock.
#[derive(Debug)]
pub struct Modem<S, P, C> {
    parser: Parser<LINE_CAPACITY>,
    inner: Inner<S, P, C>,
}

#[derive(Debug)]
struct Inner<S, P, C> {
    serial: S,
    power: P,
    clock: C,
    profile: Profile,
    now: u64,
    tx: Vec<u8, TX_CAPACITY>,
    tx_sent: usize,
    phase: Phase,
    wake_at: u64,
    inflight: Option<InFlight>,
    events: Deque<Event, 4>,
    outgoing: Option<Outgoing>,
    reads: Deque<(Slot, Stored), 8>,
    /// Indexes to delete: the driver's own in the read storage, the caller's
    /// ([`Modem::delete`], marked [`CALLER_DELETE`]) in the profile's storage.
    deletes: Deque<u16, 16>,
    /// Received messages stay stored until the caller deletes them.
    keep_received: bool,
    read_memory: Memory,
    booted_at: u64,
    /// Bring-up has completed since the modem last started (or the driver did): its
    /// start-up URCs are out, so another one means it restarted.
    up: bool,
    /// The SIM PIN to enter when asked, and how often it was entered without the SIM
    /// becoming ready.
    pin: Option<SimPin>,
    pin_entries: u8,
    retries: u8,
    reg_deadline: u64,
    cs_registered: bool,
    eps_registered: bool,
    reg_lost_at: Option<u64>,
    cmms_ok: bool,
    cmms_until: u64,
    cnmi_ok: bool,
    next_poll: u64,
    /// When `AT+CCLK?` is due again ([`CLOCK_RESYNC_MS`]).
    next_clock: u64,
    list_requested: bool,
    sim: Option<SimState>,
    reg_seen: Option<RegStatus>,
    mr: Option<MessageReference>,
    /// Header of the `+CMGR`/`+CMGL` entry whose PDU line comes next.
    entry: Option<(u16, MessageStatus, u16)>,
    /// Response prefix the parser should let the command in flight claim.
    claim: Option<&'static [u8]>,
    /// The parser must drop its partial line (the modem restarted).
    parser_reset: bool,
    inbound: Option<Verdict>,
    /// Stored messages whose PDU line was garbled once; the next failure gives up.
    suspects: Vec<Slot, 4>,
}

impl<S, P, C> Modem<S, P, C>
where
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
{
    /// A driver for a modem that may be off, booting or already running (even at the
    /// SMS prompt of a send a reset interrupted, module docs): it starts by probing
    /// with `AT` and power-cycles only if that gets no answer.
    pub fn new(serial: S, power: P, clock: C, profile: Profile) -> Self {
        let now = clock.now_ms();
        Modem {
            parser: Parser::new(),
            inner: Inner {
                serial,
                power,
                clock,
                profile,
                now,
                tx: Vec::new(),
                tx_sent: 0,
                phase: Phase::Sync { tries: 0 },
                wake_at: now,
                inflight: None,
                events: Deque::new(),
                outgoing: None,
                reads: Deque::new(),
                deletes: Deque::new(),
                keep_received: false,
                read_memory: profile.storage,
                booted_at: now,
                up: false,
                pin: None,
                pin_entries: 0,
                retries: 0,
                reg_deadline: 0,
                cs_registered: false,
                eps_registered: false,
                reg_lost_at: None,
                cmms_ok: profile.cmms,
                cmms_until: 0,
                cnmi_ok: false,
                next_poll: 0,
                next_clock: 0,
                list_requested: false,
                sim: None,
                reg_seen: None,
                mr: None,
                entry: None,
                claim: None,
                parser_reset: false,
                inbound: None,
                suspects: Vec::new(),
            },
        }
    }

    /// Moves bytes, advances the state machine and returns the next event, or
    /// `WouldBlock` when there is nothing to report now. Serial errors are returned as
    /// `Other` for logging; the driver keeps going.
    pub fn poll(&mut self) -> nb::Result<Event, SerialError> {
        // A modem streaming garbage must not keep the caller's loop here forever.
        let mut budget = BYTES_PER_POLL;
        loop {
            if let Some(event) = self.inner.events.pop_front() {
                return Ok(event);
            }
            self.inner.now = self.inner.clock.now_ms();
            let mut progress = self.inner.flush()?;
            if budget > 0 {
                match self.inner.serial.read() {
                    Ok(byte) => {
                        budget -= 1;
                        if let Some(event) = self.parser.feed(byte) {
                            self.inner.on_event(event);
                        }
                        self.sync_parser();
                        continue;
                    }
                    Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(e)) => {
                        return Err(nb::Error::Other(SerialError(serial::Error::kind(&e))));
                    }
                }
            }
            // Timers run even while the modem floods us (the budget is then spent).
            progress |= self.inner.tick();
            self.sync_parser();
            if let Some(event) = self.inner.events.pop_front() {
                return Ok(event);
            }
            if !progress || budget == 0 {
                return Err(nb::Error::WouldBlock);
            }
        }
    }

    /// Applies what the state machine decided about the parser.
    fn sync_parser(&mut self) {
        if core::mem::take(&mut self.inner.parser_reset) {
            self.parser.reset();
        }
        self.parser.claim(self.inner.claim);
    }

    /// Starts sending one segment. `more_to_follow` keeps the radio link up for the
    /// next segment (`AT+CMMS=1`). The result comes as [`Event::Sent`].
    pub fn send(&mut self, pdu: &SubmitPdu, more_to_follow: bool) -> Result<(), SendRejected> {
        let inner = &mut self.inner;
        if inner.outgoing.is_some() {
            return Err(SendRejected::Busy);
        }
        if inner.phase != Phase::Ready {
            return Err(SendRejected::NotReady);
        }
        inner.outgoing = Some(Outgoing {
            pdu: pdu.clone(),
            more: more_to_follow,
            started: false,
        });
        Ok(())
    }

    /// The PIN to enter when the SIM asks for one (module docs, "SIM PIN"); `None`
    /// (the default) reports [`SimState::PinRequired`] instead. A PIN different from the
    /// one set before gets its own two entries, and a driver holding for a PIN checks
    /// the SIM again at once.
    pub fn set_pin(&mut self, pin: Option<SimPin>) {
        let inner = &mut self.inner;
        if inner.pin == pin {
            return;
        }
        inner.pin = pin;
        inner.pin_entries = 0;
        if inner.phase == Phase::Held {
            inner.phase = Phase::Init(Step::Cpin);
            inner.wake_at = inner.now;
        }
    }

    /// With `true`, a received message stays in the modem's storage after
    /// [`Event::Received`] until [`Modem::delete`] (and every listing hands it up
    /// again); with `false` (the default) the driver deletes it itself. Messages in
    /// another storage than the profile's are always deleted by the driver.
    pub fn keep_received(&mut self, keep: bool) {
        self.inner.keep_received = keep;
    }

    /// Deletes the received message at `index` of the profile's storage (the
    /// [`InboundPdu::slot`] of an [`Event::Received`]), after what is queued before it.
    /// A deletion that does not fit the queue (16) is dropped, as is an index of 32 768
    /// or more: the next listing hands the message up again.
    pub fn delete(&mut self, index: u16) {
        if index < CALLER_DELETE {
            let _ = self.inner.deletes.push_back(index | CALLER_DELETE);
        }
    }

    /// True once bring-up finished and until the next recovery.
    pub fn is_ready(&self) -> bool {
        self.inner.phase == Phase::Ready
    }

    /// True while a send is queued or in progress.
    pub fn is_sending(&self) -> bool {
        self.inner.outgoing.is_some()
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// Gives the port, power control and clock back.
    pub fn release(self) -> (S, P, C) {
        (self.inner.serial, self.inner.power, self.inner.clock)
    }
}

impl<S, P, C> Inner<S, P, C>
where
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
{
    /// Writes what the port takes; true if any byte went out.
    fn flush(&mut self) -> Result<bool, nb::Error<SerialError>> {
        let mut progress = false;
        while let Some(&byte) = self.tx.get(self.tx_sent) {
            match self.serial.write(byte) {
                Ok(()) => {
                    self.tx_sent += 1;
                    progress = true;
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => {
                    return Err(nb::Error::Other(SerialError(serial::Error::kind(&e))));
                }
            }
        }
        if self.tx_sent >= self.tx.len() {
            self.tx.clear();
            self.tx_sent = 0;
        }
        Ok(progress)
    }

    fn push(&mut self, event: Event) {
        // The queue is drained before each byte is read and before each timer step,
        // and one byte or step yields at most three events (SIM removed: Sim, the
        // aborted send's Sent, PowerCycling), so four places never overflow.
        let _ = self.events.push_back(event);
    }

    fn after(&self, delay: Millis) -> u64 {
        self.now.saturating_add(delay.as_u64())
    }

    fn issue<Cmd: Command>(&mut self, op: Op, cmd: Cmd) {
        self.issue_with(op, cmd.timeout(), cmd);
    }

    fn issue_with<Cmd: Command>(&mut self, op: Op, timeout: Millis, cmd: Cmd) {
        let mut line = CommandLine::new();
        // Every command we format fits COMMAND_LINE_CAPACITY; an overflow would only
        // send a truncated line, which the modem answers with ERROR.
        let _ = cmd.write(&mut line);
        let _ = self.tx.extend_from_slice(&line);
        debug!("modem> {=[u8]:a}", line.as_slice());
        self.claim = cmd.response();
        self.entry = None;
        self.inflight = Some(InFlight {
            op,
            deadline: self.after(timeout),
        });
    }

    /// Timers and the next command; true if anything changed.
    fn tick(&mut self) -> bool {
        if let Some(inflight) = self.inflight {
            if self.now >= inflight.deadline {
                self.on_timeout(inflight.op);
                return true;
            }
            return false;
        }
        if !self.tx.is_empty() || self.now < self.wake_at {
            return false;
        }
        self.next_action()
    }

    fn next_action(&mut self) -> bool {
        match self.phase {
            Phase::PowerOff => {
                self.power.power_on();
                self.booted_at = self.now;
                self.phase = Phase::Booting;
                self.wake_at = self.after(self.profile.boot_delay);
                true
            }
            Phase::Booting => {
                self.phase = Phase::Sync { tries: 0 };
                true
            }
            Phase::Sync { tries } => {
                if tries >= self.profile.sync_attempts {
                    self.power_cycle(Recovery::NoResponse);
                } else {
                    self.phase = Phase::Sync {
                        tries: tries.saturating_add(1),
                    };
                    let interval = self.profile.sync_interval;
                    if tries == ESC_PROBE {
                        self.probe_escape(interval);
                    } else {
                        self.issue_with(Op::Sync, interval, At);
                    }
                }
                true
            }
            Phase::Init(step) => {
                self.issue_step(step);
                true
            }
            Phase::Held => {
                self.power_cycle(Recovery::SimLost);
                true
            }
            Phase::Ready => self.ready_action(),
        }
    }

    fn issue_step(&mut self, step: Step) {
        let op = Op::Init(step);
        let storage = self.profile.storage;
        match step {
            Step::Echo => self.issue(op, Echo(false)),
            Step::Cmee => self.issue(op, Cmee(1)),
            Step::Cpin => {
                self.sim = None;
                self.issue(op, CpinRead)
            }
            Step::Pin => match self.pin {
                Some(pin) => {
                    self.pin_entries = self.pin_entries.saturating_add(1);
                    // The SIM starts up once unlocked: its notices are expected.
                    self.booted_at = self.now;
                    self.issue(op, EnterPin(pin))
                }
                None => {
                    self.phase = Phase::Init(Step::Cpin);
                    self.issue_step(Step::Cpin)
                }
            },
            Step::CregUrc => self.issue(
                op,
                RegistrationUrcs {
                    domain: Domain::Cs,
                    mode: 1,
                },
            ),
            Step::CeregUrc => self.issue(
                op,
                RegistrationUrcs {
                    domain: Domain::Eps,
                    mode: 1,
                },
            ),
            Step::Register => self.query_registration(Domain::Cs),
            Step::Cmgf => self.issue(op, Cmgf { text: false }),
            Step::Cpms => self.issue(
                op,
                Cpms {
                    read: storage,
                    write: storage,
                    receive: storage,
                },
            ),
            Step::Cnmi => self.issue(op, self.profile.cnmi),
            Step::Nitz => {
                let line = self.profile.nitz.unwrap_or(b"AT\r");
                self.issue(
                    op,
                    Raw {
                        line,
                        timeout: Millis(1000),
                    },
                )
            }
            Step::Cclk => self.issue(op, CclkRead),
            Step::Drain => self.issue(Op::List, Cmgl { stat: 4 }),
        }
    }

    fn query_registration(&mut self, domain: Domain) {
        self.reg_seen = None;
        self.issue(Op::Registration(domain), RegistrationRead(domain));
    }

    fn next_step(&self, step: Step) -> Option<Step> {
        let next = match step {
            Step::Echo => Step::Cmee,
            Step::Cmee => Step::Cpin,
            Step::Cpin => Step::CregUrc,
            Step::Pin => Step::Cpin,
            Step::CregUrc if self.profile.eps => Step::CeregUrc,
            Step::CregUrc | Step::CeregUrc => Step::Register,
            Step::Register => Step::Cmgf,
            Step::Cmgf => Step::Cpms,
            Step::Cpms => Step::Cnmi,
            Step::Cnmi if self.profile.nitz.is_some() => Step::Nitz,
            Step::Cnmi | Step::Nitz => Step::Cclk,
            Step::Cclk => Step::Drain,
            Step::Drain => return None,
        };
        Some(next)
    }

    fn advance(&mut self, step: Step) {
        self.retries = 0;
        self.wake_at = self.now;
        match self.next_step(step) {
            Some(Step::Register) => {
                self.reg_deadline = self.after(self.profile.registration_timeout);
                self.phase = Phase::Init(Step::Register);
            }
            Some(next) => self.phase = Phase::Init(next),
            None => {
                info!("modem: ready ({=str})", self.profile.name);
                self.phase = Phase::Ready;
                self.up = true;
                self.next_poll = self.after(self.poll_interval());
                self.next_clock = self.now.saturating_add(CLOCK_RESYNC_MS);
                self.push(Event::Ready);
            }
        }
    }

    fn retry_step(&mut self, step: Step) {
        self.retries = self.retries.saturating_add(1);
        if self.retries > STEP_RETRIES {
            self.power_cycle(Recovery::BringUpFailed);
        } else {
            self.phase = Phase::Init(step);
            self.wake_at = self.after(RETRY_DELAY);
        }
    }

    fn poll_interval(&self) -> Millis {
        // Without +CMTI routing, polling is the only way messages arrive: poll 4× as often.
        if self.cnmi_ok {
            self.profile.poll_interval
        } else {
            Millis(self.profile.poll_interval.0 / 4)
        }
    }

    fn registered(&self) -> bool {
        self.cs_registered || (self.profile.eps && self.eps_registered)
    }

    fn ready_action(&mut self) -> bool {
        if let Some(lost_at) = self.reg_lost_at {
            let budget = self.profile.registration_timeout.as_u64();
            if self.now.saturating_sub(lost_at) >= budget {
                self.power_cycle(Recovery::RegistrationLost);
                return true;
            }
        }
        if let Some(&index) = self.deletes.front() {
            // The caller's deletions are in the profile's storage: select it first.
            if index >= CALLER_DELETE && self.read_memory != self.profile.storage {
                self.select(self.profile.storage, None);
            } else {
                self.deletes.pop_front();
                let index = index & !CALLER_DELETE;
                self.issue(Op::Delete, Cmgd { index });
            }
            return true;
        }
        let chained = self.cmms_until > self.now;
        if chained && self.start_send() {
            return true;
        }
        if let Some((slot, stored)) = self.reads.pop_front() {
            if slot.memory == self.read_memory {
                self.issue(Op::Read(slot, stored), Cmgr { index: slot.index });
            } else {
                self.select(slot.memory, Some((slot, stored)));
            }
            return true;
        }
        if self.start_send() {
            return true;
        }
        if self.reg_lost_at.is_some() {
            self.query_registration(Domain::Cs);
            return true;
        }
        if self.list_requested || self.now >= self.next_poll {
            self.list_requested = false;
            self.next_poll = self.after(self.poll_interval());
            if self.read_memory == self.profile.storage {
                self.issue(Op::List, Cmgl { stat: 4 });
            } else {
                self.list_requested = true;
                self.select(self.profile.storage, None);
            }
            return true;
        }
        // Not between the segments of a message (`AT+CMMS` holds the link for them).
        if self.now >= self.next_clock && self.cmms_until <= self.now {
            self.next_clock = self.now.saturating_add(CLOCK_RESYNC_MS);
            self.issue(Op::Clock, CclkRead);
            return true;
        }
        false
    }

    fn select(&mut self, memory: Memory, then: Option<(Slot, Stored)>) {
        let storage = self.profile.storage;
        self.issue(
            Op::Select(then),
            Cpms {
                read: memory,
                write: storage,
                receive: storage,
            },
        );
    }

    fn start_send(&mut self) -> bool {
        if !self.registered() {
            return false;
        }
        let Some(out) = self.outgoing.as_mut() else {
            return false;
        };
        if out.started {
            return false;
        }
        out.started = true;
        let (more, length) = (out.more, out.pdu.tpdu_len());
        if more && self.cmms_ok && self.cmms_until <= self.now {
            self.issue(Op::Cmms, Cmms(1));
        } else {
            self.issue_cmgs(length);
        }
        true
    }

    fn issue_cmgs(&mut self, length: u8) {
        self.mr = None;
        let timeout = self.profile.prompt_timeout;
        self.issue_with(Op::Prompt, timeout, Cmgs { length });
    }

    fn write_body(&mut self) {
        let Some(out) = self.outgoing.as_ref() else {
            return;
        };
        for &b in out.pdu.bytes() {
            let _ = self.tx.push(pdu::hex_digit(b >> 4));
            let _ = self.tx.push(pdu::hex_digit(b));
        }
        let _ = self.tx.push(CTRL_Z);
    }

    /// A sync probe that is a lone ESC: it ends an SMS prompt left open, and a modem
    /// in command mode ignores it. Any final result proves the modem answers.
    fn probe_escape(&mut self, timeout: Millis) {
        let _ = self.tx.push(ESC);
        debug!("modem> <esc>");
        self.claim = None;
        self.entry = None;
        self.inflight = Some(InFlight {
            op: Op::Sync,
            deadline: self.after(timeout),
        });
    }

    fn escape(&mut self, after_body: bool) {
        self.tx.clear();
        self.tx_sent = 0;
        let _ = self.tx.push(ESC);
        self.inflight = Some(InFlight {
            op: Op::Escape { after_body },
            deadline: self.after(ESC_TIMEOUT),
        });
    }

    fn finish_send(&mut self, outcome: SendOutcome) {
        if self.outgoing.take().is_some() {
            // Not logged: the outcome reaches the host as an event, and formatting it
            // (every CMS/CME error name) cost the firmware 0.5 KiB of flash.
            self.push(Event::Sent(outcome));
        }
    }

    fn fail_send(&mut self, error: SendError) {
        self.finish_send(SendOutcome::Failed {
            error,
            class: error.class(),
        });
    }

    /// Ends a send interrupted by a reset or power cycle.
    fn abort_send(&mut self) {
        // The modem can only have sent the PDU once the Ctrl-Z ending it left the
        // transmit buffer (the body is written after the prompt, Ctrl-Z last).
        let after_body = match self.inflight.map(|i| i.op) {
            Some(Op::Submit) => self.tx.is_empty(),
            Some(Op::Escape { after_body }) => after_body,
            _ => false,
        };
        if after_body {
            self.finish_send(SendOutcome::Unknown);
        } else {
            self.fail_send(SendError::ModemReset);
        }
    }

    /// Drops everything in flight and queued that belongs to the old modem session.
    fn forget_session(&mut self) {
        self.abort_send();
        self.inflight = None;
        self.tx.clear();
        self.tx_sent = 0;
        self.parser_reset = true;
        self.claim = None;
        self.reads.clear();
        // Kept messages are listed again after bring-up; the caller deletes them then.
        self.deletes.clear();
        self.entry = None;
        self.inbound = None;
        self.suspects.clear();
        self.read_memory = self.profile.storage;
        self.cs_registered = false;
        self.eps_registered = false;
        self.reg_lost_at = None;
        self.cmms_until = 0;
        self.retries = 0;
    }

    fn power_cycle(&mut self, why: Recovery) {
        self.forget_session();
        warn!("modem: power cycle ({})", why);
        self.push(Event::PowerCycling(why));
        self.up = false;
        self.power.power_off();
        self.phase = Phase::PowerOff;
        self.wake_at = self.after(self.profile.power_off);
    }

    /// The modem restarted by itself: let it boot, then bring it up again.
    fn rebooted(&mut self) {
        self.forget_session();
        warn!("modem: restarted by itself");
        self.push(Event::Rebooted);
        self.booted_at = self.now;
        self.up = false;
        self.phase = Phase::Booting;
        self.wake_at = self.after(self.profile.boot_delay);
    }

    fn resync(&mut self) {
        warn!("modem: no answer, re-syncing");
        self.forget_session();
        self.phase = Phase::Sync { tries: 0 };
        self.wake_at = self.now;
    }

    fn on_timeout(&mut self, op: Op) {
        self.inflight = None;
        self.claim = None;
        match op {
            // The next probe goes out from next_action (tries counted there).
            Op::Sync => self.wake_at = self.now,
            // Old Wavecom firmware ends `+CPIN: READY` without `OK` (python-gsmmodem
            // fakemodems.py; docs/modems.md § Quirk 12): the complete line is enough.
            Op::Init(Step::Cpin) if self.sim == Some(SimState::Ready) => self.advance(Step::Cpin),
            Op::Prompt => self.escape(false),
            Op::Submit => self.escape(true),
            // ESC unanswered: end the send as ESC's OK would have, then re-sync.
            Op::Escape { after_body } => {
                self.escaped(after_body, Final::Error);
                self.resync();
            }
            Op::Init(_) | Op::Registration(_) | Op::Cmms | Op::Select(_) => self.resync(),
            Op::Read(..) | Op::Delete | Op::List | Op::Clock => self.resync(),
        }
    }

    fn on_event(&mut self, event: AtEvent<'_>) {
        match event {
            AtEvent::Echo(_) => {}
            AtEvent::Prompt => {
                if matches!(self.inflight, Some(InFlight { op: Op::Prompt, .. })) {
                    self.write_body();
                    self.inflight = Some(InFlight {
                        op: Op::Submit,
                        deadline: self.after(self.profile.submit_timeout),
                    });
                }
            }
            AtEvent::Response(line) => self.on_response(line),
            AtEvent::Final(result) => {
                if let Some(inflight) = self.inflight.take() {
                    self.claim = None;
                    self.on_final(inflight.op, result);
                }
            }
            AtEvent::Urc(urc) => self.on_urc(urc),
            // An overlong line where a PDU was due: a garbled PDU line.
            AtEvent::Overflow => self.on_pdu_line(b""),
        }
    }

    fn on_response(&mut self, line: &[u8]) {
        let Some(inflight) = self.inflight else {
            return;
        };
        match inflight.op {
            Op::Init(Step::Cpin) => self.sim = CpinRead::parse(line).or(self.sim),
            Op::Registration(domain) => {
                self.reg_seen = RegistrationRead(domain).parse(line).or(self.reg_seen)
            }
            Op::Init(Step::Cclk) | Op::Clock => {
                if let Some(clock) = CclkRead::parse(line) {
                    self.push(Event::NetworkTime(clock));
                }
            }
            Op::Submit | Op::Escape { after_body: true } => self.mr = Cmgs::parse(line).or(self.mr),
            Op::Read(slot, _) => {
                if let Some((_, length)) = Cmgr::parse(line) {
                    self.entry = Some((slot.index, MessageStatus::ReceivedUnread, length));
                } else if !pdu::looks_like_pdu(line) {
                    // An unknown vendor URC (`PB DONE`, `^RSSI:…`) between the header
                    // and its PDU line: not the PDU, keep waiting for it.
                } else {
                    self.on_pdu_line(line);
                }
            }
            Op::List => {
                if let Some(header) = Cmgl::parse(line) {
                    self.entry = Some(header);
                } else if !pdu::looks_like_pdu(line) {
                    // Not the PDU line (see Op::Read).
                } else {
                    self.on_pdu_line(line);
                }
            }
            _ => {}
        }
    }

    /// The line after a `+CMGR:`/`+CMGL:` header (empty for an overlong line).
    fn on_pdu_line(&mut self, hex: &[u8]) {
        let Some((index, stat, length)) = self.entry.take() else {
            return;
        };
        match self.inflight.map(|i| i.op) {
            Some(Op::Read(slot, _)) => self.inbound = Some(self.judge(slot, length, hex)),
            Some(Op::List) => self.listed(index, stat, length, hex),
            _ => {}
        }
    }

    /// Decodes a stored message's PDU line and decides whether to trust it.
    fn judge(&mut self, slot: Slot, length: u16, hex: &[u8]) -> Verdict {
        let pdu = InboundPdu::from_hex(Some(slot), length, hex);
        let seen = self.suspects.iter().position(|s| *s == slot);
        if let Some(i) = seen {
            self.suspects.swap_remove(i);
        }
        match pdu {
            Some(pdu) if pdu.length_matches() => Verdict::Good(pdu),
            pdu if seen.is_some() => Verdict::Bad(pdu),
            pdu => match self.suspects.push(slot) {
                Ok(()) => Verdict::Again,
                Err(_) => Verdict::Bad(pdu),
            },
        }
    }

    /// One `AT+CMGL` entry: hand up received messages and schedule their deletion.
    fn listed(&mut self, index: u16, stat: MessageStatus, length: u16, hex: &[u8]) {
        // Stored SUBMITs are not ours to hand up; a full delete queue means the entry
        // is handed up by the next listing instead (no duplicate, no loss).
        if !stat.is_received() {
            return;
        }
        if self.deletes.is_full() {
            self.list_requested = true;
            return;
        }
        let slot = Slot {
            memory: self.read_memory,
            index,
        };
        match self.judge(slot, length, hex) {
            Verdict::Good(pdu) | Verdict::Bad(Some(pdu)) => {
                self.push(Event::Received(pdu));
                if self.keep_received {
                    return;
                }
            }
            Verdict::Bad(None) => self.push(Event::Unreadable(Some(slot))),
            Verdict::Again => {
                self.list_requested = true;
                return;
            }
        }
        let _ = self.deletes.push_back(index);
    }

    fn on_final(&mut self, op: Op, result: Final) {
        match op {
            Op::Sync => {
                self.retries = 0;
                self.phase = Phase::Init(Step::Echo);
                self.wake_at = self.now;
            }
            Op::Init(step) => self.init_done(step, result),
            Op::Registration(domain) => self.registration_done(domain, result),
            Op::Cmms => {
                if result.is_ok() {
                    self.cmms_until = self.after(CMMS_HOLD);
                } else {
                    self.cmms_ok = false;
                }
                if let Some(length) = self.outgoing.as_ref().map(|o| o.pdu.tpdu_len()) {
                    self.issue_cmgs(length);
                }
            }
            // A final result instead of the prompt: refused before anything was sent.
            Op::Prompt => self.fail_send(SendError::from_final(result)),
            Op::Submit => self.submitted(result),
            Op::Escape { after_body } => self.escaped(after_body, result),
            Op::Select(then) => {
                if !result.is_ok() {
                    return;
                }
                if let Some((slot, stored)) = then {
                    self.read_memory = slot.memory;
                    self.issue(Op::Read(slot, stored), Cmgr { index: slot.index });
                } else {
                    self.read_memory = self.profile.storage;
                }
            }
            Op::Read(slot, stored) => {
                self.entry = None;
                match self.inbound.take() {
                    Some(Verdict::Good(pdu) | Verdict::Bad(Some(pdu))) if result.is_ok() => {
                        let kept = stored == Stored::Message
                            && self.keep_received
                            && slot.memory == self.profile.storage;
                        self.push(match stored {
                            Stored::Message => Event::Received(pdu),
                            Stored::StatusReport => Event::StatusReport(pdu),
                        });
                        if !kept {
                            let _ = self.deletes.push_front(slot.index);
                        }
                    }
                    Some(Verdict::Bad(None)) => {
                        self.push(Event::Unreadable(Some(slot)));
                        let _ = self.deletes.push_front(slot.index);
                    }
                    Some(Verdict::Again) => {
                        let _ = self.reads.push_front((slot, stored));
                    }
                    // Empty slot (`+CMS ERROR: 321`, or bare OK on old Quectel UC20).
                    _ => {}
                }
            }
            // A refused `AT+CCLK?` (no RTC): nothing to report; asked again later.
            Op::Delete | Op::Clock => {}
            Op::List => {
                self.entry = None;
                if self.phase == Phase::Init(Step::Drain) {
                    self.advance(Step::Drain);
                }
            }
        }
    }

    /// The answer to ESC. Before the body nothing was sent; after it, only a late
    /// `+CMGS: <mr>` proves the segment went out.
    fn escaped(&mut self, after_body: bool, result: Final) {
        match (after_body, self.mr) {
            (false, _) => self.fail_send(SendError::NoPrompt),
            (true, Some(mr)) if result.is_ok() => self.finish_send(SendOutcome::Accepted(mr)),
            (true, _) => self.finish_send(SendOutcome::Unknown),
        }
    }

    fn submitted(&mut self, result: Final) {
        let more = self.outgoing.as_ref().is_some_and(|o| o.more);
        match (result, self.mr) {
            (Final::Ok, Some(mr)) => {
                // Keep the chain only while the caller says more segments follow.
                self.cmms_until = if more && self.cmms_ok {
                    self.after(CMMS_HOLD)
                } else {
                    0
                };
                self.finish_send(SendOutcome::Accepted(mr));
            }
            // OK without +CMGS: accepted by the modem, but nothing to match reports by.
            (Final::Ok, None) => self.finish_send(SendOutcome::Unknown),
            (other, _) => {
                self.cmms_until = 0;
                self.fail_send(SendError::from_final(other));
            }
        }
    }

    fn init_done(&mut self, step: Step, result: Final) {
        match step {
            Step::Cpin => self.sim_checked(result),
            Step::Pin => self.pin_entered(result),
            // Optional steps: a modem without them still sends SMS.
            Step::CeregUrc | Step::Nitz | Step::Cclk => self.advance(step),
            Step::Cnmi => {
                self.cnmi_ok = result.is_ok();
                self.advance(step);
            }
            _ if result.is_ok() => self.advance(step),
            _ => self.retry_step(step),
        }
    }

    fn sim_checked(&mut self, result: Final) {
        let state = match result {
            Final::Ok => self.sim.unwrap_or(SimState::Other),
            Final::Cme(CmeError::SimNotInserted | CmeError::SimFailure) => SimState::NotInserted,
            Final::Cme(CmeError::SimPinRequired) => SimState::PinRequired,
            Final::Cme(CmeError::SimPukRequired) => SimState::PukRequired,
            // Busy (CME 14/515) and anything else: ask again shortly.
            _ => return self.retry_step(Step::Cpin),
        };
        if state == SimState::Ready {
            self.pin_entries = 0;
            self.advance(Step::Cpin);
        } else if state == SimState::PinRequired
            && self.pin.is_some()
            && self.pin_entries < PIN_ENTRIES
        {
            self.phase = Phase::Init(Step::Pin);
            self.wake_at = self.now;
        } else {
            let state = match (state, self.pin) {
                (SimState::PinRequired, Some(_)) => SimState::PinRejected,
                _ => state,
            };
            self.push(Event::Sim(state));
            self.phase = Phase::Held;
            self.wake_at = self.after(SIM_RETRY);
        }
    }

    /// The answer to `AT+CPIN="…"`: either way, `AT+CPIN?` tells what the SIM wants
    /// now (ready, the PIN again, or its PUK after someone else's wrong entries).
    fn pin_entered(&mut self, result: Final) {
        if result.is_ok() {
            info!("modem: SIM PIN accepted");
            self.advance(Step::Pin);
        } else {
            warn!("modem: SIM PIN refused");
            self.retries = 0;
            self.phase = Phase::Init(Step::Cpin);
            self.wake_at = self.after(RETRY_DELAY);
        }
    }

    fn registration_done(&mut self, domain: Domain, result: Final) {
        let status = if result.is_ok() { self.reg_seen } else { None };
        if let Some(status) = status {
            self.set_registration(domain, status);
        }
        let registered = self.registered();
        match self.phase {
            Phase::Init(Step::Register) => {
                if registered {
                    self.advance(Step::Register);
                } else if domain == Domain::Cs && self.profile.eps {
                    self.query_registration(Domain::Eps);
                } else if self.now >= self.reg_deadline {
                    self.power_cycle(Recovery::RegistrationLost);
                } else {
                    self.wake_at = self.after(REGISTRATION_POLL);
                }
            }
            Phase::Ready if !registered => {
                if domain == Domain::Cs && self.profile.eps {
                    self.query_registration(Domain::Eps);
                } else {
                    self.wake_at = self.after(REGISTRATION_POLL);
                }
            }
            _ => {}
        }
    }

    /// Records a registration status; reports changes; starts or stops the lost clock.
    fn set_registration(&mut self, domain: Domain, status: RegStatus) {
        let flag = match domain {
            Domain::Cs => &mut self.cs_registered,
            Domain::Eps => &mut self.eps_registered,
            Domain::Ps => return,
        };
        let was = *flag;
        *flag = status.is_registered();
        if was != *flag {
            self.push(Event::Registration { domain, status });
        }
        if self.phase != Phase::Ready {
            return;
        }
        if self.registered() {
            self.reg_lost_at = None;
        } else if self.reg_lost_at.is_none() {
            self.reg_lost_at = Some(self.now);
        }
    }

    /// Whether a start-up URC now belongs to the boot the driver knows about (module
    /// docs, "Restarts"): never once bring-up has completed since that boot.
    fn startup_expected(&self) -> bool {
        if self.up {
            return false;
        }
        matches!(self.phase, Phase::PowerOff | Phase::Booting)
            || self.now.saturating_sub(self.booted_at) < self.profile.boot_window.as_u64()
    }

    fn on_urc(&mut self, urc: Urc<'_>) {
        match urc {
            Urc::MessageStored(slot) => {
                // A full read queue: the next listing picks the message up.
                self.list_requested |= self.reads.push_back((slot, Stored::Message)).is_err();
            }
            Urc::StatusReportStored(slot) => {
                self.list_requested |= self.reads.push_back((slot, Stored::StatusReport)).is_err();
            }
            Urc::Message { length, payload } => {
                self.push(match InboundPdu::from_hex(None, length, payload) {
                    Some(pdu) => Event::Received(pdu),
                    None => Event::Unreadable(None),
                });
            }
            Urc::StatusReport { length, payload } => {
                self.push(match InboundPdu::from_hex(None, length, payload) {
                    Some(pdu) => Event::StatusReport(pdu),
                    None => Event::Unreadable(None),
                });
            }
            Urc::Registration { domain, status } if self.phase == Phase::Ready => {
                self.set_registration(domain, status);
            }
            Urc::Sim(SimState::NotInserted) => {
                self.push(Event::Sim(SimState::NotInserted));
                if !matches!(self.phase, Phase::PowerOff | Phase::Booting) {
                    self.power_cycle(Recovery::SimLost);
                }
            }
            // Start-up notices; a SIM asking for its PIN (or PUK) is one too: a SIM is
            // only locked again after it restarted.
            Urc::Sim(SimState::Ready | SimState::PinRequired | SimState::PukRequired)
            | Urc::Ready
            | Urc::CallReady
            | Urc::SmsReady
            | Urc::Functionality(_)
                if !self.startup_expected() =>
            {
                self.rebooted();
            }
            // This boot's own: bring-up's `AT+CPIN?` reports what the SIM wants.
            Urc::Sim(SimState::Ready | SimState::PinRequired | SimState::PukRequired) => {}
            Urc::Sim(state) => self.push(Event::Sim(state)),
            Urc::PowerDown | Urc::SupplyPowerDown if self.phase != Phase::PowerOff => {
                self.power_cycle(Recovery::PoweredDown);
            }
            Urc::SupplyWarning => self.push(Event::SupplyWarning),
            _ => {}
        }
    }
}
