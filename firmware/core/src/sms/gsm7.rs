//! GSM 7-bit default alphabet, its extension table, and septet packing
//! (3GPP TS 23.038 §6.1.2.1 and §6.2.1, packing §6.1.2.1.1).
//!
//! A text character maps to one septet (default table) or to two (`ESC` 0x1B followed
//! by an extension-table code). Septets are packed LSB-first into octets; after a user
//! data header the text starts at the next septet boundary (the fill bits are zero).

/// The escape septet that announces an extension-table character (TS 23.038 §6.2.1).
pub const ESC: u8 = 0x1B;

/// Default alphabet, indexed by septet (TS 23.038 §6.2.1, table "GSM 7 bit default
/// alphabet"; same string as Android's `GsmAlphabet` `sBasicTables[0]`). Position 0x1B
/// is the escape code and decodes through [`decode_septets`], never through this table.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// Sentinel in [`ASCII_TO_SEPTET`] for ASCII characters without a default-table septet.
const NONE: u8 = 0xFF;

/// ASCII fast path: septet for each ASCII code, or [`NONE`] (the backquote, the ten
/// extension characters and the C0 controls other than LF and CR).
const ASCII_TO_SEPTET: [u8; 128] = build_ascii_map();

const fn build_ascii_map() -> [u8; 128] {
    let mut map = [NONE; 128];
    let mut septet = 0;
    while septet < 128 {
        let c = DEFAULT[septet] as u32;
        // 0x1B is ESC, whose table slot holds a placeholder space.
        if c < 128 && septet != ESC as usize {
            map[c as usize] = septet as u8;
        }
        septet += 1;
    }
    map
}

/// How one character is written in GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Septets {
    /// One septet of the default table.
    Default(u8),
    /// `ESC` followed by this extension-table code: two septets.
    Extension(u8),
}

impl Septets {
    /// Number of septets this character costs (1 or 2).
    pub const fn count(self) -> u16 {
        match self {
            Septets::Default(_) => 1,
            Septets::Extension(_) => 2,
        }
    }
}

/// The GSM 7-bit form of `c`, or `None` when the default alphabet and its extension
/// table cannot represent it (the text then needs UCS-2).
pub fn encode_char(c: char) -> Option<Septets> {
    let code = c as u32;
    if code < 128 {
        let septet = ASCII_TO_SEPTET[code as usize];
        if septet != NONE {
            return Some(Septets::Default(septet));
        }
    }
    if let Some(ext) = extension_code(c) {
        return Some(Septets::Extension(ext));
    }
    if code < 128 {
        return None;
    }
    default_non_ascii(c).map(Septets::Default)
}

/// Extension table, TS 23.038 §6.2.1.1 (Android `sExtendedTables[0]`): code and
/// character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn extension_code(c: char) -> Option<u8> {
    EXTENSION
        .iter()
        .find(|&&(_, e)| e == c)
        .map(|&(code, _)| code)
}

/// Non-ASCII characters of the default table: a search of the table (a `match` over
/// the same characters took 0.3 KiB more flash).
fn default_non_ascii(c: char) -> Option<u8> {
    let unit = u16::try_from(u32::from(c)).ok()?;
    let septet = DEFAULT_BMP.iter().position(|&d| d == unit)?;
    Some(septet as u8)
}

/// The character of default-table septet `septet` (only the low 7 bits are used).
/// `ESC` (0x1B) on its own yields a space, as TS 23.038 §6.2.1 note 1 asks of a
/// receiver that meets an escape it cannot resolve.
pub fn default_char(septet: u8) -> char {
    let unit = DEFAULT_BMP[usize::from(septet & 0x7F)];
    char::from_u32(u32::from(unit)).unwrap_or(' ')
}

/// [`DEFAULT`] as flash keeps it: every character is in the Basic Multilingual Plane,
/// so two bytes each instead of a `char`'s four.
static DEFAULT_BMP: [u16; 128] = {
    let mut table = [0; 128];
    let mut septet = 0;
    while septet < 128 {
        let c = DEFAULT[septet] as u32;
        assert!(c < 0x1_0000, "a default-table character outside the BMP");
        table[septet] = c as u16;
        septet += 1;
    }
    table
};

/// The character of extension-table code `code`. An unmapped code falls back to the
/// default-table character (TS 23.038 §6.2.1.1 note: "...shall display the character
/// from the default table"; Android `testDecodeExtendedFallback`).
pub fn extension_char(code: u8) -> char {
    extension_lookup(code).unwrap_or_else(|| default_char(code))
}

/// The extension-table character of `code`, or `None` when the table has none.
pub fn extension_lookup(code: u8) -> Option<char> {
    let code = code & 0x7F;
    EXTENSION.iter().find(|&&(k, _)| k == code).map(|&(_, c)| c)
}

/// Septets each ASCII character costs: 1 (default table), 2 (extension table) or 0
/// (not representable).
const ASCII_COST: [u8; 128] = build_ascii_cost();

const fn build_ascii_cost() -> [u8; 128] {
    let mut cost = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        cost[c] = if ASCII_TO_SEPTET[c] != NONE {
            1
        } else {
            match c as u8 {
                0x0C | b'^' | b'{' | b'}' | b'\\' | b'[' | b'~' | b']' | b'|' => 2,
                _ => 0,
            }
        };
        c += 1;
    }
    cost
}

/// Septets `c` costs in GSM 7-bit (1 or 2), or `None` when it has no GSM 7-bit form.
#[inline]
pub fn char_septets(c: char) -> Option<u16> {
    let code = c as u32;
    if code < 128 {
        return match ASCII_COST[code as usize] {
            0 => None,
            n => Some(u16::from(n)),
        };
    }
    encode_char(c).map(Septets::count)
}

/// What a text costs in both alphabets, measured in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// GSM 7-bit septets, `None` when a character is not representable.
    pub septets: Option<u32>,
    /// UTF-16 code units (the UCS-2 cost).
    pub utf16: u32,
}

/// Measures `text` in GSM 7-bit and UCS-2. Counts saturate at `u32::MAX`.
pub fn measure(text: &str) -> Measure {
    let mut septets: u32 = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        // ASCII fast path; any other byte starts a multi-byte character.
        if b < 0x80 {
            match ASCII_COST[usize::from(b)] {
                0 => return ucs2_only(text),
                n => septets = septets.saturating_add(u32::from(n)),
            }
            continue;
        }
        if b & 0xC0 == 0x80 {
            continue; // continuation byte of a character already counted
        }
        let c = text.get(i..).and_then(|t| t.chars().next());
        match c.and_then(char_septets) {
            Some(n) => septets = septets.saturating_add(u32::from(n)),
            None => return ucs2_only(text),
        }
    }
    Measure {
        septets: Some(septets),
        utf16: utf16_len(text),
    }
}

fn ucs2_only(text: &str) -> Measure {
    Measure {
        septets: None,
        utf16: utf16_len(text),
    }
}

/// UTF-16 code units of `text`: one per character, two for those outside the BMP
/// (4-byte UTF-8 sequences), counted from the bytes.
fn utf16_len(text: &str) -> u32 {
    let mut n: u32 = 0;
    for &b in text.as_bytes() {
        if b & 0xC0 != 0x80 {
            n = n.saturating_add(if b >= 0xF0 { 2 } else { 1 });
        }
    }
    n
}

/// Number of septets `text` needs in GSM 7-bit, or `None` if a character is not
/// representable. Saturates at `u32::MAX`.
pub fn septet_len(text: &str) -> Option<u32> {
    let mut total: u32 = 0;
    for c in text.chars() {
        total = total.saturating_add(u32::from(char_septets(c)?));
    }
    Some(total)
}

/// Writes septets LSB-first into octets, starting `start_bit` bits into `out`.
///
/// Used with `start_bit` = UDH length in bits plus fill bits so that the text starts on
/// a septet boundary (TS 23.040 §9.2.3.24). Call [`SeptetWriter::finish`] to write the
/// last, partial octet.
#[derive(Debug)]
pub struct SeptetWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    acc: u32,
    bits: u32,
}

impl<'a> SeptetWriter<'a> {
    /// A writer that starts at bit `start_bit` of `out` (bits before it are kept).
    pub fn new(out: &'a mut [u8], start_bit: usize) -> Self {
        let pos = start_bit / 8;
        let bits = (start_bit % 8) as u32;
        let keep = out
            .get(pos)
            .map_or(0, |b| u32::from(*b) & ((1 << bits) - 1));
        Self {
            out,
            pos,
            acc: keep,
            bits,
        }
    }

    /// Appends one septet; `Err(())` when `out` is full.
    #[allow(clippy::result_unit_err)]
    #[inline]
    pub fn push(&mut self, septet: u8) -> Result<(), ()> {
        self.acc |= u32::from(septet & 0x7F) << self.bits;
        self.bits += 7;
        if self.bits >= 8 {
            *self.out.get_mut(self.pos).ok_or(())? = self.acc as u8;
            self.pos += 1;
            self.acc >>= 8;
            self.bits -= 8;
        }
        Ok(())
    }

    /// Writes the partial last octet (zero-padded) and returns the octets used from the
    /// start of `out`.
    #[allow(clippy::result_unit_err)]
    pub fn finish(self) -> Result<usize, ()> {
        if self.bits == 0 {
            return Ok(self.pos);
        }
        *self.out.get_mut(self.pos).ok_or(())? = self.acc as u8;
        Ok(self.pos + 1)
    }
}

/// Why [`pack`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackError {
    /// This character has no GSM 7-bit form.
    Unrepresentable(char),
    /// The writer's buffer is full.
    Full,
}

/// Packs `text` into `w` (escapes included) and returns the septets written.
pub fn pack(text: &str, w: &mut SeptetWriter<'_>) -> Result<usize, PackError> {
    // The writer's state lives in locals for the loop and is stored back at the end.
    let (mut acc, mut bits, mut pos) = (w.acc, w.bits, w.pos);
    let out = &mut *w.out;
    let mut septets = 0usize;
    let mut result = Ok(());
    let mut put = |s: u8, acc: &mut u32, bits: &mut u32, pos: &mut usize| -> bool {
        *acc |= u32::from(s & 0x7F) << *bits;
        *bits += 7;
        if *bits >= 8 {
            let Some(slot) = out.get_mut(*pos) else {
                return false;
            };
            *slot = *acc as u8;
            *pos += 1;
            *acc >>= 8;
            *bits -= 8;
        }
        true
    };
    for c in text.chars() {
        let code = c as u32;
        // ASCII fast path: one table lookup for the common case.
        let ok = if code < 128 && ASCII_TO_SEPTET[code as usize] != NONE {
            septets += 1;
            put(
                ASCII_TO_SEPTET[code as usize],
                &mut acc,
                &mut bits,
                &mut pos,
            )
        } else {
            match encode_char(c) {
                Some(Septets::Default(s)) => {
                    septets += 1;
                    put(s, &mut acc, &mut bits, &mut pos)
                }
                Some(Septets::Extension(e)) => {
                    septets += 2;
                    put(ESC, &mut acc, &mut bits, &mut pos) && put(e, &mut acc, &mut bits, &mut pos)
                }
                None => {
                    result = Err(PackError::Unrepresentable(c));
                    false
                }
            }
        };
        if !ok {
            if result.is_ok() {
                result = Err(PackError::Full);
            }
            break;
        }
    }
    w.acc = acc;
    w.bits = bits;
    w.pos = pos;
    result.map(|()| septets)
}

/// Reads `count` septets of `data` starting at bit `start_bit`, LSB-first.
#[derive(Debug, Clone)]
pub struct SeptetReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    bits: u32,
    remaining: usize,
}

impl<'a> SeptetReader<'a> {
    /// A reader of `count` septets, or `None` when `data` is too short to hold them.
    pub fn new(data: &'a [u8], start_bit: usize, count: usize) -> Option<Self> {
        let end_bit = count.checked_mul(7)?.checked_add(start_bit)?;
        if end_bit > data.len().checked_mul(8)? {
            return None;
        }
        Some(
            Self {
                data,
                pos: start_bit / 8,
                acc: 0,
                bits: 0,
                remaining: count,
            }
            .skip_bits((start_bit % 8) as u32),
        )
    }

    fn skip_bits(mut self, n: u32) -> Self {
        if n > 0 {
            self.acc = u32::from(self.data.get(self.pos).copied().unwrap_or(0)) >> n;
            self.bits = 8 - n;
            self.pos += 1;
        }
        self
    }
}

impl Iterator for SeptetReader<'_> {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        if self.remaining == 0 {
            return None;
        }
        if self.bits < 7 {
            // In bounds: `new` checked that `data` holds every septet.
            let b = self.data.get(self.pos).copied().unwrap_or(0);
            self.acc |= u32::from(b) << self.bits;
            self.pos += 1;
            self.bits += 8;
        }
        let s = (self.acc & 0x7F) as u8;
        self.acc >>= 7;
        self.bits -= 7;
        self.remaining -= 1;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// Reads the septet at index `index`, counting septets from bit `start_bit` of `data`.
/// `None` when the septet would run past the end of `data`.
pub fn septet_at(data: &[u8], start_bit: usize, index: usize) -> Option<u8> {
    let bit = index.checked_mul(7)?.checked_add(start_bit)?;
    SeptetReader::new(data, bit, 1)?.next()
}

/// Decodes `count` septets of `data` (from bit `start_bit`) into characters, resolving
/// escapes, and hands each character to `sink`. Returns `None` (and calls `sink` for
/// nothing) if `data` is too short.
///
/// An `ESC` as the last septet decodes as a space (TS 23.038 §6.2.1 note 1); `ESC ESC`
/// decodes as a space (the code is reserved for a further extension table).
pub fn decode_septets(
    data: &[u8],
    start_bit: usize,
    count: usize,
    mut sink: impl FnMut(char),
) -> Option<()> {
    let mut escaped = false;
    for s in SeptetReader::new(data, start_bit, count)? {
        if escaped {
            escaped = false;
            // "reserved for the extension to another extension table": display a space.
            sink(if s == ESC { ' ' } else { extension_char(s) });
        } else if s == ESC {
            escaped = true;
        } else {
            sink(default_char(s));
        }
    }
    if escaped {
        sink(' ');
    }
    Some(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn pack(text: &str) -> Vec<u8> {
        let mut buf = [0u8; 200];
        let mut w = SeptetWriter::new(&mut buf, 0);
        for c in text.chars() {
            match encode_char(c).unwrap() {
                Septets::Default(s) => w.push(s).unwrap(),
                Septets::Extension(e) => {
                    w.push(ESC).unwrap();
                    w.push(e).unwrap();
                }
            }
        }
        let n = w.finish().unwrap();
        buf[..n].to_vec()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| std::format!("{x:02X}")).collect()
    }

    /// Packing vectors from smspdudecoder tests/test_codecs.py (docs/modems.md § GSM 7-bit
    /// alphabet and packing).
    #[test]
    fn packing_vectors() {
        assert_eq!(hex(&pack("hellohello")), "E8329BFD4697D9EC37");
        assert_eq!(hex(&pack("Hello")), "C8329BFD06");
        assert_eq!(hex(&pack("12345678")), "31D98C56B3DD70");
        assert_eq!(hex(&pack("[10€]")), "1B5E0CB6296F7C");
        assert_eq!(hex(&pack("2 € par mois")), "32D0A60C8287E5A0F63B3D07");
        assert_eq!(hex(&pack("1234567")), "31D98C56B3DD00");
    }

    #[test]
    fn every_default_septet_round_trips() {
        for s in 0u8..128 {
            if s == ESC {
                continue;
            }
            let c = default_char(s);
            assert_eq!(encode_char(c), Some(Septets::Default(s)), "septet {s:#x}");
        }
    }

    #[test]
    fn extension_and_unmapped() {
        for c in ['\u{0C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'] {
            let Some(Septets::Extension(e)) = encode_char(c) else {
                panic!("{c:?} not in extension table")
            };
            assert_eq!(extension_char(e), c);
        }
        assert_eq!(encode_char('`'), None);
        assert_eq!(encode_char('\t'), None);
        assert_eq!(encode_char('ç'), None);
        assert_eq!(encode_char('😀'), None);
        // Unmapped extension code falls back to the default table.
        assert_eq!(extension_char(0x41), 'A');
    }

    #[test]
    fn only_the_tables_characters_encode() {
        for c in '\u{80}'..=char::MAX {
            let in_tables = DEFAULT.contains(&c) || EXTENSION.iter().any(|&(_, e)| e == c);
            assert_eq!(encode_char(c).is_some(), in_tables, "{c:?}");
        }
    }

    #[test]
    fn decode_handles_trailing_escape_and_short_data() {
        let data = pack("A");
        let mut out = String::new();
        assert_eq!(decode_septets(&data, 0, 2, |c| out.push(c)), None);
        assert_eq!(out, "");
        let mut buf = [0u8; 2];
        let mut w = SeptetWriter::new(&mut buf, 0);
        w.push(0x41).unwrap(); // 'A'
        w.push(ESC).unwrap();
        w.finish().unwrap();
        let mut out = String::new();
        decode_septets(&buf, 0, 2, |c| out.push(c)).unwrap();
        assert_eq!(out, "A ");
    }
}
