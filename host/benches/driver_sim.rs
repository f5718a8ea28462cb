//! The real modem driver (`relais_agent::modem`) against the simulator (`relais::sim`)
//! over a real pty, in real time, as `relais sim` serves it:
//!
//! - **zero latency**: the simulated modem answers `+CMGS` at once, so the time from
//!   `Modem::send` to `Event::Sent(Accepted)` is the software overhead per SMS —
//!   driver, AT parser, pty, simulator interpreter and operator together;
//! - **realistic latency**: a fixed 1 s submit latency (the low end of the 1–5 s that
//!   SIM800/SIM7600 logs show, docs/modems.md § Sending: AT+CMGS), four segments chained
//!   with `AT+CMMS`. The modem allows one segment per second, so the modem-bound limit for
//!   a message is segments × 1 s; the bench prints the achieved throughput as a fraction of
//!   it (the goal is above 99 %).
//!
//! The simulator runs in this process on its own thread (`sim::transport`), the
//! driver on the bench thread with a non-blocking port on the pty's slave side: reads
//! take what the pty holds (one `read(2)` per refill), writes are collected and go
//! out in one `write(2)` when the driver turns to reading, as a UART with a transmit
//! FIFO would. When the driver has nothing to do the bench blocks in `poll(2)` on the
//! port, as an event loop would.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais::sim::operator::Ledger;
use relais::sim::scenario::Scenario;
use relais::sim::transport::{Pty, serve_pty_until};
use relais::sim::world::World;
use relais_agent::modem::{Clock, Event, Modem, NoPowerControl, Profile, SendOutcome, SubmitPdu};
use relais_core::sms::ConcatWidth;
use relais_core::sms::pdu::{
    self as core_pdu, Address, EncodingChoice, PhoneNumber, SubmitHeader, TextPlan,
};

/// The port's state, shared with the bench loop so it can flush before blocking.
struct Line {
    file: File,
    rx: Vec<u8>,
    rx_at: usize,
    tx: Vec<u8>,
}

impl Line {
    fn flush_tx(&mut self) -> Result<(), ErrorKind> {
        while !self.tx.is_empty() {
            match self.file.write(&self.tx) {
                Ok(n) => {
                    self.tx.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    wait(
                        self.file.as_raw_fd(),
                        libc::POLLOUT,
                        Duration::from_millis(1),
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ErrorKind::Other),
            }
        }
        Ok(())
    }
}

/// The driver's serial port: the pty slave, non-blocking.
#[derive(Clone)]
struct PtyPort(Rc<RefCell<Line>>);

impl ErrorType for PtyPort {
    type Error = ErrorKind;
}

impl Read<u8> for PtyPort {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        let mut line = self.0.borrow_mut();
        line.flush_tx()?;
        if line.rx_at >= line.rx.len() {
            let mut buf = [0u8; 512];
            let n = match line.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(_) => return Err(nb::Error::Other(ErrorKind::Other)),
            };
            line.rx.clear();
            line.rx.extend_from_slice(&buf[..n]);
            line.rx_at = 0;
        }
        let byte = *line.rx.get(line.rx_at).ok_or(nb::Error::WouldBlock)?;
        line.rx_at += 1;
        Ok(byte)
    }
}

impl Write<u8> for PtyPort {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        let mut line = self.0.borrow_mut();
        line.tx.push(byte);
        if line.tx.len() >= 256 {
            line.flush_tx()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(self.0.borrow_mut().flush_tx()?)
    }
}

struct WallClock(Instant);

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// Waits up to `timeout` for `events` on `fd`.
fn wait(fd: libc::c_int, events: libc::c_short, timeout: Duration) {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int) };
}

/// The simulator serving one modem on a pty, and the driver on its other side.
struct Rig {
    driver: Modem<PtyPort, NoPowerControl, WallClock>,
    line: Rc<RefCell<Line>>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl Rig {
    fn new(name: &str, submit_latency: &str) -> Rig {
        let scenario = format!(
            r#"
start = "2026-03-06T09:00:00"
[[modem]]
name = "m1"
profile = "sim800"
submit_latency = "{submit_latency}"
"#
        );
        let world = World::new(&Scenario::parse(&scenario).unwrap(), Ledger::none()).unwrap();
        let world = Arc::new(Mutex::new(world));
        let link = link_path(name);
        let pty = Pty::open(&link).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || serve_pty_until(world, 0, pty, false, &stop))
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&link)
            .unwrap();
        // SAFETY: plain termios/fcntl calls on an fd this function owns.
        unsafe {
            let fd = file.as_raw_fd();
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &t), 0);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let line = Rc::new(RefCell::new(Line {
            file,
            rx: Vec::new(),
            rx_at: 0,
            tx: Vec::new(),
        }));
        let driver = Modem::new(
            PtyPort(Rc::clone(&line)),
            NoPowerControl,
            WallClock(Instant::now()),
            Profile::SIM800,
        );
        let mut rig = Rig {
            driver,
            line,
            stop,
            server: Some(server),
        };
        rig.until(Duration::from_secs(30), |e| *e == Event::Ready);
        rig
    }

    /// Polls the driver until `want` accepts an event.
    fn until(&mut self, budget: Duration, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + budget;
        loop {
            match self.driver.poll() {
                Ok(event) if want(&event) => return event,
                Ok(_) => {}
                Err(nb::Error::WouldBlock) => {
                    assert!(Instant::now() < deadline, "driver: no event in {budget:?}");
                    let mut line = self.line.borrow_mut();
                    line.flush_tx().unwrap();
                    if line.rx_at >= line.rx.len() {
                        wait(
                            line.file.as_raw_fd(),
                            libc::POLLIN,
                            Duration::from_millis(1),
                        );
                    }
                }
                Err(nb::Error::Other(e)) => panic!("serial error: {e}"),
            }
        }
    }

    /// Sends one segment and returns its outcome.
    fn send(&mut self, pdu: &SubmitPdu, more: bool) -> SendOutcome {
        self.driver.send(pdu, more).unwrap();
        match self.until(Duration::from_secs(30), |e| matches!(e, Event::Sent(_))) {
            Event::Sent(outcome) => outcome,
            _ => unreachable!(),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

fn link_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("relais-bench-{name}-{}", std::process::id()))
}

/// The SMS-SUBMIT PDUs of `text` (no status report, 8-bit concatenation reference).
fn submit_pdus(text: &str, reference: u16) -> Vec<SubmitPdu> {
    let to = Address::Number(PhoneNumber::parse("+33612345678").unwrap());
    let header = SubmitHeader::new(&to);
    let plan = TextPlan::new(text, EncodingChoice::Auto, ConcatWidth::Ref8, reference).unwrap();
    plan.segments()
        .map(|seg| {
            let mut buf = [0u8; core_pdu::MAX_PDU_LEN];
            let n = core_pdu::encode_submit(&header, &seg, &mut buf)
                .unwrap()
                .pdu_len;
            SubmitPdu::new(&buf[..n]).unwrap()
        })
        .collect()
}

fn accepted(outcome: SendOutcome) {
    assert!(
        matches!(outcome, SendOutcome::Accepted(_)),
        "not accepted: {outcome:?}"
    );
}

fn zero_latency(c: &mut Criterion) {
    let mut rig = Rig::new("zero", "0");
    let pdu = submit_pdus("Bonjour, votre RDV est confirmé pour demain 9h.", 1).remove(0);
    let mut group = c.benchmark_group("driver_sim");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single-segment SMS over a pty, zero latency", |b| {
        b.iter(|| accepted(rig.send(&pdu, false)))
    });
    group.finish();
}

/// Submit latency of the realistic case, and segments per message.
const LATENCY: Duration = Duration::from_secs(1);
const SEGMENTS: usize = 4;

fn realistic_latency(c: &mut Criterion) {
    let mut rig = Rig::new("latency", "1s");
    let text = "Une campagne de quatre segments, envoyée d'un trait. ".repeat(11);
    let pdus = submit_pdus(&text, 2);
    assert_eq!(pdus.len(), SEGMENTS);
    let limit = LATENCY * SEGMENTS as u32;
    let mut fractions = Vec::new();
    let mut group = c.benchmark_group("driver_sim");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(40))
        .throughput(Throughput::Elements(SEGMENTS as u64));
    group.bench_function("4-segment SMS over a pty, 1 s submit latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                for (i, pdu) in pdus.iter().enumerate() {
                    accepted(rig.send(pdu, i + 1 < pdus.len()));
                }
                let elapsed = start.elapsed();
                fractions.push(limit.as_secs_f64() / elapsed.as_secs_f64());
                total += elapsed;
            }
            total
        })
    });
    group.finish();
    let n = fractions.len() as f64;
    let mean = fractions.iter().sum::<f64>() / n;
    let worst = fractions.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!(
        "driver_sim: throughput with {} ms submit latency = {:.3} % of the modem-bound \
         limit (mean over {} messages of {SEGMENTS} segments; worst {:.3} %; goal > 99 %)",
        LATENCY.as_millis(),
        mean * 100.0,
        fractions.len(),
        worst * 100.0,
    );
}

criterion_group!(benches, zero_latency, realistic_latency);
criterion_main!(benches);
