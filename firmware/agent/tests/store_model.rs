//! Random sequences of store calls, clean reopens and power cuts: the flash store answers
//! every call as the RAM reference does, and after a cut it holds the reference's state
//! before or after the interrupted call.

mod store_support;

use proptest::prelude::*;
use relais_agent::store::flash::{Capacity, Layout, RamFlash, Tear};
use relais_agent::store::{FlashStore, JobRecord, JobState, MAX_PARTS, MemStore, Store};
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{Event, JobKey, MAX_TEXT};
use store_support::{BRANDS, NUMBERS, Op, apply, counters, observe};

const CAPACITY: Capacity = Capacity {
    suppression: 6,
    jobs: 4,
    outbox: 5,
};
type Flash = RamFlash<{ 20 * 1024 }>;
type Model = MemStore<6, 4, 5>;

fn layout() -> Layout<Flash> {
    Layout::packed(0, CAPACITY).unwrap()
}

/// A step of a random run.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Step {
    /// A store call.
    Call(Op),
    /// Close the store and open it again.
    Reopen,
    /// Cut the power at the `at`-th flash operation of the next call.
    Cut(u8, Tear),
}

fn record() -> impl Strategy<Value = JobRecord> {
    (
        0..7u8,
        0..=3u8,
        any::<u8>(),
        proptest::collection::vec(0..8u8, 0..=3),
        any::<bool>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(
            |(state, parts, concat_ref, mrs, report, delivered, reported)| {
                let mut r = JobRecord::new(concat_ref, report);
                r.state = [
                    JobState::Open,
                    JobState::Sent,
                    JobState::Failed,
                    JobState::Unknown,
                    JobState::Refused,
                    JobState::Expired,
                    JobState::Cancelled,
                ][usize::from(state)];
                r.parts = parts;
                r.mrs = heapless::Vec::from_slice(&mrs[..mrs.len().min(MAX_PARTS)]).unwrap();
                r.delivered = delivered;
                r.delivery_reported = reported;
                r
            },
        )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (1..12u64).prop_map(|k| Event::Accepted(JobKey(k))),
        2 => (1..12u64, 1..4u8, 0..8u8).prop_map(|(k, part, mr)| Event::SegmentSent {
            key: JobKey(k),
            part,
            parts: 3,
            mr,
        }),
        1 => (0..=MAX_TEXT).prop_map(|len| {
            let mut text = heapless::String::new();
            for i in 0..len {
                text.push(char::from(b'a' + (i % 26) as u8)).unwrap();
            }
            Event::Inbound {
                from: heapless::String::try_from("+15551234567").unwrap(),
                text,
                at: UtcInstant(1_700_000_000),
                truncated: len == MAX_TEXT,
            }
        }),
    ]
}

fn brand_or_all() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), (0..BRANDS).prop_map(Some)]
}

fn call() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Boot),
        6 => (0..NUMBERS, brand_or_all()).prop_map(|(n, b)| Op::Suppress(n, b)),
        3 => (0..NUMBERS, brand_or_all()).prop_map(|(n, b)| Op::Unsuppress(n, b)),
        1 => Just(Op::Clear),
        8 => (1..12u64, record()).prop_map(|(k, r)| Op::Put(k, r)),
        3 => (1..12u64, 1..4u8).prop_map(|(k, p)| Op::Begin(k, p)),
        3 => Just(Op::End),
        8 => event().prop_map(Op::Push),
        4 => (0..40u32).prop_map(Op::Ack),
        3 => (0..NUMBERS, 0..BRANDS).prop_map(|(n, b)| Op::OptedOut(n, b)),
        3 => (1..12u64).prop_map(Op::Job),
        3 => (0..8u8).prop_map(Op::ByMr),
        3 => proptest::option::of(0..40u32).prop_map(Op::NextEvent),
    ]
}

fn tear() -> impl Strategy<Value = Tear> {
    prop_oneof![
        Just(Tear::Nothing),
        Just(Tear::Half),
        Just(Tear::AllButLastByte),
        (0..40usize).prop_map(Tear::Bytes),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        40 => call().prop_map(Step::Call),
        1 => Just(Step::Reopen),
        3 => (0..12u8, tear()).prop_map(|(at, tear)| Step::Cut(at, tear)),
    ]
}

/// The reference after the calls of `history`.
fn replay(history: &[Op]) -> Model {
    let mut model = Model::new();
    for op in history {
        let _ = apply(&mut model, op);
    }
    model
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut store = FlashStore::open(Flash::new(), layout()).unwrap();
    let mut model = Model::new();
    // Every call the reference took, to rebuild it around a cut.
    let mut history: Vec<Op> = Vec::new();
    let mut cut: Option<(u8, Tear)> = None;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Reopen => {
                store = FlashStore::open(store.into_flash(), layout()).unwrap();
                prop_assert_eq!(observe(&store), observe(&model), "step {}: reopen", i);
            }
            Step::Cut(at, tear) => cut = Some((*at, *tear)),
            Step::Call(op) => {
                if let Some((at, tear)) = cut.take() {
                    let first = store.flash_mut().ops();
                    store.flash_mut().cut_at(first + u32::from(at), tear);
                    let result = apply(&mut store, op);
                    let mut flash = store.into_flash();
                    if !flash.is_cut() {
                        // The call ended before the cut point: an ordinary call.
                        flash.disarm();
                        store = FlashStore::open(flash, layout()).unwrap();
                        prop_assert_eq!(&result, &apply(&mut model, op), "step {}: {:?}", i, op);
                        history.push(op.clone());
                        continue;
                    }
                    flash.repower();
                    store = FlashStore::open(flash, layout()).unwrap();
                    // What the store shows, and its boot count (by booting once more).
                    let seen = (observe(&store), store.next_boot());
                    history.push(op.clone());
                    let mut after = replay(&history);
                    if seen == (observe(&after), after.next_boot()) {
                        model = after;
                    } else {
                        history.pop();
                        prop_assert_eq!(
                            &seen,
                            &(observe(&model), model.next_boot()),
                            "step {}: cut in {:?}",
                            i,
                            op
                        );
                    }
                    history.push(Op::Boot);
                    continue;
                }
                let result = apply(&mut store, op);
                prop_assert_eq!(&result, &apply(&mut model, op), "step {}: {:?}", i, op);
                history.push(op.clone());
                prop_assert_eq!(counters(&store), counters(&model), "step {}: {:?}", i, op);
            }
        }
    }
    prop_assert_eq!(observe(&store), observe(&model), "at the end");
    let store = FlashStore::open(store.into_flash(), layout()).unwrap();
    prop_assert_eq!(observe(&store), observe(&model), "reopened at the end");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_flash_store_behaves_like_the_reference(steps in proptest::collection::vec(step(), 1..160)) {
        run(&steps)?;
    }
}
