//! 3GPP TS 27.007 commands: error reporting, SIM, registration, clock.

use core::fmt;

use super::{Command, CommandLine, Millis, Overflow, put, put_u32};
use crate::at::fields::{self, Fields};
use crate::at::urc::{Domain, RegStatus, SimState};

/// `AT+CMEE=<n>`: report mobile equipment errors as `+CME ERROR: <n>` (TS 27.007
/// §9.1). The driver uses 1 (numeric); the parser also understands 2 (verbose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmee(pub u8);

impl Command for Cmee {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMEE=")?;
        put_u32(out, u32::from(self.0))?;
        put(out, b"\r")
    }
}

/// `AT+CPIN?`: SIM state (TS 27.007 §8.3). Answer `+CPIN: READY`; no SIM gives
/// `+CME ERROR: 10`. SIM800 lists 5 s as its maximum response time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpinRead;

impl Command for CpinRead {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CPIN")
    }
    fn timeout(&self) -> Millis {
        Millis::secs(5)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CPIN?\r")
    }
}

impl CpinRead {
    /// The SIM state in a `+CPIN: <code>` response line.
    pub fn parse(line: &[u8]) -> Option<SimState> {
        fields::after_prefix(line, b"+CPIN").map(SimState::parse)
    }
}

/// The longest SIM PIN: 8 digits (3GPP TS 42.017, formerly GSM 02.17: a PIN has 4 to 8
/// decimal digits; three wrong entries in a row block the SIM until its PUK is given).
pub const MAX_PIN_DIGITS: usize = 8;

/// A SIM PIN, checked to be 4 to 8 decimal digits so that it always makes a valid
/// `AT+CPIN="…"` line. `Debug` does not show the digits, so logs never hold them.
///
/// ```
/// use relais_core::at::command::general::{InvalidPin, SimPin};
/// assert_eq!(SimPin::new(b"0000").unwrap().digits(), b"0000");
/// assert_eq!(SimPin::new(b"12a4"), Err(InvalidPin::NotDigits));
/// assert_eq!(format!("{:?}", SimPin::new(b"1234").unwrap()), "SimPin(****)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SimPin {
    digits: [u8; MAX_PIN_DIGITS],
    len: u8,
}

/// Why [`SimPin::new`] refused a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InvalidPin {
    /// Fewer than 4 or more than 8 characters.
    Length,
    /// A character other than `0`–`9`.
    NotDigits,
}

impl fmt::Display for InvalidPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidPin::Length => "a SIM PIN has 4 to 8 digits",
            InvalidPin::NotDigits => "a SIM PIN has only the digits 0-9",
        })
    }
}

impl core::error::Error for InvalidPin {}

impl SimPin {
    /// The PIN made of `digits` (ASCII `0`–`9`, 4 to 8 of them).
    pub fn new(digits: &[u8]) -> Result<SimPin, InvalidPin> {
        if !(4..=MAX_PIN_DIGITS).contains(&digits.len()) {
            return Err(InvalidPin::Length);
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(InvalidPin::NotDigits);
        }
        let mut pin = SimPin {
            digits: [0; MAX_PIN_DIGITS],
            len: 0,
        };
        for (slot, &d) in pin.digits.iter_mut().zip(digits) {
            *slot = d;
            pin.len += 1;
        }
        Ok(pin)
    }

    /// The digits, as ASCII.
    pub fn digits(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for SimPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimPin(****)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for SimPin {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SimPin(****)")
    }
}

/// On the link (the host's settings carry the PIN to the device): the digits as bytes;
/// decoding checks them again, so a PIN from the wire is always a valid one.
impl serde::Serialize for SimPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.digits())
    }
}

impl<'de> serde::Deserialize<'de> for SimPin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SimPin, D::Error> {
        let digits = heapless::Vec::<u8, MAX_PIN_DIGITS>::deserialize(d)?;
        SimPin::new(&digits).map_err(|_| serde::de::Error::custom("bad SIM PIN"))
    }
}

/// `AT+CPIN="<pin>"`: enter the SIM PIN when `AT+CPIN?` answers `SIM PIN` (TS 27.007
/// §8.3). `OK` once accepted, then the SIM starts up (`+CPIN: READY`, later `SMS
/// Ready`; SIM commands answer `+CME ERROR: 14` "SIM busy" for a few seconds,
/// docs/modems.md § Session commands). A wrong PIN answers `+CME ERROR: 16` and uses up
/// one of the SIM's three attempts. SIM800 lists 5 s as its maximum response time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterPin(pub SimPin);

impl Command for EnterPin {
    fn timeout(&self) -> Millis {
        Millis::secs(5)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CPIN=\"")?;
        put(out, self.0.digits())?;
        put(out, b"\"\r")
    }
}

fn domain_prefix(domain: Domain) -> &'static [u8] {
    match domain {
        Domain::Cs => b"+CREG",
        Domain::Ps => b"+CGREG",
        Domain::Eps => b"+CEREG",
    }
}

/// `AT+CREG=<n>` / `AT+CGREG=<n>` / `AT+CEREG=<n>`: enable registration URCs (TS 27.007
/// §7.2, §10.1.19, §10.1.22). `n` = 1 gives `+CREG: <stat>` on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationUrcs {
    /// Which registration.
    pub domain: Domain,
    /// 0 off, 1 status only, 2 with location.
    pub mode: u8,
}

impl Command for RegistrationUrcs {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT")?;
        put(out, domain_prefix(self.domain))?;
        put(out, b"=")?;
        put_u32(out, u32::from(self.mode))?;
        put(out, b"\r")
    }
}

/// `AT+CREG?` (or `+CGREG?`, `+CEREG?`): registration status (TS 27.007 §7.2).
/// Answer `+CREG: <n>,<stat>[,…]`: unlike the URC, `<n>` comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationRead(pub Domain);

impl Command for RegistrationRead {
    fn response(&self) -> Option<&'static [u8]> {
        Some(domain_prefix(self.0))
    }
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT")?;
        put(out, domain_prefix(self.0))?;
        put(out, b"?\r")
    }
}

impl RegistrationRead {
    /// The `<stat>` of a read response line (`+CREG: <n>,<stat>[,…]`).
    pub fn parse(&self, line: &[u8]) -> Option<RegStatus> {
        let params = fields::after_prefix(line, domain_prefix(self.0))?;
        let mut f = Fields::new(params);
        let _n = f.next()?;
        let stat = fields::parse_u8(f.next()?)?;
        Some(RegStatus::from_code(stat))
    }
}

/// `AT+CCLK?`: the modem's real-time clock (TS 27.007 §8.15), set from the network
/// (NITZ) when the modem supports it (see the driver's profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CclkRead;

impl Command for CclkRead {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CCLK")
    }
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CCLK?\r")
    }
}

/// A clock reading `"yy/MM/dd,hh:mm:ss±zz"` (TS 27.007 §8.15): local time and its
/// offset from UTC in quarter hours (absent on some modems).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModemClock {
    /// Year, 2000–2099.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59 (60 tolerated for a leap second).
    pub second: u8,
    /// Offset from UTC in quarter hours (−48..=56), if the modem sent one.
    pub quarter_hours: Option<i8>,
}

impl CclkRead {
    /// The clock in a `+CCLK: "…"` response line; `None` for anything malformed or
    /// out of range.
    pub fn parse(line: &[u8]) -> Option<ModemClock> {
        let text = fields::unquote(fields::after_prefix(line, b"+CCLK")?);
        let two = |at: usize| -> Option<u8> {
            let d = text.get(at..at.checked_add(2)?)?;
            fields::parse_u8(d)
        };
        let separators = [(2, b'/'), (5, b'/'), (8, b','), (11, b':'), (14, b':')];
        if separators.iter().any(|&(i, c)| text.get(i) != Some(&c)) {
            return None;
        }
        let clock = ModemClock {
            year: 2000 + u16::from(two(0)?),
            month: two(3)?,
            day: two(6)?,
            hour: two(9)?,
            minute: two(12)?,
            second: two(15)?,
            quarter_hours: match text.get(17) {
                None => None,
                Some(&sign @ (b'+' | b'-')) => {
                    let q = i8::try_from(fields::parse_u8(text.get(18..)?)?).ok()?;
                    Some(if sign == b'-' { -q } else { q })
                }
                Some(_) => return None,
            },
        };
        let valid = (1..=12).contains(&clock.month)
            && (1..=31).contains(&clock.day)
            && clock.hour < 24
            && clock.minute < 60
            && clock.second <= 60
            && clock.quarter_hours.is_none_or(|q| (-48..=56).contains(&q));
        valid.then_some(clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<C: Command>(c: C) -> CommandLine {
        let mut l = CommandLine::new();
        c.write(&mut l).unwrap();
        l
    }

    #[test]
    fn formats() {
        assert_eq!(&line(Cmee(1))[..], b"AT+CMEE=1\r");
        assert_eq!(&line(CpinRead)[..], b"AT+CPIN?\r");
        assert_eq!(
            &line(RegistrationUrcs {
                domain: Domain::Eps,
                mode: 1
            })[..],
            b"AT+CEREG=1\r"
        );
        assert_eq!(&line(RegistrationRead(Domain::Ps))[..], b"AT+CGREG?\r");
        let pin = SimPin::new(b"12345678").unwrap();
        assert_eq!(&line(EnterPin(pin))[..], b"AT+CPIN=\"12345678\"\r");
    }

    #[test]
    fn pins_are_four_to_eight_digits() {
        assert_eq!(SimPin::new(b"123"), Err(InvalidPin::Length));
        assert_eq!(SimPin::new(b"123456789"), Err(InvalidPin::Length));
        assert_eq!(SimPin::new(b"12\"4"), Err(InvalidPin::NotDigits));
        assert_eq!(SimPin::new(b"1234").map(|p| p.digits().len()), Ok(4));
    }

    #[test]
    fn parses_read_responses() {
        assert_eq!(
            RegistrationRead(Domain::Cs).parse(b"+CREG: 0,5,\"D1CF\",\"3A3C\""),
            Some(RegStatus::Roaming)
        );
        assert_eq!(RegistrationRead(Domain::Cs).parse(b"+CREG: 1"), None);
        assert_eq!(
            CpinRead::parse(b"+CPIN: SIM PIN"),
            Some(SimState::PinRequired)
        );
        assert_eq!(
            CclkRead::parse(b"+CCLK: \"94/05/06,22:10:00+08\""),
            Some(ModemClock {
                year: 2094,
                month: 5,
                day: 6,
                hour: 22,
                minute: 10,
                second: 0,
                quarter_hours: Some(8)
            })
        );
        assert_eq!(
            CclkRead::parse(b"+CCLK: \"24/12/31,23:59:59-14\"").and_then(|c| c.quarter_hours),
            Some(-14)
        );
        assert_eq!(
            CclkRead::parse(b"+CCLK: \"24/12/31,23:59:59\"").map(|c| c.quarter_hours),
            Some(None)
        );
        assert_eq!(CclkRead::parse(b"+CCLK: \"24/13/31,23:59:59\""), None);
        assert_eq!(CclkRead::parse(b"+CCLK: \"24/1"), None);
    }
}
