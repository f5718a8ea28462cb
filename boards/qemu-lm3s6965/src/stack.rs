//! Stack high-water mark: the free stack is painted with a pattern at boot, and the
//! deepest word no longer holding it tells how much stack the firmware has used.
//!
//! Static RAM (`.data` + `.bss`) is read from the ELF by the size report; the stack is
//! the rest of the RAM a device needs, and only a run can measure it.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PAINT: u32 = 0xA5A5_A5A5;
/// Words below the current stack pointer left unpainted (the painter's own frame).
const MARGIN_WORDS: usize = 16;

unsafe extern "C" {
    /// Lowest address of the stack region (cortex-m-rt: end of `.bss`/`.uninit`).
    static _stack_end: u32;
    /// Initial stack pointer: the top of RAM.
    static _stack_start: u32;
}

fn bottom() -> usize {
    addr_of!(_stack_end) as usize
}

fn top() -> usize {
    addr_of!(_stack_start) as usize
}

/// Paints the unused stack. Call once, first thing in `main`.
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let end = sp.saturating_sub(MARGIN_WORDS * 4);
    let mut p = (bottom() + 3) & !3;
    while p < end {
        // SAFETY: [bottom, sp - margin) is stack nobody uses yet: below the current
        // frame and above every static.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack used so far (deepest point since [`paint`]).
pub fn used() -> usize {
    let mut p = (bottom() + 3) & !3;
    let top = top();
    while p < top {
        // SAFETY: reading words of the stack region, which is always mapped RAM.
        if unsafe { read_volatile(p as *const u32) } != PAINT {
            break;
        }
        p += 4;
    }
    top - p
}

/// Bytes between the end of the statics and the top of RAM.
pub fn size() -> usize {
    top() - bottom()
}
