//! Address fields: TP-OA / TP-DA / TP-RA (TS 23.040 §9.1.2.5) and the SMSC address
//! (RP-address, TS 24.011 §8.2.5.1).
//!
//! The TP form counts **digits** (semi-octets) in its length octet; the SMSC form counts
//! **octets** (type-of-address included). Digits are BCD with nibbles swapped and an `F`
//! filler after an odd count (TS 23.040 §9.1.2.3). An alphanumeric address (TON 101) is
//! GSM 7-bit packed text and its length is the number of semi-octets used.

use core::fmt;

use super::{DecodeError, EncodeError, Reader, Writer};
use crate::sms::gsm7;

/// Most digits an address holds (10 octets of BCD, TS 23.040 §9.1.2.5).
pub const MAX_DIGITS: usize = 20;

/// Most characters in an alphanumeric address (TS 23.040 §9.1.2.5, 11 septets).
pub const MAX_ALPHANUMERIC: usize = 11;

/// Type of number (TON, bits 6..4 of the type-of-address octet, TS 23.040 §9.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TypeOfNumber {
    /// TON 000: the network interprets prefixes (TOA 0x81); used for numbers without `+`.
    Unknown,
    /// TON 001: international number, written with `+` (TOA 0x91).
    International,
    /// TON 010: national number without prefix (TOA 0xA1).
    National,
    /// Any other TON/NPI (network specific, subscriber, abbreviated…), raw TOA octet kept.
    Other(u8),
}

impl TypeOfNumber {
    fn toa(self) -> u8 {
        match self {
            TypeOfNumber::Unknown => 0x81,
            TypeOfNumber::International => 0x91,
            TypeOfNumber::National => 0xA1,
            TypeOfNumber::Other(toa) => toa | 0x80,
        }
    }

    fn from_toa(toa: u8) -> Self {
        match toa | 0x80 {
            0x81 => TypeOfNumber::Unknown,
            0x91 => TypeOfNumber::International,
            0xA1 => TypeOfNumber::National,
            other => TypeOfNumber::Other(other),
        }
    }
}

/// A numeric address: up to 20 digits (`0-9 * # a b c`) and their type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    digits: heapless::String<MAX_DIGITS>,
    ton: TypeOfNumber,
}

impl PhoneNumber {
    /// Parses `+<digits>` (international) or `<digits>` (type unknown, TOA 0x81, which
    /// lets the network read national prefixes). Spaces, dashes, dots and parentheses
    /// are skipped.
    pub fn parse(text: &str) -> Result<Self, EncodeError> {
        let text = crate::text::trim(text);
        let (ton, rest) = match text.strip_prefix('+') {
            Some(rest) => (TypeOfNumber::International, rest),
            None => (TypeOfNumber::Unknown, text),
        };
        let mut digits = heapless::String::new();
        for c in rest.chars() {
            match c {
                ' ' | '-' | '.' | '(' | ')' => continue,
                '0'..='9' | '*' | '#' | 'a' | 'b' | 'c' => {
                    digits.push(c).map_err(|_| EncodeError::InvalidNumber)?
                }
                _ => return Err(EncodeError::InvalidNumber),
            }
        }
        if digits.is_empty() {
            return Err(EncodeError::InvalidNumber);
        }
        Ok(Self { digits, ton })
    }

    /// A number from its digits and an explicit type of number.
    pub fn with_type(digits: &str, ton: TypeOfNumber) -> Result<Self, EncodeError> {
        let mut n = Self::parse(digits.trim_start_matches('+'))?;
        n.ton = ton;
        Ok(n)
    }

    /// The digits, without `+`.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The type of number.
    pub fn type_of_number(&self) -> TypeOfNumber {
        self.ton
    }
}

impl fmt::Display for PhoneNumber {
    /// E.164 with `+` for international numbers, the bare digits otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            f.write_str("+")?;
        }
        f.write_str(&self.digits)
    }
}

/// Originator or recipient: a number, or an alphanumeric sender name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A numeric address.
    Number(PhoneNumber),
    /// An alphanumeric address (TON 101), e.g. a sender name `MMoney`; at most 11
    /// GSM 7-bit characters (each up to 3 UTF-8 bytes here).
    Alphanumeric(heapless::String<{ MAX_ALPHANUMERIC * 3 }>),
}

impl Address {
    /// An alphanumeric address from text (must be GSM 7-bit, at most 11 septets).
    pub fn alphanumeric(text: &str) -> Result<Self, EncodeError> {
        let septets = gsm7::septet_len(text).ok_or_else(|| first_non_gsm(text))?;
        if septets as usize > MAX_ALPHANUMERIC {
            return Err(EncodeError::AddressTooLong);
        }
        let mut s = heapless::String::new();
        s.push_str(text).map_err(|_| EncodeError::AddressTooLong)?;
        Ok(Address::Alphanumeric(s))
    }
}

fn first_non_gsm(text: &str) -> EncodeError {
    let c = text
        .chars()
        .find(|&c| gsm7::encode_char(c).is_none())
        .unwrap_or('\u{FFFD}');
    EncodeError::Unrepresentable(c)
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Number(n) => n.fmt(f),
            Address::Alphanumeric(s) => f.write_str(s),
        }
    }
}

// heapless strings have no `defmt::Format`; log the text.
#[cfg(feature = "defmt")]
impl defmt::Format for PhoneNumber {
    fn format(&self, f: defmt::Formatter<'_>) {
        let plus = if self.ton == TypeOfNumber::International {
            "+"
        } else {
            ""
        };
        defmt::write!(f, "{=str}{=str}", plus, self.digits.as_str());
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Address {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Address::Number(n) => defmt::write!(f, "{}", n),
            Address::Alphanumeric(s) => defmt::write!(f, "{=str}", s.as_str()),
        }
    }
}

const DIGITS: &[u8; 16] = b"0123456789*#abc\0";

fn digit_nibble(c: u8) -> Result<u8, EncodeError> {
    DIGITS
        .iter()
        .take(15)
        .position(|&d| d == c)
        .map(|p| p as u8)
        .ok_or(EncodeError::InvalidNumber)
}

fn write_bcd(w: &mut Writer<'_>, digits: &str) -> Result<(), EncodeError> {
    for pair in digits.as_bytes().chunks(2) {
        let lo = digit_nibble(pair[0])?;
        let hi = match pair.get(1) {
            Some(&c) => digit_nibble(c)?,
            None => 0x0F,
        };
        w.u8((hi << 4) | lo)?;
    }
    Ok(())
}

/// Reads `count` BCD digits from `octets`, skipping `F` fillers (lenient: some SMSC
/// fields carry more than one).
fn read_bcd(octets: &[u8], count: usize) -> Result<heapless::String<MAX_DIGITS>, DecodeError> {
    let mut s = heapless::String::new();
    for i in 0..count {
        let octet = *octets.get(i / 2).ok_or(DecodeError::Truncated)?;
        let nibble = if i % 2 == 0 { octet & 0x0F } else { octet >> 4 };
        if nibble == 0x0F {
            continue;
        }
        let c = char::from(DIGITS[usize::from(nibble)]);
        s.push(c).map_err(|_| DecodeError::AddressTooLong)?;
    }
    Ok(s)
}

/// Writes a TP address (TP-DA, TP-OA, TP-RA).
pub(crate) fn write_tp(w: &mut Writer<'_>, address: &Address) -> Result<(), EncodeError> {
    match address {
        Address::Number(n) => {
            w.u8(n.digits.len() as u8)?;
            w.u8(n.ton.toa())?;
            write_bcd(w, &n.digits)
        }
        Address::Alphanumeric(text) => {
            let mut packed = [0u8; 10];
            let mut sw = gsm7::SeptetWriter::new(&mut packed, 0);
            let mut septets = 0usize;
            for c in text.chars() {
                let code = gsm7::encode_char(c).ok_or(EncodeError::Unrepresentable(c))?;
                let r = match code {
                    gsm7::Septets::Default(s) => sw.push(s),
                    gsm7::Septets::Extension(e) => sw.push(gsm7::ESC).and_then(|_| sw.push(e)),
                };
                r.map_err(|_| EncodeError::AddressTooLong)?;
                septets += usize::from(code.count());
            }
            if septets > MAX_ALPHANUMERIC {
                return Err(EncodeError::AddressTooLong);
            }
            let octets = sw.finish().map_err(|_| EncodeError::AddressTooLong)?;
            // Semi-octets actually used (docs/modems.md § Address fields: `MMoney` → 0x0B).
            w.u8((septets * 7).div_ceil(4) as u8)?;
            w.u8(0xD0)?;
            w.bytes(packed.get(..octets).unwrap_or(&[]))
        }
    }
}

/// Reads a TP address.
pub(crate) fn read_tp(r: &mut Reader<'_>) -> Result<Address, DecodeError> {
    let semi_octets = usize::from(r.u8()?);
    let toa = r.u8()?;
    if semi_octets > MAX_DIGITS {
        return Err(DecodeError::AddressTooLong);
    }
    let octets = r.take(semi_octets.div_ceil(2))?;
    if toa & 0x70 == 0x50 {
        let septets = semi_octets * 4 / 7;
        let mut s = heapless::String::new();
        let mut overflow = false;
        gsm7::decode_septets(octets, 0, septets, |c| overflow |= s.push(c).is_err())
            .ok_or(DecodeError::Truncated)?;
        if overflow {
            return Err(DecodeError::AddressTooLong);
        }
        return Ok(Address::Alphanumeric(s));
    }
    let digits = read_bcd(octets, semi_octets)?;
    Ok(Address::Number(PhoneNumber {
        digits,
        ton: TypeOfNumber::from_toa(toa),
    }))
}

/// Writes the SMSC address field; `None` writes `00` (use the modem's `+CSCA`).
pub(crate) fn write_smsc(
    w: &mut Writer<'_>,
    smsc: Option<&PhoneNumber>,
) -> Result<(), EncodeError> {
    let Some(n) = smsc else {
        return w.u8(0);
    };
    w.u8((1 + n.digits.len().div_ceil(2)) as u8)?;
    w.u8(n.ton.toa())?;
    write_bcd(w, &n.digits)
}

/// Reads the SMSC address field (`None` when its length is 0).
pub(crate) fn read_smsc(r: &mut Reader<'_>) -> Result<Option<PhoneNumber>, DecodeError> {
    let len = usize::from(r.u8()?);
    if len == 0 {
        return Ok(None);
    }
    // 1 TOA octet + at most 10 octets of digits (TS 24.011 §8.2.5.1: max 11 octets of value).
    if len > 11 {
        return Err(DecodeError::AddressTooLong);
    }
    let toa = r.u8()?;
    let octets = r.take(len - 1)?;
    let digits = read_bcd(octets, (len - 1) * 2)?;
    Ok(Some(PhoneNumber {
        digits,
        ton: TypeOfNumber::from_toa(toa),
    }))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn tp_hex(a: &Address) -> std::string::String {
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        write_tp(&mut w, a).unwrap();
        let n = w.pos();
        buf[..n].iter().map(|b| std::format!("{b:02X}")).collect()
    }

    fn tp_read(hex: &str) -> Address {
        let mut buf = [0u8; 16];
        let n = super::super::hex::decode(hex, &mut buf).unwrap();
        read_tp(&mut Reader::new(&buf[..n])).unwrap()
    }

    /// python-gsmmodem test_pdu.py `TestSmsPduAddressFields` and smspdudecoder
    /// fields.py doctests (docs/modems.md § Address fields).
    #[test]
    fn address_vectors() {
        let n = Address::Number(PhoneNumber::parse("+9876543210").unwrap());
        assert_eq!(tp_hex(&n), "0A918967452301");
        let n = Address::Number(PhoneNumber::parse("15551234567").unwrap());
        assert_eq!(tp_hex(&n), "0B815155214365F7");
        for (text, hex) in [
            ("MMoney", "0BD0CDE6DB5DCE03"),
            ("Design@Home", "14D0C4F23C7D760390EF7619"),
            ("Megafon", "0DD0CDF2396C7EBB01"),
            ("abc", "06D061F118"),
            ("FRANCOIS", "0ED04669D0397C26A7"),
            ("a[]{}€", "14D0E10D6FE3DBA036A94D19"),
        ] {
            let a = Address::alphanumeric(text).unwrap();
            assert_eq!(tp_hex(&a), hex, "{text}");
            assert_eq!(tp_read(hex), a, "{text}");
        }
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        write_smsc(&mut w, Some(&PhoneNumber::parse("+9876543210").unwrap())).unwrap();
        let n = w.pos();
        assert_eq!(&buf[..n], &[0x06, 0x91, 0x89, 0x67, 0x45, 0x23, 0x01]);
        let smsc = read_smsc(&mut Reader::new(&buf[..n])).unwrap().unwrap();
        assert_eq!(smsc.to_string(), "+9876543210");
    }

    #[test]
    fn hostile_lengths() {
        assert_eq!(
            read_tp(&mut Reader::new(&[0xFF, 0x91, 0x00])),
            Err(DecodeError::AddressTooLong)
        );
        assert_eq!(
            read_tp(&mut Reader::new(&[0x0B, 0x91, 0x00])),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            read_smsc(&mut Reader::new(&[0x0C, 0x91])),
            Err(DecodeError::AddressTooLong)
        );
        assert!(PhoneNumber::parse("+").is_err());
        assert!(PhoneNumber::parse("12x").is_err());
        assert!(PhoneNumber::parse("123456789012345678901").is_err());
        assert!(Address::alphanumeric("TwelveChars!").is_err());
    }
}
