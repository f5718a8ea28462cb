//! Removing from a `heapless::Vec` while keeping the order of the rest, without
//! `memmove`.
//!
//! `Vec::remove` shifts the tail with `ptr::copy`, which links `compiler_builtins`'
//! `memmove`: 1.6 KiB of flash on a Cortex-M, for vectors of a handful of entries. Moving
//! the removed entry to the end by swaps and popping it does the same in place.

use heapless::Vec;

/// Removes and returns the entry at `index`, the later ones moving down one place;
/// `None` when `index` is out of bounds.
pub(crate) fn remove<T, const N: usize>(vec: &mut Vec<T, N>, index: usize) -> Option<T> {
    if index >= vec.len() {
        return None;
    }
    for i in index + 1..vec.len() {
        vec.swap(i - 1, i);
    }
    vec.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_keeps_its_order() {
        let mut v: Vec<u32, 5> = Vec::from_slice(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(remove(&mut v, 1), Some(2));
        assert_eq!(v, [1, 3, 4, 5]);
        assert_eq!(remove(&mut v, 0), Some(1));
        assert_eq!(remove(&mut v, 2), Some(5));
        assert_eq!(v, [3, 4]);
        assert_eq!(remove(&mut v, 2), None);
        assert_eq!(v, [3, 4]);
        assert_eq!(remove(&mut v, 1), Some(4));
        assert_eq!(remove(&mut v, 0), Some(3));
        assert!(v.is_empty());
    }
}
