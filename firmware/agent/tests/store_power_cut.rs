//! Power cut at every flash write and erase of a realistic sequence of store calls.
//!
//! The sequence (jobs accepted, sent segment by segment with the in-flight journal,
//! finished, delivery-reported, evicted; events pushed and acknowledged; opt-outs added,
//! removed and cleared; reboots) runs once on the RAM reference, which gives the state
//! before and after every call, and once on the flash store, keeping a copy of the store
//! before every call. Then, for every flash operation of every call: the call runs again
//! from its copy with the power cut at that operation (partly applied: torn words, half
//! erased blocks), the flash is repowered and the store reopened, and what the store shows
//! must equal the reference before or after that call. The reopened store must go on
//! working like the reference, and a cut during the reopen itself must change nothing.

mod store_support;

use relais_agent::store::flash::{Capacity, Layout, RamFlash, Tear};
use relais_agent::store::{FlashStore, JobRecord, JobState, MemStore, PaceMark, Store};
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{Delivery, Event, JobKey, KeywordKind, MAX_TEXT, RefusalCode};
use store_support::{
    BRANDS, MRS, NUMBERS, Op, Outcome, Snapshot, apply, counters, number, observe, scope,
};

const CAPACITY: Capacity = Capacity {
    suppression: 16,
    jobs: 6,
    outbox: 8,
};
type Flash = RamFlash<{ 20 * 1024 }>;
type Model = MemStore<16, 6, 8>;

fn layout() -> Layout<Flash> {
    Layout::packed(0, CAPACITY).unwrap()
}

/// How much of the interrupted operation lands, varied along the cut points.
const TEARS: [Tear; 4] = [
    Tear::Half,
    Tear::AllButLastByte,
    Tear::Nothing,
    Tear::Bytes(4),
];

/// A small deterministic generator (xorshift), so the sequence is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn text(len: usize) -> heapless::String<MAX_TEXT> {
    let mut t = heapless::String::new();
    for i in 0..len.min(MAX_TEXT) {
        t.push(char::from(b'a' + (i % 26) as u8)).unwrap();
    }
    t
}

fn push(ops: &mut Vec<Op>, pushed: &mut u32, event: Event) {
    ops.push(Op::Push(event));
    *pushed += 1;
}

/// What an agent asks of its store over `jobs` jobs.
fn scenario(seed: u64, jobs: u64) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut ops = vec![Op::Boot];
    let mut pushed = 0u32;
    let mut mr = 0u8;
    let mut sent_segments = 0u32;
    let mut replies: Vec<u64> = Vec::new();
    let mut next_reply = 0u64;
    for job in 1..=jobs {
        let key = JobKey(job);
        let report = rng.below(2) == 0;
        let mut r = JobRecord::new(job as u8, report);
        ops.push(Op::Put(job, r.clone()));
        push(&mut ops, &mut pushed, Event::Accepted(key));
        if rng.below(8) == 0 {
            r.state = JobState::Refused;
            ops.push(Op::Put(job, r.clone()));
            push(
                &mut ops,
                &mut pushed,
                Event::Refused {
                    key,
                    refusal: relais_core::link::msg::Refusal {
                        code: RefusalCode::OptedOut,
                        rule: heapless::String::try_from("opt-out").unwrap(),
                    },
                },
            );
        } else {
            r.parts = 1 + rng.below(3) as u8;
            for part in 1..=r.parts {
                ops.push(Op::Begin(job, part));
                // The pace is written when the network accepted the segment.
                sent_segments += 1;
                ops.push(Op::Pace(PaceMark {
                    at: UtcInstant(1_700_000_000 + 7 * i64::from(sent_segments)),
                    minute: (sent_segments % 7) as u16,
                    hour: (sent_segments % 200) as u16,
                    day: [sent_segments as u16, 0, 3, 0, 0, 1],
                }));
                ops.push(Op::End);
                r.mrs.push(mr).unwrap();
                push(
                    &mut ops,
                    &mut pushed,
                    Event::SegmentSent {
                        key,
                        part,
                        parts: r.parts,
                        mr,
                    },
                );
                mr = (mr + 1) % MRS;
                if part < r.parts {
                    ops.push(Op::Put(job, r.clone()));
                }
            }
            r.state = JobState::Sent;
            ops.push(Op::Put(job, r.clone()));
            push(
                &mut ops,
                &mut pushed,
                Event::Sent {
                    key,
                    parts: r.parts,
                },
            );
            if report && rng.below(3) != 0 {
                r.delivered = (1 << r.parts) - 1;
                r.delivery_reported = true;
                ops.push(Op::Put(job, r.clone()));
                push(
                    &mut ops,
                    &mut pushed,
                    Event::Delivery {
                        key,
                        status: Delivery::Delivered,
                        st: 0,
                        at: UtcInstant(1_700_000_000 + job as i64),
                    },
                );
            }
        }
        if rng.below(3) == 0 {
            let n = rng.below(u64::from(NUMBERS)) as u32;
            let b = (rng.below(2) == 0).then(|| rng.below(u64::from(BRANDS)) as u32);
            push(
                &mut ops,
                &mut pushed,
                Event::Keyword {
                    from: number(n),
                    kind: KeywordKind::OptOut,
                    keyword: heapless::String::try_from("STOP").unwrap(),
                    tier: 1,
                    scope: Some(scope(b)),
                    confirmed: replies.len() < 3,
                },
            );
            ops.push(Op::Suppress(n, b));
            // Its confirmation is kept until it went.
            if replies.len() < 3 {
                next_reply += 1;
                let text = if next_reply % 2 == 0 {
                    "Vous ne recevrez plus de SMS de notre part.".to_string()
                } else {
                    "é".repeat(80)
                };
                ops.push(Op::PutReply(next_reply, n, text));
                replies.push(next_reply);
            }
        }
        if !replies.is_empty() && rng.below(2) == 0 {
            ops.push(Op::RemoveReply(replies.remove(0)));
        }
        if rng.below(4) == 0 {
            let n = rng.below(u64::from(NUMBERS)) as u32;
            let b = (rng.below(2) == 0).then(|| rng.below(u64::from(BRANDS)) as u32);
            ops.push(Op::Unsuppress(n, b));
        }
        if rng.below(4) == 0 {
            push(
                &mut ops,
                &mut pushed,
                Event::Inbound {
                    from: heapless::String::try_from("+33612345678").unwrap(),
                    text: text(rng.below(MAX_TEXT as u64 + 1) as usize),
                    at: UtcInstant(1_700_000_000),
                    truncated: false,
                },
            );
        }
        // The host acknowledges what it has, now and then not quite all.
        if rng.below(3) != 0 {
            ops.push(Op::Ack(pushed.saturating_sub(rng.below(3) as u32)));
        }
        if job % 20 == 0 {
            ops.push(Op::Boot);
        }
        if job == jobs / 2 {
            // A full resync from the host: clear, then the list again.
            ops.push(Op::Clear);
            for n in 0..6 {
                ops.push(Op::Suppress(n, (n % 2 == 0).then_some(n % BRANDS)));
            }
        }
    }
    ops
}

/// The reference's state before each call (and after the last), with boots counted.
fn reference(
    ops: &[Op],
) -> (
    Vec<Snapshot>,
    Vec<u32>,
    Vec<Result<Outcome, relais_agent::store::StoreError>>,
) {
    let mut model = Model::new();
    let mut snapshots = vec![observe(&model)];
    let mut boots = vec![0];
    let mut outcomes = Vec::new();
    for op in ops {
        let outcome = apply(&mut model, op);
        let booted = u32::from(matches!(outcome, Ok(Outcome::Boot(_))));
        boots.push(boots.last().unwrap() + booted);
        outcomes.push(outcome);
        snapshots.push(observe(&model));
    }
    (snapshots, boots, outcomes)
}

/// The reference after `calls` calls.
fn replayed(ops: &[Op], calls: usize) -> Model {
    let mut model = Model::new();
    for op in &ops[..calls] {
        let _ = apply(&mut model, op);
    }
    model
}

/// Checks a reopened store against the reference around call `i`; returns how many
/// calls the store reflects (`i` or `i + 1`).
fn check_recovered(
    store: &FlashStore<Flash>,
    i: usize,
    snapshots: &[Snapshot],
    what: &str,
) -> usize {
    let seen = observe(store);
    if seen == snapshots[i + 1] {
        i + 1
    } else if seen == snapshots[i] {
        i
    } else {
        panic!(
            "{what}: the store is neither before nor after call {i}\nbefore: {:?}\nafter:  {:?}\nseen:   {seen:?}",
            snapshots[i],
            snapshots[i + 1]
        );
    }
}

/// The reopened store goes on like the reference from the state it reflects.
fn check_goes_on(
    store: &mut FlashStore<Flash>,
    ops: &[Op],
    calls: usize,
    boots: &[u32],
    what: &str,
) {
    let mut model = replayed(ops, calls);
    // The boot counter reflects the same number of calls (or a boot in doubt is counted).
    let boot = store.next_boot().unwrap();
    assert!(
        boot.0 == boots[calls] + 1
            || (calls > 0 && boot.0 == boots[calls - 1] + 1 && matches!(ops[calls - 1], Op::Boot))
            || (calls < ops.len()
                && boot.0 == boots[calls + 1] + 1
                && matches!(ops[calls], Op::Boot)),
        "{what}: boot {boot:?}, expected {}",
        boots[calls] + 1
    );
    let _ = model.next_boot();
    let probe = [
        Op::Push(Event::Accepted(JobKey(999))),
        Op::Suppress(NUMBERS - 1, None),
        Op::Put(1, JobRecord::new(7, true)),
        Op::Ack(u32::MAX),
        Op::Push(Event::Duplicate(JobKey(1))),
    ];
    for op in &probe {
        assert_eq!(
            apply(store, op),
            apply(&mut model, op),
            "{what}: probe {op:?} after recovery"
        );
    }
    assert_eq!(counters(store), counters(&model), "{what}: after the probe");
}

/// Cuts power at every flash operation of the calls whose index is `part` modulo `parts`.
fn run(seed: u64, jobs: u64, part: usize, parts: usize) -> (usize, usize) {
    let ops = scenario(seed, jobs);
    let (snapshots, boots, outcomes) = reference(&ops);

    // The flash store without cuts, copied before each call.
    let mut store = FlashStore::open(Flash::new(), layout()).unwrap();
    let mut copies = Vec::with_capacity(ops.len() + 1);
    // The flash operations each call ends at: reading the outbox may erase a block
    // whose events were all acknowledged (sequential-storage opens it ahead), so the
    // next copy can be a few operations further than the call itself.
    let mut ends = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        copies.push(store.clone());
        assert_eq!(apply(&mut store, op), outcomes[i], "call {i}: {op:?}");
        ends.push(store.flash_mut().ops());
        assert_eq!(observe(&store), snapshots[i + 1], "call {i}: {op:?}");
    }
    copies.push(store);

    let mut cuts = 0;
    let mut recovery_cuts = 0;
    for (i, op) in ops.iter().enumerate().skip(part).step_by(parts) {
        let first = copies[i].clone().flash_mut().ops();
        let end = ends[i];
        for k in first..end {
            let tear = TEARS[k as usize % TEARS.len()];
            let what = format!("call {i} ({op:?}), cut at flash operation {k} ({tear:?})");
            let mut store = copies[i].clone();
            store.flash_mut().cut_at(k, tear);
            let _ = apply(&mut store, op);
            let mut flash = store.into_flash();
            assert!(flash.is_cut(), "{what}: no cut");
            flash.repower();
            cuts += 1;

            let reopen_start = flash.ops();
            let mut recovered = FlashStore::open(flash.clone(), layout())
                .unwrap_or_else(|e| panic!("{what}: reopen failed: {e:?}"));
            let reopen_end = recovered.flash_mut().ops();
            let calls = check_recovered(&recovered, i, &snapshots, &what);

            // A second cut, during the reopen's own repairs.
            for m in reopen_start..reopen_end {
                let mut twice = flash.clone();
                twice.cut_at(m, TEARS[(k + m) as usize % TEARS.len()]);
                let mut twice = match FlashStore::try_open(twice, layout()) {
                    Ok(s) => s.into_flash(),
                    Err(e) => e.flash,
                };
                assert!(twice.is_cut());
                twice.repower();
                let what = format!("{what}, then at reopen operation {m}");
                let again = FlashStore::open(twice, layout())
                    .unwrap_or_else(|e| panic!("{what}: reopen failed: {e:?}"));
                check_recovered(&again, i, &snapshots, &what);
                recovery_cuts += 1;
            }

            check_goes_on(&mut recovered, &ops, calls, &boots, &what);
        }
    }
    (cuts, recovery_cuts)
}

/// The sequence: 60 jobs, with these capacities well over a thousand flash operations,
/// enough for page moves and erases in every area.
const SEED: u64 = 0x5EED_CAFE_F00D_D00D;
const JOBS_RUN: u64 = 60;

// Two halves, so that the test harness runs them on two threads.
#[test]
fn every_cut_point_leaves_the_state_before_or_after_the_call_even() {
    let (cuts, recovery_cuts) = run(SEED, JOBS_RUN, 0, 2);
    println!("even calls: {cuts} cut points, {recovery_cuts} more in the reopens after them");
    assert!(cuts > 500, "{cuts}");
}

#[test]
fn every_cut_point_leaves_the_state_before_or_after_the_call_odd() {
    let (cuts, recovery_cuts) = run(SEED, JOBS_RUN, 1, 2);
    println!("odd calls: {cuts} cut points, {recovery_cuts} more in the reopens after them");
    assert!(cuts > 500, "{cuts}");
}
