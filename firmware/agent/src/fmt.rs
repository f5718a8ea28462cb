//! Logging shim: the same call sites log through `defmt` on boards (feature `defmt`)
//! and compile to nothing otherwise (embassy's `fmt.rs` pattern). Arguments must be
//! values the code uses anyway, so that nothing is computed only for logging.
#![allow(unused_macros)]

macro_rules! debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($arg)*);
    };
}

macro_rules! info {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        ::defmt::info!($($arg)*);
    };
}

macro_rules! warn {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($arg)*);
    };
}
