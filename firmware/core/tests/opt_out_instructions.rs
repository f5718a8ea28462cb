//! Outgoing texts in every pack language: does `evaluate` read an opt-out *instruction*
//! (and so append none to marketing, and treat a transactional text as marketing), and
//! leave alone the keywords used as plain words ("END of season", "Ende des Monats",
//! "cancel your appointment", "Stop by", "non-stop", "bus stop")?
//!
//! Each row names the declared class, the recipient, the class `evaluate` applies and
//! whether it appends the pack's mention, with the reason the row is right. Every row is
//! sent at Tuesday 2026-11-24 14:00 UTC, inside every pack's marketing window, from a
//! sender every pack allows for both classes, so that the outcome is always `Send` and
//! the appended mention can be read.

use relais_core::compliance::decision::*;
use relais_core::compliance::lang::Lang;
use relais_core::compliance::mention::instructs_opt_out;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;

struct Row {
    class: Class,
    to: &'static str,
    text: &'static str,
    /// The class `evaluate` applies.
    expect: Class,
    /// The pack's opt-out mention is appended.
    appended: bool,
    why: &'static str,
}

const fn r(
    class: Class,
    to: &'static str,
    text: &'static str,
    expect: Class,
    appended: bool,
    why: &'static str,
) -> Row {
    Row {
        class,
        to,
        text,
        expect,
        appended,
        why,
    }
}

const M: Class = Class::Marketing;
const T: Class = Class::Transactional;

const US: &str = "+12125550123";
const CA: &str = "+14165550123";
const GB: &str = "+447700900123";
const DE: &str = "+4915112345678";
const ES: &str = "+34612345678";
const IT: &str = "+393123456789";
const BR: &str = "+5511912345678";
const BE: &str = "+32470123456";
const KE: &str = "+254712345678";
const NG: &str = "+2348031234567";
const ZA: &str = "+27821234567";
const IN: &str = "+919812345678";
const FR: &str = "+33612345678";

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // United States (English, Spanish).
    r(T, US, "Reply CANCEL to cancel your appointment tomorrow", T, false,
        "issue 12: CANCEL cancels the appointment; CANCEL needs an opt-out purpose"),
    r(M, US, "Don't miss the END of season sale", M, true,
        "issue 12: END of season is a noun, so the text has no instruction: append"),
    r(M, US, "Sale today. Reply STOP to opt out", M, false, "reply verb + STOP"),
    r(M, US, "Flash sale! Text STOP to 12345 to unsubscribe", M, false,
        "reply verb + STOP, STOP + number"),
    r(M, US, "ACME: 2 for 1 tacos tonight. txt STOP to end", M, false, "txt + STOP"),
    r(M, US, "ACME Rewards: 20% off. Msg&data rates may apply. Reply HELP for help, STOP to cancel",
        M, false, "CTIA wording: STOP + purpose (to cancel)"),
    r(M, US, "Stop by our shop this weekend for 30% off", M, true,
        "STOP is a verb here: no reply verb before, no number or purpose after"),
    r(M, US, "Non-stop deals all weekend long", M, true, "non-stop is an adjective"),
    r(T, US, "Your ride is waiting at the bus stop on 5th Ave", T, false,
        "bus stop is a place: the alert stays transactional"),
    r(T, US, "Your appointment is confirmed. Reply STOP to opt out of reminders", M, false,
        "a transactional text with an opt-out instruction is marketing; it carries the mention"),
    r(M, US, "Oferta: 2x1 hoy. Responde ALTO para cancelar", M, false,
        "US Spanish: reply verb + ALTO"),
    r(T, US, "Su cita es mañana. Para cambiarla responda CANCELAR", T, false,
        "CANCELAR changes the appointment; no opt-out purpose"),
    r(M, US, "Last chance! Reply END to opt out", M, false, "END + opt-out purpose"),
    r(T, US, "Order 4411 has shipped. Text QUIT to unsubscribe from shipping alerts", M, false,
        "QUIT + opt-out purpose: an opt-out instruction, so marketing"),
    r(M, US, "Weekend special: quit paying full price", M, true, "quit is a plain verb"),
    r(T, US, "Your code is 482913. It expires in 10 minutes", T, false, "no keyword at all"),
    // Canada (English, French).
    r(M, CA, "Soldes d'hiver: -30%. Répondez ARRET pour vous désabonner", M, false,
        "French reply verb + ARRET"),
    r(M, CA, "Winter sale 30% off. Reply STOP to opt out / ARRET pour vous désabonner", M, false,
        "the pack's own mention"),
    r(T, CA, "Arrêt de service prévu ce soir de 22 h à 23 h", T, false,
        "arrêt (an outage) is a noun: stays transactional"),
    r(M, CA, "Nouveaux arrivages en magasin cette semaine", M, true, "no instruction: append"),
    // United Kingdom.
    r(M, GB, "Spring sale now on. Reply STOP to 60777 to opt out", M, false,
        "reply verb + STOP + short code"),
    r(M, GB, "Don't stop now: 2 for 1 on all pizzas", M, true, "stop is a plain verb"),
    r(T, GB, "Your parcel will arrive by the end of the day", T, false, "end of the day is a noun"),
    r(M, GB, "New menu at The Crown. Opt out: text STOP to 88440", M, false,
        "text + STOP + number"),
    // Germany (German, English).
    r(T, DE, "Ihre Lieferung kommt bis Ende des Monats", T, false,
        "issue 12: Ende des Monats is a noun phrase: stays transactional"),
    r(M, DE, "Nur bis Ende 2026: 20 % auf alles", M, true,
        "Ende before a year is no instruction: ENDE never counts before a bare number"),
    r(M, DE, "Winterschlussverkauf -30 %. Abmelden: STOP senden.", M, false,
        "the pack's own mention: STOP + verb of sending"),
    r(M, DE, "Neue Angebote! Antworte mit STOP, um keine SMS mehr zu erhalten", M, false,
        "reply verb + filler (mit) + STOP"),
    r(M, DE, "Gutschein 10 €. SMS STOP an 12345", M, false, "SMS + STOP + an + number"),
    r(T, DE, "Ihr Zug hält heute nicht in Kassel (kein Stopp)", T, false,
        "kein Stopp is a noun phrase"),
    // Spain (Spanish, English).
    r(M, ES, "Rebajas de invierno -40%. Baja: responde BAJA.", M, false,
        "the pack's own mention: reply verb + BAJA"),
    r(M, ES, "Precios a la baja: 199 € el sofá", M, true,
        "a la baja means falling prices; BAJA never counts before a bare number"),
    r(M, ES, "Nueva colección. Para darte de baja envía BAJA al 217888", M, false,
        "send verb + BAJA"),
    r(T, ES, "Su pedido llega mañana. Para no recibir más avisos responda STOP", M, false,
        "reply verb + STOP in a transactional text: marketing"),
    r(T, ES, "Tu cita del lunes: puedes cancelar o cambiarla en la web", T, false,
        "cancelar is a plain verb"),
    // Italy (Italian, English).
    r(M, IT, "Saldi fino al 50%. Rispondi STOP per disiscriverti.", M, false,
        "the pack's own mention"),
    r(M, IT, "Offerte non-stop fino a domenica", M, true, "non-stop is an adjective"),
    r(M, IT, "Nuovi arrivi! Invia STOP al 48000 per non ricevere più messaggi", M, false,
        "send verb + STOP + al + number"),
    r(T, IT, "Il tuo ordine è in consegna. STOP al 48000 per disattivare gli avvisi", M, false,
        "STOP + al + number in a transactional text: marketing"),
    // Brazil (Portuguese, English).
    r(M, BR, "Ofertas de inverno! Para sair, responda SAIR.", M, false, "the pack's own mention"),
    r(M, BR, "Promoção relâmpago! Envie SAIR para 28282", M, false, "send verb + SAIR + number"),
    r(M, BR, "Pare de pagar caro: frete grátis hoje", M, true,
        "pare de pagar is a plain verb: PARE counts only after a reply verb"),
    r(T, BR, "Seu pedido saiu para entrega. Responda PARAR para não receber avisos", M, false,
        "reply verb + PARAR: marketing"),
    r(T, BR, "Seu voo vai sair do portão 12 às 18h", T, false, "sair (depart) is a plain verb"),
    // Belgium (Dutch, French, English): no mention rule, only the reclassification.
    r(T, BE, "Uw pakket komt morgen. Antwoord STOP om geen berichten meer te ontvangen", M, false,
        "Dutch reply verb + STOP: marketing; the pack appends no mention"),
    r(T, BE, "Stop met zoeken: uw afspraak is bevestigd", T, false, "stop met is a plain verb"),
    r(T, BE, "Votre colis arrive demain. Envoyez STOP au 8844 pour ne plus recevoir d'avis", M,
        false, "French send verb + STOP + au + number: marketing"),
    r(M, BE, "Nieuwe collectie in de winkel", M, false, "Belgium requires no mention text"),
    // Kenya (English, Swahili).
    r(M, KE, "Mega sale at Naivas this weekend. STOP*456*9*5#", M, false,
        "the Safaricom footer: STOP + USSD code"),
    r(M, KE, "Punguzo la 20% leo! Tuma STOP kwa 22384 kujiondoa", M, false,
        "Swahili send verb (tuma) + STOP + kwa + number"),
    r(M, KE, "Shop non-stop this weekend at Naivas", M, true, "non-stop is an adverb"),
    r(T, KE, "Taarifa ya M-Pesa iko tayari. Jibu STOP kusitisha", M, false,
        "Swahili reply verb (jibu) + STOP: marketing"),
    // Nigeria.
    r(M, NG, "Big Friday deals! Reply STOP to opt-out", M, false, "reply verb + STOP"),
    r(M, NG, "Network-wide DND: text STOP to 2442", M, false, "text + STOP + number"),
    r(T, NG, "Your session will end in 5 minutes", T, false, "end is a plain verb"),
    // South Africa.
    r(M, ZA, "Black Friday specials! Reply STOP to opt-out", M, false, "reply verb + STOP"),
    r(M, ZA, "Black Friday: stop and shop at Checkers", M, true, "stop is a plain verb"),
    r(T, ZA, "Load-shedding stage 2 will end at 22:00", T, false, "end is a plain verb"),
    // India (Indian English, Hindi): no mention rule, only the reclassification.
    r(T, IN, "Your OTP is 482913. Do not share it with anyone", T, false, "no keyword at all"),
    r(T, IN, "Order delivered. To unsubscribe SMS STOP to 56161", M, false,
        "SMS + STOP: an opt-out instruction, so marketing"),
    r(T, IN, "आपका ऑर्डर भेज दिया गया है। अनसब्सक्राइब करने के लिए STOP लिखकर 56161 पर भेजें", M,
        false, "Hindi: STOP + number (Devanagari separates the words)"),
    r(T, IN, "Aapka order deliver ho gaya. STOP likhkar 56161 par bhejein", M, false,
        "Hinglish: STOP + likhkar + number"),
    r(T, IN, "Your train will stop at Nagpur. Platform 3", T, false, "stop is a plain verb"),
    // France: the mention must end the text and name the STOP code.
    r(M, FR, "Soldes -20% ce week-end STOP au 36111", M, false, "STOP au + code at the end"),
    r(M, FR, "Soldes -20% ce week-end STOP SMS au 36111", M, false,
        "STOP SMS au + code at the end"),
    r(M, FR, "Soldes -20% ce week-end (STOP 36111)", M, false, "STOP + code at the end"),
    r(M, FR, "Soldes -20% ce week-end STOP SMS: 36111", M, false, "STOP SMS: + code at the end"),
    r(M, FR, "Soldes non-stop ce week-end", M, true, "no STOP code: append STOP au 36111"),
    r(T, FR, "Votre colis arrive demain. Arrêt de bus : Gare de Lyon", T, false,
        "arrêt de bus is a place"),
    r(T, FR, "Votre rendez-vous est confirmé. STOP au 36111", M, false,
        "STOP + code in a transactional text: marketing, mention already at the end"),
    r(T, FR, "Votre commande est expédiée. Pour ne plus recevoir de SMS, répondez STOP", M, true,
        "reply verb + STOP: marketing; France wants STOP + code at the end, appended"),
    r(T, FR, "Service client non-stop 7j/7", T, false, "non-stop is an adjective"),
];

fn sender(to: &str) -> SenderIdentity<'static> {
    let short = SenderIdentity {
        kind: SenderKind::ShortCode(ShortCode::parse("12345").unwrap()),
        registered: false,
        brand: "acme",
        stop_code: None,
    };
    let alpha = SenderIdentity {
        kind: SenderKind::Alpha("ACME"),
        ..short
    };
    match to {
        FR => SenderIdentity {
            stop_code: ShortCode::parse("36111"),
            ..alpha
        },
        KE | IN => SenderIdentity {
            registered: true,
            ..alpha
        },
        _ => short,
    }
}

fn check(row: &Row) -> Result<(), String> {
    let contact = Contact::new(Msisdn::parse(row.to).map_err(|e| e.to_string())?);
    let message = Message {
        text: row.text,
        class: row.class,
        categories: CategorySet::EMPTY,
    };
    let now = UtcInstant::parse_rfc3339("2026-11-24T14:00:00Z").unwrap();
    let d = evaluate(
        &message,
        &sender(row.to),
        &contact,
        now,
        &Options::default(),
        Stores::PERMISSIVE,
    );
    let Outcome::Send { text, .. } = d.outcome else {
        return Err(format!("not sent: {d}"));
    };
    let reclassified = row.class != row.expect;
    if d.class != row.expect || d.reclassified != reclassified {
        return Err(format!("class {} ({d})", d.class.name()));
    }
    if text.appended.is_some() != row.appended {
        return Err(format!("sent as {:?}", text.to_string()));
    }
    Ok(())
}

#[test]
fn instructions_and_plain_words_in_every_pack_language() {
    let failures: Vec<String> = ROWS
        .iter()
        .filter_map(|row| {
            check(row).err().map(|e| {
                format!(
                    "{} {} {:?} (expected {}, appended {}: {}): {e}",
                    row.to,
                    row.class.name(),
                    row.text,
                    row.expect.name(),
                    row.appended,
                    row.why
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_both_classes_and_every_pack_language() {
    assert!(ROWS.len() >= 60);
    for class in [T, M] {
        assert!(ROWS.iter().any(|r| r.class == class && r.expect == class));
    }
    assert!(ROWS.iter().any(|r| r.class == T && r.expect == M));
    // Each language has a row whose instruction only its own words make.
    let langs = [
        (Lang::En, "Reply STOP to opt out"),
        (Lang::Fr, "Répondez ARRET pour vous désabonner"),
        (Lang::De, "Antworte mit STOP"),
        (Lang::Es, "responde BAJA"),
        (Lang::Pt, "responda SAIR"),
        (Lang::It, "Rispondi STOP"),
        (Lang::Nl, "Antwoord STOP"),
        (Lang::Sw, "Tuma STOP kwa 22384"),
    ];
    for (lang, phrase) in langs {
        assert!(instructs_opt_out(phrase, &[lang]), "{phrase}");
        assert!(
            ROWS.iter().any(|r| r.text.contains(phrase)),
            "no row in {}",
            lang.code()
        );
    }
}

/// The forms an instruction takes in the wild, and the everyday uses of the same
/// words, read with every keyword language.
#[test]
fn instruction_forms_and_plain_uses() {
    for text in [
        "STOP au 36180",
        "STOP SMS au 36180",
        "STOP SMS: 36180",
        "Stop au 36111",
        "STOP: 36180",
        "STOP=36180",
        "(STOP 36180)",
        "Stop SMS 36111",
        "Reply STOP to opt out",
        "Text STOP to 12345",
        "txt STOP to end",
        "Reply STOP to unsubscribe",
        "Msg&data rates may apply. Reply HELP for help, STOP to cancel",
        "Envie SAIR para 12345",
        "Responda PARAR",
        "Responde BAJA",
        "Antworte mit STOP",
        "SMS STOP an 12345",
        "Rispondi STOP",
        "Invia STOP al 48123",
        "Antwoord STOP",
        "STOP to 22384",
        "Reply STOP to opt-out",
        "Stop dial *456*9*5#",
        "To opt out, reply with the word STOP",
        "Text STOP ALL to 12345",
        "Reply UNSUBSCRIBE",
        "Envoyez le mot STOP au 36180",
        "Pour vous désinscrire, répondez DÉSINSCRIPTION",
        "Schicke STOPP an 12345",
        "Responde NO MÁS",
    ] {
        assert!(instructs_opt_out(text, Lang::ALL), "{text}");
    }
    for text in [
        "END of season",
        "Ende des Monats",
        "Reply CANCEL to cancel your appointment",
        "Stop by our shop",
        "non-stop",
        "Non-stop 2026 deals",
        "bus stop",
        "Meet us at the bus stop at 1234 Oak Ave",
        "Reply to this text. Stop by anytime",
        "We never stop. 2026 is here",
        "Stop sending excuses, start saving",
        "Reply END to end the chat",
        "Precios a la baja 199",
        "Arrêt au 125 rue de Rivoli",
        "Reply CANCEL to cancel. Stop by the desk",
        "",
    ] {
        assert!(!instructs_opt_out(text, Lang::ALL), "{text}");
    }
}

mod props {
    use proptest::prelude::*;
    use relais_core::compliance::lang::Lang;
    use relais_core::compliance::mention::{ends_with_stop_code, instructs_opt_out};

    /// Words the reader reacts to, plain words, numbers and separators, so that random
    /// texts walk every state of the reader.
    const PIECES: &[&str] = &[
        "STOP",
        "stop",
        "Stop",
        "ALL",
        "OPT",
        "out",
        "NO",
        "más",
        "END",
        "Ende",
        "CANCEL",
        "BAJA",
        "SAIR",
        "ARRÊT",
        "PARAR",
        "Reply",
        "text",
        "SMS",
        "Antworte",
        "senden",
        "mit",
        "the",
        "word",
        "to",
        "au",
        "an",
        "al",
        "para",
        "kwa",
        "for",
        "pour",
        "um",
        "opt-out",
        "unsubscribe",
        "désabonner",
        "cancel",
        "end",
        "36180",
        "12",
        "2442",
        "123456789012345678",
        "non-",
        "bus",
        " ",
        " ",
        ". ",
        ", ",
        ": ",
        "=",
        "*",
        "(",
        ")",
        "!",
        "?",
        ";",
        "\n",
        "-",
        "é",
        "\u{301}",
        "ß",
        "Ж",
        "谢",
        "😀",
        "。",
    ];

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(PIECES), 0..24)
                .prop_map(|pieces| pieces.concat()),
            any::<String>(),
        ]
    }

    proptest! {
        /// Any text, in any languages: an answer, never a panic.
        #[test]
        fn never_panics(text in texts(), langs in prop::sample::subsequence(Lang::ALL, 0..=8)) {
            let _ = instructs_opt_out(&text, &langs);
            let _ = ends_with_stop_code(&text);
        }

        /// Case does not matter.
        #[test]
        fn case_does_not_matter(text in texts()) {
            prop_assert_eq!(
                instructs_opt_out(&text.to_ascii_lowercase(), Lang::ALL),
                instructs_opt_out(&text.to_ascii_uppercase(), Lang::ALL)
            );
            prop_assert_eq!(
                ends_with_stop_code(&text.to_ascii_lowercase()),
                ends_with_stop_code(&text.to_ascii_uppercase())
            );
        }
    }
}
