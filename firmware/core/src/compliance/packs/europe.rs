//! United Kingdom, Germany, Spain, Italy, Belgium (docs/compliance.md § United Kingdom to
//! § Belgium). None of these sets statutory SMS hours: each pack says so explicitly.

use super::sources::*;
use super::{Mention, Pack, Rule, RuleKind, SenderAllow, Topic, cats, cls};
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

/// United Kingdom.
pub const GB: Pack = Pack {
    region: Region(*b"GB"),
    name: "United Kingdom",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::En],
    rules: &[
        Rule::new(
            "gb.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no statutory sending hours",
            &PECR,
        ),
        Rule::new(
            "gb.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: true },
            "consent or the soft opt-in (PECR reg. 22)",
            &PECR,
        ),
        Rule::new(
            "gb.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Reply STOP to opt out.",
            }),
            "a valid address for opt-out in every message (PECR reg. 23)",
            &PECR,
        ),
        Rule::new(
            "gb.senders",
            cls::ALL,
            RuleKind::NoRule(Topic::Senders),
            "alphanumeric senders allowed (MEF registry optional)",
            &PECR,
        ),
    ],
};

/// Germany.
pub const DE: Pack = Pack {
    region: Region(*b"DE"),
    name: "Germany",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::De, Lang::En],
    rules: &[
        Rule::new(
            "de.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no statutory sending hours",
            &TWILIO_DE,
        ),
        Rule::new(
            "de.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "prior express consent (the §7(3) existing-customer exception is contested for SMS)",
            &UWG_7,
        ),
        Rule::new(
            "de.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Abmelden: STOP senden.",
            }),
            "a valid address for stop requests at base-rate cost (UWG §7(2) Nr. 3c)",
            &UWG_7,
        ),
        Rule::new(
            "de.content",
            cls::ALL,
            RuleKind::NoRule(Topic::Content),
            "no statutory content list (provider policies only)",
            &TWILIO_DE,
        ),
    ],
};

/// Spain.
pub const ES: Pack = Pack {
    region: Region(*b"ES"),
    name: "Spain",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::Es, Lang::En],
    rules: &[
        Rule::new(
            "es.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no statutory sending hours found (only weak sources claim 08:00-21:00)",
            &ES_NO_HOURS,
        ),
        Rule::new(
            "es.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: true },
            "consent, or a prior contract and similar own products",
            &LSSI,
        ),
        Rule::new(
            "es.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Baja: responde BAJA.",
            }),
            "a simple, free opt-out in every commercial message",
            &LSSI,
        ),
    ],
};

/// Italy.
pub const IT: Pack = Pack {
    region: Region(*b"IT"),
    name: "Italy",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::It, Lang::En],
    rules: &[
        Rule::new(
            "it.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no time restrictions",
            &TWILIO_IT,
        ),
        Rule::new(
            "it.marketing.senders",
            cls::MKT,
            RuleKind::Senders(&[
                SenderAllow::Alpha { registered: true },
                SenderAllow::ShortCode { lo: 0, hi: 999_999 },
                SenderAllow::LongNumber { registered: true },
            ]),
            "alphanumeric senders only from the AGCOM alias register, numeric senders only from assigned ranges",
            &AGCOM,
        ),
        Rule::new(
            "it.content",
            cls::ALL,
            RuleKind::BannedCategories(cats(&[Category::Gambling, Category::Political])),
            "no gambling or political content",
            &TWILIO_IT,
        ),
        Rule::new(
            "it.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "consent (Privacy Code art. 130)",
            &RELAIS,
        ),
        Rule::new(
            "it.marketing.stop",
            cls::MKT,
            RuleKind::OptOutMention(Mention::Keyword {
                append: "Rispondi STOP per disiscriverti.",
            }),
            "an opt-out in marketing messages",
            &RELAIS,
        ),
    ],
};

/// Belgium.
pub const BE: Pack = Pack {
    region: Region(*b"BE"),
    name: "Belgium",
    version: "2026.11-1",
    profile: "default",
    calendar: None,
    languages: &[Lang::Nl, Lang::Fr, Lang::En],
    rules: &[
        Rule::new(
            "be.hours",
            cls::ALL,
            RuleKind::NoRule(Topic::Hours),
            "no time restrictions",
            &MAILPRO_BE,
        ),
        Rule::new(
            "be.senders",
            cls::ALL,
            RuleKind::Senders(&[
                SenderAllow::ShortCode { lo: 0, hi: 999_999 },
                SenderAllow::LongNumber { registered: false },
            ]),
            "alphanumeric senders are overwritten or blocked",
            &MAILPRO_BE,
        ),
        Rule::new(
            "be.marketing.consent",
            cls::MKT,
            RuleKind::Consent { soft_opt_in: false },
            "consent",
            &RELAIS,
        ),
        Rule::new(
            "be.stop",
            cls::MKT,
            RuleKind::NoRule(Topic::OptOutText),
            "no required opt-out text; STOP (and misspellings) must work",
            &GOF,
        ),
    ],
};
