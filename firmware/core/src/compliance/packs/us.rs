//! United States: federal rules plus state overlays presumed from the area code
//! (docs/compliance.md § Decision 5, § United States, § US state overlays).

use super::sources::*;
use super::{DayWindow, Days, Mention, Pack, Rule, RuleKind, SenderAllow, cats, cls, hours};
use crate::compliance::calendar::calendars;
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

const fn window(
    id: &'static str,
    windows: &'static [DayWindow],
    holidays: bool,
    summary: &'static str,
    source: &'static super::Source,
) -> Rule {
    Rule::new(
        id,
        cls::MKT,
        RuleKind::Window { windows, holidays },
        summary,
        source,
    )
}

const W_08_20: &[DayWindow] = &[hours(Days::ALL, 8, 20)];
const W_08_20_NO_SUN: &[DayWindow] = &[hours(Days::MON_SAT, 8, 20)];
const CAP: RuleKind = RuleKind::RateCap { max: 3, hours: 24 };

/// United States.
pub const US: Pack = Pack {
    region: Region(*b"US"),
    name: "United States",
    version: "2026.11-1",
    profile: "default",
    calendar: Some(&calendars::US),
    languages: &[Lang::En, Lang::Es],
    rules: &[
        window("us.marketing.window", &[hours(Days::ALL, 8, 21)], false, "marketing 08:00-21:00 recipient local time, consented or not", &CFR_64_1200),
        Rule::new(
            "us.senders",
            cls::ALL,
            RuleKind::Senders(&[SenderAllow::ShortCode { lo: 0, hi: 999_999 }, SenderAllow::LongNumber { registered: false }]),
            "no alphanumeric senders reach US numbers",
            &TELNYX_ALPHA,
        ),
        Rule::new(
            "us.marketing.senders",
            cls::MKT,
            RuleKind::Senders(&[SenderAllow::ShortCode { lo: 0, hi: 999_999 }, SenderAllow::LongNumber { registered: true }]),
            "marketing only from short codes or registered (10DLC / verified toll-free) numbers",
            &US_10DLC,
        ),
        Rule::new("us.marketing.consent", cls::MKT, RuleKind::Consent { soft_opt_in: false }, "prior express written consent", &TCPA_CONSENT),
        Rule::new(
            "us.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword { append: "Reply STOP to opt out." }),
            "marketing carries opt-out instructions",
            &CTIA,
        ),
        Rule::new(
            "us.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[Category::Cannabis, Category::Adult])),
            "no cannabis or sexual content (alcohol, firearms: age-gated, not checked here)",
            &US_SHAFT,
        ),
        Rule::new("us.optout.confirm", cls::ALL, RuleKind::Confirmation, "one confirmation text, no marketing, within 5 minutes", &FCC_12_143),
        window("us.fl.window", W_08_20, false, "Florida: 08:00-20:00", &FL_501).in_state(b"FL"),
        Rule::new("us.fl.cap", cls::MKT, CAP, "Florida: at most 3 per 24 hours", &FL_CAP).in_state(b"FL"),
        window("us.ok.window", W_08_20, false, "Oklahoma: 08:00-20:00", &OK_TSA).in_state(b"OK"),
        Rule::new("us.ok.cap", cls::MKT, CAP, "Oklahoma: at most 3 per 24 hours", &OK_TSA).in_state(b"OK"),
        window("us.wa.window", W_08_20, false, "Washington: 08:00-20:00", &WA_RCW).in_state(b"WA"),
        window("us.tx.window", &[hours(Days::MON_SAT, 9, 21), hours(Days::SUN, 12, 21)], false, "Texas: Mon-Sat 09:00-21:00, Sun 12:00-21:00", &TX_SB140).in_state(b"TX"),
        window("us.md.window", W_08_20, false, "Maryland: 08:00-20:00", &STATE_TABLES).in_state(b"MD"),
        window("us.nj.window", W_08_20, false, "New Jersey: 08:00-20:00", &STATE_TABLES).in_state(b"NJ"),
        window("us.ma.window", W_08_20, false, "Massachusetts: 08:00-20:00", &STATE_TABLES).in_state(b"MA"),
        window("us.ct.window", &[hours(Days::ALL, 9, 20)], false, "Connecticut: 09:00-20:00", &STATE_TABLES).in_state(b"CT"),
        window("us.ms.window", W_08_20_NO_SUN, false, "Mississippi: 08:00-20:00, not on Sundays", &STATE_TABLES).in_state(b"MS"),
        window("us.al.window", W_08_20_NO_SUN, true, "Alabama: 08:00-20:00, not on Sundays or federal holidays", &DNC_HOLIDAYS).in_state(b"AL"),
        window("us.la.window", W_08_20_NO_SUN, true, "Louisiana: 08:00-20:00, not on Sundays or federal holidays", &DNC_HOLIDAYS).in_state(b"LA"),
        window(
            "us.ri.window",
            &[hours(Days::WEEKDAYS, 9, 18), hours(Days::SAT, 10, 17)],
            true,
            "Rhode Island: weekdays 09:00-18:00, Sat 10:00-17:00, not on Sundays or federal holidays",
            &STATE_TABLES,
        )
        .in_state(b"RI"),
        window("us.ky.window", &[hours(Days::ALL, 10, 21)], false, "Kentucky: 10:00-21:00", &STATE_TABLES).in_state(b"KY"),
        window("us.mi.window", &[hours(Days::ALL, 9, 21)], false, "Michigan: 09:00-21:00", &STATE_TABLES).in_state(b"MI"),
        window("us.mn.window", &[hours(Days::ALL, 9, 21)], false, "Minnesota: 09:00-21:00", &STATE_TABLES).in_state(b"MN"),
        window("us.nm.window", &[hours(Days::ALL, 9, 21)], false, "New Mexico: 09:00-21:00", &STATE_TABLES).in_state(b"NM"),
        window("us.nv.window", &[hours(Days::ALL, 9, 20)], false, "Nevada: 09:00-20:00", &STATE_TABLES).in_state(b"NV"),
    ],
};
