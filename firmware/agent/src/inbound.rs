//! Inbound SMS: decode, reassemble, and act on keywords (rules/README.md decisions 8–10).
//!
//! [`Inbound::on_pdu`] takes each SMS-DELIVER the modem hands up
//! ([`crate::modem::Event::Received`]) and, once a message is whole:
//!
//! 1. reports it as [`Event::Inbound`] (sender, text cut at [`MAX_TEXT`] bytes, the
//!    service-centre time stamp in UTC);
//! 2. classifies it with [`keywords::classify`] (normalised, tiered, per language);
//! 3. acts at once, **before returning**, so the very next compliance check sees it:
//!    an opt-out is written to the [`Store`] with [`Store::suppress`], an opt-in is
//!    removed with [`Store::unsuppress`]; then reports [`Event::Keyword`];
//! 4. hands back the confirmation [`Reply`] the recipient's pack requires (decision
//!    10), in the keyword's language, for the caller to send.
//!
//! # Scope of an opt-out (decision 9)
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
//! # What is not acted on
//!
//! - Senders that are not E.164 numbers (alphanumeric names, short codes, national-form
//!   numbers: TS 23.040 §9.1.2.5 TON other than international, unless written with a
//!   `00` prefix): [`Event::Inbound`] only. They cannot be suppressed (a suppression
//!   entry is an [`Msisdn`]) and never get a reply.
//! - 8-bit data and application-port messages (WAP push, TS 23.040 §9.2.3.24.3/4): not
//!   typed by a person, so never classified.
//! - TP-PID 0x40 "Short Message Type 0" (TS 23.040 §9.2.3.9: acknowledged and its
//!   contents discarded): no event at all ([`Disposition::Ignored`]).
//! - A possible opt-out (an opt-out word inside a longer text outside +1): reported as
//!   [`KeywordKind::PossibleOptOut`] for the host to review, nothing suppressed.
//!
//! # Confirmations (decision 10)
//!
//! Only when [`Settings::confirm_keywords`] is set and the pack of the sender's country
//! requires one (`classify` returns its canonical text, `compliance::keywords::Lang::
//! opt_out_confirmation`), plus the help text for help keywords (decision 8). At most one
//! reply of each kind per number within [`REPLY_WINDOW_MS`] (a second STOP the next hour
//! gets no second confirmation), remembered for the last [`REPLY_MEMORY`] replies; an
//! opt-in clears the number's opt-out entry, so STOP, START, STOP is confirmed twice.
//!
//! # Reassembly and expiry
//!
//! Concatenated parts go through [`Reassembler`] (`MESSAGES` messages of up to `PARTS`
//! parts in flight; any order, duplicates dropped). Parts older than
//! [`Inbound::set_max_age_ms`] (default [`DEFAULT_MAX_AGE_MS`]) are dropped by
//! [`Inbound::expire`], which `on_pdu` also calls. The core reassembler discards an
//! expired or evicted incomplete message without showing its parts, so those are **not**
//! delivered as truncated text: they are counted ([`InboundCounters::expired`],
//! [`InboundCounters::evicted`]). A message with more than `PARTS` parts is delivered
//! part by part, each marked truncated ([`Disposition::Fragment`]); only its first part
//! is classified.
//!
//! # Memory
//!
//! `size_of::<Inbound<2, 4, 16>>()` is 2 184 bytes on `thumbv7m-none-eabi` (2 280 on
//! 64-bit hosts). The reassembler takes 1 480 of them (2 messages × 4 parts × a
//! 160-unit buffer, `Reassembler<2, 4>`), the brand memory 384 (16 × 24), the reply
//! memory 256 (8 × 32). The [`InboundOutcome`] is 1 568 bytes on that target (two
//! 680-byte [`Event`]s and a reply): [`Inbound::on_pdu_into`] fills one in place, where
//! `on_pdu` returns it by value. `Inbound<1, 4, 8>` halves
//! the reassembly buffers if a 20 KiB device needs the room.

use heapless::{String, Vec};
use relais_core::compliance::calendar::Date;
use relais_core::compliance::keywords::{self, Classification, Kind};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Event, KeywordKind, MAX_ADDRESS, MAX_TEXT, Scope, Settings, Text, bounded,
};
use relais_core::sms::Encoding;
use relais_core::sms::pdu::{
    self, Address, DecodeError, Deliver, SmscField, Timestamp, Tpdu, TypeOfNumber,
};
use relais_core::sms::reassembly::{Outcome, Reassembler, ReassemblyError};

use crate::modem::InboundPdu;
use crate::ordered;
use crate::store::{Store, StoreError};

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
}

impl InboundOutcome {
    /// No event, no reply, for [`Inbound::on_pdu_into`] to fill (the disposition is a
    /// placeholder until then).
    pub const fn new() -> InboundOutcome {
        InboundOutcome {
            events: Vec::new(),
            reply: None,
            disposition: Disposition::Message,
        }
    }
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
    /// Incomplete messages dropped because they grew too old.
    pub expired: u32,
    /// Incomplete messages dropped to make room for newer ones.
    pub evicted: u32,
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
    /// Empty: nothing in reassembly, no brand remembered, no default brand.
    pub fn new() -> Self {
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

    /// Drops incomplete messages whose first part arrived [`Inbound::set_max_age_ms`]
    /// or longer before `now_ms`; returns how many. [`Inbound::on_pdu`] calls it too.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let dropped = self.reassembler.expire(now_ms, self.max_age_ms);
        self.counters.expired = self.counters.expired.saturating_add(dropped as u32);
        dropped
    }

    /// Handles one PDU received at `now_ms` (the agent's monotonic clock); see the
    /// [module docs](self).
    ///
    /// Suppression changes are written to `store` before this returns. On a store error
    /// no event is returned and no reply is due, but the message is consumed: the caller
    /// should keep the PDU on the SIM so that a single-part message is read again, and
    /// raise the error (a full suppression list needs the operator).
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
    /// On a store error `out` holds no event and no reply.
    pub fn on_pdu_into(
        &mut self,
        pdu: &InboundPdu,
        now_ms: u64,
        store: &mut impl Store,
        settings: &Settings,
        out: &mut InboundOutcome,
    ) -> Result<(), StoreError> {
        out.events.clear();
        out.reply = None;
        let (disposition, sender) = self.read(pdu, now_ms, out);
        out.disposition = disposition;
        if !matches!(disposition, Disposition::Message | Disposition::Fragment) {
            out.events.clear();
            return Ok(());
        }
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
                out.events.clear();
                Err(e)
            }
        }
    }

    /// Decodes the PDU and joins its text into an [`Event::Inbound`] in `out`. Returns
    /// what became of the PDU, and the sender when the text is to be checked for
    /// keywords: typed by a person (not 8-bit data, no application port) and the start
    /// of the message, from a number. Not inlined: its temporaries (an event, the
    /// decoded PDU) are gone before [`Inbound::act`] writes to the store.
    #[inline(never)]
    fn read(
        &mut self,
        pdu: &InboundPdu,
        now_ms: u64,
        out: &mut InboundOutcome,
    ) -> (Disposition, Option<Msisdn>) {
        self.expire(now_ms);
        let deliver = match pdu::decode(pdu.tpdu(), SmscField::Absent) {
            Ok(Tpdu::Deliver(d)) => d,
            Ok(_) => {
                bump(&mut self.counters.not_deliver);
                return (Disposition::NotDeliver, None);
            }
            Err(e) => {
                bump(&mut self.counters.undecodable);
                return (Disposition::Undecodable(e), None);
            }
        };
        if deliver.protocol_id == PID_TYPE_0 {
            bump(&mut self.counters.ignored);
            return (Disposition::Ignored, None);
        }
        // The text is written straight into the event: no second 640-byte copy on the stack.
        let inbound = Event::Inbound {
            from: address_label(&deliver.from),
            text: Text::new(),
            at: utc(&deliver.timestamp),
            truncated: false,
        };
        if out.events.push(inbound).is_err() {
            return (Disposition::Message, None); // MAX_EVENTS >= 1: not reached.
        }
        let Some(Event::Inbound {
            text, truncated, ..
        }) = out.events.last_mut()
        else {
            return (Disposition::Message, None);
        };
        let (disposition, first_part) = match self.join(&deliver, now_ms, text) {
            Joined::Whole { cut } => {
                *truncated = cut;
                bump(&mut self.counters.messages);
                (Disposition::Message, true)
            }
            Joined::Fragment { first } => {
                *truncated = true;
                bump(&mut self.counters.fragments);
                (Disposition::Fragment, first)
            }
            Joined::Pending { received, total } => {
                return (Disposition::Pending { received, total }, None);
            }
            Joined::Duplicate => return (Disposition::Duplicate, None),
        };
        let ud = &deliver.user_data;
        let typed_by_a_person = ud.encoding != Encoding::EightBit && ud.udh.ports.is_none();
        let sender = msisdn(&deliver.from).filter(|_| typed_by_a_person && first_part);
        (disposition, sender)
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

    /// Puts the PDU's text into `text`: the whole message when it completes one.
    fn join(&mut self, d: &Deliver<'_>, now_ms: u64, text: &mut Text) -> Joined {
        let ud = &d.user_data;
        let mut fill = Fill { text, cut: false };
        if let Some(concat) = ud.udh.concat {
            match self.reassembler.push(&d.from, ud, now_ms) {
                Ok(Outcome::Complete(message)) => {
                    message.for_each_char(|c| fill.push(c));
                    return Joined::Whole { cut: fill.cut };
                }
                Ok(Outcome::Pending { received, total }) => {
                    return Joined::Pending { received, total };
                }
                Ok(Outcome::Duplicate) => return Joined::Duplicate,
                Err(ReassemblyError::TooManyParts) => {
                    ud.for_each_char(|c| fill.push(c));
                    return Joined::Fragment {
                        first: concat.part == 1,
                    };
                }
                // A header that numbers its part 0 or past the total: read the part alone.
                Err(ReassemblyError::NotConcatenated) => {}
            }
        }
        ud.for_each_char(|c| fill.push(c));
        Joined::Whole { cut: fill.cut }
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

/// How a PDU's text came out of [`Inbound::join`].
enum Joined {
    /// A whole message; `cut` when longer than [`MAX_TEXT`].
    Whole { cut: bool },
    /// One part of an oversized message; `first` for part 1.
    Fragment { first: bool },
    /// Stored, waiting for more parts.
    Pending { received: u8, total: u8 },
    /// Already had it.
    Duplicate,
}

/// Appends characters until the first one that does not fit, then nothing more (a
/// smaller character after a dropped one would make the text lie).
struct Fill<'t> {
    text: &'t mut Text,
    cut: bool,
}

impl Fill<'_> {
    fn push(&mut self, c: char) {
        if !self.cut && self.text.push(c).is_err() {
            self.cut = true;
        }
    }
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
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

// The RAM budget of the module docs (2 184 bytes on thumbv7m, 2 280 on 64-bit hosts).
const _: () = assert!(core::mem::size_of::<Inbound<2, 4, 16>>() <= 2_304);
