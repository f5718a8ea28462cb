//! The `Store` contract, written once and run against the RAM store (the reference) and
//! the flash store on a RAM flash, with the same capacities.

use heapless::String;
use relais_agent::store::flash::{Capacity, Layout, RamFlash};
use relais_agent::store::{
    FlashStore, InFlight, JobRecord, JobState, MemStore, PaceMark, PendingReply, Store, StoreError,
};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{BrandId, Event, EventId, JobKey, MAX_TEXT, Scope, digest_entry};

const CAPACITY: Capacity = Capacity {
    suppression: 4,
    jobs: 4,
    outbox: 4,
};

type Flash = RamFlash<{ 24 * 1024 }>;

fn flash_store() -> FlashStore<Flash> {
    let layout = Layout::packed(0, CAPACITY).unwrap();
    FlashStore::open(Flash::new(), layout).unwrap()
}

fn mem_store() -> MemStore<4, 4, 4> {
    MemStore::new()
}

fn n(s: &str) -> Msisdn {
    Msisdn::parse(s).unwrap()
}

fn finished(state: JobState, report: bool, mrs: &[u8], reported: bool) -> JobRecord {
    let mut r = JobRecord::new(1, report);
    r.state = state;
    r.parts = mrs.len() as u8;
    r.mrs = heapless::Vec::from_slice(mrs).unwrap();
    r.delivery_reported = reported;
    r
}

fn inbound(c: char) -> Event {
    let mut text: String<MAX_TEXT> = String::new();
    while text.push(c).is_ok() {}
    Event::Inbound {
        from: String::try_from("+33612345678").unwrap(),
        text,
        at: UtcInstant(1_700_000_000),
        truncated: true,
    }
}

fn boot_ids_are_new_each_time(s: &mut impl Store) {
    let a = s.next_boot().unwrap();
    let b = s.next_boot().unwrap();
    let c = s.next_boot().unwrap();
    assert!(a.0 < b.0 && b.0 < c.0, "{a:?} {b:?} {c:?}");
}

fn suppression_scopes_and_digest(s: &mut impl Store) {
    let acme = BrandId::of("acme");
    let other = BrandId::of("other");
    let x = n("+33612345678");
    s.suppress(&x, Scope::Brand(acme)).unwrap();
    s.suppress(&x, Scope::Brand(acme)).unwrap();
    assert_eq!(s.opted_out(&x, acme).unwrap(), Some(Scope::Brand(acme)));
    assert_eq!(s.opted_out(&x, other).unwrap(), None);
    assert_eq!(s.opted_out(&n("+33612345679"), acme).unwrap(), None);
    s.suppress(&x, Scope::All).unwrap();
    assert_eq!(s.opted_out(&x, other).unwrap(), Some(Scope::All));
    // STOPALL wins over the brand's own opt-out.
    assert_eq!(s.opted_out(&x, acme).unwrap(), Some(Scope::All));
    assert_eq!(
        s.suppression_summary().unwrap(),
        (
            2,
            digest_entry(&x, Scope::Brand(acme)).wrapping_add(digest_entry(&x, Scope::All))
        )
    );
    s.unsuppress(&x, Scope::All).unwrap();
    s.unsuppress(&x, Scope::All).unwrap();
    assert_eq!(s.opted_out(&x, other).unwrap(), None);
    assert_eq!(
        s.suppression_summary().unwrap(),
        (1, digest_entry(&x, Scope::Brand(acme)))
    );
}

fn suppression_is_bounded(s: &mut impl Store) {
    assert_eq!(s.suppression_capacity(), 4);
    let numbers = [
        "+33600000001",
        "+33600000002",
        "+33600000003",
        "+33600000004",
    ];
    for x in numbers {
        s.suppress(&n(x), Scope::All).unwrap();
    }
    let before = s.suppression_summary().unwrap();
    assert_eq!(
        s.suppress(&n("+33600000005"), Scope::All),
        Err(StoreError::Full)
    );
    // Already present: not an addition, so not full.
    s.suppress(&n(numbers[0]), Scope::All).unwrap();
    assert_eq!(s.suppression_summary().unwrap(), before);
    assert_eq!(s.opted_out(&n("+33600000005"), BrandId(1)).unwrap(), None);
    s.unsuppress(&n(numbers[1]), Scope::All).unwrap();
    s.suppress(&n("+33600000005"), Scope::All).unwrap();
    assert_eq!(
        s.opted_out(&n("+33600000005"), BrandId(1)).unwrap(),
        Some(Scope::All)
    );
}

fn clearing_suppression(s: &mut impl Store) {
    s.clear_suppression().unwrap();
    s.suppress(&n("+33600000001"), Scope::All).unwrap();
    s.suppress(&n("+33600000002"), Scope::Brand(BrandId(7)))
        .unwrap();
    s.clear_suppression().unwrap();
    assert_eq!(s.suppression_summary().unwrap(), (0, 0));
    assert_eq!(s.opted_out(&n("+33600000001"), BrandId(7)).unwrap(), None);
    assert_eq!(s.opted_out(&n("+33600000002"), BrandId(7)).unwrap(), None);
    s.suppress(&n("+33600000002"), Scope::Brand(BrandId(7)))
        .unwrap();
    assert_eq!(
        s.opted_out(&n("+33600000002"), BrandId(7)).unwrap(),
        Some(Scope::Brand(BrandId(7)))
    );
    assert_eq!(s.suppression_summary().unwrap().0, 1);
}

fn job_records_round_trip(s: &mut impl Store) {
    assert_eq!(s.job(JobKey(1)).unwrap(), None);
    let mut r = JobRecord::new(42, true);
    s.put_job(JobKey(1), &r).unwrap();
    assert_eq!(s.job(JobKey(1)).unwrap(), Some(r.clone()));
    r.parts = 3;
    for mr in [10, 11, 12] {
        r.mrs.push(mr).unwrap();
        s.put_job(JobKey(1), &r).unwrap();
        assert_eq!(s.job(JobKey(1)).unwrap(), Some(r.clone()));
    }
    r.state = JobState::Sent;
    r.delivered = 0b111;
    r.delivery_reported = true;
    s.put_job(JobKey(1), &r).unwrap();
    assert_eq!(s.job(JobKey(1)).unwrap(), Some(r));
    assert_eq!(s.job(JobKey(2)).unwrap(), None);
}

fn open_jobs_are_never_evicted(s: &mut impl Store) {
    for k in 1..=4 {
        s.put_job(JobKey(k), &JobRecord::new(k as u8, false))
            .unwrap();
    }
    assert_eq!(
        s.put_job(JobKey(5), &JobRecord::new(5, false)),
        Err(StoreError::Full)
    );
    // Updating a remembered job needs no room.
    s.put_job(JobKey(2), &finished(JobState::Sent, false, &[1], false))
        .unwrap();
    s.put_job(JobKey(5), &JobRecord::new(5, false)).unwrap();
    assert_eq!(s.job(JobKey(2)).unwrap(), None);
    for k in [1, 3, 4, 5] {
        assert!(s.job(JobKey(k)).unwrap().is_some(), "job {k}");
    }
}

fn eviction_prefers_settled_then_oldest_finished(s: &mut impl Store) {
    // 1: finished, delivery report pending (not settled); 2: settled; 3: open; 4: settled.
    s.put_job(JobKey(1), &finished(JobState::Sent, true, &[7], false))
        .unwrap();
    s.put_job(JobKey(2), &finished(JobState::Failed, false, &[], false))
        .unwrap();
    s.put_job(JobKey(3), &JobRecord::new(3, true)).unwrap();
    s.put_job(JobKey(4), &finished(JobState::Sent, true, &[8], true))
        .unwrap();
    // Rewriting 2 makes it the most recent: 4 is now the oldest settled.
    s.put_job(JobKey(2), &finished(JobState::Failed, false, &[], false))
        .unwrap();
    s.put_job(JobKey(5), &JobRecord::new(5, false)).unwrap();
    assert_eq!(s.job(JobKey(4)).unwrap(), None);
    s.put_job(JobKey(6), &JobRecord::new(6, false)).unwrap();
    assert_eq!(s.job(JobKey(2)).unwrap(), None);
    // Only 1 (finished, unsettled) can go now.
    s.put_job(JobKey(7), &JobRecord::new(7, false)).unwrap();
    assert_eq!(s.job(JobKey(1)).unwrap(), None);
    assert_eq!(
        s.put_job(JobKey(8), &JobRecord::new(8, false)),
        Err(StoreError::Full)
    );
    for k in [3, 5, 6, 7] {
        assert!(s.job(JobKey(k)).unwrap().is_some(), "job {k}");
    }
}

fn delivery_lookup_prefers_newest_unreported(s: &mut impl Store) {
    s.put_job(JobKey(1), &finished(JobState::Sent, true, &[17, 18], false))
        .unwrap();
    s.put_job(JobKey(2), &finished(JobState::Sent, true, &[30, 17], false))
        .unwrap();
    s.put_job(JobKey(3), &finished(JobState::Sent, false, &[17], false))
        .unwrap();
    let (key, record, part) = s.job_by_mr(17).unwrap().unwrap();
    assert_eq!((key, part), (JobKey(2), 2));
    assert_eq!(record.mrs.as_slice(), &[30, 17]);
    // Reported: no longer a candidate, the older job answers.
    s.put_job(JobKey(2), &finished(JobState::Sent, true, &[30, 17], true))
        .unwrap();
    assert_eq!(
        s.job_by_mr(17).unwrap().map(|m| (m.0, m.2)),
        Some((JobKey(1), 1))
    );
    // Rewriting 1 unchanged keeps it the answer.
    s.put_job(JobKey(1), &finished(JobState::Sent, true, &[17, 18], false))
        .unwrap();
    assert_eq!(
        s.job_by_mr(18).unwrap().map(|m| (m.0, m.2)),
        Some((JobKey(1), 2))
    );
    assert_eq!(s.job_by_mr(30).unwrap(), None);
    assert_eq!(s.job_by_mr(99).unwrap(), None);
}

fn journal_marks_and_clears(s: &mut impl Store) {
    assert_eq!(s.in_flight().unwrap(), None);
    s.end_send().unwrap();
    let seg = InFlight {
        key: JobKey(9),
        part: 2,
    };
    s.begin_send(seg).unwrap();
    assert_eq!(s.in_flight().unwrap(), Some(seg));
    s.begin_send(seg).unwrap();
    let next = InFlight {
        key: JobKey(9),
        part: 3,
    };
    s.begin_send(next).unwrap();
    assert_eq!(s.in_flight().unwrap(), Some(next));
    s.end_send().unwrap();
    assert_eq!(s.in_flight().unwrap(), None);
}

fn outbox_numbers_and_acks(s: &mut impl Store) {
    assert_eq!(s.next_event_id().unwrap(), EventId(1));
    assert_eq!(s.next_event(None).unwrap(), None);
    let ids: Vec<EventId> = (1..=4)
        .map(|k| s.push_event(&Event::Accepted(JobKey(k))).unwrap())
        .collect();
    assert_eq!(ids, [EventId(1), EventId(2), EventId(3), EventId(4)]);
    assert_eq!(
        s.push_event(&Event::Accepted(JobKey(5))),
        Err(StoreError::Full)
    );
    assert_eq!(s.outbox_len().unwrap(), 4);
    assert_eq!(
        s.next_event(None).unwrap(),
        Some((EventId(1), Event::Accepted(JobKey(1))))
    );
    assert_eq!(
        s.next_event(Some(EventId(2))).unwrap(),
        Some((EventId(3), Event::Accepted(JobKey(3))))
    );
    assert_eq!(s.next_event(Some(EventId(4))).unwrap(), None);
    s.ack_events(EventId(2)).unwrap();
    s.ack_events(EventId(1)).unwrap();
    assert_eq!(s.outbox_len().unwrap(), 2);
    assert_eq!(s.next_event(None).unwrap().map(|e| e.0), Some(EventId(3)));
    assert_eq!(
        s.next_event(Some(EventId(1))).unwrap().map(|e| e.0),
        Some(EventId(3))
    );
    let five = s.push_event(&Event::Duplicate(JobKey(5))).unwrap();
    assert_eq!(five, EventId(5));
    // Acknowledging beyond the last id drops everything but numbers go on.
    s.ack_events(EventId(1000)).unwrap();
    assert_eq!(s.outbox_len().unwrap(), 0);
    assert_eq!(s.next_event(None).unwrap(), None);
    assert_eq!(s.next_event_id().unwrap(), EventId(6));
    assert_eq!(
        s.push_event(&Event::Accepted(JobKey(6))).unwrap(),
        EventId(6)
    );
    assert_eq!(s.next_event(None).unwrap().map(|e| e.0), Some(EventId(6)));
}

fn outbox_holds_its_capacity_of_largest_events(s: &mut impl Store) {
    let mut pushed = Vec::new();
    for round in 0..4u8 {
        while s.outbox_len().unwrap() < 4 {
            let event = inbound(char::from(b'a' + pushed.len() as u8 % 26));
            pushed.push((s.push_event(&event).unwrap(), event));
        }
        assert_eq!(s.push_event(&inbound('z')), Err(StoreError::Full));
        // Everything not acknowledged is there, in order.
        let mut after = None;
        let mut held = Vec::new();
        while let Some((id, event)) = s.next_event(after).unwrap() {
            after = Some(id);
            held.push((id, event));
        }
        assert_eq!(held.as_slice(), &pushed[pushed.len() - 4..]);
        // Free a varying number of slots each round.
        s.ack_events(EventId(held[0].0.0 + u32::from(round)))
            .unwrap();
    }
}

fn pace_is_kept_and_replaced(s: &mut impl Store) {
    assert_eq!(s.pace().unwrap(), None);
    let mut mark = PaceMark {
        at: UtcInstant(1_700_000_000),
        minute: 3,
        hour: 40,
        day: [100, 0, 7, 0, 0, u16::MAX],
    };
    s.put_pace(&mark).unwrap();
    assert_eq!(s.pace().unwrap().as_ref(), Some(&mark));
    mark.minute = 4;
    mark.at = UtcInstant(1_700_000_005);
    s.put_pace(&mark).unwrap();
    assert_eq!(s.pace().unwrap(), Some(mark));
}

/// The replies a store keeps: key, number and text, in order.
fn kept(s: &impl Store) -> Vec<(u64, Msisdn, std::string::String)> {
    let mut all = Vec::new();
    s.replies(&mut |k: JobKey, r: PendingReply| all.push((k.0, r.to, r.text.to_string())))
        .unwrap();
    all
}

fn replies_are_kept_in_order_until_removed(s: &mut impl Store) {
    let key = |i: u64| JobKey(0xFFFF_0000_0000_0000 | i);
    let long: std::string::String = "é".repeat(80);
    s.put_reply(key(3), &n("+33612345678"), "STOP pris en compte")
        .unwrap();
    s.put_reply(key(1), &n("+4915112345678"), &long).unwrap();
    // Putting the same key again changes nothing.
    s.put_reply(key(3), &n("+33612345678"), "STOP pris en compte")
        .unwrap();
    s.put_reply(key(2), &n("+33612345679"), "Aide").unwrap();
    // The agent keeps at most three.
    assert_eq!(
        s.put_reply(key(4), &n("+33612345670"), "x"),
        Err(StoreError::Full)
    );
    assert_eq!(
        kept(s),
        [
            (
                key(3).0,
                n("+33612345678"),
                "STOP pris en compte".to_string()
            ),
            (key(1).0, n("+4915112345678"), long.clone()),
            (key(2).0, n("+33612345679"), "Aide".to_string()),
        ]
    );
    s.remove_reply(key(1)).unwrap();
    s.remove_reply(key(1)).unwrap();
    s.put_reply(key(4), &n("+33612345670"), "x").unwrap();
    let keys: Vec<u64> = kept(s).iter().map(|(k, _, _)| *k).collect();
    assert_eq!(keys, [key(3).0, key(2).0, key(4).0]);
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod mem {
            $(#[test] fn $check() { super::$check(&mut super::mem_store()) })*
        }
        mod flash {
            $(#[test] fn $check() { super::$check(&mut super::flash_store()) })*
        }
    };
}

contract!(
    boot_ids_are_new_each_time,
    suppression_scopes_and_digest,
    suppression_is_bounded,
    clearing_suppression,
    job_records_round_trip,
    open_jobs_are_never_evicted,
    eviction_prefers_settled_then_oldest_finished,
    delivery_lookup_prefers_newest_unreported,
    journal_marks_and_clears,
    outbox_numbers_and_acks,
    outbox_holds_its_capacity_of_largest_events,
    pace_is_kept_and_replaced,
    replies_are_kept_in_order_until_removed,
);

#[test]
fn pace_and_replies_survive_a_reopen_of_the_flash() {
    let layout = Layout::packed(0, CAPACITY).unwrap();
    let mut s = FlashStore::open(Flash::new(), layout.clone()).unwrap();
    let mark = PaceMark {
        at: UtcInstant(1_700_000_000),
        minute: 1,
        hour: 2,
        day: [3, 4, 5, 6, 7, 8],
    };
    s.put_pace(&mark).unwrap();
    let key = JobKey(0xFFFF_0000_0001_0000);
    s.put_reply(key, &n("+33612345678"), "STOP pris en compte")
        .unwrap();
    s.put_reply(JobKey(key.0 + 1), &n("+33612345679"), "Aide")
        .unwrap();
    s.remove_reply(JobKey(key.0 + 1)).unwrap();
    // Many more writes of the pace: the meta area is compacted on the way.
    for i in 0..300u16 {
        let mut m = mark.clone();
        m.minute = i;
        s.put_pace(&m).unwrap();
    }
    let s = FlashStore::open(s.into_flash(), layout).unwrap();
    assert_eq!(s.pace().unwrap().map(|m| m.minute), Some(299));
    let mut all = Vec::new();
    s.replies(&mut |k, r| all.push((k, r.text.to_string())))
        .unwrap();
    assert_eq!(all, [(key, "STOP pris en compte".to_string())]);
}
