//! `relais policy`: ask the compliance core what it decides, and why.
//!
//! - `check` evaluates one outgoing message (`relais_core::compliance::evaluate`);
//! - `keyword` classifies an inbound reply (STOP / START / HELP);
//! - `show` prints a country's rule pack with its sources, and warns when a holiday
//!   table it needs runs out within `calendar::WARN_DAYS` days ([`table_warning`]).
//!
//! A deployment's stricter choices come from an override file (`--overrides FILE`,
//! TOML, see [`Overrides`]), turned into the core's `Options`. Bad input gets a
//! one-line error and exit code 2.

use std::fmt::Write as _;
use std::process::ExitCode;

use relais_core::compliance::calendar::{Calendar, Date};
use relais_core::compliance::decision::{
    Category, CategorySet, Class, Consent, ConsentStatus, Contact, Decision, Message, OptOutScope,
    Options, Outcome, Recent, SendLog, SenderIdentity, SenderKind, ShortCode, Stores, Suppression,
    evaluate,
};
use relais_core::compliance::keywords::classify;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::packs::{self, DayWindow, Days, FrProfile, RuleKind, Scope};
use relais_core::compliance::tz::{UtcInstant, Zone};
use serde::Deserialize;
use serde_json::{Value, json};

/// `relais policy` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Decide send / defer / refuse for one message, with the rule and source.
    Check(Box<CheckArgs>),
    /// Classify an inbound reply: opt-out, opt-in, help, possible opt-out or none.
    Keyword(KeywordArgs),
    /// Print a country's rule pack as a person would read it, with sources.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Recipient, in international form (+33612345678).
    #[arg(long)]
    to: String,
    /// transactional, marketing or conversational.
    #[arg(long, default_value = "marketing")]
    class: String,
    /// longnum:+NUMBER, shortcode:CODE or alpha:NAME.
    #[arg(long)]
    sender: String,
    /// The sender identity is registered (10DLC, DLT header, AGCOM alias...).
    #[arg(long)]
    registered: bool,
    /// The brand the sender sends for (opt-out scope, consent).
    #[arg(long, default_value = "default")]
    brand: String,
    /// For an alphanumeric sender in France: the 36xxx code to name in the STOP mention.
    #[arg(long)]
    stop_code: Option<String>,
    /// When (RFC 3339); default now.
    #[arg(long)]
    at: Option<String>,
    /// The message text.
    #[arg(long, default_value = "")]
    text: String,
    /// Content category (political, alcohol, tobacco, gambling, adult, cannabis, firearms); repeatable.
    #[arg(long)]
    category: Vec<String>,
    /// Verified zone of the recipient (IANA name), overriding the guess from the number.
    #[arg(long)]
    zone: Option<String>,
    /// French department of the recipient (57, 67, 68 add the Alsace-Moselle holidays).
    #[arg(long)]
    department: Option<u8>,
    /// The recipient has no recorded opt-in.
    #[arg(long)]
    no_consent: bool,
    /// The recipient has no opt-in but is an existing customer (soft opt-in).
    #[arg(long, conflicts_with = "no_consent")]
    existing_customer: bool,
    /// The recipient opted out of this brand (`brand`) or of every brand (`all`).
    #[arg(long)]
    opted_out: Option<String>,
    /// Marketing messages already sent to the recipient in the last 24 hours.
    #[arg(long, default_value_t = 0)]
    sent_last_24h: u32,
    /// Deployment override file (TOML).
    #[arg(long)]
    overrides: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct KeywordArgs {
    /// The sender of the reply, in international form.
    #[arg(long)]
    from: Option<String>,
    /// The reply text.
    text: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// ISO country code (FR, US, IN, CA, GB, DE, ES, IT, BE, BR, KE, NG, ZA).
    country: String,
    /// French profile: af2m (default) or strict.
    #[arg(long, default_value = "af2m")]
    profile: String,
    /// Also list the public holidays of this year.
    #[arg(long)]
    year: Option<i32>,
    /// The day the holiday-table warnings count from (RFC 3339); default now.
    #[arg(long)]
    at: Option<String>,
}

/// Runs `relais policy`.
pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        Command::Check(a) => check(&a),
        Command::Keyword(a) => keyword(&a),
        Command::Show(a) => show(&a),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relais policy: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parses a `--sender` value.
fn parse_sender(text: &str) -> Result<SenderKind<'_>, String> {
    let (kind, value) = text
        .split_once(':')
        .ok_or("--sender must be longnum:+NUMBER, shortcode:CODE or alpha:NAME")?;
    match kind {
        "longnum" => Msisdn::parse(value)
            .map(SenderKind::LongNumber)
            .map_err(|e| format!("--sender: {e}")),
        "shortcode" => ShortCode::parse(value)
            .map(SenderKind::ShortCode)
            .ok_or_else(|| "--sender: a short code has 3 to 8 digits".into()),
        "alpha" if (1..=11).contains(&value.chars().count()) => Ok(SenderKind::Alpha(value)),
        "alpha" => Err("--sender: an alphanumeric sender has 1 to 11 characters".into()),
        _ => Err(format!(
            "--sender: unknown kind {kind:?} (longnum, shortcode, alpha)"
        )),
    }
}

struct Inputs {
    consent: ConsentStatus,
    opted_out: Option<OptOutScope>,
    sent: u32,
    now: UtcInstant,
}

impl Suppression for Inputs {
    fn opted_out(&self, _: &Msisdn, _: &str) -> Option<OptOutScope> {
        self.opted_out
    }
}

impl Consent for Inputs {
    fn consent(&self, _: &Msisdn, _: &str) -> ConsentStatus {
        self.consent
    }
}

impl SendLog for Inputs {
    fn sent_since(&self, _: &Msisdn, since: UtcInstant) -> Recent {
        // The CLI knows only a count: treat them as sent at the start of the period
        // (the earliest they could be), so a deferral is a lower bound.
        Recent {
            count: self.sent,
            oldest: (self.sent > 0).then_some(since.max(self.now.plus(-86_400))),
        }
    }
}

fn check(a: &CheckArgs) -> Result<String, String> {
    let number = Msisdn::parse(&a.to).map_err(|e| format!("--to: {e}"))?;
    let class = Class::parse(&a.class)
        .ok_or("--class must be transactional, marketing or conversational")?;
    let kind = parse_sender(&a.sender)?;
    let stop_code = match &a.stop_code {
        Some(c) => Some(ShortCode::parse(c).ok_or("--stop-code: a short code has 3 to 8 digits")?),
        None => None,
    };
    let now = match &a.at {
        Some(t) => UtcInstant::parse_rfc3339(t)
            .ok_or("--at must be RFC 3339, e.g. 2026-11-21T22:30:00Z")?,
        None => UtcInstant(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_secs() as i64,
        ),
    };
    let mut categories = CategorySet::EMPTY;
    for c in &a.category {
        categories = categories
            .with(Category::parse(c).ok_or_else(|| format!("--category: unknown category {c:?}"))?);
    }
    let zone = match &a.zone {
        Some(z) => {
            Some(Zone::from_name(z).ok_or_else(|| format!("--zone: no rules for zone {z:?}"))?)
        }
        None => None,
    };
    let opted_out = match a.opted_out.as_deref() {
        None => None,
        Some("brand") => Some(OptOutScope::Brand),
        Some("all") => Some(OptOutScope::All),
        Some(o) => return Err(format!("--opted-out must be brand or all, not {o:?}")),
    };
    let options = match &a.overrides {
        Some(path) => load_overrides(path)?,
        None => Options::default(),
    };
    let consent = if a.no_consent {
        ConsentStatus::None
    } else if a.existing_customer {
        ConsentStatus::ExistingCustomer
    } else {
        ConsentStatus::OptedIn
    };
    let inputs = Inputs {
        consent,
        opted_out,
        sent: a.sent_last_24h,
        now,
    };
    let stores = Stores {
        suppression: &inputs,
        consent: &inputs,
        log: &inputs,
    };
    let sender = SenderIdentity {
        kind,
        registered: a.registered,
        brand: &a.brand,
        stop_code,
    };
    let contact = Contact {
        number,
        zone,
        fr_department: a.department,
    };
    let message = Message {
        text: &a.text,
        class,
        categories,
    };
    let d = evaluate(&message, &sender, &contact, now, &options, stores);
    Ok(if a.json {
        format!("{}\n", decision_json(&d))
    } else {
        decision_text(&d)
    })
}

fn decision_json(d: &Decision<'_>) -> Value {
    let mut v = json!({
        "decision": d.name(),
        "class": d.class.name(),
        "country": d.region.map(|r| r.to_string()),
        "reason": d.to_string(),
        "rule": d.rule.id,
        "source": {
            "cite": d.rule.source.cite,
            "url": d.rule.source.url,
            "reliability": d.rule.source.reliability.tag(),
        },
    });
    match d.outcome {
        Outcome::Send { text, segments } => {
            v["text"] = json!(text.to_string());
            v["segments"] = json!(segments.get());
            v["appended"] = json!(text.appended.is_some());
        }
        Outcome::Defer {
            until, zone, local, ..
        } => {
            v["until"] = json!(until.to_string());
            v["local"] = json!(format!("{local} {zone}"));
        }
        Outcome::Refuse(_) => {}
    }
    v
}

fn decision_text(d: &Decision<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", d);
    let _ = writeln!(out, "  decision: {}", d.name());
    match d.outcome {
        Outcome::Send { text, segments } => {
            let _ = writeln!(out, "  text:     {text}");
            let _ = writeln!(out, "  segments: {segments}");
        }
        Outcome::Defer {
            until, zone, local, ..
        } => {
            let _ = writeln!(out, "  until:    {until} ({local} {zone})");
        }
        Outcome::Refuse(reason) => {
            let _ = writeln!(out, "  reason:   {reason}");
        }
    }
    let s = d.rule.source;
    let _ = writeln!(out, "  rule:     {}", d.rule.id);
    let _ = writeln!(
        out,
        "  source:   {} [{}] {}",
        s.cite,
        s.reliability.tag(),
        s.url
    );
    out
}

fn keyword(a: &KeywordArgs) -> Result<String, String> {
    let from = match &a.from {
        Some(f) => Some(Msisdn::parse(f).map_err(|e| format!("--from: {e}"))?),
        None => None,
    };
    let c = classify(&a.text, from.as_ref());
    if a.json {
        let v = json!({
            "kind": c.kind.name(),
            "keyword": c.keyword,
            "tier": c.tier.map(|t| t as u8),
            "lang": c.lang.map(|l| l.code()),
            "reply": c.reply,
        });
        return Ok(format!("{v}\n"));
    }
    let mut out = format!("{c}\n");
    if let Some(l) = c.lang {
        let _ = writeln!(out, "  language: {}", l.code());
    }
    if let Some(r) = c.reply {
        let _ = writeln!(out, "  reply:    {r}");
    }
    Ok(out)
}

fn show(a: &ShowArgs) -> Result<String, String> {
    let profile = parse_profile(&a.profile)?;
    let region = relais_core::compliance::number::Region::parse(&a.country).ok_or_else(|| {
        format!(
            "unknown country {:?}: give an ISO code such as FR",
            a.country
        )
    })?;
    let (pack, extra) =
        packs::for_region(region, profile).ok_or_else(|| format!("no rule pack for {region}"))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) rule pack, version {}, profile {}",
        pack.name, pack.region, pack.version, pack.profile
    );
    let langs: Vec<&str> = pack.languages.iter().map(|l| l.code()).collect();
    let _ = writeln!(out, "  keyword languages: {}", langs.join(", "));
    if let Some(c) = pack.calendar {
        let _ = write!(out, "  holiday calendar: {}", c.id);
        if let Some(e) = extra {
            let _ = write!(out, " + {}", e.id);
        }
        if let Some(t) = c.table {
            let _ = write!(
                out,
                " (lunar/gazetted table {}-01-01 to {}; later days fail closed)",
                t.first_year, t.last_day
            );
        }
        let _ = writeln!(out);
    }
    let today = today(a.at.as_deref())?;
    for cal in pack.calendar.iter().chain(extra.iter()) {
        if let Some(w) = table_warning(pack.name, pack.region.as_str(), cal, today) {
            let _ = writeln!(out, "{w}");
        }
    }
    let _ = writeln!(out);
    for rule in pack.rules {
        let classes: Vec<&str> = [
            Class::Transactional,
            Class::Marketing,
            Class::Conversational,
        ]
        .into_iter()
        .filter(|c| rule.classes.contains(*c))
        .map(Class::name)
        .collect();
        let scope = match rule.scope {
            Scope::Country => String::new(),
            Scope::UsState(s) => format!(" [{}]", s.as_str()),
        };
        let _ = writeln!(out, "{}{} ({})", rule.id, scope, classes.join(", "));
        let _ = writeln!(out, "    {}", rule.summary);
        if let RuleKind::NoRule(topic) = rule.kind {
            let _ = writeln!(out, "    no rule on {}: nothing is enforced", topic.name());
        }
        let _ = writeln!(
            out,
            "    source: {} [{}] {}",
            rule.source.cite,
            rule.source.reliability.tag(),
            rule.source.url
        );
    }
    if let Some(year) = a.year {
        let _ = writeln!(out, "\nPublic holidays {year}:");
        for cal in pack.calendar.iter().chain(extra.iter()) {
            let r = cal.for_each_in_year(year, |d, name| {
                let _ = writeln!(out, "  {} {} {name}", d.weekday().short_name(), d);
            });
            if let Err(e) = r {
                let _ = writeln!(out, "  {}: {e}", cal.id);
            }
        }
    }
    Ok(out)
}

/// The UTC day of `at` (RFC 3339), or of now.
fn today(at: Option<&str>) -> Result<Date, String> {
    let now = match at {
        Some(t) => UtcInstant::parse_rfc3339(t)
            .ok_or("--at must be RFC 3339, e.g. 2026-11-21T22:30:00Z")?,
        None => UtcInstant(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_secs() as i64,
        ),
    };
    Ok(Date::from_days_since_epoch(now.0.div_euclid(86_400)))
}

/// One line when `cal`'s lunar/gazetted table runs out within `calendar::WARN_DAYS` days of
/// `today`, or already has: it names the country, the table and its last covered day
/// (`Calendar::covered_until`, so the dates stay in relais-core).
pub fn table_warning(country: &str, code: &str, cal: &Calendar, today: Date) -> Option<String> {
    let last = cal.runs_out_soon(today)?;
    let mut names: Vec<&str> = Vec::new();
    for &(.., name) in cal.table.map_or(&[][..], |t| t.dates) {
        if !name.ends_with(" Holiday") && !names.contains(&name) {
            names.push(name);
        }
    }
    let days = last.days_since_epoch() - today.days_since_epoch();
    let when = match days {
        0.. => format!("ends on {last} (in {days} days); after that"),
        _ => format!("ran out on {last} ({} days ago):", -days),
    };
    Some(format!(
        "warning: {country} ({code}): the lunar/gazetted holiday table of calendar {} ({}) {when} \
         marketing that must avoid public holidays is refused as \"calendar data missing\" \
         until relais is updated with the new declarations",
        cal.id,
        names.join(", ")
    ))
}

fn parse_profile(p: &str) -> Result<FrProfile, String> {
    match p {
        "af2m" => Ok(FrProfile::Af2m),
        "strict" => Ok(FrProfile::Strict),
        _ => Err(format!("profile must be af2m or strict, not {p:?}")),
    }
}

/// A deployment's override file: stricter choices only. Every field is optional.
///
/// ```toml
/// fr_profile = "strict"              # af2m (default) or strict
/// alsace_moselle_everywhere = true   # Good Friday and 26 Dec for every French number
/// append_opt_out = false             # refuse instead of appending a missing STOP mention
/// holidays_everywhere = true         # no marketing on public holidays wherever a calendar exists
/// banned_categories = ["political"]  # refused in every country
/// horizon_days = 30                  # refuse rather than defer further than this
///
/// [[house_window]]                   # marketing window where a pack has no hours rule
/// days = "mon-sat"
/// start = "09:00"
/// end = "20:00"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    fr_profile: Option<String>,
    alsace_moselle_everywhere: Option<bool>,
    append_opt_out: Option<bool>,
    holidays_everywhere: Option<bool>,
    #[serde(default)]
    banned_categories: Vec<String>,
    horizon_days: Option<u16>,
    #[serde(default)]
    house_window: Vec<HouseWindow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HouseWindow {
    days: String,
    start: String,
    end: String,
}

fn load_overrides(path: &std::path::Path) -> Result<Options, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_overrides(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Turns an override file into the core's options; only tightening is possible.
pub fn parse_overrides(text: &str) -> Result<Options, String> {
    let o: Overrides = toml::from_str(text).map_err(|e| e.message().replace('\n', " "))?;
    let mut options = Options::default();
    if let Some(p) = o.fr_profile {
        options.fr_profile = parse_profile(&p)?;
    }
    options.alsace_moselle_everywhere = o.alsace_moselle_everywhere.unwrap_or(false);
    options.append_opt_out = o.append_opt_out.unwrap_or(true);
    options.holidays_everywhere = o.holidays_everywhere.unwrap_or(false);
    for c in &o.banned_categories {
        options.banned_categories = options
            .banned_categories
            .with(Category::parse(c).ok_or_else(|| format!("unknown category {c:?}"))?);
    }
    if let Some(h) = o.horizon_days {
        if h > options.horizon_days {
            return Err(format!(
                "horizon_days may only shrink (at most {})",
                options.horizon_days
            ));
        }
        options.horizon_days = h;
    }
    for w in &o.house_window {
        let window = DayWindow {
            days: parse_days(&w.days)?,
            start: parse_hhmm(&w.start)?,
            end: parse_hhmm(&w.end)?,
        };
        if window.start >= window.end {
            return Err(format!(
                "house_window {}-{}: start must be before end",
                w.start, w.end
            ));
        }
        options
            .house_window
            .push(window)
            .map_err(|_| "at most 4 house windows")?;
    }
    Ok(options)
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_days(text: &str) -> Result<Days, String> {
    let index = |d: &str| {
        DAY_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(d.trim()))
            .ok_or_else(|| format!("unknown day {d:?}"))
    };
    let mut bits = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                if a > b {
                    return Err(format!("day range {part:?} runs backwards"));
                }
                for i in a..=b {
                    bits |= 1 << i;
                }
            }
            None => bits |= 1 << index(part)?,
        }
    }
    Ok(Days(bits))
}

fn parse_hhmm(text: &str) -> Result<u16, String> {
    let bad = || format!("time {text:?} must be HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_tighten() {
        let o = parse_overrides(
            "fr_profile = \"strict\"\nholidays_everywhere = true\nbanned_categories = [\"political\"]\n\
             horizon_days = 30\n[[house_window]]\ndays = \"mon-fri,sat\"\nstart = \"09:00\"\nend = \"20:30\"\n",
        )
        .unwrap();
        assert_eq!(o.fr_profile, FrProfile::Strict);
        assert!(o.holidays_everywhere);
        assert!(o.banned_categories.contains(Category::Political));
        assert_eq!(o.horizon_days, 30);
        assert_eq!(
            o.house_window[0],
            DayWindow {
                days: Days::MON_SAT,
                start: 540,
                end: 1230
            }
        );
        assert!(parse_overrides("horizon_days = 9999").is_err());
        assert!(parse_overrides("typo = 1").is_err());
        assert!(
            parse_overrides(
                "[[house_window]]\ndays = \"sun-mon\"\nstart = \"09:00\"\nend = \"10:00\""
            )
            .is_err()
        );
    }

    #[test]
    fn senders_parse() {
        assert!(matches!(
            parse_sender("shortcode:36123"),
            Ok(SenderKind::ShortCode(_))
        ));
        assert!(matches!(
            parse_sender("alpha:ACME"),
            Ok(SenderKind::Alpha("ACME"))
        ));
        assert!(matches!(
            parse_sender("longnum:+33612345678"),
            Ok(SenderKind::LongNumber(_))
        ));
        assert!(parse_sender("alpha:ABCDEFGHIJKL").is_err());
        assert!(parse_sender("fax:1").is_err());
    }
}
