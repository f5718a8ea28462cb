//! The link client against a fake device built on `relais_core::link` (a responder
//! session and a small job table), over a lossy in-memory pipe, TCP and a pty.
//!
//! The fake device behaves as the agent does (firmware/agent/src/agent): it handles
//! host messages in order as they arrive and fills its session window lazily, in the
//! agent's order (errors, its hello, a credit report when the free slots changed,
//! answers, then events from its outbox), so each report counts every job its frame
//! acknowledges. It keeps job records and the event outbox across "reboots" (flash)
//! and loses its session (RAM), sends unacknowledged events again after every
//! handshake, and turns away a job it has no slot for with `NoCredit`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relais::link::transport::BoxIo;
use relais::link::{ClientError, Config, Fault, Incoming, IncomingReceiver, LinkClient};
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::frame::{self, Feed, FrameDecoder};
use relais_core::link::msg::{
    BootId, Capabilities, Counters, DeviceHello, DeviceMsg, Event, EventEpoch, EventId, HostMsg,
    Identity, Job, JobKey, LinkError, MAX_FRAME, ModemStatus, PROTOCOL, Registration, Scope,
    SendFailure, Sender, SuppressionOp, bounded, digest_entry,
};
use relais_core::link::session::{self, Envelope, Role, Session};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------
// A deterministic lossy pipe.

/// xorshift64: a seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Damages one chunk written to the line: each fault with probability `p` percent.
fn mangle(rng: &mut Rng, p: u64, mut chunk: Vec<u8>, faults: &mut u64) -> Vec<u8> {
    if chunk.is_empty() {
        return chunk;
    }
    if rng.percent(p) {
        *faults += 1;
        return Vec::new(); // lost
    }
    if rng.percent(p) {
        *faults += 1;
        let i = rng.below(chunk.len());
        chunk[i] ^= 1 << rng.below(8); // a flipped bit
    }
    if rng.percent(p) && chunk.len() > 1 {
        *faults += 1;
        let i = rng.below(chunk.len());
        chunk.remove(i); // a byte lost in a UART overrun
    }
    if rng.percent(p) {
        *faults += 1;
        let i = rng.below(chunk.len());
        chunk.insert(i, chunk[i]); // a byte read twice
    }
    if rng.percent(p) {
        *faults += 1;
        let again = chunk.clone();
        chunk.extend_from_slice(&again); // a whole write repeated
    }
    chunk
}

/// Two in-memory ends joined by a line that damages what crosses it in both
/// directions. Faults are counted in `faults`.
fn lossy_pipe(seed: u64, p: u64, faults: Arc<Mutex<u64>>) -> (DuplexStream, DuplexStream) {
    let (host, host_mid) = tokio::io::duplex(64 * 1024);
    let (device_mid, device) = tokio::io::duplex(64 * 1024);
    let (host_r, host_w) = tokio::io::split(host_mid);
    let (device_r, device_w) = tokio::io::split(device_mid);
    tokio::spawn(pump(host_r, device_w, Rng(seed), p, faults.clone()));
    tokio::spawn(pump(device_r, host_w, Rng(seed ^ 0x5555_AAAA), p, faults));
    (host, device)
}

async fn pump(
    mut from: ReadHalf<DuplexStream>,
    mut to: WriteHalf<DuplexStream>,
    mut rng: Rng,
    p: u64,
    faults: Arc<Mutex<u64>>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut count = 0;
        let out = mangle(&mut rng, p, buf[..n].to_vec(), &mut count);
        *faults.lock().unwrap() += count;
        if to.write_all(&out).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------
// The fake device.

/// What the device keeps across reboots (flash), and what the tests inspect.
#[derive(Debug, Default)]
struct Book {
    boot: u32,
    /// Idempotency memory: every key ever accepted.
    known: HashSet<JobKey>,
    /// Jobs in slots, with the tick they arrived.
    held: Vec<(JobKey, u64)>,
    outbox: VecDeque<(EventId, Event)>,
    next_event: u32,
    /// The store's event epoch (0 until a hello proposes one).
    epoch: u32,
    /// Every `Accepted` the device emitted, in order.
    accepted: Vec<JobKey>,
    /// Most jobs held at once.
    max_held: usize,
    /// Jobs turned away for lack of a slot.
    no_credit: u32,
    suppression: HashSet<(Msisdn, Scope)>,
    configured: u32,
    /// Unknown-kind messages the host acknowledged (the device's window drained).
    sessions: u32,
}

#[derive(Clone, Copy, Debug)]
struct DeviceConfig {
    slots: u8,
    protocol: u16,
    /// Ticks (2 ms) a job holds its slot before it is sent.
    work_ticks: u64,
    retransmit_ms: u32,
    /// Answer a hello of another version with `LinkError::Version` (else with its own
    /// hello, leaving the decision to the host).
    version_error: bool,
    /// What its status says about a halt.
    halted: Option<relais_core::link::msg::Halt>,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            slots: 4,
            protocol: PROTOCOL,
            work_ticks: 1,
            retransmit_ms: 20,
            version_error: false,
            halted: None,
        }
    }
}

#[derive(Debug)]
enum Control {
    /// Lose RAM (session, send queue) and start with a new boot id.
    Reboot,
    /// Close the current stream (TCP connection dropped, QEMU restarted...).
    Drop,
    /// Send a message of a kind the host does not know.
    SendUnknown,
    /// Stop (true) or resume finishing jobs.
    Hold(bool),
}

/// The device's messages plus one kind this protocol does not have (a newer device).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // like DeviceMsg itself
enum Wire {
    Msg(DeviceMsg),
    Future,
}

impl Serialize for Wire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Wire::Msg(m) => m.serialize(s),
            Wire::Future => s.serialize_unit_variant("DeviceMsg", 77, "Future"),
        }
    }
}

struct Device {
    config: DeviceConfig,
    book: Arc<Mutex<Book>>,
    session: Session<Wire, 8>,
    /// The session the last handshake belongs to.
    greeted: Option<session::SessionId>,
    errors: VecDeque<LinkError>,
    hello_due: bool,
    credits_sent: Option<u8>,
    /// Status and digest answers.
    answers: VecDeque<DeviceMsg>,
    future_due: bool,
    /// The last outbox event put in the window in this session.
    events_sent: Option<EventId>,
    hold: bool,
    tick: u64,
    start: Instant,
}

/// Handles to a running fake device.
struct DeviceHandle {
    book: Arc<Mutex<Book>>,
    control: mpsc::UnboundedSender<Control>,
    streams: mpsc::UnboundedSender<BoxIo>,
}

impl DeviceHandle {
    fn control(&self, c: Control) {
        self.control.send(c).unwrap();
    }
}

fn spawn_device(config: DeviceConfig) -> DeviceHandle {
    let book = Arc::new(Mutex::new(Book {
        boot: 0x1000,
        ..Book::default()
    }));
    let (control, control_rx) = mpsc::unbounded_channel();
    let (streams, streams_rx) = mpsc::unbounded_channel();
    let device = Device {
        config,
        book: book.clone(),
        session: new_device_session(config),
        greeted: None,
        errors: VecDeque::new(),
        hello_due: false,
        credits_sent: None,
        answers: VecDeque::new(),
        future_due: false,
        events_sent: None,
        hold: false,
        tick: 0,
        start: Instant::now(),
    };
    tokio::spawn(device.run(streams_rx, control_rx));
    DeviceHandle {
        book,
        control,
        streams,
    }
}

fn new_device_session(config: DeviceConfig) -> Session<Wire, 8> {
    Session::new(
        Role::Responder,
        session::Config {
            retransmit_ms: config.retransmit_ms,
        },
    )
}

impl Device {
    async fn run(
        mut self,
        mut streams: mpsc::UnboundedReceiver<BoxIo>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut conn: Option<(ReadHalf<BoxIo>, WriteHalf<BoxIo>)> = None;
        let mut decoder = Box::new(FrameDecoder::<MAX_FRAME>::new());
        let mut buf = vec![0u8; 4096];
        let mut ticker = tokio::time::interval(Duration::from_millis(2));
        loop {
            self.pump();
            if let Some((_, w)) = conn.as_mut() {
                let now = self.start.elapsed().as_millis() as u64;
                let mut out = Vec::new();
                while let Some(env) = self.session.poll_transmit(now) {
                    let mut frame = vec![0u8; MAX_FRAME + 1];
                    let len = frame::encode(&env, &mut frame).unwrap().len();
                    out.extend_from_slice(&frame[..len]);
                }
                if !out.is_empty() && w.write_all(&out).await.is_err() {
                    conn = None;
                }
            }
            tokio::select! {
                s = streams.recv() => match s {
                    Some(io) => {
                        conn = Some(tokio::io::split(io));
                        decoder.clear();
                    }
                    None => return,
                },
                c = control.recv() => match c {
                    Some(Control::Reboot) => self.reboot(),
                    Some(Control::Drop) => conn = None,
                    Some(Control::SendUnknown) => self.future_due = true,
                    Some(Control::Hold(h)) => self.hold = h,
                    None => return,
                },
                r = read_some(&mut conn, &mut buf) => match r {
                    Ok(0) | Err(_) => conn = None,
                    Ok(n) => {
                        let mut input = &buf[..n];
                        loop {
                            match decoder.feed::<Envelope<HostMsg>>(input) {
                                Feed::Consumed => break,
                                Feed::Frame { value, remaining } => {
                                    input = remaining;
                                    if let Some(msg) = self.session.receive(value) {
                                        self.handle(msg);
                                    }
                                }
                                Feed::Error { remaining, .. } => input = remaining,
                            }
                        }
                    }
                },
                _ = ticker.tick() => self.work(),
            }
        }
    }

    /// Fills the session window, like the agent's `write_link`.
    fn pump(&mut self) {
        while self.session.can_send() {
            let Some(m) = self.next_message() else {
                return;
            };
            // Cannot fail: the window has room.
            let _ = self.session.send(m);
        }
    }

    /// The next message for the host, built when it goes into the window.
    fn next_message(&mut self) -> Option<Wire> {
        if let Some(e) = self.errors.pop_front() {
            return Some(Wire::Msg(DeviceMsg::Error(e)));
        }
        // Nothing but errors before the handshake.
        self.greeted?;
        if std::mem::take(&mut self.hello_due) {
            let free = self.free();
            self.credits_sent = Some(free);
            let b = self.book.lock().unwrap();
            return Some(Wire::Msg(DeviceMsg::Hello(DeviceHello {
                protocol: self.config.protocol,
                firmware: bounded("fake-0.1"),
                boot: BootId(b.boot),
                capabilities: Capabilities {
                    job_slots: self.config.slots,
                    suppression_capacity: 1000,
                    max_text: 640,
                    packs: bounded("test"),
                    modem: bounded("none"),
                },
                credits: free,
                next_event: EventId(b.next_event),
                epoch: EventEpoch(b.epoch),
                outbox: b.outbox.len() as u16,
            })));
        }
        if std::mem::take(&mut self.future_due) {
            return Some(Wire::Future);
        }
        let free = self.free();
        if self.credits_sent != Some(free) {
            self.credits_sent = Some(free);
            return Some(Wire::Msg(DeviceMsg::Credits(free)));
        }
        if let Some(answer) = self.answers.pop_front() {
            return Some(Wire::Msg(answer));
        }
        let b = self.book.lock().unwrap();
        let (id, event) = b
            .outbox
            .iter()
            .find(|(id, _)| self.events_sent.is_none_or(|sent| *id > sent))?
            .clone();
        drop(b);
        self.events_sent = Some(id);
        Some(Wire::Msg(DeviceMsg::Event(id, event)))
    }

    fn reboot(&mut self) {
        self.session = new_device_session(self.config);
        self.greeted = None;
        self.errors.clear();
        self.answers.clear();
        self.hello_due = false;
        self.future_due = false;
        self.credits_sent = None;
        self.events_sent = None;
        self.book.lock().unwrap().boot += 1;
    }

    fn emit(&mut self, event: Event) {
        let mut b = self.book.lock().unwrap();
        let id = EventId(b.next_event);
        b.next_event += 1;
        b.outbox.push_back((id, event));
    }

    fn free(&self) -> u8 {
        let b = self.book.lock().unwrap();
        self.config.slots - b.held.len() as u8
    }

    fn handle(&mut self, msg: HostMsg) {
        match msg {
            HostMsg::Hello(hello) => {
                if hello.protocol != self.config.protocol && self.config.version_error {
                    self.errors.push_back(LinkError::Version {
                        supported: self.config.protocol,
                    });
                    return;
                }
                {
                    let mut b = self.book.lock().unwrap();
                    b.sessions += 1;
                    if b.epoch == 0 {
                        b.epoch = hello.epoch.0;
                    }
                }
                self.greeted = Some(self.session.session_id());
                self.hello_due = true;
                // Unacknowledged events go out again after every handshake.
                self.events_sent = None;
            }
            _ if self.greeted != Some(self.session.session_id()) => {
                self.errors.push_back(LinkError::NotReady)
            }
            HostMsg::Submit(job) => self.submit(job),
            HostMsg::Cancel(key) => {
                let held = {
                    let mut b = self.book.lock().unwrap();
                    let before = b.held.len();
                    b.held.retain(|(k, _)| *k != key);
                    before != b.held.len()
                };
                if held {
                    self.emit(Event::Failed {
                        key,
                        part: 1,
                        error: SendFailure::Cancelled,
                        permanent: true,
                    });
                }
            }
            HostMsg::Suppression(op) => {
                let mut b = self.book.lock().unwrap();
                match op {
                    SuppressionOp::Add(n, s) => {
                        b.suppression.insert((n, s));
                    }
                    SuppressionOp::Remove(n, s) => {
                        b.suppression.remove(&(n, s));
                    }
                    SuppressionOp::Digest => {
                        let count = b.suppression.len() as u32;
                        let digest = b
                            .suppression
                            .iter()
                            .fold(0u64, |acc, (n, s)| acc.wrapping_add(digest_entry(n, *s)));
                        drop(b);
                        self.answers
                            .push_back(DeviceMsg::Suppression { count, digest });
                    }
                }
            }
            HostMsg::Configure(_) => self.book.lock().unwrap().configured += 1,
            HostMsg::AckEvents(epoch, upto) => {
                let mut b = self.book.lock().unwrap();
                if epoch.0 == b.epoch {
                    b.outbox.retain(|(id, _)| *id > upto);
                }
            }
            HostMsg::Status => {
                let accepted = self.book.lock().unwrap().accepted.len() as u32;
                self.answers.push_back(DeviceMsg::Status(
                    ModemStatus {
                        ready: true,
                        registration: Registration::Home,
                        sim_ready: true,
                        power_cycles: 0,
                        network_time: false,
                        halted: self.config.halted,
                    },
                    Counters {
                        accepted,
                        ..Counters::default()
                    },
                ));
            }
        }
    }

    fn submit(&mut self, job: Job) {
        let key = job.key;
        let verdict = {
            let mut b = self.book.lock().unwrap();
            if b.known.contains(&key) {
                Err(true)
            } else if b.held.len() >= usize::from(self.config.slots) {
                b.no_credit += 1;
                Err(false)
            } else {
                b.known.insert(key);
                b.held.push((key, self.tick));
                b.max_held = b.max_held.max(b.held.len());
                b.accepted.push(key);
                Ok(())
            }
        };
        match verdict {
            Err(true) => self.emit(Event::Duplicate(key)),
            Err(false) => self.errors.push_back(LinkError::NoCredit(key)),
            Ok(()) => self.emit(Event::Accepted(key)),
        }
    }

    /// One tick: jobs that have waited long enough are "sent".
    fn work(&mut self) {
        self.tick += 1;
        if self.hold {
            return;
        }
        let done: Vec<JobKey> = {
            let mut b = self.book.lock().unwrap();
            let tick = self.tick;
            let work = self.config.work_ticks;
            let (done, keep): (Vec<_>, Vec<_>) =
                b.held.iter().partition(|(_, at)| tick >= at + work);
            b.held = keep;
            done.into_iter().map(|(k, _)| k).collect()
        };
        if done.is_empty() {
            return;
        }
        for key in done {
            self.emit(Event::Sent { key, parts: 1 });
        }
    }
}

async fn read_some(
    conn: &mut Option<(ReadHalf<BoxIo>, WriteHalf<BoxIo>)>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match conn {
        Some((r, _)) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------------
// The caller's side.

fn job(key: u64) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(&format!("+336{:08}", key % 100_000_000)).unwrap(),
        text: bounded(&format!("Rendez-vous n°{key} confirmé")),
        class: Class::Transactional,
        categories: CategorySet::EMPTY,
        identity: Identity {
            sender: Sender::ShortCode(36123),
            registered: false,
            brand: bounded("clinic"),
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

fn fast_config() -> Config {
    Config {
        retransmit: Duration::from_millis(20),
        handshake_timeout: Duration::from_millis(500),
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        keepalive: Some(Duration::from_millis(200)),
        ..Config::default()
    }
}

/// Connects the client to `device` through a new lossy pipe on every (re)connect.
fn lossy_connector(
    device: &DeviceHandle,
    seed: u64,
    p: u64,
    faults: Arc<Mutex<u64>>,
) -> impl relais::link::Connector {
    let streams = device.streams.clone();
    let mut n = 0;
    move || {
        n += 1;
        let (host, dev) = lossy_pipe(seed.wrapping_mul(31).wrapping_add(n), p, faults.clone());
        let sent = streams.send(Box::new(dev));
        async move {
            sent.map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            Ok(Box::new(host) as BoxIo)
        }
    }
}

/// What the caller saw.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<(EventId, Event)>,
    accepted: HashMap<JobKey, u32>,
    finished: HashSet<JobKey>,
    rebooted: Vec<(BootId, BootId)>,
    connected: u32,
    disconnected: u32,
    faults: Vec<Fault>,
    /// The device's epoch at the last handshake.
    epoch: EventEpoch,
}

impl Seen {
    /// Records one report, checking that events come once and in order, and
    /// acknowledges events as a caller would after storing them.
    fn take(&mut self, note: Incoming, client: &LinkClient) {
        match note {
            Incoming::Event(id, event) => {
                if let Some((last, _)) = self.events.last() {
                    assert!(id > *last, "event {id:?} after {last:?}");
                }
                if let Event::Accepted(k) = &event {
                    *self.accepted.entry(*k).or_default() += 1;
                }
                if event.is_final() {
                    self.finished.insert(event.job().unwrap());
                }
                self.events.push((id, event));
                let c = client.clone();
                let epoch = self.epoch;
                tokio::spawn(async move { c.ack_events(epoch, id).await });
            }
            Incoming::Rebooted { old, new } => self.rebooted.push((old, new)),
            Incoming::Connected(info) => {
                self.connected += 1;
                self.epoch = info.epoch;
            }
            Incoming::Disconnected(_) => self.disconnected += 1,
            Incoming::Fault(f) => self.faults.push(f),
            Incoming::Status(..) => {}
        }
    }
}

/// Submits `keys` one after another in a task.
fn submit_all(client: &LinkClient, keys: Vec<u64>) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for k in keys {
            client.submit(job(k)).await.unwrap();
        }
    })
}

async fn next(incoming: &mut IncomingReceiver) -> Incoming {
    tokio::time::timeout(Duration::from_secs(20), incoming.recv())
        .await
        .expect("no report from the link within 20 s")
        .expect("link client stopped")
}

fn assert_each_accepted_once(seen: &Seen, book: &Book, keys: impl Iterator<Item = u64>) {
    let mut device_accepts: HashMap<JobKey, u32> = HashMap::new();
    for k in &book.accepted {
        *device_accepts.entry(*k).or_default() += 1;
    }
    for k in keys {
        let key = JobKey(k);
        assert_eq!(seen.accepted.get(&key), Some(&1), "caller saw {key:?}");
        assert_eq!(device_accepts.get(&key), Some(&1), "device took {key:?}");
        assert!(seen.finished.contains(&key), "{key:?} finished");
    }
}

// ---------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn lossy_link_takes_every_job_once_and_delivers_events_once_in_order() {
    const JOBS: u64 = 300;
    // (seed, fault percent): three faulty lines and a clean one.
    for (seed, p) in [(1u64, 3u64), (2, 3), (3, 3), (4, 0)] {
        let device = spawn_device(DeviceConfig::default());
        let faults = Arc::new(Mutex::new(0));
        let connector = lossy_connector(&device, seed, p, faults.clone());
        let (client, mut incoming) = LinkClient::start(connector, fast_config());
        let info = tokio::time::timeout(Duration::from_secs(10), client.ready())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.firmware, "fake-0.1");
        assert_eq!(info.capabilities.job_slots, 4);

        let started = Instant::now();
        let submitter = submit_all(&client, (1..=JOBS).collect());
        let mut seen = Seen::default();
        while seen.finished.len() < JOBS as usize {
            seen.take(next(&mut incoming).await, &client);
        }
        let elapsed = started.elapsed();
        submitter.await.unwrap();

        let book = device.book.lock().unwrap();
        assert_each_accepted_once(&seen, &book, 1..=JOBS);
        // Ids are contiguous: nothing lost, nothing twice.
        let ids: Vec<u32> = seen.events.iter().map(|(id, _)| id.0).collect();
        assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>());
        assert!(seen.faults.is_empty(), "{:?}", seen.faults);
        assert!(book.max_held <= 4);
        let stats = client.stats();
        // Every job the device turned away was queued again (and taken once, above).
        assert_eq!(u64::from(book.no_credit), stats.overruns);
        if p == 0 {
            assert_eq!(book.no_credit, 0, "the client overran the device");
            assert_eq!(stats.retransmitted, 0, "{stats:?}");
        } else {
            // A lost credit report retransmitted with a later acknowledgement can
            // overstate the free slots once in a while (see link/credits.rs).
            assert!(book.no_credit <= 3, "{} overruns", book.no_credit);
            assert!(
                *faults.lock().unwrap() > 10,
                "the line must have been faulty"
            );
            assert!(stats.bad_frames > 0 && stats.retransmitted > 0, "{stats:?}");
        }
        eprintln!(
            "seed {seed}, {p}% faults: {JOBS} jobs in {elapsed:?} ({:.0} jobs/s), \
             {} line faults, {stats:?}",
            JOBS as f64 / elapsed.as_secs_f64(),
            faults.lock().unwrap()
        );
    }
}

#[tokio::test]
async fn submit_waits_for_a_credit() {
    let device = spawn_device(DeviceConfig {
        slots: 2,
        ..DeviceConfig::default()
    });
    device.control(Control::Hold(true));
    let connector = lossy_connector(&device, 9, 0, Arc::new(Mutex::new(0)));
    let (client, mut incoming) = LinkClient::start(connector, fast_config());
    client.ready().await.unwrap();
    client.submit(job(1)).await.unwrap();
    client.submit(job(2)).await.unwrap();
    let third = {
        let c = client.clone();
        tokio::spawn(async move { c.submit(job(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "a third job went out with two slots");
    device.control(Control::Hold(false));
    tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third job waits forever")
        .unwrap()
        .unwrap();
    let mut seen = Seen::default();
    while seen.finished.len() < 3 {
        seen.take(next(&mut incoming).await, &client);
    }
    let book = device.book.lock().unwrap();
    assert_eq!(book.max_held, 2);
    assert_eq!(book.no_credit, 0);
}

#[tokio::test]
async fn device_reboot_is_reported_and_resubmitted_jobs_run_once() {
    const JOBS: u64 = 80;
    let device = spawn_device(DeviceConfig {
        work_ticks: 3,
        ..DeviceConfig::default()
    });
    let connector = lossy_connector(&device, 77, 2, Arc::new(Mutex::new(0)));
    let (client, mut incoming) = LinkClient::start(connector, fast_config());
    let first = client.ready().await.unwrap();
    client
        .configure(relais_core::link::msg::Settings::default())
        .await
        .unwrap();
    let submitter = submit_all(&client, (1..=JOBS).collect());
    let mut seen = Seen::default();
    let mut rebooted = false;
    let mut resubmitter = None;
    while seen.finished.len() < JOBS as usize {
        seen.take(next(&mut incoming).await, &client);
        if !rebooted && seen.finished.len() >= 20 {
            device.control(Control::Reboot);
            rebooted = true;
        }
        if resubmitter.is_none() && !seen.rebooted.is_empty() {
            // What a caller does: resubmit every job it has no final event for.
            let unfinished: Vec<u64> = (1..=JOBS)
                .filter(|k| !seen.finished.contains(&JobKey(*k)))
                .collect();
            resubmitter = Some(submit_all(&client, unfinished));
        }
    }
    submitter.await.unwrap();
    resubmitter.expect("reboot not reported").await.unwrap();
    let now = client.device().unwrap();
    assert_eq!(seen.rebooted, vec![(first.boot, now.boot)]);
    assert_ne!(first.boot, now.boot);
    assert!(client.stats().rejects >= 1, "{:?}", client.stats());
    let book = device.book.lock().unwrap();
    assert_each_accepted_once(&seen, &book, 1..=JOBS);
    assert!(
        seen.events
            .iter()
            .any(|(_, e)| matches!(e, Event::Duplicate(_))),
        "resubmissions of accepted jobs come back as duplicates"
    );
    assert!(
        book.configured >= 2,
        "settings are sent again after the reboot's handshake"
    );
}

#[tokio::test]
async fn tcp_connection_dropped_once_is_reopened_and_work_resumes() {
    const JOBS: u64 = 60;
    let device = spawn_device(DeviceConfig {
        work_ticks: 2,
        ..DeviceConfig::default()
    });
    let port = device_on_tcp(&device).await;
    let (client, mut incoming) =
        LinkClient::connect(&format!("tcp:127.0.0.1:{port}"), fast_config())
            .await
            .unwrap();
    let first = client.ready().await.unwrap();
    let submitter = submit_all(&client, (1..=JOBS).collect());
    let mut seen = Seen::default();
    let mut dropped = false;
    while seen.finished.len() < JOBS as usize {
        seen.take(next(&mut incoming).await, &client);
        if !dropped && seen.finished.len() >= 15 {
            device.control(Control::Drop);
            dropped = true;
        }
    }
    submitter.await.unwrap();
    assert_eq!(seen.disconnected, 1);
    assert!(seen.connected >= 2, "handshake again after the reconnect");
    assert!(seen.rebooted.is_empty(), "same boot: no reboot report");
    assert_eq!(client.device().unwrap().boot, first.boot);
    assert_eq!(client.stats().reconnects, 1);
    let book = device.book.lock().unwrap();
    assert_each_accepted_once(&seen, &book, 1..=JOBS);
}

#[tokio::test]
async fn a_message_of_unknown_kind_is_acknowledged_and_reported() {
    let device = spawn_device(DeviceConfig::default());
    let connector = lossy_connector(&device, 5, 0, Arc::new(Mutex::new(0)));
    let (client, mut incoming) = LinkClient::start(connector, fast_config());
    client.ready().await.unwrap();
    device.control(Control::SendUnknown);
    // The job's events come after the unknown message in the device's session: they
    // only arrive if the client acknowledged it.
    client.submit(job(1)).await.unwrap();
    let mut seen = Seen::default();
    while seen.finished.is_empty() {
        seen.take(next(&mut incoming).await, &client);
    }
    assert!(
        matches!(seen.faults.as_slice(), [Fault::UnknownMessage { .. }]),
        "{:?}",
        seen.faults
    );
    assert_eq!(client.stats().unknown_messages, 1);
}

#[tokio::test]
async fn another_protocol_version_is_a_typed_error() {
    for version_error in [false, true] {
        let device = spawn_device(DeviceConfig {
            protocol: PROTOCOL + 1,
            version_error,
            ..DeviceConfig::default()
        });
        let connector = lossy_connector(&device, 5, 0, Arc::new(Mutex::new(0)));
        let (client, _incoming) = LinkClient::start(connector, fast_config());
        let expected = ClientError::Protocol {
            host: PROTOCOL,
            device: PROTOCOL + 1,
        };
        let result = tokio::time::timeout(Duration::from_secs(5), client.ready())
            .await
            .unwrap();
        assert_eq!(
            result,
            Err(expected.clone()),
            "version_error {version_error}"
        );
        assert_eq!(client.submit(job(1)).await, Err(expected));
    }
}

#[tokio::test]
async fn suppression_digest_status_and_settings() {
    let device = spawn_device(DeviceConfig::default());
    let connector = lossy_connector(&device, 11, 2, Arc::new(Mutex::new(0)));
    let (client, _incoming) = LinkClient::start(connector, fast_config());
    client.ready().await.unwrap();
    let a = Msisdn::parse("+33611111111").unwrap();
    let b = Msisdn::parse("+15551234567").unwrap();
    client
        .suppression(SuppressionOp::Add(a, Scope::All))
        .await
        .unwrap();
    client
        .suppression(SuppressionOp::Add(b, Scope::All))
        .await
        .unwrap();
    // Asked without waiting for the removal: the answer still reflects it.
    let c = client.clone();
    let remove =
        tokio::spawn(async move { c.suppression(SuppressionOp::Remove(a, Scope::All)).await });
    tokio::task::yield_now().await;
    let (count, digest) = client.suppression_digest().await.unwrap();
    remove.await.unwrap().unwrap();
    assert_eq!((count, digest), (1, digest_entry(&b, Scope::All)));
    client
        .configure(relais_core::link::msg::Settings::default())
        .await
        .unwrap();
    let (status, counters) = client.status().await.unwrap();
    assert!(status.ready);
    assert_eq!(counters.accepted, 0);
    assert_eq!(device.book.lock().unwrap().configured, 1);
}

#[tokio::test]
async fn a_pty_path_and_a_symlink_to_it_work_as_serial_ports() {
    use tokio_serial::SerialPort;
    let (master, mut slave) = tokio_serial::SerialStream::pair().unwrap();
    let path = slave.name().unwrap();
    // Keep the slave open without a lock (so the master never reads a hang-up) and
    // let the client open it exclusively, as it opens QEMU's pty.
    slave.set_exclusive(false).unwrap();
    let keep = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    drop(slave);
    let dir = std::env::temp_dir().join(format!("relais-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("device");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&path, &link).unwrap();

    let device = spawn_device(DeviceConfig::default());
    device.streams.send(Box::new(master)).unwrap();
    let (client, mut incoming) = LinkClient::connect(link.to_str().unwrap(), fast_config())
        .await
        .unwrap();
    client.ready().await.unwrap();
    for k in 1..=5 {
        client.submit(job(k)).await.unwrap();
    }
    let mut seen = Seen::default();
    while seen.finished.len() < 5 {
        seen.take(next(&mut incoming).await, &client);
    }
    assert_each_accepted_once(&seen, &device.book.lock().unwrap(), 1..=5);
    drop(keep);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_spec_or_missing_port_fails_at_once() {
    assert!(matches!(
        LinkClient::connect("tcp:nohost", Config::default()).await,
        Err(ClientError::Spec(_))
    ));
    assert!(matches!(
        LinkClient::connect("/nonexistent/relais-tty", Config::default()).await,
        Err(ClientError::Open {
            kind: io::ErrorKind::NotFound,
            ..
        })
    ));
}

#[tokio::test]
async fn event_ids_below_the_stored_ones_are_renumbered_not_dropped() {
    // The caller stored events up to 1000 of this store's epoch, and the device now
    // numbers from 0 (a store that could not keep its ids).
    let device = spawn_device(DeviceConfig::default());
    device.book.lock().unwrap().epoch = 7;
    let connector = lossy_connector(&device, 3, 0, Arc::new(Mutex::new(0)));
    let config = Config {
        stored_events: Some((EventEpoch(7), EventId(1000))),
        ..fast_config()
    };
    let (client, mut incoming) = LinkClient::start(connector, config);
    client.ready().await.unwrap();
    client.submit(job(1)).await.unwrap();
    let mut seen = Seen::default();
    while seen.finished.is_empty() {
        seen.take(next(&mut incoming).await, &client);
    }
    assert_eq!(
        seen.faults,
        [Fault::EventsRenumbered {
            seen: EventId(1000),
            next: EventId(0)
        }]
    );
    assert_eq!(seen.events[0].0, EventId(0));
}

#[tokio::test]
async fn a_fresh_device_store_gets_a_new_epoch_and_none_of_its_events_is_dropped() {
    // The caller stored events up to 2 from the device's old store (epoch 7). The
    // device's flash was replaced: its new store already numbered 5 events (0 to 4)
    // while the host was away, so ids continue past the old mark and look like replays
    // up to 2. They must all come, with a loud fault.
    let device = spawn_device(DeviceConfig::default());
    {
        let mut b = device.book.lock().unwrap();
        for i in 0..5 {
            b.outbox
                .push_back((EventId(i), Event::Duplicate(JobKey(u64::from(i) + 100))));
        }
        b.next_event = 5;
    }
    let connector = lossy_connector(&device, 3, 0, Arc::new(Mutex::new(0)));
    let config = Config {
        stored_events: Some((EventEpoch(7), EventId(2))),
        ..fast_config()
    };
    let (client, mut incoming) = LinkClient::start(connector, config);
    let info = client.ready().await.unwrap();
    assert_ne!(info.epoch, EventEpoch(7));
    assert_ne!(
        info.epoch,
        EventEpoch::NONE,
        "the store adopted the host's epoch"
    );
    assert_eq!(info.outbox, 5);
    let mut seen = Seen::default();
    while seen.events.len() < 5 {
        seen.take(next(&mut incoming).await, &client);
    }
    let ids: Vec<u32> = seen.events.iter().map(|(id, _)| id.0).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
    assert_eq!(
        seen.faults,
        [Fault::NewEventEpoch {
            old: EventEpoch(7),
            new: info.epoch
        }]
    );
    // The acknowledgements carry the new epoch: the outbox empties.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !device.book.lock().unwrap().outbox.is_empty() {
        assert!(Instant::now() < deadline, "the outbox was not acknowledged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fake device listening on TCP; returns its port.
async fn device_on_tcp(device: &DeviceHandle) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let streams = device.streams.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if streams.send(Box::new(stream)).is_err() {
                return;
            }
        }
    });
    port
}

/// `relais device --port tcp:…:PORT status [--json]`, run as a user would.
async fn device_status(port: u16, json: bool) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_relais"));
        cmd.args(["device", "--port", &format!("tcp:127.0.0.1:{port}")]);
        cmd.args(["--timeout", "10", "status"]);
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn relais_device_status_prints_the_handshake_and_modem_status() {
    let device = spawn_device(DeviceConfig::default());
    let port = device_on_tcp(&device).await;
    let text = device_status(port, false).await;
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "firmware:      fake-0.1 (link protocol {PROTOCOL})"
        )),
        "{text}"
    );
    assert!(text.contains("state:         taking jobs"), "{text}");
    assert!(text.contains("boot id:       0x00001000"), "{text}");
    assert!(text.contains("job slots:     4"), "{text}");
    assert!(
        text.contains("modem:         ready, registered (home)"),
        "{text}"
    );

    let json = device_status(port, true).await;
    assert!(json.status.success(), "{json:?}");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["firmware"], "fake-0.1");
    assert_eq!(v["boot"], 0x1000);
    assert_eq!(v["capabilities"]["job_slots"], 4);
    assert_eq!(v["modem"]["registration"], "registered (home)");
    assert_eq!(
        device.book.lock().unwrap().sessions,
        2,
        "one handshake per run"
    );
}

#[tokio::test]
async fn relais_device_status_says_when_and_why_a_device_halted() {
    let device = spawn_device(DeviceConfig {
        halted: Some(relais_core::link::msg::Halt::StoreMedium),
        ..DeviceConfig::default()
    });
    let port = device_on_tcp(&device).await;
    let text = device_status(port, false).await;
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("state:         HALTED (store-medium)"),
        "{text}"
    );
    let json = device_status(port, true).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["halted"], "store-medium");
}

#[test]
fn relais_device_status_fails_with_exit_code_1_when_nothing_answers() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
        .args([
            "device",
            "--port",
            "tcp:127.0.0.1:1",
            "--timeout",
            "2",
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("relais device: error: "), "{err}");
}

#[tokio::test]
async fn a_device_that_connects_to_the_host_is_accepted_again_after_a_loss() {
    // QEMU in TCP client mode: the host listens, the board connects.
    let device = spawn_device(DeviceConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, mut incoming) =
        LinkClient::start(relais::link::accept_from(listener), fast_config());
    let dial = |device: &DeviceHandle| {
        let streams = device.streams.clone();
        async move {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            streams.send(Box::new(s)).unwrap();
        }
    };
    dial(&device).await;
    let first = client.ready().await.unwrap();
    let mut seen = Seen::default();
    client.submit(job(1)).await.unwrap();
    while seen.finished.is_empty() {
        seen.take(next(&mut incoming).await, &client);
    }
    device.control(Control::Drop);
    while seen.disconnected == 0 {
        seen.take(next(&mut incoming).await, &client);
    }
    dial(&device).await;
    client.submit(job(2)).await.unwrap();
    while seen.finished.len() < 2 {
        seen.take(next(&mut incoming).await, &client);
    }
    assert_eq!(client.device().unwrap().boot, first.boot);
    assert!(seen.connected >= 2);
}

#[tokio::test]
async fn a_submit_dropped_while_waiting_for_credit_is_never_sent() {
    let device = spawn_device(DeviceConfig {
        slots: 1,
        ..DeviceConfig::default()
    });
    device.control(Control::Hold(true));
    let connector = lossy_connector(&device, 13, 0, Arc::new(Mutex::new(0)));
    let (client, mut incoming) = LinkClient::start(connector, fast_config());
    client.ready().await.unwrap();
    client.submit(job(1)).await.unwrap();
    let c = client.clone();
    let given_up = tokio::spawn(async move { c.submit(job(2)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    given_up.abort();
    let c = client.clone();
    let third = tokio::spawn(async move { c.submit(job(3)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    device.control(Control::Hold(false));
    third.await.unwrap().unwrap();
    let mut seen = Seen::default();
    while seen.finished.len() < 2 {
        seen.take(next(&mut incoming).await, &client);
    }
    let book = device.book.lock().unwrap();
    assert!(book.known.contains(&JobKey(3)));
    assert!(
        !book.known.contains(&JobKey(2)),
        "the abandoned job went out"
    );
}
