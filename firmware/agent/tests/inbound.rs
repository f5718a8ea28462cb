//! The inbound side of the agent on real SMS-DELIVER PDUs (built with relais-core's
//! encoder): events, suppression written to the store before `on_pdu` returns,
//! confirmation replies, reassembly, expiry, and garbage.

use proptest::prelude::*;
use relais_agent::inbound::{
    DEFAULT_MAX_AGE_MS, Disposition, Inbound, InboundOutcome, MAX_REPLY, REPLY_WINDOW_MS,
};
use relais_agent::modem::InboundPdu;
use relais_agent::store::{MemStore, Store, StoreError};
use relais_core::compliance::keywords::Lang;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{BrandId, Event, KeywordKind, MAX_TEXT, Scope, Settings};
use relais_core::sms::pdu::{
    self, Address, Concat, DeliverHeader, EncodingChoice, PhoneNumber, TextPlan, TextSegment,
    Timestamp,
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
    // (text, keyword, tier): decision 8's normalisation (accents, case, punctuation).
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
        // National form (TON unknown, no international prefix): not an E.164 number.
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

#[test]
fn incomplete_messages_expire() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let from = phone(FR);
    let h = header(&from);
    let part1 = received(&h, &segment("ST", 5, 1, 2));
    let part2 = received(&h, &segment("OP", 5, 2, 2));
    run(&mut agent, &mut store, &part1, 0);
    assert_eq!(agent.expire(DEFAULT_MAX_AGE_MS - 1), 0);
    assert_eq!(agent.pending(), 1);
    // on_pdu expires the old part first, so the late part starts a new message.
    let late = run(&mut agent, &mut store, &part2, DEFAULT_MAX_AGE_MS);
    assert_eq!(
        late.disposition,
        Disposition::Pending {
            received: 1,
            total: 2
        }
    );
    assert_eq!(agent.counters().expired, 1);
    agent.set_max_age_ms(10);
    assert_eq!(agent.expire(DEFAULT_MAX_AGE_MS + 10), 1);
    assert_eq!(agent.counters().expired, 2);
    assert_eq!(store.suppression_summary().unwrap().0, 0);
}

#[test]
fn garbage_status_reports_and_type_0_make_no_events() {
    let (mut agent, mut store) = (Agent::new(), Mem::new());
    let garbage = InboundPdu::from_hex(None, 3, b"00FFFF").unwrap();
    let out = run(&mut agent, &mut store, &garbage, 0);
    assert!(matches!(out.disposition, Disposition::Undecodable(_)));
    assert!(out.events.is_empty() && out.reply.is_none());
    // A status report (AT-PDU.md §1 shape): valid, not a DELIVER.
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
    assert!(size <= 2_304, "{size}");
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
