//! A real third-party AT client against the simulator: Debian's gammu identifies the
//! simulated modem, sends single and multipart messages (the ledger must show them
//! reassembled, once), and reads injected inbound messages.
//!
//! gammu's command sequence and needs are in docs/modems.md § gammu against a scripted modem.

mod sim_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use relais_tests::tier;
use serde_json::json;
use sim_support::Sim;

const T: Duration = Duration::from_secs(20);

const SCENARIO: &str = r#"
seed = 3
start = "2026-03-06T09:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
smsc = "+33609001390"
submit_latency = "200ms"

[operator]
report_latency = "0"
"#;

fn gammu() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("gammu"))
        .find(|p| p.is_file());
    if found.is_none() {
        tier::skip("gammu_peer", "gammu not found", "apt-get install gammu");
    }
    found
}

fn gammurc(sim: &Sim) -> PathBuf {
    let rc = sim.dir.join("gammurc");
    let text = format!(
        "[gammu]\ndevice = {}\nconnection = at115200\nlogfile = {}\nlogformat = textall\n",
        sim.link().display(),
        sim.dir.join("gammu.log").display()
    );
    std::fs::write(&rc, text).expect("write gammurc");
    rc
}

fn run(gammu: &Path, rc: &Path, args: &[&str]) -> String {
    let out: Output = Command::new(gammu)
        .arg("-c")
        .arg(rc)
        .args(args)
        .output()
        .expect("run gammu");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let log = std::fs::read_to_string(rc.with_file_name("gammu.log")).unwrap_or_default();
    let tail: String = log.lines().rev().take(40).collect::<Vec<_>>().join("\n");
    assert!(
        out.status.success(),
        "gammu {args:?} failed: {}\nstdout: {stdout}\nstderr: {stderr}\nlog tail (reversed):\n{tail}",
        out.status
    );
    stdout
}

#[test]
fn gammu_identifies_the_simulated_modem() {
    let Some(gammu) = gammu() else { return };
    let sim = Sim::start("gammu_identify", SCENARIO, &[]);
    let out = run(&gammu, &gammurc(&sim), &["identify"]);
    assert!(
        out.contains("Model                : unknown (SIMCOM_SIM800L)"),
        "{out}"
    );
    assert!(out.contains("Manufacturer         : SIMCOM_Ltd"), "{out}");
    assert!(out.contains("SIMCOM_SIM800L"), "{out}");
    assert!(out.contains("IMEI                 : 86917003"), "{out}");
    assert!(out.contains("SIM IMSI             : 00101"), "{out}");
    let rc = gammurc(&sim);
    let out = run(&gammu, &rc, &["networkinfo"]);
    assert!(out.contains("Network state        : home network"), "{out}");
    assert!(out.contains("GPRS                 : attached"), "{out}");
    let out = run(&gammu, &rc, &["getsmsc"]);
    assert!(
        out.contains("Number               : \"+33609001390\""),
        "{out}"
    );
    // The phone's clock is the scenario's virtual clock.
    let out = run(&gammu, &rc, &["getdatetime"]);
    assert!(out.contains("Fri Mar  6 09:0"), "{out}");
    let out = run(&gammu, &rc, &["monitor", "1"]);
    assert!(out.contains("Signal strength      : -73 dBm"), "{out}");
    assert!(
        out.contains("SIM SMS status       : 0 used, 0 unread, 30 locations"),
        "{out}"
    );
}

#[test]
fn gammu_sends_single_and_multipart_and_the_ledger_has_them_reassembled() {
    let Some(gammu) = gammu() else { return };
    let sim = Sim::start("gammu_send", SCENARIO, &[]);
    let rc = gammurc(&sim);
    let out = run(
        &gammu,
        &rc,
        &["sendsms", "TEXT", "+33612345678", "-text", "Hello World!"],
    );
    assert!(out.contains("OK, message reference=1"), "{out}");
    // 400 characters: three 153-septet parts.
    let long: String = (0..400)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let out = run(
        &gammu,
        &rc,
        &[
            "sendsms",
            "TEXT",
            "+33687654321",
            "-len",
            "400",
            "-text",
            &long,
        ],
    );
    assert!(out.contains("Sending SMS 3/3"), "{out}");
    // -autolen with a long text containing an extension character (€ = 2 septets).
    let euro = "Prix: 10€. ".repeat(20);
    let out = run(
        &gammu,
        &rc,
        &[
            "sendsms",
            "TEXT",
            "+33687654321",
            "-autolen",
            "220",
            "-text",
            &euro,
        ],
    );
    assert!(out.contains("Sending SMS 2/2"), "{out}");
    // Unicode, a report request and a flash message (docs/modems.md § gammu against a
    // scripted modem, table).
    let out = run(
        &gammu,
        &rc,
        &[
            "sendsms",
            "TEXT",
            "+33611111111",
            "-unicode",
            "-text",
            "Привет €",
        ],
    );
    assert!(out.contains("OK, message reference="), "{out}");
    let out = run(
        &gammu,
        &rc,
        &[
            "sendsms",
            "TEXT",
            "+33611111111",
            "-report",
            "-text",
            "Report me",
        ],
    );
    assert!(out.contains("OK, message reference="), "{out}");
    let out = run(
        &gammu,
        &rc,
        &[
            "sendsms",
            "TEXT",
            "+33611111111",
            "-flash",
            "-text",
            "Flash",
        ],
    );
    assert!(out.contains("OK, message reference="), "{out}");
    let messages = sim.wait_entries("message", 6, T);
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert_eq!(messages[3]["text"], "Привет €");
    assert_eq!(messages[3]["encoding"], "ucs2");
    assert_eq!(messages[4]["text"], "Report me");
    assert_eq!(messages[5]["text"], "Flash");
    let reports = sim.wait_entries("report", 6, T);
    let reported: Vec<bool> = reports.iter().map(|r| r["reported"] == true).collect();
    assert_eq!(
        reported,
        [false, false, false, false, true, false],
        "only -report asked"
    );
    assert_eq!(messages[0]["text"], "Hello World!");
    assert_eq!(messages[0]["segments"], 1);
    assert_eq!(messages[0]["to"], "+33612345678");
    assert_eq!(messages[1]["text"], long.as_str());
    assert_eq!(messages[1]["segments"], 3);
    assert_eq!(messages[1]["duplicate_segments"], 0);
    assert_eq!(messages[2]["text"], euro.as_str());
    assert_eq!(messages[2]["segments"], 2);
    for m in &messages {
        assert_eq!(m["mode"], "pdu");
        assert_eq!(m["from"], "+33700000001");
    }
}

#[test]
fn gammu_reads_injected_inbound_messages() {
    let Some(gammu) = gammu() else { return };
    let sim = Sim::start("gammu_read", SCENARIO, &[]);
    let rc = gammurc(&sim);
    sim.control(json!({"cmd": "sms", "from": "+33611223344", "text": "Bonjour, à demain !"}));
    let long = "Une réponse longue en plusieurs parties. ".repeat(6);
    sim.control(json!({"cmd": "sms", "from": "+33655667788", "text": long}));
    sim.control(json!({"cmd": "sms", "from": "+33655667788", "text": "Привет, мир"}));
    let out = run(&gammu, &rc, &["getallsms"]);
    assert!(
        out.contains("Remote number        : \"+33611223344\""),
        "{out}"
    );
    assert!(out.contains("Bonjour, à demain !"), "{out}");
    assert!(out.contains("Concatenated (linked) message"), "{out}");
    assert!(out.contains("part 2 of 2"), "{out}");
    assert!(out.contains("Привет, мир"), "{out}");
    assert!(
        out.contains("Sent                 : Fri Mar  6 09:00:"),
        "{out}"
    );
    // The parts, in gammu's order, join to the text that was injected.
    let mut bodies = Vec::new();
    for chunk in out.split("Location ").skip(1) {
        if chunk.contains("+33655667788") && chunk.contains("Concatenated") {
            let body = chunk.split("\n\n").nth(1).unwrap_or("").to_string();
            bodies.push(body);
        }
    }
    assert_eq!(bodies.len(), 2, "{out}");
    assert_eq!(bodies.concat().trim_end(), long.trim_end());
}
