//! What is particular to the flash store: layouts, opening, formatting, and a clean
//! reopen that keeps everything.

use relais_agent::store::flash::{Area, Areas, Capacity, EVENT_MAX, Layout, LayoutError, RamFlash};
use relais_agent::store::{FlashStore, InFlight, JobRecord, JobState, Store, StoreError};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{BrandId, Event, EventId, JobKey, Scope};

type Board = RamFlash<{ 64 * 1024 }>;

const BOARD: Capacity = Capacity {
    suppression: 500,
    jobs: 64,
    outbox: 32,
};

fn n(i: u32) -> Msisdn {
    Msisdn::parse(&format!("+336{:08}", i)).unwrap()
}

#[test]
fn the_board_capacities_fit_in_61_blocks_of_1_kib() {
    let layout = Layout::<Board>::packed(0, BOARD).unwrap();
    let a = layout.areas();
    let blocks = |r: &std::ops::Range<u32>| (r.end - r.start) / 1024;
    assert_eq!(
        [
            blocks(&a.meta),
            blocks(&a.suppression),
            blocks(&a.jobs),
            blocks(&a.outbox)
        ],
        [4, 12, 11, 34]
    );
    assert_eq!(layout.end(), 61 * 1024);
    assert_eq!(Layout::<Board>::item_bytes(5 + EVENT_MAX), 688);
}

#[test]
fn layouts_that_cannot_hold_their_capacities_are_refused() {
    let cap = Capacity {
        suppression: 100,
        jobs: 8,
        outbox: 4,
    };
    let areas = |meta: u32, sup: u32, jobs: u32, outbox: u32| {
        let mut at = 0;
        let mut next = |blocks: u32| {
            let r = at..at + blocks * 1024;
            at = r.end;
            r
        };
        Areas {
            meta: next(meta),
            suppression: next(sup),
            jobs: next(jobs),
            outbox: next(outbox),
        }
    };
    assert!(Layout::<Board>::new(areas(3, 4, 3, 6), cap).is_ok());
    assert_eq!(
        Layout::<Board>::new(areas(2, 4, 3, 6), cap).unwrap_err(),
        LayoutError::TooSmall {
            area: Area::Meta,
            blocks: 3
        }
    );
    assert_eq!(
        Layout::<Board>::new(areas(3, 3, 3, 6), cap).unwrap_err(),
        LayoutError::TooSmall {
            area: Area::Suppression,
            blocks: 4
        }
    );
    assert_eq!(
        Layout::<Board>::new(areas(3, 4, 3, 5), cap).unwrap_err(),
        LayoutError::TooSmall {
            area: Area::Outbox,
            blocks: 6
        }
    );
    let mut bad = areas(3, 4, 3, 6);
    bad.jobs.start += 4;
    assert_eq!(
        Layout::<Board>::new(bad, cap).unwrap_err(),
        LayoutError::NotAligned(Area::Jobs)
    );
    let mut overlap = areas(3, 4, 3, 6);
    overlap.outbox = 0..6 * 1024;
    assert_eq!(
        Layout::<Board>::new(overlap, cap).unwrap_err(),
        LayoutError::Overlap
    );
    // A 512-byte block cannot hold the largest event.
    assert_eq!(
        Layout::<RamFlash<{ 32 * 1024 }, 512>>::packed(0, cap).unwrap_err(),
        LayoutError::Geometry
    );
}

#[test]
fn a_flash_smaller_than_the_layout_is_a_medium_error() {
    let layout = Layout::<RamFlash<{ 16 * 1024 }>>::packed(0, BOARD).unwrap();
    let err = FlashStore::try_open(RamFlash::<{ 16 * 1024 }>::new(), layout).unwrap_err();
    assert_eq!(err.error, StoreError::Medium);
}

#[test]
fn format_starts_afresh_whatever_the_flash_held() {
    let layout = Layout::<Board>::packed(0, BOARD).unwrap();
    let mut flash = Board::new();
    // Something else's data: every block half written with a pattern.
    use embedded_storage::nor_flash::NorFlash;
    for block in 0..64u32 {
        flash.write(block * 1024, &[0x5A; 512]).unwrap();
    }
    // Opening it is not an answer (sequential-storage skips what it cannot read), but it
    // must not panic.
    let flash = match FlashStore::try_open(flash, layout.clone()) {
        Ok(store) => store.into_flash(),
        Err(e) => e.flash,
    };
    let mut store = FlashStore::format(flash, layout.clone()).unwrap();
    assert_eq!(store.next_boot().unwrap().0, 1);
    assert_eq!(store.suppression_summary().unwrap(), (0, 0));
    store.suppress(&n(1), Scope::All).unwrap();
    store.put_job(JobKey(1), &JobRecord::new(1, false)).unwrap();
    store.push_event(&Event::Accepted(JobKey(1))).unwrap();
    let store = FlashStore::open(store.into_flash(), layout).unwrap();
    assert_eq!(store.suppression_summary().unwrap().0, 1);
    assert!(store.job(JobKey(1)).unwrap().is_some());
    assert_eq!(store.next_event_id().unwrap(), EventId(2));
}

#[test]
fn a_clean_reopen_keeps_everything() {
    let layout = Layout::<Board>::packed(0, BOARD).unwrap();
    let mut s = FlashStore::open(Board::new(), layout.clone()).unwrap();
    let boot = s.next_boot().unwrap();
    let brand = BrandId::of("acme");
    for i in 0..120 {
        let scope = if i % 3 == 0 {
            Scope::All
        } else {
            Scope::Brand(brand)
        };
        s.suppress(&n(i), scope).unwrap();
    }
    for i in (0..120).step_by(7) {
        s.unsuppress(
            &n(i),
            if i % 3 == 0 {
                Scope::All
            } else {
                Scope::Brand(brand)
            },
        )
        .unwrap();
    }
    for k in 0..80u64 {
        let mut r = JobRecord::new(k as u8, k % 2 == 0);
        r.parts = 2;
        r.mrs.push(k as u8).unwrap();
        if k % 4 != 3 {
            r.mrs.push(k as u8 + 1).unwrap();
            r.state = JobState::Sent;
        }
        r.delivery_reported = k % 8 == 0;
        s.put_job(JobKey(k), &r).unwrap();
    }
    s.begin_send(InFlight {
        key: JobKey(79),
        part: 2,
    })
    .unwrap();
    for k in 0..20 {
        s.push_event(&Event::Accepted(JobKey(k))).unwrap();
    }
    s.ack_events(EventId(12)).unwrap();

    let before = observe(&s);
    let s = FlashStore::open(s.into_flash(), layout.clone()).unwrap();
    assert_eq!(observe(&s), before);
    let mut s = s;
    assert_eq!(s.next_boot().unwrap().0, boot.0 + 1);

    // Acknowledge everything, reopen: ids go on from where they were.
    s.ack_events(EventId(20)).unwrap();
    let mut s = FlashStore::open(s.into_flash(), layout).unwrap();
    assert_eq!(s.outbox_len().unwrap(), 0);
    assert_eq!(
        s.push_event(&Event::Accepted(JobKey(1))).unwrap(),
        EventId(21)
    );
}

/// Everything the trait shows of a store with the contents of the test above.
fn observe(s: &impl Store) -> String {
    let mut out = String::new();
    out += &format!("{:?}\n", s.suppression_summary().unwrap());
    for i in 0..125 {
        out += &format!("{:?}", s.opted_out(&n(i), BrandId::of("acme")).unwrap());
    }
    for k in 0..85 {
        out += &format!("{:?}\n", s.job(JobKey(k)).unwrap());
    }
    for mr in 0..90 {
        out += &format!("{:?}", s.job_by_mr(mr).unwrap().map(|m| (m.0, m.2)));
    }
    out += &format!("{:?}\n", s.in_flight().unwrap());
    let mut after = None;
    while let Some((id, event)) = s.next_event(after).unwrap() {
        out += &format!("{id:?} {event:?}\n");
        after = Some(id);
    }
    out += &format!(
        "{:?} {:?}",
        s.outbox_len().unwrap(),
        s.next_event_id().unwrap()
    );
    out
}

/// The layout promises its capacities whatever the order of writes: churn each area at
/// its capacity and check that nothing is refused below it.
#[test]
fn the_board_capacities_hold_under_churn() {
    let layout = Layout::<Board>::packed(0, BOARD).unwrap();
    let mut s = FlashStore::open(Board::new(), layout.clone()).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };

    // Opt-outs: fill, then replace random ones many times over.
    let mut present: Vec<u32> = (0..500).collect();
    for i in &present {
        s.suppress(&n(*i), Scope::All).unwrap();
    }
    let mut fresh = 500;
    for _ in 0..1500 {
        let gone = present.swap_remove(rand(present.len() as u64) as usize);
        s.unsuppress(&n(gone), Scope::All).unwrap();
        s.suppress(&n(fresh), Scope::All).unwrap();
        present.push(fresh);
        fresh += 1;
    }
    assert_eq!(s.suppress(&n(fresh), Scope::All), Err(StoreError::Full));

    // Job records: 64 open ones rewritten segment by segment, then finished and replaced.
    for round in 0..8u64 {
        for k in 0..64u64 {
            let key = JobKey(round * 64 + k);
            let mut r = JobRecord::new(k as u8, true);
            r.parts = 3;
            s.put_job(key, &r).unwrap();
            for mr in 0..3 {
                r.mrs.push(mr).unwrap();
                s.put_job(key, &r).unwrap();
            }
        }
        for k in 0..64u64 {
            let key = JobKey(round * 64 + k);
            let mut r = s.job(key).unwrap().unwrap();
            r.state = JobState::Sent;
            r.delivery_reported = rand(2) == 0;
            s.put_job(key, &r).unwrap();
        }
    }

    // Events: a mix of the largest and the smallest, acknowledged at random.
    for _ in 0..600 {
        if s.outbox_len().unwrap() < 32 {
            let event = if rand(3) == 0 {
                Event::Inbound {
                    from: "+33612345678".try_into().unwrap(),
                    text: "x".repeat(640).as_str().try_into().unwrap(),
                    at: relais_core::compliance::tz::UtcInstant(0),
                    truncated: true,
                }
            } else {
                Event::Accepted(JobKey(rand(1000)))
            };
            s.push_event(&event).unwrap();
        } else {
            assert_eq!(
                s.push_event(&Event::Accepted(JobKey(1))),
                Err(StoreError::Full)
            );
            let oldest = s.next_event(None).unwrap().unwrap().0;
            s.ack_events(EventId(oldest.0 + rand(8) as u32)).unwrap();
        }
    }

    // All of it is still there after a reopen.
    let s = FlashStore::open(s.into_flash(), layout).unwrap();
    assert_eq!(s.suppression_summary().unwrap().0, 500);
    for i in present.iter().step_by(25) {
        assert_eq!(s.opted_out(&n(*i), BrandId(1)).unwrap(), Some(Scope::All));
    }
    for k in 7 * 64..8 * 64 {
        assert_eq!(s.job(JobKey(k)).unwrap().unwrap().state, JobState::Sent);
    }
    assert!(s.outbox_len().unwrap() > 0);
}
