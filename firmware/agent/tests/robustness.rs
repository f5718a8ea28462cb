//! The driver against a modem that says random things at random times: it never
//! panics, and every accepted send ends in exactly one `Event::Sent` — none lost, none
//! doubled — once the line has been silent long enough for the timeouts to act. Also
//! a modem that floods the line, and one that restarts while a PDU is being written.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use proptest::prelude::*;
use relais_agent::modem::{
    Clock, ErrorClass, Event, Modem, NoPowerControl, Profile, SendError, SendOutcome, SubmitPdu,
};

#[derive(Clone, Default)]
struct Port(Rc<RefCell<VecDeque<u8>>>, Rc<RefCell<Vec<u8>>>);

impl ErrorType for Port {
    type Error = ErrorKind;
}

impl Read<u8> for Port {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.0.borrow_mut().pop_front().ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for Port {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.1.borrow_mut().push(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

#[derive(Clone, Default)]
struct FakeClock(Rc<Cell<u64>>);

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

/// Lines a modem might send, so that random runs get past bring-up.
const VOCABULARY: &[&str] = &[
    "\r\nOK\r\n",
    "\r\nOK\r\n",
    "\r\nOK\r\n",
    "\r\nERROR\r\n",
    "\r\n+CPIN: READY\r\n",
    "\r\n+CREG: 1,1\r\n",
    "\r\n+CREG: 2\r\n",
    "\r\n+CREG: 1\r\n",
    "\r\n+CEREG: 1,1\r\n",
    "\r\n> ",
    "\r\n>\r\n",
    "\r\n+CMGS: 7\r\n",
    "\r\n+CMS ERROR: 42\r\n",
    "\r\n+CME ERROR: 14\r\n",
    "\r\n+CMTI: \"SM\",3\r\n",
    "\r\n+CDSI: \"SR\",1\r\n",
    "\r\n+CMGR: 0,,23\r\n07913386094000F0040B913316325476F80000621122503000400453EA130A\r\n",
    "\r\n+CMGL: 7,0,,23\r\n07913386094000F0040B913316325476F80000621122503000400453EA130A\r\n",
    "\r\n+CMT: ,23\r\nZZ\r\n",
    "\r\n+CDS: 25\r\n07913386094000F0060C0B913316325476F8621122500000406211225010004000\r\n",
    "\r\nRDY\r\n",
    "\r\nSMS Ready\r\n",
    "\r\n+CPIN: NOT INSERTED\r\n",
    "\r\nNORMAL POWER DOWN\r\n",
    "\r\n+CCLK: \"26/11/22,06:00:00+04\"\r\n",
    "AT\r",
];

/// What a well-behaved modem answers to the last thing the driver wrote.
fn answer(written: &[u8]) -> &'static str {
    let last = written
        .split(|&b| b == b'\r')
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or(&[]);
    let last = String::from_utf8_lossy(last);
    if last.ends_with('\x1a') {
        "\r\n+CMGS: 9\r\n\r\nOK\r\n"
    } else if last.starts_with("AT+CPIN?") {
        "\r\n+CPIN: READY\r\n\r\nOK\r\n"
    } else if last.starts_with("AT+CREG?") {
        "\r\n+CREG: 1,1\r\n\r\nOK\r\n"
    } else if last.starts_with("AT+CEREG?") {
        "\r\n+CEREG: 1,1\r\n\r\nOK\r\n"
    } else if last.starts_with("AT+CMGS=") {
        "\r\n> "
    } else if last.starts_with("AT+CMGR=") {
        "\r\n+CMGR: 0,,23\r\n07913386094000F0040B913316325476F80000621122503000400453EA130A\r\n\r\nOK\r\n"
    } else {
        "\r\nOK\r\n"
    }
}

#[derive(Debug, Clone)]
enum Step {
    Answer,
    Line(usize),
    Garbage(Vec<u8>),
    Wait(u32),
    Send(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => Just(Step::Answer),
        3 => (0..VOCABULARY.len()).prop_map(Step::Line),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Garbage),
        2 => prop_oneof![0u32..3_000, 0u32..70_000].prop_map(Step::Wait),
        1 => any::<bool>().prop_map(Step::Send),
    ]
}

struct Run {
    modem: Modem<Port, NoPowerControl, FakeClock>,
    port: Port,
    clock: FakeClock,
    accepted: usize,
    outcomes: usize,
}

impl Run {
    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.modem.poll() {
                Ok(Event::Sent(_)) => self.outcomes += 1,
                Ok(_) => {}
                Err(nb::Error::WouldBlock) if self.port.0.borrow().is_empty() => return,
                Err(_) => {}
            }
        }
        panic!("driver did not settle");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_send_ends_exactly_once(steps in proptest::collection::vec(step(), 0..300), quectel in any::<bool>()) {
        let port = Port::default();
        let clock = FakeClock::default();
        let profile = if quectel { Profile::QUECTEL } else { Profile::SIM800 };
        let modem = Modem::new(port.clone(), NoPowerControl, clock.clone(), profile);
        let mut run = Run { modem, port, clock, accepted: 0, outcomes: 0 };
        let pdu = SubmitPdu::from_hex(b"0031000B913316325476F800000011C8329BFD0699E5EF36485E6687D373").unwrap();
        for step in steps {
            match step {
                Step::Answer => {
                    let reply = answer(&run.port.1.borrow());
                    run.port.0.borrow_mut().extend(reply.as_bytes());
                }
                Step::Line(i) => run.port.0.borrow_mut().extend(VOCABULARY[i].as_bytes()),
                Step::Garbage(bytes) => run.port.0.borrow_mut().extend(bytes),
                Step::Wait(ms) => run.clock.0.set(run.clock.0.get() + u64::from(ms)),
                Step::Send(more) => {
                    if run.modem.send(&pdu, more).is_ok() {
                        run.accepted += 1;
                    }
                }
            }
            run.drain();
            prop_assert!(run.outcomes <= run.accepted, "an outcome without a send");
            prop_assert_eq!(run.modem.is_sending(), run.accepted > run.outcomes);
        }
        // Silence for ten minutes: every timeout fires, any send in progress ends.
        for _ in 0..1200 {
            run.clock.0.set(run.clock.0.get() + 500);
            run.drain();
        }
        prop_assert_eq!(run.accepted, run.outcomes);
    }
}

/// A modem that never stops sending the same byte.
struct Flood(u8);

impl ErrorType for Flood {
    type Error = ErrorKind;
}

impl Read<u8> for Flood {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        Ok(self.0)
    }
}

impl Write<u8> for Flood {
    fn write(&mut self, _: u8) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn endless_garbage_neither_blocks_poll_nor_stops_the_timeouts() {
    for byte in [b'x', b'\n', b'>'] {
        let clock = FakeClock::default();
        let mut modem = Modem::new(Flood(byte), NoPowerControl, clock.clone(), Profile::SIM800);
        let mut cycled = false;
        for _ in 0..100 {
            clock.0.set(clock.0.get() + 600);
            // Each call returns: with an event or WouldBlock once its byte budget is spent.
            if let Ok(Event::PowerCycling(_)) = modem.poll() {
                cycled = true;
                break;
            }
        }
        assert!(cycled, "byte {byte:#x}: the AT probes never timed out");
    }
}

#[derive(Default)]
struct GatedLine {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    /// Bytes the port still takes (`None`: any number), like a UART whose transmit
    /// FIFO fills up.
    room: Option<usize>,
}

/// A port that stops taking bytes when its `room` runs out.
#[derive(Clone, Default)]
struct Gated(Rc<RefCell<GatedLine>>);

impl ErrorType for Gated {
    type Error = ErrorKind;
}

impl Read<u8> for Gated {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.0
            .borrow_mut()
            .rx
            .pop_front()
            .ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for Gated {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        let mut line = self.0.borrow_mut();
        match &mut line.room {
            Some(0) => return Err(nb::Error::WouldBlock),
            Some(room) => *room -= 1,
            None => {}
        }
        line.tx.push(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

/// Polls until the driver has nothing more to say; returns its events.
fn settle(modem: &mut Modem<Gated, NoPowerControl, FakeClock>) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..1000 {
        match modem.poll() {
            Ok(event) => events.push(event),
            Err(nb::Error::WouldBlock) => return events,
            Err(nb::Error::Other(e)) => panic!("{e}"),
        }
    }
    panic!("driver did not settle");
}

/// Answers every command line until `Event::Ready`.
fn bring_up(modem: &mut Modem<Gated, NoPowerControl, FakeClock>, port: &Gated) {
    let mut answered = 0;
    for _ in 0..100 {
        if settle(modem).contains(&Event::Ready) {
            return;
        }
        let mut line = port.0.borrow_mut();
        let lines = line.tx.iter().filter(|&&b| b == b'\r').count();
        if lines > answered {
            answered = lines;
            let reply = answer(&line.tx);
            line.rx.extend(reply.as_bytes());
        }
    }
    panic!("no bring-up");
}

/// A restart (inside the boot window, right after bring-up) while the PDU is still
/// being written: without its Ctrl-Z the modem cannot have sent it, so the send fails
/// as safe to retry; once the Ctrl-Z went out, the outcome is unknown.
#[test]
fn restart_while_the_pdu_is_written_ends_the_send_by_what_reached_the_modem() {
    let pdu = SubmitPdu::from_hex(b"0031000B913316325476F800000011C8329BFD0699E5EF36485E6687D373")
        .unwrap();
    for (room, want) in [
        (
            10,
            SendOutcome::Failed {
                error: SendError::ModemReset,
                class: ErrorClass::RetryLater,
            },
        ),
        // 60 hex digits + Ctrl-Z.
        (61, SendOutcome::Unknown),
    ] {
        let port = Gated::default();
        let clock = FakeClock::default();
        let mut modem = Modem::new(port.clone(), NoPowerControl, clock.clone(), Profile::SIM800);
        bring_up(&mut modem, &port);
        modem.send(&pdu, false).unwrap();
        assert_eq!(settle(&mut modem), []);
        assert!(port.0.borrow().tx.ends_with(b"AT+CMGS=29\r"));
        port.0.borrow_mut().room = Some(room);
        port.0.borrow_mut().rx.extend(b"\r\n> ");
        assert_eq!(settle(&mut modem), []);
        port.0.borrow_mut().rx.extend(b"\r\nRDY\r\n");
        assert_eq!(
            settle(&mut modem),
            [Event::Sent(want), Event::Rebooted],
            "room for {room} bytes"
        );
        assert!(!modem.is_sending());
    }
}
