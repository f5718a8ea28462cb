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

    fn locking_table(self) -> Option<&'static [char; 128]> {
        match self {
            NationalLanguage::Turkish => Some(&TURKISH_LOCKING),
            NationalLanguage::Spanish => None,
            NationalLanguage::Portuguese => Some(&PORTUGUESE_LOCKING),
        }
    }

    fn single_table(self) -> &'static [(u8, char)] {
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
                '\u{FFFF}' => ' ',
                c => c,
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
            .map_or_else(|| self.basic_char(code), |(_, c)| *c)
    }

    /// How `c` is written with these tables, or `None` when they cannot represent it.
    pub fn encode_char(self, c: char) -> Option<Septets> {
        if self.is_default() {
            return gsm7::encode_char(c);
        }
        let basic = match self.locking.and_then(NationalLanguage::locking_table) {
            Some(table) => table
                .iter()
                .position(|&t| t == c && c != '\u{FFFF}')
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
                .find(|(_, t)| *t == c)
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

/// TS 23.038 A.3.1 Turkish locking shift table (0x1B = ESC, shown as U+FFFF).
const TURKISH_LOCKING: [char; 128] = [
    '@', '\u{A3}', '$', '\u{A5}', '\u{20AC}', '\u{E9}', '\u{F9}', '\u{131}', '\u{F2}', '\u{C7}',
    '\n', '\u{11E}', '\u{11F}', '\r', '\u{C5}', '\u{E5}', //
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}', '\u{3A3}',
    '\u{398}', '\u{39E}', '\u{FFFF}', '\u{15E}', '\u{15F}', '\u{DF}', '\u{C9}', //
    ' ', '!', '"', '#', '\u{A4}', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '\u{130}', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '\u{C4}', '\u{D6}', '\u{D1}', '\u{DC}',
    '\u{A7}', //
    '\u{E7}', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '\u{E4}', '\u{F6}', '\u{F1}', '\u{FC}',
    '\u{E0}', //
];

/// TS 23.038 A.3.3 Portuguese locking shift table (0x1B = ESC, shown as U+FFFF).
const PORTUGUESE_LOCKING: [char; 128] = [
    '@', '\u{A3}', '$', '\u{A5}', '\u{EA}', '\u{E9}', '\u{FA}', '\u{ED}', '\u{F3}', '\u{E7}', '\n',
    '\u{D4}', '\u{F4}', '\r', '\u{C1}', '\u{E1}', //
    '\u{394}', '_', '\u{AA}', '\u{C7}', '\u{C0}', '\u{221E}', '^', '\\', '\u{20AC}', '\u{D3}', '|',
    '\u{FFFF}', '\u{C2}', '\u{E2}', '\u{CA}', '\u{C9}', //
    ' ', '!', '"', '#', '\u{BA}', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '\u{CD}', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '\u{C3}', '\u{D5}', '\u{DA}', '\u{DC}',
    '\u{A7}', //
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '\u{E3}', '\u{F5}', '`', '\u{FC}',
    '\u{E0}', //
];

/// TS 23.038 A.2.1 Turkish single shift table: `(code after ESC, character)`.
const TURKISH_SINGLE: [(u8, char); 17] = [
    (0x0A, '\u{C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, '\u{11E}'),
    (0x49, '\u{130}'),
    (0x53, '\u{15E}'),
    (0x63, '\u{E7}'),
    (0x65, '\u{20AC}'),
    (0x67, '\u{11F}'),
    (0x69, '\u{131}'),
    (0x73, '\u{15F}'),
];

/// TS 23.038 A.2.2 Spanish single shift table.
const SPANISH_SINGLE: [(u8, char); 19] = [
    (0x09, '\u{E7}'),
    (0x0A, '\u{C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C1}'),
    (0x49, '\u{CD}'),
    (0x4F, '\u{D3}'),
    (0x55, '\u{DA}'),
    (0x61, '\u{E1}'),
    (0x65, '\u{20AC}'),
    (0x69, '\u{ED}'),
    (0x6F, '\u{F3}'),
    (0x75, '\u{FA}'),
];

/// TS 23.038 A.2.3 Portuguese single shift table.
const PORTUGUESE_SINGLE: [(u8, char); 37] = [
    (0x05, '\u{EA}'),
    (0x09, '\u{E7}'),
    (0x0A, '\u{C}'),
    (0x0B, '\u{D4}'),
    (0x0C, '\u{F4}'),
    (0x0E, '\u{C1}'),
    (0x0F, '\u{E1}'),
    (0x12, '\u{3A6}'),
    (0x13, '\u{393}'),
    (0x14, '^'),
    (0x15, '\u{3A9}'),
    (0x16, '\u{3A0}'),
    (0x17, '\u{3A8}'),
    (0x18, '\u{3A3}'),
    (0x19, '\u{398}'),
    (0x1F, '\u{CA}'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C0}'),
    (0x49, '\u{CD}'),
    (0x4F, '\u{D3}'),
    (0x55, '\u{DA}'),
    (0x5B, '\u{C3}'),
    (0x5C, '\u{D5}'),
    (0x61, '\u{C2}'),
    (0x65, '\u{20AC}'),
    (0x69, '\u{ED}'),
    (0x6F, '\u{F3}'),
    (0x75, '\u{FA}'),
    (0x7B, '\u{E3}'),
    (0x7C, '\u{F5}'),
    (0x7F, '\u{E2}'),
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
