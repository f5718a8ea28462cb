//! Job slots, keyword replies and the send path: submit, cancel, the gate before each
//! segment, the modem's answers, delivery reports, and the journal found at boot.

use heapless::{Deque, String, Vec};
use relais_core::compliance::decision::{Class, Permissive, SendLog};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    Delivery, Event, Halt, Job, JobKey, LinkError, Refusal, RefusalCode, RuleId, SendFailure,
    bounded,
};
use relais_core::sms::ConcatWidth;
use relais_core::sms::pdu::{
    self, Address, EncodingChoice, MAX_PDU_LEN, PhoneNumber, SmscField, StatusKind, SubmitHeader,
    TextPlan, Tpdu, encode_submit,
};

use super::gate::{self, Gate};
use super::{Agent, AgentBuffers, time};
use crate::inbound::{MAX_REPLY, Reply};
use crate::modem::{Clock, ErrorClass, InboundPdu, ModemPower, SendError, SendOutcome, SubmitPdu};
use crate::store::{InFlight, JobRecord, JobState, MAX_PARTS, Store, StoreError};
use core::ops::DerefMut;

use embedded_hal_nb::serial::{Read, Write};

/// The first key of the device's own reply jobs: every key with the top 16 bits set is
/// reserved (see the [module docs](super#keyword-replies-and-the-reserved-key-space)).
pub const REPLY_KEYS: u64 = 0xFFFF_0000_0000_0000;

/// Waits before each retry of a segment after a temporary failure; after the last one
/// the job fails with [`SendFailure::RetriesExhausted`].
pub const RETRY_DELAYS_MS: [u64; 5] = [15_000, 30_000, 60_000, 120_000, 240_000];

/// Wait before retrying after a storage error.
const STORE_RETRY_MS: u64 = 5_000;
/// Pacing waits at least this long are reported as [`Event::Deferred`] (`pacing`).
const PACING_REPORT_MS: u64 = 60_000;
/// A reply the rules would hold longer than this is dropped (a confirmation must come
/// within minutes, docs/compliance.md § Decision 10).
const REPLY_MAX_WAIT_S: i64 = 3_600;
/// A host job that a time rule (or `not_before`) holds longer than this, before any of
/// it went, is given back to the host ([`Event::Released`]) instead of keeping a slot.
pub const RELEASE_AFTER_S: i64 = 600;
/// Time allowed for one segment's exchange with the modem when the agent estimates when
/// the last segment of a message will go (see [`Agent::schedule`]).
const SEGMENT_ALLOWANCE_MS: u64 = 10_000;

/// Scheduling state of a job or reply.
#[derive(Debug)]
pub(crate) struct Progress {
    pub(crate) record: JobRecord,
    /// Deferred (a time rule or `not_before`) until then.
    wait_until: Option<UtcInstant>,
    /// The `until` of the last [`Event::Deferred`].
    reported_until: Option<UtcInstant>,
    /// Monotonic time before which nothing is tried (back-off, storage retry).
    retry_at_ms: u64,
    /// Temporary failures of the current segment.
    attempts: u8,
    /// The gate applied the marketing class.
    marketing: bool,
    /// When the gate let the first segment go for the whole message, in UTC seconds
    /// (0: not decided; 4 bytes that fit the struct's padding): the later segments are
    /// judged at that instant (the message is decided once).
    decided_at: u32,
}

impl Progress {
    fn new(record: JobRecord) -> Self {
        Progress {
            record,
            wait_until: None,
            reported_until: None,
            retry_at_ms: 0,
            attempts: 0,
            marketing: false,
            decided_at: 0,
        }
    }

    fn waiting(&self, now_ms: u64, now: UtcInstant) -> bool {
        self.retry_at_ms > now_ms || self.wait_until.is_some_and(|u| u > now)
    }
}

#[derive(Debug)]
struct Slot {
    job: Job,
    p: Progress,
}

/// A keyword reply waiting, with the key it will be sent under.
#[derive(Debug)]
struct QueuedReply {
    key: JobKey,
    reply: Reply,
}

#[derive(Debug)]
struct ReplyJob {
    key: JobKey,
    to: Msisdn,
    text: String<MAX_REPLY>,
    p: Progress,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    key: JobKey,
    part: u8,
}

/// The jobs in RAM: `SLOTS` host jobs, `R` replies waiting plus the one being sent,
/// and the segment with the modem.
#[derive(Debug)]
pub(crate) struct Jobs<const SLOTS: usize, const R: usize> {
    /// In acceptance order.
    slots: Vec<Slot, SLOTS>,
    replies: Deque<QueuedReply, R>,
    reply: Option<ReplyJob>,
    reply_counter: u16,
    sending: Option<Sending>,
}

impl<const SLOTS: usize, const R: usize> Jobs<SLOTS, R> {
    pub(crate) const fn new() -> Self {
        Jobs {
            slots: Vec::new(),
            replies: Deque::new(),
            reply: None,
            reply_counter: 0,
            sending: None,
        }
    }

    /// Drops every job and reply, as [`Jobs::new`] made them.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.replies.clear();
        self.reply = None;
        self.reply_counter = 0;
        self.sending = None;
    }

    pub(crate) fn free_slots(&self) -> usize {
        SLOTS - self.slots.len()
    }

    /// True when another reply can be queued.
    pub(crate) fn reply_room(&self) -> bool {
        !self.replies.is_full()
    }

    /// Forgets every deferral so waiting jobs are judged again (new settings).
    pub(crate) fn wake_all(&mut self) {
        for s in self.slots.iter_mut() {
            s.p.wait_until = None;
        }
        if let Some(r) = self.reply.as_mut() {
            r.p.wait_until = None;
        }
    }

    fn in_slot(&self, key: JobKey) -> bool {
        self.slots.iter().any(|s| s.job.key == key)
    }

    fn progress(&mut self, key: JobKey) -> Option<&mut Progress> {
        if let Some(r) = self.reply.as_mut().filter(|r| r.key == key) {
            return Some(&mut r.p);
        }
        self.slots
            .iter_mut()
            .find(|s| s.job.key == key)
            .map(|s| &mut s.p)
    }

    /// The recipient and record of a job or reply.
    fn target(&self, key: JobKey) -> Option<(Msisdn, &JobRecord)> {
        if let Some(r) = self.reply.as_ref().filter(|r| r.key == key) {
            return Some((r.to, &r.p.record));
        }
        self.slots
            .iter()
            .find(|s| s.job.key == key)
            .map(|s| (s.job.to, &s.p.record))
    }

    fn remove(&mut self, key: JobKey) {
        if self.reply.as_ref().is_some_and(|r| r.key == key) {
            self.reply = None;
        } else if let Some(i) = self.slots.iter().position(|s| s.job.key == key) {
            crate::ordered::remove(&mut self.slots, i);
        }
    }

    /// Slot keys in the order they get the modem: a message whose sending started
    /// first (its segments stay together), then transactional and conversational jobs,
    /// then marketing, each by acceptance. An OTP never waits behind a campaign.
    fn order(&self) -> Vec<JobKey, SLOTS> {
        let mut keys = Vec::new();
        // 0: started, 1: not marketing, 2: marketing.
        for rank in 0..3 {
            for s in self.slots.iter() {
                let r = if !s.p.record.mrs.is_empty() {
                    0
                } else if s.job.class != Class::Marketing {
                    1
                } else {
                    2
                };
                if r == rank {
                    let _ = keys.push(s.job.key);
                }
            }
        }
        keys
    }

    /// A started message, if one is waiting for its next segment.
    fn started(&self) -> Option<JobKey> {
        self.slots
            .iter()
            .find(|s| !s.p.record.mrs.is_empty())
            .map(|s| s.job.key)
    }
}

/// The concatenation reference of a job's segments: the same after a reboot, so a
/// resumed message reassembles with the segments sent before.
fn concat_ref(key: JobKey) -> u8 {
    key.0.to_le_bytes().iter().fold(0, |a, b| a ^ b)
}

fn reply_key(boot: u32, counter: u16) -> JobKey {
    JobKey(REPLY_KEYS | u64::from(boot) << 16 | u64::from(counter))
}

fn refusal(code: RefusalCode, rule: &str) -> Refusal {
    Refusal {
        code,
        rule: bounded(rule),
    }
}

fn send_failure(error: SendError) -> SendFailure {
    match error {
        SendError::Cms(e) => e.code().map_or(SendFailure::Rejected, SendFailure::Cms),
        SendError::Cme(e) => e.code().map_or(SendFailure::Rejected, SendFailure::Cme),
        SendError::Rejected => SendFailure::Rejected,
        SendError::NoPrompt => SendFailure::NoPrompt,
        SendError::ModemReset => SendFailure::ModemReset,
    }
}

/// Why a segment cannot be encoded.
enum Unsendable {
    Refuse(Refusal),
    /// The text plans to another segment count than the segments already sent.
    Mismatch,
}

/// Segment `part` (from 1) of `text` to `to`, and the segment count.
fn encode_segment(
    to: &Msisdn,
    text: &str,
    record: &JobRecord,
    part: u8,
) -> Result<(SubmitPdu, u8), Unsendable> {
    let too_long = || Unsendable::Refuse(refusal(RefusalCode::TextTooLong, "core.text-length"));
    let plan = TextPlan::new(
        text,
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        u16::from(record.concat_ref),
    )
    .map_err(|_| too_long())?;
    let total = u8::try_from(plan.segment_count().get()).map_err(|_| too_long())?;
    if usize::from(total) > MAX_PARTS {
        return Err(Unsendable::Refuse(refusal(
            RefusalCode::TooManySegments,
            "core.max-parts",
        )));
    }
    if record.parts != 0 && record.parts != total {
        return Err(Unsendable::Mismatch);
    }
    let segment = plan
        .segments()
        .nth(usize::from(part.saturating_sub(1)))
        .ok_or(Unsendable::Mismatch)?;
    let mut digits: String<20> = String::new();
    let bad_number = || Unsendable::Refuse(refusal(RefusalCode::UnknownNumber, "core.number"));
    to.push_e164(&mut digits).map_err(|_| bad_number())?;
    let address = Address::Number(PhoneNumber::parse(&digits).map_err(|_| bad_number())?);
    let mut header = SubmitHeader::new(&address);
    header.status_report = record.report;
    let mut buf = [0u8; MAX_PDU_LEN];
    let encoded = encode_submit(&header, &segment, &mut buf).map_err(|_| too_long())?;
    let bytes = buf.get(..encoded.pdu_len).ok_or_else(too_long)?;
    let pdu = SubmitPdu::new(bytes).map_err(|_| too_long())?;
    Ok((pdu, total))
}

impl<L, S, P, C, St, const SLOTS: usize, const WINDOW: usize, B>
    Agent<L, S, P, C, St, SLOTS, WINDOW, B>
where
    L: Read<u8> + Write<u8>,
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
    B: DerefMut<Target = AgentBuffers<SLOTS>>,
{
    /// True while no new work may start: a send's bookkeeping failed, or the outbox is
    /// nearly full.
    fn blocked(&self) -> bool {
        self.is_halted() || self.outbox.nearly_full()
    }

    fn halt(&mut self, error: StoreError) {
        warn!(
            "agent: storage failed during a send ({}): sending stops",
            error
        );
        self.modem_status.halted = Some(match error {
            StoreError::Full => Halt::StoreFull,
            StoreError::Medium => Halt::StoreMedium,
            StoreError::Corrupt => Halt::StoreCorrupt,
        });
        // Said at once, not only when asked: the host shows why no credits come.
        self.host.status_due = true;
    }

    #[inline(never)]
    pub(super) fn submit(&mut self, job: Job) {
        let key = job.key;
        if !self.host.handshaken {
            self.host.error(LinkError::NotReady);
            return;
        }
        if self.blocked() {
            self.host.error(LinkError::NoCredit(key));
            return;
        }
        if key.0 >= REPLY_KEYS {
            self.emit(Event::Refused {
                key,
                refusal: refusal(RefusalCode::BadIdentity, "core.reserved-key"),
            });
            return;
        }
        if self.buf.jobs.in_slot(key) {
            self.emit(Event::Duplicate(key));
            return;
        }
        let known = match self.store.job(key) {
            Ok(known) => known,
            Err(_) => {
                self.host.error(LinkError::Storage);
                return;
            }
        };
        if known.as_ref().is_some_and(|r| r.state.is_finished()) {
            self.emit(Event::Duplicate(key));
            return;
        }
        if self.buf.jobs.free_slots() == 0 {
            self.host.error(LinkError::NoCredit(key));
            return;
        }
        let record = match known {
            // Open and not in a slot: the device rebooted; resume after the last
            // segment the network accepted (`record.mrs`).
            Some(record) => record,
            None => {
                let record = JobRecord {
                    to: job.to.value(),
                    ..JobRecord::new(concat_ref(key), job.report)
                };
                match self.store.put_job(key, &record) {
                    Ok(()) => record,
                    Err(StoreError::Full) => {
                        self.host.error(LinkError::NoCredit(key));
                        return;
                    }
                    Err(_) => {
                        self.host.error(LinkError::Storage);
                        return;
                    }
                }
            }
        };
        let _ = self.buf.jobs.slots.push(Slot {
            job,
            p: Progress::new(record),
        });
        self.emit(Event::Accepted(key));
    }

    pub(super) fn cancel(&mut self, key: JobKey) {
        if self.buf.jobs.sending.is_some_and(|s| s.key == key) || key.0 >= REPLY_KEYS {
            return; // a job whose sending started finishes
        }
        let record = match self.buf.jobs.progress(key) {
            Some(p) => Some(p.record.clone()),
            None => self.store.job(key).ok().flatten(),
        };
        let Some(mut record) = record else { return };
        if record.state.is_finished() || !record.mrs.is_empty() {
            return;
        }
        record.state = JobState::Cancelled;
        // The event first, as in `finish`.
        self.emit(Event::Failed {
            key,
            part: 1,
            error: SendFailure::Cancelled,
            permanent: true,
        });
        self.buf.jobs.remove(key);
        if self.store.put_job(key, &record).is_err() {
            self.host.error(LinkError::Storage);
        }
    }

    /// Ends a job or reply that is not with the modem in `state`, reporting `event`.
    ///
    /// The event is stored before the record: a reset in between leaves the job open,
    /// so the host's resubmission decides it again (the end is reported twice), where
    /// the other order would answer `Duplicate` to a job whose end was never reported.
    fn finish(&mut self, key: JobKey, state: JobState, event: Event) -> Result<(), StoreError> {
        let Some(p) = self.buf.jobs.progress(key) else {
            return Ok(());
        };
        let mut record = p.record.clone();
        record.state = state;
        self.emit(event);
        self.buf.jobs.remove(key);
        self.store.put_job(key, &record)?;
        self.forget_reply(key);
        Ok(())
    }

    /// A reply's end: the store need not keep it any longer. A failure here is harmless:
    /// at the next boot its job record says it ended.
    fn forget_reply(&mut self, key: JobKey) {
        if key.0 >= REPLY_KEYS {
            let _ = self.store.remove_reply(key);
        }
    }

    /// Holds `key` until `until` because of `rule`. A host job nothing of which went yet
    /// is given back to the host instead ([`Event::Released`]) when that is more than
    /// [`RELEASE_AFTER_S`] away: a slot kept for hours (a French Saturday evening held
    /// until Monday) would block every other job, transactional ones included.
    fn defer(
        &mut self,
        key: JobKey,
        until: UtcInstant,
        rule: RuleId,
        now: UtcInstant,
    ) -> Result<(), StoreError> {
        let until = until.max(now.plus(1));
        let Some(p) = self.buf.jobs.progress(key) else {
            return Ok(());
        };
        if key.0 < REPLY_KEYS
            && p.record.mrs.is_empty()
            && until.0.saturating_sub(now.0) > RELEASE_AFTER_S
        {
            // Its key is finished here: a resubmission under it is a `Duplicate`, so
            // the host's copy is the only one that can still be sent.
            let released = Event::Released { key, until, rule };
            return self.finish(key, JobState::Released, released);
        }
        p.wait_until = Some(until);
        self.report_wait(key, until, rule);
        Ok(())
    }

    /// Starts the next segment if one may go now.
    #[inline(never)]
    pub(super) fn schedule(&mut self, now_ms: u64) -> Result<(), StoreError> {
        if self.is_halted()
            || self.buf.jobs.sending.is_some()
            || self.modem.is_sending()
            || !self.modem.is_ready()
        {
            return Ok(());
        }
        let Some(base) = self.time else {
            return Ok(()); // no time: no time rule can be checked
        };
        let now = base.at(now_ms);
        // Nothing goes before the pace of the last boot is counted again, and none
        // without the last one's count in the store.
        if self.pacer.unrestored {
            if let Some(mark) = self.store.pace()? {
                self.pacer.restore(&mark, now_ms, now);
            }
            self.pacer.unrestored = false;
        }
        if self.pacer.unsaved {
            self.save_pace(now_ms);
            if self.pacer.unsaved {
                return Ok(());
            }
        }
        if let Some(wait) = self.pacer.wait_ms(now_ms, &self.settings.pacing, 1) {
            if wait >= PACING_REPORT_MS {
                let until = base.at(now_ms.saturating_add(wait).saturating_add(999));
                self.report_pacing(until, now_ms, now);
            }
            return Ok(());
        }
        // A message under way goes on before replies: its segments were paced together.
        let started = self.buf.jobs.started();
        if let Some(key) = started.filter(|_| !self.outbox.nearly_full()) {
            if self.step_job(key, now_ms, now)? {
                return Ok(());
            }
        }
        if self.step_reply(now_ms, now)? || self.outbox.nearly_full() {
            return Ok(());
        }
        for key in self.buf.jobs.order() {
            if Some(key) != started && self.step_job(key, now_ms, now)? {
                break;
            }
        }
        Ok(())
    }

    /// Writes the pace to the store; on failure [`Pacer::unsaved`] stays set and
    /// nothing more is sent until it is written.
    ///
    /// [`Pacer::unsaved`]: super::pacing::Pacer
    fn save_pace(&mut self, now_ms: u64) {
        let Some(at) = self.time.map(|t| t.at(now_ms)) else {
            self.pacer.unsaved = true;
            return;
        };
        let mark = self.pacer.mark(now_ms, at);
        self.pacer.unsaved = self.store.put_pace(&mark).is_err();
    }

    /// Tells the job that would go next that the pace holds it until `until`.
    fn report_pacing(&mut self, until: UtcInstant, now_ms: u64, now: UtcInstant) {
        let next = self.buf.jobs.order().into_iter().find(|k| {
            self.buf
                .jobs
                .slots
                .iter()
                .any(|s| s.job.key == *k && !s.p.waiting(now_ms, now))
        });
        if let Some(key) = next {
            self.report_wait(key, until, bounded("pacing"));
        }
    }

    /// Tells the host that `key` waits until `until` because of `rule` (once per instant).
    fn report_wait(&mut self, key: JobKey, until: UtcInstant, rule: RuleId) {
        let Some(p) = self.buf.jobs.progress(key) else {
            return;
        };
        if p.reported_until != Some(until) {
            p.reported_until = Some(until);
            self.emit(Event::Deferred { key, until, rule });
        }
    }

    /// Judges one job; true when its next segment went to the modem.
    fn step_job(&mut self, key: JobKey, now_ms: u64, now: UtcInstant) -> Result<bool, StoreError> {
        let Some(slot) = self.buf.jobs.slots.iter().find(|s| s.job.key == key) else {
            return Ok(false);
        };
        let part = slot.p.record.sent_parts().saturating_add(1);
        let expires = slot.job.expires;
        let expired = Event::Failed {
            key,
            part,
            error: SendFailure::Expired,
            permanent: true,
        };
        // Checked before any wait: a job deferred past its expiry ends at the expiry.
        if expires.is_some_and(|e| now >= e) {
            self.finish(key, JobState::Expired, expired)?;
            return Ok(false);
        }
        if slot.p.waiting(now_ms, now) {
            return Ok(false);
        }
        if let Some(not_before) = slot.job.not_before.filter(|&t| now < t) {
            if expires.is_some_and(|e| not_before >= e) {
                self.finish(key, JobState::Expired, expired)?;
            } else {
                self.defer(key, not_before, bounded("not-before"), now)?;
            }
            return Ok(false);
        }
        // A message is decided once, for all its segments, before its first: the caps
        // must have room for every segment, and the gate must also allow the instant the
        // last one is expected to go (each segment's gap, jitter and modem exchange at
        // their longest), so neither a cap nor the end of a window splits it. The later
        // segments are judged at the instant the first was decided, without the log
        // (the message counts once).
        let decided =
            (slot.p.decided_at != 0 && part > 1).then(|| UtcInstant(i64::from(slot.p.decided_at)));
        let log: &dyn SendLog = match decided {
            Some(_) => &Permissive,
            None => &self.buf.recent,
        };
        let mut at = decided.unwrap_or(now);
        let mut paced = None;
        let verdict = loop {
            let verdict = gate::job(&slot.job, &self.store, log, &self.options, at);
            match verdict {
                Gate::Send { parts, .. } if part == 1 && at == now && parts > 1 => {
                    let pacing = &self.settings.pacing;
                    if let Some(wait) = self.pacer.wait_ms(now_ms, pacing, parts) {
                        paced = Some(wait);
                        break Gate::Retry;
                    }
                    let per_segment = u64::from(pacing.min_gap_ms)
                        .saturating_add(u64::from(pacing.jitter_ms))
                        .saturating_add(SEGMENT_ALLOWANCE_MS);
                    let span_ms = per_segment.saturating_mul(u64::from(parts - 1));
                    // Judged again at the last segment's instant: rendering does not
                    // depend on the time, so its text is the one to send.
                    at = now.plus(i64::try_from(span_ms.div_ceil(1_000)).unwrap_or(i64::MAX));
                }
                verdict => break verdict,
            }
        };
        match verdict {
            Gate::Retry => {
                let until = paced.and_then(|wait| {
                    let until = self
                        .time?
                        .at(now_ms.saturating_add(wait).saturating_add(999));
                    (wait >= PACING_REPORT_MS).then_some(until)
                });
                if let Some(p) = self.buf.jobs.progress(key) {
                    // A store that could not be read is tried again soon; a message the
                    // caps lack room for waits for it (other jobs may use the room
                    // meanwhile).
                    let wait = paced.unwrap_or(STORE_RETRY_MS);
                    p.retry_at_ms = now_ms.saturating_add(wait);
                }
                if let Some(until) = until {
                    self.report_wait(key, until, bounded("pacing"));
                }
                Ok(false)
            }
            Gate::Refuse(refusal) => {
                self.finish(key, JobState::Refused, Event::Refused { key, refusal })?;
                Ok(false)
            }
            Gate::Defer { until, .. } if expires.is_some_and(|e| until >= e) => {
                self.finish(key, JobState::Expired, expired)?;
                Ok(false)
            }
            Gate::Defer { until, rule } => {
                self.defer(key, until, rule, now)?;
                Ok(false)
            }
            Gate::Send {
                text, marketing, ..
            } => {
                if let Some(p) = self.buf.jobs.progress(key) {
                    p.marketing = marketing;
                    if part == 1 {
                        p.decided_at = u32::try_from(now.0).unwrap_or(0);
                    }
                }
                self.start_segment(key, &text, now_ms)
            }
        }
    }

    /// Queues a keyword reply under a key of its own and keeps it in the store, so a
    /// reboot before it is sent does not lose it; false when the queue is full (it is
    /// dropped). A store failure leaves it in RAM only.
    pub(super) fn queue_reply(&mut self, reply: &Reply) -> bool {
        if !self.buf.jobs.reply_room() {
            return false;
        }
        let key = reply_key(self.boot.0, self.buf.jobs.reply_counter);
        self.buf.jobs.reply_counter = self.buf.jobs.reply_counter.wrapping_add(1);
        if self.store.put_reply(key, &reply.to, &reply.text).is_err() {
            warn!("agent: a reply is kept in RAM only");
        }
        self.buf
            .jobs
            .replies
            .push_back(QueuedReply {
                key,
                reply: reply.clone(),
            })
            .is_ok()
    }

    /// At start: the replies the store kept (queued before a reboot) are queued again
    /// under their keys, the first as the one being sent; those whose job record says
    /// they ended are dropped when their turn comes. A store that cannot be read loses
    /// them (the agent starts anyway).
    pub(super) fn restore_replies(&mut self) {
        let mut first = None;
        let replies = &mut self.buf.jobs.replies;
        let read = self.store.replies(&mut |key, kept| {
            let reply = Reply {
                to: kept.to,
                text: kept.text,
            };
            if first.is_none() {
                first = Some(QueuedReply { key, reply });
            } else {
                // The store keeps no more than the queue and the one being sent.
                let _ = replies.push_back(QueuedReply { key, reply });
            }
        });
        if read.is_err() {
            warn!("agent: the replies kept before the reboot cannot be read");
        }
        let Some(q) = first else { return };
        // A store error here loses it, as a reboot did before replies were kept.
        if let Ok(Some(record)) = self.reply_record(q.key) {
            self.buf.jobs.reply = Some(ReplyJob {
                key: q.key,
                to: q.reply.to,
                text: q.reply.text,
                p: Progress::new(record),
            });
        }
    }

    /// The job record reply `key` is sent under: the one a reboot left (sending
    /// resumes after its sent segments), or a new one. `None` when it ended (it is then
    /// dropped from the store).
    fn reply_record(&mut self, key: JobKey) -> Result<Option<JobRecord>, StoreError> {
        match self.store.job(key)? {
            Some(record) if record.state.is_finished() => {
                self.forget_reply(key);
                Ok(None)
            }
            Some(record) => Ok(Some(record)),
            None => {
                let record = JobRecord::new(concat_ref(key), false);
                // Recorded like a job, so a journal found at boot finds it.
                self.store.put_job(key, &record)?;
                Ok(Some(record))
            }
        }
    }

    /// Moves the next queued reply into place and judges it; true when its next
    /// segment went to the modem.
    fn step_reply(&mut self, now_ms: u64, now: UtcInstant) -> Result<bool, StoreError> {
        while self.buf.jobs.reply.is_none() {
            let Some(key) = self.buf.jobs.replies.front().map(|q| q.key) else {
                return Ok(false);
            };
            // On a store error the reply stays first in the queue.
            let record = self.reply_record(key)?;
            let Some(next) = self.buf.jobs.replies.pop_front() else {
                return Ok(false);
            };
            if let Some(record) = record {
                self.buf.jobs.reply = Some(ReplyJob {
                    key,
                    to: next.reply.to,
                    text: next.reply.text,
                    p: Progress::new(record),
                });
            }
        }
        let Some(r) = self.buf.jobs.reply.as_ref() else {
            return Ok(false);
        };
        if r.p.waiting(now_ms, now) {
            return Ok(false);
        }
        let key = r.key;
        match gate::reply(&r.to, &r.text, &self.buf.recent, &self.options, now) {
            Gate::Send { text, .. } => self.start_segment(key, &text, now_ms),
            Gate::Defer { until, .. } if until.0.saturating_sub(now.0) <= REPLY_MAX_WAIT_S => {
                if let Some(p) = self.buf.jobs.progress(key) {
                    p.wait_until = Some(until);
                }
                Ok(false)
            }
            Gate::Defer { rule, .. } => {
                let refusal = Refusal {
                    code: RefusalCode::NoOpenSlot,
                    rule,
                };
                self.activity(super::Activity::ReplyDropped);
                self.finish(key, JobState::Refused, Event::Refused { key, refusal })?;
                Ok(false)
            }
            Gate::Refuse(refusal) => {
                self.activity(super::Activity::ReplyDropped);
                self.finish(key, JobState::Refused, Event::Refused { key, refusal })?;
                Ok(false)
            }
            Gate::Retry => Ok(false),
        }
    }

    /// Encodes the next segment of `key` from its rendered `text`, journals it and hands
    /// it to the modem.
    fn start_segment(&mut self, key: JobKey, text: &str, now_ms: u64) -> Result<bool, StoreError> {
        let Some((to, record)) = self.buf.jobs.target(key) else {
            return Ok(false);
        };
        let part = record.sent_parts().saturating_add(1);
        let (pdu, total) = match encode_segment(&to, text, record, part) {
            Ok(encoded) => encoded,
            Err(Unsendable::Refuse(refusal)) => {
                self.finish(key, JobState::Refused, Event::Refused { key, refusal })?;
                return Ok(false);
            }
            Err(Unsendable::Mismatch) => {
                // The text now plans to another segment count than the one whose
                // segments already went out (a resubmission with another text, or new
                // settings changed the mention): the rest cannot join them.
                let failed = Event::Failed {
                    key,
                    part,
                    error: SendFailure::Rejected,
                    permanent: true,
                };
                self.finish(key, JobState::Failed, failed)?;
                return Ok(false);
            }
        };
        if let Some(p) = self.buf.jobs.progress(key) {
            p.record.parts = total;
        }
        if let Err(e) = self.store.begin_send(InFlight { key, part }) {
            if let Some(p) = self.buf.jobs.progress(key) {
                p.retry_at_ms = now_ms.saturating_add(STORE_RETRY_MS);
            }
            return Err(e);
        }
        if self.modem.send(&pdu, part < total).is_err() {
            // Not ready or busy after all: nothing went out.
            self.store.end_send()?;
            return Ok(false);
        }
        self.buf.jobs.sending = Some(Sending { key, part });
        self.activity(super::Activity::SegmentStarted { key, part });
        Ok(true)
    }

    /// The modem's answer to the segment in flight.
    #[inline(never)]
    pub(super) fn on_sent(&mut self, outcome: SendOutcome, now_ms: u64) {
        let Some(sending) = self.buf.jobs.sending.take() else {
            return;
        };
        let key = sending.key;
        let part = sending.part;
        let pacing = self.settings.pacing;
        match outcome {
            SendOutcome::Accepted(mr) => {
                self.pacer.record(now_ms, &pacing);
                // The count first: a reset after it counts a segment that went.
                self.save_pace(now_ms);
                self.accepted(key, part, mr.0, now_ms);
            }
            SendOutcome::Failed { error, class } => {
                self.pacer.gap(now_ms, &pacing);
                if let Err(e) = self.store.end_send() {
                    return self.halt(e);
                }
                self.failed(key, part, error, class, now_ms);
            }
            SendOutcome::Unknown => {
                // It may have gone out: it counts towards the pace.
                self.pacer.record(now_ms, &pacing);
                self.save_pace(now_ms);
                let Some(p) = self.buf.jobs.progress(key) else {
                    let _ = self.store.end_send();
                    return;
                };
                p.record.state = JobState::Unknown;
                let record = p.record.clone();
                if let Err(e) = self.store.put_job(key, &record) {
                    return self.halt(e);
                }
                self.emit(Event::Unknown { key, part });
                if let Err(e) = self.store.end_send() {
                    return self.halt(e);
                }
                self.buf.jobs.remove(key);
                self.forget_reply(key);
            }
        }
    }

    fn accepted(&mut self, key: JobKey, part: u8, mr: u8, now_ms: u64) {
        let at = self.now_utc();
        let Some(p) = self.buf.jobs.progress(key) else {
            let _ = self.store.end_send();
            return;
        };
        p.record.note_sent(mr, at);
        p.attempts = 0;
        let parts = p.record.parts;
        let done = p.record.sent_parts() >= parts;
        if done {
            p.record.state = JobState::Sent;
        }
        let marketing = p.marketing;
        let record = p.record.clone();
        // Record first, then report, then clear the journal: a reset in between leaves
        // a journal that the record shows as sent (reported again, never resent).
        if let Err(e) = self.store.put_job(key, &record) {
            return self.halt(e);
        }
        self.emit(Event::SegmentSent {
            key,
            part,
            parts,
            mr,
        });
        if done {
            self.emit(Event::Sent { key, parts });
        }
        if let Err(e) = self.store.end_send() {
            return self.halt(e);
        }
        let AgentBuffers {
            jobs,
            inbound,
            recent,
            ..
        } = &mut *self.buf;
        if let Some(slot) = jobs.slots.iter().find(|s| s.job.key == key) {
            // A STOP from this number now opts out of this brand.
            inbound.note_sent(&slot.job.to, &slot.job.identity.brand);
            if marketing && part == 1 {
                if let Some(now) = self.time.map(|t| t.at(now_ms)) {
                    recent.record(&slot.job.to, now);
                }
            }
        }
        if done {
            self.buf.jobs.remove(key);
            self.forget_reply(key);
        }
    }

    fn failed(&mut self, key: JobKey, part: u8, error: SendError, class: ErrorClass, now_ms: u64) {
        let failure = send_failure(error);
        let Some(p) = self.buf.jobs.progress(key) else {
            return;
        };
        // A modem that reset before the PDU went out is not the message's fault.
        if error != SendError::ModemReset {
            p.attempts = p.attempts.saturating_add(1);
        }
        let attempts = usize::from(p.attempts);
        let end = if class == ErrorClass::Permanent {
            Some((failure, true))
        } else if attempts > RETRY_DELAYS_MS.len() {
            Some((SendFailure::RetriesExhausted, false))
        } else {
            let delay = RETRY_DELAYS_MS
                .get(attempts.saturating_sub(1))
                .copied()
                .unwrap_or(0);
            p.retry_at_ms = now_ms.saturating_add(delay);
            None
        };
        if let Some((error, permanent)) = end {
            let event = Event::Failed {
                key,
                part,
                error,
                permanent,
            };
            let _ = self.finish(key, JobState::Failed, event);
        }
    }

    /// A status report: marks its segment and reports the message once settled.
    #[inline(never)]
    pub(super) fn on_status_report(&mut self, report: &InboundPdu) {
        let Ok(Tpdu::StatusReport(sr)) = pdu::decode(report.tpdu(), SmscField::Absent) else {
            return;
        };
        let Some((key, stored, part)) = self.job_of_report(&sr) else {
            return;
        };
        // The slot's copy is the newest when the job is still in RAM.
        let mut record = self
            .buf
            .jobs
            .progress(key)
            .map_or(stored, |p| p.record.clone());
        if record.delivery_reported || part == 0 || usize::from(part) > MAX_PARTS {
            return;
        }
        let status = match sr.status.kind() {
            StatusKind::Delivered => {
                record.delivered |= 1 << (part - 1);
                let all = 1u16
                    .checked_shl(u32::from(record.parts))
                    .map_or(u16::MAX, |bit| bit - 1);
                let whole = record.parts > 0 && record.sent_parts() >= record.parts;
                (whole && record.delivered & all == all).then_some(Delivery::Delivered)
            }
            StatusKind::PermanentFailure => Some(Delivery::Failed),
            StatusKind::TemporaryFailure => Some(Delivery::Expired),
            // The SC is still trying, or a reserved code: wait for the next report.
            StatusKind::Pending | StatusKind::Reserved => return,
        };
        record.delivery_reported = status.is_some();
        // The event before the record, as in `finish`: a reset in between loses
        // nothing (the record still waits for a report).
        if let Some(status) = status {
            let at = time::timestamp_utc(&sr.discharge_time)
                .or_else(|| self.now_utc())
                .unwrap_or(UtcInstant(0));
            self.emit(Event::Delivery {
                key,
                status,
                st: sr.status.0,
                at,
            });
        }
        if self.store.put_job(key, &record).is_ok() {
            if let Some(p) = self.buf.jobs.progress(key) {
                // Swapped, not assigned: the assignment made the compiler call
                // `memmove`, 1.5 KiB of device flash for this one copy.
                core::mem::swap(&mut p.record, &mut record);
            }
        }
    }

    /// At start: a journal entry means a reset interrupted a send.
    pub(super) fn recover_in_flight(&mut self) -> Result<(), StoreError> {
        let Some(f) = self.store.in_flight()? else {
            return Ok(());
        };
        let (key, part) = (f.key, f.part);
        match self.store.job(key)? {
            // The network's answer was recorded before the reset: it was sent.
            Some(record) if record.sent_parts() >= part && part > 0 => {
                let mr = record.mrs.get(usize::from(part - 1)).copied().unwrap_or(0);
                let parts = record.parts.max(record.sent_parts());
                self.emit(Event::SegmentSent {
                    key,
                    part,
                    parts,
                    mr,
                });
                if record.state == JobState::Sent {
                    self.emit(Event::Sent { key, parts });
                }
            }
            Some(mut record) => {
                record.state = JobState::Unknown;
                self.store.put_job(key, &record)?;
                self.emit(Event::Unknown { key, part });
            }
            None => {
                self.emit(Event::Unknown { key, part });
            }
        }
        self.store.end_send()
    }
}
