//! The command table: one arm per AT command, grouped by the 3GPP chapter it
//! comes from (V.250 basics, TS 27.007 §5/§7/§8/§9, TS 27.005 §3).

use super::storage::parse_filter;
use super::syntax::{parse_args, parse_cclk};
use super::*;

impl Modem {
    pub(super) fn command(
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
                SimState::PukRequired => Reply::line("+CPIN: SIM PUK".into()),
                SimState::Absent => Err(Fail::Cme(10)),
            },
            ("+CPIN", Op::Set(_)) => {
                match self.sim {
                    SimState::Absent => return Err(Fail::Cme(10)),
                    SimState::Ready => return Err(Fail::Cme(3)),
                    // Unblocking with the PUK is not simulated.
                    SimState::PukRequired => return Err(Fail::Cme(12)),
                    SimState::PinRequired => {}
                }
                let given = args.first().map(|a| a.text.as_str());
                if given != self.cfg.pin.as_deref() {
                    // Three wrong entries in a row block the SIM (3GPP TS 42.017).
                    self.pin_attempts = self.pin_attempts.saturating_sub(1);
                    if self.pin_attempts == 0 {
                        self.sim = SimState::PukRequired;
                    }
                    return Err(Fail::Cme(16));
                }
                self.pin_attempts = PIN_ATTEMPTS;
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
}
