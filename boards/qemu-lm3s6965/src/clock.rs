//! Monotonic millisecond clock from SysTick.
//!
//! SysTick counts the core clock (12.5 MHz on QEMU's lm3s6965evb) and interrupts once
//! per millisecond; the handler advances a 64-bit counter that never wraps in practice.

use core::cell::Cell;
use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::exception;

const CORE_CLOCK_HZ: u32 = 12_500_000;
const TICK_HZ: u32 = 1_000;

static MILLIS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

/// Starts the 1 kHz tick. Call once, before anything reads [`now_ms`].
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_CLOCK_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Milliseconds since [`start`].
pub fn now_ms() -> u64 {
    interrupt::free(|cs| MILLIS.borrow(cs).get())
}

#[exception]
fn SysTick() {
    interrupt::free(|cs| {
        let millis = MILLIS.borrow(cs);
        millis.set(millis.get() + 1);
    });
}
