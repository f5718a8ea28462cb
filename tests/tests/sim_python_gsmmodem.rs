//! A second real third-party client against `relais sim`: python-gsmmodem (the
//! babca fork, `python-gsmmodem-new` on PyPI), whose host behaviour differs from
//! gammu's (docs/modems.md § gammu against a scripted modem): echo off, `AT+CNMI=2,1,0,2`
//! with status reports stored in "SR" and read back, PDU and Ctrl-Z written in one burst.
//! It identifies the modem, sends a single and a multipart message (reassembled once in the
//! ledger, each segment's report read back), and receives an injected message.

mod sim_support;

use std::process::Command;
use std::time::Duration;

use relais_tests::tier;
use sim_support::Sim;

const SCENARIO: &str = r#"
seed = 4
start = "2026-03-06T09:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
smsc = "+33609001390"
submit_latency = "100ms"

[operator]
report_latency = "1s..6s"   # spread: python-gsmmodem loses a +CDSI that arrives while it reads another
"#;

/// Connects, sends two messages with status reports, waits for the reports, then
/// asks the simulator for an inbound message and waits for the callback.
const CLIENT: &str = r#"
import subprocess, sys, time
from gsmmodem.modem import GsmModem

port, relais, control = sys.argv[1:4]
received, reports = [], []
m = GsmModem(port, 115200,
             smsReceivedCallbackFunc=lambda s: received.append((s.number, s.text)),
             smsStatusReportCallback=lambda r: reports.append((r.reference, r.status)))
m.connect()
print("IDENT", m.manufacturer, m.model, m.imei)
long_text = "Long message from python-gsmmodem. " * 8
for text in ["Hello from python-gsmmodem", long_text]:
    m.sendSms("+33612345678", text, waitForDeliveryReport=False)
deadline = time.time() + 20
while len(reports) < 3 and time.time() < deadline:
    time.sleep(0.1)
print("REPORTS", sorted(reports))
time.sleep(1)
subprocess.run([relais, "sim", "inject", "--control", control, "sms",
                "--from", "+33611223344", "--text", "Bonjour python"], check=True)
deadline = time.time() + 20
while not received and time.time() < deadline:
    time.sleep(0.1)
print("RECEIVED", received)
m.close()
"#;

fn have_python_gsmmodem() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import gsmmodem.modem"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        tier::skip(
            "sim_python_gsmmodem",
            "python3 cannot import gsmmodem",
            "python3 -m pip install -r .ci/requirements.txt",
        );
    }
    ok
}

#[test]
fn python_gsmmodem_sends_reads_reports_and_receives() {
    if !have_python_gsmmodem() {
        return;
    }
    let sim = Sim::start("sim_python_gsmmodem", SCENARIO, &[]);
    let script = sim.dir.join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(sim.link())
        .arg(sim_support::relais_binary())
        .arg(&sim.control)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !stderr.contains("Traceback"),
        "client raised\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("IDENT SIMCOM_Ltd SIMCOM_SIM800L 86917003"),
        "{stdout}"
    );
    let messages = sim.wait_entries("message", 2, Duration::from_secs(10));
    assert_eq!(messages[0]["text"], "Hello from python-gsmmodem");
    assert_eq!(
        messages[1]["text"],
        "Long message from python-gsmmodem. ".repeat(8)
    );
    assert_eq!(messages[1]["segments"], 2);
    // Each segment's report, read from "SR" by the client, carries its MR: 1, 2, 3.
    assert!(
        stdout.contains("REPORTS [(1, 0), (2, 0), (3, 0)]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("RECEIVED [('+33611223344', 'Bonjour python')]"),
        "{stdout}\n{stderr}"
    );
}
