//! Rule packs: per-country rules as static data, each rule with its source.
//!
//! A [`Pack`] is a list of [`Rule`]s. Each rule applies to some message classes (and
//! optionally only to some content categories or one US state), says one thing
//! ([`RuleKind`]), and cites one [`Source`] (docs/compliance.md § Country rules). Where the
//! sources found no rule, the pack carries an explicit [`RuleKind::NoRule`] that cites
//! where that was checked, rather than inventing a value (docs/compliance.md § Decision 6).
//!
//! Packs are versioned ([`Pack::version`]); the host can make them stricter with an
//! override file (see [`super::decision::Options`]); the device gets the compiled packs.

mod africa;
mod americas;
mod europe;
mod fr;
mod india;
pub mod sources;
mod us;

use core::fmt;

use super::calendar::{Calendar, Weekday, calendars};
use super::class::{Category, CategorySet, Class, ClassSet};
use super::lang::Lang;
use super::number::{Region, UsState};

/// How far a source can be trusted (docs/compliance.md § Sources and reliability tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reliability {
    /// `[L]`: statute, regulation, or a regulator's own page.
    Law,
    /// `[I]`: industry or operator body.
    Industry,
    /// `[P]`: an established messaging provider's documentation.
    Provider,
    /// `[S]`: secondary: law firms, press, smaller vendors.
    Secondary,
    /// A relais product decision (docs/compliance.md § Decisions).
    Product,
}

impl Reliability {
    /// The tag as docs/compliance.md writes it (`L`, `I`, `P`, `S`; `D` for a product decision).
    pub const fn tag(self) -> &'static str {
        match self {
            Reliability::Law => "L",
            Reliability::Industry => "I",
            Reliability::Provider => "P",
            Reliability::Secondary => "S",
            Reliability::Product => "D",
        }
    }
}

/// `s`, or `""` when the crate is built without the `texts` feature: rule summaries and
/// source URLs are for people (`relais policy show`), and a device saves their flash.
/// Rule ids and short citations stay in every build.
pub const fn text(s: &'static str) -> &'static str {
    if cfg!(feature = "texts") { s } else { "" }
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Source {
    /// Short label used in explanations: `AF2M charter 2024`.
    pub cite: &'static str,
    /// The URL (or document reference) of the source.
    pub url: &'static str,
    /// Reliability tag.
    pub reliability: Reliability,
}

/// A set of weekdays (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Days(pub u8);

impl Days {
    /// Monday to Friday.
    pub const WEEKDAYS: Days = Days(0b001_1111);
    /// Monday to Saturday.
    pub const MON_SAT: Days = Days(0b011_1111);
    /// Every day.
    pub const ALL: Days = Days(0b111_1111);
    /// Saturday only.
    pub const SAT: Days = Days(0b010_0000);
    /// Sunday only.
    pub const SUN: Days = Days(0b100_0000);

    /// True if `day` is in the set.
    pub const fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.index()) != 0
    }
}

/// Local hours on some weekdays: `[start, end)` in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DayWindow {
    /// The days this window is open.
    pub days: Days,
    /// Opening time, minutes after local midnight.
    pub start: u16,
    /// Closing time (exclusive), minutes after local midnight (1440 = midnight).
    pub end: u16,
}

/// A window from `start_h`:00 to `end_h`:00 on `days`.
pub const fn hours(days: Days, start_h: u16, end_h: u16) -> DayWindow {
    DayWindow {
        days,
        start: start_h * 60,
        end: end_h * 60,
    }
}

/// Which sender identities a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SenderAllow {
    /// A long number (a SIM's MSISDN); `registered` = only when declared registered.
    LongNumber {
        /// Registration (US 10DLC, toll-free verification...) is required.
        registered: bool,
    },
    /// A short code in `lo..=hi`.
    ShortCode {
        /// Lowest code.
        lo: u32,
        /// Highest code.
        hi: u32,
    },
    /// An alphanumeric sender name.
    Alpha {
        /// Registration (India DLT header, AGCOM alias, Safaricom sender ID) is required.
        registered: bool,
    },
}

/// The opt-out mention a marketing text must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mention {
    /// France: `STOP au 36xxx` or `STOP 36xxx`, naming the sender's 36xxx short code (or
    /// the configured STOP code for an alphanumeric sender).
    FrShortCode,
    /// An opt-out instruction in one of the pack's languages (see
    /// [`super::mention`]); `append` is the canonical text.
    Keyword {
        /// The text appended when missing (after one space).
        append: &'static str,
    },
}

/// What the sources say nothing about, stated explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Topic {
    /// Sending hours.
    Hours,
    /// Sender kinds.
    Senders,
    /// Content categories.
    Content,
    /// A required opt-out mention.
    OptOutText,
}

impl Topic {
    /// English name.
    pub const fn name(self) -> &'static str {
        match self {
            Topic::Hours => "sending hours",
            Topic::Senders => "sender kinds",
            Topic::Content => "content categories",
            Topic::OptOutText => "opt-out text",
        }
    }
}

/// What a rule requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RuleKind {
    /// Sending only inside these local windows; `holidays` = never on public holidays.
    Window {
        /// Open windows (a time is open if any window contains it).
        windows: &'static [DayWindow],
        /// Closed on the pack's public holidays.
        holidays: bool,
    },
    /// Only these sender identities may carry the classes.
    Senders(&'static [SenderAllow]),
    /// These content categories are refused.
    BannedCategories(CategorySet),
    /// The text must carry an opt-out mention.
    OptOutMention(Mention),
    /// At most this many segments per message.
    MaxSegments(u16),
    /// At most `max` messages of the classes per recipient in `hours` hours.
    RateCap {
        /// Messages allowed in the period.
        max: u8,
        /// The rolling period in hours.
        hours: u8,
    },
    /// A recorded opt-in for the brand is required; `soft_opt_in` = an existing
    /// customer suffices.
    Consent {
        /// Existing-customer exception allowed.
        soft_opt_in: bool,
    },
    /// An opt-out must be confirmed with one reply (texts in [`super::lang::Lang`]).
    Confirmation,
    /// The sources found no rule on this topic; nothing is enforced.
    NoRule(Topic),
}

/// Where in a country a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scope {
    /// The whole country.
    Country,
    /// One US state (presumed from the area code).
    UsState(UsState),
}

/// One encoded rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rule {
    /// Stable identifier: `fr.marketing.window`.
    pub id: &'static str,
    /// The classes the rule applies to.
    pub classes: ClassSet,
    /// Only for messages tagged with one of these categories (`None` = every message).
    pub only_categories: Option<CategorySet>,
    /// Where it applies.
    pub scope: Scope,
    /// What it requires.
    pub kind: RuleKind,
    /// One line a person understands, used by `relais policy show`.
    pub summary: &'static str,
    /// Where it comes from.
    pub source: &'static Source,
}

impl Rule {
    /// A rule for the whole country and every category.
    pub const fn new(
        id: &'static str,
        classes: ClassSet,
        kind: RuleKind,
        summary: &'static str,
        source: &'static Source,
    ) -> Rule {
        Rule {
            id,
            classes,
            only_categories: None,
            scope: Scope::Country,
            kind,
            summary: text(summary),
            source,
        }
    }

    /// The same rule limited to one US state.
    pub const fn in_state(mut self, state: &[u8; 2]) -> Rule {
        self.scope = Scope::UsState(UsState(*state));
        self
    }

    /// The same rule limited to messages tagged with one of `categories`.
    pub const fn for_categories(mut self, categories: CategorySet) -> Rule {
        self.only_categories = Some(categories);
        self
    }

    /// True when the rule applies to `class` and `categories`.
    pub fn applies(&self, class: Class, categories: CategorySet) -> bool {
        self.classes.contains(class)
            && self
                .only_categories
                .is_none_or(|c| c.intersects(categories))
    }
}

/// A country's rule pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pack {
    /// Main region (`FR`).
    pub region: Region,
    /// Country name in English.
    pub name: &'static str,
    /// Pack version (bumped whenever a rule changes).
    pub version: &'static str,
    /// Profile name (`af2m`, `strict`, or `default`).
    pub profile: &'static str,
    /// National public-holiday calendar, when a rule needs one.
    pub calendar: Option<&'static Calendar>,
    /// Languages whose keywords inbound replies are matched against.
    pub languages: &'static [Lang],
    /// The rules, in the order `show` lists them.
    pub rules: &'static [Rule],
}

/// The French profile to apply (docs/compliance.md § Decision 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(serde::Serialize, serde::Deserialize)]
pub enum FrProfile {
    /// AF2M charter: Mon–Sat 08:00–22:00 (default).
    #[default]
    Af2m,
    /// Stricter: Mon–Sat 08:00–20:00.
    Strict,
}

/// Every pack (FR in both profiles).
pub const ALL: &[&Pack] = &[
    &fr::AF2M,
    &fr::STRICT,
    &us::US,
    &india::IN,
    &americas::CA,
    &europe::GB,
    &europe::DE,
    &europe::ES,
    &europe::IT,
    &europe::BE,
    &americas::BR,
    &africa::KE,
    &africa::NG,
    &africa::ZA,
];

/// The pack for a region and, for French overseas regions, their extra calendar.
pub fn for_region(
    region: Region,
    fr_profile: FrProfile,
) -> Option<(&'static Pack, Option<&'static Calendar>)> {
    let fr = match fr_profile {
        FrProfile::Af2m => &fr::AF2M,
        FrProfile::Strict => &fr::STRICT,
    };
    let overseas = match &region.0 {
        b"FR" => return Some((fr, None)),
        b"GP" => &calendars::FR_GP,
        b"MQ" => &calendars::FR_MQ,
        b"GF" => &calendars::FR_GF,
        b"RE" => &calendars::FR_RE,
        b"YT" => &calendars::FR_YT,
        b"NC" => &calendars::FR_NC,
        b"PM" => &calendars::FR_PM,
        b"PF" => &calendars::FR_PF,
        // +590 is shared by GP, BL and MF; the number does not say which: GP's extras
        // (the largest set) are applied.
        b"BL" | b"MF" => &calendars::FR_GP,
        _ => {
            return ALL
                .iter()
                .copied()
                .find(|p| p.region == region && p.profile != "strict")
                .map(|p| (p, None));
        }
    };
    Some((fr, Some(overseas)))
}

/// The pack for a country code as typed by a person (`fr`, `US`), default profile.
pub fn by_country(code: &str) -> Option<&'static Pack> {
    let region = Region::parse(code)?;
    for_region(region, FrProfile::Af2m).map(|(p, _)| p)
}

/// Shorthand for the class sets rules use.
pub(crate) mod cls {
    use super::super::class::{Class, ClassSet};
    pub const MKT: ClassSet = ClassSet::only(Class::Marketing);
    pub const TXN: ClassSet = ClassSet::only(Class::Transactional);
    pub const ALL: ClassSet = ClassSet::ALL;
    pub const NON_MKT: ClassSet = ClassSet::only(Class::Transactional).with(Class::Conversational);
}

/// Shorthand for category sets.
pub(crate) const fn cats(list: &[Category]) -> CategorySet {
    let mut s = CategorySet::EMPTY;
    let mut i = 0;
    while i < list.len() {
        s = s.with(list[i]);
        i += 1;
    }
    s
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({} [{}])",
            self.id,
            self.summary,
            self.source.cite,
            self.source.reliability.tag()
        )
    }
}
