//! The agent's jobs end to end against an in-memory modem and a host stand-in: sent
//! exactly once, never twice after duplicates, replays or reboots; resumed after the
//! last sent segment; unknown outcomes reported; retries bounded.

mod agent_support;

use agent_support::*;
use relais_agent::agent::REPLY_KEYS;
use relais_agent::core::link::msg::{
    Delivery, DeviceMsg, Event, HostMsg, JobKey, LinkError, SendFailure,
};
use relais_agent::store::{JobState, Store as _};

const NOON: &str = "2026-11-24T11:00:00Z";
const TO: &str = "+33612345678";

fn last_credits(host: &Host) -> Option<u8> {
    host.replies()
        .filter_map(|m| match m {
            DeviceMsg::Credits(c) => Some(*c),
            _ => None,
        })
        .last()
}

fn long_text() -> String {
    // 400 GSM characters: three segments of at most 153.
    "Relais test message. ".repeat(20)
}

#[test]
fn a_job_is_sent_once_with_its_events_in_order() {
    let mut rig: Rig = Rig::new();
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
    let sent = rig.sent_to(TO);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "Your parcel arrives today");
    assert_eq!(sent[0].concat, None);
    // Credits went down while the job held a slot and came back.
    let credits: Vec<u8> = rig
        .host
        .replies()
        .filter_map(|m| match m {
            DeviceMsg::Credits(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(credits, [3, 4]);
    let record = rig.agent().store().job(JobKey(1)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Sent);
    assert!(rig.agent().store().in_flight().unwrap().is_none());
    // Nothing else goes out later.
    rig.run(30_000);
    assert_eq!(rig.modem.submitted().len(), 1);
}

#[test]
fn duplicate_and_replayed_submits_are_never_sent_again() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    let j = job(5, TO, "once only");
    rig.submit(j.clone());
    // Again while it is in its slot, and again after it was sent.
    rig.submit(j.clone());
    rig.until_final(5, 60_000);
    rig.submit(j.clone());
    // The host restarts and replays the job in a new session.
    rig.host = Host::new(rig.port.clone());
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.host.send(HostMsg::Submit(j));
    rig.run(10_000);
    assert_eq!(rig.sent_to(TO).len(), 1);
    let duplicates = rig
        .host
        .events
        .values()
        .filter(|e| **e == Event::Duplicate(JobKey(5)))
        .count();
    assert_eq!(duplicates, 3);
}

#[test]
fn a_multipart_message_resumes_after_a_reboot_without_resending_sent_segments() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    let j = job(9, TO, &long_text());
    rig.submit(j.clone());
    rig.until(60_000, |r| {
        r.host
            .job_events(9)
            .iter()
            .any(|e| matches!(e, Event::SegmentSent { part: 2, .. }))
    });
    assert_eq!(rig.sent_to(TO).len(), 2);
    // Power cut between segments 2 and 3 (the pace holds segment 3 for seconds).
    rig.reboot();
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.host.send(HostMsg::Submit(j));
    let events = rig.until_final(9, 120_000);
    let sent = rig.sent_to(TO);
    let parts: Vec<_> = sent.iter().map(|s| s.concat.unwrap()).collect();
    let reference = parts[0].0;
    assert_eq!(
        parts,
        [(reference, 1, 3), (reference, 2, 3), (reference, 3, 3)]
    );
    let text: String = sent.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(text, long_text());
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Accepted(_)))
            .count(),
        2,
        "accepted before the reboot and again on resubmission"
    );
    assert_eq!(
        events.last(),
        Some(&Event::Sent {
            key: JobKey(9),
            parts: 3
        })
    );
    let segment_parts: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::SegmentSent { part, .. } => Some(*part),
            _ => None,
        })
        .collect();
    assert_eq!(segment_parts, [1, 2, 3]);
}

#[test]
fn a_send_interrupted_by_a_reset_is_reported_unknown_and_never_resent() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.modem.script(SendScript::Silent);
    let j = job(11, TO, "did it go?");
    rig.submit(j.clone());
    rig.until(30_000, |r| r.modem.submitted().len() == 1);
    assert!(rig.agent().store().in_flight().unwrap().is_some());
    rig.reboot();
    let record = rig.agent().store().job(JobKey(11)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Unknown);
    assert!(rig.agent().store().in_flight().unwrap().is_none());
    rig.host.connect();
    rig.host.hello(utc(NOON));
    rig.host.send(HostMsg::Submit(j));
    rig.run(30_000);
    let events = rig.host.job_events(11);
    assert!(
        events.contains(&Event::Unknown {
            key: JobKey(11),
            part: 1
        }),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&Event::Duplicate(JobKey(11))));
    assert_eq!(rig.modem.submitted().len(), 1);
}

#[test]
fn a_modem_that_never_answers_the_pdu_gives_unknown_not_a_resend() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.modem.script(SendScript::Silent);
    rig.submit(job(12, TO, "into the void"));
    rig.step_ms = 500;
    let events = rig.until_final(12, 10 * 60_000);
    assert_eq!(
        events.last(),
        Some(&Event::Unknown {
            key: JobKey(12),
            part: 1
        })
    );
    rig.run(5 * 60_000);
    assert_eq!(rig.modem.submitted().len(), 1);
}

#[test]
fn temporary_failures_are_retried_with_back_off_then_sent() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    // +CMS ERROR: 42 (congestion) twice, then accepted.
    rig.modem.script(SendScript::CmsError(42));
    rig.modem.script(SendScript::CmsError(42));
    rig.submit(job(20, TO, "try again"));
    rig.step_ms = 200;
    let events = rig.until_final(20, 5 * 60_000);
    assert!(
        matches!(events.last(), Some(Event::Sent { .. })),
        "{events:?}"
    );
    let sent = rig.sent_to(TO);
    assert_eq!(sent.len(), 3);
    // 15 s, then 30 s of back-off.
    assert!(sent[1].at_ms - sent[0].at_ms >= 15_000);
    assert!(sent[2].at_ms - sent[1].at_ms >= 30_000);
}

#[test]
fn temporary_failures_end_in_retries_exhausted_and_permanent_ones_at_once() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    for _ in 0..6 {
        rig.modem.script(SendScript::CmsError(42));
    }
    rig.submit(job(21, TO, "congested"));
    rig.step_ms = 1_000;
    let events = rig.until_final(21, 20 * 60_000);
    assert_eq!(
        events.last(),
        Some(&Event::Failed {
            key: JobKey(21),
            part: 1,
            error: SendFailure::RetriesExhausted,
            permanent: false
        })
    );
    assert_eq!(rig.sent_to(TO).len(), 6);
    // +CMS ERROR: 1, unassigned number: no retry.
    rig.modem.script(SendScript::CmsError(1));
    rig.submit(job(22, "+33611111111", "nobody"));
    let events = rig.until_final(22, 60_000);
    assert_eq!(
        events.last(),
        Some(&Event::Failed {
            key: JobKey(22),
            part: 1,
            error: SendFailure::Cms(1),
            permanent: true
        })
    );
    assert_eq!(rig.sent_to("+33611111111").len(), 1);
}

#[test]
fn not_before_defers_and_expiry_ends_a_job() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    // Within the release horizon: held in its slot.
    let later = job(30, TO, "at five past").with_not_before(utc("2026-11-24T11:05:00Z"));
    rig.submit(later);
    rig.run(5_000);
    assert_eq!(
        rig.host.job_events(30).last(),
        Some(&Event::Deferred {
            key: JobKey(30),
            until: utc("2026-11-24T11:05:00Z"),
            rule: relais_agent::core::link::msg::bounded("not-before"),
        })
    );
    assert!(rig.modem.submitted().is_empty());
    // Due after its own expiry: it can never go.
    let stale = job(31, "+33622222222", "too late")
        .with_not_before(utc("2026-11-24T13:00:00Z"))
        .with_expires(utc("2026-11-24T12:30:00Z"));
    rig.submit(stale);
    rig.run(1_000);
    let expired = |key| Event::Failed {
        key: JobKey(key),
        part: 1,
        error: SendFailure::Expired,
        permanent: true,
    };
    assert_eq!(rig.host.job_events(31).last(), Some(&expired(31)));
    rig.clock.advance(3_600_000);
    let events = rig.until_final(30, 60_000);
    assert!(matches!(events.last(), Some(Event::Sent { .. })));
    // Expiring while it waits for a retry after a temporary failure.
    let soon = rig.agent().now_utc().unwrap().plus(10);
    rig.modem.script(SendScript::CmsError(42));
    rig.submit(job(32, "+33622222222", "hurry").with_expires(soon));
    let events = rig.until_final(32, 60_000);
    assert_eq!(events.last(), Some(&expired(32)));
    assert_eq!(
        rig.sent_to("+33622222222").len(),
        1,
        "one failed attempt, no retry"
    );
}

#[test]
fn a_cancelled_job_is_not_sent() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.submit(job(40, TO, "never").with_not_before(utc("2026-11-24T11:05:00Z")));
    rig.host.send(HostMsg::Cancel(JobKey(40)));
    rig.run(2_000);
    assert_eq!(
        rig.host.job_events(40).last(),
        Some(&Event::Failed {
            key: JobKey(40),
            part: 1,
            error: SendFailure::Cancelled,
            permanent: true
        })
    );
    rig.clock.advance(8 * 3_600_000);
    rig.run(10_000);
    assert!(rig.modem.submitted().is_empty());
    rig.submit(job(40, TO, "never"));
    assert_eq!(
        rig.host.job_events(40).last(),
        Some(&Event::Duplicate(JobKey(40)))
    );
}

#[test]
fn delivery_reports_roll_up_per_message() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    let mut j = job(50, TO, &long_text());
    j.report = true;
    rig.submit(j);
    rig.until_final(50, 120_000);
    let sent = rig.sent_to(TO);
    assert!(sent.iter().all(|s| s.report));
    let at = utc_timestamp(2026, 11, 24, 11, 5);
    // Pending first: nothing to report yet.
    rig.modem.status_report(sent[0].mr.unwrap(), TO, 0x20, at);
    for s in &sent[..2] {
        rig.modem.status_report(s.mr.unwrap(), TO, 0x00, at);
    }
    rig.run(2_000);
    assert!(
        !rig.host
            .job_events(50)
            .iter()
            .any(|e| matches!(e, Event::Delivery { .. }))
    );
    rig.modem.status_report(sent[2].mr.unwrap(), TO, 0x00, at);
    rig.run(2_000);
    assert_eq!(
        rig.host.job_events(50).last(),
        Some(&Event::Delivery {
            key: JobKey(50),
            status: Delivery::Delivered,
            st: 0,
            at: utc("2026-11-24T11:05:00Z"),
        })
    );
    // A permanent failure settles a message at once.
    let mut j = job(51, "+33633333333", "short");
    j.report = true;
    rig.submit(j);
    rig.until_final(51, 60_000);
    let mr = rig.sent_to("+33633333333")[0].mr.unwrap();
    rig.modem.status_report(mr, "+33633333333", 0x41, at);
    rig.run(2_000);
    assert!(matches!(
        rig.host.job_events(51).last(),
        Some(Event::Delivery {
            status: Delivery::Failed,
            st: 0x41,
            ..
        })
    ));
    let record = rig.agent().store().job(JobKey(51)).unwrap().unwrap();
    assert!(record.delivery_reported);
}

#[test]
fn slots_run_out_and_credits_come_back() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    // Held in their slots (a few minutes: within the release horizon).
    let soon = utc("2026-11-24T11:08:00Z");
    for k in 60..64 {
        rig.submit(job(k, TO, "later").with_not_before(soon));
    }
    rig.submit(job(64, TO, "one too many"));
    assert!(
        rig.host
            .received
            .contains(&DeviceMsg::Error(LinkError::NoCredit(JobKey(64))))
    );
    assert_eq!(last_credits(&rig.host), Some(0));
    rig.host.send(HostMsg::Cancel(JobKey(60)));
    rig.run(1_000);
    assert_eq!(last_credits(&rig.host), Some(1));
    rig.submit(job(64, TO, "now it fits"));
    let events = rig.until_final(64, 60_000);
    assert_eq!(events[0], Event::Accepted(JobKey(64)));
    assert!(matches!(events.last(), Some(Event::Sent { .. })));
}

#[test]
fn a_full_outbox_stops_new_work_until_acknowledged() {
    // 12 events of room; the agent keeps 8 of headroom: 4 events, then credits 0.
    let mut rig: Rig<Store<12>> = Rig::new();
    rig.start(utc(NOON));
    rig.submit(job(70, TO, "a"));
    rig.until_final(70, 60_000); // 3 events
    rig.submit(job(71, TO, "b").with_not_before(utc("2026-11-24T19:00:00Z"))); // 2 events
    rig.run(1_000);
    assert_eq!(rig.agent().credits(), 0);
    assert_eq!(last_credits(&rig.host), Some(0));
    rig.submit(job(72, TO, "c"));
    assert!(
        rig.host
            .received
            .contains(&DeviceMsg::Error(LinkError::NoCredit(JobKey(72))))
    );
    rig.host.ack_all();
    rig.run(1_000);
    assert_eq!(rig.agent().credits(), 3);
    assert_eq!(last_credits(&rig.host), Some(3));
    rig.submit(job(72, TO, "c"));
    let events = rig.until_final(72, 60_000);
    assert!(matches!(events.last(), Some(Event::Sent { .. })));
    assert_eq!(rig.agent().lost_events(), 0);
}

#[test]
fn reserved_keys_are_refused() {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    rig.submit(job(REPLY_KEYS + 1, TO, "impostor"));
    rig.run(1_000);
    assert!(matches!(
        rig.host.job_events(REPLY_KEYS + 1).last(),
        Some(Event::Refused { .. })
    ));
    assert!(rig.modem.submitted().is_empty());
}
