//! The flash store on a RAM flash, on the host CPU: not device timings (no flash wait
//! states, a different CPU), but each figure counts the same flash reads and writes a
//! device makes, so a pathology shows here first.
//!
//! The store has the board's capacities (500 opt-outs, 64 job records, 32 events) and is
//! filled before measuring: every opt-out lookup scans all 500 entries.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use relais_agent::store::flash::{Capacity, Layout, RamFlash};
use relais_agent::store::{FlashStore, JobRecord, JobState, Store};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{BrandId, Event, EventId, JobKey, Scope};

type Board = RamFlash<{ 64 * 1024 }>;

const BOARD: Capacity = Capacity {
    suppression: 500,
    jobs: 64,
    outbox: 32,
};

fn number(i: u32) -> Msisdn {
    Msisdn::parse(&format!("+336{:08}", i)).unwrap()
}

/// A store with 500 opt-outs, 64 finished job records and 16 events.
fn full_store() -> FlashStore<Board> {
    let layout = Layout::packed(0, BOARD).unwrap();
    let mut s = FlashStore::open(Board::new(), layout).unwrap();
    for i in 0..500 {
        let scope = if i % 4 == 0 {
            Scope::All
        } else {
            Scope::Brand(BrandId(i % 7))
        };
        s.suppress(&number(i), scope).unwrap();
    }
    for k in 0..64u64 {
        s.put_job(JobKey(k), &sent(k, 2)).unwrap();
    }
    for k in 0..16 {
        s.push_event(&Event::Accepted(JobKey(k))).unwrap();
    }
    s
}

fn sent(k: u64, parts: u8) -> JobRecord {
    let mut r = JobRecord::new(k as u8, true);
    r.parts = parts;
    for p in 0..parts {
        r.mrs.push((k as u8).wrapping_add(p)).unwrap();
    }
    r.state = JobState::Sent;
    r.delivery_reported = true;
    r
}

fn bench(c: &mut Criterion) {
    let mut s = full_store();
    let mut g = c.benchmark_group("flash_store");

    g.bench_function("opted_out, 500 entries, not found", |b| {
        b.iter(|| s.opted_out(black_box(&number(9_999)), BrandId(3)).unwrap())
    });
    g.bench_function("opted_out, 500 entries, brand entry", |b| {
        b.iter(|| {
            s.opted_out(black_box(&number(499)), BrandId(499 % 7))
                .unwrap()
        })
    });
    g.bench_function("job, 64 records", |b| {
        b.iter(|| s.job(black_box(JobKey(31))).unwrap())
    });

    // A job going through its segments: each write a new version of one record.
    let mut mr = 0u8;
    g.bench_function("put_job, update among 64 records", |b| {
        b.iter(|| {
            let mut r = JobRecord::new(1, true);
            r.parts = 3;
            mr = mr.wrapping_add(1);
            r.mrs.push(mr).unwrap();
            s.put_job(JobKey(40), &r).unwrap()
        })
    });
    // New jobs: each evicts the least recently written settled record.
    let mut key = 1_000u64;
    g.bench_function("put_job, new record evicting one of 64", |b| {
        b.iter(|| {
            key += 1;
            s.put_job(JobKey(key), &sent(key, 1)).unwrap()
        })
    });

    // Events: the host acknowledges all of them whenever the outbox is full.
    g.bench_function("push_event (ack of 32 every 32 pushes)", |b| {
        b.iter(|| {
            if s.outbox_len().unwrap() == 32 {
                let last = s.next_event_id().unwrap().0 - 1;
                s.ack_events(EventId(last)).unwrap();
            }
            s.push_event(black_box(&Event::Accepted(JobKey(7))))
                .unwrap()
        })
    });
    g.bench_function("next_event, oldest", |b| {
        b.iter(|| s.next_event(None).unwrap())
    });

    let layout = Layout::packed(0, BOARD).unwrap();
    g.bench_function("open a full store", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                let flash = s.clone().into_flash();
                let start = std::time::Instant::now();
                black_box(FlashStore::open(flash, layout.clone()).unwrap());
                spent += start.elapsed();
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
