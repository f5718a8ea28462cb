//! The link client against the real device agent (`relais_agent::agent`), run in a
//! thread with a RAM store and the simulated SIM800 and operator (`relais::sim`)
//! behind its modem port, reached over TCP as the QEMU harness reaches the board.
//!
//! The operator's ledger records every message the network accepted, so "never sent
//! twice" is checked where it matters: at the network.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais::link::{Config, Event, Incoming, IncomingReceiver, LinkClient};
use relais::sim::operator::Ledger;
use relais::sim::peer::{Shared, WorldClock as SimClock, WorldPort, WorldPower};
use relais::sim::scenario::Scenario;
use relais::sim::world::World;
use relais_agent::agent::{Agent, Config as AgentConfig};
use relais_agent::modem::{Modem, Profile};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{
    EventId, Identity, Job, JobKey, Pacing, Scope, Sender, Settings, SuppressionOp, bounded,
    digest_entry,
};

// ---------------------------------------------------------------------------------
// The device: agent + simulated modem in one thread.

/// The agent's host link: a TCP server taking one connection at a time, like QEMU's
/// `-serial tcp:...,server=on`. The agent reads and writes buffers; the device loop
/// moves them to and from the socket.
#[derive(Default)]
struct Wire {
    listener: Option<TcpListener>,
    stream: Option<TcpStream>,
    rx: VecDeque<u8>,
    tx: Vec<u8>,
}

impl Wire {
    fn poll_io(&mut self) {
        if let Some(Ok((s, _))) = self.listener.as_ref().map(|l| l.accept()) {
            s.set_nonblocking(true).unwrap();
            s.set_nodelay(true).unwrap();
            self.stream = Some(s);
        }
        let Some(s) = self.stream.as_mut() else {
            self.tx.clear(); // nobody listening: the bytes are lost, as on a UART
            return;
        };
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => self.stream = None,
            Ok(n) => self.rx.extend(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => self.stream = None,
        }
        if let Some(s) = self.stream.as_mut() {
            match s.write(&self.tx) {
                Ok(n) => {
                    self.tx.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.stream = None,
            }
        }
    }
}

#[derive(Clone, Default)]
struct TcpPort(std::rc::Rc<std::cell::RefCell<Wire>>);

impl ErrorType for TcpPort {
    type Error = ErrorKind;
}

impl Read<u8> for TcpPort {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        self.0
            .borrow_mut()
            .rx
            .pop_front()
            .ok_or(nb::Error::WouldBlock)
    }
}

impl Write<u8> for TcpPort {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        let mut w = self.0.borrow_mut();
        if w.tx.len() >= 8192 {
            return Err(nb::Error::WouldBlock);
        }
        w.tx.push(byte);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        Ok(())
    }
}

type Store = MemStore<64, 128, 128>;
type TheAgent = Agent<TcpPort, WorldPort, WorldPower, SimClock, Store, 4, 4>;

enum Control {
    /// Reset the board: a new agent from the same store (flash survives).
    Reboot,
    /// Close the TCP connection (QEMU's chardev lost its client).
    Drop,
    Stop,
}

struct Device {
    port: u16,
    control: std_mpsc::Sender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
    ledger: PathBuf,
}

const SCENARIO: &str = r#"
seed = 11
start = "2026-03-04T10:00:00"
utc_offset = "+01:00"
speed = 10.0

[[modem]]
name = "m1"
profile = "sim800"
msisdn = "+33700000001"
submit_latency = "100ms..300ms"

[operator]
report_latency = "1s..3s"
"#;

fn new_modem(world: &Shared) -> Modem<WorldPort, WorldPower, SimClock> {
    Modem::new(
        WorldPort::new(world, 0),
        WorldPower::new(world, 0),
        SimClock(world.clone()),
        Profile::SIM800,
    )
}

fn start_device(test: &str) -> Device {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ledger = std::env::temp_dir().join(format!(
        "relais-link-agent-{test}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&ledger);
    let (control, control_rx) = std_mpsc::channel();
    let ledger_path = ledger.clone();
    let thread = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || run_device(listener, &ledger_path, control_rx))
        .unwrap();
    Device {
        port,
        control,
        thread: Some(thread),
        ledger,
    }
}

fn run_device(
    listener: TcpListener,
    ledger: &std::path::Path,
    control: std_mpsc::Receiver<Control>,
) {
    let scenario = Scenario::parse(SCENARIO).unwrap();
    let world = World::new(&scenario, Ledger::open(ledger).unwrap()).unwrap();
    let world: Shared = std::rc::Rc::new(std::cell::RefCell::new(world));
    let link = TcpPort::default();
    link.0.borrow_mut().listener = Some(listener);
    let wire = link.0.clone();
    let config = AgentConfig {
        firmware: bounded("agent-test"),
        ..AgentConfig::default()
    };
    let mut agent: TheAgent = Agent::new(
        link,
        new_modem(&world),
        SimClock(world.clone()),
        Store::new(),
        config.clone(),
    )
    .unwrap();
    loop {
        match control.try_recv() {
            Ok(Control::Reboot) => {
                let (link, _modem, clock, store) = agent.release();
                // The board resets: the modem is power-cycled with it.
                let _ = world.borrow_mut().inject_fault(0, "reboot", None, 0.0);
                agent = Agent::new(link, new_modem(&world), clock, store, config.clone()).unwrap();
            }
            Ok(Control::Drop) => wire.borrow_mut().stream = None,
            Ok(Control::Stop) | Err(std_mpsc::TryRecvError::Disconnected) => return,
            Err(std_mpsc::TryRecvError::Empty) => {}
        }
        for _ in 0..256 {
            match agent.poll() {
                Ok(_) | Err(nb::Error::Other(_)) => continue,
                Err(nb::Error::WouldBlock) => break,
            }
        }
        wire.borrow_mut().poll_io();
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------
// The host side.

fn job(key: u64) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(&format!("+33612{:06}", key)).unwrap(),
        text: bounded(&format!("Your appointment is confirmed [job {key}]")),
        class: Class::Transactional,
        categories: CategorySet::EMPTY,
        identity: Identity {
            sender: Sender::LongNumber(Msisdn::parse("+33700000001").unwrap()),
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

/// No pacing: the simulated operator does not block fast SIMs.
fn fast_settings() -> Settings {
    Settings {
        pacing: Pacing {
            per_minute: 0,
            per_hour: 0,
            per_day: 0,
            min_gap_ms: 0,
            jitter_ms: 0,
        },
        ..Settings::default()
    }
}

fn client_config() -> Config {
    Config {
        retransmit: Duration::from_millis(50),
        handshake_timeout: Duration::from_secs(2),
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        keepalive: Some(Duration::from_millis(500)),
        ..Config::default()
    }
}

#[derive(Debug, Default)]
struct Seen {
    events: Vec<(EventId, Event)>,
    accepted: HashMap<JobKey, u32>,
    sent: HashMap<JobKey, u32>,
    finished: HashSet<JobKey>,
    rebooted: u32,
    connected: u32,
    /// The device's epoch at the last handshake.
    epoch: relais::link::EventEpoch,
}

impl Seen {
    fn take(&mut self, note: Incoming, client: &LinkClient) {
        match note {
            Incoming::Event(id, event) => {
                if let Some((last, _)) = self.events.last() {
                    assert!(id > *last, "event {id:?} after {last:?}");
                }
                match &event {
                    Event::Accepted(k) => *self.accepted.entry(*k).or_default() += 1,
                    Event::Sent { key, .. } => *self.sent.entry(*key).or_default() += 1,
                    _ => {}
                }
                if event.is_final() {
                    self.finished.insert(event.job().unwrap());
                }
                self.events.push((id, event));
                let c = client.clone();
                let epoch = self.epoch;
                tokio::spawn(async move { c.ack_events(epoch, id).await });
            }
            Incoming::Rebooted { .. } => self.rebooted += 1,
            Incoming::Connected(info) => {
                self.connected += 1;
                self.epoch = info.epoch;
            }
            _ => {}
        }
    }
}

async fn next(incoming: &mut IncomingReceiver, seen: &Seen) -> Incoming {
    match tokio::time::timeout(Duration::from_secs(30), incoming.recv()).await {
        Ok(Some(note)) => note,
        Ok(None) => panic!("link client stopped"),
        Err(_) => panic!("nothing from the agent for 30 s; seen: {:#?}", seen.events),
    }
}

fn submit_all(client: &LinkClient, keys: Vec<u64>) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for k in keys {
            client.submit(job(k)).await.unwrap();
        }
    })
}

/// Messages the operator accepted, per job key (from the ledger).
fn network_copies(ledger: &std::path::Path) -> HashMap<u64, u32> {
    let text = std::fs::read_to_string(ledger).unwrap_or_default();
    let mut copies = HashMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["kind"] != "message" {
            continue;
        }
        let t = v["text"].as_str().unwrap_or("");
        if let Some(k) = t
            .rsplit_once("[job ")
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .and_then(|k| k.parse().ok())
        {
            *copies.entry(k).or_default() += 1;
        }
    }
    copies
}

#[tokio::test]
async fn the_real_agent_takes_jobs_reports_events_and_answers_questions() {
    const JOBS: u64 = 12;
    let device = start_device("jobs");
    let (client, mut incoming) =
        LinkClient::connect(&format!("tcp:127.0.0.1:{}", device.port), client_config())
            .await
            .unwrap();
    let info = tokio::time::timeout(Duration::from_secs(10), client.ready())
        .await
        .expect("no handshake with the agent")
        .unwrap();
    assert_eq!(info.firmware, "agent-test");
    assert_eq!(info.capabilities.job_slots, 4);
    client.configure(fast_settings()).await.unwrap();

    let n = Msisdn::parse("+33698765432").unwrap();
    client
        .suppression(SuppressionOp::Add(n, Scope::All))
        .await
        .unwrap();
    assert_eq!(
        client.suppression_digest().await.unwrap(),
        (1, digest_entry(&n, Scope::All))
    );

    let submitter = submit_all(&client, (1..=JOBS).collect());
    let mut seen = Seen::default();
    while seen.finished.len() < JOBS as usize {
        seen.take(next(&mut incoming, &seen).await, &client);
    }
    submitter.await.unwrap();
    for k in 1..=JOBS {
        assert_eq!(
            seen.accepted.get(&JobKey(k)),
            Some(&1),
            "{k}: {:#?}",
            seen.events
        );
        assert_eq!(
            seen.sent.get(&JobKey(k)),
            Some(&1),
            "{k}: {:#?}",
            seen.events
        );
    }
    let (modem, counters) = client.status().await.unwrap();
    assert!(modem.ready, "{modem:?}");
    assert_eq!(counters.accepted, JOBS as u32);
    assert_eq!(client.stats().overruns, 0, "{:?}", client.stats());
    let ledger = device.ledger.clone();
    drop(device);
    let copies = network_copies(&ledger);
    for k in 1..=JOBS {
        assert_eq!(copies.get(&k), Some(&1), "job {k} at the network");
    }
}

#[tokio::test]
async fn an_agent_reboot_is_reported_and_no_job_reaches_the_network_twice() {
    const JOBS: u64 = 24;
    let device = start_device("reboot");
    let (client, mut incoming) =
        LinkClient::connect(&format!("tcp:127.0.0.1:{}", device.port), client_config())
            .await
            .unwrap();
    let first = client.ready().await.unwrap();
    client.configure(fast_settings()).await.unwrap();
    let submitter = submit_all(&client, (1..=JOBS).collect());
    let mut seen = Seen::default();
    let mut rebooted = false;
    let mut resubmitter = None;
    while seen.finished.len() < JOBS as usize {
        seen.take(next(&mut incoming, &seen).await, &client);
        if !rebooted && seen.finished.len() >= 6 {
            device.control.send(Control::Reboot).unwrap();
            rebooted = true;
        }
        if resubmitter.is_none() && seen.rebooted > 0 {
            let unfinished: Vec<u64> = (1..=JOBS)
                .filter(|k| !seen.finished.contains(&JobKey(*k)))
                .collect();
            resubmitter = Some(submit_all(&client, unfinished));
        }
    }
    submitter.await.unwrap();
    resubmitter.expect("reboot not reported").await.unwrap();
    assert_eq!(seen.rebooted, 1);
    assert_ne!(client.device().unwrap().boot, first.boot);
    for k in 1..=JOBS {
        assert!(seen.sent.get(&JobKey(k)).copied().unwrap_or(0) <= 1, "{k}");
    }
    let ledger = device.ledger.clone();
    drop(device);
    let copies = network_copies(&ledger);
    for k in 1..=JOBS {
        let sent = seen.sent.contains_key(&JobKey(k));
        let at_network = copies.get(&k).copied().unwrap_or(0);
        assert!(
            at_network <= 1,
            "job {k} reached the network {at_network} times"
        );
        if sent {
            assert_eq!(at_network, 1, "job {k} reported sent");
        }
    }
    eprintln!(
        "reboot: {} of {JOBS} jobs sent, finals: {:?}",
        seen.sent.len(),
        seen.events
            .iter()
            .filter(|(_, e)| e.is_final() && !matches!(e, Event::Sent { .. }))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------
// A lossy line between the client and the agent's TCP port.

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
}

/// Copies `from` to `to`, dropping a write, flipping a bit or dropping a byte with
/// probability `p` percent each.
async fn lossy_copy<R, W>(mut from: R, mut to: W, mut rng: Rng, p: u64)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut chunk = buf[..n].to_vec();
        if rng.percent(p) {
            continue;
        }
        if rng.percent(p) {
            let i = (rng.next() as usize) % chunk.len();
            chunk[i] ^= 1 << (rng.next() % 8);
        }
        if rng.percent(p) && chunk.len() > 1 {
            let i = (rng.next() as usize) % chunk.len();
            chunk.remove(i);
        }
        if to.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

/// A TCP proxy to `target` that damages both directions; returns its port.
async fn lossy_proxy(target: u16, seed: u64, p: u64) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((client, _)) = listener.accept().await {
            n += 1;
            let Ok(agent) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (ar, aw) = agent.into_split();
            tokio::spawn(lossy_copy(cr, aw, Rng(seed + n), p));
            tokio::spawn(lossy_copy(ar, cw, Rng((seed + n) ^ 0xDEAD_BEEF), p));
        }
    });
    port
}

#[tokio::test]
async fn the_real_agent_over_a_lossy_line_with_a_dropped_connection() {
    const JOBS: u64 = 30;
    let device = start_device("lossy");
    let proxy = lossy_proxy(device.port, 21, 3).await;
    let (client, mut incoming) =
        LinkClient::connect(&format!("tcp:127.0.0.1:{proxy}"), client_config())
            .await
            .unwrap();
    client.ready().await.unwrap();
    client.configure(fast_settings()).await.unwrap();
    let started = std::time::Instant::now();
    let submitter = submit_all(&client, (1..=JOBS).collect());
    let mut seen = Seen::default();
    let mut dropped = false;
    while seen.finished.len() < JOBS as usize {
        seen.take(next(&mut incoming, &seen).await, &client);
        if !dropped && seen.finished.len() >= 10 {
            device.control.send(Control::Drop).unwrap();
            dropped = true;
        }
    }
    submitter.await.unwrap();
    let stats = client.stats();
    for k in 1..=JOBS {
        assert_eq!(seen.accepted.get(&JobKey(k)), Some(&1), "{k}");
        assert_eq!(seen.sent.get(&JobKey(k)), Some(&1), "{k}");
    }
    assert_eq!(seen.rebooted, 0);
    assert!(seen.connected >= 2, "handshake again after the drop");
    assert!(stats.bad_frames > 0 && stats.retransmitted > 0, "{stats:?}");
    eprintln!(
        "agent over a 3% lossy line: {JOBS} jobs in {:?}, {stats:?}",
        started.elapsed()
    );
    let ledger = device.ledger.clone();
    drop(device);
    let copies = network_copies(&ledger);
    for k in 1..=JOBS {
        assert_eq!(copies.get(&k), Some(&1), "job {k} at the network");
    }
}
