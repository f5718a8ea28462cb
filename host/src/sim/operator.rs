//! The simulated operator behind the modems: accepts submitted segments, reassembles
//! multipart messages, decides each message's fate from the scenario's routes, holds
//! marketing traffic during quiet hours, schedules status reports and subscriber
//! replies, and writes the ledger.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::modem::{Network, StatusReport, Submission, SubmitOutcome};
use super::pdu::{self, UserData};
use super::rng::Rng;
use super::scenario::{Latency, RouteSpec, Scenario, SubscriberSpec, parse_hhmm};
use super::time::{SimDuration, SimInstant, UtcOffset};

/// The ground-truth record: one JSON object per line (docs/sim.md, "Ledger").
#[derive(Debug, Default)]
pub struct Ledger {
    out: Option<BufWriter<File>>,
}

impl Ledger {
    /// A ledger appending to `path` (created if missing).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            out: Some(BufWriter::new(file)),
        })
    }

    /// A ledger that records nothing.
    pub fn none() -> Self {
        Self { out: None }
    }

    /// Appends one entry and flushes it, so that readers see whole lines at once.
    pub fn write(&mut self, entry: Value) {
        if let Some(out) = &mut self.out {
            // A full disk must not take the simulator down; the entry is lost.
            let _ = writeln!(out, "{entry}").and_then(|()| out.flush());
        }
    }
}

/// What finally happens to an accepted message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered to the handset (TP-ST 0).
    Delivered,
    /// Permanently failed with a TP-ST status.
    Failed(u8),
    /// Accepted and then lost: never delivered, never reported.
    Never,
}

impl Fate {
    fn name(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::Failed(_) => "failed",
            Fate::Never => "never",
        }
    }

    fn status(self) -> Option<u8> {
        match self {
            Fate::Delivered => Some(0),
            Fate::Failed(st) => Some(st),
            Fate::Never => None,
        }
    }
}

/// One accepted segment.
#[derive(Clone, Debug)]
struct Segment {
    mr: u8,
    text: String,
    status_report: bool,
    accepted_at: SimInstant,
}

/// What the ledger and the outcome need to know besides the segments.
#[derive(Clone, Copy, Debug)]
struct Meta {
    route: Option<usize>,
    mode: &'static str,
    encoding: &'static str,
    duplicates: u32,
}

#[derive(Debug)]
struct Partial {
    parts: BTreeMap<u8, Segment>,
    duplicates: u32,
}

/// The decided outcome of one message, acted on at its time.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Ledger id of the message.
    pub id: u64,
    /// Modem it was sent from.
    pub modem: String,
    /// Sender number.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Reassembled text.
    pub text: String,
    /// Segment count.
    pub segments: usize,
    /// The fate.
    pub fate: Fate,
    /// Status reports were sent for (some of) its segments.
    pub reported: bool,
    /// When quiet hours released it, if they held it.
    pub held_until: Option<SimInstant>,
}

/// Something the operator does at a virtual time.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message's fate becomes known.
    Outcome(Box<Outcome>),
    /// Segments to hand to a modem (retried while it is unreachable).
    Inbound {
        /// Target modem.
        modem: String,
        /// Sender.
        from: String,
        /// Whole text (for the ledger).
        text: String,
        /// Segments not yet handed over.
        parts: Vec<UserData>,
        /// Why it exists: `subscriber`, `scenario`, `inject`.
        origin: &'static str,
        /// The ledger line is written at the first attempt only.
        logged: bool,
    },
    /// Status reports to hand to a modem.
    Reports {
        /// Target modem.
        modem: String,
        /// Reports not yet handed over.
        reports: Vec<StatusReport>,
    },
    /// A fault (or its end) on a modem.
    Fault {
        /// Target modem.
        modem: String,
        /// Fault kind (scenario::FAULT_KINDS, plus `line-clear`).
        kind: String,
        /// Undo after this long.
        duration: Option<SimDuration>,
        /// Per-byte chance for line faults.
        probability: f64,
    },
}

struct Route {
    spec: RouteSpec,
    latency: Option<Latency>,
}

struct QuietHours {
    from: u32,
    to: u32,
    sundays: bool,
    holidays: HashSet<(i64, u32, u32)>,
    senders: Vec<String>,
}

struct Subscriber {
    spec: SubscriberSpec,
    delay: Latency,
    received: u32,
    stopped: bool,
    rng: Rng,
}

/// The operator.
pub struct Operator {
    offset: UtcOffset,
    msisdn: HashMap<String, String>,
    marketing: HashSet<String>,
    submit_latency: HashMap<String, Latency>,
    report_latency: Latency,
    routes: Vec<Route>,
    quiet: Option<QuietHours>,
    ussd: BTreeMap<String, String>,
    subscribers: HashMap<String, Subscriber>,
    rngs: HashMap<String, Rng>,
    seed: u64,
    partial: HashMap<(String, String, u16, u8, bool), Partial>,
    queue: BTreeMap<(SimInstant, u64), Event>,
    seq: u64,
    next_id: u64,
    next_ref: u8,
    /// The ground-truth ledger.
    pub ledger: Ledger,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("queued", &self.queue.len())
            .field("partial", &self.partial.len())
            .finish_non_exhaustive()
    }
}

/// One modem as the operator knows it.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// Modem name.
    pub name: String,
    /// SIM number.
    pub msisdn: String,
    /// Marketing traffic.
    pub marketing: bool,
    /// Submit latency.
    pub submit_latency: Latency,
}

impl Operator {
    /// The operator of `scenario` serving `modems`.
    pub fn new(
        scenario: &Scenario,
        modems: &[Subscription],
        ledger: Ledger,
    ) -> Result<Self, String> {
        let seed = scenario.seed.unwrap_or(1);
        let offset = scenario.offset()?;
        let op = &scenario.operator;
        let report_latency = match &op.report_latency {
            Some(l) => Latency::parse(l)?,
            None => Latency::Uniform(SimDuration::from_secs(2), SimDuration::from_secs(10)),
        };
        let routes = scenario
            .route
            .iter()
            .map(|r| {
                Ok(Route {
                    spec: r.clone(),
                    latency: r
                        .report_latency
                        .as_deref()
                        .map(Latency::parse)
                        .transpose()?,
                })
            })
            .collect::<Result<_, String>>()?;
        let quiet = match &op.quiet_hours {
            Some(q) => Some(QuietHours {
                from: parse_hhmm(&q.from)?,
                to: parse_hhmm(&q.to)?,
                sundays: q.sundays,
                holidays: q
                    .holidays
                    .iter()
                    .map(|h| {
                        let c = SimInstant::parse(&format!("{h}T00:00:00"), offset)?.civil(offset);
                        Ok((c.year, c.month, c.day))
                    })
                    .collect::<Result<_, String>>()?,
                senders: q.senders.clone(),
            }),
            None => None,
        };
        let subscribers = scenario
            .subscriber
            .iter()
            .map(|s| {
                let delay = match &s.reply_delay {
                    Some(d) => Latency::parse(d)?,
                    None => {
                        Latency::Uniform(SimDuration::from_secs(30), SimDuration::from_secs(120))
                    }
                };
                Ok((
                    s.number.clone(),
                    Subscriber {
                        spec: s.clone(),
                        delay,
                        received: 0,
                        stopped: false,
                        rng: Rng::keyed(seed, &format!("subscriber {}", s.number)),
                    },
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            offset,
            msisdn: modems
                .iter()
                .map(|m| (m.name.clone(), m.msisdn.clone()))
                .collect(),
            marketing: modems
                .iter()
                .filter(|m| m.marketing)
                .map(|m| m.name.clone())
                .collect(),
            submit_latency: modems
                .iter()
                .map(|m| (m.name.clone(), m.submit_latency))
                .collect(),
            report_latency,
            routes,
            quiet,
            ussd: op.ussd.clone(),
            subscribers,
            rngs: modems
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        Rng::keyed(seed, &format!("modem {}", m.name)),
                    )
                })
                .collect(),
            seed,
            partial: HashMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_id: 0,
            next_ref: 0,
            ledger,
        })
    }

    /// Schedules `event` at `at`.
    pub fn schedule(&mut self, at: SimInstant, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// When the next scheduled event is due (a report, a reply, an inbound message).
    pub fn next_at(&self) -> Option<SimInstant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// Removes and returns the next event due at or before `now`.
    pub fn next_due(&mut self, now: SimInstant) -> Option<(SimInstant, Event)> {
        let key = *self.queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.queue.remove(&key).map(|e| (key.0, e))
    }

    /// An inbound message from `from` to `modem`, split into segments as a phone would.
    pub fn inbound(&mut self, modem: &str, from: &str, text: &str, origin: &'static str) -> Event {
        self.next_ref = self.next_ref.wrapping_add(1);
        Event::Inbound {
            modem: modem.to_string(),
            from: from.to_string(),
            text: text.to_string(),
            parts: pdu::segment_text(text, self.next_ref),
            origin,
            logged: false,
        }
    }

    fn rng(&mut self, modem: &str) -> &mut Rng {
        let seed = self.seed;
        self.rngs
            .entry(modem.to_string())
            .or_insert_with(|| Rng::keyed(seed, &format!("modem {modem}")))
    }

    fn pick_route(&mut self, modem: &str, to: &str) -> Option<usize> {
        let candidates: Vec<(usize, f64)> = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let p = r.spec.prefix.as_str();
                p.is_empty() || p == "*" || to.starts_with(p)
            })
            .map(|(i, r)| (i, r.spec.probability.unwrap_or(1.0)))
            .collect();
        for (i, p) in candidates {
            if p >= 1.0 || self.rng(modem).chance(p) {
                return Some(i);
            }
        }
        None
    }

    fn is_held(&self, modem: &str) -> bool {
        let Some(q) = &self.quiet else { return false };
        if self.marketing.contains(modem) {
            return true;
        }
        let from = self.msisdn.get(modem).map(String::as_str).unwrap_or("");
        let from = from.strip_prefix('+').unwrap_or(from);
        q.senders.iter().any(|s| match s.strip_suffix('*') {
            Some(prefix) => from.starts_with(prefix.trim_start_matches('+')),
            None => from == s.trim_start_matches('+'),
        })
    }

    /// When quiet hours release traffic accepted at `at` (None when not quiet).
    pub fn release_time(&self, at: SimInstant) -> Option<SimInstant> {
        let q = self.quiet.as_ref()?;
        let quiet_at = |t: SimInstant| {
            let c = t.civil(self.offset);
            let m = c.minute_of_day();
            let night = if q.from > q.to {
                m >= q.from || m < q.to
            } else {
                m >= q.from && m < q.to
            };
            let day_off =
                (q.sundays && c.weekday == 6) || q.holidays.contains(&(c.year, c.month, c.day));
            night || day_off
        };
        if !quiet_at(at) {
            return None;
        }
        // Walk forward to the next `to` boundary that is not itself quiet (skips
        // Sundays and holidays).
        let c = at.civil(self.offset);
        let mut day = SimInstant::from_civil(c.year, c.month, c.day, (0, 0, 0), self.offset);
        for _ in 0..400 {
            let candidate = day + SimDuration(i64::from(q.to) * 60_000);
            if candidate > at && !quiet_at(candidate) {
                return Some(candidate);
            }
            day = day + SimDuration(86_400_000);
        }
        None
    }

    fn finish(&mut self, modem: &str, to: &str, segments: Vec<Segment>, meta: Meta) {
        self.next_id += 1;
        let id = self.next_id;
        let from = self.msisdn.get(modem).cloned().unwrap_or_default();
        let text: String = segments.iter().map(|s| s.text.as_str()).collect();
        let last = segments
            .iter()
            .map(|s| s.accepted_at)
            .max()
            .unwrap_or(SimInstant(0));
        let first = segments.iter().map(|s| s.accepted_at).min().unwrap_or(last);
        let mrs: Vec<u8> = segments.iter().map(|s| s.mr).collect();
        self.ledger.write(json!({
            "kind": "message",
            "id": id,
            "at": last.to_string(),
            "first_at": first.to_string(),
            "modem": modem,
            "from": from,
            "to": to,
            "text": text,
            "segments": segments.len(),
            "encoding": meta.encoding,
            "mode": meta.mode,
            "mrs": mrs,
            "duplicate_segments": meta.duplicates,
        }));
        let (fate, latency) = match meta.route.map(|i| &self.routes[i]) {
            Some(r) => {
                let fate = match r.spec.outcome.as_str() {
                    "failed" => Fate::Failed(r.spec.status.unwrap_or(0x41)),
                    "never" => Fate::Never,
                    _ => Fate::Delivered,
                };
                (fate, r.latency.unwrap_or(self.report_latency))
            }
            None => (Fate::Delivered, self.report_latency),
        };
        let held_until = if self.is_held(modem) {
            self.release_time(last)
        } else {
            None
        };
        // Each segment travels on its own: its own delay, its own status report. The
        // message is delivered when its last segment is.
        let mut at = held_until.unwrap_or(last);
        let mut reports = Vec::new();
        for s in &segments {
            let base = held_until.map_or(s.accepted_at, |h| h.max(s.accepted_at));
            let done = base + latency.sample(self.rng(modem));
            at = at.max(done);
            if let (Some(status), true) = (fate.status(), s.status_report) {
                reports.push((
                    done,
                    StatusReport {
                        mr: s.mr,
                        recipient: to.to_string(),
                        scts: s.accepted_at,
                        discharge: done,
                        status,
                    },
                ));
            }
        }
        let reported = !reports.is_empty();
        for (done, report) in reports {
            let event = Event::Reports {
                modem: modem.to_string(),
                reports: vec![report],
            };
            self.schedule(done, event);
        }
        self.schedule(
            at,
            Event::Outcome(Box::new(Outcome {
                id,
                modem: modem.to_string(),
                from,
                to: to.to_string(),
                text,
                segments: segments.len(),
                fate,
                reported,
                held_until,
            })),
        );
    }

    /// Writes the ledger line of an outcome and returns the subscriber's reaction
    /// (a reply and when it is sent), if any.
    pub fn outcome(&mut self, now: SimInstant, o: &Outcome) -> Option<(SimInstant, String)> {
        self.ledger.write(json!({
            "kind": "report",
            "id": o.id,
            "at": now.to_string(),
            "modem": o.modem,
            "from": o.from,
            "to": o.to,
            "segments": o.segments,
            "outcome": o.fate.name(),
            "status": o.fate.status(),
            "reported": o.reported,
            "held_until": o.held_until.map(|t| t.to_string()),
        }));
        if o.fate != Fate::Delivered {
            return None;
        }
        let sub = self.subscribers.get_mut(&o.to)?;
        if sub.stopped {
            return None;
        }
        sub.received += 1;
        let spec = &sub.spec;
        let stop = spec.stop_after == Some(sub.received)
            || spec.stop_probability.is_some_and(|p| sub.rng.chance(p));
        let reply = if stop {
            sub.stopped = true;
            Some(spec.stop_text.clone().unwrap_or_else(|| "STOP".into()))
        } else if let Some(k) = spec
            .keyword
            .iter()
            .find(|k| o.text.to_lowercase().contains(&k.contains.to_lowercase()))
        {
            Some(k.reply.clone())
        } else if !spec.replies.is_empty()
            && spec.reply_probability.is_some_and(|p| sub.rng.chance(p))
        {
            let i = sub.rng.below(spec.replies.len());
            Some(spec.replies[i].clone())
        } else {
            None
        };
        let delay = sub.delay.sample(&mut sub.rng);
        reply.map(|r| (now + delay, r))
    }
}

impl Network for Operator {
    fn submit(&mut self, modem: &str, now: SimInstant, sub: Submission) -> SubmitOutcome {
        let latency = self
            .submit_latency
            .get(modem)
            .copied()
            .unwrap_or(Latency::Fixed(SimDuration(0)));
        let latency = latency.sample(self.rng(modem));
        let route = self.pick_route(modem, &sub.to);
        if let Some(r) = route.map(|i| &self.routes[i].spec) {
            if r.outcome == "rejected" {
                let code = r.cms_error.unwrap_or(21);
                self.ledger.write(json!({
                    "kind": "refused",
                    "at": (now + latency).to_string(),
                    "modem": modem,
                    "to": sub.to,
                    "text": sub.text,
                    "cms_error": code,
                }));
                return SubmitOutcome {
                    result: Err(code),
                    latency,
                };
            }
        }
        let segment = Segment {
            mr: sub.mr,
            text: sub.text.clone(),
            status_report: sub.status_report,
            accepted_at: now + latency,
        };
        let mut meta = Meta {
            route,
            mode: sub.mode.name(),
            encoding: sub.alphabet.name(),
            duplicates: 0,
        };
        match sub.concat {
            Some(c) if c.total > 1 && c.seq >= 1 && c.seq <= c.total => {
                let key = (
                    modem.to_string(),
                    sub.to.clone(),
                    c.reference,
                    c.total,
                    c.wide,
                );
                let partial = self.partial.entry(key.clone()).or_insert_with(|| Partial {
                    parts: BTreeMap::new(),
                    duplicates: 0,
                });
                if partial.parts.insert(c.seq, segment).is_some() {
                    partial.duplicates += 1;
                }
                if partial.parts.len() == usize::from(c.total) {
                    if let Some(p) = self.partial.remove(&key) {
                        let segments = p.parts.into_values().collect();
                        meta.duplicates = p.duplicates;
                        self.finish(modem, &sub.to, segments, meta);
                    }
                }
            }
            _ => self.finish(modem, &sub.to, vec![segment], meta),
        }
        SubmitOutcome {
            result: Ok(()),
            latency,
        }
    }

    fn ussd(&mut self, _modem: &str, request: &str) -> Option<String> {
        self.ussd.get(request).cloned()
    }
}
