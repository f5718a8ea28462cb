//! PDUs as the driver moves them: already encoded on the way out, raw on the way in.
//!
//! The driver never looks inside a PDU beyond the SMSC length octet (to compute the
//! `AT+CMGS=<length>` value) and, for status reports, the TP-MR octet (to match a
//! report to the segment that [`super::SendOutcome::Accepted`] named). Everything else
//! is the SMS codec's job.

use core::fmt;

use relais_core::at::Slot;
use relais_core::at::command::sms::MessageReference;

/// Largest PDU on the AT interface: 12-octet SMSC field + 164-octet TPDU (TS 23.040
/// SMS-SUBMIT with a 140-octet user data and the longest address).
pub const MAX_PDU: usize = 176;

/// Bytes of a PDU (SMSC field first).
pub type PduBytes = heapless::Vec<u8, MAX_PDU>;

/// Why a PDU cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PduError {
    /// Longer than [`MAX_PDU`] octets.
    TooLong,
    /// The SMSC length octet says more than there is, or the TPDU is empty.
    BadSmscLength,
    /// A hex string had an odd length or a non-hex character.
    BadHex,
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PduError::TooLong => "PDU longer than 176 octets",
            PduError::BadSmscLength => "SMSC length octet does not fit the PDU",
            PduError::BadHex => "PDU hex is malformed",
        })
    }
}

impl core::error::Error for PduError {}

/// An encoded SMS-SUBMIT, SMSC field included (`00` = the modem's `+CSCA` default).
#[derive(Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    bytes: PduBytes,
    tpdu_len: u8,
}

impl SubmitPdu {
    /// Wraps encoded bytes; the TPDU length for `AT+CMGS` is derived from the SMSC
    /// length octet (TS 27.005 §3.5.1: the length excludes the SMSC field).
    pub fn new(bytes: &[u8]) -> Result<SubmitPdu, PduError> {
        let bytes = PduBytes::from_slice(bytes).map_err(|_| PduError::TooLong)?;
        let smsc = usize::from(*bytes.first().ok_or(PduError::BadSmscLength)?);
        let tpdu = bytes
            .len()
            .checked_sub(smsc + 1)
            .filter(|&n| n > 0)
            .ok_or(PduError::BadSmscLength)?;
        let tpdu_len = u8::try_from(tpdu).map_err(|_| PduError::TooLong)?;
        Ok(SubmitPdu { bytes, tpdu_len })
    }

    /// Like [`SubmitPdu::new`] from hex digits (either case).
    pub fn from_hex(hex: &[u8]) -> Result<SubmitPdu, PduError> {
        let mut bytes = PduBytes::new();
        decode_hex(hex, &mut bytes)?;
        SubmitPdu::new(&bytes)
    }

    /// The whole PDU, SMSC field first.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `<length>` of `AT+CMGS=<length>`.
    pub fn tpdu_len(&self) -> u8 {
        self.tpdu_len
    }
}

impl fmt::Debug for SubmitPdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SubmitPdu({} octets, tpdu {})",
            self.bytes.len(),
            self.tpdu_len
        )
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for SubmitPdu {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "SubmitPdu({=[u8]:02x})", self.bytes())
    }
}

/// A PDU the modem handed us: an SMS-DELIVER or an SMS-STATUS-REPORT, still encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundPdu {
    /// Where it was stored (`+CMTI`/`+CDSI` → `AT+CMGR`, or `AT+CMGL`); `None` when
    /// routed directly (`+CMT`/`+CDS`). The driver deletes stored ones after handing
    /// them up.
    pub slot: Option<Slot>,
    /// TPDU length the modem announced (without the SMSC field).
    pub tpdu_len: u16,
    bytes: PduBytes,
}

impl InboundPdu {
    /// Decodes the hex line the modem sent. `None` when it is empty, not valid hex, or
    /// too long.
    pub fn from_hex(slot: Option<Slot>, tpdu_len: u16, hex: &[u8]) -> Option<InboundPdu> {
        let mut bytes = PduBytes::new();
        decode_hex(hex, &mut bytes).ok()?;
        if bytes.is_empty() {
            return None;
        }
        Some(InboundPdu {
            slot,
            tpdu_len,
            bytes,
        })
    }

    /// The whole PDU as received (normally with the SMSC field first).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when the PDU is as long as the modem announced: the TPDU length, plus the
    /// SMSC field when there is one. A garbled line usually fails this; a few modems
    /// announce wrong lengths (gammu tests/at-sms/10.dump, docs/modems.md § Quirk 12).
    pub fn length_matches(&self) -> bool {
        let tpdu = usize::from(self.tpdu_len);
        let with_smsc = self.bytes.first().map(|&n| tpdu + 1 + usize::from(n));
        self.bytes.len() == tpdu || Some(self.bytes.len()) == with_smsc
    }

    /// The TPDU: the bytes after the SMSC field. Modems that omit the SMSC field are
    /// recognised by the announced length matching the whole PDU.
    pub fn tpdu(&self) -> &[u8] {
        if self.bytes.len() == usize::from(self.tpdu_len) {
            return &self.bytes;
        }
        let smsc = self.bytes.first().map_or(0, |&n| usize::from(n));
        self.bytes.get(smsc + 1..).unwrap_or(&[])
    }

    /// TP-MR of an SMS-STATUS-REPORT (TS 23.040 §9.2.2.3: first octet with TP-MTI = 10,
    /// then TP-MR), to match it with [`super::SendOutcome::Accepted`]. `None` for
    /// other message types.
    pub fn status_report_reference(&self) -> Option<MessageReference> {
        match self.tpdu() {
            [first, mr, ..] if first & 0b11 == 0b10 => Some(MessageReference(*mr)),
            _ => None,
        }
    }
}

impl fmt::Debug for InboundPdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "InboundPdu({:?}, {} octets: ",
            self.slot,
            self.bytes.len()
        )?;
        for b in self.bytes.iter() {
            write!(f, "{b:02X}")?;
        }
        f.write_str(")")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for InboundPdu {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "InboundPdu({}, {=[u8]:02x})", self.slot, self.bytes())
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Appends the bytes of `hex` to `out`. A trailing `"` (gammu tests/at-sms/04.dump)
/// and surrounding spaces are tolerated.
pub(crate) fn decode_hex(hex: &[u8], out: &mut PduBytes) -> Result<(), PduError> {
    let hex = relais_core::at::fields::trim(hex);
    let hex = hex.strip_suffix(b"\"").unwrap_or(hex);
    if hex.len() % 2 != 0 {
        return Err(PduError::BadHex);
    }
    for pair in hex.chunks_exact(2) {
        let (hi, lo) = match pair {
            [hi, lo] => (nibble(*hi), nibble(*lo)),
            _ => (None, None),
        };
        let byte = hi
            .zip(lo)
            .map(|(h, l)| h << 4 | l)
            .ok_or(PduError::BadHex)?;
        out.push(byte).map_err(|_| PduError::TooLong)?;
    }
    Ok(())
}

/// True for a line that can be a PDU: hex digits only, apart from surrounding spaces
/// and a trailing `"` (what [`decode_hex`] accepts, before the length check).
pub(crate) fn looks_like_pdu(line: &[u8]) -> bool {
    let line = relais_core::at::fields::trim(line);
    let line = line.strip_suffix(b"\"").unwrap_or(line);
    !line.is_empty() && line.iter().all(u8::is_ascii_hexdigit)
}

/// Upper-case hex digit for the low nibble of `n`.
pub(crate) fn hex_digit(n: u8) -> u8 {
    b"0123456789ABCDEF"[usize::from(n & 0x0F)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_length_excludes_smsc() {
        // docs/modems.md § Sending: AT+CMGS: 07 + 7 SMSC octets, TPDU 25 octets.
        let p = SubmitPdu::from_hex(
            b"07915155000000F011000B915155214365F70000FF0CC8329BFD065DDF72363904",
        )
        .unwrap();
        assert_eq!(p.tpdu_len(), 25);
        let p = SubmitPdu::from_hex(b"0011000B915155214365F70000FF00").unwrap();
        assert_eq!(p.tpdu_len(), 14);
        assert_eq!(SubmitPdu::new(&[0x07, 0x91]), Err(PduError::BadSmscLength));
        assert_eq!(SubmitPdu::new(&[]), Err(PduError::BadSmscLength));
        assert_eq!(SubmitPdu::new(&[0u8; 177]), Err(PduError::TooLong));
        assert_eq!(SubmitPdu::from_hex(b"0"), Err(PduError::BadHex));
        assert_eq!(SubmitPdu::from_hex(b"0G"), Err(PduError::BadHex));
    }

    #[test]
    fn status_report_reference_from_tpdu() {
        // +CDS: 25 with TP-MR 0x40 (faucamp/python-gsmmodem#44 shape, docs/modems.md
        // § Delivery reports).
        let r = InboundPdu::from_hex(
            None,
            25,
            b"07911326040000F006400B911346610089F6121160714123401211607141234000",
        )
        .unwrap();
        assert_eq!(r.status_report_reference(), Some(MessageReference(0x40)));
        let d = InboundPdu::from_hex(None, 2, b"00040B").unwrap();
        assert_eq!(d.status_report_reference(), None);
        assert!(InboundPdu::from_hex(None, 1, b"0x").is_none());
    }
}
