//! SMS-DELIVER (TS 23.040 §9.2.2.1): decode what arrives, encode for simulators.

use super::address::{self, Address, PhoneNumber};
use super::dcs::{Dcs, MessageClass};
use super::timestamp::{self, Timestamp};
use super::user_data::{self, TextSegment, UserData};
use super::{DecodeError, EncodeError, Encoded, Reader, Writer};

/// A decoded SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Deliver<'a> {
    /// SMSC field, when the PDU had one and it was not empty.
    pub smsc: Option<PhoneNumber>,
    /// TP-OA: the sender, numeric or alphanumeric.
    pub from: Address,
    /// TP-PID.
    pub protocol_id: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-SCTS: when the service centre received the message, with its UTC offset.
    pub timestamp: Timestamp,
    /// TP-MMS clear: the SC has more messages waiting.
    pub more_messages: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP.
    pub reply_path: bool,
    /// TP-UD.
    pub user_data: UserData<'a>,
}

/// What an SMS-DELIVER carries besides its text (for simulators).
#[derive(Debug, Clone, Copy)]
pub struct DeliverHeader<'a> {
    /// SMSC field; `None` writes `00`.
    pub smsc: Option<&'a PhoneNumber>,
    /// TP-OA.
    pub from: &'a Address,
    /// TP-SCTS.
    pub timestamp: Timestamp,
    /// Message class in TP-DCS.
    pub class: Option<MessageClass>,
    /// TP-PID.
    pub protocol_id: u8,
    /// TP-MMS clear (more messages waiting).
    pub more_messages: bool,
    /// TP-SRI.
    pub status_report_indication: bool,
}

/// Encodes one SMS-DELIVER for `seg` into `out`.
pub fn encode_deliver(
    h: &DeliverHeader<'_>,
    seg: &TextSegment<'_>,
    out: &mut [u8],
) -> Result<Encoded, EncodeError> {
    let mut w = Writer::new(out);
    address::write_smsc(&mut w, h.smsc)?;
    let tpdu_start = w.pos();
    let mut first = 0x00; // MTI 00 SMS-DELIVER
    if !h.more_messages {
        first |= 0x04;
    }
    if h.status_report_indication {
        first |= 0x20;
    }
    if seg.has_udh() {
        first |= 0x40;
    }
    w.u8(first)?;
    address::write_tp(&mut w, h.from)?;
    w.u8(h.protocol_id)?;
    w.u8(Dcs::for_encoding(seg.encoding, h.class).raw)?;
    timestamp::write(&mut w, &h.timestamp)?;
    user_data::write(&mut w, seg)?;
    Ok(Encoded {
        pdu_len: w.pos(),
        tpdu_len: w.pos() - tpdu_start,
    })
}

pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    smsc: Option<PhoneNumber>,
) -> Result<Deliver<'a>, DecodeError> {
    let first = r.u8()?;
    let from = address::read_tp(r)?;
    let protocol_id = r.u8()?;
    let dcs = Dcs::from_octet(r.u8()?);
    let timestamp = timestamp::read(r)?;
    let user_data = user_data::read(r, first & 0x40 != 0, &dcs)?;
    Ok(Deliver {
        smsc,
        from,
        protocol_id,
        dcs,
        timestamp,
        more_messages: first & 0x04 == 0,
        status_report_indication: first & 0x20 != 0,
        reply_path: first & 0x80 != 0,
        user_data,
    })
}
