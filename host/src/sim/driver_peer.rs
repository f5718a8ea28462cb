//! The real modem driver (`relais_agent::modem`) against the simulator, in process and
//! in virtual time: the driver's serial port is the simulated modem's line, its clock
//! is the simulator's stepped clock, and its power switch reboots the simulated modem.
//! Everything is deterministic, and "within bounded time" is measured in virtual time.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::agent::time::network_utc;
use relais_agent::core::at::ErrorClass;
use relais_agent::modem::{
    CLOCK_RESYNC_MS, Clock, Event, Modem, ModemPower, NoPowerControl, Profile, Recovery, SendError,
    SendOutcome, SimPin, SimState, SubmitPdu,
};
use relais_core::sms::ConcatWidth;
use relais_core::sms::pdu::{
    self as core_pdu, Address, EncodingChoice, PhoneNumber, SmscField, SubmitHeader, TextPlan, Tpdu,
};
use serde_json::Value;

use super::operator::Ledger;
use super::peer::{Shared, WorldPort, WorldPower as Power};
use super::scenario::Scenario;
use super::time::SimDuration;
use super::world::World;

/// The device's monotonic clock: the simulator's virtual time less the jumps of the
/// network's clock ([`Rig::jump_network`]). A jump moves what the modem answers to
/// `AT+CCLK?` (and everything else in the simulator) but not the time the driver
/// schedules by, as on a device whose network corrects the time.
#[derive(Debug, Clone)]
struct DeviceClock {
    world: Shared,
    jumped: Rc<Cell<i64>>,
}

impl Clock for DeviceClock {
    fn now_ms(&self) -> u64 {
        (self.world.borrow().clock.now().0 - self.jumped.get()) as u64
    }
}

/// The modem line, with every command line the driver writes logged at device time
/// (a PDU body as `<pdu>`, ESC as `<esc>`).
#[derive(Debug)]
struct Port {
    line: WorldPort,
    clock: DeviceClock,
    partial: Vec<u8>,
    written: Rc<RefCell<Vec<(u64, String)>>>,
}

impl ErrorType for Port {
    type Error = ErrorKind;
}

impl Read<u8> for Port {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.line.read()
    }
}

impl Write<u8> for Port {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.line.write(byte)?;
        let logged = match byte {
            b'\r' => Some(String::from_utf8_lossy(&self.partial).into_owned()),
            0x1A => Some("<pdu>".to_owned()),
            0x1B => Some("<esc>".to_owned()),
            b => {
                self.partial.push(b);
                None
            }
        };
        if let Some(line) = logged {
            self.partial.clear();
            let at = self.clock.now_ms();
            self.written.borrow_mut().push((at, line));
        }
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        self.line.flush()
    }
}

struct Rig {
    world: Shared,
    driver: Modem<Port, Power, DeviceClock>,
    ledger: PathBuf,
    /// Virtual time moved each time the driver has nothing to do.
    step_ms: i64,
    clock: DeviceClock,
    /// Command lines the driver wrote, at device time.
    written: Rc<RefCell<Vec<(u64, String)>>>,
}

const SCENARIO: &str = r#"
seed = 5
start = "2026-03-06T09:00:00"
utc_offset = "+01:00"
clock = "step"

[[modem]]
name = "m1"
profile = "sim800"
msisdn = "+33700000001"
submit_latency = "2s..5s"

[operator]
report_latency = "5s..30s"

[[route]]
prefix = "+33698"
outcome = "rejected"
cms_error = 1          # unassigned number: permanent

[[route]]
prefix = "+33697"
outcome = "rejected"
cms_error = 42         # congestion: retry later

[[route]]
prefix = "+33699"
outcome = "failed"
status = 0x41
"#;

impl Rig {
    fn new(test: &str, scenario: &str) -> Rig {
        let ledger = std::env::temp_dir().join(format!(
            "relais-driver-peer-{test}-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&ledger);
        let scenario = Scenario::parse(scenario).unwrap();
        let world = World::new(&scenario, Ledger::open(&ledger).unwrap()).unwrap();
        let world = Rc::new(RefCell::new(world));
        let clock = DeviceClock {
            world: Rc::clone(&world),
            jumped: Rc::new(Cell::new(0)),
        };
        let written = Rc::new(RefCell::new(Vec::new()));
        let port = Port {
            line: WorldPort::new(&world, 0),
            clock: clock.clone(),
            partial: Vec::new(),
            written: Rc::clone(&written),
        };
        let driver = Modem::new(port, Power::new(&world, 0), clock.clone(), Profile::SIM800);
        Rig {
            world,
            driver,
            ledger,
            step_ms: 10,
            clock,
            written,
        }
    }

    /// The network's clock (the simulator's) jumps ahead by `by`; the device's own
    /// clock does not move.
    fn jump_network(&mut self, by: &str) {
        let by = SimDuration::parse(by).unwrap();
        self.clock.jumped.set(self.clock.jumped.get() + by.0);
        let mut w = self.world.borrow_mut();
        w.clock.advance(by);
        w.tick();
    }

    /// UTC (seconds) on the simulator's clock, which `AT+CCLK?` shows.
    fn network_now(&self) -> i64 {
        self.world.borrow().clock.now().0.div_euclid(1000)
    }

    /// Command lines written so far.
    fn written(&self) -> Vec<(u64, String)> {
        self.written.borrow().clone()
    }

    /// Polls the driver, moving virtual time one step whenever it has nothing to say,
    /// until `want` accepts an event; panics after `budget` of virtual time.
    fn until(&mut self, budget: &str, want: impl FnMut(&Event) -> bool) -> Event {
        drive(&self.world, self.step_ms, &mut self.driver, budget, want)
    }

    /// Another driver on the same modem line, as after a reset of the device: the
    /// modem keeps whatever state the old one left it in.
    fn restarted_driver<P: ModemPower>(&self, power: P) -> Modem<Port, P, DeviceClock> {
        let port = Port {
            line: WorldPort::new(&self.world, 0),
            clock: self.clock.clone(),
            partial: Vec::new(),
            written: Rc::clone(&self.written),
        };
        Modem::new(port, power, self.clock.clone(), Profile::SIM800)
    }

    /// Polls the driver for `span` of virtual time; returns its events.
    fn idle(&mut self, span: &str) -> Vec<Event> {
        let end = self.world.borrow().clock.now() + SimDuration::parse(span).unwrap();
        let mut seen = Vec::new();
        while self.world.borrow().clock.now() < end {
            match self.driver.poll() {
                Ok(event) => seen.push(event),
                Err(nb::Error::WouldBlock) => {
                    let mut w = self.world.borrow_mut();
                    w.clock.advance(SimDuration(self.step_ms));
                    w.tick();
                }
                Err(nb::Error::Other(e)) => panic!("serial error {e}"),
            }
        }
        seen
    }

    fn ready(&mut self) {
        self.until("2m", |e| *e == Event::Ready);
    }

    /// Sends every segment of `text` and returns each segment's outcome.
    fn send(&mut self, to: &str, text: &str, reference: u16) -> Vec<SendOutcome> {
        let mut outcomes = Vec::new();
        for pdu in submit_pdus(to, text, reference) {
            let more = outcomes.len() + 1 < pdu.1;
            self.driver.send(&pdu.0, more).unwrap();
            match self.until("3m", |e| matches!(e, Event::Sent(_))) {
                Event::Sent(outcome) => outcomes.push(outcome),
                _ => unreachable!(),
            }
        }
        outcomes
    }

    fn ledger(&self, kind: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.ledger)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["kind"] == kind)
            .collect()
    }
}

/// Polls `driver`, moving `world`'s virtual time `step_ms` whenever it has nothing to
/// say, until `want` accepts an event; panics after `budget` of virtual time.
fn drive<P: ModemPower>(
    world: &Shared,
    step_ms: i64,
    driver: &mut Modem<Port, P, DeviceClock>,
    budget: &str,
    mut want: impl FnMut(&Event) -> bool,
) -> Event {
    let budget = SimDuration::parse(budget).unwrap();
    let deadline = world.borrow().clock.now() + budget;
    let mut seen = Vec::new();
    loop {
        match driver.poll() {
            Ok(event) if want(&event) => return event,
            Ok(event) => seen.push(event),
            Err(nb::Error::WouldBlock) => {
                let mut w = world.borrow_mut();
                assert!(
                    w.clock.now() < deadline,
                    "not within {budget:?} of virtual time; events: {seen:?}"
                );
                w.clock.advance(SimDuration(step_ms));
                w.tick();
            }
            Err(nb::Error::Other(e)) => panic!("serial error {e}"),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ledger);
    }
}

/// The SMS-SUBMIT PDUs of `text` (status report requested) and their count.
fn submit_pdus(to: &str, text: &str, reference: u16) -> Vec<(SubmitPdu, usize)> {
    let to = Address::Number(PhoneNumber::parse(to).unwrap());
    let mut header = SubmitHeader::new(&to);
    header.status_report = true;
    let plan = TextPlan::new(text, EncodingChoice::Auto, ConcatWidth::Ref8, reference).unwrap();
    let count = usize::from(plan.segment_count().get());
    plan.segments()
        .map(|seg| {
            let mut buf = [0u8; core_pdu::MAX_PDU_LEN];
            let n = core_pdu::encode_submit(&header, &seg, &mut buf)
                .unwrap()
                .pdu_len;
            (SubmitPdu::new(&buf[..n]).unwrap(), count)
        })
        .collect()
}

fn accepted(outcomes: &[SendOutcome]) -> Vec<u8> {
    outcomes
        .iter()
        .map(|o| match o {
            SendOutcome::Accepted(mr) => mr.0,
            other => panic!("not accepted: {other:?}"),
        })
        .collect()
}

#[test]
fn driver_brings_up_sends_single_and_multipart_and_matches_reports() {
    let mut rig = Rig::new("send", SCENARIO);
    rig.ready();
    let single = accepted(&rig.send("+33612345678", "Bonjour, votre RDV est confirmé.", 1));
    let long = "Une campagne longue. ".repeat(19);
    let multi = accepted(&rig.send("+33612345678", &long, 2));
    assert_eq!(multi.len(), 3);
    // Every segment asked for a report: the +CDS reaches the driver with its MR.
    let mut want: BTreeSet<u8> = single.iter().chain(&multi).copied().collect();
    while !want.is_empty() {
        let Event::StatusReport(pdu) = rig.until("2m", |e| matches!(e, Event::StatusReport(_)))
        else {
            unreachable!()
        };
        let mr = pdu.status_report_reference().expect("a status report").0;
        assert!(want.remove(&mr), "report for unexpected MR {mr}");
    }
    let messages = rig.ledger("message");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["text"], "Bonjour, votre RDV est confirmé.");
    assert_eq!(messages[1]["text"], long.as_str());
    assert_eq!(messages[1]["segments"], 3);
    assert_eq!(messages[1]["duplicate_segments"], 0);
}

#[test]
fn driver_receives_injected_messages_and_deletes_them() {
    let mut rig = Rig::new("receive", SCENARIO);
    rig.ready();
    for text in ["Premier", "Deuxième message, un peu plus long"] {
        rig.world.borrow_mut().inject_sms(0, "+33611223344", text);
        let Event::Received(pdu) = rig.until("1m", |e| matches!(e, Event::Received(_))) else {
            unreachable!()
        };
        let Ok(Tpdu::Deliver(d)) = core_pdu::decode(pdu.bytes(), SmscField::Present) else {
            panic!("not a DELIVER: {pdu:?}");
        };
        assert_eq!(d.user_data.text().as_str(), text);
        assert_eq!(d.from.to_string(), "+33611223344");
    }
    // The driver deletes what it read.
    rig.idle("10s");
    assert_eq!(rig.world.borrow().slots[0].modem.stored(), [0, 0, 0]);
}

#[test]
fn driver_keeps_received_messages_until_the_caller_deletes_them() {
    let scenario = SCENARIO.replace(
        r#"msisdn = "+33700000001""#,
        "msisdn = \"+33700000001\"\nsmsc = \"+33609001390\"",
    );
    let mut rig = Rig::new("keep", &scenario);
    rig.driver.keep_received(true);
    rig.ready();
    // Part 1 of a two-part reply (part 2 is lost in the network), from a number in
    // national form: a French SIM shows `0612345678` (type of number "unknown").
    let long = format!("STOP {}", "merci ".repeat(40));
    rig.world
        .borrow_mut()
        .inject_sms_parts(0, "0612345678", &long, &[1]);
    let Event::Received(pdu) = rig.until("1m", |e| matches!(e, Event::Received(_))) else {
        unreachable!()
    };
    let Ok(Tpdu::Deliver(d)) = core_pdu::decode(pdu.bytes(), SmscField::Present) else {
        panic!("not a DELIVER: {pdu:?}");
    };
    assert_eq!(d.from.to_string(), "0612345678");
    assert_eq!(
        d.user_data.udh.concat.map(|c| (c.part, c.total)),
        Some((1, 2))
    );
    assert!(d.user_data.text().starts_with("STOP merci"));
    // The service centre's address heads the PDU, in international form.
    assert_eq!(d.smsc.map(|n| n.to_string()), Some("+33609001390".into()));
    // Kept: the next listing hands it up again, until the caller deletes it.
    let slot = pdu.slot.expect("read from storage");
    assert_eq!(rig.world.borrow().slots[0].modem.stored(), [1, 0, 0]);
    let again = rig.until("3m", |e| matches!(e, Event::Received(_)));
    assert_eq!(again, Event::Received(pdu));
    rig.driver.delete(slot.index);
    rig.idle("10s");
    assert_eq!(rig.world.borrow().slots[0].modem.stored(), [0, 0, 0]);
    // The ledger shows the whole reply; part 2 never reached the modem.
    let replies = rig.ledger("reply");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["text"], long.as_str());
}

#[test]
fn driver_classifies_send_errors() {
    let mut rig = Rig::new("errors", SCENARIO);
    rig.ready();
    let failed = |o: &SendOutcome| match *o {
        SendOutcome::Failed { error, class } => (error, class),
        other => panic!("expected a failure, got {other:?}"),
    };
    let (error, class) = failed(&rig.send("+33698000000", "Unassigned", 3)[0]);
    assert_eq!(class, ErrorClass::Permanent, "{error}");
    let (error, class) = failed(&rig.send("+33697000000", "Congested", 4)[0]);
    assert_eq!(class, ErrorClass::RetryLater, "{error}");
    assert!(matches!(error, SendError::Cms(_)));
    assert_eq!(rig.ledger("message").len(), 0);
    assert_eq!(rig.ledger("refused").len(), 2);
}

#[test]
fn driver_recovers_after_reboot_and_sim_loss_and_sends_again() {
    // After each reboot the SIM answers "busy" for 8 s, as real ones do.
    let scenario = SCENARIO.replace(
        "profile = \"sim800\"",
        "profile = \"sim800\"\nsim_busy = \"8s\"",
    );
    let mut rig = Rig::new("recover", &scenario);
    rig.ready();
    // Past the profile's boot window (15 s after bring-up); restarts inside it are
    // tested by `reboot_inside_the_boot_window_*`.
    rig.idle("20s");
    rig.world
        .borrow_mut()
        .inject_fault(0, "reboot", None, 0.0)
        .unwrap();
    rig.until("1m", |e| *e == Event::Rebooted);
    rig.ready();
    accepted(&rig.send("+33612345678", "After reboot", 5));
    let sim_out = SimDuration::parse("3m").unwrap();
    rig.world
        .borrow_mut()
        .inject_fault(0, "sim-out", Some(sim_out), 0.0)
        .unwrap();
    // The driver power-cycles every minute while the SIM is missing; bring-up succeeds
    // once it is back.
    let mut events = Vec::new();
    rig.until("10m", |e| {
        events.push(e.clone());
        *e == Event::Ready
    });
    assert!(
        events.contains(&Event::PowerCycling(Recovery::SimLost)),
        "{events:?}"
    );
    accepted(&rig.send("+33612345678", "After SIM back", 6));
    let texts: Vec<Value> = rig
        .ledger("message")
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["After reboot", "After SIM back"]);
}

/// Regression: a modem that restarted within the SIM800's 15 s boot window after
/// bring-up went unnoticed; the driver kept going with a modem that had forgotten
/// `+CNMI`, so status reports were dropped by the modem and never reached the caller.
#[test]
fn reboot_inside_the_boot_window_is_detected_and_reports_still_arrive() {
    let mut rig = Rig::new("boot-window", SCENARIO);
    let started = rig.world.borrow().clock.now();
    rig.ready();
    let window = SimDuration(Profile::SIM800.boot_window.as_u64() as i64);
    assert!(rig.world.borrow().clock.now() - started < window);
    rig.world
        .borrow_mut()
        .inject_fault(0, "reboot", None, 0.0)
        .unwrap();
    // The modem boots in 3 s; the driver has 10 s to notice and bring it up again.
    let mut events = rig.idle("10s");
    assert!(
        rig.world.borrow().clock.now() - started < SimDuration::from_secs(15),
        "the restart happened inside the boot window"
    );
    let mr = accepted(&rig.send("+33612345678", "Rapport demandé", 8))[0];
    let report = rig.until("2m", |e| {
        events.push(e.clone());
        matches!(e, Event::StatusReport(_))
    });
    let Event::StatusReport(pdu) = report else {
        unreachable!()
    };
    assert_eq!(pdu.status_report_reference().map(|m| m.0), Some(mr));
    let first_ready = events.iter().position(|e| *e == Event::Ready);
    let rebooted = events.iter().position(|e| *e == Event::Rebooted);
    assert!(
        rebooted.is_some() && first_ready > rebooted,
        "restart detected, then bring-up again: {events:?}"
    );
}

/// Restarts inside the boot window while a send is in flight: before the PDU went out
/// the send fails as `ModemReset` (safe to retry), after Ctrl-Z it is `Unknown`; each
/// send ends exactly once and nothing reaches the network twice.
#[test]
fn reboot_inside_the_boot_window_ends_the_send_in_flight_once() {
    let mut rig = Rig::new("boot-window-send", SCENARIO);
    rig.ready();
    let (pdu, _) = submit_pdus("+33612345678", "Avant l'invite", 10).remove(0);
    // Restart before anything was written: the modem never shows the prompt.
    rig.driver.send(&pdu, false).unwrap();
    rig.world
        .borrow_mut()
        .inject_fault(0, "reboot", None, 0.0)
        .unwrap();
    let mut events = Vec::new();
    let sent = rig.until("1m", |e| {
        events.push(e.clone());
        matches!(e, Event::Sent(_))
    });
    assert_eq!(
        sent,
        Event::Sent(SendOutcome::Failed {
            error: SendError::ModemReset,
            class: ErrorClass::RetryLater
        }),
        "{events:?}"
    );
    rig.ready();
    // Restart while the modem works on the submission (2–5 s), after Ctrl-Z.
    let (pdu, _) = submit_pdus("+33612345678", "Après Ctrl-Z", 11).remove(0);
    rig.driver.send(&pdu, false).unwrap();
    let during = rig.idle("1s");
    assert!(
        !during.iter().any(|e| matches!(e, Event::Sent(_))),
        "{during:?}"
    );
    rig.world
        .borrow_mut()
        .inject_fault(0, "reboot", None, 0.0)
        .unwrap();
    let sent = rig.until("1m", |e| matches!(e, Event::Sent(_)));
    assert_eq!(sent, Event::Sent(SendOutcome::Unknown));
    let mut after = Vec::new();
    rig.until("1m", |e| {
        after.push(e.clone());
        *e == Event::Ready
    });
    assert!(after.contains(&Event::Rebooted), "{after:?}");
    assert!(
        !after.iter().any(|e| matches!(e, Event::Sent(_))),
        "{after:?}"
    );
    accepted(&rig.send("+33612345678", "Et ensuite", 12));
    rig.idle("10s");
    let texts: Vec<Value> = rig
        .ledger("message")
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    // The first never reached the network; the second may have (the modem was busy
    // with it when it restarted), but at most once.
    assert!(!texts.contains(&Value::from("Avant l'invite")), "{texts:?}");
    let second = texts.iter().filter(|t| *t == "Après Ctrl-Z").count();
    assert!(second <= 1, "{texts:?}");
    assert_eq!(texts.last(), Some(&Value::from("Et ensuite")), "{texts:?}");
}

/// Regression: the firmware under QEMU, killed between `AT+CMGS` and Ctrl-Z of a send
/// (`device_faults`), left the simulated modem at its `> ` prompt. The restarted
/// driver's `AT` probes went into the PDU text, and on a board that cannot switch the
/// modem (`NoPowerControl`) it never reached the modem again: no job moved until the
/// campaign's deadline. The new driver ends the prompt with ESC; the abandoned segment
/// never reaches the network, and the next send goes out once.
#[test]
fn a_driver_restarted_at_an_open_prompt_gets_the_modem_back_without_power_control() {
    let mut rig = Rig::new("prompt-left-open", SCENARIO);
    rig.ready();
    // The device resets while sending: `AT+CMGS` and half the PDU went out, Ctrl-Z
    // never did. The modem keeps its prompt; `rig.driver` is never polled again.
    let (pdu, _) = submit_pdus("+33612345678", "Interrompu", 13).remove(0);
    let hex: String = pdu.bytes().iter().map(|b| format!("{b:02X}")).collect();
    let mut line = WorldPort::new(&rig.world, 0);
    let abandoned = format!("AT+CMGS={}\r{}", pdu.tpdu_len(), &hex[..hex.len() / 2]);
    for b in abandoned.bytes() {
        line.write(b).unwrap();
    }
    rig.world.borrow_mut().tick();
    // The QEMU board's modem has no power switch the driver could use.
    let mut driver = rig.restarted_driver(NoPowerControl);
    drive(&rig.world, rig.step_ms, &mut driver, "30s", |e| {
        *e == Event::Ready
    });
    let (pdu, _) = submit_pdus("+33612345678", "Ensuite", 14).remove(0);
    driver.send(&pdu, false).unwrap();
    let sent = drive(&rig.world, rig.step_ms, &mut driver, "1m", |e| {
        matches!(e, Event::Sent(_))
    });
    assert!(
        matches!(sent, Event::Sent(SendOutcome::Accepted(_))),
        "{sent:?}"
    );
    let texts: Vec<Value> = rig
        .ledger("message")
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["Ensuite"]);
}

fn pin_scenario() -> String {
    SCENARIO.replace(
        "profile = \"sim800\"",
        "profile = \"sim800\"\npin = \"1234\"\nsim_busy = \"8s\"",
    )
}

/// A PIN-locked SIM: the driver enters the configured PIN at bring-up, waits out the
/// "SIM busy" seconds, and does it again after the modem restarts.
#[test]
fn driver_unlocks_the_sim_with_its_pin_and_again_after_a_restart() {
    let mut rig = Rig::new("pin", &pin_scenario());
    rig.driver.set_pin(Some(SimPin::new(b"1234").unwrap()));
    rig.ready();
    accepted(&rig.send("+33612345678", "Avec code PIN", 13));
    rig.idle("20s");
    rig.world
        .borrow_mut()
        .inject_fault(0, "reboot", None, 0.0)
        .unwrap();
    rig.until("1m", |e| *e == Event::Rebooted);
    rig.ready();
    accepted(&rig.send("+33612345678", "Après redémarrage", 14));
    let modem = &rig.world.borrow().slots[0].modem;
    assert_eq!((modem.sim_lock(), modem.pin_attempts()), ("none", 3));
    assert_eq!(rig.ledger("message").len(), 2);
}

/// No PIN: reported, the SIM untouched. A wrong PIN: entered twice, reported, never a
/// third time however often the driver power-cycles, so the SIM keeps its last
/// attempt. The right PIN then unlocks it at once.
#[test]
fn driver_never_blocks_the_sim_with_a_wrong_pin() {
    let mut rig = Rig::new("wrong-pin", &pin_scenario());
    let attempts = |rig: &Rig| rig.world.borrow().slots[0].modem.pin_attempts();
    let events = rig.idle("90s");
    assert!(
        events.contains(&Event::Sim(SimState::PinRequired)),
        "{events:?}"
    );
    assert_eq!(attempts(&rig), 3);
    rig.driver.set_pin(Some(SimPin::new(b"0000").unwrap()));
    let events = rig.idle("10m");
    let rejected = events
        .iter()
        .filter(|e| **e == Event::Sim(SimState::PinRejected))
        .count();
    assert!(rejected >= 5, "reported at each power cycle: {events:?}");
    assert!(!events.contains(&Event::Ready), "{events:?}");
    assert_eq!(attempts(&rig), 1, "two entries, the last attempt kept");
    assert_eq!(rig.world.borrow().slots[0].modem.sim_lock(), "pin");
    // The same wrong PIN handed over again does not buy more entries.
    rig.driver.set_pin(Some(SimPin::new(b"0000").unwrap()));
    rig.idle("2m");
    assert_eq!(attempts(&rig), 1);
    rig.driver.set_pin(Some(SimPin::new(b"1234").unwrap()));
    rig.until("1m", |e| *e == Event::Ready);
    assert_eq!(attempts(&rig), 3);
    accepted(&rig.send("+33612345678", "Enfin", 15));
}

/// Garbled bytes in both directions and a network outage in the middle: every
/// segment the driver reports accepted is in the ledger, nothing is there twice, and
/// failures the driver reports as such never reached the network.
#[test]
fn driver_under_line_faults_never_duplicates_or_loses_a_segment() {
    let mut rig = Rig::new("faults", SCENARIO);
    rig.ready();
    rig.world
        .borrow_mut()
        .inject_fault(0, "garble", None, 0.002)
        .unwrap();
    let mut accepted_mrs = Vec::new();
    let mut failed = Vec::new();
    let mut unknown = 0;
    for i in 0..40 {
        if i == 20 {
            let outage = SimDuration::parse("2m").unwrap();
            let mut w = rig.world.borrow_mut();
            w.inject_fault(0, "network-loss", Some(outage), 0.0)
                .unwrap();
        }
        let text = format!("Message number {i:02} of the run");
        for attempt in 0.. {
            assert!(attempt < 30, "{text}: no final outcome after 30 attempts");
            let (pdu, _) = submit_pdus("+33612345678", &text, 0).remove(0);
            if rig.driver.send(&pdu, false).is_err() {
                rig.until("10m", |e| *e == Event::Ready);
                continue;
            }
            let Event::Sent(outcome) = rig.until("5m", |e| matches!(e, Event::Sent(_))) else {
                unreachable!()
            };
            match outcome {
                SendOutcome::Accepted(mr) => accepted_mrs.push(mr.0),
                SendOutcome::Unknown => unknown += 1,
                SendOutcome::Failed {
                    class: ErrorClass::RetryLater,
                    ..
                } => {
                    rig.idle("30s");
                    continue;
                }
                SendOutcome::Failed { error, .. } => failed.push((text.clone(), error)),
            }
            break;
        }
    }
    rig.world
        .borrow_mut()
        .inject_fault(0, "garble", Some(SimDuration(0)), 0.0)
        .unwrap();
    rig.idle("1m");
    let messages = rig.ledger("message");
    let ledger_mrs: Vec<u64> = messages
        .iter()
        .flat_map(|m| {
            m["mrs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
        })
        .collect();
    let distinct: BTreeSet<u64> = ledger_mrs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ledger_mrs.len(),
        "a segment reached the network twice"
    );
    for mr in &accepted_mrs {
        assert!(
            distinct.contains(&u64::from(*mr)),
            "accepted MR {mr} not in the ledger"
        );
    }
    assert!(
        messages.len() <= accepted_mrs.len() + unknown,
        "more messages in the ledger than accepted + unknown outcomes"
    );
    assert!(
        accepted_mrs.len() >= 30,
        "accepted {}, unknown {unknown}, failed {failed:?}",
        accepted_mrs.len()
    );
}

/// With a fixed 3 s submit latency the modem allows one segment per 3 s: the driver
/// must keep it busy, i.e. add (almost) no virtual time of its own between segments
/// (`AT+CMMS`, `AT+CMGS`, prompt, PDU). Measured in virtual time at 1 ms resolution,
/// so it is a property of the driver's protocol, not of this machine's speed.
#[test]
fn driver_throughput_is_modem_bound() {
    let scenario = SCENARIO.replace("submit_latency = \"2s..5s\"", "submit_latency = \"3s\"");
    let mut rig = Rig::new("throughput", &scenario);
    rig.ready();
    rig.step_ms = 1;
    let text = "Segment text that fills a concatenated message. ".repeat(19);
    let start = rig.world.borrow().clock.now();
    let mrs = accepted(&rig.send("+33612345678", &text, 7));
    let elapsed = rig.world.borrow().clock.now() - start;
    let bound = 3000 * mrs.len() as i64;
    assert_eq!(mrs.len(), 6);
    let fraction = bound as f64 / elapsed.0 as f64;
    assert!(
        fraction > 0.99,
        "{} segments in {} ms of virtual time: {:.2}% of the modem-bound rate",
        mrs.len(),
        elapsed.0,
        fraction * 100.0
    );
}

/// The network's clock jumps 30 hours ahead after bring-up (a NITZ correction; the
/// simulator's `advance`) while the device's own clock does not: the driver reads
/// `AT+CCLK?` again within [`CLOCK_RESYNC_MS`] of its clock and reports the new time
/// as at bring-up, then keeps reading it once a minute.
#[test]
fn driver_reports_a_jump_of_the_network_clock_within_the_resync_interval() {
    let mut rig = Rig::new("clock-jump", SCENARIO);
    let Event::NetworkTime(first) = rig.until("2m", |e| matches!(e, Event::NetworkTime(_))) else {
        unreachable!()
    };
    let first_at = rig.clock.now_ms();
    let first = network_utc(&first).expect("bring-up reads the network time");
    assert!((first.0 - rig.network_now()).abs() <= 1, "{first:?}");
    rig.ready();
    rig.idle("10s");
    rig.jump_network("30h");
    let jumped_at = rig.clock.now_ms();
    let Event::NetworkTime(clock) = rig.until("2m", |e| matches!(e, Event::NetworkTime(_))) else {
        unreachable!()
    };
    let waited = rig.clock.now_ms() - jumped_at;
    assert!(
        waited <= CLOCK_RESYNC_MS,
        "new network time after {waited} ms of device time"
    );
    let utc = network_utc(&clock).expect("a network time");
    assert!((utc.0 - rig.network_now()).abs() <= 1, "{clock:?}");
    // 30 hours ahead of what the device's own clock carried forward.
    let carried = first.0 + ((rig.clock.now_ms() - first_at) / 1000) as i64;
    let ahead = utc.0 - carried;
    assert!((ahead - 30 * 3600).abs() <= 2, "{ahead} s ahead");
    // Then once a minute of device time, each reading the network's time.
    let events = rig.idle("5m");
    let times: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::NetworkTime(c) => network_utc(c).map(|u| u.0),
            _ => None,
        })
        .collect();
    assert!((4..=5).contains(&times.len()), "{times:?}");
    for pair in times.windows(2) {
        assert!((pair[1] - pair[0] - 60).abs() <= 1, "{times:?}");
    }
    let reads: Vec<u64> = rig
        .written()
        .iter()
        .filter(|(at, line)| *at > first_at && line == "AT+CCLK?")
        .map(|(at, _)| *at)
        .collect();
    for pair in reads.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (CLOCK_RESYNC_MS..CLOCK_RESYNC_MS + 1_000).contains(&gap),
            "reads {gap} ms apart: {reads:?}"
        );
    }
}

/// The clock read falls due while a three-segment message is being sent: it waits for
/// the last segment, nothing is written between a segment's `AT+CMGS` and its result,
/// and the message reaches the network once.
#[test]
fn clock_reads_wait_for_the_send_in_flight() {
    let mut rig = Rig::new("clock-send", SCENARIO);
    rig.ready();
    let last_read = |rig: &Rig| {
        rig.written()
            .iter()
            .rev()
            .find(|(_, line)| line == "AT+CCLK?")
            .map(|(at, _)| *at)
            .expect("bring-up read the clock")
    };
    // Start the send 3 s before the next read is due; it takes 6–15 s.
    let due = last_read(&rig) + CLOCK_RESYNC_MS;
    while rig.clock.now_ms() + 3_000 < due {
        rig.idle("100ms");
    }
    rig.jump_network("30h");
    let start = rig.written().len();
    let started_at = rig.clock.now_ms();
    let long = "Un message en trois parties, envoyé pendant la relecture. ".repeat(7);
    let mrs = accepted(&rig.send("+33612345678", &long, 21));
    assert_eq!(mrs.len(), 3);
    let ended_at = rig.clock.now_ms();
    assert!(
        started_at < due && due < ended_at,
        "the read fell due during the send"
    );
    let during: Vec<String> = rig.written()[start..]
        .iter()
        .map(|(_, l)| l.clone())
        .collect();
    assert!(!during.iter().any(|l| l == "AT+CCLK?"), "{during:?}");
    // Each AT+CMGS is followed by its PDU body, nothing in between.
    for (i, line) in during.iter().enumerate() {
        if line.starts_with("AT+CMGS=") {
            assert_eq!(during.get(i + 1).map(String::as_str), Some("<pdu>"));
        }
    }
    let Event::NetworkTime(clock) = rig.until("5s", |e| matches!(e, Event::NetworkTime(_))) else {
        unreachable!()
    };
    assert!(last_read(&rig) >= ended_at);
    let utc = network_utc(&clock).expect("a network time");
    assert!((utc.0 - rig.network_now()).abs() <= 1, "{clock:?}");
    rig.idle("10s");
    let messages = rig.ledger("message");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["text"], long.as_str());
    assert_eq!(messages[0]["segments"], 3);
    assert_eq!(messages[0]["duplicate_segments"], 0);
}

/// The driver against the simulator over a real pty, in real time (the transport
/// `relais sim` uses): bring-up, a two-part send, an injected inbound message.
#[test]
fn driver_over_a_pty() {
    use std::fs::File;
    use std::io::{Read as _, Write as _};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    struct PtyPort(File);
    impl ErrorType for PtyPort {
        type Error = ErrorKind;
    }
    impl Read<u8> for PtyPort {
        fn read(&mut self) -> nb::Result<u8, ErrorKind> {
            let mut b = [0u8; 1];
            match self.0.read(&mut b) {
                Ok(1) => Ok(b[0]),
                Ok(_) => Err(nb::Error::WouldBlock),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(nb::Error::WouldBlock),
                Err(_) => Err(nb::Error::Other(ErrorKind::Other)),
            }
        }
    }
    impl Write<u8> for PtyPort {
        fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
            match self.0.write(&[byte]) {
                Ok(1) => Ok(()),
                Ok(_) => Err(nb::Error::WouldBlock),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(nb::Error::WouldBlock),
                Err(_) => Err(nb::Error::Other(ErrorKind::Other)),
            }
        }
        fn flush(&mut self) -> nb::Result<(), ErrorKind> {
            Ok(())
        }
    }
    struct WallClock(Instant);
    impl Clock for WallClock {
        fn now_ms(&self) -> u64 {
            self.0.elapsed().as_millis() as u64
        }
    }

    let scenario = r#"
start = "2026-03-06T09:00:00"
[[modem]]
name = "m1"
submit_latency = "100ms"
[operator]
report_latency = "100ms"
"#;
    let ledger_path =
        std::env::temp_dir().join(format!("relais-driver-pty-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&ledger_path);
    let world = World::new(
        &Scenario::parse(scenario).unwrap(),
        Ledger::open(&ledger_path).unwrap(),
    )
    .unwrap();
    let world = Arc::new(Mutex::new(world));
    let link = std::env::temp_dir().join(format!("relais-driver-pty-{}", std::process::id()));
    let pty = super::transport::Pty::open(&link).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (w, stop) = (Arc::clone(&world), Arc::clone(&stop));
        std::thread::spawn(move || super::transport::serve_pty_until(w, 0, pty, false, &stop))
    };
    let port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&link)
        .unwrap();
    // SAFETY: plain fcntl/termios calls on an fd we own for the whole block.
    unsafe {
        let fd = port.as_raw_fd();
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd, &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &t), 0);
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut driver = Modem::new(
        PtyPort(port),
        relais_agent::modem::NoPowerControl,
        WallClock(Instant::now()),
        Profile::SIM800,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let wait = |driver: &mut Modem<_, _, _>, want: &dyn Fn(&Event) -> bool| -> Event {
        loop {
            match driver.poll() {
                Ok(e) if want(&e) => return e,
                Ok(_) => {}
                Err(nb::Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
                Err(nb::Error::Other(e)) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline, "driver over pty: timed out");
        }
    };
    wait(&mut driver, &|e| *e == Event::Ready);
    let text = "Over a real pty, in two parts. ".repeat(7);
    let pdus = submit_pdus("+33612345678", &text, 9);
    assert_eq!(pdus.len(), 2);
    for (i, (pdu, n)) in pdus.iter().enumerate() {
        driver.send(pdu, i + 1 < *n).unwrap();
        let Event::Sent(outcome) = wait(&mut driver, &|e| matches!(e, Event::Sent(_))) else {
            unreachable!()
        };
        assert!(matches!(outcome, SendOutcome::Accepted(_)), "{outcome:?}");
    }
    world
        .lock()
        .unwrap()
        .inject_sms(0, "+33611223344", "Réponse");
    let Event::Received(pdu) = wait(&mut driver, &|e| matches!(e, Event::Received(_))) else {
        unreachable!()
    };
    let Ok(Tpdu::Deliver(d)) = core_pdu::decode(pdu.bytes(), SmscField::Present) else {
        panic!("{pdu:?}")
    };
    assert_eq!(d.user_data.text().as_str(), "Réponse");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
    let ledger = std::fs::read_to_string(&ledger_path).unwrap();
    let _ = std::fs::remove_file(&ledger_path);
    let messages: Vec<Value> = ledger
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "message")
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], text.as_str());
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link removed with the pty"
    );
}
