//! Modem profiles: identity, start-up URCs, storage, timings (docs/modems.md § Power-up
//! URCs, § Modem quirks).

use super::super::time::SimDuration;

/// What a modem model looks like from the outside: identity strings, start-up URCs,
/// storage sizes, index base. See [`ModemConfig::preset`].
#[derive(Clone, Debug)]
pub struct ModemConfig {
    /// Profile name (`sim800`, `sim7600`, `ec25`, `generic`).
    pub profile: String,
    /// `AT+CGMI`.
    pub manufacturer: String,
    /// `AT+CGMM`.
    pub model: String,
    /// `AT+CGMR`.
    pub revision: String,
    /// `AT+CGSN`.
    pub imei: String,
    /// `AT+CIMI`.
    pub imsi: String,
    /// The subscriber number of the SIM (what recipients see as sender).
    pub msisdn: String,
    /// `AT+CSCA?` at power-on.
    pub smsc: String,
    /// Long operator name for `AT+COPS?`.
    pub operator_long: String,
    /// Numeric operator (MCC+MNC) for `AT+COPS?` in format 2.
    pub operator_numeric: String,
    /// `AT+CSQ` rssi (0..31).
    pub rssi: u8,
    /// URCs printed after power-on, in order (docs/modems.md § Power-up URCs).
    pub boot_urcs: Vec<String>,
    /// Virtual time from power-on to the first URC / first answered command.
    pub boot_time: SimDuration,
    /// Index of the first storage slot (SIM800: 1, SIM7600: 0; docs/modems.md § Quirk 10).
    pub first_index: usize,
    /// SIM storage slots.
    pub sm_capacity: usize,
    /// Phone storage slots.
    pub me_capacity: usize,
    /// Prompt as `\r\n>\r\n` instead of `\r\n> ` (SIM7670G, gammu#1176).
    pub bare_prompt: bool,
    /// PIN the SIM asks for at power-on, if any.
    pub pin: Option<String>,
    /// Registered roaming (`+CREG` stat 5) instead of home (1).
    pub roaming: bool,
    /// Chance that URCs waiting while the client types a command come out between the
    /// command's echo and its answer, as on real modems (docs/modems.md § Quirk 2).
    pub urc_race: f64,
    /// Seed of this modem's own random choices (the URC race).
    pub seed: u64,
    /// After power-on and after PIN entry, SIM commands answer `+CME ERROR: 14` /
    /// `+CMS ERROR: 314` (SIM busy) for this long (docs/modems.md § Quirk 6).
    pub sim_busy: SimDuration,
}

impl ModemConfig {
    /// The settings of a named profile, or None for an unknown name.
    pub fn preset(profile: &str) -> Option<Self> {
        let base = Self {
            profile: profile.to_string(),
            manufacturer: "SIMCOM_Ltd".into(),
            model: "SIMCOM_SIM800L".into(),
            revision: "Revision:1418B04SIM800L24".into(),
            imei: "869170031234567".into(),
            imsi: "001010123456789".into(),
            msisdn: "+15550001000".into(),
            smsc: "+15550000000".into(),
            operator_long: "Simulated".into(),
            operator_numeric: "00101".into(),
            rssi: 20,
            // SIM800 manual V1.09 p.352; RDY only with a fixed baud rate.
            boot_urcs: vec![
                "RDY".into(),
                "+CFUN: 1".into(),
                "+CPIN: READY".into(),
                "Call Ready".into(),
                "SMS Ready".into(),
            ],
            boot_time: SimDuration::from_secs(3),
            first_index: 1,
            sm_capacity: 30,
            me_capacity: 50,
            bare_prompt: false,
            pin: None,
            roaming: false,
            urc_race: 0.0,
            seed: 1,
            sim_busy: SimDuration(0),
        };
        match profile {
            "sim800" | "generic" => Some(base),
            // SIMCom LTE family: indexes from 0 (SIM7600 manual V1.07 CMGL), LTE boot URCs.
            "sim7600" => Some(Self {
                model: "SIMCOM_SIM7600E-H".into(),
                revision: "+CGMR: LE20B04SIM7600M22".into(),
                boot_urcs: vec![
                    "RDY".into(),
                    "+CPIN: READY".into(),
                    "SMS DONE".into(),
                    "PB DONE".into(),
                ],
                first_index: 0,
                boot_time: SimDuration::from_secs(12),
                ..base
            }),
            "ec25" => Some(Self {
                manufacturer: "Quectel".into(),
                model: "EC25".into(),
                revision: "EC25EFAR06A06M4G".into(),
                boot_urcs: vec![
                    "RDY".into(),
                    "+CFUN: 1".into(),
                    "+CPIN: READY".into(),
                    "+QUSIM: 1".into(),
                    "+QIND: SMS DONE".into(),
                    "+QIND: PB DONE".into(),
                ],
                boot_time: SimDuration::from_secs(10),
                ..base
            }),
            _ => None,
        }
    }
}
