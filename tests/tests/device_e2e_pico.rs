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
//!   killed and restarted on the same flash), a modem that stops answering gets a
//!   power-key press of the SIM800 length on GP14, `relais device status` answers over
//!   the USB port, the store erases only its own sectors, and no byte from the modem is
//!   lost while flash writes stall the core (the harness gives them the chip's timing).
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

    // The LED (GP25) as docs/boards/pico.md describes it: a slow blink (1 s on, 1 s
    // off) while the modem is not ready, then on, off for a moment after a sent part.
    let led_changes = |rig: &mut device_support::Rig| -> Vec<_> {
        rig.device
            .guest
            .pico()
            .gpio_changes()
            .into_iter()
            .filter(|c| c.pin == 25)
            .collect()
    };
    // Off for a moment after the sent part, then on: the blink may still be under way
    // when the Sent event arrives, so give it a moment.
    let sent_blink = |led: &[relais_tests::rp2040js::GpioChange]| {
        led.windows(2).any(|w| {
            w[0].at_ms > at
                && !w[0].high
                && w[1].high
                && (140.0..170.0).contains(&(w[1].at_ms - w[0].at_ms))
        })
    };
    let settled = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut led = led_changes(&mut rig);
    while !(sent_blink(&led) && led.last().is_some_and(|c| c.high))
        && std::time::Instant::now() < settled
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        led = led_changes(&mut rig);
    }
    let before_press: Vec<f64> = led
        .iter()
        .filter(|c| c.at_ms > 100.0 && c.at_ms < at)
        .map(|c| c.at_ms)
        .collect();
    assert!(before_press.len() >= 8, "slow blink while silent: {led:?}");
    for pair in before_press.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((990.0..1_010.0).contains(&gap), "1 s on, 1 s off: {led:?}");
    }
    assert!(
        sent_blink(&led),
        "off for 150 ms after the sent part: {led:?}"
    );
    assert!(led.last().is_some_and(|c| c.high), "on once ready: {led:?}");
}

#[test]
fn relais_device_status_answers_over_usb_and_no_modem_byte_is_lost_while_the_store_writes() {
    let test = "device_e2e_pico_wear";
    let Some(fw) = relais_tests::rp2040js::firmware_or_skip(test, &BoardBuild::pico()) else {
        return;
    };
    let sim = Sim::start(
        test,
        &scenario("2026-03-10T10:00:00", ""),
        &["--tcp", "127.0.0.1:0"],
    );
    let pico = Pico::boot(&fw, PicoConfig::new(sim.tcp_addr())).expect("boot");
    pico.wait_for_log("modem: ready", device_support::START)
        .expect("the modem comes up");

    // docs/boards/pico.md's first step, with the real command over the emulated USB port.
    let out = std::process::Command::new(sim_support::relais_binary())
        .args(["device", "--port", &pico.link_spec(), "status", "--json"])
        .output()
        .expect("run relais device status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_str(&text).expect("status JSON");
    assert_eq!(status["firmware"], env!("CARGO_PKG_VERSION"), "{status:#}");
    assert_eq!(status["modem"]["ready"], true, "{status:#}");

    // The store's wear over a run of jobs: more jobs than the store keeps records of
    // (64), so it must reuse sectors, and every erase is in its own region.
    let mut device = Device::attach(Machine::Pico(pico), unpaced(Settings::default()));
    const JOBS: u64 = 120;
    let erases_at_start = device.guest.pico().flash_erases().len();
    let mut events = BTreeMap::new();
    // Four at a time (the job slots), reading events between them: credits come back
    // as the host acknowledges events.
    for first in (100..100 + JOBS).step_by(4) {
        let keys: Vec<u64> = (first..(first + 4).min(100 + JOBS)).collect();
        for &key in &keys {
            let to = format!("+336123451{:02}", key - 100);
            device.submit(job(key, &to, "Votre code : 7782", Class::Transactional));
        }
        assert!(
            device.events_until(&mut events, device_support::EVENTS, |ev| {
                keys.iter().all(|&k| {
                    ev.values()
                        .any(|e| matches!(e, Event::Sent { key, .. } if key.0 == k))
                })
            }),
            "jobs {keys:?} sent; events: {events:#?}"
        );
    }
    assert!(
        device.events_until(&mut events, device_support::EVENTS, |ev| {
            ev.values()
                .filter(|e| matches!(e, Event::Delivery { .. }))
                .count()
                == JOBS as usize
        }),
        "a delivery report per job; events: {events:#?}"
    );
    sim.wait_entries("message", JOBS as usize, device_support::EVENTS);
    let erases = device.guest.pico().flash_erases();
    for e in &erases {
        assert!(
            e.start >= 0x1C_0000 && e.end <= 0x20_0000,
            "an erase outside the store region: {e:?}"
        );
    }
    let run = &erases[erases_at_start..];
    assert!(
        !run.is_empty(),
        "{JOBS} jobs against 64 job records: the store reuses (erases) sectors"
    );
    let programs = erases.last().map_or(0, |e| e.programs_before);
    // Erases and page programs stall the core (45 ms and 0.4 ms in the emulator, as on
    // the chip) while the modem's bytes keep coming: none may be lost.
    let lost = device.guest.pico().modem_bytes_lost();
    assert_eq!(lost, 0, "modem bytes lost to a full receive FIFO");
    eprintln!(
        "flash wear: {} sector erases during {JOBS} jobs ({} at start-up), {programs} page programs before the last erase",
        run.len(),
        erases_at_start
    );
}

#[test]
fn with_host_uart1_the_link_runs_over_uart1() {
    let test = "device_e2e_pico_uart1";
    let build = BoardBuild::new(xtask::firmware::PICO_BOARD, &["host-uart1"]);
    let Some(fw) = relais_tests::rp2040js::firmware_or_skip(test, &build) else {
        return;
    };
    let sim = Sim::start(
        test,
        &scenario("2026-03-10T10:00:00", ""),
        &["--tcp", "127.0.0.1:0"],
    );
    let mut config = PicoConfig::new(sim.tcp_addr());
    config.host_uart1 = true;
    let pico = Pico::boot(&fw, config).expect("boot");
    let mut device = Device::attach(Machine::Pico(pico), unpaced(Settings::default()));
    device.submit(job(
        60,
        "+33612345060",
        "Votre code : 1208",
        Class::Transactional,
    ));
    let mut events = BTreeMap::new();
    assert!(
        device.events_until(&mut events, device_support::EVENTS, |ev| {
            ev.values().any(|e| {
                matches!(
                    e,
                    Event::Delivery {
                        key: JobKey(60),
                        ..
                    }
                )
            })
        }),
        "job 60 sent and delivered over the UART1 link; events: {events:#?}"
    );
    assert!(
        device
            .guest
            .wait_for_log("usb:", std::time::Duration::ZERO)
            .is_err(),
        "no USB device in this build"
    );
    assert_eq!(
        sim.wait_entries("message", 1, device_support::EVENTS).len(),
        1
    );
}

#[test]
fn a_panic_is_logged_with_its_message_and_stops_the_firmware() {
    let test = "device_e2e_pico_panic";
    let build = BoardBuild::new(xtask::firmware::PICO_BOARD, &["selftest-panic"]);
    let Some(fw) = relais_tests::rp2040js::firmware_or_skip(test, &build) else {
        return;
    };
    // A modem port that never answers: the panic comes right after boot.
    let modem = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = PicoConfig::new(modem.local_addr().unwrap());
    let mut pico = Pico::boot(&fw, config).expect("boot");
    let status = pico
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("the emulator stops");
    assert_eq!(
        status.code(),
        Some(relais_tests::rp2040js::EXIT_FIRMWARE_STOPPED),
        "{:?}",
        pico.stderr()
    );
    let line = pico
        .wait_for_log(
            "selftest: deliberate panic after boot",
            std::time::Duration::ZERO,
        )
        .expect("panic-probe logged the message over RTT");
    assert_eq!(line.level, "error", "{line}");
}
