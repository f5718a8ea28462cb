//! TP-SCTS / TP-DT / absolute TP-VP: seven swapped-BCD octets `YY MM DD hh mm ss TZ`
//! (TS 23.040 §9.2.3.11). TZ counts quarter hours; its sign is bit 3 of the raw octet.

use core::fmt;

use super::{DecodeError, EncodeError, Reader, Writer};

/// A service-centre timestamp: local time of the SC and its offset from UTC.
///
/// The two-digit year is read as 2000-2089 for 00-89 and 1990-1999 for 90-99 (the
/// specification has no century rule; gammu uses the same pivot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timestamp {
    /// Year, 1990-2089.
    pub year: u16,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute 0-59.
    pub minute: u8,
    /// Second 0-59.
    pub second: u8,
    /// Offset from UTC in quarter hours, -79..=79.
    pub offset_quarters: i8,
}

impl Timestamp {
    /// Offset from UTC in minutes.
    pub fn offset_minutes(&self) -> i16 {
        i16::from(self.offset_quarters) * 15
    }

    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && (-79..=79).contains(&self.offset_quarters)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with the offset, e.g. `2007-04-12T23:25:42+08:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = self.offset_minutes();
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.unsigned_abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            off / 60,
            off % 60
        )
    }
}

fn bcd(octet: u8) -> Result<u8, DecodeError> {
    let lo = octet & 0x0F;
    let hi = octet >> 4;
    if lo > 9 || hi > 9 {
        return Err(DecodeError::InvalidTimestamp);
    }
    Ok(lo * 10 + hi)
}

fn to_bcd(v: u8) -> u8 {
    ((v % 10) << 4) | (v / 10 % 10)
}

pub(crate) fn read(r: &mut Reader<'_>) -> Result<Timestamp, DecodeError> {
    let o = r.take(7)?;
    let mut fields = [0u8; 6];
    for (field, &octet) in fields.iter_mut().zip(o) {
        *field = bcd(octet)?;
    }
    let [yy, month, day, hour, minute, second] = fields;
    let tz = o[6];
    let quarters = bcd(tz & 0xF7)? as i8;
    let ts = Timestamp {
        year: if yy >= 90 { 1900 } else { 2000 } + u16::from(yy),
        month,
        day,
        hour,
        minute,
        second,
        offset_quarters: if tz & 0x08 != 0 { -quarters } else { quarters },
    };
    if !ts.valid() {
        return Err(DecodeError::InvalidTimestamp);
    }
    Ok(ts)
}

pub(crate) fn write(w: &mut Writer<'_>, ts: &Timestamp) -> Result<(), EncodeError> {
    if !ts.valid() || !(1990..=2089).contains(&ts.year) {
        return Err(EncodeError::InvalidTimestamp);
    }
    let yy = (ts.year % 100) as u8;
    w.bytes(&[
        to_bcd(yy),
        to_bcd(ts.month),
        to_bcd(ts.day),
        to_bcd(ts.hour),
        to_bcd(ts.minute),
        to_bcd(ts.second),
    ])?;
    let tz = to_bcd(ts.offset_quarters.unsigned_abs());
    w.u8(if ts.offset_quarters < 0 {
        tz | 0x08
    } else {
        tz
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn parse(hex: &str) -> Result<Timestamp, DecodeError> {
        let mut b = [0u8; 7];
        let n = super::super::hex::decode(hex, &mut b)?;
        read(&mut Reader::new(&b[..n]))
    }

    /// TZ examples from docs/modems.md § First octet, reference, status and times
    /// (python-gsmmodem `TestTimestamp`).
    #[test]
    fn timezones() {
        let t = parse("7040213252242B").unwrap();
        assert_eq!(t.to_string(), "2007-04-12T23:25:42-08:00");
        for (tz, s) in [
            ("23", "+08:00"),
            ("80", "+02:00"),
            ("40", "+01:00"),
            ("22", "+05:30"),
            ("61", "+04:00"),
            ("0A", "-05:00"),
            ("8A", "-07:00"),
        ] {
            let t = parse(&std::format!("704021325224{tz}")).unwrap();
            assert!(t.to_string().ends_with(s), "{tz} -> {t}");
            let mut b = [0u8; 7];
            let mut w = Writer::new(&mut b);
            write(&mut w, &t).unwrap();
            assert_eq!(
                parse(
                    &b.iter()
                        .map(|x| std::format!("{x:02X}"))
                        .collect::<std::string::String>()
                ),
                Ok(t)
            );
        }
        assert_eq!(parse("99010100000000").unwrap().year, 1999);
        assert_eq!(parse("7040213252A423"), Err(DecodeError::InvalidTimestamp));
        assert_eq!(parse("70"), Err(DecodeError::Truncated));
        assert_eq!(parse("70402132529923"), Err(DecodeError::InvalidTimestamp));
    }
}
