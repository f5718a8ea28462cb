//! The messages of the host ↔ device link: jobs and settings from the host, events and
//! status from the device.
//!
//! Every type is bounded (heapless strings, fixed fields), so the largest encoded
//! message is known at compile time: [`MAX_MESSAGE`] bytes of postcard, which sizes
//! the frame buffers at both ends ([`MAX_FRAME`]).
//!
//! The conversation:
//!
//! 1. The host opens a session ([`super::session`]) and sends [`HostMsg::Hello`] with
//!    its protocol version and the time. The device answers [`DeviceMsg::Hello`]: its
//!    protocol, firmware version, [`BootId`] (a new one after every reboot, so the host
//!    notices), [`Capabilities`] and free job slots (credits). A device that does not
//!    speak the host's protocol answers [`DeviceMsg::Error`] with
//!    [`LinkError::Version`] and takes no jobs.
//! 2. The host sends [`HostMsg::Submit`] while the device has credits. Each job carries
//!    a [`JobKey`]: the device never sends the same key twice, even when the job is
//!    retransmitted, replayed after a re-sync, or submitted again after a reboot.
//! 3. The device reports every state change as a numbered [`Event`] (an [`EventId`]
//!    that keeps counting across reboots). Events stay in the device's outbox (flash)
//!    until the host acknowledges them with [`HostMsg::AckEvents`] after storing them;
//!    after a re-sync they are sent again, and the host drops the ids it already has.
//! 4. A message the receiver cannot decode (a newer peer) is acknowledged and answered
//!    with [`LinkError::UnknownMessage`]: it never stalls the session
//!    (see [`peek_header`]).

use heapless::String;
use serde::{Deserialize, Serialize};

use super::frame;
use super::session::{Body, Envelope, Seq, SessionId};
use crate::at::command::general::SimPin;
use crate::compliance::decision::{
    CategorySet, Class, ConsentStatus, Contact, Message, SenderIdentity, SenderKind, ShortCode,
};
use crate::compliance::number::Msisdn;
use crate::compliance::packs::{DayWindow, FrProfile};
use crate::compliance::tz::{UtcInstant, Zone};

/// Version of this message set. A device answers a host of another version with
/// [`LinkError::Version`].
pub const PROTOCOL: u16 = 2;

/// Longest job or inbound text, in UTF-8 bytes: three full GSM 7-bit segments of
/// accented Latin text, or a bit more than two UCS-2 segments of 3-byte characters.
pub const MAX_TEXT: usize = 640;
/// Longest brand name, in bytes.
pub const MAX_BRAND: usize = 16;
/// Longest alphanumeric sender (TS 23.040 §9.1.2.5 allows 11 GSM characters).
pub const MAX_ALPHA: usize = 11;
/// Longest rule id (`us.fl.marketing.window` style), in bytes.
pub const MAX_RULE: usize = 40;
/// Longest originator address of an inbound message (digits with `+`, or alphanumeric).
pub const MAX_ADDRESS: usize = 20;
/// Longest short label (firmware version, pack version, operator name, keyword).
pub const MAX_LABEL: usize = 16;

/// Upper bound of the postcard encoding of any [`Envelope`] of a [`HostMsg`] or a
/// [`DeviceMsg`]: the largest is a job or an inbound message with a full text
/// (checked by the tests against maximal values).
pub const MAX_MESSAGE: usize = 800;
/// Frame buffer that holds any message of this protocol (terminating zero excluded).
pub const MAX_FRAME: usize = frame::frame_capacity(MAX_MESSAGE);

/// A job's idempotency key, chosen by the host (its job id): the device sends a key
/// at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct JobKey(pub u64);

/// Number of a device event; increases by one per event and survives reboots.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventId(pub u32);

/// Names one device store's event numbering. [`EventId`]s start again at 0 when a
/// device's store starts empty (fresh flash, a new state file for `relais direct`); the
/// epoch tells the host that ids it has seen belong to another store, so it neither
/// drops the new events as replays nor acknowledges them unseen.
///
/// The host proposes one in every [`HostHello`]; a store that has none (0) adopts it
/// and keeps it for good, and the device reports its own in [`DeviceHello`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventEpoch(pub u32);

impl EventEpoch {
    /// A store that has not adopted an epoch yet.
    pub const NONE: EventEpoch = EventEpoch(0);
}

/// Identifies one run of the firmware: a new value after every reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BootId(pub u32);

/// A brand in 32 bits, for the device's suppression list: FNV-1a of the brand name.
/// Both ends compute it with [`BrandId::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BrandId(pub u32);

impl BrandId {
    /// The id of the brand called `name` (FNV-1a, 32 bits).
    pub const fn of(name: &str) -> BrandId {
        let bytes = name.as_bytes();
        let mut hash: u32 = 0x811c_9dc5;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u32;
            hash = hash.wrapping_mul(0x0100_0193);
            i += 1;
        }
        BrandId(hash)
    }
}

/// Whom an opt-out covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scope {
    /// One brand.
    Brand(BrandId),
    /// Every brand (STOPALL).
    All,
}

/// A brand name.
pub type Brand = String<MAX_BRAND>;
/// A job or inbound text.
pub type Text = String<MAX_TEXT>;
/// A compliance rule id.
pub type RuleId = String<MAX_RULE>;
/// A short label.
pub type Label = String<MAX_LABEL>;

/// Copies `text` into a bounded string, cutting at the last character that fits.
pub fn bounded<const N: usize>(text: &str) -> String<N> {
    let mut out = String::new();
    // Cannot fail: the prefix has at most N bytes.
    let _ = out.push_str(prefix_within(text, N));
    out
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character
/// boundary (one copy of the loop for every [`bounded`] capacity).
fn prefix_within(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// What the recipient sees as the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sender {
    /// The SIM's own number.
    LongNumber(Msisdn),
    /// A short code (3 to 8 digits).
    ShortCode(u32),
    /// An alphanumeric name.
    Alpha(String<MAX_ALPHA>),
}

/// A sender identity as the compliance core sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Identity {
    /// What the recipient sees.
    pub sender: Sender,
    /// Declared registered (10DLC, DLT, ...).
    pub registered: bool,
    /// The brand it sends for.
    pub brand: Brand,
    /// The short code recipients can answer STOP to (FR alphanumeric senders).
    pub stop_code: Option<u32>,
}

impl Identity {
    /// The identity for [`crate::compliance::decision::evaluate`]; `None` when a short
    /// code is out of range.
    pub fn to_compliance(&self) -> Option<SenderIdentity<'_>> {
        let kind = match &self.sender {
            Sender::LongNumber(n) => SenderKind::LongNumber(*n),
            Sender::ShortCode(c) => SenderKind::ShortCode(ShortCode::new(*c)?),
            Sender::Alpha(a) => SenderKind::Alpha(a.as_str()),
        };
        let stop_code = match self.stop_code {
            Some(c) => Some(ShortCode::new(c)?),
            None => None,
        };
        Some(SenderIdentity {
            kind,
            registered: self.registered,
            brand: self.brand.as_str(),
            stop_code,
        })
    }
}

/// One SMS to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Job {
    /// Idempotency key.
    pub key: JobKey,
    /// Recipient.
    pub to: Msisdn,
    /// The text as written (the device appends the opt-out mention when the pack
    /// requires it and the settings allow).
    pub text: Text,
    /// Declared class.
    pub class: Class,
    /// Content categories.
    pub categories: CategorySet,
    /// Who sends it.
    pub identity: Identity,
    /// The recipient's recorded consent for the brand.
    pub consent: ConsentStatus,
    /// French department of the recipient, when known (Alsace-Moselle holidays).
    pub fr_department: Option<u8>,
    /// The recipient's verified time zone, when known: it overrides the zones guessed
    /// from the number (a +1 212 number whose owner lives in Los Angeles).
    pub zone: Option<Zone>,
    /// Not before this instant.
    pub not_before: Option<UtcInstant>,
    /// Give up (report expired) if not sent by this instant.
    pub expires: Option<UtcInstant>,
    /// Ask the network for delivery reports.
    pub report: bool,
}

impl Job {
    /// The message for the compliance core.
    pub fn message(&self) -> Message<'_> {
        Message {
            text: self.text.as_str(),
            class: self.class,
            categories: self.categories,
        }
    }

    /// The recipient for the compliance core. The host's pre-check and the device's
    /// gate both judge with this, so they decide from the same inputs.
    pub fn contact(&self) -> Contact {
        Contact {
            number: self.to,
            zone: self.zone,
            fr_department: self.fr_department,
        }
    }
}

/// Per-SIM sending pace: operators block SIMs that send too fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pacing {
    /// Segments per rolling minute (0 = no cap).
    pub per_minute: u16,
    /// Segments per rolling hour (0 = no cap).
    pub per_hour: u16,
    /// Segments per rolling day (0 = no cap).
    pub per_day: u16,
    /// Least time between two segments, in milliseconds.
    pub min_gap_ms: u32,
    /// Random extra wait added to each gap, up to this many milliseconds.
    pub jitter_ms: u32,
}

impl Default for Pacing {
    /// 6 per minute, 200 per hour, 1000 per day, 3 s apart with up to 2 s of jitter:
    /// below the thresholds at which operators commonly flag a consumer SIM.
    fn default() -> Self {
        Pacing {
            per_minute: 6,
            per_hour: 200,
            per_day: 1000,
            min_gap_ms: 3_000,
            jitter_ms: 2_000,
        }
    }
}

/// The deployment's choices the device applies: every rule option of the host's
/// `[rules]` (the host pre-checks with [`Settings::options`] of the same value), the
/// pace, and the SIM PIN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Settings {
    /// French profile.
    pub fr_profile: FrProfile,
    /// Append a missing opt-out mention (else refuse).
    pub append_opt_out: bool,
    /// Block marketing on public holidays in every pack with a calendar.
    pub holidays_everywhere: bool,
    /// Alsace-Moselle holidays for every French number.
    pub alsace_moselle_everywhere: bool,
    /// Categories refused everywhere.
    pub banned_categories: CategorySet,
    /// Farthest deferral, in days; beyond it a job is refused.
    pub horizon_days: u16,
    /// The house marketing window for countries whose pack has no hours rule.
    pub house_window: heapless::Vec<DayWindow, 4>,
    /// Send the confirmation replies the packs require after STOP / START.
    pub confirm_keywords: bool,
    /// Sending pace.
    pub pacing: Pacing,
    /// The PIN to enter when the SIM asks for one (`None`: the SIM must not need one).
    pub sim_pin: Option<SimPin>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fr_profile: FrProfile::Af2m,
            append_opt_out: true,
            holidays_everywhere: false,
            alsace_moselle_everywhere: false,
            banned_categories: CategorySet::EMPTY,
            horizon_days: 400,
            house_window: heapless::Vec::new(),
            confirm_keywords: true,
            pacing: Pacing::default(),
            sim_pin: None,
        }
    }
}

impl Settings {
    /// The compliance options these settings select.
    pub fn options(&self) -> crate::compliance::decision::Options {
        crate::compliance::decision::Options {
            fr_profile: self.fr_profile,
            alsace_moselle_everywhere: self.alsace_moselle_everywhere,
            append_opt_out: self.append_opt_out,
            holidays_everywhere: self.holidays_everywhere,
            house_window: self.house_window.clone(),
            banned_categories: self.banned_categories,
            horizon_days: self.horizon_days,
        }
    }
}

/// A change to the device's suppression (opt-out) list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SuppressionOp {
    /// Add an opt-out.
    Add(Msisdn, Scope),
    /// Remove an opt-out because the recipient opted in again (START, or an opt-out
    /// removed by hand), as recorded in the host's store. A device that holds an opt-out
    /// event from that number which the host has not acknowledged yet keeps the entry:
    /// that STOP came after what the host knows.
    Remove(Msisdn, Scope),
    /// Ask for [`DeviceMsg::Suppression`]: the count and digest of the list, which the
    /// host compares with its own ([`digest_entry`]) to decide whether to send the
    /// entries it has and the device may lack.
    ///
    /// There is no way to empty the list from the link: it only ever grows, except by
    /// an opt-in.
    Digest,
}

/// One entry's contribution to the suppression digest; the digest of a list is the
/// wrapping sum over its entries, so it does not depend on order.
pub fn digest_entry(number: &Msisdn, scope: Scope) -> u64 {
    // FNV-1a 64 over value, length and scope.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for b in number.value().to_le_bytes() {
        eat(b);
    }
    eat(number.len() as u8);
    match scope {
        Scope::Brand(BrandId(id)) => {
            eat(1);
            for b in id.to_le_bytes() {
                eat(b);
            }
        }
        Scope::All => eat(2),
    }
    hash
}

/// The host's opening message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HostHello {
    /// The host's [`PROTOCOL`].
    pub protocol: u16,
    /// The host's clock, for a device without network time.
    pub time: UtcInstant,
    /// A fresh epoch the device's store adopts if it has none yet (never 0).
    pub epoch: EventEpoch,
}

/// Host → device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
// Messages are handled one at a time and never stored in arrays of mixed sizes: the
// size of the largest variant is the budget anyway.
#[allow(clippy::large_enum_variant)]
pub enum HostMsg {
    /// Handshake.
    Hello(HostHello),
    /// Take a job.
    Submit(Job),
    /// Drop a job not yet sent (a job whose sending started finishes).
    Cancel(JobKey),
    /// Change the suppression list.
    Suppression(SuppressionOp),
    /// Apply settings.
    Configure(Settings),
    /// The host stored every event of this epoch up to and including this id: drop
    /// them. A device whose store has another epoch ignores it.
    AckEvents(EventEpoch, EventId),
    /// Send [`DeviceMsg::Status`].
    Status,
}

/// What a device can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capabilities {
    /// Jobs it holds at once.
    pub job_slots: u8,
    /// Opt-outs it stores.
    pub suppression_capacity: u32,
    /// Longest text it takes ([`MAX_TEXT`] of its build).
    pub max_text: u16,
    /// Version of the compiled-in rule packs.
    pub packs: Label,
    /// The modem profile in use.
    pub modem: Label,
}

/// The device's answer to [`HostMsg::Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceHello {
    /// The device's [`PROTOCOL`].
    pub protocol: u16,
    /// Firmware version.
    pub firmware: Label,
    /// This run of the firmware.
    pub boot: BootId,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Free job slots now.
    pub credits: u8,
    /// The next event id it will assign (events below it may still be in the outbox).
    pub next_event: EventId,
    /// Its store's event numbering ([`EventEpoch::NONE`] if it could not keep one).
    pub epoch: EventEpoch,
    /// Events in its outbox at this handshake (the last of them is `next_event` − 1):
    /// the host stores them before it changes the suppression list or sends new jobs.
    pub outbox: u16,
}

/// Why the device will not send a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefusalCode {
    /// The number has no known calling code.
    UnknownNumber,
    /// No rule pack for the recipient's country (marketing fails closed).
    NoPack,
    /// The recipient opted out.
    OptedOut,
    /// A content category the pack or the settings refuse.
    Category,
    /// The sender kind may not carry this class.
    Sender,
    /// No recorded consent.
    NoConsent,
    /// Opt-out mention missing and appending is off.
    MissingOptOut,
    /// An FR alphanumeric sender without a STOP short code.
    NoStopCode,
    /// More segments than allowed.
    TooManySegments,
    /// The text cannot be sent (too long, or not encodable).
    TextTooLong,
    /// Holiday data missing for the year (fail closed).
    CalendarMissing,
    /// Recipient time zone unknown while a time rule applies.
    ZoneUnknown,
    /// No allowed instant within the horizon.
    NoOpenSlot,
    /// The job's identity is invalid (short code out of range).
    BadIdentity,
}

/// A refusal and the rule behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Refusal {
    /// Why.
    pub code: RefusalCode,
    /// The deciding rule's id.
    pub rule: RuleId,
}

/// What went wrong with a segment the modem did not send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendFailure {
    /// `+CMS ERROR: n`.
    Cms(u16),
    /// `+CME ERROR: n`.
    Cme(u16),
    /// Plain `ERROR`.
    Rejected,
    /// No `> ` prompt.
    NoPrompt,
    /// The modem reset before the PDU went out.
    ModemReset,
    /// The job expired before it could be sent.
    Expired,
    /// The host cancelled it.
    Cancelled,
    /// Temporary failures went on for too long.
    RetriesExhausted,
}

/// Network status of a message, rolled up over its segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delivery {
    /// Every segment was delivered.
    Delivered,
    /// A segment failed for good (TP-ST 0x40–0x7F).
    Failed,
    /// A segment's delivery stopped being retried by the SC (TP-ST 0x60–0x6F family)
    /// or is still pending past the report's end.
    Expired,
}

/// An inbound keyword's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeywordKind {
    /// STOP and friends: suppressed at once.
    OptOut,
    /// START and friends: suppression removed.
    OptIn,
    /// HELP / AIDE.
    Help,
    /// Looks like an opt-out but is not certain (the host decides; not suppressed).
    PossibleOptOut,
}

/// A device event; each is numbered ([`EventId`]) and kept until the host acknowledges it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
// Messages are handled one at a time and never stored in arrays of mixed sizes: the
// size of the largest variant is the budget anyway.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// The job is in a slot.
    Accepted(JobKey),
    /// A job already known under this key arrived again; nothing new happens.
    Duplicate(JobKey),
    /// The job will not be sent.
    Refused {
        /// Which job.
        key: JobKey,
        /// Why.
        refusal: Refusal,
    },
    /// The job waits until `until` (a time rule, pacing, or `not_before`).
    Deferred {
        /// Which job.
        key: JobKey,
        /// Earliest instant it may go.
        until: UtcInstant,
        /// The deciding rule's id (`pacing` or `not-before` when not a compliance rule).
        rule: RuleId,
    },
    /// The network accepted segment `part` (1-based) of `parts`.
    SegmentSent {
        /// Which job.
        key: JobKey,
        /// Segment number, from 1.
        part: u8,
        /// Segments in the message.
        parts: u8,
        /// TP-MR the network gave it.
        mr: u8,
    },
    /// Every segment was accepted by the network.
    Sent {
        /// Which job.
        key: JobKey,
        /// Segments sent.
        parts: u8,
    },
    /// The job failed at segment `part`; later segments were not sent.
    Failed {
        /// Which job.
        key: JobKey,
        /// Failing segment, from 1.
        part: u8,
        /// What the modem said.
        error: SendFailure,
        /// True when sending it again cannot succeed.
        permanent: bool,
    },
    /// Segment `part` may or may not have been sent (no answer, reboot or power cut
    /// mid-send). Never resent.
    Unknown {
        /// Which job.
        key: JobKey,
        /// The segment in doubt, from 1.
        part: u8,
    },
    /// Delivery reports for the whole message came in.
    Delivery {
        /// Which job.
        key: JobKey,
        /// The rolled-up result.
        status: Delivery,
        /// TP-ST of the deciding report (the last one, or the first failure).
        st: u8,
        /// Discharge time of the deciding report.
        at: UtcInstant,
    },
    /// An inbound SMS (reassembled when concatenated).
    Inbound {
        /// The sender (`+` and digits, or alphanumeric).
        from: String<MAX_ADDRESS>,
        /// The text, cut at [`MAX_TEXT`] bytes.
        text: Text,
        /// Service-centre time stamp.
        at: UtcInstant,
        /// True when the text is not the whole message: cut at [`MAX_TEXT`], or what
        /// arrived of a concatenated message whose other parts never came (the device
        /// stops waiting when they are an hour late or a newer message needs the room).
        truncated: bool,
    },
    /// An inbound keyword was recognised and acted on.
    Keyword {
        /// The sender.
        from: Msisdn,
        /// What it means.
        kind: KeywordKind,
        /// The keyword matched, normalised.
        keyword: Label,
        /// The matching tier (docs/compliance.md § Normalisation and matching; 1 = exact).
        tier: u8,
        /// The suppression scope added or removed, for opt-out and opt-in.
        scope: Option<Scope>,
        /// True when a confirmation reply was queued.
        confirmed: bool,
    },
    /// The device gave the job back unsent: a time rule (or `not_before`) holds it
    /// longer than the device keeps a slot waiting, and a slot kept would block other
    /// jobs. Nothing was sent under this key and nothing will be: the key is finished on
    /// the device (submitted again, it is answered [`Event::Duplicate`]). The host keeps
    /// the job until `until` and submits it again under a new key.
    Released {
        /// Which job.
        key: JobKey,
        /// Earliest instant it may go.
        until: UtcInstant,
        /// The deciding rule's id.
        rule: RuleId,
    },
    /// A delivery report that matches no job the device remembers: none was sent under
    /// its TP-MR to its recipient within the time its TP-SCTS allows (docs/link.md,
    /// "Delivery reports"). Reported so that the host keeps it, unattributed.
    UnmatchedReport {
        /// TP-RA as the SC wrote it (`+` and digits, national digits, or a name).
        to: String<MAX_ADDRESS>,
        /// TP-MR.
        mr: u8,
        /// TP-ST (TS 23.040 §9.2.3.15).
        st: u8,
        /// TP-SCTS: when the SC received the SMS-SUBMIT the report is about.
        submitted: UtcInstant,
        /// TP-DT: when that status was reached.
        at: UtcInstant,
    },
}

/// Variant index of [`Event::Keyword`] in the postcard encoding (checked by a test).
const KEYWORD_TAG: u32 = 10;

impl Event {
    /// The sender and kind of an [`Event::Keyword`], read from the postcard bytes of an
    /// `(EventId, Event)` as the device's outbox keeps them, without decoding the whole
    /// event (whose decoder is large: the device only needs this). `None` for any
    /// other event or bytes that do not decode.
    pub fn keyword_in(stored: &[u8]) -> Option<(Msisdn, KeywordKind)> {
        let (_, rest) = postcard::take_from_bytes::<EventId>(stored).ok()?;
        let (tag, rest) = postcard::take_from_bytes::<u32>(rest).ok()?;
        if tag != KEYWORD_TAG {
            return None;
        }
        let (from, rest) = postcard::take_from_bytes::<Msisdn>(rest).ok()?;
        let (kind, _) = postcard::take_from_bytes::<KeywordKind>(rest).ok()?;
        Some((from, kind))
    }

    /// The job the event is about, if any.
    pub fn job(&self) -> Option<JobKey> {
        match self {
            Event::Accepted(k) | Event::Duplicate(k) => Some(*k),
            Event::Refused { key, .. }
            | Event::Deferred { key, .. }
            | Event::SegmentSent { key, .. }
            | Event::Sent { key, .. }
            | Event::Failed { key, .. }
            | Event::Unknown { key, .. }
            | Event::Delivery { key, .. }
            | Event::Released { key, .. } => Some(*key),
            Event::Inbound { .. } | Event::Keyword { .. } | Event::UnmatchedReport { .. } => None,
        }
    }

    /// True for the last event of a job's key: refused, sent (delivery may follow),
    /// failed, unknown, released.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Event::Refused { .. }
                | Event::Sent { .. }
                | Event::Failed { .. }
                | Event::Unknown { .. }
                | Event::Released { .. }
        )
    }
}

/// Registration as the modem reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Registration {
    /// Not registered, not searching.
    None,
    /// Registered, home network.
    Home,
    /// Searching.
    Searching,
    /// Registration denied.
    Denied,
    /// Registered, roaming.
    Roaming,
    /// Unknown.
    Unknown,
}

/// Device, modem and SIM status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModemStatus {
    /// Bring-up finished and sending is possible.
    pub ready: bool,
    /// Network registration.
    pub registration: Registration,
    /// SIM usable.
    pub sim_ready: bool,
    /// Power cycles since boot.
    pub power_cycles: u16,
    /// Time source the device uses: network time from the modem.
    pub network_time: bool,
    /// Set when the device stopped taking jobs on its own, and why.
    pub halted: Option<Halt>,
}

/// Why a device stopped sending until it restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Halt {
    /// Its store was full when it recorded a send.
    StoreFull,
    /// Its flash failed (read, write or erase error) when it recorded a send.
    StoreMedium,
    /// Its store held bytes it could not decode when it recorded a send.
    StoreCorrupt,
}

impl Halt {
    /// A short name (`store-full`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Halt::StoreFull => "store-full",
            Halt::StoreMedium => "store-medium",
            Halt::StoreCorrupt => "store-corrupt",
        }
    }
}

/// Running totals since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Jobs accepted.
    pub accepted: u32,
    /// Segments the network accepted.
    pub segments_sent: u32,
    /// Jobs refused.
    pub refused: u32,
    /// Deferrals issued.
    pub deferred: u32,
    /// Jobs failed.
    pub failed: u32,
    /// Segments with an unknown outcome.
    pub unknown: u32,
    /// Inbound messages.
    pub inbound: u32,
    /// Opt-outs acted on.
    pub opt_outs: u32,
    /// Frames dropped by the link (checksum, COBS, oversize).
    pub bad_frames: u32,
}

/// Why the device could not handle a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkError {
    /// The host speaks another protocol version; the device speaks `supported`.
    Version {
        /// The device's protocol.
        supported: u16,
    },
    /// Message `seq` could not be decoded (a newer peer?); it was acknowledged and
    /// ignored.
    UnknownMessage {
        /// Its sequence number.
        seq: Seq,
    },
    /// A job arrived with no free slot (the host ignored credits).
    NoCredit(JobKey),
    /// A job arrived before the handshake.
    NotReady,
    /// The device's storage failed; the message was not applied.
    Storage,
}

/// Device → host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
// Messages are handled one at a time and never stored in arrays of mixed sizes: the
// size of the largest variant is the budget anyway.
#[allow(clippy::large_enum_variant)]
pub enum DeviceMsg {
    /// Handshake answer.
    Hello(DeviceHello),
    /// A numbered event (kept until [`HostMsg::AckEvents`]).
    Event(EventId, Event),
    /// Free job slots changed.
    Credits(u8),
    /// Answer to [`HostMsg::Status`], and sent when the modem status changes.
    Status(ModemStatus, Counters),
    /// Suppression list size and digest (answer to [`SuppressionOp::Digest`]).
    Suppression {
        /// Entries.
        count: u32,
        /// Wrapping sum of [`digest_entry`] over the entries.
        digest: u64,
    },
    /// A message could not be handled.
    Error(LinkError),
}

/// The parts of a frame that can be read whatever message it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Session of the frame.
    pub session: SessionId,
    /// Its acknowledgement.
    pub ack: Seq,
    /// The sequence number when the frame carries a message.
    pub data: Option<Seq>,
}

/// Reads the header of a frame's payload (the postcard bytes checked by the frame
/// layer) without decoding its message, for a frame whose message is of an unknown
/// kind. The session can then take it as `Envelope<()>` so it is acknowledged.
pub fn peek_header(payload: &[u8]) -> Option<Header> {
    let ((session, ack, tag), rest) =
        postcard::take_from_bytes::<(SessionId, Seq, u32)>(payload).ok()?;
    // Body::Data is the first variant of `Body`.
    let data = if tag == 0 {
        Some(postcard::take_from_bytes::<Seq>(rest).ok()?.0)
    } else {
        None
    };
    Some(Header { session, ack, data })
}

impl Header {
    /// The envelope the session needs to acknowledge a message it cannot read.
    pub fn envelope(&self) -> Option<Envelope<()>> {
        Some(Envelope {
            session: self.session,
            ack: self.ack,
            body: Body::Data {
                seq: self.data?,
                msg: (),
            },
        })
    }
}

/// Maps a compliance refusal to its wire code.
pub fn refusal_code(reason: &crate::compliance::decision::Reason) -> RefusalCode {
    use crate::compliance::decision::Reason as R;
    match reason {
        R::UnknownNumber => RefusalCode::UnknownNumber,
        R::NoPack(_) => RefusalCode::NoPack,
        R::OptedOut(_) => RefusalCode::OptedOut,
        R::Category(_) => RefusalCode::Category,
        R::Sender(..) => RefusalCode::Sender,
        R::NoConsent => RefusalCode::NoConsent,
        R::MissingOptOut => RefusalCode::MissingOptOut,
        R::NoStopCode => RefusalCode::NoStopCode,
        R::TooManySegments { .. } => RefusalCode::TooManySegments,
        R::TextTooLong => RefusalCode::TextTooLong,
        R::CalendarMissing(_) => RefusalCode::CalendarMissing,
        R::ZoneUnknown => RefusalCode::ZoneUnknown,
        R::NoOpenSlot(_) => RefusalCode::NoOpenSlot,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::link::frame::{Feed, FrameDecoder, encode};
    use crate::link::session::{Config, Role, Session};

    fn to_vec<T: Serialize>(value: &T) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 2048];
        postcard::to_slice(value, &mut buf).unwrap().to_vec()
    }

    fn full<const N: usize>(c: char) -> String<N> {
        let mut s = String::new();
        while s.push(c).is_ok() {}
        s
    }

    fn max_number() -> Msisdn {
        Msisdn::parse("+999999999999999").unwrap()
    }

    fn max_job() -> Job {
        Job {
            key: JobKey(u64::MAX),
            to: max_number(),
            text: full('é'),
            class: Class::Conversational,
            categories: CategorySet::EMPTY,
            identity: Identity {
                sender: Sender::Alpha(full('W')),
                registered: true,
                brand: full('b'),
                stop_code: Some(99_999_999),
            },
            consent: ConsentStatus::ExistingCustomer,
            fr_department: Some(255),
            zone: Zone::ALL.last().copied(),
            not_before: Some(UtcInstant(i64::MIN)),
            expires: Some(UtcInstant(i64::MAX)),
            report: true,
        }
    }

    fn envelope<M>(msg: M) -> Envelope<M> {
        Envelope {
            session: SessionId(u32::MAX),
            ack: Seq(u16::MAX),
            body: Body::Data {
                seq: Seq(u16::MAX),
                msg,
            },
        }
    }

    fn encoded_len<M: Serialize>(msg: M) -> usize {
        to_vec(&envelope(msg)).len()
    }

    #[test]
    fn a_keyword_is_read_from_stored_bytes_and_nothing_else_is() {
        let from = Msisdn::parse("+33612345678").unwrap();
        let keyword = Event::Keyword {
            from,
            kind: KeywordKind::OptOut,
            keyword: bounded("STOP"),
            tier: 1,
            scope: Some(Scope::All),
            confirmed: true,
        };
        let stored = to_vec(&(EventId(41), keyword));
        assert_eq!(
            Event::keyword_in(&stored),
            Some((from, KeywordKind::OptOut))
        );
        for other in [
            Event::Accepted(JobKey(7)),
            Event::Inbound {
                from: bounded("+33612345678"),
                text: bounded("STOP"),
                at: UtcInstant(0),
                truncated: false,
            },
        ] {
            assert_eq!(Event::keyword_in(&to_vec(&(EventId(41), other))), None);
        }
        assert_eq!(Event::keyword_in(&stored[..3]), None);
    }

    #[test]
    fn largest_messages_fit_the_bound() {
        let host = [
            HostMsg::Submit(max_job()),
            HostMsg::Configure(Settings {
                horizon_days: u16::MAX,
                pacing: Pacing {
                    per_minute: u16::MAX,
                    per_hour: u16::MAX,
                    per_day: u16::MAX,
                    min_gap_ms: u32::MAX,
                    jitter_ms: u32::MAX,
                },
                house_window: core::iter::repeat_n(
                    crate::compliance::packs::hours(crate::compliance::packs::Days::ALL, 0, 24),
                    4,
                )
                .collect(),
                sim_pin: SimPin::new(b"99999999").ok(),
                ..Settings::default()
            }),
        ];
        let device = [
            DeviceMsg::Event(
                EventId(u32::MAX),
                Event::Inbound {
                    from: full('A'),
                    text: full('€'),
                    at: UtcInstant(i64::MIN),
                    truncated: true,
                },
            ),
            DeviceMsg::Event(
                EventId(u32::MAX),
                Event::Deferred {
                    key: JobKey(u64::MAX),
                    until: UtcInstant(i64::MIN),
                    rule: full('r'),
                },
            ),
            DeviceMsg::Hello(DeviceHello {
                protocol: u16::MAX,
                firmware: full('f'),
                boot: BootId(u32::MAX),
                capabilities: Capabilities {
                    job_slots: u8::MAX,
                    suppression_capacity: u32::MAX,
                    max_text: u16::MAX,
                    packs: full('p'),
                    modem: full('m'),
                },
                credits: u8::MAX,
                next_event: EventId(u32::MAX),
                epoch: EventEpoch(u32::MAX),
                outbox: u16::MAX,
            }),
        ];
        let mut largest = 0;
        for m in host {
            largest = largest.max(encoded_len(m));
        }
        for m in device {
            largest = largest.max(encoded_len(m));
        }
        assert!(largest <= MAX_MESSAGE, "{largest} > {MAX_MESSAGE}");
        // The bound is not wildly generous either (frame buffers cost device RAM).
        assert!(
            largest + 64 > MAX_MESSAGE,
            "{largest} is far below {MAX_MESSAGE}"
        );
    }

    #[test]
    fn a_job_crosses_a_frame_and_a_session() {
        let mut host: Session<HostMsg, 4> = Session::new(Role::Initiator, Config::default());
        let mut device: Session<DeviceMsg, 4> = Session::new(Role::Responder, Config::default());
        host.connect(SessionId(7));
        let mut buf = [0u8; MAX_FRAME + 1];
        let mut decoder = FrameDecoder::<MAX_FRAME>::new();
        let sync = host.poll_transmit(0).unwrap();
        let bytes = encode(&sync, &mut buf).unwrap().to_vec();
        let Feed::Frame { value, .. } = decoder.feed::<Envelope<HostMsg>>(&bytes) else {
            panic!("sync not decoded");
        };
        device.receive(value);
        let ack = device.poll_transmit(0).unwrap();
        let bytes = encode(&ack, &mut buf).unwrap().to_vec();
        let mut host_decoder = FrameDecoder::<MAX_FRAME>::new();
        let Feed::Frame { value, .. } = host_decoder.feed::<Envelope<DeviceMsg>>(&bytes) else {
            panic!("sync ack not decoded");
        };
        host.receive(value);
        host.send(HostMsg::Submit(max_job())).unwrap();
        let data = host.poll_transmit(1).unwrap();
        let bytes = encode(&data, &mut buf).unwrap().to_vec();
        let Feed::Frame { value, .. } = decoder.feed::<Envelope<HostMsg>>(&bytes) else {
            panic!("job not decoded");
        };
        assert_eq!(device.receive(value), Some(HostMsg::Submit(max_job())));
    }

    #[test]
    fn an_unknown_message_is_acknowledged_through_its_header() {
        // A newer host sends a variant this device does not know: tag 200.
        #[derive(Serialize)]
        enum Newer {
            #[allow(dead_code)]
            A,
        }
        let mut payload = to_vec(&Envelope {
            session: SessionId(9),
            ack: Seq(3),
            body: Body::Data {
                seq: Seq(41),
                msg: Newer::A,
            },
        });
        // Rewrite the message tag (last byte) to an unknown variant.
        *payload.last_mut().unwrap() = 100;
        assert!(postcard::from_bytes::<Envelope<HostMsg>>(&payload).is_err());
        let header = peek_header(&payload).unwrap();
        assert_eq!(
            header,
            Header {
                session: SessionId(9),
                ack: Seq(3),
                data: Some(Seq(41))
            }
        );
        let mut device: Session<DeviceMsg, 4> = Session::new(Role::Responder, Config::default());
        device.receive(Envelope::<HostMsg> {
            session: SessionId(9),
            ack: Seq(0),
            body: Body::Sync,
        });
        let _ = device.poll_transmit(0);
        // Seq 0 is next: an unknown message at seq 0 is delivered (as `()`) and acked.
        let unknown = Header {
            data: Some(Seq(0)),
            ..header
        };
        assert_eq!(device.receive(unknown.envelope().unwrap()), Some(()));
        let ack = device.poll_transmit(1).unwrap();
        assert_eq!(ack.ack, Seq(1));
    }

    #[test]
    fn headers_of_control_frames_have_no_data() {
        let payload = to_vec(&Envelope::<HostMsg> {
            session: SessionId(1),
            ack: Seq(2),
            body: Body::Ack,
        });
        let h = peek_header(&payload).unwrap();
        assert_eq!(h.data, None);
        assert!(h.envelope().is_none());
        assert_eq!(peek_header(&[]), None);
    }

    #[test]
    fn brand_ids_and_digests_are_stable() {
        // FNV-1a 32 test vectors (Fowler/Noll/Vo reference: "" and "a").
        assert_eq!(BrandId::of(""), BrandId(0x811c_9dc5));
        assert_eq!(BrandId::of("a"), BrandId(0xe40c_292c));
        let n = Msisdn::parse("+33612345678").unwrap();
        let a = digest_entry(&n, Scope::All);
        let b = digest_entry(&n, Scope::Brand(BrandId::of("acme")));
        assert_ne!(a, b);
        assert_eq!(a, digest_entry(&n, Scope::All));
    }

    #[test]
    fn bounded_cuts_at_a_character_boundary() {
        let s: String<5> = bounded("aé€x");
        assert_eq!(s.as_str(), "aé");
        let s: String<16> = bounded("short");
        assert_eq!(s.as_str(), "short");
    }

    #[test]
    fn a_bad_number_does_not_decode() {
        let bytes = to_vec(&(12u64, 2u8));
        assert!(postcard::from_bytes::<Msisdn>(&bytes).is_err());
        let n = max_number();
        let bytes = to_vec(&n);
        assert_eq!(postcard::from_bytes::<Msisdn>(&bytes).unwrap(), n);
    }

    #[test]
    fn identities_map_to_the_compliance_core() {
        let id = Identity {
            sender: Sender::ShortCode(36123),
            registered: false,
            brand: bounded("acme"),
            stop_code: None,
        };
        let c = id.to_compliance().unwrap();
        assert_eq!(c.brand, "acme");
        assert!(matches!(c.kind, SenderKind::ShortCode(s) if s.get() == 36123));
        let bad = Identity {
            sender: Sender::ShortCode(7),
            ..id
        };
        assert!(bad.to_compliance().is_none());
    }
}
