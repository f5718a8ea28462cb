//! A stream of PDUs (length-prefixed in the input) through a small reassembler, with
//! expiry in between: it must never panic, never hold more than its capacity, and only
//! complete a message once every part is there.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::sms::pdu::{self, SmscField, Tpdu};
use relais_core::sms::reassembly::{Outcome, Reassembler};

fuzz_target!(|data: &[u8]| {
    let mut r: Reassembler<3, 4> = Reassembler::new();
    let mut rest = data;
    let mut now = 0u64;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len);
        let (pdu, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        now += 1;
        if len == 0 {
            r.expire(now, 3);
            continue;
        }
        let Ok(Tpdu::Deliver(d)) = pdu::decode(pdu, SmscField::Absent) else {
            continue;
        };
        if let Ok(Outcome::Complete(m)) = r.push(&d.from, &d.user_data, now) {
            let mut n = 0usize;
            m.for_each_char(|_| n += 1);
            let _ = (m.parts(), m.reference(), m.from());
        }
        assert!(r.pending() <= 3);
    }
});
