//! Who sends: the identity a recipient sees (long number, short code, alphanumeric).
//!
//! A leaf of the compliance modules (it needs only [`super::number`]): the link carries
//! these values and [`super::decision`] checks them against the packs' sender rules.

use core::fmt;

use super::number::Msisdn;

/// A short code such as `36123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ShortCode(u32);

impl ShortCode {
    /// Parses 3 to 8 digits.
    pub fn parse(text: &str) -> Option<ShortCode> {
        let t = crate::text::trim(text);
        if !(3..=8).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok().map(ShortCode)
    }

    /// A code from its number (3 to 8 digits), e.g. read back from the link.
    pub fn new(code: u32) -> Option<ShortCode> {
        (100..=99_999_999)
            .contains(&code)
            .then_some(ShortCode(code))
    }

    /// The code as a number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What kind of identity a sender shows to the recipient (docs/compliance.md § Decision 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SenderKind<'a> {
    /// A long number: a SIM's MSISDN (the default for a modem).
    LongNumber(Msisdn),
    /// A short code.
    ShortCode(ShortCode),
    /// An alphanumeric name (at most 11 characters on the wire).
    Alpha(&'a str),
}

impl SenderKind<'_> {
    /// `long number`, `short code` or `alphanumeric sender`.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            SenderKind::LongNumber(_) => "long number",
            SenderKind::ShortCode(_) => "short code",
            SenderKind::Alpha(_) => "alphanumeric sender",
        }
    }
}

impl fmt::Display for SenderKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderKind::LongNumber(n) => write!(f, "{n}"),
            SenderKind::ShortCode(c) => write!(f, "{c}"),
            SenderKind::Alpha(a) => f.write_str(a),
        }
    }
}

/// A configured sender identity (a modem or route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SenderIdentity<'a> {
    /// What the recipient sees.
    pub kind: SenderKind<'a>,
    /// Declared registered (US 10DLC, toll-free verified, India DLT, AGCOM alias...).
    pub registered: bool,
    /// The brand the identity sends for (opt-out scope, consent).
    pub brand: &'a str,
    /// The short code recipients can reply STOP to, for alphanumeric senders (FR).
    pub stop_code: Option<ShortCode>,
}
