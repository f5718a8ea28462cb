//! Inbound SMS: decode, reassemble, and act on keywords (docs/compliance.md § Decision 8 to 10).
//!
//! [`Inbound::on_pdu`] takes each SMS-DELIVER the modem hands up
//! ([`crate::modem::Event::Received`]) and, once a message is whole (or will never be,
//! below):
//!
//! 1. reports it as [`Event::Inbound`] (sender, text cut at [`MAX_TEXT`] bytes, the
//!    service-centre time stamp in UTC: the earliest of its parts');
//! 2. classifies it with [`keywords::classify`] (normalised, tiered, per language);
//! 3. acts at once, **before returning**, so the very next compliance check sees it:
//!    an opt-out is written to the [`Store`] with [`Store::suppress`], an opt-in is
//!    removed with [`Store::unsuppress`]; then reports [`Event::Keyword`];
//! 4. hands back the confirmation [`Reply`] the recipient's pack requires (decision
//!    10), in the keyword's language, for the caller to send.
//!
//! # Scope of an opt-out (docs/compliance.md § Decision 9)
//!
//! An opt-out applies to the brand the reply answered: the brand that last sent to the
//! number ([`Inbound::note_sent`], a small LRU memory of `BRANDS` numbers), else the
//! default brand ([`Inbound::set_default_brand`]). `STOPALL` / `STOP ALL` apply to
//! [`Scope::All`]. **When neither a remembered nor a default brand exists, a plain STOP
//! applies to [`Scope::All`]**: the agent cannot tell which brand was meant, and
//! suppressing too much is the safe error.
//!
//! An opt-in (`START`, `UNSTOP`) lifts the opt-out that blocks the same brand: the
//! [`Scope::All`] entry when the number is suppressed for every brand, else the brand's
//! entry (and [`Scope::All`] when no brand is known). Other brands' entries stay.
//!
//! # National-form senders
//!
//! A sender in national form (TS 23.040 §9.1.2.5: type of number "national", or
//! "unknown" with the trunk prefix a person dials, such as `0612345678` from a French
//! SIM) is read as an E.164 number before anything else: the [`Event::Inbound`], the
//! keyword classification, the suppression entry and the reply all use
//! `+33612345678`, the form in which the host sends to that person. The country is the
//! one of the service centre that delivered the message: its address (TS 24.011
//! §8.2.5.1, international form) comes first in every PDU the modem hands up (TS 27.005
//! §3.1 `<pdu>`), and a national number is national to the network that wrote it. This
//! is the SIM's home network in the common case (replies from the same country), and
//! still right when a foreign service centre delivers in its own national form, where
//! the SIM's IMSI would name the wrong country; it costs no table (the calling code
//! comes from the E.164 table the compliance core already holds). The trunk prefix
//! removed is `0` except where libphonenumber's metadata (`nationalPrefix`) says
//! otherwise ([`national_to_international`]). Without a service-centre address in
//! international form (a modem that leaves the field empty) a national-form sender stays
//! as it is, and is not acted on.
//!
//! # What is not acted on
//!
//! - Senders that are not E.164 numbers (alphanumeric names, short codes, national-form
//!   numbers that cannot be read as above): [`Event::Inbound`] only. They cannot be
//!   suppressed (a suppression entry is an [`Msisdn`]) and never get a reply.
//! - 8-bit data and application-port messages (WAP push, TS 23.040 §9.2.3.24.3/4): not
//!   typed by a person, so never classified.
//! - TP-PID 0x40 "Short Message Type 0" (TS 23.040 §9.2.3.9: acknowledged and its
//!   contents discarded): no event at all ([`Disposition::Ignored`]).
//! - A possible opt-out (an opt-out word inside a longer text outside +1): reported as
//!   [`KeywordKind::PossibleOptOut`] for the host to review, nothing suppressed.
//!
//! # Confirmations (docs/compliance.md § Decision 10)
//!
//! Only when [`Settings::confirm_keywords`] is set and the pack of the sender's country
//! requires one (`classify` returns its canonical text, `compliance::keywords::Lang::
//! opt_out_confirmation`), plus the help text for help keywords (§ Decision 8). At most one
//! reply of each kind per number within [`REPLY_WINDOW_MS`] (a second STOP the next hour
//! gets no second confirmation), remembered for the last [`REPLY_MEMORY`] replies; an
//! opt-in clears the number's opt-out entry, so STOP, START, STOP is confirmed twice.
//!
//! # Reassembly, expiry and eviction
//!
//! Concatenated parts go through [`Reassembler`] (`MESSAGES` messages of up to `PARTS`
//! parts in flight; any order, duplicates dropped). A message whose missing parts never
//! come is not dropped unseen: what arrived is delivered as an [`Event::Inbound`] marked
//! `truncated`, and classified like a whole message when part 1 is among it, so a STOP
//! in part 1 of a reply whose part 2 is lost still suppresses the number
//! ([`Disposition::Incomplete`]). That happens when its first part is
//! [`Inbound::set_max_age_ms`] old (default [`DEFAULT_MAX_AGE_MS`]; the agent calls
//! [`Inbound::expire_into`] as it polls, counted in [`InboundCounters::expired`]), or
//! when a part of another message needs its room ([`InboundCounters::evicted`]: the
//! oldest goes; `on_pdu` then delivers it, and holds the new part). A message with more
//! than `PARTS` parts is delivered part by part, each marked truncated
//! ([`Disposition::Fragment`]); only its first part is classified.
//!
//! # Delete only what is stored
//!
//! A message the modem keeps in its storage (a SIM slot) stays there until it is
//! reported: [`InboundOutcome::parts`] names the slots an outcome settles, and the
//! caller deletes them only after its events are in the outbox and [`remember`] has
//! noted them. Parts waiting for the rest of their message stay on the SIM, so a reboot
//! reads them again instead of losing them. After a power cut between the store writes
//! and the deletion, the modem hands the same PDUs up again: [`remember`] keeps a digest
//! of each stored PDU (FNV-1a of its TPDU: sender, service-centre time stamp,
//! concatenation header and text) in the store's job records, under keys of the
//! reserved space ([`SEEN_KEYS`]), and such a repeat is settled as
//! [`Disposition::Repeat`]: deleted, not reported twice. The memory is as long as the
//! store's job records (the oldest settled ones make room). A cut between the event
//! writes and [`remember`] reports the message again (at least once, never lost).
//!
//! # Memory
//!
//! `size_of::<Inbound<2, 4, 16>>()` is 2 272 bytes on `thumbv7m-none-eabi` (2 368 on
//! 64-bit hosts). The reassembler takes 1 560 of them (2 messages × 4 parts × a
//! 160-unit buffer and an 8-byte tag, and a time stamp per message:
//! `Reassembler<2, 4>`), the brand memory 384 (16 × 24), the reply memory 256 (8 × 32).
//! The [`InboundOutcome`] is 1 608 bytes on that target (two 680-byte [`Event`]s, a
//! reply and the parts it settles): [`Inbound::on_pdu_into`] fills one in place, where
//! `on_pdu` returns it by value. `Inbound<1, 4, 8>` halves the reassembly buffers if a
//! 20 KiB device needs the room.

use heapless::{String, Vec};
use relais_core::compliance::calendar::Date;
use relais_core::compliance::keywords::{self, Classification, Kind};
use relais_core::compliance::number::{self, Msisdn, push_decimal};
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Event, JobKey, KeywordKind, MAX_ADDRESS, MAX_TEXT, Scope, Settings, Text, bounded,
};
use relais_core::sms::Encoding;
use relais_core::sms::pdu::{
    self, Address, DecodeError, PhoneNumber, SmscField, Timestamp, Tpdu, TypeOfNumber,
};
use relais_core::sms::reassembly::{Assembled, Outcome, Reassembler, ReassemblyError};

use crate::modem::InboundPdu;
use crate::ordered;
use crate::store::{JobRecord, JobState, Store, StoreError};

/// Most events one [`Inbound::on_pdu`] call returns: an [`Event::Inbound`] and an
/// [`Event::Keyword`] (one PDU completes at most one message).
pub const MAX_EVENTS: usize = 2;

/// Longest reply text, in bytes (every canonical confirmation and help text fits).
pub const MAX_REPLY: usize = 160;

/// Replies remembered to avoid answering the same number twice.
pub const REPLY_MEMORY: usize = 8;

/// Within this long after a reply, the same number gets no second reply of the same
/// kind: 24 hours.
pub const REPLY_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// Default age after which an incomplete concatenated message is dropped: one hour.
pub const DEFAULT_MAX_AGE_MS: u64 = 60 * 60 * 1000;

/// TP-PID of "Short Message Type 0" (TS 23.040 §9.2.3.9): the receiver acknowledges it
/// and discards its contents.
const PID_TYPE_0: u8 = 0x40;

/// Most parts one outcome settles ([`InboundOutcome::parts`]); `PARTS` may not exceed it.
pub const MAX_SETTLED: usize = 4;

/// The job-record keys under which [`remember`] notes stored PDUs: the reserved key
/// space of the agent's own jobs ([`crate::agent::REPLY_KEYS`]) with bit 47 set, which
/// no reply key has (their bits 16–47 hold a boot count), and the PDU's digest in the
/// low 32 bits. The host cannot submit such keys.
pub const SEEN_KEYS: u64 = crate::agent::REPLY_KEYS | 1 << 47;

/// A reply the caller should send (an opt-out confirmation or the help text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reply {
    /// The number that sent the keyword.
    pub to: Msisdn,
    /// The text, in the keyword's language.
    pub text: String<MAX_REPLY>,
}

/// What became of one PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Disposition {
    /// A whole message (single, or the part that completed a concatenated one).
    Message,
    /// One part of a message longer than the reassembler holds, delivered alone.
    Fragment,
    /// A part was stored; the message still misses parts.
    Pending {
        /// Distinct parts received so far.
        received: u8,
        /// Parts the message has.
        total: u8,
    },
    /// A part already received; nothing changed.
    Duplicate,
    /// What arrived of a concatenated message whose other parts never came (it grew too
    /// old, or a newer message needed its room): delivered marked truncated.
    Incomplete,
    /// A PDU already reported (read again after a power cut before its deletion):
    /// nothing reported, its slot is to be deleted.
    Repeat,
    /// A Short Message Type 0 (TS 23.040 §9.2.3.9), discarded.
    Ignored,
    /// Not a valid PDU.
    Undecodable(DecodeError),
    /// A valid PDU that is not an SMS-DELIVER (e.g. a status report).
    NotDeliver,
}

/// What [`Inbound::on_pdu`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOutcome {
    /// Events for the outbox, in order: [`Event::Inbound`], then [`Event::Keyword`].
    pub events: Vec<Event, MAX_EVENTS>,
    /// A confirmation or help reply to send, if one is due.
    pub reply: Option<Reply>,
    /// What became of the PDU.
    pub disposition: Disposition,
    /// The PDUs this outcome settles, each as `digest << 32 | slot`: the FNV-1a digest
    /// of its TPDU, and its storage index plus one (0: routed, not stored). Once the
    /// events are stored and [`remember`]ed, each stored one is deleted from the modem
    /// ([`part_slot`]). Empty while a message waits for parts: those stay stored.
    pub parts: Vec<u64, MAX_SETTLED>,
}

impl InboundOutcome {
    /// No event, no reply, for [`Inbound::on_pdu_into`] to fill (the disposition is a
    /// placeholder until then).
    pub const fn new() -> InboundOutcome {
        InboundOutcome {
            events: Vec::new(),
            reply: None,
            disposition: Disposition::Message,
            parts: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.events.clear();
        self.reply = None;
        self.parts.clear();
    }
}

/// The storage index of a part of [`InboundOutcome::parts`], when it is stored.
pub fn part_slot(part: u64) -> Option<u16> {
    u16::try_from((part as u32).checked_sub(1)?).ok()
}

/// Notes the PDUs of a reported outcome as stored, once its events are in the outbox,
/// so that a copy read again before its deletion is recognised
/// ([`Disposition::Repeat`]). Nothing to note for other outcomes, nor for PDUs that
/// were not stored (nothing reads them again).
pub fn remember(store: &mut impl Store, out: &InboundOutcome) -> Result<(), StoreError> {
    if !matches!(
        out.disposition,
        Disposition::Message | Disposition::Fragment | Disposition::Incomplete
    ) {
        return Ok(());
    }
    let mut record = JobRecord::new(0, false);
    record.state = JobState::Sent;
    for &part in &out.parts {
        if part_slot(part).is_some() {
            store.put_job(seen_key(part), &record)?;
        }
    }
    Ok(())
}

fn seen_key(part: u64) -> JobKey {
    JobKey(SEEN_KEYS | part >> 32)
}

impl Default for InboundOutcome {
    fn default() -> Self {
        Self::new()
    }
}

/// Running counts, for status reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InboundCounters {
    /// Whole messages reported.
    pub messages: u32,
    /// Parts of oversized messages reported alone.
    pub fragments: u32,
    /// PDUs that did not decode.
    pub undecodable: u32,
    /// Valid PDUs that were not SMS-DELIVERs.
    pub not_deliver: u32,
    /// Short Message Type 0 PDUs discarded.
    pub ignored: u32,
    /// Incomplete messages delivered because they grew too old.
    pub expired: u32,
    /// Incomplete messages delivered to make room for newer ones.
    pub evicted: u32,
    /// PDUs recognised as already reported.
    pub repeats: u32,
    /// Replies not sent because the number had one of the same kind recently.
    pub replies_withheld: u32,
}

/// What a remembered reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyKind {
    OptOut,
    Help,
}

#[derive(Debug, Clone, Copy)]
struct Replied {
    to: Msisdn,
    kind: ReplyKind,
    at_ms: u64,
}

/// The inbound side of the agent; see the [module docs](self).
///
/// `MESSAGES` concatenated messages of up to `PARTS` parts each can be in reassembly at
/// once; the brand that last sent is remembered for `BRANDS` numbers.
///
/// ```
/// use relais_agent::inbound::Inbound;
/// use relais_agent::modem::InboundPdu;
/// use relais_agent::store::{MemStore, Store};
/// use relais_core::compliance::number::Msisdn;
/// use relais_core::link::msg::{BrandId, Scope, Settings};
///
/// let mut inbound: Inbound<2, 4, 16> = Inbound::new();
/// let mut store: MemStore<8, 4, 4> = MemStore::new();
/// let fr = Msisdn::parse("+33612345678").unwrap();
/// inbound.note_sent(&fr, "acme");
/// // `STOP` from +33612345678 (SMS-DELIVER, GSM 7-bit) as `AT+CMGR` returns it.
/// let hex = b"00040B913316325476F80000425060110351800453EA130A";
/// let pdu = InboundPdu::from_hex(None, 23, hex).unwrap();
/// let out = inbound.on_pdu(&pdu, 0, &mut store, &Settings::default()).unwrap();
/// assert_eq!(out.events.len(), 2); // Event::Inbound, then Event::Keyword
/// let acme = BrandId::of("acme");
/// assert_eq!(store.opted_out(&fr, acme), Ok(Some(Scope::Brand(acme))));
/// assert!(out.reply.unwrap().text.starts_with("Votre demande"));
/// ```
#[derive(Debug)]
pub struct Inbound<const MESSAGES: usize, const PARTS: usize, const BRANDS: usize> {
    reassembler: Reassembler<MESSAGES, PARTS>,
    /// Least recently sent first.
    brands: Vec<(Msisdn, BrandId), BRANDS>,
    default_brand: Option<BrandId>,
    /// Oldest first.
    replied: Vec<Replied, REPLY_MEMORY>,
    max_age_ms: u64,
    counters: InboundCounters,
}

impl<const MESSAGES: usize, const PARTS: usize, const BRANDS: usize> Default
    for Inbound<MESSAGES, PARTS, BRANDS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const MESSAGES: usize, const PARTS: usize, const BRANDS: usize>
    Inbound<MESSAGES, PARTS, BRANDS>
{
    /// Every part of a message fits [`InboundOutcome::parts`].
    const PARTS_SETTLE: () = assert!(PARTS <= MAX_SETTLED);

    /// Empty: nothing in reassembly, no brand remembered, no default brand.
    pub fn new() -> Self {
        let () = Self::PARTS_SETTLE;
        Inbound {
            reassembler: Reassembler::new(),
            brands: Vec::new(),
            default_brand: None,
            replied: Vec::new(),
            max_age_ms: DEFAULT_MAX_AGE_MS,
            counters: InboundCounters::default(),
        }
    }

    /// Forgets everything, as [`Inbound::new`] made it (settings included), except
    /// the reassembler's count of evictions ([`InboundCounters::evicted`]).
    pub fn clear(&mut self) {
        // Every message is at least 0 ms old at the end of time. Cheaper than building
        // a new reassembler (1.5 KB) on the stack.
        self.reassembler.expire(u64::MAX, 0);
        self.brands.clear();
        self.default_brand = None;
        self.replied.clear();
        self.max_age_ms = DEFAULT_MAX_AGE_MS;
        self.counters = InboundCounters::default();
    }

    /// Remembers that `brand` just sent to `to`, so that a STOP from `to` opts out of
    /// that brand. The least recently used number is forgotten when `BRANDS` are known.
    pub fn note_sent(&mut self, to: &Msisdn, brand: &str) {
        self.note_sent_id(to, BrandId::of(brand));
    }

    /// Like [`Inbound::note_sent`], with the brand's id.
    pub fn note_sent_id(&mut self, to: &Msisdn, brand: BrandId) {
        if let Some(i) = self.brands.iter().position(|(n, _)| n == to) {
            ordered::remove(&mut self.brands, i);
        } else if self.brands.is_full() {
            ordered::remove(&mut self.brands, 0);
        }
        // Fails only when BRANDS is 0: then nothing is remembered.
        let _ = self.brands.push((*to, brand));
    }

    /// The brand an opt-out from `number` applies to when none is remembered for it;
    /// `None` (the start state) makes such an opt-out apply to every brand.
    pub fn set_default_brand(&mut self, brand: Option<&str>) {
        self.default_brand = brand.map(BrandId::of);
    }

    /// How old an incomplete concatenated message may grow before it is dropped.
    pub fn set_max_age_ms(&mut self, max_age_ms: u64) {
        self.max_age_ms = max_age_ms;
    }

    /// The brand a keyword from `number` refers to: the one that last sent to it, else
    /// the default brand.
    pub fn brand_for(&self, number: &Msisdn) -> Option<BrandId> {
        self.brands
            .iter()
            .rev()
            .find(|(n, _)| n == number)
            .map(|(_, b)| *b)
            .or(self.default_brand)
    }

    /// Running counts.
    pub fn counters(&self) -> InboundCounters {
        InboundCounters {
            evicted: self.reassembler.evictions(),
            ..self.counters
        }
    }

    /// Concatenated messages waiting for parts.
    pub fn pending(&self) -> usize {
        self.reassembler.pending()
    }

    /// True when a message waiting for parts is [`Inbound::set_max_age_ms`] old at
    /// `now_ms`: [`Inbound::expire_into`] has one to deliver.
    pub fn has_expired(&self, now_ms: u64) -> bool {
        self.reassembler
            .oldest_since()
            .is_some_and(|since| now_ms.saturating_sub(since) >= self.max_age_ms)
    }

    /// Delivers the oldest message that waited [`Inbound::set_max_age_ms`] or longer
    /// for its missing parts, as [`Inbound::on_pdu_into`] delivers a whole one
    /// (suppression included) but marked truncated ([`Disposition::Incomplete`]).
    /// Returns false, with `out` emptied, when none is that old.
    pub fn expire_into(
        &mut self,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
        out: &mut InboundOutcome,
    ) -> Result<bool, StoreError> {
        out.clear();
        let sender = match self.reassembler.take_expired(now_ms, self.max_age_ms) {
            Some(message) => assembled(&message, out),
            None => return Ok(false),
        };
        bump(&mut self.counters.expired);
        out.disposition = Disposition::Incomplete;
        self.act_on(sender, now_ms, store, settings, out)?;
        Ok(true)
    }

    /// Handles one PDU received at `now_ms` (the agent's monotonic clock); see the
    /// [module docs](self).
    ///
    /// Suppression changes are written to `store` before this returns. On a store error
    /// no event is returned and no reply is due, and nothing is settled: the caller
    /// keeps the PDU (and the message's other parts) on the SIM so that they are read
    /// again, and raises the error (a full suppression list needs the operator).
    pub fn on_pdu(
        &mut self,
        pdu: &InboundPdu,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
    ) -> Result<InboundOutcome, StoreError> {
        let mut out = InboundOutcome::new();
        self.on_pdu_into(pdu, now_ms, store, settings, &mut out)?;
        Ok(out)
    }

    /// [`Inbound::on_pdu`] writing the outcome into `out` (its previous content is
    /// replaced): the outcome (1.5 KB with its texts) is not copied on the stack.
    /// On a store error `out` holds no event, no reply and no part.
    pub fn on_pdu_into(
        &mut self,
        pdu: &InboundPdu,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
        out: &mut InboundOutcome,
    ) -> Result<(), StoreError> {
        out.clear();
        let (disposition, sender) = self
            .read(pdu, now_ms, store, out)
            .inspect_err(|_| out.clear())?;
        out.disposition = disposition;
        if !matches!(
            disposition,
            Disposition::Message | Disposition::Fragment | Disposition::Incomplete
        ) {
            out.events.clear();
            return Ok(());
        }
        self.act_on(sender, now_ms, store, settings, out)
    }

    /// Classifies the [`Event::Inbound`] in `out` when it came from `sender`, acts on
    /// its keyword and adds the [`Event::Keyword`]. On a store error `out` is emptied.
    fn act_on(
        &mut self,
        sender: Option<Msisdn>,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
        out: &mut InboundOutcome,
    ) -> Result<(), StoreError> {
        let Some(number) = sender else {
            return Ok(());
        };
        let class = match out.events.first() {
            Some(Event::Inbound { text, .. }) => keywords::classify(text, Some(&number)),
            _ => return Ok(()),
        };
        match self.act(&number, &class, now_ms, store, settings) {
            Ok(Some(acted)) => {
                keyword_event(&number, &class, &acted, out);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                out.clear();
                Err(e)
            }
        }
    }

    /// Decodes the PDU and joins its text into an [`Event::Inbound`] in `out`, or
    /// delivers the incomplete message it evicts. Returns what became of the PDU, and
    /// the sender when the text is to be checked for keywords: typed by a person (not
    /// 8-bit data, no application port) and the start of the message, from a number.
    /// Not inlined: its temporaries (an event, the decoded PDU) are gone before
    /// [`Inbound::act`] writes to the store.
    #[inline(never)]
    fn read(
        &mut self,
        pdu: &InboundPdu,
        now_ms: u64,
        store: &impl Store,
        out: &mut InboundOutcome,
    ) -> Result<(Disposition, Option<Msisdn>), StoreError> {
        let slot = pdu.slot.map_or(0, |s| u64::from(s.index) + 1);
        let tag = u64::from(digest(pdu.tpdu())) << 32 | slot;
        // Settled at once unless it turns out to be a message to report or to hold.
        let _ = out.parts.push(tag);
        let deliver = match pdu::decode(pdu.tpdu(), SmscField::Absent) {
            Ok(Tpdu::Deliver(d)) => d,
            Ok(_) => {
                bump(&mut self.counters.not_deliver);
                return Ok((Disposition::NotDeliver, None));
            }
            Err(e) => {
                bump(&mut self.counters.undecodable);
                return Ok((Disposition::Undecodable(e), None));
            }
        };
        if deliver.protocol_id == PID_TYPE_0 {
            bump(&mut self.counters.ignored);
            return Ok((Disposition::Ignored, None));
        }
        if slot != 0 && store.job(seen_key(tag))?.is_some() {
            bump(&mut self.counters.repeats);
            return Ok((Disposition::Repeat, None));
        }
        out.parts.clear();
        let from = international(&deliver.from, home_code(pdu));
        let ud = &deliver.user_data;
        let at = utc(&deliver.timestamp);
        let typed_by_a_person = ud.encoding != Encoding::EightBit && ud.udh.ports.is_none();
        // A part of a message longer than the reassembler holds: `Some(starts the text)`.
        let mut fragment = None;
        if let Some(concat) = ud.udh.concat.filter(|c| c.total > 1) {
            // The message this part evicts, if any, is delivered now; the part waits in
            // its room for the rest of its own.
            let mut evicted = None;
            let pushed = self
                .reassembler
                .push_tagged(&from, ud, now_ms, tag, at.0, |v| {
                    evicted = Some(assembled(v, out));
                });
            match pushed {
                _ if evicted.is_some() => {
                    return Ok((Disposition::Incomplete, evicted.flatten()));
                }
                Ok(Outcome::Complete(message)) => {
                    let sender = assembled(&message, out);
                    bump(&mut self.counters.messages);
                    return Ok((Disposition::Message, sender.filter(|_| typed_by_a_person)));
                }
                Ok(Outcome::Pending { received, total }) => {
                    return Ok((Disposition::Pending { received, total }, None));
                }
                Ok(Outcome::Duplicate) => return Ok((Disposition::Duplicate, None)),
                Err(ReassemblyError::TooManyParts) => fragment = Some(concat.part == 1),
                // A header that numbers its part 0 or past the total: read the part alone.
                Err(ReassemblyError::NotConcatenated) => {}
            }
        }
        let _ = out.parts.push(tag);
        if let Some(mut fill) = inbound_event(out, &from, at, fragment.is_some()) {
            ud.for_each_char(|c| fill.push(c));
        }
        let disposition = match fragment {
            Some(_) => {
                bump(&mut self.counters.fragments);
                Disposition::Fragment
            }
            None => {
                bump(&mut self.counters.messages);
                Disposition::Message
            }
        };
        let first_part = fragment.unwrap_or(true);
        let sender = msisdn(&from).filter(|_| typed_by_a_person && first_part);
        Ok((disposition, sender))
    }

    /// Applies a classified keyword from `number` to the store (suppression first) and
    /// decides whether a reply is due. `None` when the text carries no keyword.
    ///
    /// Returns what [`keyword_event`] needs rather than the event itself: a 700-byte
    /// event built here would sit on the stack under the store's flash writes.
    fn act(
        &mut self,
        number: &Msisdn,
        class: &Classification,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
    ) -> Result<Option<Acted>, StoreError> {
        let (kind, scope, reply_kind) = match class.kind {
            Kind::None => return Ok(None),
            Kind::OptOut | Kind::OptOutAll => {
                let scope = if class.kind == Kind::OptOutAll {
                    Scope::All
                } else {
                    self.brand_for(number).map_or(Scope::All, Scope::Brand)
                };
                store.suppress(number, scope)?;
                info!("inbound: opt-out {} {}", number, scope);
                (KeywordKind::OptOut, Some(scope), Some(ReplyKind::OptOut))
            }
            Kind::OptIn => {
                let scope = match self.brand_for(number) {
                    Some(brand) => store
                        .opted_out(number, brand)?
                        .unwrap_or(Scope::Brand(brand)),
                    None => Scope::All,
                };
                store.unsuppress(number, scope)?;
                info!("inbound: opt-in {} {}", number, scope);
                self.replied
                    .retain(|r| !(r.to == *number && r.kind == ReplyKind::OptOut));
                (KeywordKind::OptIn, Some(scope), None)
            }
            Kind::Help => (KeywordKind::Help, None, Some(ReplyKind::Help)),
            Kind::PossibleOptOut => (KeywordKind::PossibleOptOut, None, None),
        };
        let reply = match (reply_kind, class.reply) {
            (Some(kind), Some(text)) if settings.confirm_keywords => {
                self.reply_due(number, kind, now_ms).then_some(text)
            }
            _ => None,
        };
        Ok(Some(Acted { kind, scope, reply }))
    }

    /// True unless a reply of `kind` went to `to` within [`REPLY_WINDOW_MS`];
    /// remembers the reply when it is due.
    fn reply_due(&mut self, to: &Msisdn, kind: ReplyKind, now_ms: u64) -> bool {
        let same = |r: &Replied| r.to == *to && r.kind == kind;
        if let Some(i) = self.replied.iter().position(same) {
            let at_ms = self.replied.get(i).map_or(0, |r| r.at_ms);
            if now_ms.saturating_sub(at_ms) < REPLY_WINDOW_MS {
                bump(&mut self.counters.replies_withheld);
                return false;
            }
            ordered::remove(&mut self.replied, i);
        }
        if self.replied.is_full() {
            ordered::remove(&mut self.replied, 0);
        }
        let _ = self.replied.push(Replied {
            to: *to,
            kind,
            at_ms: now_ms,
        });
        true
    }
}

/// A keyword [`Inbound::act`] applied.
struct Acted {
    kind: KeywordKind,
    scope: Option<Scope>,
    /// The reply text, when one is due.
    reply: Option<&'static str>,
}

/// Adds the [`Event::Keyword`] (after the [`Event::Inbound`]) and the reply due to
/// `out`. Not inlined: the event is built in this frame, after the store writes.
#[inline(never)]
fn keyword_event(number: &Msisdn, class: &Classification, acted: &Acted, out: &mut InboundOutcome) {
    out.reply = acted.reply.map(|text| Reply {
        to: *number,
        text: bounded(text),
    });
    // Cannot fail: one Inbound event so far, MAX_EVENTS is 2.
    let _ = out.events.push(Event::Keyword {
        from: *number,
        kind: acted.kind,
        keyword: bounded(class.keyword.unwrap_or("")),
        tier: class.tier.map_or(0, |t| t as u8),
        scope: acted.scope,
        confirmed: acted.reply.is_some(),
    });
}

/// Adds an [`Event::Inbound`] from `from` with an empty text to `out`, and returns
/// that text to fill. The text is written straight into the event: no second 640-byte
/// copy on the stack.
fn inbound_event<'o>(
    out: &'o mut InboundOutcome,
    from: &Address,
    at: UtcInstant,
    truncated: bool,
) -> Option<Fill<'o>> {
    let inbound = Event::Inbound {
        from: address_label(from),
        text: Text::new(),
        at,
        truncated,
    };
    out.events.push(inbound).ok()?;
    match out.events.last_mut() {
        Some(Event::Inbound {
            text, truncated, ..
        }) => Some(Fill {
            text,
            truncated,
            cut: false,
        }),
        _ => None,
    }
}

/// Appends characters until the first one that does not fit, then nothing more (a
/// smaller character after a dropped one would make the text lie), and marks the text
/// truncated.
struct Fill<'t> {
    text: &'t mut Text,
    truncated: &'t mut bool,
    cut: bool,
}

impl Fill<'_> {
    fn push(&mut self, c: char) {
        if !self.cut && self.text.push(c).is_err() {
            self.cut = true;
            *self.truncated = true;
        }
    }
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

/// Puts a message taken out of the reassembler into `out` (its [`Event::Inbound`],
/// marked truncated when parts are missing or the text was cut, and the parts it
/// settles); returns its sender when its text is to be classified: part 1 is there and
/// no part is 8-bit data.
fn assembled(message: &Assembled<'_>, out: &mut InboundOutcome) -> Option<Msisdn> {
    out.clear();
    message.for_each_tag(|t| {
        let _ = out.parts.push(t);
    });
    let from = message.from()?;
    let at = UtcInstant(message.stamp());
    if let Some(mut fill) = inbound_event(out, from, at, !message.is_complete()) {
        message.for_each_char(|c| fill.push(c));
    }
    msisdn(from).filter(|_| message.has_first_part() && message.is_text())
}

/// FNV-1a (32 bits) of a TPDU: what [`remember`] notes of a stored PDU.
fn digest(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The calling code of the service centre that delivered `pdu`, from the address
/// field before its TPDU (TS 24.011 §8.2.5.1: length, type of address, BCD digits)
/// when that is in international form (module docs, "National-form senders").
fn home_code(pdu: &InboundPdu) -> Option<u16> {
    let field = pdu.bytes().get(..pdu.bytes().len() - pdu.tpdu().len())?;
    let (&toa, bcd) = field.get(1..)?.split_first()?;
    // Type of number international (TS 24.008 §10.5.4.7).
    if toa & 0x70 != 0x10 {
        return None;
    }
    let (mut value, mut len) = (0u64, 0usize);
    for digit in bcd.iter().flat_map(|b| [b & 0x0F, b >> 4]) {
        match digit {
            0..=9 if len < number::MAX_DIGITS => {
                value = value * 10 + u64::from(digit);
                len += 1;
            }
            0x0F => break,
            _ => return None,
        }
    }
    let centre = Msisdn::from_parts(value, len)?;
    number::lookup(&centre).map(|info| info.calling_code)
}

/// `address`, with a national-form number read in the country of `calling_code`.
fn international(address: &Address, calling_code: Option<u16>) -> Address {
    if let (Address::Number(n), Some(code)) = (address, calling_code)
        && let Some(n) = national_to_international(n, code)
    {
        return Address::Number(n);
    }
    address.clone()
}

/// A national-form number (TS 23.040 §9.1.2.5 type of number "national", or "unknown"
/// written with the country's trunk prefix, as a person dials it) in international form
/// in the country of `calling_code`: the trunk prefix removed, the calling code put in
/// front. `None` for any other number, and when the result is no E.164 number.
///
/// The trunk prefix is `0`, except (libphonenumber's `PhoneNumberMetadata.xml`,
/// `nationalPrefix`): `1` in the NANP (+1, also +692), where ten digits without it are
/// a national number too; `8` in Russia and Kazakhstan (+7) and Turkmenistan (+993);
/// `80` in Belarus (+375); `06` in Hungary (+36); and none in Italy (+39), San Marino
/// (+378), Côte d'Ivoire (+225), Benin (+229), Gabon (+241) and the Republic of the
/// Congo (+242), whose national numbers themselves begin with 0. A country without a
/// trunk prefix whose numbers never begin with 0 (Spain, Portugal…) never sees one
/// written.
///
/// ```
/// use relais_agent::inbound::national_to_international;
/// use relais_core::sms::pdu::{PhoneNumber, TypeOfNumber};
///
/// let dialled = PhoneNumber::parse("0612345678").unwrap(); // type "unknown"
/// assert_eq!(
///     national_to_international(&dialled, 33),
///     Some(PhoneNumber::parse("+33612345678").unwrap())
/// );
/// let national = PhoneNumber::with_type("612345678", TypeOfNumber::National).unwrap();
/// assert_eq!(national_to_international(&national, 33), national_to_international(&dialled, 33));
/// // A short code is no E.164 number.
/// assert_eq!(national_to_international(&PhoneNumber::parse("36111").unwrap(), 33), None);
/// ```
pub fn national_to_international(number: &PhoneNumber, calling_code: u16) -> Option<PhoneNumber> {
    let ton = number.type_of_number();
    let digits = number.digits();
    if !matches!(ton, TypeOfNumber::Unknown | TypeOfNumber::National) || digits.starts_with("00") {
        return None;
    }
    let trunk = match calling_code {
        1 | 692 => "1",
        7 | 993 => "8",
        375 => "80",
        36 => "06",
        39 | 225 | 229 | 241 | 242 | 378 => "",
        _ => "0",
    };
    let national = match digits.strip_prefix(trunk) {
        Some(rest) => rest,
        None if ton == TypeOfNumber::National || calling_code == 1 => digits,
        None => return None,
    };
    let mut plus: String<{ pdu::address::MAX_DIGITS + 4 }> = String::new();
    plus.push('+').ok()?;
    push_decimal(&mut plus, u64::from(calling_code)).ok()?;
    plus.push_str(national).ok()?;
    Msisdn::parse(&plus).ok()?;
    PhoneNumber::parse(&plus).ok()
}

/// The sender as an E.164 number, when it is one: international TON (TS 23.040
/// §9.1.2.5), or unknown TON with the `00` international prefix written out.
fn msisdn(address: &Address) -> Option<Msisdn> {
    let Address::Number(number) = address else {
        return None;
    };
    match number.type_of_number() {
        TypeOfNumber::International => {
            let mut plus: String<{ pdu::address::MAX_DIGITS + 1 }> = String::new();
            plus.push('+').ok()?;
            plus.push_str(number.digits()).ok()?;
            Msisdn::parse(&plus).ok()
        }
        TypeOfNumber::Unknown => Msisdn::parse(number.digits()).ok(),
        _ => None,
    }
}

/// The sender as the [`Event::Inbound`] shows it (`+` and digits, or the name), cut
/// at [`MAX_ADDRESS`] bytes.
fn address_label(address: &Address) -> String<MAX_ADDRESS> {
    // What `Address`'s `Display` writes, without `core::fmt` (0.3 KiB of device flash).
    match address {
        Address::Number(n) if n.type_of_number() == TypeOfNumber::International => {
            // `+` and at most 20 digits.
            let mut plus: String<{ pdu::address::MAX_DIGITS + 1 }> = String::new();
            let _ = plus.push('+');
            let _ = plus.push_str(n.digits());
            bounded(&plus)
        }
        Address::Number(n) => bounded(n.digits()),
        Address::Alphanumeric(name) => bounded(name),
    }
}

/// TP-SCTS as a UTC instant: the service centre's local time minus its offset
/// (TS 23.040 §9.2.3.11). Days past the month's end (the decoder accepts 31 February)
/// roll over into the next month instead of failing.
fn utc(ts: &Timestamp) -> UtcInstant {
    let month_start = Date {
        year: i32::from(ts.year),
        month: ts.month,
        day: 1,
    };
    let seconds = (i64::from(ts.day) - 1) * 86_400
        + i64::from(ts.hour) * 3_600
        + i64::from(ts.minute) * 60
        + i64::from(ts.second)
        - i64::from(ts.offset_minutes()) * 60;
    UtcInstant::from_date(month_start, seconds)
}

const _: () = assert!(MAX_EVENTS >= 2 && MAX_TEXT >= pdu::user_data::MAX_TEXT_BYTES);

// The RAM budget of the module docs (2 272 bytes on thumbv7m, 2 368 on 64-bit hosts).
const _: () = assert!(core::mem::size_of::<Inbound<2, 4, 16>>() <= 2_400);
