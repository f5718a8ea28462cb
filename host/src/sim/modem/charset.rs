//! The TE character set (`+CSCS`, TS 27.007 §5.5) for text-mode strings.

use super::*;

impl Modem {
    // ---- TE character set (+CSCS) for text-mode strings

    pub(super) fn te_text(&self, s: &str) -> String {
        match self.s.cscs {
            Charset::Ucs2 => s.encode_utf16().map(|u| format!("{u:04X}")).collect(),
            Charset::Hex => match pdu::gsm7_encode(s) {
                Some(septets) => pdu::hex(&septets),
                None => pdu::hex(s.as_bytes()),
            },
            _ => s.to_string(),
        }
    }

    pub(super) fn te_decode(&self, s: &str) -> Option<String> {
        match self.s.cscs {
            Charset::Ucs2 => {
                let bytes = pdu::unhex(s.as_bytes())?;
                let units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|p| u16::from(p[0]) << 8 | u16::from(*p.get(1).unwrap_or(&0)))
                    .collect();
                String::from_utf16(&units).ok()
            }
            Charset::Hex => Some(pdu::gsm7_decode(&pdu::unhex(s.as_bytes())?)),
            _ => Some(s.to_string()),
        }
    }

    /// A received segment's text as text mode shows it: UCS-2 and 8-bit data in hex.
    pub(super) fn te_body(&self, data: &UserData) -> String {
        match data.alphabet {
            Alphabet::Gsm7 => self.te_text(&data.text),
            Alphabet::Ucs2 => data
                .text
                .encode_utf16()
                .map(|u| format!("{u:04X}"))
                .collect(),
            Alphabet::Eight => data.text.clone(),
        }
    }
}
