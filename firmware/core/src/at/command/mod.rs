//! AT commands as typed values, grouped like the specifications they come from.
//!
//! - [`v250`]: ITU-T V.250 basic commands (`AT`, `ATE`, ESC).
//! - [`general`]: 3GPP TS 27.007 (error mode, SIM, registration, clock).
//! - [`sms`]: 3GPP TS 27.005 (PDU mode, storage, routing, send, read, delete).
//!
//! Each command knows its command line, the prefix of the information response it
//! claims from the parser ([`Command::response`]) and its default timeout. Modem
//! specific timings (`+CMGS` 60 s on SIM800, 120 s on Quectel) override the default
//! in the driver's modem profile.
//!
//! ```
//! use relais_core::at::command::{Command, CommandLine, sms::Cmgs};
//! let mut line = CommandLine::new();
//! Cmgs { length: 25 }.write(&mut line).unwrap();
//! assert_eq!(&line[..], b"AT+CMGS=25\r");
//! ```

pub mod general;
pub mod sms;
pub mod v250;

use core::fmt;

/// A duration in milliseconds (command timeouts, modem timings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Millis(pub u32);

impl Millis {
    /// `s` seconds.
    pub const fn secs(s: u32) -> Millis {
        Millis(s.saturating_mul(1000))
    }

    /// The value in milliseconds, widened for clock arithmetic.
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }
}

/// Capacity of one command line (the longest we format is `AT+CPMS="SM","SM","SM"\r`).
pub const COMMAND_LINE_CAPACITY: usize = 48;

/// A formatted command line, terminated by CR (V.250 §5.2.1).
pub type CommandLine = heapless::Vec<u8, COMMAND_LINE_CAPACITY>;

/// A command line did not fit in [`CommandLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AT command line too long")
    }
}

impl core::error::Error for Overflow {}

/// An AT command the driver can send.
pub trait Command {
    /// Prefix of the information response this command claims (e.g. `b"+CREG"`), so
    /// a same-prefix URC is not mistaken for it and vice versa.
    fn response(&self) -> Option<&'static [u8]> {
        None
    }

    /// Default time from the end of the command line to the final result code.
    fn timeout(&self) -> Millis;

    /// Appends the command line, including the terminating CR, to `out`.
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow>;
}

/// A command line given as bytes (CR included), for vendor commands a profile names
/// (e.g. SIM800's `AT+CLTS=1\r`). It claims no response prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw {
    /// The full command line, ending in CR.
    pub line: &'static [u8],
    /// Time allowed for the final result.
    pub timeout: Millis,
}

impl Command for Raw {
    fn timeout(&self) -> Millis {
        self.timeout
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, self.line)
    }
}

/// Appends raw bytes.
pub(crate) fn put(out: &mut CommandLine, bytes: &[u8]) -> Result<(), Overflow> {
    out.extend_from_slice(bytes).map_err(|_| Overflow)
}

/// Appends a decimal number.
pub(crate) fn put_u32(out: &mut CommandLine, mut n: u32) -> Result<(), Overflow> {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    put(out, digits.get(i..).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (n, s) in [(0, "0"), (7, "7"), (4294967295, "4294967295"), (120, "120")] {
            let mut l = CommandLine::new();
            put_u32(&mut l, n).unwrap();
            assert_eq!(&l[..], s.as_bytes());
        }
    }
}
