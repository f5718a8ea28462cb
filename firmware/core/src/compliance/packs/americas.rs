//! Canada and Brazil (docs/compliance.md § Canada, § Brazil).

use super::sources::*;
use super::{Days, Mention, Pack, Rule, RuleKind, SenderAllow, Topic, cats, cls, hours};
use crate::compliance::calendar::calendars;
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

/// Canada.
pub const CA: Pack = Pack {
    region: Region(*b"CA"),
    name: "Canada",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::En, Lang::Fr],
    rules: &[
        Rule::new(
            "ca.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no statutory SMS hours (whether the CRTC telemarketing hours cover SMS is unclear)",
            &CRTC,
        ),
        Rule::new(
            "ca.senders",
            cls::ALL,
            RuleKind::Senders(&[
                SenderAllow::ShortCode { lo: 0, hi: 999_999 },
                SenderAllow::LongNumber { registered: false },
            ]),
            "no alphanumeric senders reach Canadian numbers",
            &TELNYX_ALPHA,
        ),
        Rule::new(
            "ca.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: true },
            "express or implied consent (CASL)",
            &CASL,
        ),
        Rule::new(
            "ca.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Reply STOP to opt out / ARRET pour vous désabonner.",
            }),
            "an unsubscribe mechanism by the same means in every message",
            &CASL,
        ),
        Rule::new(
            "ca.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[Category::Adult, Category::Cannabis])),
            "no sexual content or cannabis",
            &CWTA,
        ),
        Rule::new(
            "ca.optout.confirm",
            cls::ALL,
            RuleKind::Confirmation,
            "STOP answered in English, ARRET in French",
            &CWTA,
        ),
    ],
};

/// Brazil.
pub const BR: Pack = Pack {
    region: Region(*b"BR"),
    name: "Brazil",
    version: "2026.11-1",
    profile: "default",
    calendar: Some(&calendars::BR),
    languages: &[Lang::Pt, Lang::En],
    rules: &[
        Rule::new(
            "br.marketing.window",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::MON_SAT, 9, 22)],
                holidays: false,
            },
            "marketing Mon-Sat 09:00-22:00 local time, never on Sundays",
            &TWILIO_BR,
        ),
        Rule::new(
            "br.marketing.holidays",
            cls::MKT,
            RuleKind::Window {
                windows: &[hours(Days::ALL, 0, 24)],
                holidays: true,
            },
            "no marketing on national public holidays",
            &CLICKSEND_BR,
        ),
        Rule::new(
            "br.senders",
            cls::ALL,
            RuleKind::Senders(&[
                SenderAllow::ShortCode { lo: 0, hi: 999_999 },
                SenderAllow::LongNumber { registered: false },
                SenderAllow::Alpha { registered: true },
            ]),
            "alphanumeric senders only when pre-registered",
            &TWILIO_BR,
        ),
        Rule::new(
            "br.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[
                Category::Adult,
                Category::Political,
                Category::Gambling,
            ])),
            "no sexual, political or gambling content",
            &CLICKSEND_BR,
        ),
        Rule::new(
            "br.content.cannabis",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[Category::Cannabis])),
            "no controlled substances or cannabis",
            &TWILIO_BR,
        ),
        Rule::new(
            "br.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Para sair, responda SAIR.",
            }),
            "an opt-out instruction (SAIR)",
            &ANATEL,
        ),
        Rule::new(
            "br.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "opt-in (LGPD)",
            &RELAIS,
        ),
    ],
};
