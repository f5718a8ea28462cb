//! The PDU side of the simulator: decoding what a client submits (SMS-SUBMIT) and
//! encoding what the network hands the modem (SMS-DELIVER, SMS-STATUS-REPORT), per
//! 3GPP TS 23.040 §9.2 with the alphabets of TS 23.038.
//!
//! This is the one seam between the simulator and a PDU codec. It is implemented here,
//! privately, on purpose: the simulator is the *peer* that checks the driver and its
//! codec, so it must not share their code (a bug shared by both sides would pass every
//! test). Only the alphabet tables could be shared without that risk.

use super::time::{SimInstant, UtcOffset};

/// Alphabet of the user data (TP-DCS bits 3..2, TS 23.038 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet (+ extension table); units are septets.
    Gsm7,
    /// 8-bit data; units are octets.
    Eight,
    /// UCS-2 / UTF-16; units are octets on the wire (two per code unit).
    Ucs2,
}

impl Alphabet {
    /// From a TP-DCS octet (general data coding and the 0xF0 group, TS 23.038 §4).
    pub fn from_dcs(dcs: u8) -> Self {
        let bits = if dcs & 0xF0 == 0xF0 {
            dcs & 0x04 // 1111 0abb: a = 8-bit
        } else if dcs & 0xC0 == 0x00 || dcs & 0xC0 == 0x40 {
            dcs & 0x0C
        } else if dcs & 0xF0 == 0xE0 {
            0x08
        } else {
            0
        };
        match bits {
            0x04 => Alphabet::Eight,
            0x08 => Alphabet::Ucs2,
            _ => Alphabet::Gsm7,
        }
    }

    /// The name used in the ledger: `gsm7`, `8bit`, `ucs2`.
    pub fn name(self) -> &'static str {
        match self {
            Alphabet::Gsm7 => "gsm7",
            Alphabet::Eight => "8bit",
            Alphabet::Ucs2 => "ucs2",
        }
    }

    /// TP-DCS for this alphabet, no message class.
    pub fn dcs(self) -> u8 {
        match self {
            Alphabet::Gsm7 => 0x00,
            Alphabet::Eight => 0x04,
            Alphabet::Ucs2 => 0x08,
        }
    }
}

/// A concatenation information element (TS 23.040 §9.2.3.24.1 / .8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts (8- or 16-bit).
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part, 1-based.
    pub seq: u8,
    /// True for the 16-bit reference form (IEI 0x08).
    pub wide: bool,
}

/// A decoded SMS-SUBMIT.
#[derive(Clone, Debug, PartialEq)]
pub struct Submit {
    /// TP-MR as the client wrote it.
    pub mr: u8,
    /// TP-SRR: a status report is requested.
    pub status_report: bool,
    /// TP-DA: destination (with `+` when international, letters when alphanumeric).
    pub to: String,
    /// TP-DCS.
    pub dcs: u8,
    /// Alphabet from the DCS.
    pub alphabet: Alphabet,
    /// The user text (8-bit data as upper-case hex).
    pub text: String,
    /// Concatenation header, if any.
    pub concat: Option<Concat>,
    /// User data length in units of the alphabet (TP-UDL), header included.
    pub udl: u8,
}

/// Why a PDU was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PduError {
    /// The PDU ended before a field it announced.
    Truncated,
    /// The first octet is not an SMS-SUBMIT (TP-MTI 01).
    NotSubmit,
    /// A field holds a value the spec does not allow.
    Invalid(&'static str),
}

impl std::fmt::Display for PduError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PduError::Truncated => f.write_str("PDU truncated"),
            PduError::NotSubmit => f.write_str("not an SMS-SUBMIT"),
            PduError::Invalid(what) => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for PduError {}

// ---------------------------------------------------------------------------------
// GSM 7-bit alphabet (TS 23.038 §6.2.1 default table and §6.2.1.1 extension table).

const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0c}'),
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

/// Septets for `c`: one for the default table, two (ESC + code) for the extension.
pub fn gsm7_septets(c: char) -> Option<Vec<u8>> {
    if c != '\u{1b}' {
        if let Some(i) = DEFAULT.iter().position(|&d| d == c) {
            return Some(vec![i as u8]);
        }
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(code, _)| vec![0x1B, *code])
}

/// All septets of `text`, or None when a character is not in the GSM alphabet.
pub fn gsm7_encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        out.extend(gsm7_septets(c)?);
    }
    Some(out)
}

/// Text of `septets` (ESC + unknown code falls back to the default table, §6.2.1.1).
pub fn gsm7_decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut escape = false;
    for &s in septets {
        let s = s & 0x7F;
        if escape {
            escape = false;
            match EXTENSION.iter().find(|(code, _)| *code == s) {
                Some((_, c)) => out.push(*c),
                None if s == 0x1B => out.push(' '),
                None => out.push(DEFAULT[usize::from(s)]),
            }
        } else if s == 0x1B {
            escape = true;
        } else {
            out.push(DEFAULT[usize::from(s)]);
        }
    }
    out
}

/// Packs septets LSB-first starting `fill` bits into the first octet (TS 23.038 §6.1.2.1).
fn pack(septets: &[u8], fill: usize) -> Vec<u8> {
    let bits = fill + septets.len() * 7;
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, &s) in septets.iter().enumerate() {
        let bit = fill + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let v = u16::from(s & 0x7F) << shift;
        out[byte] |= v as u8;
        if shift > 1 {
            out[byte + 1] |= (v >> 8) as u8;
        }
    }
    out
}

/// Unpacks `count` septets starting at bit `fill` of `data`.
fn unpack(data: &[u8], fill: usize, count: usize) -> Result<Vec<u8>, PduError> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = fill + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let lo = u16::from(*data.get(byte).ok_or(PduError::Truncated)?);
        let hi = if shift > 1 {
            u16::from(*data.get(byte + 1).ok_or(PduError::Truncated)?)
        } else {
            0
        };
        out.push((((hi << 8 | lo) >> shift) & 0x7F) as u8);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Addresses (TS 23.040 §9.1.2.5, TS 24.011 §8.2.5.1 for the SMSC).

/// Semi-octet digits of a number (`*`, `#`, `a`-`c` per TS 23.040 §9.1.2.3).
fn bcd(digits: &str) -> Result<Vec<u8>, PduError> {
    let nibble = |c: char| -> Result<u8, PduError> {
        match c {
            '0'..='9' => Ok(c as u8 - b'0'),
            '*' => Ok(0x0A),
            '#' => Ok(0x0B),
            'a' | 'A' => Ok(0x0C),
            'b' | 'B' => Ok(0x0D),
            'c' | 'C' => Ok(0x0E),
            _ => Err(PduError::Invalid("address digit")),
        }
    };
    let nibbles: Vec<u8> = digits.chars().map(nibble).collect::<Result<_, _>>()?;
    Ok(nibbles
        .chunks(2)
        .map(|p| p[0] | (p.get(1).copied().unwrap_or(0x0F) << 4))
        .collect())
}

fn unbcd(data: &[u8], digits: usize) -> String {
    const D: &[u8; 16] = b"0123456789*#abc?";
    let mut out = String::with_capacity(digits);
    for i in 0..digits {
        let Some(octet) = data.get(i / 2) else { break };
        let n = if i % 2 == 0 { octet & 0x0F } else { octet >> 4 };
        if n == 0x0F {
            break;
        }
        out.push(char::from(D[usize::from(n)]));
    }
    out
}

/// `LL TOA digits` for TP-OA/TP-DA/TP-RA; LL counts semi-octets. Letters make an
/// alphanumeric address (TOA 0xD0, GSM 7-bit packed, §9.1.2.5).
fn encode_address(number: &str) -> Result<Vec<u8>, PduError> {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(rest) => (0x91, rest),
        None => (0x81, number),
    };
    if !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))
    {
        let mut out = vec![digits.len() as u8, toa];
        out.extend(bcd(digits)?);
        return Ok(out);
    }
    let septets = gsm7_encode(number).ok_or(PduError::Invalid("alphanumeric address"))?;
    if septets.len() > 11 {
        return Err(PduError::Invalid("alphanumeric address longer than 11"));
    }
    let packed = pack(&septets, 0);
    let semi = (septets.len() * 7).div_ceil(4);
    let mut out = vec![semi as u8, 0xD0];
    out.extend(packed);
    Ok(out)
}

/// Decodes `LL TOA digits`; returns the address text and octets consumed.
fn decode_address(data: &[u8]) -> Result<(String, usize), PduError> {
    let semi = usize::from(*data.first().ok_or(PduError::Truncated)?);
    let toa = *data.get(1).ok_or(PduError::Truncated)?;
    let octets = semi.div_ceil(2);
    let body = data.get(2..2 + octets).ok_or(PduError::Truncated)?;
    let text = if toa & 0x70 == 0x50 {
        gsm7_decode(&unpack(body, 0, semi * 4 / 7)?)
    } else {
        let digits = unbcd(body, semi);
        if toa & 0x70 == 0x10 {
            format!("+{digits}")
        } else {
            digits
        }
    };
    Ok((text, 2 + octets))
}

/// The SMSC field (`LL TOA digits`, LL counts octets after itself; `00` = none).
pub fn encode_smsc(number: &str) -> Vec<u8> {
    match encode_address(number) {
        Ok(addr) if !number.is_empty() => {
            let mut out = vec![(addr.len() - 1) as u8];
            out.extend(&addr[1..]);
            out
        }
        _ => vec![0],
    }
}

/// Decodes the SMSC field; returns the number ("" when absent) and octets consumed.
pub fn decode_smsc(pdu: &[u8]) -> Result<(String, usize), PduError> {
    let len = usize::from(*pdu.first().ok_or(PduError::Truncated)?);
    if len == 0 {
        return Ok((String::new(), 1));
    }
    let toa = *pdu.get(1).ok_or(PduError::Truncated)?;
    let body = pdu.get(2..1 + len).ok_or(PduError::Truncated)?;
    let digits = unbcd(body, body.len() * 2);
    let number = if toa & 0x70 == 0x10 {
        format!("+{digits}")
    } else {
        digits
    };
    Ok((number, 1 + len))
}

// ---------------------------------------------------------------------------------
// Time stamps (TS 23.040 §9.2.3.11).

fn swap(v: u32) -> u8 {
    let v = (v % 100) as u8;
    ((v % 10) << 4) | (v / 10)
}

/// Seven semi-octet swapped octets YY MM DD hh mm ss TZ; TZ in quarter hours, sign in
/// bit 3 of the (swapped) octet.
pub fn encode_scts(at: SimInstant, offset: UtcOffset) -> [u8; 7] {
    let c = at.civil(offset);
    let quarters = u32::from(offset.0.unsigned_abs());
    let mut tz = swap(quarters);
    if offset.0 < 0 {
        tz |= 0x08;
    }
    [
        swap(c.year.rem_euclid(100) as u32),
        swap(c.month),
        swap(c.day),
        swap(c.hour),
        swap(c.minute),
        swap(c.second),
        tz,
    ]
}

// ---------------------------------------------------------------------------------
// SMS-SUBMIT (TS 23.040 §9.2.2.2).

/// Decodes an SMS-SUBMIT TPDU (without the SMSC field).
pub fn decode_submit(tpdu: &[u8]) -> Result<Submit, PduError> {
    let fo = *tpdu.first().ok_or(PduError::Truncated)?;
    if fo & 0x03 != 0x01 {
        return Err(PduError::NotSubmit);
    }
    let mr = *tpdu.get(1).ok_or(PduError::Truncated)?;
    let (to, used) = decode_address(tpdu.get(2..).ok_or(PduError::Truncated)?)?;
    let mut at = 2 + used;
    let _pid = *tpdu.get(at).ok_or(PduError::Truncated)?;
    let dcs = *tpdu.get(at + 1).ok_or(PduError::Truncated)?;
    at += 2;
    at += match (fo >> 3) & 0x03 {
        0b00 => 0,
        0b10 => 1,
        _ => 7,
    };
    let udl = *tpdu.get(at).ok_or(PduError::Truncated)?;
    let ud = tpdu.get(at + 1..).ok_or(PduError::Truncated)?;
    let alphabet = Alphabet::from_dcs(dcs);
    let (text, concat) = decode_user_data(ud, udl, alphabet, fo & 0x40 != 0)?;
    Ok(Submit {
        mr,
        status_report: fo & 0x20 != 0,
        to,
        dcs,
        alphabet,
        text,
        concat,
        udl,
    })
}

/// Decodes TP-UD: the optional header (concatenation is read, other IEs skipped) and
/// the text. Reads only `udl` units even when more octets follow.
fn decode_user_data(
    ud: &[u8],
    udl: u8,
    alphabet: Alphabet,
    udhi: bool,
) -> Result<(String, Option<Concat>), PduError> {
    let udl = usize::from(udl);
    let mut concat = None;
    let mut header_octets = 0;
    if udhi {
        let udhl = usize::from(*ud.first().ok_or(PduError::Truncated)?);
        let header = ud.get(1..1 + udhl).ok_or(PduError::Truncated)?;
        header_octets = 1 + udhl;
        let mut i = 0;
        while i + 1 < header.len() {
            let (iei, len) = (header[i], usize::from(header[i + 1]));
            let data = header
                .get(i + 2..i + 2 + len)
                .ok_or(PduError::Invalid("UDH"))?;
            match (iei, data) {
                (0x00, [r, t, s]) => {
                    concat = Some(Concat {
                        reference: u16::from(*r),
                        total: *t,
                        seq: *s,
                        wide: false,
                    })
                }
                (0x08, [rh, rl, t, s]) => {
                    concat = Some(Concat {
                        reference: u16::from(*rh) << 8 | u16::from(*rl),
                        total: *t,
                        seq: *s,
                        wide: true,
                    })
                }
                _ => {}
            }
            i += 2 + len;
        }
    }
    let text = match alphabet {
        Alphabet::Gsm7 => {
            let header_septets = (header_octets * 8).div_ceil(7);
            let count = udl
                .checked_sub(header_septets)
                .ok_or(PduError::Invalid("UDL shorter than UDH"))?;
            gsm7_decode(&unpack(ud, header_septets * 7, count)?)
        }
        Alphabet::Eight | Alphabet::Ucs2 => {
            let body = ud
                .get(header_octets..udl)
                .ok_or(PduError::Invalid("UDL beyond the PDU"))?;
            if alphabet == Alphabet::Ucs2 {
                let units: Vec<u16> = body
                    .chunks(2)
                    .map(|p| u16::from(p[0]) << 8 | u16::from(p.get(1).copied().unwrap_or(0)))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                hex(body)
            }
        }
    };
    Ok((text, concat))
}

/// One segment's user data: `udl` and the octets of TP-UD (header included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    /// Alphabet of the text.
    pub alphabet: Alphabet,
    /// TP-UDL.
    pub udl: u8,
    /// TP-UD octets.
    pub octets: Vec<u8>,
    /// Concatenation header carried, if any.
    pub concat: Option<Concat>,
    /// The text of this segment.
    pub text: String,
}

/// Splits `text` into segments as a phone would send it to a subscriber: GSM 7-bit
/// when every character is in the alphabet, else UCS-2; one segment up to 160/70
/// units, else 153/67 per part with an 8-bit concatenation reference. Escape pairs and
/// surrogate pairs are never split (TS 23.040 §9.2.3.24.1, TS 23.038 §6.2.1.1).
pub fn segment_text(text: &str, reference: u8) -> Vec<UserData> {
    if let Some(all) = gsm7_encode(text) {
        if all.len() <= 160 {
            return vec![UserData {
                alphabet: Alphabet::Gsm7,
                udl: all.len() as u8,
                octets: pack(&all, 0),
                concat: None,
                text: text.to_string(),
            }];
        }
        let mut parts: Vec<(Vec<u8>, String)> = vec![(Vec::new(), String::new())];
        for c in text.chars() {
            let s = gsm7_septets(c).unwrap_or_default();
            if parts.last().is_some_and(|(p, _)| p.len() + s.len() > 153) {
                parts.push((Vec::new(), String::new()));
            }
            if let Some((p, t)) = parts.last_mut() {
                p.extend(s);
                t.push(c);
            }
        }
        let total = parts.len().min(255) as u8;
        return parts
            .into_iter()
            .take(255)
            .enumerate()
            .map(|(i, (septets, part))| {
                let concat = Concat {
                    reference: u16::from(reference),
                    total,
                    seq: i as u8 + 1,
                    wide: false,
                };
                let mut octets = vec![5, 0, 3, reference, total, i as u8 + 1];
                // 6 header octets = 48 bits: one fill bit to the septet boundary.
                let body = pack(&septets, 1);
                octets.extend(&body[..]);
                UserData {
                    alphabet: Alphabet::Gsm7,
                    udl: (7 + septets.len()) as u8,
                    octets,
                    concat: Some(concat),
                    text: part,
                }
            })
            .collect();
    }
    let units: Vec<u16> = text.encode_utf16().collect();
    let to_octets = |u: &[u16]| u.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    if units.len() <= 70 {
        let octets = to_octets(&units);
        return vec![UserData {
            alphabet: Alphabet::Ucs2,
            udl: octets.len() as u8,
            octets,
            concat: None,
            text: text.to_string(),
        }];
    }
    let mut parts: Vec<(Vec<u16>, String)> = vec![(Vec::new(), String::new())];
    for c in text.chars() {
        let mut buf = [0u16; 2];
        let u = c.encode_utf16(&mut buf);
        if parts.last().is_some_and(|(p, _)| p.len() + u.len() > 67) {
            parts.push((Vec::new(), String::new()));
        }
        if let Some((p, t)) = parts.last_mut() {
            p.extend_from_slice(u);
            t.push(c);
        }
    }
    let total = parts.len().min(255) as u8;
    parts
        .into_iter()
        .take(255)
        .enumerate()
        .map(|(i, (u, part))| {
            let mut octets = vec![5, 0, 3, reference, total, i as u8 + 1];
            octets.extend(to_octets(&u));
            UserData {
                alphabet: Alphabet::Ucs2,
                udl: octets.len() as u8,
                octets,
                concat: Some(Concat {
                    reference: u16::from(reference),
                    total,
                    seq: i as u8 + 1,
                    wide: false,
                }),
                text: part,
            }
        })
        .collect()
}

/// SMSC field + SMS-DELIVER (TS 23.040 §9.2.2.1) for one segment from `from`.
pub fn encode_deliver(
    smsc: &str,
    from: &str,
    scts: SimInstant,
    offset: UtcOffset,
    ud: &UserData,
) -> Vec<u8> {
    let mut out = encode_smsc(smsc);
    // MTI 00, MMS set (no more messages), UDHI when a header is present.
    let fo = 0x04 | if ud.concat.is_some() { 0x40 } else { 0 };
    out.push(fo);
    out.extend(encode_address(from).unwrap_or_else(|_| vec![0, 0x81]));
    out.push(0x00); // PID
    out.push(ud.alphabet.dcs());
    out.extend(encode_scts(scts, offset));
    out.push(ud.udl);
    out.extend(&ud.octets);
    out
}

/// SMSC field + SMS-STATUS-REPORT (TS 23.040 §9.2.2.3) for message reference `mr`.
pub fn encode_status_report(
    smsc: &str,
    mr: u8,
    recipient: &str,
    scts: SimInstant,
    discharge: SimInstant,
    offset: UtcOffset,
    status: u8,
) -> Vec<u8> {
    let mut out = encode_smsc(smsc);
    out.push(0x06); // MTI 10, MMS set, SRQ 0 (report of a SUBMIT)
    out.push(mr);
    out.extend(encode_address(recipient).unwrap_or_else(|_| vec![0, 0x81]));
    out.extend(encode_scts(scts, offset));
    out.extend(encode_scts(discharge, offset));
    out.push(status);
    out
}

/// SMSC field + SMS-SUBMIT for a single-segment text (used for messages written to
/// storage in text mode, so that they can be listed in PDU mode).
pub fn encode_submit(to: &str, text: &str, status_report: bool) -> Vec<u8> {
    let ud = segment_text(text, 0).into_iter().next();
    let mut out = vec![0x00];
    let fo = 0x11 | if status_report { 0x20 } else { 0 };
    out.push(fo);
    out.push(0x00);
    out.extend(encode_address(to).unwrap_or_else(|_| vec![0, 0x81]));
    out.push(0x00);
    match ud {
        Some(ud) => {
            out.push(ud.alphabet.dcs());
            out.push(0xA7);
            out.push(ud.udl);
            out.extend(&ud.octets);
        }
        None => out.extend([0x00, 0xA7, 0x00]),
    }
    out
}

/// Upper-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Bytes of a hex string (whitespace ignored), or None if not hex.
pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from docs/modems.md (gammu on the wire: § Oracle calls and vectors;
    // python-gsmmodem and smspdudecoder: § PDUs).
    #[test]
    fn decodes_gammus_single_submit() {
        let pdu =
            unhex(b"07915155000000F011000B915155214365F70000FF0CC8329BFD065DDF72363904").unwrap();
        let (smsc, used) = decode_smsc(&pdu).unwrap();
        assert_eq!(smsc, "+15550000000");
        let s = decode_submit(&pdu[used..]).unwrap();
        assert_eq!(s.to, "+15551234567");
        assert_eq!(s.text, "Hello World!");
        assert!(!s.status_report);
        assert_eq!(s.concat, None);
    }

    #[test]
    fn packing_matches_published_vectors() {
        assert_eq!(
            hex(&pack(&gsm7_encode("hellohello").unwrap(), 0)),
            "E8329BFD4697D9EC37"
        );
        assert_eq!(
            hex(&pack(&gsm7_encode("[10€]").unwrap(), 0)),
            "1B5E0CB6296F7C"
        );
        assert_eq!(
            hex(&encode_address("Design@Home").unwrap()),
            "14D0C4F23C7D760390EF7619"
        );
        assert_eq!(
            decode_address(&unhex(b"0BD0CDE6DB5DCE03").unwrap())
                .unwrap()
                .0,
            "MMoney"
        );
        assert_eq!(hex(&encode_smsc("+9876543210")), "06918967452301");
    }

    #[test]
    fn scts_carries_the_offset_in_quarters() {
        let off = UtcOffset::parse("+08:00").unwrap();
        let t = SimInstant::parse("2007-04-12T23:25:42", off).unwrap();
        assert_eq!(hex(&encode_scts(t, off)), "70402132522423");
        let off = UtcOffset::parse("-08:00").unwrap();
        let t = SimInstant::parse("2007-04-12T23:25:42", off).unwrap();
        assert_eq!(hex(&encode_scts(t, off)), "7040213252242B");
    }

    #[test]
    fn multipart_segments_round_trip_through_the_submit_decoder() {
        let text = "x".repeat(152) + "€" + &"y".repeat(20);
        let parts = segment_text(&text, 0x42);
        assert_eq!(parts.len(), 2);
        let mut joined = String::new();
        for p in &parts {
            // Wrap each segment as a SUBMIT and decode it with the decoder above.
            let mut tpdu = vec![0x51, 0, 0x0B, 0x91];
            tpdu.extend(bcd("15551234567").unwrap());
            tpdu.extend([0, p.alphabet.dcs(), 0xFF, p.udl]);
            tpdu.extend(&p.octets);
            let s = decode_submit(&tpdu).unwrap();
            assert_eq!(s.concat.unwrap().reference, 0x42);
            joined.push_str(&s.text);
        }
        assert_eq!(joined, text);
        let ucs = "б".repeat(100);
        assert_eq!(segment_text(&ucs, 1).len(), 2);
    }

    /// Random and mutated PDUs never panic the decoder (the wire can hold anything).
    #[test]
    fn decoder_survives_random_and_mutated_pdus() {
        let mut rng = crate::sim::rng::Rng::keyed(5, "pdu");
        let good = unhex(b"11000B915155214365F70000FF0CC8329BFD065DDF72363904").unwrap();
        let concat = {
            let p = &segment_text(&"z".repeat(200), 9)[0];
            let mut t = vec![0x51, 0, 0x0B, 0x91];
            t.extend(bcd("15551234567").unwrap());
            t.extend([0, 0, 0xFF, p.udl]);
            t.extend(&p.octets);
            t
        };
        for i in 0..200_000 {
            let pdu: Vec<u8> = match i % 3 {
                0 => (0..rng.below(60))
                    .map(|_| (rng.next_u64() & 0xFF) as u8)
                    .collect(),
                _ => {
                    let mut p = if i % 3 == 1 {
                        good.clone()
                    } else {
                        concat.clone()
                    };
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(p.len());
                        p[at] = (rng.next_u64() & 0xFF) as u8;
                    }
                    p.truncate(rng.below(p.len() + 1));
                    p
                }
            };
            let _ = decode_submit(&pdu);
            let _ = decode_smsc(&pdu);
        }
    }

    /// The driver's codec (relais_core::sms) and this one are written separately; a
    /// message must survive the trip from either encoder to the other decoder.
    mod against_the_core_codec {
        use super::super::*;
        use crate::sim::rng::Rng;
        use relais_core::sms::ConcatWidth;
        use relais_core::sms::pdu::{
            self as core_pdu, Address, DeliverHeader, EncodingChoice, MessageClass,
            MessageReference, PhoneNumber, SmscField, Status, StatusReportFields, SubmitHeader,
            TextPlan, Timestamp, Tpdu,
        };

        fn texts() -> Vec<String> {
            let pool: Vec<char> =
                "abcXYZ 019.,!?@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r€[]{}|~^\\"
                    .chars()
                    .collect();
            let wide: Vec<char> = "бжЩ€中😀é ".chars().collect();
            let mut rng = Rng::keyed(3, "texts");
            let mut out = vec![
                String::new(),
                "Hello".into(),
                "a".repeat(160),
                "a".repeat(161),
                "a".repeat(152) + "€" + "b",
                "б".repeat(70),
                "б".repeat(71),
                "x".repeat(66) + "😀" + &"y".repeat(10),
            ];
            for _ in 0..150 {
                let (p, n) = if rng.chance(0.5) {
                    (&pool, 400)
                } else {
                    (&wide, 200)
                };
                let len = rng.below(n);
                out.push((0..len).map(|_| p[rng.below(p.len())]).collect());
            }
            out
        }

        #[test]
        fn core_submit_decodes_here() {
            let to = Address::Number(PhoneNumber::parse("+33612345678").unwrap());
            for (i, text) in texts().iter().enumerate() {
                let width = if i % 2 == 0 {
                    ConcatWidth::Ref8
                } else {
                    ConcatWidth::Ref16
                };
                let reference = if i % 2 == 0 { 0x42 } else { 0x1234 };
                let plan = TextPlan::new(text, EncodingChoice::Auto, width, reference).unwrap();
                let mut header = SubmitHeader::new(&to);
                header.status_report = i % 3 == 0;
                let mut joined = String::new();
                for (k, seg) in plan.segments().enumerate() {
                    let mut buf = [0u8; core_pdu::MAX_PDU_LEN];
                    let enc = core_pdu::encode_submit(&header, &seg, &mut buf).unwrap();
                    let pdu = &buf[..enc.pdu_len];
                    let (_, used) = decode_smsc(pdu).unwrap();
                    assert_eq!(pdu.len() - used, enc.tpdu_len);
                    let s = decode_submit(&pdu[used..])
                        .unwrap_or_else(|e| panic!("{text:?} part {k}: {e}"));
                    assert_eq!(s.to, "+33612345678");
                    assert_eq!(s.status_report, i % 3 == 0);
                    assert_eq!(s.text, seg.text, "{text:?} part {k}");
                    match (seg.concat, s.concat) {
                        (None, None) => {}
                        (Some(c), Some(d)) => {
                            assert_eq!(
                                (c.reference, c.total, c.part),
                                (d.reference, d.total, d.seq)
                            );
                            assert_eq!(d.wide, width == ConcatWidth::Ref16);
                        }
                        other => panic!("{text:?}: concat {other:?}"),
                    }
                    joined.push_str(&s.text);
                }
                assert_eq!(&joined, text);
            }
        }

        #[test]
        fn deliver_and_status_report_from_here_decode_in_the_core() {
            let off = UtcOffset(-22); // -05:30
            let at = SimInstant::parse("2026-12-31T23:59:58", off).unwrap();
            for text in texts() {
                let mut joined = String::new();
                let parts = segment_text(&text, 0x99);
                for p in &parts {
                    let pdu = encode_deliver("+33609001390", "+33611223344", at, off, p);
                    let Ok(Tpdu::Deliver(d)) = core_pdu::decode(&pdu, SmscField::Present) else {
                        panic!("{text:?}: core cannot decode {}", hex(&pdu));
                    };
                    assert_eq!(d.from.to_string(), "+33611223344");
                    assert_eq!(d.smsc.unwrap().to_string(), "+33609001390");
                    let t = d.timestamp;
                    assert_eq!(
                        (t.year, t.month, t.day, t.hour, t.minute, t.second),
                        (2026, 12, 31, 23, 59, 58)
                    );
                    assert_eq!(t.offset_quarters, -22);
                    assert_eq!(
                        d.user_data
                            .udh
                            .concat
                            .map(|c| (c.reference, c.total, c.part)),
                        p.concat.map(|c| (c.reference, c.total, c.seq))
                    );
                    let decoded = d.user_data.text();
                    assert_eq!(decoded.as_str(), p.text, "{text:?}");
                    joined.push_str(&decoded);
                }
                assert_eq!(joined, text);
            }
            let pdu = encode_status_report("+33609001390", 214, "+33612345678", at, at, off, 0x46);
            let Ok(Tpdu::StatusReport(r)) = core_pdu::decode(&pdu, SmscField::Present) else {
                panic!("core cannot decode {}", hex(&pdu));
            };
            assert_eq!(r.message_reference, MessageReference(214));
            assert_eq!(r.status, Status(0x46));
            assert_eq!(r.recipient.to_string(), "+33612345678");
            assert_eq!(r.discharge_time.offset_quarters, -22);
        }

        #[test]
        fn core_deliver_and_report_shapes_match_ours() {
            // The same DELIVER from both encoders is the same bytes.
            let from = Address::Number(PhoneNumber::parse("+33611223344").unwrap());
            let smsc = PhoneNumber::parse("+33609001390").unwrap();
            let ts = Timestamp {
                year: 2026,
                month: 3,
                day: 6,
                hour: 9,
                minute: 0,
                second: 0,
                offset_quarters: 4,
            };
            let header = DeliverHeader {
                smsc: Some(&smsc),
                from: &from,
                timestamp: ts,
                class: None::<MessageClass>,
                protocol_id: 0,
                more_messages: false,
                status_report_indication: false,
            };
            let plan = TextPlan::new("Bonjour à tous", EncodingChoice::Auto, ConcatWidth::Ref8, 1)
                .unwrap();
            let seg = plan.segments().next().unwrap();
            let mut buf = [0u8; core_pdu::MAX_PDU_LEN];
            let n = core_pdu::encode_deliver(&header, &seg, &mut buf)
                .unwrap()
                .pdu_len;
            let at = SimInstant::parse("2026-03-06T09:00:00", UtcOffset(4)).unwrap();
            let ours = encode_deliver(
                "+33609001390",
                "+33611223344",
                at,
                UtcOffset(4),
                &segment_text("Bonjour à tous", 1)[0],
            );
            assert_eq!(hex(&buf[..n]), hex(&ours));
            let to = Address::Number(PhoneNumber::parse("+33612345678").unwrap());
            let f = StatusReportFields {
                smsc: Some(&smsc),
                message_reference: MessageReference(7),
                recipient: &to,
                timestamp: ts,
                discharge_time: ts,
                status: Status(0),
            };
            let n = core_pdu::encode_status_report(&f, &mut buf)
                .unwrap()
                .pdu_len;
            let ours =
                encode_status_report("+33609001390", 7, "+33612345678", at, at, UtcOffset(4), 0);
            assert_eq!(hex(&buf[..n]), hex(&ours));
        }
    }
}
