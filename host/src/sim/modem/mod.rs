//! The virtual modem: a sans-I/O AT command interpreter answering like a SIM800-class
//! modem (3GPP TS 27.007 general/network commands, TS 27.005 SMS commands, V.250
//! basics). Bytes go in with [`Modem::feed`], time moves with [`Modem::tick`], and the
//! bytes the modem would send are taken with [`Modem::take_output`]. Submitted messages
//! go to a [`Network`]; the network hands back inbound messages and status reports.
//!
//! Shapes follow docs/modems.md (§ Commands, and § gammu against a scripted modem for
//! what gammu sends and expects). Unknown commands answer plain `ERROR` whatever `+CMEE`
//! says, as SIM800 does and gammu expects (§ Error codes); failures of known commands
//! answer `+CME ERROR` or `+CMS ERROR` per `+CMEE`.

mod charset;
mod commands;
mod config;
mod sending;
mod storage;
mod syntax;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use super::pdu::{self, Alphabet, Concat, UserData};
use super::rng::Rng;
use super::time::{SimDuration, SimInstant, UtcOffset};

pub use config::ModemConfig;
use syntax::{Arg, Op, cme_text, cms_text, split_commands, toa, tpdu_len};

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;
const MAX_LINE: usize = 1024;
const MAX_PROMPT_INPUT: usize = 4096;

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

/// Volatile settings, lost on reboot (docs/modems.md § Power-up URCs).
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
    /// Blocked after three wrong PINs: only the PUK unlocks it (not simulated).
    PukRequired,
    Absent,
}

/// Wrong PIN entries in a row that block a SIM (3GPP TS 42.017).
const PIN_ATTEMPTS: u8 = 3;

/// How a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    Error,
    Cme(u16),
    Cms(u16),
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
    /// PIN entries the SIM still allows; kept by the SIM across reboots and removal.
    pin_attempts: u8,
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
        let pin_attempts = PIN_ATTEMPTS;
        let rng = Rng::keyed(cfg.seed, &format!("urc race {name}"));
        let mut modem = Self {
            name: name.to_string(),
            cfg,
            offset,
            s,
            sim,
            sim_inserted: true,
            pin_attempts,
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

    /// Messages stored in (SIM, phone, status-report) memory.
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
            self.sim = self.sim_at_start();
            self.urc(self.cpin_urc(), false);
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
            self.sim = self.sim_at_start();
        }
        for urc in self.cfg.boot_urcs.clone() {
            let urc: &str = if urc == "+CPIN: READY" {
                self.cpin_urc()
            } else {
                &urc
            };
            self.urc(urc, false);
        }
        self.last_stat = self.reg_stat();
    }

    /// `+CREG` stat: 0 not registered, 1 home, 2 searching, 5 roaming (TS 27.007 §7.2).
    pub fn registration(&self) -> u8 {
        self.reg_stat()
    }

    /// False while the modem reboots.
    pub fn powered(&self) -> bool {
        !matches!(self.input, Input::Off(_))
    }

    /// True while the SIM is inserted.
    pub fn sim_inserted(&self) -> bool {
        self.sim_inserted
    }

    /// What the SIM waits for: `"none"`, `"pin"` or `"puk"` (blocked).
    pub fn sim_lock(&self) -> &'static str {
        match self.sim {
            SimState::PinRequired => "pin",
            SimState::PukRequired => "puk",
            SimState::Ready | SimState::Absent => "none",
        }
    }

    /// PIN entries the SIM still allows before it blocks (3 after a correct one).
    pub fn pin_attempts(&self) -> u8 {
        self.pin_attempts
    }

    /// The SIM's state when it powers up (inserted).
    fn sim_at_start(&self) -> SimState {
        if self.pin_attempts == 0 {
            SimState::PukRequired
        } else if self.cfg.pin.is_some() {
            SimState::PinRequired
        } else {
            SimState::Ready
        }
    }

    /// The `+CPIN:` start-up notice for the SIM's state.
    fn cpin_urc(&self) -> &'static str {
        match self.sim {
            SimState::Ready => "+CPIN: READY",
            SimState::PinRequired => "+CPIN: SIM PIN",
            SimState::PukRequired => "+CPIN: SIM PUK",
            SimState::Absent => "+CPIN: NOT INSERTED",
        }
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
            SimState::PukRequired => Err(Fail::Cms(316)),
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
            SimState::PukRequired => Err(Fail::Cme(12)),
            SimState::Absent => Err(Fail::Cme(10)),
        }
    }
}
