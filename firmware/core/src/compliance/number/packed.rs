//! The number tables as flash keeps them: packed at compile time from the generated
//! [`tables`](super::tables), which stay as generated and are only read by the compiler.
//!
//! A row is 4 bytes instead of 12 (area codes) or 16 (zone prefixes), and each table's
//! zone sets are stored once: about 4.5 KB less flash. A regenerated table that no longer
//! fits a packing fails to compile, saying which field.

use super::tables::{NANP, PREFIX_ZONES};
use crate::compliance::tz::ZoneSet;

/// The area code, in bits 0..10 of a [`NANP_ROWS`] row.
const NPA_BITS: u32 = 10;
/// The zone set, as an index into [`NANP_ZONES`], in bits 10..15.
const NANP_ZONE_SHIFT: u32 = 10;
/// The region in bit 15: 0 for `US`, 1 for `CA`.
const REGION_SHIFT: u32 = 15;
/// The state's two letters, 5 bits each (`A` = 1, `-` = 0), in bits 16..26.
const STATE_SHIFT: u32 = 16;

/// The prefix, in bits 0..26 of a [`PREFIX_ROWS`] row (its length is its number of
/// digits: calling codes never start with 0), then an index into [`PREFIX_SETS`].
const PREFIX_BITS: u32 = 26;

/// Every distinct zone set of the NANP table.
static NANP_ZONES: [u64; NANP_SETS.1] = first(NANP_SETS.0);
const NANP_SETS: ([u64; NANP.len()], usize) = distinct(nanp_sets());

/// One `u32` an area code, in the order of [`NANP`] (by area code).
static NANP_ROWS: [u32; NANP.len()] = pack_nanp();

/// Every distinct zone set of the prefix table.
static PREFIX_SETS: [u64; PREFIX_DISTINCT.1] = first(PREFIX_DISTINCT.0);
const PREFIX_DISTINCT: ([u64; PREFIX_ZONES.len()], usize) = distinct(prefix_sets());

/// One `u32` a zone prefix, in the order of [`PREFIX_ZONES`].
static PREFIX_ROWS: [u32; PREFIX_ZONES.len()] = pack_prefixes();

/// The region, US state (`--` for none) and zones of a NANP area code in the table.
pub(super) fn nanp(npa: u16) -> Option<([u8; 2], [u8; 2], ZoneSet)> {
    let mask = (1 << NPA_BITS) - 1;
    let i = NANP_ROWS
        .binary_search_by_key(&u32::from(npa), |row| row & mask)
        .ok()?;
    let row = NANP_ROWS[i];
    let region = if row >> REGION_SHIFT & 1 == 0 {
        *b"US"
    } else {
        *b"CA"
    };
    let letter = |shift: u32| match (row >> shift & 0x1f) as u8 {
        0 => b'-',
        n => b'A' + n - 1,
    };
    let state = [letter(STATE_SHIFT), letter(STATE_SHIFT + 5)];
    let zones = NANP_ZONES.get((row >> NANP_ZONE_SHIFT & 0x1f) as usize)?;
    Some((region, state, ZoneSet::from_bits(*zones)))
}

/// The zones of the longest prefix in the table that a number of `len` digits starts
/// with (`prefix(n)` gives its first `n` digits); empty when none does.
pub(super) fn prefix_zones(len: usize, prefix: impl Fn(usize) -> u64) -> ZoneSet {
    let mask = (1 << PREFIX_BITS) - 1;
    for n in (1..=len.min(MAX_PREFIX_DIGITS)).rev() {
        let p = prefix(n);
        if let Some(row) = PREFIX_ROWS.iter().find(|&&row| u64::from(row & mask) == p) {
            let zones = PREFIX_SETS.get((row >> PREFIX_BITS) as usize);
            return zones.map_or(ZoneSet::EMPTY, |&z| ZoneSet::from_bits(z));
        }
    }
    ZoneSet::EMPTY
}

/// Digits of the longest prefix a row can hold (`10^8 > 2^26`).
const MAX_PREFIX_DIGITS: usize = 8;

const fn nanp_sets() -> [u64; NANP.len()] {
    let mut out = [0; NANP.len()];
    let mut i = 0;
    while i < NANP.len() {
        out[i] = NANP[i].3 as u64;
        i += 1;
    }
    out
}

const fn prefix_sets() -> [u64; PREFIX_ZONES.len()] {
    let mut out = [0; PREFIX_ZONES.len()];
    let mut i = 0;
    while i < PREFIX_ZONES.len() {
        out[i] = PREFIX_ZONES[i].2;
        i += 1;
    }
    out
}

const fn pack_nanp() -> [u32; NANP.len()] {
    let mut out = [0; NANP.len()];
    let mut i = 0;
    while i < NANP.len() {
        let (npa, region, state, zones) = NANP[i];
        assert!(
            (npa as u32) < 1 << NPA_BITS,
            "NANP: an area code does not fit"
        );
        let set = index_of(&NANP_SETS.0, NANP_SETS.1, zones as u64);
        assert!(set < 32, "NANP: more than 32 zone sets");
        let region = match region {
            [b'U', b'S'] => 0,
            [b'C', b'A'] => 1,
            _ => panic!("NANP: a region other than US or CA"),
        };
        out[i] = npa as u32
            | (set as u32) << NANP_ZONE_SHIFT
            | region << REGION_SHIFT
            | letter(state[0]) << STATE_SHIFT
            | letter(state[1]) << (STATE_SHIFT + 5);
        if i > 0 {
            assert!(NANP[i - 1].0 < npa, "NANP: area codes out of order");
        }
        i += 1;
    }
    out
}

const fn letter(byte: u8) -> u32 {
    match byte {
        b'-' => 0,
        b'A'..=b'Z' => (byte - b'A' + 1) as u32,
        _ => panic!("NANP: a state is not two capital letters or `--`"),
    }
}

const fn pack_prefixes() -> [u32; PREFIX_ZONES.len()] {
    let mut out = [0; PREFIX_ZONES.len()];
    let mut i = 0;
    while i < PREFIX_ZONES.len() {
        let (prefix, len, zones) = PREFIX_ZONES[i];
        assert!(
            prefix < 1 << PREFIX_BITS,
            "PREFIX_ZONES: a prefix does not fit"
        );
        assert!(
            digits(prefix) == len as u32,
            "PREFIX_ZONES: a length is not the prefix's number of digits"
        );
        let set = index_of(&PREFIX_DISTINCT.0, PREFIX_DISTINCT.1, zones);
        assert!(set < 64, "PREFIX_ZONES: more than 64 zone sets");
        out[i] = prefix | (set as u32) << PREFIX_BITS;
        i += 1;
    }
    out
}

const fn digits(mut value: u32) -> u32 {
    let mut n = 0;
    while value > 0 {
        value /= 10;
        n += 1;
    }
    n
}

/// The distinct zone sets of `sets` in first-seen order, and how many there are.
const fn distinct<const N: usize>(sets: [u64; N]) -> ([u64; N], usize) {
    let mut out = [0; N];
    let mut len = 0;
    let mut i = 0;
    while i < N {
        if index_of(&out, len, sets[i]) == len {
            out[len] = sets[i];
            len += 1;
        }
        i += 1;
    }
    (out, len)
}

/// Where `set` is among the first `len` of `sets` (`len` when it is not).
const fn index_of(sets: &[u64], len: usize, set: u64) -> usize {
    let mut i = 0;
    while i < len && sets[i] != set {
        i += 1;
    }
    i
}

const fn first<const K: usize, const N: usize>(sets: [u64; N]) -> [u64; K] {
    let mut out = [0; K];
    let mut i = 0;
    while i < K {
        out[i] = sets[i];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rows_read_back_as_generated() {
        for &(npa, region, state, zones) in NANP {
            let packed = nanp(npa).unwrap();
            assert_eq!(
                packed,
                (region, state, ZoneSet::from_bits(u64::from(zones)))
            );
        }
        assert_eq!(nanp(211), None);
        for &(prefix, len, zones) in PREFIX_ZONES {
            let digits = u64::from(prefix);
            let len = usize::from(len);
            let zones_of = prefix_zones(len, |n| digits / 10u64.pow((len - n) as u32));
            assert_eq!(zones_of, ZoneSet::from_bits(zones), "{prefix}");
        }
    }
}
