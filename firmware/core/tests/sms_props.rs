//! Property tests for the SMS codec: round trips, preview = encoder, segment limits,
//! reassembly in any order, and decoders that never panic.

use proptest::prelude::*;
use relais_core::sms::pdu::{
    self, Address, DeliverHeader, EncodingChoice, PhoneNumber, SmscField, SubmitHeader, TextPlan,
    Timestamp, Tpdu,
};
use relais_core::sms::reassembly::{Outcome, Reassembler};
use relais_core::sms::{ConcatWidth, Encoding, NationalLanguage, gsm7, preview, preview_national};

/// Characters that exercise every path: GSM default, extension (2 septets), non-GSM BMP,
/// outside the BMP (surrogate pairs), controls.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec!['a', 'Z', '0', ' ', '@', '£', 'é', 'Δ', 'ß', '\n', '\r', '¿', 'à']),
        2 => prop::sample::select(vec!['€', '[', ']', '{', '}', '\\', '^', '~', '|', '\u{0C}']),
        1 => prop::sample::select(vec!['ç', 'б', 'ş', '中', '`', '\t', '\u{1B}', '\u{0}']),
        1 => prop::sample::select(vec!['😀', '👍', '\u{10FFFF}', '𝄞']),
        1 => any::<char>(),
    ]
}

/// Letters of Turkish, Spanish and Portuguese plus GSM characters.
fn national_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec!['a', 'e', ' ', 'k', 'S', '.', '€', '{', '@', 'é', 'ñ']),
        2 => prop::sample::select(vec!['ş', 'Ş', 'ğ', 'Ğ', 'ı', 'İ', 'ç', 'Ç', 'ö', 'ü']),
        1 => prop::sample::select(vec!['á', 'í', 'ó', 'ú', 'Á', 'Í', 'Ó', 'Ú']),
        1 => prop::sample::select(vec!['ã', 'õ', 'ê', 'ô', 'â', 'Ã', 'Õ', 'À', 'ª', 'º', '∞']),
        1 => prop::sample::select(vec!['😀', 'б', '`', '¡', '¿']),
    ]
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(interesting_char(), 0..700).prop_map(|v| v.into_iter().collect()),
        // Mostly GSM with at most a few others, so that long GSM 7-bit texts are common.
        prop::collection::vec(
            prop_oneof![20 => prop::sample::select(vec!['a', 'b', ' ', '€', '{']), 1 => interesting_char()],
            0..1200
        )
        .prop_map(|v| v.into_iter().collect()),
        any::<String>(),
    ]
}

fn choice_strategy() -> impl Strategy<Value = EncodingChoice> {
    prop_oneof![Just(EncodingChoice::Auto), Just(EncodingChoice::Ucs2)]
}

fn ts() -> Timestamp {
    Timestamp {
        year: 2024,
        month: 2,
        day: 29,
        hour: 23,
        minute: 59,
        second: 58,
        offset_quarters: -20,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// encode → decode gives the text back; preview counts what the encoder produces;
    /// no segment exceeds its limit; every segment carries the right concat header.
    #[test]
    fn submit_round_trip(text in text_strategy(), choice in choice_strategy(),
                         wide in any::<bool>(), reference in any::<u8>()) {
        let width = if wide { ConcatWidth::Ref16 } else { ConcatWidth::Ref8 };
        let reference = if wide { u16::from(reference) * 257 } else { u16::from(reference) };
        let plan = TextPlan::new(&text, choice, width, reference).unwrap();
        if choice == EncodingChoice::Auto && width == ConcatWidth::Ref8 {
            let p = preview(&text);
            prop_assert_eq!(p.encoding, plan.encoding());
            prop_assert_eq!(p.segments, plan.segment_count());
        }
        let to = Address::Number(PhoneNumber::parse("+4915112345678").unwrap());
        let header = SubmitHeader::new(&to);
        let total = plan.segment_count().get();
        let mut joined = String::new();
        let mut n = 0u16;
        for seg in plan.segments() {
            n += 1;
            let mut out = [0u8; pdu::MAX_PDU_LEN];
            let e = pdu::encode_submit(&header, &seg, &mut out).unwrap();
            prop_assert_eq!(e.pdu_len, e.tpdu_len + 1);
            let Tpdu::Submit(s) = pdu::decode(&out[..e.pdu_len], SmscField::Present).unwrap() else {
                panic!("not a SUBMIT")
            };
            let ud = s.user_data;
            let (limit, header_units) = match (ud.encoding, seg.concat, width) {
                (Encoding::Gsm7, None, _) => (160, 0),
                (Encoding::Gsm7, Some(_), ConcatWidth::Ref8) => (153, 7),
                (Encoding::Gsm7, Some(_), ConcatWidth::Ref16) => (152, 8),
                (Encoding::Ucs2, None, _) => (140, 0),
                (Encoding::Ucs2, Some(_), ConcatWidth::Ref8) => (134, 6),
                (Encoding::Ucs2, Some(_), ConcatWidth::Ref16) => (132, 7),
                (Encoding::EightBit, _, _) => unreachable!(),
            };
            prop_assert!(ud.units() <= limit, "segment of {} units over {}", ud.units(), limit);
            let ud_limit = if ud.encoding == Encoding::Gsm7 { 160 } else { 140 };
            prop_assert!(ud.units() + header_units <= ud_limit);
            prop_assert_eq!(ud.udh.concat, seg.concat);
            if total > 1 {
                let c = ud.udh.concat.unwrap();
                prop_assert_eq!((c.part, u16::from(c.total), c.reference), (n as u8, total, reference));
            }
            let mut part = String::new();
            ud.write_text(&mut part).unwrap();
            // Each segment holds whole characters: its own text decodes exactly.
            prop_assert_eq!(&part, seg.text);
            joined.push_str(&part);
        }
        prop_assert_eq!(n, total);
        prop_assert_eq!(joined, text);
    }

    /// DELIVER parts pushed in any order, with duplicates, reassemble to the text.
    #[test]
    fn reassembly_any_order(text in text_strategy(), seed in any::<u64>(), dup in any::<bool>()) {
        let plan = TextPlan::new(&text, EncodingChoice::Auto, ConcatWidth::Ref8, 42).unwrap();
        prop_assume!(plan.segment_count().get() > 1 && plan.segment_count().get() <= 16);
        let from = Address::alphanumeric("Sender").unwrap();
        let header = DeliverHeader {
            smsc: None, from: &from, timestamp: ts(), class: None, protocol_id: 0,
            more_messages: false, status_report_indication: false,
        };
        let mut pdus: Vec<Vec<u8>> = plan.segments().map(|seg| {
            let mut out = [0u8; pdu::MAX_PDU_LEN];
            let e = pdu::encode_deliver(&header, &seg, &mut out).unwrap();
            out[..e.pdu_len].to_vec()
        }).collect();
        if dup {
            pdus.insert(0, pdus[pdus.len() - 1].clone());
        }
        // Deterministic shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..pdus.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            pdus.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut r: Reassembler<2, 16> = Reassembler::new();
        let mut done = None;
        for (t, bytes) in pdus.iter().enumerate() {
            let Tpdu::Deliver(d) = pdu::decode(bytes, SmscField::Present).unwrap() else { panic!() };
            prop_assert_eq!(d.timestamp, ts());
            match r.push(&d.from, &d.user_data, t as u64).unwrap() {
                Outcome::Complete(m) => {
                    prop_assert!(done.is_none());
                    let mut s = String::new();
                    m.write_text(&mut s).unwrap();
                    done = Some(s);
                }
                Outcome::Pending { .. } | Outcome::Duplicate => {}
            }
        }
        // A duplicate pushed after completion starts a new (pending) message.
        prop_assert_eq!(done, Some(text));
    }

    /// With national language tables allowed: round trip, preview_national == encoder,
    /// and never more segments than without them.
    #[test]
    fn national_round_trip(text in prop::collection::vec(national_char(), 0..500)
                               .prop_map(|v| v.into_iter().collect::<String>()),
                           langs in prop::sample::subsequence(NationalLanguage::ALL.to_vec(), 0..=3)) {
        let plan = TextPlan::with_national(&text, EncodingChoice::Auto, ConcatWidth::Ref8, 9, &langs).unwrap();
        let p = preview_national(&text, &langs);
        prop_assert_eq!((p.encoding, p.segments, p.shift), (plan.encoding(), plan.segment_count(), plan.shift()));
        prop_assert!(p.segments <= preview(&text).segments);
        let to = Address::Number(PhoneNumber::parse("+905321234567").unwrap());
        let header = SubmitHeader::new(&to);
        let mut joined = String::new();
        for seg in plan.segments() {
            let mut out = [0u8; pdu::MAX_PDU_LEN];
            let e = pdu::encode_submit(&header, &seg, &mut out).unwrap();
            let Tpdu::Submit(s) = pdu::decode(&out[..e.pdu_len], SmscField::Present).unwrap() else {
                panic!("not a SUBMIT")
            };
            prop_assert_eq!(s.user_data.shift(), plan.shift());
            if s.user_data.encoding == Encoding::Gsm7 {
                prop_assert!(s.user_data.units() <= usize::from(p.capacity));
            }
            s.user_data.write_text(&mut joined).unwrap();
        }
        prop_assert_eq!(joined, text);
    }

    /// The one-pass measure agrees with counting character by character.
    #[test]
    fn measure_matches_naive(text in text_strategy()) {
        let m = gsm7::measure(&text);
        prop_assert_eq!(m.utf16 as usize, text.encode_utf16().count());
        let naive: Option<u32> = text
            .chars()
            .map(|c| gsm7::encode_char(c).map(|s| u32::from(s.count())))
            .sum();
        prop_assert_eq!(m.septets, naive);
    }

    /// Any bytes: decoding returns, never panics.
    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = pdu::decode(&bytes, SmscField::Present);
        let _ = pdu::decode(&bytes, SmscField::Absent);
    }

    /// Valid PDUs with one octet changed or cut short: decoding returns, and whatever
    /// decodes can have its text read.
    #[test]
    fn mutated_pdus_never_panic(text in text_strategy(), at in any::<usize>(), value in any::<u8>(), cut in any::<usize>()) {
        let plan = TextPlan::new(&text, EncodingChoice::Auto, ConcatWidth::Ref8, 1).unwrap();
        let seg = plan.segments().next().unwrap();
        let from = Address::Number(PhoneNumber::parse("12345").unwrap());
        let header = DeliverHeader {
            smsc: None, from: &from, timestamp: ts(), class: None, protocol_id: 0,
            more_messages: true, status_report_indication: true,
        };
        let mut out = [0u8; pdu::MAX_PDU_LEN];
        let e = pdu::encode_deliver(&header, &seg, &mut out).unwrap();
        let mut bytes = out[..e.pdu_len].to_vec();
        let i = at % bytes.len();
        bytes[i] = value;
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(Tpdu::Deliver(d)) = pdu::decode(&bytes, SmscField::Present) {
            let _ = d.user_data.text();
        }
    }
}
