//! What the Pico's LED (GP25) says:
//!
//! | LED | Meaning |
//! |---|---|
//! | slow blink (1 s on, 1 s off) | the modem is not ready: starting, searching for the network, SIM locked, or being power-cycled |
//! | on, off for a moment after each sent part | ready: the modem is registered and messages can go |
//! | fast blink (5 per second) | halted: the store failed when recording a send; nothing more is sent until restart (`relais device status` says why) |
//! | off, or stuck on | not running: no power, or the firmware stopped (a probe shows why) |

use embassy_rp::gpio::Output;

/// What the LED shows, from the agent.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub halted: bool,
    pub ready: bool,
    /// Segments sent since boot: a change makes the LED blink off.
    pub sent: u32,
}

/// How long the LED goes off after a sent segment.
const SENT_BLINK_MS: u64 = 150;

pub struct Led {
    pin: Output<'static>,
    lit: bool,
    sent: u32,
    sent_at: Option<u64>,
}

impl Led {
    pub fn new(pin: Output<'static>) -> Self {
        Led {
            pin,
            lit: false,
            sent: 0,
            sent_at: None,
        }
    }

    /// Sets the LED for `state` at `now_ms` (only writes the pin on a change).
    pub fn show(&mut self, now_ms: u64, state: State) {
        if state.sent != self.sent {
            self.sent = state.sent;
            self.sent_at = Some(now_ms);
        }
        let lit = if state.halted {
            now_ms % 200 < 100
        } else if !state.ready {
            now_ms % 2_000 < 1_000
        } else {
            !matches!(self.sent_at, Some(at) if now_ms.wrapping_sub(at) < SENT_BLINK_MS)
        };
        if lit != self.lit {
            self.lit = lit;
            self.pin.set_level(lit.into());
        }
    }
}
