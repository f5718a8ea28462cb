//! Per-SIM sending pace ([`Pacing`]): rolling per-minute, per-hour and per-day caps on
//! segments, and a least gap with random jitter between two segments. Operators flag
//! SIMs that send fast or at a machine-regular rhythm.
//!
//! The rolling windows count segments in fixed buckets (1 s for the minute, 1 min for
//! the hour, 1 h for the day) and keep one bucket more than the period, so a window
//! always covers at least the whole period: a cap can be reached a little early (by at
//! most one bucket width), never exceeded.
//!
//! A message of several segments is paced whole: its first segment waits until every
//! cap has room for all of them (`Pacer::wait_ms` with `need`), so a cap never splits
//! it. A message with more segments than a cap is given the whole empty window.
//!
//! The counts live in RAM (294 bytes), and after every segment a summary of them goes to
//! the store ([`PaceMark`]: the minute's and the hour's counts, the day's in 4-hour
//! groups, with the UTC instant they were taken at). After a reboot the agent puts them
//! back once it knows UTC again (`Pacer::restore`), each segment at the latest instant
//! it can have been sent: a reboot never resets a cap, and at worst holds back for up to
//! one group's width a segment the exact times would have let go.

use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::Pacing;

use crate::store::PaceMark;

/// Times inside the pacer are the monotonic clock plus this much, so that segments sent
/// before a reboot (restored from the store) have a place in the windows: more than the
/// day window and its spare bucket.
const BASE_MS: u64 = 26 * HOUR_MS;
const HOUR_MS: u64 = 3_600_000;
/// Hour buckets per group of [`PaceMark::day`]; the last group takes the spare bucket.
const GROUP: usize = 4;

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

    /// When the `k` oldest counted segments have left the window.
    fn frees_at(&mut self, now_ms: u64, k: u32) -> u64 {
        self.roll(now_ms);
        let first = self.newest.saturating_sub(B as u64 - 1);
        let mut left = k;
        for n in first..=self.newest {
            let c = self.counts.get((n % B as u64) as usize).copied();
            let c = u32::from(c.unwrap_or(0));
            if c >= left {
                return (n + B as u64).saturating_mul(self.width_ms);
            }
            left -= c;
        }
        now_ms
    }

    /// When `need` more segments fit under `cap` (0: no cap): `now_ms` when they do now.
    #[inline(never)]
    fn room_at(&mut self, now_ms: u64, cap: u16, need: u32) -> u64 {
        if cap == 0 {
            return now_ms;
        }
        let cap = u32::from(cap);
        // A message longer than the cap gets the whole window, and no more.
        let need = need.clamp(1, cap);
        let count = self.count(now_ms);
        match (count + need).checked_sub(cap) {
            Some(over) if over > 0 => self.frees_at(now_ms, over),
            _ => now_ms,
        }
    }

    /// Counts `n` segments sent at `at_ms` (in the past), when that is still in the window.
    fn add_at(&mut self, now_ms: u64, at_ms: u64, n: u16) {
        self.roll(now_ms);
        let index = at_ms / self.width_ms.max(1);
        if index > self.newest || self.newest - index >= B as u64 {
            return;
        }
        if let Some(c) = self.counts.get_mut((index % B as u64) as usize) {
            *c = c.saturating_add(n);
        }
    }

    /// The count of the bucket `back` buckets before the newest.
    fn bucket(&self, back: usize) -> u16 {
        let Some(n) = self.newest.checked_sub(back as u64) else {
            return 0;
        };
        self.counts
            .get((n % B as u64) as usize)
            .copied()
            .unwrap_or(0)
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
    /// The counts of the last boot have not been read back from the store yet.
    pub(crate) unrestored: bool,
    /// The store does not have the counts of the last segment yet.
    pub(crate) unsaved: bool,
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
            unrestored: true,
            unsaved: false,
        }
    }

    /// Takes its jitter from `seed` from now on (as [`Pacer::new`] would).
    pub(crate) fn reseed(&mut self, seed: u32) {
        self.rng = seed.wrapping_mul(0x9E37_79B9) | 1;
    }

    /// Milliseconds to wait before the next segment may go, `None` when it may go now.
    /// `need` is the segments the caps must have room for: a message's count before its
    /// first segment, 1 for the next segment of a message under way.
    pub(crate) fn wait_ms(&mut self, now_ms: u64, pacing: &Pacing, need: u8) -> Option<u64> {
        let now = now_ms.saturating_add(BASE_MS);
        let need = u32::from(need);
        let until = self
            .next_at
            .max(self.minute.room_at(now, pacing.per_minute, need))
            .max(self.hour.room_at(now, pacing.per_hour, need))
            .max(self.day.room_at(now, pacing.per_day, need));
        (until > now).then(|| until - now)
    }

    /// Counts a segment handed to the network at `now_ms` and sets the next gap.
    pub(crate) fn record(&mut self, now_ms: u64, pacing: &Pacing) {
        let now = now_ms.saturating_add(BASE_MS);
        self.minute.add(now);
        self.hour.add(now);
        self.day.add(now);
        self.gap(now_ms, pacing);
    }

    /// Sets the gap after a modem exchange that sent nothing (a failed attempt).
    pub(crate) fn gap(&mut self, now_ms: u64, pacing: &Pacing) {
        let jitter = match pacing.jitter_ms {
            0 => 0,
            j => self.next_random() % j.saturating_add(1),
        };
        self.next_at = now_ms
            .saturating_add(BASE_MS)
            .saturating_add(u64::from(pacing.min_gap_ms))
            .saturating_add(u64::from(jitter));
    }

    /// The counts at `now_ms`, which is `at` in UTC, for the store.
    pub(crate) fn mark(&mut self, now_ms: u64, at: UtcInstant) -> PaceMark {
        let now = now_ms.saturating_add(BASE_MS);
        let mut day = [0u16; 6];
        self.day.roll(now);
        for back in 0..25 {
            if let Some(g) = day.get_mut((back / GROUP).min(5)) {
                *g = g.saturating_add(self.day.bucket(back));
            }
        }
        let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
        PaceMark {
            at,
            minute: clamp(self.minute.count(now)),
            hour: clamp(self.hour.count(now)),
            day,
        }
    }

    /// Adds the segments of `mark` (taken before a reboot) at `now_ms`, which is `now` in
    /// UTC: each at the latest instant it can have been sent, so no cap is exceeded.
    pub(crate) fn restore(&mut self, mark: &PaceMark, now_ms: u64, now: UtcInstant) {
        let t = now_ms.saturating_add(BASE_MS);
        // A clock that went back counts everything as just sent.
        let ago = u64::try_from(now.0.saturating_sub(mark.at.0)).unwrap_or(0);
        let Some(at) = t.checked_sub(ago.saturating_mul(1_000)) else {
            return; // older than every window
        };
        self.minute.add_at(t, at, mark.minute);
        self.hour.add_at(t, at, mark.hour);
        for (g, &n) in mark.day.iter().enumerate() {
            // Group g's newest bucket ended at most (4g - 1) hours before `at`.
            let back = (GROUP * g).saturating_sub(1) as u64 * HOUR_MS;
            if let Some(when) = at.checked_sub(back) {
                self.day.add_at(t, when, n);
            }
        }
    }

    /// Segments counted in the last minute, hour and day.
    #[cfg(test)]
    pub(crate) fn counts(&mut self, now_ms: u64) -> (u32, u32, u32) {
        let now = now_ms.saturating_add(BASE_MS);
        (
            self.minute.count(now),
            self.hour.count(now),
            self.day.count(now),
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
            if pacer.wait_ms(now, p, 1).is_none() {
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
            *g = pacer.wait_ms(0, &p, 1).unwrap();
            assert!((3_000..=5_000).contains(g), "{g}");
        }
        assert!(gaps.iter().any(|&g| g != gaps[0]), "jitter varies");
    }

    #[test]
    fn zero_caps_do_not_limit() {
        let p = pacing(0, 0, 0);
        let mut pacer = Pacer::new(1);
        for i in 0..5_000 {
            assert_eq!(pacer.wait_ms(i, &p, 1), None);
            pacer.record(i, &p);
        }
        assert_eq!(pacer.counts(5_000).0, 5_000);
    }

    #[test]
    fn a_long_silence_empties_every_window() {
        let p = pacing(1, 1, 1);
        let mut pacer = Pacer::new(3);
        pacer.record(10, &p);
        let wait = pacer.wait_ms(20, &p, 1).unwrap();
        // The day window holds the send for a day and at most an hour more.
        assert!((86_400_000..=90_000_000).contains(&wait), "{wait}");
        assert_eq!(pacer.wait_ms(20 + wait, &p, 1), None);
        assert_eq!(pacer.counts(20 + wait), (0, 0, 0));
    }

    #[test]
    fn a_message_waits_until_every_cap_has_room_for_all_its_segments() {
        for (p, window) in [
            (pacing(5, 0, 0), 60_000),
            (pacing(0, 5, 0), 3_600_000),
            (pacing(0, 0, 5), 86_400_000),
        ] {
            let mut pacer = Pacer::new(5);
            for t in [1_000, 2_000, 3_000] {
                pacer.record(t, &p);
            }
            // Room for 2: one segment may go, a message of 3 waits.
            assert_eq!(pacer.wait_ms(4_000, &p, 1), None);
            assert_eq!(pacer.wait_ms(4_000, &p, 2), None);
            let wait = pacer.wait_ms(4_000, &p, 3).expect("three do not fit");
            // Until the first segment leaves the window (within one bucket of it).
            assert!(wait + 4_000 >= 1_000 + window, "{wait}");
            // A message longer than the cap needs the whole window empty.
            let longer = pacer.wait_ms(4_000, &p, 9).expect("longer than the cap");
            assert!(longer + 4_000 >= 3_000 + window, "{longer}");
            assert_eq!(pacer.wait_ms(4_000 + wait, &p, 3), None);
        }
    }

    #[test]
    fn restored_counts_hold_the_caps_after_a_reboot() {
        let p = pacing(10, 40, 60);
        let mut before = Pacer::new(1);
        let t0 = 50 * HOUR_MS;
        // 30 segments over 10 hours, then 5 in the last minute.
        let last = t0 + 10 * HOUR_MS;
        let sent: Vec<u64> = (0..30)
            .map(|i| t0 + i * 20 * 60_000)
            .chain((0..5).map(|i| last + i * 1_000))
            .collect();
        for &t in &sent {
            before.record(t, &p);
        }
        let at = UtcInstant(1_000_000);
        let mark = before.mark(last + 5_000, at);
        assert_eq!((mark.minute, mark.hour), (5, 8));
        assert_eq!(mark.day.iter().map(|&n| u32::from(n)).sum::<u32>(), 35);
        // A new boot: the monotonic clock starts again, 30 s later in UTC.
        let mut after = Pacer::new(2);
        after.restore(&mark, 2_000, UtcInstant(1_000_030));
        let (minute, hour, day) = after.counts(2_000);
        assert_eq!((minute, hour, day), (5, 8, 35));
        // The minute cap (10) has room for 5, not 6; the day cap (60) for 25, not 26.
        assert_eq!(after.wait_ms(2_000, &p, 5), None);
        assert!(after.wait_ms(2_000, &p, 6).is_some());
        let p2 = pacing(0, 0, 60);
        assert_eq!(after.wait_ms(2_000, &p2, 25), None);
        assert!(after.wait_ms(2_000, &p2, 26).is_some());
        // At every later instant the restored pacer counts at least the segments really
        // sent in each window before it (the original's clock: 35 s behind).
        let mut probe = Pacer::new(3);
        probe.restore(&mark, 2_000, UtcInstant(1_000_030));
        let mut a = 2_000;
        while a < 2_000 + 26 * HOUR_MS {
            let m = last + 5_000 + 30_000 + (a - 2_000);
            let within = |w: u64| sent.iter().filter(|&&s| s <= m && m - s < w).count() as u32;
            let (x, y, z) = probe.counts(a);
            let real = (within(60_000), within(HOUR_MS), within(24 * HOUR_MS));
            assert!(
                x >= real.0 && y >= real.1 && z >= real.2,
                "{a}: {:?} < {real:?}",
                (x, y, z)
            );
            a += 60_000;
        }
        assert_eq!(probe.counts(a), (0, 0, 0));
        // A mark older than every window adds nothing.
        let mut late = Pacer::new(4);
        late.restore(&mark, 2_000, UtcInstant(1_000_000 + 2 * 86_400));
        assert_eq!(late.counts(2_000), (0, 0, 0));
    }
}
