//! Firmware tier: the real `thumbv7m-none-eabi` image of `boards/qemu-lm3s6965` under
//! `qemu-system-arm`. Skips loudly without QEMU or a Cortex-M toolchain; fails in CI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use relais_tests::qemu::{self, BoardBuild, Guest, GuestConfig, Serial};

const BOOT: Duration = Duration::from_secs(20);
const IO: Duration = Duration::from_secs(20);

/// A recognisable, non-repeating-per-256 byte pattern covering every byte value.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    stream.set_read_timeout(Some(IO)).unwrap();
    let mut got = vec![0u8; len];
    stream
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading {len} bytes: {e}"));
    got
}

/// The firmware built to bridge its two UARTs instead of running the agent.
fn bridge() -> BoardBuild {
    BoardBuild::new(xtask::firmware::QEMU_BOARD, &["bridge"])
}

#[test]
fn firmware_boots_and_reports_its_versions() {
    let Some(fw) = qemu::firmware_or_skip(
        "firmware_boots_and_reports_its_versions",
        &BoardBuild::qemu(),
    ) else {
        return;
    };
    let guest = Guest::boot(&fw, GuestConfig::default()).unwrap();
    let banner = guest.wait_for_log("booted on qemu-lm3s6965", BOOT).unwrap();
    assert_eq!(banner.level, "info");
    assert!(banner.message.contains("relais firmware 0.1.0"), "{banner}");
    assert!(
        banner.message.contains("agent 0.1.0, core 0.1.0"),
        "{banner}"
    );
    guest.wait_for_log("agent: boot", BOOT).unwrap();
    assert_eq!(
        guest.malformed_log_bytes(),
        0,
        "defmt stream had undecodable bytes"
    );
}

#[test]
fn bytes_cross_both_uarts_in_both_directions() {
    let Some(fw) = qemu::firmware_or_skip("bytes_cross_both_uarts_in_both_directions", &bridge())
    else {
        return;
    };
    let mut guest = Guest::boot(&fw, GuestConfig::default()).unwrap();
    guest.wait_for_log("passthrough:", BOOT).unwrap();
    let mut host = guest.host_link().tcp().unwrap().try_clone().unwrap();
    let mut modem = guest.modem().tcp().unwrap().try_clone().unwrap();

    // An AT exchange first, then 32 KiB each way at the same time: far more than any
    // FIFO or queue on the way, so flow control must hold what the bridge cannot take.
    host.write_all(b"AT+CGMI\r").unwrap();
    assert_eq!(read_exactly(&mut modem, 8), b"AT+CGMI\r");
    modem.write_all(b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n").unwrap();
    assert_eq!(read_exactly(&mut host, 20), b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n");

    let up = pattern(32 * 1024, 7);
    let down = pattern(32 * 1024, 201);
    let (mut host_tx, mut modem_tx) = (host.try_clone().unwrap(), modem.try_clone().unwrap());
    let (up_tx, down_tx) = (up.clone(), down.clone());
    let writer_up = std::thread::spawn(move || host_tx.write_all(&up_tx));
    let writer_down = std::thread::spawn(move || modem_tx.write_all(&down_tx));
    let reader_up = std::thread::spawn(move || read_exactly(&mut modem, 32 * 1024));
    let got_down = read_exactly(&mut host, down.len());
    let got_up = reader_up.join().unwrap();
    writer_up.join().unwrap().unwrap();
    writer_down.join().unwrap().unwrap();
    assert!(got_up == up, "host->modem bytes differ");
    assert!(got_down == down, "modem->host bytes differ");

    let expected = format!(
        "{} bytes host->modem, {} bytes modem->host, 0 read errors",
        8 + up.len(),
        20 + down.len()
    );
    guest.wait_for_log(&expected, IO).unwrap();
}

#[test]
fn systick_clock_follows_real_time() {
    let Some(fw) = qemu::firmware_or_skip("systick_clock_follows_real_time", &bridge()) else {
        return;
    };
    let mut guest = Guest::boot(&fw, GuestConfig::default()).unwrap();
    let banner = guest.wait_for_log("booted", BOOT).unwrap();
    let boot_ms = banner.millis.expect("log lines carry a timestamp");
    assert!(boot_ms < 1_000, "boot banner at {boot_ms} ms");

    let started = std::time::Instant::now();
    let host = guest.host_link().tcp().unwrap();
    host.write_all(b"x").unwrap();
    let (first_index, first) = guest
        .wait_for_log_after(0, "bytes host->modem", IO)
        .unwrap();
    std::thread::sleep(Duration::from_millis(2_500));
    guest.host_link().tcp().unwrap().write_all(b"y").unwrap();
    let (_, second) = guest
        .wait_for_log_after(first_index + 1, "bytes host->modem", IO)
        .unwrap();
    let wall_ms = started.elapsed().as_millis() as u64;
    let guest_ms = second.millis.unwrap() - first.millis.unwrap();
    // The second report comes at least 2.5 s of real time after the first; the guest's
    // clock must have advanced by about that (a wrong clock rate is off by a factor of
    // 4 or more), never more than the wall time elapsed. The slack absorbs a busy host.
    assert!(
        guest_ms >= 1_500,
        "guest clock advanced {guest_ms} ms over ≥2500 ms of real time"
    );
    assert!(
        guest_ms <= wall_ms + 1_000,
        "guest clock advanced {guest_ms} ms in {wall_ms} ms of real time"
    );
}

#[test]
fn pty_wiring_reaches_the_modem_uart() {
    let Some(fw) = qemu::firmware_or_skip("pty_wiring_reaches_the_modem_uart", &bridge()) else {
        return;
    };
    let config = GuestConfig {
        host_link: Serial::Pty,
        modem: Serial::Tcp,
        ..GuestConfig::default()
    };
    let mut guest = Guest::boot(&fw, config).unwrap();
    guest.wait_for_log("passthrough:", BOOT).unwrap();
    let pty = guest.host_link().pty().unwrap().to_owned();
    let mut port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&pty)
        .unwrap();
    port.write_all(b"ATI\r").unwrap();
    let modem = guest.modem().tcp().unwrap();
    assert_eq!(read_exactly(modem, 4), b"ATI\r");
    modem.write_all(b"\r\nOK\r\n").unwrap();
    let mut got = [0u8; 6];
    port.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\r\nOK\r\n");
}

#[test]
fn panic_is_logged_and_exits_qemu_with_failure() {
    let build = BoardBuild::new(xtask::firmware::QEMU_BOARD, &["selftest-panic"]);
    let Some(fw) = qemu::firmware_or_skip("panic_is_logged_and_exits_qemu_with_failure", &build)
    else {
        return;
    };
    let mut guest = Guest::boot(&fw, GuestConfig::default()).unwrap();
    let status = guest.wait_exit(BOOT).unwrap();
    assert_eq!(status.code(), Some(101), "QEMU exit status {status}");
    let log = guest.log();
    let panic = log
        .iter()
        .find(|l| l.message.contains("panicked"))
        .expect("panic is logged");
    assert_eq!(panic.level, "error");
    assert!(
        panic
            .message
            .contains("selftest: deliberate panic after boot"),
        "{panic}"
    );
}

#[test]
fn qemu_is_gone_after_a_failing_test() {
    let Some(fw) = qemu::firmware_or_skip("qemu_is_gone_after_a_failing_test", &BoardBuild::qemu())
    else {
        return;
    };
    let pid = std::panic::catch_unwind(|| {
        let guest = Guest::boot(&fw, GuestConfig::default()).unwrap();
        let pid = guest.pid();
        std::panic::panic_any(pid);
    })
    .expect_err("the closure panics")
    .downcast::<u32>()
    .map(|pid| *pid)
    .expect("the panic payload is the pid");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU (pid {pid}) is still running or unreaped after the test panicked"
    );
}

#[test]
fn firmware_fits_the_board_and_reports_its_size() {
    let Some(fw) = qemu::firmware_or_skip(
        "firmware_fits_the_board_and_reports_its_size",
        &BoardBuild::qemu(),
    ) else {
        return;
    };
    let size = &fw.size;
    assert!(size.sections.iter().any(|s| s.name == ".text"), "{size}");
    assert!(
        size.sections.iter().any(|s| s.name == ".vector_table"),
        "{size}"
    );
    // LM3S6965: 256 KiB flash, 64 KiB RAM.
    assert!(size.flash() > 1024 && size.flash() <= 256 * 1024, "{size}");
    assert!(size.ram() > 0 && size.ram() <= 64 * 1024, "{size}");
}

#[test]
fn flash_file_is_created_erased_and_kept_across_boots() {
    let Some(fw) = qemu::firmware_or_skip(
        "flash_file_is_created_erased_and_kept_across_boots",
        &bridge(),
    ) else {
        return;
    };
    let dir = qemu::fresh_dir("flash-test").unwrap();
    let config = GuestConfig {
        workdir: Some(dir.clone()),
        ..GuestConfig::default()
    };
    let file = dir.join("relais-flash.bin");

    // First boot: no file yet, the firmware creates it erased.
    let guest = Guest::boot(&fw, config.clone()).unwrap();
    guest.wait_for_log("flash: 64 KiB", BOOT).unwrap();
    guest.shutdown();
    let content = std::fs::read(&file).unwrap();
    assert_eq!(content.len(), 64 * 1024);
    assert!(
        content.iter().all(|&b| b == 0xFF),
        "new flash is not erased"
    );

    // Content written "before the power cut" is still there after the next boot.
    let mut programmed = content;
    programmed[..8].copy_from_slice(b"relais\0\x01");
    std::fs::write(&file, &programmed).unwrap();
    let guest = Guest::boot(&fw, config.clone()).unwrap();
    guest.wait_for_log("flash: 64 KiB", BOOT).unwrap();
    guest.shutdown();
    assert_eq!(std::fs::read(&file).unwrap(), programmed);

    // A file of the wrong size is not flash of this board: started again erased.
    std::fs::write(&file, b"short").unwrap();
    let guest = Guest::boot(&fw, config).unwrap();
    guest.wait_for_log("flash: 64 KiB", BOOT).unwrap();
    guest.shutdown();
    let content = std::fs::read(&file).unwrap();
    assert_eq!(content.len(), 64 * 1024);
    assert!(content.iter().all(|&b| b == 0xFF));
    let _ = std::fs::remove_dir_all(dir);
}
