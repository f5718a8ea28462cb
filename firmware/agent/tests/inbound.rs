//! The inbound side of the agent on real SMS-DELIVER PDUs (built with relais-core's
//! encoder): events, suppression written to the store before `on_pdu` returns,
//! confirmation replies, reassembly, expiry, and garbage. Then the whole agent on a
//! modem with SIM storage: a message leaves the SIM only once stored, a repeat after a
//! power cut is recognised, an incomplete STOP from a national-form number holds.

mod agent_support;

use proptest::prelude::*;
use relais_agent::inbound::{
    DEFAULT_MAX_AGE_MS, Disposition, Inbound, InboundOutcome, MAX_REPLY, REPLY_WINDOW_MS,
    SEEN_KEYS, national_to_international, part_slot, remember,
};
use relais_agent::modem::{InboundPdu, Memory, Slot};
use relais_agent::store::{MemStore, Store, StoreError};
use relais_core::compliance::keywords::Lang;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{BrandId, Event, KeywordKind, MAX_TEXT, Scope, Settings};
use relais_core::sms::pdu::{
    self, Address, Concat, DeliverHeader, EncodingChoice, PhoneNumber, TextPlan, TextSegment,
    Timestamp, TypeOfNumber,
};
use relais_core::sms::{ConcatWidth, Encoding};

type Agent = Inbound<2, 4, 16>;
type Mem = MemStore<16, 4, 4>;

const FR: &str = "+33612345678";
const US: &str = "+12125550123";

/// 2024-05-06 11:30:15 at the service centre, UTC+2 (TZ = 8 quarters).
const SCTS: Timestamp = Timestamp {
    year: 2024,
    month: 5,
    day: 6,
    hour: 11,
    minute: 30,
    second: 15,
    offset_quarters: 8,
};

fn num(s: &str) -> Msisdn {
    Msisdn::parse(s).unwrap()
}

fn phone(s: &str) -> Address {
    Address::Number(PhoneNumber::parse(s).unwrap())
}

fn header(from: &Address) -> DeliverHeader<'_> {
    DeliverHeader {
        smsc: None,
        from,
        timestamp: SCTS,
        class: None,
        protocol_id: 0,
        more_messages: false,
        status_report_indication: false,
    }
}

/// The PDU as the modem hands it up (`+CMGR`: SMSC field first, TPDU length announced).
fn received(h: &DeliverHeader<'_>, seg: &TextSegment<'_>) -> InboundPdu {
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = pdu::encode_deliver(h, seg, &mut out).unwrap();
    let hex: String = out[..e.pdu_len]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    InboundPdu::from_hex(None, e.tpdu_len as u16, hex.as_bytes()).unwrap()
}

/// Every PDU of `text` from `from` (concatenated with reference `reference` when long).
fn pdus(from: &Address, text: &str, reference: u16) -> Vec<InboundPdu> {
    let plan = TextPlan::new(text, EncodingChoice::Auto, ConcatWidth::Ref8, reference).unwrap();
    plan.segments()
        .map(|seg| received(&header(from), &seg))
        .collect()
}

fn one(from: &str, text: &str) -> InboundPdu {
    let address = phone(from);
    let mut all = pdus(&address, text, 0);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn run(agent: &mut Agent, store: &mut Mem, pdu: &InboundPdu, now_ms: u64) -> InboundOutcome {
    agent
        .on_pdu(pdu, now_ms, store, &Settings::default())
        .unwrap()
}

fn inbound_text(out: &InboundOutcome) -> (&str, bool) {
    match out.events.first() {
        Some(Event::Inbound {
            text, truncated, ..
        }) => (text.as_str(), *truncated),
        other => panic!("expected an Inbound event, got {other:?}"),
    }
}

/// `(kind, keyword, tier, scope, confirmed)` of the Keyword event.
fn keyword(out: &InboundOutcome) -> Option<(KeywordKind, &str, u8, Option<Scope>, bool)> {
    match out.events.get(1) {
        Some(Event::Keyword {
            kind,
            keyword,
            tier,
            scope,
            confirmed,
            ..
        }) => Some((*kind, keyword.as_str(), *tier, *scope, *confirmed)),
        None => None,
        other => panic!("expected a Keyword event, got {other:?}"),
    }
}

fn acme() -> BrandId {
    BrandId::of("acme")
}

#[test]
fn plain_message_is_one_inbound_event() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let out = run(&mut agent, &mut store, &one(FR, "Bonjour, à demain"), 0);
    assert_eq!(out.disposition, Disposition::Message);
    assert_eq!(out.events.len(), 1);
    assert_eq!(
        out.events[0],
        Event::Inbound {
            from: "+33612345678".try_into().unwrap(),
            text: "Bonjour, à demain".try_into().unwrap(),
            at: UtcInstant::parse_rfc3339("2024-05-06T09:30:15Z").unwrap(),
            truncated: false,
        }
    );
    assert_eq!(out.reply, None);
    assert_eq!(store.suppression_summary().unwrap().0, 0);
    assert_eq!(agent.counters().messages, 1);
}

#[test]
fn stop_suppresses_the_brand_that_sent_and_confirms_in_french() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(FR), "acme");
    agent.note_sent(&num("+33699999999"), "other");
    let out = run(&mut agent, &mut store, &one(FR, "STOP"), 1_000);
    assert_eq!(inbound_text(&out), ("STOP", false));
    assert_eq!(
        keyword(&out),
        Some((
            KeywordKind::OptOut,
            "STOP",
            1,
            Some(Scope::Brand(acme())),
            true
        ))
    );
    assert_eq!(
        store.opted_out(&num(FR), acme()).unwrap(),
        Some(Scope::Brand(acme()))
    );
    assert_eq!(
        store.opted_out(&num(FR), BrandId::of("other")).unwrap(),
        None
    );
    let reply = out.reply.unwrap();
    assert_eq!(reply.to, num(FR));
    assert_eq!(reply.text.as_str(), Lang::Fr.opt_out_confirmation());
    assert!(reply.text.contains("désinscription"));
}

#[test]
fn a_second_stop_within_a_day_gets_no_second_confirmation() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(FR), "acme");
    assert!(
        run(&mut agent, &mut store, &one(FR, "STOP"), 0)
            .reply
            .is_some()
    );
    let again = run(&mut agent, &mut store, &one(FR, "stop"), 3_600_000);
    assert_eq!(again.reply, None);
    assert!(!keyword(&again).unwrap().4, "confirmed");
    assert_eq!(agent.counters().replies_withheld, 1);
    // A day later it is a new request.
    let later = run(&mut agent, &mut store, &one(FR, "STOP"), REPLY_WINDOW_MS);
    assert!(later.reply.is_some());
    // START, then STOP again: a new opt-out, confirmed again.
    run(
        &mut agent,
        &mut store,
        &one(FR, "START"),
        REPLY_WINDOW_MS + 1,
    );
    let renewed = run(
        &mut agent,
        &mut store,
        &one(FR, "STOP"),
        REPLY_WINDOW_MS + 2,
    );
    assert!(renewed.reply.is_some());
}

#[test]
fn stopall_is_every_brand() {
    for text in ["STOPALL", "Stop all", "stop-all!"] {
        let (mut agent, mut store) = (Agent::new(), Mem::new());
        agent.note_sent(&num(FR), "acme");
        let out = run(&mut agent, &mut store, &one(FR, text), 0);
        let (kind, _, _, scope, _) = keyword(&out).unwrap();
        assert_eq!(
            (kind, scope),
            (KeywordKind::OptOut, Some(Scope::All)),
            "{text}"
        );
        assert_eq!(
            store.opted_out(&num(FR), BrandId::of("anyone")).unwrap(),
            Some(Scope::All)
        );
    }
}

#[test]
fn without_a_known_brand_stop_falls_back_to_default_then_all() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let out = run(&mut agent, &mut store, &one(FR, "STOP"), 0);
    assert_eq!(keyword(&out).unwrap().3, Some(Scope::All));

    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.set_default_brand(Some("acme"));
    let out = run(&mut agent, &mut store, &one(FR, "STOP"), 0);
    assert_eq!(keyword(&out).unwrap().3, Some(Scope::Brand(acme())));
    // A remembered brand wins over the default.
    agent.note_sent(&num(US), "zeta");
    let out = run(&mut agent, &mut store, &one(US, "STOP"), 0);
    assert_eq!(
        keyword(&out).unwrap().3,
        Some(Scope::Brand(BrandId::of("zeta")))
    );
}

#[test]
fn brand_memory_forgets_the_least_recently_sent() {
    let mut agent: Inbound<1, 2, 2> = Inbound::new();
    let (a, b, c) = (
        num("+33600000001"),
        num("+33600000002"),
        num("+33600000003"),
    );
    agent.note_sent(&a, "one");
    agent.note_sent(&b, "two");
    agent.note_sent(&a, "three"); // refreshes a
    agent.note_sent(&c, "four"); // evicts b
    assert_eq!(agent.brand_for(&a), Some(BrandId::of("three")));
    assert_eq!(agent.brand_for(&b), None);
    assert_eq!(agent.brand_for(&c), Some(BrandId::of("four")));
}

#[test]
fn start_removes_the_opt_out() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(FR), "acme");
    run(&mut agent, &mut store, &one(FR, "STOP"), 0);
    let out = run(&mut agent, &mut store, &one(FR, "START"), 1);
    assert_eq!(
        keyword(&out),
        Some((
            KeywordKind::OptIn,
            "START",
            1,
            Some(Scope::Brand(acme())),
            false
        ))
    );
    assert_eq!(out.reply, None);
    assert_eq!(store.opted_out(&num(FR), acme()).unwrap(), None);

    // After STOPALL, START lifts the opt-out for every brand.
    run(&mut agent, &mut store, &one(FR, "STOPALL"), 2);
    let out = run(&mut agent, &mut store, &one(FR, "start"), 3);
    assert_eq!(keyword(&out).unwrap().3, Some(Scope::All));
    assert_eq!(store.suppression_summary().unwrap().0, 0);
}

#[test]
fn french_and_punctuated_variants_are_opt_outs() {
    // (text, keyword, tier): the normalisation of docs/compliance.md § Decision 8 (accents,
    // case, punctuation).
    let cases = [
        ("Arrêt", "ARRET", 1),
        ("ARRET", "ARRET", 1),
        ("stop!", "STOP", 1),
        ("  Stop. ", "STOP", 1),
        ("stop", "STOP", 1),
        ("désabonner", "DESABONNER", 1),
        ("STOP svp merci", "STOP", 2),
        ("Stop 36111", "STOP", 2),
    ];
    for (text, kw, tier) in cases {
        let (mut agent, mut store) = (Agent::new(), Mem::new());
        agent.note_sent(&num(FR), "acme");
        let out = run(&mut agent, &mut store, &one(FR, text), 0);
        assert_eq!(inbound_text(&out).0, text);
        let (kind, keyword_seen, tier_seen, scope, confirmed) = keyword(&out).unwrap();
        assert_eq!(
            (kind, keyword_seen, tier_seen, scope, confirmed),
            (
                KeywordKind::OptOut,
                kw,
                tier,
                Some(Scope::Brand(acme())),
                true
            ),
            "{text}"
        );
        assert!(
            store.opted_out(&num(FR), acme()).unwrap().is_some(),
            "{text}"
        );
    }
}

#[test]
fn stop_inside_a_sentence_counts_for_plus_one_only() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(US), "acme");
    let out = run(
        &mut agent,
        &mut store,
        &one(US, "please stop texting me"),
        0,
    );
    assert_eq!(
        keyword(&out),
        Some((
            KeywordKind::OptOut,
            "STOP",
            3,
            Some(Scope::Brand(acme())),
            true
        ))
    );
    assert!(store.opted_out(&num(US), acme()).unwrap().is_some());
    assert_eq!(
        out.reply.unwrap().text.as_str(),
        Lang::En.opt_out_confirmation()
    );

    agent.note_sent(&num(FR), "acme");
    let out = run(
        &mut agent,
        &mut store,
        &one(FR, "please stop texting me"),
        0,
    );
    assert_eq!(
        keyword(&out),
        Some((KeywordKind::PossibleOptOut, "STOP", 3, None, false))
    );
    assert_eq!(out.reply, None);
    assert_eq!(store.opted_out(&num(FR), acme()).unwrap(), None);
}

#[test]
fn help_gets_the_help_text_and_germany_gets_no_confirmation() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let out = run(&mut agent, &mut store, &one(US, "HELP"), 0);
    assert_eq!(
        keyword(&out),
        Some((KeywordKind::Help, "HELP", 1, None, true))
    );
    assert_eq!(out.reply.unwrap().text.as_str(), Lang::En.help_reply());
    assert_eq!(store.suppression_summary().unwrap().0, 0);

    // No confirmation rule in the German pack: suppressed, no reply.
    let de = "+491701234567";
    let out = run(&mut agent, &mut store, &one(de, "STOPP"), 0);
    assert_eq!(keyword(&out).unwrap().0, KeywordKind::OptOut);
    assert_eq!(out.reply, None);
    assert!(store.opted_out(&num(de), acme()).unwrap().is_some());
}

#[test]
fn confirmations_off_means_no_reply() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let settings = Settings {
        confirm_keywords: false,
        ..Settings::default()
    };
    let out = agent
        .on_pdu(&one(FR, "STOP"), 0, &mut store, &settings)
        .unwrap();
    assert_eq!(out.reply, None);
    assert!(!keyword(&out).unwrap().4);
    assert!(store.opted_out(&num(FR), acme()).unwrap().is_some());
}

#[test]
fn alphanumeric_and_short_code_senders_are_never_suppressed_or_answered() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    for from in [
        Address::alphanumeric("MyBank").unwrap(),
        phone("36111"),
        // National form without a service-centre address to read it by (the modem left
        // the field empty): not an E.164 number.
        phone("0612345678"),
    ] {
        let pdu = pdus(&from, "STOP", 0).remove(0);
        let out = run(&mut agent, &mut store, &pdu, 0);
        assert_eq!(out.events.len(), 1, "{from}");
        assert_eq!(inbound_text(&out).0, "STOP");
        match &out.events[0] {
            Event::Inbound { from: f, .. } => assert_eq!(f.as_str(), from.to_string()),
            _ => unreachable!(),
        }
        assert_eq!(out.reply, None);
    }
    assert_eq!(store.suppression_summary().unwrap().0, 0);
    // `00` written out is international.
    let out = run(&mut agent, &mut store, &one("0033612345678", "STOP"), 0);
    assert_eq!(keyword(&out).unwrap().0, KeywordKind::OptOut);
    assert!(store.opted_out(&num(FR), acme()).unwrap().is_some());
}

fn segment(text: &str, reference: u16, part: u8, total: u8) -> TextSegment<'_> {
    TextSegment {
        concat: Some(Concat {
            reference,
            total,
            part,
            width: ConcatWidth::Ref8,
        }),
        ..TextSegment::single(text, Encoding::Gsm7)
    }
}

#[test]
fn stop_split_across_two_segments_is_reassembled() {
    let from = phone(FR);
    let h = header(&from);
    for order in [[1u8, 2], [2, 1]] {
        let (mut agent, mut store) = (Agent::new(), Mem::new());
        agent.note_sent(&num(FR), "acme");
        let parts = [
            received(&h, &segment("ST", 42, 1, 2)),
            received(&h, &segment("OP", 42, 2, 2)),
        ];
        let first = run(&mut agent, &mut store, &parts[usize::from(order[0] - 1)], 0);
        assert_eq!(
            first.disposition,
            Disposition::Pending {
                received: 1,
                total: 2
            }
        );
        assert!(first.events.is_empty());
        assert_eq!(store.suppression_summary().unwrap().0, 0);
        // The same part again changes nothing.
        let dup = run(&mut agent, &mut store, &parts[usize::from(order[0] - 1)], 1);
        assert_eq!(dup.disposition, Disposition::Duplicate);
        let done = run(&mut agent, &mut store, &parts[usize::from(order[1] - 1)], 2);
        assert_eq!(done.disposition, Disposition::Message);
        assert_eq!(inbound_text(&done), ("STOP", false));
        assert_eq!(keyword(&done).unwrap().0, KeywordKind::OptOut);
        assert_eq!(
            store.opted_out(&num(FR), acme()).unwrap(),
            Some(Scope::Brand(acme()))
        );
        assert_eq!(agent.pending(), 0);
    }
}

#[test]
fn long_message_out_of_order_and_interleaved() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let fr = phone(FR);
    let us = phone(US);
    let a_text = format!("STOP {}", "a".repeat(400)); // 3 GSM 7-bit parts
    let b_text = "ü".repeat(200); // 2 parts
    let a = pdus(&fr, &a_text, 7);
    let b = pdus(&us, &b_text, 7); // same reference, another sender
    assert_eq!((a.len(), b.len()), (3, 2));
    for (pdu, now) in [(&a[2], 0), (&b[1], 1), (&a[0], 2)] {
        assert!(run(&mut agent, &mut store, pdu, now).events.is_empty());
    }
    let b_out = run(&mut agent, &mut store, &b[0], 3);
    assert_eq!(inbound_text(&b_out), (b_text.as_str(), false));
    assert_eq!(keyword(&b_out), None);
    let a_out = run(&mut agent, &mut store, &a[1], 4);
    assert_eq!(inbound_text(&a_out), (a_text.as_str(), false));
    assert_eq!(keyword(&a_out).unwrap().2, 2, "first-word tier");
}

#[test]
fn text_longer_than_an_event_is_cut_and_marked() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let text = "é".repeat(600); // 600 septets, 4 parts; 1200 bytes of UTF-8
    let parts = pdus(&phone(FR), &text, 9);
    assert_eq!(parts.len(), 4);
    let out = parts
        .iter()
        .map(|p| run(&mut agent, &mut store, p, 0))
        .last()
        .unwrap();
    let (seen, truncated) = inbound_text(&out);
    assert!(truncated);
    assert_eq!(seen, "é".repeat(MAX_TEXT / 2));
}

#[test]
fn more_parts_than_the_reassembler_holds_come_as_fragments() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(FR), "acme");
    let text = format!("stop {}", "x".repeat(700)); // 5 parts > PARTS = 4
    let parts = pdus(&phone(FR), &text, 3);
    assert_eq!(parts.len(), 5);
    // Part 2 alone: a truncated fragment, never classified.
    let out = run(&mut agent, &mut store, &parts[1], 0);
    assert_eq!(out.disposition, Disposition::Fragment);
    assert_eq!(inbound_text(&out), ("x".repeat(153).as_str(), true));
    assert_eq!(keyword(&out), None);
    // Part 1 carries the first word.
    let out = run(&mut agent, &mut store, &parts[0], 1);
    assert_eq!(out.disposition, Disposition::Fragment);
    assert!(inbound_text(&out).0.starts_with("stop xxx"));
    assert_eq!(keyword(&out).unwrap().0, KeywordKind::OptOut);
    assert_eq!(agent.counters().fragments, 2);
}

/// A French service centre, as it heads every PDU it delivers.
const CENTRE: &str = "+33609001390";

/// The PDU of `seg` from `from` delivered by [`CENTRE`], as the modem reads it from
/// SIM slot `index`.
fn in_slot(from: &Address, seg: &TextSegment<'_>, index: u16) -> InboundPdu {
    in_slot_at(from, seg, index, SCTS)
}

/// [`in_slot`] with another service-centre time stamp.
fn in_slot_at(from: &Address, seg: &TextSegment<'_>, index: u16, at: Timestamp) -> InboundPdu {
    let centre = PhoneNumber::parse(CENTRE).unwrap();
    let h = DeliverHeader {
        smsc: Some(&centre),
        timestamp: at,
        ..header(from)
    };
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = pdu::encode_deliver(&h, seg, &mut out).unwrap();
    let hex: String = out[..e.pdu_len]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let slot = Slot {
        memory: Memory::SM,
        index,
    };
    InboundPdu::from_hex(Some(slot), e.tpdu_len as u16, hex.as_bytes()).unwrap()
}

fn slots(out: &InboundOutcome) -> Vec<Option<u16>> {
    out.parts.iter().map(|p| part_slot(*p)).collect()
}

#[test]
fn a_stop_in_part_one_holds_when_part_two_never_comes() {
    // Before: the reassembler dropped the expired part unseen (no event, no opt-out).
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    agent.note_sent(&num(FR), "acme");
    let from = phone(FR);
    let part1 = in_slot(&from, &segment("STOP svp", 5, 1, 2), 3);
    let part2 = in_slot(&from, &segment("merci", 5, 2, 2), 4);
    let out = run(&mut agent, &mut store, &part1, 0);
    assert_eq!(
        out.disposition,
        Disposition::Pending {
            received: 1,
            total: 2
        }
    );
    // Waiting for part 2: nothing to report, and the part stays on the SIM.
    assert!(out.events.is_empty() && out.parts.is_empty());
    let settings = Settings::default();
    let mut out = InboundOutcome::new();
    assert!(!agent.has_expired(DEFAULT_MAX_AGE_MS - 1));
    assert!(
        !agent
            .expire_into(DEFAULT_MAX_AGE_MS - 1, &mut store, &settings, &mut out)
            .unwrap()
    );
    assert!(out.events.is_empty());
    assert!(agent.has_expired(DEFAULT_MAX_AGE_MS));
    assert!(
        agent
            .expire_into(DEFAULT_MAX_AGE_MS, &mut store, &settings, &mut out)
            .unwrap()
    );
    assert_eq!(out.disposition, Disposition::Incomplete);
    assert_eq!(inbound_text(&out), ("STOP svp", true));
    assert_eq!(
        keyword(&out),
        Some((
            KeywordKind::OptOut,
            "STOP",
            2,
            Some(Scope::Brand(acme())),
            true
        ))
    );
    assert_eq!(
        store.opted_out(&num(FR), acme()).unwrap(),
        Some(Scope::Brand(acme()))
    );
    assert_eq!(out.reply.as_ref().unwrap().to, num(FR));
    assert_eq!(slots(&out), [Some(3)]);
    assert_eq!((agent.counters().expired, agent.pending()), (1, 0));
    // The late part 2 starts a message of its own: delivered alone when it expires in
    // turn, and never classified (its text does not start the message).
    let late = run(&mut agent, &mut store, &part2, DEFAULT_MAX_AGE_MS + 1);
    assert!(matches!(late.disposition, Disposition::Pending { .. }));
    assert!(
        agent
            .expire_into(2 * DEFAULT_MAX_AGE_MS + 1, &mut store, &settings, &mut out)
            .unwrap()
    );
    assert_eq!(inbound_text(&out), ("merci", true));
    assert_eq!(keyword(&out), None);
    assert_eq!(slots(&out), [Some(4)]);
}

#[test]
fn an_incomplete_message_evicted_for_room_is_delivered_and_acted_on() {
    // Before: evicted unseen, the STOP was lost.
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let (fr, us, other) = (phone(FR), phone(US), phone("+33698765432"));
    let a1 = in_slot(&fr, &segment("STOP", 1, 1, 2), 1);
    let b1 = in_slot(&us, &segment("Hello ", 2, 1, 2), 2);
    let b2 = in_slot(&us, &segment("there", 2, 2, 2), 3);
    let c1 = in_slot(&other, &segment("Bonjour ", 3, 1, 3), 4);
    assert!(run(&mut agent, &mut store, &a1, 0).events.is_empty());
    assert!(run(&mut agent, &mut store, &b1, 1).events.is_empty());
    // Both reassembly slots are taken: C's first part evicts A, the oldest.
    let out = run(&mut agent, &mut store, &c1, 2);
    assert_eq!(out.disposition, Disposition::Incomplete);
    assert_eq!(inbound_text(&out), ("STOP", true));
    assert_eq!(keyword(&out).unwrap().0, KeywordKind::OptOut);
    assert_eq!(store.opted_out(&num(FR), acme()).unwrap(), Some(Scope::All));
    assert_eq!(slots(&out), [Some(1)]);
    assert_eq!((agent.counters().evicted, agent.pending()), (1, 2));
    // C waits in the freed slot, B completes as usual.
    let out = run(&mut agent, &mut store, &b2, 3);
    assert_eq!(inbound_text(&out), ("Hello there", false));
    assert_eq!(slots(&out), [Some(2), Some(3)]);
    assert_eq!(agent.pending(), 1);
}

#[test]
fn parts_leave_the_sim_together_once_their_message_is_whole() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let from = phone(FR);
    let part2 = in_slot(&from, &segment("OP", 9, 2, 2), 8);
    let part1 = in_slot(&from, &segment("ST", 9, 1, 2), 7);
    assert!(run(&mut agent, &mut store, &part2, 0).parts.is_empty());
    // Listed again while waiting: still nothing settled.
    let again = run(&mut agent, &mut store, &part2, 1);
    assert_eq!(again.disposition, Disposition::Duplicate);
    assert!(again.parts.is_empty());
    let out = run(&mut agent, &mut store, &part1, 2);
    assert_eq!(inbound_text(&out), ("STOP", false));
    assert_eq!(slots(&out), [Some(7), Some(8)]);
    // What reports nothing is settled at once; a routed PDU has no slot.
    let garbage = InboundPdu::from_hex(
        Some(Slot {
            memory: Memory::SM,
            index: 5,
        }),
        3,
        b"00FFFF",
    )
    .unwrap();
    assert_eq!(slots(&run(&mut agent, &mut store, &garbage, 3)), [Some(5)]);
    assert_eq!(
        slots(&run(&mut agent, &mut store, &one(FR, "Merci"), 3)),
        [None]
    );
}

#[test]
fn a_message_read_again_after_it_was_stored_is_a_repeat() {
    // Before: the same PDU read again after a power cut was reported again.
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let from = phone(FR);
    let stop = in_slot(&from, &TextSegment::single("STOP", Encoding::Gsm7), 2);
    let out = run(&mut agent, &mut store, &stop, 0);
    assert_eq!(out.events.len(), 2);
    // Its events stored, the agent notes it; then the power goes before the deletion.
    remember(&mut store, &out).unwrap();
    let again = run(&mut agent, &mut store, &stop, 10);
    assert_eq!(again.disposition, Disposition::Repeat);
    assert!(again.events.is_empty() && again.reply.is_none());
    assert_eq!(slots(&again), [Some(2)]);
    assert_eq!(agent.counters().repeats, 1);
    // The note is a job record under the reserved keys, which the host cannot submit.
    assert!(store.job_by_mr(0).unwrap().is_none());
    // Each part of a multipart message is noted: a leftover part is a repeat too.
    let parts = [
        in_slot(&from, &segment("Bonjour ", 4, 1, 2), 5),
        in_slot(&from, &segment("à tous", 4, 2, 2), 6),
    ];
    run(&mut agent, &mut store, &parts[0], 20);
    let out = run(&mut agent, &mut store, &parts[1], 21);
    remember(&mut store, &out).unwrap();
    for part in &parts {
        assert_eq!(
            run(&mut agent, &mut store, part, 22).disposition,
            Disposition::Repeat
        );
    }
    // The same text sent again later is another message.
    let later = in_slot_at(
        &from,
        &TextSegment::single("STOP", Encoding::Gsm7),
        2,
        Timestamp { minute: 31, ..SCTS },
    );
    assert_eq!(run(&mut agent, &mut store, &later, 30).events.len(), 2);
    // Not noted (the store failed before): reported again, never lost.
    let (mut fresh, mut empty) = (Agent::new(), Mem::new());
    run(&mut fresh, &mut empty, &stop, 0);
    assert_eq!(run(&mut fresh, &mut empty, &stop, 1).events.len(), 2);
    // The notes are in the key space the host cannot submit (a refused `core.reserved-key`).
    const { assert!(SEEN_KEYS >= relais_agent::agent::REPLY_KEYS) };
}

#[test]
fn national_form_senders_are_read_in_the_service_centres_country() {
    // Before: `0612345678` was no E.164 number, never suppressed.
    for (from, ton) in [
        ("0612345678", TypeOfNumber::Unknown),
        ("612345678", TypeOfNumber::National),
        ("0612345678", TypeOfNumber::National),
    ] {
        let (mut agent, mut store) = (Agent::new(), Mem::new());
        agent.note_sent(&num(FR), "acme");
        let address = Address::Number(PhoneNumber::with_type(from, ton).unwrap());
        let stop = in_slot(&address, &TextSegment::single("STOP", Encoding::Gsm7), 1);
        let out = run(&mut agent, &mut store, &stop, 0);
        match &out.events[0] {
            Event::Inbound { from: f, .. } => assert_eq!(f.as_str(), FR, "{from} {ton:?}"),
            other => panic!("{other:?}"),
        }
        match &out.events[1] {
            Event::Keyword { from: f, kind, .. } => {
                assert_eq!((*f, *kind), (num(FR), KeywordKind::OptOut))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.opted_out(&num(FR), acme()).unwrap(),
            Some(Scope::Brand(acme()))
        );
        assert_eq!(out.reply.unwrap().to, num(FR));
    }
    // (digits, type, calling code of the service centre) → E.164.
    let national = TypeOfNumber::National;
    let unknown = TypeOfNumber::Unknown;
    let cases: [(&str, TypeOfNumber, u16, Option<&str>); 15] = [
        ("0612345678", unknown, 33, Some("+33612345678")),
        ("01512345678", unknown, 49, Some("+491512345678")),
        ("07911123456", unknown, 44, Some("+447911123456")),
        ("12125550123", unknown, 1, Some("+12125550123")),
        ("2125550123", unknown, 1, Some("+12125550123")),
        ("89161234567", unknown, 7, Some("+79161234567")),
        ("80291234567", unknown, 375, Some("+375291234567")),
        ("0620123456", unknown, 36, Some("+3620123456")),
        ("3471234567", unknown, 39, Some("+393471234567")),
        ("0612345678", unknown, 39, Some("+390612345678")),
        ("612345678", national, 34, Some("+34612345678")),
        // Written without the trunk prefix and not typed national: not a national number.
        ("612345678", unknown, 33, None),
        // Already international, a short code, letters.
        ("0033612345678", unknown, 33, None),
        ("36111", unknown, 33, None),
        ("06123*5678", unknown, 33, None),
    ];
    for (digits, ton, code, want) in cases {
        let number = PhoneNumber::with_type(digits, ton).unwrap();
        let got = national_to_international(&number, code);
        assert_eq!(
            got.as_ref().map(|n| n.to_string()),
            want.map(str::to_string),
            "{digits} {ton:?} +{code}"
        );
        if let Some(n) = got {
            assert_eq!(n.type_of_number(), TypeOfNumber::International);
        }
    }
    let international = PhoneNumber::parse(FR).unwrap();
    assert_eq!(national_to_international(&international, 33), None);
}

#[test]
fn garbage_status_reports_and_type_0_make_no_events() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let garbage = InboundPdu::from_hex(None, 3, b"00FFFF").unwrap();
    let out = run(&mut agent, &mut store, &garbage, 0);
    assert!(matches!(out.disposition, Disposition::Undecodable(_)));
    assert!(out.events.is_empty() && out.reply.is_none());
    // A status report (docs/modems.md § Delivery reports): valid, not a DELIVER.
    let report = InboundPdu::from_hex(
        None,
        25,
        b"07911326040000F006400B911346610089F6121160714123401211607141234000",
    )
    .unwrap();
    let out = run(&mut agent, &mut store, &report, 0);
    assert_eq!(out.disposition, Disposition::NotDeliver);
    // Short Message Type 0 (TP-PID 0x40): discarded even when it says STOP.
    let from = phone(FR);
    let h = DeliverHeader {
        protocol_id: 0x40,
        ..header(&from)
    };
    let out = run(
        &mut agent,
        &mut store,
        &received(&h, &TextSegment::single("STOP", Encoding::Gsm7)),
        0,
    );
    assert_eq!(out.disposition, Disposition::Ignored);
    assert_eq!(store.suppression_summary().unwrap().0, 0);
    let c = agent.counters();
    assert_eq!((c.undecodable, c.not_deliver, c.ignored), (1, 1, 1));
}

#[test]
fn a_full_suppression_list_is_an_error() {
    let mut agent = Agent::new();
    let mut store: MemStore<1, 1, 1> = MemStore::new();
    let settings = Settings::default();
    agent
        .on_pdu(&one(FR, "STOP"), 0, &mut store, &settings)
        .unwrap();
    let err = agent.on_pdu(&one(US, "STOP"), 0, &mut store, &settings);
    assert_eq!(err, Err(StoreError::Full));
}

#[test]
fn an_outcome_filled_in_place_is_replaced_each_time_and_empty_after_a_store_error() {
    let mut agent = Agent::new();
    let mut store: MemStore<1, 1, 1> = MemStore::new();
    let settings = Settings::default();
    let mut out = InboundOutcome::new();
    agent
        .on_pdu_into(&one(FR, "STOP"), 0, &mut store, &settings, &mut out)
        .unwrap();
    assert_eq!(out.events.len(), 2);
    assert!(out.reply.is_some());
    agent
        .on_pdu_into(&one(FR, "Merci"), 0, &mut store, &settings, &mut out)
        .unwrap();
    assert_eq!((out.events.len(), &out.reply), (1, &None));
    assert_eq!(inbound_text(&out).0, "Merci");
    // The suppression list is full: nothing to report, no reply.
    let err = agent.on_pdu_into(&one(US, "STOP"), 0, &mut store, &settings, &mut out);
    assert_eq!(err, Err(StoreError::Full));
    assert!(out.events.is_empty());
    assert_eq!(out.reply, None);
    // The same PDUs through `on_pdu` give the same outcome.
    let (mut a, mut s) = (Agent::new(), Mem::new());
    let by_value = run(&mut a, &mut s, &one(FR, "STOP"), 0);
    let (mut b, mut t) = (Agent::new(), Mem::new());
    let mut in_place = InboundOutcome::new();
    b.on_pdu_into(&one(FR, "STOP"), 0, &mut t, &settings, &mut in_place)
        .unwrap();
    assert_eq!(by_value, in_place);
}

#[test]
fn every_reply_text_fits_one_reply() {
    for lang in Lang::ALL {
        assert!(lang.opt_out_confirmation().len() <= MAX_REPLY, "{lang:?}");
        assert!(lang.help_reply().len() <= MAX_REPLY, "{lang:?}");
    }
}

#[test]
fn ram_budget() {
    // 64-bit host figure; the module docs give the thumbv7m one.
    let size = std::mem::size_of::<Agent>();
    println!("size_of::<Inbound<2, 4, 16>>() = {size}");
    assert!(size <= 2_400, "{size}");
}

// --- The whole agent, on a modem that keeps messages in SIM slots ---

use agent_support::{Rig, fr_marketing, utc};
use relais_core::link::msg::RefusalCode;

/// Tuesday 10 March 2026, 11:00 in Paris: French marketing may go.
fn tuesday() -> UtcInstant {
    utc("2026-03-10T10:00:00Z")
}

/// Stores `seg` from `from` (delivered by [`CENTRE`]) on the fake modem's SIM and
/// announces it; returns the slot.
fn arrive<const E: usize>(
    rig: &Rig<agent_support::Store<E>>,
    from: &Address,
    seg: &TextSegment<'_>,
) -> u16 {
    let centre = PhoneNumber::parse(CENTRE).unwrap();
    let h = DeliverHeader {
        smsc: Some(&centre),
        ..header(from)
    };
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = pdu::encode_deliver(&h, seg, &mut out).unwrap();
    rig.modem.store(&out[..e.pdu_len], e.tpdu_len)
}

fn inbound_events<const E: usize>(
    rig: &Rig<agent_support::Store<E>>,
) -> Vec<(String, String, bool)> {
    rig.host
        .events
        .values()
        .filter_map(|e| match e {
            Event::Inbound {
                from,
                text,
                truncated,
                ..
            } => Some((from.to_string(), text.to_string(), *truncated)),
            _ => None,
        })
        .collect()
}

fn opt_outs<const E: usize>(rig: &Rig<agent_support::Store<E>>) -> Vec<Msisdn> {
    rig.host
        .events
        .values()
        .filter_map(|e| match e {
            Event::Keyword {
                from,
                kind: KeywordKind::OptOut,
                ..
            } => Some(*from),
            _ => None,
        })
        .collect()
}

fn started<const E: usize>() -> Rig<agent_support::Store<E>> {
    let mut rig = Rig::new();
    rig.modem.set_network_time(tuesday(), 4);
    rig.start(tuesday());
    rig
}

#[test]
fn an_inbound_sms_leaves_the_sim_only_once_its_events_are_stored() {
    // Before: the driver deleted the STOP as it handed it up, and with the outbox full
    // its events were lost.
    let mut rig = started::<4>();
    let fr = phone(FR);
    // The outbox (4 events) fills with four messages; the host does not acknowledge.
    for text in ["Bonjour", "Merci", "A demain", "Oui"] {
        arrive(&rig, &fr, &TextSegment::single(text, Encoding::Gsm7));
        rig.run(1_000);
    }
    assert_eq!(inbound_events(&rig).len(), 4);
    assert!(rig.modem.stored().is_empty(), "stored and deleted");
    let slot = arrive(&rig, &fr, &TextSegment::single("STOP", Encoding::Gsm7));
    rig.run(5_000);
    // No room for its events: it stays on the SIM (the opt-out itself is in force).
    assert_eq!(rig.modem.stored(), [slot]);
    assert_eq!(inbound_events(&rig).len(), 4);
    assert_eq!(rig.agent().lost_events(), 0);
    assert!(
        rig.agent()
            .store()
            .opted_out(&num(FR), acme())
            .unwrap()
            .is_some()
    );
    // The host acknowledges; the next listing reads it again and reports it, once.
    rig.host.ack_all();
    rig.step_ms = 1_000;
    rig.until(120_000, |r| r.modem.stored().is_empty());
    rig.run(5_000);
    let texts: Vec<String> = inbound_events(&rig).into_iter().map(|e| e.1).collect();
    assert_eq!(texts, ["Bonjour", "Merci", "A demain", "Oui", "STOP"]);
    assert_eq!(opt_outs(&rig), [num(FR)]);
}

#[test]
fn a_power_cut_between_the_store_and_the_delete_reports_the_message_once() {
    // Before: the STOP read again after the restart was reported a second time.
    let mut rig = started::<64>();
    let fr = phone(FR);
    rig.modem.0.borrow_mut().ignore_deletes = true;
    let slot = arrive(&rig, &fr, &TextSegment::single("STOP", Encoding::Gsm7));
    rig.run(2_000);
    assert_eq!(inbound_events(&rig).len(), 1);
    assert_eq!(
        rig.modem.0.borrow().deletes,
        [slot],
        "deleted after the store"
    );
    // The power went before the modem deleted it: it is still there after the restart.
    assert_eq!(rig.modem.stored(), [slot]);
    rig.modem.0.borrow_mut().ignore_deletes = false;
    rig.reboot();
    rig.start(tuesday());
    rig.run(5_000);
    assert!(rig.modem.stored().is_empty(), "the repeat is deleted");
    assert_eq!(inbound_events(&rig).len(), 1, "reported once");
    assert_eq!(opt_outs(&rig), [num(FR)]);
    assert_eq!(rig.modem.0.borrow().deletes, [slot, slot]);
}

#[test]
fn a_national_form_stop_whose_part_two_never_comes_blocks_marketing() {
    // Before: the national-form sender was never suppressed, and the part was dropped
    // unseen an hour later.
    let mut rig = started::<64>();
    let national = Address::Number(PhoneNumber::parse("0612345678").unwrap());
    let part1 = arrive(
        &rig,
        &national,
        &segment("STOP merci de ne plus ", 77, 1, 2),
    );
    rig.run(5_000);
    // Waiting for part 2: nothing reported, the part stays on the SIM.
    assert!(inbound_events(&rig).is_empty());
    assert_eq!(rig.modem.stored(), [part1]);
    // An hour later part 2 has still not come: what arrived is reported and acted on.
    rig.step_ms = 1_000;
    rig.until(DEFAULT_MAX_AGE_MS + 120_000, |r| !opt_outs(r).is_empty());
    rig.run(2_000);
    assert_eq!(
        inbound_events(&rig),
        [(FR.to_string(), "STOP merci de ne plus ".to_string(), true)]
    );
    assert_eq!(opt_outs(&rig), [num(FR)]);
    assert!(rig.modem.stored().is_empty());
    // A marketing job to that number is refused by the device itself.
    rig.submit(fr_marketing(1, FR, "Soldes -20%"));
    let events = rig.until_final(1, 60_000);
    match events.last() {
        Some(Event::Refused { refusal, .. }) => assert_eq!(refusal.code, RefusalCode::OptedOut),
        other => panic!("not refused: {other:?}"),
    }
    assert!(rig.sent_to(FR).iter().all(|s| !s.text.contains("Soldes")));
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 1..176), len in 0u16..200) {
        let (mut agent, mut store) = (Agent::new(), Mem::new());
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let pdu = InboundPdu::from_hex(None, len, hex.as_bytes()).unwrap();
        let _ = agent.on_pdu(&pdu, 0, &mut store, &Settings::default());
    }
}
