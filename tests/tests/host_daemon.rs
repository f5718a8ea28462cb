//! The host product against the real firmware: `relais campaign import` fills the
//! store, `relais run` (the daemon, a separate process) drives the firmware under QEMU,
//! which sends through `relais sim`. The daemon is killed with SIGKILL at seeded random
//! moments and restarted; the simulator's ledger must hold every message exactly once
//! and the store must end with every job in a final state that agrees with the ledger.

mod sim_support;

use relais_tests::lcg::Lcg;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais::store::{JobState, Store};
use relais_tests::qemu::{self, BoardBuild, Guest, GuestConfig, Serial};
use sim_support::{Sim, relais_binary};

const SCENARIO: &str = r#"
seed = 11
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "400ms"

[operator]
report_latency = "300ms"

[[route]]
prefix = "*"
outcome = "delivered"
"#;

fn config(port: &Path) -> String {
    format!(
        r#"
database = "relais.db"

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

[[device]]
name = "qemu"
kind = "device"
port = "{}"
sender = "longnum:+33700000001"
"#,
        port.display()
    )
}

fn relais(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(relais_binary())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run relais")
}

/// Starts the daemon: `command` is `["run"]` or `["direct", "--modem", ...]`.
fn daemon(dir: &Path, command: &[String], until_idle: bool) -> Child {
    let mut cmd = Command::new(relais_binary());
    cmd.current_dir(dir)
        .args(command)
        .env("RELAIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if until_idle {
        cmd.arg("--until-idle");
    }
    cmd.spawn().expect("start relais run")
}

/// Jobs of `campaign` in a final state, read while no daemon runs.
fn final_jobs(db: &Path, campaign: &str) -> u64 {
    let store = Store::open(db).expect("open the store after a kill");
    let id = store.campaign(campaign).unwrap().map(|c| c.id);
    store
        .job_counts(id)
        .unwrap()
        .iter()
        .filter(|(s, _)| s.is_final())
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn the_daemon_killed_at_random_loses_and_duplicates_nothing() {
    let Some(fw) = qemu::firmware_or_skip("host_daemon_kill", &BoardBuild::qemu()) else {
        return;
    };
    let sim = Sim::start("host_daemon_kill", SCENARIO, &[]);
    let mut guest = Guest::boot(
        &fw,
        GuestConfig {
            host_link: Serial::Pty,
            modem: Serial::Device(sim.link()),
            workdir: None,
        },
    )
    .expect("boot the firmware");
    guest
        .wait_for_log("agent: boot", Duration::from_secs(60))
        .expect("the agent starts");
    let pty = guest.host_link().pty().expect("host link pty").to_owned();
    let dir = sim.dir.join("host");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("relais.toml"), config(&pty)).unwrap();

    let seed: u64 = std::env::var("RELAIS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261204);
    for round in 0..3u64 {
        kill_round(&sim, &dir, &["run".to_string()], seed + round, round);
    }
    guest.shutdown();
}

/// The same with `relais direct`: the agent runs inside the daemon on the simulator's
/// pty, so each SIGKILL is also a power cut of the agent. Its state file keeps the
/// in-flight journal: a send in doubt ends `unknown`, never sent twice.
#[test]
fn relais_direct_killed_at_random_loses_and_duplicates_nothing() {
    let sim = Sim::start("host_direct_kill", SCENARIO, &[]);
    let dir = sim.dir.join("host");
    std::fs::create_dir_all(&dir).unwrap();
    // No [[device]]: the modem comes from the command line.
    let config = config(Path::new("unused"));
    let config = &config[..config.find("[[device]]").unwrap()];
    std::fs::write(dir.join("relais.toml"), config).unwrap();
    let command: Vec<String> = [
        "direct",
        "--modem",
        &sim.link().display().to_string(),
        "--sender",
        "longnum:+33700000001",
        "--state",
        "agent.flash",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let seed: u64 = std::env::var("RELAIS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261204);
    for round in 0..2u64 {
        kill_round(&sim, &dir, &command, seed + 10 + round, round);
    }
}

const JOBS: usize = 24;

/// One campaign of [`JOBS`] messages under 12 kills of the daemon, then a run to the
/// end; checks the ledger and the store for this round's numbers.
fn kill_round(sim: &Sim, dir: &Path, command: &[String], seed: u64, round: u64) {
    let mut csv = String::from("number,first_name\n");
    for i in 0..JOBS {
        csv.push_str(&format!("+33612{round}450{i:02},Client{i}\n"));
    }
    std::fs::write(dir.join("contacts.csv"), csv).unwrap();
    let name = format!("alerts-{round}");
    let out = relais(
        dir,
        &[
            "campaign",
            "import",
            "contacts.csv",
            "--name",
            &name,
            "--template",
            "Bonjour {first_name}, votre colis est arrivé.",
            "--class",
            "transactional",
            "--start",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut rng = Lcg(seed);
    let kills = 12;
    let mut mid_campaign = 0;
    for k in 0..kills {
        let mut child = daemon(dir, command, false);
        let wait = Duration::from_millis(200 + rng.next(1800));
        std::thread::sleep(wait);
        child.kill().expect("SIGKILL the daemon");
        let _ = child.wait();
        let done = final_jobs(&dir.join("relais.db"), &name);
        if done > 0 && done < JOBS as u64 {
            mid_campaign += 1;
        }
        eprintln!(
            "host_daemon_kill: seed {seed}, kill {k} after {wait:?}: {done}/{JOBS} jobs final"
        );
    }
    assert!(
        mid_campaign >= 3,
        "only {mid_campaign} kills fell inside the campaign: the test would prove little"
    );
    // The last run goes to the end.
    let mut child = daemon(dir, command, true);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the last daemon run failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon did not finish the campaign in time (seed {seed})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let store = Store::open(&dir.join("relais.db")).unwrap();
    let prefix = format!("+33612{round}");
    let messages: Vec<_> = sim
        .entries("message")
        .into_iter()
        .filter(|m| m["to"].as_str().is_some_and(|t| t.starts_with(&prefix)))
        .collect();
    let campaign = store.campaign(&name).unwrap().unwrap();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in &messages {
        *copies
            .entry(m["to"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let counts = store.job_counts(Some(campaign.id)).unwrap();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, JOBS as u64);
    let mut unknown = 0;
    for id in store
        .db()
        .query_map(
            "SELECT id FROM jobs WHERE campaign_id = ?1",
            [campaign.id],
            |r| r.get::<i64>(0),
        )
        .unwrap()
    {
        let job = store.job(id).unwrap().unwrap();
        let n = copies.get(&job.number).copied().unwrap_or(0);
        match job.state {
            JobState::Sent | JobState::Delivered => {
                assert_eq!(
                    n, 1,
                    "{}: {:?} but {n} copies in the ledger (seed {seed})",
                    job.number, job.state
                )
            }
            JobState::Unknown => {
                unknown += 1;
                assert!(
                    n <= 1,
                    "{}: unknown but {n} copies (seed {seed})",
                    job.number
                )
            }
            other => panic!(
                "{}: ended {other:?} (seed {seed}); history {:?}",
                job.number,
                store.history(job.id).unwrap()
            ),
        }
    }
    assert!(
        copies.values().all(|&n| n == 1),
        "a duplicate in the ledger: {copies:?}"
    );
    eprintln!(
        "host_daemon_kill: seed {seed}: {JOBS} jobs, {kills} kills, {} in the ledger, {unknown} unknown, states {counts:?}",
        messages.len()
    );
}
