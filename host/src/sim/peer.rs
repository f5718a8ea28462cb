//! The simulator as the peer of the real modem driver, in process: a [`World`]'s modem
//! line as an `embedded-hal-nb` serial port, its clock as the driver's [`Clock`], and
//! a power switch that reboots the simulated modem. Used by the driver and agent tests
//! in virtual time (`relais::sim` users that run `relais_agent` against the simulator).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::modem::{Clock, ModemPower};

use super::world::World;

/// A world shared by the port, the clock and the power switch of one driver.
pub type Shared = Rc<RefCell<World>>;

/// Modem `index`'s serial line. Reading ticks the world and takes what the modem
/// printed; writing feeds the modem.
#[derive(Debug)]
pub struct WorldPort {
    world: Shared,
    modem: usize,
    rx: VecDeque<u8>,
}

impl WorldPort {
    /// The line of modem `modem` (0 for the first) of `world`.
    pub fn new(world: &Shared, modem: usize) -> WorldPort {
        WorldPort {
            world: Rc::clone(world),
            modem,
            rx: VecDeque::new(),
        }
    }
}

impl ErrorType for WorldPort {
    type Error = ErrorKind;
}

impl Read<u8> for WorldPort {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        if self.rx.is_empty() {
            let mut w = self.world.borrow_mut();
            w.tick();
            let out = w.take_output(self.modem);
            self.rx.extend(out);
        }
        self.rx.pop_front().ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for WorldPort {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.world.borrow_mut().feed(self.modem, &[byte]);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

/// The world's virtual clock, in milliseconds.
#[derive(Debug, Clone)]
pub struct WorldClock(pub Shared);

impl Clock for WorldClock {
    fn now_ms(&self) -> u64 {
        self.0.borrow().clock.now().0 as u64
    }
}

/// Power-cycling modem `modem` reboots it in the simulator.
#[derive(Debug)]
pub struct WorldPower {
    world: Shared,
    modem: usize,
}

impl WorldPower {
    /// The power switch of modem `modem` of `world`.
    pub fn new(world: &Shared, modem: usize) -> WorldPower {
        WorldPower {
            world: Rc::clone(world),
            modem,
        }
    }
}

impl ModemPower for WorldPower {
    fn power_off(&mut self) {}
    fn power_on(&mut self) {
        let _ = self
            .world
            .borrow_mut()
            .inject_fault(self.modem, "reboot", None, 0.0);
    }
}
