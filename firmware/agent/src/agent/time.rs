//! UTC on the device: taken from the modem's network time when it has one (preferred:
//! the operator's clock, NITZ) or from the host's handshake, then carried forward by the
//! monotonic [`crate::modem::Clock`]. The modem clock is read again every minute
//! ([`crate::modem::CLOCK_RESYNC_MS`]); a reading that moved by more than
//! [`RESYNC_TOLERANCE_S`] resets UTC.
//!
//! What a reset moves: deferrals (`wait_until`), expiries and the per-recipient log of
//! recent marketing sends are in UTC, so a jump forward releases jobs whose `until`
//! passed at the next scheduling step, and a jump back holds them until UTC reaches
//! their `until` again and keeps past sends in the caps' windows longer. The pace
//! (per-minute/hour/day windows), retry back-off and the link are on the monotonic
//! clock and do not move. Nothing is sent twice: what went out is in the job records,
//! not judged by time.

use relais_core::compliance::calendar::{Date, days_in_month};
use relais_core::compliance::tz::UtcInstant;
use relais_core::sms::pdu::Timestamp;

use crate::modem::ModemClock;

/// Modem clocks before this year are taken as unset: a SIM800 without network time
/// starts at `04/01/01,00:00:00+00`, and a quarter-hour offset alone does not prove
/// the clock was ever set.
pub const MIN_NETWORK_YEAR: u16 = 2024;

/// A network reading this close to the time carried forward (seconds, either way) is
/// not applied. The modem driver reads `AT+CCLK?` again every minute
/// ([`crate::modem::CLOCK_RESYNC_MS`]) in whole seconds: applying each reading would
/// step the device's clock back and forth by up to a second, and move the `until` of
/// pacing deferrals with it (a new [`Deferred`](relais_core::link::msg::Event::Deferred)
/// event each time). Drift and corrections beyond it are applied.
pub const RESYNC_TOLERANCE_S: i64 = 2;

/// Where the device's UTC comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimeSource {
    /// The modem's network time (`AT+CCLK?` after bring-up, and every minute).
    Network,
    /// The host's clock in its `Hello`.
    Host,
}

/// A UTC reading and the monotonic time it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBase {
    utc: UtcInstant,
    at_ms: u64,
    pub(crate) source: TimeSource,
}

impl TimeBase {
    pub(crate) fn new(utc: UtcInstant, at_ms: u64, source: TimeSource) -> Self {
        TimeBase { utc, at_ms, source }
    }

    /// UTC at monotonic time `now_ms`.
    pub(crate) fn at(&self, now_ms: u64) -> UtcInstant {
        let elapsed = now_ms.saturating_sub(self.at_ms) / 1000;
        self.utc.plus(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }
}

/// The time base after the network reading `utc` taken at `now_ms`, or `None` to keep
/// `current`: network time already, and within [`RESYNC_TOLERANCE_S`] of `utc`. A
/// reading replaces host time, and network time it disagrees with in either direction
/// (a NITZ correction, a clock jump): the network's clock is the reference.
pub(crate) fn network_rebase(
    current: Option<TimeBase>,
    utc: UtcInstant,
    now_ms: u64,
) -> Option<TimeBase> {
    // In milliseconds (cheaper in flash than going through `at`): how far the network
    // clock moved since the base, against how far the monotonic clock did.
    let agrees = |t: TimeBase| {
        let moved = utc.0.wrapping_sub(t.utc.0).wrapping_mul(1000);
        let elapsed = now_ms.wrapping_sub(t.at_ms) as i64;
        t.source == TimeSource::Network
            && moved.wrapping_sub(elapsed).unsigned_abs() <= RESYNC_TOLERANCE_S as u64 * 1000
    };
    if current.is_some_and(agrees) {
        return None;
    }
    Some(TimeBase::new(utc, now_ms, TimeSource::Network))
}

/// UTC of civil time `date`, `seconds` into the day, at `offset_minutes` east of UTC.
fn civil_to_utc(
    year: u16,
    month: u8,
    day: u8,
    seconds: u32,
    offset_minutes: i32,
) -> Option<UtcInstant> {
    let year = i32::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let date = Date { year, month, day };
    Some(UtcInstant::from_date(date, i64::from(seconds)).plus(-i64::from(offset_minutes) * 60))
}

/// The modem clock as UTC; `None` when it carries no offset or looks unset
/// (see [`MIN_NETWORK_YEAR`]).
pub fn network_utc(clock: &ModemClock) -> Option<UtcInstant> {
    let quarters = clock.quarter_hours?;
    if clock.year < MIN_NETWORK_YEAR {
        return None;
    }
    let seconds = u32::from(clock.hour) * 3600
        + u32::from(clock.minute) * 60
        + u32::from(clock.second.min(59));
    civil_to_utc(
        clock.year,
        clock.month,
        clock.day,
        seconds,
        i32::from(quarters) * 15,
    )
}

/// A service-centre time stamp (TS 23.040 §9.2.3.11) as UTC.
pub fn timestamp_utc(t: &Timestamp) -> Option<UtcInstant> {
    let seconds = u32::from(t.hour) * 3600 + u32::from(t.minute) * 60 + u32::from(t.second);
    civil_to_utc(
        t.year,
        t.month,
        t.day,
        seconds,
        i32::from(t.offset_minutes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(year: u16, hour: u8, quarters: Option<i8>) -> ModemClock {
        ModemClock {
            year,
            month: 11,
            day: 24,
            hour,
            minute: 30,
            second: 0,
            quarter_hours: quarters,
        }
    }

    #[test]
    fn network_time_is_converted_with_its_offset() {
        // 23:30 in Paris (UTC+1, +04 quarters) is 22:30Z.
        let utc = network_utc(&clock(2026, 23, Some(4))).unwrap();
        assert_eq!(
            utc,
            UtcInstant::parse_rfc3339("2026-11-24T22:30:00Z").unwrap()
        );
        let utc = network_utc(&clock(2026, 1, Some(-20))).unwrap();
        assert_eq!(
            utc,
            UtcInstant::parse_rfc3339("2026-11-24T06:30:00Z").unwrap()
        );
    }

    #[test]
    fn unset_modem_clocks_are_not_time() {
        assert_eq!(network_utc(&clock(2004, 0, Some(0))), None);
        assert_eq!(network_utc(&clock(2026, 10, None)), None);
        let bad_day = ModemClock {
            month: 2,
            day: 30,
            ..clock(2026, 1, Some(0))
        };
        assert_eq!(network_utc(&bad_day), None);
    }

    #[test]
    fn network_readings_rebase_only_when_they_disagree() {
        let host = TimeBase::new(UtcInstant(1_000), 0, TimeSource::Host);
        let net = TimeBase::new(UtcInstant(1_000), 0, TimeSource::Network);
        // Nothing yet, or host time: the network reading wins, even when it agrees.
        let first = network_rebase(None, UtcInstant(1_060), 60_000);
        assert_eq!(first.map(|t| t.at(60_000)), Some(UtcInstant(1_060)));
        let from_host = network_rebase(Some(host), UtcInstant(1_060), 60_000);
        assert_eq!(from_host.map(|t| t.source), Some(TimeSource::Network));
        // A minute later, whole-second jitter: kept.
        assert_eq!(network_rebase(Some(net), UtcInstant(1_059), 60_900), None);
        assert_eq!(network_rebase(Some(net), UtcInstant(1_062), 60_000), None);
        // Thirty hours ahead, or a day back: applied from now on.
        let ahead = network_rebase(Some(net), UtcInstant(1_060 + 108_000), 60_000).unwrap();
        assert_eq!(ahead.at(120_000), UtcInstant(1_120 + 108_000));
        let back = network_rebase(Some(net), UtcInstant(1_060 - 86_400), 60_000).unwrap();
        assert_eq!(back.at(60_000), UtcInstant(1_060 - 86_400));
    }

    #[test]
    fn a_time_base_moves_with_the_monotonic_clock() {
        let base = TimeBase::new(UtcInstant(1_000), 5_000, TimeSource::Host);
        assert_eq!(base.at(5_000), UtcInstant(1_000));
        assert_eq!(base.at(7_999), UtcInstant(1_002));
        assert_eq!(base.at(0), UtcInstant(1_000));
    }
}
