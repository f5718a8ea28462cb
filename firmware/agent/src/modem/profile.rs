//! Per-modem timings and quirks, with the manual section each comes from.
//!
//! Manuals (copies listed in docs/modems.md § Sources): SIM800 Series AT Command Manual
//! V1.09; SIM7500/SIM7600 Series AT Command Manual V1.07; Quectel EC25&EC21 AT
//! Commands Manual and Quectel UGxx AT Commands Manual (same command family as
//! EC2x/BG9x). Values marked "our choice" are budgets we picked, not vendor figures.

use relais_core::at::Memory;
use relais_core::at::command::Millis;
use relais_core::at::command::sms::Cnmi;

/// What the driver needs to know about one modem family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// Family name, for logs.
    pub name: &'static str,
    /// Power held off during a power cycle (our choice: long enough for the module's
    /// supply capacitors to drain).
    pub power_off: Millis,
    /// Wait after power-on before the first `AT` (the module ignores input while
    /// booting).
    pub boot_delay: Millis,
    /// Start-up URCs (`RDY`, `Call Ready`, `SMS Ready`, `+CPIN: READY`) arriving this
    /// long after power-on, a restart or driver start are that boot's own, until
    /// bring-up completes; later, or once bring-up has completed, they mean the modem
    /// restarted (module docs of [`crate::modem`], "Restarts").
    pub boot_window: Millis,
    /// `AT` probes before giving up and power-cycling.
    pub sync_attempts: u8,
    /// Time between `AT` probes (each probe's own timeout).
    pub sync_interval: Millis,
    /// Wait for the `> ` prompt after `AT+CMGS=<n>` (docs/modems.md § Sending: AT+CMGS:
    /// 5–10 s is enough).
    pub prompt_timeout: Millis,
    /// Wait for `+CMGS: <mr>` after Ctrl-Z (network-bound).
    pub submit_timeout: Millis,
    /// Registration wait before power-cycling (our choice).
    pub registration_timeout: Millis,
    /// Also accept LTE (`+CEREG`) registration: CS registration can stay 0 on LTE-only
    /// networks while SMS over SGs/IMS works (docs/modems.md § Registration, signal and clock).
    pub eps: bool,
    /// Storage for reading, writing and receiving (`AT+CPMS`).
    pub storage: Memory,
    /// New-message indication: `+CMTI` for SMS, direct `+CDS` for status reports.
    pub cnmi: Cnmi,
    /// The modem knows `AT+CMMS` (if it answers `ERROR` anyway, the driver stops using it).
    pub cmms: bool,
    /// Command that turns on network time (NITZ) updates of the modem clock, if any.
    pub nitz: Option<&'static [u8]>,
    /// Interval of the `AT+CMGL` polling fallback (also the liveness check when idle).
    pub poll_interval: Millis,
}

/// `AT+CNMI=2,1,0,1,0`: buffer URCs while busy, `+CMTI` for stored SMS, direct `+CDS`
/// status reports (TS 27.005 §3.4.1; SIM800 `AT+CNMI=?` answers
/// `(0-3),(0-3),(0,2),(0-2),(0,1)`, docs/modems.md § SMS configuration).
const CNMI_STORE_AND_ROUTE_REPORTS: Cnmi = Cnmi {
    mode: 2,
    mt: 1,
    bm: 0,
    ds: 1,
    bfr: 0,
};

impl Profile {
    /// Any TS 27.005/27.007 modem: standard commands only, generous timeouts.
    pub const GENERIC: Profile = Profile {
        name: "generic 27.005/27.007",
        power_off: Millis::secs(2),
        boot_delay: Millis::secs(3),
        boot_window: Millis::secs(20),
        sync_attempts: 20,
        sync_interval: Millis(500),
        prompt_timeout: Millis::secs(10),
        // The largest documented maximum (Quectel, 120 s) since the modem is unknown.
        submit_timeout: Millis::secs(120),
        registration_timeout: Millis::secs(180),
        eps: true,
        storage: Memory::SM,
        cnmi: CNMI_STORE_AND_ROUTE_REPORTS,
        cmms: true,
        nitz: None,
        poll_interval: Millis::secs(60),
    };

    /// SIMCom SIM800 series (2G).
    ///
    /// - `+CMGS` max response time 60 s (SIM800 manual V1.09 §4.2.5).
    /// - Start-up URCs `RDY` (fixed baud only), `+CFUN: 1`, `+CPIN: READY`,
    ///   `Call Ready`, `SMS Ready`, 2–10 s after power-up (manual V1.09 p.352 URC
    ///   table; docs/modems.md § Power-up URCs, § Quirk 5); `AT+CMGF` answers `ERROR` until
    ///   `SMS Ready`, the driver retries it.
    /// - Network time with the vendor `AT+CLTS=1` (manual V1.09 URC table: `*PSUTTZ`,
    ///   `+CTZV`, `DST`); it takes effect after the next restart, so the first
    ///   `AT+CCLK?` may still show the RTC's default.
    /// - 2G only: no `+CEREG`. SIM storage indexes start at 1.
    pub const SIM800: Profile = Profile {
        name: "SIMCom SIM800",
        boot_delay: Millis::secs(3),
        boot_window: Millis::secs(15),
        submit_timeout: Millis::secs(60),
        registration_timeout: Millis::secs(120),
        eps: false,
        nitz: Some(b"AT+CLTS=1\r"),
        ..Profile::GENERIC
    };

    /// SIMCom SIM7500/SIM7600 series (LTE).
    ///
    /// - No `+CMGS` maximum in the stored V1.07 pages: the Quectel 120 s budget.
    /// - Start-up URCs `RDY`, `+CPIN: READY`, `SMS DONE`, `PB DONE` (commonly reported,
    ///   not in the stored manual pages; docs/modems.md § Power-up URCs).
    /// - Storage indexes start at 0 (manual V1.07 `AT+CMGL`, ?p=168): taken from the
    ///   URC, never assumed.
    /// - LTE: registration is checked with `+CEREG` as well as `+CREG`.
    /// - Network time: standard `AT+CTZU=1` (TS 27.007 §8.41).
    pub const SIM7600: Profile = Profile {
        name: "SIMCom SIM7600",
        boot_delay: Millis::secs(10),
        boot_window: Millis::secs(30),
        submit_timeout: Millis::secs(120),
        eps: true,
        nitz: Some(b"AT+CTZU=1\r"),
        ..Profile::GENERIC
    };

    /// Quectel EC2x (EC21/EC25) and BG9x (BG95/BG96).
    ///
    /// - `+CMGS` max response time 120 s, "determined by network" (Quectel UGxx manual
    ///   `AT+CMGS`, same command family).
    /// - Start-up URCs `RDY`, `+CFUN: 1`, `+CPIN: READY`, `+QUSIM: 1`,
    ///   `+QIND: SMS DONE` (commonly reported; docs/modems.md § Power-up URCs).
    /// - Network time: `AT+CTZU=3` also updates the RTC to local time (Quectel forum,
    ///   docs/modems.md § Registration, signal and clock); time-zone URCs `+CTZE` (EC25
    ///   manual ?p=84).
    /// - BG9x (LTE-M/NB-IoT) can take minutes to attach: 300 s registration budget
    ///   (our choice).
    pub const QUECTEL: Profile = Profile {
        name: "Quectel EC2x/BG9x",
        boot_delay: Millis::secs(10),
        boot_window: Millis::secs(30),
        submit_timeout: Millis::secs(120),
        registration_timeout: Millis::secs(300),
        eps: true,
        nitz: Some(b"AT+CTZU=3\r"),
        ..Profile::GENERIC
    };
}

impl Default for Profile {
    fn default() -> Self {
        Profile::GENERIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relais_core::at::command::{Command, CommandLine, Raw};

    #[test]
    fn vendor_commands_are_whole_lines_that_fit() {
        for p in [
            Profile::GENERIC,
            Profile::SIM800,
            Profile::SIM7600,
            Profile::QUECTEL,
        ] {
            if let Some(line) = p.nitz {
                let mut out = CommandLine::new();
                let raw = Raw {
                    line,
                    timeout: Millis(1000),
                };
                assert!(raw.write(&mut out).is_ok(), "{}", p.name);
                assert!(
                    line.starts_with(b"AT") && line.ends_with(b"\r"),
                    "{}",
                    p.name
                );
            }
            assert!(p.submit_timeout >= Millis::secs(60), "{}", p.name);
            assert!(p.boot_window > p.boot_delay, "{}", p.name);
        }
    }
}
