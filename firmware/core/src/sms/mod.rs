//! SMS codec: GSM 03.38 / UCS-2 alphabets, segmentation, PDUs (3GPP TS 23.038, 23.040).
//!
//! - [`preview`] tells, without encoding, which encoding a text needs and how many
//!   segments it costs.
//! - [`gsm7`] is the GSM 7-bit alphabet (UCS-2 is UTF-16, handled with `core`'s
//!   `encode_utf16` / `decode_utf16`); [`segment`] splits texts.
//! - [`pdu`] encodes and decodes PDUs; [`reassembly`] joins concatenated parts.
//!
//! Everything here works on caller-provided or fixed-capacity buffers: no allocator.

pub mod gsm7;
pub mod national;
pub mod pdu;
pub mod reassembly;
pub mod segment;

use core::fmt;

pub use national::{NationalLanguage, Shift};
pub use segment::ConcatWidth;

/// Alphabet of a short message's user data (TP-DCS bits 3..2, TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encoding {
    /// GSM 7-bit default alphabet with its extension table; units are septets.
    Gsm7,
    /// UCS-2 (UTF-16 on the wire, surrogate pairs for characters outside the BMP);
    /// units are UTF-16 code units.
    Ucs2,
    /// 8-bit data; units are octets. [`preview`] never chooses it for text.
    EightBit,
}

impl Encoding {
    /// The name used on the command line and in JSON: `gsm7`, `ucs2` or `8bit`.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
            Encoding::EightBit => "8bit",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of short messages (segments) a text is sent as.
///
/// Saturates at `u16::MAX` for absurdly long texts. Only counts up to
/// [`SegmentCount::MAX_CONCAT`] can actually be sent: the concatenation header holds
/// the total in one octet (TS 23.040 §9.2.3.24.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SegmentCount(u16);

impl SegmentCount {
    /// The largest number of segments one concatenated message can have.
    pub const MAX_CONCAT: u16 = 255;

    /// A count of `n` segments.
    pub const fn new(n: u16) -> Self {
        Self(n)
    }

    /// The count as a number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// True when the message can be sent (at most [`Self::MAX_CONCAT`] segments).
    pub const fn is_sendable(self) -> bool {
        self.0 >= 1 && self.0 <= Self::MAX_CONCAT
    }
}

impl fmt::Display for SegmentCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a text costs to send, as [`preview`] computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Preview {
    /// The encoding the encoder will choose for this text.
    pub encoding: Encoding,
    /// Number of segments (1 for an empty text).
    pub segments: SegmentCount,
    /// Units of `encoding` the whole text takes (septets with extension characters
    /// counted twice, or UTF-16 code units). Saturates at `u32::MAX`.
    pub units: u32,
    /// Units one segment holds at this segment count: 160/70 for a single segment,
    /// 153/67 when concatenated (8-bit reference, the encoder's default).
    pub capacity: u16,
    /// Units still free in the last segment (what a user can add without paying more,
    /// as long as the characters added cost one unit each).
    pub free_in_last: u16,
    /// National language tables used (GSM 7-bit only; [`Shift::DEFAULT`] otherwise).
    pub shift: Shift,
}

/// Tells which encoding `text` needs and how many segments it costs, without encoding.
///
/// GSM 7-bit is chosen when every character is in the default alphabet or its
/// extension table, else UCS-2 (TS 23.038 §6.2.1 / §6.2.3). Segments assume the
/// encoder's defaults (8-bit concatenation reference). The count equals the number of
/// PDUs the SMS-SUBMIT encoder produces for the same text.
///
/// ```
/// use relais_core::sms::{Encoding, preview};
/// let p = preview("Hello €");
/// assert_eq!(p.encoding, Encoding::Gsm7);
/// assert_eq!((p.segments.get(), p.units), (1, 8));
/// let p = preview(&"Привет ".repeat(11));
/// assert_eq!((p.encoding, p.segments.get(), p.capacity), (Encoding::Ucs2, 2, 67));
/// ```
pub fn preview(text: &str) -> Preview {
    let m = gsm7::measure(text);
    match m.septets {
        Some(septets) => count(
            text,
            Encoding::Gsm7,
            ConcatWidth::Ref8,
            Shift::DEFAULT,
            septets,
        ),
        None => count(
            text,
            Encoding::Ucs2,
            ConcatWidth::Ref8,
            Shift::DEFAULT,
            m.utf16,
        ),
    }
}

/// Like [`preview`] but for a given encoding and concatenation width. Characters that
/// `encoding` cannot represent are counted as one unit each; check with
/// [`gsm7::septet_len`] first when forcing GSM 7-bit. 8-bit text is counted as UTF-8.
pub fn preview_in(text: &str, encoding: Encoding, width: ConcatWidth) -> Preview {
    let units = match encoding {
        Encoding::Ucs2 => gsm7::measure(text).utf16,
        Encoding::Gsm7 | Encoding::EightBit => text.chars().fold(0u32, |n, c| {
            n.saturating_add(u32::from(segment::char_cost(encoding, c).unwrap_or(1)))
        }),
    };
    count(text, encoding, width, Shift::DEFAULT, units)
}

/// Like [`preview`], but national language shift tables of `languages` may be used
/// when they take fewer segments than UCS-2 (TS 23.038 §6.2.1.2.4). GSM 7-bit with the
/// default tables is still preferred whenever it fits; on a tie with UCS-2, UCS-2 wins
/// (every phone reads it). The SMS-SUBMIT encoder decides the same way
/// ([`pdu::TextPlan::with_national`]).
///
/// ```
/// use relais_core::sms::{Encoding, NationalLanguage, preview, preview_national};
/// let text = "Şu an İstanbul'dayım, akşam görüşürüz. Çok teşekkürler! ".repeat(2);
/// assert_eq!((preview(&text).encoding, preview(&text).segments.get()), (Encoding::Ucs2, 2));
/// let p = preview_national(&text, &[NationalLanguage::Turkish]);
/// assert_eq!((p.encoding, p.segments.get()), (Encoding::Gsm7, 1));
/// // The single shift table suffices here (smaller header than the locking one).
/// assert_eq!(p.shift.single, Some(NationalLanguage::Turkish));
/// ```
pub fn preview_national(text: &str, languages: &[NationalLanguage]) -> Preview {
    best(text, ConcatWidth::Ref8, languages)
}

/// The cheapest way to send `text`: default GSM 7-bit, else the fewest segments among
/// UCS-2 and GSM 7-bit with the national tables of `languages`.
pub(crate) fn best(text: &str, width: ConcatWidth, languages: &[NationalLanguage]) -> Preview {
    let m = gsm7::measure(text);
    if let Some(septets) = m.septets {
        return count(text, Encoding::Gsm7, width, Shift::DEFAULT, septets);
    }
    let mut best = count(text, Encoding::Ucs2, width, Shift::DEFAULT, m.utf16);
    if let Some(p) = best_national(text, width, languages) {
        if p.segments < best.segments {
            best = p;
        }
    }
    best
}

/// The fewest-segment GSM 7-bit preview with the national tables of `languages`.
pub(crate) fn best_national(
    text: &str,
    width: ConcatWidth,
    languages: &[NationalLanguage],
) -> Option<Preview> {
    let mut best: Option<Preview> = None;
    for &lang in languages {
        let locking = lang.has_locking_table().then_some(lang);
        let candidates = [
            Shift {
                locking: None,
                single: Some(lang),
            },
            Shift {
                locking,
                single: None,
            },
            Shift {
                locking,
                single: Some(lang),
            },
        ];
        for shift in candidates.into_iter().filter(|s| !s.is_default()) {
            let Some(septets) = septets_with(text, shift) else {
                continue;
            };
            let p = count(text, Encoding::Gsm7, width, shift, septets);
            if best.is_none_or(|b| p.segments < b.segments) {
                best = Some(p);
            }
        }
    }
    best
}

fn septets_with(text: &str, shift: Shift) -> Option<u32> {
    text.chars().try_fold(0u32, |n, c| {
        Some(n.saturating_add(u32::from(shift.char_septets(c)?)))
    })
}

/// Segments for `text` of `units` units in `encoding` with tables `shift` (the one place
/// that decides).
pub(crate) fn count(
    text: &str,
    encoding: Encoding,
    width: ConcatWidth,
    shift: Shift,
    units: u32,
) -> Preview {
    let extra = shift.udh_octets();
    let single = segment::capacity_with(encoding, None, extra);
    if units <= u32::from(single) {
        return Preview {
            encoding,
            segments: SegmentCount(1),
            units,
            capacity: single,
            free_in_last: single - units as u16,
            shift,
        };
    }
    let capacity = segment::capacity_with(encoding, Some(width), extra);
    let mut count: u16 = 0;
    let mut last: u16 = 0;
    for (_, used) in segment::Segments::with_shift(text, capacity, shift).with_encoding(encoding) {
        count = count.saturating_add(1);
        last = used;
    }
    Preview {
        encoding,
        segments: SegmentCount(count),
        units,
        capacity,
        free_in_last: capacity.saturating_sub(last),
        shift,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    fn seg(text: &str) -> (Encoding, u16) {
        let p = preview(text);
        (p.encoding, p.segments.get())
    }

    #[test]
    fn limits_gsm7() {
        assert_eq!(seg(""), (Encoding::Gsm7, 1));
        assert_eq!(seg(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(seg(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(seg(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(seg(&"a".repeat(307)), (Encoding::Gsm7, 3));
        // 159 + € (2 septets) = 161: two segments (gammu SMSCounter agrees, docs/modems.md
        // § Oracle calls and vectors).
        assert_eq!(
            seg(&(String::from("a").repeat(159) + "€")),
            (Encoding::Gsm7, 2)
        );
    }

    #[test]
    fn escape_never_split() {
        // 152 septets then €: the € does not fit in the one septet left, moves to part 2.
        let text = "a".repeat(152) + "€" + &"b".repeat(10);
        let p = preview(&text);
        assert_eq!(p.segments.get(), 2);
        assert_eq!(p.free_in_last, 153 - 12);
    }

    #[test]
    fn limits_ucs2() {
        assert_eq!(seg(&"б".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(seg(&"б".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(seg(&"б".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(seg(&"б".repeat(135)), (Encoding::Ucs2, 3));
        // 35 emoji = 70 units: one segment; 66 units + emoji: pair moves to part 2.
        assert_eq!(seg(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        let text = "б".repeat(66) + "😀" + &"б".repeat(5);
        let p = preview(&text);
        assert_eq!((p.segments.get(), p.units, p.free_in_last), (2, 73, 60));
    }

    #[test]
    fn capacity_table() {
        use segment::capacity;
        for (e, s, m8, m16) in [
            (Encoding::Gsm7, 160, 153, 152),
            (Encoding::EightBit, 140, 134, 133),
            (Encoding::Ucs2, 70, 67, 66),
        ] {
            assert_eq!(capacity(e, true, ConcatWidth::Ref8), s);
            assert_eq!(capacity(e, false, ConcatWidth::Ref8), m8);
            assert_eq!(capacity(e, false, ConcatWidth::Ref16), m16);
        }
    }
}
