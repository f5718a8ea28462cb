//! Status reports from the wire against the segments waiting for them: matching never
//! panics, and a report is only ever given to a segment with its TP-MR, its recipient
//! and a time it allows.
//!
//! Input: 8 header bytes, then the PDU (hex of a `+CDS` PDU with its SMSC field, as the
//! modem driver hands it over). Header: byte 0 = TP-MR of the waiting segments (the
//! report's own in half the runs), bytes 1..=3 = a number under `+33` for the second
//! segment (the first is the report's recipient when it is an international number),
//! bytes 4..=7 = seconds from the report's SCTS to the segments' sending (signed) and
//! how old they are at matching time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_agent::agent::time::timestamp_utc;
use relais_agent::modem::{InboundPdu, ReportMatcher, Submission, in_window, same_number};
use relais_core::at::command::sms::MessageReference;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::sms::pdu::{self, Address, SmscField, Tpdu, TypeOfNumber};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<8>() else {
        return;
    };
    let mut hex = String::new();
    for b in body {
        hex.push_str(&format!("{b:02X}"));
    }
    let Some(report) =
        InboundPdu::from_hex(None, body.len().saturating_sub(1) as u16, hex.as_bytes())
    else {
        return;
    };
    let decoded = match pdu::decode(report.tpdu(), SmscField::Absent) {
        Ok(Tpdu::StatusReport(r)) => Some(r),
        _ => None,
    };
    let scts = decoded.as_ref().and_then(|r| timestamp_utc(&r.timestamp));
    let mr = match (&decoded, head[0] & 1) {
        (Some(r), 1) => r.message_reference.0,
        _ => head[0],
    };
    let own = decoded.as_ref().and_then(|r| match &r.recipient {
        Address::Number(n) if n.type_of_number() == TypeOfNumber::International => {
            Msisdn::parse(&format!("+{}", n.digits())).ok()
        }
        _ => None,
    });
    let other = u32::from_le_bytes([head[1], head[2], head[3], 0]);
    let other = Msisdn::parse(&format!("+336{other:08}")).unwrap();
    let shift = i64::from(i16::from_le_bytes([head[4], head[5]])) * 60;
    let age = i64::from(u16::from_le_bytes([head[6], head[7]])) * 60;
    let sent = scts.map(|s| UtcInstant(s.0.saturating_add(shift)));
    let now = sent.map(|s| UtcInstant(s.0.saturating_add(age)));

    let mut waiting: ReportMatcher<u8, 4> = ReportMatcher::new();
    for (tag, to) in [(1, own), (2, Some(other))] {
        if let Some(to) = to {
            let mr = MessageReference(mr);
            waiting.insert(Submission { mr, to, at: sent }, tag);
        }
    }
    let taken = waiting.take(&report, now);
    let Some(tag) = taken else { return };
    // Given to a segment: the PDU was a report with that reference, naming its number,
    // at a time it allows.
    let r = decoded.expect("only a status report is matched");
    assert_eq!(r.message_reference.0, mr);
    let to = if tag == 1 { own.unwrap() } else { other };
    assert!(same_number(to.value(), &r.recipient));
    assert!(in_window(sent, scts, now));
});
