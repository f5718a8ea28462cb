//! A STOP the device received while the host was away is never lost when the host
//! comes back: whatever the order in which the handshake, the suppression sync, the
//! device's stored events and a marketing job to that number meet, the job is refused
//! and nothing reaches the number.
//!
//! Each seed picks one interleaving: whether the store already holds an opt-in for the
//! number (so the sync would remove its entry), whether the job is already marked as
//! handed to the device (resubmitted right after the handshake), queued before the host
//! starts or queued while it runs, and the scheduler's poll and start delays. The agent
//! runs in-process on the simulated modem (the same code as the firmware).

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::demo::{SimClock, connect};
use relais::local::LocalDevice;
use relais::local::sim::{SimHandle, SimSetup};
use relais::scheduler::{self, Clock, Context, Target};
use relais::sim::scenario::Scenario;
use relais::store::{Change, ConsentRecord, JobState, NewJob, OptOut, Store};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::UtcInstant;

const NUMBER: &str = "+33612345678";
const SEEDS: u64 = 24;

fn config(poll_ms: u64) -> Config {
    Config::parse(&format!(
        r#"
[scheduler]
poll = "{poll_ms}ms"
[pacing]
per_minute = 0
per_hour = 0
per_day = 0
min_gap = "0s"
jitter = "0s"
[[brand]]
name = "Acme"
[[device]]
name = "dev"
kind = "modem"
port = "simulator"
sender = "alpha:ACME"
stop_code = 36123
"#
    ))
    .unwrap()
}

fn scenario() -> Scenario {
    // Tuesday 10 March 2026, 10:00 in Paris: French marketing may go.
    Scenario::parse(
        r#"
seed = 5
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"
clock = "step"
[[modem]]
name = "m"
msisdn = "+33700000001"
submit_latency = "1s"
[operator]
report_latency = "2s"
"#,
    )
    .unwrap()
}

/// A small deterministic generator (xorshift64*), one per seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Waits until the simulated modem's inbox is empty again (the agent read the STOP and
/// acted on it) and the agent is idle.
fn wait_until_read(sim: &SimHandle) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snap = sim.snapshot().unwrap();
        let stored = &snap.status["modems"][0]["stored"];
        let empty = ["SM", "ME"].iter().all(|m| stored[m].as_u64() == Some(0));
        if empty && snap.agent_idle {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never read the STOP: {snap:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn marketing_job(store: &mut Store, now: UtcInstant) -> i64 {
    store
        .insert_job(
            &NewJob {
                number: NUMBER.into(),
                text: "Soldes -20% ce week-end".into(),
                class: Class::Marketing,
                brand: "Acme".into(),
                categories: String::new(),
                department: None,
                consent: ConsentStatus::OptedIn,
                not_before: None,
                expires: None,
            },
            now,
        )
        .unwrap()
}

/// How the host meets the device's STOP in one run.
#[derive(Debug, Clone, Copy)]
struct Interleaving {
    /// The store holds an earlier opt-out of the number and its opt-in (START).
    earlier_opt_in: bool,
    /// Where the marketing job is when the host starts.
    job: JobAt,
    poll_ms: u64,
    /// Real time between the STOP being read and the host starting.
    start_delay_ms: u64,
    /// For [`JobAt::QueuedLater`]: real time after the host starts.
    queue_delay_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum JobAt {
    /// Marked as handed to this device before the host went down (the device never
    /// got it): resubmitted right after the handshake.
    OnDevice,
    /// Due in the store when the host starts.
    Queued,
    /// Queued while the host runs.
    QueuedLater,
}

fn interleaving(seed: u64) -> Interleaving {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    Interleaving {
        earlier_opt_in: rng.below(2) == 0,
        job: [JobAt::OnDevice, JobAt::Queued, JobAt::QueuedLater][rng.below(3) as usize],
        poll_ms: 5 + rng.below(45),
        start_delay_ms: rng.below(300),
        queue_delay_ms: rng.below(400),
    }
}

fn run(seed: u64) {
    let plan = interleaving(seed);
    let dir = std::env::temp_dir().join(format!(
        "relais-suppression-sync-{}-{seed}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.jsonl");
    let config = config(plan.poll_ms);
    let (device, sim) = LocalDevice::spawn_sim(
        "dev",
        SimSetup::new(scenario(), Some(ledger.clone())),
        MemStore::<64, 64, 64>::new(),
    )
    .unwrap();
    let clock = Arc::new(SimClock {
        time: sim.time().clone(),
        end: UtcInstant(i64::MAX / 2000),
    });

    // The host is down: the subscriber answers STOP and the device acts on it alone.
    sim.inject_sms(0, NUMBER, "STOP").unwrap();
    wait_until_read(&sim);
    std::thread::sleep(Duration::from_millis(plan.start_delay_ms));

    let now = clock.now();
    let mut store = Store::open(&dir.join("relais.db")).unwrap();
    store
        .set_consent(&ConsentRecord {
            number: NUMBER.into(),
            brand: "Acme".into(),
            status: ConsentStatus::OptedIn,
            source: "test".into(),
            at: UtcInstant(now.0 - 86_400),
        })
        .unwrap();
    if plan.earlier_opt_in {
        store
            .add_optout(&OptOut {
                number: NUMBER.into(),
                brand: "*".into(),
                keyword: Some("STOP".into()),
                tier: Some(1),
                source: "test".into(),
                at: UtcInstant(now.0 - 7 * 86_400),
            })
            .unwrap();
        store
            .remove_optout(NUMBER, "*", "START", UtcInstant(now.0 - 6 * 86_400))
            .unwrap();
    }
    let mut job = None;
    if plan.job != JobAt::QueuedLater {
        let id = marketing_job(&mut store, now);
        if plan.job == JobAt::OnDevice {
            store
                .transition(
                    id,
                    JobState::Submitted,
                    now,
                    &Change {
                        device: Some("dev"),
                        stamp: Some("submitted_at"),
                        ..Default::default()
                    },
                    "to dev",
                )
                .unwrap();
        }
        job = Some(id);
    }

    let ctx = Arc::new(Context::new(store, clock.clone(), &config).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let d = config.device("dev").unwrap();
        let target = Target {
            name: d.name.clone(),
            brands: Vec::new(),
            identity: config.identity(d, "Acme").unwrap(),
            sim_pin: None,
        };
        let (client, incoming) = connect(device.connector()).await.unwrap();
        let task = tokio::spawn(scheduler::serve(
            ctx.clone(),
            target,
            client,
            incoming,
            stop,
        ));
        if plan.job == JobAt::QueuedLater {
            tokio::time::sleep(Duration::from_millis(plan.queue_delay_ms)).await;
            job = Some(marketing_job(&mut ctx.store(), clock.now()));
        }
        let id = job.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let state = loop {
            let state = ctx.store().job(id).unwrap().unwrap().state;
            if state.is_final() {
                break state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "seed {seed} {plan:?}: the job is still {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let _ = stop_tx.send(true);
        task.await.unwrap().unwrap();
        assert_eq!(state, JobState::Refused, "seed {seed} {plan:?}");
        // The STOP reached the store too, whoever refused the job.
        assert!(
            ctx.store().opted_out_of(NUMBER, "Acme").unwrap().is_some(),
            "seed {seed} {plan:?}: the STOP was not stored"
        );
    });
    device.stop().unwrap();
    // The STOP confirmation may go to the number; the marketing never.
    let sent_to_number = std::fs::read_to_string(&ledger)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "message" && v["to"] == NUMBER)
        .filter(|v| v["text"].as_str().is_some_and(|t| t.contains("Soldes")))
        .count();
    assert_eq!(
        sent_to_number, 0,
        "seed {seed} {plan:?}: the marketing went out"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_received_while_the_host_was_away_refuses_marketing_in_every_interleaving() {
    let seeds: Vec<u64> = match std::env::var("RELAIS_SEED") {
        Ok(s) => vec![s.parse().expect("RELAIS_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    let mut plans = std::collections::BTreeSet::new();
    for seed in seeds.iter().copied() {
        let plan = interleaving(seed);
        plans.insert((plan.earlier_opt_in, plan.job as u8));
        run(seed);
    }
    if seeds.len() > 1 {
        assert_eq!(plans.len(), 6, "the seeds cover every kind of interleaving");
    }
}
