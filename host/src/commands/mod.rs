//! The user commands over the store: `send`, `campaign`, `contacts`, `optout`,
//! `consent`, `status`, `config`. The daemons (`run`, `direct`) are in [`daemon`].

pub mod callbacks;
pub mod daemon;

use crate::store::db::params;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand};
use relais_core::compliance::decision::ConsentStatus;
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;

use crate::campaign::{self, ImportSpec, check_text, parse_class};
use crate::config::Config;
use crate::scheduler::{Clock, SystemClock, parse_categories};
use crate::store::{
    ALL_BRANDS, CampaignStatus, ConsentRecord, NewCampaign, NewJob, OptOut, Store, consent_name,
    parse_consent,
};

/// Options every store command takes.
#[derive(Debug, Clone, ClapArgs)]
pub struct Common {
    /// Configuration file (default: ./relais.toml when it exists; see `relais config example`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store: a SQLite file or a postgres:// URL (default: `database` from the
    /// configuration, else ./relais.db).
    #[arg(long, global = true, value_name = "FILE|URL")]
    pub db: Option<String>,
}

impl Common {
    /// The configuration and the store it names.
    pub fn open(&self) -> Result<(Config, Store), String> {
        let config = Config::load(self.config.as_deref())?;
        let store = Store::open_at(&self.location(&config)).map_err(|e| e.to_string())?;
        Ok((config, store))
    }

    /// [`Common::open`] for a daemon: a database server that cannot be reached yet
    /// (a host that boots before it, a restart) is waited for, with a line every 10 s;
    /// any other error ends it at once.
    pub fn open_waiting(&self) -> Result<(Config, Store), String> {
        let config = Config::load(self.config.as_deref())?;
        let location = self.location(&config);
        let started = std::time::Instant::now();
        let mut told: Option<std::time::Instant> = None;
        loop {
            match Store::open_at(&location) {
                Ok(store) => {
                    if told.is_some() {
                        tracing::info!(
                            waited_s = started.elapsed().as_secs(),
                            "database reachable; starting"
                        );
                    }
                    return Ok((config, store));
                }
                Err(e) if e.is_unreachable() => {
                    if told.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10)) {
                        tracing::error!(
                            waited_s = started.elapsed().as_secs(),
                            "{e}; waiting for it (Ctrl-C to give up)"
                        );
                        told = Some(std::time::Instant::now());
                    }
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    fn location(&self, config: &Config) -> crate::store::Location {
        match &self.db {
            Some(db) => crate::store::Location::parse(db, std::path::Path::new("")),
            None => config.database(),
        }
    }
}

/// Prints `Err` as `relais <cmd>: ...` and maps it to exit code 2.
pub fn finish(cmd: &str, r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relais {cmd}: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse_time(text: &str) -> Result<UtcInstant, String> {
    UtcInstant::parse_rfc3339(text).ok_or_else(|| {
        format!("{text:?} is not a time like 2026-12-24T18:00:00Z or 2026-12-24T19:00:00+01:00")
    })
}

fn check_brand(config: &Config, brand: &str) -> Result<(), String> {
    if config.has_brand(brand) {
        Ok(())
    } else {
        Err(format!(
            "unknown brand {brand:?}; the configuration defines: {}",
            config.brand_names().join(", ")
        ))
    }
}

fn default_brand(config: &Config, brand: Option<String>) -> Result<String, String> {
    match brand {
        Some(b) => {
            check_brand(config, &b)?;
            Ok(b)
        }
        None => match config.brands.as_slice() {
            [one] => Ok(one.name.clone()),
            [] => Err("--brand is required (no [[brand]] in the configuration)".into()),
            _ => Err(format!(
                "--brand is required: the configuration has several ({})",
                config.brand_names().join(", ")
            )),
        },
    }
}

// ----- send -------------------------------------------------------------------------

/// `relais send`: queue one SMS.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "The message is queued in the store; a running `relais run` or \
`relais direct` sends it (after the same compliance checks as a campaign).\n\n\
Example: relais send --to +33612345678 --text 'Your code is 4711' --class transactional"
)]
pub struct SendArgs {
    /// Recipient in international form (+33 6 12 34 56 78).
    #[arg(long)]
    pub to: String,
    /// The text (at most 640 bytes).
    #[arg(long)]
    pub text: String,
    /// transactional, marketing or conversational.
    #[arg(long, default_value = "transactional")]
    pub class: String,
    /// Brand it is sent for (default: the only configured brand).
    #[arg(long)]
    pub brand: Option<String>,
    /// Content categories, comma separated (see `relais policy packs`).
    #[arg(long, default_value = "")]
    pub categories: String,
    /// Not before this time (RFC 3339).
    #[arg(long)]
    pub at: Option<String>,
    /// Give up when not sent by this time (RFC 3339).
    #[arg(long)]
    pub expires: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `relais send`.
pub fn send(a: SendArgs) -> Result<(), String> {
    let (config, mut store) = a.common.open()?;
    let number = Msisdn::parse(&a.to).map_err(|e| format!("--to {:?}: {e}", a.to))?;
    check_text(&a.text).map_err(|e| format!("--text: {e}"))?;
    let class = parse_class(&a.class)?;
    parse_categories(&a.categories)?;
    let brand = default_brand(&config, a.brand)?;
    let not_before = a.at.as_deref().map(parse_time).transpose()?;
    let expires = a.expires.as_deref().map(parse_time).transpose()?;
    let now = SystemClock.now();
    let consent = store
        .consent_of(&number.to_string(), &brand)
        .map_err(|e| e.to_string())?
        .map_or(ConsentStatus::None, |c| c.status);
    let id = store
        .insert_job(
            &NewJob {
                number: number.to_string(),
                text: a.text,
                class,
                brand,
                categories: a.categories,
                department: None,
                consent,
                not_before,
                expires,
            },
            now,
        )
        .map_err(|e| e.to_string())?;
    println!("queued job {id} to {number}; `relais run` or `relais direct` sends it");
    Ok(())
}

// ----- campaign ---------------------------------------------------------------------

/// `relais campaign`.
#[derive(Debug, ClapArgs)]
pub struct CampaignArgs {
    #[command(subcommand)]
    pub command: CampaignCommand,
    #[command(flatten)]
    pub common: Common,
}

/// Campaign subcommands.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Import contacts from a CSV file and create a campaign with one message each.
    #[command(
        after_help = "The CSV needs a header row with a `number` column (international \
form); `first_name`, `last_name`, `consent`, `department`, `zone` are understood, and any other \
column can be used in the template as {column}. Rejected rows are listed with their line and \
reason; the others are stored in one transaction. The campaign starts as a draft: \
`relais campaign start NAME`.\n\n\
Example: relais campaign import contacts.csv --name spring --brand Acme \\\n    \
--template 'Bonjour {first_name}, -20% ce week-end' --class marketing"
    )]
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Campaign name (unique).
        #[arg(long)]
        name: String,
        /// Text with {first_name}-style fields.
        #[arg(long)]
        template: String,
        /// transactional, marketing or conversational.
        #[arg(long, default_value = "marketing")]
        class: String,
        /// Brand.
        #[arg(long)]
        brand: Option<String>,
        /// Content categories, comma separated.
        #[arg(long, default_value = "")]
        categories: String,
        /// Not before this time (RFC 3339).
        #[arg(long)]
        not_before: Option<String>,
        /// Give up on messages not sent by this time (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// Import nothing when any row is rejected.
        #[arg(long)]
        strict: bool,
        /// Start the campaign right away.
        #[arg(long)]
        start: bool,
    },
    /// Let the daemon send the campaign's messages.
    Start {
        /// Campaign name.
        name: String,
    },
    /// Hold the campaign's messages that have not gone to a device yet.
    Pause {
        /// Campaign name.
        name: String,
    },
    /// Same as start, after a pause.
    Resume {
        /// Campaign name.
        name: String,
    },
    /// Cancel the messages that have not gone to a device yet.
    Cancel {
        /// Campaign name.
        name: String,
    },
    /// Progress of one campaign (or all).
    Status {
        /// Campaign name.
        name: Option<String>,
    },
}

/// Runs `relais campaign`.
pub fn campaign(a: CampaignArgs) -> Result<(), String> {
    let (config, mut store) = a.common.open()?;
    let now = SystemClock.now();
    match a.command {
        CampaignCommand::Import {
            file,
            name,
            template,
            class,
            brand,
            categories,
            not_before,
            expires,
            strict,
            start,
        } => {
            let brand = default_brand(&config, brand)?;
            let class = parse_class(&class)?;
            parse_categories(&categories)?;
            let spec = ImportSpec {
                brand: brand.clone(),
                consent_source: format!("import:{}", file.display()),
                campaign: Some(NewCampaign {
                    name: name.clone(),
                    template,
                    class,
                    brand,
                    categories,
                }),
                not_before: not_before.as_deref().map(parse_time).transpose()?,
                expires: expires.as_deref().map(parse_time).transpose()?,
                strict,
            };
            let outcome = import_file(&mut store, &file, &spec, now)?;
            print_outcome(&outcome);
            if start {
                store
                    .set_campaign_status(&name, CampaignStatus::Running)
                    .map_err(|e| e.to_string())?;
                println!("campaign {name:?} started");
            } else {
                println!("campaign {name:?} is a draft: `relais campaign start {name}` to send it");
            }
            Ok(())
        }
        CampaignCommand::Start { name } | CampaignCommand::Resume { name } => {
            store
                .set_campaign_status(&name, CampaignStatus::Running)
                .map_err(|e| e.to_string())?;
            println!("campaign {name:?} running");
            Ok(())
        }
        CampaignCommand::Pause { name } => {
            store
                .set_campaign_status(&name, CampaignStatus::Paused)
                .map_err(|e| e.to_string())?;
            println!("campaign {name:?} paused (messages already on a device still go)");
            Ok(())
        }
        CampaignCommand::Cancel { name } => {
            let c = store
                .campaign(&name)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no campaign named {name:?}"))?;
            let n = store
                .cancel_waiting(Some(c.id), None, now)
                .map_err(|e| e.to_string())?;
            println!("cancelled {n} message(s) of {name:?}");
            Ok(())
        }
        CampaignCommand::Status { name } => {
            let campaigns = match name {
                Some(n) => vec![
                    store
                        .campaign(&n)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("no campaign named {n:?}"))?,
                ],
                None => store.campaigns().map_err(|e| e.to_string())?,
            };
            if campaigns.is_empty() {
                println!(
                    "no campaign yet: `relais campaign import FILE.csv --name NAME --template TEXT`"
                );
            }
            for c in campaigns {
                let counts = store.job_counts(Some(c.id)).map_err(|e| e.to_string())?;
                let total: u64 = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(s, n)| format!("{} {n}", s.name()))
                    .collect();
                println!(
                    "{:<20} {:<8} {} {:<13} {total} message(s): {}",
                    c.name,
                    c.status.name(),
                    c.brand,
                    c.class.name(),
                    parts.join(", ")
                );
            }
            Ok(())
        }
    }
}

/// Imports `file` with a progress bar on a terminal.
pub fn import_file(
    store: &mut Store,
    file: &std::path::Path,
    spec: &ImportSpec,
    now: UtcInstant,
) -> Result<campaign::ImportOutcome, String> {
    let f =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows read ({per_sec}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("{} ({} KiB)", file.display(), size / 1024));
    let reader = std::io::BufReader::with_capacity(1 << 16, f);
    let r = campaign::import(store, reader, spec, now, &mut |rows| bar.set_position(rows));
    bar.finish_and_clear();
    r
}

fn print_outcome(o: &campaign::ImportOutcome) {
    println!(
        "{} row(s) read: {} imported ({} new contact(s)), {} rejected",
        o.rows,
        o.accepted,
        o.new_contacts,
        o.rows - o.accepted
    );
    for r in o.rejected.iter().take(50) {
        println!("  line {}: {}", r.line, r.reason);
    }
    if o.rejected.len() > 50 {
        println!("  ... and {} more", o.rows - o.accepted - 50);
    }
}

// ----- contacts, opt-outs, consent --------------------------------------------------

/// `relais contacts`.
#[derive(Debug, ClapArgs)]
pub struct ContactsArgs {
    #[command(subcommand)]
    pub command: ContactsCommand,
    #[command(flatten)]
    pub common: Common,
}

/// Contact subcommands.
#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Import or update contacts from a CSV file (same columns as `campaign import`).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Brand the `consent` column is for.
        #[arg(long)]
        brand: Option<String>,
        /// Import nothing when any row is rejected.
        #[arg(long)]
        strict: bool,
    },
    /// List contacts.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Remove a contact (its message history stays).
    Remove {
        /// The number.
        number: String,
    },
}

/// Runs `relais contacts`.
pub fn contacts(a: ContactsArgs) -> Result<(), String> {
    let (config, mut store) = a.common.open()?;
    let now = SystemClock.now();
    match a.command {
        ContactsCommand::Import {
            file,
            brand,
            strict,
        } => {
            let brand = default_brand(&config, brand)?;
            let spec = ImportSpec {
                brand,
                consent_source: format!("import:{}", file.display()),
                campaign: None,
                not_before: None,
                expires: None,
                strict,
            };
            print_outcome(&import_file(&mut store, &file, &spec, now)?);
        }
        ContactsCommand::List { limit } => {
            let total = store.contact_count().map_err(|e| e.to_string())?;
            for c in store.contacts(limit).map_err(|e| e.to_string())? {
                println!(
                    "{:<16} {} {}{}",
                    c.number,
                    c.first_name,
                    c.last_name,
                    c.department
                        .map_or(String::new(), |d| format!(" (dept {d})"))
                );
            }
            println!("{total} contact(s)");
        }
        ContactsCommand::Remove { number } => {
            let n = Msisdn::parse(&number).map_err(|e| format!("{number:?}: {e}"))?;
            if store
                .remove_contact(&n.to_string())
                .map_err(|e| e.to_string())?
            {
                println!("removed {n}");
            } else {
                return Err(format!("no contact {n}"));
            }
        }
    }
    Ok(())
}

/// `relais optout`.
#[derive(Debug, ClapArgs)]
pub struct OptoutArgs {
    #[command(subcommand)]
    pub command: OptoutCommand,
    #[command(flatten)]
    pub common: Common,
}

/// Opt-out subcommands.
#[derive(Debug, Subcommand)]
pub enum OptoutCommand {
    /// List current opt-outs.
    List,
    /// Record an opt-out (for one brand, or --all brands).
    Add {
        /// The number.
        number: String,
        /// Brand (default: the only configured brand).
        #[arg(long, conflicts_with = "all")]
        brand: Option<String>,
        /// Every brand (STOPALL).
        #[arg(long)]
        all: bool,
    },
    /// Remove an opt-out (the person opted in again).
    Remove {
        /// The number.
        number: String,
        /// Brand.
        #[arg(long, conflicts_with = "all")]
        brand: Option<String>,
        /// The every-brand opt-out.
        #[arg(long)]
        all: bool,
    },
    /// Import opt-outs from a CSV file with `number` and optional `brand` columns.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Write opt-outs as CSV (to stdout, or a file).
    Export {
        /// Output file.
        file: Option<PathBuf>,
    },
}

fn optout_brand(config: &Config, brand: Option<String>, all: bool) -> Result<String, String> {
    if all {
        Ok(ALL_BRANDS.to_string())
    } else {
        default_brand(config, brand)
    }
}

/// Runs `relais optout`.
pub fn optout(a: OptoutArgs) -> Result<(), String> {
    let (config, mut store) = a.common.open()?;
    let now = SystemClock.now();
    match a.command {
        OptoutCommand::List => {
            let list = store.optouts().map_err(|e| e.to_string())?;
            for o in &list {
                println!(
                    "{:<16} {:<12} {:<10} {} {}",
                    o.number,
                    o.brand,
                    o.keyword.as_deref().unwrap_or("-"),
                    o.source,
                    o.at
                );
            }
            println!("{} opt-out(s)", list.len());
        }
        OptoutCommand::Add { number, brand, all } => {
            let n = Msisdn::parse(&number).map_err(|e| format!("{number:?}: {e}"))?;
            let brand = optout_brand(&config, brand, all)?;
            let new = store
                .add_optout(&OptOut {
                    number: n.to_string(),
                    brand: brand.clone(),
                    keyword: None,
                    tier: None,
                    source: "cli".into(),
                    at: now,
                })
                .map_err(|e| e.to_string())?;
            println!(
                "{n} {} for {brand}",
                if new {
                    "opted out"
                } else {
                    "was already opted out"
                }
            );
        }
        OptoutCommand::Remove { number, brand, all } => {
            let n = Msisdn::parse(&number).map_err(|e| format!("{number:?}: {e}"))?;
            let brand = optout_brand(&config, brand, all)?;
            if !store
                .remove_optout(&n.to_string(), &brand, "cli", now)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("{n} had no opt-out for {brand}"));
            }
            println!("{n} may receive {brand} messages again");
        }
        OptoutCommand::Import { file } => {
            let f = std::fs::File::open(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let mut rd = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .flexible(true)
                .from_reader(f);
            let headers = rd.headers().map_err(|e| e.to_string())?.clone();
            let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
            let num = col("number").ok_or("the header has no `number` column")?;
            let bcol = col("brand");
            let source = format!("import:{}", file.display());
            let mut rows = Vec::new();
            let mut rejected = Vec::new();
            for (i, rec) in rd.records().enumerate() {
                let line = i + 2;
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        rejected.push(format!("line {line}: {e}"));
                        continue;
                    }
                };
                let raw = rec.get(num).unwrap_or("");
                let n = match Msisdn::parse(raw) {
                    Ok(n) => n,
                    Err(e) => {
                        rejected.push(format!("line {line}: {raw:?}: {e}"));
                        continue;
                    }
                };
                let brand = bcol.and_then(|c| rec.get(c)).unwrap_or("").to_string();
                let brand = if brand.is_empty() {
                    match default_brand(&config, None) {
                        Ok(b) => b,
                        Err(e) => {
                            rejected.push(format!("line {line}: {e}"));
                            continue;
                        }
                    }
                } else if brand == ALL_BRANDS || config.has_brand(&brand) {
                    brand
                } else {
                    rejected.push(format!("line {line}: unknown brand {brand:?}"));
                    continue;
                };
                rows.push(OptOut {
                    number: n.to_string(),
                    brand,
                    keyword: None,
                    tier: None,
                    source: source.clone(),
                    at: now,
                });
            }
            let added = store
                .transaction(|tx| {
                    let mut added = 0;
                    for o in &rows {
                        added += usize::from(crate::store::add_optout(tx, o)?);
                    }
                    Ok(added)
                })
                .map_err(|e| e.to_string())?;
            println!(
                "{} row(s): {added} new opt-out(s), {} already there, {} rejected",
                rows.len() + rejected.len(),
                rows.len() - added,
                rejected.len()
            );
            for r in rejected.iter().take(50) {
                println!("  {r}");
            }
        }
        OptoutCommand::Export { file } => {
            let out: Box<dyn std::io::Write> = match &file {
                Some(f) => {
                    Box::new(std::fs::File::create(f).map_err(|e| format!("{}: {e}", f.display()))?)
                }
                None => Box::new(std::io::stdout()),
            };
            let mut w = csv::Writer::from_writer(out);
            let err = |e: csv::Error| e.to_string();
            w.write_record(["number", "brand", "keyword", "tier", "source", "at"])
                .map_err(err)?;
            for o in store.optouts().map_err(|e| e.to_string())? {
                w.write_record([
                    o.number,
                    o.brand,
                    o.keyword.unwrap_or_default(),
                    o.tier.map(|t| t.to_string()).unwrap_or_default(),
                    o.source,
                    o.at.to_string(),
                ])
                .map_err(err)?;
            }
            w.flush().map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// `relais consent`.
#[derive(Debug, ClapArgs)]
pub struct ConsentArgs {
    #[command(subcommand)]
    pub command: ConsentCommand,
    #[command(flatten)]
    pub common: Common,
}

/// Consent subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Record consent for a number and brand, with where it came from.
    Set {
        /// The number.
        number: String,
        /// opted-in, existing-customer or none.
        status: String,
        /// Brand.
        #[arg(long)]
        brand: Option<String>,
        /// Where it came from (a form URL, "shop counter", ...).
        #[arg(long)]
        source: String,
    },
    /// Show recorded consent.
    List,
}

/// Runs `relais consent`.
pub fn consent(a: ConsentArgs) -> Result<(), String> {
    let (config, mut store) = a.common.open()?;
    match a.command {
        ConsentCommand::Set {
            number,
            status,
            brand,
            source,
        } => {
            let n = Msisdn::parse(&number).map_err(|e| format!("{number:?}: {e}"))?;
            let status = parse_consent(&status)
                .ok_or_else(|| format!("{status:?} must be opted-in, existing-customer or none"))?;
            let brand = default_brand(&config, brand)?;
            store
                .set_consent(&ConsentRecord {
                    number: n.to_string(),
                    brand: brand.clone(),
                    status,
                    source,
                    at: SystemClock.now(),
                })
                .map_err(|e| e.to_string())?;
            println!("{n}: {} for {brand}", consent_name(status));
        }
        ConsentCommand::List => {
            for c in store.consents().map_err(|e| e.to_string())? {
                println!(
                    "{:<16} {:<12} {:<18} {} {}",
                    c.number,
                    c.brand,
                    consent_name(c.status),
                    c.source,
                    c.at
                );
            }
        }
    }
    Ok(())
}

// ----- report ----------------------------------------------------------------------

/// `relais report`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  relais report\n  relais report --campaign spring --format html --output spring.html\n  relais report --format csv > all.csv"
)]
pub struct ReportArgs {
    /// One campaign (default: everything, with a line per campaign).
    #[arg(long)]
    pub campaign: Option<String>,
    /// table, json, csv or html (a self-contained page with charts).
    #[arg(long, default_value = "table")]
    pub format: crate::report::Format,
    /// Write to this file instead of the terminal.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `relais report`.
pub fn report(a: ReportArgs) -> Result<(), String> {
    let (_, store) = a.common.open()?;
    let report = crate::report::build(&store, a.campaign.as_deref())?;
    let text = crate::report::render(&report, a.format);
    match a.output {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

// ----- status, config ---------------------------------------------------------------

/// `relais status`: one screen of devices, queue and campaigns.
#[derive(Debug, ClapArgs)]
pub struct StatusArgs {
    /// The day the holiday-table warnings count from (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `relais status`.
pub fn status(a: StatusArgs) -> Result<(), String> {
    let (_, store) = a.common.open()?;
    let now = match &a.at {
        Some(t) => parse_time(t).map_err(|e| format!("--at: {e}"))?,
        None => SystemClock.now(),
    };
    print!("{}", status_screen(&store)?);
    for w in calendar_warnings(&store, now)? {
        println!("{w}");
    }
    Ok(())
}

/// A warning for each lunar/gazetted holiday table that runs out within
/// `calendar::WARN_DAYS` days of `now` (or has) and that the recipients in the store
/// need: the countries of the contacts and of the jobs not yet finished
/// (docs/compliance.md § Lunar and gazetted tables).
pub fn calendar_warnings(store: &Store, now: UtcInstant) -> Result<Vec<String>, String> {
    use relais_core::compliance::calendar::Date;
    use relais_core::compliance::number::lookup;
    use relais_core::compliance::packs::{self, FrProfile};
    let unfinished: Vec<String> = crate::store::JobState::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .map(|s| format!("'{}'", s.name()))
        .collect();
    // One number per leading digits is enough to find every country in use.
    let sql = format!(
        "SELECT min(number) FROM contacts GROUP BY substr(number, 1, 5) UNION \
         SELECT min(number) FROM jobs WHERE state IN ({}) GROUP BY substr(number, 1, 5)",
        unfinished.join(", ")
    );
    let numbers: Vec<String> = store
        .db()
        .query_map(&sql, params![], |row| row.get::<String>(0))
        .map_err(|e| e.to_string())?;
    let today = Date::from_days_since_epoch(now.0.div_euclid(86_400));
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for number in numbers {
        let Some(info) = Msisdn::parse(&number).ok().and_then(|n| lookup(&n)) else {
            continue;
        };
        let Some((pack, extra)) = packs::for_region(info.region, FrProfile::Af2m) else {
            continue;
        };
        for cal in pack.calendar.into_iter().chain(extra) {
            if seen.contains(&cal.id) {
                continue;
            }
            seen.push(cal.id);
            let code = pack.region.as_str();
            out.extend(crate::policy::table_warning(pack.name, code, cal, today));
        }
    }
    out.sort();
    Ok(out)
}

/// The one-screen status the daemon also prints.
pub fn status_screen(store: &Store) -> Result<String, String> {
    // Every line from the same instant (other hosts may write meanwhile).
    store
        .snapshot(|s| Ok(status_lines(s)))
        .map_err(|e| e.to_string())?
}

fn status_lines(store: &Store) -> Result<String, String> {
    use std::fmt::Write as _;
    let e = |e: crate::store::StoreError| e.to_string();
    let mut out = String::new();
    let _ = writeln!(out, "database {}", store.location());
    let devices = store.devices().map_err(e)?;
    if devices.is_empty() {
        let _ = writeln!(out, "devices: none seen yet");
    }
    for d in devices {
        let _ = writeln!(
            out,
            "device {}: boot {}, last event {}, {} (at {})",
            d.name,
            d.boot.map_or("-".into(), |b| b.to_string()),
            d.last_event.map_or("-".into(), |b| b.to_string()),
            d.status,
            d.updated_at
        );
        if let Some(why) = d.status.get("halted").and_then(|h| h.as_str()) {
            let _ = writeln!(
                out,
                "device {}: HALTED ({why}): its store failed while it recorded a send; it \
                 takes no jobs until it restarts",
                d.name
            );
        }
        if let Some(at) = d.epoch_changed_at {
            let _ = writeln!(
                out,
                "device {}: its event store was replaced at {at} (fresh flash or state file): \
                 its events were taken afresh",
                d.name
            );
        }
    }
    let counts = store.job_counts(None).map_err(e)?;
    let waiting: u64 = counts
        .iter()
        .filter(|(s, _)| s.is_waiting())
        .map(|(_, n)| n)
        .sum();
    let on_device: u64 = counts
        .iter()
        .filter(|(s, _)| s.is_on_device())
        .map(|(_, n)| n)
        .sum();
    let _ = writeln!(out, "queue: {waiting} waiting, {on_device} on a device");
    let parts: Vec<String> = counts
        .iter()
        .filter(|(s, _)| s.is_final())
        .map(|(s, n)| format!("{} {n}", s.name()))
        .collect();
    let _ = writeln!(
        out,
        "done: {}",
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    );
    if let Some(next) = store.next_due().map_err(e)? {
        let _ = writeln!(out, "next due: {next}");
    }
    for c in store.campaigns().map_err(e)? {
        let counts = store.job_counts(Some(c.id)).map_err(e)?;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let done: u64 = counts
            .iter()
            .filter(|(s, _)| s.is_final())
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(
            out,
            "campaign {} ({}): {done}/{total} done",
            c.name,
            c.status.name()
        );
    }
    let inbound = store.inbound(3).map_err(e)?;
    for m in inbound {
        let _ = writeln!(out, "inbound {} from {}: {}", m.at, m.sender, m.text);
    }
    Ok(out)
}

/// `relais config`.
#[derive(Debug, ClapArgs)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
    /// Configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented configuration file with every default.
    Example,
    /// Check a configuration file and print what it sets.
    Check,
}

/// Runs `relais config`.
pub fn config(a: ConfigArgs) -> Result<(), String> {
    match a.command {
        ConfigCommand::Example => {
            print!("{}", crate::config::EXAMPLE);
            Ok(())
        }
        ConfigCommand::Check => {
            let c = Config::load(a.config.as_deref())?;
            println!("database: {}", c.database());
            println!("brands: {}", c.brand_names().join(", "));
            for d in &c.devices {
                println!(
                    "device {}: {:?} on {} as {}",
                    d.name, d.kind, d.port, d.sender
                );
            }
            println!("settings: {:?}", c.settings()?);
            println!("retry: {:?}", c.retry()?);
            Ok(())
        }
    }
}
