//! Property tests for the compliance core: a deferral's `until` is itself allowed and
//! no earlier instant is (checked by stepping minute by minute), and evaluation never
//! panics on any input.

use proptest::prelude::*;
use relais_core::compliance::calendar::{Date, calendars, easter};
use relais_core::compliance::decision::*;
use relais_core::compliance::keywords::classify;
use relais_core::compliance::number::{Msisdn, lookup};
use relais_core::compliance::packs::FrProfile;
use relais_core::compliance::tz::{UtcInstant, Zone};

/// Recipients covering every time rule: (number, a sender its pack accepts for marketing, text).
const RECIPIENTS: &[(&str, &str, &str)] = &[
    ("+33612345678", "36123", "Promo STOP au 36123"),
    ("+262692123456", "36123", "Promo STOP au 36123"),
    ("+590690123456", "36123", "Promo STOP au 36123"),
    ("+18505550123", "12345", "Sale. Reply STOP"),
    ("+19075550123", "12345", "Sale. Reply STOP"),
    ("+12145550123", "12345", "Sale. Reply STOP"),
    ("+14015550123", "12345", "Sale. Reply STOP"),
    ("+12055550123", "12345", "Sale. Reply STOP"),
    ("+27821234567", "alpha", "Offer STOP"),
    ("+5568912345678", "28123", "Oferta SAIR"),
    ("+5511912345678", "28123", "Oferta SAIR"),
    ("+254712345678", "alpha", "Offer STOP*456*9*5#"),
    ("+919812345678", "alpha", "Offer"),
    ("+2348031234567", "alpha", "Offer STOP"),
];

fn decide(i: usize, now: UtcInstant, options: &Options) -> Decision<'static> {
    let (to, sender, text) = RECIPIENTS[i];
    let kind = match ShortCode::parse(sender) {
        Some(c) => SenderKind::ShortCode(c),
        None => SenderKind::Alpha("ACME"),
    };
    let sender = SenderIdentity {
        kind,
        registered: true,
        brand: "acme",
        stop_code: None,
    };
    let contact = Contact::new(Msisdn::parse(to).unwrap());
    let msg = Message {
        text,
        class: Class::Marketing,
        categories: CategorySet::EMPTY,
    };
    evaluate(&msg, &sender, &contact, now, options, Stores::PERMISSIVE)
}

fn is_send(d: &Decision<'_>) -> bool {
    matches!(d.outcome, Outcome::Send { .. })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn deferral_is_the_earliest_allowed_instant(
        i in 0..RECIPIENTS.len(),
        // 2020-01-01 .. 2040-12-31 (KE/NG tables only matter with holidays_everywhere).
        secs in 1_577_836_800i64..2_240_524_800i64,
        strict in any::<bool>(),
    ) {
        let options = Options { fr_profile: if strict { FrProfile::Strict } else { FrProfile::Af2m }, ..Options::default() };
        let now = UtcInstant(secs);
        let d = decide(i, now, &options);
        if let Outcome::Defer { until, .. } = d.outcome {
            prop_assert!(until > now);
            prop_assert!(is_send(&decide(i, until, &options)), "until {until} not allowed: {}", decide(i, until, &options));
            let mut t = now;
            while t < until {
                prop_assert!(!is_send(&decide(i, t, &options)), "{t} allowed before until {until}");
                t = t.plus(60);
            }
        } else {
            prop_assert!(is_send(&d), "unexpected {d}");
        }
    }

    #[test]
    fn evaluation_never_panics(
        to in "\\PC{0,20}",
        digits in "\\+[1-9][0-9]{6,14}",
        text in "\\PC{0,300}",
        alpha in "\\PC{0,12}",
        code in 0u32..100_000_000,
        class in 0u8..3,
        cats in any::<u8>(),
        secs in any::<i64>(),
        zone in proptest::option::of(0usize..Zone::ALL.len()),
        dept in proptest::option::of(any::<u8>()),
        flags in any::<u8>(),
    ) {
        let number = Msisdn::parse(&to).or_else(|_| Msisdn::parse(&digits)).unwrap();
        let _ = lookup(&number);
        let _ = classify(&text, Some(&number));
        let _ = classify(&text, None);
        let kind = match flags % 3 {
            0 => SenderKind::Alpha(&alpha),
            1 => SenderKind::ShortCode(ShortCode::parse(&code.to_string()).unwrap_or(ShortCode::parse("36123").unwrap())),
            _ => SenderKind::LongNumber(number),
        };
        let sender = SenderIdentity { kind, registered: flags & 4 != 0, brand: &alpha, stop_code: ShortCode::parse("36100") };
        let mut categories = CategorySet::EMPTY;
        for (n, c) in Category::ALL.iter().enumerate() {
            if cats & (1 << n) != 0 {
                categories = categories.with(*c);
            }
        }
        let class = [Class::Transactional, Class::Marketing, Class::Conversational][class as usize];
        let contact = Contact { number, zone: zone.map(|z| Zone::ALL[z]), fr_department: dept };
        let options = Options {
            holidays_everywhere: flags & 8 != 0,
            alsace_moselle_everywhere: flags & 16 != 0,
            append_opt_out: flags & 32 != 0,
            ..Options::default()
        };
        let msg = Message { text: &text, class, categories };
        let d = evaluate(&msg, &sender, &contact, UtcInstant(secs), &options, Stores::PERMISSIVE);
        let _ = d.to_string();
    }

    #[test]
    fn local_round_trip(secs in 1_577_836_800i64..2_240_524_800i64, z in 0usize..Zone::ALL.len()) {
        let zone = Zone::ALL[z];
        let t = UtcInstant(secs - secs % 60);
        let local = zone.to_local(t);
        let back = zone.from_local(local.date, i64::from(local.seconds));
        // Back to the same instant, or to the earlier of two at a fall-back overlap.
        prop_assert!(back == t || (back < t && zone.to_local(back).seconds == local.seconds));
    }

    #[test]
    fn date_arithmetic_round_trips(days in -3_000_000i64..3_000_000) {
        let d = Date::from_days_since_epoch(days);
        prop_assert_eq!(d.days_since_epoch(), days);
        prop_assert_eq!(Date::new(d.year, d.month, d.day), Some(d));
        prop_assert_eq!(d.add_days(1).days_since_epoch(), days + 1);
    }

    #[test]
    fn easter_is_a_sunday_in_march_or_april(year in 1583i32..5000) {
        let e = easter(year);
        prop_assert_eq!(e.weekday(), relais_core::compliance::calendar::Weekday::Sun);
        prop_assert!((e.month == 3 && e.day >= 22) || (e.month == 4 && e.day <= 25));
        // French calendars never fail: computed calendars do not expire.
        prop_assert!(calendars::FR.holiday(e).is_ok());
    }
}
