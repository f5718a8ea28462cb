//! Shared by the flash-store model tests: operations on a `Store`, and what a store shows
//! through the trait, to compare the flash store with the RAM reference.

#![allow(dead_code)]

use relais_agent::store::{InFlight, JobRecord, PaceMark, PendingReply, Store, StoreError};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{BootId, BrandId, Event, EventId, JobKey, Scope};

/// Numbers the operations use, by index.
pub const NUMBERS: u32 = 12;
/// Brands the operations use, by index.
pub const BRANDS: u32 = 2;
/// Job keys the operations use: 1 to `JOBS`.
pub const JOBS: u64 = 64;
/// Message references the operations use: 0 to `MRS - 1`.
pub const MRS: u8 = 40;

pub fn number(i: u32) -> Msisdn {
    Msisdn::parse(&format!("+3361{:07}", i)).unwrap()
}

pub fn brand(i: u32) -> BrandId {
    BrandId(1000 + i)
}

pub fn scope(brand_index: Option<u32>) -> Scope {
    brand_index.map_or(Scope::All, |b| Scope::Brand(brand(b)))
}

/// One `Store` call.
#[derive(Clone, Debug)]
// Test values, like the events they carry: the largest variant is the point.
#[allow(clippy::large_enum_variant)]
pub enum Op {
    Boot,
    Suppress(u32, Option<u32>),
    Unsuppress(u32, Option<u32>),
    Clear,
    Put(u64, JobRecord),
    Begin(u64, u8),
    End,
    Push(Event),
    Ack(u32),
    Pace(PaceMark),
    /// A keyword reply under reserved key `REPLY_KEYS | i`, to number `n`.
    PutReply(u64, u32, String),
    RemoveReply(u64),
    // Reads, compared like the rest.
    OptedOut(u32, u32),
    Job(u64),
    ByMr(u8),
    NextEvent(Option<u32>),
}

/// What a call returned.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Done,
    Boot(BootId),
    Event(EventId),
    OptedOut(Option<Scope>),
    Job(Option<JobRecord>),
    ByMr(Option<(JobKey, JobRecord, u8)>),
    NextEvent(Option<(EventId, Event)>),
}

pub fn apply(s: &mut impl Store, op: &Op) -> Result<Outcome, StoreError> {
    Ok(match op {
        Op::Boot => Outcome::Boot(s.next_boot()?),
        Op::Suppress(n, b) => {
            s.suppress(&number(*n), scope(*b))?;
            Outcome::Done
        }
        Op::Unsuppress(n, b) => {
            s.unsuppress(&number(*n), scope(*b))?;
            Outcome::Done
        }
        Op::Clear => {
            s.clear_suppression()?;
            Outcome::Done
        }
        Op::Put(k, r) => {
            s.put_job(JobKey(*k), r)?;
            Outcome::Done
        }
        Op::Begin(k, part) => {
            s.begin_send(InFlight {
                key: JobKey(*k),
                part: *part,
            })?;
            Outcome::Done
        }
        Op::End => {
            s.end_send()?;
            Outcome::Done
        }
        Op::Push(e) => Outcome::Event(s.push_event(e)?),
        Op::Ack(upto) => {
            s.ack_events(EventId(*upto))?;
            Outcome::Done
        }
        Op::Pace(mark) => {
            s.put_pace(mark)?;
            Outcome::Done
        }
        Op::PutReply(i, n, text) => {
            s.put_reply(reply_key(*i), &number(*n), text)?;
            Outcome::Done
        }
        Op::RemoveReply(i) => {
            s.remove_reply(reply_key(*i))?;
            Outcome::Done
        }
        Op::OptedOut(n, b) => Outcome::OptedOut(s.opted_out(&number(*n), brand(*b))?),
        Op::Job(k) => Outcome::Job(s.job(JobKey(*k))?),
        Op::ByMr(mr) => Outcome::ByMr(s.job_by_mr(*mr)?),
        Op::NextEvent(after) => Outcome::NextEvent(s.next_event(after.map(EventId))?),
    })
}

/// The key of keyword reply `i`.
pub fn reply_key(i: u64) -> JobKey {
    JobKey(0xFFFF_0000_0000_0000 | i)
}

/// Everything a store shows through the trait's read methods, over the numbers, brands,
/// keys and references the operations use.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub summary: (u32, u64),
    pub opted_out: Vec<Option<Scope>>,
    pub jobs: Vec<Option<JobRecord>>,
    pub by_mr: Vec<Option<(JobKey, JobRecord, u8)>>,
    pub in_flight: Option<InFlight>,
    pub outbox: Vec<(EventId, Event)>,
    pub outbox_len: usize,
    pub next_event_id: EventId,
    pub pace: Option<PaceMark>,
    pub replies: Vec<(JobKey, PendingReply)>,
}

pub fn observe(s: &impl Store) -> Snapshot {
    let mut opted_out = Vec::new();
    for n in 0..NUMBERS {
        for b in 0..BRANDS {
            opted_out.push(s.opted_out(&number(n), brand(b)).unwrap());
        }
    }
    let mut outbox = Vec::new();
    let mut after = None;
    while let Some((id, event)) = s.next_event(after).unwrap() {
        after = Some(id);
        outbox.push((id, event));
    }
    // Paging from the middle gives the same events.
    if let Some((id, _)) = outbox.get(1) {
        let from_middle = s.next_event(Some(EventId(id.0 - 1))).unwrap();
        assert_eq!(from_middle.as_ref(), outbox.get(1));
    }
    Snapshot {
        summary: s.suppression_summary().unwrap(),
        opted_out,
        jobs: (1..=JOBS).map(|k| s.job(JobKey(k)).unwrap()).collect(),
        by_mr: (0..MRS).map(|mr| s.job_by_mr(mr).unwrap()).collect(),
        in_flight: s.in_flight().unwrap(),
        outbox,
        outbox_len: s.outbox_len().unwrap(),
        next_event_id: s.next_event_id().unwrap(),
        pace: s.pace().unwrap(),
        replies: {
            let mut replies = Vec::new();
            s.replies(&mut |k, r| replies.push((k, r))).unwrap();
            replies
        },
    }
}

/// The part of [`Snapshot`] that costs no scan of the suppression or job areas.
#[derive(Clone, Debug, PartialEq)]
pub struct Counters {
    pub summary: (u32, u64),
    pub in_flight: Option<InFlight>,
    pub outbox_len: usize,
    pub next_event_id: EventId,
    pub oldest_event: Option<(EventId, Event)>,
}

pub fn counters(s: &impl Store) -> Counters {
    Counters {
        summary: s.suppression_summary().unwrap(),
        in_flight: s.in_flight().unwrap(),
        outbox_len: s.outbox_len().unwrap(),
        next_event_id: s.next_event_id().unwrap(),
        oldest_event: s.next_event(None).unwrap(),
    }
}
