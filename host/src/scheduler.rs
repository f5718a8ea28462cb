//! The scheduler: picks due jobs from the store, pre-checks each with the compliance
//! core (so the device rarely has to refuse), hands the ones that may go now to a
//! device within its credits, and turns what the device reports into store changes.
//!
//! - A job the pre-check defers waits in the host until the exact instant the core
//!   names (`deferred`, `due_at` = `until`); one it refuses ends `refused` with the
//!   rule. Expired jobs end `expired`. A job that cannot even be built (a number that
//!   no longer parses, a text over the device's limit) ends `refused` with a reason:
//!   one bad job never blocks the queue.
//! - Before a job goes to a device its state becomes `submitted` (one transaction),
//!   so after a host crash it is handed over again with the same idempotency key and
//!   the device answers `Duplicate` instead of sending twice.
//! - Device events are stored, each in one transaction with the device's event mark,
//!   and acknowledged only after they are stored: a crash between the two makes the
//!   device send them again, and the mark skips them.
//! - Temporary failures come back as `retry` with back-off ([`RetryPolicy`]); after the
//!   last attempt the job fails.
//! - The device's suppression list is compared with the store's by digest at every
//!   handshake and every minute, and rebuilt when they differ.
//!
//! Several devices run at once, each in its own task over one shared [`Store`]; a job
//! is claimed under the store's lock, so no two devices take the same one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use relais_core::at::command::general::SimPin;
use relais_core::compliance::decision::{CategorySet, Outcome, evaluate};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Event, EventEpoch, EventId, Identity, Job, KeywordKind, MAX_TEXT, Scope, Settings,
    SuppressionOp, bounded, digest_entry, refusal_code,
};
use tokio::sync::watch;

use crate::link::{Incoming, IncomingReceiver, LinkClient};
use crate::store::{
    ALL_BRANDS, Applied, BrandNames, Change, CoreView, JobRow, JobState, RetryPolicy, Store,
    StoreError, refusal_name,
};

/// What stops the scheduler, or one device's part of it.
#[derive(Debug)]
pub enum SchedulerError {
    /// The configuration cannot be used (a setting, the retry policy, the poll interval).
    Config(String),
    /// The store refused (an unreachable database is not this: the scheduler waits
    /// that out).
    Store(StoreError),
    /// A call over the device link failed.
    Link(crate::link::ClientError),
    /// The device's link task ended.
    LinkEnded {
        /// The device.
        device: String,
    },
}

impl std::fmt::Display for SchedulerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchedulerError::Config(e) => f.write_str(e),
            SchedulerError::Store(e) => write!(f, "{e}"),
            SchedulerError::Link(e) => write!(f, "device link: {e}"),
            SchedulerError::LinkEnded { device } => write!(f, "{device}: link task ended"),
        }
    }
}

impl std::error::Error for SchedulerError {}

impl From<StoreError> for SchedulerError {
    fn from(e: StoreError) -> Self {
        SchedulerError::Store(e)
    }
}

impl From<crate::link::ClientError> for SchedulerError {
    fn from(e: crate::link::ClientError) -> Self {
        SchedulerError::Link(e)
    }
}

/// For the command layer, whose errors are lines of text.
impl From<SchedulerError> for String {
    fn from(e: SchedulerError) -> Self {
        e.to_string()
    }
}

/// The scheduler's time: the wall clock, or the simulator's virtual clock in the demo.
pub trait Clock: Send + Sync {
    /// Now, UTC.
    fn now(&self) -> UtcInstant;
    /// Told when the scheduler has nothing to do before `until` (`None`: nothing
    /// scheduled at all) and nothing on any device. A virtual clock may jump there.
    fn idle(&self, _until: Option<UtcInstant>) {}
    /// Told when some device has work (a virtual clock must not jump).
    fn busy(&self) {}
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UtcInstant {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        UtcInstant(secs)
    }
}

/// Shared by every device task.
pub struct Context {
    /// The store.
    pub store: Mutex<Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Rule choices for the pre-check: always `settings.options()`, so the pre-check
    /// and the device decide with the same options.
    pub options: relais_core::compliance::decision::Options,
    /// Settings sent to devices (each with its own SIM PIN, [`Target::settings`]).
    pub settings: Settings,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Brand names for opt-out scopes.
    pub brands: BrandNames,
    /// Idle poll interval (real time).
    pub poll: Duration,
    /// This host, as the store's `devices.host` names it: the machine and the
    /// configuration's directory (a host restarted from the same place is the same).
    pub host: String,
    /// Devices busy with a job (for [`Clock::idle`]).
    busy: Mutex<std::collections::BTreeMap<String, bool>>,
    /// Devices whose link is up now.
    up: Mutex<std::collections::BTreeSet<String>>,
    /// Opt-outs and opt-ins stored since start, for every device's suppression list
    /// at once (the periodic comparison of lists stays the safety net).
    optouts: tokio::sync::broadcast::Sender<SuppressionOp>,
    /// The store tells of every host's opt-out changes (PostgreSQL); otherwise this
    /// host publishes those its own devices report.
    hears_optouts: bool,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context over `store`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: &crate::config::Config,
    ) -> Result<Context, SchedulerError> {
        let settings = config.settings().map_err(SchedulerError::Config)?;
        let (optouts, _) = tokio::sync::broadcast::channel(4096);
        let tx = optouts.clone();
        let hears_optouts = store.on_optout_change(move |number, brand, out| {
            if let Some(op) = suppression_op(number, brand, out) {
                let _ = tx.send(op);
            }
        })?;
        Ok(Context {
            store: Mutex::new(store),
            clock,
            options: settings.options(),
            settings,
            retry: config.retry().map_err(SchedulerError::Config)?,
            brands: BrandNames::new(config.brand_names()),
            poll: crate::config::parse_duration(&config.scheduler.poll)
                .map(|d| d.max(Duration::from_millis(10)))
                .map_err(|e| SchedulerError::Config(format!("scheduler.poll: {e}")))?,
            host: host_id(&config.base),
            busy: Mutex::new(Default::default()),
            up: Mutex::new(Default::default()),
            optouts,
            hears_optouts,
        })
    }

    /// Passes an opt-out change one of this host's devices reported to the others
    /// (when the store does not tell of it already).
    fn publish_optout(&self, number: &str, brand: &str, out: bool) {
        if !self.hears_optouts
            && let Some(op) = suppression_op(number, brand, out)
        {
            let _ = self.optouts.send(op);
        }
    }

    /// The devices whose link is up now (handshake done, not lost since).
    pub fn devices_up(&self) -> std::collections::BTreeSet<String> {
        self.up.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Notes that `device`'s link came up or went down, in memory and in the store's
    /// device log (only on a change).
    fn link_changed(&self, device: &str, up: bool, detail: &str) -> Result<(), StoreError> {
        let changed = {
            let mut set = self.up.lock().unwrap_or_else(|p| p.into_inner());
            if up {
                set.insert(device.to_string())
            } else {
                set.remove(device)
            }
        };
        if changed
            && let Err(e) = self
                .store()
                .log_device(device, up, detail, self.clock.now())
        {
            // Not logged: the next call tries again.
            let mut set = self.up.lock().unwrap_or_else(|p| p.into_inner());
            if up {
                set.remove(device);
            } else {
                set.insert(device.to_string());
            }
            return Err(e);
        }
        Ok(())
    }

    /// Locks the store (a poisoned lock is still usable: every change is a
    /// transaction).
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// This machine's name and `base` (made absolute): who drives a device.
pub fn host_id(base: &std::path::Path) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer it is given.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let machine = if ok {
        String::from_utf8_lossy(&buf[..len]).into_owned()
    } else {
        "localhost".into()
    };
    let dir = std::fs::canonicalize(if base.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        base
    })
    .unwrap_or_else(|_| base.to_path_buf());
    format!("{machine}:{}", dir.display())
}

/// A device another host said it drives less than this long ago is that host's.
pub const DEVICE_LEASE_S: i64 = 60;

/// How often a host says again that it drives its devices.
const DEVICE_RENEW: Duration = Duration::from_secs(15);

/// Makes this host the one driving `device`, waiting out an unreachable database
/// (until `stop`); another host's device is an error.
async fn claim_device(
    ctx: &Context,
    device: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, SchedulerError> {
    let mut outage = None;
    loop {
        let claimed = ctx
            .store()
            .claim_device(device, &ctx.host, ctx.clock.now(), DEVICE_LEASE_S);
        match claimed {
            Ok(None) => {
                Outage::over(&mut outage, device);
                return Ok(true);
            }
            Ok(Some((other, seen))) => {
                return Err(SchedulerError::Config(format!(
                    "device {device} is driven by another host ({other}, last seen at {seen});                      every device name must be unique among the hosts that share a store                      (docs/postgres.md)"
                )));
            }
            Err(e) if e.is_unreachable() => {
                Outage::note(&mut outage, device, &e.to_string(), 0);
            }
            Err(e) => return Err(e.into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return Ok(false),
        }
    }
}

/// What the pre-check made of a due job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the device.
    Submit(Box<Job>),
    /// It waits in the host until then.
    Deferred(UtcInstant),
    /// It ends without being sent (refused, expired).
    Ended(JobState),
}

/// Parses a comma-separated category list.
pub fn parse_categories(text: &str) -> Result<CategorySet, String> {
    let mut set = CategorySet::EMPTY;
    for c in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let cat = relais_core::compliance::decision::Category::parse(c)
            .ok_or_else(|| format!("unknown category {c:?}"))?;
        set = set.with(cat);
    }
    Ok(set)
}

/// What the compliance core (and the host's own checks) make of a job now, before
/// anything is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// It may go now: the job as the device gets it.
    Send(Box<Job>),
    /// A time rule holds it until then.
    Defer {
        /// The next allowed instant.
        until: UtcInstant,
        /// The deciding rule.
        rule: &'static str,
    },
    /// It ends without being sent.
    End {
        /// Refused or expired.
        state: JobState,
        /// The deciding rule, if a rule decided.
        rule: Option<&'static str>,
        /// Why, in the store's words.
        reason: &'static str,
    },
}

/// Judges `row` at `now` as a device with `identity` would: the very message,
/// recipient and options the device's gate evaluates. Records nothing.
pub fn judge(
    store: &Store,
    row: &JobRow,
    identity: &Identity,
    options: &relais_core::compliance::decision::Options,
    now: UtcInstant,
) -> Judgement {
    let end = |state, rule, reason| Judgement::End {
        state,
        rule,
        reason,
    };
    if row.expires_at.is_some_and(|e| e <= now) {
        return end(JobState::Expired, None, "expired before it could be sent");
    }
    let Ok(number) = Msisdn::parse(&row.number) else {
        return end(JobState::Refused, Some("core.number"), "unknown-number");
    };
    if row.text.len() > MAX_TEXT || row.text.trim().is_empty() {
        return end(JobState::Refused, Some("host.text"), "text-too-long");
    }
    let Ok(categories) = parse_categories(&row.categories) else {
        return end(JobState::Refused, Some("host.category"), "category");
    };
    let job = link_job(store, row, number, categories, identity);
    let Some(sender) = job.identity.to_compliance() else {
        return end(JobState::Refused, Some("core.identity"), "bad-identity");
    };
    let decision = evaluate(
        &job.message(),
        &sender,
        &job.contact(),
        now,
        options,
        relais_core::compliance::decision::Stores {
            suppression: &CoreView(store),
            consent: &CoreView(store),
            log: &CoreView(store),
        },
    );
    let rule = decision.rule.id;
    match decision.outcome {
        Outcome::Refuse(reason) => end(
            JobState::Refused,
            Some(rule),
            refusal_name(refusal_code(&reason)),
        ),
        Outcome::Defer { until, .. } => Judgement::Defer { until, rule },
        Outcome::Send { .. } => Judgement::Send(Box::new(job)),
    }
}

/// Records a judgement that holds or ends a job (`Send` records nothing) and returns
/// the verdict it amounts to.
pub fn record_judgement(
    store: &mut Store,
    id: i64,
    judgement: &Judgement,
    now: UtcInstant,
) -> Result<Option<Verdict>, StoreError> {
    match *judgement {
        Judgement::Send(_) => Ok(None),
        Judgement::Defer { until, rule } => {
            store.transition(
                id,
                JobState::Deferred,
                now,
                &Change {
                    due_at: Some(until),
                    rule: Some(rule),
                    ..Default::default()
                },
                &format!("deferred until {until} ({rule})"),
            )?;
            Ok(Some(Verdict::Deferred(until)))
        }
        Judgement::End {
            state,
            rule,
            reason,
        } => {
            store.transition(
                id,
                state,
                now,
                &Change {
                    rule,
                    reason: Some(reason),
                    ..Default::default()
                },
                reason,
            )?;
            Ok(Some(Verdict::Ended(state)))
        }
    }
}

/// Pre-checks `row` at `now` for `device` with `identity`, records the verdict in one
/// transaction, and returns it.
pub fn precheck(
    store: &mut Store,
    row: &JobRow,
    identity: &Identity,
    device: &str,
    options: &relais_core::compliance::decision::Options,
    now: UtcInstant,
) -> Result<Verdict, StoreError> {
    match judge(store, row, identity, options, now) {
        Judgement::Send(job) => {
            store.transition(
                row.id,
                JobState::Submitted,
                now,
                &Change {
                    device: Some(device),
                    stamp: Some("submitted_at"),
                    ..Default::default()
                },
                &format!("to {device}"),
            )?;
            Ok(Verdict::Submit(job))
        }
        other => {
            Ok(record_judgement(store, row.id, &other, now)?.unwrap_or(Verdict::Deferred(now)))
        }
    }
}

/// One device as the scheduler drives it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name.
    pub name: String,
    /// Brands it sends for (empty: all).
    pub brands: Vec<String>,
    /// Its sender identity (brand filled in per job).
    pub identity: Identity,
    /// The PIN of its SIM, if it needs one.
    pub sim_pin: Option<SimPin>,
}

impl Target {
    /// The settings this device gets: the shared ones with its SIM PIN.
    pub fn settings(&self, shared: &Settings) -> Settings {
        Settings {
            sim_pin: self.sim_pin,
            ..shared.clone()
        }
    }
}

/// Claims the next due job for `target` and pre-checks it; loops over jobs that end
/// or are deferred, and returns the first to submit (or `None`).
pub fn next_job(ctx: &Context, target: &Target) -> Result<Option<Job>, StoreError> {
    let now = ctx.clock.now();
    let mut store = ctx.store();
    // One transaction: the claimed rows stay locked against other hosts until each is
    // submitted, deferred or ended.
    store.batch(|store| {
        loop {
            let due = store.claim_due(now, Some(&target.name), &target.brands, 16)?;
            if due.is_empty() {
                return Ok(None);
            }
            for row in &due {
                match precheck(
                    store,
                    row,
                    &target.identity,
                    &target.name,
                    &ctx.options,
                    now,
                )? {
                    Verdict::Submit(job) => return Ok(Some(*job)),
                    Verdict::Deferred(_) | Verdict::Ended(_) => {}
                }
            }
        }
    })
}

/// The scope of an opt-out for `brand` ([`ALL_BRANDS`]: every brand).
fn scope_of(brand: &str) -> Scope {
    if brand == ALL_BRANDS {
        Scope::All
    } else {
        Scope::Brand(BrandId::of(brand))
    }
}

/// The device's change for an opt-out (`out`) or opt-in of `number` for `brand`.
fn suppression_op(number: &str, brand: &str, out: bool) -> Option<SuppressionOp> {
    let n = Msisdn::parse(number).ok()?;
    Some(if out {
        SuppressionOp::Add(n, scope_of(brand))
    } else {
        SuppressionOp::Remove(n, scope_of(brand))
    })
}

/// A suppression list as the device keeps it: (count, digest, entries).
pub type SuppressionList = (u32, u64, Vec<(Msisdn, Scope)>);

/// The store's suppression list as the device keeps it.
pub fn suppression_list(store: &Store) -> Result<SuppressionList, StoreError> {
    let mut entries = Vec::new();
    for o in store.optouts()? {
        let Ok(n) = Msisdn::parse(&o.number) else {
            continue;
        };
        entries.push((n, scope_of(&o.brand)));
    }
    entries.sort_by_key(|(n, s)| (n.to_string(), *s));
    entries.dedup();
    let digest = entries
        .iter()
        .fold(0u64, |d, (n, s)| d.wrapping_add(digest_entry(n, *s)));
    Ok((entries.len() as u32, digest, entries))
}

/// What the last suppression sync of a connection left: the device's and the store's
/// (count, digest) right after it. While both are unchanged there is nothing to send.
pub type SyncMark = Option<((u32, u64), (u32, u64))>;

/// Brings the device's suppression list up to the store's without ever taking away an
/// entry the store has no opt-in for (docs/link.md, "Suppression"):
///
/// - an entry whose opt-in (START, `optout remove`) is recorded in the store, and which
///   the store does not list as opted out again, is removed (the device keeps it while
///   it holds a STOP from that number the host has not stored yet);
/// - every opt-out of the store is added (a no-op where the device has it).
///
/// Nothing is sent when the digests agree, or when neither changed since the last sync
/// of this connection (`mark`): the device then keeps entries the store has no record
/// of, and they stay. Returns true when it sent changes.
pub async fn sync_suppression(
    ctx: &Context,
    client: &LinkClient,
    mark: &mut SyncMark,
) -> Result<bool, SchedulerError> {
    let (count, digest, entries) = suppression_list(&ctx.store())?;
    let ours = (count, digest);
    let theirs = client.suppression_digest().await?;
    if theirs == ours || *mark == Some((theirs, ours)) {
        return Ok(false);
    }
    let opted_in = opt_in_list(&ctx.store())?;
    tracing::info!(
        device_entries = theirs.0,
        store_entries = count,
        opt_ins = opted_in.len(),
        "suppression list differs; sending the store's opt-outs and opt-ins"
    );
    for (n, s) in opted_in {
        client.suppression(SuppressionOp::Remove(n, s)).await?;
    }
    for (n, s) in entries {
        client.suppression(SuppressionOp::Add(n, s)).await?;
    }
    let after = client.suppression_digest().await?;
    if after != ours {
        tracing::warn!(
            device_entries = after.0,
            store_entries = count,
            "the device keeps opt-outs the store has no record of (a STOP not stored yet, or \
             another host's); they stay"
        );
    }
    *mark = Some((after, ours));
    Ok(true)
}

/// The opt-ins recorded in the store for entries it does not list as opted out: what
/// the device may remove.
pub fn opt_in_list(store: &Store) -> Result<Vec<(Msisdn, Scope)>, StoreError> {
    let mut entries: Vec<(Msisdn, Scope)> = store
        .opt_ins()?
        .into_iter()
        .filter_map(|(number, brand)| Some((Msisdn::parse(&number).ok()?, scope_of(&brand))))
        .collect();
    entries.sort_by_key(|(n, s)| (n.to_string(), *s));
    entries.dedup();
    Ok(entries)
}

/// Why a device message could not be handled.
#[derive(Debug)]
enum Failure {
    /// The database cannot be reached: keep the message, in order, and try again.
    Unreachable(String),
    /// Anything else: the device's task ends.
    Fatal(SchedulerError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_unreachable() {
            Failure::Unreachable(e.to_string())
        } else {
            Failure::Fatal(SchedulerError::Store(e))
        }
    }
}

/// While the database cannot be reached: since when, what is held, when it was last
/// said.
#[derive(Debug)]
struct Outage {
    since: tokio::time::Instant,
    told: tokio::time::Instant,
}

impl Outage {
    /// Says (at most every 10 s) that the database is unreachable and what waits.
    fn note(outage: &mut Option<Outage>, device: &str, why: &str, held: usize) {
        let now = tokio::time::Instant::now();
        match outage {
            Some(o) if now - o.told < Duration::from_secs(10) => {}
            Some(o) => {
                o.told = now;
                tracing::error!(
                    device,
                    held,
                    down_for_s = (now - o.since).as_secs(),
                    "database still unreachable ({why}); the device's events are held in order \
                     and acknowledged only once stored; no new jobs meanwhile"
                );
            }
            None => {
                tracing::error!(
                    device,
                    held,
                    "database unreachable ({why}); holding the device's events in order and \
                     retrying; no new jobs until it is back"
                );
                *outage = Some(Outage {
                    since: now,
                    told: now,
                });
            }
        }
    }

    /// Says that the database is back, if it was away.
    fn over(outage: &mut Option<Outage>, device: &str) {
        if let Some(o) = outage.take() {
            tracing::info!(
                device,
                down_for_s = o.since.elapsed().as_secs(),
                "database reachable again; held events stored"
            );
        }
    }
}

type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), crate::link::ClientError>> + Send>,
>;

/// How long the scheduler waits for the events a device had at the handshake before it
/// syncs the suppression list and sends new jobs anyway.
const BACKLOG_PATIENCE: Duration = Duration::from_secs(30);

/// One device connection as [`serve`] keeps it.
#[derive(Debug, Default)]
struct Connection {
    /// The handshake is done and the link is up.
    up: bool,
    /// The epoch of the device's store: the events after the handshake belong to it.
    epoch: Option<EventEpoch>,
    /// The last event stored, of `epoch`.
    stored: Option<EventId>,
    /// The last event acknowledged to the device, of `epoch`.
    acked: Option<EventId>,
    /// The newest event the device had at the handshake, until it is stored: the
    /// suppression sync and new jobs wait for it (a STOP among them comes first).
    backlog: Option<EventId>,
    /// When the handshake was.
    since: Option<tokio::time::Instant>,
    /// The last suppression sync.
    sync: SyncMark,
    /// The sync is due (handshake, or a minute passed).
    sync_due: bool,
}

impl Connection {
    /// The device's backlog is stored, or it took too long.
    fn caught_up(&self) -> bool {
        self.backlog.is_none_or(|b| self.stored >= Some(b))
            || self.since.is_some_and(|t| t.elapsed() > BACKLOG_PATIENCE)
    }
}

/// Drives one device until `stop` turns true: resubmits what the store says is on it,
/// feeds it due jobs within its credits, stores its events and acknowledges them.
///
/// After each handshake the events the device had waiting are stored first; then the
/// suppression list is synced ([`sync_suppression`]) and new jobs go out.
pub async fn serve(
    ctx: Arc<Context>,
    target: Target,
    client: LinkClient,
    mut incoming: IncomingReceiver,
    mut stop: watch::Receiver<bool>,
) -> Result<(), SchedulerError> {
    let name = target.name.clone();
    if !claim_device(&ctx, &name, &mut stop).await? {
        return Ok(());
    }
    let mut renewed = tokio::time::Instant::now();
    let mut resubmit: std::collections::VecDeque<Job> = Default::default();
    let mut pending: Option<Pending> = None;
    let mut conn = Connection::default();
    let mut last_sync = tokio::time::Instant::now();
    let mut ack_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut optouts = ctx.optouts.subscribe();
    // Device messages not handled yet, in arrival order (the database was away).
    let mut held: std::collections::VecDeque<Incoming> = Default::default();
    let mut outage: Option<Outage> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        // Store everything that arrived, then acknowledge the last stored event.
        tokio::select! {
            biased;
            _ = stop.changed() => continue,
            msg = incoming.recv() => {
                let Some(msg) = msg else { return Err(SchedulerError::LinkEnded { device: name }) };
                hold(&mut held, msg);
                while let Ok(msg) = incoming.try_recv() {
                    hold(&mut held, msg);
                }
            }
            r = async { pending.as_mut().expect("guarded").await }, if pending.is_some() => {
                pending = None;
                if let Err(e) = r {
                    tracing::warn!(device = %name, "submit: {e}");
                }
            }
            op = optouts.recv() => match op {
                // Another device's STOP (this host's or, on PostgreSQL, any host's):
                // this device has it at once rather than at the next comparison.
                Ok(op) if conn.up => {
                    if let SuppressionOp::Add(n, scope) | SuppressionOp::Remove(n, scope) = op {
                        let add = matches!(op, SuppressionOp::Add(..));
                        tracing::info!(device = %name, number = %n, ?scope, add, "opt-out change passed on");
                    }
                    if let Err(e) = client.suppression(op).await {
                        tracing::warn!(device = %name, "suppression change: {e}");
                        conn.sync_due = true;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => conn.sync_due = true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
            },
            _ = tokio::time::sleep(if outage.is_some() { ctx.poll.max(Duration::from_secs(1)) } else { ctx.poll }) => {}
        }
        // Handle what arrived, in order; what the database was not there for waits.
        while let Some(msg) = held.front() {
            match handle(
                &ctx,
                &target,
                &client,
                msg.clone(),
                &mut conn,
                &mut resubmit,
            )
            .await
            {
                Ok(()) => {
                    held.pop_front();
                    Outage::over(&mut outage, &name);
                }
                Err(Failure::Unreachable(why)) => {
                    Outage::note(&mut outage, &name, &why, held.len());
                    break;
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
        if let (Some(epoch), Some(upto)) = (conn.epoch, conn.stored)
            && conn.stored > conn.acked
            && ack_task.as_ref().is_none_or(|t| t.is_finished())
        {
            let c = client.clone();
            ack_task = Some(tokio::spawn(async move {
                let _ = c.ack_events(epoch, upto).await;
            }));
            conn.acked = conn.stored;
        }
        if !conn.up || !conn.caught_up() || !held.is_empty() {
            continue;
        }
        if last_sync.elapsed() > Duration::from_secs(60) {
            conn.sync_due = true;
        }
        if std::mem::take(&mut conn.sync_due) {
            last_sync = tokio::time::Instant::now();
            if let Err(e) = sync_suppression(&ctx, &client, &mut conn.sync).await {
                tracing::warn!(device = %name, "suppression sync: {e}");
            }
        }
        if pending.is_none() {
            let job = match resubmit.pop_front() {
                Some(j) => Some(j),
                None => match next_job(&ctx, &target) {
                    Ok(job) => job,
                    Err(e) if e.is_unreachable() => {
                        Outage::note(&mut outage, &name, &e.to_string(), held.len());
                        None
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if let Some(job) = job {
                tracing::debug!(device = %name, key = job.key.0, to = %job.to, "submit");
                let c = client.clone();
                pending = Some(Box::pin(async move { c.submit(job).await }));
            }
        }
        let on_device = match ctx.store().on_device_count(&name) {
            Ok(n) => n,
            Err(e) if e.is_unreachable() => {
                Outage::note(&mut outage, &name, &e.to_string(), held.len());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        report_idle(&ctx, &name, pending.is_some() || on_device > 0)?;
        if renewed.elapsed() >= DEVICE_RENEW {
            match ctx.store().renew_device(&name, &ctx.host, ctx.clock.now()) {
                Ok(true) => renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    return Err(SchedulerError::Config(format!(
                        "device {name} was taken over by another host while this one could not \
                         say it drove it; stopping it here"
                    )));
                }
                Err(e) if e.is_unreachable() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    // Stopped cleanly: another host may take the device at once.
    let _ = ctx.store().release_device(&name, &ctx.host);
    Ok(())
}

/// Queues a device message for [`handle`]; an event already waiting (sent again by
/// the device while the database was away) is not queued twice.
fn hold(held: &mut std::collections::VecDeque<Incoming>, msg: Incoming) {
    if let Incoming::Event(id, _) = &msg
        && held
            .iter()
            .any(|m| matches!(m, Incoming::Event(other, _) if other == id))
    {
        return;
    }
    held.push_back(msg);
}

/// Tells the clock when every device is idle.
fn report_idle(ctx: &Context, name: &str, busy: bool) -> Result<(), SchedulerError> {
    let all_idle = {
        let mut b = ctx.busy.lock().unwrap_or_else(|p| p.into_inner());
        b.insert(name.to_string(), busy);
        b.values().all(|v| !v)
    };
    if all_idle {
        match ctx.store().next_due() {
            Ok(next) => ctx.clock.idle(next),
            // Not idle as far as anyone can tell: the next pass asks again.
            Err(e) if e.is_unreachable() => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        ctx.clock.busy();
    }
    Ok(())
}

async fn handle(
    ctx: &Context,
    target: &Target,
    client: &LinkClient,
    msg: Incoming,
    conn: &mut Connection,
    resubmit: &mut std::collections::VecDeque<Job>,
) -> Result<(), Failure> {
    let name = &target.name;
    match msg {
        Incoming::Event(id, event) => {
            let now = ctx.clock.now();
            // The link delivers events only after a handshake.
            let epoch = conn.epoch.unwrap_or_default();
            let applied =
                ctx.store()
                    .apply_event(name, (epoch, id), &event, now, &ctx.brands, &ctx.retry)?;
            if let (
                Applied::Stored(_),
                Event::Keyword {
                    from,
                    kind: kind @ (KeywordKind::OptOut | KeywordKind::OptIn),
                    scope: Some(scope),
                    ..
                },
            ) = (&applied, &event)
            {
                let brand = ctx.brands.scope_name(*scope);
                ctx.publish_optout(&from.to_string(), &brand, *kind == KeywordKind::OptOut);
            }
            match applied {
                Applied::Stored(Some((job, state))) => {
                    tracing::info!(device = %name, job, state = state.name(), "job")
                }
                Applied::Stored(None) => tracing::info!(device = %name, ?event, "event"),
                Applied::Again => {
                    tracing::debug!(device = %name, id = id.0, "event already stored")
                }
            }
            conn.stored = Some(id).max(conn.stored);
        }
        Incoming::Connected(info) => {
            tracing::info!(device = %name, firmware = %info.firmware, boot = info.boot.0, "connected");
            let now = ctx.clock.now();
            let changed = ctx.store().note_epoch(name, info.epoch, now)?;
            if let Some((old, last)) = changed {
                tracing::warn!(
                    device = %name,
                    old_epoch = old.0,
                    new_epoch = info.epoch.0,
                    last_stored = last.map(|l| l.0),
                    "THE DEVICE'S EVENT STORE IS NEW (fresh flash or state file, or another \
                     device on this port): its events are numbered afresh and all of them \
                     are taken; recorded in the store"
                );
            }
            let stored = ctx
                .store()
                .last_event(name)?
                .filter(|(e, _)| *e == info.epoch)
                .map(|(_, id)| id);
            *conn = Connection {
                up: true,
                epoch: Some(info.epoch),
                stored,
                acked: None,
                backlog: (info.outbox > 0)
                    .then(|| info.next_event.0.checked_sub(1).map(EventId))
                    .flatten(),
                since: Some(tokio::time::Instant::now()),
                sync: None,
                sync_due: true,
            };
            let status = serde_json::json!({
                "firmware": info.firmware,
                "boot": info.boot.0,
                "epoch": info.epoch.0,
                "slots": info.capabilities.job_slots,
                "modem": info.capabilities.modem.as_str(),
                "halted": null,
            });
            ctx.store()
                .set_device_status(name, Some(info.boot.0), &status, now)?;
            if let Err(e) = client.configure(target.settings(&ctx.settings)).await {
                tracing::warn!(device = %name, "configure: {e}");
            }
            requeue(ctx, target, resubmit)?;
            ctx.link_changed(name, true, info.firmware.as_str())?;
        }
        Incoming::Rebooted { old, new } => {
            tracing::warn!(device = %name, old = old.0, new = new.0, "device rebooted; handing its jobs over again");
            requeue(ctx, target, resubmit)?;
        }
        Incoming::Disconnected(kind) => {
            tracing::warn!(device = %name, ?kind, "link lost; reconnecting");
            conn.up = false;
            ctx.link_changed(name, false, &format!("{kind:?}"))?;
        }
        Incoming::Status(status, counters) => {
            let now = ctx.clock.now();
            if let Some(halt) = status.halted {
                tracing::error!(
                    device = %name,
                    reason = halt.as_str(),
                    "the device halted: it takes no jobs until it restarts"
                );
            }
            let v = serde_json::json!({
                "ready": status.ready,
                "registration": format!("{:?}", status.registration),
                "sim_ready": status.sim_ready,
                "network_time": status.network_time,
                "halted": status.halted.map(|h| h.as_str()),
                "counters": serde_json::to_value(counters).unwrap_or_default(),
            });
            ctx.store().set_device_status(name, None, &v, now)?;
        }
        Incoming::Fault(f) => tracing::warn!(device = %name, ?f, "link fault"),
    }
    Ok(())
}

/// Queues every job the store has on this device for resubmission (same keys).
fn requeue(
    ctx: &Context,
    target: &Target,
    resubmit: &mut std::collections::VecDeque<Job>,
) -> Result<(), StoreError> {
    resubmit.clear();
    let store = ctx.store();
    for row in store.on_device(&target.name)? {
        let (Ok(to), Ok(categories)) = (
            Msisdn::parse(&row.number),
            parse_categories(&row.categories),
        ) else {
            continue;
        };
        resubmit.push_back(link_job(&store, &row, to, categories, &target.identity));
    }
    Ok(())
}

/// The link job for `row`: the consent the store has now, the brand on the identity.
fn link_job(
    store: &Store,
    row: &JobRow,
    to: Msisdn,
    categories: CategorySet,
    identity: &Identity,
) -> Job {
    use relais_core::compliance::decision::Consent as _;
    Job {
        key: row.key(),
        to,
        text: bounded(&row.text),
        class: row.class,
        categories,
        identity: Identity {
            brand: bounded(&row.brand),
            ..identity.clone()
        },
        consent: CoreView(store).consent(&to, &row.brand),
        fr_department: row.department,
        zone: row.zone,
        not_before: None,
        expires: row.expires_at,
        report: true,
    }
}

#[cfg(test)]
mod tests {
    use relais_core::compliance::decision::{ConsentStatus, Options};
    use relais_core::link::msg::Sender;

    use super::*;
    use crate::store::{NewJob, OptOut};

    fn identity() -> Identity {
        Identity {
            sender: Sender::Alpha(bounded("ACME")),
            registered: false,
            brand: bounded("Acme"),
            stop_code: Some(36123),
        }
    }

    fn job(
        store: &mut Store,
        number: &str,
        class: relais_core::compliance::decision::Class,
        now: UtcInstant,
    ) -> JobRow {
        let id = store
            .insert_job(
                &NewJob {
                    number: number.into(),
                    text: match class {
                        relais_core::compliance::decision::Class::Marketing => {
                            "Soldes -20% ce week-end"
                        }
                        _ => "Votre colis est arrivé au point relais.",
                    }
                    .into(),
                    class,
                    brand: "Acme".into(),
                    categories: String::new(),
                    department: None,
                    consent: ConsentStatus::OptedIn,
                    not_before: None,
                    expires: Some(now.plus(7 * 86_400)),
                },
                now,
            )
            .unwrap();
        store.job(id).unwrap().unwrap()
    }

    #[test]
    fn the_precheck_defers_refuses_and_hands_over() {
        use relais_core::compliance::decision::Class::{Marketing, Transactional};
        let mut store = Store::open_in_memory().unwrap();
        // Saturday 7 March 2026, 23:30 in Paris.
        let now = UtcInstant::parse_rfc3339("2026-03-07T22:30:00Z").unwrap();
        let options = Options::default();
        for n in ["+33612345001", "+33612345002"] {
            store
                .set_consent(&crate::store::ConsentRecord {
                    number: n.into(),
                    brand: "Acme".into(),
                    status: ConsentStatus::OptedIn,
                    source: "test".into(),
                    at: now,
                })
                .unwrap();
        }
        let late = job(&mut store, "+33612345001", Marketing, now);
        let v = precheck(&mut store, &late, &identity(), "dev", &options, now).unwrap();
        let monday = UtcInstant::parse_rfc3339("2026-03-09T07:00:00Z").unwrap();
        assert_eq!(v, Verdict::Deferred(monday));
        let row = store.job(late.id).unwrap().unwrap();
        assert_eq!((row.state, row.due_at), (JobState::Deferred, monday));
        assert!(
            store
                .due_jobs(now, &[], 10)
                .unwrap()
                .iter()
                .all(|j| j.id != late.id)
        );

        store
            .add_optout(&OptOut {
                number: "+33612345002".into(),
                brand: "Acme".into(),
                keyword: Some("STOP".into()),
                tier: Some(1),
                source: "test".into(),
                at: now,
            })
            .unwrap();
        let stopped = job(&mut store, "+33612345002", Marketing, monday);
        let v = precheck(&mut store, &stopped, &identity(), "dev", &options, monday).unwrap();
        assert_eq!(v, Verdict::Ended(JobState::Refused));

        let alert = job(&mut store, "+33612345003", Transactional, now);
        let Verdict::Submit(link) =
            precheck(&mut store, &alert, &identity(), "dev", &options, now).unwrap()
        else {
            panic!("a transactional alert goes at night");
        };
        assert_eq!(link.key, alert.key());
        let row = store.job(alert.id).unwrap().unwrap();
        assert_eq!(
            (row.state, row.device.as_deref()),
            (JobState::Submitted, Some("dev"))
        );
        assert_eq!(store.on_device("dev").unwrap().len(), 1);

        let old = job(&mut store, "+33612345004", Transactional, now);
        let later = now.plus(8 * 86_400);
        let v = precheck(&mut store, &old, &identity(), "dev", &options, later).unwrap();
        assert_eq!(v, Verdict::Ended(JobState::Expired));
    }

    /// A +1 212 customer who lives in Los Angeles: the contact list's verified zone
    /// reaches the pre-check and the job the device judges.
    #[test]
    fn the_verified_zone_of_the_contact_decides_and_goes_on_the_link() {
        use relais_core::compliance::decision::Class::Marketing;
        use relais_core::compliance::tz::Zone;
        let mut store = Store::open_in_memory().unwrap();
        // Tuesday 02:30 UTC: 22:30 in New York (closed), 19:30 in Los Angeles (open).
        let now = UtcInstant::parse_rfc3339("2026-03-10T02:30:00Z").unwrap();
        let us = Identity {
            sender: Sender::ShortCode(36123),
            registered: true,
            brand: bounded("Acme"),
            stop_code: None,
        };
        for (n, zone) in [
            ("+12125550123", Some("America/Los_Angeles")),
            ("+12125550124", None),
        ] {
            store
                .upsert_contacts(
                    &[crate::store::NewContact {
                        number: n.into(),
                        first_name: String::new(),
                        last_name: String::new(),
                        fields: Default::default(),
                        zone: zone.map(Into::into),
                        department: None,
                    }],
                    now,
                )
                .unwrap();
            store
                .set_consent(&crate::store::ConsentRecord {
                    number: n.into(),
                    brand: "Acme".into(),
                    status: ConsentStatus::OptedIn,
                    source: "test".into(),
                    at: now,
                })
                .unwrap();
        }
        let options = Options::default();
        let la = job(&mut store, "+12125550123", Marketing, now);
        assert_eq!(la.zone, Some(Zone::AmericaLosAngeles));
        let Verdict::Submit(link) = precheck(&mut store, &la, &us, "dev", &options, now).unwrap()
        else {
            panic!("19:30 in Los Angeles is open");
        };
        assert_eq!(link.zone, Some(Zone::AmericaLosAngeles));
        assert_eq!(link.contact().zone, Some(Zone::AmericaLosAngeles));
        let ny = job(&mut store, "+12125550124", Marketing, now);
        assert_eq!(ny.zone, None);
        assert!(matches!(
            precheck(&mut store, &ny, &us, "dev", &options, now).unwrap(),
            Verdict::Deferred(_)
        ));
    }

    #[test]
    fn the_suppression_digest_matches_the_device_formula() {
        let mut store = Store::open_in_memory().unwrap();
        let now = UtcInstant(1_780_000_000);
        for (n, b) in [("+33612345001", "Acme"), ("+33612345002", ALL_BRANDS)] {
            store
                .add_optout(&OptOut {
                    number: n.into(),
                    brand: b.into(),
                    keyword: None,
                    tier: None,
                    source: "test".into(),
                    at: now,
                })
                .unwrap();
        }
        let (count, digest, entries) = suppression_list(&store).unwrap();
        assert_eq!(count, 2);
        let a = Msisdn::parse("+33612345001").unwrap();
        let b = Msisdn::parse("+33612345002").unwrap();
        let expected = digest_entry(&a, Scope::Brand(BrandId::of("Acme")))
            .wrapping_add(digest_entry(&b, Scope::All));
        assert_eq!(digest, expected);
        assert_eq!(entries.len(), 2);
    }
}
