//! Criterion benchmarks for `relais_core::sms`.
//!
//! Goal (issue 3): well under a microsecond per single-segment encode or decode on one
//! host core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use relais_core::sms::pdu::{
    self, Address, EncodingChoice, PhoneNumber, SmscField, SubmitHeader, TextPlan, Tpdu,
};
use relais_core::sms::{ConcatWidth, preview};

const SINGLE_GSM7: &str = "Your appointment is confirmed for Tue 14:30 at the clinic. Reply STOP to opt out, HELP for help. €2 fee applies.";

fn encode_all(header: &SubmitHeader<'_>, text: &str, out: &mut [u8; pdu::MAX_PDU_LEN]) -> usize {
    let plan = TextPlan::new(text, EncodingChoice::Auto, ConcatWidth::Ref8, 7).unwrap();
    let mut octets = 0;
    for seg in plan.segments() {
        octets += pdu::encode_submit(header, &seg, out).unwrap().pdu_len;
    }
    octets
}

fn benches(c: &mut Criterion) {
    let to = Address::Number(PhoneNumber::parse("+15551234567").unwrap());
    let smsc = PhoneNumber::parse("+15550000000").unwrap();
    let mut header = SubmitHeader::new(&to);
    header.smsc = Some(&smsc);
    let mut out = [0u8; pdu::MAX_PDU_LEN];

    c.bench_function("preview single-segment gsm7", |b| {
        b.iter(|| preview(black_box(SINGLE_GSM7)))
    });

    c.bench_function("encode submit single-segment gsm7", |b| {
        b.iter(|| encode_all(&header, black_box(SINGLE_GSM7), &mut out))
    });

    let single_ucs2 = "Привет! Ваша запись подтверждена на вторник 14:30 🙂";
    c.bench_function("encode submit single-segment ucs2", |b| {
        b.iter(|| encode_all(&header, black_box(single_ucs2), &mut out))
    });

    // A DELIVER to decode: docs/modems.md § Oracle calls and vectors (Developer's Home
    // tutorial vector, 49 septets).
    let deliver = pdu::hex::decode_vec::<200>(
        "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
    )
    .unwrap();
    c.bench_function("decode deliver single-segment gsm7 (+ text)", |b| {
        b.iter(|| {
            let Ok(Tpdu::Deliver(d)) = pdu::decode(black_box(&deliver), SmscField::Present) else {
                unreachable!()
            };
            d.user_data.text()
        })
    });

    // A full 160-septet DELIVER (our own encoder's output).
    let full = "x".repeat(150) + "[€]{}";
    let from = Address::alphanumeric("Clinic").unwrap();
    let dh = pdu::DeliverHeader {
        smsc: Some(&smsc),
        from: &from,
        timestamp: pdu::Timestamp {
            year: 2026,
            month: 11,
            day: 22,
            hour: 6,
            minute: 0,
            second: 0,
            offset_quarters: 4,
        },
        class: None,
        protocol_id: 0,
        more_messages: false,
        status_report_indication: false,
    };
    let plan = TextPlan::new(&full, EncodingChoice::Auto, ConcatWidth::Ref8, 0).unwrap();
    let seg = plan.segments().next().unwrap();
    let mut buf = [0u8; pdu::MAX_PDU_LEN];
    let n = pdu::encode_deliver(&dh, &seg, &mut buf).unwrap().pdu_len;
    let deliver160 = buf[..n].to_vec();
    c.bench_function("decode deliver 160 septets (+ text)", |b| {
        b.iter(|| {
            let Ok(Tpdu::Deliver(d)) = pdu::decode(black_box(&deliver160), SmscField::Present)
            else {
                unreachable!()
            };
            d.user_data.text()
        })
    });

    // 10 segments of UCS-2: 10 × 67 units.
    let ten = "Ж".repeat(670);
    assert_eq!(preview(&ten).segments.get(), 10);
    let mut group = c.benchmark_group("encode submit 10-segment ucs2");
    group.throughput(Throughput::Elements(10));
    group.bench_function("all segments", |b| {
        b.iter(|| encode_all(&header, black_box(&ten), &mut out))
    });
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
