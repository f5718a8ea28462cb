//! Plays every annotated AT transcript in `docs/transcripts/` against the real modem
//! driver, with a scripted serial port and a fake clock, twice: once with each
//! modem chunk available at once, once moving a single byte per `poll()` in each
//! direction. The format is described in `docs/transcripts/README.md`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::modem::{
    Clock, Event, InboundPdu, Modem, ModemPower, Profile, SendOutcome, SimPin, SubmitPdu,
};

#[derive(Default)]
struct Wire {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    /// Bytes each direction may still move in this `poll()`; `None` = unlimited.
    budget: Option<(usize, usize)>,
    moved: usize,
}

#[derive(Clone, Default)]
struct Port(Rc<RefCell<Wire>>);

impl ErrorType for Port {
    type Error = ErrorKind;
}

impl Read<u8> for Port {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        let mut w = self.0.borrow_mut();
        if let Some((r, _)) = w.budget.as_mut() {
            if *r == 0 {
                return Err(nb::Error::WouldBlock);
            }
            *r -= 1;
        }
        let byte = w.rx.pop_front().ok_or(nb::Error::WouldBlock)?;
        w.moved += 1;
        Ok(byte)
    }
}

impl Write<u8> for Port {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        let mut w = self.0.borrow_mut();
        if let Some((_, t)) = w.budget.as_mut() {
            if *t == 0 {
                return Err(nb::Error::WouldBlock);
            }
            *t -= 1;
        }
        w.tx.push(byte);
        w.moved += 1;
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

#[derive(Clone, Default)]
struct Power(Rc<RefCell<VecDeque<String>>>);

impl ModemPower for Power {
    fn power_off(&mut self) {
        self.0.borrow_mut().push_back("power-off".into());
    }
    fn power_on(&mut self) {
        self.0.borrow_mut().push_back("power-on".into());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

fn slot(pdu: &InboundPdu) -> String {
    match pdu.slot {
        Some(s) => format!(
            "{}:{}",
            String::from_utf8_lossy(s.memory.as_bytes()),
            s.index
        ),
        None => "direct".into(),
    }
}

/// The canonical one-line form of an event used in `==` lines.
fn render(event: &Event) -> String {
    match event {
        Event::Ready => "ready".into(),
        Event::Sent(SendOutcome::Accepted(mr)) => format!("sent accepted mr={}", mr.0),
        Event::Sent(SendOutcome::Failed { error, class }) => {
            format!("sent failed {error:?} {class:?}")
        }
        Event::Sent(SendOutcome::Unknown) => "sent unknown".into(),
        Event::Received(p) => format!("received {} {}", slot(p), hex(p.bytes())),
        Event::StatusReport(p) => {
            let mr = p
                .status_report_reference()
                .map_or("?".into(), |m| m.0.to_string());
            format!("status-report {} mr={mr} {}", slot(p), hex(p.bytes()))
        }
        Event::Unreadable(s) => format!("unreadable {s:?}"),
        Event::Registration { domain, status } => format!("registration {domain:?} {status:?}"),
        Event::Sim(state) => format!("sim {state:?}"),
        Event::NetworkTime(c) => format!(
            "time 20{:02}-{:02}-{:02} {:02}:{:02}:{:02} q{}",
            c.year % 100,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            c.quarter_hours.map_or("none".into(), |q| q.to_string())
        ),
        Event::Rebooted => "rebooted".into(),
        Event::PowerCycling(why) => format!("power-cycle {why:?}"),
        Event::SupplyWarning => "supply-warning".into(),
    }
}

/// `\r`, `\n`, `\s` (space), `<ctrl-z>` and `<esc>` in transcript text.
fn unescape(text: &str) -> Vec<u8> {
    text.replace("\\r", "\r")
        .replace("\\n", "\n")
        .replace("\\s", " ")
        .replace("<ctrl-z>", "\x1a")
        .replace("<esc>", "\x1b")
        .into_bytes()
}

fn profile(name: &str) -> Profile {
    match name {
        "generic" => Profile::GENERIC,
        "sim800" => Profile::SIM800,
        "sim7600" => Profile::SIM7600,
        "quectel" => Profile::QUECTEL,
        other => panic!("unknown profile {other}"),
    }
}

struct Player {
    modem: Modem<Port, Power, FakeClock>,
    port: Port,
    clock: FakeClock,
    power: Power,
    trickle: bool,
    events: VecDeque<String>,
    tx_seen: usize,
}

impl Player {
    /// Polls until two `poll()` calls in a row move no byte and report nothing.
    fn settle(&mut self) {
        let mut quiet = 0;
        for _ in 0..1_000_000 {
            {
                let mut w = self.port.0.borrow_mut();
                w.moved = 0;
                w.budget = self.trickle.then_some((1, 1));
            }
            let result = self.modem.poll();
            let moved = self.port.0.borrow().moved;
            match result {
                Ok(event) => {
                    self.events.push_back(render(&event));
                    quiet = 0;
                }
                Err(nb::Error::WouldBlock) if moved == 0 => {
                    quiet += 1;
                    if quiet >= 2 {
                        return;
                    }
                }
                Err(nb::Error::WouldBlock) => quiet = 0,
                Err(nb::Error::Other(e)) => panic!("serial error {e:?}"),
            }
        }
        panic!("driver never settled");
    }
}

/// The transcript's lines with `!! include FILE` expanded, each with its origin.
fn expand(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match line.trim_end().strip_prefix("!! include ") {
            Some(file) => out.extend(expand(&path.with_file_name(file.trim()))),
            None => out.push((format!("{name}:{}", n + 1), line.trim_end().to_owned())),
        }
    }
    out
}

fn play(path: &Path, trickle: bool) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mode = if trickle {
        "byte at a time"
    } else {
        "whole chunks"
    };
    let lines = expand(path);
    let chosen = lines
        .iter()
        .find_map(|(_, l)| l.strip_prefix("!! profile "))
        .map_or(Profile::GENERIC, |p| profile(p.trim()));
    let port = Port::default();
    let clock = FakeClock::default();
    let power = Power::default();
    let mut modem = Modem::new(port.clone(), power.clone(), clock.clone(), chosen);
    if let Some(pin) = lines.iter().find_map(|(_, l)| l.strip_prefix("!! pin ")) {
        modem.set_pin(Some(SimPin::new(pin.trim().as_bytes()).expect("!! pin")));
    }
    let mut p = Player {
        modem,
        port,
        clock,
        power,
        trickle,
        events: VecDeque::new(),
        tx_seen: 0,
    };
    p.settle();
    for (origin, line) in &lines {
        let at = format!("{origin} ({mode})");
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with("!! profile")
            || line.starts_with("!! pin")
        {
            continue;
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "<<" => {
                let mut bytes = b"\r\n".to_vec();
                bytes.extend(unescape(rest));
                bytes.extend(b"\r\n");
                p.port.0.borrow_mut().rx.extend(bytes);
                p.settle();
            }
            "<<raw" => {
                p.port.0.borrow_mut().rx.extend(unescape(rest));
                p.settle();
            }
            ">>" => {
                let mut want = unescape(rest);
                if !rest.contains("<ctrl-z>") && !rest.contains("<esc>") {
                    want.push(b'\r');
                }
                let wire = p.port.0.borrow();
                let got = wire.tx.get(p.tx_seen..).unwrap_or(&[]);
                let got = &got[..got.len().min(want.len())];
                assert_eq!(
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(&want),
                    "{at}: driver wrote something else"
                );
                drop(wire);
                p.tx_seen += want.len();
            }
            "==" => {
                let got = p.events.pop_front();
                assert_eq!(got.as_deref(), Some(rest), "{at}: event");
            }
            "~~" => {
                let got = p.power.0.borrow_mut().pop_front();
                assert_eq!(got.as_deref(), Some(rest), "{at}: power");
            }
            "@" => {
                let ms: u64 = rest
                    .strip_prefix('+')
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{at}: bad time step"));
                p.clock.0.set(p.clock.0.get() + ms);
                p.settle();
            }
            "!!" => {
                let (action, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                let pdu = SubmitPdu::from_hex(arg.trim().as_bytes())
                    .unwrap_or_else(|e| panic!("{at}: bad PDU: {e}"));
                let more = match action {
                    "send" => false,
                    "send-more" => true,
                    other => panic!("{at}: unknown action {other}"),
                };
                p.modem
                    .send(&pdu, more)
                    .unwrap_or_else(|e| panic!("{at}: send refused: {e}"));
                p.settle();
            }
            other => panic!("{at}: unknown line tag {other:?}"),
        }
        // Nothing may be written that the transcript does not show next.
    }
    let wire = p.port.0.borrow();
    let extra = wire.tx.get(p.tx_seen..).unwrap_or(&[]);
    assert!(
        extra.is_empty(),
        "{name} ({mode}): driver wrote more than the transcript shows: {:?}",
        String::from_utf8_lossy(extra)
    );
    assert!(
        p.events.is_empty(),
        "{name} ({mode}): events not in the transcript: {:?}",
        p.events
    );
    assert!(
        p.power.0.borrow().is_empty(),
        "{name} ({mode}): power actions not in the transcript: {:?}",
        p.power.0.borrow()
    );
}

fn transcripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/transcripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "at"))
        .collect();
    files.sort();
    files
}

fn play_named(name: &str) {
    let path = transcripts()
        .into_iter()
        .find(|p| p.file_stem().is_some_and(|s| s == name))
        .unwrap_or_else(|| panic!("no transcript {name}.at"));
    play(&path, false);
    play(&path, true);
}

#[test]
fn every_transcript_has_a_test() {
    let known = TRANSCRIPTS;
    for path in transcripts() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            known.contains(&stem.as_str()),
            "{stem}.at has no test below"
        );
    }
}

macro_rules! transcript_tests {
    ($($name:ident),* $(,)?) => {
        const TRANSCRIPTS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                play_named(stringify!($name));
            }
        )*
    };
}

transcript_tests!(
    bringup_sim800,
    bringup_quectel,
    send_single,
    send_multipart,
    receive_cmti,
    status_report,
    send_cms_permanent,
    send_cms_temporary,
    send_timeout_esc,
    modem_unresponsive,
    reboot_mid_send,
    sim_removed,
    registration_lost,
    power_down,
    sim_pin,
    receive_garbled,
    bringup_sim7600,
    reboot_boot_window,
    sim_pin_entry,
    clock_resync,
    prompt_left_open,
);
