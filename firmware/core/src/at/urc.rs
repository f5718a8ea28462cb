//! Unsolicited result codes: what the modem says without being asked.
//!
//! Shapes from TS 27.005 §3.4.1 (`+CMTI`, `+CMT`, `+CDS`, `+CDSI`), TS 27.007 §7.2,
//! §10.1.19, §10.1.22 (`+CREG`, `+CGREG`, `+CEREG`), V.250 (`RING`) and the vendor
//! power-up and power-down notices listed in docs/modems.md § Power-up URCs, § Quirk 5
//! and § Quirk 14.

use super::fields::{self, Fields};

/// A message storage name such as `"SM"`, `"ME"`, `"MT"` or `"SR"` (TS 27.005 §3.1
/// `<mem1>`). Unknown names of up to four characters are kept as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory {
    name: [u8; 4],
    len: u8,
}

impl Memory {
    /// SIM message storage.
    pub const SM: Memory = Memory::from_static(b"SM");
    /// ME (modem) message storage.
    pub const ME: Memory = Memory::from_static(b"ME");
    /// SIM + ME combined storage.
    pub const MT: Memory = Memory::from_static(b"MT");
    /// Status report storage.
    pub const SR: Memory = Memory::from_static(b"SR");

    const fn from_static(name: &[u8]) -> Memory {
        let mut bytes = [0u8; 4];
        let mut i = 0;
        while i < name.len() && i < 4 {
            bytes[i] = name[i];
            i += 1;
        }
        Memory {
            name: bytes,
            len: i as u8,
        }
    }

    /// A storage name from a response field; `None` when empty, longer than four
    /// bytes, or not printable ASCII.
    pub fn parse(field: &[u8]) -> Option<Memory> {
        let field = fields::unquote(field);
        if field.is_empty() || field.len() > 4 || !field.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let mut name = [0u8; 4];
        for (slot, &b) in name.iter_mut().zip(field) {
            *slot = b.to_ascii_uppercase();
        }
        Some(Memory {
            name,
            len: field.len() as u8,
        })
    }

    /// The name as written in commands (without quotes).
    pub fn as_bytes(&self) -> &[u8] {
        self.name.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl core::fmt::Debug for Memory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = core::str::from_utf8(self.as_bytes()).unwrap_or("?");
        write!(f, "Memory({name:?})")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Memory {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "Memory({=[u8]:a})", self.as_bytes())
    }
}

/// A message slot: storage and index (TS 27.005 `<mem>,<index>`). Indexes may start
/// at 0 (SIM7600) or 1 (SIM800): take them from the modem, never assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Slot {
    /// Where the message is stored.
    pub memory: Memory,
    /// Its index in that storage.
    pub index: u16,
}

/// Which registration a `+CREG`/`+CGREG`/`+CEREG` report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Domain {
    /// Circuit switched (`+CREG`, TS 27.007 §7.2).
    Cs,
    /// GPRS packet switched (`+CGREG`, TS 27.007 §10.1.19).
    Ps,
    /// LTE EPS (`+CEREG`, TS 27.007 §10.1.22).
    Eps,
}

/// Network registration status `<stat>` (TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RegStatus {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown (e.g. out of coverage).
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// 6–10: registered for "SMS only" or emergency variants; kept as received.
    Other(u8),
}

impl RegStatus {
    /// The status for a `<stat>` value.
    pub fn from_code(code: u8) -> RegStatus {
        match code {
            0 => RegStatus::NotRegistered,
            1 => RegStatus::Home,
            2 => RegStatus::Searching,
            3 => RegStatus::Denied,
            4 => RegStatus::Unknown,
            5 => RegStatus::Roaming,
            other => RegStatus::Other(other),
        }
    }

    /// True when SMS can be sent: home, roaming, or the "SMS only" states 6 and 7
    /// (TS 27.007 §7.2: 6 = registered for "SMS only", home; 7 = roaming).
    pub fn is_registered(self) -> bool {
        matches!(
            self,
            RegStatus::Home | RegStatus::Roaming | RegStatus::Other(6) | RegStatus::Other(7)
        )
    }
}

/// SIM state from `+CPIN: <code>` (TS 27.007 §8.3), as an URC or a read response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SimState {
    /// `READY`: no password needed.
    Ready,
    /// `SIM PIN`: the PIN must be entered.
    PinRequired,
    /// `SIM PUK`: the SIM is blocked.
    PukRequired,
    /// `NOT INSERTED` / `NOT READY` (SIM800, EC25 vendor URCs): the SIM is gone.
    NotInserted,
    /// Any other code (`PH-SIM PIN`, `SIM PIN2`, …).
    Other,
    /// Not a `+CPIN:` code: the SIM wants its PIN and refused the one the driver was
    /// given (`+CME ERROR: 16`), which the driver will not enter again. [`SimState::parse`]
    /// never returns it.
    PinRejected,
}

impl SimState {
    /// Parses the parameter of `+CPIN:`.
    pub fn parse(param: &[u8]) -> SimState {
        let code = fields::unquote(param);
        if code.eq_ignore_ascii_case(b"READY") {
            SimState::Ready
        } else if code.eq_ignore_ascii_case(b"SIM PIN") {
            SimState::PinRequired
        } else if code.eq_ignore_ascii_case(b"SIM PUK") {
            SimState::PukRequired
        } else if code.eq_ignore_ascii_case(b"NOT INSERTED")
            || code.eq_ignore_ascii_case(b"NOT READY")
        {
            SimState::NotInserted
        } else {
            SimState::Other
        }
    }
}

/// An unsolicited result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Urc<'a> {
    /// `+CMTI: <mem>,<index>`: an SMS was stored (TS 27.005 §3.4.1, `<mt>`=1).
    MessageStored(Slot),
    /// `+CMT: [<alpha>],<length>` + PDU line: an SMS routed directly (`<mt>`=2).
    /// `payload` is the second line: hex PDU (SMSC included) in PDU mode.
    Message {
        /// TPDU length in octets from the header (without the SMSC field).
        length: u16,
        /// The PDU line as received (hex digits in PDU mode).
        payload: &'a [u8],
    },
    /// `+CDS: <length>` + PDU line: a status report routed directly (`<ds>`=1).
    StatusReport {
        /// TPDU length in octets from the header (without the SMSC field).
        length: u16,
        /// The PDU line as received (hex digits).
        payload: &'a [u8],
    },
    /// `+CDS: <fo>,<mr>,…` on one line: a text-mode status report (`AT+CMGF=1`).
    StatusReportText(&'a [u8]),
    /// `+CDSI: <mem>,<index>`: a status report was stored (`<ds>`=2).
    StatusReportStored(Slot),
    /// `+CREG: <stat>[,…]`, `+CGREG:`, `+CEREG:`: registration changed.
    Registration {
        /// Which registration.
        domain: Domain,
        /// The new status.
        status: RegStatus,
    },
    /// `+CPIN: <code>`: the SIM state changed (power-up, removal, unlock).
    Sim(SimState),
    /// `+CFUN: <fun>`: functionality level reported at power-up (SIM800, EC25).
    Functionality(u8),
    /// `RING`: an incoming call (V.250).
    Ring,
    /// `RDY`: the modem finished booting (SIM800 with fixed baud rate, EC25, SIM7600).
    Ready,
    /// `Call Ready` (SIM800).
    CallReady,
    /// `SMS Ready` (SIM800), `SMS DONE` (SIM7600), `+QIND: SMS DONE` (Quectel):
    /// SMS commands work from now on.
    SmsReady,
    /// `NORMAL POWER DOWN`: the modem switched itself off (SIM800 §URC table).
    PowerDown,
    /// `UNDER-VOLTAGE POWER DOWN` / `OVER-VOLTAGE POWER DOWN`: switched off by supply.
    SupplyPowerDown,
    /// `UNDER-VOLTAGE WARNNING` (sic, SIM800) / `OVER-VOLTAGE WARNNING`: supply marginal.
    SupplyWarning,
}

/// Whether a URC is followed by a payload line that belongs to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TwoLine {
    /// `+CMT:` header seen with this TPDU length.
    Message(u16),
    /// `+CDS:` header seen with this TPDU length.
    StatusReport(u16),
}

/// What a line means as a URC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// A complete URC.
    Done(Urc<'a>),
    /// The header of a two-line URC; the next line is its payload.
    Header(TwoLine),
}

/// Exact-match URCs (whole line, ASCII case-insensitive).
const WORDS: &[(&[u8], Urc<'static>)] = &[
    (b"RING", Urc::Ring),
    (b"RDY", Urc::Ready),
    (b"Call Ready", Urc::CallReady),
    (b"SMS Ready", Urc::SmsReady),
    (b"SMS DONE", Urc::SmsReady),
    (b"+QIND: SMS DONE", Urc::SmsReady),
    (b"+QIND: \"SMS DONE\"", Urc::SmsReady),
    (b"NORMAL POWER DOWN", Urc::PowerDown),
    (b"POWER DOWN", Urc::PowerDown),
    (b"UNDER-VOLTAGE POWER DOWN", Urc::SupplyPowerDown),
    (b"OVER-VOLTAGE POWER DOWN", Urc::SupplyPowerDown),
    (b"UNDER-VOLTAGE WARNNING", Urc::SupplyWarning),
    (b"UNDER-VOLTAGE WARNING", Urc::SupplyWarning),
    (b"OVER-VOLTAGE WARNNING", Urc::SupplyWarning),
    (b"OVER-VOLTAGE WARNING", Urc::SupplyWarning),
];

/// Recognises a URC line. `None` when the line is not one (an information response
/// or text the caller routes elsewhere).
pub(crate) fn parse(line: &[u8]) -> Option<Parsed<'_>> {
    if let Some(&(_, urc)) = WORDS.iter().find(|(w, _)| w.eq_ignore_ascii_case(line)) {
        return Some(Parsed::Done(urc));
    }
    if let Some(p) = fields::after_prefix(line, b"+CMTI") {
        return slot(p).map(|s| Parsed::Done(Urc::MessageStored(s)));
    }
    if let Some(p) = fields::after_prefix(line, b"+CDSI") {
        return slot(p).map(|s| Parsed::Done(Urc::StatusReportStored(s)));
    }
    if let Some(p) = fields::after_prefix(line, b"+CMT") {
        // `+CMT: [<alpha>],<length>` in PDU mode; the length is the last field.
        let length = Fields::new(p)
            .last()
            .and_then(fields::parse_u16)
            .unwrap_or(0);
        return Some(Parsed::Header(TwoLine::Message(length)));
    }
    if let Some(p) = fields::after_prefix(line, b"+CDS") {
        return Some(match fields::parse_u16(p) {
            Some(length) => Parsed::Header(TwoLine::StatusReport(length)),
            None => Parsed::Done(Urc::StatusReportText(p)),
        });
    }
    for (prefix, domain) in [
        (&b"+CREG"[..], Domain::Cs),
        (b"+CGREG", Domain::Ps),
        (b"+CEREG", Domain::Eps),
    ] {
        if let Some(p) = fields::after_prefix(line, prefix) {
            // The URC starts with <stat>; the read response (`<n>,<stat>,…`) is claimed
            // by the command in flight before URC parsing (docs/modems.md § Quirk 2).
            let status = Fields::new(p).next().and_then(fields::parse_u8)?;
            return Some(Parsed::Done(Urc::Registration {
                domain,
                status: RegStatus::from_code(status),
            }));
        }
    }
    if let Some(p) = fields::after_prefix(line, b"+CPIN") {
        return Some(Parsed::Done(Urc::Sim(SimState::parse(p))));
    }
    if let Some(p) = fields::after_prefix(line, b"+CFUN") {
        return fields::parse_u8(p).map(|f| Parsed::Done(Urc::Functionality(f)));
    }
    None
}

fn slot(params: &[u8]) -> Option<Slot> {
    let mut f = Fields::new(params);
    let memory = Memory::parse(f.next()?)?;
    let index = fields::parse_u16(f.next()?)?;
    Some(Slot { memory, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_shapes() {
        assert_eq!(
            parse(b"+CMTI: \"SM\",3"),
            Some(Parsed::Done(Urc::MessageStored(Slot {
                memory: Memory::SM,
                index: 3
            })))
        );
        assert_eq!(
            parse(b"+CMTI: \"ME\",0"),
            Some(Parsed::Done(Urc::MessageStored(Slot {
                memory: Memory::ME,
                index: 0
            })))
        );
        assert_eq!(
            parse(b"+CMT: ,29"),
            Some(Parsed::Header(TwoLine::Message(29)))
        );
        assert_eq!(
            parse(b"+CDS: 25"),
            Some(Parsed::Header(TwoLine::StatusReport(25)))
        );
        assert!(matches!(
            parse(b"+CDS: 2,10,\"+358501234567\",145,\"95/07/04/13:12:14+04\""),
            Some(Parsed::Done(Urc::StatusReportText(_)))
        ));
        assert_eq!(
            parse(b"+CEREG: 5"),
            Some(Parsed::Done(Urc::Registration {
                domain: Domain::Eps,
                status: RegStatus::Roaming
            }))
        );
        assert_eq!(
            parse(b"+CREG: 1, E006B, ABE0016"),
            Some(Parsed::Done(Urc::Registration {
                domain: Domain::Cs,
                status: RegStatus::Home
            }))
        );
        assert_eq!(
            parse(b"+CPIN: NOT INSERTED"),
            Some(Parsed::Done(Urc::Sim(SimState::NotInserted)))
        );
        assert_eq!(parse(b"sms ready"), Some(Parsed::Done(Urc::SmsReady)));
        assert_eq!(
            parse(b"UNDER-VOLTAGE WARNNING"),
            Some(Parsed::Done(Urc::SupplyWarning))
        );
        assert_eq!(parse(b"+CSQ: 20,0"), None);
        assert_eq!(parse(b"+CMTI: \"TOOLONG\",1"), None);
        assert_eq!(parse(b"+CMTI: \"SM\",99999"), None);
    }
}
