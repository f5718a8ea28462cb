//! `relais demo` with the real firmware under QEMU as the device and `relais sim` as the
//! network: the story still happens (the firmware learns each virtual-time jump from
//! the modem's clock) and the report agrees with the simulator's ledger.

mod sim_support;

use std::process::Command;

use relais::store::Store;
use relais::store::db::params;
use relais_core::compliance::tz::UtcInstant;
use relais_tests::qemu::{self, BoardBuild};
use sim_support::relais_binary;

#[test]
fn the_demo_on_the_firmware_under_qemu_agrees_with_the_ledger() {
    let Some(fw) = qemu::firmware_or_skip("host_demo_qemu", &BoardBuild::qemu()) else {
        return;
    };
    let dir = sim_support::scratch("host_demo_qemu");
    let out = Command::new(relais_binary())
        .arg("demo")
        .args(["--device", "qemu", "--firmware"])
        .arg(&fw.elf)
        .arg("--dir")
        .arg(&dir)
        .output()
        .expect("run relais demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "relais demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("under QEMU"), "{stdout}");
    assert!(stdout.contains("they agree"), "{stdout}");

    let store = Store::open(&dir.join("relais.db")).unwrap();
    let conn = store.db();
    let monday_8 = UtcInstant::parse_rfc3339("2026-08-17T06:00:00Z").unwrap();
    let (marketing_sent, first): (i64, Option<i64>) = conn
        .query_row(
            "SELECT count(*), min(sent_at) FROM jobs WHERE class = 'marketing' AND sent_at IS NOT NULL",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        marketing_sent >= 10,
        "{marketing_sent} marketing messages sent"
    );
    assert!(
        first.is_some_and(|t| t >= monday_8.0),
        "first marketing send at {first:?}"
    );
    for number in ["+33612340003", "+33612340004"] {
        let state: String = conn
            .query_row(
                "SELECT state FROM jobs WHERE number = ?1 AND class = 'marketing'",
                [number],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(state, "refused", "{number} said STOP before Monday");
    }
    let alerts: i64 = conn
        .query_row(
            "SELECT count(*) FROM jobs WHERE class = 'transactional' AND state = 'delivered'",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(alerts, 3, "the parcel alerts went at night");
}
