//! Three `relais direct` hosts, each with two simulated modems, work one campaign of
//! 600 messages from one PostgreSQL store (a server the test starts itself). Hosts are
//! killed with SIGKILL at seeded random moments and restarted, and the database server
//! is restarted once in the middle. The simulator's ledger must hold each message at
//! most once, through the device the store names; every job must end final; the report
//! must agree with the ledger. A STOP received by a modem of host A must reach host B
//! (its devices are told at once) and block a later marketing job that only host B can
//! send.

mod sim_support;

use relais_tests::lcg::Lcg;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais::store::{JobState, Location, Store};
use relais_testkit::postgres::Server;
use serde_json::json;
use sim_support::{Sim, relais_binary};

const HOSTS: [&str; 3] = ["a", "b", "c"];
const JOBS: usize = 600;
/// Who says STOP to a modem of host A (not in the campaign).
const STOPPER: &str = "+33699000001";

/// The modem `k` (1 or 2) of host `h`: its name and its number.
fn modem(h: usize, k: usize) -> (String, String) {
    (
        format!("{}{k}", HOSTS[h]),
        format!("+337000000{}{k}", h + 1),
    )
}

fn scenario() -> String {
    let mut s = String::from(
        r#"
seed = 15
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"
[operator]
report_latency = "200ms"
[[route]]
prefix = "*"
outcome = "delivered"
"#,
    );
    for h in 0..HOSTS.len() {
        for k in 1..=2 {
            let (name, msisdn) = modem(h, k);
            s.push_str(&format!(
                "[[modem]]\nname = \"{name}\"\nmsisdn = \"{msisdn}\"\nlink = \"{{dir}}/{name}\"\nsubmit_latency = \"100ms\"\n"
            ));
        }
    }
    s
}

fn config(url: &str, h: usize, sim_dir: &Path) -> String {
    let mut s = format!(
        r#"
database = "{url}"
[scheduler]
poll = "100ms"
[pacing]
per_minute = 0
per_hour = 0
per_day = 0
min_gap = "0s"
jitter = "0s"
[[brand]]
name = "Acme"
"#
    );
    for k in 1..=2 {
        let (name, msisdn) = modem(h, k);
        // The simulator's first modem is at its `--link` (`modem`), the others where
        // the scenario puts them.
        let port = if (h, k) == (0, 1) {
            sim_dir.join("modem")
        } else {
            sim_dir.join(&name)
        };
        s.push_str(&format!(
            "[[device]]\nname = \"{name}\"\nkind = \"modem\"\nport = \"{}\"\nsender = \"longnum:{msisdn}\"\n",
            port.display()
        ));
    }
    s
}

/// One host: its directory (configuration, agents' state files, log) and its process.
struct Host {
    name: &'static str,
    dir: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Host {
    fn log(&self) -> PathBuf {
        self.dir.join("host.log")
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let child = Command::new(relais_binary())
            .current_dir(&self.dir)
            .args(["direct", "--config", "relais.toml"])
            .env("RELAIS_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start relais direct");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: the host and the agents inside it stop at once.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again if it is not running, as a service manager would.
    fn keep_running(&mut self) {
        let exited = self
            .child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some());
        if exited {
            self.kill();
            self.start();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

fn relais(dir: &Path, args: &[&str]) {
    let out = Command::new(relais_binary())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run relais");
    assert!(
        out.status.success(),
        "relais {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn final_count(store: &Store, campaign: i64) -> Option<u64> {
    let counts = store.job_counts(Some(campaign)).ok()?;
    Some(
        counts
            .iter()
            .filter(|(s, _)| s.is_final())
            .map(|(_, n)| n)
            .sum(),
    )
}

/// The time stamp of the first log line of `path` containing every one of `words`.
fn log_time(path: &Path, words: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| words.iter().all(|w| l.contains(w)))?;
    // tracing's default time stamp: 2026-12-07T19:12:41.018079Z at the start.
    Some(line.split_whitespace().next()?.to_string())
}

/// Seconds since midnight of an RFC 3339 time stamp with fractions (same day).
fn seconds_of_day(stamp: &str) -> Option<f64> {
    let t = stamp.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

#[test]
fn three_hosts_share_one_postgres_store_through_kills_and_a_database_restart() {
    let test = "multi_host_postgres";
    let Some(server) = Server::start_or_skip(test) else {
        return;
    };
    let url = server.fresh_database().expect("create the database");
    let sim = Sim::start(test, &scenario(), &[]);
    let root = sim.dir.join("hosts");
    let mut hosts: Vec<Host> = HOSTS
        .iter()
        .enumerate()
        .map(|(h, name)| {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("relais.toml"), config(&url, h, &sim.dir)).unwrap();
            Host {
                name,
                dir,
                child: None,
                starts: 0,
            }
        })
        .collect();

    // The campaign, imported once into the shared store.
    let mut csv = String::from("number,first_name\n");
    for i in 0..JOBS {
        csv.push_str(&format!("+336123{i:05},Client{i}\n"));
    }
    // Host A's configuration names the store and the brand.
    std::fs::write(hosts[0].dir.join("contacts.csv"), csv).unwrap();
    relais(
        &hosts[0].dir,
        &[
            "campaign",
            "import",
            "contacts.csv",
            "--name",
            "big",
            "--template",
            "Bonjour {first_name}, votre colis est arrivé.",
            "--class",
            "transactional",
            "--start",
        ],
    );
    let store = Store::open_at(&Location::Postgres(url.clone())).unwrap();
    let campaign = store.campaign("big").unwrap().unwrap().id;

    for h in &mut hosts {
        h.start();
    }
    let seed: u64 = std::env::var("RELAIS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261207);
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let mut kills = 0;
    let mut mid_campaign_kills = 0;
    let mut db_restarted = false;
    let mut stop_sent = false;
    let deadline = started + Duration::from_secs(420);
    loop {
        std::thread::sleep(Duration::from_millis(300 + rng.next(1200)));
        for h in &mut hosts {
            h.keep_running();
        }
        let done = final_count(&store, campaign);
        if done == Some(JOBS as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign did not end in time (seed {seed}): {:?}",
            store.job_counts(Some(campaign))
        );
        let done = done.unwrap_or(0);
        let all_up = hosts.iter().all(|h| {
            let log = std::fs::read_to_string(h.log()).unwrap_or_default();
            log.matches("connected").count() >= 2
        });
        if !stop_sent && done > 30 && all_up {
            // A STOP to host A's first modem, while the campaign runs.
            sim.control(
                json!({"cmd": "sms", "modem": modem(0, 1).0, "from": STOPPER, "text": "STOP"}),
            );
            stop_sent = true;
            // Every host hears of it before the kills start.
            std::thread::sleep(Duration::from_secs(2));
            continue;
        }
        if !db_restarted && done > JOBS as u64 / 2 {
            eprintln!("{test}: restarting the database at {done}/{JOBS}");
            server.restart().expect("restart PostgreSQL");
            db_restarted = true;
            continue;
        }
        if kills < 10 && stop_sent && done > 0 {
            let h = rng.next(HOSTS.len() as u64) as usize;
            hosts[h].kill();
            kills += 1;
            mid_campaign_kills += 1;
            eprintln!(
                "{test}: seed {seed}: SIGKILL host {} at {done}/{JOBS}",
                hosts[h].name
            );
            std::thread::sleep(Duration::from_millis(rng.next(800)));
            hosts[h].start();
        }
    }
    let elapsed = started.elapsed();
    assert!(db_restarted, "the database restart never happened");
    assert!(stop_sent, "the STOP was never sent");
    assert!(
        mid_campaign_kills >= 5,
        "only {mid_campaign_kills} kills inside the campaign: the test would prove little"
    );

    // The STOP is stored (by host A), and host B's devices were told of it.
    let wait = Instant::now() + Duration::from_secs(30);
    while store.opted_out_of(STOPPER, "Acme").unwrap().is_none() {
        assert!(Instant::now() < wait, "host A never stored the STOP");
        std::thread::sleep(Duration::from_millis(200));
    }
    let stored_at = log_time(
        &hosts[0].log(),
        &["event", "Keyword", "OptOut", "33699000001"],
    );
    let told_b = log_time(&hosts[1].log(), &["opt-out change passed on", STOPPER]);
    let latency = stored_at
        .as_deref()
        .and_then(seconds_of_day)
        .zip(told_b.as_deref().and_then(seconds_of_day))
        .map(|(a, b)| b - a);
    assert!(
        told_b.is_some(),
        "host B's devices were not told of host A's STOP (log {})",
        hosts[1].log().display()
    );
    eprintln!(
        "{test}: STOP stored by host A at {:?}, passed on by host B at {:?}: {:?} s later",
        stored_at, told_b, latency
    );

    // The ledger against the store: each message at most once, through the device
    // the store names.
    let by_msisdn: HashMap<String, String> = (0..HOSTS.len())
        .flat_map(|h| (1..=2).map(move |k| modem(h, k)))
        .map(|(name, msisdn)| (msisdn, name))
        .collect();
    let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in sim.entries("message") {
        let to = m["to"].as_str().unwrap().to_string();
        let from = m["from"].as_str().unwrap_or("").to_string();
        copies
            .entry(to)
            .or_default()
            .push(by_msisdn.get(&from).cloned().unwrap_or(from));
    }
    let rows: Vec<(i64, String, String, Option<String>)> = store
        .db()
        .query_map(
            "SELECT id, number, state, device FROM jobs WHERE campaign_id = ?1",
            [campaign],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(rows.len(), JOBS);
    let mut unknown_with_copy = 0u64;
    let mut per_device: BTreeMap<String, u64> = BTreeMap::new();
    for (id, number, state, device) in &rows {
        let state = JobState::parse(state).unwrap();
        let sent: &[String] = copies.get(number).map_or(&[], Vec::as_slice);
        match state {
            JobState::Sent | JobState::Delivered => {
                assert_eq!(
                    sent,
                    std::slice::from_ref(device.as_ref().unwrap()),
                    "{number}: {state:?}; one copy, through the device the store names (seed {seed}); history {:?}",
                    store.history(*id).unwrap()
                );
                *per_device.entry(device.clone().unwrap()).or_default() += 1;
            }
            JobState::Unknown => {
                assert!(
                    sent.len() <= 1,
                    "{number}: unknown but {} copies",
                    sent.len()
                );
                unknown_with_copy += sent.len() as u64;
            }
            other => panic!(
                "{number}: ended {other:?} (seed {seed}); history {:?}",
                store.history(*id).unwrap()
            ),
        }
    }
    let campaign_copies: u64 = rows
        .iter()
        .map(|(_, n, _, _)| copies.get(n).map_or(0, Vec::len) as u64)
        .sum();
    assert!(
        copies.values().all(|c| c.len() == 1),
        "a message twice in the ledger (seed {seed})"
    );

    // The report reads the whole organisation and agrees with the ledger.
    let report = relais::report::build(&store, Some("big")).unwrap();
    assert_eq!(report.jobs, JOBS as u64);
    assert_eq!(report.pending, 0);
    assert_eq!(report.sent + unknown_with_copy, campaign_copies);
    assert!(
        per_device.len() == 6,
        "every device of every host sent some: {per_device:?}"
    );

    // A fourth host configured with host B's device name is refused before it opens
    // the modem's port (which host B's agent is using).
    let d = root.join("d");
    std::fs::create_dir_all(&d).unwrap();
    let b_config = config(&url, 1, &sim.dir);
    std::fs::write(d.join("relais.toml"), &b_config).unwrap();
    let mut intruder = Command::new(relais_binary())
        .current_dir(&d)
        .args(["direct", "--config", "relais.toml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wait = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = intruder.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > wait {
            let _ = intruder.kill();
            panic!("a host with another host's device name kept running");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut intruder.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("is driven by another host"), "{err}");

    // A marketing message to the number that said STOP, with only host B running:
    // refused by host B's pre-check, never in the ledger.
    for (i, h) in hosts.iter_mut().enumerate() {
        if i != 1 {
            h.kill();
        }
    }
    // The confirmation the device sent for the STOP is the only message to it so far.
    let to_stopper = |sim: &Sim| {
        sim.entries("message")
            .iter()
            .filter(|m| m["to"].as_str() == Some(STOPPER))
            .map(|m| m["text"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let before = to_stopper(&sim);
    assert!(before.len() <= 1, "{before:?}");
    relais(
        &hosts[1].dir,
        &[
            "send",
            "--to",
            STOPPER,
            "--text",
            "Promo -20%",
            "--class",
            "marketing",
            "--brand",
            "Acme",
        ],
    );
    let wait = Instant::now() + Duration::from_secs(30);
    let state = loop {
        let state: Option<String> = store
            .db()
            .query_row(
                "SELECT state FROM jobs WHERE number = ?1 AND class = 'marketing'",
                [STOPPER],
                |r| r.get(0),
            )
            .ok();
        if state
            .as_deref()
            .and_then(JobState::parse)
            .is_some_and(JobState::is_final)
        {
            break state.unwrap();
        }
        assert!(
            Instant::now() < wait,
            "host B never judged the marketing job: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state, "refused", "the STOP host A received blocks host B");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        to_stopper(&sim),
        before,
        "a message reached the number that said STOP"
    );
    let rule: Option<String> = store
        .db()
        .query_row(
            "SELECT rule FROM jobs WHERE number = ?1 AND class = 'marketing'",
            [STOPPER],
            |r| r.get(0),
        )
        .unwrap();
    // A host that starts while the database is down waits for it, and says so.
    hosts[1].kill();
    server.stop().expect("stop PostgreSQL");
    let log_has = |h: &Host, what: &str| {
        std::fs::read_to_string(h.log())
            .unwrap_or_default()
            .contains(what)
    };
    hosts[2].kill();
    hosts[2].start();
    let wait = Instant::now() + Duration::from_secs(30);
    while !log_has(&hosts[2], "waiting for it") {
        assert!(
            Instant::now() < wait,
            "host C did not say it waits for the database"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        hosts[2]
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none()),
        "host C gave up instead of waiting"
    );
    server.start_again().expect("start PostgreSQL again");
    let wait = Instant::now() + Duration::from_secs(30);
    while !log_has(&hosts[2], "database reachable; starting") {
        assert!(
            Instant::now() < wait,
            "host C did not start once the database was back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    hosts[2].kill();

    let logs: String = hosts
        .iter()
        .map(|h| std::fs::read_to_string(h.log()).unwrap_or_default())
        .collect();
    let outage_lines = logs.matches("database unreachable").count();
    let restored = logs.matches("database connection restored").count();
    assert!(
        outage_lines > 0 && restored > 0,
        "no host noticed the database restart ({outage_lines} outage lines, {restored} reconnections)"
    );
    eprintln!(
        "{test}: database restart: {outage_lines} outage lines, {restored} reconnections in the hosts' logs"
    );
    eprintln!(
        "{test}: seed {seed}: {JOBS} jobs in {elapsed:?} on 3 hosts x 2 modems, {kills} kills, one database restart; \
         {campaign_copies} in the ledger, {unknown_with_copy} unknown with a copy; per device {per_device:?}; \
         starts {:?}; marketing to the STOP number: {state} ({rule:?})",
        hosts.iter().map(|h| h.starts).collect::<Vec<_>>()
    );
}
