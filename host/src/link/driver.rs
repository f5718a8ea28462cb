//! The task behind a [`super::LinkClient`]: owns the stream and the session, and turns
//! commands into messages and frames into reports.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{DeviceHello, EventEpoch, HostHello, SuppressionOp};
use relais_core::link::session::{self, Body, Envelope, Role, Session, SessionId, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::credits::Credits;
use super::transport::{BoxIo, ConnectFuture, Connector};
use super::wire::{self, Received};
use super::{
    ClientError, Command, Config, Counters, DeviceInfo, DeviceMsg, Event, EventId, Fault, HostMsg,
    Incoming, Job, LinkError, LinkState, LinkStats, ModemStatus, PROTOCOL, Reply, Settings, WINDOW,
};

/// A message on its way, and who waits for the device to receive it.
#[derive(Debug)]
struct Outgoing {
    msg: HostMsg,
    done: Option<Reply<()>>,
}

/// A job waiting for a free slot.
#[derive(Debug)]
struct Waiting {
    job: Job,
    /// `None` for a job queued again after the device turned it away.
    reply: Option<Reply<()>>,
}

/// A question whose answer carries no correlation id (status, suppression digest):
/// at most one is in flight, and every caller who asked before it was sent shares
/// its answer.
#[derive(Debug)]
struct Query<T> {
    in_flight: bool,
    /// Callers the request in flight answers.
    covered: Vec<Reply<T>>,
    /// Callers who asked after it was sent.
    next: Vec<Reply<T>>,
}

impl<T> Default for Query<T> {
    fn default() -> Self {
        Self {
            in_flight: false,
            covered: Vec::new(),
            next: Vec::new(),
        }
    }
}

/// What to do with an answer.
enum Answer<T> {
    /// Nobody asked: the device sent it on its own.
    Unsolicited(T),
    /// Given to the callers; `again` when another request must go out.
    Delivered { again: bool },
}

impl<T: Clone> Query<T> {
    /// Registers a caller (`None` for an internal probe); true when a request must be
    /// sent now.
    fn ask(&mut self, reply: Option<Reply<T>>) -> bool {
        self.next.extend(reply);
        if self.in_flight {
            return false;
        }
        self.in_flight = true;
        self.covered.append(&mut self.next);
        true
    }

    fn answer(&mut self, value: T) -> Answer<T> {
        if !self.in_flight {
            return Answer::Unsolicited(value);
        }
        for reply in self.covered.drain(..) {
            let _ = reply.send(Ok(value.clone()));
        }
        self.in_flight = false;
        let again = !self.next.is_empty() && self.ask(None);
        Answer::Delivered { again }
    }

    fn fail(&mut self, error: &ClientError) {
        for reply in self.covered.drain(..).chain(self.next.drain(..)) {
            let _ = reply.send(Err(error.clone()));
        }
        self.in_flight = false;
    }
}

struct Conn {
    reader: ReadHalf<BoxIo>,
    writer: WriteHalf<BoxIo>,
}

pub(super) struct Driver {
    config: Config,
    connector: Box<dyn Connector>,
    commands: mpsc::UnboundedReceiver<Command>,
    incoming: mpsc::UnboundedSender<Incoming>,
    state: watch::Sender<LinkState>,
    shared_stats: Arc<Mutex<LinkStats>>,
    stats: LinkStats,
    start: Instant,

    conn: Option<Conn>,
    /// A (re)open in progress; commands keep flowing meanwhile.
    opening: Option<ConnectFuture>,
    reader: wire::Reader,
    reconnect_at: Instant,
    backoff: Duration,

    session: Session<HostMsg, WINDOW>,
    /// Retransmissions counted by sessions already replaced.
    retransmitted_before: u64,
    next_session: u32,
    /// Messages in the session, not yet acknowledged, in the session's order.
    mirror: VecDeque<Outgoing>,
    /// Messages waiting for room in the session window.
    outbox: VecDeque<Outgoing>,
    /// Jobs waiting for a credit.
    waiting: VecDeque<Waiting>,
    credits: Credits,
    /// The device's hello of this session has arrived.
    greeted: bool,
    hello_deadline: Instant,
    last_sent: Instant,
    boot: Option<relais_core::link::msg::BootId>,
    /// The epoch proposed to a device store that has none.
    proposed_epoch: EventEpoch,
    /// The epoch of `last_event`.
    event_epoch: Option<EventEpoch>,
    last_event: Option<EventId>,
    /// The settings last given to `configure`, sent again in every new session.
    settings: Option<Settings>,
    status: Query<(ModemStatus, Counters)>,
    digest: Query<(u32, u64)>,
}

impl Driver {
    pub(super) fn new(
        config: Config,
        connector: Box<dyn Connector>,
        commands: mpsc::UnboundedReceiver<Command>,
        incoming: mpsc::UnboundedSender<Incoming>,
        state: watch::Sender<LinkState>,
        shared_stats: Arc<Mutex<LinkStats>>,
    ) -> Self {
        let now = Instant::now();
        let session_config = session::Config {
            retransmit_ms: u32::try_from(config.retransmit.as_millis()).unwrap_or(u32::MAX),
        };
        Self {
            backoff: config.backoff,
            proposed_epoch: fresh_epoch(),
            event_epoch: config.stored_events.map(|(e, _)| e),
            last_event: config.stored_events.map(|(_, id)| id),
            connector,
            commands,
            incoming,
            state,
            shared_stats,
            stats: LinkStats::default(),
            start: now,
            conn: None,
            opening: None,
            reader: wire::Reader::default(),
            reconnect_at: now,
            session: Session::new(Role::Initiator, session_config),
            retransmitted_before: 0,
            next_session: session_seed(),
            mirror: VecDeque::new(),
            outbox: VecDeque::new(),
            waiting: VecDeque::new(),
            credits: Credits::default(),
            greeted: false,
            hello_deadline: now,
            last_sent: now,
            boot: None,
            settings: None,
            status: Query::default(),
            digest: Query::default(),
            config,
        }
    }

    pub(super) async fn run(mut self, first: Option<BoxIo>) {
        if let Some(io) = first {
            self.attach(io);
        }
        let mut buf = vec![0u8; 4096];
        loop {
            if let Err(e) = self.flush().await {
                self.lost(e);
            }
            if matches!(*self.state.borrow(), LinkState::Failed(_)) {
                return;
            }
            self.publish_stats();
            let wake = self.next_wake();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(c) => self.command(c),
                    // Every handle is gone.
                    None => return,
                },
                read = read_some(&mut self.conn, &mut buf) => match read {
                    Ok(0) => self.lost(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        let bytes = buf.get(..n).unwrap_or(&[]).to_vec();
                        self.bytes(&bytes);
                    }
                    Err(e) => self.lost(e),
                },
                opened = opening(&mut self.opening) => {
                    self.opening = None;
                    self.opened(opened);
                }
                () = tokio::time::sleep_until(wake) => self.timer(),
            }
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// When the loop must wake up without input.
    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(3600);
        if self.conn.is_none() {
            return match self.opening {
                Some(_) => wake,
                None => self.reconnect_at,
            };
        }
        let busy = self.session.unacknowledged() > 0 || self.session.state() != State::Established;
        if busy {
            // Retransmission deadlines are inside the session: look a few times per period.
            let tick = (self.config.retransmit / 4).max(Duration::from_millis(2));
            wake = wake.min(now + tick);
        }
        if !self.greeted {
            wake = wake.min(self.hello_deadline);
        }
        if let Some(keepalive) = self.config.keepalive {
            wake = wake.min(self.last_sent + keepalive);
        }
        wake
    }

    fn timer(&mut self) {
        let now = Instant::now();
        if self.conn.is_none() {
            if self.opening.is_none() && now >= self.reconnect_at {
                let attempt = self.connector.connect();
                let limit = self.config.connect_timeout;
                self.opening = Some(Box::pin(async move {
                    tokio::time::timeout(limit, attempt)
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
                }));
            }
            return;
        }
        if !self.greeted && now >= self.hello_deadline {
            tracing::debug!("link: no hello from the device, new session");
            self.begin_session();
            return;
        }
        let idle = self
            .config
            .keepalive
            .is_some_and(|keepalive| now >= self.last_sent + keepalive);
        if idle {
            if self.greeted && self.status.ask(None) {
                self.queue(HostMsg::Status, None);
            }
            // Keep the timer from spinning while a probe is already out.
            self.last_sent = now;
        }
    }

    fn opened(&mut self, result: io::Result<BoxIo>) {
        match result {
            Ok(io) => {
                if self.stats.sessions > 0 {
                    self.stats.reconnects += 1;
                }
                self.attach(io);
            }
            Err(e) => {
                tracing::debug!("link: opening the stream failed: {e}");
                self.schedule_reconnect();
            }
        }
    }

    fn schedule_reconnect(&mut self) {
        self.reconnect_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.config.max_backoff);
    }

    fn attach(&mut self, io: BoxIo) {
        let (reader, writer) = tokio::io::split(io);
        self.conn = Some(Conn { reader, writer });
        self.reader.clear();
        self.begin_session();
    }

    /// The stream is gone: drop it and try again later.
    fn lost(&mut self, error: io::Error) {
        if self.conn.take().is_none() {
            return;
        }
        tracing::info!("link: stream lost: {error}");
        self.set_state(LinkState::Connecting);
        self.greeted = false;
        self.credits.reset();
        let _ = self.incoming.send(Incoming::Disconnected(error.kind()));
        self.schedule_reconnect();
    }

    /// Opens a new session: the hello first, then every message the device has not
    /// acknowledged, in their order.
    fn begin_session(&mut self) {
        self.retransmitted_before += u64::from(self.session.stats().retransmitted);
        let session_config = session::Config {
            retransmit_ms: u32::try_from(self.config.retransmit.as_millis()).unwrap_or(u32::MAX),
        };
        self.session = Session::new(Role::Initiator, session_config);
        self.next_session = self.next_session.wrapping_add(1);
        self.session.connect(SessionId(self.next_session));
        self.stats.sessions += 1;

        let mut queue = VecDeque::with_capacity(self.mirror.len() + self.outbox.len() + 1);
        queue.push_back(Outgoing {
            msg: HostMsg::Hello(HostHello {
                protocol: PROTOCOL,
                time: utc_now(),
                epoch: self.proposed_epoch,
            }),
            done: None,
        });
        // The device keeps settings in RAM: they go right after the hello, before any
        // job of the backlog is judged. (A `Configure` in the backlog is older or the
        // same, and is followed by the newest again.)
        if let Some(settings) = &self.settings {
            queue.push_back(Outgoing {
                msg: HostMsg::Configure(settings.clone()),
                done: None,
            });
        }
        // Old hellos are superseded; questions are asked again once the device has
        // answered the hello, so an answer from before cannot be mistaken for theirs.
        queue.extend(
            self.mirror
                .drain(..)
                .chain(self.outbox.drain(..))
                .filter(|o| !is_hello_or_question(&o.msg)),
        );
        self.outbox = queue;
        self.greeted = false;
        self.credits.reset();
        self.hello_deadline = Instant::now() + self.config.handshake_timeout;
        self.set_state(LinkState::Handshaking);
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Submit(job, reply) => self.waiting.push_back(Waiting {
                job: *job,
                reply: Some(reply),
            }),
            Command::Send(msg, reply) => {
                if let HostMsg::Configure(settings) = &*msg {
                    self.settings = Some(settings.clone());
                }
                self.queue(*msg, Some(reply));
            }
            Command::Status(reply) => {
                if self.status.ask(Some(reply)) && self.greeted {
                    self.queue(HostMsg::Status, None);
                }
            }
            Command::Digest(reply) => {
                if self.digest.ask(Some(reply)) && self.greeted {
                    self.queue(HostMsg::Suppression(SuppressionOp::Digest), None);
                }
            }
        }
    }

    fn queue(&mut self, msg: HostMsg, done: Option<Reply<()>>) {
        self.outbox.push_back(Outgoing { msg, done });
    }

    /// Moves jobs that have credit and queued messages into the session, and writes
    /// every frame that is due.
    async fn flush(&mut self) -> io::Result<()> {
        if self.greeted {
            while self.credits.available() > 0 {
                let Some(w) = self.waiting.pop_front() else {
                    break;
                };
                if w.reply.as_ref().is_some_and(|r| r.is_closed()) {
                    continue; // the caller gave up before it went out
                }
                self.credits.sent(&w.job);
                if let Some(reply) = w.reply {
                    let _ = reply.send(Ok(()));
                }
                self.queue(HostMsg::Submit(w.job), None);
            }
        }
        while self.session.can_send() {
            let Some(o) = self.outbox.pop_front() else {
                break;
            };
            // Cannot fail: the window has room.
            if let Err(msg) = self.session.send(o.msg.clone()) {
                self.outbox.push_front(Outgoing { msg, done: o.done });
                break;
            }
            self.mirror.push_back(o);
        }
        if self.conn.is_none() {
            return Ok(());
        }
        let now_ms = self.now_ms();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        let mut frames = 0;
        while let Some(envelope) = self.session.poll_transmit(now_ms) {
            match wire::encode(&envelope) {
                Ok(frame) => {
                    bytes.extend_from_slice(&frame);
                    frames += 1;
                }
                // The message types are bounded by MAX_MESSAGE: a bug, not a line fault.
                Err(e) => tracing::error!("link: cannot encode a frame: {e}"),
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let write = async {
            conn.writer.write_all(&bytes).await?;
            conn.writer.flush().await
        };
        tokio::time::timeout(self.config.write_timeout, write)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        self.stats.frames_sent += frames;
        self.last_sent = Instant::now();
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut frames = Vec::new();
        self.reader.feed(bytes, &mut frames);
        for frame in frames {
            match frame {
                Received::Envelope(envelope) => {
                    self.stats.frames_received += 1;
                    self.envelope(*envelope);
                }
                Received::Unreadable(header) => {
                    self.stats.unknown_messages += 1;
                    let Some(envelope) = header.envelope() else {
                        continue;
                    };
                    let seq = header.data;
                    if self.session.receive(envelope).is_some() {
                        self.settle();
                        if let Some(seq) = seq {
                            tracing::warn!("link: device message {} of unknown kind", seq.0);
                            self.report(Incoming::Fault(Fault::UnknownMessage { seq }));
                        }
                    }
                }
                Received::Bad(e) => {
                    self.stats.bad_frames += 1;
                    tracing::trace!("link: bad frame: {e}");
                }
            }
            if matches!(*self.state.borrow(), LinkState::Failed(_)) {
                return;
            }
        }
    }

    fn envelope(&mut self, envelope: Envelope<DeviceMsg>) {
        if matches!(envelope.body, Body::Reject) {
            // The session's own answer to Reject would resend our backlog before a
            // hello; open the next session ourselves instead.
            if envelope.session == self.session.session_id() && self.session.state() != State::Idle
            {
                self.stats.rejects += 1;
                tracing::info!("link: device lost the session, re-syncing");
                self.begin_session();
            }
            return;
        }
        let delivered = self.session.receive(envelope);
        self.settle();
        if let Some(msg) = delivered {
            self.message(msg);
        }
    }

    /// Resolves the messages the session has seen acknowledged.
    fn settle(&mut self) {
        while self.mirror.len() > self.session.unacknowledged() {
            let Some(o) = self.mirror.pop_front() else {
                break;
            };
            if let Some(done) = o.done {
                let _ = done.send(Ok(()));
            }
        }
    }

    fn message(&mut self, msg: DeviceMsg) {
        match msg {
            DeviceMsg::Hello(hello) => self.hello(hello),
            DeviceMsg::Event(id, event) => self.event(id, event),
            DeviceMsg::Credits(free) => self.report_credits(free),
            DeviceMsg::Status(status, counters) => match self.status.answer((status, counters)) {
                Answer::Unsolicited((status, counters)) => {
                    self.report(Incoming::Status(status, counters));
                }
                Answer::Delivered { again } => {
                    if again {
                        self.queue(HostMsg::Status, None);
                    }
                }
            },
            DeviceMsg::Suppression { count, digest } => match self.digest.answer((count, digest)) {
                Answer::Unsolicited(_) => tracing::debug!("link: unasked suppression digest"),
                Answer::Delivered { again } => {
                    if again {
                        self.queue(HostMsg::Suppression(SuppressionOp::Digest), None);
                    }
                }
            },
            DeviceMsg::Error(error) => self.device_error(error),
        }
    }

    fn hello(&mut self, hello: DeviceHello) {
        if hello.protocol != PROTOCOL {
            self.fail(ClientError::Protocol {
                host: PROTOCOL,
                device: hello.protocol,
            });
            return;
        }
        let info = DeviceInfo {
            protocol: hello.protocol,
            firmware: hello.firmware.as_str().to_string(),
            boot: hello.boot,
            capabilities: hello.capabilities,
            next_event: hello.next_event,
            epoch: hello.epoch,
            outbox: hello.outbox,
        };
        if let Some(old) = self.event_epoch.filter(|old| *old != hello.epoch) {
            // Ids seen so far were given by another store: dropping the new store's
            // events as replays would lose them (a STOP, an outcome).
            tracing::warn!(
                "link: the device's event store is not the one seen before (epoch {} -> {}): taking all its events",
                old.0,
                hello.epoch.0
            );
            self.report(Incoming::Fault(Fault::NewEventEpoch {
                old,
                new: hello.epoch,
            }));
            self.last_event = None;
        }
        self.event_epoch = Some(hello.epoch);
        let renumbered = self.last_event.filter(|seen| hello.next_event <= *seen);
        if let Some(seen) = renumbered {
            // Ids at or below `seen` would all be dropped as replays.
            tracing::warn!("link: device event ids restart at {}", hello.next_event.0);
            self.report(Incoming::Fault(Fault::EventsRenumbered {
                seen,
                next: hello.next_event,
            }));
            self.last_event = hello.next_event.0.checked_sub(1).map(EventId);
        }
        self.greeted = true;
        self.backoff = self.config.backoff;
        self.report_credits(hello.credits);
        let before = self.boot.replace(info.boot);
        if let Some(old) = before.filter(|old| *old != info.boot) {
            tracing::info!("link: device rebooted ({:?} -> {:?})", old, info.boot);
            self.report(Incoming::Rebooted {
                old,
                new: info.boot,
            });
        }
        tracing::debug!("link: handshake with firmware {}", info.firmware);
        self.report(Incoming::Connected(info.clone()));
        self.set_state(LinkState::Ready(info));
        if self.status.in_flight {
            self.queue(HostMsg::Status, None);
        }
        if self.digest.in_flight {
            self.queue(HostMsg::Suppression(SuppressionOp::Digest), None);
        }
    }

    /// A credit report arrived (its frame's acknowledgement already settled).
    fn report_credits(&mut self, free: u8) {
        let unacknowledged = self
            .mirror
            .iter()
            .chain(self.outbox.iter())
            .filter_map(|o| match &o.msg {
                HostMsg::Submit(job) => Some(job.key),
                _ => None,
            });
        self.credits.report(free, unacknowledged);
    }

    fn event(&mut self, id: EventId, event: Event) {
        if let Some(last) = self.last_event {
            if id <= last {
                self.stats.duplicate_events += 1;
                return;
            }
            let expected = EventId(last.0.wrapping_add(1));
            if id != expected {
                tracing::warn!(
                    "link: events {} to {} missing",
                    expected.0,
                    id.0.wrapping_sub(1)
                );
                self.report(Incoming::Fault(Fault::EventGap { expected, got: id }));
            }
        }
        self.last_event = Some(id);
        self.credits.event(&event);
        self.report(Incoming::Event(id, event));
    }

    fn device_error(&mut self, error: LinkError) {
        match error {
            LinkError::Version { supported } => {
                self.fail(ClientError::Protocol {
                    host: PROTOCOL,
                    device: supported,
                });
                return;
            }
            LinkError::NoCredit(key) => {
                self.stats.overruns += 1;
                if let Some(job) = self.credits.no_credit(key) {
                    self.waiting.push_front(Waiting { job, reply: None });
                }
                return;
            }
            LinkError::NotReady => {
                // A job may have been dropped; send again every job whose fate is
                // unknown (the device dedupes by key).
                let pending: Vec<Job> = self.credits.undisposed().cloned().collect();
                for job in pending {
                    self.queue(HostMsg::Submit(job), None);
                }
            }
            LinkError::UnknownMessage { .. } | LinkError::Storage => {}
        }
        tracing::warn!("link: device error {error:?}");
        self.report(Incoming::Fault(Fault::Device(error)));
    }

    fn fail(&mut self, error: ClientError) {
        tracing::error!("link: {error}");
        self.status.fail(&error);
        self.digest.fail(&error);
        for o in self.mirror.drain(..).chain(self.outbox.drain(..)) {
            if let Some(done) = o.done {
                let _ = done.send(Err(error.clone()));
            }
        }
        for w in self.waiting.drain(..) {
            if let Some(reply) = w.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        self.set_state(LinkState::Failed(error));
        self.publish_stats();
    }

    fn report(&self, incoming: Incoming) {
        // The caller may have dropped the receiver; the link goes on.
        let _ = self.incoming.send(incoming);
    }

    fn set_state(&self, state: LinkState) {
        self.state.send_replace(state);
    }

    fn publish_stats(&mut self) {
        self.stats.retransmitted =
            self.retransmitted_before + u64::from(self.session.stats().retransmitted);
        *self.shared_stats.lock().unwrap_or_else(|p| p.into_inner()) = self.stats;
    }
}

async fn opening(attempt: &mut Option<ConnectFuture>) -> io::Result<BoxIo> {
    match attempt {
        Some(f) => f.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn read_some(conn: &mut Option<Conn>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(c) => c.reader.read(buf).await,
        None => std::future::pending().await,
    }
}

fn is_hello_or_question(msg: &HostMsg) -> bool {
    matches!(
        msg,
        HostMsg::Hello(_) | HostMsg::Status | HostMsg::Suppression(SuppressionOp::Digest)
    )
}

fn utc_now() -> UtcInstant {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UtcInstant(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// A session id unlikely to repeat across restarts of the host: the device ignores
/// frames of a session it has seen before only by id.
fn session_seed() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    // Fold to 32 bits with a multiplicative hash so nearby instants spread out.
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

/// A new epoch to propose to device stores: random (the standard library's hash keys
/// come from the operating system), never [`EventEpoch::NONE`].
fn fresh_epoch() -> EventEpoch {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    EventEpoch((h.finish() as u32).max(1))
}
