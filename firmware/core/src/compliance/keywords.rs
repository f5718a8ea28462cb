//! Inbound keywords: normalisation and tiered matching (docs/compliance.md § Decision 8,
//! § Normalisation and matching).
//!
//! Normalisation is done on the fly, without a buffer: letters with diacritics fold to
//! their base letter (`É` → `E`, `Œ` → `OE`, `ß` → `SS`), ASCII is uppercased, and every
//! run of characters that are not letters or digits (spaces, punctuation, emoji)
//! separates words. Then, in order:
//!
//! 1. the whole body is a keyword (`STOP`, `Stop!`, `opt-out`, `STOP ALL`) → tier 1;
//! 2. the first word is an opt-out keyword (`STOP svp`, `Stop 36111`) → opt-out, tier 2
//!    (help keywords too: `HELP please`);
//! 3. an opt-out keyword appears anywhere as a whole word → opt-out for +1 numbers
//!    (FCC 24-24 "any reasonable means"), elsewhere a possible opt-out for review.
//!
//! For Belgian numbers, the GOF's misspellings (`TSOP`, `SOTP`, `STPO`) count as STOP.

use core::fmt;

use super::number::{Msisdn, lookup};
use super::packs::{self, FrProfile, RuleKind};

pub use super::lang::Lang;

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// Unsubscribe from the brand the reply answered.
    OptOut,
    /// Unsubscribe from every brand on the agent (STOPALL).
    OptOutAll,
    /// Subscribe again (START, UNSTOP).
    OptIn,
    /// Ask for the help text.
    Help,
    /// An opt-out word somewhere in a longer text, outside +1: record for review.
    PossibleOptOut,
    /// Nothing recognised.
    None,
}

impl Kind {
    /// The name used on the command line and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::OptOut => "opt-out",
            Kind::OptOutAll => "opt-out-all",
            Kind::OptIn => "opt-in",
            Kind::Help => "help",
            Kind::PossibleOptOut => "possible-opt-out",
            Kind::None => "none",
        }
    }
}

/// How a keyword matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tier {
    /// The whole normalised body is the keyword.
    Whole = 1,
    /// The first word is the keyword.
    FirstWord = 2,
    /// The keyword appears as a whole word somewhere.
    Contains = 3,
}

struct Keyword {
    /// Normalised words, separated by one space.
    words: &'static str,
    kind: Kind,
    lang: Lang,
    /// How the keyword can name the opt-out in an outgoing text (see [`super::mention`]).
    role: Role,
}

/// How an opt-out keyword can name the opt-out in an outgoing text: how much context
/// [`super::mention`] needs before it reads the keyword as an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The word means opt-out and little else (`STOP`, `UNSUBSCRIBE`, `SAIR`): an
    /// instruction after a reply verb, before a number, or with a purpose.
    Anchor,
    /// Also a common word (`ARRET`, `BAJA`, `PARAR`): an instruction after a reply verb or
    /// before a verb of sending, or with an opt-out purpose; never before a bare number
    /// (`arrêt au 125 rue…`, `precios a la baja 199 €`).
    Imperative,
    /// Mostly a common word (`CANCEL`, `END`, `ENDE`): an instruction only with an
    /// opt-out purpose (`Reply END to opt out`, not `Reply CANCEL to cancel your
    /// appointment`).
    Purpose,
}

/// A keyword that names the opt-out only with an opt-out purpose ([`Role::Purpose`]);
/// [`Keyword::anchor`] and [`Keyword::imperative`] say otherwise.
const fn k(words: &'static str, kind: Kind, lang: Lang) -> Keyword {
    Keyword {
        words,
        kind,
        lang,
        role: Role::Purpose,
    }
}

impl Keyword {
    const fn anchor(self) -> Keyword {
        Keyword {
            role: Role::Anchor,
            ..self
        }
    }

    const fn imperative(self) -> Keyword {
        Keyword {
            role: Role::Imperative,
            ..self
        }
    }
}

use Kind::{Help, OptIn, OptOut, OptOutAll};
use Lang::{De, En, Es, Fr, It, Nl, Pt, Sw};

/// docs/compliance.md § Keyword lists. Multi-word keywords come first so they win over
/// their first word. Keywords with only weak sources ([W]: ONDOKA, TOKA, MSAADA) are left
/// out.
const KEYWORDS: &[Keyword] = &[
    k("STOP ALL", OptOutAll, En).anchor(),
    k("OPT OUT", OptOut, En).anchor(),
    k("NO MAS", OptOut, Es).imperative(),
    k("STOP", OptOut, En).anchor(),
    k("STOPALL", OptOutAll, En).anchor(),
    k("UNSUBSCRIBE", OptOut, En).anchor(),
    k("UNSUB", OptOut, En).anchor(),
    k("CANCEL", OptOut, En),
    k("END", OptOut, En),
    k("QUIT", OptOut, En),
    k("REVOKE", OptOut, En),
    k("OPTOUT", OptOut, En).anchor(),
    k("REMOVE", OptOut, En),
    k("TD", OptOut, En),
    k("START", OptIn, En),
    k("UNSTOP", OptIn, En),
    k("YES", OptIn, En),
    k("HELP", Help, En),
    k("INFO", Help, En),
    k("STOP", OptOut, Fr).anchor(),
    k("ARRET", OptOut, Fr).imperative(),
    k("ARRETE", OptOut, Fr).imperative(),
    k("ARRETT", OptOut, Fr).imperative(),
    k("DESABONNER", OptOut, Fr).anchor(),
    k("DESINSCRIRE", OptOut, Fr).anchor(),
    k("DESINSCRIPTION", OptOut, Fr).anchor(),
    k("DESABONNEMENT", OptOut, Fr).anchor(),
    k("START", OptIn, Fr),
    k("AIDE", Help, Fr),
    k("CONTACT", Help, Fr),
    k("INFO", Help, Fr),
    k("BAJA", OptOut, Es).imperative(),
    k("ALTO", OptOut, Es).imperative(),
    k("CANCELAR", OptOut, Es),
    k("PARAR", OptOut, Es).imperative(),
    k("STOP", OptOut, Es).anchor(),
    k("AYUDA", Help, Es),
    k("STOP", OptOut, De).anchor(),
    k("STOPP", OptOut, De).anchor(),
    k("ENDE", OptOut, De),
    k("ANNULLIEREN", OptOut, De),
    k("HILFE", Help, De),
    k("SAIR", OptOut, Pt).anchor(),
    k("PARE", OptOut, Pt).imperative(),
    k("PARAR", OptOut, Pt).imperative(),
    k("CANCELAR", OptOut, Pt),
    k("STOP", OptOut, Pt).anchor(),
    k("AJUDA", Help, Pt),
    k("STOP", OptOut, It).anchor(),
    k("STOP", OptOut, Nl).anchor(),
    k("STOP", OptOut, Sw).anchor(),
];

/// GOF (Belgium): misspellings of STOP that must count (docs/compliance.md § Belgium).
const BE_MISSPELLINGS: &[&str] = &["TSOP", "SOTP", "STPO", "SOPT", "OTSP"];

/// The result of classifying an inbound text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Classification {
    /// What the text asks for.
    pub kind: Kind,
    /// The keyword that matched, normalised (`STOP`, `ARRET`).
    pub keyword: Option<&'static str>,
    /// How it matched.
    pub tier: Option<Tier>,
    /// The keyword's language.
    pub lang: Option<Lang>,
    /// The reply to send, where the sender's pack requires one (opt-out confirmation)
    /// or for help requests.
    pub reply: Option<&'static str>,
}

impl Classification {
    const NONE: Classification = Classification {
        kind: Kind::None,
        keyword: None,
        tier: None,
        lang: None,
        reply: None,
    };
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        if let (Some(kw), Some(tier)) = (self.keyword, self.tier) {
            write!(f, " ({kw}, tier {})", tier as u8)?;
        }
        Ok(())
    }
}

/// Classifies an inbound text from `from` (when known).
///
/// ```
/// use relais_core::compliance::keywords::{classify, Kind, Tier};
/// use relais_core::compliance::number::Msisdn;
/// let c = classify("Arrêt!", None);
/// assert_eq!((c.kind, c.keyword, c.tier), (Kind::OptOut, Some("ARRET"), Some(Tier::Whole)));
/// let us = Msisdn::parse("+12125550123").ok();
/// assert_eq!(classify("please stop texting me", us.as_ref()).kind, Kind::OptOut);
/// assert_eq!(classify("please stop texting me", None).kind, Kind::PossibleOptOut);
/// ```
pub fn classify(text: &str, from: Option<&Msisdn>) -> Classification {
    let info = from.and_then(lookup);
    let pack = info
        .and_then(|i| packs::for_region(i.region, FrProfile::Af2m))
        .map(|(p, _)| p);
    let langs: &[Lang] = pack.map_or(Lang::ALL, |p| p.languages);
    let plus_one = info.is_some_and(|i| i.calling_code == 1);
    let confirms = pack.is_some_and(|p| {
        p.rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::Confirmation))
    });
    // The pack's languages in order (the first is the country's own), so a keyword
    // shared by two languages is answered in the country's language.
    let candidates = || {
        langs
            .iter()
            .flat_map(|l| KEYWORDS.iter().filter(move |kw| kw.lang == *l))
    };
    let longest = |kw: &&Keyword| usize::MAX - kw.words.len();

    let found = |kw: &Keyword, tier: Tier, kind: Kind| {
        let reply = match kind {
            Kind::OptOut | Kind::OptOutAll if confirms => Some(kw.lang.opt_out_confirmation()),
            Kind::Help => Some(kw.lang.help_reply()),
            _ => None,
        };
        Classification {
            kind,
            keyword: Some(kw.words),
            tier: Some(tier),
            lang: Some(kw.lang),
            reply,
        }
    };

    let mut n_words = 0;
    let mut end = 0;
    while let Some(w) = word_from(text, end) {
        n_words += 1;
        end = end_of(text, w);
    }
    // Walk the words once; at each position only keywords with the same first letter
    // are compared in full.
    let at_words = |from: usize, kw: &Keyword| {
        let initial = word_from(text, from)
            .and_then(|w| w.chars().next())
            .map_or(0, |c| fold(c).0);
        kw.words.as_bytes().first() == Some(&initial) && words_match(text, from, kw.words)
    };
    // Tier 1: the whole body.
    if let Some(kw) =
        candidates().find(|kw| kw.words.split(' ').count() == n_words && at_words(0, kw))
    {
        return found(kw, Tier::Whole, kw.kind);
    }
    if info.is_some_and(|i| i.region.0 == *b"BE") && n_words == 1 {
        if let Some(kw) = BE_MISSPELLINGS.iter().find(|m| words_match(text, 0, m)) {
            let stop = &KEYWORDS[3];
            return Classification {
                keyword: Some(kw),
                ..found(stop, Tier::Whole, Kind::OptOut)
            };
        }
    }
    let is_opt_out = |kw: &&Keyword| matches!(kw.kind, Kind::OptOut | Kind::OptOutAll);
    // Tier 2: the first word.
    let first =
        candidates().filter(|kw| (is_opt_out(kw) || kw.kind == Kind::Help) && at_words(0, kw));
    if let Some(kw) = first.min_by_key(longest) {
        return found(kw, Tier::FirstWord, kw.kind);
    }
    // Tier 3: anywhere as a whole word (from the second word on).
    let mut at = 0;
    while let Some(w) = word_from(text, at) {
        at = end_of(text, w);
        let here = candidates().filter(|kw| is_opt_out(kw) && at_words(at, kw));
        if let Some(kw) = here.min_by_key(longest) {
            let kind = if plus_one {
                kw.kind
            } else {
                Kind::PossibleOptOut
            };
            return found(kw, Tier::Contains, kind);
        }
    }
    Classification::NONE
}

/// The word iterator [`words`] returns.
type Words<'t> = core::iter::Filter<core::str::Split<'t, fn(char) -> bool>, fn(&&'t str) -> bool>;

/// True when the words of `text` from byte `from` on begin with the words of `keyword`.
fn words_match(text: &str, mut from: usize, keyword: &str) -> bool {
    keyword.split(' ').all(|part| {
        word_from(text, from).is_some_and(|w| {
            from = end_of(text, w);
            word_eq(w, part)
        })
    })
}

/// The byte position in `text` just after `word`, a slice of it.
fn end_of(text: &str, word: &str) -> usize {
    (word.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize) + word.len()
}

/// True when `word` normalises to `keyword` (ASCII uppercase).
pub(crate) fn word_eq(word: &str, keyword: &str) -> bool {
    let mut kw = keyword.bytes();
    for c in word.chars().filter(|&c| !is_combining_mark(c)) {
        let (a, b) = fold(c);
        for f in [Some(a), b].into_iter().flatten() {
            if kw.next() != Some(f) {
                return false;
            }
        }
    }
    kw.next().is_none()
}

/// The words of `text`: maximal runs of letters and digits of the Latin, Greek and
/// Cyrillic scripts (with combining marks); everything else separates them.
///
/// ```
/// use relais_core::compliance::keywords::words;
/// let w: Vec<&str> = words("Ça, c'est l'été… STOP🙏").collect();
/// assert_eq!(w, ["Ça", "c", "est", "l", "été", "STOP"]);
/// ```
pub fn words(text: &str) -> impl DoubleEndedIterator<Item = &str> + Clone {
    words_iter(text)
}

fn is_separator(c: char) -> bool {
    !is_word_char(c)
}

/// Where words are not cut: the letters and digits of the Latin, Greek and Cyrillic
/// scripts, exactly as [`char::is_alphanumeric`] has them below U+0530 (Latin-1, Latin
/// Extended-A and -B, IPA, modifier letters, Greek, Cyrillic), Latin Extended
/// Additional, fullwidth Latin letters and digits (what [`fold`] reads), and the
/// combining diacritical marks, so that a decomposed `E` + U+0301 stays inside its
/// word (the marks are skipped when comparing).
///
/// Every keyword language is written in the Latin script (docs/compliance.md § Keyword
/// lists); Greek and Cyrillic letters stay letters so that a word mixing look-alikes
/// (`SТОP` with a Cyrillic `Т`) matches nothing rather than leaving a Latin fragment.
/// Other scripts, punctuation, symbols and emoji separate words (docs/compliance.md
/// § Normalisation and matching, step 3). Own table instead of `char::is_alphanumeric`:
/// the `core` Unicode tables cost a device 2.6 KiB of flash. (ASCII is tested apart.)
const WORD_CHARS: &[(char, char)] = &[
    ('\u{AA}', '\u{AA}'),
    ('\u{B2}', '\u{B3}'),
    ('\u{B5}', '\u{B5}'),
    ('\u{B9}', '\u{BA}'),
    ('\u{BC}', '\u{BE}'),
    ('\u{C0}', '\u{D6}'),
    ('\u{D8}', '\u{F6}'),
    ('\u{F8}', '\u{2C1}'),
    ('\u{2C6}', '\u{2D1}'),
    ('\u{2E0}', '\u{2E4}'),
    ('\u{2EC}', '\u{2EC}'),
    ('\u{2EE}', '\u{2EE}'),
    // Combining diacritical marks (U+0300–U+036F), then Greek.
    ('\u{300}', '\u{374}'),
    ('\u{376}', '\u{377}'),
    ('\u{37A}', '\u{37D}'),
    ('\u{37F}', '\u{37F}'),
    ('\u{386}', '\u{386}'),
    ('\u{388}', '\u{38A}'),
    ('\u{38C}', '\u{38C}'),
    ('\u{38E}', '\u{3A1}'),
    ('\u{3A3}', '\u{3F5}'),
    // Cyrillic and Cyrillic Supplement.
    ('\u{3F7}', '\u{481}'),
    ('\u{48A}', '\u{52F}'),
    // Latin Extended Additional (Vietnamese and others).
    ('\u{1E00}', '\u{1EFF}'),
    // Fullwidth digits and Latin letters.
    ('\u{FF10}', '\u{FF19}'),
    ('\u{FF21}', '\u{FF3A}'),
    ('\u{FF41}', '\u{FF5A}'),
];

/// True for the characters of a word (see [`WORD_CHARS`]).
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    WORD_CHARS.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

/// A combining diacritical mark (U+0300–U+036F): part of the letter before it, which
/// has already folded to its base letter.
fn is_combining_mark(c: char) -> bool {
    ('\u{300}'..='\u{36F}').contains(&c)
}

fn is_word(w: &&str) -> bool {
    !w.is_empty()
}

fn words_iter(text: &str) -> Words<'_> {
    text.split(is_separator as fn(char) -> bool)
        .filter(is_word as fn(&&str) -> bool)
}

/// Folds one character to uppercase ASCII (one or two bytes); characters without a
/// Latin base letter fold to 0xFF, which matches no keyword.
pub fn fold(c: char) -> (u8, Option<u8>) {
    if c.is_ascii() {
        return (c.to_ascii_uppercase() as u8, None);
    }
    match c {
        'Æ' | 'æ' => return (b'A', Some(b'E')),
        'Œ' | 'œ' => return (b'O', Some(b'E')),
        'Ĳ' | 'ĳ' => return (b'I', Some(b'J')),
        'ß' => return (b'S', Some(b'S')),
        // Fullwidth Latin letters (a phone keyboard in CJK mode).
        'Ａ'..='Ｚ' => return ((c as u32 - 'Ａ' as u32) as u8 + b'A', None),
        'ａ'..='ｚ' => return ((c as u32 - 'ａ' as u32) as u8 + b'A', None),
        _ => {}
    }
    let base = (c as u32)
        .checked_sub(LATIN_BASES_FROM)
        .and_then(|i| LATIN_BASES.get(i as usize))
        .copied()
        .unwrap_or(b'.');
    (if base == b'.' { 0xFF } else { base }, None)
}

/// The first code point of [`LATIN_BASES`].
const LATIN_BASES_FROM: u32 = 0xC0;

/// The base letter of each character from U+00C0 to U+017F (the letters of Latin-1 and
/// Latin Extended-A), 16 a row; `.` for none (`×`, `÷`, `Þ`, `ĸ`, `Ŋ`) and for the
/// ligatures [`fold`] writes as two letters. A table: a `match` over the same letters
/// took three times the flash.
const LATIN_BASES: &[u8; 192] = b"\
    AAAAAA.CEEEEIIII\
    DNOOOOO.OUUUUY..\
    AAAAAA.CEEEEIIII\
    DNOOOOO.OUUUUY.Y\
    AAAAAACCCCCCCCDD\
    DDEEEEEEEEEEGGGG\
    GGGGHHHHIIIIIIII\
    II..JJKK.LLLLLLL\
    LLLNNNNNNN..OOOO\
    OO..RRRRRRSSSSSS\
    SSTTTTTTUUUUUUUU\
    UUUUWWYYYZZZZZZS";

/// The first word of `text` that starts at or after byte `from`, as [`words`] cuts
/// them (a position is cheaper to keep than a cloned iterator).
pub(crate) fn word_from(text: &str, from: usize) -> Option<&str> {
    let rest = text.get(from..)?;
    let mut start = None;
    for (i, c) in rest.char_indices() {
        match (start, is_word_char(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => return rest.get(s..i),
            _ => {}
        }
    }
    rest.get(start?..)
}

/// The opt-out keyword of `langs` that begins with `word`, a word of `text` (the words
/// after it complete a multi-word keyword), with its [`Role`] and how many words it
/// spans.
pub(crate) fn opt_out_at(text: &str, word: &str, langs: &[Lang]) -> Option<(Role, usize)> {
    let initial = word.chars().next().map_or(0, |c| fold(c).0);
    let start = (word.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    KEYWORDS
        .iter()
        .filter(|kw| {
            matches!(kw.kind, Kind::OptOut | Kind::OptOutAll)
                && kw.words.as_bytes().first() == Some(&initial)
                && langs.contains(&kw.lang)
        })
        .find(|kw| words_match(text, start, kw.words))
        .map(|kw| (kw.role, kw.words.split(' ').count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Msisdn {
        Msisdn::parse(s).unwrap()
    }

    #[test]
    fn tiers() {
        let fr = num("+33612345678");
        let c = classify("  stop. ", Some(&fr));
        assert_eq!(
            (c.kind, c.tier, c.keyword),
            (Kind::OptOut, Some(Tier::Whole), Some("STOP"))
        );
        assert!(c.reply.unwrap().contains("prise en compte"));
        let c = classify("STOP svp", Some(&fr));
        assert_eq!((c.kind, c.tier), (Kind::OptOut, Some(Tier::FirstWord)));
        let c = classify("Stop 36111", Some(&fr));
        assert_eq!((c.kind, c.tier), (Kind::OptOut, Some(Tier::FirstWord)));
        let c = classify("merci mais stop", Some(&fr));
        assert_eq!(
            (c.kind, c.tier),
            (Kind::PossibleOptOut, Some(Tier::Contains))
        );
        let c = classify("ARRÊT", Some(&fr));
        assert_eq!(
            (c.kind, c.keyword, c.lang),
            (Kind::OptOut, Some("ARRET"), Some(Lang::Fr))
        );
        assert_eq!(classify("Bonjour, à demain", Some(&fr)).kind, Kind::None);
    }

    #[test]
    fn plus_one_contains_counts() {
        let us = num("+12125550123");
        let c = classify("please stop texting me", Some(&us));
        assert_eq!((c.kind, c.tier), (Kind::OptOut, Some(Tier::Contains)));
        assert!(c.reply.unwrap().starts_with("You have been unsubscribed"));
        let c = classify("Stop all", Some(&us));
        assert_eq!((c.kind, c.keyword), (Kind::OptOutAll, Some("STOP ALL")));
        let c = classify("opt-out", Some(&us));
        assert_eq!(
            (c.kind, c.keyword, c.tier),
            (Kind::OptOut, Some("OPT OUT"), Some(Tier::Whole))
        );
        assert_eq!(classify("UNSTOP", Some(&us)).kind, Kind::OptIn);
        assert_eq!(classify("help", Some(&us)).kind, Kind::Help);
        assert_eq!(classify("No más", Some(&us)).kind, Kind::OptOut);
    }

    #[test]
    fn canada_answers_in_the_keyword_language() {
        let ca = num("+14165550123");
        assert_eq!(classify("ARRET", Some(&ca)).lang, Some(Lang::Fr));
        assert!(
            classify("ARRET", Some(&ca))
                .reply
                .unwrap()
                .starts_with("Votre demande")
        );
        assert!(
            classify("STOP", Some(&ca))
                .reply
                .unwrap()
                .starts_with("You have")
        );
        assert_eq!(classify("AIDE", Some(&ca)).kind, Kind::Help);
    }

    #[test]
    fn belgian_misspellings_and_languages() {
        let be = num("+32470123456");
        assert_eq!(classify("tsop", Some(&be)).kind, Kind::OptOut);
        assert_eq!(
            classify("tsop", Some(&num("+33612345678"))).kind,
            Kind::None
        );
        // Portuguese keywords apply to Brazil, not to Germany.
        assert_eq!(
            classify("sair", Some(&num("+5511912345678"))).kind,
            Kind::OptOut
        );
        assert_eq!(
            classify("sair", Some(&num("+491701234567"))).kind,
            Kind::None
        );
        // No pack for the reply reason: no confirmation text for Germany.
        assert_eq!(classify("STOPP", Some(&num("+491701234567"))).reply, None);
    }

    #[test]
    fn word_characters_are_the_latin_greek_and_cyrillic_letters_and_digits() {
        let covered = ('\0'..'\u{530}')
            .chain('\u{1E00}'..='\u{1EFF}')
            .chain('\u{FF00}'..='\u{FF5F}');
        for c in covered.filter(|&c| !is_combining_mark(c)) {
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "U+{:04X}", c as u32);
        }
        assert!(('\u{300}'..='\u{36F}').all(is_word_char));
        // Other scripts, punctuation, symbols and emoji separate words.
        for c in [
            '谢',
            'ا',
            'א',
            'क',
            'ก',
            '한',
            '。',
            '،',
            '…',
            '€',
            '😀',
            '\u{1F3FD}',
            '\u{200D}',
        ] {
            assert!(!is_word_char(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn accented_keywords_match_whole_first_and_anywhere() {
        let fr = num("+33612345678");
        for (text, keyword) in [
            ("Arrêt", "ARRET"),
            ("ARRÊTE !", "ARRETE"),
            ("arrête.", "ARRETE"),
            ("Désabonner", "DESABONNER"),
            ("DÉSINSCRIPTION", "DESINSCRIPTION"),
            ("désinscrire", "DESINSCRIRE"),
            // Decomposed: E followed by U+0301 COMBINING ACUTE ACCENT.
            ("De\u{301}sabonnement", "DESABONNEMENT"),
            ("ARRE\u{302}T", "ARRET"),
        ] {
            let c = classify(text, Some(&fr));
            assert_eq!(
                (c.kind, c.keyword, c.tier),
                (Kind::OptOut, Some(keyword), Some(Tier::Whole)),
                "{text}"
            );
        }
        let c = classify("Désinscription svp, merci", Some(&fr));
        assert_eq!(
            (c.kind, c.keyword, c.tier),
            (Kind::OptOut, Some("DESINSCRIPTION"), Some(Tier::FirstWord))
        );
        let c = classify("Ça suffit, arrêt", Some(&fr));
        assert_eq!(
            (c.kind, c.keyword, c.tier),
            (Kind::PossibleOptOut, Some("ARRET"), Some(Tier::Contains))
        );
        // Spanish, German and Portuguese letters.
        let us = num("+12125550123");
        assert_eq!(classify("¡No más!", Some(&us)).keyword, Some("NO MAS"));
        let de = num("+491701234567");
        assert_eq!(classify("Stopp.", Some(&de)).kind, Kind::OptOut);
        assert_eq!(
            classify("Grüße, ENDE", Some(&de)).kind,
            Kind::PossibleOptOut
        );
        let br = num("+5511912345678");
        let c = classify("Não quero mais, SAIR", Some(&br));
        assert_eq!((c.kind, c.keyword), (Kind::PossibleOptOut, Some("SAIR")));
        // An accented letter is part of its word: "ARRÊTÉ" is not "ARRETE" + more.
        assert_eq!(classify("arrêtée", Some(&fr)).kind, Kind::None);
        assert!(words("l'été à Noël").eq(["l", "été", "à", "Noël"]));
    }

    #[test]
    fn emoji_punctuation_and_other_scripts_separate_words() {
        let fr = num("+33612345678");
        for text in ["STOP🙏🏽", "stop。", "«STOP»", "STOP…", "STOP谢谢"] {
            let c = classify(text, Some(&fr));
            assert_eq!(
                (c.kind, c.tier),
                (Kind::OptOut, Some(Tier::Whole)),
                "{text}"
            );
        }
        // Look-alike Cyrillic letters keep the word whole: it matches nothing.
        assert_eq!(classify("SТОP", Some(&fr)).kind, Kind::None);
        assert_eq!(words("SТОP").count(), 1);
    }

    #[test]
    fn every_latin_1_and_extended_a_letter_folds_to_its_base() {
        for (letters, base) in [
            ("ÀÁÂÃÄÅàáâãäåĀāĂăĄą", b'A'),
            ("ÇçĆćĈĉĊċČč", b'C'),
            ("ÐðĎďĐđ", b'D'),
            ("ÈÉÊËèéêëĒēĔĕĖėĘęĚě", b'E'),
            ("ĜĝĞğĠġĢģ", b'G'),
            ("ĤĥĦħ", b'H'),
            ("ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", b'I'),
            ("Ĵĵ", b'J'),
            ("Ķķ", b'K'),
            ("ĹĺĻļĽľĿŀŁł", b'L'),
            ("ÑñŃńŅņŇňŉ", b'N'),
            ("ÒÓÔÕÖØòóôõöøŌōŎŏŐő", b'O'),
            ("ŔŕŖŗŘř", b'R'),
            ("ŚśŜŝŞşŠšſ", b'S'),
            ("ŢţŤťŦŧ", b'T'),
            ("ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", b'U'),
            ("Ŵŵ", b'W'),
            ("ÝýÿŶŷŸ", b'Y'),
            ("ŹźŻżŽž", b'Z'),
        ] {
            for c in letters.chars() {
                assert_eq!(fold(c), (base, None), "{c}");
            }
        }
        for (c, pair) in [
            ('Æ', "AE"),
            ('æ', "AE"),
            ('Œ', "OE"),
            ('œ', "OE"),
            ('ß', "SS"),
            ('Ĳ', "IJ"),
        ] {
            let [a, b] = pair.as_bytes() else {
                unreachable!()
            };
            assert_eq!(fold(c), (*a, Some(*b)), "{c}");
        }
        for c in ['×', '÷', 'Þ', 'þ', 'ĸ', 'Ŋ', 'ŋ', 'ƀ', 'Σ', 'Ж', '€', '谢'] {
            assert_eq!(fold(c).0, 0xFF, "{c}");
        }
        assert_eq!(fold('ｓ'), (b'S', None));
        assert_eq!(fold('é'), (b'E', None));
    }

    #[test]
    fn folding() {
        assert!(word_eq("Désabonner", "DESABONNER"));
        assert!(word_eq("ＳＴＯＰ", "STOP"));
        assert!(!word_eq("STOPS", "STOP"));
        assert!(!word_eq("ST", "STOP"));
    }
}
