//! The lunar and gazetted holiday tables at the edge of their coverage, through the
//! whole decision: with `holidays_everywhere`, marketing is judged against the Kenyan
//! and Nigerian tables while they cover the day, and refused as "calendar data missing"
//! past their last covered day (docs/compliance.md § Decision 7, § Lunar and gazetted
//! tables).

use relais_core::compliance::decision::*;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;

const NG: &str = "+2348031234567";
const KE: &str = "+254712345678";

fn marketing(to: &str, at: &str) -> Decision<'static> {
    let text = if to == KE {
        "Offer STOP*456*9*5#"
    } else {
        "Offer. Reply STOP to opt out."
    };
    let sender = SenderIdentity {
        kind: SenderKind::Alpha("ACME"),
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
    let options = Options {
        holidays_everywhere: true,
        ..Options::default()
    };
    let now = UtcInstant::parse_rfc3339(at).unwrap();
    evaluate(&msg, &sender, &contact, now, &options, Stores::PERMISSIVE)
}

fn refused_missing(d: &Decision<'_>) -> Option<i32> {
    match d.outcome {
        Outcome::Refuse(Reason::CalendarMissing(year)) => Some(year),
        _ => None,
    }
}

#[test]
fn nigerian_marketing_in_2026_is_judged_again() {
    // Tuesday 10 February 2026, 10:00 WAT: an ordinary day the table now covers (it
    // ended with 2025 before, and this was refused as calendar data missing).
    let d = marketing(NG, "2026-02-10T09:00:00Z");
    assert!(matches!(d.outcome, Outcome::Send { .. }), "{d}");
    // Thursday 19 March 2026 was declared Eid al-Fitr, Friday 20 its second day: a
    // text on the 19th waits for the 20th to pass, and the 21st is past the table.
    let d = marketing(NG, "2026-03-19T09:00:00Z");
    assert_eq!(refused_missing(&d), Some(2026), "{d}");
    assert!(
        d.to_string().contains("calendar data missing for 2026"),
        "{d}"
    );
}

#[test]
fn nigerian_marketing_past_the_table_fails_closed() {
    // After the last declaration published (Eid al-Fitr 2026) and in later years.
    assert_eq!(
        refused_missing(&marketing(NG, "2026-06-02T09:00:00Z")),
        Some(2026)
    );
    assert_eq!(
        refused_missing(&marketing(NG, "2027-02-09T09:00:00Z")),
        Some(2027)
    );
}

#[test]
fn kenyan_eid_al_adha_2026_defers_marketing() {
    // Wednesday 27 May 2026, 09:00 EAT: Idd-ul-Azha (Kenya Gazette 2026-05-25 no. 90).
    // Deferred to Thursday 08:00 EAT.
    let d = marketing(KE, "2026-05-27T06:00:00Z");
    match d.outcome {
        Outcome::Defer { until, .. } => {
            assert_eq!(
                until,
                UtcInstant::parse_rfc3339("2026-05-28T05:00:00Z").unwrap()
            )
        }
        _ => panic!("expected a deferral, got {d}"),
    }
    // A day the table covers with no holiday: sent.
    let d = marketing(KE, "2026-12-07T09:00:00Z");
    assert!(matches!(d.outcome, Outcome::Send { .. }), "{d}");
    // Idd-ul-Fitr 2027 is not gazetted: 2027 fails closed.
    assert_eq!(
        refused_missing(&marketing(KE, "2027-01-05T09:00:00Z")),
        Some(2027)
    );
}
