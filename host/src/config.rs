//! The configuration file (`relais.toml`): devices and modems with their sender
//! identities, brands, rule choices, pacing and the scheduler's retry policy. Every
//! field has a default; `relais config example` prints a commented file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relais_core::at::command::general::SimPin;
use relais_core::compliance::decision::Options;
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{Identity, Pacing, Sender, Settings, bounded};
use serde::Deserialize;

use crate::store::RetryPolicy;

/// Where the configuration is looked for when `--config` is not given.
pub const DEFAULT_PATH: &str = "relais.toml";

/// A commented example, printed by `relais config example`.
pub const EXAMPLE: &str = r#"# relais configuration. Every key is optional; the values shown are the defaults
# unless marked "example". Durations are a whole number and a unit (ms, s, m, h, d),
# or several added up: "500ms", "30s", "1h30m".

# The store: a SQLite file, relative to this file; or a PostgreSQL database shared by
# several hosts (docs/postgres.md), e.g. "postgres://relais@db.example/relais".
database = "relais.db"

[scheduler]
max_attempts = 4                     # tries per message for temporary failures (first included)
retry_backoff = ["1m", "5m", "30m"]  # wait before each retry; the last one repeats
poll = "1s"                          # how often due jobs are looked for when idle

# The rule choices of `relais policy --overrides` (stricter only).
[rules]
fr_profile = "af2m"                  # af2m (Mon-Sat 08-22) or strict (08-20)
append_opt_out = true                # append a missing STOP mention instead of refusing
holidays_everywhere = false
horizon_days = 400                   # refuse rather than defer further than this
# banned_categories = ["political"]  # example

# Sending pace per SIM: operators block SIMs that send too fast.
[pacing]
per_minute = 6
per_hour = 200
per_day = 1000
min_gap = "3s"
jitter = "2s"

[[brand]]                            # example: the brands you send for
name = "Acme"

[[device]]                           # example: a relais device on a serial port (relais run)
name = "desk"
kind = "device"                      # device: relais firmware; modem: a GSM modem (relais direct)
port = "/dev/ttyACM0"                # a serial port, a pty, or tcp:HOST:PORT
baud = 115200
sender = "alpha:ACME"                # alpha:NAME, longnum:+NUMBER or shortcode:CODE
stop_code = 36180                    # short code for STOP replies (French alphanumeric senders)
registered = false
brands = []                          # brands this device sends for (empty: all)
# sim_pin = "1234"                   # example: SIM PIN for `relais direct`
# profile = "sim800"                 # kind = "modem": sim800, sim7600, ec25, generic
# state = "relais-agent-desk.flash"  # kind = "modem": the agent's state file

# `relais serve`: the HTTP gateway (docs/http.md).
[http]
listen = "127.0.0.1:13013"           # loopback by default
max_body = 65536                     # bytes
request_timeout = "30s"
callback_hosts = []                  # hosts callbacks may call (empty: any)
callback_timeout = "10s"
callback_attempts = 10               # then the callback is kept as a dead letter
callback_backoff = ["10s", "30s", "2m", "10m", "30m", "1h"]

[[http.user]]                        # example: a Kannel sendsms-user
name = "app"
password = "change-me"
class = "transactional"
allow_ip = ["127.0.0.1"]
rate = 50                            # requests per second (0: no limit)

# [[http.token]]                     # example: a JSON API client (Bearer token)
# name = "shop"
# token = "at-least-16-characters"

# [[http.service]]                   # example: inbound messages to an application
# keyword = "default"
# get_url = "http://127.0.0.1:8000/sms/in?from=%p&text=%a"
"#;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store: a SQLite file (relative to the configuration file) or a
    /// `postgres://` URL.
    #[serde(default = "default_database")]
    pub database: String,
    /// Scheduler settings.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// Rule choices (see `relais policy --overrides`).
    #[serde(default)]
    pub rules: toml::Table,
    /// Sending pace.
    #[serde(default)]
    pub pacing: PacingConfig,
    /// Brands.
    #[serde(default, rename = "brand")]
    pub brands: Vec<BrandConfig>,
    /// Devices and modems.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceConfig>,
    /// `relais serve`: the HTTP gateway.
    #[serde(default)]
    pub http: crate::http::config::HttpConfig,
    /// Directory of the file, to resolve relative paths.
    #[serde(skip)]
    pub base: PathBuf,
}

fn default_database() -> String {
    "relais.db".into()
}

/// `[scheduler]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Attempts per message.
    #[serde(default = "default_attempts")]
    pub max_attempts: u8,
    /// Waits before retries.
    #[serde(default = "default_backoff")]
    pub retry_backoff: Vec<String>,
    /// Idle poll interval.
    #[serde(default = "default_poll")]
    pub poll: String,
}

fn default_attempts() -> u8 {
    4
}
fn default_backoff() -> Vec<String> {
    vec!["1m".into(), "5m".into(), "30m".into()]
}
fn default_poll() -> String {
    "1s".into()
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_attempts: default_attempts(),
            retry_backoff: default_backoff(),
            poll: default_poll(),
        }
    }
}

/// `[pacing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Segments per minute (0: no cap).
    pub per_minute: u16,
    /// Segments per hour.
    pub per_hour: u16,
    /// Segments per day.
    pub per_day: u16,
    /// Least gap between segments.
    pub min_gap: String,
    /// Random extra gap.
    pub jitter: String,
}

impl Default for PacingConfig {
    fn default() -> Self {
        let p = Pacing::default();
        PacingConfig {
            per_minute: p.per_minute,
            per_hour: p.per_hour,
            per_day: p.per_day,
            min_gap: format!("{}ms", p.min_gap_ms),
            jitter: format!("{}ms", p.jitter_ms),
        }
    }
}

/// `[[brand]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    /// The brand's name, as in campaigns and opt-outs.
    pub name: String,
}

/// What sits at the end of a device's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A relais device (firmware) speaking the link protocol.
    Device,
    /// A GSM modem: the agent runs inside the host (`relais direct`).
    Modem,
}

/// `[[device]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Name in the store and in reports.
    pub name: String,
    /// Device or modem.
    #[serde(default = "default_kind")]
    pub kind: DeviceKind,
    /// Serial port, pty or `tcp:HOST:PORT`.
    pub port: String,
    /// Line speed.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// `alpha:NAME`, `longnum:+NUMBER` or `shortcode:CODE`.
    pub sender: String,
    /// Short code for STOP replies.
    #[serde(default)]
    pub stop_code: Option<u32>,
    /// Declared registered sender.
    #[serde(default)]
    pub registered: bool,
    /// Brands it sends for (empty: all).
    #[serde(default)]
    pub brands: Vec<String>,
    /// SIM PIN (direct mode).
    #[serde(default)]
    pub sim_pin: Option<String>,
    /// Modem family of a `kind = "modem"` device: sim800 (default), sim7600, ec25, generic.
    #[serde(default)]
    pub profile: Option<String>,
    /// The agent's state file of a `kind = "modem"` device (default:
    /// relais-agent-NAME.flash beside the configuration).
    #[serde(default)]
    pub state: Option<PathBuf>,
}

impl DeviceConfig {
    /// Its SIM PIN, checked (4 to 8 digits).
    pub fn pin(&self) -> Result<Option<SimPin>, String> {
        self.sim_pin
            .as_deref()
            .map(|p| {
                SimPin::new(p.as_bytes())
                    .map_err(|e| format!("device {:?}: sim_pin: {e}", self.name))
            })
            .transpose()
    }
}

fn default_kind() -> DeviceKind {
    DeviceKind::Device
}
fn default_baud() -> u32 {
    115_200
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: default_database(),
            scheduler: SchedulerConfig::default(),
            rules: toml::Table::new(),
            pacing: PacingConfig::default(),
            brands: Vec::new(),
            devices: Vec::new(),
            http: Default::default(),
            base: PathBuf::from("."),
        }
    }
}

/// Parses a duration as the configuration writes it: a whole number and a unit, `ms`,
/// `s`, `m` (or `min`), `h` or `d`, or several of those added up (`1h30m`, `1h 30m`).
/// Spaces around the parts are allowed; `0s` is zero.
///
/// A number without a unit (seconds? milliseconds?), a fraction (`1.5s`: write
/// `1500ms`), a negative number or an unknown unit is an error that says which.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const HINT: &str =
        "write a whole number and a unit (ms, s, m, h or d), e.g. \"500ms\", \"30s\", \"1h30m\"";
    let bad = |why: String| format!("bad duration {text:?}: {why}; {HINT}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("empty duration {text:?}: {HINT}"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad(format!("{rest:?} does not start with a number")));
        }
        let (number, after) = rest.split_at(digits);
        if after.starts_with(['.', ',']) {
            return Err(bad("fractions are not accepted, use a smaller unit".into()));
        }
        let after = after.trim_start();
        let letters = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(bad(format!("{number} has no unit"))),
            _ => return Err(bad(format!("unknown unit {unit:?}"))),
        };
        let ms = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_ms))
            .ok_or_else(|| bad("too long".into()))?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| bad("too long".into()))?;
        rest = after.trim_start();
    }
    Ok(total)
}

fn duration_ms(what: &str, text: &str) -> Result<u32, String> {
    let d = parse_duration(text).map_err(|e| format!("{what}: {e}"))?;
    u32::try_from(d.as_millis()).map_err(|_| format!("{what}: {text:?} is too long"))
}

impl Config {
    /// Reads and checks the file at `path`. A missing file at the default path gives
    /// the defaults; a missing file named explicitly is an error.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut config = Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(config)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.message().replace('\n', " "))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        self.options()?;
        self.settings()?;
        self.retry()?;
        let mut names = std::collections::BTreeSet::new();
        for d in &self.devices {
            if !names.insert(d.name.as_str()) {
                return Err(format!("device {:?} is defined twice", d.name));
            }
            self.identity(d, self.brands.first().map_or("relais", |b| b.name.as_str()))?;
            d.pin()?;
            if let Some(p) = d.profile.as_deref()
                && crate::local::profile_named(p).is_none()
            {
                return Err(format!(
                    "device {:?}: profile {p:?}: one of sim800, sim7600, ec25, generic",
                    d.name
                ));
            }
            for b in &d.brands {
                if !self.has_brand(b) {
                    return Err(format!(
                        "device {:?} sends for brand {b:?}, which no [[brand]] defines",
                        d.name
                    ));
                }
            }
        }
        self.http.check(|b| self.has_brand(b))?;
        for u in &self.http.users {
            if let Some(d) = u.device.as_deref().filter(|d| self.device(d).is_none()) {
                return Err(format!("http.user {:?}: no [[device]] named {d:?}", u.name));
            }
        }
        if self.scheduler.max_attempts == 0 {
            return Err("scheduler.max_attempts must be at least 1".into());
        }
        Ok(())
    }

    /// Where the store lives: `database`, a file relative to the configuration file
    /// or a PostgreSQL URL.
    pub fn database(&self) -> crate::store::Location {
        crate::store::Location::parse(&self.database, &self.base)
    }

    /// True when `brand` is configured (any brand is accepted when none is).
    pub fn has_brand(&self, brand: &str) -> bool {
        self.brands.is_empty() || self.brands.iter().any(|b| b.name == brand)
    }

    /// The brand names.
    pub fn brand_names(&self) -> Vec<&str> {
        self.brands.iter().map(|b| b.name.as_str()).collect()
    }

    /// The compliance options (`[rules]`).
    pub fn options(&self) -> Result<Options, String> {
        let text = toml::to_string(&self.rules).map_err(|e| e.to_string())?;
        crate::policy::parse_overrides(&text).map_err(|e| format!("[rules]: {e}"))
    }

    /// The settings sent to every device.
    pub fn settings(&self) -> Result<Settings, String> {
        let options = self.options()?;
        let p = &self.pacing;
        Ok(Settings {
            fr_profile: options.fr_profile,
            append_opt_out: options.append_opt_out,
            holidays_everywhere: options.holidays_everywhere,
            alsace_moselle_everywhere: options.alsace_moselle_everywhere,
            banned_categories: options.banned_categories,
            horizon_days: options.horizon_days,
            house_window: options.house_window.clone(),
            confirm_keywords: true,
            pacing: Pacing {
                per_minute: p.per_minute,
                per_hour: p.per_hour,
                per_day: p.per_day,
                min_gap_ms: duration_ms("pacing.min_gap", &p.min_gap)?,
                jitter_ms: duration_ms("pacing.jitter", &p.jitter)?,
            },
            // Per device: `scheduler::Target::settings`.
            sim_pin: None,
        })
    }

    /// The retry policy.
    pub fn retry(&self) -> Result<RetryPolicy, String> {
        let mut backoff_secs = Vec::new();
        for b in &self.scheduler.retry_backoff {
            backoff_secs.push(i64::from(duration_ms("scheduler.retry_backoff", b)?) / 1000);
        }
        if backoff_secs.is_empty() {
            backoff_secs.push(60);
        }
        Ok(RetryPolicy {
            max_attempts: self.scheduler.max_attempts,
            backoff_secs,
        })
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceConfig> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The sender identity of `device` for `brand`.
    pub fn identity(&self, device: &DeviceConfig, brand: &str) -> Result<Identity, String> {
        let (kind, value) = device.sender.split_once(':').ok_or_else(|| {
            format!(
                "device {:?}: sender must be alpha:NAME, longnum:+NUMBER or shortcode:CODE",
                device.name
            )
        })?;
        let sender = match kind {
            "alpha" if (1..=11).contains(&value.chars().count()) => Sender::Alpha(bounded(value)),
            "alpha" => {
                return Err(format!(
                    "device {:?}: an alphanumeric sender has 1 to 11 characters",
                    device.name
                ));
            }
            "longnum" => Sender::LongNumber(
                Msisdn::parse(value)
                    .map_err(|e| format!("device {:?}: sender: {e}", device.name))?,
            ),
            "shortcode" => Sender::ShortCode(
                value
                    .parse()
                    .map_err(|_| format!("device {:?}: bad short code {value:?}", device.name))?,
            ),
            _ => {
                return Err(format!(
                    "device {:?}: unknown sender kind {kind:?}",
                    device.name
                ));
            }
        };
        Ok(Identity {
            sender,
            registered: device.registered,
            brand: bounded(brand),
            stop_code: device.stop_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_the_empty_file_gives_defaults() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.devices.len(), 1);
        assert_eq!(c.settings().unwrap().pacing, Pacing::default());
        assert_eq!(c.retry().unwrap(), RetryPolicy::default());
        let d = Config::parse("").unwrap();
        assert!(d.devices.is_empty());
        assert_eq!(d.database, "relais.db");
    }

    #[test]
    fn durations_are_numbers_with_units() {
        for (text, ms) in [
            ("0s", 0),
            ("10ms", 10),
            ("500ms", 500),
            ("2s", 2_000),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2min", 120_000),
            ("1h", 3_600_000),
            ("1d", 86_400_000),
            ("1h30m", 5_400_000),
            ("1h 30m", 5_400_000),
            (" 30 s ", 30_000),
            ("1m30s250ms", 90_250),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text:?}"
            );
        }
        // Every duration the example file and the defaults write.
        let c = Config::parse(EXAMPLE).unwrap();
        let http = &c.http;
        for text in [&c.scheduler.poll, &c.pacing.min_gap, &c.pacing.jitter]
            .into_iter()
            .chain(&c.scheduler.retry_backoff)
            .chain([&http.request_timeout, &http.callback_timeout])
            .chain(&http.callback_backoff)
            .chain([&Config::default().pacing.min_gap])
        {
            assert!(parse_duration(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty duration"),
            ("   ", "empty duration"),
            ("soon", "\"soon\" does not start with a number"),
            ("-5s", "does not start with a number"),
            ("30", "30 has no unit"),
            ("1h30", "30 has no unit"),
            ("1.5s", "fractions are not accepted"),
            ("5x", "unknown unit \"x\""),
            ("5 seconds", "unknown unit \"seconds\""),
            ("5S", "unknown unit \"S\""),
            ("99999999999999999999s", "too long"),
            ("300000000000d", "too long"),
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(e.contains("e.g. \"500ms\""), "{text:?}: {e}");
        }
        let e = Config::parse("[scheduler]\nretry_backoff = ['1m', '5']").unwrap_err();
        assert!(
            e.starts_with("scheduler.retry_backoff: bad duration \"5\": 5 has no unit"),
            "{e}"
        );
        // A wait must fit the device's 32-bit millisecond field.
        let e = Config::parse("[pacing]\nmin_gap = '50d'").unwrap_err();
        assert!(e.contains("too long"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        let e = Config::parse("databse = 'x'").unwrap_err();
        assert!(e.contains("databse"), "{e}");
        let e = Config::parse("[rules]\nfr_profile = 'lax'").unwrap_err();
        assert!(e.contains("profile"), "{e}");
        let e = Config::parse("[[device]]\nname='a'\nport='x'\nsender='alpha:THIS-IS-TOO-LONG'")
            .unwrap_err();
        assert!(e.contains("1 to 11"), "{e}");
        let e = Config::parse(
            "[[brand]]\nname='A'\n[[device]]\nname='a'\nport='x'\nsender='alpha:A'\nbrands=['B']",
        )
        .unwrap_err();
        assert!(e.contains("no [[brand]]"), "{e}");
        let e = Config::parse("[pacing]\nmin_gap = 'soon'").unwrap_err();
        assert!(e.contains("min_gap"), "{e}");
        let e = Config::parse("[[device]]\nname='a'\nport='x'\nsender='alpha:A'\nsim_pin='12'")
            .unwrap_err();
        assert!(e.contains("sim_pin"), "{e}");
    }

    /// Every `[rules]` key set away from its default: the device gets each of them in
    /// its settings, so its gate and the host's pre-check decide with the same options.
    #[test]
    fn every_rule_option_reaches_the_device_settings() {
        let c = Config::parse(
            r#"
[rules]
fr_profile = "strict"
alsace_moselle_everywhere = true
append_opt_out = false
holidays_everywhere = true
banned_categories = ["alcohol", "gambling"]
horizon_days = 30
[[rules.house_window]]
days = "mon-fri"
start = "09:00"
end = "18:30"
[[rules.house_window]]
days = "sat"
start = "10:00"
end = "12:00"
[[device]]
name = "a"
port = "x"
sender = "alpha:A"
sim_pin = "0000"
"#,
        )
        .unwrap();
        let host = c.options().unwrap();
        let device = c.settings().unwrap().options();
        let defaults = Options::default();
        assert_ne!(host.fr_profile, defaults.fr_profile);
        assert_ne!(
            host.alsace_moselle_everywhere,
            defaults.alsace_moselle_everywhere
        );
        assert_ne!(host.append_opt_out, defaults.append_opt_out);
        assert_ne!(host.holidays_everywhere, defaults.holidays_everywhere);
        assert_ne!(host.banned_categories, defaults.banned_categories);
        assert_ne!(host.horizon_days, defaults.horizon_days);
        assert_eq!(host.house_window.len(), 2);
        assert_eq!(device, host);
        // The SIM PIN goes to its device only.
        assert_eq!(c.settings().unwrap().sim_pin, None);
        assert_eq!(
            c.devices[0].pin().unwrap(),
            Some(SimPin::new(b"0000").unwrap())
        );
    }
}
