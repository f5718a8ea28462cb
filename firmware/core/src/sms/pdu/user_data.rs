//! TP-UDL and TP-UD (TS 23.040 §9.2.3.16, §9.2.3.24): reading the user data of a
//! received PDU, and planning a text into segments for sending.

use core::fmt;

use super::udh::{self, Concat, Udh};
use super::{DecodeError, EncodeError, MAX_UD_OCTETS, Reader, Writer};
use crate::sms::gsm7;
use crate::sms::national::{NationalLanguage, Shift};
use crate::sms::segment::{self, Segments};
use crate::sms::{ConcatWidth, Encoding, SegmentCount};

/// Most UTF-8 bytes the text of one PDU decodes to (160 septets × 3 bytes for `€`).
pub const MAX_TEXT_BYTES: usize = 480;

/// The text of one PDU, decoded into a fixed-capacity string.
pub type Text = heapless::String<MAX_TEXT_BYTES>;

/// The user data of a decoded PDU: header elements and the text, still encoded,
/// borrowed from the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UserData<'a> {
    /// Alphabet of the text.
    pub encoding: Encoding,
    /// Header elements (all `None` when the PDU has no header).
    pub udh: Udh,
    /// The user data octets, header included.
    ud: &'a [u8],
    /// Where the text starts: a bit offset into `ud` for GSM 7-bit (after the header and
    /// its fill bits), an octet offset otherwise.
    start: usize,
    /// Septets (GSM 7-bit) or octets (UCS-2, 8-bit) of text.
    units: usize,
}

impl<'a> UserData<'a> {
    /// Septets (GSM 7-bit) or octets (UCS-2, 8-bit) of text, header excluded.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The text's octets for UCS-2 and 8-bit user data (`None` for GSM 7-bit, which is
    /// bit-packed; use [`UserData::septets`]).
    pub fn octets(&self) -> Option<&'a [u8]> {
        match self.encoding {
            Encoding::Gsm7 => None,
            _ => self.ud.get(self.start..self.start + self.units),
        }
    }

    /// The text's septets, one per item (GSM 7-bit only; empty otherwise).
    pub fn septets(&self) -> impl Iterator<Item = u8> + 'a {
        let (ud, start) = (self.ud, self.start);
        let n = if self.encoding == Encoding::Gsm7 {
            self.units
        } else {
            0
        };
        (0..n).filter_map(move |i| gsm7::septet_at(ud, start, i))
    }

    /// Calls `sink` with each character of the text. UCS-2 is read as UTF-16; a lone
    /// surrogate becomes U+FFFD. 8-bit data is passed through as U+0000..=U+00FF (one
    /// character per octet); use [`UserData::octets`] for the bytes.
    pub fn for_each_char(&self, sink: impl FnMut(char)) {
        let shift = self.shift();
        for_each_char(self.encoding, shift, self.ud, self.start, self.units, sink);
    }

    /// The GSM 7-bit tables the header selects (national language shifts; ids without
    /// tables here fall back to the default alphabet).
    pub fn shift(&self) -> Shift {
        Shift::from_ids(self.udh.locking_shift, self.udh.single_shift)
    }

    /// Writes the text to `out` (see [`UserData::for_each_char`]).
    pub fn write_text(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut result = Ok(());
        self.for_each_char(|c| {
            if result.is_ok() {
                result = out.write_char(c);
            }
        });
        result
    }

    /// The text in a fixed-capacity string (always large enough for one PDU).
    pub fn text(&self) -> Text {
        let mut t = Text::new();
        // Cannot fail: 160 septets or 140 octets never exceed MAX_TEXT_BYTES.
        let _ = self.write_text(&mut t);
        t
    }
}

/// Decodes text units of any encoding into characters.
pub(crate) fn for_each_char(
    encoding: Encoding,
    shift: Shift,
    data: &[u8],
    start: usize,
    units: usize,
    mut sink: impl FnMut(char),
) {
    match encoding {
        Encoding::Gsm7 => {
            let _ = shift.decode_septets(data, start, units, sink);
        }
        Encoding::Ucs2 => {
            let octets = data.get(start..).unwrap_or(&[]);
            let octets = octets.get(..units).unwrap_or(octets);
            let units = octets
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                sink(c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
        Encoding::EightBit => {
            let octets = data.get(start..).unwrap_or(&[]);
            for &b in octets.iter().take(units) {
                sink(char::from(b));
            }
        }
    }
}

/// Reads TP-UDL and TP-UD.
pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    has_udh: bool,
    dcs: &super::Dcs,
) -> Result<UserData<'a>, DecodeError> {
    let udl = usize::from(r.u8()?);
    if dcs.compressed {
        return Err(DecodeError::Compressed);
    }
    let encoding = dcs.encoding;
    let octets = match encoding {
        Encoding::Gsm7 if udl > 160 => return Err(DecodeError::UserDataTooLong),
        Encoding::Gsm7 => (udl * 7).div_ceil(8),
        _ if udl > MAX_UD_OCTETS => return Err(DecodeError::UserDataTooLong),
        _ => udl,
    };
    let ud = r.take(octets)?;
    let with_header = if has_udh {
        header_layout(ud, udl, encoding)
    } else {
        None
    };
    // Without a usable header the whole user data is text: the octets are read as the
    // sender most likely wrote them (a stored SMS-SUBMIT with TP-UDHI set over plain
    // text, an empty TP-UD), rather than the message being refused.
    let (udh, start, units) = with_header.unwrap_or((Udh::default(), 0, udl));
    if encoding == Encoding::Ucs2 && units % 2 != 0 {
        return Err(DecodeError::OddUcs2Length);
    }
    Ok(UserData {
        encoding,
        udh,
        ud,
        start,
        units,
    })
}

/// The header elements, where the text starts and its units, when TP-UDHI is set and
/// `ud` holds a header the rest of the user data agrees with (TS 23.040 §9.2.3.24).
///
/// `None` when there is no usable header: no user data at all, a UDHL running past the
/// user data, a header longer than TP-UDL allows, or (UCS-2) a header that would leave
/// an odd number of text octets where the whole user data has an even number. A header
/// that fits but whose last element runs past UDHL is skipped and ignored as a whole,
/// as §9.2.3.24 requires.
fn header_layout(ud: &[u8], udl: usize, encoding: Encoding) -> Option<(Udh, usize, usize)> {
    let udhl = usize::from(*ud.first()?);
    let header = ud.get(1..1 + udhl)?;
    let header_octets = 1 + udhl;
    let (start, units) = match encoding {
        Encoding::Gsm7 => {
            let header_septets = (header_octets * 8).div_ceil(7);
            (header_septets * 7, udl.checked_sub(header_septets)?)
        }
        _ => {
            let units = udl.checked_sub(header_octets)?;
            if encoding == Encoding::Ucs2 && units % 2 != 0 && udl % 2 == 0 {
                return None;
            }
            (header_octets, units)
        }
    };
    Some((Udh::parse(header).unwrap_or_default(), start, units))
}

/// How the encoder picks the alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodingChoice {
    /// GSM 7-bit when every character fits, else UCS-2 (fewest segments).
    #[default]
    Auto,
    /// GSM 7-bit; a character outside the alphabet is an error.
    Gsm7,
    /// UCS-2 even when GSM 7-bit would do.
    Ucs2,
}

/// A text split into the segments it will be sent as.
#[derive(Debug, Clone, Copy)]
pub struct TextPlan<'t> {
    text: &'t str,
    encoding: Encoding,
    shift: Shift,
    width: ConcatWidth,
    reference: u16,
    total: u8,
    units: u32,
}

impl<'t> TextPlan<'t> {
    /// Plans `text`: picks the encoding and counts the segments, which will carry
    /// concatenation reference `reference` (of width `width`) when there is more than
    /// one. Uses the default GSM 7-bit tables only; see [`TextPlan::with_national`].
    pub fn new(
        text: &'t str,
        choice: EncodingChoice,
        width: ConcatWidth,
        reference: u16,
    ) -> Result<Self, EncodeError> {
        Self::with_national(text, choice, width, reference, &[])
    }

    /// Like [`TextPlan::new`], but GSM 7-bit may also use the national language shift
    /// tables of `languages` (TS 23.038 §6.2.1.2.4): with `Auto`, only when that takes
    /// fewer segments than UCS-2; with `Gsm7`, whenever the default tables cannot hold
    /// the text. The choice is the one [`crate::sms::preview_national`] reports.
    pub fn with_national(
        text: &'t str,
        choice: EncodingChoice,
        width: ConcatWidth,
        reference: u16,
        languages: &[NationalLanguage],
    ) -> Result<Self, EncodeError> {
        if width == ConcatWidth::Ref8 && reference > 0xFF {
            return Err(EncodeError::ReferenceTooLarge);
        }
        let preview = match choice {
            EncodingChoice::Auto => crate::sms::best(text, width, languages),
            EncodingChoice::Ucs2 => {
                let units = gsm7::measure(text).utf16;
                crate::sms::count(text, Encoding::Ucs2, width, Shift::DEFAULT, units)
            }
            EncodingChoice::Gsm7 => match gsm7::measure(text).septets {
                Some(septets) => {
                    crate::sms::count(text, Encoding::Gsm7, width, Shift::DEFAULT, septets)
                }
                None => crate::sms::best_national(text, width, languages)
                    .ok_or_else(|| first_unrepresentable(text))?,
            },
        };
        let total =
            u8::try_from(preview.segments.get()).map_err(|_| EncodeError::TooManySegments)?;
        Ok(Self {
            text,
            encoding: preview.encoding,
            shift: preview.shift,
            width,
            reference,
            total,
            units: preview.units,
        })
    }

    /// The chosen encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The national language tables GSM 7-bit segments use ([`Shift::DEFAULT`] if none).
    pub fn shift(&self) -> Shift {
        self.shift
    }

    /// How many segments (PDUs) the text takes.
    pub fn segment_count(&self) -> SegmentCount {
        SegmentCount::new(u16::from(self.total))
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = TextSegment<'t>> + 't {
        let plan = *self;
        let single = plan.total == 1;
        let segments = if single {
            // Measured to fit: no need to walk the text again.
            Segments::whole(plan.text, plan.units as u16)
        } else {
            let extra = plan.shift.udh_octets();
            let capacity = segment::capacity_with(plan.encoding, Some(plan.width), extra);
            Segments::with_shift(plan.text, capacity, plan.shift).with_encoding(plan.encoding)
        };
        segments
            .zip(1..=plan.total)
            .map(move |((text, _), part)| TextSegment {
                text,
                encoding: plan.encoding,
                concat: (!single).then_some(Concat {
                    reference: plan.reference,
                    total: plan.total,
                    part,
                    width: plan.width,
                }),
                shift: plan.shift,
            })
    }
}

fn first_unrepresentable(text: &str) -> EncodeError {
    let c = text
        .chars()
        .find(|&c| gsm7::encode_char(c).is_none())
        .unwrap_or('\u{FFFD}');
    EncodeError::Unrepresentable(c)
}

/// One segment of a planned text, ready to be put into a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TextSegment<'t> {
    /// The characters this segment carries.
    pub text: &'t str,
    /// Their encoding.
    pub encoding: Encoding,
    /// Concatenation header, `None` for a single-segment message.
    pub concat: Option<Concat>,
    /// National language tables for GSM 7-bit (written as UDH elements 0x24/0x25).
    pub shift: Shift,
}

impl TextSegment<'_> {
    /// A single-segment message (no header) holding `text` in `encoding`.
    pub fn single(text: &str, encoding: Encoding) -> TextSegment<'_> {
        TextSegment {
            text,
            encoding,
            concat: None,
            shift: Shift::DEFAULT,
        }
    }

    /// True when the PDU needs a user data header (TP-UDHI).
    pub fn has_udh(&self) -> bool {
        self.concat.is_some() || (self.encoding == Encoding::Gsm7 && !self.shift.is_default())
    }
}

/// Writes TP-UDL and TP-UD for `seg`.
pub(crate) fn write(w: &mut Writer<'_>, seg: &TextSegment<'_>) -> Result<(), EncodeError> {
    let udl_at = w.pos();
    w.u8(0)?;
    let shift = if seg.encoding == Encoding::Gsm7 {
        seg.shift
    } else {
        Shift::DEFAULT
    };
    let header_octets = udh::write_header(w, seg.concat.as_ref(), shift)?;
    let udl = match seg.encoding {
        Encoding::Gsm7 => {
            let header_septets = (header_octets * 8).div_ceil(7);
            let fill = header_septets * 7 - header_octets * 8;
            // The fill bits start a fresh octet: clear it so they are zero.
            let tail = w.tail();
            if let Some(first) = tail.first_mut() {
                *first = 0;
            }
            let mut sw = gsm7::SeptetWriter::new(tail, fill);
            let packed = if shift.is_default() {
                gsm7::pack(seg.text, &mut sw)
            } else {
                pack_with(shift, seg.text, &mut sw)
            };
            let septets = header_septets
                + packed.map_err(|e| match e {
                    gsm7::PackError::Unrepresentable(c) => EncodeError::Unrepresentable(c),
                    gsm7::PackError::Full => EncodeError::BufferTooSmall,
                })?;
            if septets > 160 {
                return Err(EncodeError::SegmentTooLong);
            }
            let used = sw.finish().map_err(|_| EncodeError::BufferTooSmall)?;
            w.advance(used)?;
            septets
        }
        Encoding::Ucs2 => {
            let mut octets = header_octets;
            for unit in seg.text.encode_utf16() {
                w.bytes(&unit.to_be_bytes())?;
                octets += 2;
            }
            octets
        }
        Encoding::EightBit => {
            w.bytes(seg.text.as_bytes())?;
            header_octets + seg.text.len()
        }
    };
    if seg.encoding != Encoding::Gsm7 && udl > MAX_UD_OCTETS {
        return Err(EncodeError::SegmentTooLong);
    }
    w.set(udl_at, udl as u8)
}

/// [`gsm7::pack`] with national language tables.
fn pack_with(
    shift: Shift,
    text: &str,
    w: &mut gsm7::SeptetWriter<'_>,
) -> Result<usize, gsm7::PackError> {
    let mut septets = 0;
    for c in text.chars() {
        let code = shift
            .encode_char(c)
            .ok_or(gsm7::PackError::Unrepresentable(c))?;
        let pushed = match code {
            gsm7::Septets::Default(s) => w.push(s),
            gsm7::Septets::Extension(e) => w.push(gsm7::ESC).and_then(|_| w.push(e)),
        };
        pushed.map_err(|_| gsm7::PackError::Full)?;
        septets += usize::from(code.count());
    }
    Ok(septets)
}
