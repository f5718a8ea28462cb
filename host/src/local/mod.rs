//! The device agent running inside the host: the same `relais_agent::agent::Agent` as on
//! the board, in its own OS thread, for `relais direct --modem PORT` (a modem on a
//! serial port of this machine) and for `relais demo` (the simulator as the modem).
//!
//! ```text
//!  LinkClient (tokio) ── UnixStream pair ── LinkPort ─┐
//!                                                     Agent ── Modem ── SerialModem / WorldPort
//!                          LocalDevice thread: poll ──┘   └── Store (FileFlash / MemStore)
//! ```
//!
//! - [`LocalDevice`] runs a [`Runner`] (normally an [`AgentLoop`]) in a thread, polling it
//!   in a loop and sleeping 1 ms whenever it has nothing to do. Its host link is one end
//!   of a [`UnixStream::pair`] seen as an `embedded-hal-nb` serial port ([`LinkPort`]);
//!   [`LocalDevice::connector`] gives the other end to [`LinkClient`](crate::link::LinkClient).
//!   Every call of the connector (a client reconnecting, or a new client) makes a fresh
//!   pair and hands the agent's end to the thread: the agent keeps its state and sees
//!   a new session, as a board does when its host reconnects.
//! - [`flash`]: the agent's store in a file ([`FileFlash`], [`open_store`]), so a host
//!   crash keeps the idempotency memory, the in-flight journal and the outbox.
//! - [`serial`]: a real modem's port ([`SerialModem`]) and the wall clock ([`WallClock`]);
//!   [`LocalDevice::spawn_modem`] puts them together.
//! - [`sim`]: the simulator as the modem, in virtual time ([`LocalDevice::spawn_sim`]).
//!
//! ```no_run
//! # fn demo() -> Result<(), String> {
//! use std::path::Path;
//! use relais::local::{LocalDevice, ModemSetup, SerialModem, open_store};
//! use relais_agent::agent::Config;
//! use relais_agent::modem::Profile;
//!
//! let (store, opened) = open_store(Path::new("device.flash"))?;
//! eprintln!("{opened}");
//! let port = SerialModem::open(Path::new("/dev/ttyUSB2"), 115_200).map_err(|e| e.to_string())?;
//! let device = LocalDevice::spawn_modem(
//!     "direct",
//!     ModemSetup { port, profile: Profile::SIM800, pin: None, store, config: Config::default() },
//! )?;
//! // In a tokio runtime: LinkClient::start(device.connector(), link::Config::default()).
//! let last = device.stop()?;
//! eprintln!("sent {} segments", last.counters.segments_sent);
//! # Ok(()) }
//! ```

pub(crate) mod flash;
pub(crate) mod serial;
pub mod sim;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::agent::{Activity, Agent, Config, Fault};
use relais_agent::modem::{Clock, Modem, ModemPower, Profile, SimPin};
use relais_agent::store::Store;
use relais_core::link::msg::{BootId, Counters};

use crate::link::transport::{BoxIo, ConnectFuture, Connector};

pub use flash::{FileFlash, FileFlashError, LocalStore, StoreOpened, open_store};
pub use serial::{NoPowerControl, SerialModem, WallClock};
pub use sim::{SimHandle, SimSetup, SimSnapshot, VirtualTime};

/// Job slots of the agent inside the host (as on the board: one segment is with the
/// modem at a time, four jobs keep it busy).
pub const SLOTS: usize = 4;
/// Link window of the agent inside the host (device side).
pub const WINDOW: usize = 4;

/// The agent as [`LocalDevice::spawn_modem`] and [`LocalDevice::spawn_sim`] build it.
pub type LocalAgent<S, P, C, St> = Agent<LinkPort, S, P, C, St, SLOTS, WINDOW>;

/// Sleep of the device loop when the agent has nothing to do.
pub const IDLE_SLEEP: Duration = Duration::from_millis(1);
/// Stack of the device thread: the agent's deepest paths take about 7 KiB on a board,
/// unoptimised builds many times that.
const STACK: usize = 16 * 1024 * 1024;

/// The driver profile named `name` as in scenarios and on the command line: `sim800`,
/// `sim7600`, `ec25` (Quectel EC2x/BG9x/UGxx) or `generic`.
pub fn profile_named(name: &str) -> Option<Profile> {
    match name.to_ascii_lowercase().as_str() {
        "sim800" => Some(Profile::SIM800),
        "sim7600" => Some(Profile::SIM7600),
        "ec25" | "quectel" => Some(Profile::QUECTEL),
        "generic" => Some(Profile::GENERIC),
        _ => None,
    }
}

// --- the host link ---

/// Bytes read from the link at once.
const LINK_RX: usize = 4096;
/// Bytes queued for the host before writes return `WouldBlock`.
const LINK_TX_MAX: usize = 64 * 1024;

/// The agent's end of the host link: a non-blocking [`UnixStream`] as an
/// `embedded-hal-nb` serial port. A new stream from [`LocalConnector`] replaces the
/// current one (what was queued for the old one is dropped); while there is none, or
/// after the host closed its end, reads see no data and writes are dropped, as on a
/// UART with no cable. Frames go out at their terminating zero.
pub struct LinkPort {
    streams: mpsc::Receiver<UnixStream>,
    stream: Option<UnixStream>,
    rx: Box<[u8]>,
    rx_pos: usize,
    rx_len: usize,
    tx: Vec<u8>,
    connections: u32,
}

impl fmt::Debug for LinkPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkPort")
            .field("connected", &self.stream.is_some())
            .field("connections", &self.connections)
            .field("queued", &self.tx.len())
            .finish_non_exhaustive()
    }
}

impl LinkPort {
    fn new(streams: mpsc::Receiver<UnixStream>) -> LinkPort {
        LinkPort {
            streams,
            stream: None,
            rx: vec![0; LINK_RX].into_boxed_slice(),
            rx_pos: 0,
            rx_len: 0,
            tx: Vec::new(),
            connections: 0,
        }
    }

    /// True while a host end is attached.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Streams received so far (host connections, reconnections included).
    pub fn connections(&self) -> u32 {
        self.connections
    }

    /// Takes the newest stream the connector sent, if any.
    fn refresh(&mut self) {
        let mut newest = None;
        while let Ok(stream) = self.streams.try_recv() {
            newest = Some(stream);
        }
        if let Some(stream) = newest {
            self.stream = Some(stream);
            self.rx_pos = 0;
            self.rx_len = 0;
            self.tx.clear();
            self.connections = self.connections.saturating_add(1);
        }
    }

    fn closed(&mut self) {
        self.stream = None;
        self.tx.clear();
    }

    /// Writes what the stream takes now.
    fn drain(&mut self) {
        while !self.tx.is_empty() {
            let Some(stream) = self.stream.as_mut() else {
                self.tx.clear();
                return;
            };
            match stream.write(&self.tx) {
                Ok(0) => return self.closed(),
                Ok(n) => {
                    self.tx.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.closed(),
            }
        }
    }
}

impl ErrorType for LinkPort {
    type Error = ErrorKind;
}

impl Read<u8> for LinkPort {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        if self.rx_pos < self.rx_len {
            let byte = self.rx[self.rx_pos];
            self.rx_pos += 1;
            return Ok(byte);
        }
        self.refresh();
        self.drain();
        let Some(stream) = self.stream.as_mut() else {
            return Err(nb::Error::WouldBlock);
        };
        match stream.read(&mut self.rx) {
            Ok(0) => {
                // The host closed its end; the next connection brings a new stream.
                self.closed();
                Err(nb::Error::WouldBlock)
            }
            Ok(n) => {
                self.rx_len = n;
                self.rx_pos = 1;
                Ok(self.rx[0])
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Err(nb::Error::WouldBlock)
            }
            Err(_) => {
                self.closed();
                Err(nb::Error::WouldBlock)
            }
        }
    }
}

impl Write<u8> for LinkPort {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        if self.stream.is_none() {
            return Ok(());
        }
        if self.tx.len() >= LINK_TX_MAX {
            self.drain();
            if self.tx.len() >= LINK_TX_MAX {
                return Err(nb::Error::WouldBlock);
            }
        }
        self.tx.push(byte);
        // Zero ends a frame (COBS).
        if byte == 0 || self.tx.len() >= LINK_RX {
            self.drain();
        }
        Ok(())
    }

    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        self.drain();
        if self.tx.is_empty() {
            Ok(())
        } else {
            Err(nb::Error::WouldBlock)
        }
    }
}

/// Opens the host link to a [`LocalDevice`]: each call makes a new [`UnixStream`] pair
/// and hands one end to the device thread. Implements [`Connector`] for
/// [`LinkClient::start`](crate::link::LinkClient::start); clones reach the same device.
#[derive(Debug, Clone)]
pub struct LocalConnector {
    streams: mpsc::Sender<UnixStream>,
}

impl LocalConnector {
    /// A new link to the device: its end goes to the device thread, the host's end
    /// (blocking, as made) is returned. Fails with [`io::ErrorKind::NotConnected`]
    /// once the device thread has ended.
    pub fn pair(&self) -> io::Result<UnixStream> {
        let (host, device) = UnixStream::pair()?;
        device.set_nonblocking(true)?;
        self.streams.send(device).map_err(|_| {
            io::Error::new(io::ErrorKind::NotConnected, "the local device has stopped")
        })?;
        Ok(host)
    }
}

impl Connector for LocalConnector {
    fn connect(&mut self) -> ConnectFuture {
        let host = self.pair();
        Box::pin(async move {
            let host = host?;
            host.set_nonblocking(true)?;
            let stream = tokio::net::UnixStream::from_std(host)?;
            Ok(Box::new(stream) as BoxIo)
        })
    }
}

// --- the loop ---

/// What one [`Runner::turn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Something happened: turn again at once.
    Busy,
    /// Nothing to do: the loop sleeps [`IDLE_SLEEP`] before the next turn.
    Idle,
}

/// What a [`LocalDevice`] thread runs: built in the thread (so it need not be `Send`),
/// turned until the device is stopped.
pub trait Runner {
    /// One turn of the device loop (normally one [`Agent::poll`]).
    fn turn(&mut self) -> Turn;
    /// The device's state when it stops.
    fn finish(self) -> FinalState;
}

/// The agent's state when its [`LocalDevice`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalState {
    /// The run that ended.
    pub boot: BootId,
    /// Running totals of that run.
    pub counters: Counters,
    /// Events that could not be stored.
    pub lost_events: u32,
    /// A send's bookkeeping failed in the store and sending had stopped.
    pub halted: bool,
}

/// Logs faults without flooding: a fault is logged when it differs from the last one
/// or 10 s after it was last logged, with the count of repeats in between.
#[derive(Debug, Default)]
struct FaultLog {
    last: Option<(Fault, Instant)>,
    repeats: u32,
}

impl FaultLog {
    const QUIET: Duration = Duration::from_secs(10);

    fn note(&mut self, device: &str, fault: Fault) {
        let now = Instant::now();
        match self.last {
            Some((last, at)) if last == fault && now.duration_since(at) < Self::QUIET => {
                self.repeats = self.repeats.saturating_add(1);
            }
            _ => {
                if self.repeats > 0 {
                    tracing::warn!("device {device}: {fault} (and {} more)", self.repeats);
                } else {
                    tracing::warn!("device {device}: {fault}");
                }
                self.last = Some((fault, now));
                self.repeats = 0;
            }
        }
    }
}

/// A [`Runner`] that polls one agent, logging its activities (`debug`) and faults
/// (`warn`, repeats folded).
pub struct AgentLoop<S, P, C, St> {
    name: String,
    agent: LocalAgent<S, P, C, St>,
    faults: FaultLog,
}

impl<S, P, C, St> fmt::Debug for AgentLoop<S, P, C, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentLoop")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S, P, C, St> AgentLoop<S, P, C, St>
where
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
{
    /// Runs `agent`; `name` is for the log.
    pub fn new(name: &str, agent: LocalAgent<S, P, C, St>) -> Self {
        AgentLoop {
            name: name.to_string(),
            agent,
            faults: FaultLog::default(),
        }
    }

    /// The agent.
    pub fn agent(&self) -> &LocalAgent<S, P, C, St> {
        &self.agent
    }

    /// The agent, to change it between turns.
    pub fn agent_mut(&mut self) -> &mut LocalAgent<S, P, C, St> {
        &mut self.agent
    }
}

impl<S, P, C, St> Runner for AgentLoop<S, P, C, St>
where
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
{
    fn turn(&mut self) -> Turn {
        match self.agent.poll() {
            Ok(activity) => {
                log_activity(&self.name, activity);
                Turn::Busy
            }
            Err(nb::Error::WouldBlock) => Turn::Idle,
            Err(nb::Error::Other(fault)) => {
                self.faults.note(&self.name, fault);
                // A fault repeating at every poll (a port gone) must not spin the CPU.
                Turn::Idle
            }
        }
    }

    fn finish(self) -> FinalState {
        FinalState {
            boot: self.agent.boot_id(),
            counters: self.agent.counters(),
            lost_events: self.agent.lost_events(),
            halted: self.agent.is_halted(),
        }
    }
}

fn log_activity(device: &str, activity: Activity) {
    match activity {
        Activity::EventLost => tracing::warn!("device {device}: an event could not be stored"),
        Activity::ReplyDropped => tracing::warn!("device {device}: a keyword reply was dropped"),
        Activity::BadFrame(e) => tracing::debug!("device {device}: bad frame from the host: {e:?}"),
        other => tracing::trace!("device {device}: {other:?}"),
    }
}

// --- the device ---

/// What a real modem needs to become a [`LocalDevice`] ([`LocalDevice::spawn_modem`]).
#[derive(Debug)]
pub struct ModemSetup<St> {
    /// The modem's port.
    pub port: SerialModem,
    /// The driver profile ([`profile_named`]).
    pub profile: Profile,
    /// The SIM's PIN, if it has one (entered at most twice; see the driver's docs).
    pub pin: Option<SimPin>,
    /// The agent's store: [`open_store`] for `relais direct`.
    pub store: St,
    /// The agent's configuration.
    pub config: Config,
}

/// An agent running in its own thread; see the [module docs](self). Dropping it stops
/// the thread (use [`LocalDevice::stop`] to get the final state).
pub struct LocalDevice {
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<FinalState>>>,
    connector: LocalConnector,
}

impl fmt::Debug for LocalDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDevice")
            .field("name", &self.name)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl LocalDevice {
    /// Starts a thread named `relais-device-<name>` that calls `build` with the agent's
    /// end of the host link, then turns the [`Runner`] it returns until
    /// [`LocalDevice::stop`]. Returns once `build` has returned: its error (say, the
    /// store could not be read) is this function's.
    pub fn spawn<R, F>(name: &str, build: F) -> Result<LocalDevice, String>
    where
        R: Runner,
        F: FnOnce(LinkPort) -> Result<R, String> + Send + 'static,
    {
        let (streams, streams_rx) = mpsc::channel();
        let (started, started_rx) = mpsc::sync_channel(1);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("relais-device-{name}"))
            .stack_size(STACK)
            .spawn(move || {
                let runner = match build(LinkPort::new(streams_rx)) {
                    Ok(runner) => runner,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return None;
                    }
                };
                let _ = started.send(Ok(()));
                Some(run(runner, &flag))
            })
            .map_err(|e| format!("device {name}: cannot start its thread: {e}"))?;
        let device = LocalDevice {
            name: name.to_string(),
            stop,
            thread: Some(thread),
            connector: LocalConnector { streams },
        };
        match started_rx.recv() {
            Ok(Ok(())) => Ok(device),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("device {name}: its thread panicked while starting")),
        }
    }

    /// Starts the agent on a real modem: `setup.port` driven with `setup.profile`, the
    /// wall clock, no power control, the agent's store `setup.store`.
    pub fn spawn_modem<St>(name: &str, setup: ModemSetup<St>) -> Result<LocalDevice, String>
    where
        St: Store + Send + 'static,
    {
        let label = name.to_string();
        Self::spawn(name, move |link| {
            let clock = WallClock::new();
            let mut modem = Modem::new(setup.port, NoPowerControl, clock, setup.profile);
            modem.set_pin(setup.pin);
            let agent = Agent::new(link, modem, clock, setup.store, setup.config)
                .map_err(|e| format!("device {label}: the agent cannot start: {e}"))?;
            Ok(AgentLoop::new(&label, agent))
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connector to the device's host link, for
    /// [`LinkClient::start`](crate::link::LinkClient::start).
    pub fn connector(&self) -> LocalConnector {
        self.connector.clone()
    }

    /// True while the device thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the device thread (within one turn of its loop) and returns the agent's
    /// final state. Error: the thread panicked.
    pub fn stop(mut self) -> Result<FinalState, String> {
        self.end()
    }

    fn end(&mut self) -> Result<FinalState, String> {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return Err(format!("device {}: already stopped", self.name));
        };
        match thread.join() {
            Ok(Some(last)) => Ok(last),
            Ok(None) => Err(format!("device {}: it never started", self.name)),
            Err(_) => Err(format!("device {}: its thread panicked", self.name)),
        }
    }
}

impl Drop for LocalDevice {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.end();
        }
    }
}

fn run<R: Runner>(mut runner: R, stop: &AtomicBool) -> FinalState {
    while !stop.load(Ordering::Relaxed) {
        if runner.turn() == Turn::Idle {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
    runner.finish()
}
