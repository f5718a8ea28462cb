//! The host link on the Pico's own USB port: a CDC-ACM serial device (`/dev/ttyACM0` on
//! Linux, a COM port on Windows), as the agent's `embedded_hal_nb` serial port.
//!
//! embassy-usb is async; the rest of the firmware is a polled loop. Both run in one
//! `embassy_futures::block_on` ([`run`]): it polls the USB device, the two copy tasks
//! below and the board's loop in turn, without an executor. Two pipes connect them:
//! USB OUT packets go into [`HOST_RX`], which the agent reads a byte at a time through
//! [`UsbLink`]; what the agent writes goes into [`HOST_TX`] and out as IN packets.
//! When a pipe is full its writer waits: the agent sees `WouldBlock`, the USB hardware
//! NAKs the host, and no byte is dropped.

use core::convert::Infallible;
use core::future::Future;

use embassy_futures::join::{join, join3};
use embassy_rp::Peri;
use embassy_rp::bind_interrupts;
use embassy_rp::peripherals::USB;
use embassy_rp::usb::{Driver, InterruptHandler};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::pipe::Pipe;
use embassy_usb::class::cdc_acm::{CdcAcmClass, State};
use embassy_usb::driver::EndpointError;
use embassy_usb::{Builder, UsbDevice};
use embedded_hal_nb::serial::{ErrorType, Read, Write};

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

/// Bytes the host sent that the agent has not read yet (two link frames and more).
static HOST_RX: Pipe<CriticalSectionRawMutex, 1024> = Pipe::new();
/// Bytes the agent wrote that the host has not taken yet.
static HOST_TX: Pipe<CriticalSectionRawMutex, 1024> = Pipe::new();

/// Full-speed bulk packet size.
const PACKET: usize = 64;

/// The agent's side of the USB host link.
#[derive(Debug, Default, Clone, Copy)]
pub struct UsbLink;

impl ErrorType for UsbLink {
    type Error = Infallible;
}

impl Read<u8> for UsbLink {
    fn read(&mut self) -> nb::Result<u8, Infallible> {
        let mut byte = [0u8; 1];
        match HOST_RX.try_read(&mut byte) {
            Ok(1) => Ok(byte[0]),
            _ => Err(nb::Error::WouldBlock),
        }
    }
}

impl Write<u8> for UsbLink {
    fn write(&mut self, byte: u8) -> nb::Result<(), Infallible> {
        match HOST_TX.try_write(&[byte]) {
            Ok(1) => Ok(()),
            _ => Err(nb::Error::WouldBlock),
        }
    }

    fn flush(&mut self) -> nb::Result<(), Infallible> {
        if HOST_TX.is_empty() {
            Ok(())
        } else {
            Err(nb::Error::WouldBlock)
        }
    }
}

/// USB identity. 0x1209 is pid.codes' open-source vendor id; 0x0001 is its test
/// product id (a registered id would replace it for a released product, see
/// docs/boards/pico.md).
const VID: u16 = 0x1209;
const PID: u16 = 0x0001;

/// Runs the USB device and the link copies, and `board` (the firmware's polled loop,
/// as a future that never ends) beside them. Never returns.
pub fn run<F: Future>(usb: Peri<'static, USB>, serial_number: &'static str, board: F) -> ! {
    let driver = Driver::new(usb, Irqs);
    let mut config = embassy_usb::Config::new(VID, PID);
    config.manufacturer = Some("relais");
    config.product = Some("relais device (rp-pico)");
    config.serial_number = Some(serial_number);
    config.max_power = 100;
    config.max_packet_size_0 = PACKET as u8;

    let mut config_descriptor = [0u8; 128];
    let mut bos_descriptor = [0u8; 32];
    let mut control_buf = [0u8; 64];
    let mut state = State::new();
    let mut builder = Builder::new(
        driver,
        config,
        &mut config_descriptor,
        &mut bos_descriptor,
        &mut [],
        &mut control_buf,
    );
    let class = CdcAcmClass::new(&mut builder, &mut state, PACKET as u16);
    let mut device: UsbDevice<'_, Driver<'_, USB>> = builder.build();
    let (mut sender, mut receiver) = class.split();

    let from_host = async {
        loop {
            receiver.wait_connection().await;
            defmt::info!("usb: host link configured");
            let mut packet = [0u8; PACKET];
            loop {
                match receiver.read_packet(&mut packet).await {
                    Ok(n) => HOST_RX.write_all(&packet[..n]).await,
                    Err(EndpointError::Disabled) => break,
                    Err(EndpointError::BufferOverflow) => {}
                }
            }
            defmt::info!("usb: host link gone");
        }
    };
    let to_host = async {
        loop {
            sender.wait_connection().await;
            let mut packet = [0u8; PACKET];
            loop {
                let n = HOST_TX.read(&mut packet).await;
                if sender.write_packet(&packet[..n]).await.is_err() {
                    break;
                }
                // A full packet leaves the transfer open on the host's side; a
                // zero-length packet ends it when nothing follows right away.
                if n == PACKET && HOST_TX.is_empty() && sender.write_packet(&[]).await.is_err() {
                    break;
                }
            }
        }
    };
    embassy_futures::block_on(join3(device.run(), join(from_host, to_host), board));
    // `device.run()` and the board's loop never end.
    loop {
        cortex_m::asm::wfe();
    }
}
