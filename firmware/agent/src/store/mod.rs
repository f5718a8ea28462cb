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
use relais_core::link::msg::{BootId, BrandId, Event, EventId, JobKey, Scope};
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
}

impl JobState {
    /// True when nothing more will be sent for the job.
    pub const fn is_finished(self) -> bool {
        !matches!(self, JobState::Open)
    }
}

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
        }
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
    /// The most recently written record with a segment sent under `mr` whose delivery
    /// is not yet reported, and that segment's number (from 1).
    fn job_by_mr(&self, mr: u8) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError>;

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
    /// Drops every event up to and including `upto`.
    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError>;
    /// Events in the outbox.
    fn outbox_len(&self) -> Result<usize, StoreError>;
    /// The id the next event will get.
    fn next_event_id(&self) -> Result<EventId, StoreError>;
    /// Events the outbox holds at most, when the store knows (the agent stops taking
    /// new work a little before). `None` by default: the agent then learns it from the
    /// first [`StoreError::Full`].
    fn outbox_capacity(&self) -> Option<usize> {
        None
    }
}
