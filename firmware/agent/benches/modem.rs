//! Software cost of the modem driver per SMS segment: `send()` → `AT+CMGS` → prompt →
//! PDU + Ctrl-Z → `+CMGS: <mr>` / `OK` → `Event::Sent`, against an in-memory modem
//! that answers instantly (so only the driver and the AT parser are measured).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::modem::{Clock, Event, Modem, NoPowerControl, Profile, SubmitPdu};

/// A modem that answers each command line (or PDU) as soon as it is complete.
#[derive(Clone, Default)]
struct Responder(Rc<RefCell<(VecDeque<u8>, Vec<u8>)>>);

impl ErrorType for Responder {
    type Error = ErrorKind;
}

impl Read<u8> for Responder {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.0
            .borrow_mut()
            .0
            .pop_front()
            .ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for Responder {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        let mut state = self.0.borrow_mut();
        let (rx, line) = &mut *state;
        if byte != b'\r' && byte != 0x1A {
            line.push(byte);
            return Ok(());
        }
        let reply: &[u8] = if byte == 0x1A {
            b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
        } else if line.starts_with(b"AT+CMGS=") {
            b"\r\n> "
        } else if line.starts_with(b"AT+CPIN?") {
            b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
        } else if line.starts_with(b"AT+CREG?") {
            b"\r\n+CREG: 1,1\r\n\r\nOK\r\n"
        } else {
            b"\r\nOK\r\n"
        };
        rx.extend(reply);
        line.clear();
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

struct Frozen;

impl Clock for Frozen {
    fn now_ms(&self) -> u64 {
        0
    }
}

fn send_segment(c: &mut Criterion) {
    let mut modem = Modem::new(
        Responder::default(),
        NoPowerControl,
        Frozen,
        Profile::SIM800,
    );
    while modem.poll() != Ok(Event::Ready) {}
    let pdu = SubmitPdu::from_hex(b"0031000B913316325476F800000011C8329BFD0699E5EF36485E6687D373")
        .unwrap();
    let mut group = c.benchmark_group("modem");
    group.throughput(Throughput::Elements(1));
    group.bench_function("send one 30-octet segment", |b| {
        b.iter(|| {
            modem.send(&pdu, false).unwrap();
            loop {
                if let Ok(Event::Sent(outcome)) = modem.poll() {
                    break outcome;
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, send_segment);
criterion_main!(benches);
