//! The agent's host link: handshake, unknown messages, partial writes, outbox replay.

mod agent_support;

use agent_support::*;
use relais_agent::core::link::msg::{
    DeviceMsg, Event, EventId, HostHello, HostMsg, JobKey, LinkError, PROTOCOL,
};
use relais_agent::core::link::session::Seq;

const NOON: &str = "2026-11-24T11:00:00Z";

#[test]
fn handshake_answers_with_boot_capabilities_and_credits() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    let hello = rig
        .host
        .received
        .iter()
        .find_map(|m| match m {
            DeviceMsg::Hello(h) => Some(h.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(hello.protocol, PROTOCOL);
    assert_eq!(hello.boot, rig.agent().boot_id());
    assert_eq!(hello.capabilities.job_slots, 4);
    assert_eq!(hello.capabilities.suppression_capacity, 32);
    assert_eq!(hello.credits, 4);
    assert_eq!(hello.next_event, EventId(1));
    assert_eq!(hello.capabilities.modem.as_str(), "SIMCom SIM800");
    // Without network time, the host's clock is taken.
    assert_eq!(
        rig.agent().time_source(),
        Some(relais_agent::agent::TimeSource::Host)
    );
    let now = rig.agent().now_utc().unwrap();
    assert!((now.0 - utc(NOON).0).abs() < 120, "{now:?}");
}

#[test]
fn another_protocol_gets_a_version_error_and_no_jobs() {
    let mut rig: Rig = Rig::new();
    rig.host.connect();
    rig.host.send(HostMsg::Hello(HostHello {
        protocol: PROTOCOL + 1,
        time: utc(NOON),
        epoch: HOST_EPOCH,
    }));
    rig.run(30_000);
    rig.submit(job(1, "+33612345678", "hello"));
    rig.run(10_000);
    let replies: Vec<_> = rig.host.replies().cloned().collect();
    assert_eq!(
        replies,
        [
            DeviceMsg::Error(LinkError::Version {
                supported: PROTOCOL
            }),
            DeviceMsg::Error(LinkError::NotReady),
        ]
    );
    assert!(rig.modem.submitted().is_empty());
    assert!(rig.host.events.is_empty());
}

#[test]
fn network_time_wins_over_the_host_clock() {
    let mut rig: Rig = Rig::new();
    rig.modem.set_network_time(utc("2026-11-24T15:00:00Z"), 4);
    rig.start(utc(NOON));
    assert_eq!(
        rig.agent().time_source(),
        Some(relais_agent::agent::TimeSource::Network)
    );
    let now = rig.agent().now_utc().unwrap();
    assert!(
        (now.0 - utc("2026-11-24T15:00:00Z").0).abs() < 120,
        "{now:?}"
    );
    // A later handshake does not move it back to the host's clock.
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.run(2_000);
    let now = rig.agent().now_utc().unwrap();
    assert!(
        (now.0 - utc("2026-11-24T15:00:00Z").0).abs() < 120,
        "{now:?}"
    );
}

#[test]
fn an_unknown_message_gets_a_typed_error_and_the_session_goes_on() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.host.send_future();
    rig.run(1_000);
    // Hello was seq 0, the unknown message seq 1.
    assert!(
        rig.host
            .received
            .contains(&DeviceMsg::Error(LinkError::UnknownMessage { seq: Seq(1) })),
        "{:?}",
        rig.host.received
    );
    assert_eq!(rig.agent().counters().bad_frames, 0);
    // The session was not stalled: the next job goes through.
    rig.submit(job(7, "+33612345678", "still here"));
    let events = rig.until_final(7, 60_000);
    assert!(matches!(events.last(), Some(Event::Sent { .. })));
    // Answered once, although the host's retransmissions may repeat it.
    let errors = rig
        .host
        .received
        .iter()
        .filter(|m| matches!(m, DeviceMsg::Error(LinkError::UnknownMessage { .. })))
        .count();
    assert_eq!(errors, 1);
}

#[test]
fn corrupted_frames_are_counted_and_retransmission_recovers() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    // Noise on the line, then the job's frame damaged: the host's session sends it
    // again after its timeout.
    rig.host.inject.push_back(vec![0x13, 0x37, 0x42, 0x00]);
    rig.host.damage = 1;
    rig.submit(job(3, "+33612345678", "through the noise"));
    assert!(
        rig.host.job_events(3).is_empty(),
        "the damaged frame was dropped"
    );
    let events = rig.until_final(3, 60_000);
    assert!(matches!(events.last(), Some(Event::Sent { .. })));
    assert_eq!(rig.agent().counters().bad_frames, 2);
    assert_eq!(rig.sent_to("+33612345678").len(), 1);
}

#[test]
fn frames_survive_a_port_that_takes_a_few_bytes_at_a_time() {
    let mut rig: Rig = Rig::new();
    rig.port.write_budget.set(Some(0));
    rig.host.connect();
    rig.host.hello(utc(NOON));
    for _ in 0..20_000 {
        rig.port.write_budget.set(Some(5));
        rig.settle();
        rig.clock.advance(5);
        if rig
            .host
            .received
            .iter()
            .any(|m| matches!(m, DeviceMsg::Hello(_)))
            && rig.agent().modem_status().ready
        {
            break;
        }
    }
    for k in 1..=3 {
        rig.host
            .send(HostMsg::Submit(job(k, "+33612345678", "slowly")));
    }
    for _ in 0..200_000 {
        rig.port.write_budget.set(Some(5));
        rig.settle();
        rig.clock.advance(5);
        if (1..=3).all(|k| rig.host.job_events(k).iter().any(Event::is_final)) {
            break;
        }
    }
    for k in 1..=3 {
        let events = rig.host.job_events(k);
        assert!(
            matches!(events.last(), Some(Event::Sent { .. })),
            "{k}: {events:?}"
        );
    }
}

#[test]
fn outbox_events_are_sent_again_after_a_new_handshake_until_acknowledged() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.submit(job(1, "+33612345678", "one"));
    rig.until_final(1, 60_000);
    let first: Vec<_> = rig.host.events.clone().into_iter().collect();
    assert_eq!(first.len(), 3, "{first:?}"); // Accepted, SegmentSent, Sent
    // The host restarts without having acknowledged anything.
    rig.host = Host::new(rig.port.clone());
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.run(2_000);
    let again: Vec<_> = rig.host.events.clone().into_iter().collect();
    assert_eq!(again, first, "the same events, same ids, oldest first");
    let ids: Vec<u32> = rig
        .host
        .received
        .iter()
        .filter_map(|m| match m {
            DeviceMsg::Event(id, _) => Some(id.0),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    // Acknowledged: the next handshake has nothing to replay.
    rig.host.ack_all();
    rig.run(1_000);
    rig.host = Host::new(rig.port.clone());
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.run(2_000);
    assert!(rig.host.events.is_empty());
    let hello = rig.host.received.iter().find_map(|m| match m {
        DeviceMsg::Hello(h) => Some(h.next_event),
        _ => None,
    });
    assert_eq!(hello, Some(EventId(4)));
    let _ = JobKey(0);
}

#[test]
fn modem_status_is_reported_on_change_and_on_request() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.run(1_000);
    let statuses = |rig: &Rig| -> Vec<(bool, bool)> {
        rig.host
            .replies()
            .filter_map(|m| match m {
                DeviceMsg::Status(s, _) => Some((s.ready, s.sim_ready)),
                _ => None,
            })
            .collect()
    };
    // The modem became ready during the handshake: reported once, unasked.
    assert_eq!(statuses(&rig), [(true, true)]);
    rig.submit(job(1, "+33612345678", "counted"));
    rig.until_final(1, 60_000);
    rig.host.send(HostMsg::Status);
    rig.run(1_000);
    assert_eq!(statuses(&rig).len(), 2);
    let counters = rig.host.replies().filter_map(|m| match m {
        DeviceMsg::Status(_, c) => Some(*c),
        _ => None,
    });
    let last = counters.last().unwrap();
    assert_eq!((last.accepted, last.segments_sent), (1, 1));
    // Status messages are not events: nothing was added to the outbox for them.
    assert_eq!(rig.host.events.len(), 3);
}
