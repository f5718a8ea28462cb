//! Number parsing, keyword matching and `evaluate` on arbitrary input never panic.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use relais_core::compliance::decision::*;
use relais_core::compliance::keywords::{classify, Lang};
use relais_core::compliance::mention::{ends_with_stop_code, instructs_opt_out};
use relais_core::compliance::number::{lookup, Msisdn};
use relais_core::compliance::tz::{UtcInstant, Zone};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    to: &'a str,
    text: &'a str,
    sender: &'a str,
    sender_kind: u8,
    class: u8,
    categories: u8,
    now: i64,
    zone: Option<u8>,
    department: Option<u8>,
    flags: u8,
}

fuzz_target!(|input: Input<'_>| {
    let parsed = Msisdn::parse(input.to);
    let _ = classify(input.text, parsed.as_ref().ok());
    let _ = instructs_opt_out(input.text, Lang::ALL);
    let _ = ends_with_stop_code(input.text);
    let number = match parsed {
        Ok(n) => n,
        Err(_) => Msisdn::parse("+33612345678").unwrap(),
    };
    let _ = lookup(&number);
    let _ = UtcInstant::parse_rfc3339(input.sender);
    let kind = match input.sender_kind % 3 {
        0 => SenderKind::Alpha(input.sender),
        1 => match ShortCode::parse(input.sender) {
            Some(c) => SenderKind::ShortCode(c),
            None => SenderKind::Alpha(input.sender),
        },
        _ => SenderKind::LongNumber(Msisdn::parse(input.sender).unwrap_or(number)),
    };
    let sender = SenderIdentity { kind, registered: input.flags & 1 != 0, brand: input.sender, stop_code: ShortCode::parse("36111") };
    let mut categories = CategorySet::EMPTY;
    for (i, c) in Category::ALL.iter().enumerate() {
        if input.categories & (1 << i) != 0 {
            categories = categories.with(*c);
        }
    }
    let class = [Class::Transactional, Class::Marketing, Class::Conversational][usize::from(input.class % 3)];
    let zone = input.zone.and_then(|z| Zone::ALL.get(usize::from(z)).copied());
    let contact = Contact { number, zone, fr_department: input.department };
    let options = Options {
        holidays_everywhere: input.flags & 2 != 0,
        alsace_moselle_everywhere: input.flags & 4 != 0,
        append_opt_out: input.flags & 8 != 0,
        ..Options::default()
    };
    let message = Message { text: input.text, class, categories };
    let d = evaluate(&message, &sender, &contact, UtcInstant(input.now), &options, Stores::PERMISSIVE);
    let mut out = String::new();
    let _ = std::fmt::write(&mut out, format_args!("{d}"));
});
