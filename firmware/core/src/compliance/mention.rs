//! Outgoing texts: does a text already tell its reader how to opt out?
//!
//! [`super::decision::evaluate`] asks this twice: a marketing text that already carries
//! an opt-out instruction gets none appended, and a transactional text that carries one
//! is treated as marketing (Brevo's rule for transactional SMS). The question is whether
//! the text *instructs* the reader to opt out, not whether some word of it is also an
//! inbound keyword: "Don't miss the END of season sale", "Ihre Lieferung kommt bis Ende
//! des Monats" and "Reply CANCEL to cancel your appointment" instruct nothing.
//!
//! # Grammar
//!
//! The text is read once, left to right, as the words [`super::keywords::words`] cuts
//! (accents folded, case ignored; punctuation, symbols and other scripts separate words,
//! so "STOP: 36180", "STOP=36180", "(STOP 36180)" and "STOP*456*9*5#" read as
//! `STOP 36180`...). A *sentence break* is one of `. ! ? ;` or a line break between two
//! words; no form reaches across one. `K` is an opt-out keyword of the pack's languages,
//! from the inbound list of [`super::keywords`] (a multi-word keyword such as `OPT OUT`
//! counts as one); its *role* says how much context it needs, because some keywords are
//! also everyday words:
//!
//! | role | keywords | forms |
//! |---|---|---|
//! | anchor | STOP, STOPP, STOPALL, STOP ALL, UNSUBSCRIBE, UNSUB, OPTOUT, OPT OUT, DESABONNER, DESINSCRIRE, DESINSCRIPTION, DESABONNEMENT, SAIR | 1, 2, 3, 4 |
//! | imperative | ARRET, ARRETE, ARRETT, BAJA, ALTO, PARAR, PARE, NO MAS | 1, 2, 4 with an opt-out purpose |
//! | purpose | CANCEL, END, QUIT, REVOKE, REMOVE, TD, ENDE, ANNULLIEREN, CANCELAR | 4 with an opt-out purpose |
//!
//! 1. **Verb, then `K`**: `VERB FILLER{0,3} K`, a verb of replying or sending
//!    (`VERBS`: reply, text, txt, send, SMS, répondez, envoyez, tapez, antworte(n),
//!    sende(n), responde, responda, envía, envie, rispondi, invia, antwoord, stuur, tuma,
//!    jibu) and at most three `FILLERS` (with the word, mit, Sie, avec le mot, par, la
//!    palabra, com a palavra, met het woord, neno): "Reply STOP to opt out", "Antworte
//!    mit STOP", "Envie SAIR para 28282", "Responda PARAR", "SMS STOP to 56161".
//! 2. **`K`, then a verb**: `K VERB`, the German and Hindi order: "Abmelden: STOP
//!    senden", "STOP bhejein".
//! 3. **`K`, then a number**: `K LINK{0,2} NUMBER`, `NUMBER` one word of 3 to 15 digits,
//!    the `LINKS` to, au, an, al, ao, para, naar, kwa, SMS, par, dial, numero, likhkar:
//!    "STOP au 36180", "STOP SMS au 36180", "STOP SMS: 36180", "Stop SMS 36111", "STOP to
//!    2442", "Invia STOP al 48000", "STOP likhkar 56161", "STOP*456*9*5#". `K` must not
//!    end a hyphenated word ("non-stop 2026").
//! 4. **`K`, then a purpose**: `K MARKER W{0,4} PURPOSE`, the `MARKERS` to, for, pour,
//!    para, um, zum, per, om, ili, kwa, and a `PURPOSE` that names the opt-out
//!    (`OPT_OUT_PURPOSES`: opt out, unsubscribe, stop, désabonner, désinscrire,
//!    abmelden, baja, disiscriverti, (af te) melden, sair, kujiondoa) or, after an anchor
//!    only, one that a STOP also ends (`OTHER_PURPOSES`: cancel, end, quit, cancelar,
//!    annuler): "Reply HELP for help, STOP to cancel", "Reply END to opt out", "ARRET pour
//!    vous désabonner"; not "Reply CANCEL to cancel your appointment".
//!
//! Anything else is not an instruction: "Stop by our shop", "non-stop", "bus stop",
//! "Arrêt de bus", "precios a la baja: 199 €", "bis Ende 2026", "stop at 1234 Oak Ave".
//! The lists are plain strings of folded words: the device, which runs the same
//! [`evaluate`], pays for the words and one small reader.
//!
//! France's own mention must *end* the text ([`ends_with_stop_code`]): form 3 with `STOP`
//! and a 5-digit code as the last word.
//!
//! [`evaluate`]: super::decision::evaluate

use super::keywords::{self, Role, word_eq, word_from};
use super::lang::Lang;

/// Imperative verbs of replying or sending, in every keyword language (EN, FR, DE, ES,
/// PT, IT, NL, SW; Indian English says "SMS", Hindi puts its verb, bhejein, last): before
/// the keyword (form 1) or right after it (form 2).
const VERBS: &str = "REPLY TEXT TXT SEND SMS REPONDEZ REPONDRE ENVOYEZ TAPEZ ANTWORTE \
    ANTWORTEN SENDE SENDEN SCHICKEN RESPONDE RESPONDA ENVIA ENVIE RISPONDI INVIA ANTWOORD \
    STUUR TUMA JIBU BHEJEIN";

/// Words between a verb and the keyword (form 1): "Reply with the word STOP", "Antworten
/// Sie mit STOP", "Envoyez le mot STOP", "Envía la palabra BAJA", "Tuma neno STOP".
const FILLERS: &str = "WITH THE WORD MIT WORT SIE AVEC LE MOT PAR CON LA PALABRA COM A \
    PALAVRA MET HET WOORD NENO";

/// Words between the keyword and its number (form 3): "STOP au 36180", "STOP SMS au
/// 36180", "STOP al numero 48000", "STOP likhkar 56161", "Stop dial *456*9*5#".
/// Not "at" or "on": "the bus will stop at 1234 Oak Ave" names an address.
const LINKS: &str = "TO AU AN AL AO PARA NAAR KWA SMS PAR DIAL NUMERO LIKHKAR";

/// Words that introduce a purpose (form 4).
const MARKERS: &str = "TO FOR POUR PARA UM ZUM PER OM ILI KWA";

/// Purposes that name the opt-out itself: they make any opt-out keyword an instruction.
const OPT_OUT_PURPOSES: &str = "OPT UNSUBSCRIBE UNSUB STOP STOPP DESABONNER DESINSCRIRE \
    ABMELDEN ABZUMELDEN BAJA DISISCRIVERTI MELDEN SAIR KUJIONDOA";

/// Purposes that also end other things (an appointment, a session): they make only an
/// anchor keyword an instruction ("STOP to cancel", not "CANCEL to cancel your order").
const OTHER_PURPOSES: &str = "CANCEL END QUIT CANCELAR ANNULER";

/// The word classes, one bit each, in the order of [`CLASSES`].
const VERB: u8 = 1;
const FILLER: u8 = 2;
const LINK: u8 = 4;
const MARKER: u8 = 8;
const OPT_OUT_PURPOSE: u8 = 16;
const OTHER_PURPOSE: u8 = 32;
const CLASSES: [&str; 6] = [
    VERBS,
    FILLERS,
    LINKS,
    MARKERS,
    OPT_OUT_PURPOSES,
    OTHER_PURPOSES,
];

/// True when `text` instructs its reader how to opt out, in one of `langs` (see the
/// module docs for the grammar).
///
/// ```
/// use relais_core::compliance::lang::Lang;
/// use relais_core::compliance::mention::instructs_opt_out;
/// assert!(instructs_opt_out("Soldes -20% STOP au 36180", &[Lang::Fr]));
/// assert!(instructs_opt_out("Sale today. Reply STOP to opt out", &[Lang::En]));
/// assert!(!instructs_opt_out("Don't miss the END of season sale", &[Lang::En]));
/// assert!(!instructs_opt_out("Reply CANCEL to cancel your appointment", &[Lang::En]));
/// ```
pub fn instructs_opt_out(text: &str, langs: &[Lang]) -> bool {
    read(text, langs).instruction
}

/// True when the text ends with France's mention: `STOP`, at most two `LINKS`, then a
/// 5-digit code as the last word ("STOP au 36180", "STOP SMS : 36180", "(STOP 36180)").
///
/// ```
/// use relais_core::compliance::mention::ends_with_stop_code;
/// assert!(ends_with_stop_code("Soldes -20% STOP SMS au 36180."));
/// assert!(!ends_with_stop_code("STOP au 36180 : soldes -20%"));
/// ```
pub fn ends_with_stop_code(text: &str) -> bool {
    read(text, &[Lang::Fr]).stop_code_at_end
}

/// What [`read`] finds.
#[derive(Default)]
struct Reading {
    /// An instruction in any form.
    instruction: bool,
    /// Form 3 with `STOP` and a 5-digit code as the last word.
    stop_code_at_end: bool,
}

/// Reads the words of `text` once, left to right, following every form of the grammar
/// at the same time.
fn read(text: &str, langs: &[Lang]) -> Reading {
    let mut found = Reading::default();
    // Where the previous word ended.
    let mut end = 0;
    // After a reply verb: 1 + how many more fillers may come before the keyword.
    let mut verb = 0u8;
    // The last keyword of the sentence, and whether the word being read is the first
    // after it.
    let mut key: Option<Role> = None;
    let mut next_to_key = false;
    // Words left for a number (form 3) and for a purpose (form 4).
    let mut link = 0u8;
    let mut purpose = 0u8;
    let mut key_is_stop = false;
    // Where a 5-digit code that follows `STOP` ends.
    let mut code_end = None;
    // Words left of a multi-word keyword.
    let mut skip = 0;
    while let Some(word) = word_from(text, end) {
        let start = (word.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let gap = text.as_bytes().get(end..start).unwrap_or_default();
        end = start + word.len();
        if gap
            .iter()
            .any(|c| matches!(c, b'.' | b'!' | b'?' | b';' | b'\n' | b'\r'))
        {
            (verb, key, link, purpose) = (0, None, 0, 0);
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let class = CLASSES.iter().rev().fold(0, |bits, table| {
            bits << 1 | u8::from(table.split(' ').any(|t| word_eq(word, t)))
        });
        if let Some(role) = key {
            let strong = role != Role::Purpose;
            let mut yes = next_to_key && strong && class & VERB != 0;
            if link > 0 {
                if (3..=15).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_digit()) {
                    yes = true;
                    if key_is_stop && word.len() == 5 {
                        code_end = Some(end);
                    }
                }
                link = if class & LINK != 0 { link - 1 } else { 0 };
            }
            if purpose > 0 {
                yes |= class & OPT_OUT_PURPOSE != 0
                    || (role == Role::Anchor && class & OTHER_PURPOSE != 0);
                purpose -= 1;
            }
            if next_to_key && class & MARKER != 0 {
                purpose = 5;
            }
            next_to_key = false;
            found.instruction |= yes;
        }
        if let Some((role, len)) = keywords::opt_out_at(text, word, langs) {
            found.instruction |= verb > 0 && role != Role::Purpose;
            let hyphenated =
                start.checked_sub(1).and_then(|i| text.as_bytes().get(i)) == Some(&b'-');
            link = if role == Role::Anchor && !hyphenated {
                3
            } else {
                0
            };
            (key, next_to_key, purpose, verb) = (Some(role), true, 0, 0);
            key_is_stop = word_eq(word, "STOP");
            skip = len - 1;
        } else if class & VERB != 0 {
            verb = 4;
        } else if class & FILLER == 0 {
            verb = 0;
        } else {
            verb = verb.saturating_sub(1);
        }
    }
    found.stop_code_at_end = code_end == Some(end);
    found
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;

    const EN: &[Lang] = &[Lang::En];

    #[test]
    fn each_form_and_its_near_misses() {
        // Form 1.
        assert!(instructs_opt_out("Reply with the word STOP", EN));
        assert!(!instructs_opt_out(
            "Reply to this text. Stop by anytime",
            EN
        ));
        assert!(!instructs_opt_out("Reply soon and stop by", EN));
        // Form 2.
        assert!(instructs_opt_out("Abmelden: STOP senden.", &[Lang::De]));
        assert!(!instructs_opt_out("Stop sending me junk", EN));
        // Form 3.
        assert!(instructs_opt_out("STOP*456*9*5#", &[Lang::Sw]));
        assert!(!instructs_opt_out("Non-stop 2026 deals", EN));
        assert!(!instructs_opt_out("We never stop. 2026 is here", EN));
        assert!(!instructs_opt_out("Stop to 12 stations", EN));
        assert!(!instructs_opt_out(
            "Arrêt au 125 rue de Rivoli",
            &[Lang::Fr]
        ));
        // Form 4.
        assert!(instructs_opt_out("Reply HELP for help, STOP to cancel", EN));
        assert!(instructs_opt_out("Text END to opt-out", EN));
        assert!(!instructs_opt_out("Reply CANCEL to cancel your order", EN));
        assert!(!instructs_opt_out("Reply CANCEL to cancel. Stop by", EN));
    }

    #[test]
    fn multi_word_keywords_are_read_as_one() {
        assert!(instructs_opt_out("STOP ALL to 12345", EN));
        assert!(instructs_opt_out("Reply OPT OUT", EN));
        assert!(instructs_opt_out("NO MÁS para darte de baja", &[Lang::Es]));
        assert!(!instructs_opt_out("Opt out of nothing", EN));
    }

    #[test]
    fn each_word_is_read_after_the_one_before() {
        // The reader keeps no more than a few words of state: a long text with the
        // instruction at its very end, and one with keywords everywhere but no
        // instruction.
        let mut long = String::new();
        for _ in 0..300 {
            long.push_str("stop by, end of season, cancel your order; ");
        }
        assert!(!instructs_opt_out(&long, Lang::ALL));
        long.push_str("Reply STOP to opt out");
        assert!(instructs_opt_out(&long, Lang::ALL));
    }

    #[test]
    fn keywords_of_other_languages_do_not_count() {
        assert!(!instructs_opt_out("Envie SAIR para 28282", &[Lang::De]));
        assert!(instructs_opt_out("Envie SAIR para 28282", &[Lang::Pt]));
    }

    #[test]
    fn the_french_mention_ends_the_text() {
        for text in [
            "Soldes STOP au 36180",
            "Soldes STOP 36180",
            "Soldes STOP SMS: 36180",
            "Soldes (STOP 36180)",
            "Soldes Stop au 36111 !",
        ] {
            assert!(ends_with_stop_code(text), "{text}");
        }
        for text in [
            "Soldes STOP au 361800",
            "Soldes non-stop 36180",
            "Soldes STOP. 36180",
            "Soldes au 36180",
            "36180",
            "",
        ] {
            assert!(!ends_with_stop_code(text), "{text}");
        }
    }
}
