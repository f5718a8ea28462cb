//! ITU-T V.250 basic commands.

use super::{Command, CommandLine, Millis, Overflow, put};

/// `AT`: liveness check and autobaud sync (V.250 §5.2.1). SIM800 in autobaud mode
/// needs one before it says anything (docs/modems.md § Session commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At;

impl Command for At {
    fn timeout(&self) -> Millis {
        Millis(500)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, b"AT\r")
    }
}

/// `ATE<n>`: command echo on or off (V.250 §6.2.4). The `ATE0` line itself is still
/// echoed, because echo was on when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo(pub bool);

impl Command for Echo {
    fn timeout(&self) -> Millis {
        Millis(1000)
    }
    fn write(&self, out: &mut CommandLine) -> Result<(), Overflow> {
        put(out, if self.0 { b"ATE1\r" } else { b"ATE0\r" })
    }
}

/// Ctrl-Z (0x1A): ends the PDU after the `> ` prompt and sends it (TS 27.005 §3.5.1).
pub const CTRL_Z: u8 = 0x1A;

/// ESC (0x1B): aborts a `> ` prompt without sending (TS 27.005 §3.5.1); most modems
/// answer `OK` (Telit LE910, Quectel UGxx, docs/modems.md § Sending: AT+CMGS).
pub const ESC: u8 = 0x1B;
