//! Replies that arrive badly, on the real `thumbv7m-none-eabi` firmware under QEMU with
//! `relais sim` as the modem: a STOP is never lost.
//!
//! - a reply whose part 2 never comes is still acted on: when a newer message needs its
//!   reassembly room (or after an hour), what arrived is reported, marked truncated, and
//!   a STOP in it suppresses the number;
//! - a sender in national form (`0612345678`, as a French network shows a French
//!   number) is read as `+33612345678`, from the service centre's address;
//! - a message leaves the SIM only once reported: the parts still waiting for the rest
//!   of their message stay stored.
//!
//! Then marketing jobs to both numbers, straight to the device (no host-side check), are
//! refused by the firmware itself, and the simulator's ledger shows none went out.

mod device_support;
mod sim_support;

use std::collections::BTreeMap;
use std::time::Duration;

use device_support::Rig;
use relais::link::{Event, EventId, Job, JobKey};
use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{Identity, RefusalCode, Sender, bounded};
use serde_json::json;

/// Tuesday 10 March 2026, 10:00 in Paris: French marketing may go. The SIM's service
/// centre is French, so national-form senders are French numbers.
const SCENARIO: &str = r#"
seed = 12
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
smsc = "+33609001390"
submit_latency = "100ms"

[operator]
report_latency = "200ms"

[[route]]
prefix = "*"
outcome = "delivered"
"#;

/// The reply whose part 2 never arrives, from a national-form number.
const CUT_FROM: &str = "0612345020";
const CUT_NUMBER: &str = "+33612345020";
/// The single-part STOP from a national-form number.
const STOP_FROM: &str = "0612345021";
const STOP_NUMBER: &str = "+33612345021";

impl Rig {
    /// An SMS to the modem from `from`; with `parts`, only those segments arrive.
    fn inject(&self, from: &str, text: &str, parts: Option<&[u64]>) {
        let mut request = json!({"cmd": "sms", "modem": "m1", "from": from, "text": text});
        if let Some(parts) = parts {
            request["parts"] = json!(parts);
        }
        self.sim.control(request);
    }

    /// Messages in the simulated SIM's storage.
    fn stored_on_sim(&self) -> u64 {
        let status = self.sim.control(json!({"cmd": "status"}));
        status["modems"][0]["stored"]["SM"]
            .as_u64()
            .unwrap_or_else(|| panic!("no SM count in {status}"))
    }
}

fn opted_out(events: &BTreeMap<EventId, Event>, number: &str) -> bool {
    events.values().any(|e| {
        matches!(e, Event::Keyword { from, kind, .. }
            if from.to_string() == number && *kind == relais_core::link::msg::KeywordKind::OptOut)
    })
}

fn marketing(key: u64, to: &str) -> Job {
    Job {
        key: JobKey(key),
        to: Msisdn::parse(to).unwrap(),
        text: bounded("Nouvelle collection en boutique"),
        class: Class::Marketing,
        categories: CategorySet::EMPTY,
        identity: Identity {
            // FR: marketing from a 36xxx short code.
            sender: Sender::ShortCode(36_123),
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

fn refusal(events: &BTreeMap<EventId, Event>, key: u64) -> Option<RefusalCode> {
    events.values().find_map(|e| match e {
        Event::Refused { key: k, refusal } if k.0 == key => Some(refusal.code),
        _ => None,
    })
}

#[test]
fn a_stop_in_a_cut_reply_or_from_a_national_number_holds_on_the_firmware() {
    let Some(mut rig) = Rig::start("device_inbound", SCENARIO) else {
        return;
    };
    // Part 1 of a two-part STOP reply, from a national-form number; part 2 is lost.
    let cut = format!(
        "STOP {}",
        "je ne veux plus recevoir vos messages, merci. ".repeat(4)
    );
    rig.inject(CUT_FROM, &cut, Some(&[1]));
    std::thread::sleep(Duration::from_secs(3));
    // Two more replies whose later parts never come: the firmware holds two messages in
    // reassembly, so the second one needs the room of the STOP, which goes first.
    for (from, word) in [("+33611111111", "Bonjour"), ("+33622222222", "Salut")] {
        let long = format!("{word} {}", "un long message sans fin. ".repeat(8));
        rig.inject(from, &long, Some(&[1]));
        std::thread::sleep(Duration::from_secs(3));
    }
    // A plain STOP from a national-form number.
    rig.inject(STOP_FROM, "STOP", None);
    rig.events_until("both opt-outs", |ev| {
        opted_out(ev, CUT_NUMBER) && opted_out(ev, STOP_NUMBER)
    });

    // What arrived of the cut reply is reported, truncated, under the E.164 number.
    let part1 = rig
        .events
        .values()
        .find_map(|e| match e {
            Event::Inbound {
                from,
                text,
                truncated,
                ..
            } if from.as_str() == CUT_NUMBER => Some((text.to_string(), *truncated)),
            _ => None,
        })
        .expect("the cut reply is reported");
    assert!(part1.1, "marked truncated: {part1:?}");
    assert!(part1.0.starts_with("STOP je ne veux plus"), "{part1:?}");
    assert!(part1.0.len() < cut.len(), "only part 1: {part1:?}");
    assert!(rig.events.values().any(|e| matches!(
        e,
        Event::Inbound { from, text, truncated: false, .. }
            if from.as_str() == STOP_NUMBER && text.as_str() == "STOP"
    )));
    // The two replies still waiting for their part 2 are not reported, and stay on the
    // SIM; everything reported has left it.
    let waiting = rig
        .events
        .values()
        .filter(|e| matches!(e, Event::Inbound { text, .. } if text.starts_with("Bonjour") || text.starts_with("Salut")))
        .count();
    assert_eq!(waiting, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rig.stored_on_sim() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "SIM holds {} messages, want the 2 waiting parts",
            rig.stored_on_sim()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Marketing to both numbers, straight to the device: refused by the firmware.
    rig.submit(marketing(30, CUT_NUMBER));
    rig.submit(marketing(31, STOP_NUMBER));
    rig.events_until("both refusals", |ev| {
        refusal(ev, 30).is_some() && refusal(ev, 31).is_some()
    });
    assert_eq!(refusal(&rig.events, 30), Some(RefusalCode::OptedOut));
    assert_eq!(refusal(&rig.events, 31), Some(RefusalCode::OptedOut));
    let messages = rig.sim.entries("message");
    assert!(
        !messages
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").contains("collection")),
        "marketing sent after STOP: {messages:#?}"
    );
    // The deepest stack the loop used, for docs/budget.md.
    if let Some(line) = rig
        .device
        .guest
        .log()
        .iter()
        .rev()
        .find(|l| l.message.contains("loop stack"))
    {
        eprintln!("{line}");
    }
}
