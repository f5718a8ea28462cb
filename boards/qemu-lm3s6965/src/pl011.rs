//! ARM PrimeCell PL011 UART, as found (Luminary variant) in the LM3S6965 and modelled by
//! QEMU. Register map from the ARM PL011 Technical Reference Manual (DDI 0183), §3.2;
//! base addresses from the LM3S6965 datasheet, table 2-4 (UART0 at 0x4000_C000, UART1 at
//! 0x4000_D000).
//!
//! No maintained crate offers a PL011 driver with the `embedded-hal-nb` serial traits
//! for Cortex-M (`arm-pl011-uart` targets `embedded-io` on application processors), and
//! the driver is a handful of registers, so it lives here.

use core::ptr::{read_volatile, write_volatile};
use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};

/// UART0: the host link on this board.
pub const UART0: usize = 0x4000_C000;
/// UART1: the modem on this board.
pub const UART1: usize = 0x4000_D000;

/// System clock QEMU models for the lm3s6965evb at reset (200 MHz PLL / 16).
pub const UART_CLOCK_HZ: u32 = 12_500_000;

const DR: usize = 0x000; // data
const RSR_ECR: usize = 0x004; // receive status / error clear
const FR: usize = 0x018; // flags
const IBRD: usize = 0x024; // integer baud divisor
const FBRD: usize = 0x028; // fractional baud divisor
const LCRH: usize = 0x02C; // line control
const CR: usize = 0x030; // control

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;

const DR_FE: u32 = 1 << 8;
const DR_PE: u32 = 1 << 9;
const DR_BE: u32 = 1 << 10;
const DR_OE: u32 = 1 << 11;

const LCRH_FEN: u32 = 1 << 4;
const LCRH_WLEN_8: u32 = 0b11 << 5;

const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;

/// One PL011 in 8N1 mode with both FIFOs enabled.
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// Configures the UART at `base` for `baud` bit/s, 8N1, FIFOs on, and enables it.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a PL011, and no other code may access it while
    /// the returned value exists.
    pub unsafe fn new(base: usize, baud: u32) -> Self {
        let uart = Self { base };
        // Divisor = clock / (16 * baud), as a 16.6 fixed-point number (TRM §3.3.6).
        let divisor_x64 = (UART_CLOCK_HZ * 4).div_ceil(baud);
        uart.write_reg(CR, 0);
        uart.write_reg(IBRD, divisor_x64 >> 6);
        uart.write_reg(FBRD, divisor_x64 & 0x3f);
        uart.write_reg(LCRH, LCRH_WLEN_8 | LCRH_FEN);
        uart.write_reg(RSR_ECR, 0);
        uart.write_reg(CR, CR_UARTEN | CR_TXE | CR_RXE);
        uart
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract makes `base + offset` a PL011 register we own.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }
}

impl ErrorType for Pl011 {
    type Error = ErrorKind;
}

impl Read<u8> for Pl011 {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        if self.read_reg(FR) & FR_RXFE != 0 {
            return Err(nb::Error::WouldBlock);
        }
        let data = self.read_reg(DR);
        let kind = if data & DR_OE != 0 {
            ErrorKind::Overrun
        } else if data & DR_FE != 0 {
            ErrorKind::FrameFormat
        } else if data & DR_PE != 0 {
            ErrorKind::Parity
        } else if data & DR_BE != 0 {
            ErrorKind::Other
        } else {
            return Ok(data as u8);
        };
        self.write_reg(RSR_ECR, 0);
        Err(nb::Error::Other(kind))
    }
}

impl Write<u8> for Pl011 {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        if self.read_reg(FR) & FR_TXFF != 0 {
            return Err(nb::Error::WouldBlock);
        }
        self.write_reg(DR, u32::from(byte));
        Ok(())
    }

    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        if self.read_reg(FR) & FR_BUSY != 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(())
    }
}
