//! `relais policy` end to end: the binary's output, JSON fields, override file and
//! exit codes.

use std::process::{Command, Output};

fn relais(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("policy")
        .args(args)
        .output()
        .expect("run relais")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn check_explains_a_sunday_deferral() {
    let out = relais(&[
        "check",
        "--to",
        "+33612345678",
        "--class",
        "marketing",
        "--sender",
        "shortcode:36123",
        "--at",
        "2026-11-22T10:00:00Z",
        "--text",
        "Soldes -20%",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().next(),
        Some(
            "FR marketing blocked on Sundays (AF2M charter 2024); deferred to Mon 2026-11-23 08:00 Europe/Paris"
        )
    );
    assert!(text.contains("rule:     fr.marketing.window"));
}

#[test]
fn check_json_fields() {
    let v = json(&relais(&[
        "check",
        "--to",
        "+33612345678",
        "--sender",
        "shortcode:36123",
        "--at",
        "2026-11-23T10:00:00Z",
        "--text",
        "Soldes -20%",
        "--json",
    ]));
    assert_eq!(v["decision"], "send");
    assert_eq!(v["text"], "Soldes -20% STOP au 36123");
    assert_eq!(v["segments"], 1);
    assert_eq!(v["rule"], "fr.marketing.stop");
    assert!(v["source"]["url"].as_str().unwrap().starts_with("https://"));

    let v = json(&relais(&[
        "check",
        "--to",
        "+18505550123",
        "--sender",
        "shortcode:12345",
        "--at",
        "2026-11-24T01:30:00Z",
        "--text",
        "Sale. Reply STOP",
        "--json",
    ]));
    assert_eq!(
        (v["decision"].as_str(), v["until"].as_str()),
        (Some("defer"), Some("2026-11-24T14:00:00Z"))
    );

    let v = json(&relais(&[
        "check",
        "--to",
        "+33612345678",
        "--class",
        "transactional",
        "--sender",
        "shortcode:36123",
        "--text",
        "Code 1",
        "--json",
    ]));
    assert_eq!(
        (v["decision"].as_str(), v["rule"].as_str()),
        (Some("refuse"), Some("fr.transactional.senders"))
    );
}

#[test]
fn override_file_tightens() {
    let dir = std::env::temp_dir().join(format!("relais-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("overrides.toml");
    std::fs::write(&file, "fr_profile = \"strict\"\n[[house_window]]\ndays = \"mon-fri\"\nstart = \"09:00\"\nend = \"17:00\"\n")
        .unwrap();
    let f = file.to_str().unwrap();
    // Strict profile: 20:30 Paris on a Monday waits for Tuesday 08:00.
    let v = json(&relais(&[
        "check",
        "--to",
        "+33612345678",
        "--sender",
        "shortcode:36123",
        "--at",
        "2026-11-23T19:30:00Z",
        "--text",
        "Promo STOP au 36123",
        "--overrides",
        f,
        "--json",
    ]));
    assert_eq!(v["until"], "2026-11-24T07:00:00Z");
    // A house window where the pack has none (Germany): Saturday waits for Monday 09:00.
    let v = json(&relais(&[
        "check",
        "--to",
        "+491701234567",
        "--sender",
        "alpha:ACME",
        "--at",
        "2026-11-21T12:00:00Z",
        "--text",
        "Angebot STOPP",
        "--overrides",
        f,
        "--json",
    ]));
    assert_eq!(
        (v["decision"].as_str(), v["until"].as_str()),
        (Some("defer"), Some("2026-11-23T08:00:00Z"))
    );
    assert_eq!(v["rule"], "override");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keyword_json() {
    let v = json(&relais(&[
        "keyword",
        "--from",
        "+14165550123",
        "ARRET",
        "--json",
    ]));
    assert_eq!(
        (v["kind"].as_str(), v["tier"].as_u64(), v["lang"].as_str()),
        (Some("opt-out"), Some(1), Some("fr"))
    );
    assert!(v["reply"].as_str().unwrap().contains("prise en compte"));
}

#[test]
fn show_lists_rules_with_sources() {
    let out = relais(&["show", "us"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("us.fl.cap [FL]"));
    assert!(text.contains("source: 47 CFR 64.1200(c)(1) [L]"));
    let out = relais(&["show", "KE", "--year", "2027"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("calendar data missing for 2027")
    );
}

#[test]
fn show_warns_90_days_before_a_holiday_table_runs_out() {
    let show = |country: &str, at: &str| {
        let out = relais(&["show", country, "--at", at]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // Kenya's table covers up to 2026-12-31: silent 91 days before, a warning from 90.
    assert!(!show("KE", "2026-10-01T23:00:00Z").contains("warning:"));
    let out = show("KE", "2026-10-02T00:00:00Z");
    assert!(
        out.contains(
            "warning: Kenya (KE): the lunar/gazetted holiday table of calendar KE \
             (Eid al-Fitr, Eid al-Adha) ends on 2026-12-31 (in 90 days)"
        ),
        "{out}"
    );
    // Nigeria's ends after Eid al-Fitr 2026, the last declaration published.
    let out = show("NG", "2026-12-07T10:00:00Z");
    assert!(
        out.contains("warning: Nigeria (NG)") && out.contains("ran out on 2026-03-20"),
        "{out}"
    );
    assert!(!show("NG", "2025-12-19T10:00:00Z").contains("warning:"));
    // Computed calendars never run out.
    for country in ["FR", "US", "ZA", "BR"] {
        assert!(!show(country, "2040-01-01T00:00:00Z").contains("warning:"));
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        &["check", "--to", "0612345678", "--sender", "alpha:ACME"][..],
        &["check", "--to", "+33612345678", "--sender", "fax:1"],
        &[
            "check",
            "--to",
            "+33612345678",
            "--sender",
            "alpha:ACME",
            "--at",
            "yesterday",
        ],
        &[
            "check",
            "--to",
            "+33612345678",
            "--sender",
            "alpha:ACME",
            "--class",
            "spam",
        ],
        &[
            "check",
            "--to",
            "+33612345678",
            "--sender",
            "alpha:ACME",
            "--category",
            "drugs",
        ],
        &["keyword", "--from", "12", "STOP"],
        &["show", "XX"],
    ] {
        let out = relais(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("relais policy: "), "{err}");
    }
}
