//! Transparent byte bridge between the host link and the modem.
//!
//! With the passthrough running, a host program (for example `gammu`, or relais in
//! direct mode) talks AT to the modem as if the microcontroller were a USB-serial
//! adapter. The bridge never blocks: each [`Passthrough::poll`] moves what both ports
//! can take right now and returns.

use embedded_hal_nb::serial::{Read, Write};
use heapless::Deque;

/// Byte counters of a [`Passthrough`], for logs and status reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Bytes delivered from the host link to the modem.
    pub host_to_modem: u32,
    /// Bytes delivered from the modem to the host link.
    pub modem_to_host: u32,
    /// Receive errors (overrun, framing, parity, noise) on either port.
    pub read_errors: u32,
    /// Transmit errors on either port; the byte is kept and retried.
    pub write_errors: u32,
}

/// A two-way bridge with an `N`-byte queue in each direction.
///
/// A queue fills only when its destination is slower than its source; reading then
/// pauses, so the source's own flow control (or FIFO) holds the rest. No byte is
/// dropped by the bridge itself.
#[derive(Debug)]
pub struct Passthrough<const N: usize = 64> {
    to_modem: Deque<u8, N>,
    to_host: Deque<u8, N>,
    stats: Stats,
}

impl<const N: usize> Default for Passthrough<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Passthrough<N> {
    /// An idle bridge with empty queues.
    pub const fn new() -> Self {
        Self {
            to_modem: Deque::new(),
            to_host: Deque::new(),
            stats: Stats {
                host_to_modem: 0,
                modem_to_host: 0,
                read_errors: 0,
                write_errors: 0,
            },
        }
    }

    /// Moves every byte both ports can take now. Returns `true` if any byte moved.
    pub fn poll<H, M>(&mut self, host: &mut H, modem: &mut M) -> bool
    where
        H: Read<u8> + Write<u8>,
        M: Read<u8> + Write<u8>,
    {
        let s = &mut self.stats;
        let up = pump(
            host,
            modem,
            &mut self.to_modem,
            &mut s.host_to_modem,
            &mut s.read_errors,
            &mut s.write_errors,
        );
        let down = pump(
            modem,
            host,
            &mut self.to_host,
            &mut s.modem_to_host,
            &mut s.read_errors,
            &mut s.write_errors,
        );
        up || down
    }

    /// Counters since the bridge was created.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes read but not yet written, per direction: `(to_modem, to_host)`.
    pub fn queued(&self) -> (usize, usize) {
        (self.to_modem.len(), self.to_host.len())
    }
}

/// Reads from `from` while `queue` has room, then writes from `queue` to `to`
/// while `to` accepts. Returns `true` if any byte was read or written.
fn pump<R, W, const N: usize>(
    from: &mut R,
    to: &mut W,
    queue: &mut Deque<u8, N>,
    moved: &mut u32,
    read_errors: &mut u32,
    write_errors: &mut u32,
) -> bool
where
    R: Read<u8>,
    W: Write<u8>,
{
    let mut progress = false;
    while !queue.is_full() {
        match from.read() {
            Ok(byte) => {
                // Cannot fail: the loop condition checked for room.
                let _ = queue.push_back(byte);
                progress = true;
            }
            Err(nb::Error::WouldBlock) => break,
            Err(nb::Error::Other(_)) => {
                // The byte (if any) is lost in the UART; count it and keep going.
                *read_errors = read_errors.wrapping_add(1);
                break;
            }
        }
    }
    while let Some(&byte) = queue.front() {
        match to.write(byte) {
            Ok(()) => {
                queue.pop_front();
                *moved = moved.wrapping_add(1);
                progress = true;
            }
            Err(nb::Error::WouldBlock) => break,
            Err(nb::Error::Other(_)) => {
                *write_errors = write_errors.wrapping_add(1);
                break;
            }
        }
    }
    progress
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use embedded_hal_nb::serial::{ErrorKind, ErrorType};
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A serial port whose receive side is a script and whose transmit side accepts
    /// at most `tx_room` bytes per poll round.
    #[derive(Default)]
    struct FakePort {
        rx: VecDeque<Result<u8, ErrorKind>>,
        tx: Vec<u8>,
        tx_room: usize,
    }

    impl ErrorType for FakePort {
        type Error = ErrorKind;
    }

    impl Read<u8> for FakePort {
        fn read(&mut self) -> nb::Result<u8, ErrorKind> {
            match self.rx.pop_front() {
                Some(Ok(b)) => Ok(b),
                Some(Err(e)) => Err(nb::Error::Other(e)),
                None => Err(nb::Error::WouldBlock),
            }
        }
    }

    impl Write<u8> for FakePort {
        fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
            if self.tx_room == 0 {
                return Err(nb::Error::WouldBlock);
            }
            self.tx_room -= 1;
            self.tx.push(byte);
            Ok(())
        }
        fn flush(&mut self) -> nb::Result<(), ErrorKind> {
            Ok(())
        }
    }

    fn port(input: &[u8]) -> FakePort {
        FakePort {
            rx: input.iter().map(|&b| Ok(b)).collect(),
            ..FakePort::default()
        }
    }

    #[test]
    fn bytes_cross_in_both_directions_in_order() {
        let mut host = port(b"AT+CMGF=0\r");
        let mut modem = port(b"\r\nOK\r\n");
        host.tx_room = usize::MAX;
        modem.tx_room = usize::MAX;
        let mut bridge = Passthrough::<8>::new();
        while bridge.poll(&mut host, &mut modem) {}
        assert_eq!(modem.tx, b"AT+CMGF=0\r");
        assert_eq!(host.tx, b"\r\nOK\r\n");
        let stats = bridge.stats();
        assert_eq!((stats.host_to_modem, stats.modem_to_host), (10, 6));
    }

    #[test]
    fn slow_destination_loses_nothing() {
        let input: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut host = port(&input);
        let mut modem = port(b"");
        let mut bridge = Passthrough::<4>::new();
        let mut rounds = 0;
        while modem.tx.len() < input.len() {
            modem.tx_room = 3;
            bridge.poll(&mut host, &mut modem);
            rounds += 1;
            assert!(
                rounds < 10_000,
                "bridge stalled at {} bytes",
                modem.tx.len()
            );
        }
        assert_eq!(modem.tx, input);
        assert_eq!(bridge.queued(), (0, 0));
    }

    #[test]
    fn read_error_is_counted_and_later_bytes_still_pass() {
        let mut host = FakePort {
            rx: [Ok(b'A'), Err(ErrorKind::Overrun), Ok(b'T')].into(),
            tx_room: usize::MAX,
            ..FakePort::default()
        };
        let mut modem = port(b"");
        modem.tx_room = usize::MAX;
        let mut bridge = Passthrough::<8>::new();
        while bridge.poll(&mut host, &mut modem) {}
        bridge.poll(&mut host, &mut modem);
        assert_eq!(modem.tx, b"AT");
        assert_eq!(bridge.stats().read_errors, 1);
    }
}
