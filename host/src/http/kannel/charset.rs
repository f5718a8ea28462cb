//! The character sets a sendsms text may come in, decoded strictly.
//!
//! Kannel hands the `charset` to iconv (gwlib/charset.c, `charset_convert`), which knows
//! hundreds of names; an unknown name is refused with "Charset or body misformed,
//! rejected". We know the ones sendsms clients use. Where iconv meets a byte sequence that
//! is invalid in the declared charset, Kannel copies the byte and carries on; we refuse
//! the request instead: a text is decoded exactly or not at all.

/// A character set relais decodes sendsms texts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8.
    Utf8,
    /// UTF-16, big endian; also what UCS-2 means here (surrogate pairs allowed).
    Utf16Be,
    /// UTF-16, little endian (UCS-2LE too).
    Utf16Le,
    /// UTF-16 with an optional byte order mark, big endian without one.
    Utf16,
    /// ISO-8859-1 (Latin-1): every byte is the code point of the same value.
    Latin1,
    /// ISO-8859-15 (Latin-9): Latin-1 with the euro sign and seven other changes.
    Latin9,
    /// Windows-1252: Latin-1 with printable characters in 0x80..0x9F (five of them
    /// undefined, and refused).
    Windows1252,
    /// US-ASCII: bytes above 0x7F are refused.
    Ascii,
}

/// Windows-1252 0x80..=0x9F; 0 where the code page defines nothing.
const WINDOWS_1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// The eight bytes where ISO-8859-15 differs from ISO-8859-1.
const LATIN9_CHANGES: [(u8, char); 8] = [
    (0xA4, '\u{20AC}'),
    (0xA6, '\u{0160}'),
    (0xA8, '\u{0161}'),
    (0xB4, '\u{017D}'),
    (0xB8, '\u{017E}'),
    (0xBC, '\u{0152}'),
    (0xBD, '\u{0153}'),
    (0xBE, '\u{0178}'),
];

impl Charset {
    /// The charset a name stands for, in any case, with or without punctuation
    /// (`utf8`, `UTF-8`, `ISO_8859-1`, `latin1`, `cp1252`, `UCS-2`...). None when relais
    /// does not know the name.
    pub fn from_name(name: &str) -> Option<Charset> {
        let key: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        Some(match key.as_str() {
            "UTF8" => Charset::Utf8,
            "UTF16BE" | "UCS2" | "UCS2BE" | "ISO10646UCS2" | "CSUNICODE" | "UNICODEBIG" => {
                Charset::Utf16Be
            }
            "UTF16LE" | "UCS2LE" | "UNICODELITTLE" => Charset::Utf16Le,
            "UTF16" => Charset::Utf16,
            "ISO88591" | "ISO885911987" | "88591" | "LATIN1" | "L1" | "ISOIR100" | "CP819"
            | "IBM819" | "CSISOLATIN1" => Charset::Latin1,
            "ISO885915" | "885915" | "LATIN9" | "ISOIR203" => Charset::Latin9,
            "WINDOWS1252" | "CP1252" | "MSANSI" => Charset::Windows1252,
            "ASCII" | "USASCII" | "US" | "ANSIX341968" | "ANSIX341986" | "ISO646US"
            | "ISO646IRV1991" | "CP367" | "IBM367" | "CSASCII" | "ISOIR6" => Charset::Ascii,
            _ => return None,
        })
    }

    /// The text `bytes` encode, or None when they are not valid in this charset
    /// (invalid or truncated UTF-8, an odd number of UTF-16 bytes, an unpaired
    /// surrogate, a byte Windows-1252 or ASCII does not define).
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Charset::Utf16Be => utf16(bytes, u16::from_be_bytes),
            Charset::Utf16Le => utf16(bytes, u16::from_le_bytes),
            Charset::Utf16 => match bytes {
                [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
                [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
                _ => utf16(bytes, u16::from_be_bytes),
            },
            Charset::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Latin9 => Some(bytes.iter().map(|&b| latin9_char(b)).collect()),
            Charset::Windows1252 => bytes.iter().map(|&b| windows_1252_char(b)).collect(),
            Charset::Ascii => bytes
                .iter()
                .map(|&b| b.is_ascii().then_some(char::from(b)))
                .collect(),
        }
    }

    /// Appends the encoding of `c` to `out`; false when the charset cannot encode it.
    /// The XML reader uses it to put literal characters of a `<ud>` back into the bytes
    /// its `%XX` escapes are written in.
    pub(super) fn encode_char(self, c: char, out: &mut Vec<u8>) -> bool {
        let mut units = [0u16; 2];
        match self {
            Charset::Utf8 => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Charset::Utf16Be | Charset::Utf16 => {
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(&unit.to_be_bytes());
                }
            }
            Charset::Utf16Le => {
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(&unit.to_le_bytes());
                }
            }
            Charset::Latin1 | Charset::Latin9 | Charset::Windows1252 | Charset::Ascii => {
                match (0..=255u8).find(|&b| self.single_byte(b) == Some(c)) {
                    Some(b) => out.push(b),
                    None => return false,
                }
            }
        }
        true
    }

    /// The character one byte stands for in a single-byte charset.
    fn single_byte(self, b: u8) -> Option<char> {
        match self {
            Charset::Latin1 => Some(char::from(b)),
            Charset::Latin9 => Some(latin9_char(b)),
            Charset::Windows1252 => windows_1252_char(b),
            Charset::Ascii => b.is_ascii().then_some(char::from(b)),
            Charset::Utf8 | Charset::Utf16Be | Charset::Utf16Le | Charset::Utf16 => None,
        }
    }

    /// Whether every character takes exactly one byte.
    pub(super) fn is_single_byte(self) -> bool {
        matches!(
            self,
            Charset::Latin1 | Charset::Latin9 | Charset::Windows1252 | Charset::Ascii
        )
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|pair| match pair {
        [a, b] => unit([*a, *b]),
        _ => 0,
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn latin9_char(b: u8) -> char {
    LATIN9_CHANGES
        .iter()
        .find(|(byte, _)| *byte == b)
        .map_or(char::from(b), |(_, c)| *c)
}

fn windows_1252_char(b: u8) -> Option<char> {
    if !(0x80..=0x9F).contains(&b) {
        return Some(char::from(b));
    }
    let code = WINDOWS_1252_HIGH
        .get(usize::from(b - 0x80))
        .copied()
        .unwrap_or(0);
    if code == 0 {
        None
    } else {
        char::from_u32(u32::from(code))
    }
}
