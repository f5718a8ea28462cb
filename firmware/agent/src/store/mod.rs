//! The agent's persistent state, behind one trait so the same agent runs on flash
//! (devices: a flash-native store), in RAM (tests, `relais direct`: [`MemStore`]) or anything else.
//!
//! What must survive a power cut, and why:
//!
//! - **Suppression list**: an opt-out acted on by the device holds after a reboot,
//!   whatever the host sends.
//! - **Job records** (the idempotency memory): for every recent [`JobKey`], how far
//!   sending went. A job submitted again after a reboot resumes after its last sent
//!   segment, or is reported [`Event::Duplicate`] when it is finished — never sent twice.
//!   Job texts stay in RAM: after a reboot the host submits unfinished jobs again.
//! - **In-flight journal**: written before each `AT+CMGS`, cleared after the modem's
//!   answer. Found set at boot, it names the one segment that may or may not have gone
//!   out: reported [`Event::Unknown`], never resent.
//! - **Event outbox**: every event, numbered, until the host acknowledges it.
//! - **Boot counter**: a new [`BootId`] per boot.
//! - **Pace** ([`PaceMark`]): the segments sent in the rolling minute, hour and day,
//!   written after every segment, so a reboot never resets a cap.
//! - **Keyword replies waiting** ([`PendingReply`]): an opt-out confirmation queued
//!   before a reboot is still sent after it, once (its job record and the in-flight
//!   journal decide, as for a host job).
//!
//! Writes are atomic per call: after a power cut during a call, the store holds either
//! the state before it or after it (the flash store is tested by cutting power at every
//! single flash write).

pub mod flash;
pub mod mem;

pub use flash::FlashStore;
pub use mem::MemStore;

use heapless::Vec;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{BootId, BrandId, Event, EventEpoch, EventId, JobKey, Scope};
use serde::{Deserialize, Serialize};

/// Most segments one job may have: [`relais_core::link::msg::MAX_TEXT`] bytes of ASCII
/// forced into UCS-2 by one emoji need 10.
pub const MAX_PARTS: usize = 10;

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JobState {
    /// Accepted, not finished (waiting, deferred, or between segments).
    Open,
    /// Every segment accepted by the network.
    Sent,
    /// Failed (temporary failures exhausted, or permanent).
    Failed,
    /// A segment's outcome is unknown; nothing more is sent.
    Unknown,
    /// Refused by the compliance gate.
    Refused,
    /// Expired before it could be sent.
    Expired,
    /// Cancelled by the host before it was sent.
    Cancelled,
    /// Given back to the host unsent ([`Event::Released`]): nothing was sent under this
    /// key and nothing will be (the host sends the job again under a new key).
    Released,
}

impl JobState {
    /// True when nothing more will be sent for the job.
    pub const fn is_finished(self) -> bool {
        !matches!(self, JobState::Open)
    }
}

/// The pacing counters as the store keeps them: the segments handed to the network in
/// the rolling minute, hour and day up to `at` (see `agent::pacing`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PaceMark {
    /// When the counts were taken (UTC).
    pub at: UtcInstant,
    /// Segments in the minute window.
    pub minute: u16,
    /// Segments in the hour window.
    pub hour: u16,
    /// Segments in the day window, by hour buckets before the one holding `at`:
    /// `day[g]` holds buckets `4g..4g+3` back (the last group also the spare 25th).
    pub day: [u16; 6],
}

/// A keyword reply (an opt-out confirmation, a help text) queued to be sent, as the store
/// keeps it until its job record says how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PendingReply {
    /// The number that sent the keyword.
    pub to: Msisdn,
    /// The text.
    pub text: heapless::String<{ crate::inbound::MAX_REPLY }>,
}

/// Keyword replies the store keeps at most: the agent's queue and the one being sent.
pub const MAX_PENDING_REPLIES: usize = 3;

/// What the store remembers of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct JobRecord {
    /// Where it stands.
    pub state: JobState,
    /// Segments in the message (0 until the text was first encoded).
    pub parts: u8,
    /// The concatenation reference used for its segments, so a resumed job encodes the
    /// same segments again.
    pub concat_ref: u8,
    /// TP-MR of each segment the network accepted, in order: `mrs.len()` segments are
    /// done.
    pub mrs: Vec<u8, MAX_PARTS>,
    /// Delivery reports requested.
    pub report: bool,
    /// Bit `i` set: segment `i` reported delivered.
    pub delivered: u16,
    /// True once the rolled-up delivery result was reported.
    pub delivery_reported: bool,
    /// The recipient's E.164 digits as one value ([`Msisdn::value`]), noted when the
    /// job is accepted (0 for the device's own replies): a status report's TP-RA must
    /// name it.
    pub to: u64,
    /// When the network accepted the first segment, in UTC seconds since 1970 (device
    /// time; 0 until then, or without time): a status report's TP-SCTS must not precede
    /// it, and a week later the job waits for no report any more.
    pub sent_at: u32,
}

impl JobRecord {
    /// A job just accepted.
    pub fn new(concat_ref: u8, report: bool) -> JobRecord {
        JobRecord {
            state: JobState::Open,
            parts: 0,
            concat_ref,
            mrs: Vec::new(),
            report,
            delivered: 0,
            delivery_reported: false,
            to: 0,
            sent_at: 0,
        }
    }

    /// Notes that the network accepted the next segment under `mr` at `at`; the first
    /// segment's time is kept.
    pub fn note_sent(&mut self, mr: u8, at: Option<UtcInstant>) {
        if self.mrs.is_empty() {
            // Device time is past 1970 and before 2106.
            self.sent_at = at.map_or(0, |t| t.0 as u32);
        }
        // Cannot fail: `parts` is at most MAX_PARTS and one segment is sent at a time.
        let _ = self.mrs.push(mr);
    }

    /// When the first segment was accepted, if noted.
    pub fn first_sent(&self) -> Option<UtcInstant> {
        (self.sent_at != 0).then_some(UtcInstant(i64::from(self.sent_at)))
    }

    /// Segments the network accepted.
    pub fn sent_parts(&self) -> u8 {
        self.mrs.len() as u8
    }
}

/// The segment being handed to the modem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InFlight {
    /// Its job.
    pub key: JobKey,
    /// Segment number, from 1.
    pub part: u8,
}

/// Why the store could not do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// No room left (suppression list, job records that cannot be evicted, outbox).
    Full,
    /// The medium failed (flash read, write or erase error).
    Medium,
    /// Stored bytes do not decode (corruption the store could not repair).
    Corrupt,
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StoreError::Full => "store full",
            StoreError::Medium => "storage medium error",
            StoreError::Corrupt => "stored data corrupt",
        })
    }
}

impl core::error::Error for StoreError {}

/// The agent's persistent state. Every mutating call is atomic across power cuts.
pub trait Store {
    /// Counts a boot and returns its id (different from every earlier one).
    fn next_boot(&mut self) -> Result<BootId, StoreError>;

    /// This store's event numbering: [`EventEpoch::NONE`] until it adopts one.
    fn epoch(&self) -> Result<EventEpoch, StoreError>;
    /// Keeps `epoch` for good when the store has none yet (and `epoch` is not
    /// [`EventEpoch::NONE`]); returns the store's epoch, the old one if it had one.
    fn adopt_epoch(&mut self, epoch: EventEpoch) -> Result<EventEpoch, StoreError>;

    /// Adds an opt-out (no-op when present). [`StoreError::Full`] at capacity.
    fn suppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError>;
    /// Removes an opt-out (no-op when absent).
    fn unsuppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError>;
    /// Removes every opt-out.
    fn clear_suppression(&mut self) -> Result<(), StoreError>;
    /// The opt-out covering `number` for `brand`: [`Scope::All`] first, then the brand.
    fn opted_out(&self, number: &Msisdn, brand: BrandId) -> Result<Option<Scope>, StoreError>;
    /// Number of opt-outs and the wrapping sum of
    /// [`relais_core::link::msg::digest_entry`] over them.
    fn suppression_summary(&self) -> Result<(u32, u64), StoreError>;
    /// Opt-outs the store can hold.
    fn suppression_capacity(&self) -> u32;

    /// The record of `key`, if remembered.
    fn job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError>;
    /// Writes the record of `key`. When full, the oldest *finished* record whose
    /// delivery is settled (reported, or not requested) is forgotten; open records are
    /// never evicted ([`StoreError::Full`] instead).
    fn put_job(&mut self, key: JobKey, record: &JobRecord) -> Result<(), StoreError>;
    /// The most recently written record with a segment sent under `mr` that `accept`
    /// takes, and that segment's number (from 1).
    fn job_by_report(
        &self,
        mr: u8,
        accept: &dyn Fn(&JobRecord) -> bool,
    ) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError>;
    /// The most recently written record with a segment sent under `mr` whose delivery
    /// is requested and not yet reported, and that segment's number (from 1). The
    /// reference alone says little: it repeats every 256 segments, so the agent also
    /// checks the recipient and the time ([`Store::job_by_report`]).
    fn job_by_mr(&self, mr: u8) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError> {
        self.job_by_report(mr, &|r| r.report && !r.delivery_reported)
    }

    /// Marks `segment` as being handed to the modem (before `AT+CMGS`).
    fn begin_send(&mut self, segment: InFlight) -> Result<(), StoreError>;
    /// Clears the mark (after the modem answered, whatever the answer).
    fn end_send(&mut self) -> Result<(), StoreError>;
    /// The mark, if set (at boot: a send that a reset interrupted).
    fn in_flight(&self) -> Result<Option<InFlight>, StoreError>;

    /// Appends an event to the outbox and returns its id (one more than the last id
    /// ever assigned, across reboots). [`StoreError::Full`] when the outbox is full:
    /// the agent stops taking work until the host acknowledges events.
    fn push_event(&mut self, event: &Event) -> Result<EventId, StoreError>;
    /// The oldest event in the outbox with an id greater than `after` (the oldest of
    /// all for `None`).
    fn next_event(&self, after: Option<EventId>) -> Result<Option<(EventId, Event)>, StoreError>;
    /// Calls `f` with event `id` as the outbox keeps it: the postcard bytes of
    /// `(id, event)`, which the agent sends after a `DeviceMsg::Event` head without
    /// decoding them. False (and `f` not called) when the outbox does not hold it.
    fn event_bytes(&self, id: EventId, f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError>;
    /// Drops every event up to and including `upto`.
    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError>;
    /// Events in the outbox.
    fn outbox_len(&self) -> Result<usize, StoreError>;
    /// The id the next event will get.
    fn next_event_id(&self) -> Result<EventId, StoreError>;
    /// The pacing counters last written, if any.
    fn pace(&self) -> Result<Option<PaceMark>, StoreError>;
    /// Replaces the pacing counters.
    fn put_pace(&mut self, mark: &PaceMark) -> Result<(), StoreError>;

    /// Keeps a keyword reply to `to` queued under `key` (the agent keeps at most
    /// [`MAX_PENDING_REPLIES`]; [`StoreError::Full`] beyond). Stored as a
    /// [`PendingReply`].
    fn put_reply(&mut self, key: JobKey, to: &Msisdn, text: &str) -> Result<(), StoreError>;
    /// Forgets the reply under `key` (no-op when absent).
    fn remove_reply(&mut self, key: JobKey) -> Result<(), StoreError>;
    /// Calls `f` on every reply kept, in the order they were put.
    fn replies(&self, f: &mut dyn FnMut(JobKey, PendingReply)) -> Result<(), StoreError>;

    /// Events the outbox holds at most, when the store knows (the agent stops taking
    /// new work a little before). `None` by default: the agent then learns it from the
    /// first [`StoreError::Full`].
    fn outbox_capacity(&self) -> Option<usize> {
        None
    }
}
