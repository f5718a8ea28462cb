//! Byte-at-a-time response and URC parser (sans-I/O).
//!
//! Feed every byte the modem sends to [`Parser::feed`] (or a slice to
//! [`Parser::digest`]); each call returns at most one [`Event`]. Lines are framed on CR
//! or LF (V1 `\r\n<text>\r\n`, V0 `<code>\r`, u-blox `\r\r\n` all work). The SMS
//! prompt `> ` has no line ending (TS 27.005 §3.5.1) and is reported as soon as its
//! space arrives; the bare `>` line of SIMCom SIM7670G (gammu/gammu#1176) works too.
//!
//! The line buffer has a fixed capacity `N`: a longer line is dropped and reported as
//! [`Event::Overflow`] when it ends. Nothing here panics, whatever the input.
//!
//! ```
//! use relais_core::at::{Event, Final, Parser, Urc};
//! let mut p: Parser<64> = Parser::new();
//! let mut events = 0;
//! for &b in b"AT+CSQ\r\r\n+CMTI: \"SM\",1\r\n+CSQ: 20,0\r\n\r\nOK\r\n" {
//!     match p.feed(b) {
//!         Some(Event::Echo(line)) => assert_eq!(line, b"AT+CSQ"),
//!         Some(Event::Urc(Urc::MessageStored(slot))) => assert_eq!(slot.index, 1),
//!         Some(Event::Response(line)) => assert_eq!(line, b"+CSQ: 20,0"),
//!         Some(Event::Final(f)) => assert_eq!(f, Final::Ok),
//!         Some(other) => panic!("unexpected {other:?}"),
//!         None => continue, // inside a line
//!     }
//!     events += 1;
//! }
//! assert_eq!(events, 4);
//! ```

use super::error::{CmeError, CmsError};
use super::fields;
use super::urc::{self, Parsed, TwoLine, Urc};

/// A final result code: the command in flight is finished (V.250 §5.7, TS 27.007 §9.2,
/// TS 27.005 §3.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Final {
    /// `OK` (V0: `0`).
    Ok,
    /// `ERROR` (V0: `4`), or a vendor's `COMMAND NOT SUPPORT` (Huawei E1752).
    Error,
    /// `+CMS ERROR: <err>`: an SMS command failed.
    Cms(CmsError),
    /// `+CME ERROR: <err>`: a mobile equipment command failed.
    Cme(CmeError),
    /// `NO CARRIER` (V0: `3`).
    NoCarrier,
    /// `BUSY` (V0: `7`).
    Busy,
    /// `NO ANSWER` (V0: `8`).
    NoAnswer,
    /// `NO DIALTONE` (V0: `6`).
    NoDialtone,
}

impl Final {
    /// True for `OK`.
    pub fn is_ok(self) -> bool {
        self == Final::Ok
    }
}

/// What the parser recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// The echo of a command line (starts with `AT`), or of a PDU typed after the
    /// prompt (contains Ctrl-Z or ESC). Drivers drop it.
    Echo(&'a [u8]),
    /// The SMS edit prompt (`\r\n> ` or `\r\n>\r\n`): send the PDU now.
    Prompt,
    /// An information response line: one claimed by [`Parser::claim`], or any other
    /// line that is neither a final result nor a known URC (e.g. `SIMCOM_Ltd`, or the
    /// PDU line after `+CMGR:`).
    Response(&'a [u8]),
    /// A final result code.
    Final(Final),
    /// An unsolicited result code.
    Urc(Urc<'a>),
    /// A line longer than the buffer was dropped.
    Overflow,
}

/// Line parser with an `N`-byte line buffer (a PDU line is at most 352 hex digits,
/// so `N` = 400 holds any `+CMT`/`+CMGR` payload).
#[derive(Debug)]
pub struct Parser<const N: usize = 400> {
    line: [u8; N],
    len: usize,
    overflow: bool,
    /// The previous call returned an event borrowing `line`; clear before use.
    consumed: bool,
    pending: Option<TwoLine>,
    claim: Option<&'static [u8]>,
}

impl<const N: usize> Default for Parser<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Parser<N> {
    /// An empty parser.
    pub const fn new() -> Self {
        Self {
            line: [0; N],
            len: 0,
            overflow: false,
            consumed: false,
            pending: None,
            claim: None,
        }
    }

    /// Lines starting with `prefix` (e.g. `b"+CREG"`) are responses to the command in
    /// flight, not URCs: `+CREG: 0,1` answers `AT+CREG?` even though `+CREG: 1` is
    /// also a URC (docs/modems.md § Quirk 2). `None` when no command claims a prefix.
    pub fn claim(&mut self, prefix: Option<&'static [u8]>) {
        self.claim = prefix;
    }

    /// Forgets any partial line and pending two-line URC (after a modem reset).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.consumed = false;
        self.pending = None;
    }

    /// Feeds bytes until one event is recognised. Returns it and how many bytes were
    /// consumed; feed the rest in a later call. `(None, bytes.len())` when the input
    /// ended inside a line (partial input is normal).
    pub fn digest(&mut self, bytes: &[u8]) -> (Option<Event<'_>>, usize) {
        let mut consumed = 0;
        for &b in bytes {
            consumed += 1;
            if self.step(b) {
                return (self.event(b), consumed);
            }
        }
        (None, consumed)
    }

    /// Feeds one byte; returns an event when this byte completed one.
    pub fn feed(&mut self, byte: u8) -> Option<Event<'_>> {
        if self.step(byte) {
            self.event(byte)
        } else {
            None
        }
    }

    /// Consumes `byte`; true when an event is ready to be built by [`Self::event`].
    fn step(&mut self, byte: u8) -> bool {
        if self.consumed {
            self.consumed = false;
            self.len = 0;
        }
        match byte {
            b'\r' | b'\n' => {
                if self.overflow {
                    return true;
                }
                self.len > 0
            }
            b' ' if self.len == 1 && self.line.first() == Some(&b'>') => true,
            _ => {
                if self.overflow {
                    return false;
                }
                match self.line.get_mut(self.len) {
                    Some(slot) => {
                        *slot = byte;
                        self.len += 1;
                    }
                    None => self.overflow = true,
                }
                false
            }
        }
    }

    /// Builds the event for the line completed by `last` and marks the line consumed.
    fn event(&mut self, last: u8) -> Option<Event<'_>> {
        self.consumed = true;
        if self.overflow {
            self.overflow = false;
            self.pending = None;
            return Some(Event::Overflow);
        }
        let line = self.line.get(..self.len).unwrap_or(&[]);
        if last == b' ' || line == b">" {
            return Some(Event::Prompt);
        }
        if let Some(two) = self.pending.take() {
            return Some(Event::Urc(match two {
                TwoLine::Message(length) => Urc::Message {
                    length,
                    payload: line,
                },
                TwoLine::StatusReport(length) => Urc::StatusReport {
                    length,
                    payload: line,
                },
            }));
        }
        classify(line, self.claim, &mut self.pending)
    }
}

fn classify<'a>(
    line: &'a [u8],
    claim: Option<&'static [u8]>,
    pending: &mut Option<TwoLine>,
) -> Option<Event<'a>> {
    if fields::strip_prefix_ignore_case(line, b"AT").is_some()
        || line.iter().any(|&b| b == 0x1A || b == 0x1B)
    {
        return Some(Event::Echo(line));
    }
    if let Some(result) = final_result(line) {
        return Some(Event::Final(result));
    }
    if let Some(prefix) = claim {
        if fields::strip_prefix_ignore_case(line, prefix).is_some() {
            return Some(Event::Response(line));
        }
    }
    match urc::parse(line) {
        Some(Parsed::Done(u)) => Some(Event::Urc(u)),
        Some(Parsed::Header(two)) => {
            *pending = Some(two);
            None
        }
        None => Some(Event::Response(line)),
    }
}

/// Verbose (V1) and numeric (V0) final result codes, V.250 §5.7.1 Table 1.
fn final_result(line: &[u8]) -> Option<Final> {
    let words: [(&[u8], Final); 12] = [
        (b"OK", Final::Ok),
        (b"0", Final::Ok),
        (b"ERROR", Final::Error),
        (b"4", Final::Error),
        (b"COMMAND NOT SUPPORT", Final::Error),
        (b"NO CARRIER", Final::NoCarrier),
        (b"3", Final::NoCarrier),
        (b"BUSY", Final::Busy),
        (b"7", Final::Busy),
        (b"NO ANSWER", Final::NoAnswer),
        (b"8", Final::NoAnswer),
        (b"NO DIALTONE", Final::NoDialtone),
    ];
    if let Some(&(_, f)) = words.iter().find(|(w, _)| w.eq_ignore_ascii_case(line)) {
        return Some(f);
    }
    if line == b"6" {
        return Some(Final::NoDialtone);
    }
    if let Some(p) = fields::after_prefix(line, b"+CMS ERROR") {
        return Some(Final::Cms(CmsError::parse(p)));
    }
    if let Some(p) = fields::after_prefix(line, b"+CME ERROR") {
        return Some(Final::Cme(CmeError::parse(p)));
    }
    None
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::at::urc::{Domain, Memory, RegStatus, SimState, Slot};
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    /// Events as owned strings, so the same transcript can be fed in any chunking.
    fn run<const N: usize>(p: &mut Parser<N>, input: &[u8], chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (ev, used) = p.digest(rest);
                if let Some(ev) = ev {
                    out.push(describe(ev));
                }
                rest = &rest[used..];
            }
        }
        out
    }

    fn describe(ev: Event<'_>) -> String {
        match ev {
            Event::Echo(l) => format!("echo {}", String::from_utf8_lossy(l)),
            Event::Response(l) => format!("resp {}", String::from_utf8_lossy(l)),
            Event::Urc(Urc::Message { length, payload }) => {
                format!("cmt {length} {}", String::from_utf8_lossy(payload))
            }
            Event::Urc(Urc::StatusReport { length, payload }) => {
                format!("cds {length} {}", String::from_utf8_lossy(payload))
            }
            other => format!("{other:?}"),
        }
    }

    fn both(input: &[u8]) -> Vec<String> {
        let whole = run(&mut Parser::<400>::new(), input, input.len());
        let bytewise = run(&mut Parser::<400>::new(), input, 1);
        assert_eq!(whole, bytewise, "chunking changed the result");
        whole
    }

    #[test]
    fn echo_on_and_off() {
        assert_eq!(both(b"AT\r\r\nOK\r\n"), ["echo AT", "Final(Ok)"]);
        assert_eq!(both(b"\r\nOK\r\n"), ["Final(Ok)"]);
        // u-blox echoes `\r\r\n`.
        assert_eq!(both(b"ATE0\r\r\r\nOK\r\n"), ["echo ATE0", "Final(Ok)"]);
    }

    #[test]
    fn urc_in_the_middle_of_a_response() {
        let mut p = Parser::<400>::new();
        p.claim(Some(b"+CREG"));
        let out = run(
            &mut p,
            b"AT+CREG?\r\r\n+CMTI: \"SM\",2\r\n+CREG: 0,1\r\n\r\nOK\r\n",
            1,
        );
        assert_eq!(
            out,
            [
                "echo AT+CREG?".into(),
                format!(
                    "{:?}",
                    Event::Urc(Urc::MessageStored(Slot {
                        memory: Memory::SM,
                        index: 2
                    }))
                ),
                "resp +CREG: 0,1".into(),
                "Final(Ok)".into()
            ]
        );
        // Unclaimed, the same prefix is a URC.
        p.claim(None);
        let out = run(&mut p, b"\r\n+CREG: 2\r\n", 1);
        assert_eq!(
            out,
            [format!(
                "{:?}",
                Event::Urc(Urc::Registration {
                    domain: Domain::Cs,
                    status: RegStatus::Searching
                })
            )]
        );
    }

    #[test]
    fn prompt_forms() {
        assert_eq!(both(b"\r\n> "), ["Prompt"]);
        assert_eq!(both(b"\r\n>\r\n"), ["Prompt"]);
        // The echoed PDU and Ctrl-Z after the prompt, then the result.
        assert_eq!(
            both(b"\r\n> 0011\x1a\r\n+CMGS: 12\r\n\r\nOK\r\n"),
            ["Prompt", "echo 0011\u{1a}", "resp +CMGS: 12", "Final(Ok)"]
        );
        // An error instead of a prompt.
        assert_eq!(
            both(b"\r\n+CMS ERROR: 304\r\n"),
            ["Final(Cms(InvalidPduParameter))"]
        );
    }

    #[test]
    fn two_line_urcs() {
        assert_eq!(
            both(b"\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n"),
            ["cmt 24 07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"]
        );
        assert_eq!(both(b"\r\n+CDS: 25\r\n0791AB\r\n"), ["cds 25 0791AB"]);
    }

    #[test]
    fn numeric_and_error_results() {
        assert_eq!(both(b"0\r4\r"), ["Final(Ok)", "Final(Error)"]);
        assert_eq!(
            both(b"\r\n+CME ERROR: 10\r\n\r\n+CME ERROR: SIM busy\r\n\r\n+CMS ERROR: 777\r\n"),
            [
                "Final(Cme(SimNotInserted))",
                "Final(Cme(SimBusy))",
                "Final(Cms(Unknown(777)))"
            ]
        );
        assert_eq!(both(b"\r\nCOMMAND NOT SUPPORT\r\n"), ["Final(Error)"]);
    }

    #[test]
    fn power_up_urcs() {
        let out = both(
            b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n",
        );
        assert_eq!(
            out,
            [
                "Urc(Ready)".into(),
                "Urc(Functionality(1))".into(),
                format!("{:?}", Event::Urc(Urc::Sim(SimState::Ready))),
                "Urc(CallReady)".into(),
                "Urc(SmsReady)".into()
            ]
        );
    }

    #[test]
    fn overlong_line_is_an_event_then_parsing_resumes() {
        let mut p = Parser::<8>::new();
        let out = run(&mut p, b"\r\n0123456789ABCDEF\r\nOK\r\n", 1);
        assert_eq!(out, ["Overflow", "Final(Ok)"]);
        // Exactly N bytes fit.
        let out = run(&mut p, b"abcdefgh\r\n", 1);
        assert_eq!(out, ["resp abcdefgh"]);
    }

    #[test]
    fn garbage_between_lines_is_a_response_not_a_failure() {
        assert_eq!(
            both(b"\x00\xff\xfe\r\nOK\r\n"),
            ["resp \0\u{fffd}\u{fffd}", "Final(Ok)"]
        );
    }
}

#[cfg(test)]
mod properties {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    fn events(input: &[u8], chunk: usize) -> Vec<String> {
        let mut p = Parser::<32>::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (ev, used) = p.digest(rest);
                if let Some(ev) = ev {
                    out.push(format!("{ev:?}"));
                }
                assert_ne!(used, 0);
                rest = &rest[used..];
            }
        }
        out
    }

    proptest! {
        /// Any bytes, in any chunking, give the same events and never panic.
        #[test]
        fn chunking_never_matters(input in proptest::collection::vec(any::<u8>(), 0..300), chunk in 1usize..40) {
            prop_assert_eq!(events(&input, input.len().max(1)), events(&input, chunk));
        }
    }
}
