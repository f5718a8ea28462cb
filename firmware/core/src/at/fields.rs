//! Lenient splitting of information-response parameters.
//!
//! Modems disagree on spaces, quotes and optional fields (docs/modems.md § Quirk 12:
//! `+CREG: 1, E006B, ABE0016`, `+CMGR: 0,23`, single quotes). These helpers trim,
//! drop quotes and never fail on odd input: a missing or malformed field is `None`.

/// The parameters of `line` after `prefix` and its colon, e.g. `b" 1,,24"` for
/// `+CMGR: 1,,24` with prefix `+CMGR`. `None` when the prefix does not match.
pub fn after_prefix<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let rest = strip_prefix_ignore_case(line, prefix)?;
    let rest = rest.strip_prefix(b":")?;
    Some(trim(rest))
}

/// `line` without `prefix`, comparing ASCII case-insensitively.
pub fn strip_prefix_ignore_case<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        line.get(prefix.len()..)
    } else {
        None
    }
}

/// `bytes` without leading and trailing spaces and tabs.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i.saturating_add(1));
    bytes.get(start..end).unwrap_or(&[])
}

/// A field without surrounding whitespace and without one pair of `"` or `'` quotes.
pub fn unquote(field: &[u8]) -> &[u8] {
    let field = trim(field);
    match field {
        [b'"', inner @ .., b'"'] | [b'\'', inner @ .., b'\''] => inner,
        [b'"', inner @ ..] => inner,
        [inner @ .., b'"'] => inner,
        _ => field,
    }
}

/// Iterator over comma-separated fields (commas inside double quotes do not split).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// Fields of a parameter list such as `b"\"SM\",3"`.
    pub fn new(params: &'a [u8]) -> Self {
        Self { rest: Some(params) }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let mut quoted = false;
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    self.rest = rest.get(i.saturating_add(1)..);
                    return Some(unquote(rest.get(..i).unwrap_or(&[])));
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(unquote(rest))
    }
}

/// A decimal number of at most `u16::MAX`; `None` for empty, non-digits or overflow.
pub fn parse_u16(field: &[u8]) -> Option<u16> {
    let field = unquote(field);
    if field.is_empty() {
        return None;
    }
    let mut value: u16 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u16::from(b - b'0'))?;
    }
    Some(value)
}

/// A decimal number of at most `u8::MAX`.
pub fn parse_u8(field: &[u8]) -> Option<u8> {
    parse_u16(field).and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lenient_fields() {
        let mut f = Fields::new(b" 1, \"E006B\" ,'ABE0016',,\"a,b\"");
        assert_eq!(f.next(), Some(&b"1"[..]));
        assert_eq!(f.next(), Some(&b"E006B"[..]));
        assert_eq!(f.next(), Some(&b"ABE0016"[..]));
        assert_eq!(f.next(), Some(&b""[..]));
        assert_eq!(f.next(), Some(&b"a,b"[..]));
        assert_eq!(f.next(), None);
    }

    #[test]
    fn numbers_never_overflow() {
        assert_eq!(parse_u16(b"65535"), Some(65535));
        assert_eq!(parse_u16(b"65536"), None);
        assert_eq!(parse_u16(b"99999999999999999999"), None);
        assert_eq!(parse_u16(b""), None);
        assert_eq!(parse_u16(b"1a"), None);
        assert_eq!(parse_u8(b"300"), None);
    }

    #[test]
    fn prefix_and_trim() {
        assert_eq!(after_prefix(b"+cmgs: 12", b"+CMGS"), Some(&b"12"[..]));
        assert_eq!(after_prefix(b"+CMGS 12", b"+CMGS"), None);
        assert_eq!(trim(b"   "), b"");
        assert_eq!(unquote(b"\""), b"");
    }
}
