//! The decision: send, defer or refuse one outgoing message, with the rule and source.
//!
//! [`evaluate`] applies, in order: the number (country, zones), the class (a
//! transactional text carrying an opt-out instruction, as [`super::mention`] reads it,
//! is marketing), suppression (opt-outs per
//! brand, STOPALL), banned content categories, sender kinds, consent, the opt-out
//! mention (appended when missing and allowed), the segment limit, and finally time:
//! every applicable window in every candidate zone, public holidays and rate caps. A
//! closed window gives [`Outcome::Defer`] with the earliest instant at which every
//! time rule is open, found by a fixed-point search over the rules' next openings.

use core::fmt;

use super::calendar::{Calendar, CalendarError, Weekday, calendars};
use super::lang::Lang;
use super::mention;
use super::number::{Msisdn, Region, lookup};
use super::packs::{
    self, DayWindow, FrProfile, Mention, Pack, Rule, RuleKind, SenderAllow, Source, Topic, sources,
};
use super::tz::{LocalTime, UtcInstant, Zone, ZoneSet};
use crate::sms::SegmentCount;

pub use super::class::{Category, CategorySet, Class, ClassSet};
pub use super::sender::{SenderIdentity, SenderKind, ShortCode};

/// The recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Contact {
    /// The number.
    pub number: Msisdn,
    /// A verified zone, overriding the zones guessed from the number.
    pub zone: Option<Zone>,
    /// French department when known (57, 67, 68 add the Alsace-Moselle holidays).
    pub fr_department: Option<u8>,
}

impl Contact {
    /// A contact known only by number.
    pub const fn new(number: Msisdn) -> Contact {
        Contact {
            number,
            zone: None,
            fr_department: None,
        }
    }
}

/// The message to decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a> {
    /// The text as written.
    pub text: &'a str,
    /// The declared class.
    pub class: Class,
    /// Content categories.
    pub categories: CategorySet,
}

/// Who an opt-out covers (docs/compliance.md § Decision 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OptOutScope {
    /// The brand (all of its sender identities).
    Brand,
    /// Every brand on the agent (STOPALL).
    All,
}

/// The opt-out list, as the caller keeps it (flash on the device, SQLite on the host).
pub trait Suppression {
    /// The opt-out that covers `number` for `brand`, if any.
    fn opted_out(&self, number: &Msisdn, brand: &str) -> Option<OptOutScope>;
}

/// Recorded consent (docs/compliance.md § Decision 11). On the device this is the job's flag.
pub trait Consent {
    /// The recipient's consent for `brand`.
    fn consent(&self, number: &Msisdn, brand: &str) -> ConsentStatus;
}

/// What the consent store knows about a recipient and brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(serde::Serialize, serde::Deserialize)]
pub enum ConsentStatus {
    /// A recorded opt-in.
    OptedIn,
    /// No opt-in, but an existing customer (soft opt-in where the pack allows it).
    ExistingCustomer,
    /// Nothing recorded.
    None,
}

/// Marketing messages recently sent to a recipient (for per-recipient rate caps).
pub trait SendLog {
    /// How many marketing messages went to `number` at or after `since`, and the
    /// earliest of them.
    fn sent_since(&self, number: &Msisdn, since: UtcInstant) -> Recent;
}

/// The answer of a [`SendLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Recent {
    /// Messages sent in the period.
    pub count: u32,
    /// The earliest of them.
    pub oldest: Option<UtcInstant>,
}

/// No opt-outs, consent for everyone, no history: for tools and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Permissive;

impl Suppression for Permissive {
    fn opted_out(&self, _: &Msisdn, _: &str) -> Option<OptOutScope> {
        None
    }
}

impl Consent for Permissive {
    fn consent(&self, _: &Msisdn, _: &str) -> ConsentStatus {
        ConsentStatus::OptedIn
    }
}

impl SendLog for Permissive {
    fn sent_since(&self, _: &Msisdn, _: UtcInstant) -> Recent {
        Recent::default()
    }
}

/// A deployment's stricter choices (the host loads them from its override file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// French profile (`af2m` by default).
    pub fr_profile: FrProfile,
    /// Apply the Alsace-Moselle holidays to every French number.
    pub alsace_moselle_everywhere: bool,
    /// Append a missing opt-out mention (else refuse).
    pub append_opt_out: bool,
    /// Block marketing on public holidays in every pack that has a calendar, failing
    /// closed where a holiday table runs out.
    pub holidays_everywhere: bool,
    /// A marketing window for countries whose pack has no hours rule.
    pub house_window: heapless::Vec<DayWindow, 4>,
    /// Categories refused everywhere.
    pub banned_categories: CategorySet,
    /// How far ahead a deferral may be (days); beyond it the message is refused.
    pub horizon_days: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fr_profile: FrProfile::Af2m,
            alsace_moselle_everywhere: false,
            append_opt_out: true,
            holidays_everywhere: false,
            house_window: heapless::Vec::new(),
            banned_categories: CategorySet::EMPTY,
            horizon_days: 400,
        }
    }
}

/// The rule behind a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RuleRef {
    /// Rule id (`fr.marketing.window`).
    pub id: &'static str,
    /// Its source.
    pub source: &'static Source,
}

impl From<&'static Rule> for RuleRef {
    fn from(r: &'static Rule) -> Self {
        RuleRef {
            id: r.id,
            source: r.source,
        }
    }
}

const fn core_rule(id: &'static str) -> RuleRef {
    RuleRef {
        id,
        source: &sources::RELAIS,
    }
}
const RULE_NUMBER: RuleRef = core_rule("core.number");
const RULE_NO_PACK: RuleRef = core_rule("core.no-pack");
const RULE_OPT_OUT: RuleRef = core_rule("core.opt-out");
const RULE_ZONE: RuleRef = core_rule("core.zone-unknown");
const RULE_TEXT: RuleRef = core_rule("core.text-length");
const RULE_OVERRIDE: RuleRef = core_rule("override");
const RULE_SEND: RuleRef = core_rule("core.send");
const RULE_RECLASS: RuleRef = RuleRef {
    id: "core.class.stop-means-marketing",
    source: &sources::BREVO,
};

/// The text to send: the text as written, plus the opt-out mention when appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rendered<'a> {
    /// The text as written.
    pub body: &'a str,
    /// The mention appended (`STOP au 36123`), if any.
    pub appended: Option<Appended>,
}

/// An appended opt-out mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Appended {
    /// `STOP au <code>`.
    FrStop(ShortCode),
    /// A pack's canonical text.
    Text(&'static str),
}

impl Rendered<'_> {
    /// Hands the text to send to `piece`, in order: the body, then the mention.
    /// `Display` and [`Rendered::push_to`] are both written on this.
    fn pieces<E>(&self, mut piece: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        piece(self.body)?;
        match self.appended {
            None => Ok(()),
            Some(Appended::FrStop(code)) => {
                let mut digits: heapless::String<10> = heapless::String::new();
                // A short code has at most 8 digits: always fits.
                let _ = crate::compliance::number::push_decimal(&mut digits, u64::from(code.get()));
                piece(" STOP au ")?;
                piece(&digits)
            }
            Some(Appended::Text(t)) => {
                piece(" ")?;
                piece(t)
            }
        }
    }

    /// Appends the text to send to `out`, the same characters as its `Display`, without
    /// `core::fmt` (kept out of device flash); `Err` when it does not fit.
    pub fn push_to<const N: usize>(
        &self,
        out: &mut heapless::String<N>,
    ) -> Result<(), heapless::CapacityError> {
        self.pieces(|p| out.push_str(p))
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces(|p| f.write_str(p))
    }
}

/// Why a time rule is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Blocked {
    /// No window on this weekday.
    Day(Weekday),
    /// Outside the day's window.
    Hours(DayWindow),
    /// A public holiday.
    Holiday(&'static str),
    /// The per-recipient cap is reached.
    RateCap {
        /// Messages allowed.
        max: u8,
        /// In this many hours.
        hours: u8,
    },
}

/// Why a message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// The recipient number matches no calling code.
    UnknownNumber,
    /// No rule pack for the country: marketing fails closed.
    NoPack(Region),
    /// The recipient opted out.
    OptedOut(OptOutScope),
    /// A content category the pack refuses.
    Category(Category),
    /// The sender kind may not carry this class.
    Sender(&'static str, Class),
    /// No recorded opt-in.
    NoConsent,
    /// The opt-out mention is missing and appending is off.
    MissingOptOut,
    /// An alphanumeric sender in France needs a 36xxx STOP code to name.
    NoStopCode,
    /// More segments than the pack allows.
    TooManySegments {
        /// Segments of the rendered text.
        count: u16,
        /// The pack's limit.
        max: u16,
    },
    /// The text with its mention does not fit the rendering buffer, or cannot be sent.
    TextTooLong,
    /// A holiday table does not cover the year: fail closed (docs/compliance.md § Decision 7).
    CalendarMissing(i32),
    /// The recipient's time zone is unknown and a time rule applies.
    ZoneUnknown,
    /// No instant within the horizon satisfies every time rule.
    NoOpenSlot(u16),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnknownNumber => f.write_str("recipient number has no known calling code"),
            Reason::NoPack(r) => write!(f, "no rule pack for {r}"),
            Reason::OptedOut(OptOutScope::Brand) => {
                f.write_str("recipient opted out of this brand")
            }
            Reason::OptedOut(OptOutScope::All) => {
                f.write_str("recipient opted out of every brand (STOPALL)")
            }
            Reason::Category(c) => write!(f, "{} content not allowed", c.name()),
            Reason::Sender(kind, class) => {
                write!(f, "{kind} may not carry {} messages", class.name())
            }
            Reason::NoConsent => f.write_str("no recorded opt-in for this brand"),
            Reason::MissingOptOut => f.write_str("opt-out mention missing and appending is off"),
            Reason::NoStopCode => {
                f.write_str("alphanumeric sender needs a 36xxx STOP code to name")
            }
            Reason::TooManySegments { count, max } => {
                write!(f, "{count} segments, at most {max} allowed")
            }
            Reason::TextTooLong => f.write_str("text too long to send"),
            Reason::CalendarMissing(y) => write!(f, "calendar data missing for {y}"),
            Reason::ZoneUnknown => f.write_str("recipient time zone unknown"),
            Reason::NoOpenSlot(d) => write!(f, "no allowed instant within {d} days"),
        }
    }
}

/// What to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome<'a> {
    /// Send now.
    Send {
        /// The text to send.
        text: Rendered<'a>,
        /// Its segment count.
        segments: SegmentCount,
    },
    /// Send at `until`, the earliest instant every time rule allows.
    Defer {
        /// When.
        until: UtcInstant,
        /// What blocks it now.
        blocked: Blocked,
        /// The zone the blocking rule was evaluated in.
        zone: Zone,
        /// `until` in that zone.
        local: LocalTime,
    },
    /// Never send this message as it is.
    Refuse(Reason),
}

/// A decision and what made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decision<'a> {
    /// Send, defer or refuse.
    pub outcome: Outcome<'a>,
    /// The deciding rule.
    pub rule: RuleRef,
    /// The recipient's region, when known.
    pub region: Option<Region>,
    /// The class applied (after reclassification).
    pub class: Class,
    /// True when a transactional text was treated as marketing for its opt-out
    /// instruction (see [`super::mention`]).
    pub reclassified: bool,
}

impl Decision<'_> {
    /// `send`, `defer` or `refuse`.
    pub const fn name(&self) -> &'static str {
        match self.outcome {
            Outcome::Send { .. } => "send",
            Outcome::Defer { .. } => "defer",
            Outcome::Refuse(_) => "refuse",
        }
    }
}

impl fmt::Display for Decision<'_> {
    /// One line a person understands: `FR marketing blocked on Sundays (AF2M charter
    /// 2024); deferred to Mon 2026-11-23 08:00 Europe/Paris`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.region {
            Some(r) => write!(f, "{} {}", r, self.class.name())?,
            None => write!(f, "{}", self.class.name())?,
        }
        let cite = self.rule.source.cite;
        match &self.outcome {
            Outcome::Send { text, segments } => {
                write!(f, " allowed now ({cite})")?;
                if text.appended.is_some() {
                    f.write_str("; opt-out mention appended")?;
                }
                write!(
                    f,
                    "; {segments} segment{}",
                    if segments.get() == 1 { "" } else { "s" }
                )?;
            }
            Outcome::Defer {
                blocked,
                zone,
                local,
                ..
            } => {
                f.write_str(" blocked ")?;
                match blocked {
                    Blocked::Day(d) => write!(f, "on {}", d.plural())?,
                    Blocked::Hours(w) => write!(
                        f,
                        "outside {:02}:{:02}-{:02}:{:02}",
                        w.start / 60,
                        w.start % 60,
                        w.end / 60,
                        w.end % 60
                    )?,
                    Blocked::Holiday(name) => write!(f, "on public holidays ({name})")?,
                    Blocked::RateCap { max, hours } => {
                        write!(f, "after {max} messages in {hours} hours")?
                    }
                }
                write!(f, " ({cite}); deferred to {local} {zone}")?;
            }
            Outcome::Refuse(reason) => write!(f, " refused: {reason} ({cite})")?,
        }
        if self.reclassified {
            f.write_str("; treated as marketing because it carries an opt-out instruction")?;
        }
        Ok(())
    }
}

/// The stores an evaluation consults.
#[derive(Clone, Copy)]
pub struct Stores<'s> {
    /// Opt-outs.
    pub suppression: &'s dyn Suppression,
    /// Consent.
    pub consent: &'s dyn Consent,
    /// Recent sends, for rate caps.
    pub log: &'s dyn SendLog,
}

impl fmt::Debug for Stores<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stores")
    }
}

impl Stores<'static> {
    /// No opt-outs, consent for everyone, no history.
    pub const PERMISSIVE: Stores<'static> = Stores {
        suppression: &Permissive,
        consent: &Permissive,
        log: &Permissive,
    };
}

/// Largest rendered text (body + mention) in bytes; longer texts with a mention to
/// append are refused as [`Reason::TextTooLong`].
pub const MAX_RENDERED: usize = 2048;
const MAX_CONSTRAINTS: usize = 24;

/// Decides what to do with `message` from `sender` to `contact` at `now`.
///
/// ```
/// use relais_core::compliance::decision::*;
/// use relais_core::compliance::number::Msisdn;
/// use relais_core::compliance::tz::UtcInstant;
/// let to = Contact::new(Msisdn::parse("+33612345678").unwrap());
/// let sender = SenderIdentity { kind: SenderKind::ShortCode(ShortCode::parse("36123").unwrap()), registered: false, brand: "acme", stop_code: None };
/// let msg = Message { text: "Soldes -20%", class: Class::Marketing, categories: CategorySet::EMPTY };
/// let now = UtcInstant::parse_rfc3339("2026-11-21T22:30:00Z").unwrap(); // Saturday 23:30 Paris
/// let d = evaluate(&msg, &sender, &to, now, &Options::default(), Stores::PERMISSIVE);
/// assert_eq!(d.to_string(), "FR marketing blocked outside 08:00-22:00 (AF2M charter 2024); deferred to Mon 2026-11-23 08:00 Europe/Paris");
/// ```
pub fn evaluate<'a>(
    message: &Message<'a>,
    sender: &SenderIdentity<'_>,
    contact: &Contact,
    now: UtcInstant,
    options: &Options,
    stores: Stores<'_>,
) -> Decision<'a> {
    let mut d = Decision {
        outcome: Outcome::Refuse(Reason::UnknownNumber),
        rule: RULE_NUMBER,
        region: None,
        class: message.class,
        reclassified: false,
    };
    let Some(info) = lookup(&contact.number) else {
        return d;
    };
    d.region = Some(info.region);
    let refuse = |mut d: Decision<'a>, reason, rule| {
        d.outcome = Outcome::Refuse(reason);
        d.rule = rule;
        d
    };

    let pack_and_extra = packs::for_region(info.region, options.fr_profile);
    let langs = pack_and_extra.map_or(Lang::ALL, |(p, _)| p.languages);
    if d.class == Class::Transactional && mention::instructs_opt_out(message.text, langs) {
        d.class = Class::Marketing;
        d.reclassified = true;
    }
    let class = d.class;

    if let Some(scope) = stores.suppression.opted_out(&contact.number, sender.brand) {
        return refuse(d, Reason::OptedOut(scope), RULE_OPT_OUT);
    }
    if let Some(c) = options.banned_categories.first_common(message.categories) {
        return refuse(d, Reason::Category(c), RULE_OVERRIDE);
    }
    let Some((pack, extra_calendar)) = pack_and_extra else {
        if class == Class::Marketing {
            return refuse(d, Reason::NoPack(info.region), RULE_NO_PACK);
        }
        return send(
            d,
            Rendered {
                body: message.text,
                appended: None,
            },
            RULE_NO_PACK,
        );
    };

    let applicable = |r: &&'static Rule| {
        r.applies(class, message.categories)
            && match r.scope {
                packs::Scope::Country => true,
                packs::Scope::UsState(s) => info.us_state == Some(s),
            }
    };
    let mut rendered = Rendered {
        body: message.text,
        appended: None,
    };
    let mut deciding: Option<RuleRef> = None;
    for rule in pack.rules.iter().filter(applicable) {
        let r = RuleRef::from(rule);
        match rule.kind {
            RuleKind::BannedCategories(banned) => {
                if let Some(c) = banned.first_common(message.categories) {
                    return refuse(d, Reason::Category(c), r);
                }
            }
            RuleKind::Senders(allowed) => {
                if !allowed.iter().any(|a| sender_matches(a, sender)) {
                    return refuse(d, Reason::Sender(sender.kind.kind_name(), class), r);
                }
            }
            RuleKind::Consent { soft_opt_in } => {
                match stores.consent.consent(&contact.number, sender.brand) {
                    ConsentStatus::OptedIn => {}
                    ConsentStatus::ExistingCustomer if soft_opt_in => {}
                    _ => return refuse(d, Reason::NoConsent, r),
                }
            }
            RuleKind::OptOutMention(mention) => {
                match check_mention(mention, message.text, sender, pack) {
                    Ok(None) => {}
                    Ok(Some(_)) if !options.append_opt_out => {
                        return refuse(d, Reason::MissingOptOut, r);
                    }
                    Ok(Some(a)) => {
                        rendered.appended = Some(a);
                        deciding = Some(r);
                    }
                    Err(reason) => return refuse(d, reason, r),
                }
            }
            RuleKind::Window { .. }
            | RuleKind::MaxSegments(_)
            | RuleKind::RateCap { .. }
            | RuleKind::Confirmation
            | RuleKind::NoRule(_) => {}
        }
    }

    let Some(segments) = segment_count(&rendered) else {
        return refuse(d, Reason::TextTooLong, RULE_TEXT);
    };
    if let Some(rule) = pack
        .rules
        .iter()
        .filter(applicable)
        .find(|r| matches!(r.kind, RuleKind::MaxSegments(max) if segments.get() > max))
    {
        if let RuleKind::MaxSegments(max) = rule.kind {
            return refuse(
                d,
                Reason::TooManySegments {
                    count: segments.get(),
                    max,
                },
                rule.into(),
            );
        }
    }

    // Time.
    let zones = match contact.zone {
        Some(z) => ZoneSet::single(z),
        None => info.zones,
    };
    let mut cals: heapless::Vec<&'static Calendar, 3> = heapless::Vec::new();
    let mut push_cal = |c| {
        let _ = cals.push(c);
    };
    if let Some(c) = pack.calendar {
        push_cal(c);
    }
    if let Some(c) = extra_calendar {
        push_cal(c);
    }
    if pack.region.0 == *b"FR"
        && info.region.0 == *b"FR"
        && (options.alsace_moselle_everywhere
            || matches!(contact.fr_department, Some(57 | 67 | 68)))
    {
        push_cal(&calendars::FR_ALSACE_MOSELLE);
    }

    let mut constraints: heapless::Vec<Constraint<'_>, MAX_CONSTRAINTS> = heapless::Vec::new();
    let mut cap: Option<(&'static Rule, UtcInstant, u8, u8)> = None;
    let has_hours_rule = pack
        .rules
        .iter()
        .filter(applicable)
        .any(|r| matches!(r.kind, RuleKind::Window { .. }));
    let house = class == Class::Marketing
        && !has_hours_rule
        && !options.house_window.is_empty()
        && pack
            .rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::NoRule(Topic::Hours)));
    let holidays_everywhere = options.holidays_everywhere && class == Class::Marketing;
    for rule in pack.rules.iter().filter(applicable) {
        match rule.kind {
            RuleKind::Window { windows, holidays } => {
                if zones.is_empty() {
                    return refuse(d, Reason::ZoneUnknown, RULE_ZONE);
                }
                for zone in zones.iter() {
                    let c = Constraint {
                        windows,
                        holidays: holidays || holidays_everywhere,
                        zone,
                        rule: rule.into(),
                    };
                    if constraints.push(c).is_err() {
                        return refuse(d, Reason::ZoneUnknown, rule.into());
                    }
                }
            }
            RuleKind::RateCap { max, hours } => {
                let since = now.plus(-i64::from(hours) * 3600);
                let recent = stores.log.sent_since(&contact.number, since);
                if recent.count >= u32::from(max) {
                    let oldest = recent.oldest.unwrap_or(now);
                    let free = oldest.plus(i64::from(hours) * 3600).max(now.plus(1));
                    cap = Some((rule, free, max, hours));
                }
            }
            _ => {}
        }
    }
    if house || (holidays_everywhere && !has_hours_rule && !cals.is_empty()) {
        let windows: &[DayWindow] = if house {
            &options.house_window
        } else {
            &ALL_DAY
        };
        for zone in zones.iter() {
            let _ = constraints.push(Constraint {
                windows,
                holidays: holidays_everywhere,
                zone,
                rule: RULE_OVERRIDE,
            });
        }
    }

    match earliest(
        &constraints,
        &cals,
        now,
        cap.map(|c| c.1),
        options.horizon_days,
    ) {
        Err(Search::Calendar(CalendarError::Missing { year })) => {
            let rule = constraints
                .iter()
                .find(|c| c.holidays)
                .map_or(RULE_OVERRIDE, |c| c.rule);
            refuse(d, Reason::CalendarMissing(year), rule)
        }
        Err(Search::Horizon) => refuse(
            d,
            Reason::NoOpenSlot(options.horizon_days),
            constraints.first().map_or(RULE_OVERRIDE, |c| c.rule),
        ),
        Ok(until) if until == now => {
            let rule = deciding
                .or_else(|| constraints.first().map(|c| c.rule))
                .unwrap_or(RULE_SEND);
            d.outcome = Outcome::Send {
                text: rendered,
                segments,
            };
            d.rule = if d.reclassified && deciding.is_none() {
                RULE_RECLASS
            } else {
                rule
            };
            d
        }
        Ok(until) => {
            // Explain with the first rule closed now.
            let mut why = None;
            for c in constraints.iter() {
                if let Ok(Some(b)) = c.blocked_at(now, &cals) {
                    why = Some((b, c.zone, c.rule));
                    break;
                }
            }
            let (blocked, zone, rule) = match (why, cap) {
                (Some(w), _) => w,
                (None, Some((rule, _, max, hours))) => (
                    Blocked::RateCap { max, hours },
                    zones.iter().next().unwrap_or(Zone::EuropeLondon),
                    rule.into(),
                ),
                (None, None) => (
                    Blocked::Day(Weekday::Mon),
                    Zone::EuropeLondon,
                    RULE_OVERRIDE,
                ),
            };
            d.outcome = Outcome::Defer {
                until,
                blocked,
                zone,
                local: zone.to_local(until),
            };
            d.rule = rule;
            d
        }
    }
}

const ALL_DAY: [DayWindow; 1] = [packs::hours(packs::Days::ALL, 0, 24)];

fn send<'a>(mut d: Decision<'a>, text: Rendered<'a>, rule: RuleRef) -> Decision<'a> {
    d.outcome = match segment_count(&text) {
        Some(segments) => Outcome::Send { text, segments },
        None => Outcome::Refuse(Reason::TextTooLong),
    };
    d.rule = rule;
    d
}

/// Segments of the rendered text: the one call into the codec.
fn segment_count(text: &Rendered<'_>) -> Option<SegmentCount> {
    let segments = if text.appended.is_none() {
        crate::sms::preview(text.body).segments
    } else {
        let mut buf: heapless::String<MAX_RENDERED> = heapless::String::new();
        text.push_to(&mut buf).ok()?;
        crate::sms::preview(&buf).segments
    };
    segments.is_sendable().then_some(segments)
}

fn sender_matches(allow: &SenderAllow, sender: &SenderIdentity<'_>) -> bool {
    match (*allow, sender.kind) {
        (SenderAllow::LongNumber { registered }, SenderKind::LongNumber(_)) => {
            sender.registered || !registered
        }
        (SenderAllow::ShortCode { lo, hi }, SenderKind::ShortCode(c)) => {
            (lo..=hi).contains(&c.get())
        }
        (SenderAllow::Alpha { registered }, SenderKind::Alpha(_)) => {
            sender.registered || !registered
        }
        _ => false,
    }
}

/// `Ok(None)` when the mention is present, `Ok(Some(a))` when `a` must be appended.
fn check_mention(
    mention: Mention,
    text: &str,
    sender: &SenderIdentity<'_>,
    pack: &Pack,
) -> Result<Option<Appended>, Reason> {
    match mention {
        Mention::Keyword { append } => {
            if mention::instructs_opt_out(text, pack.languages) {
                Ok(None)
            } else {
                Ok(Some(Appended::Text(append)))
            }
        }
        Mention::FrShortCode => {
            let code = match sender.kind {
                SenderKind::ShortCode(c) => Some(c),
                _ => sender.stop_code,
            };
            if mention::ends_with_stop_code(text) {
                return Ok(None);
            }
            match code {
                Some(c) if (36000..=36999).contains(&c.get()) => Ok(Some(Appended::FrStop(c))),
                _ => Err(Reason::NoStopCode),
            }
        }
    }
}

/// One time rule in one zone.
#[derive(Debug, Clone, Copy)]
struct Constraint<'w> {
    windows: &'w [DayWindow],
    holidays: bool,
    zone: Zone,
    rule: RuleRef,
}

enum Search {
    Calendar(CalendarError),
    Horizon,
}

impl From<CalendarError> for Search {
    fn from(e: CalendarError) -> Self {
        Search::Calendar(e)
    }
}

fn holiday(
    cals: &[&Calendar],
    date: super::calendar::Date,
) -> Result<Option<&'static str>, CalendarError> {
    for c in cals {
        if let Some(name) = c.holiday(date)? {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

impl Constraint<'_> {
    /// `None` when open at `t`.
    fn blocked_at(
        &self,
        t: UtcInstant,
        cals: &[&Calendar],
    ) -> Result<Option<Blocked>, CalendarError> {
        let local = self.zone.to_local(t);
        if self.holidays {
            if let Some(name) = holiday(cals, local.date)? {
                return Ok(Some(Blocked::Holiday(name)));
            }
        }
        let day = local.date.weekday();
        let minute = local.minute_of_day();
        let mut todays = self.windows.iter().filter(|w| w.days.contains(day));
        let Some(first) = todays.clone().next() else {
            return Ok(Some(Blocked::Day(day)));
        };
        if todays.any(|w| w.start <= minute && minute < w.end) {
            return Ok(None);
        }
        Ok(Some(Blocked::Hours(*first)))
    }

    /// The earliest instant at or after `t` when this constraint is open.
    fn next_open(
        &self,
        t: UtcInstant,
        cals: &[&Calendar],
        horizon_days: u16,
    ) -> Result<Option<UtcInstant>, CalendarError> {
        if self.blocked_at(t, cals)?.is_none() {
            return Ok(Some(t));
        }
        let local = self.zone.to_local(t);
        for k in 0..=i64::from(horizon_days) {
            let date = local.date.add_days(k);
            if self.holidays && holiday(cals, date)?.is_some() {
                continue;
            }
            let day = date.weekday();
            let best = self
                .windows
                .iter()
                .filter(|w| w.days.contains(day) && w.start < w.end)
                .map(|w| self.zone.from_local(date, i64::from(w.start) * 60))
                .filter(|&c| c > t)
                .min();
            if let Some(c) = best {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// The earliest instant at or after `now` when every constraint is open (and after `not_before`).
fn earliest(
    constraints: &[Constraint<'_>],
    cals: &[&Calendar],
    now: UtcInstant,
    not_before: Option<UtcInstant>,
    horizon_days: u16,
) -> Result<UtcInstant, Search> {
    let limit = now.plus(i64::from(horizon_days) * 86_400);
    let mut t = not_before.map_or(now, |n| n.max(now));
    // Each round moves t forward to some rule's next opening; 4 rounds per constraint
    // per day of horizon is far more than any real calendar needs.
    for _ in 0..(constraints.len() + 1) * 64 {
        let mut moved = false;
        for c in constraints {
            match c.next_open(t, cals, horizon_days)? {
                None => return Err(Search::Horizon),
                Some(n) if n > t => {
                    t = n;
                    moved = true;
                }
                Some(_) => {}
            }
            if t > limit {
                return Err(Search::Horizon);
            }
        }
        if !moved {
            return Ok(t);
        }
    }
    Err(Search::Horizon)
}
