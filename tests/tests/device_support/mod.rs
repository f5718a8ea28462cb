//! The firmware under an emulator with the host's link client on its host link: what
//! the device-tier tests share (`mod device_support;` in each). The QEMU board (host
//! link on a pty, modem on the simulator's pty) or the Raspberry Pi Pico under
//! rp2040js (host link over the emulated USB port, modem on the simulator's TCP port).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use relais::link::{Config, Event, EventId, Incoming, IncomingReceiver, Job, LinkClient};
use relais_core::link::msg::{Pacing, Settings};
use relais_tests::qemu::{Firmware, Guest, GuestConfig, HarnessError, LogLine, Serial};
use relais_tests::rp2040js::{Pico, PicoConfig};

/// The board the firmware runs on, and so the emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// boards/qemu-lm3s6965 under QEMU.
    Qemu,
    /// boards/rp-pico under rp2040js.
    Pico,
}

/// A running firmware. Dropping it stops the emulator.
pub enum Machine {
    Qemu(Guest),
    Pico(Pico),
}

impl Machine {
    /// Every log line decoded so far.
    pub fn log(&self) -> Vec<LogLine> {
        match self {
            Machine::Qemu(guest) => guest.log(),
            Machine::Pico(pico) => pico.log(),
        }
    }

    /// Waits for the first log line whose message contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<LogLine, HarnessError> {
        match self {
            Machine::Qemu(guest) => guest.wait_for_log(needle, timeout),
            Machine::Pico(pico) => pico.wait_for_log(needle, timeout),
        }
    }

    /// The host link as the link client opens it: a pty path or `tcp:HOST:PORT`.
    fn link_spec(&mut self) -> String {
        match self {
            Machine::Qemu(guest) => {
                let pty = guest.host_link().pty().expect("host link pty");
                pty.to_str().expect("utf-8 pty path").to_owned()
            }
            Machine::Pico(pico) => pico.link_spec(),
        }
    }

    /// The Pico under rp2040js, for its own checks (GPIO, kill).
    pub fn pico(&mut self) -> &mut Pico {
        match self {
            Machine::Pico(pico) => pico,
            Machine::Qemu(_) => panic!("not a Pico"),
        }
    }
}

/// Boot, bring-up of the simulated modem and the handshake.
pub const START: Duration = Duration::from_secs(60);
/// Events of a few jobs (segments take the simulator's submit latency).
pub const EVENTS: Duration = Duration::from_secs(120);

/// `settings` with pacing off: these tests are about correctness, not operator limits.
pub fn unpaced(settings: Settings) -> Settings {
    Settings {
        pacing: Pacing {
            per_minute: 0,
            per_hour: 0,
            per_day: 0,
            min_gap_ms: 0,
            jitter_ms: 0,
        },
        ..settings
    }
}

/// One run of the firmware (on `workdir`'s flash when given, else a fresh one) with the
/// link client on its host link.
pub struct Device {
    /// Dropping it stops the emulator.
    pub guest: Machine,
    pub runtime: tokio::runtime::Runtime,
    pub client: LinkClient,
    pub incoming: IncomingReceiver,
}

impl Device {
    /// Boots the QEMU board with its modem UART on `modem` (a pty), waits for the agent
    /// and the handshake, and sends `settings` (they live in the device's RAM: the host
    /// sends them after each handshake).
    pub fn boot(fw: &Firmware, modem: &Path, workdir: Option<&Path>, settings: Settings) -> Device {
        let config = GuestConfig {
            host_link: Serial::Pty,
            modem: Serial::Device(modem.to_owned()),
            workdir: workdir.map(Path::to_owned),
        };
        let guest = Guest::boot(fw, config).expect("boot the firmware");
        Device::attach(Machine::Qemu(guest), settings)
    }

    /// Boots the Pico under rp2040js with its modem UART on the simulator's TCP port
    /// `modem`, as [`Device::boot`].
    pub fn boot_pico(
        fw: &Firmware,
        modem: SocketAddr,
        workdir: Option<&Path>,
        settings: Settings,
    ) -> Device {
        let mut config = PicoConfig::new(modem);
        config.workdir = workdir.map(Path::to_owned);
        let pico = Pico::boot(fw, config).expect("boot the firmware in rp2040js");
        Device::attach(Machine::Pico(pico), settings)
    }

    /// Waits for the agent of a booted firmware, opens its host link, handshakes and
    /// sends `settings`.
    pub fn attach(mut guest: Machine, settings: Settings) -> Device {
        guest
            .wait_for_log("agent: boot", START)
            .expect("the agent starts");
        let link = guest.link_spec();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (client, incoming) = runtime
            .block_on(LinkClient::connect(&link, Config::default()))
            .expect("open the host link");
        let info = runtime
            .block_on(async { tokio::time::timeout(START, client.ready()).await })
            .expect("handshake in time")
            .expect("handshake");
        assert!(info.capabilities.job_slots > 0, "{info:?}");
        let device = Device {
            guest,
            runtime,
            client,
            incoming,
        };
        device.configure(settings);
        device
    }

    /// Replaces the device's settings.
    pub fn configure(&self, settings: Settings) {
        self.runtime
            .block_on(self.client.configure(settings))
            .expect("configure");
    }

    /// Hands a job over, waiting for a credit.
    pub fn submit(&self, job: Job) {
        self.runtime
            .block_on(async { tokio::time::timeout(EVENTS, self.client.submit(job)).await })
            .expect("a credit in time")
            .expect("submit");
    }

    /// The next event before `deadline`, acknowledged as a host does once it stored it;
    /// `None` when the deadline passed.
    pub fn next_event(&mut self, deadline: tokio::time::Instant) -> Option<(EventId, Event)> {
        loop {
            let note = self
                .runtime
                .block_on(async { tokio::time::timeout_at(deadline, self.incoming.recv()).await });
            match note {
                Ok(Some(Incoming::Event(id, event))) => {
                    self.runtime
                        .block_on(async {
                            let epoch = self.client.ready().await?.epoch;
                            self.client.ack_events(epoch, id).await
                        })
                        .expect("ack");
                    return Some((id, event));
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("link client stopped"),
                Err(_) => return None,
            }
        }
    }

    /// Collects events into `events` until `done` holds or `wait` runs out; true when
    /// `done` held.
    pub fn events_until(
        &mut self,
        events: &mut BTreeMap<EventId, Event>,
        wait: Duration,
        done: impl Fn(&BTreeMap<EventId, Event>) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while !done(events) {
            let Some((id, event)) = self.next_event(deadline) else {
                return false;
            };
            events.insert(id, event);
        }
        true
    }
}

/// The simulator as modem and operator, the firmware on a fresh flash with pacing off,
/// and every event seen.
pub struct Rig {
    pub sim: crate::sim_support::Sim,
    pub device: Device,
    /// Every event seen, by id.
    pub events: BTreeMap<EventId, Event>,
}

impl Rig {
    /// The QEMU board; `None` (with the harness's loud skip) when the firmware or QEMU
    /// is missing.
    pub fn start(test: &str, scenario: &str) -> Option<Rig> {
        Rig::start_on(Board::Qemu, test, scenario)
    }

    /// [`Rig::start`] on `board`; `None` (with the harness's loud skip) when its
    /// firmware or emulator is missing.
    pub fn start_on(board: Board, test: &str, scenario: &str) -> Option<Rig> {
        let settings = unpaced(Settings::default());
        let (sim, device) = match board {
            Board::Qemu => {
                let build = relais_tests::qemu::BoardBuild::qemu();
                let fw = relais_tests::qemu::firmware_or_skip(test, &build)?;
                let sim = crate::sim_support::Sim::start(test, scenario, &[]);
                let device = Device::boot(&fw, &sim.link(), None, settings);
                (sim, device)
            }
            Board::Pico => {
                let build = relais_tests::rp2040js::BoardBuild::pico();
                let fw = relais_tests::rp2040js::firmware_or_skip(test, &build)?;
                let sim = crate::sim_support::Sim::start(test, scenario, &["--tcp", "127.0.0.1:0"]);
                let device = Device::boot_pico(&fw, sim.tcp_addr(), None, settings);
                (sim, device)
            }
        };
        Some(Rig {
            sim,
            device,
            events: BTreeMap::new(),
        })
    }

    /// Replaces the device's settings (pacing stays off).
    pub fn configure(&self, settings: Settings) {
        self.device.configure(unpaced(settings));
    }

    pub fn submit(&self, job: Job) {
        self.device.submit(job);
    }

    /// Collects events until `done` holds; each must come once.
    pub fn events_until(&mut self, what: &str, done: impl Fn(&BTreeMap<EventId, Event>) -> bool) {
        let deadline = tokio::time::Instant::now() + EVENTS;
        while !done(&self.events) {
            let Some((id, event)) = self.device.next_event(deadline) else {
                panic!(
                    "timed out waiting for {what}; events so far: {:#?}",
                    self.events
                );
            };
            assert!(
                self.events.insert(id, event.clone()).is_none(),
                "event {id:?} delivered twice: {event:?}"
            );
        }
    }

    /// The simulator's ledger entries of `kind`.
    pub fn ledger(&self, kind: &str) -> Vec<serde_json::Value> {
        self.sim.entries(kind)
    }
}
