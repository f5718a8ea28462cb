//! device_e2e's story, told on any board: the host's link client → the real firmware
//! in an emulator (the device agent) → `relais sim` as the modem and operator. Each
//! function is one test; `tests/tests/device_e2e.rs` runs them on the QEMU board and
//! `tests/tests/device_e2e_pico.rs` on the Raspberry Pi Pico.
//!
//! - jobs submitted by the host are sent exactly once (the simulator's ledger is the
//!   judge), delivery reports come back as events;
//! - the device enforces the rules by itself: raw jobs that the host did not check are
//!   deferred in a quiet window (time from the simulator's network clock via the
//!   modem) and refused to a number that replied STOP a moment earlier.

#![allow(dead_code)] // each test file runs its own part of the story

use std::collections::{BTreeMap, HashMap};

use crate::device_support::{Board, Rig};
use relais::link::{Event, EventId, Job, JobKey};
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{Delivery, Identity, RefusalCode, Sender, Settings, bounded};
use serde_json::Value;

/// A modem that answers fast and an operator that reports at once; virtual time at
/// real speed from `start`. `modem` adds lines to the modem's table.
pub fn scenario(start: &str, modem: &str) -> String {
    format!(
        r#"
seed = 7
start = "{start}"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "100ms"
{modem}

[operator]
report_latency = "200ms"

[[route]]
prefix = "*"
outcome = "delivered"
"#
    )
}

/// The firmware on `board` on the simulator started at `start` (Paris time).
fn boot_at(board: Board, test: &str, start: &str) -> Option<Rig> {
    boot_with(board, test, start, "")
}

/// [`boot_at`] with `modem` lines added to the simulated modem's scenario.
fn boot_with(board: Board, test: &str, start: &str, modem: &str) -> Option<Rig> {
    Rig::start_on(board, test, &scenario(start, modem))
}

pub fn job(key: u64, to: &str, text: &str, class: Class) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(to).unwrap(),
        text: bounded(text),
        class,
        categories: CategorySet::EMPTY,
        identity: Identity {
            // FR: marketing from a 36xxx short code; alerts from the SIM's own number.
            sender: match class {
                Class::Marketing => Sender::ShortCode(36_123),
                _ => Sender::LongNumber(Msisdn::parse("+33700000001").unwrap()),
            },
            registered: true,
            brand: bounded("acme"),
            stop_code: None,
        },
        consent: ConsentStatus::OptedIn,
        fr_department: None,
        zone: None,
        not_before: None,
        expires: None,
        report: true,
    }
}

pub fn count<F: Fn(&Event) -> bool>(events: &BTreeMap<EventId, Event>, f: F) -> usize {
    events.values().filter(|e| f(e)).count()
}

/// Host jobs go through the firmware exactly once, with delivery reports; a job
/// submitted twice (as after a host crash) is reported as a duplicate, never sent twice.
pub fn exactly_once(board: Board, test: &str) {
    // Tuesday 10:00 in Paris: every rule allows these messages.
    let Some(mut rig) = boot_at(board, test, "2026-03-10T10:00:00") else {
        return;
    };
    let long = "Votre commande 4711 est prête. Elle vous attend au point relais de la gare \
                jusqu'à samedi 18h. Présentez ce message et une pièce d'identité au comptoir. \
                Merci de votre confiance et à bientôt dans nos magasins !";
    let jobs = [
        job(
            1,
            "+33612345001",
            "Code de connexion : 482913",
            Class::Transactional,
        ),
        job(2, "+33612345002", long, Class::Transactional),
        job(
            3,
            "+33612345003",
            "Votre rendez-vous est confirmé demain 9h30.",
            Class::Transactional,
        ),
        job(
            4,
            "+33612345004",
            "Colis livré ✓ — merci !",
            Class::Transactional,
        ),
    ];
    for j in &jobs {
        rig.submit(j.clone());
    }
    // The same job again (as after a host crash): never sent twice.
    rig.submit(jobs[0].clone());

    let keys: Vec<JobKey> = jobs.iter().map(|j| j.key).collect();
    rig.events_until("Sent and Delivery for every job", |ev| {
        keys.iter().all(|k| {
            ev.values()
                .any(|e| matches!(e, Event::Sent { key, .. } if key == k))
                && ev
                    .values()
                    .any(|e| matches!(e, Event::Delivery { key, .. } if key == k))
        }) && ev
            .values()
            .any(|e| matches!(e, Event::Duplicate(JobKey(1))))
    });

    // Events: one Accepted and one Sent per job, delivered; segments add up.
    for j in &jobs {
        let k = j.key;
        assert_eq!(
            count(&rig.events, |e| matches!(e, Event::Accepted(x) if *x == k)),
            1,
            "{k:?}"
        );
        assert_eq!(
            count(
                &rig.events,
                |e| matches!(e, Event::Sent { key, .. } if *key == k)
            ),
            1
        );
        assert!(rig.events.values().any(|e| matches!(
            e,
            Event::Delivery { key, status: Delivery::Delivered, .. } if *key == k
        )));
    }
    let parts_of_long = rig
        .events
        .values()
        .find_map(|e| match e {
            Event::Sent {
                key: JobKey(2),
                parts,
            } => Some(*parts),
            _ => None,
        })
        .unwrap();
    assert!(parts_of_long >= 2, "the long text is multipart");

    // The ledger: exactly one message per job, text intact.
    let messages = rig.ledger("message");
    assert_eq!(messages.len(), jobs.len(), "{messages:#?}");
    let mut by_to: HashMap<String, Vec<&Value>> = HashMap::new();
    for m in &messages {
        by_to
            .entry(m["to"].as_str().unwrap().to_owned())
            .or_default()
            .push(m);
    }
    for j in &jobs {
        let to = j.to.to_string();
        let copies = by_to.get(&to).map(Vec::len).unwrap_or(0);
        assert_eq!(copies, 1, "{to}: {copies} copies in the ledger");
        let m = by_to[&to][0];
        assert_eq!(m["text"].as_str().unwrap(), j.text.as_str(), "{to}");
        assert_eq!(m["duplicate_segments"].as_u64().unwrap_or(0), 0, "{m}");
    }
}

/// The device defers raw marketing on Saturday night by itself, and refuses marketing to
/// a number that replied STOP to its modem a moment earlier.
pub fn quiet_hours_and_stop(board: Board, test: &str) {
    // Saturday 23:30 in Paris: marketing is closed until Monday 08:00 (AF2M).
    let Some(mut rig) = boot_at(board, test, "2026-03-07T23:30:00") else {
        return;
    };
    // A raw marketing job, straight to the device (no host-side check).
    rig.submit(job(
        10,
        "+33612345010",
        "Soldes -20% ce week-end",
        Class::Marketing,
    ));
    // A transactional alert to the same country goes at night.
    rig.submit(job(
        11,
        "+33612345011",
        "Alerte : connexion inhabituelle",
        Class::Transactional,
    ));
    // Held until Monday, the marketing job gives its slot back to the host.
    rig.events_until("the marketing deferral and the alert sent", |ev| {
        ev.values().any(|e| {
            matches!(
                e,
                Event::Released {
                    key: JobKey(10),
                    ..
                }
            )
        }) && ev.values().any(|e| {
            matches!(
                e,
                Event::Sent {
                    key: JobKey(11),
                    ..
                }
            )
        })
    });
    let until = rig
        .events
        .values()
        .find_map(|e| match e {
            Event::Released {
                key: JobKey(10),
                until,
                rule,
            } => Some((*until, rule.clone())),
            _ => None,
        })
        .unwrap();
    // Monday 2026-03-09 08:00 Paris = 07:00 UTC.
    let monday =
        relais_core::compliance::tz::UtcInstant::parse_rfc3339("2026-03-09T07:00:00Z").unwrap();
    assert_eq!(until.0, monday, "deferred by {}", until.1);

    // A subscriber replies STOP to the modem; the device suppresses the number itself.
    let stop_from = "+33612345012";
    rig.sim.control(serde_json::json!({
        "cmd": "sms", "modem": "m1", "from": stop_from, "text": "STOP"
    }));
    rig.events_until("the STOP keyword event", |ev| {
        ev.values()
            .any(|e| matches!(e, Event::Keyword { from, .. } if from.to_string() == stop_from))
    });
    // Marketing to that number is refused now, by the device alone.
    rig.submit(job(
        12,
        stop_from,
        "Nouvelle collection en boutique",
        Class::Marketing,
    ));
    rig.events_until("the refusal", |ev| {
        ev.values().any(|e| {
            matches!(
                e,
                Event::Refused {
                    key: JobKey(12),
                    ..
                }
            )
        })
    });
    let refusal = rig
        .events
        .values()
        .find_map(|e| match e {
            Event::Refused {
                key: JobKey(12),
                refusal,
            } => Some(refusal.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(refusal.code, RefusalCode::OptedOut, "{refusal:?}");

    // The ledger proves it: only the alert (and no marketing) reached the network.
    let messages = rig.ledger("message");
    let to: Vec<&str> = messages.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert!(to.contains(&"+33612345011"), "{to:?}");
    assert!(
        !to.contains(&"+33612345010"),
        "marketing sent in a quiet window: {to:?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| m["to"] == stop_from && m["text"].as_str().unwrap().contains("collection")),
        "marketing sent after STOP: {messages:#?}"
    );
}

/// The final or deferral event of job `key` (a long deferral gives the job back:
/// `Released`).
pub fn outcome(events: &BTreeMap<EventId, Event>, key: u64) -> Option<&Event> {
    events.values().find(|e| {
        e.job() == Some(JobKey(key))
            && matches!(
                e,
                Event::Sent { .. }
                    | Event::Deferred { .. }
                    | Event::Released { .. }
                    | Event::Refused { .. }
            )
    })
}

/// The device judges with the host's verified zone and house window.
pub fn zone_and_house_window(board: Board, test: &str) {
    // Tuesday 10 March 2026, 02:30 UTC: 22:30 on Monday in New York (closed: US
    // marketing 08:00-21:00), 19:30 in Los Angeles (open), 02:30 in London.
    let Some(mut rig) = boot_at(board, test, "2026-03-10T03:30:00") else {
        return;
    };
    // The host's `[rules]` house window: Monday to Friday 09:00-17:00 where a pack has
    // no hours rule (Great Britain has none).
    let mut settings = Settings::default();
    settings
        .house_window
        .push(relais_core::compliance::packs::hours(
            relais_core::compliance::packs::Days::WEEKDAYS,
            9,
            17,
        ))
        .unwrap();
    rig.configure(settings);
    let offer = "Spring sale: 20% off this week";
    let mut la = job(20, "+12125550123", offer, Class::Marketing);
    la.zone = Some(relais_core::compliance::tz::Zone::AmericaLosAngeles);
    rig.submit(la);
    rig.submit(job(21, "+12125550124", offer, Class::Marketing));
    rig.submit(job(22, "+447700900123", offer, Class::Marketing));
    rig.events_until("an outcome for each job", |ev| {
        (20..=22).all(|k| outcome(ev, k).is_some())
    });
    assert!(
        matches!(outcome(&rig.events, 20), Some(Event::Sent { .. })),
        "a New York number whose owner lives in Los Angeles: {:?}",
        outcome(&rig.events, 20)
    );
    assert!(
        matches!(outcome(&rig.events, 21), Some(Event::Released { .. })),
        "a New York number at 22:30 New York time: {:?}",
        outcome(&rig.events, 21)
    );
    match outcome(&rig.events, 22) {
        // 09:00 London time, the house window's opening.
        Some(Event::Released { until, .. }) => assert_eq!(
            *until,
            relais_core::compliance::tz::UtcInstant::parse_rfc3339("2026-03-10T09:00:00Z").unwrap()
        ),
        other => panic!("GB marketing outside the house window: {other:?}"),
    }
    let to: Vec<String> = rig
        .ledger("message")
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(to, ["+12125550123"], "only the Los Angeles customer got it");
}

/// The device enters the SIM PIN from its settings.
pub fn sim_pin(board: Board, test: &str) {
    // The SIM starts locked; only the host's settings carry the PIN.
    let Some(mut rig) = boot_with(board, test, "2026-03-10T10:00:00", r#"pin = "4321""#) else {
        return;
    };
    rig.configure(Settings {
        sim_pin: Some(relais_core::at::command::general::SimPin::new(b"4321").unwrap()),
        ..Settings::default()
    });
    rig.submit(job(
        30,
        "+33612345030",
        "Votre code : 1234",
        Class::Transactional,
    ));
    rig.events_until("the job sent", |ev| {
        matches!(outcome(ev, 30), Some(Event::Sent { .. }))
    });
    let status = rig.sim.control(serde_json::json!({"cmd": "status"}));
    assert_eq!(status["modems"][0]["sim_lock"], "none", "{status}");
    assert_eq!(rig.ledger("message").len(), 1);
}
