//! Recipient time: POSIX-TZ-style rules (standard offset + DST transitions), UTC ↔ local.
//!
//! Each [`Zone`] carries the rule of its tzdata 2025b POSIX footer string
//! (docs/compliance.md § Time-zone rules), which describes the current rule and holds for
//! present and future dates. The `compliance_tz_oracle` test checks every zone (and every
//! libphonenumber alias we map onto one) against `chrono-tz` for every hour of 2020–2040.

use core::fmt;

use super::calendar::{Date, Weekday};

/// An instant in UTC: seconds since 1970-01-01T00:00:00Z (leap seconds ignored, as in Unix time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct UtcInstant(pub i64);

impl UtcInstant {
    /// Midnight UTC at the start of `date`, plus `seconds`.
    pub fn from_date(date: Date, seconds: i64) -> UtcInstant {
        UtcInstant(
            date.days_since_epoch()
                .saturating_mul(86_400)
                .saturating_add(seconds),
        )
    }

    /// The UTC calendar date and second of day.
    pub fn to_date(self) -> (Date, u32) {
        let days = self.0.div_euclid(86_400);
        (
            Date::from_days_since_epoch(days),
            self.0.rem_euclid(86_400) as u32,
        )
    }

    /// `self + seconds`, saturating.
    pub fn plus(self, seconds: i64) -> UtcInstant {
        UtcInstant(self.0.saturating_add(seconds))
    }

    /// Parses RFC 3339 `YYYY-MM-DDTHH:MM[:SS][.frac](Z|±HH:MM)`; fractions are dropped.
    pub fn parse_rfc3339(text: &str) -> Option<UtcInstant> {
        let b = text.as_bytes();
        let num = |r: core::ops::Range<usize>| -> Option<i64> {
            let s = b.get(r)?;
            if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
        };
        let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":")) {
            return None;
        }
        let (y, mo, d, h, mi) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
        );
        let mut i = 16;
        let mut s = 0;
        if sep(16, b":") {
            s = num(17..19)?;
            i = 19;
            if sep(19, b".") {
                i = 20;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            c @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
                let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
                if *c == b'-' { -o } else { o }
            }
            _ => return None,
        };
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let date = Date::new(y as i32, mo as u8, d as u8)?;
        Some(UtcInstant::from_date(
            date,
            h * 3600 + mi * 60 + s.min(59) - offset,
        ))
    }
}

impl fmt::Display for UtcInstant {
    /// RFC 3339 in UTC: `2026-11-23T07:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, s) = self.to_date();
        write!(f, "{}T{:02}:{:02}:{:02}Z", d, s / 3600, s / 60 % 60, s % 60)
    }
}

/// A DST transition as in POSIX TZ `Mm.w.d/time`: day `weekday` of week `week`
/// (1–4, 5 = last) of `month`, at `time` seconds of local wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Month, 1–12.
    pub month: u8,
    /// Week of the month, 1–5 (5 = the last such weekday).
    pub week: u8,
    /// The weekday.
    pub weekday: Weekday,
    /// Local wall-clock time of the change, in seconds after midnight (POSIX default 2:00).
    pub time: i32,
}

impl Transition {
    const fn m(month: u8, week: u8, time_h: i32) -> Transition {
        Transition {
            month,
            week,
            weekday: Weekday::Sun,
            time: time_h * 3600,
        }
    }

    /// Days since 1970-01-01 of the transition day in `year`, computed without
    /// building intermediate dates (this is on the hot path of every decision).
    fn day(&self, year: i32) -> i64 {
        let month = self.month.clamp(1, 12);
        let first = Date {
            year,
            month,
            day: 1,
        }
        .days_since_epoch();
        let weekday_of = |days: i64| (days + 3).rem_euclid(7); // 0 = Monday
        let want = i64::from(self.weekday.index());
        if self.week >= 5 {
            let last = first + i64::from(super::calendar::days_in_month(year, month)) - 1;
            last - (weekday_of(last) - want).rem_euclid(7)
        } else {
            first + (want - weekday_of(first)).rem_euclid(7) + 7 * (i64::from(self.week.max(1)) - 1)
        }
    }
}

/// Daylight-saving part of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dst {
    /// Seconds added to the standard offset while DST is in force (3600 everywhere we use).
    pub save: i32,
    /// When DST starts, in local standard time.
    pub start: Transition,
    /// When DST ends, in local daylight time.
    pub end: Transition,
}

/// A POSIX-TZ-style rule: standard offset east of UTC plus an optional DST rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TzRule {
    /// Standard-time offset in seconds east of UTC (`CET-1` → +3600).
    pub std_offset: i32,
    /// The DST rule, if the zone observes DST.
    pub dst: Option<Dst>,
}

const fn fixed(offset_min: i32) -> TzRule {
    TzRule {
        std_offset: offset_min * 60,
        dst: None,
    }
}

/// EU rule: `M3.5.0/1,M10.5.0` in UTC terms (01:00 UTC both ways).
const fn eu(std_h: i32) -> TzRule {
    // Transitions happen at 01:00 UTC: 1+std local standard time, 1+std+1 local DST time.
    TzRule {
        std_offset: std_h * 3600,
        dst: Some(Dst {
            save: 3600,
            start: Transition::m(3, 5, 1 + std_h),
            end: Transition::m(10, 5, 2 + std_h),
        }),
    }
}

/// US/Canada rule: `M3.2.0,M11.1.0` (02:00 local both ways).
const fn na(std_h_west: i32, extra_min: i32) -> TzRule {
    TzRule {
        std_offset: -(std_h_west * 3600 + extra_min * 60),
        dst: Some(Dst {
            save: 3600,
            start: Transition::m(3, 2, 2),
            end: Transition::m(11, 1, 2),
        }),
    }
}

impl TzRule {
    fn dst_bounds(&self, dst: &Dst, year: i32) -> (i64, i64) {
        let start =
            dst.start.day(year) * 86_400 + i64::from(dst.start.time) - i64::from(self.std_offset);
        let end = dst.end.day(year) * 86_400 + i64::from(dst.end.time)
            - i64::from(self.std_offset + dst.save);
        (start, end)
    }

    /// UTC offset in seconds in force at `at`.
    pub fn offset_at(&self, at: UtcInstant) -> i32 {
        let Some(dst) = self.dst else {
            return self.std_offset;
        };
        let (date, _) = at.plus(i64::from(self.std_offset)).to_date();
        let (start, end) = self.dst_bounds(&dst, date.year);
        let in_dst = if start < end {
            start <= at.0 && at.0 < end
        } else {
            !(end <= at.0 && at.0 < start)
        };
        if in_dst {
            self.std_offset + dst.save
        } else {
            self.std_offset
        }
    }

    /// The earliest instant whose local wall time is at or after `date` + `seconds`
    /// (at a spring-forward gap, the instant the clocks jump; at a fall-back overlap, the
    /// first of the two instants).
    pub fn from_local(&self, date: Date, seconds: i64) -> UtcInstant {
        let naive = UtcInstant::from_date(date, seconds).0;
        let mut offsets = [self.std_offset, self.std_offset];
        if let Some(dst) = self.dst {
            offsets[0] = self.std_offset + dst.save; // larger offset → earlier instant
        }
        for o in offsets {
            let t = UtcInstant(naive - i64::from(o));
            if self.offset_at(t) == o {
                return t;
            }
        }
        // In a gap: the transition itself is the first instant at or after that wall time.
        if let Some(dst) = self.dst {
            let (start, end) = self.dst_bounds(&dst, date.year);
            let t = naive - i64::from(self.std_offset);
            return UtcInstant(if (start - t).abs() <= (end - t).abs() {
                start
            } else {
                end
            });
        }
        UtcInstant(naive - i64::from(self.std_offset))
    }
}

macro_rules! zones {
    ($($variant:ident = $name:literal => $rule:expr, $posix:literal;)*) => {
        /// A time zone the rule packs use, named by its IANA name.
        ///
        /// The variant order is part of the host ↔ device link (a job carries its
        /// recipient's verified zone as the variant index): append new zones at the end.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum Zone { $(#[doc = $name] $variant,)* }

        impl Zone {
            /// Every zone, in bit order of [`ZoneSet`].
            pub const ALL: &'static [Zone] = &[$(Zone::$variant,)*];

            /// The IANA name (`Europe/Paris`).
            pub const fn name(self) -> &'static str {
                match self { $(Zone::$variant => $name,)* }
            }

            /// The tzdata 2025b POSIX TZ string this zone's rule encodes.
            pub const fn posix(self) -> &'static str {
                match self { $(Zone::$variant => $posix,)* }
            }

            /// The zone's rule.
            pub const fn rule(self) -> TzRule {
                match self { $(Zone::$variant => $rule,)* }
            }
        }
    };
}

zones! {
    EuropeParis = "Europe/Paris" => eu(1), "CET-1CEST,M3.5.0,M10.5.0/3";
    EuropeBerlin = "Europe/Berlin" => eu(1), "CET-1CEST,M3.5.0,M10.5.0/3";
    EuropeMadrid = "Europe/Madrid" => eu(1), "CET-1CEST,M3.5.0,M10.5.0/3";
    EuropeRome = "Europe/Rome" => eu(1), "CET-1CEST,M3.5.0,M10.5.0/3";
    EuropeBrussels = "Europe/Brussels" => eu(1), "CET-1CEST,M3.5.0,M10.5.0/3";
    EuropeLondon = "Europe/London" => eu(0), "GMT0BST,M3.5.0/1,M10.5.0";
    AtlanticCanary = "Atlantic/Canary" => eu(0), "WET0WEST,M3.5.0/1,M10.5.0";
    AsiaKolkata = "Asia/Kolkata" => fixed(330), "IST-5:30";
    AfricaNairobi = "Africa/Nairobi" => fixed(180), "EAT-3";
    AfricaLagos = "Africa/Lagos" => fixed(60), "WAT-1";
    AfricaJohannesburg = "Africa/Johannesburg" => fixed(120), "SAST-2";
    AmericaNewYork = "America/New_York" => na(5, 0), "EST5EDT,M3.2.0,M11.1.0";
    AmericaChicago = "America/Chicago" => na(6, 0), "CST6CDT,M3.2.0,M11.1.0";
    AmericaDenver = "America/Denver" => na(7, 0), "MST7MDT,M3.2.0,M11.1.0";
    AmericaPhoenix = "America/Phoenix" => fixed(-420), "MST7";
    AmericaLosAngeles = "America/Los_Angeles" => na(8, 0), "PST8PDT,M3.2.0,M11.1.0";
    AmericaAnchorage = "America/Anchorage" => na(9, 0), "AKST9AKDT,M3.2.0,M11.1.0";
    AmericaAdak = "America/Adak" => na(10, 0), "HST10HDT,M3.2.0,M11.1.0";
    PacificHonolulu = "Pacific/Honolulu" => fixed(-600), "HST10";
    AmericaHalifax = "America/Halifax" => na(4, 0), "AST4ADT,M3.2.0,M11.1.0";
    AmericaStJohns = "America/St_Johns" => na(3, 30), "NST3:30NDT,M3.2.0,M11.1.0";
    AmericaRegina = "America/Regina" => fixed(-360), "CST6";
    AmericaToronto = "America/Toronto" => na(5, 0), "EST5EDT,M3.2.0,M11.1.0";
    AmericaWinnipeg = "America/Winnipeg" => na(6, 0), "CST6CDT,M3.2.0,M11.1.0";
    AmericaEdmonton = "America/Edmonton" => na(7, 0), "MST7MDT,M3.2.0,M11.1.0";
    AmericaVancouver = "America/Vancouver" => na(8, 0), "PST8PDT,M3.2.0,M11.1.0";
    AmericaPuertoRico = "America/Puerto_Rico" => fixed(-240), "AST4";
    AmericaSaoPaulo = "America/Sao_Paulo" => fixed(-180), "<-03>3";
    AmericaManaus = "America/Manaus" => fixed(-240), "<-04>4";
    AmericaRioBranco = "America/Rio_Branco" => fixed(-300), "<-05>5";
    AmericaNoronha = "America/Noronha" => fixed(-120), "<-02>2";
    AmericaCayenne = "America/Cayenne" => fixed(-180), "<-03>3";
    AmericaGuadeloupe = "America/Guadeloupe" => fixed(-240), "AST4";
    AmericaMartinique = "America/Martinique" => fixed(-240), "AST4";
    IndianReunion = "Indian/Reunion" => fixed(240), "<+04>-4";
    IndianMayotte = "Indian/Mayotte" => fixed(180), "EAT-3";
    AmericaMiquelon = "America/Miquelon" => na(3, 0), "<-03>3<-02>,M3.2.0,M11.1.0";
    PacificNoumea = "Pacific/Noumea" => fixed(660), "<+11>-11";
    PacificTahiti = "Pacific/Tahiti" => fixed(-600), "<-10>10";
    PacificMarquesas = "Pacific/Marquesas" => fixed(-570), "<-0930>9:30";
    PacificGambier = "Pacific/Gambier" => fixed(-540), "<-09>9";
}

impl Zone {
    /// Looks a zone up by IANA name.
    pub fn from_name(name: &str) -> Option<Zone> {
        Zone::ALL.iter().copied().find(|z| z.name() == name)
    }

    /// Local wall time at `at`.
    pub fn to_local(self, at: UtcInstant) -> LocalTime {
        let offset = self.rule().offset_at(at);
        let (date, seconds) = at.plus(i64::from(offset)).to_date();
        LocalTime {
            date,
            seconds,
            offset,
        }
    }

    /// The earliest instant whose local wall time in this zone is at or after `date` +
    /// `seconds` (see [`TzRule::from_local`]).
    pub fn from_local(self, date: Date, seconds: i64) -> UtcInstant {
        self.rule().from_local(date, seconds)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A local wall time: date, second of day and the offset in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LocalTime {
    /// Local calendar date.
    pub date: Date,
    /// Seconds since local midnight (0..86400).
    pub seconds: u32,
    /// Offset from UTC in seconds.
    pub offset: i32,
}

impl LocalTime {
    /// Minutes since local midnight.
    pub const fn minute_of_day(&self) -> u16 {
        (self.seconds / 60) as u16
    }
}

impl fmt::Display for LocalTime {
    /// `Mon 2026-11-23 08:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:02}:{:02}",
            self.date.weekday().short_name(),
            self.date,
            self.seconds / 3600,
            self.seconds / 60 % 60
        )
    }
}

/// A set of zones (the candidate zones of a number), as a bitmask over [`Zone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ZoneSet(u64);

impl ZoneSet {
    /// No zone.
    pub const EMPTY: ZoneSet = ZoneSet(0);

    /// Just `zone`.
    pub const fn single(zone: Zone) -> ZoneSet {
        ZoneSet(1 << zone as u8)
    }

    /// From raw bits (bits past the last zone are dropped).
    pub const fn from_bits(bits: u64) -> ZoneSet {
        ZoneSet(bits & ((1u64 << Zone::ALL.len()) - 1))
    }

    /// True if `zone` is in the set.
    pub const fn contains(self, zone: Zone) -> bool {
        self.0 & (1 << zone as u8) != 0
    }

    /// The set plus `zone`.
    pub const fn with(self, zone: Zone) -> ZoneSet {
        ZoneSet(self.0 | (1 << zone as u8))
    }

    /// Number of zones.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// True when the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The zones, in [`Zone::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Zone> {
        Zone::ALL.iter().copied().filter(move |z| self.contains(*z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> UtcInstant {
        UtcInstant::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(at("1970-01-01T00:00:00Z"), UtcInstant(0));
        assert_eq!(
            at("2026-11-21T22:30:00Z").to_string_for_test(),
            "2026-11-21T22:30:00Z"
        );
        assert_eq!(at("2026-11-21T23:30:00+01:00"), at("2026-11-21T22:30:00Z"));
        assert_eq!(at("2026-11-21T22:30:00.123Z"), at("2026-11-21T22:30:00Z"));
        assert_eq!(at("2026-11-21T22:30Z"), at("2026-11-21T22:30:00Z"));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-21T22:30:00",
            "2026-11-21T24:00:00Z",
            "x",
        ] {
            assert_eq!(UtcInstant::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn paris_dst() {
        let p = Zone::EuropeParis;
        // 2026: DST from Sun 29 March 01:00Z to Sun 25 October 01:00Z.
        assert_eq!(p.rule().offset_at(at("2026-03-29T00:59:59Z")), 3600);
        assert_eq!(p.rule().offset_at(at("2026-03-29T01:00:00Z")), 7200);
        assert_eq!(p.rule().offset_at(at("2026-10-25T00:59:59Z")), 7200);
        assert_eq!(p.rule().offset_at(at("2026-10-25T01:00:00Z")), 3600);
        let d = Date::new(2026, 3, 29).unwrap();
        // 02:30 does not exist: the first instant at or after it is the jump at 01:00Z.
        assert_eq!(p.from_local(d, 2 * 3600 + 1800), at("2026-03-29T01:00:00Z"));
        assert_eq!(p.from_local(d, 8 * 3600), at("2026-03-29T06:00:00Z"));
        let d = Date::new(2026, 10, 25).unwrap();
        // 02:30 happens twice: the first one (CEST) is earlier.
        assert_eq!(p.from_local(d, 2 * 3600 + 1800), at("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn new_york_dst_and_local_display() {
        let ny = Zone::AmericaNewYork;
        let l = ny.to_local(at("2026-03-08T07:00:00Z"));
        assert_eq!((l.offset, l.seconds), (-4 * 3600, 3 * 3600));
        assert_eq!(ny.to_local(at("2026-03-08T06:59:59Z")).offset, -5 * 3600);
        assert_eq!(ny.to_local(at("2026-11-01T06:00:00Z")).offset, -5 * 3600);
        assert_eq!(ny.to_local(at("2026-11-01T05:59:59Z")).offset, -4 * 3600);
        let l = Zone::EuropeParis.to_local(at("2026-11-23T07:00:00Z"));
        assert_eq!(std::format!("{l}"), "Mon 2026-11-23 08:00");
    }

    #[test]
    fn zone_sets() {
        let s = ZoneSet::single(Zone::AmericaChicago).with(Zone::AmericaNewYork);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.iter().collect::<std::vec::Vec<_>>(),
            [Zone::AmericaNewYork, Zone::AmericaChicago]
        );
        assert_eq!(
            Zone::from_name("Pacific/Gambier"),
            Some(Zone::PacificGambier)
        );
        assert!(Zone::ALL.len() <= 64);
    }

    extern crate std;
    trait T {
        fn to_string_for_test(&self) -> std::string::String;
    }
    impl T for UtcInstant {
        fn to_string_for_test(&self) -> std::string::String {
            std::format!("{self}")
        }
    }
}
