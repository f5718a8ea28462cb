//! Encoding choice and segmentation (3GPP TS 23.040 §9.2.3.24.1, TS 23.038 §4).
//!
//! A text that fits one short message is sent without a user data header; a longer one
//! is split into segments that each carry a concatenation header and so hold less:
//!
//! | encoding | single | with 8-bit ref (6-octet UDH) | with 16-bit ref (7-octet UDH) |
//! |---|---|---|---|
//! | GSM 7-bit | 160 septets | 153 | 152 |
//! | 8-bit | 140 octets | 134 | 133 |
//! | UCS-2 | 70 UTF-16 units | 67 | 66 |
//!
//! Splitting is greedy and never separates an `ESC`+code pair (GSM 7-bit) or a surrogate
//! pair (UCS-2): a character either fits wholly in the current segment or starts the next.

use super::Encoding;
use super::national::Shift;

/// Which concatenation information element the segments carry (TS 23.040 §9.2.3.24.1
/// IEI 0x00 and §9.2.3.24.8 IEI 0x08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConcatWidth {
    /// 8-bit reference: UDH of 6 octets (`05 00 03 RR TT SS`). The usual choice.
    #[default]
    Ref8,
    /// 16-bit reference: UDH of 7 octets (`06 08 04 RRRR TT SS`).
    Ref16,
}

impl ConcatWidth {
    /// Octets of the whole user data header, including the UDHL octet.
    pub const fn udh_octets(self) -> u16 {
        match self {
            ConcatWidth::Ref8 => 6,
            ConcatWidth::Ref16 => 7,
        }
    }
}

/// Capacity in units of `encoding` for one segment: without a header when `single`,
/// else with a concatenation header of width `width`.
pub const fn capacity(encoding: Encoding, single: bool, width: ConcatWidth) -> u16 {
    let concat = if single { None } else { Some(width) };
    capacity_with(encoding, concat, 0)
}

/// Capacity in units of `encoding` for one segment whose header holds a concatenation
/// element of width `concat` (if any) and `extra` more octets of elements (national
/// language shifts: 3 octets each).
pub const fn capacity_with(encoding: Encoding, concat: Option<ConcatWidth>, extra: u16) -> u16 {
    // 140 octets of user data; a header takes UDH octets, rounded up to whole septets
    // for GSM 7-bit (the fill bits, TS 23.040 §9.2.3.24).
    let udh = match concat {
        Some(width) => width.udh_octets() + extra,
        None if extra > 0 => 1 + extra,
        None => 0,
    };
    match encoding {
        Encoding::Gsm7 => (140 * 8 - (udh * 8).div_ceil(7) * 7) / 7,
        Encoding::EightBit => 140 - udh,
        Encoding::Ucs2 => (140 - udh) / 2,
    }
}

/// Units `c` costs in `encoding`, or `None` when GSM 7-bit cannot represent it.
/// 8-bit text is counted as its UTF-8 bytes.
#[inline]
pub fn char_cost(encoding: Encoding, c: char) -> Option<u16> {
    match encoding {
        Encoding::Gsm7 => super::gsm7::char_septets(c),
        Encoding::Ucs2 => Some(c.len_utf16() as u16),
        Encoding::EightBit => Some(c.len_utf8() as u16),
    }
}

/// Splits a text into segments of at most `capacity` units each. Yields `(part, units)`.
///
/// An empty text yields one empty segment (an empty short message is still one PDU).
/// Characters the encoding cannot represent must be rejected before: they are counted
/// as one unit here so that the iterator itself never fails.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a str,
    encoding: Encoding,
    capacity: u16,
    started: bool,
    whole: bool,
    shift: Shift,
}

impl<'a> Segments<'a> {
    /// Segments of `text` in `encoding`, `capacity` units each (values below 4 are raised
    /// to 4 so that every character, whatever its cost, fits an empty segment).
    pub fn new(text: &'a str, encoding: Encoding, capacity: u16) -> Self {
        Self {
            rest: text,
            encoding,
            capacity: capacity.max(4),
            started: false,
            whole: false,
            shift: Shift::DEFAULT,
        }
    }

    /// Segments of GSM 7-bit `text` written with the national tables `shift`.
    pub fn with_shift(text: &'a str, capacity: u16, shift: Shift) -> Self {
        Self {
            shift,
            ..Self::new(text, Encoding::Gsm7, capacity)
        }
    }

    /// The same segments for `encoding` (the shift only applies to GSM 7-bit).
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        if encoding != Encoding::Gsm7 {
            self.shift = Shift::DEFAULT;
        }
        self
    }

    /// The whole of `text` as one segment of `units` units (already measured to fit).
    pub fn whole(text: &'a str, units: u16) -> Self {
        Self {
            rest: text,
            encoding: Encoding::EightBit,
            capacity: units,
            started: false,
            whole: true,
            shift: Shift::DEFAULT,
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = (&'a str, u16);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            if self.started {
                return None;
            }
            self.started = true;
            return Some(("", 0));
        }
        self.started = true;
        if self.whole {
            return Some((core::mem::take(&mut self.rest), self.capacity));
        }
        let mut used: u16 = 0;
        let mut end = self.rest.len();
        for (i, c) in self.rest.char_indices() {
            let cost = if self.shift.is_default() {
                char_cost(self.encoding, c)
            } else {
                self.shift.char_septets(c)
            }
            .unwrap_or(1);
            if used.saturating_add(cost) > self.capacity {
                end = i;
                break;
            }
            used += cost;
        }
        let (part, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some((part, used))
    }
}
