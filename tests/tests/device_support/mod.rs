//! The firmware under QEMU with the host's link client on its host-link pty: what the
//! QEMU-tier tests share (`mod device_support;` in each).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use relais::link::{Config, Event, EventId, Incoming, IncomingReceiver, Job, LinkClient};
use relais_core::link::msg::{Pacing, Settings};
use relais_tests::qemu::{Firmware, Guest, GuestConfig, Serial};

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

/// One run of the firmware: QEMU (on `workdir`'s flash when given, else a fresh one)
/// with its modem UART on `modem`, and the link client on its host-link pty.
pub struct Device {
    /// Dropping it kills QEMU.
    pub guest: Guest,
    pub runtime: tokio::runtime::Runtime,
    pub client: LinkClient,
    pub incoming: IncomingReceiver,
}

impl Device {
    /// Boots, waits for the agent and the handshake, and sends `settings` (they live in
    /// the device's RAM: the host sends them after each handshake).
    pub fn boot(fw: &Firmware, modem: &Path, workdir: Option<&Path>, settings: Settings) -> Device {
        let config = GuestConfig {
            host_link: Serial::Pty,
            modem: Serial::Device(modem.to_owned()),
            workdir: workdir.map(Path::to_owned),
        };
        let mut guest = Guest::boot(fw, config).expect("boot the firmware");
        guest
            .wait_for_log("agent: boot", START)
            .expect("the agent starts");
        let pty = guest.host_link().pty().expect("host link pty").to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (client, incoming) = runtime
            .block_on(LinkClient::connect(
                pty.to_str().expect("utf-8 pty path"),
                Config::default(),
            ))
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
    /// `None` (with the harness's loud skip) when the firmware or QEMU is missing.
    pub fn start(test: &str, scenario: &str) -> Option<Rig> {
        let fw =
            relais_tests::qemu::firmware_or_skip(test, &relais_tests::qemu::BoardBuild::qemu())?;
        let sim = crate::sim_support::Sim::start(test, scenario, &[]);
        let device = Device::boot(&fw, &sim.link(), None, unpaced(Settings::default()));
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
