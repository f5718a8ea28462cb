//! Several devices at once: two in-process agents, each on its own simulated modem with
//! its own sender identity, served by two scheduler tasks over one store. Every job goes
//! out exactly once, through exactly one of them, with that device's identity.

use std::sync::Arc;
use std::time::Duration;

use relais::config::Config;
use relais::demo::{SimClock, connect};
use relais::local::LocalDevice;
use relais::local::sim::SimSetup;
use relais::scheduler::{self, Clock, Context, Target};
use relais::sim::scenario::Scenario;
use relais::store::{NewJob, Store};
use relais_agent::store::MemStore;
use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::tz::UtcInstant;

const CONFIG: &str = r#"
[scheduler]
poll = "20ms"
[pacing]
per_minute = 0
per_hour = 0
per_day = 0
min_gap = "0s"
jitter = "0s"
[[brand]]
name = "Acme"
[[device]]
name = "left"
kind = "modem"
port = "simulator"
sender = "longnum:+33700000001"
[[device]]
name = "right"
kind = "modem"
port = "simulator"
sender = "longnum:+33700000002"
"#;

fn scenario(msisdn: &str) -> Scenario {
    Scenario::parse(&format!(
        r#"
seed = 3
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"
clock = "step"
[[modem]]
name = "m"
msisdn = "{msisdn}"
submit_latency = "1s"
[operator]
report_latency = "2s"
"#
    ))
    .unwrap()
}

#[test]
fn two_devices_share_the_queue_and_send_each_job_once() {
    let dir = std::env::temp_dir().join(format!("relais-two-devices-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config::parse(CONFIG).unwrap();
    let mut devices = Vec::new();
    let mut clocks = Vec::new();
    for (name, msisdn) in [("left", "+33700000001"), ("right", "+33700000002")] {
        let setup = SimSetup::new(scenario(msisdn), Some(dir.join(format!("{name}.jsonl"))));
        let (device, handle) =
            LocalDevice::spawn_sim(name, setup, MemStore::<64, 64, 64>::new()).unwrap();
        clocks.push(handle);
        devices.push(device);
    }
    // The scheduler reads the left world's clock; both start at the same instant and
    // the jobs are transactional, so the small drift between the worlds is harmless.
    let clock = Arc::new(SimClock {
        time: clocks[0].time().clone(),
        end: UtcInstant(i64::MAX / 2000),
    });
    const JOBS: u64 = 40;
    let mut store = Store::open(&dir.join("relais.db")).unwrap();
    let now = clock.now();
    for i in 0..JOBS {
        store
            .insert_job(
                &NewJob {
                    number: format!("+336123{:05}", 40_000 + i),
                    text: format!("Code {i:04}"),
                    class: Class::Transactional,
                    brand: "Acme".into(),
                    categories: String::new(),
                    department: None,
                    consent: ConsentStatus::None,
                    not_before: None,
                    expires: None,
                },
                now,
            )
            .unwrap();
    }
    let ctx = Arc::new(Context::new(store, clock.clone(), &config).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for device in &devices {
            let d = config.device(device.name()).unwrap();
            let target = Target {
                name: d.name.clone(),
                brands: Vec::new(),
                identity: config.identity(d, "Acme").unwrap(),
                sim_pin: None,
            };
            let (client, incoming) = connect(device.connector()).await.unwrap();
            tasks.push(tokio::spawn(scheduler::serve(
                ctx.clone(),
                target,
                client,
                incoming,
                stop.clone(),
            )));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let done = ctx
                .store()
                .job_counts(None)
                .unwrap()
                .iter()
                .all(|(s, _)| s.is_final());
            if done {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs left: {:?}",
                ctx.store().job_counts(None)
            );
        }
        let _ = stop_tx.send(true);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    for d in devices {
        d.stop().unwrap();
    }

    let store = Store::open(&dir.join("relais.db")).unwrap();
    let mut per_device = std::collections::BTreeMap::new();
    let mut ledger_copies = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, from) in [("left", "+33700000001"), ("right", "+33700000002")] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["kind"] == "message" {
                assert_eq!(v["from"], from, "{name} sends from its own SIM");
                ledger_copies
                    .entry(v["to"].as_str().unwrap().to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
    }
    let rows: Vec<(String, String, String)> = store
        .db()
        .query_map(
            "SELECT number, state, device FROM jobs",
            relais::store::db::params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(rows.len() as u64, JOBS);
    for (number, state, device) in &rows {
        assert!(state == "sent" || state == "delivered", "{number}: {state}");
        assert_eq!(
            ledger_copies.get(number).map(Vec::as_slice),
            Some(&[device.clone()][..]),
            "{number}: one copy, through the device the store names"
        );
        *per_device.entry(device.clone()).or_insert(0) += 1;
    }
    assert_eq!(
        per_device.len(),
        2,
        "both devices took jobs: {per_device:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A STOP one device of a host receives reaches the host's other devices at once (not
/// at the next comparison of lists, a minute later): the scheduler passes the stored
/// opt-out on to every device it drives.
#[test]
fn a_stop_on_one_device_reaches_the_other_at_once() {
    let config = Config::parse(CONFIG).unwrap();
    let mut devices = Vec::new();
    let mut sims = Vec::new();
    for (name, msisdn) in [("left", "+33700000001"), ("right", "+33700000002")] {
        let (device, handle) = LocalDevice::spawn_sim(
            name,
            SimSetup::new(scenario(msisdn), None),
            MemStore::<64, 64, 64>::new(),
        )
        .unwrap();
        sims.push(handle);
        devices.push(device);
    }
    let clock = Arc::new(SimClock {
        time: sims[0].time().clone(),
        end: UtcInstant(i64::MAX / 2000),
    });
    let ctx = Arc::new(Context::new(Store::open_in_memory().unwrap(), clock, &config).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut clients = Vec::new();
        for device in &devices {
            let d = config.device(device.name()).unwrap();
            let target = Target {
                name: d.name.clone(),
                brands: Vec::new(),
                identity: config.identity(d, "Acme").unwrap(),
                sim_pin: None,
            };
            let (client, incoming) = connect(device.connector()).await.unwrap();
            clients.push(client.clone());
            tasks.push(tokio::spawn(scheduler::serve(
                ctx.clone(),
                target,
                client,
                incoming,
                stop.clone(),
            )));
        }
        // Both lists empty and compared at the handshake; then a STOP on the left.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(clients[1].suppression_digest().await.unwrap().0, 0);
        sims[0].inject_sms(0, "+33612345678", "STOP").unwrap();
        let start = tokio::time::Instant::now();
        loop {
            let (count, _) = clients[1].suppression_digest().await.unwrap();
            if count == 1 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the right device did not hear of the left one's STOP; store: {:?}",
                ctx.store().optouts()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            ctx.store()
                .opted_out_of("+33612345678", "Acme")
                .unwrap()
                .is_some(),
            "stored too"
        );
        let _ = stop_tx.send(true);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    for d in devices {
        d.stop().unwrap();
    }
}
