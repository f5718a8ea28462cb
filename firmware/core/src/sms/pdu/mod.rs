//! SMS PDUs as they cross the AT interface: an SMSC address field (TS 24.011 §8.2.5.1)
//! followed by a TPDU (TS 23.040 §9.2.2).
//!
//! - Encode: SMS-SUBMIT ([`encode_submit`]), and for simulators SMS-DELIVER
//!   ([`encode_deliver`]) and SMS-STATUS-REPORT ([`encode_status_report`]). A long text is
//!   first planned into segments with [`TextPlan`]; each segment is encoded into a
//!   caller-provided buffer of at least [`MAX_PDU_LEN`] octets.
//! - Decode: [`decode`] takes the binary PDU (see [`hex`]) and returns a [`Tpdu`]
//!   borrowing its user data from the input. Every decoder returns a [`DecodeError`] on
//!   truncated, inconsistent or hostile input and never panics.

pub mod address;
pub mod dcs;
pub mod hex;
pub mod timestamp;
pub mod udh;
pub mod user_data;

mod deliver;
mod status_report;
mod submit;

use core::fmt;

pub use address::{Address, PhoneNumber, TypeOfNumber};
pub use dcs::{Dcs, MessageClass};
pub use deliver::{Deliver, DeliverHeader, encode_deliver};
pub use status_report::{
    Status, StatusKind, StatusReport, StatusReportFields, encode_status_report,
};
pub use submit::{RelativeValidity, Submit, SubmitHeader, Validity, encode_submit};
pub use timestamp::Timestamp;
pub use udh::{Concat, Udh};
pub use user_data::{EncodingChoice, TextPlan, TextSegment, UserData};

/// Largest PDU (SMSC field + TPDU) any encoder here writes, in octets: a 12-octet SMSC
/// field and a 164-octet SMS-STATUS-REPORT/SUBMIT TPDU, rounded up.
pub const MAX_PDU_LEN: usize = 180;

/// Largest user data field in octets (TS 23.040 §9.2.3.16).
pub const MAX_UD_OCTETS: usize = 140;

/// TP-Message-Reference (TS 23.040 §9.2.3.6). With 0 in an SMS-SUBMIT most modems
/// assign their own running value and return it in `+CMGS: <mr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MessageReference(pub u8);

/// Whether a PDU starts with the SMSC address field (`+CMGS`, `+CMGR`, `+CMT` do;
/// a bare TPDU does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SmscField {
    /// The PDU begins with the SMSC address field (`00` when empty).
    Present,
    /// The PDU is a bare TPDU.
    Absent,
}

/// A decoded TPDU of any supported type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tpdu<'a> {
    /// SMS-DELIVER (MTI 00): a message arriving at the phone.
    Deliver(Deliver<'a>),
    /// SMS-SUBMIT (MTI 01): a message leaving the phone.
    Submit(Submit<'a>),
    /// SMS-STATUS-REPORT (MTI 10): the fate of an earlier SUBMIT.
    StatusReport(StatusReport<'a>),
}

/// A PDU and the length to announce for it in `AT+CMGS=<length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encoded {
    /// Octets written (SMSC field + TPDU).
    pub pdu_len: usize,
    /// TPDU octets, excluding the SMSC field (TS 27.005 §3.5.1 `<length>`).
    pub tpdu_len: usize,
}

/// Why a PDU could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The PDU ends before a field it announces.
    Truncated,
    /// The hex text has an odd length or a non-hex character.
    InvalidHex,
    /// TP-MTI 11 (reserved) or another TPDU type this codec does not read.
    UnsupportedType(u8),
    /// An address field is longer than TS 23.040 allows (20 digits / 11 characters).
    AddressTooLong,
    /// A timestamp field holds non-BCD digits or an impossible date or time.
    InvalidTimestamp,
    /// TP-UDL is larger than the user data field can be, or than the PDU holds.
    UserDataTooLong,
    /// The user data header runs past its own length or past the user data.
    InvalidUdh,
    /// UCS-2 text with an odd number of octets.
    OddUcs2Length,
    /// TP-DCS announces compressed user data (TS 23.042), which this codec cannot read.
    Compressed,
    /// The output buffer is too small for the hex input.
    BufferTooSmall,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("PDU truncated"),
            DecodeError::InvalidHex => f.write_str("invalid hex"),
            DecodeError::UnsupportedType(mti) => write!(f, "unsupported TPDU type (TP-MTI {mti})"),
            DecodeError::AddressTooLong => f.write_str("address field too long"),
            DecodeError::InvalidTimestamp => f.write_str("invalid timestamp"),
            DecodeError::UserDataTooLong => f.write_str("user data length inconsistent"),
            DecodeError::InvalidUdh => f.write_str("invalid user data header"),
            DecodeError::OddUcs2Length => f.write_str("UCS-2 text with an odd number of octets"),
            DecodeError::Compressed => f.write_str("compressed user data is not supported"),
            DecodeError::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// GSM 7-bit was requested but this character has no GSM 7-bit form.
    Unrepresentable(char),
    /// The text needs more than 255 segments.
    TooManySegments,
    /// An 8-bit concatenation reference was requested with a value above 255.
    ReferenceTooLarge,
    /// A number has no digits, too many (over 20) or a character other than 0-9 * # a b c.
    InvalidNumber,
    /// An alphanumeric address longer than 11 GSM 7-bit septets (TS 23.040 §9.1.2.5).
    AddressTooLong,
    /// A timestamp field is out of range (year 2000-2099, offset within ±19:45).
    InvalidTimestamp,
    /// A segment holds more units than its encoding allows.
    SegmentTooLong,
    /// The output buffer is shorter than [`MAX_PDU_LEN`] and the PDU did not fit.
    BufferTooSmall,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Unrepresentable(c) => {
                write!(
                    f,
                    "character {c:?} (U+{:04X}) is not in the GSM 7-bit alphabet",
                    *c as u32
                )
            }
            EncodeError::TooManySegments => f.write_str("text needs more than 255 segments"),
            EncodeError::ReferenceTooLarge => {
                f.write_str("concatenation reference above 255 needs a 16-bit reference")
            }
            EncodeError::InvalidNumber => f.write_str("invalid phone number"),
            EncodeError::AddressTooLong => {
                f.write_str("alphanumeric address longer than 11 characters")
            }
            EncodeError::InvalidTimestamp => f.write_str("timestamp out of range"),
            EncodeError::SegmentTooLong => f.write_str("segment too long for its encoding"),
            EncodeError::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Decodes a binary PDU (SMSC field present or not, see [`SmscField`]).
///
/// The returned TPDU borrows its user data from `pdu`. Octets after the user data are
/// ignored (some modems append padding).
pub fn decode(pdu: &[u8], smsc: SmscField) -> Result<Tpdu<'_>, DecodeError> {
    let mut r = Reader::new(pdu);
    let smsc = match smsc {
        SmscField::Present => address::read_smsc(&mut r)?,
        SmscField::Absent => None,
    };
    let first = r.peek()?;
    match first & 0x03 {
        0b00 => deliver::read(&mut r, smsc).map(Tpdu::Deliver),
        0b01 => submit::read(&mut r, smsc).map(Tpdu::Submit),
        0b10 => status_report::read(&mut r, smsc).map(Tpdu::StatusReport),
        mti => Err(DecodeError::UnsupportedType(mti)),
    }
}

/// Cursor over PDU octets; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Result<u8, DecodeError> {
        self.data
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Truncated)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
}

/// Cursor writing PDU octets into a caller buffer; running out is an error, not a panic.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self { out, pos: 0 }
    }

    pub(crate) fn u8(&mut self, b: u8) -> Result<(), EncodeError> {
        let slot = self
            .out
            .get_mut(self.pos)
            .ok_or(EncodeError::BufferTooSmall)?;
        *slot = b;
        self.pos += 1;
        Ok(())
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(b.len())
            .ok_or(EncodeError::BufferTooSmall)?;
        let slot = self
            .out
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall)?;
        slot.copy_from_slice(b);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The unwritten tail of the buffer, for writers that pack bits; call
    /// [`Writer::advance`] with the octets used.
    pub(crate) fn tail(&mut self) -> &mut [u8] {
        self.out.get_mut(self.pos..).unwrap_or(&mut [])
    }

    pub(crate) fn advance(&mut self, n: usize) -> Result<(), EncodeError> {
        let end = self.pos.checked_add(n).ok_or(EncodeError::BufferTooSmall)?;
        if end > self.out.len() {
            return Err(EncodeError::BufferTooSmall);
        }
        self.pos = end;
        Ok(())
    }

    pub(crate) fn set(&mut self, at: usize, b: u8) -> Result<(), EncodeError> {
        let slot = self.out.get_mut(at).ok_or(EncodeError::BufferTooSmall)?;
        *slot = b;
        Ok(())
    }
}
