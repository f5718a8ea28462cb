//! The Raspberry Pi Pico firmware (boards/rp-pico, `thumbv6m-none-eabi`), the same ELF
//! a Pico runs, in the rp2040js emulator (tests/rp2040js/run.mjs): the host's link
//! client over the emulated USB CDC port → the device agent → UART0 bridged to
//! `relais sim` as the modem and operator.
//!
//! - device_e2e's story (`device_story`): jobs exactly once with delivery reports,
//!   raw marketing deferred on Saturday night, STOP received by the modem and marketing
//!   refused after it, the verified zone and house window, the SIM PIN;
//! - the Pico's own parts: the UF2 file `cargo xtask firmware --board rp-pico --uf2`
//!   writes boots, the store in the QSPI flash survives a power cut (the emulator is
//!   killed and restarted on the same flash), and a modem that stops answering gets a
//!   power-key press of the SIM800 length on GP14.
//!
//! What the emulator lacks and how the harness stands in for it: docs/boards/pico.md,
//! "Tested without hardware".

mod device_story;
mod device_support;
mod sim_support;

use std::collections::BTreeMap;
use std::path::Path;

use device_story::{job, scenario};
use device_support::{Board, Device, Machine, unpaced};
use relais::link::{Event, JobKey};
use relais_core::compliance::decision::Class;
use relais_core::link::msg::Settings;
use relais_tests::rp2040js::{BoardBuild, Pico, PicoConfig};
use sim_support::Sim;

#[test]
fn pico_host_jobs_go_through_the_firmware_exactly_once_with_delivery_reports() {
    device_story::exactly_once(Board::Pico, "device_e2e_pico_once");
}

#[test]
fn pico_enforces_quiet_hours_and_stop_by_itself() {
    device_story::quiet_hours_and_stop(Board::Pico, "device_e2e_pico_rules");
}

#[test]
fn pico_judges_with_the_verified_zone_and_the_house_window() {
    device_story::zone_and_house_window(Board::Pico, "device_e2e_pico_inputs");
}

#[test]
fn pico_enters_the_sim_pin_from_its_settings() {
    device_story::sim_pin(Board::Pico, "device_e2e_pico_pin");
}

/// Boots the Pico from `image` (the UF2 file) on `workdir`'s flash, with the link.
fn boot_uf2(fw: &xtask::firmware::Firmware, sim: &Sim, image: &Path, workdir: &Path) -> Device {
    let mut config = PicoConfig::new(sim.tcp_addr());
    config.workdir = Some(workdir.to_owned());
    config.image = Some(image.to_owned());
    let pico = Pico::boot(fw, config).expect("boot the UF2 image in rp2040js");
    Device::attach(Machine::Pico(pico), unpaced(Settings::default()))
}

#[test]
fn the_uf2_file_boots_and_the_store_survives_a_power_cut() {
    let test = "device_e2e_pico_uf2";
    let Some(fw) = relais_tests::rp2040js::firmware_or_skip(test, &BoardBuild::pico()) else {
        return;
    };
    let board = xtask::firmware::board(xtask::firmware::PICO_BOARD).unwrap();
    let uf2 = xtask::firmware::write_uf2(&fw, board).expect("write the UF2 file");
    let sim = Sim::start(
        test,
        &scenario("2026-03-10T10:00:00", ""),
        &["--tcp", "127.0.0.1:0"],
    );
    // Not `test` alone: the simulator's scratch directory has that name.
    let workdir = relais_tests::qemu::fresh_dir(&format!("{test}-flash")).unwrap();

    let mut device = boot_uf2(&fw, &sim, &uf2, &workdir);
    let first_boot = device.runtime.block_on(device.client.ready()).unwrap().boot;
    let code = job(
        40,
        "+33612345040",
        "Votre code : 5521",
        Class::Transactional,
    );
    device.submit(code.clone());
    let mut events = BTreeMap::new();
    assert!(
        device.events_until(&mut events, device_support::EVENTS, |ev| {
            ev.values().any(|e| {
                matches!(
                    e,
                    Event::Sent {
                        key: JobKey(40),
                        ..
                    }
                )
            })
        }),
        "job 40 sent; events: {events:#?}"
    );
    sim.wait_entries("message", 1, device_support::EVENTS);

    // Power cut: the emulator dies at once; the flash file is all that is left.
    device.guest.pico().kill();
    drop(device);

    let mut device = boot_uf2(&fw, &sim, &uf2, &workdir);
    let second_boot = device.runtime.block_on(device.client.ready()).unwrap().boot;
    assert_eq!(
        second_boot.0,
        first_boot.0 + 1,
        "the boot counter lives in the store: it survived the power cut"
    );
    // The same job again, as a host that never saw the outcome would resend it: the
    // device remembers it in its flash and does not send it twice.
    device.submit(code);
    assert!(
        device.events_until(&mut events, device_support::EVENTS, |ev| {
            ev.values()
                .any(|e| matches!(e, Event::Duplicate(JobKey(40))))
        }),
        "job 40 reported as a duplicate after the restart; events: {events:#?}"
    );
    assert_eq!(
        sim.entries("message").len(),
        1,
        "sent once across the power cut: {:#?}",
        sim.entries("message")
    );
    drop(device);
    let _ = std::fs::remove_dir_all(&workdir);
}

#[test]
fn a_silent_modem_gets_a_power_key_press_of_the_sim800_length() {
    let test = "device_e2e_pico_pwrkey";
    // The modem drops every byte for its first 12 s: the driver's AT probes (20 in
    // 10 s) go unanswered and it power-cycles the modem; by the time it has, the
    // modem answers again.
    let faults = r#"
[[fault]]
at = "0s"
kind = "drop"
probability = 1.0
duration = "12s"
"#;
    let Some(mut rig) = device_support::Rig::start_on(
        Board::Pico,
        test,
        &format!("{}{faults}", scenario("2026-03-10T10:00:00", "")),
    ) else {
        return;
    };
    rig.submit(job(
        50,
        "+33612345050",
        "Votre colis arrive",
        Class::Transactional,
    ));
    rig.events_until("job 50 sent after the power cycle", |ev| {
        ev.values().any(|e| {
            matches!(
                e,
                Event::Sent {
                    key: JobKey(50),
                    ..
                }
            )
        })
    });
    // GP14 (PWRKEY through a transistor: high = pressed): one press, released after
    // the SIM800 off length (1.8 s, pressed once per cycle without a STATUS pin).
    let changes: Vec<_> = rig
        .device
        .guest
        .pico()
        .gpio_changes()
        .into_iter()
        .filter(|c| c.pin == 14)
        .collect();
    let presses: Vec<(f64, f64)> = changes
        .windows(2)
        .filter(|w| w[0].high && !w[1].high)
        .map(|w| (w[0].at_ms, w[1].at_ms - w[0].at_ms))
        .collect();
    assert_eq!(presses.len(), 1, "one press: {changes:?}");
    let (at, held) = presses[0];
    assert!(
        (1_800.0..1_850.0).contains(&held),
        "pressed {held} ms at {at} ms, the SIM800 off length is 1800 ms: {changes:?}"
    );
    assert!(
        at >= 10_000.0,
        "pressed after the probes ran out, at {at} ms"
    );
    assert!(
        rig.device
            .guest
            .wait_for_log("power cycle", std::time::Duration::ZERO)
            .is_ok(),
        "the driver logged the power cycle"
    );
    assert_eq!(rig.ledger("message").len(), 1);
}
