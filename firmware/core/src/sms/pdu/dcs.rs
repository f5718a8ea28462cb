//! TP-Data-Coding-Scheme (TS 23.038 §4): alphabet, message class, compression.

use core::fmt;

use crate::sms::Encoding;

/// Message class (TS 23.038 §4): where the receiving phone puts the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageClass {
    /// Class 0, "flash": displayed at once, not necessarily stored.
    Class0,
    /// Class 1: ME-specific (store on the phone).
    Class1,
    /// Class 2: SIM-specific.
    Class2,
    /// Class 3: TE-specific.
    Class3,
}

impl MessageClass {
    /// The class number 0-3.
    pub const fn number(self) -> u8 {
        match self {
            MessageClass::Class0 => 0,
            MessageClass::Class1 => 1,
            MessageClass::Class2 => 2,
            MessageClass::Class3 => 3,
        }
    }

    /// The class with number `n & 3`.
    pub const fn from_bits(n: u8) -> Self {
        match n & 3 {
            0 => MessageClass::Class0,
            1 => MessageClass::Class1,
            2 => MessageClass::Class2,
            _ => MessageClass::Class3,
        }
    }
}

impl fmt::Display for MessageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// A decoded TP-DCS octet. The raw value is kept for display and re-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dcs {
    /// The octet as received.
    pub raw: u8,
    /// Alphabet of the user data.
    pub encoding: Encoding,
    /// Message class, when the DCS gives one.
    pub class: Option<MessageClass>,
    /// User data compressed with TS 23.042 (not supported by the decoder).
    pub compressed: bool,
}

impl Dcs {
    /// Interprets a TP-DCS octet. Reserved alphabets and coding groups are read as the
    /// GSM 7-bit default alphabet, as TS 23.038 §4 asks ("Any reserved codings shall be
    /// assumed to be the GSM 7 bit default alphabet").
    pub fn from_octet(raw: u8) -> Self {
        let alphabet = |bits: u8| match bits & 0x0C {
            0x04 => Encoding::EightBit,
            0x08 => Encoding::Ucs2,
            _ => Encoding::Gsm7,
        };
        let (encoding, class, compressed) = match raw >> 4 {
            // 00xx / 01xx: general data coding / automatic deletion group.
            0x0..=0x7 => {
                let class = (raw & 0x10 != 0).then(|| MessageClass::from_bits(raw));
                (alphabet(raw), class, raw & 0x20 != 0)
            }
            // 1100 discard / 1101 store: GSM 7-bit; 1110 store: UCS-2 (message waiting).
            0xC | 0xD => (Encoding::Gsm7, None, false),
            0xE => (Encoding::Ucs2, None, false),
            // 1111: data coding / message class.
            0xF => {
                let enc = if raw & 0x04 != 0 {
                    Encoding::EightBit
                } else {
                    Encoding::Gsm7
                };
                (enc, Some(MessageClass::from_bits(raw)), false)
            }
            // 1000..1011 reserved.
            _ => (Encoding::Gsm7, None, false),
        };
        Dcs {
            raw,
            encoding,
            class,
            compressed,
        }
    }

    /// The DCS octet an encoder writes: general group, uncompressed, with class bits
    /// when a class is given (0x00/0x08 plain, 0x10-0x13/0x18-0x1B with class;
    /// TS 23.038 §4, python-gsmmodem `sendFlash` uses 0x10).
    pub fn for_encoding(encoding: Encoding, class: Option<MessageClass>) -> Self {
        let alphabet = match encoding {
            Encoding::Gsm7 => 0x00,
            Encoding::EightBit => 0x04,
            Encoding::Ucs2 => 0x08,
        };
        let raw = match class {
            Some(c) => 0x10 | alphabet | c.number(),
            None => alphabet,
        };
        Dcs {
            raw,
            encoding,
            class,
            compressed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DCS table of docs/modems.md § PID and DCS (TS 23.038 §4).
    #[test]
    fn dcs_table() {
        let c = |raw| {
            let d = Dcs::from_octet(raw);
            (d.encoding, d.class)
        };
        assert_eq!(c(0x00), (Encoding::Gsm7, None));
        assert_eq!(c(0x03), (Encoding::Gsm7, None));
        assert_eq!(c(0x04), (Encoding::EightBit, None));
        assert_eq!(c(0x08), (Encoding::Ucs2, None));
        assert_eq!(c(0x10), (Encoding::Gsm7, Some(MessageClass::Class0)));
        assert_eq!(c(0x18), (Encoding::Ucs2, Some(MessageClass::Class0)));
        assert_eq!(c(0x12), (Encoding::Gsm7, Some(MessageClass::Class2)));
        assert_eq!(c(0xF0), (Encoding::Gsm7, Some(MessageClass::Class0)));
        assert_eq!(c(0xF5), (Encoding::EightBit, Some(MessageClass::Class1)));
        assert_eq!(c(0xF6), (Encoding::EightBit, Some(MessageClass::Class2)));
        assert_eq!(c(0xE0), (Encoding::Ucs2, None));
        assert_eq!(c(0x48), (Encoding::Ucs2, None));
        assert!(Dcs::from_octet(0x20).compressed);
        assert_eq!(
            Dcs::for_encoding(Encoding::Gsm7, Some(MessageClass::Class0)).raw,
            0x10
        );
        assert_eq!(Dcs::for_encoding(Encoding::Ucs2, None).raw, 0x08);
    }
}
