//! User data header (TS 23.040 §9.2.3.24): `UDHL` then information elements
//! `IEI IEDL data…`. This codec reads concatenation (IEI 0x00, 0x08), application ports
//! (0x04, 0x05) and national language shifts (0x24, 0x25); other elements are skipped.

use super::{DecodeError, EncodeError, Writer};
use crate::sms::ConcatWidth;
use crate::sms::national::Shift;

/// Concatenation information: this PDU is part `part` of `total` of message `reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Concat {
    /// Concatenated short message reference number (8 or 16 bits wide).
    pub reference: u16,
    /// Total number of parts, 1-255.
    pub total: u8,
    /// This part's sequence number, 1-based, at most `total`.
    pub part: u8,
    /// Width of the reference (IEI 0x00 or 0x08).
    pub width: ConcatWidth,
}

/// The elements of a user data header this codec understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Udh {
    /// Concatenation element, if present and valid.
    pub concat: Option<Concat>,
    /// Application port addressing `(destination, source)` (IEI 0x04 / 0x05).
    pub ports: Option<(u16, u16)>,
    /// National language single shift table id (IEI 0x24, TS 23.038 §6.2.1.2.4).
    pub single_shift: Option<u8>,
    /// National language locking shift table id (IEI 0x25).
    pub locking_shift: Option<u8>,
}

impl Udh {
    /// Parses the information elements of `header` (the octets after UDHL).
    ///
    /// A concatenation element with a zero total, a zero sequence number or a sequence
    /// number above the total is ignored, as TS 23.040 §9.2.3.24.1 requires.
    pub fn parse(header: &[u8]) -> Result<Self, DecodeError> {
        let mut udh = Udh::default();
        let mut rest = header;
        while let [iei, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let data = tail.get(..len).ok_or(DecodeError::InvalidUdh)?;
            rest = tail.get(len..).unwrap_or(&[]);
            match (*iei, data) {
                (0x00, &[r, total, part]) => {
                    udh.concat = concat(u16::from(r), total, part, ConcatWidth::Ref8);
                }
                (0x08, &[rh, rl, total, part]) => {
                    let r = u16::from_be_bytes([rh, rl]);
                    udh.concat = concat(r, total, part, ConcatWidth::Ref16);
                }
                (0x04, &[d, s]) => udh.ports = Some((u16::from(d), u16::from(s))),
                (0x05, &[dh, dl, sh, sl]) => {
                    udh.ports = Some((u16::from_be_bytes([dh, dl]), u16::from_be_bytes([sh, sl])));
                }
                (0x24, &[id]) => udh.single_shift = Some(id),
                (0x25, &[id]) => udh.locking_shift = Some(id),
                _ => {}
            }
        }
        if !rest.is_empty() {
            // A single dangling octet: an IEI without its length.
            return Err(DecodeError::InvalidUdh);
        }
        Ok(udh)
    }
}

fn concat(reference: u16, total: u8, part: u8, width: ConcatWidth) -> Option<Concat> {
    (total != 0 && part != 0 && part <= total).then_some(Concat {
        reference,
        total,
        part,
        width,
    })
}

/// Writes a UDH (UDHL included) holding `concat` and the national language elements
/// of `shift` (IEI 0x24 single shift, 0x25 locking shift, TS 23.040 §9.2.3.24.15-16);
/// returns the octets written, 0 when there is nothing to write.
pub(crate) fn write_header(
    w: &mut Writer<'_>,
    concat: Option<&Concat>,
    shift: Shift,
) -> Result<usize, EncodeError> {
    if concat.is_none() && shift.is_default() {
        return Ok(0);
    }
    let udhl_at = w.pos();
    w.u8(0)?;
    let mut len = 0usize;
    if let Some(c) = concat {
        match c.width {
            ConcatWidth::Ref8 => {
                let r = u8::try_from(c.reference).map_err(|_| EncodeError::ReferenceTooLarge)?;
                w.bytes(&[0x00, 0x03, r, c.total, c.part])?;
                len += 5;
            }
            ConcatWidth::Ref16 => {
                let [rh, rl] = c.reference.to_be_bytes();
                w.bytes(&[0x08, 0x04, rh, rl, c.total, c.part])?;
                len += 6;
            }
        }
    }
    if let Some(lang) = shift.single {
        w.bytes(&[0x24, 0x01, lang.id()])?;
        len += 3;
    }
    if let Some(lang) = shift.locking {
        w.bytes(&[0x25, 0x01, lang.id()])?;
        len += 3;
    }
    w.set(udhl_at, len as u8)?;
    Ok(1 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// python-gsmmodem `TestUdhConcatenation`, docs/modems.md § User data header and
    /// concatenation.
    #[test]
    fn concat_vectors() {
        let u = Udh::parse(&[0x00, 0x03, 0x17, 0x03, 0x01]).unwrap();
        assert_eq!(
            u.concat,
            Some(Concat {
                reference: 23,
                total: 3,
                part: 1,
                width: ConcatWidth::Ref8
            })
        );
        let u = Udh::parse(&[0x08, 0x04, 0x01, 0x80, 0x04, 0x02]).unwrap();
        assert_eq!(
            u.concat,
            Some(Concat {
                reference: 384,
                total: 4,
                part: 2,
                width: ConcatWidth::Ref16
            })
        );
        let u = Udh::parse(&[0x05, 0x04, 0x04, 0xD2, 0x14, 0x66]).unwrap();
        assert_eq!(u.ports, Some((1234, 5222)));
        let u = Udh::parse(&[0x04, 0x02, 0x64, 0x32, 0x24, 0x01, 0x01]).unwrap();
        assert_eq!((u.ports, u.single_shift), (Some((100, 50)), Some(1)));
        // Part above total: ignored, not an error.
        assert_eq!(
            Udh::parse(&[0x00, 0x03, 0x17, 0x03, 0x04]).unwrap().concat,
            None
        );
        assert_eq!(
            Udh::parse(&[0x00, 0x05, 0x17]),
            Err(DecodeError::InvalidUdh)
        );
        assert_eq!(Udh::parse(&[0x00]), Err(DecodeError::InvalidUdh));
    }
}
