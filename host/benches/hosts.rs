//! Dispatch throughput with 1, 2 and 3 hosts sharing one PostgreSQL store: each host
//! is a scheduler [`Context`] with its own database connection and two devices (the
//! relais agent in its own thread on a simulated modem that answers at once: zero
//! submit and report latency, pacing off). The figure is jobs per second of real time
//! from the first hand-over to the last job final: the hosts' claims (`FOR UPDATE SKIP
//! LOCKED`), pre-checks, link frames and event transactions against one server.
//!
//! The hosts run in this one process on this machine's cores, beside the server: a
//! measure of what the store lets through, not of three machines.
//!
//! `cargo bench -p relais --bench hosts` (`RELAIS_BENCH_JOBS=N`, default 1200). Needs
//! PostgreSQL installed (`apt-get install postgresql`); says so and stops otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::demo::connect;
use relais::local::LocalDevice;
use relais::local::sim::SimSetup;
use relais::scheduler::{Context, SystemClock, Target};
use relais::sim::scenario::Scenario;
use relais::store::{JobState, Location, NewJob, Store};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::UtcInstant;
use tokio::sync::watch;

fn config(url: &str, host: usize) -> Config {
    let mut text = format!(
        r#"
database = "{url}"
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
"#
    );
    for k in 1..=2 {
        text.push_str(&format!(
            "[[device]]\nname = \"h{host}m{k}\"\nkind = \"modem\"\nport = \"simulator\"\nsender = \"longnum:+337000000{host}{k}\"\n"
        ));
    }
    Config::parse(&text).expect("config")
}

fn scenario(msisdn: &str) -> Scenario {
    Scenario::parse(&format!(
        r#"
seed = 5
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"
[[modem]]
name = "m"
msisdn = "{msisdn}"
submit_latency = "0"
[operator]
report_latency = "0"
"#
    ))
    .expect("scenario")
}

/// Runs `jobs` transactional jobs through `hosts` hosts; returns the real time.
fn run(server: &relais_testkit::postgres::Server, hosts: usize, jobs: u64) -> Duration {
    let url = server.fresh_database().expect("database");
    let location = Location::Postgres(url.clone());
    let mut store = Store::open_at(&location).expect("store");
    let now = relais::scheduler::Clock::now(&SystemClock);
    store
        .batch(|s| {
            for i in 0..jobs {
                s.insert_job(
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
                    UtcInstant(now.0 - 1),
                )?;
            }
            Ok(())
        })
        .expect("jobs");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut devices: Vec<LocalDevice> = Vec::new();
    let (stop_tx, stop) = watch::channel(false);
    let mut connected = Vec::new();
    for h in 0..hosts {
        let config = config(&url, h + 1);
        let ctx = Arc::new(
            Context::new(
                Store::open_at(&location).expect("host store"),
                Arc::new(SystemClock),
                &config,
            )
            .expect("context"),
        );
        for d in &config.devices {
            let msisdn = d.sender.trim_start_matches("longnum:").to_string();
            let (device, _handle) = LocalDevice::spawn_sim(
                &d.name,
                SimSetup::new(scenario(&msisdn), None),
                MemStore::<64, 1024, 256>::new(),
            )
            .expect("device");
            let target = Target {
                name: d.name.clone(),
                brands: Vec::new(),
                identity: config.identity(d, "Acme").expect("identity"),
                sim_pin: None,
            };
            let (client, incoming) = runtime
                .block_on(connect(device.connector()))
                .expect("handshake");
            devices.push(device);
            connected.push((ctx.clone(), target, client, incoming));
        }
    }
    // Every device is connected before the clock starts.
    let t0 = Instant::now();
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|(ctx, target, client, incoming)| {
            runtime.spawn(relais::scheduler::serve(
                ctx,
                target,
                client,
                incoming,
                stop.clone(),
            ))
        })
        .collect();
    let deadline = t0 + Duration::from_secs(600);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let counts = store.job_counts(None).expect("counts");
        if counts.iter().all(|(s, _)| s.is_final()) {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {counts:?}");
    }
    let real = t0.elapsed();
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = runtime.block_on(t);
    }
    let counts = store.job_counts(None).expect("counts");
    let sent: u64 = counts
        .iter()
        .filter(|(s, _)| matches!(s, JobState::Sent | JobState::Delivered))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(sent, jobs, "every job is sent once: {counts:?}");
    let devices_used: i64 = store
        .db()
        .query_value(
            "SELECT count(DISTINCT device) FROM jobs",
            relais::store::db::params![],
        )
        .expect("devices");
    assert_eq!(devices_used as usize, hosts * 2, "every device took some");
    drop(devices);
    real
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let jobs: u64 = std::env::var("RELAIS_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1200 } else { 40 });
    let server = match relais_testkit::postgres::Server::start() {
        Ok(s) => s,
        Err(e) => {
            println!(
                "hosts: not measured: {e} ({})",
                relais_testkit::postgres::INSTALL
            );
            return;
        }
    };
    for hosts in 1..=3 {
        let real = run(&server, hosts, jobs);
        println!(
            "hosts: {hosts} host(s) x 2 zero-latency modems, one PostgreSQL store: {jobs} jobs in {:.2} s = {:.0} jobs/s",
            real.as_secs_f64(),
            jobs as f64 / real.as_secs_f64()
        );
    }
}
