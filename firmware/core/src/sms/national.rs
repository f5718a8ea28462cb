//! National language shift tables for GSM 7-bit (TS 23.038 §6.2.1.2.4, Annex A).
//!
//! A user data header element selects a *locking shift* table (IEI 0x25: replaces the
//! default alphabet) and/or a *single shift* table (IEI 0x24: replaces the extension
//! table reached through `ESC`). This module has the Turkish (1), Spanish (2, single
//! shift only) and Portuguese (3) tables; the table contents are TS 23.038 A.2.1-A.2.3
//! and A.3.1/A.3.3, cross-checked against Android's `GsmAlphabet` (`sLanguageTables`,
//! `sLanguageShiftTables`). Other language ids (4-13, Indian languages) decode with the
//! default tables, the fallback TS 23.038 asks of a receiver that lacks a table.

use super::gsm7::{self, ESC, Septets};

/// A national language with shift tables in this codec (TS 23.038 §6.2.1.2.4 ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NationalLanguage {
    /// Id 1: locking and single shift tables.
    Turkish,
    /// Id 2: single shift table only.
    Spanish,
    /// Id 3: locking and single shift tables.
    Portuguese,
}

impl NationalLanguage {
    /// Every language this codec has tables for.
    pub const ALL: [NationalLanguage; 3] = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ];

    /// The language id written in the UDH element.
    pub const fn id(self) -> u8 {
        match self {
            NationalLanguage::Turkish => 1,
            NationalLanguage::Spanish => 2,
            NationalLanguage::Portuguese => 3,
        }
    }

    /// The language with UDH id `id`, if this codec has its tables.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(NationalLanguage::Turkish),
            2 => Some(NationalLanguage::Spanish),
            3 => Some(NationalLanguage::Portuguese),
            _ => None,
        }
    }

    fn locking_table(self) -> Option<&'static [u16; 128]> {
        match self {
            NationalLanguage::Turkish => Some(&TURKISH_LOCKING),
            NationalLanguage::Spanish => None,
            NationalLanguage::Portuguese => Some(&PORTUGUESE_LOCKING),
        }
    }

    fn single_table(self) -> &'static [(u8, u16)] {
        match self {
            NationalLanguage::Turkish => &TURKISH_SINGLE,
            NationalLanguage::Spanish => &SPANISH_SINGLE,
            NationalLanguage::Portuguese => &PORTUGUESE_SINGLE,
        }
    }

    /// True when the language has a locking shift table (Spanish has none).
    pub fn has_locking_table(self) -> bool {
        self.locking_table().is_some()
    }
}

/// The tables a GSM 7-bit text is written with: the default alphabet and extension
/// table unless a national locking or single shift table replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shift {
    /// Locking shift table (replaces the default alphabet).
    pub locking: Option<NationalLanguage>,
    /// Single shift table (replaces the extension table).
    pub single: Option<NationalLanguage>,
}

impl Shift {
    /// The default alphabet and extension table.
    pub const DEFAULT: Shift = Shift {
        locking: None,
        single: None,
    };

    /// The tables a received header selects. Ids without tables here, and a locking
    /// shift for Spanish (which has none), fall back to the default tables.
    pub fn from_ids(locking: Option<u8>, single: Option<u8>) -> Self {
        Shift {
            locking: locking
                .and_then(NationalLanguage::from_id)
                .filter(|l| l.has_locking_table()),
            single: single.and_then(NationalLanguage::from_id),
        }
    }

    /// True for the default tables (no header element needed).
    pub const fn is_default(self) -> bool {
        self.locking.is_none() && self.single.is_none()
    }

    /// Octets the UDH elements selecting these tables take (3 per element).
    pub const fn udh_octets(self) -> u16 {
        (self.locking.is_some() as u16 + self.single.is_some() as u16) * 3
    }

    /// The character of septet `septet` in the basic (locking or default) table.
    pub fn basic_char(self, septet: u8) -> char {
        match self.locking.and_then(NationalLanguage::locking_table) {
            Some(table) => match table[usize::from(septet & 0x7F)] {
                0xFFFF => ' ',
                c => char::from_u32(u32::from(c)).unwrap_or(' '),
            },
            None => gsm7::default_char(septet),
        }
    }

    /// The character of `ESC` + `code`; an unmapped code gives the basic table's
    /// character (TS 23.038 §6.2.1.1 note).
    pub fn extension_char(self, code: u8) -> char {
        let Some(lang) = self.single else {
            return gsm7::extension_lookup(code).unwrap_or_else(|| self.basic_char(code));
        };
        lang.single_table()
            .iter()
            .find(|(k, _)| *k == code & 0x7F)
            .and_then(|(_, c)| char::from_u32(u32::from(*c)))
            .unwrap_or_else(|| self.basic_char(code))
    }

    /// How `c` is written with these tables, or `None` when they cannot represent it.
    pub fn encode_char(self, c: char) -> Option<Septets> {
        if self.is_default() {
            return gsm7::encode_char(c);
        }
        let basic = match self.locking.and_then(NationalLanguage::locking_table) {
            Some(table) => u16::try_from(u32::from(c))
                .ok()
                .filter(|&u| u != 0xFFFF)
                .and_then(|u| table.iter().position(|&t| t == u))
                .map(|p| p as u8)
                .filter(|&p| p != ESC),
            None => match gsm7::encode_char(c) {
                Some(Septets::Default(s)) => Some(s),
                _ => None,
            },
        };
        if let Some(s) = basic {
            return Some(Septets::Default(s));
        }
        let ext = match self.single {
            Some(lang) => lang
                .single_table()
                .iter()
                .find(|(_, t)| u32::from(*t) == u32::from(c))
                .map(|(k, _)| *k),
            None => match gsm7::encode_char(c) {
                Some(Septets::Extension(e)) => Some(e),
                _ => None,
            },
        };
        ext.map(Septets::Extension)
    }

    /// Septets `c` costs with these tables (1 or 2), or `None`.
    pub fn char_septets(self, c: char) -> Option<u16> {
        if self.is_default() {
            return gsm7::char_septets(c);
        }
        self.encode_char(c).map(Septets::count)
    }

    /// Decodes `count` septets of `data` from bit `start_bit` with these tables.
    /// Returns `None` (and calls `sink` for nothing) if `data` is too short.
    pub fn decode_septets(
        self,
        data: &[u8],
        start_bit: usize,
        count: usize,
        mut sink: impl FnMut(char),
    ) -> Option<()> {
        if self.is_default() {
            return gsm7::decode_septets(data, start_bit, count, sink);
        }
        let mut escaped = false;
        for s in gsm7::SeptetReader::new(data, start_bit, count)? {
            if escaped {
                escaped = false;
                sink(if s == ESC {
                    ' '
                } else {
                    self.extension_char(s)
                });
            } else if s == ESC {
                escaped = true;
            } else {
                sink(self.basic_char(s));
            }
        }
        if escaped {
            sink(' ');
        }
        Some(())
    }
}

/// TS 23.038 A.3.1 Turkish locking shift table as UTF-16 units (0x1B = ESC, 0xFFFF).
const TURKISH_LOCKING: [u16; 128] = [
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x20AC, 0x00E9, 0x00F9, 0x0131, 0x00F2, 0x00C7, 0x000A, 0x011E,
    0x011F, 0x000D, 0x00C5, 0x00E5, 0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0xFFFF, 0x015E, 0x015F, 0x00DF, 0x00C9, 0x0020, 0x0021, 0x0022, 0x0023,
    0x00A4, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x0130, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00E7, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
];

/// TS 23.038 A.3.3 Portuguese locking shift table as UTF-16 units (0x1B = ESC, 0xFFFF).
const PORTUGUESE_LOCKING: [u16; 128] = [
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00EA, 0x00E9, 0x00FA, 0x00ED, 0x00F3, 0x00E7, 0x000A, 0x00D4,
    0x00F4, 0x000D, 0x00C1, 0x00E1, 0x0394, 0x005F, 0x00AA, 0x00C7, 0x00C0, 0x221E, 0x005E, 0x005C,
    0x20AC, 0x00D3, 0x007C, 0xFFFF, 0x00C2, 0x00E2, 0x00CA, 0x00C9, 0x0020, 0x0021, 0x0022, 0x0023,
    0x00BA, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x00CD, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x00C3, 0x00D5, 0x00DA, 0x00DC, 0x00A7,
    0x007E, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E3, 0x00F5, 0x0060, 0x00FC, 0x00E0,
];

/// TS 23.038 A.2.1 Turkish single shift table: `(code after ESC, UTF-16 unit)`.
const TURKISH_SINGLE: [(u8, u16); 17] = [
    (0x0A, 0x000C),
    (0x14, 0x005E),
    (0x28, 0x007B),
    (0x29, 0x007D),
    (0x2F, 0x005C),
    (0x3C, 0x005B),
    (0x3D, 0x007E),
    (0x3E, 0x005D),
    (0x40, 0x007C),
    (0x47, 0x011E),
    (0x49, 0x0130),
    (0x53, 0x015E),
    (0x63, 0x00E7),
    (0x65, 0x20AC),
    (0x67, 0x011F),
    (0x69, 0x0131),
    (0x73, 0x015F),
];

/// TS 23.038 A.2.2 Spanish single shift table.
const SPANISH_SINGLE: [(u8, u16); 19] = [
    (0x09, 0x00E7),
    (0x0A, 0x000C),
    (0x14, 0x005E),
    (0x28, 0x007B),
    (0x29, 0x007D),
    (0x2F, 0x005C),
    (0x3C, 0x005B),
    (0x3D, 0x007E),
    (0x3E, 0x005D),
    (0x40, 0x007C),
    (0x41, 0x00C1),
    (0x49, 0x00CD),
    (0x4F, 0x00D3),
    (0x55, 0x00DA),
    (0x61, 0x00E1),
    (0x65, 0x20AC),
    (0x69, 0x00ED),
    (0x6F, 0x00F3),
    (0x75, 0x00FA),
];

/// TS 23.038 A.2.3 Portuguese single shift table.
const PORTUGUESE_SINGLE: [(u8, u16); 37] = [
    (0x05, 0x00EA),
    (0x09, 0x00E7),
    (0x0A, 0x000C),
    (0x0B, 0x00D4),
    (0x0C, 0x00F4),
    (0x0E, 0x00C1),
    (0x0F, 0x00E1),
    (0x12, 0x03A6),
    (0x13, 0x0393),
    (0x14, 0x005E),
    (0x15, 0x03A9),
    (0x16, 0x03A0),
    (0x17, 0x03A8),
    (0x18, 0x03A3),
    (0x19, 0x0398),
    (0x1F, 0x00CA),
    (0x28, 0x007B),
    (0x29, 0x007D),
    (0x2F, 0x005C),
    (0x3C, 0x005B),
    (0x3D, 0x007E),
    (0x3E, 0x005D),
    (0x40, 0x007C),
    (0x41, 0x00C0),
    (0x49, 0x00CD),
    (0x4F, 0x00D3),
    (0x55, 0x00DA),
    (0x5B, 0x00C3),
    (0x5C, 0x00D5),
    (0x61, 0x00C2),
    (0x65, 0x20AC),
    (0x69, 0x00ED),
    (0x6F, 0x00F3),
    (0x75, 0x00FA),
    (0x7B, 0x00E3),
    (0x7C, 0x00F5),
    (0x7F, 0x00E2),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for lang in NationalLanguage::ALL {
            for shift in [
                Shift {
                    locking: lang.has_locking_table().then_some(lang),
                    single: None,
                },
                Shift {
                    locking: None,
                    single: Some(lang),
                },
                Shift {
                    locking: lang.has_locking_table().then_some(lang),
                    single: Some(lang),
                },
            ] {
                for s in 0u8..128 {
                    if s == ESC {
                        continue;
                    }
                    let c = shift.basic_char(s);
                    assert_eq!(
                        shift.encode_char(c),
                        Some(Septets::Default(s)),
                        "{shift:?} {s:#x}"
                    );
                }
                if let Some(l) = shift.single {
                    for &(code, c) in l.single_table() {
                        let c = char::from_u32(u32::from(c)).unwrap();
                        let got = shift.encode_char(c);
                        // A character in both tables is written with one septet.
                        assert!(
                            got == Some(Septets::Extension(code))
                                || matches!(got, Some(Septets::Default(_))),
                            "{shift:?} {c:?}"
                        );
                        assert_eq!(shift.extension_char(code), c);
                    }
                }
            }
        }
    }

    #[test]
    fn turkish_letters() {
        let single = Shift {
            locking: None,
            single: Some(NationalLanguage::Turkish),
        };
        assert_eq!(single.encode_char('ş'), Some(Septets::Extension(0x73)));
        assert_eq!(single.encode_char('ğ'), Some(Septets::Extension(0x67)));
        assert_eq!(Shift::DEFAULT.encode_char('ş'), None);
        let locking = Shift {
            locking: Some(NationalLanguage::Turkish),
            single: None,
        };
        assert_eq!(locking.encode_char('ş'), Some(Septets::Default(0x1D)));
        assert_eq!(locking.encode_char('İ'), Some(Septets::Default(0x40)));
        // The default table's ¡ is not in the Turkish locking table.
        assert_eq!(locking.encode_char('¡'), None);
        // Unknown ids fall back to the default tables.
        assert_eq!(Shift::from_ids(Some(6), Some(9)), Shift::DEFAULT);
        assert_eq!(Shift::from_ids(Some(2), Some(2)).locking, None);
    }
}
