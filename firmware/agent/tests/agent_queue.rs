//! Nothing waits behind what cannot go, a message is decided whole, and a reboot forgets
//! neither the pace nor a confirmation:
//!
//! - transactional and conversational jobs get the modem before marketing ones accepted
//!   earlier;
//! - a job that a time rule holds for long is given back to the host (its key finished
//!   on the device) instead of keeping a slot, so a Saturday evening's held campaign does
//!   not block a one-time code;
//! - a message of several segments goes whole or waits whole: neither the end of a
//!   window nor a cap sends its first part alone;
//! - the pacing counters and a queued STOP confirmation are in the store: after a reboot
//!   the daily cap still counts what went, and the confirmation goes once.

mod agent_support;

use agent_support::*;
use relais_agent::agent::{RELEASE_AFTER_S, REPLY_KEYS};
use relais_agent::core::compliance::decision::Class;
use relais_agent::core::compliance::tz::UtcInstant;
use relais_agent::core::link::msg::{Event, HostMsg, JobKey, Pacing, Settings, bounded};
use relais_agent::store::FlashStore;
use relais_agent::store::flash::{Capacity, Layout, RamFlash, Tear};

const TO: &str = "+33612345678";

type Board = RamFlash<{ 96 * 1024 }>;

const CAPACITY: Capacity = Capacity {
    suppression: 32,
    jobs: 32,
    outbox: 48,
};

fn layout() -> Layout<Board> {
    Layout::packed(0, CAPACITY).unwrap()
}

/// Runs `f` on a thread with room for a rig on a RAM flash (the flash is an array that
/// a debug build moves around on the stack).
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// A rig whose agent keeps its state in flash (a RAM flash), so a reboot can reopen it.
fn flash_rig(flash: Board) -> Rig<FlashStore<Board>> {
    Rig::with_store(FlashStore::open(flash, layout()).unwrap())
}

/// Power off and on: a new agent on the same flash, reopened (power restored first if a
/// cut took it). Returns the flash operations done before.
fn power_cycle(rig: &mut Rig<FlashStore<Board>>) -> u32 {
    let mut ops = 0;
    rig.reboot_with(|store| {
        let mut flash = store.into_flash();
        ops = flash.ops();
        flash.repower();
        FlashStore::open(flash, layout()).unwrap()
    });
    ops
}

fn long_text() -> String {
    // 400 GSM characters: three segments of at most 153 (with a mention too).
    "Relais test message. ".repeat(20)
}

fn pacing(per_minute: u16, per_hour: u16, per_day: u16, min_gap_ms: u32) -> Settings {
    Settings {
        pacing: Pacing {
            per_minute,
            per_hour,
            per_day,
            min_gap_ms,
            jitter_ms: 0,
        },
        ..Settings::default()
    }
}

/// Moves the test clock (and the modem's network clock with it) to `at`.
fn advance_to<St: relais_agent::store::Store>(rig: &mut Rig<St>, at: UtcInstant) {
    let now = rig.agent().now_utc().unwrap();
    assert!(at >= now, "{at:?} is past");
    rig.clock.advance(((at.0 - now.0) * 1000) as u64);
}

#[test]
fn transactional_and_conversational_jobs_go_before_marketing_accepted_earlier() {
    let mut rig: Rig = Rig::new();
    // Tuesday 24 November 2026, 11:00 in Paris.
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    rig.host.send(HostMsg::Configure(pacing(0, 0, 0, 10_000)));
    // A first message starts the gap; the next ones arrive while it runs.
    rig.submit(job(1, "+33611000001", "Votre code : 123456"));
    rig.until(5_000, |r| r.modem.submitted().len() == 1);
    rig.submit(fr_marketing(2, "+33611000002", "Soldes d'hiver"));
    rig.submit(fr_marketing(3, "+33611000003", "Soldes d'hiver"));
    rig.submit(job(4, "+33611000004", "Votre colis arrive aujourd'hui"));
    let mut chat = job(5, "+33611000005", "Merci, à demain");
    chat.class = Class::Conversational;
    rig.submit(chat);
    for k in 2..=5 {
        rig.until_final(k, 120_000);
    }
    let order: Vec<String> = rig.modem.submitted().into_iter().map(|s| s.to).collect();
    assert_eq!(
        order,
        [
            "+33611000001",
            "+33611000004",
            "+33611000005",
            "+33611000002",
            "+33611000003"
        ]
    );
}

#[test]
fn held_jobs_give_their_slots_back_and_a_transactional_job_goes_at_once() {
    let mut rig: Rig = Rig::new();
    // Saturday 28 November 2026: the host pre-checked the campaign at 21:59 in Paris;
    // by the device's network clock it is 22:00:10 when the jobs arrive.
    rig.modem.set_network_time(utc("2026-11-28T21:00:10Z"), 4);
    rig.start(utc("2026-11-28T20:59:00Z"));
    for k in 1..=4 {
        rig.submit(fr_marketing(
            k,
            &format!("+3361100000{k}"),
            "Soldes du week-end",
        ));
    }
    rig.run(5_000);
    // No marketing on Sundays: Monday 08:00. The slots are not kept until then.
    let monday_eight = utc("2026-11-30T07:00:00Z");
    assert!(monday_eight.0 - rig.agent().now_utc().unwrap().0 > RELEASE_AFTER_S);
    for k in 1..=4 {
        assert_eq!(
            rig.host.job_events(k),
            [
                Event::Accepted(JobKey(k)),
                Event::Released {
                    key: JobKey(k),
                    until: monday_eight,
                    rule: bounded("fr.marketing.window"),
                }
            ]
        );
    }
    assert_eq!(rig.agent().credits(), 4);
    // A one-time code now: accepted and sent at once.
    let asked = rig.clock.now();
    rig.submit(job(5, "+33611000005", "Votre code : 123456"));
    let events = rig.until_final(5, 10_000);
    assert!(
        matches!(events.last(), Some(Event::Sent { .. })),
        "{events:?}"
    );
    assert!(rig.sent_to("+33611000005")[0].at_ms - asked < 1_000);
    // A released key is finished on the device: submitted again (a host that had not
    // stored the release yet), it is a duplicate and never goes.
    rig.submit(fr_marketing(1, "+33611000001", "Soldes du week-end"));
    assert_eq!(
        rig.host.job_events(1).last(),
        Some(&Event::Duplicate(JobKey(1)))
    );
    // Monday 08:00: the host hands them over again under new keys; each goes once.
    advance_to(&mut rig, monday_eight);
    for k in 1..=4 {
        rig.submit(fr_marketing(10 + k, &format!("+3361100000{k}"), "Soldes"));
    }
    for k in 1..=4 {
        let events = rig.until_final(10 + k, 120_000);
        assert!(matches!(events.last(), Some(Event::Sent { .. })));
    }
    rig.run(60_000);
    for k in 1..=4 {
        let sent = rig.sent_to(&format!("+3361100000{k}"));
        assert_eq!(sent.len(), 1, "{k}: {sent:?}");
    }
}

#[test]
fn a_long_marketing_message_is_not_split_by_the_evening_window() {
    let mut rig: Rig = Rig::new();
    // Tuesday 21:59:40 in Paris; 10 s between segments: the third would go at 22:00.
    rig.modem.set_network_time(utc("2026-11-24T20:59:40Z"), 4);
    rig.start(utc("2026-11-24T20:59:40Z"));
    rig.host.send(HostMsg::Configure(pacing(0, 0, 0, 10_000)));
    rig.settle();
    rig.step_ms = 250;
    rig.submit(fr_marketing(1, TO, &long_text()));
    rig.run(120_000);
    assert!(
        rig.modem.submitted().is_empty(),
        "part of the message went before 22:00: {:?}",
        rig.modem.submitted()
    );
    let wednesday_eight = utc("2026-11-25T07:00:00Z");
    assert_eq!(
        rig.host.job_events(1).last(),
        Some(&Event::Released {
            key: JobKey(1),
            until: wednesday_eight,
            rule: bounded("fr.marketing.window"),
        })
    );
    // The host hands it over again (a new key) just before eight: it goes whole then.
    advance_to(&mut rig, wednesday_eight.plus(-30));
    rig.submit(fr_marketing(2, TO, &long_text()));
    let events = rig.until_final(2, 300_000);
    assert!(matches!(events.last(), Some(Event::Sent { parts: 3, .. })));
    let sent = rig.sent_to(TO);
    assert_eq!(sent.len(), 3, "{sent:?}");
    let parts: Vec<u8> = sent.iter().map(|s| s.concat.unwrap().1).collect();
    assert_eq!(parts, [1, 2, 3]);
    assert!(sent[2].at_ms - sent[0].at_ms <= 30_000);
}

#[test]
fn a_long_message_waits_whole_for_room_under_each_cap() {
    for (name, settings, window) in [
        ("minute", pacing(5, 0, 0, 0), 60_000),
        ("hour", pacing(0, 5, 0, 0), 3_600_000),
        ("day", pacing(0, 0, 5, 0), 86_400_000),
    ] {
        let mut rig: Rig = Rig::new();
        rig.start(utc("2026-11-24T10:00:00Z"));
        rig.host.send(HostMsg::Configure(settings));
        rig.settle();
        // Three segments go: two left under the cap.
        for k in 1..=3 {
            rig.submit(job(k, &format!("+3361100000{k}"), "Votre code : 123456"));
            rig.until_final(k, 10_000);
        }
        rig.submit(job(9, TO, &long_text()));
        rig.step_ms = window / 400;
        rig.until_final(9, window + window / 10);
        let sent = rig.sent_to(TO);
        assert_eq!(sent.len(), 3, "{name}: {sent:?}");
        // The message went whole, never its first parts alone...
        assert!(
            sent[2].at_ms - sent[0].at_ms < 1_000,
            "{name}: split over {} ms",
            sent[2].at_ms - sent[0].at_ms
        );
        // ...and only once the window had room for all of it.
        let times: Vec<u64> = rig.modem.submitted().iter().map(|s| s.at_ms).collect();
        let most = times
            .iter()
            .map(|&t| times.iter().filter(|&&u| u >= t && u < t + window).count())
            .max()
            .unwrap();
        assert!(
            most <= 5,
            "{name}: {most} segments in one window: {times:?}"
        );
        if window > 60_000 {
            // A long wait is told to the host.
            assert!(
                rig.host.job_events(9).iter().any(
                    |e| matches!(e, Event::Deferred { rule, .. } if rule.as_str() == "pacing")
                ),
                "{name}"
            );
        }
    }
}

#[test]
fn the_daily_cap_still_counts_after_a_reboot() {
    with_big_stack(daily_cap_after_a_reboot);
}

fn daily_cap_after_a_reboot() {
    let mut rig = flash_rig(Board::new());
    let start = utc("2026-11-24T10:00:00Z");
    rig.start(start);
    let settings = pacing(0, 0, 5, 0);
    rig.host.send(HostMsg::Configure(settings.clone()));
    rig.settle();
    for k in 1..=5 {
        rig.submit(job(k, &format!("+3361100000{k}"), "Votre code : 123456"));
        rig.until_final(k, 10_000);
    }
    let first = rig.modem.submitted()[0].at_ms;
    // Power off and on: the device's RAM is gone, its flash is not.
    power_cycle(&mut rig);
    let host_now = start.plus((rig.clock.now() / 1_000) as i64);
    rig.start(host_now);
    rig.host.send(HostMsg::Configure(settings));
    rig.submit(job(6, "+33611000006", "Votre code : 654321"));
    rig.step_ms = 60_000;
    rig.run(3 * 3_600_000);
    assert_eq!(
        rig.modem.submitted().len(),
        5,
        "the reboot reset the daily cap"
    );
    assert!(rig.host.job_events(6).iter().any(|e| matches!(
        e,
        Event::Deferred { rule, until, .. }
            if rule.as_str() == "pacing" && until.0 >= start.0 + 23 * 3_600
    )));
    rig.until_final(6, 24 * 3_600_000);
    let sixth = rig.sent_to("+33611000006")[0].at_ms;
    assert!(sixth - first >= 86_400_000, "{} ms", sixth - first);
}

/// The confirmations of a STOP the modem took.
fn confirmations<St: relais_agent::store::Store>(rig: &Rig<St>) -> usize {
    rig.sent_to(TO)
        .iter()
        .filter(|s| s.text.contains("prise en compte"))
        .count()
}

#[test]
fn a_queued_stop_confirmation_survives_a_reboot_and_is_sent_once() {
    with_big_stack(confirmation_after_a_reboot);
}

fn confirmation_after_a_reboot() {
    let mut rig = flash_rig(Board::new());
    // Tuesday 11:00 in Paris.
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    // Two minutes between segments: the confirmation waits after the offer.
    rig.host.send(HostMsg::Configure(pacing(0, 0, 0, 120_000)));
    rig.submit(fr_marketing(1, TO, "Soldes -20%"));
    rig.until_final(1, 10_000);
    rig.modem
        .deliver(TO, "STOP", utc_timestamp(2026, 11, 24, 10, 1));
    rig.run(5_000);
    assert!(rig.host.events.values().any(|e| matches!(
        e,
        Event::Keyword {
            confirmed: true,
            ..
        }
    )));
    assert_eq!(confirmations(&rig), 0, "the gap holds it");
    // The power goes before its turn.
    power_cycle(&mut rig);
    rig.start(utc("2026-11-24T10:01:00Z"));
    rig.run(60_000);
    assert_eq!(confirmations(&rig), 1);
    let replies_sent = rig
        .host
        .events
        .values()
        .filter(|e| matches!(e, Event::Sent { key, .. } if key.0 >= REPLY_KEYS))
        .count();
    assert_eq!(replies_sent, 1);
    // Once: after another reboot, nothing is sent again.
    power_cycle(&mut rig);
    rig.start(utc("2026-11-24T10:03:00Z"));
    rig.run(10 * 60_000);
    assert_eq!(confirmations(&rig), 1);
}

/// The flash operations so far.
fn flash_ops(rig: &mut Rig<FlashStore<Board>>) -> u32 {
    rig.agent().store().flash().unwrap().ops()
}

/// What [`stop_with_a_cut`] saw.
struct StopRun {
    /// Confirmations the modem took.
    sent: usize,
    /// The device reported the confirmation's outcome unknown.
    unknown: bool,
    /// Flash operations: once the agent had started, once the STOP was handled (its
    /// confirmation kept), and before the reboot.
    booted: u32,
    handled: u32,
    ops: u32,
}

/// One run of a STOP and its confirmation with the flash's power cut at operation `cut`
/// (if any, after the agent started), then a reboot.
fn stop_with_a_cut(cut: Option<(u32, Tear)>) -> StopRun {
    let mut rig = flash_rig(Board::new());
    // The cut is armed through a restart (the agent owns the store), in every run alike
    // so that the flash operations are numbered the same; it comes after the restart.
    rig.reboot_with(|mut store| {
        if let Some((op, tear)) = cut {
            store.flash_mut().cut_at(op, tear);
        }
        store
    });
    let booted = flash_ops(&mut rig);
    rig.strict = false;
    rig.step_ms = 100;
    rig.modem.set_network_time(utc("2026-11-24T10:00:00Z"), 4);
    rig.start(utc("2026-11-24T10:00:00Z"));
    rig.host.send(HostMsg::Configure(pacing(0, 0, 0, 20_000)));
    rig.submit(fr_marketing(1, TO, "Soldes -20%"));
    rig.run(5_000);
    rig.modem
        .deliver(TO, "STOP", utc_timestamp(2026, 11, 24, 10, 1));
    rig.run(2_000);
    let handled = flash_ops(&mut rig);
    // The gap ends: the confirmation goes (in a run without a cut).
    rig.run(60_000);
    let ops = power_cycle(&mut rig);
    rig.start(utc("2026-11-24T10:01:30Z"));
    rig.run(60_000);
    let unknown = rig
        .host
        .events
        .values()
        .any(|e| matches!(e, Event::Unknown { key, .. } if key.0 >= REPLY_KEYS));
    StopRun {
        sent: confirmations(&rig),
        unknown,
        booted,
        handled,
        ops,
    }
}

#[test]
fn a_power_cut_anywhere_never_sends_a_confirmation_twice_nor_loses_a_kept_one() {
    with_big_stack(confirmation_under_power_cuts);
}

fn confirmation_under_power_cuts() {
    let clean = stop_with_a_cut(None);
    assert_eq!((clean.sent, clean.unknown), (1, false));
    let (handled, ops) = (clean.handled, clean.ops);
    assert!(clean.booted < handled && handled < ops, "{handled} {ops}");
    let mut once = 0;
    for op in clean.booted..ops {
        for tear in [Tear::Nothing, Tear::Half] {
            let StopRun { sent, unknown, .. } = stop_with_a_cut(Some((op, tear)));
            assert!(sent <= 1, "cut at {op} ({tear:?}): sent {sent} times");
            if op >= handled {
                // Kept in flash before the cut: sent once, or reported unknown when the
                // cut came between its journal and the modem's answer.
                assert!(
                    sent == 1 || unknown,
                    "cut at {op} ({tear:?}): the kept confirmation was lost"
                );
            }
            once += usize::from(sent == 1);
        }
    }
    println!(
        "cuts at {} flash operations ({} after the STOP was handled): confirmed once after {once} of {} runs",
        ops - clean.booted,
        ops - handled,
        2 * (ops - clean.booted)
    );
    assert!(once > 0);
}
