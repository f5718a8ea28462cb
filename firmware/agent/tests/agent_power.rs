//! Power cut at every store write: whichever write a reset interrupts (before or after
//! it takes effect), after the restart and the host's resubmission no job is lost, no
//! segment goes out twice, and a send whose outcome is unknown is reported as such.

mod agent_support;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use agent_support::*;
use relais_agent::core::compliance::number::Msisdn;
use relais_agent::core::link::msg::{
    BootId, BrandId, Event, EventEpoch, EventId, HostMsg, Job, JobKey, Scope,
};
use relais_agent::store::{
    InFlight, JobRecord, PaceMark, PendingReply, Store as StoreTrait, StoreError,
};

/// Where the power goes.
#[derive(Default)]
struct Ctl {
    writes: Cell<u32>,
    cut_at: Cell<Option<u32>>,
    /// The interrupted write takes effect (else it never happened).
    apply: Cell<bool>,
    dead: Cell<bool>,
}

/// A RAM store whose power can be cut at a given write: that write happens or not,
/// and every later write fails without effect, until the device restarts.
struct CutStore {
    inner: Store,
    ctl: Rc<Ctl>,
}

impl CutStore {
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let ctl = &self.ctl;
        if ctl.dead.get() {
            return Err(StoreError::Medium);
        }
        ctl.writes.set(ctl.writes.get() + 1);
        if ctl.cut_at.get() == Some(ctl.writes.get()) {
            ctl.dead.set(true);
            if ctl.apply.get() {
                let _ = f(&mut self.inner);
            }
            return Err(StoreError::Medium);
        }
        f(&mut self.inner)
    }
}

impl StoreTrait for CutStore {
    fn next_boot(&mut self) -> Result<BootId, StoreError> {
        self.write(|s| s.next_boot())
    }
    fn epoch(&self) -> Result<EventEpoch, StoreError> {
        self.inner.epoch()
    }
    fn adopt_epoch(&mut self, epoch: EventEpoch) -> Result<EventEpoch, StoreError> {
        self.write(|s| s.adopt_epoch(epoch))
    }
    fn suppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        self.write(|s| s.suppress(number, scope))
    }
    fn unsuppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        self.write(|s| s.unsuppress(number, scope))
    }
    fn clear_suppression(&mut self) -> Result<(), StoreError> {
        self.write(|s| s.clear_suppression())
    }
    fn opted_out(&self, number: &Msisdn, brand: BrandId) -> Result<Option<Scope>, StoreError> {
        self.inner.opted_out(number, brand)
    }
    fn suppression_summary(&self) -> Result<(u32, u64), StoreError> {
        self.inner.suppression_summary()
    }
    fn suppression_capacity(&self) -> u32 {
        self.inner.suppression_capacity()
    }
    fn job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError> {
        self.inner.job(key)
    }
    fn put_job(&mut self, key: JobKey, record: &JobRecord) -> Result<(), StoreError> {
        self.write(|s| s.put_job(key, record))
    }
    fn job_by_report(
        &self,
        mr: u8,
        accept: &dyn Fn(&JobRecord) -> bool,
    ) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError> {
        self.inner.job_by_report(mr, accept)
    }
    fn begin_send(&mut self, segment: InFlight) -> Result<(), StoreError> {
        self.write(|s| s.begin_send(segment))
    }
    fn end_send(&mut self) -> Result<(), StoreError> {
        self.write(|s| s.end_send())
    }
    fn in_flight(&self) -> Result<Option<InFlight>, StoreError> {
        self.inner.in_flight()
    }
    fn push_event(&mut self, event: &Event) -> Result<EventId, StoreError> {
        self.write(|s| s.push_event(event))
    }
    fn next_event(&self, after: Option<EventId>) -> Result<Option<(EventId, Event)>, StoreError> {
        self.inner.next_event(after)
    }
    fn event_bytes(&self, id: EventId, f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        self.inner.event_bytes(id, f)
    }
    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError> {
        self.write(|s| s.ack_events(upto))
    }
    fn outbox_len(&self) -> Result<usize, StoreError> {
        self.inner.outbox_len()
    }
    fn next_event_id(&self) -> Result<EventId, StoreError> {
        self.inner.next_event_id()
    }
    fn outbox_capacity(&self) -> Option<usize> {
        self.inner.outbox_capacity()
    }
    fn pace(&self) -> Result<Option<PaceMark>, StoreError> {
        self.inner.pace()
    }
    fn put_pace(&mut self, mark: &PaceMark) -> Result<(), StoreError> {
        self.write(|s| s.put_pace(mark))
    }
    fn put_reply(&mut self, key: JobKey, to: &Msisdn, text: &str) -> Result<(), StoreError> {
        self.write(|s| s.put_reply(key, to, text))
    }
    fn remove_reply(&mut self, key: JobKey) -> Result<(), StoreError> {
        self.write(|s| s.remove_reply(key))
    }
    fn replies(&self, f: &mut dyn FnMut(JobKey, PendingReply)) -> Result<(), StoreError> {
        self.inner.replies(f)
    }
}

const NOON: &str = "2026-11-24T11:00:00Z";

fn jobs() -> Vec<Job> {
    let mut report = job(3, "+33611000003", "with a report");
    report.report = true;
    let mut refused = fr_marketing(4, "+33611000004", "no consent recorded");
    refused.consent = relais_agent::core::compliance::decision::ConsentStatus::None;
    vec![
        job(1, "+33611000001", "single"),
        job(2, "+33611000002", &"two segments of text. ".repeat(10)),
        report,
        refused,
    ]
}

/// What a run left behind.
struct Run {
    writes: u32,
    rebooted: bool,
    /// Per job: parts sent (with repetitions), and its final events.
    sent: BTreeMap<u64, Vec<u8>>,
    finals: BTreeMap<u64, Vec<Event>>,
    in_flight_left: bool,
}

fn run(cut: Option<u32>, apply: bool) -> Run {
    let ctl = Rc::new(Ctl::default());
    let mut rig = Rig::with_store(CutStore {
        inner: Store::new(),
        ctl: Rc::clone(&ctl),
    });
    rig.strict = false;
    rig.step_ms = 100;
    // Count from here (the boot write is not cut: the agent would not start).
    ctl.writes.set(0);
    ctl.cut_at.set(cut);
    ctl.apply.set(apply);
    rig.host.connect();
    rig.host.hello(utc(NOON));
    for j in jobs() {
        rig.host.send(HostMsg::Submit(j));
    }
    let mut rebooted = false;
    let mut acked: Option<EventId> = None;
    let finished = |rig: &Rig<CutStore>| {
        jobs()
            .iter()
            .all(|j| rig.host.job_events(j.key.0).iter().any(Event::is_final))
    };
    for _ in 0..20_000 {
        rig.settle();
        if ctl.dead.get() && !rebooted {
            rebooted = true;
            ctl.dead.set(false);
            ctl.cut_at.set(None);
            rig.reboot();
            // The host notices the new boot and submits what it has no end for.
            rig.host.connect();
            rig.host.hello(utc(NOON));
            for j in jobs() {
                if !rig.host.job_events(j.key.0).iter().any(Event::is_final) {
                    rig.host.send(HostMsg::Submit(j));
                }
            }
            acked = None;
            continue;
        }
        if rig.host.last_event_id() != acked && rig.host.session.can_send() {
            acked = rig.host.last_event_id();
            rig.host.ack_all();
        }
        if finished(&rig) && !ctl.dead.get() {
            break;
        }
        rig.clock.advance(rig.step_ms);
    }
    let writes = ctl.writes.get();
    // Let any late replay settle.
    rig.run(10_000);
    let mut sent: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for s in rig.modem.submitted() {
        let key = s.to.chars().last().unwrap().to_digit(10).unwrap() as u64;
        sent.entry(key)
            .or_default()
            .push(s.concat.map_or(1, |c| c.1));
    }
    let finals = jobs()
        .iter()
        .map(|j| {
            let k = j.key.0;
            let f = rig
                .host
                .job_events(k)
                .into_iter()
                .filter(Event::is_final)
                .collect();
            (k, f)
        })
        .collect();
    let in_flight_left = rig.agent().store().in_flight().unwrap().is_some();
    Run {
        writes,
        rebooted,
        sent,
        finals,
        in_flight_left,
    }
}

fn check(r: &Run, label: &str) {
    assert!(!r.in_flight_left, "{label}: journal left set");
    for j in jobs() {
        let k = j.key.0;
        let parts = r.sent.get(&k).cloned().unwrap_or_default();
        let unique: BTreeSet<u8> = parts.iter().copied().collect();
        assert_eq!(
            unique.len(),
            parts.len(),
            "{label}: job {k} segment sent twice: {parts:?}"
        );
        let finals = &r.finals[&k];
        assert!(!finals.is_empty(), "{label}: job {k} has no end");
        if k == 4 {
            assert!(parts.is_empty(), "{label}: a refused job was sent");
            assert!(
                finals.iter().all(|e| matches!(e, Event::Refused { .. })),
                "{label}: {finals:?}"
            );
            continue;
        }
        let sent_all = finals.iter().any(|e| matches!(e, Event::Sent { .. }));
        let unknown = finals.iter().any(|e| matches!(e, Event::Unknown { .. }));
        assert!(sent_all || unknown, "{label}: job {k} ended {finals:?}");
        if sent_all {
            let total = if k == 2 { 2 } else { 1 };
            assert_eq!(
                unique.len(),
                total,
                "{label}: job {k} Sent but parts {parts:?}"
            );
        }
        if !sent_all {
            // Unknown: never resent after it (one attempt at most per part).
            assert!(unique.len() <= 2, "{label}");
        }
    }
}

#[test]
fn a_power_cut_at_any_store_write_loses_nothing_and_doubles_nothing() {
    let clean = run(None, false);
    assert!(!clean.rebooted);
    check(&clean, "clean");
    for k in [1, 2, 3] {
        assert!(
            clean.finals[&k]
                .iter()
                .all(|e| matches!(e, Event::Sent { .. })),
            "clean run: {:?}",
            clean.finals[&k]
        );
    }
    assert!(clean.writes > 10, "{}", clean.writes);
    let mut unknowns = 0;
    for cut in 1..=clean.writes {
        for apply in [false, true] {
            let r = run(Some(cut), apply);
            let label = format!("cut at write {cut} (applied: {apply})");
            assert!(r.rebooted, "{label}: the cut did not happen");
            check(&r, &label);
            unknowns += r
                .finals
                .values()
                .filter(|f| f.iter().any(|e| matches!(e, Event::Unknown { .. })))
                .count();
        }
    }
    // Cuts around a send do leave outcomes unknown (and reported).
    assert!(unknowns > 0);
}

/// A store that fails for good at some write (a flash gone bad, and no restart): when
/// the failure hits a send's bookkeeping the agent halts, and it says so to the host at
/// once, with the reason, instead of only letting its credits fall to 0.
#[test]
fn a_store_failure_during_a_send_halts_the_device_and_says_why() {
    use relais_agent::core::link::msg::{DeviceMsg, Halt};
    let clean = run(None, false);
    let mut halts = 0;
    for cut in 1..=clean.writes {
        let ctl = Rc::new(Ctl::default());
        let mut rig = Rig::with_store(CutStore {
            inner: Store::new(),
            ctl: Rc::clone(&ctl),
        });
        rig.strict = false;
        rig.step_ms = 100;
        ctl.writes.set(0);
        ctl.cut_at.set(Some(cut));
        rig.host.connect();
        rig.host.hello(utc(NOON));
        for j in jobs() {
            rig.host.send(HostMsg::Submit(j));
        }
        rig.run(60_000);
        if !rig.agent().is_halted() {
            continue;
        }
        halts += 1;
        let told =
            rig.host.received.iter().any(
                |m| matches!(m, DeviceMsg::Status(s, _) if s.halted == Some(Halt::StoreMedium)),
            );
        assert!(told, "cut at write {cut}: halted without telling the host");
        assert_eq!(rig.agent().credits(), 0, "cut at write {cut}");
        // A new handshake (the host restarted) hears it again.
        let before = rig.host.received.len();
        rig.host.connect();
        rig.host.hello(utc(NOON));
        rig.run(5_000);
        assert!(
            rig.host.received[before..].iter().any(
                |m| matches!(m, DeviceMsg::Status(s, _) if s.halted == Some(Halt::StoreMedium))
            ),
            "cut at write {cut}: not told again after a new handshake"
        );
    }
    assert!(halts > 0, "no cut point halted the agent");
}
