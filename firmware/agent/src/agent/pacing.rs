//! Per-SIM sending pace ([`Pacing`]): rolling per-minute, per-hour and per-day caps on
//! segments, and a least gap with random jitter between two segments. Operators flag
//! SIMs that send fast or at a machine-regular rhythm.
//!
//! The rolling windows count segments in fixed buckets (1 s for the minute, 1 min for
//! the hour, 1 h for the day) and keep one bucket more than the period, so a window
//! always covers at least the whole period: a cap can be reached a little early (by at
//! most one bucket width), never exceeded. Counts live in RAM (294 bytes): after a
//! reboot they start from zero.

use relais_core::link::msg::Pacing;

/// Counts of one rolling window: `B` buckets of `width_ms`, the newest at absolute
/// bucket number `newest`.
#[derive(Debug)]
struct Buckets<const B: usize> {
    width_ms: u64,
    counts: [u16; B],
    newest: u64,
}

impl<const B: usize> Buckets<B> {
    const fn new(width_ms: u64) -> Self {
        Buckets {
            width_ms,
            counts: [0; B],
            newest: 0,
        }
    }

    /// Moves the window to `now_ms`, emptying the buckets that fell out of it.
    fn roll(&mut self, now_ms: u64) {
        let index = now_ms / self.width_ms.max(1);
        if index <= self.newest {
            return;
        }
        if index - self.newest >= B as u64 {
            self.counts = [0; B];
        } else {
            for n in self.newest + 1..=index {
                if let Some(c) = self.counts.get_mut((n % B as u64) as usize) {
                    *c = 0;
                }
            }
        }
        self.newest = index;
    }

    fn count(&mut self, now_ms: u64) -> u32 {
        self.roll(now_ms);
        self.counts.iter().map(|&c| u32::from(c)).sum()
    }

    fn add(&mut self, now_ms: u64) {
        self.roll(now_ms);
        if let Some(c) = self.counts.get_mut((self.newest % B as u64) as usize) {
            *c = c.saturating_add(1);
        }
    }

    /// When the oldest counted segment leaves the window.
    fn frees_at(&mut self, now_ms: u64) -> u64 {
        self.roll(now_ms);
        let first = self.newest.saturating_sub(B as u64 - 1);
        (first..=self.newest)
            .find(|n| {
                self.counts
                    .get((n % B as u64) as usize)
                    .is_some_and(|&c| c > 0)
            })
            .map_or(now_ms, |n| (n + B as u64).saturating_mul(self.width_ms))
    }
}

/// The pace keeper: call [`Pacer::wait_ms`] before a segment and [`Pacer::record`]
/// after the modem took it.
#[derive(Debug)]
pub(crate) struct Pacer {
    minute: Buckets<61>,
    hour: Buckets<61>,
    day: Buckets<25>,
    next_at: u64,
    rng: u32,
}

impl Pacer {
    /// A pacer whose jitter comes from `seed` (the boot id: a different rhythm each boot).
    pub(crate) fn new(seed: u32) -> Self {
        Pacer {
            minute: Buckets::new(1_000),
            hour: Buckets::new(60_000),
            day: Buckets::new(3_600_000),
            next_at: 0,
            // xorshift needs a non-zero state.
            rng: seed.wrapping_mul(0x9E37_79B9) | 1,
        }
    }

    /// Takes its jitter from `seed` from now on (as [`Pacer::new`] would).
    pub(crate) fn reseed(&mut self, seed: u32) {
        self.rng = seed.wrapping_mul(0x9E37_79B9) | 1;
    }

    /// Milliseconds to wait before the next segment may go, `None` when it may go now.
    pub(crate) fn wait_ms(&mut self, now_ms: u64, pacing: &Pacing) -> Option<u64> {
        let mut until = self.next_at;
        if pacing.per_minute > 0 && self.minute.count(now_ms) >= u32::from(pacing.per_minute) {
            until = until.max(self.minute.frees_at(now_ms));
        }
        if pacing.per_hour > 0 && self.hour.count(now_ms) >= u32::from(pacing.per_hour) {
            until = until.max(self.hour.frees_at(now_ms));
        }
        if pacing.per_day > 0 && self.day.count(now_ms) >= u32::from(pacing.per_day) {
            until = until.max(self.day.frees_at(now_ms));
        }
        (until > now_ms).then(|| until - now_ms)
    }

    /// Counts a segment handed to the network at `now_ms` and sets the next gap.
    pub(crate) fn record(&mut self, now_ms: u64, pacing: &Pacing) {
        self.minute.add(now_ms);
        self.hour.add(now_ms);
        self.day.add(now_ms);
        self.gap(now_ms, pacing);
    }

    /// Sets the gap after a modem exchange that sent nothing (a failed attempt).
    pub(crate) fn gap(&mut self, now_ms: u64, pacing: &Pacing) {
        let jitter = match pacing.jitter_ms {
            0 => 0,
            j => self.next_random() % j.saturating_add(1),
        };
        self.next_at = now_ms
            .saturating_add(u64::from(pacing.min_gap_ms))
            .saturating_add(u64::from(jitter));
    }

    /// Segments counted in the last minute, hour and day.
    #[cfg(test)]
    pub(crate) fn counts(&mut self, now_ms: u64) -> (u32, u32, u32) {
        (
            self.minute.count(now_ms),
            self.hour.count(now_ms),
            self.day.count(now_ms),
        )
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32 (Marsaglia 2003): enough to break a regular rhythm.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    fn pacing(per_minute: u16, per_hour: u16, per_day: u16) -> Pacing {
        Pacing {
            per_minute,
            per_hour,
            per_day,
            min_gap_ms: 0,
            jitter_ms: 0,
        }
    }

    /// Sends whenever allowed from `start` for `span_ms`, stepping 100 ms; returns the
    /// send times.
    fn run(p: &Pacing, start: u64, span_ms: u64) -> Vec<u64> {
        let mut pacer = Pacer::new(7);
        let mut sent = Vec::new();
        let mut now = start;
        while now < start + span_ms {
            if pacer.wait_ms(now, p).is_none() {
                pacer.record(now, p);
                sent.push(now);
            }
            now += 100;
        }
        sent
    }

    fn max_in_window(sent: &[u64], window: u64) -> usize {
        sent.iter()
            .map(|&t| sent.iter().filter(|&&u| u >= t && u < t + window).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn no_rolling_window_exceeds_its_cap() {
        let p = pacing(6, 20, 50);
        let sent = run(&p, 123_456, 3 * 3_600_000);
        assert!(max_in_window(&sent, 60_000) <= 6);
        assert!(max_in_window(&sent, 3_600_000) <= 20);
        assert_eq!(sent.len(), 50, "the day cap stops at 50 within three hours");
        // The caps are reached, not undershot by much: 6 in the first minute.
        assert_eq!(sent.iter().filter(|&&t| t < 123_456 + 60_000).count(), 6);
    }

    #[test]
    fn the_gap_has_jitter_within_bounds() {
        let p = Pacing {
            per_minute: 0,
            per_hour: 0,
            per_day: 0,
            min_gap_ms: 3_000,
            jitter_ms: 2_000,
        };
        let mut pacer = Pacer::new(42);
        let mut gaps = [0u64; 32];
        for g in gaps.iter_mut() {
            pacer.record(0, &p);
            *g = pacer.wait_ms(0, &p).unwrap();
            assert!((3_000..=5_000).contains(g), "{g}");
        }
        assert!(gaps.iter().any(|&g| g != gaps[0]), "jitter varies");
    }

    #[test]
    fn zero_caps_do_not_limit() {
        let p = pacing(0, 0, 0);
        let mut pacer = Pacer::new(1);
        for i in 0..5_000 {
            assert_eq!(pacer.wait_ms(i, &p), None);
            pacer.record(i, &p);
        }
        assert_eq!(pacer.counts(5_000).0, 5_000);
    }

    #[test]
    fn a_long_silence_empties_every_window() {
        let p = pacing(1, 1, 1);
        let mut pacer = Pacer::new(3);
        pacer.record(10, &p);
        let wait = pacer.wait_ms(20, &p).unwrap();
        // The day window holds the send for a day and at most an hour more.
        assert!((86_400_000..=90_000_000).contains(&wait), "{wait}");
        assert_eq!(pacer.wait_ms(20 + wait, &p), None);
        assert_eq!(pacer.counts(20 + wait), (0, 0, 0));
    }
}
