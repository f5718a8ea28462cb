//! Kannel's escape codes (`%p`, `%a`, `%d`, ...) in dlr-url and sms-service URL
//! templates, expanded the way Kannel's `urltrans_fill_escape_codes` (gw/urltrans.c)
//! does, byte for byte:
//!
//! - values are URL-encoded with Kannel's `octstr_url_encode`: letters, digits and
//!   `-_.!~*'()` stay, a space becomes `+`, every other byte becomes `%XX` (upper-case
//!   hex; UTF-8 text byte by byte);
//! - `%S` is the one value that is *not* encoded (`*` becomes `~`); `%t` is written
//!   already encoded (`1999-09-21+14:18:00`), `%T`, `%c`, `%d`, `%m`, `%M`, `%O` are
//!   numbers;
//! - the text is split into words at ASCII white space (C's `isspace`): `%k` is the
//!   first word, each `%s` (or `%S`) the next one from the second on, `%r` the words
//!   no `%s` took, `%a` all of them, joined by `+`; `%b` and `%A` are the whole text;
//! - `%%` is a percent sign, a `%` at the very end stays, and a code Kannel does not
//!   know (`%x`, `%e`, `%z`, ...) is copied as it is, percent sign included;
//! - a value relais does not have expands to nothing, except the numbers Kannel
//!   writes as `-1` when they are undefined (`%d` outside a delivery report, `%c`
//!   when no coding is known, `%m`, `%M`).
//!
//! Which number is which: Kannel swaps sender and receiver of an inbound message
//! before it expands the template, but not those of a delivery report. So `%p` is
//! always the phone at the other end (the sender of an inbound message, the recipient
//! of the message a report is about) and `%P` the number on the gateway's side (the
//! number the inbound message was sent to, the sender the client asked for): the
//! fields [`Escapes::phone`] and [`Escapes::own`].

use relais_core::compliance::tz::UtcInstant;

/// The values of one expansion. Everything defaults to "not known".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Escapes<'a> {
    /// Kannel's message data: the text of an inbound message, the SMSC's reply in a
    /// delivery report (`%a %b %A %k %s %S %r`).
    pub text: Option<&'a str>,
    /// The phone at the other end (`%p`, `%q`): the sender of an inbound message, the
    /// recipient of the message a delivery report is about.
    pub phone: &'a str,
    /// The gateway's number (`%P`, `%Q`): the number an inbound message was sent to,
    /// the sender asked for in a delivery report.
    pub own: &'a str,
    /// When the message was received, or when the report came (`%t`, `%T`).
    pub time: Option<UtcInstant>,
    /// The SMSC id: the device or modem (`%i`).
    pub smsc: Option<&'a str>,
    /// The message id (`%I`): relais's job id or inbound id.
    pub id: Option<&'a str>,
    /// The delivery report type (`%d`): 1, 2, 4, 8 or 16.
    pub dlr: Option<i64>,
    /// The dlr-url template itself (`%R`).
    pub dlr_url: Option<&'a str>,
    /// The SMSC's message id (`%F`).
    pub foreign_id: Option<&'a str>,
    /// The sendsms-user or sms-service name (`%n`).
    pub service: Option<&'a str>,
    /// The account the sendsms request gave (`%o`).
    pub account: Option<&'a str>,
    /// The billing information the sendsms request gave (`%B`).
    pub binfo: Option<&'a str>,
    /// Kannel meta-data, `?group?key=value&...` (`%D`, and `%#group#key#`).
    pub meta_data: Option<&'a str>,
    /// Data coding: 0 (7 bits), 1 (8 bits), 2 (UCS-2) (`%c`, `%C`, `%O`).
    pub coding: Option<i64>,
    /// Character set of `text` (`%C`; default from the coding).
    pub charset: Option<&'a str>,
}

/// Kannel's `octstr_url_encode` of `bytes`, appended to `out`.
fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in bytes {
        if c == b' ' {
            out.push(b'+');
        } else if c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c) {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
}

/// Kannel's URL encoding of `text` (space as `+`, `-_.!~*'()` kept).
pub fn url_encode(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    encode_into(&mut out, text.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// C's `isspace` in the C locale.
const fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The words of `text` as Kannel's `octstr_split_words` finds them.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_ascii() && is_c_space(c as u8))
        .filter(|w| !w.is_empty())
}

/// `%t`: `YYYY-MM-DD+HH:MM:SS`, UTC (Kannel writes the space already encoded).
fn kannel_time(t: UtcInstant) -> String {
    let (d, s) = t.to_date();
    format!(
        "{:04}-{:02}-{:02}+{:02}:{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Kannel's `fields_to_dcs` for what relais knows (no class, no MWI, no compression).
fn dcs(coding: Option<i64>) -> i64 {
    match coding {
        Some(c @ 0..=3) => c << 2,
        _ => 0,
    }
}

/// Decodes Kannel's URL encoding (`+` is a space); bad escapes stay as they are.
fn url_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The value of `key` in group `group` (case-insensitive) of Kannel meta-data
/// `?group?key=value&key=value?other?...`, decoded.
pub fn meta_value(meta: &str, group: &str, key: &str) -> Option<Vec<u8>> {
    let mut parts = meta.strip_prefix('?')?.split('?');
    while let Some(g) = parts.next() {
        let values = parts.next().unwrap_or_default();
        if !url_decode(g).eq_ignore_ascii_case(group.as_bytes()) {
            continue;
        }
        return values
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| url_decode(k) == key.as_bytes())
            .map(|(_, v)| url_decode(v));
    }
    None
}

/// Expands the escape codes of `template` with `e`, as Kannel does (see the module
/// documentation). Never fails: any template gives some string.
pub fn expand(template: &str, e: &Escapes<'_>) -> String {
    let pattern = template.as_bytes();
    let words: Vec<&str> = e.text.map(|t| words(t).collect()).unwrap_or_default();
    let mut out: Vec<u8> = Vec::with_capacity(pattern.len() + 32);
    let mut next_arg = 1usize;
    let mut pos = 0usize;
    let opt = |out: &mut Vec<u8>, v: Option<&str>| {
        if let Some(v) = v {
            encode_into(out, v.as_bytes());
        }
    };
    let number = |out: &mut Vec<u8>, v: Option<i64>| {
        out.extend_from_slice(v.unwrap_or(-1).to_string().as_bytes());
    };
    // `%q`/`%Q`: a leading 00 becomes an encoded `+`.
    let plus = |out: &mut Vec<u8>, v: &str| match v.strip_prefix("00") {
        Some(rest) => {
            out.extend_from_slice(b"%2B");
            encode_into(out, rest.as_bytes());
        }
        None => encode_into(out, v.as_bytes()),
    };
    loop {
        while pos < pattern.len() && !(pattern[pos] == b'%' && pos + 1 < pattern.len()) {
            out.push(pattern[pos]);
            pos += 1;
        }
        if pos >= pattern.len() {
            break;
        }
        let code = pattern[pos + 1];
        match code {
            b'a' => {
                for (j, w) in words.iter().enumerate() {
                    if j > 0 {
                        out.push(b'+');
                    }
                    encode_into(&mut out, w.as_bytes());
                }
            }
            b'A' | b'b' => opt(&mut out, e.text),
            b'B' => opt(&mut out, e.binfo),
            b'c' => number(&mut out, e.coding),
            b'C' => match (e.charset.filter(|c| !c.is_empty()), e.coding) {
                (Some(c), _) => out.extend_from_slice(c.as_bytes()),
                (None, None | Some(0)) => out.extend_from_slice(b"UTF-8"),
                (None, Some(1)) => out.extend_from_slice(b"8-BIT"),
                (None, Some(2)) => out.extend_from_slice(b"UTF-16BE"),
                (None, Some(_)) => {}
            },
            b'd' => number(&mut out, e.dlr),
            b'D' => opt(&mut out, e.meta_data),
            b'f' | b'u' | b'v' | b'V' => {} // SMSC number, UDH, validity, deferral: never known
            b'F' => opt(&mut out, e.foreign_id),
            b'i' => opt(&mut out, e.smsc),
            b'I' => opt(&mut out, e.id),
            b'k' => {
                if let Some(w) = words.first() {
                    encode_into(&mut out, w.as_bytes());
                }
            }
            b'm' | b'M' => number(&mut out, None), // message class, MWI: undefined
            b'n' => opt(&mut out, e.service),
            b'o' => opt(&mut out, e.account),
            b'O' => out.extend_from_slice(format!("{:02}", dcs(e.coding)).as_bytes()),
            b'p' => encode_into(&mut out, e.phone.as_bytes()),
            b'P' => encode_into(&mut out, e.own.as_bytes()),
            b'q' => plus(&mut out, e.phone),
            b'Q' => plus(&mut out, e.own),
            b'r' => {
                for (j, w) in words.iter().enumerate().skip(next_arg) {
                    if j != next_arg {
                        out.push(b'+');
                    }
                    encode_into(&mut out, w.as_bytes());
                }
            }
            b'R' => opt(&mut out, e.dlr_url.filter(|u| !u.is_empty())),
            b's' => {
                if let Some(w) = words.get(next_arg) {
                    encode_into(&mut out, w.as_bytes());
                    next_arg += 1;
                }
            }
            b'S' => {
                if let Some(w) = words.get(next_arg) {
                    out.extend(w.bytes().map(|c| if c == b'*' { b'~' } else { c }));
                    next_arg += 1;
                }
            }
            b't' => {
                if let Some(t) = e.time {
                    out.extend_from_slice(kannel_time(t).as_bytes());
                }
            }
            b'T' => {
                if let Some(t) = e.time {
                    out.extend_from_slice(t.0.to_string().as_bytes());
                }
            }
            b'#' => {
                // `%#group#key#`: one meta-data value. Kannel's positions, including
                // what it skips when the closing `#` is missing.
                if let Some(k) = find(pattern, b'#', pos + 2) {
                    let group = &pattern[pos + 2..k];
                    pos = k + 1;
                    match find(pattern, b'#', pos) {
                        Some(k2) => {
                            let key = &pattern[pos..k2];
                            pos = k2 - 1;
                            let value = e.meta_data.and_then(|m| {
                                meta_value(
                                    m,
                                    &String::from_utf8_lossy(group),
                                    &String::from_utf8_lossy(key),
                                )
                            });
                            if let Some(v) = value {
                                encode_into(&mut out, &v);
                            }
                        }
                        None => pos += 1,
                    }
                }
            }
            b'%' => out.push(b'%'),
            other => out.extend_from_slice(&[b'%', other]),
        }
        pos += 2;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn find(hay: &[u8], byte: u8, from: usize) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|&c| c == byte)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(text: &'static str) -> Escapes<'static> {
        Escapes {
            text: Some(text),
            phone: "+33612345678",
            own: "0033700000000",
            time: Some(UtcInstant(937_923_480)), // 1999-09-21T14:18:00Z
            smsc: Some("modem 1"),
            id: Some("7"),
            service: Some("default"),
            coding: Some(0),
            ..Default::default()
        }
    }

    #[test]
    fn the_guide_s_word_codes() {
        // userguide: "if the message is "FOO BAR FOOBAR BAZ", and the has been one %s,
        // %r will mean "FOOBAR BAZ"".
        let e = inbound("FOO BAR FOOBAR BAZ");
        assert_eq!(expand("%k|%s|%r", &e), "FOO|BAR|FOOBAR+BAZ");
        assert_eq!(expand("%r", &e), "BAR+FOOBAR+BAZ");
        assert_eq!(expand("%s/%s/%s/%s/%s", &e), "BAR/FOOBAR/BAZ//");
        // %a squeezes white space to one; %b keeps the text as it is.
        let e = inbound("  Hello \t wörld +1 ");
        assert_eq!(expand("%a", &e), "Hello+w%C3%B6rld+%2B1");
        assert_eq!(expand("%b", &e), "++Hello+%09+w%C3%B6rld+%2B1+");
        assert_eq!(expand("%A", &e), expand("%b", &e));
        // %S is not encoded and turns * into ~.
        let e = inbound("GO www.example.com/*x?y=1&z");
        assert_eq!(expand("%S", &e), "www.example.com/~x?y=1&z");
        assert_eq!(expand("%s", &e), "www.example.com%2F*x%3Fy%3D1%26z");
        // %S and %s share one word counter.
        let e = inbound("A B C D");
        assert_eq!(expand("%S%s%r", &e), "BCD");
    }

    #[test]
    fn numbers_times_and_the_rest() {
        let e = inbound("hi");
        assert_eq!(expand("%p", &e), "%2B33612345678");
        assert_eq!(expand("%q", &e), "%2B33612345678");
        assert_eq!(expand("%P", &e), "0033700000000");
        assert_eq!(expand("%Q", &e), "%2B33700000000");
        // The guide's example time, as gw/urltrans.c writes it.
        assert_eq!(expand("%t", &e), "1999-09-21+14:18:00");
        assert_eq!(expand("%T", &e), "937923480");
        assert_eq!(expand("%i|%I|%n", &e), "modem+1|7|default");
        assert_eq!(expand("%c|%C|%O|%m|%M|%d", &e), "0|UTF-8|00|-1|-1|-1");
        assert_eq!(expand("%u%f%v%V%F%o%B%D%R", &e), "");
        // Unknown codes stay, %% is one percent sign, a final % stays.
        assert_eq!(expand("%x%e%z%%%", &e), "%x%e%z%%");
        assert_eq!(expand("100%", &e), "100%");
        assert_eq!(expand("%%d", &e), "%d");
    }

    #[test]
    fn a_delivery_report_url() {
        // userguide, "SMS Delivery Reports": dlr-url
        // http://www.xyz.com/cgi/dlr.php?myId=123456&type=%d called with type=4, then 1.
        let t = "http://www.xyz.com/cgi/dlr.php?myId=123456&type=%d";
        let mut e = Escapes {
            dlr: Some(4),
            ..Default::default()
        };
        assert_eq!(
            expand(t, &e),
            "http://www.xyz.com/cgi/dlr.php?myId=123456&type=4"
        );
        e.dlr = Some(1);
        assert_eq!(
            expand(t, &e),
            "http://www.xyz.com/cgi/dlr.php?myId=123456&type=1"
        );
        let e = Escapes {
            text: Some("delivered at 10:00"),
            phone: "+33612345678",
            own: "Shop",
            time: Some(UtcInstant(1_767_261_600)), // 2026-01-01T10:00:00Z
            dlr: Some(8),
            id: Some("42"),
            dlr_url: Some("http://a/b?x=%d"),
            account: Some("acc 1"),
            meta_data: Some("?smpp?my_param=a%20b&other=2?http?x=y"),
            ..Default::default()
        };
        assert_eq!(
            expand("/d?s=%d&to=%p&from=%P&id=%I&r=%A&at=%t&u=%T", &e),
            "/d?s=8&to=%2B33612345678&from=Shop&id=42&r=delivered+at+10%3A00&at=2026-01-01+10:00:00&u=1767261600"
        );
        assert_eq!(expand("%R", &e), "http%3A%2F%2Fa%2Fb%3Fx%3D%25d");
        assert_eq!(expand("%o|%c|%C", &e), "acc+1|-1|UTF-8");
        assert_eq!(
            expand("p=%#smpp#my_param#&o=%#SMPP#other#.", &e),
            "p=a+b&o=2."
        );
        assert_eq!(expand("[%#http#none#]", &e), "[]");
        assert_eq!(expand("[%#nogroup#x#]", &e), "[]");
        assert_eq!(
            expand("%D", &e),
            "%3Fsmpp%3Fmy_param%3Da%2520b%26other%3D2%3Fhttp%3Fx%3Dy"
        );
    }

    #[test]
    fn meta_data_codes_follow_kannel_s_positions() {
        let e = Escapes {
            meta_data: Some("?g?k=v"),
            ..Default::default()
        };
        // No `#` after `%#`: the two characters are dropped.
        assert_eq!(expand("a%#b", &e), "ab");
        // A group but no closing `#`: Kannel skips two more characters.
        assert_eq!(expand("%#g#kxyz", &e), "z");
        assert_eq!(expand("%#g#k#!", &e), "v!");
        // Without meta-data the code is removed.
        assert_eq!(expand("%#g#k#!", &Escapes::default()), "!");
    }

    #[test]
    fn charsets_follow_the_coding() {
        let mut e = Escapes::default();
        assert_eq!(expand("%C", &e), "UTF-8");
        e.coding = Some(2);
        assert_eq!(expand("%C|%O", &e), "UTF-16BE|08");
        e.coding = Some(1);
        assert_eq!(expand("%C|%O", &e), "8-BIT|04");
        e.charset = Some("ISO-8859-1");
        assert_eq!(expand("%C", &e), "ISO-8859-1");
    }

    #[test]
    fn odd_templates_never_panic() {
        let e = Escapes {
            text: Some("é\u{1F600} * ** x"),
            phone: "00",
            own: "",
            time: Some(UtcInstant(i64::MIN / 4)),
            meta_data: Some("??=&&?%zz?a=%"),
            ..Default::default()
        };
        let pieces = [
            "%",
            "%%",
            "#",
            "%#",
            "é",
            "\u{1F600}",
            "a",
            "%s",
            "%S",
            "%#é#",
            "%Z",
            "?",
            "&",
            "%\u{e9}",
        ];
        let mut seen = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let t = format!("{a}{b}{c}");
                    let _ = expand(&t, &e);
                    let _ = expand(&t, &Escapes::default());
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, pieces.len().pow(3));
        // Multi-byte characters after a percent sign come out whole.
        assert_eq!(expand("%é", &e), "%é");
        assert_eq!(expand("%q", &e), "%2B");
        assert_eq!(meta_value("??=&&?%zz?a=%", "%zz", "a"), Some(b"%".to_vec()));
    }
}
