//! Delivery reports against the jobs they are about. The modem's TP-MR is one octet and
//! comes round again every 256 segments, so a report is a job's only when its reference,
//! its recipient (TP-RA, in whatever form the SC wrote it) and its time (TP-SCTS, when the
//! SC received the segment) all agree; a report about no job is reported as such.

mod agent_support;

use agent_support::*;
use relais_agent::core::compliance::tz::UtcInstant;
use relais_agent::core::link::msg::{
    Delivery, Event, HostMsg, Job, JobKey, Pacing, Settings, bounded,
};
use relais_agent::core::sms::pdu::Timestamp;
use relais_agent::store::Store as _;

const NOON: &str = "2026-11-24T11:00:00Z";
/// The late report's recipient, and the newer job's.
const A_TO: &str = "+33611111111";
const B_TO: &str = "+33622222222";
const DAY_MS: u64 = 24 * 3_600_000;

fn with_report(key: u64, to: &str, text: &str) -> Job {
    Job {
        report: true,
        ..job(key, to, text)
    }
}

/// A service-centre time stamp (offset 0) for `t`.
fn stamp(t: UtcInstant) -> Timestamp {
    let (date, secs) = t.to_date();
    Timestamp {
        year: date.year as u16,
        month: date.month,
        day: date.day,
        hour: (secs / 3600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
        offset_quarters: 0,
    }
}

/// A rig at noon whose pace does not hold anything back (the fillers go quickly).
fn rig() -> Rig {
    let mut rig: Rig = Rig::new();
    rig.start(utc(NOON));
    let pacing = Pacing {
        per_minute: 0,
        per_hour: 0,
        per_day: 0,
        min_gap_ms: 0,
        jitter_ms: 0,
    };
    rig.host.send(HostMsg::Configure(Settings {
        pacing,
        ..Settings::default()
    }));
    rig.settle();
    rig
}

/// Sends `job` to the end and returns the TP-MR the modem gave it and when the device
/// had it accepted (its clock).
fn send(rig: &mut Rig, job: Job) -> (u8, UtcInstant) {
    let key = job.key.0;
    let to = job.to.to_string();
    rig.submit(job);
    rig.until_final(key, 60_000);
    rig.host.ack_all();
    let mr = rig.sent_to(&to).last().and_then(|s| s.mr).expect("sent");
    (mr, rig.agent().now_utc().expect("the device has time"))
}

/// Sends `n` one-segment jobs without reports to other numbers: `n` more turns of the
/// modem's reference counter.
fn fillers(rig: &mut Rig, first_key: u64, n: u64) {
    for i in 0..n {
        let to = format!("+336990{:05}", i);
        send(rig, job(first_key + i, &to, "filler"));
    }
}

fn deliveries(rig: &Rig, key: u64) -> Vec<Event> {
    rig.host
        .job_events(key)
        .into_iter()
        .filter(|e| matches!(e, Event::Delivery { .. }))
        .collect()
}

fn unmatched(rig: &Rig) -> Vec<Event> {
    rig.host
        .events
        .values()
        .filter(|e| matches!(e, Event::UnmatchedReport { .. }))
        .cloned()
        .collect()
}

/// Job A to A_TO gets MR 7; 256 segments later job B to B_TO gets MR 7 too.
fn a_then_b(rig: &mut Rig, gap_ms: u64) -> UtcInstant {
    fillers(rig, 100, 6);
    let (mr, a_sent) = send(rig, with_report(1, A_TO, "Your code is 1234"));
    assert_eq!(mr, 7);
    rig.clock.advance(gap_ms);
    fillers(rig, 1_000, 255);
    let (mr, _) = send(rig, with_report(2, B_TO, "Your parcel is on its way"));
    assert_eq!(mr, 7, "256 segments after A");
    a_sent
}

#[test]
fn a_late_report_goes_to_its_job_not_to_a_newer_one_with_the_same_reference() {
    let mut rig = rig();
    let a_sent = a_then_b(&mut rig, 2 * 3_600_000);
    // A's phone was off for a day: its report comes after B went, with A's SCTS.
    rig.clock.advance(DAY_MS);
    rig.modem.status_report(7, A_TO, 0x00, stamp(a_sent));
    rig.run(2_000);
    assert_eq!(
        deliveries(&rig, 1),
        [Event::Delivery {
            key: JobKey(1),
            status: Delivery::Delivered,
            st: 0,
            // TP-DT: the test modem gives the report's SCTS as its discharge time too.
            at: a_sent,
        }]
    );
    assert_eq!(deliveries(&rig, 2), [], "B's delivery is still unknown");
    assert_eq!(unmatched(&rig), []);
    // B's own report, naming B's number in national form, still finds B.
    let b_sent = rig.agent().now_utc().unwrap();
    rig.modem
        .status_report(7, "0622222222", 0x46, stamp(b_sent));
    rig.run(2_000);
    assert!(matches!(
        deliveries(&rig, 2)[..],
        [Event::Delivery {
            status: Delivery::Failed,
            st: 0x46,
            ..
        }]
    ));
    assert_eq!(unmatched(&rig), []);
}

#[test]
fn a_report_for_an_expired_job_is_reported_unmatched_never_given_to_another() {
    let mut rig = rig();
    // A week and more between A and B: A's entry has expired when its report comes.
    let a_sent = a_then_b(&mut rig, 8 * DAY_MS);
    rig.modem.status_report(7, A_TO, 0x00, stamp(a_sent));
    rig.run(2_000);
    assert_eq!(deliveries(&rig, 1), []);
    assert_eq!(deliveries(&rig, 2), []);
    assert_eq!(
        unmatched(&rig),
        [Event::UnmatchedReport {
            to: bounded("+33611111111"),
            mr: 7,
            st: 0,
            submitted: a_sent,
            at: a_sent,
        }]
    );
}

#[test]
fn reports_about_no_job_are_reported_and_repeats_are_not() {
    let mut rig = rig();
    let (mr, sent) = send(&mut rig, with_report(1, A_TO, "Your code is 1234"));
    // The device restarts: what the matching needs is in the store.
    rig.reboot();
    rig.host.connect();
    rig.host.hello(utc(NOON).plus(60));
    rig.run(2_000);
    // Another number with A's reference; A's number in national form with another
    // reference; A's own report with a time before A was sent.
    rig.modem
        .status_report(mr, "+33699999999", 0x00, stamp(sent));
    rig.modem
        .status_report(mr.wrapping_add(1), "0611111111", 0x00, stamp(sent));
    rig.modem
        .status_report(mr, A_TO, 0x00, stamp(UtcInstant(sent.0 - 3_600)));
    rig.run(2_000);
    assert_eq!(deliveries(&rig, 1), []);
    let seen: Vec<(String, u8)> = unmatched(&rig)
        .into_iter()
        .map(|e| match e {
            Event::UnmatchedReport { to, mr, .. } => (to.to_string(), mr),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("+33699999999".to_string(), mr),
            ("0611111111".to_string(), mr.wrapping_add(1)),
            ("+33611111111".to_string(), mr),
        ]
    );
    // A's report, its number in national form: A's.
    rig.modem.status_report(mr, "0611111111", 0x00, stamp(sent));
    rig.run(2_000);
    assert_eq!(deliveries(&rig, 1).len(), 1);
    let record = rig.agent().store().job(JobKey(1)).unwrap().unwrap();
    assert!(record.delivery_reported);
    // The same report again is a repeat for a settled job: nothing new.
    rig.modem.status_report(mr, A_TO, 0x00, stamp(sent));
    rig.run(2_000);
    assert_eq!(deliveries(&rig, 1).len(), 1);
    assert_eq!(unmatched(&rig).len(), 3);
}
