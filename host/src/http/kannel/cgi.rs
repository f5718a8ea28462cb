//! The byte-level readers Kannel's sendsms interface relies on: CGI variables from a query
//! string or a form body, URL (percent) decoding, hexadecimal fields, C's `sscanf("%d")`
//! and XPath's `number()`, and the blank stripping Kannel applies to headers.

/// One CGI variable, name and value percent-decoded to bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CgiVar {
    pub(super) name: Vec<u8>,
    pub(super) value: Vec<u8>,
}

/// Splits `a=1&b=2` on `&`, then each pair on its first `=`, and percent-decodes both
/// halves (Kannel gwlib/http.c, `parse_cgivars`): a pair without `=` is a name with an
/// empty value, and empty pairs (`a=1&&b=2`) are kept as empty names, which no lookup
/// matches. The result keeps the order of the request: lookups take the first match.
pub(super) fn parse_cgi(input: &[u8], vars: &mut Vec<CgiVar>) {
    if input.is_empty() {
        return;
    }
    for pair in input.split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or(pair),
                pair.get(eq + 1..).unwrap_or(&[]),
            ),
            None => (pair, &[][..]),
        };
        vars.push(CgiVar {
            name: url_decode(name).0,
            value: url_decode(value).0,
        });
    }
}

/// The first variable called `name` (names compare exactly, as in Kannel's
/// `http_cgi_variable`).
pub(super) fn cgi_first<'a>(vars: &'a [CgiVar], name: &str) -> Option<&'a [u8]> {
    vars.iter()
        .find(|v| v.name == name.as_bytes())
        .map(|v| v.value.as_slice())
}

/// Percent-decodes `input`, `+` standing for a space (Kannel gwlib/octstr.c,
/// `octstr_url_decode`). The flag is false when some `%` was not followed by two hex
/// digits; such a `%` and what follows are kept as they are (Kannel keeps them too,
/// except at the very end of the string, where it drops them: we lose nothing).
pub(super) fn url_decode(input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    let mut clean = true;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'%' => {
                let hi = input.get(i + 1).and_then(|&c| hex_value(c));
                let lo = input.get(i + 2).and_then(|&c| hex_value(c));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                } else {
                    clean = false;
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, clean)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Hexadecimal to bytes when `input` is an even number of hex digits (the empty string
/// included), None otherwise. Kannel's `octstr_hex_to_binary` also takes an odd count and
/// drops the last digit; we leave such a field to the URL decoding that follows it.
pub(super) fn hex_decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() % 2 != 0 {
        return None;
    }
    input
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
            _ => None,
        })
        .collect()
}

/// C's `isspace` in the "C" locale.
pub(super) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Kannel's `octstr_strip_blanks`: C white space off both ends.
pub(super) fn strip_blanks(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |i| i + 1);
    input.get(start..end).unwrap_or(&[])
}

/// `sscanf(value, "%d", &n)`, as Kannel reads every numeric CGI variable and X-Kannel
/// header: leading white space, an optional sign, then digits up to the first non-digit.
/// No digit at all leaves the field unset (None), like Kannel, which keeps its
/// "undefined" -1 then. Values beyond `i64` saturate (range checks refuse them).
pub(super) fn scan_int(input: &[u8]) -> Option<i64> {
    let mut rest = input;
    while let [first, tail @ ..] = rest {
        if is_c_space(*first) {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let magnitude = rest.iter().take(digits).fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// What Kannel's XML reader stores for a number element it could not read: XPath's
/// `number()` gives NaN, which C converts to `INT_MIN` on the machines Kannel runs on,
/// and every range check then refuses the field.
pub(super) const XML_NAN: i64 = i64::MIN;

/// XPath 1.0 `number()` on an element's text, truncated toward zero as C's conversion to
/// `int` does: XML white space around, an optional `-`, digits with an optional
/// fraction. Anything else (the empty string included) is NaN: [`XML_NAN`]. So is a
/// value beyond `int`.
pub(super) fn xpath_number(text: &str) -> i64 {
    let t = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || !frac_part.is_none_or(all_digits) {
        return XML_NAN;
    }
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return XML_NAN;
    }
    let magnitude = int_part.bytes().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    let value = if negative { -magnitude } else { magnitude };
    if value > i64::from(i32::MAX) || value < i64::from(i32::MIN) {
        XML_NAN
    } else {
        value
    }
}
