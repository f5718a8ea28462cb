//! Everything the simulator runs, behind one lock: the clock, the modems, the line
//! each modem talks over, and the operator. Transport threads feed bytes in and take
//! bytes out; the control channel injects messages and faults.

use serde_json::json;

use super::modem::{Inbound, Modem, ModemConfig, Unreachable};
use super::operator::{Event, Ledger, Operator, Subscription};
use super::rng::Rng;
use super::scenario::{FAULT_KINDS, Latency, ModemSpec, Scenario};
use super::time::{Clock, ClockMode, SimDuration, SimInstant, UtcOffset};

/// Garbled or dropped bytes on the serial line, both directions.
#[derive(Debug)]
struct LineFault {
    garble: f64,
    drop: f64,
    rng: Rng,
}

impl LineFault {
    /// `bytes` as they arrive at the other end.
    fn apply(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        if self.garble <= 0.0 && self.drop <= 0.0 {
            return bytes;
        }
        let mut kept = Vec::with_capacity(bytes.len());
        for b in bytes {
            if self.rng.chance(self.drop) {
                continue;
            }
            if self.rng.chance(self.garble) {
                kept.push((self.rng.next_u64() & 0xFF) as u8);
            } else {
                kept.push(b);
            }
        }
        kept
    }
}

/// One modem and how it is reached.
#[derive(Debug)]
pub struct Slot {
    /// The modem.
    pub modem: Modem,
    /// Where to create its pty symlink.
    pub link: Option<String>,
    /// Where to serve it over TCP.
    pub tcp: Option<String>,
    line: LineFault,
}

/// The whole simulation.
#[derive(Debug)]
pub struct World {
    /// Virtual time.
    pub clock: Clock,
    /// The modems, in scenario order.
    pub slots: Vec<Slot>,
    /// The network behind them.
    pub operator: Operator,
    offset: UtcOffset,
}

/// Default submit latency per profile: SIM800 logs show ≈3 s (docs/modems.md § Sending:
/// AT+CMGS).
fn profile_submit_latency(profile: &str) -> Latency {
    let s = SimDuration::from_secs;
    match profile {
        "sim7600" => Latency::Uniform(s(1), s(3)),
        "ec25" => Latency::Uniform(s(1), s(4)),
        _ => Latency::Uniform(s(2), s(5)),
    }
}

impl World {
    /// Builds the simulation of `scenario`, writing to `ledger`.
    pub fn new(scenario: &Scenario, ledger: Ledger) -> Result<Self, String> {
        let offset = scenario.offset()?;
        let start = match &scenario.start {
            Some(s) => SimInstant::parse(s, offset)?,
            None => SimInstant(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
            ),
        };
        let mode = match scenario.clock.as_deref() {
            Some("step") => ClockMode::Step,
            _ => ClockMode::Speed(scenario.speed.unwrap_or(1.0)),
        };
        let seed = scenario.seed.unwrap_or(1);
        let specs = if scenario.modem.is_empty() {
            vec![ModemSpec {
                name: "modem0".into(),
                ..ModemSpec::default()
            }]
        } else {
            scenario.modem.clone()
        };
        let mut slots = Vec::new();
        let mut subs = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let profile = spec.profile.as_deref().unwrap_or("sim800");
            let mut cfg = ModemConfig::preset(profile)
                .ok_or_else(|| format!("modem {:?}: unknown profile {profile:?}", spec.name))?;
            cfg.msisdn = spec
                .msisdn
                .clone()
                .unwrap_or_else(|| format!("+1555000{:04}", 1000 + i));
            if let Some(v) = &spec.smsc {
                cfg.smsc = v.clone();
            }
            if let Some(v) = &spec.imei {
                cfg.imei = v.clone();
            } else {
                cfg.imei = format!("86917003{:07}", 1_234_567 + i);
            }
            if let Some(v) = &spec.imsi {
                cfg.imsi = v.clone();
            } else {
                cfg.imsi = format!("00101{:010}", 123_456_789 + i);
            }
            if let Some(v) = spec.rssi {
                cfg.rssi = v;
            }
            cfg.pin = spec.pin.clone();
            cfg.bare_prompt = spec.bare_prompt;
            cfg.urc_race = spec.urc_race.unwrap_or(0.0);
            if let Some(d) = &spec.sim_busy {
                cfg.sim_busy = SimDuration::parse(d)?;
            }
            cfg.seed = seed;
            let submit_latency = match &spec.submit_latency {
                Some(l) => Latency::parse(l)?,
                None => profile_submit_latency(profile),
            };
            subs.push(Subscription {
                name: spec.name.clone(),
                msisdn: cfg.msisdn.clone(),
                marketing: spec.marketing,
                submit_latency,
            });
            let mut modem = Modem::new(&spec.name, cfg, offset);
            if spec.boot_urcs_at_start {
                modem.reboot(start + SimDuration(-3_600_000));
            }
            slots.push(Slot {
                modem,
                link: spec.link.clone(),
                tcp: spec.tcp.clone(),
                line: LineFault {
                    garble: 0.0,
                    drop: 0.0,
                    rng: Rng::keyed(seed, &format!("line {}", spec.name)),
                },
            });
        }
        let mut operator = Operator::new(scenario, &subs, ledger)?;
        let first = specs[0].name.clone();
        for f in &scenario.fault {
            let at = start + SimDuration::parse(&f.at)?;
            let event = Event::Fault {
                modem: f.modem.clone().unwrap_or_else(|| first.clone()),
                kind: f.kind.clone(),
                duration: f.duration.as_deref().map(SimDuration::parse).transpose()?,
                probability: f.probability.unwrap_or(0.05),
            };
            operator.schedule(at, event);
        }
        for m in &scenario.inbound {
            let at = start + SimDuration::parse(&m.at)?;
            let modem = m.modem.clone().unwrap_or_else(|| first.clone());
            let event = operator.inbound(&modem, &m.from, &m.text, "scenario");
            operator.schedule(at, event);
        }
        Ok(Self {
            clock: Clock::new(start, mode),
            slots,
            operator,
            offset,
        })
    }

    /// The index of the modem named `name` (the first when None).
    pub fn index(&self, name: Option<&str>) -> Result<usize, String> {
        match name {
            None => Ok(0),
            Some(n) => self
                .slots
                .iter()
                .position(|s| s.modem.name() == n)
                .ok_or_else(|| format!("no modem named {n:?}")),
        }
    }

    /// Bytes from the client of modem `i`, after the line's faults.
    pub fn feed(&mut self, i: usize, bytes: &[u8]) {
        let now = self.clock.now();
        let Self {
            slots, operator, ..
        } = self;
        if let Some(slot) = slots.get_mut(i) {
            let bytes = slot.line.apply(bytes.to_vec());
            slot.modem.feed(&bytes, now, operator);
        }
    }

    /// Runs every event due by now, then lets each modem's time pass.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        while let Some((at, event)) = self.operator.next_due(now) {
            self.run(at.max(SimInstant(0)), now, event);
        }
        for slot in &mut self.slots {
            slot.modem.tick(now);
        }
    }

    /// When the operator's next scheduled event is due (virtual-time jumps stop there,
    /// so that a reply or report is handled at its own time).
    pub fn next_event_at(&self) -> Option<SimInstant> {
        self.operator.next_at()
    }

    /// Bytes modem `i` sends, after the line's faults.
    pub fn take_output(&mut self, i: usize) -> Vec<u8> {
        let Some(slot) = self.slots.get_mut(i) else {
            return Vec::new();
        };
        let out = slot.modem.take_output();
        slot.line.apply(out)
    }

    /// Injects an SMS from `from` to modem `i` now.
    pub fn inject_sms(&mut self, i: usize, from: &str, text: &str) {
        let name = self.slots[i].modem.name().to_string();
        let event = self.operator.inbound(&name, from, text, "inject");
        let now = self.clock.now();
        self.operator.schedule(now, event);
        self.tick();
    }

    /// [`World::inject_sms`], handing the modem only the segments numbered in `parts`
    /// (from 1): the others are lost in the network and never arrive. The ledger's
    /// `reply` line still shows the whole message.
    pub fn inject_sms_parts(&mut self, i: usize, from: &str, text: &str, parts: &[u64]) {
        let name = self.slots[i].modem.name().to_string();
        let mut event = self.operator.inbound(&name, from, text, "inject");
        if let Event::Inbound {
            parts: segments, ..
        } = &mut event
        {
            let mut number = 0;
            segments.retain(|_| {
                number += 1;
                parts.contains(&number)
            });
        }
        let now = self.clock.now();
        self.operator.schedule(now, event);
        self.tick();
    }

    /// Applies a fault to modem `i` now.
    pub fn inject_fault(
        &mut self,
        i: usize,
        kind: &str,
        duration: Option<SimDuration>,
        probability: f64,
    ) -> Result<(), String> {
        if !FAULT_KINDS.contains(&kind) {
            return Err(format!(
                "unknown fault {kind:?}: want one of {FAULT_KINDS:?}"
            ));
        }
        let now = self.clock.now();
        let modem = self.slots[i].modem.name().to_string();
        self.operator.schedule(
            now,
            Event::Fault {
                modem,
                kind: kind.to_string(),
                duration,
                probability,
            },
        );
        self.tick();
        Ok(())
    }

    fn run(&mut self, at: SimInstant, now: SimInstant, event: Event) {
        match event {
            Event::Outcome(o) => {
                let reaction = self.operator.outcome(at, &o);
                if let Some((when, text)) = reaction {
                    let event = self.operator.inbound(&o.modem, &o.to, &text, "subscriber");
                    self.operator.schedule(when, event);
                }
            }
            Event::Inbound {
                modem,
                from,
                text,
                mut parts,
                origin,
                logged,
            } => {
                if !logged {
                    self.operator.ledger.write(json!({
                        "kind": "reply",
                        "at": at.to_string(),
                        "modem": modem,
                        "from": from,
                        "to": self.msisdn(&modem),
                        "text": text,
                        "segments": parts.len(),
                        "origin": origin,
                    }));
                }
                let Ok(i) = self.index(Some(&modem)) else {
                    return;
                };
                while !parts.is_empty() {
                    let sms = Inbound {
                        from: from.clone(),
                        scts: at,
                        data: parts[0].clone(),
                    };
                    match self.slots[i].modem.deliver(sms) {
                        Ok(()) => {
                            parts.remove(0);
                        }
                        Err(why) => {
                            let retry = match why {
                                Unreachable::Detached => SimDuration::from_secs(60),
                                Unreachable::MemoryFull => SimDuration::from_secs(300),
                            };
                            self.operator.schedule(
                                now + retry,
                                Event::Inbound {
                                    modem,
                                    from,
                                    text,
                                    parts,
                                    origin,
                                    logged: true,
                                },
                            );
                            return;
                        }
                    }
                }
            }
            Event::Reports { modem, mut reports } => {
                let Ok(i) = self.index(Some(&modem)) else {
                    return;
                };
                while !reports.is_empty() {
                    match self.slots[i].modem.status_report(reports[0].clone()) {
                        Ok(()) => {
                            reports.remove(0);
                        }
                        Err(_) => {
                            self.operator.schedule(
                                now + SimDuration::from_secs(60),
                                Event::Reports { modem, reports },
                            );
                            return;
                        }
                    }
                }
            }
            Event::Fault {
                modem,
                kind,
                duration,
                probability,
            } => {
                let Ok(i) = self.index(Some(&modem)) else {
                    return;
                };
                let undo = |kind: &str| match kind {
                    "sim-out" => Some("sim-in"),
                    "network-loss" => Some("network-back"),
                    "garble" | "drop" => Some("line-clear"),
                    _ => None,
                };
                if let (Some(d), Some(back)) = (duration, undo(&kind)) {
                    self.operator.schedule(
                        at + d,
                        Event::Fault {
                            modem: modem.clone(),
                            kind: back.to_string(),
                            duration: None,
                            probability: 0.0,
                        },
                    );
                }
                self.operator.ledger.write(json!({
                    "kind": "fault",
                    "at": at.to_string(),
                    "modem": modem,
                    "fault": kind,
                    "duration_ms": duration.map(|d| d.0),
                }));
                let slot = &mut self.slots[i];
                match kind.as_str() {
                    "reboot" => slot.modem.reboot(at),
                    "sim-out" => slot.modem.set_sim(false),
                    "sim-in" => slot.modem.set_sim(true),
                    "network-loss" => slot.modem.set_network(false),
                    "network-back" => slot.modem.set_network(true),
                    "garble" => slot.line.garble = probability,
                    "drop" => slot.line.drop = probability,
                    "line-clear" => {
                        slot.line.garble = 0.0;
                        slot.line.drop = 0.0;
                    }
                    _ => {}
                }
            }
        }
    }

    fn msisdn(&self, modem: &str) -> String {
        self.index(Some(modem))
            .map(|i| self.slots[i].modem.config().msisdn.clone())
            .unwrap_or_default()
    }

    /// Each modem's state, for the control channel's `status`.
    pub fn status(&self) -> serde_json::Value {
        let modems: Vec<serde_json::Value> = self
            .slots
            .iter()
            .map(|slot| {
                let m = &slot.modem;
                let [sm, me, sr] = m.stored();
                json!({
                    "name": m.name(),
                    "profile": m.config().profile,
                    "msisdn": m.config().msisdn,
                    "powered": m.powered(),
                    "sim": m.sim_inserted(),
                    "sim_lock": m.sim_lock(),
                    "pin_attempts": m.pin_attempts(),
                    "registration": m.registration(),
                    "stored": {"SM": sm, "ME": me, "SR": sr},
                    "line_garble": slot.line.garble,
                    "line_drop": slot.line.drop,
                })
            })
            .collect();
        json!({"now": self.clock.now().to_string(), "modems": modems})
    }

    /// The network's UTC offset.
    pub fn offset(&self) -> UtcOffset {
        self.offset
    }
}
