//! Text helpers shared by the parsers, smaller on a device than their `core` versions.

/// [`str::trim`] without `core`'s Unicode white-space table (a quarter of a KiB of
/// flash): the same 25 code points (Unicode's `White_Space`), matched directly.
pub(crate) fn trim(text: &str) -> &str {
    text.trim_matches(is_white_space)
}

/// [`char::is_whitespace`], spelled out.
fn is_white_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_is_cores() {
        for c in '\0'..=char::MAX {
            assert_eq!(is_white_space(c), c.is_whitespace(), "{:#x}", c as u32);
        }
        assert_eq!(trim("\u{a0} +33 6\u{3000}\n"), "+33 6");
    }
}
