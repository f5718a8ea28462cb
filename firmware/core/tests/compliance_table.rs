//! Table tests for the rule packs: one row per encoded rule, each with a concrete
//! number and instant, checking the decision, its instant and the rule that made it.
//! `every_rule_has_a_row` fails when a pack gains a rule without a row here.

use std::collections::BTreeSet;

use relais_core::compliance::decision::*;
use relais_core::compliance::keywords::{Kind, classify};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::packs::{self, FrProfile};
use relais_core::compliance::tz::{UtcInstant, Zone};

#[derive(Clone, Copy, Debug)]
enum Setup {
    Plain,
    NoConsent,
    ExistingCustomer,
    Strict,
    Department(u8),
    /// `n` marketing messages in the last 24 h, the oldest `h` hours ago.
    Sent(u32, i64),
    OptedOut(OptOutScope),
    HolidaysEverywhere,
    NoAppend,
    Zone(Zone),
}

#[derive(Clone, Copy, Debug)]
enum Sender {
    Short(&'static str),
    Alpha(&'static str),
    AlphaRegistered(&'static str),
    AlphaWithStop(&'static str, &'static str),
    Long(&'static str),
    LongRegistered(&'static str),
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Sent as written.
    Send,
    /// Sent with this mention appended.
    SendWith(&'static str),
    /// Deferred to this UTC instant.
    Defer(&'static str),
    /// Refused; the reason's text contains this.
    Refuse(&'static str),
    /// Inbound keyword: classified as this kind, with a reply containing this text.
    Keyword(Kind, &'static str),
}

struct Row {
    /// The pack rule this row exercises.
    covers: &'static str,
    to: &'static str,
    class: Class,
    sender: Sender,
    /// UTC instant (RFC 3339).
    at: &'static str,
    text: &'static str,
    categories: &'static [Category],
    setup: Setup,
    expect: Expect,
    /// The rule id the decision must name.
    rule: &'static str,
}

const M: Class = Class::Marketing;
const T: Class = Class::Transactional;
use Expect::*;
use Sender::*;
use Setup::*;

#[allow(clippy::too_many_arguments)]
const fn row(
    covers: &'static str,
    to: &'static str,
    class: Class,
    sender: Sender,
    at: &'static str,
    text: &'static str,
    setup: Setup,
    expect: Expect,
    rule: &'static str,
) -> Row {
    Row {
        covers,
        to,
        class,
        sender,
        at,
        text,
        categories: &[],
        setup,
        expect,
        rule,
    }
}

const fn cat(mut r: Row, categories: &'static [Category]) -> Row {
    r.categories = categories;
    r
}

const FR: &str = "+33612345678";
const STOP_FR: &str = "Soldes -20% STOP au 36123";
const PROMO: &str = "Sale today";
const PROMO_STOP: &str = "Sale today. Reply STOP to opt out";

fn rows() -> Vec<Row> {
    vec![
        // France (af2m): the examples.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2026-11-21T21:30:00Z",
            STOP_FR,
            Plain,
            Defer("2026-11-23T07:00:00Z"),
            "fr.marketing.window",
        ),
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2026-11-22T10:00:00Z",
            STOP_FR,
            Plain,
            Defer("2026-11-23T07:00:00Z"),
            "fr.marketing.window",
        ),
        // Easter Monday 2027 (after the DST change of 28 March): Tuesday 08:00 CEST.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2027-03-29T08:00:00Z",
            STOP_FR,
            Plain,
            Defer("2027-03-30T06:00:00Z"),
            "fr.marketing.window",
        ),
        // Saturday night before Easter 2027: across the night, Sunday, DST and Easter Monday.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2027-03-27T21:30:00Z",
            STOP_FR,
            Plain,
            Defer("2027-03-30T06:00:00Z"),
            "fr.marketing.window",
        ),
        // Ascension + Saturday 8 May 2027 is not a Sunday: open on Saturday 8 May? It is Victory Day.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2027-05-07T21:00:00Z",
            STOP_FR,
            Plain,
            Defer("2027-05-10T06:00:00Z"),
            "fr.marketing.window",
        ),
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            Plain,
            Send,
            "fr.marketing.window",
        ),
        row(
            "fr.transactional.hours",
            FR,
            T,
            Short("38123"),
            "2026-12-25T02:00:00Z",
            "Votre code: 123456",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "fr.transactional.senders",
            FR,
            T,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            "Votre code: 123456",
            Plain,
            Refuse("short code may not carry "),
            "fr.transactional.senders",
        ),
        row(
            "fr.marketing.senders",
            FR,
            M,
            Long("+33698765432"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            Plain,
            Refuse("long number may not carry "),
            "fr.marketing.senders",
        ),
        row(
            "fr.marketing.senders",
            FR,
            M,
            Short("38123"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            Plain,
            Refuse("short code may not carry "),
            "fr.marketing.senders",
        ),
        row(
            "fr.marketing.stop",
            FR,
            M,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            "Soldes -20%",
            Plain,
            SendWith("Soldes -20% STOP au 36123"),
            "fr.marketing.stop",
        ),
        row(
            "fr.marketing.stop",
            FR,
            M,
            AlphaWithStop("ACME", "36111"),
            "2026-11-23T09:00:00Z",
            "Soldes",
            Plain,
            SendWith("Soldes STOP au 36111"),
            "fr.marketing.stop",
        ),
        row(
            "fr.marketing.stop",
            FR,
            M,
            Alpha("ACME"),
            "2026-11-23T09:00:00Z",
            "Soldes",
            Plain,
            Refuse("needs a 36xxx STOP code"),
            "fr.marketing.stop",
        ),
        row(
            "fr.marketing.stop",
            FR,
            M,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            "Soldes",
            NoAppend,
            Refuse("mention missing"),
            "fr.marketing.stop",
        ),
        row(
            "fr.marketing.consent",
            FR,
            M,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            NoConsent,
            Refuse("no recorded opt-in"),
            "fr.marketing.consent",
        ),
        row(
            "fr.marketing.consent",
            FR,
            M,
            Short("36123"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            ExistingCustomer,
            Send,
            "fr.marketing.window",
        ),
        cat(
            row(
                "fr.content",
                FR,
                T,
                Short("38123"),
                "2026-11-23T09:00:00Z",
                "x",
                Plain,
                Refuse("adult content"),
                "fr.content",
            ),
            &[Category::Adult],
        ),
        row(
            "fr.segments",
            FR,
            T,
            Short("38123"),
            "2026-11-23T09:00:00Z",
            LONG_TEXT,
            Plain,
            Refuse("11 segments, at most 10"),
            "fr.segments",
        ),
        row(
            "fr.optout.confirm",
            FR,
            M,
            Short("36123"),
            "",
            "Stop",
            Plain,
            Keyword(Kind::OptOut, "prise en compte"),
            "",
        ),
        // Profile strict: 08:00-20:00.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2026-11-23T19:30:00Z",
            STOP_FR,
            Strict,
            Defer("2026-11-24T07:00:00Z"),
            "fr.marketing.window",
        ),
        // Alsace-Moselle: Good Friday 2027 (26 March) is blocked only for 57/67/68.
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2027-03-26T09:00:00Z",
            STOP_FR,
            Department(67),
            Defer("2027-03-27T07:00:00Z"),
            "fr.marketing.window",
        ),
        row(
            "fr.marketing.window",
            FR,
            M,
            Short("36123"),
            "2027-03-26T09:00:00Z",
            STOP_FR,
            Department(75),
            Send,
            "fr.marketing.window",
        ),
        // Réunion (+262, UTC+4): 20 December (Abolition of Slavery) 2027 is a Monday.
        row(
            "fr.marketing.window",
            "+262692123456",
            M,
            Short("36123"),
            "2027-12-20T08:00:00Z",
            STOP_FR,
            Plain,
            Defer("2027-12-21T04:00:00Z"),
            "fr.marketing.window",
        ),
        // A transactional text with a STOP mention is marketing: then 38xxx is refused.
        row(
            "core.class",
            FR,
            T,
            Short("38123"),
            "2026-11-23T09:00:00Z",
            STOP_FR,
            Plain,
            Refuse("short code may not carry "),
            "fr.marketing.senders",
        ),
        // United States (federal + state overlays).
        row(
            "us.marketing.window",
            "+12125550123",
            M,
            Short("12345"),
            "2026-11-24T02:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T13:00:00Z"),
            "us.marketing.window",
        ),
        row(
            "us.marketing.window",
            "+12125550123",
            M,
            Short("12345"),
            "2026-11-24T01:30:00Z",
            PROMO_STOP,
            Plain,
            Send,
            "us.marketing.window",
        ),
        // +1 850 (Florida) is in both Eastern and Central time: open only when both are.
        row(
            "us.fl.window",
            "+18505550123",
            M,
            Short("12345"),
            "2026-11-23T13:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.marketing.window",
        ),
        row(
            "us.fl.window",
            "+18505550123",
            M,
            Short("12345"),
            "2026-11-24T00:30:00Z",
            PROMO_STOP,
            Plain,
            Send,
            "us.marketing.window",
        ),
        row(
            "us.fl.window",
            "+18505550123",
            M,
            Short("12345"),
            "2026-11-24T01:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T14:00:00Z"),
            "us.fl.window",
        ),
        row(
            "us.fl.cap",
            "+13055550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            Sent(3, 2),
            Defer("2026-11-24T13:00:00Z"),
            "us.fl.cap",
        ),
        row(
            "us.fl.cap",
            "+13055550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            Sent(2, 2),
            Send,
            "us.marketing.window",
        ),
        row(
            "us.senders",
            "+12125550123",
            T,
            Alpha("ACME"),
            "2026-11-23T15:00:00Z",
            "Code 1234",
            Plain,
            Refuse("alphanumeric sender may not carry "),
            "us.senders",
        ),
        row(
            "us.marketing.senders",
            "+12125550123",
            M,
            Long("+12125550199"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            Plain,
            Refuse("long number may not carry "),
            "us.marketing.senders",
        ),
        row(
            "us.marketing.senders",
            "+12125550123",
            M,
            LongRegistered("+12125550199"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            Plain,
            Send,
            "us.marketing.window",
        ),
        row(
            "us.marketing.consent",
            "+12125550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            ExistingCustomer,
            Refuse("no recorded opt-in"),
            "us.marketing.consent",
        ),
        row(
            "us.marketing.stop",
            "+12125550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO,
            Plain,
            SendWith("Sale today Reply STOP to opt out."),
            "us.marketing.stop",
        ),
        cat(
            row(
                "us.content",
                "+12125550123",
                T,
                Short("12345"),
                "2026-11-23T15:00:00Z",
                "x",
                Plain,
                Refuse("cannabis content"),
                "us.content",
            ),
            &[Category::Cannabis],
        ),
        row(
            "us.optout.confirm",
            "+12125550123",
            M,
            Short("12345"),
            "",
            "please stop",
            Plain,
            Keyword(Kind::OptOut, "unsubscribed"),
            "",
        ),
        row(
            "us.ok.window",
            "+14055550123",
            M,
            Short("12345"),
            "2026-11-24T02:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T14:00:00Z"),
            "us.ok.window",
        ),
        row(
            "us.ok.cap",
            "+14055550123",
            M,
            Short("12345"),
            "2026-11-23T16:00:00Z",
            PROMO_STOP,
            Sent(4, 1),
            Defer("2026-11-24T15:00:00Z"),
            "us.ok.cap",
        ),
        row(
            "us.wa.window",
            "+12065550123",
            M,
            Short("12345"),
            "2026-11-24T04:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T16:00:00Z"),
            "us.wa.window",
        ),
        // Texas, Sunday 11:00 CST: opens at noon.
        row(
            "us.tx.window",
            "+12145550123",
            M,
            Short("12345"),
            "2026-11-22T17:00:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-22T18:00:00Z"),
            "us.tx.window",
        ),
        row(
            "us.md.window",
            "+14105550123",
            M,
            Short("12345"),
            "2026-11-24T01:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T13:00:00Z"),
            "us.md.window",
        ),
        row(
            "us.nj.window",
            "+12015550123",
            M,
            Short("12345"),
            "2026-11-24T01:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T13:00:00Z"),
            "us.nj.window",
        ),
        row(
            "us.ma.window",
            "+16175550123",
            M,
            Short("12345"),
            "2026-11-24T01:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T13:00:00Z"),
            "us.ma.window",
        ),
        row(
            "us.ct.window",
            "+12035550123",
            M,
            Short("12345"),
            "2026-11-23T13:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.ct.window",
        ),
        row(
            "us.ms.window",
            "+16015550123",
            M,
            Short("12345"),
            "2026-11-22T18:00:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.ms.window",
        ),
        // Alabama: Thanksgiving 2026 (26 Nov) is a federal holiday.
        row(
            "us.al.window",
            "+12055550123",
            M,
            Short("12345"),
            "2026-11-26T18:00:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-27T14:00:00Z"),
            "us.al.window",
        ),
        row(
            "us.la.window",
            "+15045550123",
            M,
            Short("12345"),
            "2026-11-22T18:00:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.la.window",
        ),
        // Rhode Island, Saturday 17:30 EST: next opening Monday 09:00.
        row(
            "us.ri.window",
            "+14015550123",
            M,
            Short("12345"),
            "2026-11-21T22:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.ri.window",
        ),
        row(
            "us.ky.window",
            "+15025550123",
            M,
            Short("12345"),
            "2026-11-23T14:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T15:00:00Z"),
            "us.ky.window",
        ),
        row(
            "us.mi.window",
            "+13135550123",
            M,
            Short("12345"),
            "2026-11-23T13:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T14:00:00Z"),
            "us.mi.window",
        ),
        row(
            "us.mn.window",
            "+16125550123",
            M,
            Short("12345"),
            "2026-11-23T14:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T15:00:00Z"),
            "us.mn.window",
        ),
        row(
            "us.nm.window",
            "+15055550123",
            M,
            Short("12345"),
            "2026-11-23T15:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T16:00:00Z"),
            "us.nm.window",
        ),
        row(
            "us.nv.window",
            "+17025550123",
            M,
            Short("12345"),
            "2026-11-24T04:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-24T17:00:00Z"),
            "us.nv.window",
        ),
        // Alaska's 907 spans Anchorage, Adak and Honolulu: 08:00 in the westernmost.
        row(
            "us.marketing.window",
            "+19075550123",
            M,
            Short("12345"),
            "2026-11-23T17:30:00Z",
            PROMO_STOP,
            Plain,
            Defer("2026-11-23T18:00:00Z"),
            "us.marketing.window",
        ),
        // A verified zone overrides the guess.
        row(
            "us.marketing.window",
            "+19075550123",
            M,
            Short("12345"),
            "2026-11-23T17:30:00Z",
            PROMO_STOP,
            Zone(Zone::AmericaAnchorage),
            Send,
            "us.marketing.window",
        ),
        // India.
        row(
            "in.marketing.window",
            "+919812345678",
            M,
            AlphaRegistered("ACMEIN"),
            "2026-11-23T16:00:00Z",
            PROMO,
            Plain,
            Defer("2026-11-24T03:30:00Z"),
            "in.marketing.window",
        ),
        row(
            "in.marketing.senders",
            "+919812345678",
            M,
            Long("+919812345679"),
            "2026-11-23T06:00:00Z",
            PROMO,
            Plain,
            Refuse("long number may not carry "),
            "in.marketing.senders",
        ),
        row(
            "in.marketing.senders",
            "+919812345678",
            T,
            Long("+919812345679"),
            "2026-11-23T21:00:00Z",
            "OTP 1234",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "in.marketing.consent",
            "+919812345678",
            M,
            AlphaRegistered("ACMEIN"),
            "2026-11-23T06:00:00Z",
            PROMO,
            NoConsent,
            Refuse("no recorded opt-in"),
            "in.marketing.consent",
        ),
        cat(
            row(
                "in.content",
                "+919812345678",
                T,
                AlphaRegistered("ACMEIN"),
                "2026-11-23T06:00:00Z",
                "x",
                Plain,
                Refuse("political content"),
                "in.content",
            ),
            &[Category::Political],
        ),
        row(
            "in.stop",
            "+919812345678",
            M,
            AlphaRegistered("ACMEIN"),
            "2026-11-23T06:00:00Z",
            PROMO,
            Plain,
            Send,
            "in.marketing.window",
        ),
        // Canada: no hours rule, so 03:00 Toronto goes.
        row(
            "ca.hours",
            "+14165550123",
            M,
            Short("12345"),
            "2026-11-23T08:00:00Z",
            PROMO_STOP,
            Plain,
            Send,
            "core.send",
        ),
        row(
            "ca.senders",
            "+14165550123",
            T,
            Alpha("ACME"),
            "2026-11-23T15:00:00Z",
            "Code",
            Plain,
            Refuse("alphanumeric sender may not carry "),
            "ca.senders",
        ),
        row(
            "ca.marketing.consent",
            "+14165550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            ExistingCustomer,
            Send,
            "core.send",
        ),
        row(
            "ca.marketing.consent",
            "+14165550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO_STOP,
            NoConsent,
            Refuse("no recorded opt-in"),
            "ca.marketing.consent",
        ),
        row(
            "ca.marketing.stop",
            "+14165550123",
            M,
            Short("12345"),
            "2026-11-23T15:00:00Z",
            PROMO,
            Plain,
            SendWith("Sale today Reply STOP to opt out / ARRET pour vous désabonner."),
            "ca.marketing.stop",
        ),
        cat(
            row(
                "ca.content",
                "+14165550123",
                T,
                Short("12345"),
                "2026-11-23T15:00:00Z",
                "x",
                Plain,
                Refuse("adult content"),
                "ca.content",
            ),
            &[Category::Adult],
        ),
        row(
            "ca.optout.confirm",
            "+14165550123",
            M,
            Short("12345"),
            "",
            "ARRET",
            Plain,
            Keyword(Kind::OptOut, "prise en compte"),
            "",
        ),
        // United Kingdom.
        row(
            "gb.hours",
            "+447700900123",
            M,
            Alpha("ACME"),
            "2026-11-23T03:00:00Z",
            PROMO_STOP,
            Plain,
            Send,
            "core.send",
        ),
        row(
            "gb.marketing.consent",
            "+447700900123",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            PROMO_STOP,
            ExistingCustomer,
            Send,
            "core.send",
        ),
        row(
            "gb.marketing.consent",
            "+447700900123",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            PROMO_STOP,
            NoConsent,
            Refuse("no recorded opt-in"),
            "gb.marketing.consent",
        ),
        row(
            "gb.marketing.stop",
            "+447700900123",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            PROMO,
            Plain,
            SendWith("Sale today Reply STOP to opt out."),
            "gb.marketing.stop",
        ),
        row(
            "gb.senders",
            "+447700900123",
            T,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Code",
            Plain,
            Send,
            "core.send",
        ),
        // Germany.
        row(
            "de.hours",
            "+491701234567",
            M,
            Alpha("ACME"),
            "2026-11-23T02:00:00Z",
            "Angebot. Abmelden: STOP senden.",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "de.marketing.consent",
            "+491701234567",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Angebot. Abmelden: STOP senden.",
            ExistingCustomer,
            Refuse("no recorded opt-in"),
            "de.marketing.consent",
        ),
        row(
            "de.marketing.stop",
            "+491701234567",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Angebot",
            Plain,
            SendWith("Angebot Abmelden: STOP senden."),
            "de.marketing.stop",
        ),
        cat(
            row(
                "de.content",
                "+491701234567",
                M,
                Alpha("ACME"),
                "2026-11-23T12:00:00Z",
                "Wahl! Abmelden: STOP senden.",
                Plain,
                Send,
                "core.send",
            ),
            &[Category::Political],
        ),
        // Spain.
        row(
            "es.hours",
            "+34612345678",
            M,
            Alpha("ACME"),
            "2026-11-23T02:00:00Z",
            "Oferta. Baja: responde BAJA.",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "es.marketing.consent",
            "+34612345678",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Oferta. Baja: responde BAJA.",
            NoConsent,
            Refuse("no recorded opt-in"),
            "es.marketing.consent",
        ),
        row(
            "es.marketing.stop",
            "+34612345678",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Oferta",
            Plain,
            SendWith("Oferta Baja: responde BAJA."),
            "es.marketing.stop",
        ),
        // Italy.
        row(
            "it.hours",
            "+393123456789",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T02:00:00Z",
            "Offerta. Rispondi STOP per disiscriverti.",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "it.marketing.senders",
            "+393123456789",
            M,
            Long("+393123456780"),
            "2026-11-23T12:00:00Z",
            "Offerta. Rispondi STOP per disiscriverti.",
            Plain,
            Refuse("long number may not carry "),
            "it.marketing.senders",
        ),
        row(
            "it.marketing.senders",
            "+393123456789",
            M,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Offerta. Rispondi STOP per disiscriverti.",
            Plain,
            Refuse("alphanumeric sender may not carry "),
            "it.marketing.senders",
        ),
        cat(
            row(
                "it.content",
                "+393123456789",
                T,
                AlphaRegistered("ACME"),
                "2026-11-23T12:00:00Z",
                "x",
                Plain,
                Refuse("gambling content"),
                "it.content",
            ),
            &[Category::Gambling],
        ),
        row(
            "it.marketing.consent",
            "+393123456789",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T12:00:00Z",
            "Offerta. Rispondi STOP per disiscriverti.",
            NoConsent,
            Refuse("no recorded opt-in"),
            "it.marketing.consent",
        ),
        row(
            "it.marketing.stop",
            "+393123456789",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T12:00:00Z",
            "Offerta",
            Plain,
            SendWith("Offerta Rispondi STOP per disiscriverti."),
            "it.marketing.stop",
        ),
        // Belgium.
        row(
            "be.hours",
            "+32470123456",
            M,
            Short("8123"),
            "2026-11-23T02:00:00Z",
            "Promo",
            Plain,
            Send,
            "core.send",
        ),
        row(
            "be.senders",
            "+32470123456",
            T,
            Alpha("ACME"),
            "2026-11-23T12:00:00Z",
            "Code",
            Plain,
            Refuse("alphanumeric sender may not carry "),
            "be.senders",
        ),
        row(
            "be.marketing.consent",
            "+32470123456",
            M,
            Short("8123"),
            "2026-11-23T12:00:00Z",
            "Promo",
            NoConsent,
            Refuse("no recorded opt-in"),
            "be.marketing.consent",
        ),
        row(
            "be.stop",
            "+32470123456",
            M,
            Short("8123"),
            "2026-11-23T12:00:00Z",
            "Promo",
            Plain,
            Send,
            "core.send",
        ),
        // Brazil (São Paulo, UTC-3).
        row(
            "br.marketing.window",
            "+5511912345678",
            M,
            Short("28123"),
            "2026-11-22T15:00:00Z",
            "Oferta SAIR",
            Plain,
            Defer("2026-11-23T12:00:00Z"),
            "br.marketing.window",
        ),
        row(
            "br.marketing.holidays",
            "+5511912345678",
            M,
            Short("28123"),
            "2027-04-21T15:00:00Z",
            "Oferta SAIR",
            Plain,
            Defer("2027-04-22T12:00:00Z"),
            "br.marketing.holidays",
        ),
        row(
            "br.senders",
            "+5511912345678",
            T,
            Alpha("ACME"),
            "2026-11-23T15:00:00Z",
            "Code",
            Plain,
            Refuse("alphanumeric sender may not carry "),
            "br.senders",
        ),
        cat(
            row(
                "br.content",
                "+5511912345678",
                T,
                Short("28123"),
                "2026-11-23T15:00:00Z",
                "x",
                Plain,
                Refuse("political content"),
                "br.content",
            ),
            &[Category::Political],
        ),
        cat(
            row(
                "br.content.cannabis",
                "+5511912345678",
                T,
                Short("28123"),
                "2026-11-23T15:00:00Z",
                "x",
                Plain,
                Refuse("cannabis content"),
                "br.content.cannabis",
            ),
            &[Category::Cannabis],
        ),
        row(
            "br.marketing.stop",
            "+5511912345678",
            M,
            Short("28123"),
            "2026-11-23T15:00:00Z",
            "Oferta",
            Plain,
            SendWith("Oferta Para sair, responda SAIR."),
            "br.marketing.stop",
        ),
        row(
            "br.marketing.consent",
            "+5511912345678",
            M,
            Short("28123"),
            "2026-11-23T15:00:00Z",
            "Oferta SAIR",
            NoConsent,
            Refuse("no recorded opt-in"),
            "br.marketing.consent",
        ),
        // Kenya (EAT, UTC+3).
        row(
            "ke.marketing.window",
            "+254712345678",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T15:30:00Z",
            "Offer STOP*456*9*5#",
            Plain,
            Defer("2026-11-24T05:00:00Z"),
            "ke.marketing.window",
        ),
        cat(
            row(
                "ke.political.window",
                "+254712345678",
                T,
                AlphaRegistered("ACME"),
                "2026-11-23T16:00:00Z",
                "Vote",
                Plain,
                Defer("2026-11-24T05:00:00Z"),
                "ke.political.window",
            ),
            &[Category::Political],
        ),
        row(
            "ke.marketing.senders",
            "+254712345678",
            M,
            Long("+254712345679"),
            "2026-11-23T08:00:00Z",
            "Offer STOP*456*9*5#",
            Plain,
            Refuse("long number may not carry "),
            "ke.marketing.senders",
        ),
        row(
            "ke.marketing.stop",
            "+254712345678",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T08:00:00Z",
            "Offer",
            Plain,
            SendWith("Offer STOP*456*9*5#"),
            "ke.marketing.stop",
        ),
        row(
            "ke.marketing.consent",
            "+254712345678",
            M,
            AlphaRegistered("ACME"),
            "2026-11-23T08:00:00Z",
            "Offer STOP*456*9*5#",
            ExistingCustomer,
            Refuse("no recorded opt-in"),
            "ke.marketing.consent",
        ),
        cat(
            row(
                "ke.content",
                "+254712345678",
                T,
                AlphaRegistered("ACME"),
                "2026-11-23T08:00:00Z",
                "x",
                Plain,
                Refuse("gambling content"),
                "ke.content",
            ),
            &[Category::Gambling],
        ),
        // The Eid table ends in 2026: a deployment blocking holidays fails closed in 2027.
        row(
            "ke.marketing.window",
            "+254712345678",
            M,
            AlphaRegistered("ACME"),
            "2027-01-04T08:00:00Z",
            "Offer STOP*456*9*5#",
            HolidaysEverywhere,
            Refuse("calendar data missing for 2027"),
            "ke.marketing.window",
        ),
        // Nigeria (WAT, UTC+1).
        row(
            "ng.marketing.window",
            "+2348031234567",
            M,
            Alpha("ACME"),
            "2026-11-23T19:30:00Z",
            "Offer. Reply STOP to opt out.",
            Plain,
            Defer("2026-11-24T07:00:00Z"),
            "ng.marketing.window",
        ),
        row(
            "ng.marketing.stop",
            "+2348031234567",
            M,
            Alpha("ACME"),
            "2026-11-23T09:00:00Z",
            "Offer",
            Plain,
            SendWith("Offer Reply STOP to opt out."),
            "ng.marketing.stop",
        ),
        row(
            "ng.marketing.consent",
            "+2348031234567",
            M,
            Alpha("ACME"),
            "2026-11-23T09:00:00Z",
            "Offer. Reply STOP to opt out.",
            NoConsent,
            Refuse("no recorded opt-in"),
            "ng.marketing.consent",
        ),
        cat(
            row(
                "ng.content",
                "+2348031234567",
                M,
                Alpha("ACME"),
                "2026-11-23T09:00:00Z",
                "Offer. Reply STOP to opt out.",
                Plain,
                Send,
                "ng.marketing.window",
            ),
            &[Category::Alcohol],
        ),
        // South Africa (SAST, UTC+2).
        row(
            "za.marketing.window",
            "+27821234567",
            M,
            Alpha("ACME"),
            "2026-11-21T11:30:00Z",
            "Offer. Reply STOP to opt out.",
            Plain,
            Defer("2026-11-23T06:00:00Z"),
            "za.marketing.window",
        ),
        // Human Rights Day 2027 falls on Sunday 21 March: Monday 22 is a holiday too.
        row(
            "za.marketing.window",
            "+27821234567",
            M,
            Alpha("ACME"),
            "2027-03-22T08:00:00Z",
            "Offer. Reply STOP to opt out.",
            Plain,
            Defer("2027-03-23T06:00:00Z"),
            "za.marketing.window",
        ),
        row(
            "za.marketing.consent",
            "+27821234567",
            M,
            Alpha("ACME"),
            "2026-11-23T08:00:00Z",
            "Offer. Reply STOP to opt out.",
            ExistingCustomer,
            Send,
            "za.marketing.window",
        ),
        row(
            "za.marketing.stop",
            "+27821234567",
            M,
            Alpha("ACME"),
            "2026-11-23T08:00:00Z",
            "Offer",
            Plain,
            SendWith("Offer Reply STOP to opt out."),
            "za.marketing.stop",
        ),
        row(
            "za.optout.confirm",
            "+27821234567",
            M,
            Alpha("ACME"),
            "",
            "STOP",
            Plain,
            Keyword(Kind::OptOut, "unsubscribed"),
            "",
        ),
        row(
            "za.senders",
            "+27821234567",
            T,
            Long("+27821234568"),
            "2026-11-23T08:00:00Z",
            "Code",
            Plain,
            Send,
            "core.send",
        ),
        // Core rules.
        row(
            "core.opt-out",
            FR,
            T,
            Short("38123"),
            "2026-11-23T09:00:00Z",
            "Code",
            OptedOut(OptOutScope::Brand),
            Refuse("opted out of this brand"),
            "core.opt-out",
        ),
        row(
            "core.opt-out",
            FR,
            T,
            Short("38123"),
            "2026-11-23T09:00:00Z",
            "Code",
            OptedOut(OptOutScope::All),
            Refuse("STOPALL"),
            "core.opt-out",
        ),
        row(
            "core.no-pack",
            "+81312345678",
            M,
            Alpha("ACME"),
            "2026-11-23T09:00:00Z",
            "Sale",
            Plain,
            Refuse("no rule pack for JP"),
            "core.no-pack",
        ),
        row(
            "core.no-pack",
            "+81312345678",
            T,
            Alpha("ACME"),
            "2026-11-23T09:00:00Z",
            "Code",
            Plain,
            Send,
            "core.no-pack",
        ),
    ]
}

const LONG_TEXT: &str = "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\
0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";

struct Fixture {
    setup: Setup,
    now: UtcInstant,
}

impl Suppression for Fixture {
    fn opted_out(&self, _: &Msisdn, _: &str) -> Option<OptOutScope> {
        match self.setup {
            OptedOut(scope) => Some(scope),
            _ => None,
        }
    }
}

impl Consent for Fixture {
    fn consent(&self, _: &Msisdn, _: &str) -> ConsentStatus {
        match self.setup {
            NoConsent => ConsentStatus::None,
            ExistingCustomer => ConsentStatus::ExistingCustomer,
            _ => ConsentStatus::OptedIn,
        }
    }
}

impl SendLog for Fixture {
    fn sent_since(&self, _: &Msisdn, _: UtcInstant) -> Recent {
        match self.setup {
            Sent(count, hours_ago) => Recent {
                count,
                oldest: Some(self.now.plus(-hours_ago * 3600)),
            },
            _ => Recent::default(),
        }
    }
}

fn sender(s: Sender) -> SenderIdentity<'static> {
    let id = |kind| SenderIdentity {
        kind,
        registered: false,
        brand: "acme",
        stop_code: None,
    };
    let long = |n: &str| SenderKind::LongNumber(Msisdn::parse(n).unwrap());
    match s {
        Short(c) => id(SenderKind::ShortCode(ShortCode::parse(c).unwrap())),
        Alpha(a) => id(SenderKind::Alpha(a)),
        AlphaRegistered(a) => SenderIdentity {
            registered: true,
            ..id(SenderKind::Alpha(a))
        },
        AlphaWithStop(a, c) => SenderIdentity {
            stop_code: ShortCode::parse(c),
            ..id(SenderKind::Alpha(a))
        },
        Long(n) => id(long(n)),
        LongRegistered(n) => SenderIdentity {
            registered: true,
            ..id(long(n))
        },
    }
}

fn check(r: &Row) -> Result<(), String> {
    let number = Msisdn::parse(r.to).map_err(|e| e.to_string())?;
    if let Keyword(kind, reply) = r.expect {
        let c = classify(r.text, Some(&number));
        if c.kind != kind || !c.reply.is_some_and(|t| t.contains(reply)) {
            return Err(format!("keyword {:?}: got {c:?}", r.text));
        }
        return Ok(());
    }
    let now = UtcInstant::parse_rfc3339(r.at).ok_or("bad instant")?;
    let mut options = Options::default();
    let mut contact = Contact::new(number);
    match r.setup {
        Strict => options.fr_profile = FrProfile::Strict,
        Department(d) => contact.fr_department = Some(d),
        HolidaysEverywhere => options.holidays_everywhere = true,
        NoAppend => options.append_opt_out = false,
        Zone(z) => contact.zone = Some(z),
        _ => {}
    }
    let mut categories = CategorySet::EMPTY;
    for c in r.categories {
        categories = categories.with(*c);
    }
    let fixture = Fixture {
        setup: r.setup,
        now,
    };
    let stores = Stores {
        suppression: &fixture,
        consent: &fixture,
        log: &fixture,
    };
    let message = Message {
        text: r.text,
        class: r.class,
        categories,
    };
    let d = evaluate(&message, &sender(r.sender), &contact, now, &options, stores);
    let ok = match (r.expect, d.outcome) {
        (Send, Outcome::Send { text, .. }) => text.appended.is_none(),
        (SendWith(full), Outcome::Send { text, .. }) => {
            text.appended.is_some() && text.to_string() == full
        }
        (Defer(until), Outcome::Defer { until: u, .. }) => u.to_string() == until,
        (Refuse(why), Outcome::Refuse(reason)) => reason.to_string().contains(why),
        _ => false,
    };
    if !ok || d.rule.id != r.rule {
        return Err(format!("got {:?} by {}: {d}", d.outcome, d.rule.id));
    }
    Ok(())
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for r in rows() {
        if let Err(e) = check(&r) {
            failures.push(format!(
                "[{}] {} at {} {:?}: {e}",
                r.covers, r.to, r.at, r.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_a_row() {
    let covered: BTreeSet<&str> = rows().iter().map(|r| r.covers).collect();
    let missing: Vec<&str> = packs::ALL
        .iter()
        .flat_map(|p| p.rules.iter())
        .map(|r| r.id)
        .filter(|id| !covered.contains(id))
        .collect();
    assert!(missing.is_empty(), "rules without a table row: {missing:?}");
}

#[test]
fn explanations_read_as_one_line() {
    let to = Contact::new(Msisdn::parse(FR).unwrap());
    let msg = Message {
        text: STOP_FR,
        class: M,
        categories: CategorySet::EMPTY,
    };
    let now = UtcInstant::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
    let d = evaluate(
        &msg,
        &sender(Short("36123")),
        &to,
        now,
        &Options::default(),
        Stores::PERMISSIVE,
    );
    assert_eq!(
        d.to_string(),
        "FR marketing blocked on Sundays (AF2M charter 2024); deferred to Mon 2026-11-23 08:00 Europe/Paris"
    );
    let now = UtcInstant::parse_rfc3339("2027-03-29T08:00:00Z").unwrap();
    let d = evaluate(
        &msg,
        &sender(Short("36123")),
        &to,
        now,
        &Options::default(),
        Stores::PERMISSIVE,
    );
    assert_eq!(
        d.to_string(),
        "FR marketing blocked on public holidays (Easter Monday) (AF2M charter 2024); deferred to Tue 2027-03-30 08:00 Europe/Paris"
    );
}
