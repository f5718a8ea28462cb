//! The agent's inbound side on a stream of arbitrary PDUs: it never panics, never
//! returns more than it promises, and what it reports matches what it did — an opt-out
//! event means the store holds that opt-out, a reply goes only to the keyword's sender.
//!
//! Input: records `[flags, len, len bytes of PDU]`. Flags: bit 0 = prepend an empty
//! SMSC field (`00`), bit 1 = note that brand `flags >> 5` sent to the PDU's sender
//! first, bit 2 = confirmations off, bits 3..=7 = half hours the clock advances (so
//! the one-hour reassembly expiry and the 24-hour reply window are both reached).
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_agent::inbound::{Disposition, Inbound, MAX_EVENTS};
use relais_agent::modem::InboundPdu;
use relais_agent::store::{MemStore, Store};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{BrandId, Event, KeywordKind, MAX_TEXT, Scope, Settings};
use relais_core::sms::pdu::{self, Address, SmscField, Tpdu};

const BRANDS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

fn sender(tpdu: &[u8]) -> Option<Msisdn> {
    let Ok(Tpdu::Deliver(d)) = pdu::decode(tpdu, SmscField::Absent) else {
        return None;
    };
    match d.from {
        Address::Number(n) => Msisdn::parse(&format!("+{}", n.digits())).ok(),
        Address::Alphanumeric(_) => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut agent: Inbound<2, 4, 4> = Inbound::new();
    let mut store: MemStore<64, 1, 1> = MemStore::new();
    agent.set_default_brand(data.first().filter(|b| *b & 1 == 1).map(|_| "default"));
    let mut now_ms = 0u64;
    let mut rest = data;
    while let [flags, len, tail @ ..] = rest {
        let (bytes, tail) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = tail;
        now_ms += u64::from(flags >> 3) * 30 * 60_000;
        let mut hex = String::new();
        if flags & 1 == 1 {
            hex.push_str("00");
        }
        for b in bytes {
            hex.push_str(&format!("{b:02X}"));
        }
        let Some(pdu) = InboundPdu::from_hex(None, bytes.len() as u16, hex.as_bytes()) else {
            continue;
        };
        if flags & 2 == 2
            && let Some(to) = sender(pdu.tpdu())
        {
            agent.note_sent(&to, BRANDS[usize::from(flags >> 5)]);
        }
        let settings = Settings {
            confirm_keywords: flags & 4 == 0,
            ..Settings::default()
        };
        let Ok(out) = agent.on_pdu(&pdu, now_ms, &mut store, &settings) else {
            continue; // store full: a value, not a panic
        };
        assert!(out.events.len() <= MAX_EVENTS);
        match out.disposition {
            Disposition::Message | Disposition::Fragment | Disposition::Incomplete => {
                assert!(matches!(out.events.first(), Some(Event::Inbound { .. })))
            }
            _ => assert!(out.events.is_empty() && out.reply.is_none()),
        }
        if let Some(Event::Inbound { text, .. }) = out.events.first() {
            assert!(text.len() <= MAX_TEXT);
        }
        match out.events.get(1) {
            Some(Event::Keyword {
                from,
                kind,
                scope,
                confirmed,
                ..
            }) => {
                assert_eq!(*confirmed, out.reply.is_some());
                if let Some(reply) = &out.reply {
                    assert_eq!(reply.to, *from);
                    assert!(settings.confirm_keywords);
                }
                let probe = match scope {
                    Some(Scope::Brand(b)) => *b,
                    _ => BrandId(0),
                };
                let held = store.opted_out(from, probe).unwrap();
                match kind {
                    KeywordKind::OptOut => assert!(held.is_some()),
                    KeywordKind::OptIn => assert_ne!(held, *scope),
                    KeywordKind::Help | KeywordKind::PossibleOptOut => assert!(scope.is_none()),
                }
            }
            Some(other) => panic!("second event is not a keyword: {other:?}"),
            None => assert!(out.reply.is_none()),
        }
    }
    let _ = agent.counters();
});
