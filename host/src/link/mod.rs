//! The host end of the host ↔ device link: an async client that keeps a session with
//! the device agent over a serial port or TCP.
//!
//! The protocol is `relais_core::link` (frames, go-back-N session, messages); this
//! module adds I/O, time and the rules the protocol leaves to the host:
//!
//! - **Handshake** after every new session: [`HostMsg::Hello`] with [`PROTOCOL`] and
//!   the host's clock; the device's answer gives its firmware, [`BootId`],
//!   capabilities and free job slots ([`DeviceInfo`]). A device of another protocol
//!   version stops the client with [`ClientError::Protocol`].
//! - **Credits**: [`LinkClient::submit`] waits until the device has a free slot, so
//!   the device is never overrun (see `credits.rs` for how slots in flight are counted).
//! - **Events** come out of the [`Incoming`] receiver once each, in id order, even
//!   though the device sends unacknowledged events again after every handshake. The
//!   caller stores them and then calls [`LinkClient::ack_events`] with the epoch of
//!   the handshake before them ([`DeviceInfo::epoch`]); nothing is acknowledged
//!   automatically, so an event is never dropped before it is stored. When the device's
//!   store is not the one that numbered the events seen so far (a new [`EventEpoch`]),
//!   every event it has is delivered and [`Fault::NewEventEpoch`] says so.
//! - **Re-sync and reboots**: when the device answers `Reject` (it lost the session,
//!   usually because it restarted) or the stream is lost, the client opens a new
//!   session, does the handshake again and sends again what the device had not
//!   acknowledged. When the boot id changed it reports [`Incoming::Rebooted`]: the
//!   caller resubmits its unfinished jobs (safe: the device sends a [`JobKey`] at most
//!   once) and re-sends settings.
//! - **Reconnects**: a closed TCP connection or a vanished serial port is reopened
//!   with exponential backoff ([`Config::backoff`]); callers just wait a little longer.
//! - **Unknown messages** (a newer device) are acknowledged through their header and
//!   reported as [`Fault::UnknownMessage`]; they never stall the session.
//!
//! ```no_run
//! # async fn demo() -> Result<(), relais::link::ClientError> {
//! use relais::link::{Config, Incoming, LinkClient};
//! let (client, mut incoming) = LinkClient::connect("tcp:127.0.0.1:4000", Config::default()).await?;
//! let mut device = client.ready().await?;
//! println!("firmware {} boot {:?}", device.firmware, device.boot);
//! while let Some(note) = incoming.recv().await {
//!     match note {
//!         Incoming::Connected(info) => device = info,
//!         Incoming::Event(id, event) => {
//!             println!("{id:?} {event:?}"); // store it, then:
//!             client.ack_events(device.epoch, id).await?;
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod cli;
mod credits;
mod driver;
pub mod transport;
mod wire;

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use relais_core::link::msg::{
    BootId, Capabilities, Counters, DeviceMsg, Event, EventEpoch, EventId, HostMsg, Job, JobKey,
    LinkError, ModemStatus, PROTOCOL, Settings, SuppressionOp,
};
pub use relais_core::link::session::Seq;
pub use transport::{BadSpec, Baud, BoxIo, Connector, Endpoint, accept_from};

/// Messages the client keeps unacknowledged at once (the session window).
pub const WINDOW: usize = 8;

/// Client settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Line speed for serial endpoints.
    pub baud: Baud,
    /// Wait before resending unacknowledged frames (see
    /// `relais_core::link::session::Config`). For a serial port, [`LinkClient::connect`]
    /// raises it to what the line needs ([`transport::line_delay`]: 351 ms at
    /// 115 200 bit/s).
    pub retransmit: Duration,
    /// A handshake not answered within this time is started again in a new session.
    pub handshake_timeout: Duration,
    /// First wait before reopening a lost stream; doubles up to [`Config::max_backoff`].
    pub backoff: Duration,
    /// Longest wait between reopening attempts.
    pub max_backoff: Duration,
    /// Give up one attempt to open the stream after this long.
    pub connect_timeout: Duration,
    /// A write that does not finish within this time counts as a lost stream.
    pub write_timeout: Duration,
    /// After this long without sending, ask the device for its status, so that a
    /// device that rebooted in silence is noticed (its answer is `Reject`). `None`
    /// disables it.
    pub keepalive: Option<Duration>,
    /// The last event the caller has stored (from a previous run), with the epoch of
    /// the device store that numbered it: events of that epoch up to it are not
    /// delivered again. Events of another epoch all are.
    pub stored_events: Option<(EventEpoch, EventId)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            baud: Baud::default(),
            retransmit: Duration::from_millis(250),
            handshake_timeout: Duration::from_secs(3),
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            keepalive: Some(Duration::from_secs(10)),
            stored_events: None,
        }
    }
}

/// What the device said about itself in the last handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Its protocol version (equal to [`PROTOCOL`], or the handshake fails).
    pub protocol: u16,
    /// Firmware version.
    pub firmware: String,
    /// This run of the firmware; changes after every reset.
    pub boot: BootId,
    /// Slots, suppression capacity, longest text, rule packs, modem profile.
    pub capabilities: Capabilities,
    /// The next event id the device will assign.
    pub next_event: EventId,
    /// The numbering of the device store's event ids. The events delivered after this
    /// handshake belong to it: acknowledge them with it.
    pub epoch: EventEpoch,
    /// Events in its outbox at the handshake; the newest is `next_event` − 1.
    pub outbox: u16,
}

/// Where the link stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Opening (or reopening) the stream.
    Connecting,
    /// Stream open, waiting for the device's hello.
    Handshaking,
    /// Handshake done; messages flow.
    Ready(DeviceInfo),
    /// The client stopped for good.
    Failed(ClientError),
}

/// What the client reports, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    /// A device event, delivered once and in id order. Store it, then acknowledge
    /// it with [`LinkClient::ack_events`].
    Event(EventId, Event),
    /// A handshake finished (at start, and after every reconnect or re-sync).
    Connected(DeviceInfo),
    /// The device restarted since the previous handshake: resubmit unfinished jobs
    /// and send settings again.
    Rebooted {
        /// Boot id before.
        old: BootId,
        /// Boot id now.
        new: BootId,
    },
    /// The stream to the device was lost; the client is reopening it.
    Disconnected(io::ErrorKind),
    /// Modem status the device sent on its own (answers go to [`LinkClient::status`]).
    Status(ModemStatus, Counters),
    /// Something went wrong that the link survived.
    Fault(Fault),
}

/// A problem the link survived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The device sent a message this host cannot decode (newer firmware); it was
    /// acknowledged and dropped.
    UnknownMessage {
        /// Its sequence number in the session.
        seq: Seq,
    },
    /// The device reported an error about a host message.
    Device(LinkError),
    /// Event ids were skipped: `expected` was due and `got` came (the device lost
    /// events, e.g. a RAM outbox across a reset).
    EventGap {
        /// The id that was due.
        expected: EventId,
        /// The id that arrived.
        got: EventId,
    },
    /// The device's events are numbered by another store than the events stored so
    /// far (fresh flash, a new state file, another device on the port): every event
    /// it has is taken, none dropped as already seen.
    NewEventEpoch {
        /// The epoch of the events stored before.
        old: EventEpoch,
        /// The device's epoch now.
        new: EventEpoch,
    },
    /// The device numbers events below ids already seen (its storage was wiped, or
    /// it is another device): ids are taken afresh from `next`.
    EventsRenumbered {
        /// The highest id seen before.
        seen: EventId,
        /// The device's next id.
        next: EventId,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::UnknownMessage { seq } => {
                write!(f, "device message {} of an unknown kind dropped", seq.0)
            }
            Fault::Device(e) => write!(f, "device error: {e:?}"),
            Fault::EventGap { expected, got } => {
                write!(
                    f,
                    "events {} to {} missing",
                    expected.0,
                    got.0.wrapping_sub(1)
                )
            }
            Fault::NewEventEpoch { old, new } => write!(
                f,
                "the device's event store changed (epoch {} to {}): all its events are taken again",
                old.0, new.0
            ),
            Fault::EventsRenumbered { seen, next } => write!(
                f,
                "device numbers events from {} though {} was seen",
                next.0, seen.0
            ),
        }
    }
}

impl std::error::Error for Fault {}

/// Why a client call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The link spec names no endpoint.
    Spec(BadSpec),
    /// The stream could not be opened.
    Open {
        /// What kind of failure.
        kind: io::ErrorKind,
        /// The operating system's words.
        message: String,
    },
    /// The device speaks another protocol version.
    Protocol {
        /// This host's version.
        host: u16,
        /// The device's version.
        device: u16,
    },
    /// The client task has stopped (every handle dropped, or it failed earlier).
    Closed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Spec(e) => e.fmt(f),
            ClientError::Open { message, .. } => write!(f, "cannot open the link: {message}"),
            ClientError::Protocol { host, device } => write!(
                f,
                "device speaks link protocol {device}, this host speaks {host}"
            ),
            ClientError::Closed => f.write_str("link client stopped"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Open {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Counters since the client started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames written.
    pub frames_sent: u64,
    /// Frames read that decoded.
    pub frames_received: u64,
    /// Frames dropped for a bad checksum, bad COBS or oversize.
    pub bad_frames: u64,
    /// Sound frames holding a message of an unknown kind.
    pub unknown_messages: u64,
    /// Data frames sent again after a timeout.
    pub retransmitted: u64,
    /// Events received again and dropped.
    pub duplicate_events: u64,
    /// Sessions opened (the first included).
    pub sessions: u64,
    /// `Reject`s received (the device lost the session).
    pub rejects: u64,
    /// Times the stream was reopened after a loss.
    pub reconnects: u64,
    /// Jobs the device turned away for lack of a slot (and that were queued again).
    pub overruns: u64,
}

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// What a [`LinkClient`] asks its task to do.
#[derive(Debug)]
enum Command {
    Submit(Box<Job>, Reply<()>),
    Send(Box<HostMsg>, Reply<()>),
    Status(Reply<(ModemStatus, Counters)>),
    Digest(Reply<(u32, u64)>),
}

/// A handle to the link task. Clones share the link; the task stops when the last
/// handle is dropped.
#[derive(Clone, Debug)]
pub struct LinkClient {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<LinkState>,
    stats: Arc<Mutex<LinkStats>>,
}

/// Receives what the client reports. Unbounded: the device's outbox bounds the
/// events in flight, as long as the caller acknowledges what it stores.
pub type IncomingReceiver = mpsc::UnboundedReceiver<Incoming>;

impl LinkClient {
    /// Opens the link named by `spec` (`tcp:HOST:PORT`, or a serial port or pty path
    /// opened at [`Config::baud`]) and starts the client task. Fails at once when the
    /// spec is bad or the first open fails; later losses are retried.
    ///
    /// Must be called inside a tokio runtime. The handshake runs in the background:
    /// await [`LinkClient::ready`].
    pub async fn connect(
        spec: &str,
        config: Config,
    ) -> Result<(LinkClient, IncomingReceiver), ClientError> {
        let endpoint = Endpoint::parse(spec, config.baud).map_err(ClientError::Spec)?;
        let first = tokio::time::timeout(config.connect_timeout, endpoint.open())
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let mut config = config;
        if let Endpoint::Serial { baud, .. } = &endpoint {
            // Go-back-N resends the whole window when an acknowledgement is late: on a
            // slow line, waiting less than the line needs would only add traffic.
            config.retransmit = config.retransmit.max(transport::line_delay(*baud));
        }
        Ok(Self::spawn(Box::new(endpoint), Some(first), config))
    }

    /// Starts the client task on streams opened by `connector` (e.g. an in-memory pipe,
    /// or a TCP connection accepted from QEMU). The first open happens in the task.
    pub fn start(connector: impl Connector, config: Config) -> (LinkClient, IncomingReceiver) {
        Self::spawn(Box::new(connector), None, config)
    }

    fn spawn(
        connector: Box<dyn Connector>,
        first: Option<BoxIo>,
        config: Config,
    ) -> (LinkClient, IncomingReceiver) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(LinkState::Connecting);
        let stats = Arc::new(Mutex::new(LinkStats::default()));
        let driver = driver::Driver::new(
            config,
            connector,
            command_rx,
            incoming_tx,
            state_tx,
            stats.clone(),
        );
        tokio::spawn(driver.run(first));
        let client = LinkClient {
            commands,
            state,
            stats,
        };
        (client, incoming)
    }

    /// Waits for the handshake (returns at once when it is done) and gives the
    /// device's description. Wrap in `tokio::time::timeout` to bound the wait.
    pub async fn ready(&self) -> Result<DeviceInfo, ClientError> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| matches!(s, LinkState::Ready(_) | LinkState::Failed(_)))
            .await;
        match result.as_deref() {
            Ok(LinkState::Ready(info)) => Ok(info.clone()),
            Ok(LinkState::Failed(e)) => Err(e.clone()),
            _ => Err(ClientError::Closed),
        }
    }

    /// Where the link stands now.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// The device as of the last handshake, if one finished.
    pub fn device(&self) -> Option<DeviceInfo> {
        match &*self.state.borrow() {
            LinkState::Ready(info) => Some(info.clone()),
            _ => None,
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> LinkStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `job` to the device: waits until the device has a free slot (and the
    /// link is up), then queues it on the session and returns. The device's verdict
    /// comes as an event (`Accepted`, `Duplicate`, `Refused`, ...).
    ///
    /// Dropping the future before it completes withdraws the job unless it was
    /// already queued; submitting a job again is always safe (the device dedupes by
    /// [`JobKey`]).
    pub async fn submit(&self, job: Job) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Submit(Box::new(job), reply))?;
        self.wait(answer).await
    }

    /// Asks the device to drop a job not yet sent. Returns once the device has
    /// received the request; the outcome comes as an event (`Failed` with
    /// `Cancelled`).
    pub async fn cancel(&self, key: JobKey) -> Result<(), ClientError> {
        self.send(HostMsg::Cancel(key)).await
    }

    /// Changes the device's suppression list. Returns once the device has received
    /// it. Use [`LinkClient::suppression_digest`] to compare lists.
    pub async fn suppression(&self, op: SuppressionOp) -> Result<(), ClientError> {
        self.send(HostMsg::Suppression(op)).await
    }

    /// The device's suppression list size and digest (the wrapping sum of
    /// `relais_core::link::msg::digest_entry` over its entries), as of after every
    /// change sent before this call.
    pub async fn suppression_digest(&self) -> Result<(u32, u64), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Digest(reply))?;
        self.wait(answer).await
    }

    /// Sends settings. Returns once the device has received them. The client sends
    /// them again right after the hello of every later session (the device keeps
    /// settings in RAM, and applies them before any job sent again after a re-sync).
    pub async fn configure(&self, settings: Settings) -> Result<(), ClientError> {
        self.send(HostMsg::Configure(settings)).await
    }

    /// The modem's status and the device's counters.
    pub async fn status(&self) -> Result<(ModemStatus, Counters), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Status(reply))?;
        self.wait(answer).await
    }

    /// Tells the device that every event up to and including `upto` is stored, so it
    /// may drop them. Returns once the device has received it.
    pub async fn ack_events(&self, epoch: EventEpoch, upto: EventId) -> Result<(), ClientError> {
        self.send(HostMsg::AckEvents(epoch, upto)).await
    }

    async fn send(&self, msg: HostMsg) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send(Box::new(msg), reply))?;
        self.wait(answer).await
    }

    fn command(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .map_err(|_| self.stopped_error())
    }

    async fn wait<T>(
        &self,
        answer: oneshot::Receiver<Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
    }

    fn stopped_error(&self) -> ClientError {
        match &*self.state.borrow() {
            LinkState::Failed(e) => e.clone(),
            _ => ClientError::Closed,
        }
    }
}
