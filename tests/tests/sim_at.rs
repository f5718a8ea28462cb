//! `relais sim` over a real pty, driven by a scripted AT client: identification,
//! echo, errors, sending in text and PDU mode (single and multipart), reading and
//! deleting stored messages, +CNMI routing, status reports, clock and USSD.

mod sim_support;

use std::time::Duration;

use serde_json::json;
use sim_support::{Sim, deliver_ascii, pdu_after, status_report, submit_pdu};

const T: Duration = Duration::from_secs(10);

/// One SIM800, instant network, virtual clock stepped by the test.
const SCENARIO: &str = r#"
seed = 1
start = "2026-03-06T09:00:00"
utc_offset = "+01:00"
clock = "step"

[[modem]]
name = "m1"
msisdn = "+33700000001"
smsc = "+33609001390"
submit_latency = "0"

[operator]
report_latency = "0"
ussd = { "*100#" = "Solde 5 EUR" }

[[route]]
prefix = "+33699"
outcome = "failed"
status = 0x41

[[route]]
prefix = "+33698"
outcome = "rejected"
cms_error = 42
"#;

#[test]
fn identification_echo_and_errors() {
    let sim = Sim::start("sim_at_ident", SCENARIO, &[]);
    let mut at = sim.client();
    // Echo is on at power-on: the command line comes back first, then the answer.
    assert_eq!(at.cmd("AT"), "AT\r\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CGMI"), "AT+CGMI\r\r\nSIMCOM_Ltd\r\n\r\nOK\r\n");
    assert_eq!(
        at.cmd("ATE0"),
        "ATE0\r\r\nOK\r\n",
        "ATE0 itself is still echoed"
    );
    assert_eq!(at.cmd("AT+CGMM"), "\r\nSIMCOM_SIM800L\r\n\r\nOK\r\n");
    assert!(at.cmd("AT+CGSN").contains("\r\n86917003"));
    assert!(at.cmd("AT+CIMI").contains("\r\n00101"));
    // Unknown commands: plain ERROR, whatever +CMEE says (docs/modems.md § Error codes,
    // gammu probes).
    assert_eq!(at.cmd("AT+MODE=2"), "\r\nERROR\r\n");
    assert_eq!(at.cmd("AT+CMEE=1"), "\r\nOK\r\n");
    assert_eq!(at.cmd("AT$TSSPCSW=?"), "\r\nERROR\r\n");
    // Known command, bad index: +CMS ERROR numeric, verbose with CMEE=2.
    assert_eq!(at.cmd("AT+CMGR=99"), "\r\n+CMS ERROR: 321\r\n");
    at.cmd("AT+CMEE=2");
    assert_eq!(
        at.cmd("AT+CMGR=99"),
        "\r\n+CMS ERROR: invalid memory index\r\n"
    );
    // Several commands on one line, V.250 style.
    assert_eq!(at.cmd("AT+CMGF=1;+CMGF?"), "\r\n+CMGF: 1\r\n\r\nOK\r\n");
    assert_eq!(
        at.cmd("AT+CFUN=1"),
        "\r\nOK\r\n",
        "gammu aborts on ERROR here"
    );
    assert_eq!(
        at.cmd("AT+CSCA?"),
        "\r\n+CSCA: \"+33609001390\",145\r\n\r\nOK\r\n"
    );
    assert_eq!(at.cmd("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CREG?"), "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CSQ"), "\r\n+CSQ: 20,0\r\n\r\nOK\r\n");
    at.cmd("AT+COPS=3,2");
    assert_eq!(at.cmd("AT+COPS?"), "\r\n+COPS: 0,2,\"00101\"\r\n\r\nOK\r\n");
    // Byte at a time, as gammu's first init phase writes (echo back on).
    at.cmd("ATE1");
    for b in b"AT+CSQ\r" {
        at.send(&[*b]);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(at.final_result(T), "AT+CSQ\r\r\n+CSQ: 20,0\r\n\r\nOK\r\n");
}

#[test]
fn text_mode_send_is_in_the_ledger() {
    let sim = Sim::start("sim_at_text", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    at.cmd("AT+CMGF=1");
    assert_eq!(at.cmd("AT+CMGS=\"+33612345678\""), "\r\n> ");
    at.send(b"Rendez-vous demain 10h\x1a");
    assert_eq!(at.final_result(T), "\r\n+CMGS: 1\r\n\r\nOK\r\n");
    let messages = sim.wait_entries("message", 1, T);
    let m = &messages[0];
    assert_eq!(m["text"], "Rendez-vous demain 10h");
    assert_eq!(m["to"], "+33612345678");
    assert_eq!(m["from"], "+33700000001");
    assert_eq!(m["modem"], "m1");
    assert_eq!(m["segments"], 1);
    assert_eq!(m["mode"], "text");
    assert_eq!(
        m["at"], "2026-03-06T08:00:00.000Z",
        "virtual time, stepped clock"
    );
    let reports = sim.wait_entries("report", 1, T);
    assert_eq!(reports[0]["outcome"], "delivered");
    // ESC aborts the prompt: OK, and nothing reaches the network.
    assert_eq!(at.cmd("AT+CMGS=\"+33612345678\""), "\r\n> ");
    at.send(b"never mind\x1b");
    assert_eq!(at.final_result(T), "\r\nOK\r\n");
    // Echo on: the typed text and Ctrl-Z come back.
    at.cmd("ATE1");
    at.cmd("AT+CMGS=\"+33612345678\"");
    at.send(b"Second\x1a");
    assert_eq!(at.final_result(T), "Second\x1a\r\n+CMGS: 2\r\n\r\nOK\r\n");
    assert_eq!(sim.wait_entries("message", 2, T).len(), 2);
    assert_eq!(
        sim.entries("message").len(),
        2,
        "the aborted message was not sent"
    );
}

#[test]
fn pdu_mode_single_and_multipart_are_reassembled_once() {
    let sim = Sim::start("sim_at_pdu", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    at.cmd("AT+CMGF=0");
    // gammu's own PDU from the wire (docs/modems.md § Oracle calls and vectors), SMSC included.
    assert_eq!(at.cmd("AT+CMGS=25"), "\r\n> ");
    at.send(b"07915155000000F011000B915155214365F70000FF0CC8329BFD065DDF72363904\x1a");
    assert_eq!(at.final_result(T), "\r\n+CMGS: 1\r\n\r\nOK\r\n");
    // Three parts sent out of order, python-gsmmodem style (PDU + Ctrl-Z in one write).
    let parts = ["Part one of three, ", "part two of three, ", "and the end."];
    for seq in [2u8, 1, 3] {
        let (hex, len) = submit_pdu(
            "+33612345678",
            parts[usize::from(seq) - 1],
            Some((0x42, 3, seq)),
            false,
        );
        assert_eq!(at.cmd(&format!("AT+CMGS={len}")), "\r\n> ");
        at.send(format!("{hex}\x1a").as_bytes());
        assert!(at.final_result(T).contains("+CMGS: "));
    }
    // Wrong length: +CMS ERROR 304, nothing sent.
    let (hex, len) = submit_pdu("+33612345678", "bad length", None, false);
    at.cmd(&format!("AT+CMGS={}", len + 1));
    at.send(format!("{hex}\x1a").as_bytes());
    assert_eq!(at.final_result(T), "\r\n+CMS ERROR: 304\r\n");
    let messages = sim.wait_entries("message", 2, T);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["text"], "Hello World!");
    assert_eq!(messages[0]["to"], "+15551234567");
    assert_eq!(messages[1]["text"], parts.concat());
    assert_eq!(messages[1]["segments"], 3);
    assert_eq!(messages[1]["mrs"], json!([3, 2, 4]), "MRs in part order");
    assert_eq!(messages[1]["duplicate_segments"], 0);
}

#[test]
fn stored_messages_list_read_delete_in_both_modes() {
    let sim = Sim::start("sim_at_store", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    sim.control(json!({"cmd": "sms", "from": "+33611111111", "text": "Hello from the network"}));
    // Default CNMI (2,1,0,0,0): stored in SM and announced.
    assert_eq!(
        at.read_until("\r\n+CMTI: \"SM\",1\r\n", T),
        "\r\n+CMTI: \"SM\",1\r\n"
    );
    assert_eq!(
        at.cmd("AT+CPMS=\"SM\",\"SM\",\"SM\""),
        "\r\n+CPMS: 1,30,1,30,1,30\r\n\r\nOK\r\n"
    );
    // PDU mode: stat 0 (unread), reading flips it to 1.
    at.cmd("AT+CMGF=0");
    let list = at.cmd("AT+CMGL=4");
    assert!(list.starts_with("\r\n+CMGL: 1,0,,"), "{list:?}");
    let (text, oa) = deliver_ascii(pdu_after(&list, "+CMGL: 1,"));
    assert_eq!(
        (text.as_str(), oa.as_str()),
        ("Hello from the network", "33611111111")
    );
    let read = at.cmd("AT+CMGR=1");
    assert!(
        read.starts_with("\r\n+CMGR: 1,,"),
        "listed once, now read: {read:?}"
    );
    // Text mode view of the same message.
    at.cmd("AT+CMGF=1");
    let read = at.cmd("AT+CMGR=1");
    assert_eq!(
        read,
        "\r\n+CMGR: \"REC READ\",\"+33611111111\",,\"26/03/06,09:00:00+04\"\r\nHello from the network\r\n\r\nOK\r\n"
    );
    let list = at.cmd("AT+CMGL=\"ALL\"");
    assert!(
        list.contains("+CMGL: 1,\"REC READ\",\"+33611111111\""),
        "{list:?}"
    );
    assert_eq!(at.cmd("AT+CMGD=1"), "\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CMGL=\"ALL\""), "\r\nOK\r\n");
    assert_eq!(at.cmd("AT+CMGR=1"), "\r\n+CMS ERROR: 321\r\n");
    // The injected message is in the ledger as an inbound reply.
    let replies = sim.entries("reply");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["from"], "+33611111111");
    assert_eq!(replies[0]["to"], "+33700000001");
}

#[test]
fn cnmi_routes_direct_cmt_and_status_reports() {
    let sim = Sim::start("sim_at_cnmi", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    at.cmd("AT+CMGF=0");
    // mt=2: delivered straight to the TE as a two-line +CMT; ds=1: +CDS.
    assert_eq!(at.cmd("AT+CNMI=2,2,0,1,0"), "\r\nOK\r\n");
    sim.control(json!({"cmd": "sms", "from": "+33622222222", "text": "Direct"}));
    let urc = at.read_until("\r\n", T) + &at.read_until("\r\n", T) + &at.read_until("\r\n", T);
    assert!(urc.starts_with("\r\n+CMT: ,"), "{urc:?}");
    let (text, _) = deliver_ascii(pdu_after(&urc, "+CMT: "));
    assert_eq!(text, "Direct");
    assert_eq!(
        at.cmd("AT+CPMS?"),
        "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n"
    );
    // A report is requested (TP-SRR); the +CDS carries the +CMGS reference.
    let (hex, len) = submit_pdu("+33612345678", "Report me", None, true);
    at.cmd(&format!("AT+CMGS={len}"));
    at.send(format!("{hex}\x1a").as_bytes());
    let answer = at.final_result(T);
    let mr: u8 = answer
        .trim()
        .strip_prefix("+CMGS: ")
        .and_then(|r| r.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{answer:?}"));
    let cds = at.read_until("+CDS: ", T);
    assert!(cds.ends_with("+CDS: "));
    let line = at.read_until("\r\n", T) + &at.read_until("\r\n", T);
    let pdu = line.split("\r\n").nth(1).unwrap();
    assert_eq!(status_report(pdu), (mr, 0x00), "delivered, same MR");
    // A failing route: TP-ST 0x41 in the report, `failed` in the ledger.
    let (hex, len) = submit_pdu("+33699000000", "Fail me", None, true);
    at.cmd(&format!("AT+CMGS={len}"));
    at.send(format!("{hex}\x1a").as_bytes());
    at.final_result(T);
    at.read_until("+CDS: ", T);
    let line = at.read_until("\r\n", T) + &at.read_until("\r\n", T);
    assert_eq!(status_report(line.split("\r\n").nth(1).unwrap()).1, 0x41);
    // A rejecting route: +CMS ERROR at submission, no message in the ledger.
    let (hex, len) = submit_pdu("+33698000000", "Reject me", None, false);
    at.cmd(&format!("AT+CMGS={len}"));
    at.send(format!("{hex}\x1a").as_bytes());
    assert_eq!(at.final_result(T), "\r\n+CMS ERROR: 42\r\n");
    let reports = sim.wait_entries("report", 2, T);
    assert_eq!(reports[0]["outcome"], "delivered");
    assert_eq!(reports[0]["reported"], true);
    assert_eq!(reports[1]["outcome"], "failed");
    assert_eq!(reports[1]["status"], 0x41);
    assert_eq!(sim.entries("message").len(), 2);
    assert_eq!(sim.entries("refused").len(), 1);
    // Text-mode +CDS shape: <fo>,<mr>,<ra>,<tora>,<scts>,<dt>,<st>.
    at.cmd("AT+CMGF=1");
    at.cmd("AT+CSMP=49,167,0,0");
    at.cmd("AT+CMGS=\"+33612345678\"");
    at.send(b"Text report\x1a");
    at.final_result(T);
    let cds = at.read_until("\r\n+CDS: ", T);
    assert!(cds.ends_with("+CDS: "));
    let line = at.read_until("\r\n", T);
    assert!(line.starts_with("6,"), "{line:?}");
    assert!(
        line.contains(",\"+33612345678\",145,\"26/03/06,09:00:00+04\""),
        "{line:?}"
    );
    assert!(line.trim_end().ends_with(",0"), "{line:?}");
}

#[test]
fn clock_follows_virtual_time_and_ussd_answers() {
    let sim = Sim::start("sim_at_clock", SCENARIO, &[]);
    let mut at = sim.client();
    at.cmd("ATE0");
    assert_eq!(
        at.cmd("AT+CCLK?"),
        "\r\n+CCLK: \"26/03/06,09:00:00+04\"\r\n\r\nOK\r\n"
    );
    sim.control(json!({"cmd": "advance", "by": "3d 2h"}));
    assert_eq!(
        at.cmd("AT+CCLK?"),
        "\r\n+CCLK: \"26/03/09,11:00:00+04\"\r\n\r\nOK\r\n"
    );
    assert_eq!(at.cmd("AT+CUSD=1,\"*100#\",15"), "\r\nOK\r\n");
    sim.control(json!({"cmd": "advance", "by": "2s"}));
    assert_eq!(
        at.read_until("15\r\n", T),
        "\r\n+CUSD: 0,\"Solde 5 EUR\",15\r\n"
    );
    at.cmd("AT+CUSD=1,\"*999#\",15");
    sim.control(json!({"cmd": "advance", "by": "2s"}));
    assert_eq!(at.read_until("+CUSD: 4\r\n", T), "\r\n+CUSD: 4\r\n");
}
