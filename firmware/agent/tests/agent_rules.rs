//! The device enforces the rules by itself, whatever the host sends: quiet windows with
//! the modem's network time, opt-outs received by SMS, the host's suppression list, and
//! the per-SIM pace.

mod agent_support;

use agent_support::*;
use relais_agent::agent::REPLY_KEYS;
use relais_agent::core::compliance::number::Msisdn;
use relais_agent::core::link::msg::{
    BrandId, DeviceMsg, Event, HostMsg, JobKey, KeywordKind, Pacing, RefusalCode, Scope, Settings,
    SuppressionOp, digest_entry,
};
use relais_agent::store::Store as _;

const TO: &str = "+33612345678";

#[test]
fn french_marketing_at_half_past_eleven_waits_for_eight_and_then_goes() {
    let mut rig: Rig = Rig::new();
    // Tuesday 24 November 2026, 23:30 in Paris (UTC+1), from the network.
    rig.modem.set_network_time(utc("2026-11-24T22:30:00Z"), 4);
    // The host's clock says noon: the device must not believe it.
    rig.start(utc("2026-11-24T11:00:00Z"));
    rig.submit(fr_marketing(1, TO, "Soldes -20% ce week-end"));
    rig.run(60_000);
    let wednesday_eight = utc("2026-11-25T07:00:00Z");
    // Held until eight: given back to the host, its slot free.
    let deferred: Vec<_> = rig
        .host
        .job_events(1)
        .into_iter()
        .filter_map(|e| match e {
            Event::Released { until, rule, .. } => Some((until, rule.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        deferred,
        [(wednesday_eight, "fr.marketing.window".to_string())]
    );
    assert!(
        rig.modem.submitted().is_empty(),
        "nothing sent in the quiet window"
    );
    assert_eq!(rig.agent().credits(), 4);
    // Just before eight, the host hands it over again under a new key: still nothing.
    let now = rig.agent().now_utc().unwrap();
    rig.clock
        .advance(((wednesday_eight.0 - now.0 - 60) * 1000) as u64);
    rig.submit(fr_marketing(2, TO, "Soldes -20% ce week-end"));
    rig.run(30_000);
    assert!(rig.modem.submitted().is_empty());
    // Eight o'clock: sent, with the opt-out mention the pack requires.
    rig.step_ms = 500;
    let events = rig.until_final(2, 120_000);
    assert!(
        matches!(events.last(), Some(Event::Sent { .. })),
        "{events:?}"
    );
    let sent = rig.sent_to(TO);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "Soldes -20% ce week-end STOP au 36123");
    let at = rig.agent().now_utc().unwrap();
    assert!(at >= wednesday_eight);
}

#[test]
fn a_stop_reply_suppresses_the_brand_at_once_and_is_confirmed() {
    let mut rig: Rig = Rig::new();
    // Tuesday 11:00 Paris.
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    rig.submit(fr_marketing(1, TO, "Soldes -20%"));
    rig.until_final(1, 60_000);
    assert_eq!(rig.sent_to(TO).len(), 1);
    // The recipient answers STOP.
    rig.modem
        .deliver(TO, "STOP", utc_timestamp(2026, 11, 24, 10, 1));
    rig.run(2_000);
    let number = Msisdn::parse(TO).unwrap();
    assert_eq!(
        rig.agent()
            .store()
            .opted_out(&number, BrandId::of("acme"))
            .unwrap(),
        Some(Scope::Brand(BrandId::of("acme")))
    );
    let keyword = rig.host.events.values().find_map(|e| match e {
        Event::Keyword {
            kind,
            scope,
            confirmed,
            ..
        } => Some((*kind, *scope, *confirmed)),
        _ => None,
    });
    assert_eq!(
        keyword,
        Some((
            KeywordKind::OptOut,
            Some(Scope::Brand(BrandId::of("acme"))),
            true
        ))
    );
    assert!(
        rig.host
            .events
            .values()
            .any(|e| matches!(e, Event::Inbound { text, .. } if text.as_str() == "STOP"))
    );
    // The next marketing job of the brand is refused by the device itself.
    rig.submit(fr_marketing(2, TO, "Encore des soldes"));
    let events = rig.until_final(2, 60_000);
    match events.last() {
        Some(Event::Refused { refusal, .. }) => {
            assert_eq!(refusal.code, RefusalCode::OptedOut);
            assert_eq!(refusal.rule.as_str(), "core.opt-out");
        }
        other => panic!("not refused: {other:?}"),
    }
    // Only the first message and the confirmation reached the modem.
    rig.run(30_000);
    let sent = rig.sent_to(TO);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].text.contains("prise en compte"), "{}", sent[1].text);
    // The confirmation was reported under a reserved key.
    let reply_sent = rig
        .host
        .events
        .values()
        .any(|e| matches!(e, Event::Sent { key, .. } if key.0 >= REPLY_KEYS));
    assert!(reply_sent);
}

#[test]
fn the_host_suppression_list_is_enforced_and_summarised() {
    let mut rig: Rig = Rig::new();
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    let a = Msisdn::parse(TO).unwrap();
    let b = Msisdn::parse("+33698765432").unwrap();
    for op in [
        SuppressionOp::Add(a, Scope::All),
        SuppressionOp::Add(b, Scope::Brand(BrandId::of("acme"))),
        SuppressionOp::Add(b, Scope::Brand(BrandId::of("other"))),
        SuppressionOp::Remove(b, Scope::Brand(BrandId::of("other"))),
        SuppressionOp::Digest,
    ] {
        rig.host.send(HostMsg::Suppression(op));
    }
    rig.run(1_000);
    let expected = digest_entry(&a, Scope::All)
        .wrapping_add(digest_entry(&b, Scope::Brand(BrandId::of("acme"))));
    assert!(rig.host.received.contains(&DeviceMsg::Suppression {
        count: 2,
        digest: expected
    }));
    // An opt-out of every brand, and one of this brand.
    rig.submit(fr_marketing(3, TO, "Offre"));
    rig.submit(fr_marketing(4, "+33698765432", "Offre"));
    for key in [3, 4] {
        let events = rig.until_final(key, 60_000);
        assert!(
            matches!(events.last(), Some(Event::Refused { refusal, .. }) if refusal.code == RefusalCode::OptedOut),
            "{events:?}"
        );
    }
    assert!(rig.modem.submitted().is_empty());
    // After the opt-in (Remove) the same job key stays refused (never re-judged), a new
    // one goes.
    rig.host
        .send(HostMsg::Suppression(SuppressionOp::Remove(a, Scope::All)));
    rig.submit(fr_marketing(5, TO, "Offre"));
    let events = rig.until_final(5, 60_000);
    assert!(
        matches!(events.last(), Some(Event::Sent { .. })),
        "{events:?}"
    );
}

#[test]
fn the_pace_caps_segments_per_minute_and_hour_with_a_gap() {
    let mut rig: Rig = Rig::new();
    rig.start(utc("2026-11-24T09:00:00Z"));
    let pacing = Pacing {
        per_minute: 2,
        per_hour: 3,
        per_day: 0,
        min_gap_ms: 2_000,
        jitter_ms: 1_000,
    };
    rig.host.send(HostMsg::Configure(Settings {
        pacing,
        ..Settings::default()
    }));
    for k in 1..=4 {
        rig.submit(job(k, &format!("+3361234560{k}"), "paced"));
    }
    rig.step_ms = 250;
    rig.run(5 * 60_000);
    assert_eq!(
        rig.modem.submitted().len(),
        3,
        "the hour cap holds the fourth"
    );
    // The fourth job is told why it waits.
    assert!(rig.host.job_events(4).iter().any(|e| matches!(
        e,
        Event::Deferred { rule, .. } if rule.as_str() == "pacing"
    )));
    rig.step_ms = 5_000;
    for k in 1..=4 {
        rig.until_final(k, 2 * 3_600_000);
    }
    let times: Vec<u64> = rig.modem.submitted().iter().map(|s| s.at_ms).collect();
    assert_eq!(times.len(), 4);
    let within = |span: u64| {
        times
            .iter()
            .map(|&t| times.iter().filter(|&&u| u >= t && u < t + span).count())
            .max()
            .unwrap()
    };
    assert!(within(60_000) <= 2, "{times:?}");
    assert!(within(3_600_000) <= 3, "{times:?}");
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 2_000), "{times:?}");
    assert!(times[3] - times[0] >= 3_600_000, "{times:?}");
    let _ = JobKey(0);
}

/// The host's opt-in for a number (a START it stored earlier) must not erase a STOP the
/// device received since and the host has not stored yet: the device keeps the entry
/// while its outbox holds that opt-out, and drops it once the host acknowledged it.
#[test]
fn a_remove_keeps_the_entry_while_an_unacknowledged_stop_is_in_the_outbox() {
    let mut rig: Rig = Rig::new();
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    let number = Msisdn::parse(TO).unwrap();
    rig.modem
        .deliver(TO, "STOP", utc_timestamp(2026, 11, 24, 10, 1));
    rig.run(2_000);
    // No brand remembered for the number and none by default: every brand.
    let suppressed = |rig: &mut Rig| {
        rig.agent()
            .store()
            .opted_out(&number, BrandId::of("acme"))
            .unwrap()
    };
    assert_eq!(suppressed(&mut rig), Some(Scope::All));
    // The host (from an older opt-in of its own) removes the entry before it stored
    // the STOP: the device keeps it.
    rig.host.send(HostMsg::Suppression(SuppressionOp::Remove(
        number,
        Scope::All,
    )));
    rig.run(1_000);
    assert_eq!(suppressed(&mut rig), Some(Scope::All));
    rig.submit(fr_marketing(7, TO, "Soldes"));
    let events = rig.until_final(7, 60_000);
    assert!(
        matches!(events.last(), Some(Event::Refused { refusal, .. }) if refusal.code == RefusalCode::OptedOut),
        "{events:?}"
    );
    // Once the host has the STOP (acknowledged), an opt-in it records later removes it.
    rig.host.ack_all();
    rig.run(1_000);
    rig.host.send(HostMsg::Suppression(SuppressionOp::Remove(
        number,
        Scope::All,
    )));
    rig.run(1_000);
    assert_eq!(suppressed(&mut rig), None);
    // Only the STOP confirmation went to the number.
    let texts: Vec<String> = rig.sent_to(TO).into_iter().map(|s| s.text).collect();
    assert!(texts.iter().all(|t| !t.contains("Soldes")), "{texts:?}");
}
