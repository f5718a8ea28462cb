//! The virtual modem: a sans-I/O AT command interpreter answering like a SIM800-class
//! modem (3GPP TS 27.007 general/network commands, TS 27.005 SMS commands, V.250
//! basics). Bytes go in with [`Modem::feed`], time moves with [`Modem::tick`], and the
//! bytes the modem would send are taken with [`Modem::take_output`]. Submitted messages
//! go to a [`Network`]; the network hands back inbound messages and status reports.
//!
//! Shapes follow shared/reference/AT-PDU.md (§1, §2, §6.4: what gammu sends and
//! expects). Unknown commands answer plain `ERROR` whatever `+CMEE` says, as SIM800
//! does and gammu expects (§2.8); failures of known commands answer `+CME ERROR` or
//! `+CMS ERROR` per `+CMEE`.

use std::collections::VecDeque;

use super::pdu::{self, Alphabet, Concat, UserData};
use super::rng::Rng;
use super::time::{SimDuration, SimInstant, UtcOffset};

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;
const MAX_LINE: usize = 1024;
const MAX_PROMPT_INPUT: usize = 4096;

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
    /// URCs printed after power-on, in order (AT-PDU.md §2.9).
    pub boot_urcs: Vec<String>,
    /// Virtual time from power-on to the first URC / first answered command.
    pub boot_time: SimDuration,
    /// Index of the first storage slot (SIM800: 1, SIM7600: 0; AT-PDU.md §3.10).
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
    /// command's echo and its answer, as on real modems (AT-PDU.md §3.2).
    pub urc_race: f64,
    /// Seed of this modem's own random choices (the URC race).
    pub seed: u64,
    /// After power-on and after PIN entry, SIM commands answer `+CME ERROR: 14` /
    /// `+CMS ERROR: 314` (SIM busy) for this long (AT-PDU.md §3 item 6).
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

/// What the network says about one submitted segment.
#[derive(Clone, Debug)]
pub struct SubmitOutcome {
    /// Accepted, or refused with a `+CMS ERROR` code (TS 27.005 §3.2.5).
    pub result: Result<(), u16>,
    /// Virtual time from Ctrl-Z to the `+CMGS:` answer.
    pub latency: SimDuration,
}

/// How the client handed the segment over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitMode {
    /// `AT+CMGF=0`: a TPDU in hex.
    Pdu,
    /// `AT+CMGF=1`: destination and text.
    Text,
}

impl SubmitMode {
    /// `pdu` or `text`, as in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            SubmitMode::Pdu => "pdu",
            SubmitMode::Text => "text",
        }
    }
}

/// One segment a client submitted (`AT+CMGS` / `AT+CMSS`).
#[derive(Clone, Debug)]
pub struct Submission {
    /// The message reference the modem assigned (returned in `+CMGS:`).
    pub mr: u8,
    /// Destination address.
    pub to: String,
    /// Text of this segment.
    pub text: String,
    /// Alphabet used.
    pub alphabet: Alphabet,
    /// Concatenation header, if any.
    pub concat: Option<Concat>,
    /// A status report was requested (TP-SRR / `+CSMP` fo bit 5).
    pub status_report: bool,
    /// How the client submitted it.
    pub mode: SubmitMode,
}

/// The network side of the modem, as the modem sees it.
pub trait Network {
    /// A segment was submitted by modem `modem` at `now`.
    fn submit(&mut self, modem: &str, now: SimInstant, submission: Submission) -> SubmitOutcome;
    /// A USSD request (`AT+CUSD=1,"*100#"`); None = not supported (`+CUSD: 4`).
    fn ussd(&mut self, modem: &str, request: &str) -> Option<String>;
}

/// One inbound segment (SMS-DELIVER) for this modem.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// Originating address.
    pub from: String,
    /// Service centre time stamp.
    pub scts: SimInstant,
    /// User data of the segment.
    pub data: UserData,
}

/// One SMS-STATUS-REPORT for this modem.
#[derive(Clone, Debug)]
pub struct StatusReport {
    /// TP-MR of the submitted segment.
    pub mr: u8,
    /// TP-RA: the recipient.
    pub recipient: String,
    /// When the service centre received the segment.
    pub scts: SimInstant,
    /// TP-DT: when the outcome happened.
    pub discharge: SimInstant,
    /// TP-ST (TS 23.040 §9.2.3.15).
    pub status: u8,
}

/// Why the network could not hand a message to this modem now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Powered off, no SIM, radio off or no network.
    Detached,
    /// The storage it would go to is full.
    MemoryFull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mem {
    Sm,
    Me,
    Sr,
}

impl Mem {
    fn name(self) -> &'static str {
        match self {
            Mem::Sm => "SM",
            Mem::Me => "ME",
            Mem::Sr => "SR",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "SM" => Some(Mem::Sm),
            "ME" | "MT" => Some(Mem::Me),
            "SR" => Some(Mem::Sr),
            _ => None,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stat {
    RecUnread = 0,
    RecRead = 1,
    StoUnsent = 2,
    StoSent = 3,
}

impl Stat {
    fn text(self) -> &'static str {
        match self {
            Stat::RecUnread => "REC UNREAD",
            Stat::RecRead => "REC READ",
            Stat::StoUnsent => "STO UNSENT",
            Stat::StoSent => "STO SENT",
        }
    }

    fn from_num(n: u32) -> Option<Self> {
        match n {
            0 => Some(Stat::RecUnread),
            1 => Some(Stat::RecRead),
            2 => Some(Stat::StoUnsent),
            3 => Some(Stat::StoSent),
            _ => None,
        }
    }
}

/// A CMGL filter: one stat or all (4 / "ALL").
fn parse_filter(arg: Option<&Arg>, text_mode: bool) -> Option<Option<Stat>> {
    let Some(arg) = arg else {
        return Some(Some(Stat::RecUnread));
    };
    if text_mode {
        return match arg.text.as_str() {
            "ALL" => Some(None),
            t => [
                Stat::RecUnread,
                Stat::RecRead,
                Stat::StoUnsent,
                Stat::StoSent,
            ]
            .into_iter()
            .find(|s| s.text() == t)
            .map(Some),
        };
    }
    match arg.text.parse::<u32>().ok()? {
        4 => Some(None),
        n => Stat::from_num(n).map(Some),
    }
}

#[derive(Clone, Debug)]
enum Item {
    Deliver(Inbound),
    Report(StatusReport),
    Submit {
        to: String,
        text: String,
        /// SMSC field + TPDU.
        pdu: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
struct Stored {
    stat: Stat,
    item: Item,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charset {
    Ira,
    Gsm,
    Ucs2,
    Hex,
    Latin1,
}

impl Charset {
    fn name(self) -> &'static str {
        match self {
            Charset::Ira => "IRA",
            Charset::Gsm => "GSM",
            Charset::Ucs2 => "UCS2",
            Charset::Hex => "HEX",
            Charset::Latin1 => "8859-1",
        }
    }
}

/// Volatile settings, lost on reboot (AT-PDU.md §2.9).
#[derive(Clone, Debug)]
struct Settings {
    echo: bool,
    verbose: bool,
    quiet: bool,
    cmee: u8,
    text_mode: bool,
    cscs: Charset,
    cnmi: [u8; 5],
    cmms: u8,
    creg: u8,
    cgreg: u8,
    cereg: u8,
    csca: String,
    csmp: [u8; 4],
    csdh: bool,
    cpms: [Mem; 3],
    cops_format: u8,
    cfun: u8,
}

impl Settings {
    fn power_on(cfg: &ModemConfig) -> Self {
        Self {
            echo: true,
            verbose: true,
            quiet: false,
            cmee: 0,
            text_mode: false,
            cscs: Charset::Ira,
            // SIM800 power-on default: +CMTI for new messages, no status reports.
            cnmi: [2, 1, 0, 0, 0],
            cmms: 0,
            creg: 0,
            cgreg: 0,
            cereg: 0,
            csca: cfg.smsc.clone(),
            csmp: [17, 167, 0, 0],
            csdh: false,
            cpms: [Mem::Sm, Mem::Sm, Mem::Sm],
            cops_format: 0,
            cfun: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PromptKind {
    SendPdu { len: usize },
    SendText { to: String },
    WritePdu { len: usize, stat: Stat },
    WriteText { to: String, stat: Stat },
}

#[derive(Clone, Debug)]
enum Input {
    Command,
    Prompt(PromptKind, Vec<u8>),
    /// Executing a command: input is discarded until `until`, then `reply` is sent.
    Busy {
        until: SimInstant,
        reply: Vec<u8>,
    },
    /// Powered off (rebooting) until the instant.
    Off(SimInstant),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SimState {
    Ready,
    PinRequired,
    Absent,
}

/// How a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    Error,
    Cme(u16),
    Cms(u16),
}

#[derive(Clone, Debug)]
struct Arg {
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Exec,
    Read,
    Test,
    Set(String),
}

#[derive(Default)]
struct Reply {
    lines: Vec<String>,
    prompt: Option<PromptKind>,
    /// Output that ends the command instead of OK (e.g. the delayed `+CMGS:`).
    busy: Option<(SimDuration, Vec<u8>)>,
}

impl Reply {
    fn lines(lines: Vec<String>) -> Result<Self, Fail> {
        Ok(Self {
            lines,
            ..Self::default()
        })
    }

    fn line(line: String) -> Result<Self, Fail> {
        Self::lines(vec![line])
    }

    fn ok() -> Result<Self, Fail> {
        Ok(Self::default())
    }
}

/// One virtual modem.
#[derive(Debug)]
pub struct Modem {
    name: String,
    cfg: ModemConfig,
    offset: UtcOffset,
    s: Settings,
    sim: SimState,
    sim_inserted: bool,
    network_up: bool,
    stores: [Vec<Option<Stored>>; 3],
    mr: u8,
    line: Vec<u8>,
    input: Input,
    out: Vec<u8>,
    urcs: VecDeque<(bool, Vec<u8>)>,
    delayed: Vec<(SimInstant, String)>,
    clock_delta: i64,
    last_stat: u8,
    rng: Rng,
    /// The latest time seen by `feed`/`tick`.
    now: SimInstant,
    /// SIM commands answer "SIM busy" until then.
    sim_busy_until: SimInstant,
}

impl Modem {
    /// A powered-on modem named `name` (boot URCs are not printed: the serial line is
    /// assumed to have been opened after start-up).
    pub fn new(name: &str, cfg: ModemConfig, offset: UtcOffset) -> Self {
        let s = Settings::power_on(&cfg);
        let stores = [
            vec![None; cfg.sm_capacity],
            vec![None; cfg.me_capacity],
            vec![None; 20],
        ];
        let sim = if cfg.pin.is_some() {
            SimState::PinRequired
        } else {
            SimState::Ready
        };
        let rng = Rng::keyed(cfg.seed, &format!("urc race {name}"));
        let mut modem = Self {
            name: name.to_string(),
            cfg,
            offset,
            s,
            sim,
            sim_inserted: true,
            network_up: true,
            stores,
            mr: 0,
            line: Vec::new(),
            input: Input::Command,
            out: Vec::new(),
            urcs: VecDeque::new(),
            delayed: Vec::new(),
            clock_delta: 0,
            last_stat: 0,
            rng,
            now: SimInstant(i64::MIN),
            sim_busy_until: SimInstant(i64::MIN),
        };
        modem.last_stat = modem.reg_stat();
        modem
    }

    /// The modem's name (as in the scenario and the ledger).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The modem's configuration.
    pub fn config(&self) -> &ModemConfig {
        &self.cfg
    }

    /// Messages stored in (SIM, phone, status-report) memory, for tests.
    #[cfg(test)]
    pub fn stored(&self) -> [usize; 3] {
        [Mem::Sm, Mem::Me, Mem::Sr].map(|m| self.usage(m).0)
    }

    /// Bytes the modem has sent since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Processes bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8], now: SimInstant, net: &mut dyn Network) {
        self.now = now;
        for &b in bytes {
            self.byte(b, now, net);
        }
        self.flush_urcs();
    }

    /// Lets virtual time pass: finishes commands whose time has come, boots after a
    /// reboot, prints delayed URCs.
    pub fn tick(&mut self, now: SimInstant) {
        self.now = now;
        match &self.input {
            Input::Busy { until, .. } if *until <= now => {
                if let Input::Busy { reply, .. } =
                    std::mem::replace(&mut self.input, Input::Command)
                {
                    self.out.extend(reply);
                }
            }
            Input::Off(until) if *until <= now => self.power_on(),
            _ => {}
        }
        if !matches!(self.input, Input::Off(_)) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.delayed.drain(..).partition(|(at, _)| *at <= now);
            self.delayed = later;
            for (_, text) in due {
                self.urc(&text, false);
            }
        }
        self.flush_urcs();
    }

    /// Power-cycles the modem: it goes silent for the profile's boot time, then prints
    /// its start-up URCs with every volatile setting back to its default.
    pub fn reboot(&mut self, now: SimInstant) {
        self.input = Input::Off(now + self.cfg.boot_time);
        self.line.clear();
        self.urcs.clear();
        self.delayed.clear();
    }

    /// Takes the SIM out (`false`) or puts it back (`true`).
    pub fn set_sim(&mut self, inserted: bool) {
        self.sim_inserted = inserted;
        if inserted {
            self.sim = if self.cfg.pin.is_some() {
                SimState::PinRequired
            } else {
                SimState::Ready
            };
            self.urc(
                if self.sim == SimState::Ready {
                    "+CPIN: READY"
                } else {
                    "+CPIN: SIM PIN"
                },
                false,
            );
            if self.sim == SimState::Ready {
                self.urc("SMS Ready", false);
            }
        } else {
            self.sim = SimState::Absent;
            self.urc("+CPIN: NOT READY", false);
        }
        self.registration_changed();
        self.flush_urcs();
    }

    /// Network coverage lost (`false`) or back (`true`).
    pub fn set_network(&mut self, up: bool) {
        self.network_up = up;
        self.registration_changed();
        self.flush_urcs();
    }

    /// True while the modem can receive an SMS from the network.
    pub fn attached(&self) -> bool {
        !matches!(self.input, Input::Off(_)) && matches!(self.reg_stat(), 1 | 5)
    }

    /// The network delivers one inbound segment, routed per `+CNMI` `<mt>` (TS 27.005
    /// §3.4.1): stored (+`+CMTI` when mt=1/3) or sent directly as `+CMT`.
    pub fn deliver(&mut self, sms: Inbound) -> Result<(), Unreachable> {
        if !self.attached() {
            return Err(Unreachable::Detached);
        }
        let mt = self.s.cnmi[1];
        if mt == 2 {
            let line = if self.s.text_mode {
                format!(
                    "+CMT: \"{}\",,\"{}\"\r\n{}",
                    self.te_text(&sms.from),
                    sms.scts.civil(self.offset).gsm_text(),
                    self.te_body(&sms.data)
                )
            } else {
                let pdu = self.deliver_pdu(&sms);
                format!("+CMT: ,{}\r\n{}", tpdu_len(&pdu), pdu::hex(&pdu))
            };
            self.urc(&line, true);
            self.flush_urcs();
            return Ok(());
        }
        let mem = self.s.cpms[2];
        let index = self
            .store(
                mem,
                Stored {
                    stat: Stat::RecUnread,
                    item: Item::Deliver(sms),
                },
            )
            .ok_or(Unreachable::MemoryFull)?;
        if mt == 1 || mt == 3 {
            self.urc(&format!("+CMTI: \"{}\",{index}", mem.name()), true);
        }
        self.flush_urcs();
        Ok(())
    }

    /// The network delivers a status report, routed per `+CNMI` `<ds>`: dropped (0),
    /// `+CDS` (1) or stored in "SR" with `+CDSI` (2).
    pub fn status_report(&mut self, report: StatusReport) -> Result<(), Unreachable> {
        if !self.attached() {
            return Err(Unreachable::Detached);
        }
        match self.s.cnmi[3] {
            1 => {
                let line = if self.s.text_mode {
                    format!(
                        "+CDS: 6,{},\"{}\",{},\"{}\",\"{}\",{}",
                        report.mr,
                        self.te_text(&report.recipient),
                        toa(&report.recipient),
                        report.scts.civil(self.offset).gsm_text(),
                        report.discharge.civil(self.offset).gsm_text(),
                        report.status
                    )
                } else {
                    let pdu = self.report_pdu(&report);
                    format!("+CDS: {}\r\n{}", tpdu_len(&pdu), pdu::hex(&pdu))
                };
                self.urc(&line, true);
            }
            2 => {
                let index = self
                    .store(
                        Mem::Sr,
                        Stored {
                            stat: Stat::RecUnread,
                            item: Item::Report(report),
                        },
                    )
                    .ok_or(Unreachable::MemoryFull)?;
                self.urc(&format!("+CDSI: \"SR\",{index}"), true);
            }
            _ => {}
        }
        self.flush_urcs();
        Ok(())
    }

    fn power_on(&mut self) {
        self.sim_busy_until = self.now + self.cfg.sim_busy;
        self.s = Settings::power_on(&self.cfg);
        self.input = Input::Command;
        self.line.clear();
        if self.sim_inserted {
            self.sim = if self.cfg.pin.is_some() {
                SimState::PinRequired
            } else {
                SimState::Ready
            };
        }
        for urc in self.cfg.boot_urcs.clone() {
            let urc = if urc == "+CPIN: READY" && self.sim != SimState::Ready {
                match self.sim {
                    SimState::Absent => "+CPIN: NOT INSERTED".to_string(),
                    _ => "+CPIN: SIM PIN".to_string(),
                }
            } else {
                urc
            };
            self.urc(&urc, false);
        }
        self.last_stat = self.reg_stat();
    }

    fn reg_stat(&self) -> u8 {
        if self.sim != SimState::Ready || self.s.cfun == 0 {
            0
        } else if !self.network_up {
            2
        } else if self.cfg.roaming {
            5
        } else {
            1
        }
    }

    fn registration_changed(&mut self) {
        let stat = self.reg_stat();
        if stat == self.last_stat {
            return;
        }
        self.last_stat = stat;
        if self.s.creg > 0 {
            self.urc(&format!("+CREG: {stat}"), false);
        }
        if self.s.cgreg > 0 {
            self.urc(&format!("+CGREG: {stat}"), false);
        }
    }

    fn urc(&mut self, text: &str, sms: bool) {
        let mut bytes = Vec::with_capacity(text.len() + 4);
        bytes.extend(b"\r\n");
        bytes.extend(text.as_bytes());
        bytes.extend(b"\r\n");
        self.urcs.push_back((sms, bytes));
    }

    /// URCs go out only between commands; SMS indications also wait while `+CNMI`
    /// mode is 0 (buffered in the TA, TS 27.005 §3.4.1).
    fn flush_urcs(&mut self) {
        if !matches!(self.input, Input::Command) || !self.line.is_empty() {
            return;
        }
        let hold_sms = self.s.cnmi[0] == 0;
        let mut kept = VecDeque::new();
        while let Some((sms, bytes)) = self.urcs.pop_front() {
            if sms && hold_sms {
                kept.push_back((sms, bytes));
            } else {
                self.out.extend(bytes);
            }
        }
        self.urcs = kept;
    }

    fn byte(&mut self, b: u8, now: SimInstant, net: &mut dyn Network) {
        match &mut self.input {
            Input::Off(_) | Input::Busy { .. } => {}
            Input::Command => {
                if self.s.echo {
                    self.out.push(b);
                }
                match b {
                    b'\r' => {
                        let line = std::mem::take(&mut self.line);
                        if !self.urcs.is_empty() && self.rng.chance(self.cfg.urc_race) {
                            // The URC wins the race against the answer.
                            self.flush_urcs();
                        }
                        self.command_line(&line, now, net);
                    }
                    b'\n' => {}
                    0x08 | 0x7F => {
                        self.line.pop();
                    }
                    ESC => self.line.clear(),
                    _ if self.line.len() < MAX_LINE => self.line.push(b),
                    _ => {}
                }
            }
            Input::Prompt(kind, buf) => match b {
                CTRL_Z => {
                    if self.s.echo {
                        self.out.push(b);
                    }
                    let (kind, buf) = (kind.clone(), std::mem::take(buf));
                    self.input = Input::Command;
                    self.finish_prompt(kind, &buf, now, net);
                }
                ESC => {
                    self.input = Input::Command;
                    self.final_ok();
                }
                _ => {
                    if self.s.echo {
                        self.out.push(b);
                    }
                    let text = matches!(
                        kind,
                        PromptKind::SendText { .. } | PromptKind::WriteText { .. }
                    );
                    if buf.len() < MAX_PROMPT_INPUT {
                        buf.push(b);
                    }
                    if text && b == b'\r' {
                        let prompt = self.prompt_bytes();
                        self.out.extend(prompt);
                    }
                }
            },
        }
    }

    fn prompt_bytes(&self) -> &'static [u8] {
        if self.cfg.bare_prompt {
            b"\r\n>\r\n"
        } else {
            b"\r\n> "
        }
    }

    // ---- result formatting (V.250 §5.7: V1 wraps in CRLF, V0 uses numeric codes)

    fn info_block(&mut self, lines: &[String]) {
        if lines.is_empty() || self.s.quiet {
            return;
        }
        if self.s.verbose {
            self.out.extend(b"\r\n");
            self.out.extend(lines.join("\r\n").as_bytes());
            self.out.extend(b"\r\n");
        } else {
            for l in lines {
                self.out.extend(l.as_bytes());
                self.out.extend(b"\r\n");
            }
        }
    }

    fn final_ok(&mut self) {
        if self.s.quiet {
            return;
        }
        self.out.extend(if self.s.verbose {
            &b"\r\nOK\r\n"[..]
        } else {
            b"0\r"
        });
    }

    fn final_fail(&mut self, fail: Fail) {
        let text = match fail {
            Fail::Error => None,
            Fail::Cme(code) => match self.s.cmee {
                0 => None,
                1 => Some(format!("+CME ERROR: {code}")),
                _ => Some(format!("+CME ERROR: {}", cme_text(code))),
            },
            Fail::Cms(code) => match self.s.cmee {
                2 => Some(format!("+CMS ERROR: {}", cms_text(code))),
                _ => Some(format!("+CMS ERROR: {code}")),
            },
        };
        match (text, self.s.verbose) {
            (Some(t), true) => self.out.extend(format!("\r\n{t}\r\n").as_bytes()),
            (Some(t), false) => self.out.extend(format!("{t}\r\n").as_bytes()),
            (None, true) => self.out.extend(b"\r\nERROR\r\n"),
            (None, false) => self.out.extend(b"4\r"),
        }
    }

    fn fail_bytes(&mut self, fail: Fail) -> Vec<u8> {
        let saved = std::mem::take(&mut self.out);
        self.final_fail(fail);
        std::mem::replace(&mut self.out, saved)
    }

    fn reply_bytes(&mut self, lines: &[String]) -> Vec<u8> {
        let saved = std::mem::take(&mut self.out);
        self.info_block(lines);
        self.final_ok();
        std::mem::replace(&mut self.out, saved)
    }

    // ---- command lines

    fn command_line(&mut self, line: &[u8], now: SimInstant, net: &mut dyn Network) {
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim();
        if !trimmed
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case("AT"))
        {
            // Not a command line (stray bytes, gammu's ESC CR): V.250 ignores it.
            return;
        }
        let commands = match split_commands(&trimmed[2..]) {
            Some(c) => c,
            None => return self.final_fail(Fail::Error),
        };
        for (name, op) in commands {
            match self.command(&name, op, now, net) {
                Ok(reply) => {
                    self.info_block(&reply.lines);
                    if let Some(kind) = reply.prompt {
                        let prompt = self.prompt_bytes();
                        self.out.extend(prompt);
                        self.input = Input::Prompt(kind, Vec::new());
                        return;
                    }
                    if let Some((latency, bytes)) = reply.busy {
                        self.finish_later(now, latency, bytes);
                        return;
                    }
                }
                Err(fail) => return self.final_fail(fail),
            }
        }
        self.final_ok();
    }

    fn finish_later(&mut self, now: SimInstant, latency: SimDuration, bytes: Vec<u8>) {
        if latency.0 <= 0 {
            self.out.extend(bytes);
        } else {
            self.input = Input::Busy {
                until: now + latency,
                reply: bytes,
            };
        }
    }

    fn need_sim(&self) -> Result<(), Fail> {
        if self.now < self.sim_busy_until {
            return Err(Fail::Cms(314));
        }
        match self.sim {
            SimState::Ready => Ok(()),
            SimState::PinRequired => Err(Fail::Cms(311)),
            SimState::Absent => Err(Fail::Cms(310)),
        }
    }

    fn need_sim_cme(&self) -> Result<(), Fail> {
        if self.now < self.sim_busy_until {
            return Err(Fail::Cme(14));
        }
        match self.sim {
            SimState::Ready => Ok(()),
            SimState::PinRequired => Err(Fail::Cme(11)),
            SimState::Absent => Err(Fail::Cme(10)),
        }
    }

    fn command(
        &mut self,
        name: &str,
        op: Op,
        now: SimInstant,
        net: &mut dyn Network,
    ) -> Result<Reply, Fail> {
        let args = match &op {
            Op::Set(a) => parse_args(a),
            _ => Vec::new(),
        };
        let int = |i: usize| -> Result<u32, Fail> {
            args.get(i)
                .and_then(|a| a.text.parse().ok())
                .ok_or(Fail::Error)
        };
        let flag = |v: u32, max: u32| {
            if v <= max {
                Ok(v as u8)
            } else {
                Err(Fail::Error)
            }
        };
        match (name, &op) {
            // ---- V.250 basics
            ("E", Op::Set(_)) | ("E", Op::Exec) => {
                self.s.echo = int(0).unwrap_or(0) == 1;
                Reply::ok()
            }
            ("V", Op::Set(_)) | ("V", Op::Exec) => {
                self.s.verbose = int(0).unwrap_or(0) == 1;
                Reply::ok()
            }
            ("Q", Op::Set(_)) | ("Q", Op::Exec) => {
                self.s.quiet = int(0).unwrap_or(0) == 1;
                Reply::ok()
            }
            ("Z", _) | ("&F", _) => {
                self.s = Settings::power_on(&self.cfg);
                Reply::ok()
            }
            ("I", _) => Reply::line(format!("{} {}", self.cfg.model, self.cfg.revision)),
            ("&W", _) | ("&D", _) | ("&C", _) | ("X", _) | ("H", _) | ("S", _) => Reply::ok(),
            // ---- TS 27.007 §5: identification
            ("+CGMI" | "+GMI", Op::Exec) => Reply::line(self.cfg.manufacturer.clone()),
            ("+CGMM" | "+GMM", Op::Exec) => Reply::line(self.cfg.model.clone()),
            ("+CGMR" | "+GMR", Op::Exec) => Reply::line(self.cfg.revision.clone()),
            ("+CGSN" | "+GSN", Op::Exec) => Reply::line(self.cfg.imei.clone()),
            (
                "+CGMI" | "+GMI" | "+CGMM" | "+GMM" | "+CGMR" | "+GMR" | "+CGSN" | "+GSN",
                Op::Test,
            ) => Reply::ok(),
            ("+CIMI", Op::Exec) => {
                self.need_sim_cme()?;
                Reply::line(self.cfg.imsi.clone())
            }
            ("+CNUM", Op::Exec) => {
                self.need_sim_cme()?;
                Reply::line(format!(
                    "+CNUM: \"\",\"{}\",{}",
                    self.cfg.msisdn,
                    toa(&self.cfg.msisdn)
                ))
            }
            // ---- TS 27.007 §9.1: error reporting
            ("+CMEE", Op::Set(_)) => {
                self.s.cmee = flag(int(0)?, 2)?;
                Reply::ok()
            }
            ("+CMEE", Op::Read) => Reply::line(format!("+CMEE: {}", self.s.cmee)),
            ("+CMEE", Op::Test) => Reply::line("+CMEE: (0-2)".into()),
            // ---- TS 27.007 §8: mobile termination control
            ("+CFUN", Op::Read) => Reply::line(format!("+CFUN: {}", self.s.cfun)),
            ("+CFUN", Op::Test) => Reply::line("+CFUN: (0,1,4),(0,1)".into()),
            ("+CFUN", Op::Set(_)) => {
                let fun = int(0)?;
                if !matches!(fun, 0 | 1 | 4) {
                    return Err(Fail::Cme(3));
                }
                if int(1).unwrap_or(0) == 1 {
                    self.reboot(now);
                    return Reply::ok();
                }
                self.s.cfun = if fun == 1 { 1 } else { 0 };
                self.registration_changed();
                Reply::ok()
            }
            ("+CPAS", Op::Exec) => Reply::line("+CPAS: 0".into()),
            ("+CPIN", Op::Read) => match self.sim {
                SimState::Ready => Reply::line("+CPIN: READY".into()),
                SimState::PinRequired => Reply::line("+CPIN: SIM PIN".into()),
                SimState::Absent => Err(Fail::Cme(10)),
            },
            ("+CPIN", Op::Set(_)) => {
                match self.sim {
                    SimState::Absent => return Err(Fail::Cme(10)),
                    SimState::Ready => return Err(Fail::Cme(3)),
                    SimState::PinRequired => {}
                }
                let given = args.first().map(|a| a.text.as_str());
                if given != self.cfg.pin.as_deref() {
                    return Err(Fail::Cme(16));
                }
                self.sim = SimState::Ready;
                self.sim_busy_until = now + self.cfg.sim_busy;
                self.urc("+CPIN: READY", false);
                self.urc("SMS Ready", false);
                self.registration_changed();
                Reply::ok()
            }
            ("+CBC", Op::Exec) => Reply::line("+CBC: 0,87,4102".into()),
            ("+CCLK", Op::Read) => {
                let t = SimInstant(now.0 + self.clock_delta);
                Reply::line(format!("+CCLK: \"{}\"", t.civil(self.offset).gsm_text()))
            }
            ("+CCLK", Op::Set(_)) => {
                let set = args
                    .first()
                    .and_then(|a| parse_cclk(&a.text))
                    .ok_or(Fail::Cme(3))?;
                self.clock_delta = set.0 - now.0;
                Reply::ok()
            }
            // ---- TS 27.007 §7: network
            ("+CREG" | "+CGREG" | "+CEREG", Op::Set(_)) => {
                let n = flag(int(0)?, 2)?;
                match name {
                    "+CREG" => self.s.creg = n,
                    "+CGREG" => self.s.cgreg = n,
                    _ => self.s.cereg = n,
                }
                Reply::ok()
            }
            ("+CREG" | "+CGREG" | "+CEREG", Op::Read) => {
                let n = match name {
                    "+CREG" => self.s.creg,
                    "+CGREG" => self.s.cgreg,
                    _ => self.s.cereg,
                };
                let stat = self.reg_stat();
                let extra = if n == 2 && (stat == 1 || stat == 5) {
                    ",\"1A2B\",\"00C3D4E5\""
                } else {
                    ""
                };
                Reply::line(format!("{name}: {n},{stat}{extra}"))
            }
            ("+CREG" | "+CGREG" | "+CEREG", Op::Test) => Reply::line(format!("{name}: (0-2)")),
            ("+CGATT", Op::Read) => Reply::line(format!(
                "+CGATT: {}",
                u8::from(matches!(self.reg_stat(), 1 | 5))
            )),
            ("+CGATT", Op::Set(_)) => Reply::ok(),
            ("+CSQ", Op::Exec) => {
                if self.reg_stat() == 0 || !self.network_up {
                    Reply::line("+CSQ: 99,99".into())
                } else {
                    Reply::line(format!("+CSQ: {},0", self.cfg.rssi.min(31)))
                }
            }
            ("+CSQ", Op::Test) => Reply::line("+CSQ: (0-31,99),(0-7,99)".into()),
            ("+COPS", Op::Read) => {
                if !matches!(self.reg_stat(), 1 | 5) {
                    return Reply::line("+COPS: 0".into());
                }
                let oper = match self.s.cops_format {
                    2 => self.cfg.operator_numeric.clone(),
                    _ => self.cfg.operator_long.clone(),
                };
                Reply::line(format!("+COPS: 0,{},\"{oper}\"", self.s.cops_format))
            }
            ("+COPS", Op::Set(_)) => {
                if int(0)? == 3 {
                    self.s.cops_format = flag(int(1)?, 2)?;
                }
                Reply::ok()
            }
            ("+COPS", Op::Test) => Reply::line(format!(
                "+COPS: (2,\"{}\",\"{}\",\"{}\"),,(0-4),(0-2)",
                self.cfg.operator_long, self.cfg.operator_long, self.cfg.operator_numeric
            )),
            ("+CUSD", Op::Set(_)) => {
                let n = int(0)?;
                if n == 1 {
                    if let Some(code) = args.get(1) {
                        let answer = net.ussd(&self.name, &code.text);
                        let urc = match answer {
                            Some(a) => format!("+CUSD: 0,\"{}\",15", self.te_text(&a)),
                            None => "+CUSD: 4".to_string(),
                        };
                        self.delayed.push((now + SimDuration::from_secs(2), urc));
                    }
                }
                Reply::ok()
            }
            ("+CUSD", Op::Read) => Reply::line("+CUSD: 1".into()),
            ("+CUSD", Op::Test) => Reply::line("+CUSD: (0-2)".into()),
            // ---- TS 27.005 §3: SMS
            ("+CSCS", Op::Read) => Reply::line(format!("+CSCS: \"{}\"", self.s.cscs.name())),
            ("+CSCS", Op::Test) => Reply::line(
                "+CSCS: (\"IRA\",\"GSM\",\"UCS2\",\"HEX\",\"PCCP\",\"PCDN\",\"8859-1\")".into(),
            ),
            ("+CSCS", Op::Set(_)) => {
                self.s.cscs = match args.first().map(|a| a.text.as_str()) {
                    Some("IRA") => Charset::Ira,
                    Some("GSM") => Charset::Gsm,
                    Some("UCS2") => Charset::Ucs2,
                    Some("HEX") => Charset::Hex,
                    Some("8859-1") => Charset::Latin1,
                    _ => return Err(Fail::Cme(4)),
                };
                Reply::ok()
            }
            ("+CSMS", Op::Set(_)) => {
                if int(0)? != 0 {
                    return Err(Fail::Cms(303));
                }
                Reply::line("+CSMS: 1,1,1".into())
            }
            ("+CSMS", Op::Read) => Reply::line("+CSMS: 0,1,1,1".into()),
            ("+CSMS", Op::Test) => Reply::line("+CSMS: (0)".into()),
            ("+CNMA", _) => Err(Fail::Cms(340)),
            ("+CMGF", Op::Set(_)) => {
                self.s.text_mode = flag(int(0)?, 1)? == 1;
                Reply::ok()
            }
            ("+CMGF", Op::Read) => Reply::line(format!("+CMGF: {}", u8::from(self.s.text_mode))),
            ("+CMGF", Op::Test) => Reply::line("+CMGF: (0,1)".into()),
            ("+CSDH", Op::Set(_)) => {
                self.s.csdh = int(0)? == 1;
                Reply::ok()
            }
            ("+CSDH", Op::Read) => Reply::line(format!("+CSDH: {}", u8::from(self.s.csdh))),
            ("+CSMP", Op::Set(_)) => {
                for i in 0..4 {
                    if let Some(v) = args.get(i).and_then(|a| a.text.parse::<u8>().ok()) {
                        self.s.csmp[i] = v;
                    }
                }
                Reply::ok()
            }
            ("+CSMP", Op::Read) => {
                let [fo, vp, pid, dcs] = self.s.csmp;
                Reply::line(format!("+CSMP: {fo},{vp},{pid},{dcs}"))
            }
            ("+CSCA", Op::Read) => {
                self.need_sim()?;
                Reply::line(format!(
                    "+CSCA: \"{}\",{}",
                    self.te_text(&self.s.csca),
                    toa(&self.s.csca)
                ))
            }
            ("+CSCA", Op::Set(_)) => {
                self.need_sim()?;
                let number = args.first().ok_or(Fail::Cms(304))?;
                self.s.csca = self.te_decode(&number.text).ok_or(Fail::Cms(304))?;
                Reply::ok()
            }
            ("+CNMI", Op::Set(_)) => {
                let max = [3, 3, 3, 2, 1];
                let mut cnmi = self.s.cnmi;
                for (i, m) in max.iter().enumerate() {
                    if let Some(a) = args.get(i) {
                        if a.text.is_empty() {
                            continue;
                        }
                        let v: u32 = a.text.parse().map_err(|_| Fail::Cms(303))?;
                        cnmi[i] = if v <= *m {
                            v as u8
                        } else {
                            return Err(Fail::Cms(303));
                        };
                    }
                }
                self.s.cnmi = cnmi;
                if cnmi[0] != 0 && cnmi[4] == 1 {
                    self.urcs.retain(|(sms, _)| !sms);
                }
                Reply::ok()
            }
            ("+CNMI", Op::Read) => {
                let [a, b, c, d, e] = self.s.cnmi;
                Reply::line(format!("+CNMI: {a},{b},{c},{d},{e}"))
            }
            ("+CNMI", Op::Test) => Reply::line("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)".into()),
            ("+CMMS", Op::Set(_)) => {
                self.s.cmms = flag(int(0).unwrap_or(0), 2)?;
                Reply::ok()
            }
            ("+CMMS", Op::Read) => Reply::line(format!("+CMMS: {}", self.s.cmms)),
            ("+CMMS", Op::Test) => Reply::line("+CMMS: (0-2)".into()),
            ("+CPMS", Op::Test) => {
                Reply::line("+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into())
            }
            ("+CPMS", Op::Read) => {
                self.need_sim()?;
                let parts: Vec<String> = self
                    .s
                    .cpms
                    .iter()
                    .map(|m| {
                        let (used, total) = self.usage(*m);
                        format!("\"{}\",{used},{total}", m.name())
                    })
                    .collect();
                Reply::line(format!("+CPMS: {}", parts.join(",")))
            }
            ("+CPMS", Op::Set(_)) => {
                self.need_sim()?;
                let mut cpms = self.s.cpms;
                for (i, a) in args.iter().take(3).enumerate() {
                    let mem = Mem::parse(&a.text).ok_or(Fail::Cms(302))?;
                    if i > 0 && mem == Mem::Sr {
                        return Err(Fail::Cms(302));
                    }
                    cpms[i] = mem;
                }
                self.s.cpms = cpms;
                let parts: Vec<String> = cpms
                    .iter()
                    .map(|m| {
                        let (u, t) = self.usage(*m);
                        format!("{u},{t}")
                    })
                    .collect();
                Reply::line(format!("+CPMS: {}", parts.join(",")))
            }
            ("+CMGL", Op::Test) => Reply::line(if self.s.text_mode {
                "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")".into()
            } else {
                "+CMGL: (0-4)".into()
            }),
            ("+CMGL", Op::Set(_) | Op::Exec) => {
                self.need_sim()?;
                let filter = parse_filter(args.first(), self.s.text_mode)
                    .ok_or(Fail::Cms(if self.s.text_mode { 305 } else { 304 }))?;
                self.list(filter)
            }
            ("+CMGR", Op::Set(_)) => {
                self.need_sim()?;
                let index = int(0).map_err(|_| Fail::Cms(321))? as usize;
                self.read(index)
            }
            ("+CMGR", Op::Test) => Reply::ok(),
            ("+CMGD", Op::Test) => {
                let (first, total) = (self.cfg.first_index, self.usage(self.s.cpms[0]).1);
                Reply::line(format!(
                    "+CMGD: ({first}-{}),(0-4)",
                    (first + total).saturating_sub(1)
                ))
            }
            ("+CMGD", Op::Set(_)) => {
                self.need_sim()?;
                let index = int(0).map_err(|_| Fail::Cms(321))? as usize;
                let delflag = int(1).unwrap_or(0);
                self.delete(index, delflag)
            }
            ("+CMGS" | "+CMGW", Op::Test) => Reply::ok(),
            ("+CMGS", Op::Set(_)) => {
                self.need_sim()?;
                if self.s.text_mode {
                    let to = args.first().ok_or(Fail::Cms(305))?;
                    let to = self.te_decode(&to.text).ok_or(Fail::Cms(305))?;
                    Ok(Reply {
                        prompt: Some(PromptKind::SendText { to }),
                        ..Reply::default()
                    })
                } else {
                    let len = int(0).map_err(|_| Fail::Cms(304))? as usize;
                    if !(7..=164).contains(&len) {
                        return Err(Fail::Cms(304));
                    }
                    Ok(Reply {
                        prompt: Some(PromptKind::SendPdu { len }),
                        ..Reply::default()
                    })
                }
            }
            ("+CMGW", Op::Set(_) | Op::Exec) => {
                self.need_sim()?;
                if self.s.text_mode {
                    let to = match args.first() {
                        Some(a) => self.te_decode(&a.text).ok_or(Fail::Cms(305))?,
                        None => String::new(),
                    };
                    let stat = match args.get(2).map(|a| a.text.as_str()) {
                        Some("STO SENT") => Stat::StoSent,
                        _ => Stat::StoUnsent,
                    };
                    Ok(Reply {
                        prompt: Some(PromptKind::WriteText { to, stat }),
                        ..Reply::default()
                    })
                } else {
                    let len = int(0).map_err(|_| Fail::Cms(304))? as usize;
                    let stat = match int(1) {
                        Ok(n) => Stat::from_num(n).ok_or(Fail::Cms(304))?,
                        Err(_) => Stat::StoUnsent,
                    };
                    Ok(Reply {
                        prompt: Some(PromptKind::WritePdu { len, stat }),
                        ..Reply::default()
                    })
                }
            }
            ("+CMSS", Op::Set(_)) => {
                self.need_sim()?;
                let index = int(0).map_err(|_| Fail::Cms(321))? as usize;
                let to = match args.get(1) {
                    Some(a) => Some(self.te_decode(&a.text).ok_or(Fail::Cms(304))?),
                    None => None,
                };
                self.send_stored(index, to, now, net)
            }
            // Accepted and ignored: URC presentation and vendor settings clients send.
            (
                "+CIURC" | "+CLTS" | "+CTZU" | "+CTZR" | "+CLIP" | "+CRC" | "+CVHU" | "+IPR"
                | "+IFC" | "+CSCB" | "+CMIC" | "+CALM" | "+CNETLIGHT",
                Op::Set(_),
            ) => Reply::ok(),
            _ => Err(Fail::Error),
        }
    }

    // ---- storage

    fn usage(&self, mem: Mem) -> (usize, usize) {
        let store = &self.stores[mem.slot()];
        (store.iter().filter(|s| s.is_some()).count(), store.len())
    }

    fn store(&mut self, mem: Mem, item: Stored) -> Option<usize> {
        let store = &mut self.stores[mem.slot()];
        let free = store.iter().position(|s| s.is_none())?;
        store[free] = Some(item);
        Some(free + self.cfg.first_index)
    }

    fn slot(&self, index: usize) -> Option<usize> {
        let slot = index.checked_sub(self.cfg.first_index)?;
        (slot < self.stores[self.s.cpms[0].slot()].len()).then_some(slot)
    }

    fn item_lines(&self, index: usize, stored: &Stored, list: bool) -> Vec<String> {
        let head = if list {
            format!("+CMGL: {index},")
        } else {
            "+CMGR: ".to_string()
        };
        if !self.s.text_mode {
            let pdu = self.item_pdu(&stored.item);
            return vec![
                format!("{head}{},,{}", stored.stat as u8, tpdu_len(&pdu)),
                pdu::hex(&pdu),
            ];
        }
        let stat = stored.stat.text();
        match &stored.item {
            Item::Deliver(d) => vec![
                format!(
                    "{head}\"{stat}\",\"{}\",,\"{}\"",
                    self.te_text(&d.from),
                    d.scts.civil(self.offset).gsm_text()
                ),
                self.te_body(&d.data),
            ],
            Item::Submit { to, text, .. } => vec![
                format!("{head}\"{stat}\",\"{}\",", self.te_text(to)),
                self.te_text(text),
            ],
            Item::Report(r) => vec![format!(
                "{head}\"{stat}\",6,{},\"{}\",{},\"{}\",\"{}\",{}",
                r.mr,
                self.te_text(&r.recipient),
                toa(&r.recipient),
                r.scts.civil(self.offset).gsm_text(),
                r.discharge.civil(self.offset).gsm_text(),
                r.status
            )],
        }
    }

    fn list(&mut self, filter: Option<Stat>) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        let mut lines = Vec::new();
        let first = self.cfg.first_index;
        for slot in 0..self.stores[mem].len() {
            let Some(stored) = &self.stores[mem][slot] else {
                continue;
            };
            if filter.is_some_and(|f| f != stored.stat) {
                continue;
            }
            lines.extend(self.item_lines(slot + first, stored, true));
        }
        // Listing marks received messages as read (TS 27.005 §3.4.2).
        for stored in self.stores[mem].iter_mut().flatten() {
            if stored.stat == Stat::RecUnread && filter.is_none_or(|f| f == Stat::RecUnread) {
                stored.stat = Stat::RecRead;
            }
        }
        Reply::lines(lines)
    }

    fn read(&mut self, index: usize) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        let slot = self.slot(index).ok_or(Fail::Cms(321))?;
        let stored = self.stores[mem][slot].clone().ok_or(Fail::Cms(321))?;
        let lines = self.item_lines(index, &stored, false);
        if let Some(s) = &mut self.stores[mem][slot] {
            if s.stat == Stat::RecUnread {
                s.stat = Stat::RecRead;
            }
        }
        Reply::lines(lines)
    }

    fn delete(&mut self, index: usize, delflag: u32) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        if delflag == 0 {
            let slot = self.slot(index).ok_or(Fail::Cms(321))?;
            self.stores[mem][slot] = None;
            return Reply::ok();
        }
        let doomed: &[Stat] = match delflag {
            1 => &[Stat::RecRead],
            2 => &[Stat::RecRead, Stat::StoSent],
            3 => &[Stat::RecRead, Stat::StoSent, Stat::StoUnsent],
            4 => &[
                Stat::RecRead,
                Stat::StoSent,
                Stat::StoUnsent,
                Stat::RecUnread,
            ],
            _ => return Err(Fail::Cms(321)),
        };
        for s in &mut self.stores[mem] {
            if s.as_ref().is_some_and(|x| doomed.contains(&x.stat)) {
                *s = None;
            }
        }
        Reply::ok()
    }

    fn item_pdu(&self, item: &Item) -> Vec<u8> {
        match item {
            Item::Deliver(d) => self.deliver_pdu(d),
            Item::Report(r) => self.report_pdu(r),
            Item::Submit { pdu, .. } => pdu.clone(),
        }
    }

    fn deliver_pdu(&self, d: &Inbound) -> Vec<u8> {
        pdu::encode_deliver(&self.s.csca, &d.from, d.scts, self.offset, &d.data)
    }

    fn report_pdu(&self, r: &StatusReport) -> Vec<u8> {
        pdu::encode_status_report(
            &self.s.csca,
            r.mr,
            &r.recipient,
            r.scts,
            r.discharge,
            self.offset,
            r.status,
        )
    }

    // ---- sending

    fn finish_prompt(
        &mut self,
        kind: PromptKind,
        buf: &[u8],
        now: SimInstant,
        net: &mut dyn Network,
    ) {
        let result = match kind {
            PromptKind::SendPdu { len } => self.parse_pdu(buf, len).and_then(|(pdu, smsc_len)| {
                let submit = pdu::decode_submit(&pdu[smsc_len..]).map_err(|_| Fail::Cms(304))?;
                let smsc = pdu::decode_smsc(&pdu).map(|s| s.0).unwrap_or_default();
                if smsc.is_empty() && self.s.csca.is_empty() {
                    return Err(Fail::Cms(330));
                }
                let sub = Submission {
                    mr: 0,
                    to: submit.to,
                    text: submit.text,
                    alphabet: submit.alphabet,
                    concat: submit.concat,
                    status_report: submit.status_report,
                    mode: SubmitMode::Pdu,
                };
                self.submit(sub, "+CMGS", now, net)
            }),
            PromptKind::SendText { to } => self
                .text_submission(to, buf)
                .and_then(|sub| self.submit(sub, "+CMGS", now, net)),
            PromptKind::WritePdu { len, stat } => {
                self.parse_pdu(buf, len).and_then(|(pdu, smsc_len)| {
                    let submit =
                        pdu::decode_submit(&pdu[smsc_len..]).map_err(|_| Fail::Cms(304))?;
                    let item = Item::Submit {
                        to: submit.to,
                        text: submit.text,
                        pdu,
                    };
                    self.write(item, stat)
                })
            }
            PromptKind::WriteText { to, stat } => self.text_submission(to, buf).and_then(|sub| {
                let pdu = pdu::encode_submit(&sub.to, &sub.text, sub.status_report);
                let item = Item::Submit {
                    to: sub.to,
                    text: sub.text,
                    pdu,
                };
                self.write(item, stat)
            }),
        };
        match result {
            Ok(Some((latency, bytes))) => self.finish_later(now, latency, bytes),
            Ok(None) => {}
            Err(fail) => self.final_fail(fail),
        }
    }

    fn write(&mut self, item: Item, stat: Stat) -> Result<Option<(SimDuration, Vec<u8>)>, Fail> {
        let mem = self.s.cpms[1];
        let index = self
            .store(mem, Stored { stat, item })
            .ok_or(Fail::Cms(322))?;
        let bytes = self.reply_bytes(&[format!("+CMGW: {index}")]);
        Ok(Some((SimDuration(0), bytes)))
    }

    /// Hex after the prompt → bytes, checking `<length>` against the TPDU (AT-PDU.md §2.4).
    fn parse_pdu(&self, buf: &[u8], len: usize) -> Result<(Vec<u8>, usize), Fail> {
        let pdu = pdu::unhex(buf).ok_or(Fail::Cms(304))?;
        let smsc_len = usize::from(*pdu.first().ok_or(Fail::Cms(304))?) + 1;
        if pdu.len() != smsc_len + len {
            return Err(Fail::Cms(304));
        }
        Ok((pdu, smsc_len))
    }

    fn text_submission(&self, to: String, buf: &[u8]) -> Result<Submission, Fail> {
        let raw = String::from_utf8_lossy(buf).into_owned();
        let text = self.te_decode(&raw).ok_or(Fail::Cms(305))?;
        let [fo, _, _, dcs] = self.s.csmp;
        let alphabet = Alphabet::from_dcs(dcs);
        let units = match alphabet {
            Alphabet::Gsm7 => pdu::gsm7_encode(&text).ok_or(Fail::Cms(305))?.len(),
            Alphabet::Ucs2 => text.encode_utf16().count() * 2,
            Alphabet::Eight => text.len(),
        };
        if units > 160 || (alphabet != Alphabet::Gsm7 && units > 140) {
            return Err(Fail::Cms(305));
        }
        Ok(Submission {
            mr: 0,
            to,
            text,
            alphabet,
            concat: None,
            status_report: fo & 0x20 != 0,
            mode: SubmitMode::Text,
        })
    }

    fn submit(
        &mut self,
        mut sub: Submission,
        answer: &str,
        now: SimInstant,
        net: &mut dyn Network,
    ) -> Result<Option<(SimDuration, Vec<u8>)>, Fail> {
        if self.s.cfun == 0 || !self.network_up {
            return Err(Fail::Cms(331));
        }
        self.mr = self.mr.wrapping_add(1);
        sub.mr = self.mr;
        let outcome = net.submit(&self.name, now, sub);
        let bytes = match outcome.result {
            Ok(()) => self.reply_bytes(&[format!("{answer}: {}", self.mr)]),
            Err(code) => self.fail_bytes(Fail::Cms(code)),
        };
        Ok(Some((outcome.latency, bytes)))
    }

    fn send_stored(
        &mut self,
        index: usize,
        to: Option<String>,
        now: SimInstant,
        net: &mut dyn Network,
    ) -> Result<Reply, Fail> {
        let mem = self.s.cpms[1].slot();
        let slot = index
            .checked_sub(self.cfg.first_index)
            .filter(|s| *s < self.stores[mem].len())
            .ok_or(Fail::Cms(321))?;
        let Some(Stored {
            item: Item::Submit { pdu, .. },
            ..
        }) = self.stores[mem][slot].clone()
        else {
            return Err(Fail::Cms(321));
        };
        let smsc_len = usize::from(pdu.first().copied().unwrap_or(0)) + 1;
        let submit = pdu
            .get(smsc_len..)
            .and_then(|t| pdu::decode_submit(t).ok())
            .ok_or(Fail::Cms(304))?;
        let sub = Submission {
            mr: 0,
            to: to.unwrap_or(submit.to),
            text: submit.text,
            alphabet: submit.alphabet,
            concat: submit.concat,
            status_report: submit.status_report,
            mode: if self.s.text_mode {
                SubmitMode::Text
            } else {
                SubmitMode::Pdu
            },
        };
        let done = self.submit(sub, "+CMSS", now, net)?;
        if let Some(s) = &mut self.stores[mem][slot] {
            s.stat = Stat::StoSent;
        }
        Ok(Reply {
            busy: done,
            ..Reply::default()
        })
    }

    // ---- TE character set (+CSCS) for text-mode strings

    fn te_text(&self, s: &str) -> String {
        match self.s.cscs {
            Charset::Ucs2 => s.encode_utf16().map(|u| format!("{u:04X}")).collect(),
            Charset::Hex => match pdu::gsm7_encode(s) {
                Some(septets) => pdu::hex(&septets),
                None => pdu::hex(s.as_bytes()),
            },
            _ => s.to_string(),
        }
    }

    fn te_decode(&self, s: &str) -> Option<String> {
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
    fn te_body(&self, data: &UserData) -> String {
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

/// TPDU length of SMSC field + TPDU (what `+CMGS`/`+CMGR`/`+CMT` count, AT-PDU.md §2.4).
fn tpdu_len(pdu: &[u8]) -> usize {
    let smsc = usize::from(pdu.first().copied().unwrap_or(0)) + 1;
    pdu.len().saturating_sub(smsc)
}

/// Type of address for text-mode answers: 145 international, 129 otherwise.
fn toa(number: &str) -> u8 {
    if number.starts_with('+') { 145 } else { 129 }
}

fn parse_cclk(text: &str) -> Option<SimInstant> {
    // yy/MM/dd,hh:mm:ss±zz
    let (date, time) = text.split_once(',')?;
    let d: Vec<u32> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (clock, tz) = match time.find(['+', '-']) {
        Some(i) => (&time[..i], &time[i..]),
        None => (time, "+00"),
    };
    let t: Vec<u32> = clock
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let quarters: i8 = tz.parse().ok()?;
    Some(SimInstant::from_civil(
        2000 + i64::from(d[0]),
        d[1],
        d[2],
        (t[0], t[1], t[2]),
        UtcOffset(quarters),
    ))
}

/// Splits the part of a command line after `AT` into (name, operation) pairs:
/// basic commands (`E0`, `V1`, `&F`, `Z`) and extended ones (`+CMGF=0`, `+CSQ`,
/// `+CPMS?`, `+CNMI=?`), extended ones separated by `;` (V.250 §5.3).
fn split_commands(body: &str) -> Option<Vec<(String, Op)>> {
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == ';' || c == ' ' {
            i += 1;
            continue;
        }
        if matches!(c, '+' | '$' | '^' | '*' | '#' | '%') {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i]
                .iter()
                .collect::<String>()
                .to_ascii_uppercase();
            let op = if chars.get(i) == Some(&'=') && chars.get(i + 1) == Some(&'?') {
                i += 2;
                Op::Test
            } else if chars.get(i) == Some(&'?') {
                i += 1;
                Op::Read
            } else if chars.get(i) == Some(&'=') {
                i += 1;
                let start = i;
                let mut quoted = false;
                while i < chars.len() && (quoted || chars[i] != ';') {
                    if chars[i] == '"' {
                        quoted = !quoted;
                    }
                    i += 1;
                }
                Op::Set(chars[start..i].iter().collect())
            } else {
                Op::Exec
            };
            out.push((name, op));
            continue;
        }
        let (name, next) = if c == '&' {
            (
                format!("&{}", chars.get(i + 1)?.to_ascii_uppercase()),
                i + 2,
            )
        } else if c.is_ascii_alphabetic() {
            (c.to_ascii_uppercase().to_string(), i + 1)
        } else {
            return None;
        };
        if name == "D" {
            // Dialling is not simulated.
            return None;
        }
        i = next;
        if name == "S" {
            // S-register: Sn?, Sn=v
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'?') {
                i += 1;
            } else if chars.get(i) == Some(&'=') {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push((name, Op::Exec));
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let op = if i > start {
            Op::Set(chars[start..i].iter().collect())
        } else {
            Op::Exec
        };
        out.push((name, op));
    }
    Some(out)
}

/// Splits `a,"b,c",d` at commas outside quotes.
fn parse_args(text: &str) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                out.push(Arg {
                    text: cur.trim().to_string(),
                });
                cur.clear();
                was_quoted = false;
            }
            _ => cur.push(c),
        }
    }
    // A quoted last argument keeps its spaces; a bare one is trimmed.
    out.push(Arg {
        text: if was_quoted {
            cur
        } else {
            cur.trim().to_string()
        },
    });
    out
}

fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        14 => "SIM busy",
        16 => "incorrect password",
        30 => "no network service",
        _ => "unknown",
    }
}

fn cms_text(code: u16) -> &'static str {
    match code {
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        314 => "SIM busy",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        _ => "unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;

    /// A network that accepts everything instantly and remembers it.
    #[derive(Default)]
    struct Net {
        sent: Vec<Submission>,
        latency: i64,
    }

    impl Network for Net {
        fn submit(&mut self, _: &str, _: SimInstant, s: Submission) -> SubmitOutcome {
            self.sent.push(s);
            SubmitOutcome {
                result: Ok(()),
                latency: SimDuration(self.latency),
            }
        }
        fn ussd(&mut self, _: &str, _: &str) -> Option<String> {
            None
        }
    }

    const T0: SimInstant = SimInstant(1_772_784_000_000); // 2026-03-06T08:00:00Z

    fn modem(profile: &str) -> Modem {
        Modem::new("m", ModemConfig::preset(profile).unwrap(), UtcOffset(4))
    }

    fn say(m: &mut Modem, net: &mut Net, input: &str) -> String {
        m.feed(input.as_bytes(), T0, net);
        String::from_utf8(m.take_output()).unwrap()
    }

    fn inbound(text: &str) -> Inbound {
        Inbound {
            from: "+33611111111".into(),
            scts: T0,
            data: pdu::segment_text(text, 1).remove(0),
        }
    }

    #[test]
    fn numeric_results_with_v0() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        say(&mut m, &mut n, "ATE0V0\r");
        assert_eq!(say(&mut m, &mut n, "AT\r"), "0\r");
        assert_eq!(say(&mut m, &mut n, "AT+BOGUS\r"), "4\r");
        assert_eq!(say(&mut m, &mut n, "AT+CGMI\r"), "SIMCOM_Ltd\r\n0\r");
    }

    #[test]
    fn urc_waits_while_the_client_is_typing_a_command() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        say(&mut m, &mut n, "ATE0\r");
        assert_eq!(say(&mut m, &mut n, "AT+CS"), "");
        m.deliver(inbound("hi")).unwrap();
        assert_eq!(m.take_output(), b"", "not in the middle of a command line");
        assert_eq!(
            say(&mut m, &mut n, "Q\r"),
            "\r\n+CSQ: 20,0\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"
        );
    }

    #[test]
    fn urc_race_puts_the_urc_between_echo_and_answer() {
        let mut cfg = ModemConfig::preset("sim800").unwrap();
        cfg.urc_race = 1.0;
        let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(4)), Net::default());
        assert_eq!(say(&mut m, &mut n, "AT+CS"), "AT+CS");
        m.deliver(inbound("hi")).unwrap();
        assert_eq!(
            say(&mut m, &mut n, "Q\r"),
            "Q\r\r\n+CMTI: \"SM\",1\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn cnmi_mode_0_buffers_sms_indications_until_mode_2() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        say(&mut m, &mut n, "ATE0;+CNMI=0,1,0,0,0\r");
        m.deliver(inbound("one")).unwrap();
        assert_eq!(m.take_output(), b"");
        assert_eq!(
            say(&mut m, &mut n, "AT+CNMI=2,1,0,0,0\r"),
            "\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"
        );
    }

    #[test]
    fn write_then_send_from_storage() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        say(&mut m, &mut n, "ATE0;+CMGF=1\r");
        assert_eq!(say(&mut m, &mut n, "AT+CMGW=\"+33612345678\"\r"), "\r\n> ");
        assert_eq!(
            say(&mut m, &mut n, "Stored text\x1a"),
            "\r\n+CMGW: 1\r\n\r\nOK\r\n"
        );
        assert_eq!(
            say(&mut m, &mut n, "AT+CMSS=1\r"),
            "\r\n+CMSS: 1\r\n\r\nOK\r\n"
        );
        assert_eq!(n.sent[0].text, "Stored text");
        assert_eq!(n.sent[0].to, "+33612345678");
        // Listed in PDU mode as STO SENT (3) with the SUBMIT PDU it was stored as.
        say(&mut m, &mut n, "AT+CMGF=0\r");
        let list = say(&mut m, &mut n, "AT+CMGL=4\r");
        assert!(list.starts_with("\r\n+CMGL: 1,3,,"), "{list:?}");
        // CMSS to another number overrides the destination.
        say(&mut m, &mut n, "AT+CMSS=1,\"+33687654321\"\r");
        assert_eq!(n.sent[1].to, "+33687654321");
    }

    #[test]
    fn cmgs_answers_after_the_submit_latency_and_ignores_input_meanwhile() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        n.latency = 3000;
        say(&mut m, &mut n, "ATE0;+CMGF=1\r");
        say(&mut m, &mut n, "AT+CMGS=\"+33612345678\"\r");
        assert_eq!(say(&mut m, &mut n, "x\x1a"), "");
        assert_eq!(say(&mut m, &mut n, "AT\r"), "", "busy: input discarded");
        m.tick(T0 + SimDuration(2999));
        assert_eq!(m.take_output(), b"");
        m.tick(T0 + SimDuration(3000));
        assert_eq!(m.take_output(), b"\r\n+CMGS: 1\r\n\r\nOK\r\n");
    }

    #[test]
    fn sim7600_indexes_from_zero_and_bare_prompt() {
        let mut cfg = ModemConfig::preset("sim7600").unwrap();
        cfg.bare_prompt = true;
        let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
        say(&mut m, &mut n, "ATE0\r");
        m.deliver(inbound("x")).unwrap();
        assert_eq!(m.take_output(), b"\r\n+CMTI: \"SM\",0\r\n");
        assert_eq!(say(&mut m, &mut n, "AT+CMGS=20\r"), "\r\n>\r\n");
    }

    #[test]
    fn pin_unlock_flow() {
        let mut cfg = ModemConfig::preset("sim800").unwrap();
        cfg.pin = Some("1234".into());
        let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
        say(&mut m, &mut n, "ATE0;+CMEE=1\r");
        assert_eq!(
            say(&mut m, &mut n, "AT+CPIN?\r"),
            "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
        );
        assert_eq!(
            say(&mut m, &mut n, "AT+CMGL=4\r"),
            "\r\n+CMS ERROR: 311\r\n"
        );
        assert_eq!(
            say(&mut m, &mut n, "AT+CPIN=\"0000\"\r"),
            "\r\n+CME ERROR: 16\r\n"
        );
        assert_eq!(
            say(&mut m, &mut n, "AT+CPIN=\"1234\"\r"),
            "\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
        );
        assert_eq!(
            say(&mut m, &mut n, "AT+CREG?\r"),
            "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn sim_busy_after_reboot() {
        let mut cfg = ModemConfig::preset("sim800").unwrap();
        cfg.sim_busy = SimDuration::from_secs(8);
        let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
        m.tick(T0);
        m.reboot(T0);
        m.tick(T0 + SimDuration::from_secs(3));
        m.take_output();
        let at = |m: &mut Modem, n: &mut Net, secs: i64, line: &str| {
            m.feed(line.as_bytes(), T0 + SimDuration::from_secs(secs), n);
            String::from_utf8(m.take_output()).unwrap()
        };
        at(&mut m, &mut n, 3, "ATE0;+CMEE=1\r");
        assert_eq!(at(&mut m, &mut n, 4, "AT+CIMI\r"), "\r\n+CME ERROR: 14\r\n");
        assert_eq!(
            at(&mut m, &mut n, 5, "AT+CPMS?\r"),
            "\r\n+CMS ERROR: 314\r\n"
        );
        assert!(at(&mut m, &mut n, 11, "AT+CPMS?\r").starts_with("\r\n+CPMS: "));
    }

    #[test]
    fn delete_flags() {
        let (mut m, mut n) = (modem("sim800"), Net::default());
        say(&mut m, &mut n, "ATE0;+CNMI=2,0,0,0,0\r");
        for t in ["a", "b", "c"] {
            m.deliver(inbound(t)).unwrap();
        }
        say(&mut m, &mut n, "AT+CMGR=2\r");
        say(&mut m, &mut n, "AT+CMGD=1,1\r"); // read ones only
        assert_eq!(
            say(&mut m, &mut n, "AT+CPMS?\r"),
            "\r\n+CPMS: \"SM\",2,30,\"SM\",2,30,\"SM\",2,30\r\n\r\nOK\r\n"
        );
        say(&mut m, &mut n, "AT+CMGD=1,4\r");
        assert_eq!(say(&mut m, &mut n, "AT+CMGL=4\r"), "\r\nOK\r\n");
    }

    /// Nothing a client sends may panic the modem: random bytes, random AT-shaped
    /// lines, and prompts fed with garbage, in both modes.
    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng::keyed(99, "fuzz");
        let words = [
            "AT",
            "+CMGS=",
            "+CMGW=",
            "+CMGL=",
            "+CMGR=",
            "+CMGD=",
            "+CPMS=",
            "+CNMI=",
            "+CMGF=1",
            "+CMGF=0",
            "+CSCS=\"UCS2\"",
            "+CSCS=\"HEX\"",
            "+CSCA=",
            "+CCLK=",
            "+CUSD=1,",
            "+CMSS=",
            "+CFUN=",
            "E0",
            "V0",
            "\"",
            ",",
            ";",
            "?",
            "=?",
            "9",
            "0",
            "255",
            "99999999999999999999",
            "\x1a",
            "\x1b",
            "\r",
            "00",
            "FF",
            "07",
            "11",
            "41",
            "0791",
            "ZZ",
            "-1",
        ];
        for round in 0..300 {
            let (mut m, mut n) = (
                modem(if round % 2 == 0 { "sim800" } else { "sim7600" }),
                Net::default(),
            );
            for k in 0..200 {
                let input: Vec<u8> = if k % 3 == 0 {
                    (0..rng.below(40))
                        .map(|_| (rng.next_u64() & 0xFF) as u8)
                        .collect()
                } else {
                    (0..rng.below(8))
                        .flat_map(|_| words[rng.below(words.len())].bytes())
                        .collect()
                };
                m.feed(&input, T0 + SimDuration(k), &mut n);
                m.tick(T0 + SimDuration(k * 1000));
                if rng.chance(0.05) {
                    let _ = m.deliver(inbound("random"));
                }
                if rng.chance(0.02) {
                    m.reboot(T0);
                }
                let _ = m.take_output();
            }
        }
    }
}
