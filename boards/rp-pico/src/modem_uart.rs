//! The modem's UART0, with its receive side drained by DMA into an 8 KiB ring in RAM.
//!
//! Why: the RP2040 runs its code from the QSPI flash, and every flash program or erase
//! (the agent's store) stops the core with interrupts off: 0.4 ms per page program, 34
//! of them per job, and 45 ms (400 ms at worst) per sector erase on the Pico's
//! W25Q16JV. At 115200 baud the UART's 32-byte receive FIFO fills in 2.8 ms, so the
//! modem's answers and URCs would be lost. The emulator test that models those stalls
//! lost over 5,000 bytes in 120 jobs with the FIFO read by the loop alone
//! (docs/boards/pico.md, "Flash writes and the modem's bytes"). The DMA engine keeps running
//! while the core is stalled, since it moves bytes from the UART to RAM and never
//! touches the flash.
//!
//! How: two DMA channels paced by UART0's RX DREQ write into the same ring (address
//! wrap on the write side). Each runs [`COUNT`] transfers, a multiple of the ring's
//! size, so it ends where it started, then triggers the other (`CHAIN_TO`); the
//! hardware reloads a channel's count each time it is triggered, so the pair runs
//! forever without the CPU. The reader's position is ours; the writer's is the busy
//! channel's write address. 8 KiB is 711 ms of back-to-back bytes at 115200 baud:
//! more than the worst sector erase. The ring cannot tell when it was lapped; a loop
//! that stalls that long has lost bytes either way.
//!
//! Transmit stays the blocking UART's (the FIFO and a busy wait).

use core::sync::atomic::{Ordering, compiler_fence};

use embassy_rp::Peri;
use embassy_rp::pac;
use embassy_rp::pac::dma::regs::CtrlTrig;
use embassy_rp::pac::dma::vals::{DataSize, TreqSel};
use embassy_rp::peripherals::{DMA_CH0, DMA_CH1};
use embassy_rp::uart::{self, Uart, UartRx, UartTx};
use embedded_hal_nb::serial::{ErrorType, Read, Write};

/// log2 of the ring's size.
const RING_BITS: u8 = 13;
const RING: usize = 1 << RING_BITS;
/// Transfers per channel before it hands over: a multiple of [`RING`].
const COUNT: u32 = 1 << 30;
/// The DMA channels (taken as peripherals in [`ModemUart::new`], so nothing else
/// uses them).
const CHANNELS: [usize; 2] = [0, 1];

/// The ring, aligned to its size as the DMA's address wrap requires.
#[repr(C, align(8192))]
struct Ring([u8; RING]);

const _: () = assert!(core::mem::align_of::<Ring>() == RING);

static mut RING_BUF: Ring = Ring([0; RING]);

/// UART0 for the modem: DMA-fed receive, blocking transmit.
pub struct ModemUart {
    tx: UartTx<'static, uart::Blocking>,
    /// Kept so the receive pin stays configured; never read.
    _rx: UartRx<'static, uart::Blocking>,
    _channels: (Peri<'static, DMA_CH0>, Peri<'static, DMA_CH1>),
    /// Ring index of the next byte to hand out.
    read: usize,
}

impl ModemUart {
    /// Starts the DMA pair on `uart` (UART0) and hands out what it receives.
    pub fn new(
        uart: Uart<'static, uart::Blocking>,
        ch0: Peri<'static, DMA_CH0>,
        ch1: Peri<'static, DMA_CH1>,
    ) -> Self {
        let (tx, rx) = uart.split();
        let base = ring_base();
        let data = pac::UART0.uartdr().as_ptr() as u32;
        // The second channel first, without triggering it; then the first, triggered.
        for (i, &n) in CHANNELS.iter().enumerate().rev() {
            let other = CHANNELS[1 - i];
            let ch = pac::DMA.ch(n);
            ch.read_addr().write_value(data);
            ch.write_addr().write_value(base);
            ch.trans_count().write_value(COUNT);
            let mut ctrl = CtrlTrig(0);
            ctrl.set_en(true);
            ctrl.set_data_size(DataSize::SIZE_BYTE);
            ctrl.set_incr_read(false);
            ctrl.set_incr_write(true);
            ctrl.set_ring_sel(true);
            ctrl.set_ring_size(RING_BITS);
            ctrl.set_chain_to(other as u8);
            ctrl.set_treq_sel(TreqSel::UART0_RX);
            ctrl.set_irq_quiet(true);
            if i == 0 {
                ch.ctrl_trig().write_value(ctrl);
            } else {
                ch.al1_ctrl().write_value(ctrl.0);
            }
        }
        pac::UART0.uartdmacr().modify(|w| w.set_rxdmae(true));
        ModemUart {
            tx,
            _rx: rx,
            _channels: (ch0, ch1),
            read: 0,
        }
    }

    /// Ring index the DMA writes next.
    fn write_index(&self) -> usize {
        for n in CHANNELS {
            let ch = pac::DMA.ch(n);
            if ch.ctrl_trig().read().busy() {
                return (ch.write_addr().read().wrapping_sub(ring_base()) as usize) % RING;
            }
        }
        // Between a hand-over: both channels stopped at the ring's start.
        0
    }
}

fn ring_base() -> u32 {
    core::ptr::addr_of!(RING_BUF) as u32
}

impl ErrorType for ModemUart {
    type Error = uart::Error;
}

impl Read<u8> for ModemUart {
    fn read(&mut self) -> nb::Result<u8, uart::Error> {
        if self.read == self.write_index() {
            return Err(nb::Error::WouldBlock);
        }
        // The DMA wrote the byte before it moved its write address past it.
        compiler_fence(Ordering::Acquire);
        // SAFETY: only the DMA writes the ring, and only at the write index, which is
        // past `read`; a volatile read of one byte of a static.
        let byte = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!(RING_BUF.0).cast::<u8>().add(self.read))
        };
        self.read = (self.read + 1) % RING;
        Ok(byte)
    }
}

impl Write<u8> for ModemUart {
    fn write(&mut self, byte: u8) -> nb::Result<(), uart::Error> {
        self.tx.write(byte)
    }

    fn flush(&mut self) -> nb::Result<(), uart::Error> {
        self.tx.flush()
    }
}
