//! Reassembly of concatenated inbound messages (TS 23.040 §9.2.3.24.1).
//!
//! Parts are keyed by originator, concatenation reference, reference width and total
//! (TS 23.040 §9.2.3.24.1). They may arrive in any order and more than once; a part that never
//! arrives leaves its message pending until the caller expires it. Memory is fixed:
//! `MESSAGES` messages in flight of up to `PARTS` parts each, about
//! `MESSAGES × PARTS × 170` bytes. When every slot is taken, the oldest message is
//! dropped to make room (counted by [`Reassembler::evictions`]), so a flood of bogus
//! parts cannot block new messages forever.
//!
//! There is no clock here: the caller passes `now` (any monotonic unit, e.g. seconds)
//! to [`Reassembler::push`] and calls [`Reassembler::expire`] when it sees fit.
//!
//! # Nothing dropped unseen
//!
//! A caller that must act on every part it received (an opt-out in part 1 of a reply
//! whose part 2 never comes) takes incomplete messages out instead of letting them be
//! dropped: [`Reassembler::take_expired`] hands over the oldest message past its age,
//! and [`Reassembler::push_tagged`] shows the one a new part evicts before it goes, each
//! as an [`Assembled`] with the parts that did arrive ([`Assembled::is_complete`] is
//! false).
//! [`Reassembler::push_tagged`] attaches the caller's data to each part (where it is
//! stored, what identifies it) and a time stamp to the message (the earliest of its
//! parts'), both given back with the message ([`Assembled::for_each_tag`],
//! [`Assembled::stamp`]).
//!
//! ```
//! use relais_core::sms::pdu::{self, SmscField, Tpdu};
//! use relais_core::sms::reassembly::{Outcome, Reassembler};
//!
//! let mut r: Reassembler<4, 8> = Reassembler::new();
//! let part2 = pdu::hex::decode_vec::<64>("0044038121F300004250607080900008050003070202C4").unwrap();
//! let part1 = pdu::hex::decode_vec::<64>("0044038121F300004250607080900008050003070201C2").unwrap();
//! for (bytes, now) in [(&part2, 1), (&part1, 2)] {
//!     let Ok(Tpdu::Deliver(d)) = pdu::decode(bytes, SmscField::Present) else { panic!() };
//!     match r.push(&d.from, &d.user_data, now).unwrap() {
//!         Outcome::Complete(message) => {
//!             let mut text = heapless::String::<16>::new();
//!             message.write_text(&mut text).unwrap();
//!             assert_eq!(text, "ab");
//!         }
//!         Outcome::Pending { received, total } => assert_eq!((received, total), (1, 2)),
//!         Outcome::Duplicate => unreachable!(),
//!     }
//! }
//! ```

use core::fmt;

use super::gsm7;
use super::national::Shift;
use super::pdu::{Address, UserData};
use super::{ConcatWidth, Encoding};

/// Why a part was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReassemblyError {
    /// The part has no (valid) concatenation header: it is a whole message already.
    NotConcatenated,
    /// The message has more parts than this reassembler's `PARTS` capacity.
    TooManyParts,
}

impl fmt::Display for ReassemblyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReassemblyError::NotConcatenated => f.write_str("part has no concatenation header"),
            ReassemblyError::TooManyParts => f.write_str("message has more parts than capacity"),
        }
    }
}

impl core::error::Error for ReassemblyError {}

/// What happened to a pushed part.
#[derive(Debug)]
pub enum Outcome<'r> {
    /// The part completed its message. The slot is freed when this value is dropped.
    Complete(Assembled<'r>),
    /// Stored; the message still misses parts.
    Pending {
        /// Distinct parts received so far.
        received: u8,
        /// Parts the message has.
        total: u8,
    },
    /// This part had already been received; nothing changed.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    from: Address,
    reference: u16,
    width: ConcatWidth,
    total: u8,
}

/// One received part: septets (GSM 7-bit, one per octet) or octets (UCS-2, 8-bit).
#[derive(Debug, Clone)]
struct Part {
    encoding: Encoding,
    /// GSM 7-bit tables this part's header selected.
    shift: Shift,
    /// The caller's data ([`Reassembler::push_tagged`]).
    tag: u64,
    units: heapless::Vec<u8, 160>,
}

#[derive(Debug)]
struct Slot<const PARTS: usize> {
    key: Key,
    first_seen: u64,
    /// The smallest stamp of its parts ([`Reassembler::push_tagged`]).
    stamp: i64,
    received: u8,
    parts: [Option<Part>; PARTS],
}

/// Joins concatenated parts; see the [module docs](self).
#[derive(Debug)]
pub struct Reassembler<const MESSAGES: usize, const PARTS: usize> {
    slots: [Option<Slot<PARTS>>; MESSAGES],
    evictions: u32,
}

impl<const MESSAGES: usize, const PARTS: usize> Default for Reassembler<MESSAGES, PARTS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const MESSAGES: usize, const PARTS: usize> Reassembler<MESSAGES, PARTS> {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self {
            slots: core::array::from_fn(|_| None),
            evictions: 0,
        }
    }

    /// Messages currently waiting for parts.
    pub fn pending(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// How many incomplete messages were dropped because every slot was taken.
    pub fn evictions(&self) -> u32 {
        self.evictions
    }

    /// When the oldest message waiting for parts arrived (its `now` at the first push).
    pub fn oldest_since(&self) -> Option<u64> {
        self.slots.iter().flatten().map(|s| s.first_seen).min()
    }

    /// Drops incomplete messages whose first part arrived `max_age` or longer before
    /// `now`; returns how many were dropped.
    pub fn expire(&mut self, now: u64, max_age: u64) -> usize {
        let mut dropped = 0;
        for slot in &mut self.slots {
            if slot
                .as_ref()
                .is_some_and(|s| now.saturating_sub(s.first_seen) >= max_age)
            {
                *slot = None;
                dropped += 1;
            }
        }
        dropped
    }

    /// Adds a part received from `from` at time `now`.
    pub fn push(
        &mut self,
        from: &Address,
        user_data: &UserData<'_>,
        now: u64,
    ) -> Result<Outcome<'_>, ReassemblyError> {
        self.push_tagged(from, user_data, now, 0, 0, |_| {})
    }

    /// [`Reassembler::push`], keeping `tag` with the part and `stamp` with the message
    /// (the smallest of its parts' stamps): see [`Assembled::for_each_tag`] and
    /// [`Assembled::stamp`]. A duplicate part keeps the first copy's tag. When the part
    /// needs the room of the oldest message (every slot is taken), `evicted` is shown
    /// that message first, with the parts it has.
    pub fn push_tagged(
        &mut self,
        from: &Address,
        user_data: &UserData<'_>,
        now: u64,
        tag: u64,
        stamp: i64,
        evicted: impl FnOnce(&Assembled<'_>),
    ) -> Result<Outcome<'_>, ReassemblyError> {
        let (key, part) = key_of::<PARTS>(from, user_data)?;
        let index = self.slot_for(key, now, stamp, evicted);
        let Some(slot_ref) = self.slots.get_mut(index) else {
            // MESSAGES == 0: nothing can be held.
            return Err(ReassemblyError::TooManyParts);
        };
        let Some(slot) = slot_ref.as_mut() else {
            return Err(ReassemblyError::TooManyParts);
        };
        let Some(entry) = slot.parts.get_mut(usize::from(part - 1)) else {
            return Err(ReassemblyError::TooManyParts);
        };
        if entry.is_some() {
            return Ok(Outcome::Duplicate);
        }
        *entry = Some(capture(user_data, tag));
        slot.received += 1;
        slot.stamp = slot.stamp.min(stamp);
        let total = slot.key.total;
        if slot.received < total {
            return Ok(Outcome::Pending {
                received: slot.received,
                total,
            });
        }
        Ok(Outcome::Complete(Assembled { slot: slot_ref }))
    }

    /// Takes out the oldest message whose first part arrived `max_age` or longer before
    /// `now`, incomplete; its slot is freed when the value is dropped.
    pub fn take_expired(&mut self, now: u64, max_age: u64) -> Option<Assembled<'_>> {
        let index = self.oldest()?;
        let slot = self.slots.get_mut(index)?;
        let old = slot
            .as_ref()
            .is_some_and(|s| now.saturating_sub(s.first_seen) >= max_age);
        // Not `then_some`: an `Assembled` frees its slot when dropped.
        if old { Some(Assembled { slot }) } else { None }
    }

    /// The taken slot whose message arrived first.
    fn oldest(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s.first_seen)))
            .min_by_key(|&(_, first_seen)| first_seen)
            .map(|(i, _)| i)
    }

    /// The slot holding `key`, or a fresh one (evicting the oldest, shown to `evicted`
    /// first, when full).
    fn slot_for(
        &mut self,
        key: Key,
        now: u64,
        stamp: i64,
        evicted: impl FnOnce(&Assembled<'_>),
    ) -> usize {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.key == key))
        {
            return i;
        }
        let free = self.slots.iter().position(Option::is_none);
        let index = match free {
            Some(i) => i,
            None => {
                self.evictions = self.evictions.saturating_add(1);
                let i = self.oldest().unwrap_or(0);
                if let Some(slot) = self.slots.get_mut(i) {
                    // Freed when the view is dropped, right after.
                    evicted(&Assembled { slot });
                }
                i
            }
        };
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(Slot {
                key,
                first_seen: now,
                stamp,
                received: 0,
                parts: core::array::from_fn(|_| None),
            });
        }
        index
    }
}

/// The message key of a part and its number, when a reassembler of `PARTS` holds it.
fn key_of<const PARTS: usize>(
    from: &Address,
    user_data: &UserData<'_>,
) -> Result<(Key, u8), ReassemblyError> {
    let concat = user_data
        .udh
        .concat
        .ok_or(ReassemblyError::NotConcatenated)?;
    if concat.part == 0 || concat.part > concat.total {
        return Err(ReassemblyError::NotConcatenated);
    }
    if usize::from(concat.total) > PARTS {
        return Err(ReassemblyError::TooManyParts);
    }
    let key = Key {
        from: from.clone(),
        reference: concat.reference,
        width: concat.width,
        total: concat.total,
    };
    Ok((key, concat.part))
}

fn capture(ud: &UserData<'_>, tag: u64) -> Part {
    let mut units = heapless::Vec::new();
    match ud.encoding {
        Encoding::Gsm7 => {
            for s in ud.septets() {
                let _ = units.push(s);
            }
        }
        _ => {
            let _ = units.extend_from_slice(ud.octets().unwrap_or(&[]));
        }
    }
    Part {
        encoding: ud.encoding,
        shift: ud.shift(),
        tag,
        units,
    }
}

/// A message taken out of the reassembler: complete from [`Outcome::Complete`], maybe
/// incomplete from [`Reassembler::take_expired`] and [`Reassembler::push_tagged`]'s
/// eviction. Its slot is freed when this is dropped.
pub struct Assembled<'r> {
    slot: &'r mut dyn SlotView,
}

/// By hand: a `Debug` bound on the slot would put `core::fmt` in every firmware that
/// hands an `Assembled` around (10 KiB of flash).
impl fmt::Debug for Assembled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembled")
            .field("from", &self.from())
            .field("reference", &self.reference())
            .field("parts", &self.parts())
            .field("received", &self.slot.received())
            .finish()
    }
}

impl Assembled<'_> {
    /// The originator.
    pub fn from(&self) -> Option<&Address> {
        self.slot.key().map(|k| &k.from)
    }

    /// True when every part arrived.
    pub fn is_complete(&self) -> bool {
        self.slot.received() == self.parts()
    }

    /// True when part 1 (the start of the text) arrived.
    pub fn has_first_part(&self) -> bool {
        self.slot.first_part()
    }

    /// True when no part is 8-bit data.
    pub fn is_text(&self) -> bool {
        let mut text = true;
        self.slot
            .for_each_part(&mut |p: &Part| text &= p.encoding != Encoding::EightBit);
        text
    }

    /// The smallest stamp of its parts ([`Reassembler::push_tagged`]; 0 for parts
    /// pushed without one).
    pub fn stamp(&self) -> i64 {
        self.slot.stamp()
    }

    /// Calls `f` with the tag of every part that arrived, in part order.
    pub fn for_each_tag(&self, mut f: impl FnMut(u64)) {
        self.slot.for_each_part(&mut |p: &Part| f(p.tag));
    }

    /// The concatenation reference.
    pub fn reference(&self) -> Option<u16> {
        self.slot.key().map(|k| k.reference)
    }

    /// Number of parts joined.
    pub fn parts(&self) -> u8 {
        self.slot.key().map_or(0, |k| k.total)
    }

    /// Calls `sink` with every character of the joined text (the parts that arrived,
    /// in order). A surrogate pair or an escape sequence split across two parts is
    /// joined; 8-bit parts yield one character U+0000..=U+00FF per octet.
    pub fn for_each_char(&self, mut sink: impl FnMut(char)) {
        let mut high: Option<u16> = None;
        let mut esc = false;
        self.slot.for_each_part(&mut |part: &Part| {
            if part.encoding != Encoding::Ucs2 {
                if let Some(_lone) = high.take() {
                    sink(char::REPLACEMENT_CHARACTER);
                }
            }
            if part.encoding != Encoding::Gsm7 && esc {
                esc = false;
                sink(' ');
            }
            match part.encoding {
                Encoding::Gsm7 => {
                    for &s in &part.units {
                        if esc {
                            esc = false;
                            sink(if s == gsm7::ESC {
                                ' '
                            } else {
                                part.shift.extension_char(s)
                            });
                        } else if s == gsm7::ESC {
                            esc = true;
                        } else {
                            sink(part.shift.basic_char(s));
                        }
                    }
                }
                Encoding::Ucs2 => {
                    for pair in part.units.chunks_exact(2) {
                        let u = u16::from_be_bytes([pair[0], pair[1]]);
                        ucs2_unit(&mut high, u, &mut sink);
                    }
                }
                Encoding::EightBit => {
                    for &b in &part.units {
                        sink(char::from(b));
                    }
                }
            }
        });
        if high.is_some() || esc {
            sink(if esc {
                ' '
            } else {
                char::REPLACEMENT_CHARACTER
            });
        }
    }

    /// Writes the joined text to `out`.
    pub fn write_text(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut result = Ok(());
        self.for_each_char(|c| {
            if result.is_ok() {
                result = out.write_char(c);
            }
        });
        result
    }
}

fn ucs2_unit(high: &mut Option<u16>, u: u16, sink: &mut impl FnMut(char)) {
    match u {
        0xD800..=0xDBFF => {
            if high.replace(u).is_some() {
                sink(char::REPLACEMENT_CHARACTER);
            }
        }
        0xDC00..=0xDFFF => match high.take() {
            Some(h) => {
                let c = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                sink(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            None => sink(char::REPLACEMENT_CHARACTER),
        },
        _ => {
            if high.take().is_some() {
                sink(char::REPLACEMENT_CHARACTER);
            }
            sink(char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
}

/// Type-erases the `PARTS` capacity so that [`Assembled`] has no const parameter.
trait SlotView {
    fn key(&self) -> Option<&Key>;
    fn received(&self) -> u8;
    fn first_part(&self) -> bool;
    fn stamp(&self) -> i64;
    fn for_each_part(&self, f: &mut dyn FnMut(&Part));
    fn clear(&mut self);
}

impl<const PARTS: usize> SlotView for Option<Slot<PARTS>> {
    fn key(&self) -> Option<&Key> {
        self.as_ref().map(|s| &s.key)
    }

    fn received(&self) -> u8 {
        self.as_ref().map_or(0, |s| s.received)
    }

    fn first_part(&self) -> bool {
        self.as_ref()
            .and_then(|s| s.parts.first())
            .is_some_and(Option::is_some)
    }

    fn stamp(&self) -> i64 {
        self.as_ref().map_or(0, |s| s.stamp)
    }

    fn for_each_part(&self, f: &mut dyn FnMut(&Part)) {
        if let Some(slot) = self {
            for part in slot.parts.iter().flatten() {
                f(part);
            }
        }
    }

    fn clear(&mut self) {
        *self = None;
    }
}

impl Drop for Assembled<'_> {
    fn drop(&mut self) {
        self.slot.clear();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::sms::pdu::{
        self, DeliverHeader, EncodingChoice, PhoneNumber, SmscField, TextPlan, Timestamp, Tpdu,
    };
    use std::string::String;
    use std::vec::Vec;

    fn deliver_parts(text: &str, reference: u16, from: &Address) -> Vec<Vec<u8>> {
        let plan = TextPlan::new(text, EncodingChoice::Auto, ConcatWidth::Ref8, reference).unwrap();
        let header = DeliverHeader {
            smsc: None,
            from,
            timestamp: Timestamp {
                year: 2024,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                offset_quarters: 0,
            },
            class: None,
            protocol_id: 0,
            more_messages: false,
            status_report_indication: false,
        };
        plan.segments()
            .map(|seg| {
                let mut out = [0u8; pdu::MAX_PDU_LEN];
                let e = pdu::encode_deliver(&header, &seg, &mut out).unwrap();
                out[..e.pdu_len].to_vec()
            })
            .collect()
    }

    fn push<const M: usize, const P: usize>(
        r: &mut Reassembler<M, P>,
        bytes: &[u8],
        now: u64,
    ) -> Result<Option<String>, ReassemblyError> {
        let Ok(Tpdu::Deliver(d)) = pdu::decode(bytes, SmscField::Present) else {
            panic!("decode")
        };
        Ok(match r.push(&d.from, &d.user_data, now)? {
            Outcome::Complete(m) => {
                let mut s = String::new();
                m.write_text(&mut s).unwrap();
                Some(s)
            }
            _ => None,
        })
    }

    #[test]
    fn out_of_order_duplicates_and_interleaving() {
        let alice = Address::Number(PhoneNumber::parse("+15550001").unwrap());
        let bob = Address::alphanumeric("Bob").unwrap();
        let a_text = "x".repeat(400) + "€😀";
        let b_text = "é".repeat(200);
        let a = deliver_parts(&a_text, 7, &alice);
        let b = deliver_parts(&b_text, 7, &bob); // same reference, other originator
        // UCS-2 (the emoji): 404 units = 7 parts; GSM 7-bit: 200 septets = 2 parts.
        assert_eq!((a.len(), b.len()), (7, 2));
        let mut r: Reassembler<4, 8> = Reassembler::new();
        assert_eq!(push(&mut r, &a[6], 0), Ok(None));
        assert_eq!(push(&mut r, &b[1], 1), Ok(None));
        assert_eq!(push(&mut r, &a[6], 2), Ok(None)); // duplicate
        for (i, part) in [5, 0, 2, 1, 4].into_iter().enumerate() {
            assert_eq!(push(&mut r, &a[part], 3 + i as u64), Ok(None));
        }
        assert_eq!(r.pending(), 2);
        assert_eq!(push(&mut r, &b[0], 10), Ok(Some(b_text)));
        assert_eq!(push(&mut r, &a[3], 11), Ok(Some(a_text)));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn expiry_capacity_and_eviction() {
        let from = Address::Number(PhoneNumber::parse("+15550001").unwrap());
        let long = deliver_parts(&"y".repeat(1000), 1, &from); // 7 parts
        let mut r: Reassembler<2, 4> = Reassembler::new();
        assert_eq!(
            push(&mut r, &long[0], 0),
            Err(ReassemblyError::TooManyParts)
        );
        let m1 = deliver_parts(&"1".repeat(200), 1, &from);
        let m2 = deliver_parts(&"2".repeat(200), 2, &from);
        let m3 = deliver_parts(&"3".repeat(200), 3, &from);
        push(&mut r, &m1[0], 10).unwrap();
        push(&mut r, &m2[0], 20).unwrap();
        assert_eq!(r.expire(25, 15), 1); // m1 is 15 old
        assert_eq!(r.pending(), 1);
        push(&mut r, &m1[0], 30).unwrap();
        push(&mut r, &m3[0], 40).unwrap(); // full: evicts m2 (oldest)
        assert_eq!(r.evictions(), 1);
        assert_eq!(push(&mut r, &m2[1], 41), Ok(None));
        assert_eq!(push(&mut r, &m3[1], 42), Ok(Some("3".repeat(200))));
        let single = deliver_parts("hi", 0, &from);
        assert_eq!(
            push(&mut r, &single[0], 50),
            Err(ReassemblyError::NotConcatenated)
        );
    }

    #[test]
    fn incomplete_messages_are_handed_over_with_their_tags() {
        let from = Address::Number(PhoneNumber::parse("+15550001").unwrap());
        let other = Address::Number(PhoneNumber::parse("+15550002").unwrap());
        fn decode(bytes: &[u8]) -> pdu::Deliver<'_> {
            match pdu::decode(bytes, SmscField::Present) {
                Ok(Tpdu::Deliver(d)) => d,
                _ => panic!("decode"),
            }
        }
        let m1 = deliver_parts(&(String::from("STOP ") + &"1".repeat(350)), 1, &from); // 3 parts
        let m2 = deliver_parts(&"2".repeat(200), 2, &other);
        let m3 = deliver_parts(&"3".repeat(200), 3, &from);
        let mut r: Reassembler<2, 4> = Reassembler::new();
        // Parts 3 and 1 of m1 (part 2 never comes), with tags and stamps.
        let never = |_: &Assembled<'_>| panic!("nothing to evict");
        for (bytes, tag, stamp) in [(&m1[2], 13, 50), (&m1[0], 11, 40)] {
            let d = decode(bytes);
            assert!(matches!(
                r.push_tagged(&d.from, &d.user_data, 10, tag, stamp, never),
                Ok(Outcome::Pending { .. })
            ));
        }
        let d2 = decode(&m2[0]);
        r.push_tagged(&d2.from, &d2.user_data, 20, 21, 60, never)
            .unwrap();
        assert_eq!(r.oldest_since(), Some(10));
        // Not old enough yet.
        assert!(r.take_expired(19, 10).is_none());
        assert_eq!(r.pending(), 2);
        // m3 evicts m1, the oldest: it is shown with what arrived.
        let d3 = decode(&m3[0]);
        let mut seen = None;
        let pending = r
            .push_tagged(&d3.from, &d3.user_data, 30, 31, 70, |victim| {
                assert!(!victim.is_complete() && victim.has_first_part() && victim.is_text());
                let mut tags = Vec::new();
                victim.for_each_tag(|t| tags.push(t));
                let mut text = String::new();
                victim.write_text(&mut text).unwrap();
                seen = Some((victim.stamp(), tags, text));
            })
            .is_ok_and(|o| matches!(o, Outcome::Pending { .. }));
        assert!(pending);
        let (stamp, tags, text) = seen.expect("m1 evicted");
        assert_eq!((stamp, tags), (40, std::vec![11, 13]));
        assert!(text.starts_with("STOP 111") && text.len() < 355, "{text}");
        assert_eq!((r.evictions(), r.pending()), (1, 2));
        // m2 (first seen at 20) is the first to grow too old.
        {
            let old = r.take_expired(30, 10).expect("m2 expired");
            assert_eq!(old.from(), Some(&other));
            assert!(!old.has_first_part() || old.parts() == 2);
            let mut tags = Vec::new();
            old.for_each_tag(|t| tags.push(t));
            assert_eq!(tags, [21]);
        }
        assert_eq!(r.pending(), 1);
        assert!(r.take_expired(30, 10).is_none());
        // A complete message reports itself complete, stamped with its earliest part.
        let d = decode(&m3[1]);
        match r
            .push_tagged(&d.from, &d.user_data, 31, 32, 65, never)
            .unwrap()
        {
            Outcome::Complete(m) => {
                assert!(m.is_complete() && m.has_first_part());
                assert_eq!(m.stamp(), 65);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn split_surrogate_pair_is_joined() {
        // A sender that (wrongly) splits 😀 across parts: D83D ends part 1, DE00 starts part 2.
        let mut ud1 = [0u8; 140];
        ud1[..6].copy_from_slice(&[5, 0, 3, 9, 2, 1]);
        for i in 0..66 {
            ud1[6 + 2 * i + 1] = b'a';
        }
        ud1[138] = 0xD8;
        ud1[139] = 0x3D;
        let part1 = [
            &[0x00, 0x44, 0x03, 0x81, 0x21, 0xF3, 0x00, 0x08][..],
            &[0x42, 0x50, 0x60, 0x70, 0x80, 0x90, 0x00, 140],
            &ud1,
        ]
        .concat();
        let part2 = [
            &[0x00, 0x44, 0x03, 0x81, 0x21, 0xF3, 0x00, 0x08][..],
            &[0x42, 0x50, 0x60, 0x70, 0x80, 0x90, 0x00, 8],
            &[5, 0, 3, 9, 2, 2, 0xDE, 0x00],
        ]
        .concat();
        let mut r: Reassembler<1, 2> = Reassembler::new();
        assert_eq!(push(&mut r, &part2, 0), Ok(None));
        assert_eq!(push(&mut r, &part1, 0), Ok(Some("a".repeat(66) + "😀")));
    }
}
