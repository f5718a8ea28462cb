//! Hex text ↔ binary PDU, as exchanged with `AT+CMGS`, `+CMGR`, `+CMT` (TS 27.005 §3.1:
//! "two IRA characters per octet"; upper or lower case accepted).

use super::DecodeError;

/// Decodes hex text into `out`, returning the number of octets. Surrounding ASCII
/// whitespace is ignored; anything else that is not a hex digit is an error.
pub fn decode(hex: &str, out: &mut [u8]) -> Result<usize, DecodeError> {
    let digits = crate::text::trim(hex).as_bytes();
    if digits.len() % 2 != 0 {
        return Err(DecodeError::InvalidHex);
    }
    let n = digits.len() / 2;
    let out = out.get_mut(..n).ok_or(DecodeError::BufferTooSmall)?;
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(DecodeError::InvalidHex);
        };
        *slot = (hi << 4) | lo;
    }
    Ok(n)
}

/// Decodes hex text into a fixed-capacity vector of at most `N` octets.
pub fn decode_vec<const N: usize>(hex: &str) -> Result<heapless::Vec<u8, N>, DecodeError> {
    let mut v = heapless::Vec::new();
    v.resize_default(N)
        .map_err(|_| DecodeError::BufferTooSmall)?;
    let n = decode(hex, &mut v)?;
    v.truncate(n);
    Ok(v)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes `bytes` as upper-case hex to `out` (two characters per octet).
pub fn write(bytes: &[u8], out: &mut impl core::fmt::Write) -> core::fmt::Result {
    for b in bytes {
        write!(out, "{b:02X}")?;
    }
    Ok(())
}
