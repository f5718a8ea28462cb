//! SMS-SUBMIT (TS 23.040 §9.2.2.2): encode for sending, decode for the simulator.

use super::address::{self, Address, PhoneNumber};
use super::dcs::{Dcs, MessageClass};
use super::timestamp::{self, Timestamp};
use super::user_data::{self, TextSegment, UserData};
use super::{DecodeError, EncodeError, Encoded, MessageReference, Reader, Writer};

/// Relative validity period, one octet (TS 23.040 §9.2.3.12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RelativeValidity(pub u8);

impl RelativeValidity {
    /// The shortest period of at least `minutes` that the octet can express (5 minutes
    /// to 63 weeks; longer requests give 63 weeks).
    pub fn from_minutes(minutes: u32) -> Self {
        const DAY: u32 = 24 * 60;
        let vp = if minutes <= 720 {
            minutes.div_ceil(5).saturating_sub(1)
        } else if minutes <= DAY {
            143 + (minutes - 720).div_ceil(30)
        } else if minutes <= 30 * DAY {
            166 + minutes.div_ceil(DAY)
        } else {
            (192 + minutes.div_ceil(7 * DAY)).max(197)
        };
        RelativeValidity(vp.min(255) as u8)
    }

    /// The period in minutes.
    pub fn minutes(self) -> u32 {
        let vp = u32::from(self.0);
        match vp {
            0..=143 => (vp + 1) * 5,
            144..=167 => 720 + (vp - 143) * 30,
            168..=196 => (vp - 166) * 24 * 60,
            _ => (vp - 192) * 7 * 24 * 60,
        }
    }
}

/// TP-VP as read from an SMS-SUBMIT (TP-VPF, TS 23.040 §9.2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Validity {
    /// No validity period (the SC default applies).
    None,
    /// Relative period.
    Relative(RelativeValidity),
    /// Absolute expiry time.
    Absolute(Timestamp),
    /// Enhanced format (TS 23.040 §9.2.3.12.3), kept raw.
    Enhanced([u8; 7]),
}

/// What an SMS-SUBMIT carries besides its text.
#[derive(Debug, Clone, Copy)]
pub struct SubmitHeader<'a> {
    /// SMSC to use; `None` writes `00` (the modem's `+CSCA`).
    pub smsc: Option<&'a PhoneNumber>,
    /// Destination (TP-DA).
    pub to: &'a Address,
    /// TP-MR; 0 lets most modems assign it.
    pub message_reference: MessageReference,
    /// TP-SRR: ask for a status report.
    pub status_report: bool,
    /// TP-RD: ask the SC to reject a duplicate (same MR and DA).
    pub reject_duplicates: bool,
    /// TP-VP relative, or none.
    pub validity: Option<RelativeValidity>,
    /// Message class in TP-DCS (class 0 = flash).
    pub class: Option<MessageClass>,
    /// TP-PID (0 for a normal message).
    pub protocol_id: u8,
}

impl<'a> SubmitHeader<'a> {
    /// A header for `to` with every option at its default (no SMSC, MR 0, no report,
    /// no validity period, no class, PID 0).
    pub fn new(to: &'a Address) -> Self {
        Self {
            smsc: None,
            to,
            message_reference: MessageReference(0),
            status_report: false,
            reject_duplicates: false,
            validity: None,
            class: None,
            protocol_id: 0,
        }
    }
}

/// A decoded SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Submit<'a> {
    /// SMSC field, when the PDU had one and it was not empty.
    pub smsc: Option<PhoneNumber>,
    /// TP-MR.
    pub message_reference: MessageReference,
    /// TP-DA.
    pub to: Address,
    /// TP-PID.
    pub protocol_id: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-VP.
    pub validity: Validity,
    /// TP-SRR.
    pub status_report: bool,
    /// TP-RD.
    pub reject_duplicates: bool,
    /// TP-RP.
    pub reply_path: bool,
    /// TP-UD.
    pub user_data: UserData<'a>,
}

/// Encodes one SMS-SUBMIT for `seg` into `out` (at least [`super::MAX_PDU_LEN`] octets
/// guarantees room).
pub fn encode_submit(
    h: &SubmitHeader<'_>,
    seg: &TextSegment<'_>,
    out: &mut [u8],
) -> Result<Encoded, EncodeError> {
    let mut w = Writer::new(out);
    address::write_smsc(&mut w, h.smsc)?;
    let tpdu_start = w.pos();
    let mut first = 0x01; // MTI 01 SMS-SUBMIT
    if h.reject_duplicates {
        first |= 0x04;
    }
    if h.validity.is_some() {
        first |= 0x10; // VPF 10 relative
    }
    if h.status_report {
        first |= 0x20;
    }
    if seg.has_udh() {
        first |= 0x40;
    }
    w.u8(first)?;
    w.u8(h.message_reference.0)?;
    address::write_tp(&mut w, h.to)?;
    w.u8(h.protocol_id)?;
    w.u8(Dcs::for_encoding(seg.encoding, h.class).raw)?;
    if let Some(vp) = h.validity {
        w.u8(vp.0)?;
    }
    user_data::write(&mut w, seg)?;
    Ok(Encoded {
        pdu_len: w.pos(),
        tpdu_len: w.pos() - tpdu_start,
    })
}

pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    smsc: Option<PhoneNumber>,
) -> Result<Submit<'a>, DecodeError> {
    let first = r.u8()?;
    let message_reference = MessageReference(r.u8()?);
    let to = address::read_tp(r)?;
    let protocol_id = r.u8()?;
    let dcs = Dcs::from_octet(r.u8()?);
    let validity = match (first >> 3) & 0x03 {
        0b00 => Validity::None,
        0b10 => Validity::Relative(RelativeValidity(r.u8()?)),
        0b11 => Validity::Absolute(timestamp::read(r)?),
        _ => {
            let raw = r.take(7)?;
            let mut e = [0u8; 7];
            e.copy_from_slice(raw);
            Validity::Enhanced(e)
        }
    };
    let user_data = user_data::read(r, first & 0x40 != 0, &dcs)?;
    Ok(Submit {
        smsc,
        message_reference,
        to,
        protocol_id,
        dcs,
        validity,
        status_report: first & 0x20 != 0,
        reject_duplicates: first & 0x04 != 0,
        reply_path: first & 0x80 != 0,
        user_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks from python-gsmmodem and TS 23.040 §9.2.3.12.1 (docs/modems.md
    /// § First octet, reference, status and times).
    #[test]
    fn relative_validity() {
        for (minutes, vp) in [
            (30, 5),
            (16 * 60, 151),
            (3 * 24 * 60, 169),
            (5 * 7 * 24 * 60, 197),
            (24 * 60, 167),
            (4 * 24 * 60, 0xAA),
            (7 * 24 * 60, 0xAD),
            (52 * 7 * 24 * 60, 0xF4),
            (63 * 7 * 24 * 60, 0xFF),
            (0, 0),
        ] {
            assert_eq!(
                RelativeValidity::from_minutes(minutes).0,
                vp,
                "{minutes} min"
            );
        }
        for vp in 0..=255u8 {
            let v = RelativeValidity(vp);
            assert_eq!(RelativeValidity::from_minutes(v.minutes()), v);
        }
        assert_eq!(RelativeValidity::from_minutes(u32::MAX).0, 255);
    }
}
