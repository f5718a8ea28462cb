//! `relais demo` tells the story it promises, and its report agrees with the
//! simulator's ledger: the test runs the demo and computes both sides.

use relais::demo::run_demo;
use relais::store::db::params;
use relais::store::{JobState, Store};
use relais_core::compliance::tz::UtcInstant;

#[test]
fn the_demo_story_happens_and_its_report_matches_the_ledger() {
    let dir = std::env::temp_dir().join(format!("relais-demo-test-{}", std::process::id()));
    let out = run_demo(&dir, true).expect("the demo runs");
    let r = &out.reconciliation;
    assert!(r.agrees(), "store and ledger disagree: {r:#?}");
    // The report's own numbers against the ledger.
    assert_eq!(out.report.sent, r.ledger_jobs, "report sent vs ledger");
    assert_eq!(
        out.report.undelivered, r.ledger_failed,
        "report undelivered vs ledger"
    );
    assert!(r.ledger_jobs >= 10, "{r:?}");
    assert!(r.ledger_failed >= 2, "the two dead numbers fail: {r:?}");

    let store = Store::open(&out.db).unwrap();
    let conn = store.db();
    let monday_8 = UtcInstant::parse_rfc3339("2026-08-17T06:00:00Z").unwrap();
    let saturday = UtcInstant::parse_rfc3339("2026-08-15T19:30:00Z").unwrap();
    // Marketing: deferred by the host past the holiday Saturday night and the Sunday,
    // to Monday 08:00 Paris exactly, and sent then, never before.
    let marketing_sent: Vec<i64> = conn
        .prepare("SELECT sent_at FROM jobs WHERE class = 'marketing' AND sent_at IS NOT NULL")
        .unwrap()
        .query_map(params![], |r| r.get(0))
        .unwrap();
    assert!(marketing_sent.len() >= 10, "{marketing_sent:?}");
    assert!(
        marketing_sent.iter().all(|&t| t >= monday_8.0),
        "{marketing_sent:?}"
    );
    let deferred_until: Vec<String> = conn
        .prepare("SELECT DISTINCT detail FROM job_history WHERE state = 'deferred'")
        .unwrap()
        .query_map(params![], |r| r.get(0))
        .unwrap();
    assert_eq!(
        deferred_until,
        ["deferred until 2026-08-17T06:00:00Z (fr.marketing.window)"],
        "one deferral instant for all"
    );
    // Transactional alerts went at night, at once.
    let alerts: Vec<(i64, String)> = conn
        .prepare("SELECT sent_at, state FROM jobs WHERE class = 'transactional'")
        .unwrap()
        .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(alerts.len(), 3);
    for (at, state) in &alerts {
        assert!(*at < saturday.0 + 600, "alert sent at {at}");
        assert_eq!(state, "delivered");
    }
    // STOP: recorded (by SMS, with the keyword), confirmed, and the opted-out
    // recipients' marketing refused.
    for number in ["+33612340003", "+33612340004"] {
        assert!(
            store.opted_out_of(number, "Acme").unwrap().is_some(),
            "{number} opted out"
        );
        let state: String = conn
            .query_row(
                "SELECT state FROM jobs WHERE number = ?1 AND class = 'marketing'",
                [number],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(state, JobState::Refused.name(), "{number}");
    }
    let confirmed: i64 = conn
        .query_row(
            "SELECT count(*) FROM keywords WHERE kind = 'opt-out' AND confirmed <> 0",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(confirmed >= 3, "STOP confirmations: {confirmed}");
    assert!(out.report.keywords.total >= 4, "{:?}", out.report.keywords);
    // No consent: refused by the consent rule.
    let state: String = conn
        .query_row(
            "SELECT state FROM jobs WHERE number = '+33612340015'",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "refused");
    // Nothing left hanging.
    assert_eq!(out.report.pending, 0, "{:?}", out.report.states);
    assert!(
        std::fs::read_to_string(out.dir.join("report.html"))
            .unwrap()
            .contains("<svg")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
