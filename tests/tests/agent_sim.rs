//! The device agent (`relais_agent::agent`) against the simulator (`relais::sim`), in
//! process and in virtual time: the agent's modem port is the simulated modem's line,
//! its clock the simulator's, and the host is a synchronous stand-in on
//! `relais_core::link`. A campaign runs while the device resets at seeded random
//! moments; the simulator's ledger must hold each message at most once (exactly once
//! when the device reported it sent), and a recipient who replied STOP gets no more
//! marketing, decided by the device alone.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais::sim::operator::Ledger;
use relais::sim::peer::{
    Shared, WorldClock as VirtualClock, WorldPort as ModemPort, WorldPower as Power,
};
use relais::sim::scenario::Scenario;
use relais::sim::time::SimDuration;
use relais::sim::world::World;
use relais_agent::agent::{Agent, Config};
use relais_agent::modem::{CLOCK_RESYNC_MS, Clock, Modem, Profile};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::frame::{Feed, FrameDecoder, encode};
use relais_core::link::msg::{
    DeviceMsg, Event, EventId, HostHello, HostMsg, Identity, Job, JobKey, LinkError, MAX_FRAME,
    PROTOCOL, RefusalCode, Sender, bounded,
};
use relais_core::link::session::{Config as SessionConfig, Envelope, Role, Session, SessionId};
use serde_json::Value;

/// The host link, in memory.
#[derive(Clone, Default)]
struct LinkPort {
    to_agent: Rc<RefCell<VecDeque<u8>>>,
    to_host: Rc<RefCell<VecDeque<u8>>>,
}

impl ErrorType for LinkPort {
    type Error = ErrorKind;
}

impl Read<u8> for LinkPort {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.to_agent
            .borrow_mut()
            .pop_front()
            .ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for LinkPort {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.to_host.borrow_mut().push_back(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

type Store = MemStore<32, 64, 128>;
type DeviceAgent = Agent<LinkPort, ModemPort, Power, VirtualClock, Store, 4, 4>;

/// The host: a session, a decoder, the events it stored, the jobs it still has to
/// hand over (within the device's credits).
struct Host {
    session: Session<HostMsg, 8>,
    decoder: FrameDecoder<MAX_FRAME>,
    port: LinkPort,
    events: BTreeMap<u32, Event>,
    acked: Option<EventId>,
    /// The device store's epoch from its last hello.
    epoch: relais_core::link::msg::EventEpoch,
    next_session: u32,
    queue: VecDeque<Job>,
    submitted: BTreeMap<u64, Job>,
    credits: u8,
    /// The serial line loses, corrupts and duplicates frames (each at this percentage,
    /// both ways), drawn from `line_rng`.
    fault_percent: u64,
    line_rng: XorShift,
    /// Frames that were damaged or dropped, both ways.
    faults: u32,
}

impl Host {
    fn new(port: LinkPort) -> Host {
        Host {
            session: Session::new(Role::Initiator, SessionConfig::default()),
            decoder: FrameDecoder::new(),
            port,
            events: BTreeMap::new(),
            acked: None,
            epoch: relais_core::link::msg::EventEpoch::NONE,
            next_session: 1000,
            queue: VecDeque::new(),
            submitted: BTreeMap::new(),
            credits: 0,
            fault_percent: 0,
            line_rng: XorShift(0x5EED),
            faults: 0,
        }
    }

    /// One frame across the faulty line: lost, corrupted, duplicated, or intact.
    fn line(&mut self, frame: &[u8], out: &mut VecDeque<u8>) {
        let p = self.fault_percent;
        let hit = |rng: &mut XorShift| p > 0 && rng.next() % 100 < p;
        if hit(&mut self.line_rng) {
            self.faults += 1;
            return;
        }
        let mut bytes = frame.to_vec();
        if hit(&mut self.line_rng) && bytes.len() > 1 {
            self.faults += 1;
            let i = (self.line_rng.next() as usize) % (bytes.len() - 1);
            bytes[i] ^= 1 << (self.line_rng.next() % 8);
        }
        if hit(&mut self.line_rng) {
            self.faults += 1;
            out.extend(bytes.iter().copied());
        }
        out.extend(bytes);
    }

    /// Queues `job` for submission.
    fn submit(&mut self, job: Job) {
        self.queue.push_back(job);
    }

    /// After a device reset: everything without an end goes again.
    fn resubmit_unfinished(&mut self) {
        let open: Vec<Job> = self
            .submitted
            .values()
            .filter(|j| !self.ended(j.key.0))
            .cloned()
            .collect();
        for j in open {
            if !self.queue.iter().any(|q| q.key == j.key) {
                self.queue.push_back(j);
            }
        }
    }

    /// A new session and handshake (at start and after the device restarted).
    fn connect(&mut self, now: UtcInstant) {
        self.credits = 0;
        self.next_session += 1;
        self.session.connect(SessionId(self.next_session));
        self.send(HostMsg::Hello(HostHello {
            protocol: PROTOCOL,
            time: now,
            epoch: relais_core::link::msg::EventEpoch(0x5eed),
        }));
    }

    fn send(&mut self, msg: HostMsg) {
        assert!(self.session.send(msg).is_ok(), "host window full");
    }

    fn pump(&mut self, now_ms: u64) {
        let mut buf = [0u8; MAX_FRAME + 1];
        let mut to_agent = VecDeque::new();
        while let Some(env) = self.session.poll_transmit(now_ms) {
            let frame = encode(&env, &mut buf).unwrap().to_vec();
            self.line(&frame, &mut to_agent);
        }
        self.port.to_agent.borrow_mut().extend(to_agent);
        let raw: Vec<u8> = self.port.to_host.borrow_mut().drain(..).collect();
        let mut bytes = VecDeque::new();
        for frame in raw.split_inclusive(|&b| b == 0) {
            self.line(frame, &mut bytes);
        }
        let bytes: Vec<u8> = bytes.into();
        let mut input = &bytes[..];
        loop {
            match self.decoder.feed::<Envelope<DeviceMsg>>(input) {
                Feed::Consumed => break,
                Feed::Frame { value, remaining } => {
                    match self.session.receive(value) {
                        Some(DeviceMsg::Event(id, ev)) => {
                            self.events.insert(id.0, ev);
                        }
                        Some(DeviceMsg::Hello(h)) => {
                            self.credits = h.credits;
                            self.epoch = h.epoch;
                        }
                        Some(DeviceMsg::Credits(c)) => self.credits = c,
                        Some(DeviceMsg::Error(LinkError::NoCredit(key))) => {
                            if let Some(j) = self.submitted.get(&key.0) {
                                self.queue.push_front(j.clone());
                            }
                        }
                        _ => {}
                    }
                    input = remaining;
                }
                Feed::Error { error, remaining } => {
                    assert!(
                        self.fault_percent > 0,
                        "bad frame from the agent: {error:?}"
                    );
                    input = remaining;
                }
            }
        }
        while self.credits > 0 && self.session.can_send() {
            let Some(j) = self.queue.pop_front() else {
                break;
            };
            self.credits -= 1;
            self.submitted.insert(j.key.0, j.clone());
            self.send(HostMsg::Submit(j));
        }
        // Store, then acknowledge (as the real host does).
        let last = self.events.keys().next_back().map(|&i| EventId(i));
        if last != self.acked && self.session.can_send() {
            self.acked = last;
            if let Some(id) = last {
                let epoch = self.epoch;
                self.send(HostMsg::AckEvents(epoch, id));
            }
        }
    }

    fn events_of(&self, key: u64) -> Vec<&Event> {
        self.events
            .values()
            .filter(|e| e.job() == Some(JobKey(key)))
            .collect()
    }

    fn ended(&self, key: u64) -> bool {
        self.events_of(key).iter().any(|e| e.is_final())
    }
}

const SCENARIO: &str = r#"
seed = 11
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

[[subscriber]]
number = "+33611000009"
stop_after = 1
reply_delay = "30s"
"#;

const STOPPER: &str = "+33611000009";

fn job(key: u64, to: &str, text: &str) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(to).unwrap(),
        text: bounded(text),
        class: Class::Transactional,
        categories: CategorySet::EMPTY,
        identity: Identity {
            sender: Sender::LongNumber(Msisdn::parse("+33700000001").unwrap()),
            registered: false,
            brand: bounded("acme"),
            stop_code: None,
        },
        consent: ConsentStatus::OptedIn,
        fr_department: None,
        zone: None,
        not_before: None,
        expires: None,
        report: true,
    }
}

fn marketing(key: u64, to: &str, text: &str) -> Job {
    Job {
        class: Class::Marketing,
        identity: Identity {
            sender: Sender::ShortCode(36123),
            registered: false,
            brand: bounded("acme"),
            stop_code: None,
        },
        ..job(key, to, text)
    }
}

/// The campaign: eight notices (three of them in several segments) and one marketing
/// message to a subscriber who answers STOP.
fn campaign() -> Vec<Job> {
    let mut jobs: Vec<Job> = (1..=8)
        .map(|k| {
            let text = if k % 3 == 0 {
                format!("Avis {k}: ") + &"votre dossier avance bien. ".repeat(8)
            } else {
                format!("Avis {k}: rendez-vous confirmé demain à 9 h.")
            };
            job(k, &format!("+3361100000{k}"), &text)
        })
        .collect();
    jobs.push(marketing(9, STOPPER, "Soldes -20% ce week-end"));
    jobs
}

/// Small seeded generator for the reset moments.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Outcome {
    host: Host,
    ledger: Vec<Value>,
    resets: u32,
}

fn new_agent(world: &Shared, link: LinkPort, store: Store) -> DeviceAgent {
    let modem = Modem::new(
        ModemPort::new(world, 0),
        Power::new(world, 0),
        VirtualClock(Rc::clone(world)),
        Profile::SIM800,
    );
    Agent::new(
        link,
        modem,
        VirtualClock(Rc::clone(world)),
        store,
        Config::default(),
    )
    .unwrap()
}

/// Runs the campaign with up to `max_resets` device resets at seeded moments.
fn run(name: &str, seed: u64, max_resets: u32, fault_percent: u64) -> Outcome {
    let ledger_path: PathBuf = std::env::temp_dir().join(format!(
        "relais-agent-sim-{name}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&ledger_path);
    let scenario = Scenario::parse(SCENARIO).unwrap();
    let world = World::new(&scenario, Ledger::open(&ledger_path).unwrap()).unwrap();
    let world: Shared = Rc::new(RefCell::new(world));
    let link = LinkPort::default();
    let mut agent = Some(new_agent(&world, link.clone(), Store::new()));
    let mut host = Host::new(link.clone());
    host.fault_percent = fault_percent;
    host.line_rng = XorShift(seed ^ 0xA5A5);
    let utc_now = |w: &Shared| UtcInstant(w.borrow().clock.now().0 / 1000);
    let now_ms = |w: &Shared| w.borrow().clock.now().0 as u64;
    host.connect(utc_now(&world));
    let jobs = campaign();
    for j in &jobs {
        host.submit(j.clone());
    }
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut resets = 0;
    let mut second_offer_sent = false;
    let deadline = now_ms(&world) + 30 * 60 * 1000;
    loop {
        // The device works until it has nothing to do.
        let a = agent.as_mut().unwrap();
        for _ in 0..1000 {
            match a.poll() {
                Ok(_) => continue,
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(f)) => panic!("agent fault: {f}"),
            }
        }
        host.pump(now_ms(&world));
        // The STOP came back: the host (with its own checks off) offers again.
        let stopped = host
            .events
            .values()
            .any(|e| matches!(e, Event::Keyword { from, .. } if *from == Msisdn::parse(STOPPER).unwrap()));
        if stopped && !second_offer_sent {
            second_offer_sent = true;
            host.submit(marketing(10, STOPPER, "Encore -30% !"));
        }
        let done = jobs.iter().all(|j| host.ended(j.key.0)) && second_offer_sent && host.ended(10);
        if done {
            break;
        }
        assert!(
            now_ms(&world) < deadline,
            "campaign not done in 30 min of virtual time: {:?}",
            host.events
        );
        // A reset at a random moment: RAM is gone, the store and the modem stay.
        if resets < max_resets && rng.next() % 400 == 0 {
            resets += 1;
            let (link, _modem, _clock, store) = agent.take().unwrap().release();
            link.to_agent.borrow_mut().clear();
            link.to_host.borrow_mut().clear();
            agent = Some(new_agent(&world, link, store));
            host.connect(utc_now(&world));
            host.resubmit_unfinished();
        }
        let mut w = world.borrow_mut();
        w.clock.advance(SimDuration(50));
        w.tick();
    }
    // Let delivery reports come in.
    for _ in 0..2000 {
        let a = agent.as_mut().unwrap();
        while a.poll().is_ok() {}
        host.pump(now_ms(&world));
        let mut w = world.borrow_mut();
        w.clock.advance(SimDuration(50));
        w.tick();
    }
    let ledger = std::fs::read_to_string(&ledger_path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&ledger_path);
    Outcome {
        host,
        ledger,
        resets,
    }
}

fn messages<'a>(ledger: &'a [Value], to: &str) -> Vec<&'a Value> {
    ledger
        .iter()
        .filter(|v| v["kind"] == "message" && v["to"] == to)
        .collect()
}

fn check(o: &Outcome, label: &str) {
    for m in o.ledger.iter().filter(|v| v["kind"] == "message") {
        assert_eq!(m["duplicate_segments"], 0, "{label}: {m}");
    }
    for j in campaign() {
        let k = j.key.0;
        let to = j.to.to_string();
        let events = o.host.events_of(k);
        let sent = events.iter().any(|e| matches!(e, Event::Sent { .. }));
        let unknown = events.iter().any(|e| matches!(e, Event::Unknown { .. }));
        assert!(sent || unknown, "{label}: job {k} ended {events:?}");
        let copies = messages(&o.ledger, &to)
            .iter()
            .filter(|m| m["text"].as_str().unwrap().starts_with(j.text.as_str()))
            .count();
        if sent {
            assert_eq!(
                copies, 1,
                "{label}: job {k} sent, {copies} copies in the ledger"
            );
        } else {
            assert!(copies <= 1, "{label}: job {k} unknown, {copies} copies");
        }
    }
    // The second offer to the subscriber who said STOP: refused on the device.
    let refused = o.host.events_of(10).iter().any(
        |e| matches!(e, Event::Refused { refusal, .. } if refusal.code == RefusalCode::OptedOut),
    );
    assert!(refused, "{label}: {:?}", o.host.events_of(10));
    assert!(
        !messages(&o.ledger, STOPPER)
            .iter()
            .any(|m| m["text"].as_str().unwrap().starts_with("Encore")),
        "{label}: marketing reached a number that had replied STOP"
    );
}

#[test]
fn a_campaign_reaches_the_network_exactly_once() {
    let o = run("clean", 1, 0, 0);
    check(&o, "no reset");
    for j in campaign() {
        assert!(
            o.host
                .events_of(j.key.0)
                .iter()
                .any(|e| matches!(e, Event::Sent { .. })),
            "job {} not sent",
            j.key.0
        );
        // Delivery reports came back and were rolled up per message.
        assert!(
            o.host
                .events_of(j.key.0)
                .iter()
                .any(|e| matches!(e, Event::Delivery { .. })),
            "job {}: no delivery report: {:?}",
            j.key.0,
            o.host.events_of(j.key.0)
        );
    }
    // The French marketing message carried its STOP mention, and the STOP was
    // confirmed by the device.
    let to_stopper: Vec<&str> = messages(&o.ledger, STOPPER)
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(to_stopper.len(), 2, "{to_stopper:?}");
    assert_eq!(to_stopper[0], "Soldes -20% ce week-end STOP au 36123");
    assert!(
        to_stopper[1].contains("prise en compte"),
        "{}",
        to_stopper[1]
    );
}

/// Resets at seeded moments, and a serial line that loses, corrupts and duplicates 3 %
/// of the frames each way.
#[test]
fn device_resets_and_a_noisy_line_never_double_a_message() {
    let mut resets = 0;
    for seed in 1..=6 {
        let o = run(&format!("resets-{seed}"), seed, 3, 3);
        check(&o, &format!("seed {seed}"));
        let unknown = campaign()
            .iter()
            .filter(|j| {
                o.host
                    .events_of(j.key.0)
                    .iter()
                    .any(|e| matches!(e, Event::Unknown { .. }))
            })
            .count();
        eprintln!(
            "seed {seed}: {} resets, {} line faults, {unknown} unknown, {} messages in the ledger",
            o.resets,
            o.host.faults,
            o.ledger.iter().filter(|v| v["kind"] == "message").count()
        );
        assert!(o.host.faults > 0, "seed {seed}: the line faults bit");
        resets += o.resets;
    }
    assert!(resets >= 6, "the resets happened ({resets})");
}

/// The device takes its time from the modem (the simulator's virtual clock through
/// `AT+CCLK?`), not from the host, and holds French marketing in the quiet window.
#[test]
fn marketing_at_night_waits_for_the_morning_on_network_time() {
    let ledger_path: PathBuf = std::env::temp_dir().join(format!(
        "relais-agent-sim-night-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&ledger_path);
    // Friday 6 March 2026, 22:30 in Paris.
    let scenario = SCENARIO.replace("2026-03-06T09:00:00", "2026-03-06T22:30:00");
    let scenario = Scenario::parse(&scenario).unwrap();
    let world = World::new(&scenario, Ledger::open(&ledger_path).unwrap()).unwrap();
    let world: Shared = Rc::new(RefCell::new(world));
    let link = LinkPort::default();
    let mut agent = new_agent(&world, link.clone(), Store::new());
    let mut host = Host::new(link);
    // The host's clock is wrong (noon): the device must not believe it.
    host.connect(UtcInstant::parse_rfc3339("2026-03-06T11:00:00Z").unwrap());
    host.submit(marketing(1, "+33611000001", "Soldes de nuit"));
    let saturday_eight = UtcInstant::parse_rfc3339("2026-03-07T07:00:00Z").unwrap();
    let now_ms = |w: &Shared| w.borrow().clock.now().0 as u64;
    let deadline = now_ms(&world) + 12 * 3_600_000;
    let mut sent_at = None;
    let mut resubmitted = false;
    while sent_at.is_none() {
        while agent.poll().is_ok() {}
        host.pump(now_ms(&world));
        // Held until the morning, the job comes back to the host, which hands it over
        // again (a new key) when that comes, as its scheduler does.
        let released = host.events_of(1).iter().find_map(|e| match e {
            Event::Released { until, .. } => Some(*until),
            _ => None,
        });
        let network = UtcInstant(world.borrow().clock.now().0 / 1000);
        if !resubmitted && released.is_some_and(|until| network >= until) {
            host.submit(marketing(2, "+33611000001", "Soldes de nuit"));
            resubmitted = true;
        }
        if host
            .events_of(2)
            .iter()
            .any(|e| matches!(e, Event::Sent { .. }))
        {
            sent_at = Some(network);
        }
        assert!(
            now_ms(&world) < deadline,
            "not sent by morning: {:?}",
            host.events_of(1)
        );
        let mut w = world.borrow_mut();
        w.clock.advance(SimDuration(500));
        w.tick();
    }
    let events = host.events_of(1);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Released { until, rule, .. }
                if *until == saturday_eight && rule.as_str() == "fr.marketing.window"
        )),
        "{events:?}"
    );
    assert!(sent_at.unwrap() >= saturday_eight);
    let ledger: Vec<Value> = std::fs::read_to_string(&ledger_path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&ledger_path);
    let sent = messages(&ledger, "+33611000001");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], "Soldes de nuit STOP au 36123");
}

/// The device's monotonic clock: the simulator's virtual time less the jumps of the
/// network's clock, so a jump moves what the modem answers to `AT+CCLK?` (and the
/// simulated network) but not the time the device schedules by.
#[derive(Clone)]
struct DeviceClock {
    world: Shared,
    jumped: Rc<Cell<i64>>,
}

impl Clock for DeviceClock {
    fn now_ms(&self) -> u64 {
        (self.world.borrow().clock.now().0 - self.jumped.get()) as u64
    }
}

/// Saturday night in Paris, a marketing message is held until Monday 08:00 (French
/// marketing is not sent on Sundays): the device gives it back to the host
/// (`Released`). Then the network's clock jumps to Monday 08:00 while the device's own
/// clock does not move (the simulator's `advance`; a NITZ correction on a real network):
/// the modem driver reads the new time within a minute of the device's clock
/// (`CLOCK_RESYNC_MS`), and the message the host hands over again goes out then, once.
#[test]
fn a_network_clock_jump_to_monday_morning_releases_the_deferred_marketing_once() {
    let ledger_path: PathBuf = std::env::temp_dir().join(format!(
        "relais-agent-sim-jump-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&ledger_path);
    // Saturday 7 March 2026, 22:30 in Paris (UTC+1).
    let scenario = SCENARIO.replace("2026-03-06T09:00:00", "2026-03-07T22:30:00");
    let scenario = Scenario::parse(&scenario).unwrap();
    let world = World::new(&scenario, Ledger::open(&ledger_path).unwrap()).unwrap();
    let world: Shared = Rc::new(RefCell::new(world));
    let clock = DeviceClock {
        world: Rc::clone(&world),
        jumped: Rc::new(Cell::new(0)),
    };
    let link = LinkPort::default();
    let modem = Modem::new(
        ModemPort::new(&world, 0),
        Power::new(&world, 0),
        clock.clone(),
        Profile::SIM800,
    );
    let mut agent = Agent::<_, _, _, _, Store, 4, 4>::new(
        link.clone(),
        modem,
        clock.clone(),
        Store::new(),
        Config::default(),
    )
    .unwrap();
    let mut host = Host::new(link);
    let network_now = |w: &Shared| UtcInstant(w.borrow().clock.now().0.div_euclid(1000));
    host.connect(network_now(&world));
    let to = "+33611000001";
    host.submit(marketing(1, to, "Soldes du lundi"));
    // Runs the device and the host for `ms` of device time, or until `done` holds.
    let mut run = |ms: u64, done: &dyn Fn(&Host) -> bool, host: &mut Host| -> bool {
        let end = clock.now_ms() + ms;
        while clock.now_ms() < end {
            while agent.poll().is_ok() {}
            host.pump(clock.now_ms());
            if done(host) {
                return true;
            }
            let mut w = world.borrow_mut();
            w.clock.advance(SimDuration(500));
            w.tick();
        }
        false
    };
    let monday_eight = UtcInstant::parse_rfc3339("2026-03-09T07:00:00Z").unwrap();
    let released = |h: &Host| {
        h.events_of(1).iter().any(|e| {
            matches!(e, Event::Released { until, rule, .. }
                if *until == monday_eight && rule.as_str() == "fr.marketing.window")
        })
    };
    let sent = |key: u64| {
        move |h: &Host| {
            h.events_of(key)
                .iter()
                .any(|e| matches!(e, Event::Sent { .. }))
        }
    };
    assert!(
        run(5 * 60_000, &released, &mut host),
        "not given back until Monday 08:00: {:?}",
        host.events_of(1)
    );
    // Given back to the host: minutes pass on both clocks, nothing goes.
    assert!(
        !run(3 * 60_000, &sent(1), &mut host),
        "sent on Saturday night"
    );
    // The network's clock jumps to Monday 08:00; the device's does not.
    let jump = monday_eight.0 * 1000 - world.borrow().clock.now().0;
    clock.jumped.set(clock.jumped.get() + jump);
    {
        let mut w = world.borrow_mut();
        w.clock.advance(SimDuration(jump));
        w.tick();
    }
    let jumped_at = clock.now_ms();
    // The host's clock says Monday 08:00: it hands the job over again under a new key.
    // A device that has not read the new time yet gives it back once more, and the host
    // tries again a minute later (its floor after a release).
    let mut key = 2;
    loop {
        host.submit(marketing(key, to, "Soldes du lundi"));
        let ended = move |h: &Host| {
            h.events_of(key)
                .iter()
                .any(|e| matches!(e, Event::Sent { .. } | Event::Released { .. }))
        };
        assert!(run(30_000, &ended, &mut host), "{:?}", host.events_of(key));
        if sent(key)(&host) {
            break;
        }
        assert!(
            key < 4,
            "still given back after the resync: {:?}",
            host.events_of(key)
        );
        run(60_000, &|_| false, &mut host);
        key += 1;
    }
    let took = clock.now_ms() - jumped_at;
    eprintln!("sent {took} ms of device time after the network clock jumped (key {key})");
    assert!(took <= CLOCK_RESYNC_MS + 100_000, "{took} ms");
    // The device follows the network's time, and keeps following it.
    run(5 * 60_000, &|_| false, &mut host);
    let device = agent.now_utc().unwrap();
    assert!(
        (device.0 - network_now(&world).0).abs() <= 2,
        "device {device:?}, network {:?}",
        network_now(&world)
    );
    let count =
        |k: u64, f: &dyn Fn(&Event) -> bool| host.events_of(k).iter().filter(|e| f(e)).count();
    assert_eq!(count(1, &|e| matches!(e, Event::SegmentSent { .. })), 0);
    assert_eq!(count(key, &|e| matches!(e, Event::Sent { .. })), 1);
    assert_eq!(count(key, &|e| matches!(e, Event::SegmentSent { .. })), 1);
    let ledger: Vec<Value> = std::fs::read_to_string(&ledger_path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&ledger_path);
    let sent = messages(&ledger, to);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"], "Soldes du lundi STOP au 36123");
    assert_eq!(sent[0]["duplicate_segments"], 0);
    let at = sent[0]["at"].as_str().unwrap();
    // Within a minute of the jump, plus the host's minute after a release and the send.
    assert!(
        ("2026-03-09T07:00:00".."2026-03-09T07:02:20").contains(&at),
        "sent at {at}"
    );
}
