//! Faults and the operator model of `relais sim`, over real ptys and TCP: reboot,
//! SIM removal, network loss, garbled and dropped bytes, subscribers who reply,
//! quiet-hours holding, several modems, and determinism for a seed.

mod sim_support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};
use sim_support::{AtClient, Sim, submit_pdu};

const T: Duration = Duration::from_secs(10);

const SCENARIO: &str = r#"
seed = 1
start = "2026-03-06T09:00:00"
utc_offset = "+01:00"
clock = "step"

[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "0"

[operator]
report_latency = "0"

[[subscriber]]
number = "+33612345678"
stop_after = 2
reply_delay = "1m"

[[subscriber]]
number = "+33687654321"
reply_delay = "30s"

[[subscriber.keyword]]
contains = "rdv"
reply = "OUI, je confirme le rendez-vous de demain matin. Pouvez-vous me rappeler l'adresse exacte et le nom du cabinet ? Je viens avec ma fille, elle a aussi besoin d'une consultation. Merci beaucoup et bonne journée."
"#;

fn send_text(at: &mut AtClient, to: &str, text: &str) -> String {
    at.cmd("AT+CMGF=1");
    assert_eq!(at.cmd(&format!("AT+CMGS=\"{to}\"")), "\r\n> ");
    at.send(format!("{text}\x1a").as_bytes());
    at.final_result(T)
}

#[test]
fn reboot_goes_silent_then_prints_boot_urcs_with_settings_reset() {
    let sim = Sim::start("sim_faults_reboot", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    at.cmd("AT+CMGF=1");
    at.cmd("AT+CMEE=1");
    sim.control(json!({"cmd": "fault", "kind": "reboot"}));
    at.send(b"AT\r");
    assert_eq!(
        at.drain(Duration::from_millis(300)),
        "",
        "no answer while booting"
    );
    sim.control(json!({"cmd": "advance", "by": "3s"}));
    let boot = at.read_until("SMS Ready\r\n", T);
    assert_eq!(
        boot,
        "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"
    );
    // Volatile settings are back to power-on defaults: echo on, PDU mode, CMEE 0.
    assert_eq!(at.cmd("AT+CMGF?"), "AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CMEE?"), "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n");
    let faults = sim.entries("fault");
    assert_eq!(faults[0]["fault"], "reboot");
    let status = sim.control(json!({"cmd": "status"}));
    assert_eq!(status["modems"][0]["powered"], true);
    assert_eq!(status["modems"][0]["registration"], 1);
}

#[test]
fn sim_removal_and_network_loss_fail_sends_with_the_right_codes() {
    let sim = Sim::start("sim_faults_sim", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    at.cmd("AT+CMEE=1");
    at.cmd("AT+CREG=1");
    sim.control(json!({"cmd": "fault", "kind": "sim-out", "duration": "5m"}));
    assert_eq!(
        at.read_until("NOT READY\r\n", T),
        "\r\n+CPIN: NOT READY\r\n"
    );
    assert_eq!(at.read_until("\r\n+CREG: 0\r\n", T), "\r\n+CREG: 0\r\n");
    assert_eq!(at.cmd("AT+CPIN?"), "\r\n+CME ERROR: 10\r\n");
    let status = sim.control(json!({"cmd": "status"}));
    assert_eq!(status["modems"][0]["sim"], false);
    assert_eq!(status["modems"][0]["registration"], 0);
    at.cmd("AT+CMGF=0");
    assert_eq!(at.cmd("AT+CMGS=20"), "\r\n+CMS ERROR: 310\r\n");
    // A message arriving meanwhile waits in the network and arrives after sim-in.
    sim.control(json!({"cmd": "sms", "from": "+33611111111", "text": "Held"}));
    assert_eq!(at.drain(Duration::from_millis(200)), "");
    sim.control(json!({"cmd": "advance", "by": "5m"}));
    assert_eq!(
        at.read_until("SMS Ready\r\n", T),
        "\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
    );
    assert_eq!(at.read_until("\r\n+CREG: 1\r\n", T), "\r\n+CREG: 1\r\n");
    sim.control(json!({"cmd": "advance", "by": "1m"}));
    assert_eq!(
        at.read_until("+CMTI: \"SM\",1\r\n", T),
        "\r\n+CMTI: \"SM\",1\r\n"
    );
    // Network loss: searching, sends refused with 331, then back.
    sim.control(json!({"cmd": "fault", "kind": "network-loss", "duration": "10m"}));
    assert_eq!(at.read_until("\r\n+CREG: 2\r\n", T), "\r\n+CREG: 2\r\n");
    let (hex, len) = submit_pdu("+33612345678", "No network", None, false);
    assert_eq!(at.cmd(&format!("AT+CMGS={len}")), "\r\n> ");
    at.send(format!("{hex}\x1a").as_bytes());
    assert_eq!(at.final_result(T), "\r\n+CMS ERROR: 331\r\n");
    assert_eq!(at.cmd("AT+CSQ"), "\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    sim.control(json!({"cmd": "advance", "by": "10m"}));
    assert_eq!(at.read_until("\r\n+CREG: 1\r\n", T), "\r\n+CREG: 1\r\n");
    assert!(at.cmd(&format!("AT+CMGS={len}")).ends_with("> "));
    at.send(format!("{hex}\x1a").as_bytes());
    assert!(at.final_result(T).contains("+CMGS: "));
    assert_eq!(
        sim.wait_entries("message", 1, T).len(),
        1,
        "only the send that got through"
    );
}

#[test]
fn garbled_and_dropped_bytes_then_a_clean_line() {
    let sim = Sim::start("sim_faults_garble", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    sim.control(json!({"cmd": "fault", "kind": "drop", "probability": 1.0, "duration": "1m"}));
    at.send(b"AT\r");
    assert_eq!(
        at.drain(Duration::from_millis(300)),
        "",
        "every byte dropped"
    );
    sim.control(json!({"cmd": "advance", "by": "1m"}));
    // Garbling hits both directions: some commands are mangled on the way in, some
    // answers on the way out.
    sim.control(json!({"cmd": "fault", "kind": "garble", "probability": 0.1, "duration": "1m"}));
    let clean = "\r\nSIMCOM_Ltd\r\n\r\nOK\r\n";
    for _ in 0..30 {
        at.send(b"AT+CGMI\r");
        std::thread::sleep(Duration::from_millis(5));
    }
    let garbled = at.drain(Duration::from_millis(500));
    assert!(
        garbled.contains("SIM") || garbled.contains("OK"),
        "{garbled:?}"
    );
    assert_ne!(garbled, clean.repeat(30));
    sim.control(json!({"cmd": "advance", "by": "1m"}));
    assert_eq!(at.cmd("AT+CGMI"), "\r\nSIMCOM_Ltd\r\n\r\nOK\r\n");
}

#[test]
fn subscribers_reply_stop_after_n_and_keywords_in_multipart() {
    let sim = Sim::start("sim_faults_subscribers", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    for i in 1..=3 {
        assert!(send_text(&mut at, "+33612345678", &format!("Promo {i}")).contains("+CMGS:"));
    }
    assert!(send_text(&mut at, "+33687654321", "Votre RDV est confirme").contains("+CMGS:"));
    sim.control(json!({"cmd": "advance", "by": "2m"}));
    let replies = sim.wait_entries("reply", 2, T);
    let stop: Vec<&Value> = replies
        .iter()
        .filter(|r| r["from"] == "+33612345678")
        .collect();
    assert_eq!(
        stop.len(),
        1,
        "STOP once, after the 2nd message; nothing after"
    );
    assert_eq!(stop[0]["text"], "STOP");
    assert_eq!(stop[0]["origin"], "subscriber");
    assert_eq!(stop[0]["at"], "2026-03-06T08:01:00.000Z");
    let keyword: Vec<&Value> = replies
        .iter()
        .filter(|r| r["from"] == "+33687654321")
        .collect();
    assert_eq!(keyword.len(), 1);
    assert_eq!(
        keyword[0]["segments"], 2,
        "a long reply arrives in two parts"
    );
    // Both replies are stored on the modem: STOP (1 part) + keyword reply (2 parts).
    at.cmd("AT+CMGF=1");
    let list = at.cmd("AT+CMGL=\"ALL\"");
    assert_eq!(list.matches("+CMGL: ").count(), 3, "{list:?}");
    assert!(list.contains("\r\nSTOP\r\n"), "{list:?}");
}

#[test]
fn quiet_hours_hold_marketing_until_the_morning_after_sunday() {
    let scenario = r#"
seed = 1
start = "2026-03-07T21:30:00"   # Saturday evening
utc_offset = "+01:00"
clock = "step"

[[modem]]
name = "promo"
msisdn = "+33700000009"
marketing = true
submit_latency = "0"

[[modem]]
name = "service"
link = "{dir}/service"
msisdn = "+33700000002"
submit_latency = "0"

[operator]
report_latency = "0"

[operator.quiet_hours]
from = "20:00"
to = "08:00"
sundays = true
"#;
    let sim = Sim::start("sim_faults_quiet", scenario, &[]);
    let mut promo = sim.client();
    let mut service = AtClient::open(&sim.dir.join("service"));
    promo.cmd("ATE0");
    service.cmd("ATE0");
    assert!(send_text(&mut promo, "+33612345678", "Soldes !").contains("+CMGS:"));
    assert!(send_text(&mut service, "+33612345678", "Votre colis").contains("+CMGS:"));
    let reports = sim.wait_entries("report", 1, T);
    assert_eq!(reports.len(), 1, "service traffic is not held");
    assert_eq!(reports[0]["modem"], "service");
    assert_eq!(reports[0]["held_until"], Value::Null);
    // Sunday is quiet all day: released Monday 08:00 local = 07:00Z.
    sim.control(json!({"cmd": "advance", "by": "1d 10h"}));
    assert_eq!(sim.entries("report").len(), 1, "still held on Sunday");
    sim.control(json!({"cmd": "advance", "by": "1h"}));
    let reports = sim.wait_entries("report", 2, T);
    assert_eq!(reports[1]["modem"], "promo");
    assert_eq!(reports[1]["held_until"], "2026-03-09T07:00:00.000Z");
    assert_eq!(reports[1]["at"], "2026-03-09T07:00:00.000Z");
    let messages = sim.entries("message");
    assert_eq!(messages[0]["from"], "+33700000009");
    assert_eq!(
        messages[0]["at"], "2026-03-07T20:30:00.000Z",
        "accepted at once"
    );
}

#[test]
fn tcp_transport_serves_several_modems() {
    let scenario = r#"
seed = 1
clock = "step"
start = "2026-03-06T09:00:00"

[[modem]]
name = "a"
tcp = "127.0.0.1:0"
submit_latency = "0"

[[modem]]
name = "b"
profile = "ec25"
tcp = "127.0.0.1:0"
submit_latency = "0"
"#;
    let sim = Sim::start("sim_faults_tcp", scenario, &["--tcp", "127.0.0.1:0"]);
    let addr = |name: &str| -> String {
        let line = sim
            .banner
            .iter()
            .find(|l| l.starts_with(&format!("modem {name} ")))
            .unwrap_or_else(|| panic!("{:?}", sim.banner));
        line.rsplit(' ').next().unwrap().to_string()
    };
    let mut b = std::net::TcpStream::connect(addr("b")).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    b.write_all(b"ATE0\rAT+CGMI\r").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = std::time::Instant::now() + T;
    while !String::from_utf8_lossy(&got).contains("Quectel\r\n\r\nOK") {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        if let Ok(n) = b.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    let mut a = std::net::TcpStream::connect(addr("a")).unwrap();
    a.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    a.write_all(b"AT+CGMI\r").unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("SIMCOM_Ltd\r\n\r\nOK") {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        if let Ok(n) = a.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn same_seed_same_ledger() {
    let scenario = r#"
seed = SEED
start = "2026-03-06T09:00:00"
clock = "step"

[[modem]]
name = "m1"
submit_latency = "0"

[operator]
report_latency = "~1h"

[[route]]
prefix = "+3361"
outcome = "never"
probability = 0.5
"#;
    let run = |seed: &str| -> Vec<Value> {
        let sim = Sim::start("sim_faults_seed", &scenario.replace("SEED", seed), &[]);
        let mut at = sim.client();
        at.cmd("ATE0");
        for i in 0..8 {
            send_text(&mut at, &format!("+336100000{i:02}"), "Hi");
        }
        sim.control(json!({"cmd": "advance", "by": "1w"}));
        sim.wait_entries("report", 8, T)
    };
    let a = run("11");
    let b = run("11");
    let c = run("12");
    assert_eq!(a, b);
    assert_ne!(a, c);
    let lost = a.iter().filter(|r| r["outcome"] == "never").count();
    assert!(
        (1..8).contains(&lost),
        "probability 0.5 over 8 messages: {lost}"
    );
}

#[test]
fn scenario_plays_its_inbound_messages_and_faults_on_time() {
    let scenario = r#"
seed = 1
start = "2026-03-06T09:00:00"
clock = "step"

[[modem]]
name = "m1"

[[inbound]]
at = "1m"
from = "+33611111111"
text = "Scheduled hello"

[[fault]]
at = "2m"
kind = "reboot"
"#;
    let sim = Sim::start("sim_faults_scenario", scenario, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    sim.control(json!({"cmd": "advance", "by": "59s"}));
    assert_eq!(
        at.drain(Duration::from_millis(100)),
        "",
        "nothing before 1m"
    );
    sim.control(json!({"cmd": "advance", "by": "1s"}));
    assert_eq!(
        at.read_until("+CMTI: \"SM\",1\r\n", T),
        "\r\n+CMTI: \"SM\",1\r\n"
    );
    sim.control(json!({"cmd": "advance", "by": "1m 3s"}));
    assert!(at.read_until("SMS Ready\r\n", T).starts_with("\r\nRDY\r\n"));
    let reply = &sim.entries("reply")[0];
    assert_eq!(reply["origin"], "scenario");
    assert_eq!(reply["at"], "2026-03-06T09:01:00.000Z");
}

#[test]
fn clock_runs_faster_than_real_time() {
    let scenario = r#"
start = "2026-03-06T09:00:00"
speed = 3600.0

[[modem]]
name = "m1"
"#;
    let sim = Sim::start("sim_faults_speed", scenario, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    std::thread::sleep(Duration::from_millis(1100));
    let cclk = at.cmd("AT+CCLK?");
    // At least one virtual hour later (one real second × 3600), well under a day.
    let time = cclk.split(',').nth(1).unwrap_or_else(|| panic!("{cclk:?}"));
    let hour: u32 = time[..2].parse().unwrap();
    assert!((10..20).contains(&hour), "{cclk:?}");
}

#[test]
fn sigterm_removes_the_link_and_the_control_socket() {
    let mut sim = Sim::start("sim_faults_sigterm", SCENARIO, &[]);
    let link = sim.link();
    assert!(std::fs::symlink_metadata(&link).is_ok());
    assert!(std::fs::read_link(&link).unwrap().starts_with("/dev/pts"));
    let status = sim.terminate().expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
    assert!(!sim.control.exists(), "control socket removed");
}

/// The example week-long campaign runs in seconds with a stepped clock: marketing
/// traffic sent on Saturday evening is held over Sunday and the Monday holiday,
/// the service modem's traffic is not, every scheduled fault happens, and the
/// subscriber who replies STOP after three messages does so once.
#[test]
fn example_campaign_week_runs_in_seconds() {
    let path = sim_support::repo_root().join("examples/scenarios/campaign-week.toml");
    let scenario = std::fs::read_to_string(path)
        .unwrap()
        .replace("/tmp/relais-promo", "{dir}/modem")
        .replace("/tmp/relais-service", "{dir}/service")
        .replace("speed = 600.0", "clock = \"step\"");
    let sim = Sim::start("sim_faults_week", &scenario, &[]);
    let mut promo = sim.client();
    let mut service = AtClient::open(&sim.dir.join("service"));
    // From Friday 17:00 to Saturday 21:00 (the service modem reboots at 19:00).
    for _ in 0..28 {
        sim.control(json!({"cmd": "advance", "by": "1h"}));
    }
    assert!(service.drain(Duration::from_millis(100)).contains("RDY"));
    promo.cmd("ATE0");
    service.cmd("ATE0");
    // Three promotions to the STOP subscriber, one service message.
    // Submit latencies are seconds of virtual time: step the clock past them.
    let send = |at: &mut AtClient, to: &str, text: &str| {
        at.cmd("AT+CMGF=1");
        assert_eq!(at.cmd(&format!("AT+CMGS=\"{to}\"")), "\r\n> ");
        at.send(format!("{text}\x1a").as_bytes());
        std::thread::sleep(Duration::from_millis(50));
        sim.control(json!({"cmd": "advance", "by": "1m"}));
        let answer = at.final_result(T);
        assert!(answer.contains("+CMGS:"), "{answer:?}");
    };
    for i in 1..=3 {
        send(&mut promo, "+33612345678", &format!("Promo {i}"));
    }
    send(&mut service, "+33687654321", "Votre RDV lundi");
    // Saturday night, all of Sunday, and Monday 2026-03-09 (a holiday) are quiet:
    // released Tuesday 08:00 local = 07:00Z.
    for _ in 0..7 * 24 {
        sim.control(json!({"cmd": "advance", "by": "1h"}));
    }
    let reports = sim.entries("report");
    let promo_reports: Vec<&Value> = reports.iter().filter(|r| r["modem"] == "promo").collect();
    assert_eq!(promo_reports.len(), 3, "{reports:#?}");
    for r in &promo_reports {
        assert_eq!(r["held_until"], "2026-03-10T07:00:00.000Z");
    }
    let service_reports: Vec<&Value> = reports.iter().filter(|r| r["modem"] == "service").collect();
    assert_eq!(service_reports[0]["held_until"], Value::Null);
    let stop: Vec<Value> = sim
        .entries("reply")
        .into_iter()
        .filter(|r| r["from"] == "+33612345678")
        .collect();
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0]["text"], "STOP");
    let faults: Vec<String> = sim
        .entries("fault")
        .iter()
        .map(|f| format!("{} {}", f["modem"], f["fault"]).replace('"', ""))
        .collect();
    for expected in [
        "promo network-loss",
        "promo network-back",
        "service reboot",
        "promo garble",
        "promo line-clear",
        "service sim-out",
        "service sim-in",
    ] {
        assert!(
            faults.contains(&expected.to_string()),
            "{expected}: {faults:?}"
        );
    }
}
