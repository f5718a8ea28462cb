//! The network's clock moving under a running device: the modem driver reads
//! `AT+CCLK?` again every [`CLOCK_RESYNC_MS`] and the agent re-sets UTC from it. These
//! tests move the scripted modem's network clock while the device's own (monotonic)
//! clock runs on; a jump forward is in `tests/tests/agent_sim.rs` (against the
//! simulator).

mod agent_support;

use agent_support::*;
use relais_agent::agent::{Activity, TimeSource};
use relais_agent::core::link::msg::{Event, HostMsg, Pacing, Settings};
use relais_agent::modem::CLOCK_RESYNC_MS;

const TO: &str = "+33612345678";
const OTHER: &str = "+33698765432";

fn time_sets(rig: &Rig) -> usize {
    rig.activities
        .iter()
        .filter(|a| **a == Activity::TimeSet(TimeSource::Network))
        .count()
}

/// Minute after minute the network's clock agrees with the device's to within the
/// second `AT+CCLK?` shows: UTC is not re-set (no step back and forth, no log line).
#[test]
fn an_agreeing_network_clock_does_not_reset_utc_every_minute() {
    let mut rig: Rig = Rig::new();
    rig.modem.set_network_time(utc("2026-03-09T09:00:00Z"), 4);
    rig.start(utc("2026-03-09T09:00:00Z"));
    assert_eq!(time_sets(&rig), 1);
    rig.step_ms = 250;
    rig.run(10 * CLOCK_RESYNC_MS);
    assert_eq!(time_sets(&rig), 1, "re-set by readings that agree");
    let reads = rig
        .activities
        .iter()
        .filter(|a| **a == Activity::Modem)
        .count();
    assert!(
        reads >= 10,
        "the clock was read every minute ({reads} modem events)"
    );
}

/// The network's clock goes back from Monday 10:00 to Saturday 22:30 (Paris) after a
/// marketing message went out. The device follows within a minute; nothing is sent
/// again (what went out is in the job records, not judged by time); the pace, on the
/// monotonic clock, still counts the send made "in the future"; and new marketing is
/// judged on the new time: held until Monday 08:00.
#[test]
fn a_network_clock_going_back_sends_nothing_twice_and_keeps_the_pace() {
    let mut rig: Rig = Rig::new();
    // Monday 9 March 2026, 10:00 in Paris (UTC+1).
    rig.modem.set_network_time(utc("2026-03-09T09:00:00Z"), 4);
    rig.start(utc("2026-03-09T09:00:00Z"));
    rig.host.send(HostMsg::Configure(Settings {
        pacing: Pacing {
            per_minute: 0,
            per_hour: 1,
            per_day: 0,
            min_gap_ms: 0,
            jitter_ms: 0,
        },
        ..Settings::default()
    }));
    rig.submit(fr_marketing(1, TO, "Soldes du lundi"));
    rig.until_final(1, 60_000);
    let first = rig.sent_to(TO);
    assert_eq!(first.len(), 1);
    // Saturday 7 March, 22:30 in Paris.
    rig.modem.set_network_time(utc("2026-03-07T21:30:00Z"), 4);
    let back_at = rig.clock.now();
    rig.until(CLOCK_RESYNC_MS + 1_000, |r| time_sets(r) == 2);
    assert!(rig.clock.now() - back_at <= CLOCK_RESYNC_MS + 1_000);
    let now = rig.agent().now_utc().unwrap();
    let expected = utc("2026-03-07T21:30:00Z").0 + ((rig.clock.now() - back_at) / 1000) as i64;
    assert!((now.0 - expected).abs() <= 2, "{now:?}");
    rig.step_ms = 250;
    rig.run(5 * 60_000);
    assert_eq!(
        rig.sent_to(TO).len(),
        1,
        "sent again after the clock went back"
    );
    let sent = rig
        .host
        .job_events(1)
        .iter()
        .filter(|e| matches!(e, Event::Sent { .. }))
        .count();
    assert_eq!(sent, 1);
    // The hour's pace is on the monotonic clock: the next segment waits for the hour
    // after the first, whatever the network's clock did.
    rig.submit(job(2, OTHER, "Votre colis arrive demain."));
    rig.until_final(2, 3_700_000);
    let second = rig.sent_to(OTHER);
    assert_eq!(second.len(), 1);
    assert!(
        second[0].at_ms >= first[0].at_ms + 3_600_000,
        "paced by the monotonic clock: {} ms after the first",
        second[0].at_ms - first[0].at_ms
    );
    // Marketing now, the hourly pace lifted: Saturday night (or early Sunday) in
    // Paris, held until Monday 08:00 (given back to the host until then).
    rig.host.send(HostMsg::Configure(Settings::default()));
    rig.submit(fr_marketing(3, OTHER, "Soldes"));
    rig.run(60_000);
    let deferred: Vec<_> = rig
        .host
        .job_events(3)
        .into_iter()
        .filter_map(|e| match e {
            Event::Released { until, rule, .. } => Some((until, rule.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        deferred,
        [(
            utc("2026-03-09T07:00:00Z"),
            "fr.marketing.window".to_string()
        )]
    );
    assert_eq!(rig.sent_to(OTHER).len(), 1);
}
