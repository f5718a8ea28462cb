//! `relais pdu` end to end: line and JSON output, field names from the README, and the
//! one-line error with exit code 2 on bad input.

use std::process::{Command, Output};

fn relais(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("pdu")
        .args(args)
        .output()
        .expect("run relais")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).expect("JSON on stdout")
}

#[test]
fn encode_prints_length_and_pdu_per_segment() {
    // gammu's `sendsms … "Hello World!"` PDU (docs/modems.md § Oracle calls and vectors),
    // with SMSC and VP as gammu sends them: TP-VP 0xFF is 63 weeks.
    let out = relais(&[
        "encode",
        "--smsc",
        "+15550000000",
        "--validity",
        "635040",
        "--to",
        "+15551234567",
        "Hello World!",
    ]);
    assert_eq!(
        stdout(&out),
        "25 07915155000000F011000B915155214365F70000FF0CC8329BFD065DDF72363904\n"
    );
    // Without --smsc the field is 00; a long text gives one line per segment.
    let long = "x".repeat(200);
    let lines = stdout(&relais(&["encode", "--to", "123", "--ref", "7", &long]));
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("149 00410003"), "{}", lines[0]);
}

#[test]
fn encode_json_fields() {
    let v = json(&relais(&[
        "encode",
        "--json",
        "--report",
        "--class",
        "0",
        "--ref",
        "300",
        "--to",
        "+4915112345678",
        &"Ж".repeat(80),
    ]));
    assert_eq!(v["type"], "submit");
    assert_eq!(v["to"], "+4915112345678");
    assert_eq!(v["encoding"], "ucs2");
    assert_eq!(v["class"], 0);
    assert_eq!(v["smsc"], serde_json::Value::Null);
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[1]["concat"]["ref"], 300);
    assert_eq!(segs[1]["concat"]["part"], 2);
    assert_eq!(segs[1]["concat"]["total"], 2);
    let pdu = segs[0]["pdu"].as_str().unwrap();
    assert_eq!(
        segs[0]["length"].as_u64().unwrap() as usize,
        pdu.len() / 2 - 1
    );
    // Decoding what we encoded gives the same fields back.
    let d = json(&relais(&["decode", "--json", pdu]));
    assert_eq!(d["type"], "submit");
    assert_eq!(d["report"], true);
    assert_eq!(d["concat"]["ref"], 300);
}

#[test]
fn decode_deliver_and_status_report() {
    let d = json(&relais(&[
        "decode",
        "--json",
        "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
    ]));
    assert_eq!(d["type"], "deliver");
    assert_eq!(d["smsc"], "+85290000000");
    assert_eq!(d["from"], "+85291234567");
    assert_eq!(d["timestamp"], "2007-04-12T23:25:42+08:00");
    assert_eq!(d["encoding"], "gsm7");
    assert_eq!(
        d["text"],
        "It is easy to read text messages via AT commands."
    );
    assert_eq!(d["concat"], serde_json::Value::Null);
    let r = json(&relais(&[
        "decode",
        "--json",
        "--no-smsc",
        "06D60B911326880736F4111011719551401110117195714000",
    ]));
    assert_eq!(r["type"], "status-report");
    assert_eq!(r["mr"], 214);
    assert_eq!(r["to"], "+31628870634");
    assert_eq!(r["status"], "delivered");
    assert_eq!(r["discharge_time"], "2011-01-11T17:59:17+01:00");
    let text = stdout(&relais(&[
        "decode",
        "0006D60B911326880736F4111011719551401110117195714000",
    ]));
    assert!(text.contains("status: delivered\n"), "{text}");
}

#[test]
fn count_reports_encoding_and_segments() {
    assert_eq!(
        stdout(&relais(&["count", "Hello €"])),
        "gsm7 1 segment (8 septets, 160 per segment, 152 free in the last)\n"
    );
    let v = json(&relais(&["count", "--json", &"a".repeat(161)]));
    assert_eq!(
        (v["encoding"].as_str(), v["segments"].as_u64()),
        (Some("gsm7"), Some(2))
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    for args in [
        &["decode", "0Z"][..],
        &["decode", "0003"],
        &["decode", "0004038121F3000042506070809000A1"],
        &["encode", "--to", "+1x", "hi"],
        &["encode", "--encoding", "gsm7", "--to", "123", "😀"],
    ] {
        let out = relais(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("relais pdu: error: "), "{err}");
        assert!(out.stdout.is_empty());
    }
}
