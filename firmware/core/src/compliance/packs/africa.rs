//! Kenya, Nigeria, South Africa (docs/compliance.md § Kenya, § Nigeria, § South Africa).

use super::sources::*;
use super::{Days, Mention, Pack, Rule, RuleKind, SenderAllow, Topic, cats, cls, hours};
use crate::compliance::calendar::calendars;
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

/// Kenya.
pub const KE: Pack = Pack {
    region: Region(*b"KE"),
    name: "Kenya",
    version: "2026.11-1",
    profile: "default",
    calendar: Some(&calendars::KE),
    languages: &[Lang::En, Lang::Sw],
    rules: &[
        Rule::new(
            "ke.marketing.window",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::ALL, 8, 18)],
                holidays: false,
            },
            "promotional 08:00-18:00 EAT, otherwise queued",
            &SAFARICOM,
        ),
        Rule::new(
            "ke.political.window",
            cls::ALL,
            RuleKind::Window {
                windows: &[hours(Days::ALL, 8, 18)],
                holidays: false,
            },
            "political messages 08:00-18:00 only",
            &CLICKATELL_KE,
        )
        .for_categories(cats(&[Category::Political])),
        Rule::new(
            "ke.marketing.senders",
            cls::MKT,
            RuleKind::Senders(&[SenderAllow::Alpha { registered: true }]),
            "promotional only from a registered promotional sender ID",
            &SAFARICOM,
        ),
        Rule::new(
            "ke.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "STOP*456*9*5#",
            }),
            "free opt-out particulars in every message: the Safaricom footer STOP*456*9*5#",
            &KE_DPR,
        ),
        Rule::new(
            "ke.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "opt-in only",
            &KE_CPR,
        ),
        Rule::new(
            "ke.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[Category::Adult, Category::Gambling])),
            "no adult or gambling content",
            &CLICKATELL_KE,
        ),
    ],
};

/// Nigeria.
pub const NG: Pack = Pack {
    region: Region(*b"NG"),
    name: "Nigeria",
    version: "2026.11-1",
    profile: "default",
    calendar: Some(&calendars::NG),
    languages: &[Lang::En],
    rules: &[
        Rule::new(
            "ng.marketing.window",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::ALL, 8, 20)],
                holidays: false,
            },
            "promotional 08:00-20:00 WAT",
            &NCC_AT,
        ),
        Rule::new(
            "ng.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Reply STOP to opt out.",
            }),
            "the right to opt out shown in advertisements",
            &NCC_SC,
        ),
        Rule::new(
            "ng.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "consent (NDPR)",
            &RELAIS,
        ),
        Rule::new(
            "ng.content",
            cls::ALL,
            RuleKind::NoRule(Topic::Content),
            "no content list found",
            &NCC_SC,
        ),
    ],
};

/// South Africa.
pub const ZA: Pack = Pack {
    region: Region(*b"ZA"),
    name: "South Africa",
    version: "2026.11-1",
    profile: "default",
    calendar: Some(&calendars::ZA),
    languages: &[Lang::En],
    rules: &[
        Rule::new(
            "za.marketing.window",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::WEEKDAYS, 8, 20), hours(Days::SAT, 9, 13)],
                holidays: true,
            },
            "direct marketing Mon-Fri 08:00-20:00, Sat 09:00-13:00, never on Sundays or public holidays",
            &ZA_R293,
        ),
        Rule::new(
            "za.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: true },
            "consent, or an existing customer offered similar products",
            &POPIA,
        ),
        Rule::new(
            "za.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Reply STOP to opt out.",
            }),
            "identity and opt-out details in every message",
            &POPIA,
        ),
        Rule::new(
            "za.optout.confirm",
            cls::ALL,
            RuleKind::Confirmation,
            "opt-out confirmed by SMS",
            &WASPA,
        ),
        Rule::new(
            "za.senders",
            cls::ALL,
            RuleKind::NoRule(Topic::Senders),
            "no sender-kind rule found",
            &WASPA,
        ),
    ],
};
