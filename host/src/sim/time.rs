//! Virtual time: instants, durations as written in scenarios, calendar fields, and the
//! simulator clock that runs faster than real time or only moves when stepped.

use std::fmt;
use std::time::Instant;

/// A point in virtual time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimInstant(pub i64);

/// A span of virtual time in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub i64);

impl SimDuration {
    /// `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Parses `250ms`, `5s`, `2m`, `1h`, `3d`, `1w`, a bare number of seconds, or a
    /// sum of those separated by spaces or `+` (`1h 30m`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut total: i64 = 0;
        let mut any = false;
        for part in text.split([' ', '+']).filter(|p| !p.is_empty()) {
            let split = part
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(part.len());
            let (number, unit) = part.split_at(split);
            let value: f64 = number
                .parse()
                .map_err(|_| format!("bad duration {text:?}: {part:?} has no number"))?;
            let unit_ms = match unit {
                "ms" => 1.0,
                "" | "s" => 1000.0,
                "m" | "min" => 60_000.0,
                "h" => 3_600_000.0,
                "d" => 86_400_000.0,
                "w" => 604_800_000.0,
                _ => return Err(format!("bad duration {text:?}: unknown unit {unit:?}")),
            };
            total = total.saturating_add((value * unit_ms).round() as i64);
            any = true;
        }
        if any {
            Ok(Self(total))
        } else {
            Err(format!("empty duration {text:?}"))
        }
    }
}

impl std::ops::Add<SimDuration> for SimInstant {
    type Output = SimInstant;
    fn add(self, rhs: SimDuration) -> SimInstant {
        SimInstant(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for SimInstant {
    type Output = SimDuration;
    fn sub(self, rhs: SimInstant) -> SimDuration {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

/// A UTC offset in quarter hours, as GSM timestamps carry it (TS 23.040 §9.2.3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UtcOffset(pub i8);

impl UtcOffset {
    /// Parses `+01:00`, `-05:30`, `+0100`, `Z`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "Z" || text == "UTC" {
            return Ok(Self(0));
        }
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1i32, &text[1..]),
            Some(b'-') => (-1i32, &text[1..]),
            _ => return Err(format!("bad UTC offset {text:?} (want +hh:mm)")),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad UTC offset {text:?} (want +hh:mm)"));
        }
        let hours: i32 = digits[..2].parse().map_err(|_| "bad hours".to_string())?;
        let minutes: i32 = digits[2..].parse().map_err(|_| "bad minutes".to_string())?;
        if minutes % 15 != 0 || hours > 14 {
            return Err(format!(
                "UTC offset {text:?} is not a whole number of quarter hours"
            ));
        }
        Ok(Self((sign * (hours * 4 + minutes / 15)) as i8))
    }

    /// The offset in milliseconds.
    pub fn millis(self) -> i64 {
        i64::from(self.0) * 15 * 60_000
    }
}

/// Calendar fields of an instant seen at some UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Full year, e.g. 2026.
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
    /// The offset these fields are in.
    pub offset: UtcOffset,
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01; Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl SimInstant {
    /// Calendar fields at `offset`.
    pub fn civil(self, offset: UtcOffset) -> Civil {
        let local = self.0 + offset.millis();
        let days = local.div_euclid(86_400_000);
        let ms = local.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let secs = (ms / 1000) as u32;
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            weekday: (days + 3).rem_euclid(7) as u32,
            offset,
        }
    }

    /// The instant of local `year-month-day hh:mm:ss` at `offset`.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hms: (u32, u32, u32),
        offset: UtcOffset,
    ) -> Self {
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2);
        Self(secs * 1000 - offset.millis())
    }

    /// Parses `2026-03-06T09:00:00` (local at `offset`) or with a trailing `Z`/offset.
    pub fn parse(text: &str, offset: UtcOffset) -> Result<Self, String> {
        let bad = || format!("bad date-time {text:?} (want YYYY-MM-DDThh:mm:ss)");
        let (date, time) = text.split_once(['T', ' ']).ok_or_else(bad)?;
        let (time, offset) = match time.find(['Z', '+', '-']) {
            Some(i) => (&time[..i], UtcOffset::parse(&time[i..])?),
            None => (time, offset),
        };
        let d: Vec<&str> = date.split('-').collect();
        let t: Vec<&str> = time.split(':').collect();
        if d.len() != 3 || !(2..=3).contains(&t.len()) {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let year: i64 = d[0].parse().map_err(|_| bad())?;
        let (month, day) = (num(d[1])?, num(d[2])?);
        let (hour, minute) = (num(t[0])?, num(t[1])?);
        let second = if t.len() == 3 { num(t[2])? } else { 0 };
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(Self::from_civil(
            year,
            month,
            day,
            (hour, minute, second),
            offset,
        ))
    }
}

impl Civil {
    /// `yy/MM/dd,hh:mm:ss±zz` as `AT+CCLK?` and text-mode timestamps show it
    /// (TS 27.007 §8.15: zz in quarter hours).
    pub fn gsm_text(&self) -> String {
        let sign = if self.offset.0 < 0 { '-' } else { '+' };
        format!(
            "{:02}/{:02}/{:02},{:02}:{:02}:{:02}{}{:02}",
            self.year.rem_euclid(100),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            self.offset.0.unsigned_abs()
        )
    }

    /// Minutes since local midnight.
    pub fn minute_of_day(&self) -> u32 {
        self.hour * 60 + self.minute
    }
}

impl fmt::Display for SimInstant {
    /// RFC 3339 in UTC with milliseconds: `2026-03-06T08:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil(UtcOffset(0));
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            self.0.rem_euclid(1000)
        )
    }
}

/// How the virtual clock moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMode {
    /// Virtual time = start + real elapsed × factor (1.0 = real time).
    Speed(f64),
    /// Virtual time only moves when stepped through the control channel.
    Step,
}

/// The simulator clock: virtual time that follows real time scaled, or stands still
/// until stepped. Stepping also works in speed mode (it jumps ahead).
#[derive(Debug)]
pub struct Clock {
    start: SimInstant,
    real_start: Instant,
    mode: ClockMode,
    stepped: SimDuration,
}

impl Clock {
    /// A clock reading `start` now.
    pub fn new(start: SimInstant, mode: ClockMode) -> Self {
        Self {
            start,
            real_start: Instant::now(),
            mode,
            stepped: SimDuration(0),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> SimInstant {
        let run = match self.mode {
            ClockMode::Speed(factor) => {
                (self.real_start.elapsed().as_secs_f64() * 1000.0 * factor) as i64
            }
            ClockMode::Step => 0,
        };
        self.start + SimDuration(run) + self.stepped
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&mut self, by: SimDuration) {
        self.stepped = SimDuration(self.stepped.0.saturating_add(by.0.max(0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_weekday() {
        let off = UtcOffset::parse("+01:00").unwrap();
        let t = SimInstant::parse("2026-03-06T09:00:00", off).unwrap();
        let c = t.civil(off);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2026, 3, 6, 9, 0)
        );
        assert_eq!(c.weekday, 4, "2026-03-06 is a Friday");
        assert_eq!(t.to_string(), "2026-03-06T08:00:00.000Z");
        assert_eq!(c.gsm_text(), "26/03/06,09:00:00+04");
    }

    #[test]
    fn negative_offsets_print_with_minus() {
        let off = UtcOffset::parse("-05:00").unwrap();
        assert_eq!(off.0, -20);
        let t = SimInstant::parse("2026-01-01T00:00:00Z", off).unwrap();
        assert_eq!(t.civil(off).gsm_text(), "25/12/31,19:00:00-20");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(SimDuration::parse("1h 30m").unwrap().0, 5_400_000);
        assert_eq!(SimDuration::parse("250ms").unwrap().0, 250);
        assert_eq!(SimDuration::parse("2").unwrap().0, 2000);
        assert!(SimDuration::parse("3 parsecs").is_err());
    }
}
