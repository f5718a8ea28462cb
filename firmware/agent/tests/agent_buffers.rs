//! The agent with its buffers outside it, as on a board: `Agent::with_buffers` and
//! `Agent::init_in` on a borrowed `AgentBuffers` behave as `Agent::new`, and a new
//! agent on buffers an earlier one used starts empty.

mod agent_support;

use std::mem::MaybeUninit;

use agent_support::*;
use relais_agent::agent::{Agent, AgentBuffers, Config};
use relais_agent::core::link::msg::{BootId, DeviceMsg, Event, JobKey};
use relais_agent::modem::{Modem, NoPowerControl, Profile};
use relais_agent::store::{InFlight, JobRecord, Store as _};

const NOON: &str = "2026-11-24T11:00:00Z";
const TO: &str = "+33612345678";

#[test]
fn a_job_is_sent_once_by_an_agent_on_borrowed_buffers() {
    let mut buffers = AgentBuffers::<4>::new();
    let mut rig = Rig::with_buffers(Store::<64>::new(), &mut buffers);
    rig.start(utc(NOON));
    rig.submit(job(1, TO, "Your parcel arrives today"));
    let events = rig.until_final(1, 60_000);
    assert_eq!(
        events,
        [
            Event::Accepted(JobKey(1)),
            Event::SegmentSent {
                key: JobKey(1),
                part: 1,
                parts: 1,
                mr: 1
            },
            Event::Sent {
                key: JobKey(1),
                parts: 1
            },
        ]
    );
    assert_eq!(rig.sent_to(TO).len(), 1);
    drop(rig);
    // The finished job left its slot in the caller's buffers.
    assert_eq!(buffers.free_slots(), 4);
}

#[test]
fn a_new_agent_on_used_buffers_starts_with_every_slot_free() {
    let mut buffers = AgentBuffers::<4>::new();
    let mut rig = Rig::with_buffers(Store::<64>::new(), &mut buffers);
    rig.start(utc(NOON));
    // Held in its slot for five minutes (a longer wait would give the job back to the
    // host and free the slot).
    rig.submit(job(1, TO, "Soon").with_not_before(utc("2026-11-24T11:05:00Z")));
    assert_eq!(rig.agent().credits(), 3);
    drop(rig);
    assert_eq!(buffers.free_slots(), 3);

    let mut rig = Rig::with_buffers(Store::<64>::new(), &mut buffers);
    assert_eq!(rig.agent().credits(), 4);
    rig.start(utc(NOON));
    let hello = rig.host.received.iter().find_map(|m| match m {
        DeviceMsg::Hello(h) => Some(h.credits),
        _ => None,
    });
    assert_eq!(hello, Some(4));
    // The old agent's job is not the new one's: nothing goes out tomorrow either.
    rig.run(24 * 3_600_000);
    assert!(rig.modem.submitted().is_empty());
}

#[test]
fn init_in_builds_the_agent_in_its_place_and_settles_an_interrupted_send() {
    let mut store = Store::<64>::new();
    store.next_boot().unwrap();
    store.put_job(JobKey(7), &JobRecord::new(1, false)).unwrap();
    store
        .begin_send(InFlight {
            key: JobKey(7),
            part: 1,
        })
        .unwrap();

    let clock = TestClock::default();
    let modem = FakeModem::new(clock.clone());
    let mut buffers = AgentBuffers::<4>::new();
    let mut place = MaybeUninit::uninit();
    let agent: &mut TestAgent<Store<64>, &mut AgentBuffers<4>> = Agent::init_in(
        &mut place,
        &mut buffers,
        LinkPort::default(),
        Modem::new(modem, NoPowerControl, clock.clone(), Profile::SIM800),
        clock,
        store,
        Config::default(),
    )
    .unwrap();
    assert_eq!(agent.boot_id(), BootId(2));
    assert_eq!(agent.credits(), 4);
    assert!(agent.store().in_flight().unwrap().is_none());
    let (_, event) = agent.store().next_event(None).unwrap().unwrap();
    assert_eq!(
        event,
        Event::Unknown {
            key: JobKey(7),
            part: 1
        }
    );
    assert_eq!(agent.counters().unknown, 1);
    let in_place: *const _ = agent;
    assert!(std::ptr::eq(in_place, place.as_ptr()));
}
