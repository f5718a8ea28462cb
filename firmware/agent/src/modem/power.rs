//! Modems switched by a power key: a pulse on PWRKEY turns the module on, a longer one
//! turns it off, and the same pulse means "on" or "off" depending on the state the
//! module is in. [`PowerKey`] is the [`ModemPower`] for such modems (the SIM800 and
//! SIM7600 families, A76xx, most Quectel modules), with the module's STATUS output
//! read when it is wired.
//!
//! Why the STATUS pin matters: a key toggles. Pressing "off" on a module that is
//! already off turns it on, and the "on" press that follows turns it off again. With
//! STATUS wired, a press happens only when the module is not already in the state
//! asked for, with that transition's length. Without it, [`PowerKey`] presses once per
//! power cycle, in [`ModemPower::power_on`], for the *off* length, which on the SIM800
//! family is also a valid *on* press (on: at least 1 s; off: 1.5 s to 33 s): a hung
//! module (on) goes off, the driver finds it silent after its next boot delay and
//! cycles again, and that press brings it up. A module that starts switched off (as
//! the Waveshare Pico-SIM868 does) is turned on by the first cycle. A cycle without
//! STATUS can so take two rounds; with it, one. For modules whose manual does not
//! allow one press length both ways, wire STATUS.
//!
//! The pulses block the caller for their length (at most [`KeyTiming::off`]): power
//! cycles are rare recoveries, and the link's hardware holds the host's bytes
//! meanwhile (a USB device NAKs; a UART needs flow control or the host's retry).

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use relais_core::at::command::Millis;

use super::ModemPower;

/// How long to hold the power key for each transition.
///
/// The figures are each module's "pull PWRKEY low for at least …" from its hardware
/// design manual, with margin; check the manual of your module (docs/boards/pico.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyTiming {
    /// Press length that turns the module on.
    pub on: Millis,
    /// Press length that turns the module off (the module logs off the network first).
    pub off: Millis,
}

impl KeyTiming {
    /// SIM800 / SIM868: on after at least 1 s low; off after 1.5 s to 33 s low (a press
    /// longer than 33 s restarts the module). SIM868 Series Hardware Design V1.06
    /// §5.3.1 and §5.3.2.1.
    pub const SIM800: KeyTiming = KeyTiming {
        on: Millis(1_200),
        off: Millis(1_800),
    };
    /// SIM7500 / SIM7600: on after about 500 ms low; off after at least 2.5 s low
    /// (SIM7600 Series Hardware Design, power on/off sections).
    pub const SIM7600: KeyTiming = KeyTiming {
        on: Millis(600),
        off: Millis(3_000),
    };
    /// A7670 / A7672 (SIMCom A76xx): on after at least 50 ms low (100 ms typical); off
    /// after at least 2.5 s low (A76XX Series Hardware Design, power on/off sections).
    pub const A7670: KeyTiming = KeyTiming {
        on: Millis(150),
        off: Millis(3_000),
    };
}

/// Which level of the board's pin presses the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyLevel {
    /// The pin is the key: low presses it (a module's PWRKEY wired straight to the MCU).
    ActiveLow,
    /// The pin drives a transistor that pulls the key low: high presses it (most
    /// modem boards and HATs, among them Waveshare's Pico HATs).
    ActiveHigh,
}

/// Whether the module is on, read from its STATUS output when the board has one.
pub trait PowerStatus {
    /// `Some(true)` when the module is on, `Some(false)` when off, `None` when unknown.
    fn is_on(&mut self) -> Option<bool>;
}

/// No STATUS pin: the state is unknown.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStatus;

impl PowerStatus for NoStatus {
    fn is_on(&mut self) -> Option<bool> {
        None
    }
}

/// The module's STATUS output on an input pin: high while the module is on.
#[derive(Debug)]
pub struct StatusPin<P>(pub P);

impl<P: InputPin> PowerStatus for StatusPin<P> {
    fn is_on(&mut self) -> Option<bool> {
        self.0.is_high().ok()
    }
}

/// [`ModemPower`] through a power key, with an optional STATUS input.
///
/// Pin errors are ignored as for [`super::SupplyPin`]: a cycle that did not happen
/// shows up as a modem that still does not answer, and is tried again.
#[derive(Debug)]
pub struct PowerKey<K, S, D> {
    key: K,
    level: KeyLevel,
    status: S,
    delay: D,
    timing: KeyTiming,
    presses: u32,
}

impl<K: OutputPin, S: PowerStatus, D: DelayNs> PowerKey<K, S, D> {
    /// A key on `key` pressed at `level`, with `timing`. The key is released at once.
    pub fn new(key: K, level: KeyLevel, status: S, delay: D, timing: KeyTiming) -> Self {
        let mut power = PowerKey {
            key,
            level,
            status,
            delay,
            timing,
            presses: 0,
        };
        power.release();
        power
    }

    /// Presses since start (for logs and tests).
    pub fn presses(&self) -> u32 {
        self.presses
    }

    /// The module's state as STATUS shows it (`None` without a STATUS pin).
    pub fn is_on(&mut self) -> Option<bool> {
        self.status.is_on()
    }

    /// Holds the key for `length`, then releases it.
    pub fn press(&mut self, length: Millis) {
        let _ = match self.level {
            KeyLevel::ActiveLow => self.key.set_low(),
            KeyLevel::ActiveHigh => self.key.set_high(),
        };
        self.delay.delay_ms(length.0);
        self.release();
        self.presses = self.presses.saturating_add(1);
    }

    fn release(&mut self) {
        let _ = match self.level {
            KeyLevel::ActiveLow => self.key.set_high(),
            KeyLevel::ActiveHigh => self.key.set_low(),
        };
    }

    /// The parts back: key pin, STATUS, delay.
    pub fn release_parts(self) -> (K, S, D) {
        (self.key, self.status, self.delay)
    }
}

impl<K: OutputPin, S: PowerStatus, D: DelayNs> ModemPower for PowerKey<K, S, D> {
    fn power_off(&mut self) {
        // Without STATUS the state is unknown: pressing here could turn an off module
        // on, and the press of `power_on` would then turn it off. One press per cycle.
        if self.status.is_on() == Some(true) {
            self.press(self.timing.off);
        }
    }

    fn power_on(&mut self) {
        match self.status.is_on() {
            Some(true) => {}
            Some(false) => self.press(self.timing.on),
            // Unknown state: a press that toggles either way (module docs).
            None => self.press(self.timing.off),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;
    use core::convert::Infallible;

    /// What happened to the pins, in order, with the time of each change.
    #[derive(Debug, Default)]
    struct Bench {
        now_ms: u32,
        /// (time, pin level) of every key write.
        key: heapless::Vec<(u32, bool), 16>,
        /// The module: toggled by a complete press of at least `on`/`off` length.
        module_on: bool,
        pressed_at: Option<u32>,
    }

    struct Key<'a>(&'a RefCell<Bench>, KeyLevel, KeyTiming);
    struct Status<'a>(&'a RefCell<Bench>);
    struct Delay<'a>(&'a RefCell<Bench>);

    impl embedded_hal::digital::ErrorType for Key<'_> {
        type Error = Infallible;
    }
    impl Key<'_> {
        fn set(&mut self, high: bool) {
            let mut b = self.0.borrow_mut();
            let now = b.now_ms;
            b.key.push((now, high)).unwrap();
            let pressed = match self.1 {
                KeyLevel::ActiveLow => !high,
                KeyLevel::ActiveHigh => high,
            };
            match (pressed, b.pressed_at) {
                (true, None) => b.pressed_at = Some(now),
                (false, Some(at)) => {
                    b.pressed_at = None;
                    let held = now - at;
                    let needed = if b.module_on {
                        self.2.off.0
                    } else {
                        self.2.on.0
                    };
                    if held >= needed {
                        b.module_on = !b.module_on;
                    }
                }
                _ => {}
            }
        }
    }
    impl OutputPin for Key<'_> {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.set(false);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            self.set(true);
            Ok(())
        }
    }
    impl embedded_hal::digital::ErrorType for Status<'_> {
        type Error = Infallible;
    }
    impl InputPin for Status<'_> {
        fn is_high(&mut self) -> Result<bool, Infallible> {
            Ok(self.0.borrow().module_on)
        }
        fn is_low(&mut self) -> Result<bool, Infallible> {
            Ok(!self.0.borrow().module_on)
        }
    }
    impl DelayNs for Delay<'_> {
        fn delay_ns(&mut self, ns: u32) {
            self.0.borrow_mut().now_ms += ns.div_ceil(1_000_000);
        }
        fn delay_ms(&mut self, ms: u32) {
            self.0.borrow_mut().now_ms += ms;
        }
    }

    /// A key of `level` and timing `t` on the bench `b`, reading `status`.
    fn key_on<'b, S: PowerStatus>(
        b: &'b RefCell<Bench>,
        level: KeyLevel,
        t: KeyTiming,
        status: S,
    ) -> PowerKey<Key<'b>, S, Delay<'b>> {
        PowerKey::new(Key(b, level, t), level, status, Delay(b), t)
    }

    fn bench(on: bool) -> RefCell<Bench> {
        RefCell::new(Bench {
            module_on: on,
            ..Bench::default()
        })
    }

    #[test]
    fn the_key_is_released_at_start_and_pressed_for_the_datasheet_length() {
        let b = bench(false);
        let t = KeyTiming::SIM800;
        let mut key = key_on(&b, KeyLevel::ActiveHigh, t, StatusPin(Status(&b)));
        key.power_on();
        let b = b.borrow();
        // Released (low) at start, pressed (high) at 0, released 1.2 s later.
        assert_eq!(&b.key[..], &[(0, false), (0, true), (1_200, false)]);
        assert!(b.module_on);
    }

    #[test]
    fn with_status_a_cycle_turns_a_running_module_off_then_on() {
        for level in [KeyLevel::ActiveLow, KeyLevel::ActiveHigh] {
            let b = bench(true);
            let t = KeyTiming::SIM7600;
            let mut key = key_on(&b, level, t, StatusPin(Status(&b)));
            key.power_off();
            assert!(!b.borrow().module_on, "{level:?}: off after the off press");
            key.power_on();
            assert!(b.borrow().module_on, "{level:?}: on after the on press");
            assert_eq!(key.presses(), 2);
        }
    }

    #[test]
    fn with_status_nothing_is_pressed_when_the_module_is_already_there() {
        let b = bench(false);
        let t = KeyTiming::A7670;
        let mut key = key_on(&b, KeyLevel::ActiveLow, t, StatusPin(Status(&b)));
        key.power_off();
        assert_eq!(
            key.presses(),
            0,
            "already off: an off press would turn it on"
        );
        key.power_on();
        key.power_on();
        assert_eq!(
            key.presses(),
            1,
            "already on: a second press would turn it off"
        );
        assert!(b.borrow().module_on);
    }

    #[test]
    fn without_status_each_cycle_toggles_once_and_two_cycles_recover_a_hung_module() {
        // A hung module is on: the first cycle turns it off, the second on again.
        let b = bench(true);
        let t = KeyTiming::SIM800;
        let mut key = key_on(&b, KeyLevel::ActiveHigh, t, NoStatus);
        key.power_off();
        assert_eq!(key.presses(), 0);
        key.power_on();
        assert!(!b.borrow().module_on);
        key.power_off();
        key.power_on();
        assert!(b.borrow().module_on);
        // A module that starts off comes up in the first cycle.
        let b = bench(false);
        let mut key = key_on(&b, KeyLevel::ActiveHigh, t, NoStatus);
        key.power_off();
        key.power_on();
        assert!(b.borrow().module_on);
    }

    #[test]
    fn off_presses_are_long_enough_and_below_the_restart_limit() {
        for t in [KeyTiming::SIM800, KeyTiming::SIM7600, KeyTiming::A7670] {
            assert!(t.off.0 >= 1_500 && t.off.0 < 33_000, "{t:?}");
            assert!(t.on.0 >= 50 && t.on.0 < t.off.0, "{t:?}");
        }
    }
}
