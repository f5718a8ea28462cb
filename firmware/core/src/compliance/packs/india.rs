//! India (docs/compliance.md § India, § Decision 6).

use super::sources::*;
use super::{Days, Pack, Rule, RuleKind, SenderAllow, Topic, cats, cls, hours};
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

/// India.
pub const IN: Pack = Pack {
    region: Region(*b"IN"),
    name: "India",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::En],
    rules: &[
        Rule::new(
            "in.marketing.window",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::ALL, 9, 21)],
                holidays: false,
            },
            "promotional 09:00-21:00 IST every day (a floor: operators also apply subscriber preferences)",
            &TCCCPR,
        ),
        Rule::new(
            "in.marketing.senders",
            cls::MKT,
            RuleKind::Senders(&[
                SenderAllow::Alpha { registered: true },
                SenderAllow::ShortCode {
                    lo: 100_000,
                    hi: 999_999,
                },
            ]),
            "promotional only from registered DLT headers; no 10-digit numbers for commercial traffic",
            &TCCCPR_2025,
        ),
        Rule::new(
            "in.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "explicit consent registered on DLT",
            &DLT_HEADERS,
        ),
        Rule::new(
            "in.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[
                Category::Firearms,
                Category::Gambling,
                Category::Adult,
                Category::Political,
                Category::Cannabis,
                Category::Alcohol,
            ])),
            "no firearms, gambling, adult, political, cannabis or alcohol content",
            &TWILIO_IN,
        ),
        Rule::new(
            "in.stop",
            cls::MKT,
            RuleKind::NoRule(Topic::OptOutText),
            "no opt-out text: opt-outs go through the network's 1909 / DND registry",
            &TCCCPR,
        ),
    ],
};
