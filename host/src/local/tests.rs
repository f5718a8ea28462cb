//! The agent inside the host: the file flash, the store on it, and whole devices over
//! the simulator (in virtual time, in process) and over `relais sim`'s pty (real time,
//! through [`SerialModem`]), each driven by the real [`LinkClient`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use relais_agent::store::{MemStore, Store};
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{Identity, Sender, bounded};
use serde_json::Value;

use super::*;
use crate::link::{self, EventId, Incoming, IncomingReceiver, Job, JobKey, LinkClient};
use crate::sim::scenario::Scenario;

/// A directory of its own for one test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("relais-local-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn file_flash_is_nor_flash() {
    let dir = TempDir::new("nor");
    let path = dir.join("flash.bin");
    let mut flash = FileFlash::open(&path, 4 * flash::FILE_FLASH_BLOCK).unwrap();
    assert_eq!(flash.capacity(), 16 * 1024);
    assert!(
        flash.as_bytes().iter().all(|&b| b == 0xFF),
        "created erased"
    );

    // Programming only clears bits: F0 then 0F gives 00, 3C then FF keeps 3C.
    flash.write(8, &[0xF0, 0xF0, 0x3C, 0xFF]).unwrap();
    flash.write(8, &[0x0F, 0xFF, 0xFF, 0x00]).unwrap();
    let mut word = [0u8; 4];
    flash.read(8, &mut word).unwrap();
    assert_eq!(word, [0x00, 0xF0, 0x3C, 0x00]);

    // Units and bounds.
    use FileFlashError::*;
    assert_eq!(flash.write(2, &[0; 4]), Err(NotAligned));
    assert_eq!(flash.write(4, &[0; 3]), Err(NotAligned));
    assert_eq!(flash.write(16 * 1024, &[0; 4]), Err(OutOfBounds));
    assert_eq!(flash.erase(100, 4096), Err(NotAligned));
    assert_eq!(flash.erase(4096, 0), Err(OutOfBounds));
    assert_eq!(flash.erase(12 * 1024, 20 * 1024), Err(OutOfBounds));
    assert_eq!(flash.read(16 * 1024 - 1, &mut [0; 2]), Err(OutOfBounds));

    // Erase sets a whole block and only it.
    flash.write(4096, &[0; 8]).unwrap();
    flash.erase(0, 4096).unwrap();
    assert!(flash.as_bytes()[..4096].iter().all(|&b| b == 0xFF));
    assert_eq!(&flash.as_bytes()[4096..4104], &[0; 8]);

    // Locked while open.
    let again = FileFlash::open(&path, 4 * flash::FILE_FLASH_BLOCK).unwrap_err();
    assert_eq!(again.kind(), std::io::ErrorKind::WouldBlock, "{again}");

    // What was written is in the file: a reopen reads it back.
    drop(flash);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[4096..4104], &[0; 8]);
    let mut flash = FileFlash::open(&path, 4 * flash::FILE_FLASH_BLOCK).unwrap();
    let mut bytes = [0u8; 8];
    flash.read(4096, &mut bytes).unwrap();
    assert_eq!(bytes, [0; 8]);
    drop(flash);

    // Another size is refused, not reinterpreted.
    let wrong = FileFlash::open(&path, 8 * flash::FILE_FLASH_BLOCK).unwrap_err();
    assert_eq!(wrong.kind(), std::io::ErrorKind::InvalidData, "{wrong}");
    assert!(FileFlash::open(&dir.join("odd"), 1000).is_err());
}

#[test]
fn flash_store_in_a_file_survives_a_reopen() {
    use relais_core::link::msg::{Event, Scope};
    let dir = TempDir::new("store");
    let path = dir.join("device.flash");
    let (mut store, opened) = open_store(&path).unwrap();
    assert_eq!(opened, StoreOpened::Created);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        flash::STORE_SIZE as u64
    );
    let first = store.next_boot().unwrap();
    let id = store.push_event(&Event::Accepted(JobKey(7))).unwrap();
    let number = Msisdn::parse("+33612345678").unwrap();
    store.suppress(&number, Scope::All).unwrap();
    // In use: a second open fails with a message, and leaves the file alone.
    let busy = open_store(&path).unwrap_err();
    assert!(busy.contains("in use"), "{busy}");
    drop(store);

    let (mut store, opened) = open_store(&path).unwrap();
    assert_eq!(opened, StoreOpened::Existing);
    assert_eq!(store.next_boot().unwrap().0, first.0 + 1);
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert_eq!(
        store.next_event(None).unwrap(),
        Some((id, Event::Accepted(JobKey(7))))
    );
    let brand = relais_core::link::msg::BrandId(1);
    assert_eq!(store.opted_out(&number, brand).unwrap(), Some(Scope::All));
    assert_eq!(store.suppression_capacity(), 10_000);
}

#[test]
fn an_unreadable_store_is_moved_aside_not_reused() {
    let dir = TempDir::new("aside");
    let path = dir.join("device.flash");
    std::fs::write(&path, b"not a flash image").unwrap();
    let (mut store, opened) = open_store(&path).unwrap();
    let StoreOpened::Replaced { moved_to, reason } = &opened else {
        panic!("{opened:?}");
    };
    assert!(reason.contains("17 bytes"), "{reason}");
    assert_eq!(std::fs::read(moved_to).unwrap(), b"not a flash image");
    assert!(
        opened.to_string().contains("no longer remembers"),
        "{opened}"
    );
    assert_eq!(store.next_boot().unwrap().0, 1, "a new, empty store");
    drop(store);

    // The right size but not a store: random bytes (which sequential-storage alone
    // would open as a store with nothing readable in it), and a store of another
    // layout version.
    let mut x: u64 = 0x1234_5678;
    let noise: Vec<u8> = (0..flash::STORE_SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut older = vec![0xFF; flash::STORE_SIZE];
    older[..16].copy_from_slice(b"relais-store\0v0\0");
    for (image, why) in [(noise, "no header"), (older, "another version")] {
        std::fs::write(&path, &image).unwrap();
        let (_, opened) = open_store(&path).unwrap();
        let StoreOpened::Replaced { moved_to, reason } = &opened else {
            panic!("{opened:?}");
        };
        assert!(reason.contains(why), "{reason}");
        assert_eq!(std::fs::read(moved_to).unwrap(), image);
    }
    // A store file left erased (created, then the process died before the header):
    // used as a new store.
    std::fs::write(&path, vec![0xFF; flash::STORE_SIZE]).unwrap();
    let (mut store, opened) = open_store(&path).unwrap();
    assert_eq!(opened, StoreOpened::Existing);
    assert_eq!(store.next_boot().unwrap().0, 1);
}

/// The child of [`a_killed_process_keeps_every_acknowledged_write`]: pushes events into
/// the store named by `RELAIS_LOCAL_KILL_STORE` and prints each id once it is stored,
/// until killed. Does nothing when run on its own.
#[test]
#[ignore = "run by a_killed_process_keeps_every_acknowledged_write"]
fn store_writer_child() {
    use relais_core::link::msg::Event;
    use std::io::Write as _;
    let Some(path) = std::env::var_os("RELAIS_LOCAL_KILL_STORE") else {
        return;
    };
    let (mut store, _) = open_store(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    for key in 1..10_000u64 {
        let id = store.push_event(&Event::Accepted(JobKey(key))).unwrap();
        writeln!(out, "stored {} {key}", id.0).unwrap();
        out.flush().unwrap();
    }
}

/// A process killed with SIGKILL while it writes: every event it reported stored is in
/// the store when it is opened again, in order, and the store still works.
#[test]
fn a_killed_process_keeps_every_acknowledged_write() {
    use relais_core::link::msg::Event;
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let dir = TempDir::new("kill");
    let path = dir.join("device.flash");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "local::tests::store_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RELAIS_LOCAL_KILL_STORE", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acknowledged = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // libtest's "test ... " may precede the first line.
            let Some(at) = line.find("stored ") else {
                continue;
            };
            let rest = &line[at + "stored ".len()..];
            let (id, key) = rest.split_once(' ').unwrap();
            acknowledged.push((id.parse::<u32>().unwrap(), key.parse::<u64>().unwrap()));
            // Killed at a different point each round, mid-write or between writes.
            if acknowledged.len() == 40 + 17 * round {
                child.kill().unwrap();
                break;
            }
        }
        child.wait().unwrap();
        let (mut store, opened) = open_store(&path).unwrap();
        assert_eq!(opened, StoreOpened::Existing);
        let mut found = Vec::new();
        let mut before = None;
        while let Some((id, event)) = store.next_event(before).unwrap() {
            let Event::Accepted(key) = event else {
                panic!("{event:?}")
            };
            found.push((id.0, key.0));
            before = Some(id);
        }
        assert!(
            found.len() >= acknowledged.len(),
            "round {round}: {} stored, {} acknowledged",
            found.len(),
            acknowledged.len()
        );
        assert_eq!(
            &found[..acknowledged.len()],
            &acknowledged[..],
            "round {round}"
        );
        // Room for the next round, and proof the store still writes.
        let last = EventId(found.last().unwrap().0);
        store.ack_events(last).unwrap();
        assert_eq!(store.outbox_len().unwrap(), 0);
    }
}

/// A raw pty with its slave behind a symlink, the master end for the test to play the
/// modem (`sim::transport::Pty` keeps its master to itself).
struct RawPty {
    master: std::fs::File,
    _slave: std::os::fd::OwnedFd,
}

impl RawPty {
    fn open(link: &Path) -> RawPty {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two new fds; the optional arguments are null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both fds were just returned by openpty and belong to nobody else.
        let (master, slave) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                OwnedFd::from_raw_fd(slave),
            )
        };
        let device = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(device, link).unwrap();
        RawPty {
            master,
            _slave: slave,
        }
    }
}

/// A modem port whose other end goes away (a USB adapter unplugged) reports one error,
/// then no data, and is reopened once the device is back.
#[test]
fn a_lost_serial_port_is_reopened() {
    use embedded_hal_nb::serial::{Read as _, Write as _};
    use std::io::{Read as _, Write as _};

    let dir = TempDir::new("reopen");
    let link = dir.join("tty");
    let pty = RawPty::open(&link);
    let mut port = SerialModem::open(&link, 115_200).unwrap();
    assert!(SerialModem::open(&dir.join("missing"), 115_200).is_err());
    assert!(
        SerialModem::open(&link, 12_345).is_err(),
        "not a standard rate"
    );
    let not_a_tty = dir.join("plain");
    std::fs::write(&not_a_tty, b"").unwrap();
    let e = SerialModem::open(&not_a_tty, 115_200).unwrap_err();
    assert!(e.to_string().contains("not a serial port"), "{e}");

    // Bytes both ways; a line end sends what was written.
    let mut master = pty.master.try_clone().unwrap();
    for &b in b"AT\r" {
        port.write(b).unwrap();
    }
    let mut got = [0u8; 3];
    master.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"AT\r");
    master.write_all(b"OK\r\n").unwrap();
    let mut reply = Vec::new();
    let real = std::time::Instant::now();
    while reply.len() < 4 && real.elapsed() < Duration::from_secs(5) {
        match port.read() {
            Ok(b) => reply.push(b),
            Err(nb::Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(reply, b"OK\r\n");

    // The other end closes: one error, then nothing, writes dropped.
    drop(master);
    drop(pty);
    // (the kernel hangs the slave up shortly after, not always before the next read)
    let real = std::time::Instant::now();
    loop {
        match port.read() {
            Err(nb::Error::Other(_)) => break,
            Err(nb::Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Ok(b) => panic!("read {b:#x} from a closed pty"),
        }
        assert!(real.elapsed() < Duration::from_secs(5), "no error");
    }
    assert!(!port.is_open());
    assert!(matches!(port.read(), Err(nb::Error::WouldBlock)));
    assert!(port.write(b'A').is_ok());

    // Back (a new pty behind the same path): reopened within a second or so.
    let pty = RawPty::open(&link);
    let real = std::time::Instant::now();
    while !port.is_open() {
        assert!(real.elapsed() < Duration::from_secs(5), "not reopened");
        let _ = port.read();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(port.reopens(), 1);
    drop(pty);
}

// --- whole devices ---

/// Bring-up, handshake and every event of a few jobs, in real time.
const WAIT: Duration = Duration::from_secs(60);

fn job(key: u64, to: &str, text: &str) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(to).unwrap(),
        text: bounded(text),
        class: Class::Transactional,
        categories: CategorySet::EMPTY,
        identity: Identity {
            sender: Sender::LongNumber(Msisdn::parse("+33700000001").unwrap()),
            registered: true,
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

/// Events as the host stores them: by id, each once; acknowledged as stored.
#[derive(Default)]
struct Events(BTreeMap<EventId, link::Event>);

impl Events {
    /// Takes notes until `done` holds, storing and acknowledging every event.
    async fn until(
        &mut self,
        client: &LinkClient,
        incoming: &mut IncomingReceiver,
        what: &str,
        done: impl Fn(&Events) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            match tokio::time::timeout_at(deadline, incoming.recv()).await {
                Ok(Some(Incoming::Event(id, event))) => {
                    assert!(
                        self.0.insert(id, event.clone()).is_none(),
                        "event {id:?} delivered twice: {event:?}"
                    );
                    let epoch = client.ready().await.unwrap().epoch;
                    client.ack_events(epoch, id).await.unwrap();
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("link client stopped"),
                Err(_) => panic!("timed out waiting for {what}; events: {:#?}", self.0),
            }
        }
    }

    fn count(&self, f: impl Fn(&link::Event) -> bool) -> usize {
        self.0.values().filter(|e| f(e)).count()
    }

    fn of(&self, key: u64, f: impl Fn(&link::Event) -> bool) -> usize {
        self.count(|e| f(e) && event_key(e) == Some(key))
    }

    fn last(&self) -> Option<EventId> {
        self.0.keys().next_back().copied()
    }
}

fn event_key(e: &link::Event) -> Option<u64> {
    use link::Event::*;
    match e {
        Accepted(k) | Duplicate(k) => Some(k.0),
        Refused { key, .. }
        | Deferred { key, .. }
        | SegmentSent { key, .. }
        | Sent { key, .. }
        | Failed { key, .. }
        | Unknown { key, .. }
        | Delivery { key, .. } => Some(key.0),
        _ => None,
    }
}

/// Waits until the device's modem is up and it has the network's time.
async fn modem_ready(client: &LinkClient) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _) = client.status().await.unwrap();
        if status.ready && status.network_time {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "modem not ready: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ledger(path: &Path, kind: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const SIM_SCENARIO: &str = r#"
seed = 11
start = "2026-03-06T10:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
profile = "sim800"
msisdn = "+33700000001"
submit_latency = "2s..5s"

[operator]
report_latency = "5s..30s"

[[route]]
prefix = "*"
outcome = "delivered"
"#;

/// The agent over the simulator in virtual time, the real link client on the other
/// end: three jobs (one of three segments) are accepted, sent and delivered, each
/// reaches the network exactly once, a reconnecting client finds the same agent (same
/// boot, its events waiting), an injected SMS comes back as an event, and virtual time
/// jumps when asked once the agent is idle.
#[test]
fn local_device_over_the_simulator_sends_each_job_once() {
    let dir = TempDir::new("sim-device");
    let ledger_path = dir.join("ledger.jsonl");
    let setup = SimSetup::new(
        Scenario::parse(SIM_SCENARIO).unwrap(),
        Some(ledger_path.clone()),
    );
    let (device, sim) =
        LocalDevice::spawn_sim("test", setup, MemStore::<64, 64, 64>::new()).unwrap();
    let start = sim.time().now_ms();
    // The scenario's start (10:00 at +01:00), give or take the first steps.
    let now = sim.snapshot().unwrap().now;
    assert!(now.0 >= start && now.to_string().starts_with("2026-03-06T09:00:"));
    assert!(start >= 1_772_787_600_000, "{start}");
    let long = "Une confirmation en trois parties. ".repeat(12);
    let jobs = [
        job(1, "+33612340001", "Votre code : 482913"),
        job(2, "+33612340002", &long),
        job(3, "+33612340003", "Votre colis arrive demain."),
    ];
    let parts = [1u8, 3, 1];
    let rt = runtime();
    let real = std::time::Instant::now();
    let mut events = Events::default();
    let boot = rt.block_on(async {
        let (client, mut incoming) = LinkClient::start(device.connector(), link::Config::default());
        let info = tokio::time::timeout(WAIT, client.ready())
            .await
            .expect("handshake in time")
            .expect("handshake");
        assert_eq!(info.capabilities.job_slots, SLOTS as u8);
        modem_ready(&client).await;
        for j in &jobs {
            client.submit(j.clone()).await.unwrap();
        }
        events
            .until(&client, &mut incoming, "every Sent", |ev| {
                ev.count(|e| matches!(e, link::Event::Sent { .. })) == 3
            })
            .await;
        (info.boot, info.epoch)
    });
    let (boot, epoch) = boot;

    // A new client (as after a host restart) reaches the same agent.
    let stored = events.last();
    rt.block_on(async {
        let config = link::Config {
            stored_events: stored.map(|id| (epoch, id)),
            ..link::Config::default()
        };
        let (client, mut incoming) = LinkClient::start(device.connector(), config);
        let info = tokio::time::timeout(WAIT, client.ready())
            .await
            .expect("second handshake in time")
            .expect("second handshake");
        assert_eq!(info.boot, boot, "the agent kept running");
        events
            .until(&client, &mut incoming, "every Delivery", |ev| {
                ev.count(|e| matches!(e, link::Event::Delivery { .. })) == 3
            })
            .await;

        // An SMS from a subscriber reaches the host as an event.
        sim.inject_sms(0, "+33611223344", "Merci !").unwrap();
        assert!(
            sim.inject_sms(5, "+33611223344", "x").is_err(),
            "no modem 5"
        );
        events
            .until(&client, &mut incoming, "the inbound SMS", |ev| {
                ev.count(|e| matches!(e, link::Event::Inbound { .. })) == 1
            })
            .await;
    });

    for (j, parts) in jobs.iter().zip(parts) {
        let k = j.key.0;
        use link::Event::*;
        assert_eq!(events.of(k, |e| matches!(e, Accepted(_))), 1, "job {k}");
        assert_eq!(
            events.of(k, |e| matches!(e, SegmentSent { .. })),
            usize::from(parts),
            "job {k}"
        );
        assert_eq!(
            events.of(k, |e| matches!(e, Sent { parts: p, .. } if *p == parts)),
            1
        );
        assert_eq!(
            events.of(k, |e| matches!(
                e,
                Delivery {
                    status: relais_core::link::msg::Delivery::Delivered,
                    ..
                }
            )),
            1,
            "job {k}"
        );
    }
    let inbound = events.count(|e| {
        matches!(e, link::Event::Inbound { from, text, .. }
            if from.as_str() == "+33611223344" && text.as_str() == "Merci !")
    });
    assert_eq!(inbound, 1);

    // Idle now: a requested jump happens at once (an hour in a few milliseconds).
    let before = sim.time().now_ms();
    eprintln!(
        "sim: 3 jobs sent and delivered, an SMS received, in {:?} of real time and {:.1} s \
         of virtual time",
        real.elapsed(),
        (before - start) as f64 / 1000.0
    );
    assert!(before > start, "virtual time moved");
    let target = before + 3_600_000;
    sim.time().request_jump_to(target);
    let real = std::time::Instant::now();
    while sim.time().now_ms() < target {
        assert!(real.elapsed() < Duration::from_secs(5), "no jump");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(sim.time().is_idle());
    assert_eq!(sim.time().pending_jump(), None);
    let by = sim.advance(crate::sim::time::SimDuration(60_000)).unwrap();
    assert!(by.0 >= target + 60_000);

    let last = device.stop().unwrap();
    assert_eq!(last.boot, boot);
    assert_eq!(last.counters.accepted, 3);
    assert_eq!(last.counters.segments_sent, 5);
    assert_eq!(last.counters.inbound, 1);
    assert_eq!((last.lost_events, last.halted), (0, false));
    assert!(sim.snapshot().is_err(), "the device has stopped");

    // The simulator's ledger: each job reached the network exactly once.
    let messages = ledger(&ledger_path, "message");
    assert_eq!(messages.len(), 3, "{messages:#?}");
    for j in &jobs {
        let copies = messages
            .iter()
            .filter(|m| m["text"] == j.text.as_str())
            .count();
        assert_eq!(copies, 1, "{}", j.text.as_str());
    }
    assert!(messages.iter().all(|m| m["duplicate_segments"] == 0));
}

/// `relais direct` end to end in real time: `relais sim`'s pty transport as the modem,
/// reached through [`SerialModem`] at 115 200 bit/s; the agent's store in a file; the
/// link client submits one SMS, which reaches the simulated network once. Stopped and
/// started again on the same store, the agent counts a new boot and still knows the
/// job (a resubmission is a duplicate).
#[test]
fn direct_device_over_a_pty_sends_in_real_time() {
    use crate::sim::operator::Ledger;
    use crate::sim::transport::{Pty, serve_pty_until};
    use crate::sim::world::World;
    use std::sync::Mutex;

    let dir = TempDir::new("direct");
    let ledger_path = dir.join("ledger.jsonl");
    let scenario = r#"
start = "2026-03-06T10:00:00"
utc_offset = "+01:00"
[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "100ms"
[operator]
report_latency = "100ms"
[[route]]
prefix = "*"
outcome = "delivered"
"#;
    let world = World::new(
        &Scenario::parse(scenario).unwrap(),
        Ledger::open(&ledger_path).unwrap(),
    )
    .unwrap();
    let world = Arc::new(Mutex::new(world));
    let link_path = dir.join("modem");
    let pty = Pty::open(&link_path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (w, stop) = (Arc::clone(&world), Arc::clone(&stop));
        std::thread::spawn(move || serve_pty_until(w, 0, pty, false, &stop))
    };
    let store_path = dir.join("device.flash");
    let start = |store_path: &Path| {
        let (store, opened) = open_store(store_path).unwrap();
        let port = SerialModem::open(&link_path, 115_200).unwrap();
        let setup = ModemSetup {
            port,
            profile: profile_named("sim800").unwrap(),
            pin: None,
            store,
            config: Config::default(),
        };
        (LocalDevice::spawn_modem("direct", setup).unwrap(), opened)
    };
    let (device, opened) = start(&store_path);
    assert_eq!(opened, StoreOpened::Created);
    let sms = job(42, "+33612349999", "Rendez-vous confirmé pour demain 10 h.");
    let rt = runtime();
    let real = std::time::Instant::now();
    let mut events = Events::default();
    let boot = rt.block_on(async {
        let (client, mut incoming) = LinkClient::start(device.connector(), link::Config::default());
        let info = tokio::time::timeout(WAIT, client.ready())
            .await
            .expect("handshake in time")
            .expect("handshake");
        modem_ready(&client).await;
        client.submit(sms.clone()).await.unwrap();
        events
            .until(&client, &mut incoming, "the delivery report", |ev| {
                ev.count(|e| matches!(e, link::Event::Delivery { .. })) == 1
            })
            .await;
        info.boot
    });
    eprintln!("direct: one SMS sent and delivered in {:?}", real.elapsed());
    assert_eq!(events.of(42, |e| matches!(e, link::Event::Sent { .. })), 1);
    let last = device.stop().unwrap();
    assert_eq!(last.counters.segments_sent, 1);

    // Started again on the same store file: a new boot, and the job is remembered.
    let (device, opened) = start(&store_path);
    assert_eq!(opened, StoreOpened::Existing);
    rt.block_on(async {
        let (client, mut incoming) = LinkClient::start(device.connector(), link::Config::default());
        let info = tokio::time::timeout(WAIT, client.ready())
            .await
            .expect("handshake after restart")
            .expect("handshake after restart");
        assert_eq!(info.boot.0, boot.0 + 1);
        client.submit(sms.clone()).await.unwrap();
        let mut again = Events::default();
        again
            .until(&client, &mut incoming, "the duplicate", |ev| {
                ev.count(|e| matches!(e, link::Event::Duplicate(JobKey(42)))) == 1
            })
            .await;
    });
    drop(device);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
    let messages = ledger(&ledger_path, "message");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["text"], sms.text.as_str());
}
