//! 3GPP TS 27.005 commands (SMS, PDU mode).

use super::{Command, CommandLine, Millis, Overflow, put, put_u32};
use crate::at::fields::{self, Fields};
use crate::at::urc::Memory;

/// `AT+CMGF=<mode>`: message format (TS 27.005 §3.2.3); relais uses PDU mode (0).
/// SIM800 answers `ERROR` until `SMS Ready` (docs/modems.md § SMS configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmgf {
    /// `false` = PDU mode (0), `true` = text mode (1).
    pub text: bool,
}

impl Command for Cmgf {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(
            out,
            if self.text {
                b"AT+CMGF=1\r"
            } else {
                b"AT+CMGF=0\r"
            },
        )
    }
}

/// `AT+CPMS="<mem1>","<mem2>","<mem3>"`: preferred storage for reading/deleting,
/// writing/sending and receiving (TS 27.005 §3.2.2). Answer
/// `+CPMS: <used1>,<total1>,<used2>,<total2>,<used3>,<total3>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpms {
    /// Storage read, listed and deleted from.
    pub read: Memory,
    /// Storage written to and sent from.
    pub write: Memory,
    /// Storage new messages go to.
    pub receive: Memory,
}

impl Command for Cpms {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CPMS")
    }
    fn timeout(&self) -> Millis {
        Millis::secs(5)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CPMS=")?;
        for (i, m) in [self.read, self.write, self.receive].iter().enumerate() {
            if i > 0 {
                put(out, b",")?;
            }
            put(out, b"\"")?;
            put(out, m.as_bytes())?;
            put(out, b"\"")?;
        }
        put(out, b"\r")
    }
}

impl Cpms {
    /// `(used, total)` of the read storage from the response line.
    pub fn parse(line: &[u8]) -> Option<(u16, u16)> {
        let mut f = Fields::new(fields::after_prefix(line, b"+CPMS")?);
        Some((fields::parse_u16(f.next()?)?, fields::parse_u16(f.next()?)?))
    }
}

/// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: how new messages and status reports are
/// indicated (TS 27.005 §3.4.1). Profiles choose the values the modem accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cnmi {
    /// 2: buffer URCs while the link is busy, flush afterwards.
    pub mode: u8,
    /// 1: store SMS-DELIVER and send `+CMTI`; 2: route it as `+CMT`.
    pub mt: u8,
    /// Cell broadcast: 0 none.
    pub bm: u8,
    /// 1: route status reports as `+CDS`; 2: store them and send `+CDSI`.
    pub ds: u8,
    /// 0: flush the URC buffer when the mode is entered.
    pub bfr: u8,
}

impl Command for Cnmi {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CNMI=")?;
        for (i, v) in [self.mode, self.mt, self.bm, self.ds, self.bfr]
            .iter()
            .enumerate()
        {
            if i > 0 {
                put(out, b",")?;
            }
            put_u32(out, u32::from(*v))?;
        }
        put(out, b"\r")
    }
}

/// `AT+CMMS=<n>`: keep the relay-protocol link open between messages (TS 27.005
/// §3.5.6). 1 keeps it until 1–5 s pass without a send, then reverts to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmms(pub u8);

impl Command for Cmms {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMMS=")?;
        put_u32(out, u32::from(self.0))?;
        put(out, b"\r")
    }
}

/// TP-Message-Reference assigned by the modem to a submitted PDU (`+CMGS: <mr>`,
/// TS 27.005 §3.5.1); the status report carries the same value. The codec's type.
pub use crate::sms::pdu::MessageReference;

/// `AT+CMGS=<length>`: send a PDU (TS 27.005 §3.5.1). `length` is the TPDU length in
/// octets without the SMSC field. The modem answers with the `> ` prompt; the PDU in
/// hex and Ctrl-Z follow. The default timeout here is the prompt's; the wait for
/// `+CMGS: <mr>` after Ctrl-Z is network-bound and set by the modem profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmgs {
    /// TPDU length in octets (without the SMSC field).
    pub length: u8,
}

impl Command for Cmgs {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CMGS")
    }
    fn timeout(&self) -> Millis {
        Millis::secs(10)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMGS=")?;
        put_u32(out, u32::from(self.length))?;
        put(out, b"\r")
    }
}

impl Cmgs {
    /// The message reference in `+CMGS: <mr>[,<ackpdu>]`; the rest is ignored
    /// (docs/modems.md § Sending: AT+CMGS).
    pub fn parse(line: &[u8]) -> Option<MessageReference> {
        let mut f = Fields::new(fields::after_prefix(line, b"+CMGS")?);
        fields::parse_u8(f.next()?).map(MessageReference)
    }
}

/// `<stat>` of a stored message in PDU mode (TS 27.005 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageStatus {
    /// 0: received, unread.
    ReceivedUnread,
    /// 1: received, read.
    ReceivedRead,
    /// 2: stored, unsent.
    StoredUnsent,
    /// 3: stored, sent.
    StoredSent,
    /// Anything else, kept as received.
    Other(u8),
}

impl MessageStatus {
    /// The status for a `<stat>` value.
    pub fn from_code(code: u8) -> MessageStatus {
        match code {
            0 => MessageStatus::ReceivedUnread,
            1 => MessageStatus::ReceivedRead,
            2 => MessageStatus::StoredUnsent,
            3 => MessageStatus::StoredSent,
            other => MessageStatus::Other(other),
        }
    }

    /// True for messages the modem received (unread or read).
    pub fn is_received(self) -> bool {
        matches!(
            self,
            MessageStatus::ReceivedUnread | MessageStatus::ReceivedRead
        )
    }
}

/// `AT+CMGR=<index>`: read one stored message (TS 27.005 §3.4.3). Answer
/// `+CMGR: <stat>,[<alpha>],<length>` then the PDU line. SIM800: 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmgr {
    /// Index in the read storage.
    pub index: u16,
}

impl Command for Cmgr {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CMGR")
    }
    fn timeout(&self) -> Millis {
        Millis::secs(5)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMGR=")?;
        put_u32(out, u32::from(self.index))?;
        put(out, b"\r")
    }
}

impl Cmgr {
    /// `(<stat>, <length>)` of the header line; the length is the last field (0 when
    /// unreadable). Tolerates `+CMGR: 0,23` (alpha missing, gammu tests/at-sms/10.dump).
    pub fn parse(line: &[u8]) -> Option<(MessageStatus, u16)> {
        let params = fields::after_prefix(line, b"+CMGR")?;
        let stat = fields::parse_u8(Fields::new(params).next()?)?;
        let length = Fields::new(params).last().and_then(fields::parse_u16);
        Some((MessageStatus::from_code(stat), length.unwrap_or(0)))
    }
}

/// `AT+CMGL=<stat>`: list stored messages (TS 27.005 §3.4.2); 4 lists all. Each entry
/// is `+CMGL: <index>,<stat>,[<alpha>],<length>` then the PDU line. Up to 20–30 s with
/// a full SIM (docs/modems.md § Sending: AT+CMGS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmgl {
    /// 0 received unread, 1 received read, 2 stored unsent, 3 stored sent, 4 all.
    pub stat: u8,
}

impl Command for Cmgl {
    fn response(&self) -> Option<&'static [u8]> {
        Some(b"+CMGL")
    }
    fn timeout(&self) -> Millis {
        Millis::secs(30)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMGL=")?;
        put_u32(out, u32::from(self.stat))?;
        put(out, b"\r")
    }
}

impl Cmgl {
    /// `(<index>, <stat>, <length>)` of an entry header line (length 0 when unreadable).
    pub fn parse(line: &[u8]) -> Option<(u16, MessageStatus, u16)> {
        let params = fields::after_prefix(line, b"+CMGL")?;
        let mut f = Fields::new(params);
        let index = fields::parse_u16(f.next()?)?;
        let stat = fields::parse_u8(f.next()?)?;
        let length = Fields::new(params).last().and_then(fields::parse_u16);
        Some((index, MessageStatus::from_code(stat), length.unwrap_or(0)))
    }
}

/// `AT+CMGD=<index>`: delete one stored message (TS 27.005 §3.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmgd {
    /// Index in the read storage.
    pub index: u16,
}

impl Command for Cmgd {
    fn timeout(&self) -> Millis {
        Millis::secs(5)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT+CMGD=")?;
        put_u32(out, u32::from(self.index))?;
        put(out, b"\r")
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
        assert_eq!(&line(Cmgf { text: false })[..], b"AT+CMGF=0\r");
        assert_eq!(
            &line(Cpms {
                read: Memory::SM,
                write: Memory::SM,
                receive: Memory::MT
            })[..],
            b"AT+CPMS=\"SM\",\"SM\",\"MT\"\r"
        );
        assert_eq!(
            &line(Cnmi {
                mode: 2,
                mt: 1,
                bm: 0,
                ds: 1,
                bfr: 0
            })[..],
            b"AT+CNMI=2,1,0,1,0\r"
        );
        assert_eq!(&line(Cmms(1))[..], b"AT+CMMS=1\r");
        assert_eq!(&line(Cmgs { length: 255 })[..], b"AT+CMGS=255\r");
        assert_eq!(&line(Cmgr { index: 0 })[..], b"AT+CMGR=0\r");
        assert_eq!(&line(Cmgl { stat: 4 })[..], b"AT+CMGL=4\r");
        assert_eq!(&line(Cmgd { index: 65535 })[..], b"AT+CMGD=65535\r");
    }

    #[test]
    fn parses_responses() {
        assert_eq!(Cmgs::parse(b"+CMGS: 12"), Some(MessageReference(12)));
        assert_eq!(
            Cmgs::parse(b"+CMGS: 64,\"0791\""),
            Some(MessageReference(64))
        );
        assert_eq!(Cmgs::parse(b"+CMGS: 256"), None);
        assert_eq!(
            Cmgr::parse(b"+CMGR: 1,,62"),
            Some((MessageStatus::ReceivedRead, 62))
        );
        assert_eq!(
            Cmgr::parse(b"+CMGR: 0,23"),
            Some((MessageStatus::ReceivedUnread, 23))
        );
        assert_eq!(
            Cmgl::parse(b"+CMGL: 2,0,,24"),
            Some((2, MessageStatus::ReceivedUnread, 24))
        );
        assert_eq!(Cpms::parse(b"+CPMS: 3,30,3,30,3,30"), Some((3, 30)));
    }
}
