//! `relais demo`: the whole product on the simulator, in virtual time, with no hardware
//! and no setup. A shop imports its contact list on the evening of Saturday
//! 15 August 2026 (a French public holiday) and starts a marketing campaign: the
//! scheduler defers every message past the holiday night and the Sunday to Monday
//! 08:00, where they go out paced. Parcel alerts (transactional) go at once, at
//! night. Subscribers answer STOP (suppressed on the device, confirmed, recorded in
//! the store, later messages refused), others send keywords or thanks; two numbers no
//! longer exist and fail. Then the report, and a check that its numbers agree with the
//! simulator's ledger.
//!
//! The device is the relais firmware under QEMU when `qemu-system-arm` and a firmware
//! build are there (`relais sim` then runs as a child process at real speed, the
//! scheduler skips the quiet nights with the simulator's `advance`, and the firmware
//! notices each jump at its next clock read, within a minute: a few minutes in all);
//! otherwise the same agent code running in this process on the simulator with a step
//! clock (two virtual days in a few seconds). The demo says which.

use crate::store::db::params;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use relais_agent::store::MemStore;
use relais_core::compliance::tz::UtcInstant;
use tokio::sync::watch;

use crate::campaign::ImportSpec;
use crate::config::Config;
use crate::link::{self, LinkClient};
use crate::local::LocalDevice;
use crate::local::sim::{SimSetup, VirtualTime};
use crate::report::{self, Format};
use crate::scheduler::{self, Clock, Context, Target};
use crate::sim::scenario::Scenario;
use crate::store::{NewCampaign, NewJob, Store};

const SCENARIO: &str = include_str!("../demo/scenario.toml");
const CONTACTS: &str = include_str!("../demo/contacts.csv");
const CONFIG: &str = r#"
[[brand]]
name = "Acme"

[[device]]
name = "sim-m1"
kind = "modem"
port = "simulator"
sender = "alpha:ACME"
stop_code = 36123
"#;

/// The story ends at this virtual instant: Monday 17 August 2026, 12:00 in Paris.
const END: &str = "2026-08-17T10:00:00Z";

/// `relais demo`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Runs in a few seconds of real time; the store, the simulator's \
ledger and the reports stay in --dir (default: a new temporary directory) for a look \
afterwards: `relais report --db DIR/relais.db --format html > demo.html`."
)]
pub struct DemoArgs {
    /// Where to keep the store, the ledger and the HTML report.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Report format printed at the end.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// auto: the firmware under QEMU when qemu-system-arm and a firmware build are
    /// there, else the agent in this process; qemu or in-process to choose.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The firmware ELF for --device qemu (default: RELAIS_FIRMWARE, else the newest
    /// `cargo xtask firmware` build of this checkout).
    #[arg(long)]
    pub firmware: Option<PathBuf>,
}

/// What a demo run produced.
#[derive(Debug)]
pub struct DemoOutcome {
    /// Its directory.
    pub dir: PathBuf,
    /// The store.
    pub db: PathBuf,
    /// The simulator's ledger (JSON Lines).
    pub ledger: PathBuf,
    /// The report over everything.
    pub report: report::Report,
    /// The store against the simulator's ledger.
    pub reconciliation: Reconciliation,
    /// Virtual time at the end.
    pub ended_at: UtcInstant,
}

/// The scheduler's clock on the simulator: its virtual time; when the host has
/// nothing to do it asks the device thread to jump to the next due instant (or to the
/// end of the story).
#[derive(Debug)]
pub struct SimClock {
    /// The device thread's virtual time.
    pub time: Arc<VirtualTime>,
    /// Never jump past this instant.
    pub end: UtcInstant,
}

impl Clock for SimClock {
    fn now(&self) -> UtcInstant {
        UtcInstant(self.time.now_ms().div_euclid(1000))
    }
    fn idle(&self, until: Option<UtcInstant>) {
        let target = until.unwrap_or(self.end).min(self.end);
        self.time.request_jump_to(target.0.saturating_mul(1000));
    }
    fn busy(&self) {
        self.time.cancel_jump();
    }
}

fn say(quiet: bool, line: &str) {
    if !quiet {
        println!("{line}");
    }
}

/// Paris local time of `t` for the narration (CEST in August).
fn paris(t: UtcInstant) -> String {
    relais_core::compliance::tz::Zone::from_name("Europe/Paris")
        .map(|z| z.to_local(t).to_string())
        .unwrap_or_else(|| t.to_string())
}

/// The demo's files in `dir` (created; an old store and ledger there are replaced).
fn setup_dir(dir: &Path) -> Result<(PathBuf, PathBuf, Config, UtcInstant), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for f in [
        "relais.db",
        "relais.db-wal",
        "relais.db-shm",
        "ledger.jsonl",
        "relais-flash.bin",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::write(dir.join("contacts.csv"), CONTACTS).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("scenario.toml"), SCENARIO).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("relais.toml"), CONFIG).map_err(|e| e.to_string())?;
    let config = Config::parse(CONFIG)?;
    let end = UtcInstant::parse_rfc3339(END).ok_or("bad END")?;
    Ok((dir.join("relais.db"), dir.join("ledger.jsonl"), config, end))
}

/// The shop's data at the start of the story: the contact list (with the mistakes real
/// lists have) as a running campaign, and three parcel alerts.
fn prepare(db: &Path, start: UtcInstant, quiet: bool) -> Result<Store, String> {
    let mut store = Store::open(db).map_err(|e| e.to_string())?;
    let spec = ImportSpec {
        brand: "Acme".into(),
        consent_source: "import:contacts.csv (shop loyalty form)".into(),
        campaign: Some(NewCampaign {
            name: "rentree".into(),
            template: "Bonjour {first_name}, la rentrée arrive : -20% sur les fournitures à {city} jusqu'au 31/08.".into(),
            class: relais_core::compliance::decision::Class::Marketing,
            brand: "Acme".into(),
            categories: String::new(),
        }),
        not_before: None,
        expires: None,
        strict: false,
    };
    let outcome =
        crate::campaign::import(&mut store, CONTACTS.as_bytes(), &spec, start, &mut |_| {})?;
    say(
        quiet,
        &format!(
            "{} | import contacts.csv: {} rows, {} imported, {} rejected:",
            paris(start),
            outcome.rows,
            outcome.accepted,
            outcome.rejected.len()
        ),
    );
    for r in &outcome.rejected {
        say(quiet, &format!("      line {}: {}", r.line, r.reason));
    }
    store
        .set_campaign_status("rentree", crate::store::CampaignStatus::Running)
        .map_err(|e| e.to_string())?;
    say(
        quiet,
        &format!(
            "{} | campaign \"rentree\" (marketing, {} messages) started",
            paris(start),
            outcome.accepted
        ),
    );
    for (n, who) in [
        ("+33612340004", "Lucas"),
        ("+33612340003", "Chloé"),
        ("+33612340010", "Arthur"),
    ] {
        store
            .insert_job(
                &NewJob {
                    number: n.into(),
                    text: format!(
                        "{who}, votre colis Acme est arrivé au point relais. Code de retrait : 4711."
                    ),
                    class: relais_core::compliance::decision::Class::Transactional,
                    brand: "Acme".into(),
                    categories: String::new(),
                    department: None,
                    consent: relais_core::compliance::decision::ConsentStatus::None,
                    not_before: None,
                    expires: None,
                },
                start,
            )
            .map_err(|e| e.to_string())?;
    }
    say(
        quiet,
        &format!("{} | 3 parcel alerts (transactional) queued", paris(start)),
    );
    Ok(store)
}

/// The scheduler's view of the demo's one device.
fn demo_target(config: &Config) -> Result<Target, String> {
    let d = config.device("sim-m1").ok_or("demo device")?;
    Ok(Target {
        name: d.name.clone(),
        brands: Vec::new(),
        identity: config.identity(d, "Acme")?,
        sim_pin: d.pin()?,
    })
}

/// The report, the HTML page and the reconciliation at the end of a run.
fn finish(
    dir: &Path,
    db: PathBuf,
    ledger: PathBuf,
    ended_at: UtcInstant,
) -> Result<DemoOutcome, String> {
    let store = Store::open(&db).map_err(|e| e.to_string())?;
    let report = report::build(&store, None)?;
    std::fs::write(
        dir.join("report.html"),
        report::render(&report, Format::Html),
    )
    .map_err(|e| e.to_string())?;
    let reconciliation = reconcile(&store, &ledger)?;
    Ok(DemoOutcome {
        dir: dir.to_path_buf(),
        db,
        ledger,
        report,
        reconciliation,
        ended_at,
    })
}

/// Runs the story in `dir` with the agent in this process on the simulator in its
/// thread (a step clock: two virtual days in a few seconds).
pub fn run_demo(dir: &Path, quiet: bool) -> Result<DemoOutcome, String> {
    let (db, ledger, config, end) = setup_dir(dir)?;
    let scenario = Scenario::parse(SCENARIO)?;
    let setup = SimSetup::new(scenario, Some(ledger.clone()));
    let (device, handle) = LocalDevice::spawn_sim("demo", setup, MemStore::<256, 64, 256>::new())?;
    let clock = Arc::new(SimClock {
        time: handle.time().clone(),
        end,
    });
    let start = clock.now();
    say(
        quiet,
        &format!(
            "relais demo — device: the relais agent in this process, on a simulated SIM800 modem and network\n\
             virtual time starts {} in Paris (Saturday 15 August: a public holiday)\n",
            paris(start)
        ),
    );
    let store = prepare(&db, start, quiet)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Context::new(store, clock.clone(), &config)?);
    let target = demo_target(&config)?;
    let mut shown = std::collections::BTreeMap::new();
    let ledger_path = ledger.clone();
    runtime.block_on(drive(
        ctx.clone(),
        target,
        device.connector(),
        |ctx| {
            // The end of the story, once the keyword replies the device queued (they
            // wait for its pace) reached the network, or 10 virtual minutes later.
            let now = ctx.clock.now();
            now >= end
                && (now >= end.plus(600)
                    || reconcile(&ctx.store(), &ledger_path)
                        .is_ok_and(|r| r.ledger_replies >= r.store_confirmed))
        },
        |ctx| narrate(ctx, &mut shown, quiet),
        Duration::from_secs(600),
    ))?;
    let ended_at = clock.now();
    device.stop()?;
    drop(ctx);
    finish(dir, db, ledger, ended_at)
}

/// `relais sim` in a child process: the demo's network on a pty, virtual time at real
/// speed, jumps through its control socket. Killed when dropped.
struct SimProcess {
    child: std::process::Child,
    control: PathBuf,
    link: PathBuf,
}

impl SimProcess {
    fn start(dir: &Path, ledger: &Path) -> Result<SimProcess, String> {
        use std::io::BufRead as _;
        let scenario = dir.join("scenario-qemu.toml");
        std::fs::write(
            &scenario,
            SCENARIO.replace("clock = \"step\"", "speed = 1.0"),
        )
        .map_err(|e| e.to_string())?;
        let control = dir.join("control.sock");
        let link = dir.join("modem");
        let _ = std::fs::remove_file(&control);
        let exe = std::env::current_exe().map_err(|e| format!("relais binary: {e}"))?;
        let mut child = std::process::Command::new(exe)
            .arg("sim")
            .arg("--scenario")
            .arg(&scenario)
            .arg("--link")
            .arg(&link)
            .arg("--ledger")
            .arg(ledger)
            .arg("--control")
            .arg(&control)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("relais sim: {e}"))?;
        let stdout = child.stdout.take().ok_or("relais sim: no stdout")?;
        let mut sim = SimProcess {
            child,
            control,
            link,
        };
        for line in std::io::BufReader::new(stdout).lines() {
            match line {
                Ok(l) if l == "ready" => return Ok(sim),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = sim.child.kill();
        Err("relais sim did not start".into())
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scheduler's clock on a `relais sim` process: its virtual time (read once, then
/// carried by the wall clock at speed 1), and jumps through `advance` when the
/// scheduler is idle. The firmware notices a jump at its next clock read (within a
/// minute; `CLOCK_RESYNC_MS`).
#[derive(Debug)]
struct ControlClock {
    control: PathBuf,
    base: std::sync::Mutex<(i64, Instant)>,
    last_jump: std::sync::Mutex<Option<Instant>>,
    end: UtcInstant,
}

impl ControlClock {
    fn new(control: PathBuf, end: UtcInstant) -> Result<ControlClock, String> {
        let answer = crate::sim::control::request(&control, &serde_json::json!({"cmd": "time"}))?;
        let ms = answer["ms"].as_i64().ok_or("relais sim: time without ms")?;
        Ok(ControlClock {
            control,
            base: std::sync::Mutex::new((ms, Instant::now())),
            last_jump: std::sync::Mutex::new(None),
            end,
        })
    }

    fn now_ms(&self) -> i64 {
        let base = self.base.lock().unwrap_or_else(|p| p.into_inner());
        base.0 + base.1.elapsed().as_millis() as i64
    }
}

impl Clock for ControlClock {
    fn now(&self) -> UtcInstant {
        UtcInstant(self.now_ms().div_euclid(1000))
    }

    fn idle(&self, until: Option<UtcInstant>) {
        let target = until
            .unwrap_or(self.end)
            .min(self.end)
            .0
            .saturating_mul(1000);
        let by = target - self.now_ms();
        let mut last = self.last_jump.lock().unwrap_or_else(|p| p.into_inner());
        if by < 5_000 || last.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return;
        }
        let request = serde_json::json!({"cmd": "advance", "by": format!("{by}ms")});
        match crate::sim::control::request(&self.control, &request) {
            Ok(answer) => {
                if let Some(ms) = answer["ms"].as_i64() {
                    *self.base.lock().unwrap_or_else(|p| p.into_inner()) = (ms, Instant::now());
                }
                *last = Some(Instant::now());
            }
            Err(e) => tracing::warn!("relais sim advance: {e}"),
        }
    }
}

/// Runs the story in `dir` with the relais firmware under QEMU (`qemu`, `elf`) as the
/// device and `relais sim` as the network, in real time with virtual-time jumps over
/// the quiet nights (a few minutes: the firmware paces in real time and notices a
/// jump within a minute).
pub fn run_demo_qemu(
    dir: &Path,
    quiet: bool,
    qemu: &Path,
    elf: &Path,
) -> Result<DemoOutcome, String> {
    let (db, ledger, config, end) = setup_dir(dir)?;
    let sim = SimProcess::start(dir, &ledger)?;
    let clock = Arc::new(ControlClock::new(sim.control.clone(), end)?);
    let start = clock.now();
    say(
        quiet,
        &format!(
            "relais demo — device: the relais firmware ({}) under QEMU, on `relais sim`'s simulated SIM800 modem and network\n\
             virtual time starts {} in Paris (Saturday 15 August: a public holiday); the quiet nights are skipped, the rest runs in real time (a few minutes)\n",
            elf.display(),
            paris(start)
        ),
    );
    let store = prepare(&db, start, quiet)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Context::new(store, clock.clone(), &config)?);
    let target = demo_target(&config)?;
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("host link: {e}"))?;
    let _guest = crate::qemu::Qemu::boot(qemu, elf, dir, &listener, &sim.link)?;
    let mut shown = std::collections::BTreeMap::new();
    let mut activity = (0i64, Instant::now());
    let ledger_path = ledger.clone();
    runtime.block_on(async {
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("host link: {e}"))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|e| format!("host link: {e}"))?;
        drive(
            ctx.clone(),
            target,
            crate::link::accept_from(listener),
            |ctx| {
                // The end of the story, once the device has been quiet for 8 s.
                let rows: i64 = ctx
                    .store()
                    .db()
                    .query_row(
                        "SELECT coalesce((SELECT max(id) FROM job_history), 0)
                              + (SELECT count(*) FROM keywords) + (SELECT count(*) FROM inbound)",
                        params![],
                        |r| r.get(0),
                    )
                    .unwrap_or(0);
                if rows != activity.0 {
                    activity = (rows, Instant::now());
                }
                if ctx.clock.now() < end || activity.1.elapsed() < Duration::from_secs(8) {
                    return false;
                }
                // Keyword replies wait for the device's pace: give them time to reach
                // the network (at most 90 s of quiet).
                let replies_out = reconcile(&ctx.store(), &ledger_path)
                    .is_ok_and(|r| r.ledger_replies >= r.store_confirmed);
                replies_out || activity.1.elapsed() > Duration::from_secs(90)
            },
            |ctx| narrate(ctx, &mut shown, quiet),
            Duration::from_secs(900),
        )
        .await
    })?;
    let ended_at = clock.now();
    drop(ctx);
    drop(sim);
    finish(dir, db, ledger, ended_at)
}

/// The store and the simulator's ledger, side by side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Jobs the store says went to the network (`sent_at` set).
    pub store_sent: u64,
    /// Ledger messages that carry a job's text to its number.
    pub ledger_jobs: u64,
    /// Jobs with more than one copy in the ledger.
    pub duplicated: Vec<String>,
    /// Jobs the store says were sent, with no copy in the ledger.
    pub missing: Vec<String>,
    /// Ledger messages that are not jobs: the device's own replies (STOP
    /// confirmations, help texts).
    pub ledger_replies: u64,
    /// Keywords the store says the device confirmed (each one reply).
    pub store_confirmed: u64,
    /// Failed delivery reports in the ledger.
    pub ledger_failed: u64,
    /// Jobs the store has as undelivered.
    pub store_undelivered: u64,
}

impl Reconciliation {
    /// True when both sides tell the same story.
    pub fn agrees(&self) -> bool {
        self.duplicated.is_empty()
            && self.missing.is_empty()
            && self.store_sent == self.ledger_jobs
            && self.ledger_replies == self.store_confirmed
            && self.ledger_failed == self.store_undelivered
    }
}

/// Compares the store with the simulator's ledger: every job sent has exactly one
/// message with its text (the device may append the STOP mention) to its number, and
/// every other message on the network is a reply the device reported.
pub fn reconcile(store: &Store, ledger: &Path) -> Result<Reconciliation, String> {
    let text = std::fs::read_to_string(ledger).map_err(|e| format!("{}: {e}", ledger.display()))?;
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut r = Reconciliation::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v["kind"].as_str() {
            Some("message") => messages.push((
                v["to"].as_str().unwrap_or("").to_string(),
                v["text"].as_str().unwrap_or("").to_string(),
            )),
            Some("report") if v["outcome"].as_str() == Some("failed") => r.ledger_failed += 1,
            _ => {}
        }
    }
    let e = |e: crate::store::db::DbError| e.to_string();
    let conn = store.db();
    let jobs: Vec<(String, String)> = conn
        .query_map(
            "SELECT number, text FROM jobs WHERE sent_at IS NOT NULL",
            params![],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(e)?;
    r.store_sent = jobs.len() as u64;
    let mut used = vec![false; messages.len()];
    for (number, text) in &jobs {
        let copies: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, (to, t))| to == number && t.starts_with(text.as_str()))
            .map(|(i, _)| i)
            .collect();
        match copies.len() {
            0 => r.missing.push(number.clone()),
            1 => {}
            _ => r.duplicated.push(number.clone()),
        }
        for i in copies {
            used[i] = true;
            r.ledger_jobs += 1;
        }
    }
    r.ledger_replies = used.iter().filter(|u| !**u).count() as u64;
    r.store_confirmed = conn
        .query_row(
            "SELECT count(*) FROM keywords WHERE confirmed <> 0",
            params![],
            |row| row.get::<i64>(0),
        )
        .map_err(e)? as u64;
    r.store_undelivered = conn
        .query_row(
            "SELECT count(*) FROM jobs WHERE state = 'undelivered'",
            params![],
            |row| row.get::<i64>(0),
        )
        .map_err(e)? as u64;
    Ok(r)
}

/// Prints job state changes and keywords not shown yet, as a timeline.
fn narrate(ctx: &Context, shown: &mut std::collections::BTreeMap<&'static str, i64>, quiet: bool) {
    if quiet {
        return;
    }
    let store = ctx.store();
    let conn = store.db();
    let last = shown.get("history").copied().unwrap_or(0);
    let rows: Vec<(i64, i64, String, String, String)> = conn
        .prepare(
            "SELECT h.id, h.at, h.state, h.detail, j.number FROM job_history h
             JOIN jobs j ON j.id = h.job_id WHERE h.id > ?1 AND h.state != 'queued' ORDER BY h.id",
        )
        .and_then(|mut st| {
            st.query_map([last], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
        })
        .unwrap_or_default();
    for (id, at, state, detail, number) in rows {
        shown.insert("history", id);
        if state == "submitted" || state == "accepted" || state == "sending" {
            continue;
        }
        println!(
            "{} | {number:<13} {state:<11} {detail}",
            paris(UtcInstant(at))
        );
    }
    let last = shown.get("keywords").copied().unwrap_or(0);
    let rows: Vec<(i64, i64, String, String, String, bool)> = conn
        .prepare(
            "SELECT id, at, sender, kind, keyword, confirmed FROM keywords WHERE id > ?1 ORDER BY id",
        )
        .and_then(|mut st| {
            st.query_map([last], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
        })
        .unwrap_or_default();
    for (id, at, sender, kind, keyword, confirmed) in rows {
        shown.insert("keywords", id);
        println!(
            "{} | {sender:<13} keyword    {keyword:?} = {kind}{}",
            paris(UtcInstant(at)),
            if confirmed { ", confirmation sent" } else { "" }
        );
    }
    let last = shown.get("inbound").copied().unwrap_or(0);
    let rows: Vec<(i64, i64, String, String)> = conn
        .prepare("SELECT id, at, sender, text FROM inbound WHERE id > ?1 ORDER BY id")
        .and_then(|mut st| {
            st.query_map([last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .unwrap_or_default();
    for (id, at, sender, text) in rows {
        shown.insert("inbound", id);
        println!(
            "{} | {sender:<13} inbound    {text:?}",
            paris(UtcInstant(at))
        );
    }
}

/// Opens the link to the device behind `connector` and waits (at most a minute each)
/// for the handshake and for the modem's network time, which the device needs to
/// check time rules.
pub async fn connect(
    connector: impl crate::link::Connector,
) -> Result<(LinkClient, crate::link::IncomingReceiver), String> {
    let (client, incoming) = LinkClient::start(connector, link::Config::default());
    tokio::time::timeout(Duration::from_secs(60), client.ready())
        .await
        .map_err(|_| "the device did not answer the handshake".to_string())?
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = client.status().await.map_err(|e| e.to_string())?;
        if status.network_time {
            return Ok((client, incoming));
        }
        if Instant::now() > deadline {
            return Err("the modem gave the device no network time".to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Drives the device behind `connector` with the scheduler until `done`
/// holds (checked every 10 ms of real time, after `tick`) or `real_limit` passes:
/// handshake, wait for the modem's network time, then [`scheduler::serve`].
pub async fn drive(
    ctx: Arc<Context>,
    target: Target,
    connector: impl crate::link::Connector,
    mut done: impl FnMut(&Context) -> bool,
    mut tick: impl FnMut(&Context),
    real_limit: Duration,
) -> Result<(), String> {
    let (client, incoming) = connect(connector).await?;
    let (stop_tx, stop) = watch::channel(false);
    let serve = tokio::spawn(scheduler::serve(
        ctx.clone(),
        target,
        client,
        incoming,
        stop,
    ));
    let real_deadline = Instant::now() + real_limit;
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        tick(&ctx);
        if done(&ctx) || serve.is_finished() || Instant::now() > real_deadline {
            break;
        }
    }
    let _ = stop_tx.send(true);
    match serve.await {
        Ok(r) => r?,
        Err(e) => return Err(format!("scheduler task: {e}")),
    }
    tick(&ctx);
    Ok(())
}

/// Runs `relais demo`.
pub fn run(a: DemoArgs) -> Result<(), String> {
    let format: Format = a.format.parse().map_err(|e| format!("--format: {e}"))?;
    let dir = match a.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("relais-demo-{}", std::process::id())),
    };
    let started = Instant::now();
    let firmware = a.firmware.clone().or_else(crate::qemu::find_firmware);
    let qemu = crate::qemu::find_qemu();
    let out = match (a.device.as_str(), qemu, firmware) {
        ("auto" | "qemu", Some(q), Some(f)) => run_demo_qemu(&dir, false, &q, &f)?,
        ("qemu", q, f) => {
            return Err(format!(
                "--device qemu needs {}",
                match (q, f) {
                    (None, _) =>
                        "qemu-system-arm (apt-get install qemu-system-arm, or RELAIS_QEMU)",
                    _ => "a firmware build (cargo xtask firmware, or --firmware ELF)",
                }
            ));
        }
        ("auto", q, f) => {
            println!(
                "(using the agent in this process: {}; `cargo xtask firmware` and qemu-system-arm make the demo run the firmware under QEMU)\n",
                if q.is_none() {
                    "qemu-system-arm is not installed"
                } else if f.is_none() {
                    "no firmware build found"
                } else {
                    ""
                }
            );
            run_demo(&dir, false)?
        }
        ("in-process", _, _) => run_demo(&dir, false)?,
        (other, _, _) => return Err(format!("--device {other:?}: auto, qemu or in-process")),
    };
    println!(
        "\nvirtual time now {} in Paris; {:.1} s of real time\n",
        paris(out.ended_at),
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::render(&out.report, format));
    let r = &out.reconciliation;
    println!(
        "\nthe simulator's ledger: {} job message(s) on the network (the store says {} sent), \
         {} device reply(ies) (the store has {} confirmed keyword(s)), {} failed delivery \
         report(s) (the store has {} undelivered); duplicates: {}, missing: {} — {}",
        r.ledger_jobs,
        r.store_sent,
        r.ledger_replies,
        r.store_confirmed,
        r.ledger_failed,
        r.store_undelivered,
        r.duplicated.len(),
        r.missing.len(),
        if r.agrees() {
            "they agree"
        } else {
            "they DISAGREE"
        }
    );
    println!(
        "files in {}: relais.db (relais status/report --db …), ledger.jsonl, report.html",
        out.dir.display()
    );
    if r.agrees() {
        Ok(())
    } else {
        Err("the report and the simulator's ledger disagree".into())
    }
}
