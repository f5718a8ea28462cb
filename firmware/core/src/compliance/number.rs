//! E.164 numbers: parsing, country by longest calling-code prefix, candidate zones.
//!
//! E.164 numbers have at most 15 digits, country calling code included, and calling
//! codes are prefix-free, 1 to 3 digits long (docs/compliance.md § Country from the
//! number). The tables in the `tables` module are generated from libphonenumber's metadata
//! by `firmware/core/scripts/gen_number_tables.py`: 215 calling codes, the US and Canadian
//! area codes with their state and zones, and the zone prefixes of the other
//! multi-zone countries (+34, +55, +262, +689). The `packed` module packs them at compile
//! time: about 3.3 KB of flash in all.

use core::fmt;

use super::tz::{Zone, ZoneSet};

mod packed;
mod tables;

/// An E.164 number: country calling code and national number, at most 15 digits.
///
/// Stored as its digits packed in a `u64` plus a length, so it is `Copy` and 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Msisdn {
    value: u64,
    len: u8,
}

/// Why a text is not an E.164 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NumberError {
    /// The text has no digits.
    Empty,
    /// The number does not start with `+` or `00` (international form is required).
    NotInternational,
    /// A character other than a digit, space, `-`, `.`, `(` or `)` was found.
    BadCharacter,
    /// More than 15 digits (ITU-T E.164 §6).
    TooLong,
    /// Fewer than 7 digits: no real E.164 number is that short.
    TooShort,
    /// The first digit is 0, which no calling code starts with.
    BadCallingCode,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Empty => "no digits in number",
            NumberError::NotInternational => "number must start with + or 00",
            NumberError::BadCharacter => "number contains a character that is not a digit",
            NumberError::TooLong => "number has more than 15 digits",
            NumberError::TooShort => "number has fewer than 7 digits",
            NumberError::BadCallingCode => "number starts with 0 after the international prefix",
        })
    }
}

impl core::error::Error for NumberError {}

/// The most digits an E.164 number can have.
pub const MAX_DIGITS: usize = 15;
const MIN_DIGITS: usize = 7;

impl Msisdn {
    /// Parses an international number: `+33 6 12 34 56 78`, `0033612345678`,
    /// `+1 (850) 555-0123`. Spaces, `-`, `.`, `(` and `)` are ignored.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let text = crate::text::trim(text);
        let rest = if let Some(r) = text.strip_prefix('+') {
            r
        } else if let Some(r) = text.strip_prefix("00") {
            r
        } else if text.is_empty() {
            return Err(NumberError::Empty);
        } else {
            return Err(NumberError::NotInternational);
        };
        let mut value: u64 = 0;
        let mut len: usize = 0;
        for c in rest.chars() {
            match c {
                '0'..='9' => {
                    if len == MAX_DIGITS {
                        return Err(NumberError::TooLong);
                    }
                    let d = u64::from(c as u8 - b'0');
                    if len == 0 && d == 0 {
                        return Err(NumberError::BadCallingCode);
                    }
                    // 15 digits < 10^15 < 2^50: no overflow.
                    value = value * 10 + d;
                    len += 1;
                }
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(NumberError::BadCharacter),
            }
        }
        match len {
            0 => Err(NumberError::Empty),
            n if n < MIN_DIGITS => Err(NumberError::TooShort),
            n => Ok(Msisdn {
                value,
                len: n as u8,
            }),
        }
    }

    /// Number of digits (7 to 15).
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a parsed number has digits. (For clippy's `len_without_is_empty`.)
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `n` digits as a number (all digits when `n >= len`).
    pub fn prefix(&self, n: usize) -> u64 {
        let n = n.min(self.len());
        let drop = (self.len() - n) as u32;
        self.value / 10u64.pow(drop)
    }

    /// Digit `i` (0-based), or `None` past the end.
    pub fn digit(&self, i: usize) -> Option<u8> {
        if i >= self.len() {
            return None;
        }
        Some((self.prefix(i + 1) % 10) as u8)
    }

    /// All digits as one number (no leading zeros are lost: calling codes never start with 0).
    pub const fn value(&self) -> u64 {
        self.value
    }

    /// Appends the number in E.164 form (`+` and digits) to `out`, without `core::fmt`
    /// (whose integer formatting costs a device about 2 KiB of flash); `Err` when it
    /// does not fit.
    pub fn push_e164<const N: usize>(
        &self,
        out: &mut heapless::String<N>,
    ) -> Result<(), heapless::CapacityError> {
        out.push('+')?;
        push_decimal(out, self.value)
    }

    /// Rebuilds a number from [`Msisdn::value`] and [`Msisdn::len`] (e.g. read back from
    /// flash or the link); `None` unless they describe a number [`Msisdn::parse`] accepts.
    pub fn from_parts(value: u64, len: usize) -> Option<Msisdn> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&len) {
            return None;
        }
        let low = 10u64.pow(len as u32 - 1);
        let high = 10u64.pow(len as u32);
        (low..high).contains(&value).then_some(Msisdn {
            value,
            len: len as u8,
        })
    }
}

/// Appends `value` in decimal to `out` without `core::fmt`; `Err` when it does not fit.
pub fn push_decimal<const N: usize>(
    out: &mut heapless::String<N>,
    value: u64,
) -> Result<(), heapless::CapacityError> {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d))?;
    }
    Ok(())
}

/// On the wire and in flash: `(value, len)`, checked on the way back in.
impl serde::Serialize for Msisdn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.value, self.len).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Msisdn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (value, len) = <(u64, u8)>::deserialize(deserializer)?;
        Msisdn::from_parts(value, usize::from(len))
            .ok_or_else(|| serde::de::Error::custom("not an E.164 number"))
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.value)
    }
}

/// An ISO 3166-1 alpha-2 region code such as `FR`; `XX` for non-geographic codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region(pub [u8; 2]);

impl Region {
    /// The code as text (`"FR"`); `"??"` if the bytes are not ASCII letters.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// Parses a two-letter code, case-insensitively.
    pub fn parse(text: &str) -> Option<Region> {
        let b = text.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        Some(Region([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
        ]))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A US state (or DC) by its postal code, as presumed from a NANP area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UsState(pub [u8; 2]);

impl UsState {
    /// The postal code as text (`"FL"`).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("??")
    }
}

/// What the number tables say about a number: country, candidate zones, US state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NumberInfo {
    /// The country calling code (`33`, `1`, `262`).
    pub calling_code: u16,
    /// The region: the main region of the calling code, refined for +1 (US/CA by area
    /// code) and +262 (RE/YT by prefix).
    pub region: Region,
    /// Every zone the recipient may be in (empty when no zone table covers the region).
    pub zones: ZoneSet,
    /// For US numbers, the state presumed from the area code (Fla. Stat. 501.059 and the
    /// Oklahoma act make that presumption in law; docs/compliance.md § US state overlays).
    pub us_state: Option<UsState>,
}

/// Looks `number` up: calling code by longest prefix (3, 2, then 1 digit), then region
/// and zones. `None` when no calling code matches.
pub fn lookup(number: &Msisdn) -> Option<NumberInfo> {
    let (calling_code, region) = calling_code(number)?;
    let mut info = NumberInfo {
        calling_code,
        region,
        zones: ZoneSet::EMPTY,
        us_state: None,
    };
    match calling_code {
        1 => nanp(number, &mut info),
        34 | 55 | 262 | 689 => {
            info.zones = prefix_zones(number);
            if calling_code == 262 && info.zones == ZoneSet::single(Zone::IndianMayotte) {
                info.region = Region(*b"YT");
            }
        }
        _ => info.zones = region_zone(region).map_or(ZoneSet::EMPTY, ZoneSet::single),
    }
    Some(info)
}

fn calling_code(number: &Msisdn) -> Option<(u16, Region)> {
    for n in (1..=3).rev() {
        let p = number.prefix(n);
        if let Ok(i) = tables::CALLING_CODES.binary_search_by_key(&p, |&(c, _)| u64::from(c)) {
            let (code, region) = tables::CALLING_CODES[i];
            return Some((code, Region(region)));
        }
    }
    None
}

fn nanp(number: &Msisdn, info: &mut NumberInfo) {
    // Digits 2..=4 are the area code (NPA).
    let npa = (number.prefix(4) % 1000) as u16;
    match packed::nanp(npa) {
        Some((region, state, zones)) => {
            info.region = Region(region);
            info.zones = zones;
            if region == *b"US" && state != *b"--" {
                info.us_state = Some(UsState(state));
            }
        }
        // Another NANP region (JM, PR, ...): no pack, no zone table.
        None => info.region = Region(*b"X1"),
    }
}

fn prefix_zones(number: &Msisdn) -> ZoneSet {
    packed::prefix_zones(number.len(), |n| number.prefix(n))
}

/// The one zone of a single-zone region we carry rules for.
pub fn region_zone(region: Region) -> Option<Zone> {
    REGION_ZONES
        .iter()
        .find(|&&(r, _)| r == region.0)
        .map(|&(_, zone)| zone)
}

/// The single-zone regions and their zone (a table: a `match` took more flash).
const REGION_ZONES: &[([u8; 2], Zone)] = &[
    (*b"FR", Zone::EuropeParis),
    (*b"DE", Zone::EuropeBerlin),
    (*b"IT", Zone::EuropeRome),
    (*b"VA", Zone::EuropeRome),
    (*b"BE", Zone::EuropeBrussels),
    (*b"GB", Zone::EuropeLondon),
    (*b"JE", Zone::EuropeLondon),
    (*b"GG", Zone::EuropeLondon),
    (*b"IM", Zone::EuropeLondon),
    (*b"IN", Zone::AsiaKolkata),
    (*b"KE", Zone::AfricaNairobi),
    (*b"NG", Zone::AfricaLagos),
    (*b"ZA", Zone::AfricaJohannesburg),
    (*b"GF", Zone::AmericaCayenne),
    (*b"GP", Zone::AmericaGuadeloupe),
    (*b"BL", Zone::AmericaGuadeloupe),
    (*b"MF", Zone::AmericaGuadeloupe),
    (*b"MQ", Zone::AmericaMartinique),
    (*b"PM", Zone::AmericaMiquelon),
    (*b"NC", Zone::PacificNoumea),
    (*b"RE", Zone::IndianReunion),
    (*b"YT", Zone::IndianMayotte),
];

#[cfg(test)]
mod tests {

    #[test]
    fn e164_and_decimal_without_fmt() {
        let n = Msisdn::parse("+33 6 12 34 56 78").unwrap();
        let mut s: heapless::String<20> = heapless::String::new();
        n.push_e164(&mut s).unwrap();
        assert_eq!(s.as_str(), std::format!("{n}"));
        for v in [0u64, 7, 10, 36123, u64::MAX] {
            let mut s: heapless::String<20> = heapless::String::new();
            push_decimal(&mut s, v).unwrap();
            assert_eq!(s.as_str(), std::format!("{v}"));
        }
        let mut tiny: heapless::String<3> = heapless::String::new();
        assert!(push_decimal(&mut tiny, 1234).is_err());
    }
    use super::*;

    #[test]
    fn parses_international_forms() {
        let m = Msisdn::parse("+33 6 12 34 56 78").unwrap();
        assert_eq!((m.value(), m.len()), (33612345678, 11));
        assert_eq!(Msisdn::parse("0033612345678"), Ok(m));
        assert_eq!(
            Msisdn::parse("+1 (850) 555-0123").unwrap().value(),
            18505550123
        );
        assert_eq!(m.digit(0), Some(3));
        assert_eq!(m.digit(10), Some(8));
        assert_eq!(m.digit(11), None);
        assert_eq!(m.prefix(2), 33);
        assert_eq!(m.to_string_lossy(), "+33612345678");
    }

    #[test]
    fn rejects_bad_numbers() {
        assert_eq!(Msisdn::parse(""), Err(NumberError::Empty));
        assert_eq!(Msisdn::parse("+"), Err(NumberError::Empty));
        assert_eq!(
            Msisdn::parse("0612345678"),
            Err(NumberError::NotInternational)
        );
        assert_eq!(Msisdn::parse("+33a"), Err(NumberError::BadCharacter));
        assert_eq!(
            Msisdn::parse("+1234567890123456"),
            Err(NumberError::TooLong)
        );
        assert_eq!(Msisdn::parse("+331"), Err(NumberError::TooShort));
        assert_eq!(
            Msisdn::parse("+0331234567"),
            Err(NumberError::BadCallingCode)
        );
    }

    #[test]
    fn countries_by_longest_prefix() {
        let region = |s: &str| lookup(&Msisdn::parse(s).unwrap()).unwrap().region;
        assert_eq!(region("+33612345678"), Region(*b"FR"));
        assert_eq!(region("+262262123456"), Region(*b"RE"));
        assert_eq!(region("+262639123456"), Region(*b"YT"));
        assert_eq!(region("+590690123456"), Region(*b"GP"));
        assert_eq!(region("+12125550123"), Region(*b"US"));
        assert_eq!(region("+14165550123"), Region(*b"CA"));
        assert_eq!(region("+18765550123"), Region(*b"X1"));
        assert_eq!(region("+27821234567"), Region(*b"ZA"));
        assert_eq!(region("+254712345678"), Region(*b"KE"));
        assert_eq!(region("+79123456789"), Region(*b"RU"));
    }

    #[test]
    fn multi_zone_numbers() {
        let info = lookup(&Msisdn::parse("+18505550123").unwrap()).unwrap();
        assert_eq!(info.us_state, Some(UsState(*b"FL")));
        assert!(info.zones.contains(Zone::AmericaNewYork));
        assert!(info.zones.contains(Zone::AmericaChicago));
        assert_eq!(info.zones.len(), 2);
        let canary = lookup(&Msisdn::parse("+34928123456").unwrap()).unwrap();
        assert_eq!(canary.zones, ZoneSet::single(Zone::AtlanticCanary));
        let acre = lookup(&Msisdn::parse("+5568912345678").unwrap()).unwrap();
        assert_eq!(acre.zones, ZoneSet::single(Zone::AmericaRioBranco));
        let paris = lookup(&Msisdn::parse("+33612345678").unwrap()).unwrap();
        assert_eq!(paris.zones, ZoneSet::single(Zone::EuropeParis));
    }

    trait Lossy {
        fn to_string_lossy(&self) -> std::string::String;
    }
    impl Lossy for Msisdn {
        fn to_string_lossy(&self) -> std::string::String {
            use std::string::ToString;
            self.to_string()
        }
    }
    extern crate std;
}
