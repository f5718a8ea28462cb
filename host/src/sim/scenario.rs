//! The scenario file (TOML): the modems, the operator behind them, its subscribers,
//! and the faults and inbound messages to play, all deterministic for one seed.
//! docs/sim.md documents every key; examples/scenarios/ has complete files.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::rng::Rng;
use super::time::{SimDuration, SimInstant, UtcOffset};

/// A scenario as written in TOML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of every random draw (default 1).
    pub seed: Option<u64>,
    /// Virtual start, local time at `utc_offset` (`2026-03-06T09:00:00`); default: now.
    pub start: Option<String>,
    /// UTC offset of the network's local time (`+01:00`); default `+00:00`.
    pub utc_offset: Option<String>,
    /// Virtual seconds per real second (default 1.0).
    pub speed: Option<f64>,
    /// `"step"`: virtual time only moves when stepped through the control channel.
    pub clock: Option<String>,
    /// The modems (default: one `sim800` named `modem0`).
    #[serde(default)]
    pub modem: Vec<ModemSpec>,
    /// The operator.
    #[serde(default)]
    pub operator: OperatorSpec,
    /// Per-destination outcomes, first match wins.
    #[serde(default)]
    pub route: Vec<RouteSpec>,
    /// Subscribers that react to what they receive.
    #[serde(default)]
    pub subscriber: Vec<SubscriberSpec>,
    /// Faults at fixed virtual times.
    #[serde(default)]
    pub fault: Vec<FaultSpec>,
    /// Inbound messages at fixed virtual times.
    #[serde(default)]
    pub inbound: Vec<InboundSpec>,
}

/// One modem.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemSpec {
    /// Name used in the ledger and the control channel.
    pub name: String,
    /// Symlink to create for its pty.
    pub link: Option<String>,
    /// TCP address to serve it on instead of a pty.
    pub tcp: Option<String>,
    /// `sim800` (default), `sim7600`, `ec25`, `generic`.
    pub profile: Option<String>,
    /// The SIM's number (sender seen by recipients).
    pub msisdn: Option<String>,
    /// SMSC answered by `AT+CSCA?`.
    pub smsc: Option<String>,
    /// `AT+CGSN`.
    pub imei: Option<String>,
    /// `AT+CIMI`.
    pub imsi: Option<String>,
    /// SIM PIN (the SIM starts locked).
    pub pin: Option<String>,
    /// `AT+CSQ` rssi.
    pub rssi: Option<u8>,
    /// Time from Ctrl-Z to `+CMGS:` (latency syntax, see [`Latency`]).
    pub submit_latency: Option<String>,
    /// Traffic from this modem is marketing (held during quiet hours).
    #[serde(default)]
    pub marketing: bool,
    /// Prompt `\r\n>\r\n` instead of `\r\n> `.
    #[serde(default)]
    pub bare_prompt: bool,
    /// Print the start-up URCs when the simulator starts.
    #[serde(default)]
    pub boot_urcs_at_start: bool,
    /// Chance that a URC comes out between a command's echo and its answer.
    pub urc_race: Option<f64>,
    /// SIM busy (CME 14 / CMS 314) for this long after a reboot or PIN entry.
    pub sim_busy: Option<String>,
}

/// The operator's network.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Default time from acceptance to delivery (latency syntax); default `2s..10s`.
    pub report_latency: Option<String>,
    /// Answers to USSD codes (`"*100#" = "Balance 5.00"`).
    #[serde(default)]
    pub ussd: BTreeMap<String, String>,
    /// Operator-side holding of marketing traffic.
    pub quiet_hours: Option<QuietHoursSpec>,
}

/// Quiet hours during which marketing traffic is held and delivered at the end of the
/// window (as French operators do for 36xxx short codes).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    /// Start of the nightly window, local `hh:mm` (e.g. `20:00`).
    pub from: String,
    /// End of the window, local `hh:mm` (e.g. `08:00`).
    pub to: String,
    /// Hold all day on Sundays.
    #[serde(default)]
    pub sundays: bool,
    /// Hold all day on these dates (`YYYY-MM-DD`).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Sender numbers held besides marketing modems; `*` at the end is a prefix match
    /// (`36*` for French marketing short codes).
    #[serde(default)]
    pub senders: Vec<String>,
}

/// What happens to messages for destinations starting with `prefix`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Destination prefix; `*` or empty matches everything.
    #[serde(default)]
    pub prefix: String,
    /// `delivered`, `failed`, `never` (accepted, never delivered nor reported) or
    /// `rejected` (refused at submission with `+CMS ERROR`).
    pub outcome: String,
    /// TP-ST for `failed` (default 0x41 incompatible destination; TS 23.040 §9.2.3.15).
    pub status: Option<u8>,
    /// `+CMS ERROR` code for `rejected` (default 21, short message transfer rejected).
    pub cms_error: Option<u16>,
    /// Chance that this route applies (default 1); otherwise the next match is tried.
    pub probability: Option<f64>,
    /// Delivery/report latency for this route (latency syntax).
    pub report_latency: Option<String>,
}

/// A subscriber who answers.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberSpec {
    /// The subscriber's number.
    pub number: String,
    /// Reply STOP after the n-th message received.
    pub stop_after: Option<u32>,
    /// Chance of replying STOP to each message.
    pub stop_probability: Option<f64>,
    /// The opt-out text (default `STOP`).
    pub stop_text: Option<String>,
    /// Keyword rules: reply `reply` when the received text contains `contains`.
    #[serde(default)]
    pub keyword: Vec<KeywordSpec>,
    /// Free-text replies, picked at random with `reply_probability`.
    #[serde(default)]
    pub replies: Vec<String>,
    /// Chance of a free-text reply to each message.
    pub reply_probability: Option<f64>,
    /// Delay between receiving and replying (latency syntax); default `30s..2m`.
    pub reply_delay: Option<String>,
}

/// A keyword rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordSpec {
    /// Case-insensitive substring of the received text.
    pub contains: String,
    /// The reply (may be long: it arrives as a multipart message).
    pub reply: String,
}

/// A fault at a fixed virtual time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Virtual time after the start (`10m`).
    pub at: String,
    /// Modem name (default: the first).
    pub modem: Option<String>,
    /// `reboot`, `sim-out`, `sim-in`, `network-loss`, `network-back`, `garble`, `drop`.
    pub kind: String,
    /// For `sim-out`, `network-loss`, `garble`, `drop`: undo after this long.
    pub duration: Option<String>,
    /// For `garble`/`drop`: chance per byte sent by the modem (default 0.05).
    pub probability: Option<f64>,
}

/// An inbound SMS at a fixed virtual time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSpec {
    /// Virtual time after the start.
    pub at: String,
    /// Modem name (default: the first).
    pub modem: Option<String>,
    /// Sender.
    pub from: String,
    /// Text (long texts arrive as multipart).
    pub text: String,
}

impl Scenario {
    /// Parses a scenario from TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Checks every value that is parsed later, so that mistakes show at start-up.
    fn check(&self) -> Result<(), String> {
        let offset = self.offset()?;
        if let Some(start) = &self.start {
            SimInstant::parse(start, offset)?;
        }
        if let Some(c) = &self.clock {
            if c != "step" && c != "speed" {
                return Err(format!("clock = {c:?}: want \"step\" or \"speed\""));
            }
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.modem {
            if !names.insert(&m.name) {
                return Err(format!("modem {:?} declared twice", m.name));
            }
            if let Some(p) = &m.profile {
                if super::modem::ModemConfig::preset(p).is_none() {
                    return Err(format!("modem {:?}: unknown profile {p:?}", m.name));
                }
            }
            if let Some(l) = &m.submit_latency {
                Latency::parse(l)?;
            }
            if let Some(d) = &m.sim_busy {
                SimDuration::parse(d)?;
            }
        }
        if let Some(l) = &self.operator.report_latency {
            Latency::parse(l)?;
        }
        if let Some(q) = &self.operator.quiet_hours {
            parse_hhmm(&q.from)?;
            parse_hhmm(&q.to)?;
            for h in &q.holidays {
                SimInstant::parse(&format!("{h}T00:00:00"), offset)?;
            }
        }
        for r in &self.route {
            if !matches!(
                r.outcome.as_str(),
                "delivered" | "failed" | "never" | "rejected"
            ) {
                return Err(format!(
                    "route {:?}: unknown outcome {:?}",
                    r.prefix, r.outcome
                ));
            }
            if let Some(l) = &r.report_latency {
                Latency::parse(l)?;
            }
        }
        for s in &self.subscriber {
            if let Some(l) = &s.reply_delay {
                Latency::parse(l)?;
            }
        }
        for f in &self.fault {
            SimDuration::parse(&f.at)?;
            if let Some(d) = &f.duration {
                SimDuration::parse(d)?;
            }
            if !FAULT_KINDS.contains(&f.kind.as_str()) {
                return Err(format!(
                    "fault kind {:?}: want one of {FAULT_KINDS:?}",
                    f.kind
                ));
            }
            self.check_modem(f.modem.as_deref())?;
        }
        for i in &self.inbound {
            SimDuration::parse(&i.at)?;
            self.check_modem(i.modem.as_deref())?;
        }
        Ok(())
    }

    fn check_modem(&self, name: Option<&str>) -> Result<(), String> {
        match name {
            Some(n) if !self.modem.is_empty() && !self.modem.iter().any(|m| m.name == n) => {
                Err(format!("no modem named {n:?}"))
            }
            _ => Ok(()),
        }
    }

    /// The network's UTC offset.
    pub fn offset(&self) -> Result<UtcOffset, String> {
        self.utc_offset
            .as_deref()
            .map(UtcOffset::parse)
            .unwrap_or(Ok(UtcOffset(0)))
    }
}

/// Fault kinds accepted in scenarios and on the control channel.
pub const FAULT_KINDS: &[&str] = &[
    "reboot",
    "sim-out",
    "sim-in",
    "network-loss",
    "network-back",
    "garble",
    "drop",
];

/// Parses local `hh:mm` into minutes after midnight.
pub fn parse_hhmm(text: &str) -> Result<u32, String> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("bad time {text:?} (want hh:mm)"))?;
    let h: u32 = h.parse().map_err(|_| format!("bad hour in {text:?}"))?;
    let m: u32 = m.parse().map_err(|_| format!("bad minute in {text:?}"))?;
    if h > 24 || m > 59 {
        return Err(format!("bad time {text:?}"));
    }
    Ok(h * 60 + m)
}

/// A latency distribution: `3s` (fixed), `2s..5s` (uniform), `~10s` (exponential with
/// that mean), `0` (none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this long.
    Fixed(SimDuration),
    /// Uniform between the two.
    Uniform(SimDuration, SimDuration),
    /// Exponential with this mean.
    Exponential(SimDuration),
}

impl Latency {
    /// Parses the latency syntax.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(mean) = text.strip_prefix('~') {
            return Ok(Latency::Exponential(SimDuration::parse(mean)?));
        }
        if let Some((lo, hi)) = text.split_once("..") {
            let (lo, hi) = (SimDuration::parse(lo)?, SimDuration::parse(hi)?);
            if hi < lo {
                return Err(format!("latency {text:?}: upper bound below lower bound"));
            }
            return Ok(Latency::Uniform(lo, hi));
        }
        Ok(Latency::Fixed(SimDuration::parse(text)?))
    }

    /// One draw.
    pub fn sample(&self, rng: &mut Rng) -> SimDuration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(lo, hi) => {
                SimDuration(lo.0 + ((hi.0 - lo.0) as f64 * rng.unit()) as i64)
            }
            Latency::Exponential(mean) => {
                SimDuration((-(1.0 - rng.unit()).ln() * mean.0 as f64) as i64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_scenarios_parse() {
        for file in ["campaign-week.toml", "gammu.toml"] {
            let path = format!(
                "{}/../examples/scenarios/{file}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap();
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }

    #[test]
    fn the_documented_scenario_parses() {
        let path = format!("{}/../docs/sim.md", env!("CARGO_MANIFEST_DIR"));
        let doc = std::fs::read_to_string(path).unwrap();
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let s = Scenario::parse(&doc[start..end]).unwrap();
        assert_eq!(s.modem[0].name, "promo");
        assert_eq!(s.route[0].status, Some(0x46));
        assert_eq!(s.subscriber[0].keyword[0].reply, "OUI");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(Scenario::parse("[[route]]\noutcome = \"maybe\"").is_err());
        assert!(Scenario::parse("bogus = 1").is_err());
        assert!(Scenario::parse("[[fault]]\nat = \"1m\"\nkind = \"meteor\"").is_err());
    }

    #[test]
    fn latencies() {
        let mut rng = Rng::keyed(1, "x");
        assert_eq!(Latency::parse("3s").unwrap().sample(&mut rng).0, 3000);
        let u = Latency::parse("2s..5s").unwrap();
        for _ in 0..100 {
            let d = u.sample(&mut rng).0;
            assert!((2000..=5000).contains(&d));
        }
        let e = Latency::parse("~10s").unwrap();
        let mean = (0..2000).map(|_| e.sample(&mut rng).0).sum::<i64>() / 2000;
        assert!((8000..12000).contains(&mean), "exponential mean {mean}");
    }
}
