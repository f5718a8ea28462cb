//! Any bytes (as a binary PDU with or without the SMSC field, and as hex text) through
//! the SMS PDU decoders: they must return, never panic, and whatever decodes must be
//! readable to the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::sms::pdu::{self, SmscField, Tpdu, UserData};

fn read_all(ud: &UserData<'_>) {
    let _ = ud.text();
    let _ = ud.octets();
    let _ = ud.septets().count();
    let mut n = 0usize;
    ud.for_each_char(|_| n += 1);
}

fn check(tpdu: &Tpdu<'_>) {
    match tpdu {
        Tpdu::Deliver(d) => {
            read_all(&d.user_data);
            let _ = d.timestamp.to_string();
            let _ = d.from.to_string();
        }
        Tpdu::Submit(s) => read_all(&s.user_data),
        Tpdu::StatusReport(r) => {
            let _ = r.status.description();
            let _ = r.discharge_time.to_string();
            if let Some(ud) = &r.user_data {
                read_all(ud);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for smsc in [SmscField::Present, SmscField::Absent] {
        if let Ok(t) = pdu::decode(data, smsc) {
            check(&t);
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(bytes) = pdu::hex::decode_vec::<256>(text) {
            if let Ok(t) = pdu::decode(&bytes, SmscField::Present) {
                check(&t);
            }
        }
    }
});
