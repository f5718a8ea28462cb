//! France: profiles `af2m` (default) and `strict` (docs/compliance.md § Decision 3, § France).

use super::sources::{
    self, ARCEP_2022_1583, BIRD_FR, CM_FR, CNIL_L34_5, FR_STRICT, OPENMARKET_FR, TWILIO_FR,
};
use super::{Days, Mention, Pack, Rule, RuleKind, SenderAllow, Topic, cats, cls, hours};
use crate::compliance::calendar::calendars;
use crate::compliance::class::Category;
use crate::compliance::lang::Lang;
use crate::compliance::number::Region;

const COMMON: [Rule; 8] = [
    Rule::new(
        "fr.transactional.hours",
        cls::NON_MKT,
        RuleKind::NoRule(Topic::Hours),
        "transactional and user-initiated conversational messages may go at any hour",
        &sources::AF2M,
    ),
    Rule::new(
        "fr.marketing.senders",
        cls::MKT,
        RuleKind::Senders(&[
            SenderAllow::ShortCode {
                lo: 36000,
                hi: 36999,
            },
            SenderAllow::Alpha { registered: false },
        ]),
        "marketing only from 36xxx short codes or alphanumeric senders; 06/07 numbers are person-to-person only",
        &ARCEP_2022_1583,
    ),
    Rule::new(
        "fr.transactional.senders",
        cls::TXN,
        RuleKind::Senders(&[
            SenderAllow::ShortCode {
                lo: 38000,
                hi: 38999,
            },
            SenderAllow::Alpha { registered: false },
            SenderAllow::LongNumber { registered: false },
        ]),
        "transactional only from 38xxx codes, alphanumeric senders or long numbers, never 36xxx",
        &CM_FR,
    ),
    Rule::new(
        "fr.marketing.stop",
        cls::MKT,
        RuleKind::OptOutMention(Mention::FrShortCode),
        "marketing text must end with 'STOP au 36xxx' naming the short code",
        &OPENMARKET_FR,
    ),
    Rule::new(
        "fr.marketing.consent",
        cls::MKT,
        RuleKind::Consent { soft_opt_in: true },
        "prior opt-in; an existing customer offered similar products suffices",
        &CNIL_L34_5,
    ),
    Rule::new(
        "fr.content",
        cls::ALL,
        RuleKind::BannedCategories(cats(&[
            Category::Adult,
            Category::Cannabis,
            Category::Gambling,
        ])),
        "no adult content, drugs/cannabis or (unregistered) gambling",
        &BIRD_FR,
    ),
    Rule::new(
        "fr.segments",
        cls::ALL,
        RuleKind::MaxSegments(10),
        "at most 10 segments per message",
        &TWILIO_FR,
    ),
    Rule::new(
        "fr.optout.confirm",
        cls::ALL,
        RuleKind::Confirmation,
        "a STOP reply is acknowledged as 'prise en compte'",
        &TWILIO_FR,
    ),
];

const fn with_window(window: Rule) -> [Rule; 9] {
    [
        window, COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], COMMON[6],
        COMMON[7],
    ]
}

const AF2M_RULES: [Rule; 9] = with_window(Rule::new(
    "fr.marketing.window",
    cls::MKT,
    RuleKind::Window {
        windows: &[hours(Days::MON_SAT, 8, 22)],
        holidays: true,
    },
    "marketing Mon-Sat 08:00-22:00 Europe/Paris (or the overseas zone), never on Sundays or public holidays",
    &sources::AF2M,
));

const STRICT_RULES: [Rule; 9] = with_window(Rule::new(
    "fr.marketing.window",
    cls::MKT,
    RuleKind::Window {
        windows: &[hours(Days::MON_SAT, 8, 20)],
        holidays: true,
    },
    "marketing Mon-Sat 08:00-20:00, never on Sundays or public holidays",
    &FR_STRICT,
));

const fn pack(profile: &'static str, rules: &'static [Rule]) -> Pack {
    Pack {
        region: Region(*b"FR"),
        name: "France",
        version: "2026.11-1",
        profile,
        calendar: Some(&calendars::FR),
        languages: &[Lang::Fr, Lang::En],
        rules,
    }
}

/// France, AF2M charter profile: Mon–Sat 08:00–22:00, never on Sundays or holidays.
pub const AF2M: Pack = pack("af2m", &AF2M_RULES);

/// France, strict profile: Mon–Sat 08:00–20:00.
pub const STRICT: Pack = pack("strict", &STRICT_RULES);
