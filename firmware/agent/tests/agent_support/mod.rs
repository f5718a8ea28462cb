//! Test rig for the agent: a scripted in-memory modem, an in-memory host link, a
//! synchronous host stand-in built directly on `relais_core::link`, and a shared clock.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use std::ops::DerefMut;

use relais_agent::agent::{Activity, Agent, AgentBuffers, Config, InlineBuffers};
use relais_agent::core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_agent::core::compliance::number::Msisdn;
use relais_agent::core::compliance::tz::UtcInstant;
use relais_agent::core::link::frame::{Feed, FrameDecoder, encode};
use relais_agent::core::link::msg::{
    DeviceMsg, Event, EventEpoch, EventId, HostHello, HostMsg, Identity, Job, JobKey, MAX_FRAME,
    PROTOCOL, Sender, bounded,
};
use relais_agent::core::link::session::{
    Config as SessionConfig, Envelope, Role, Session, SessionId,
};
use relais_agent::core::sms::Encoding;
use relais_agent::core::sms::pdu::{
    self, Address, DeliverHeader, PhoneNumber, SmscField, Status, StatusReportFields, TextSegment,
    Timestamp, Tpdu, encode_deliver, encode_status_report,
};
use relais_agent::modem::{Clock, Modem, NoPowerControl, Profile};
use relais_agent::store::MemStore;

/// The store used by the tests: 32 opt-outs, 32 job records, `E` outbox events.
/// The epoch the test host proposes in its hellos.
pub const HOST_EPOCH: EventEpoch = EventEpoch(0x5eed);

pub type Store<const E: usize = 64> = MemStore<32, 32, E>;
pub type TestAgent<St = Store, B = InlineBuffers<4>> =
    Agent<LinkPort, FakeModem, NoPowerControl, TestClock, St, 4, 4, B>;

/// A millisecond clock the test moves.
#[derive(Clone, Default)]
pub struct TestClock(pub Rc<Cell<u64>>);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

impl TestClock {
    pub fn now(&self) -> u64 {
        self.0.get()
    }
    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

/// The agent's end of the host link. `budget` limits the bytes written per poll round
/// (partial writes), refilled by the rig.
#[derive(Clone, Default)]
pub struct LinkPort {
    pub to_agent: Rc<RefCell<VecDeque<u8>>>,
    pub to_host: Rc<RefCell<VecDeque<u8>>>,
    pub write_budget: Rc<Cell<Option<usize>>>,
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
        if let Some(budget) = self.write_budget.get() {
            if budget == 0 {
                return Err(nb::Error::WouldBlock);
            }
            self.write_budget.set(Some(budget - 1));
        }
        self.to_host.borrow_mut().push_back(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

/// How the fake modem answers the next PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendScript {
    /// `+CMGS: <mr>` and `OK`.
    Accept,
    /// `+CMS ERROR: <code>`.
    CmsError(u16),
    /// Nothing at all (the modem hangs or the power goes).
    Silent,
}

/// One PDU the modem took.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub at_ms: u64,
    pub to: String,
    pub text: String,
    /// (reference, part, total) when concatenated.
    pub concat: Option<(u16, u8, u8)>,
    pub report: bool,
    /// The MR the modem gave it (None when it did not answer).
    pub mr: Option<u8>,
}

#[derive(Default)]
pub struct ModemState {
    rx: VecDeque<u8>,
    line: Vec<u8>,
    in_pdu: bool,
    pub next_mr: u8,
    pub script: VecDeque<SendScript>,
    pub submitted: Vec<Submitted>,
    /// Network time: UTC (seconds) at clock 0, and the offset in quarter hours.
    pub network_time: Option<(i64, i8)>,
    pub clock: TestClock,
    /// Messages stored in "SM": index → (TPDU length, PDU hex).
    pub sim: BTreeMap<u16, (usize, String)>,
    /// `AT+CMGD` answers OK and deletes nothing (the power goes before it).
    pub ignore_deletes: bool,
    /// Every index `AT+CMGD` named.
    pub deletes: Vec<u16>,
}

/// A SIM800-like modem answering instantly; shared with the test through `Rc`.
#[derive(Clone)]
pub struct FakeModem(pub Rc<RefCell<ModemState>>);

impl ErrorType for FakeModem {
    type Error = ErrorKind;
}

impl Read<u8> for FakeModem {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.0
            .borrow_mut()
            .rx
            .pop_front()
            .ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for FakeModem {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        self.0.borrow_mut().byte(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

fn civil(utc: i64, quarters: i8) -> (i64, i64, i64, i64, i64, i64) {
    let local = utc + i64::from(quarters) * 15 * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl ModemState {
    fn reply(&mut self, text: &str) {
        self.rx.extend(text.as_bytes());
    }

    fn byte(&mut self, byte: u8) {
        if self.in_pdu {
            match byte {
                0x1A => {
                    self.in_pdu = false;
                    let hex = std::mem::take(&mut self.line);
                    self.submit(&hex);
                }
                0x1B => {
                    self.in_pdu = false;
                    self.line.clear();
                    self.reply("\r\nOK\r\n");
                }
                b => self.line.push(b),
            }
            return;
        }
        if byte != b'\r' {
            self.line.push(byte);
            return;
        }
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        let line = line.trim();
        if self.storage_command(line) {
            return;
        }
        if line.starts_with("AT+CMGS=") {
            self.in_pdu = true;
            self.reply("\r\n> ");
        } else if line.starts_with("AT+CPIN?") {
            self.reply("\r\n+CPIN: READY\r\n\r\nOK\r\n");
        } else if line.starts_with("AT+CREG?") {
            self.reply("\r\n+CREG: 1,1\r\n\r\nOK\r\n");
        } else if line.starts_with("AT+CEREG?") {
            self.reply("\r\n+CEREG: 1,1\r\n\r\nOK\r\n");
        } else if line.starts_with("AT+CCLK?") {
            match self.network_time {
                Some((base, q)) => {
                    let utc = base + (self.clock.now() / 1000) as i64;
                    let (y, mo, d, h, mi, s) = civil(utc, q);
                    let sign = if q < 0 { '-' } else { '+' };
                    let text = format!(
                        "\r\n+CCLK: \"{:02}/{mo:02}/{d:02},{h:02}:{mi:02}:{s:02}{sign}{:02}\"\r\n\r\nOK\r\n",
                        y % 100,
                        q.unsigned_abs()
                    );
                    self.reply(&text);
                }
                None => self.reply("\r\nERROR\r\n"),
            }
        } else {
            self.reply("\r\nOK\r\n");
        }
    }

    fn submit(&mut self, hex_digits: &[u8]) {
        let text = String::from_utf8_lossy(hex_digits);
        let bytes: Vec<u8> = (0..text.len() / 2)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let Ok(Tpdu::Submit(s)) = pdu::decode(&bytes, SmscField::Present) else {
            panic!("the agent sent a PDU that is not an SMS-SUBMIT: {text}");
        };
        let script = self.script.pop_front().unwrap_or(SendScript::Accept);
        let mr = match script {
            SendScript::Accept => {
                let mr = self.next_mr;
                self.next_mr = self.next_mr.wrapping_add(1);
                self.reply(&format!("\r\n+CMGS: {mr}\r\n\r\nOK\r\n"));
                Some(mr)
            }
            SendScript::CmsError(code) => {
                self.reply(&format!("\r\n+CMS ERROR: {code}\r\n"));
                None
            }
            SendScript::Silent => None,
        };
        self.submitted.push(Submitted {
            at_ms: self.clock.now(),
            to: s.to.to_string(),
            text: s.user_data.text().to_string(),
            concat: s
                .user_data
                .udh
                .concat
                .map(|c| (c.reference, c.part, c.total)),
            report: s.status_report,
            mr,
        });
    }
}

impl FakeModem {
    pub fn new(clock: TestClock) -> Self {
        FakeModem(Rc::new(RefCell::new(ModemState {
            next_mr: 1,
            clock,
            ..ModemState::default()
        })))
    }

    /// Network time: the modem's clock shows `utc` at the current test time, with
    /// `quarters` quarter hours of offset.
    pub fn set_network_time(&self, utc: UtcInstant, quarters: i8) {
        let mut m = self.0.borrow_mut();
        let base = utc.0 - (m.clock.now() / 1000) as i64;
        m.network_time = Some((base, quarters));
    }

    pub fn script(&self, s: SendScript) {
        self.0.borrow_mut().script.push_back(s);
    }

    pub fn submitted(&self) -> Vec<Submitted> {
        self.0.borrow().submitted.clone()
    }

    /// An SMS-DELIVER from `from` with `text`, routed directly (`+CMT`).
    pub fn deliver(&self, from: &str, text: &str, at: Timestamp) {
        let from = Address::Number(PhoneNumber::parse(from).unwrap());
        let header = DeliverHeader {
            smsc: None,
            from: &from,
            timestamp: at,
            class: None,
            protocol_id: 0,
            more_messages: false,
            status_report_indication: false,
        };
        let encoding = if text.is_ascii() {
            Encoding::Gsm7
        } else {
            Encoding::Ucs2
        };
        let mut buf = [0u8; 200];
        let e = encode_deliver(&header, &TextSegment::single(text, encoding), &mut buf).unwrap();
        let urc = format!(
            "\r\n+CMT: ,{}\r\n{}\r\n",
            e.tpdu_len,
            hex(&buf[..e.pdu_len])
        );
        self.0.borrow_mut().reply(&urc);
    }

    /// An SMS-STATUS-REPORT for `mr` (direct `+CDS`).
    pub fn status_report(&self, mr: u8, to: &str, status: u8, at: Timestamp) {
        let to = Address::Number(PhoneNumber::parse(to).unwrap());
        let fields = StatusReportFields {
            smsc: None,
            message_reference: pdu::MessageReference(mr),
            recipient: &to,
            timestamp: at,
            discharge_time: at,
            status: Status(status),
        };
        let mut buf = [0u8; 200];
        let e = encode_status_report(&fields, &mut buf).unwrap();
        let urc = format!("\r\n+CDS: {}\r\n{}\r\n", e.tpdu_len, hex(&buf[..e.pdu_len]));
        self.0.borrow_mut().reply(&urc);
    }
}

/// A service-centre time stamp in UTC.
pub fn utc_timestamp(year: u16, month: u8, day: u8, hour: u8, minute: u8) -> Timestamp {
    Timestamp {
        year,
        month,
        day,
        hour,
        minute,
        second: 0,
        offset_quarters: 0,
    }
}

/// What the host stand-in sends: a message of this protocol, or one of a newer host
/// that this build does not know (variant 42 of `HostMsg`).
pub enum Wire {
    Known(Box<HostMsg>),
    Future,
}

impl serde::Serialize for Wire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Wire::Known(m) => (**m).serialize(s),
            Wire::Future => s.serialize_unit_variant("HostMsg", 42, "Future"),
        }
    }
}

/// The host's side of the link: a session and a frame decoder, synchronous.
pub struct Host {
    pub session: Session<Wire, 8>,
    decoder: FrameDecoder<MAX_FRAME>,
    port: LinkPort,
    /// Every message received, in order (retransmitted events included).
    pub received: Vec<DeviceMsg>,
    /// Events by id (duplicates dropped, as a real host does).
    pub events: BTreeMap<u32, Event>,
    /// Raw frames to inject before the next regular frame.
    pub inject: VecDeque<Vec<u8>>,
    /// Damage (flip one bit of) this many of the next frames sent.
    pub damage: usize,
}

impl Host {
    pub fn new(port: LinkPort) -> Self {
        Host {
            session: Session::new(Role::Initiator, SessionConfig::default()),
            decoder: FrameDecoder::new(),
            port,
            received: Vec::new(),
            events: BTreeMap::new(),
            inject: VecDeque::new(),
            damage: 0,
        }
    }

    /// Opens a session with an id never used before (as a host picks a random one).
    pub fn connect(&mut self) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(100);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.session.connect(SessionId(id));
    }

    pub fn send(&mut self, msg: HostMsg) {
        if self.session.send(Wire::Known(Box::new(msg))).is_err() {
            panic!("host window full");
        }
    }

    /// Sends a message this device does not know.
    pub fn send_future(&mut self) {
        if self.session.send(Wire::Future).is_err() {
            panic!("host window full");
        }
    }

    pub fn hello(&mut self, time: UtcInstant) {
        self.send(HostMsg::Hello(HostHello {
            protocol: PROTOCOL,
            time,
            epoch: HOST_EPOCH,
        }));
    }

    /// The epoch the device gave in its last hello.
    pub fn device_epoch(&self) -> EventEpoch {
        self.received
            .iter()
            .rev()
            .find_map(|m| match m {
                DeviceMsg::Hello(h) => Some(h.epoch),
                _ => None,
            })
            .expect("the device has said hello")
    }

    /// Moves frames both ways.
    pub fn pump(&mut self, now: u64) {
        while let Some(raw) = self.inject.pop_front() {
            self.port.to_agent.borrow_mut().extend(raw);
        }
        let mut buf = [0u8; MAX_FRAME + 1];
        while let Some(env) = self.session.poll_transmit(now) {
            let frame = encode(&env, &mut buf).unwrap();
            if self.damage > 0 {
                self.damage -= 1;
                let middle = frame.len() / 2;
                frame[middle] ^= 0x04;
            }
            self.port.to_agent.borrow_mut().extend(frame.iter());
        }
        let bytes: Vec<u8> = self.port.to_host.borrow_mut().drain(..).collect();
        let mut input = &bytes[..];
        loop {
            match self.decoder.feed::<Envelope<DeviceMsg>>(input) {
                Feed::Consumed => break,
                Feed::Frame { value, remaining } => {
                    if let Some(msg) = self.session.receive(value) {
                        if let DeviceMsg::Event(id, ev) = &msg {
                            self.events.insert(id.0, ev.clone());
                        }
                        self.received.push(msg);
                    }
                    input = remaining;
                }
                Feed::Error { error, .. } => panic!("agent sent a bad frame: {error:?}"),
            }
        }
    }

    /// Events about `key`, in id order.
    pub fn job_events(&self, key: u64) -> Vec<Event> {
        self.events
            .values()
            .filter(|e| e.job() == Some(JobKey(key)))
            .cloned()
            .collect()
    }

    pub fn last_event_id(&self) -> Option<EventId> {
        self.events.keys().next_back().map(|&id| EventId(id))
    }

    pub fn ack_all(&mut self) {
        if let Some(id) = self.last_event_id() {
            let epoch = self.device_epoch();
            self.send(HostMsg::AckEvents(epoch, id));
        }
    }

    /// Messages other than events.
    pub fn replies(&self) -> impl Iterator<Item = &DeviceMsg> {
        self.received
            .iter()
            .filter(|m| !matches!(m, DeviceMsg::Event(..)))
    }
}

/// A job with sensible defaults: transactional, from a long number, consent recorded.
pub fn job(key: u64, to: &str, text: &str) -> Job {
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
        report: false,
    }
}

/// A French marketing job from short code 36123 (allowed to carry marketing in FR).
pub fn fr_marketing(key: u64, to: &str, text: &str) -> Job {
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

pub fn utc(text: &str) -> UtcInstant {
    UtcInstant::parse_rfc3339(text).unwrap()
}

/// Agent, host, modem and clock wired together. `B` holds the agent's buffers: inside
/// it (the default) or borrowed (`&mut AgentBuffers`, as on a board).
pub struct Rig<St = Store, B = InlineBuffers<4>> {
    pub agent: Option<TestAgent<St, B>>,
    pub host: Host,
    pub modem: FakeModem,
    pub clock: TestClock,
    pub port: LinkPort,
    /// Virtual milliseconds per idle step.
    pub step_ms: u64,
    pub activities: Vec<Activity>,
    /// Panic on an agent fault (else they are collected in `faults`).
    pub strict: bool,
    pub faults: Vec<String>,
}

impl<const E: usize> Rig<Store<E>> {
    /// A rig on an empty RAM store whose clock starts at 1 s.
    pub fn new() -> Self {
        Rig::with_store(Store::<E>::new())
    }
}

impl<St: relais_agent::store::Store> Rig<St> {
    /// A rig on `store` whose clock starts at 1 s.
    pub fn with_store(store: St) -> Self {
        Rig::with_buffers(store, InlineBuffers::new())
    }

    /// Restarts the device: a new agent (and modem driver) on the same store; bytes in
    /// flight on the link are lost.
    pub fn reboot(&mut self) {
        self.reboot_with(|store| store);
    }

    /// [`Rig::reboot`], passing the store through `f` (e.g. to restore its power).
    pub fn reboot_with(&mut self, f: impl FnOnce(St) -> St) {
        let (link, modem, clock, store) = self.agent.take().unwrap().release();
        let store = f(store);
        let (serial, power, modem_clock) = modem.release();
        self.port.to_agent.borrow_mut().clear();
        self.port.to_host.borrow_mut().clear();
        {
            let mut m = self.modem.0.borrow_mut();
            m.rx.clear();
            m.line.clear();
            m.in_pdu = false;
        }
        let agent = Agent::new(
            link,
            Modem::new(serial, power, modem_clock, Profile::SIM800),
            clock,
            store,
            Config::default(),
        )
        .unwrap();
        self.agent = Some(agent);
    }
}

impl<St, B> Rig<St, B>
where
    St: relais_agent::store::Store,
    B: DerefMut<Target = AgentBuffers<4>>,
{
    /// A rig on `store` whose agent keeps its job slots and frame buffers in
    /// `buffers`; the clock starts at 1 s.
    pub fn with_buffers(store: St, buffers: B) -> Self {
        let clock = TestClock::default();
        clock.advance(1_000);
        let modem = FakeModem::new(clock.clone());
        let port = LinkPort::default();
        let agent = Agent::with_buffers(
            buffers,
            port.clone(),
            Modem::new(
                modem.clone(),
                NoPowerControl,
                clock.clone(),
                Profile::SIM800,
            ),
            clock.clone(),
            store,
            Config::default(),
        )
        .unwrap();
        Rig {
            agent: Some(agent),
            host: Host::new(port.clone()),
            modem,
            clock,
            port,
            step_ms: 20,
            activities: Vec::new(),
            strict: true,
            faults: Vec::new(),
        }
    }

    pub fn agent(&mut self) -> &mut TestAgent<St, B> {
        self.agent.as_mut().unwrap()
    }

    /// Polls the agent until it blocks, moves frames, and repeats while anything moves.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut busy = false;
            loop {
                match self.agent().poll() {
                    Ok(a) => {
                        self.activities.push(a);
                        busy = true;
                    }
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(f)) => {
                        assert!(!self.strict, "agent fault: {f}");
                        self.faults.push(f.to_string());
                        break;
                    }
                }
            }
            let before = self.port.to_host.borrow().len() + self.port.to_agent.borrow().len();
            let now = self.clock.now();
            self.host.pump(now);
            let after = self.port.to_host.borrow().len() + self.port.to_agent.borrow().len();
            if !busy && before == 0 && after == 0 {
                return;
            }
        }
        panic!("rig did not settle");
    }

    /// Runs for `ms` of virtual time in idle steps.
    pub fn run(&mut self, ms: u64) {
        let end = self.clock.now() + ms;
        while self.clock.now() < end {
            self.settle();
            self.clock
                .advance(self.step_ms.min(end - self.clock.now()).max(1));
        }
        self.settle();
    }

    /// Runs until `done` holds, failing after `budget_ms` of virtual time.
    pub fn until(&mut self, budget_ms: u64, mut done: impl FnMut(&mut Self) -> bool) {
        let end = self.clock.now() + budget_ms;
        loop {
            self.settle();
            if done(self) {
                return;
            }
            assert!(self.clock.now() < end, "not within {budget_ms} ms");
            self.clock.advance(self.step_ms);
        }
    }

    /// Boots the modem and opens a session with a handshake at host time `time`.
    pub fn start(&mut self, time: UtcInstant) {
        self.host.connect();
        self.host.hello(time);
        self.until(60_000, |r| {
            r.agent().modem_status().ready
                && r.host
                    .received
                    .iter()
                    .any(|m| matches!(m, DeviceMsg::Hello(_)))
        });
    }

    /// Submits `job` and lets the agent take it.
    pub fn submit(&mut self, job: Job) {
        self.host.send(HostMsg::Submit(job));
        self.settle();
    }

    /// Runs until the job's final event arrived.
    pub fn until_final(&mut self, key: u64, budget_ms: u64) -> Vec<Event> {
        self.until(budget_ms, |r| {
            r.host.job_events(key).iter().any(Event::is_final)
        });
        self.host.job_events(key)
    }

    /// PDUs sent to `to`.
    pub fn sent_to(&self, to: &str) -> Vec<Submitted> {
        self.modem
            .submitted()
            .into_iter()
            .filter(|s| s.to == to)
            .collect()
    }
}

/// Builder helpers for jobs.
pub trait JobExt {
    fn with_not_before(self, at: UtcInstant) -> Job;
    fn with_expires(self, at: UtcInstant) -> Job;
}

impl JobExt for Job {
    fn with_not_before(mut self, at: UtcInstant) -> Job {
        self.not_before = Some(at);
        self
    }
    fn with_expires(mut self, at: UtcInstant) -> Job {
        self.expires = Some(at);
        self
    }
}

impl ModemState {
    /// `AT+CMGR`, `AT+CMGL=4` and `AT+CMGD` on the "SM" storage; false for other lines.
    fn storage_command(&mut self, line: &str) -> bool {
        let entry = |(len, hex): &(usize, String)| format!("{len}\r\n{hex}\r\n");
        if let Some(index) = line.strip_prefix("AT+CMGR=") {
            let found = index.parse().ok().and_then(|i: u16| self.sim.get(&i));
            let text = match found {
                Some(stored) => format!("\r\n+CMGR: 0,,{}\r\nOK\r\n", entry(stored)),
                None => "\r\n+CMS ERROR: 321\r\n".to_string(),
            };
            self.reply(&text);
        } else if line == "AT+CMGL=4" {
            let mut text = String::from("\r\n");
            for (i, stored) in &self.sim {
                text.push_str(&format!("+CMGL: {i},1,,{}", entry(stored)));
            }
            text.push_str("\r\nOK\r\n");
            self.reply(&text);
        } else if let Some(index) = line.strip_prefix("AT+CMGD=") {
            let index: u16 = index.parse().unwrap();
            self.deletes.push(index);
            if !self.ignore_deletes {
                self.sim.remove(&index);
            }
            self.reply("\r\nOK\r\n");
        } else {
            return false;
        }
        true
    }
}

impl FakeModem {
    /// Stores an SMS-DELIVER (`pdu`: SMSC field first) in the first free "SM" slot and
    /// announces it with `+CMTI`; returns the slot.
    pub fn store(&self, pdu: &[u8], tpdu_len: usize) -> u16 {
        let mut m = self.0.borrow_mut();
        let index = (1..).find(|i| !m.sim.contains_key(i)).unwrap();
        m.sim.insert(index, (tpdu_len, hex(pdu)));
        m.reply(&format!("\r\n+CMTI: \"SM\",{index}\r\n"));
        index
    }

    /// The slots holding a message.
    pub fn stored(&self) -> Vec<u16> {
        self.0.borrow().sim.keys().copied().collect()
    }
}
