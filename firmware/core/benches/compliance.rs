//! Criterion benchmarks for `relais_core::compliance`.
//!
//! - `evaluate/mix`: decisions per second over a realistic mix of countries, classes
//!   and outcomes (send, defer, refuse), one decision per iteration on average;
//! - `evaluate/worst_defer`: the longest Defer searches we know (Christmas run with the
//!   Alsace-Moselle extras, Easter across DST, Alaska's three zones on a weekend);
//! - `keywords/classify`: inbound classification.
//!
//! Goal: at least 1,000,000 decisions per second per host core for the mix.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use relais_core::compliance::decision::*;
use relais_core::compliance::keywords::{Kind, classify};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;

struct Case {
    to: Contact,
    sender: SenderIdentity<'static>,
    message: Message<'static>,
    now: UtcInstant,
}

fn case(
    to: &str,
    dept: Option<u8>,
    sender: &str,
    class: Class,
    text: &'static str,
    at: &str,
) -> Case {
    let kind = if let Some(c) = sender.strip_prefix("sc:") {
        SenderKind::ShortCode(ShortCode::parse(c).unwrap())
    } else if let Some(n) = sender.strip_prefix("ln:") {
        SenderKind::LongNumber(Msisdn::parse(n).unwrap())
    } else {
        SenderKind::Alpha("ACME")
    };
    Case {
        to: Contact {
            number: Msisdn::parse(to).unwrap(),
            zone: None,
            fr_department: dept,
        },
        sender: SenderIdentity {
            kind,
            registered: true,
            brand: "acme",
            stop_code: ShortCode::parse("36111"),
        },
        message: Message {
            text,
            class,
            categories: CategorySet::EMPTY,
        },
        now: UtcInstant::parse_rfc3339(at).unwrap(),
    }
}

fn mix() -> Vec<Case> {
    use Class::*;
    vec![
        case(
            "+33612345678",
            None,
            "sc:36123",
            Marketing,
            "Soldes -20% STOP au 36123",
            "2026-11-23T10:00:00Z",
        ),
        case(
            "+33612345678",
            None,
            "sc:36123",
            Marketing,
            "Soldes -20%",
            "2026-11-23T10:00:00Z",
        ),
        case(
            "+33612345678",
            None,
            "sc:36123",
            Marketing,
            "Soldes",
            "2026-11-21T21:30:00Z",
        ),
        case(
            "+33612345678",
            None,
            "sc:38123",
            Transactional,
            "Votre code est 123456",
            "2026-12-25T02:00:00Z",
        ),
        case(
            "+33612345678",
            None,
            "ln:+33698765432",
            Marketing,
            "Promo",
            "2026-11-23T10:00:00Z",
        ),
        case(
            "+12125550123",
            None,
            "sc:12345",
            Marketing,
            "Sale. Reply STOP to opt out",
            "2026-11-23T15:00:00Z",
        ),
        case(
            "+18505550123",
            None,
            "sc:12345",
            Marketing,
            "Sale. Reply STOP to opt out",
            "2026-11-24T01:30:00Z",
        ),
        case(
            "+12145550123",
            None,
            "sc:12345",
            Transactional,
            "Your code is 1234",
            "2026-11-22T17:00:00Z",
        ),
        case(
            "+919812345678",
            None,
            "alpha",
            Marketing,
            "Offer",
            "2026-11-23T06:00:00Z",
        ),
        case(
            "+447700900123",
            None,
            "alpha",
            Marketing,
            "Sale",
            "2026-11-23T12:00:00Z",
        ),
        case(
            "+491701234567",
            None,
            "alpha",
            Conversational,
            "Danke!",
            "2026-11-23T12:00:00Z",
        ),
        case(
            "+5511912345678",
            None,
            "sc:28123",
            Marketing,
            "Oferta SAIR",
            "2026-11-22T15:00:00Z",
        ),
        case(
            "+254712345678",
            None,
            "alpha",
            Marketing,
            "Offer STOP*456*9*5#",
            "2026-11-23T08:00:00Z",
        ),
        case(
            "+2348031234567",
            None,
            "alpha",
            Transactional,
            "Your OTP is 4321",
            "2026-11-23T23:00:00Z",
        ),
        case(
            "+27821234567",
            None,
            "alpha",
            Marketing,
            "Offer STOP",
            "2026-11-23T08:00:00Z",
        ),
        case(
            "+81312345678",
            None,
            "alpha",
            Marketing,
            "Sale",
            "2026-11-23T08:00:00Z",
        ),
    ]
}

fn worst() -> Vec<Case> {
    use Class::*;
    vec![
        // Thursday 24 Dec 22:30 in Moselle: 25 and 26 December, then Sunday.
        case(
            "+33612345678",
            Some(57),
            "sc:36123",
            Marketing,
            "Noel STOP au 36123",
            "2026-12-24T21:30:00Z",
        ),
        // Saturday night before Easter 2027: Sunday, DST change, Easter Monday.
        case(
            "+33612345678",
            None,
            "sc:36123",
            Marketing,
            "Paques STOP au 36123",
            "2027-03-27T21:30:00Z",
        ),
        // Rhode Island Saturday evening (3 windows, holidays).
        case(
            "+14015550123",
            None,
            "sc:12345",
            Marketing,
            "Sale STOP",
            "2026-11-21T22:30:00Z",
        ),
        // Alaska 907: three zones.
        case(
            "+19075550123",
            None,
            "sc:12345",
            Marketing,
            "Sale STOP",
            "2026-11-22T07:30:00Z",
        ),
    ]
}

fn run(c: &Case, options: &Options) -> bool {
    let d = evaluate(
        &c.message,
        &c.sender,
        &c.to,
        c.now,
        options,
        Stores::PERMISSIVE,
    );
    matches!(d.outcome, Outcome::Send { .. })
}

fn benches(c: &mut Criterion) {
    let options = Options::default();
    let mix = mix();
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            mix.iter()
                .filter(|case| run(black_box(case), &options))
                .count()
        })
    });
    let worst = worst();
    g.throughput(Throughput::Elements(worst.len() as u64));
    g.bench_function("worst_defer", |b| {
        b.iter(|| {
            worst
                .iter()
                .filter(|case| run(black_box(case), &options))
                .count()
        })
    });
    g.finish();

    let from = Msisdn::parse("+33612345678").unwrap();
    let replies = [
        "STOP",
        "Stop svp",
        "merci, à demain",
        "ARRÊT",
        "please stop texting me",
        "HELP",
    ];
    let mut g = c.benchmark_group("keywords");
    g.throughput(Throughput::Elements(replies.len() as u64));
    g.bench_function("classify", |b| {
        b.iter(|| {
            replies
                .iter()
                .filter(|t| classify(black_box(t), Some(&from)).kind == Kind::OptOut)
                .count()
        })
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
