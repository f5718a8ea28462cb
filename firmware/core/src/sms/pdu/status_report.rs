//! SMS-STATUS-REPORT (TS 23.040 §9.2.2.3): decode, and encode for simulators.

use core::fmt;

use super::address::{self, Address, PhoneNumber};
use super::dcs::Dcs;
use super::timestamp::{self, Timestamp};
use super::user_data::{self, UserData};
use super::{DecodeError, EncodeError, Encoded, MessageReference, Reader, Writer};

/// TP-Status (TS 23.040 §9.2.3.15), the raw code kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Status(pub u8);

/// What a [`Status`] means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StatusKind {
    /// 0x00-0x1F: transaction completed (received by the SME, forwarded without
    /// confirmation, replaced, or an SC-specific completion).
    Delivered,
    /// 0x20-0x3F: temporary error, the SC is still trying.
    Pending,
    /// 0x40-0x5F: permanent error, the SC is not making any more attempts.
    PermanentFailure,
    /// 0x60-0x7F: temporary error, but the SC is not making any more attempts.
    TemporaryFailure,
    /// 0x80-0xFF: reserved.
    Reserved,
}

impl StatusKind {
    /// `delivered`, `pending`, `permanent-failure`, `temporary-failure`, `reserved`.
    pub const fn name(self) -> &'static str {
        match self {
            StatusKind::Delivered => "delivered",
            StatusKind::Pending => "pending",
            StatusKind::PermanentFailure => "permanent-failure",
            StatusKind::TemporaryFailure => "temporary-failure",
            StatusKind::Reserved => "reserved",
        }
    }
}

impl Status {
    /// Delivered to the recipient (0x00).
    pub const DELIVERED: Status = Status(0x00);

    /// The category of this code.
    pub const fn kind(self) -> StatusKind {
        match self.0 {
            0x00..=0x1F => StatusKind::Delivered,
            0x20..=0x3F => StatusKind::Pending,
            0x40..=0x5F => StatusKind::PermanentFailure,
            0x60..=0x7F => StatusKind::TemporaryFailure,
            _ => StatusKind::Reserved,
        }
    }

    /// The specification's wording for the code (TS 23.040 §9.2.3.15), or the
    /// category's for codes without their own.
    pub const fn description(self) -> &'static str {
        match self.0 {
            0x00 => "short message received by the SME",
            0x01 => "forwarded by the SC to the SME but unable to confirm delivery",
            0x02 => "short message replaced by the SC",
            0x20 | 0x60 => "congestion",
            0x21 | 0x61 => "SME busy",
            0x22 | 0x62 => "no response from SME",
            0x23 | 0x63 => "service rejected",
            0x24 | 0x44 | 0x64 => "quality of service not available",
            0x25 | 0x65 => "error in SME",
            0x40 => "remote procedure error",
            0x41 => "incompatible destination",
            0x42 => "connection rejected by SME",
            0x43 => "not obtainable",
            0x45 => "no interworking available",
            0x46 => "SM validity period expired",
            0x47 => "SM deleted by originating SME",
            0x48 => "SM deleted by SC administration",
            0x49 => "SM does not exist",
            _ => match self.kind() {
                StatusKind::Delivered => "transaction completed",
                StatusKind::Pending => "temporary error, SC still trying",
                StatusKind::PermanentFailure => "permanent error",
                StatusKind::TemporaryFailure => "temporary error, SC not trying any more",
                StatusKind::Reserved => "reserved",
            },
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (0x{:02X}: {})",
            self.kind().name(),
            self.0,
            self.description()
        )
    }
}

/// A decoded SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StatusReport<'a> {
    /// SMSC field, when the PDU had one and it was not empty.
    pub smsc: Option<PhoneNumber>,
    /// TP-MR of the SMS-SUBMIT this reports on.
    pub message_reference: MessageReference,
    /// TP-RA: the recipient of that SMS-SUBMIT.
    pub recipient: Address,
    /// TP-SCTS: when the SC received the SMS-SUBMIT.
    pub timestamp: Timestamp,
    /// TP-DT: when the status was reached (delivery, or the last failure).
    pub discharge_time: Timestamp,
    /// TP-ST.
    pub status: Status,
    /// TP-MMS clear: more messages waiting.
    pub more_messages: bool,
    /// TP-SRQ: the report is about an SMS-COMMAND rather than an SMS-SUBMIT.
    pub about_command: bool,
    /// TP-PID, when TP-PI announces it.
    pub protocol_id: Option<u8>,
    /// TP-DCS, when TP-PI announces it.
    pub dcs: Option<Dcs>,
    /// TP-UD, when TP-PI announces it.
    pub user_data: Option<UserData<'a>>,
}

/// The fields of an SMS-STATUS-REPORT to encode (for simulators).
#[derive(Debug, Clone, Copy)]
pub struct StatusReportFields<'a> {
    /// SMSC field; `None` writes `00`.
    pub smsc: Option<&'a PhoneNumber>,
    /// TP-MR of the reported SMS-SUBMIT.
    pub message_reference: MessageReference,
    /// TP-RA.
    pub recipient: &'a Address,
    /// TP-SCTS.
    pub timestamp: Timestamp,
    /// TP-DT.
    pub discharge_time: Timestamp,
    /// TP-ST.
    pub status: Status,
}

/// Encodes an SMS-STATUS-REPORT without the optional parameters (no TP-PI).
pub fn encode_status_report(
    f: &StatusReportFields<'_>,
    out: &mut [u8],
) -> Result<Encoded, EncodeError> {
    let mut w = Writer::new(out);
    address::write_smsc(&mut w, f.smsc)?;
    let tpdu_start = w.pos();
    w.u8(0x06)?; // MTI 10, MMS 1 (no more messages)
    w.u8(f.message_reference.0)?;
    address::write_tp(&mut w, f.recipient)?;
    timestamp::write(&mut w, &f.timestamp)?;
    timestamp::write(&mut w, &f.discharge_time)?;
    w.u8(f.status.0)?;
    Ok(Encoded {
        pdu_len: w.pos(),
        tpdu_len: w.pos() - tpdu_start,
    })
}

pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    smsc: Option<PhoneNumber>,
) -> Result<StatusReport<'a>, DecodeError> {
    let first = r.u8()?;
    let message_reference = MessageReference(r.u8()?);
    let recipient = address::read_tp(r)?;
    let timestamp = timestamp::read(r)?;
    let discharge_time = timestamp::read(r)?;
    let status = Status(r.u8()?);
    let mut report = StatusReport {
        smsc,
        message_reference,
        recipient,
        timestamp,
        discharge_time,
        status,
        more_messages: first & 0x04 == 0,
        about_command: first & 0x20 != 0,
        protocol_id: None,
        dcs: None,
        user_data: None,
    };
    read_parameters(r, first, &mut report);
    Ok(report)
}

/// Reads TP-PI and the optional fields it announces (TS 23.040 §9.2.3.27), leniently:
/// everything the report is for (TP-MR, TP-RA, the times, TP-ST) is already read, so
/// what follows can only add to it.
///
/// - No TP-PI, or TP-PI 0xFF: no parameters. 0xFF is the filler SIM and modem storage
///   puts after a TPDU (a report read back from `"SR"` storage comes padded with it).
/// - Bits 3-6 are reserved and ignored, as the specification requires; extension octets
///   (bit 7) carry only reserved bits and are skipped, a missing one ends the parameters.
/// - A field TP-PI announces but the PDU does not hold in a readable form is left out.
fn read_parameters<'a>(r: &mut Reader<'a>, first: u8, report: &mut StatusReport<'a>) {
    let Ok(pi) = r.u8() else { return };
    if pi == 0xFF {
        return;
    }
    let mut ext = pi;
    while ext & 0x80 != 0 {
        let Ok(next) = r.u8() else { return };
        ext = next;
    }
    if pi & 0x01 != 0 {
        report.protocol_id = r.u8().ok();
    }
    if pi & 0x02 != 0 {
        report.dcs = r.u8().ok().map(Dcs::from_octet);
    }
    if pi & 0x04 != 0 {
        let dcs = report.dcs.unwrap_or(Dcs::from_octet(0));
        report.user_data = user_data::read(r, first & 0x40 != 0, &dcs).ok();
    }
}
