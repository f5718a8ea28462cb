//! Drives a modem reachable over TCP with the relais modem driver: brings it up, sends
//! PDUs, prints every event. Made for the simulator:
//!
//! ```text
//! relais sim --tcp 127.0.0.1:7000 --ledger /tmp/ledger.jsonl &
//! cargo run -p relais-agent --example modem_tcp -- 127.0.0.1:7000 3 0031000B913316325476F800000011C8329BFD0699E5EF36485E6687D373
//! ```
//!
//! Arguments: address, number of sends, then one or more PDUs in hex (SMSC field first).
//! With several PDUs they are sent in turn as the segments of one message (all but
//! the last with `more_to_follow`, so `AT+CMMS=1` keeps the link). The AT dialog is
//! printed to stderr.

use std::io::{ErrorKind as IoKind, Read as _, Write as _};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::core::compliance::number::Msisdn;
use relais_agent::core::sms::pdu::{self, Address, SmscField, Tpdu};
use relais_agent::modem::{
    Clock, Event, Modem, NoPowerControl, Profile, ReportMatcher, SendOutcome, Submission, SubmitPdu,
};

/// The recipient of an SMS-SUBMIT, when it is an international number.
fn recipient(pdu: &SubmitPdu) -> Option<Msisdn> {
    let Ok(Tpdu::Submit(s)) = pdu::decode(pdu.bytes(), SmscField::Present) else {
        return None;
    };
    match s.to {
        Address::Number(n) => Msisdn::parse(&format!("+{}", n.digits())).ok(),
        Address::Alphanumeric(_) => None,
    }
}

/// A non-blocking TCP stream as an `embedded-hal-nb` serial port.
struct TcpSerial {
    stream: TcpStream,
    /// Bytes written since the last line end, flushed per line and printed.
    pending: Vec<u8>,
}

impl ErrorType for TcpSerial {
    type Error = ErrorKind;
}

impl Read<u8> for TcpSerial {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(1) => {
                eprint!("{}", String::from_utf8_lossy(&byte).escape_debug());
                Ok(byte[0])
            }
            Err(e) if e.kind() == IoKind::WouldBlock => Err(nb::Error::WouldBlock),
            // End of stream or a socket error.
            _ => Err(nb::Error::Other(ErrorKind::Other)),
        }
    }
}

impl Write<u8> for TcpSerial {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.pending.push(byte);
        if matches!(byte, b'\r' | 0x1A | 0x1B) {
            eprintln!(
                "\n>> {}",
                String::from_utf8_lossy(&self.pending).escape_debug()
            );
            self.stream
                .write_all(&self.pending)
                .map_err(|_| nb::Error::Other(ErrorKind::Other))?;
            self.pending.clear();
        }
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

struct WallClock(Instant);

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, count, pdus @ ..] = args.as_slice() else {
        eprintln!("usage: modem_tcp ADDR COUNT PDU_HEX...");
        return ExitCode::FAILURE;
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("COUNT must be a number");
        return ExitCode::FAILURE;
    };
    let pdus: Result<Vec<SubmitPdu>, _> = pdus
        .iter()
        .map(|h| SubmitPdu::from_hex(h.as_bytes()))
        .collect();
    let pdus = match pdus {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            eprintln!("at least one PDU is needed");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("bad PDU: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if stream.set_nonblocking(true).is_err() {
        return ExitCode::FAILURE;
    }
    let serial = TcpSerial {
        stream,
        pending: Vec::new(),
    };
    let start = Instant::now();
    let mut modem = Modem::new(serial, NoPowerControl, WallClock(start), Profile::GENERIC);
    let mut reports: ReportMatcher<usize, 64> = ReportMatcher::new();
    let (mut sent, mut ended, mut ready) = (0, 0, false);
    while start.elapsed() < Duration::from_secs(600) && ended < count {
        match modem.poll() {
            Ok(event) => {
                eprintln!();
                println!("{:>8} ms  {event:?}", start.elapsed().as_millis());
                match event {
                    Event::Ready => ready = true,
                    Event::Sent(outcome) => {
                        ended += 1;
                        let to = recipient(&pdus[(ended - 1) % pdus.len()]);
                        if let (SendOutcome::Accepted(mr), Some(to)) = (outcome, to) {
                            reports.insert(Submission { mr, to, at: None }, ended);
                        }
                    }
                    Event::StatusReport(pdu) => {
                        if let Some(n) = reports.take(&pdu, None) {
                            println!("           status report for send #{n}");
                        }
                    }
                    _ => {}
                }
            }
            Err(nb::Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Err(nb::Error::Other(e)) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        if ready && !modem.is_sending() && sent < count {
            let segment = sent % pdus.len();
            let more = segment + 1 < pdus.len();
            if modem.send(&pdus[segment], more).is_ok() {
                sent += 1;
            }
        }
    }
    println!(
        "{ended} of {count} sends ended in {} ms",
        start.elapsed().as_millis()
    );
    if ended == count {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
