//! The scheduler end to end in process: store → pre-check → link client → the relais
//! agent (in its own thread) → the simulated modem and network, in virtual time.
//!
//! 1. **Throughput**: jobs per second of real time dispatched into a modem that answers
//!    at once (zero submit and report latency, pacing off): the host's own overhead
//!    (SQLite transactions, compliance pre-check, link frames, the agent's gate).
//! 2. **Modem-bound rate**: SMS per minute of virtual time with realistic SIM800
//!    timings (2–4 s per submission), as a fraction of what the modem itself allows
//!    (60 / mean submit latency), pacing off.
//!
//! A measured report rather than criterion: one run dispatches hundreds of jobs
//! through two threads and an async runtime, and its figures are rates over the run.
//! `cargo bench -p relais --bench scheduler` (`RELAIS_BENCH_JOBS=N` to change the size).

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::demo::{SimClock, drive};
use relais::local::LocalDevice;
use relais::local::sim::SimSetup;
use relais::scheduler::{Context, Target};
use relais::sim::scenario::Scenario;
use relais::store::{JobState, NewJob, Store};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::UtcInstant;

const CONFIG: &str = r#"
[scheduler]
poll = "10ms"
[pacing]
per_minute = 0
per_hour = 0
per_day = 0
min_gap = "0s"
jitter = "0s"
[[brand]]
name = "Acme"
[[device]]
name = "m1"
kind = "modem"
port = "simulator"
sender = "longnum:+33700000001"
"#;

struct Run {
    jobs: u64,
    real: Duration,
    virtual_secs: f64,
    sent: u64,
}

fn run(submit_latency: &str, jobs: u64) -> Run {
    let scenario = format!(
        r#"
seed = 5
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"
clock = "step"
[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "{submit_latency}"
[operator]
report_latency = "0"
"#
    );
    let dir = std::env::temp_dir().join(format!(
        "relais-sched-bench-{}-{}",
        std::process::id(),
        submit_latency.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = Config::parse(CONFIG).expect("config");
    let setup = SimSetup::new(
        Scenario::parse(&scenario).expect("scenario"),
        Some(dir.join("ledger.jsonl")),
    );
    let (device, handle) =
        LocalDevice::spawn_sim("bench", setup, MemStore::<64, 1024, 256>::new()).expect("device");
    let clock = Arc::new(SimClock {
        time: handle.time().clone(),
        end: UtcInstant(i64::MAX / 2000),
    });
    let mut store = Store::open(&dir.join("relais.db")).expect("store");
    let start = relais::scheduler::Clock::now(clock.as_ref());
    for i in 0..jobs {
        store
            .insert_job(
                &NewJob {
                    number: format!("+3361{:07}", 2_000_000 + i),
                    text: format!("Code {i:06}"),
                    class: Class::Transactional,
                    brand: "Acme".into(),
                    categories: String::new(),
                    department: None,
                    consent: ConsentStatus::None,
                    not_before: None,
                    expires: None,
                },
                start,
            )
            .expect("job");
    }
    let ctx = Arc::new(Context::new(store, clock.clone(), &config).expect("context"));
    let d = config.device("m1").expect("device").clone();
    let target = Target {
        name: d.name.clone(),
        brands: Vec::new(),
        identity: config.identity(&d, "Acme").expect("identity"),
        sim_pin: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    let done = |ctx: &Context| {
        ctx.store()
            .job_counts(None)
            .map(|c| c.iter().all(|(s, _)| s.is_final()))
            .unwrap_or(false)
    };
    runtime
        .block_on(drive(
            ctx.clone(),
            target,
            device.connector(),
            done,
            |_| {},
            Duration::from_secs(900),
        ))
        .expect("drive");
    let real = t0.elapsed();
    // From the first hand-over to the last message accepted by the network (after the
    // last one, the idle scheduler lets virtual time jump ahead).
    let virtual_secs = ctx
        .store()
        .db()
        .query_value::<i64>(
            "SELECT max(sent_at) - min(submitted_at) FROM jobs",
            relais::store::db::params![],
        )
        .expect("span") as f64;
    let sent = ctx
        .store()
        .job_counts(None)
        .expect("counts")
        .iter()
        .filter(|(s, _)| matches!(s, JobState::Sent | JobState::Delivered))
        .map(|(_, n)| n)
        .sum();
    drop(device);
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        jobs,
        real,
        virtual_secs,
        sent,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let jobs: u64 = std::env::var("RELAIS_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 500 } else { 20 });
    let r = run("0", jobs);
    assert_eq!(r.sent, r.jobs, "every job is sent");
    println!(
        "scheduler: {} jobs through store, pre-check, link and agent into a zero-latency modem in {:.2} s = {:.0} jobs/s",
        r.jobs,
        r.real.as_secs_f64(),
        r.jobs as f64 / r.real.as_secs_f64()
    );
    let n = (jobs * 3 / 5).max(10);
    let r = run("2s..4s", n);
    assert_eq!(r.sent, r.jobs, "every job is sent");
    let per_min = r.sent as f64 / (r.virtual_secs / 60.0);
    let bound = 60.0 / 3.0;
    println!(
        "scheduler: {} SMS with SIM800 timings (2-4 s per submission) in {:.0} s of virtual time ({:.2} s real) = {:.1} SMS/min, {:.1} % of the modem-bound {:.0} SMS/min",
        r.sent,
        r.virtual_secs,
        r.real.as_secs_f64(),
        per_min,
        100.0 * per_min / bound,
        bound
    );
}
