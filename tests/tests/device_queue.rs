//! What the firmware under QEMU keeps across a power cut (QEMU killed, started again on
//! the same flash file), with `relais sim` as modem and operator:
//!
//! - the day's pace: segments sent before the cut still count towards the daily cap;
//! - a STOP confirmation queued when the power went: sent after the restart, once.

mod device_support;
mod sim_support;

use std::collections::BTreeMap;
use std::time::Duration;

use device_support::{Device, EVENTS};
use relais::link::{Event, EventId, Job, JobKey};
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{Identity, Pacing, Sender, Settings, bounded};
use relais_tests::qemu::{self, BoardBuild};
use sim_support::Sim;

/// Tuesday 10:00 in Paris, real speed; a fast modem and operator.
const SCENARIO: &str = r#"
seed = 5
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "100ms"

[operator]
report_latency = "200ms"

[[route]]
prefix = "*"
outcome = "delivered"
"#;

fn pacing(per_day: u16, min_gap_ms: u32) -> Settings {
    Settings {
        pacing: Pacing {
            per_minute: 0,
            per_hour: 0,
            per_day,
            min_gap_ms,
            jitter_ms: 0,
        },
        ..Settings::default()
    }
}

fn job(key: u64) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(&format!("+336123450{key:02}")).unwrap(),
        text: bounded(&format!("Votre code : {key}{key}{key}")),
        class: Class::Transactional,
        categories: CategorySet::EMPTY,
        identity: Identity {
            sender: Sender::LongNumber(Msisdn::parse("+33700000001").unwrap()),
            registered: true,
            brand: bounded("acme"),
            stop_code: None,
        },
        consent: ConsentStatus::OptedIn,
        fr_department: None,
        zone: None,
        not_before: None,
        expires: None,
        report: false,
    }
}

fn sent(events: &BTreeMap<EventId, Event>, key: u64) -> bool {
    events
        .values()
        .any(|e| matches!(e, Event::Sent { key: k, .. } if *k == JobKey(key)))
}

#[test]
fn the_daily_count_and_a_queued_stop_confirmation_survive_a_power_cut() {
    let test = "device_queue";
    let Some(fw) = qemu::firmware_or_skip(test, &BoardBuild::qemu()) else {
        return;
    };
    let sim = Sim::start(test, SCENARIO, &[]);
    let workdir = qemu::fresh_dir("device-queue-flash").unwrap();
    let mut events = BTreeMap::new();

    // Three a day: three codes go.
    let mut device = Device::boot(&fw, &sim.link(), Some(&workdir), pacing(3, 0));
    for key in 1..=3 {
        device.submit(job(key));
    }
    assert!(
        device.events_until(&mut events, EVENTS, |ev| (1..=3).all(|k| sent(ev, k))),
        "three sent: {events:#?}"
    );
    // The power goes; the device starts again on the same flash.
    drop(device);
    let mut device = Device::boot(&fw, &sim.link(), Some(&workdir), pacing(3, 0));
    device.submit(job(4));
    assert!(
        device.events_until(&mut events, EVENTS, |ev| ev.values().any(|e| matches!(
            e,
            Event::Deferred { key: JobKey(4), rule, .. } if rule.as_str() == "pacing"
        ))),
        "the fourth waits for the day: {events:#?}"
    );
    assert!(!device.events_until(&mut events, Duration::from_secs(20), |ev| sent(ev, 4)));
    assert_eq!(
        sim.entries("message").len(),
        3,
        "the restart reset the daily cap"
    );

    // The cap lifted, two minutes between segments: the fourth goes, and a STOP from
    // its recipient is confirmed only after the gap.
    device
        .runtime
        .block_on(device.client.configure(pacing(0, 120_000)))
        .expect("configure");
    assert!(
        device.events_until(&mut events, EVENTS, |ev| sent(ev, 4)),
        "the fourth once the cap is lifted: {events:#?}"
    );
    let (to, code) = (job(4).to.to_string(), job(4).text.to_string());
    sim.control(serde_json::json!({
        "cmd": "sms", "modem": "m1", "from": to, "text": "STOP"
    }));
    assert!(
        device.events_until(&mut events, EVENTS, |ev| ev.values().any(|e| matches!(
            e,
            Event::Keyword {
                confirmed: true,
                ..
            }
        ))),
        "the STOP, its confirmation queued: {events:#?}"
    );
    let confirmations = |sim: &Sim| {
        sim.entries("message")
            .iter()
            .filter(|m| m["to"] == to.as_str() && m["text"] != code.as_str())
            .count()
    };
    assert_eq!(confirmations(&sim), 0, "the gap holds the confirmation");
    // The power goes while it waits.
    drop(device);
    let mut device = Device::boot(&fw, &sim.link(), Some(&workdir), pacing(0, 0));
    device.events_until(&mut events, Duration::from_secs(30), |_| false);
    assert_eq!(confirmations(&sim), 1, "{:#?}", sim.entries("message"));
    // Once: after another restart, nothing more.
    drop(device);
    let mut device = Device::boot(&fw, &sim.link(), Some(&workdir), pacing(0, 0));
    device.events_until(&mut events, Duration::from_secs(20), |_| false);
    assert_eq!(confirmations(&sim), 1, "{:#?}", sim.entries("message"));
    let messages = sim.entries("message");
    assert_eq!(messages.len(), 5, "{messages:#?}");
    drop(device.guest);
}
