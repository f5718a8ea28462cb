//! relais firmware for QEMU's `lm3s6965evb` (Cortex-M3).
//!
//! UART0 is the host link and UART1 the modem (QEMU's first and second `-serial`).
//! Logs go out as defmt frames over semihosting; a panic or hard fault is logged and
//! makes QEMU exit with a failure code.
//!
//! For now the main loop runs the agent's passthrough bridge between the two UARTs.

#![no_std]
#![no_main]

mod clock;
mod flash;
mod pl011;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use defmt_semihosting as _;
use relais_agent::passthrough::Passthrough;

use pl011::Pl011;

/// Both links run at this rate on a real LM3S6965; QEMU ignores it.
const BAUD: u32 = 115_200;
/// How often the bridge reports its counters, when they changed.
const REPORT_EVERY_MS: u64 = 1_000;

defmt::timestamp!("{=u64:ms}", clock::now_ms());

#[entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else {
        fail("core peripherals already taken");
    };
    clock::start(core.SYST);
    // SAFETY: UART0 and UART1 are PL011s and this is their only owner.
    let (mut host, mut modem) = unsafe {
        (
            Pl011::new(pl011::UART0, BAUD),
            Pl011::new(pl011::UART1, BAUD),
        )
    };

    defmt::info!(
        "relais firmware {} booted on qemu-lm3s6965 (agent {}, core {})",
        env!("CARGO_PKG_VERSION"),
        relais_agent::VERSION,
        relais_agent::core::VERSION
    );
    if cfg!(feature = "selftest-panic") {
        selftest_panic();
    }
    let flash = match flash::HostFileFlash::open() {
        Ok(flash) => flash,
        Err(e) => fail_with("flash file", e),
    };
    defmt::info!(
        "flash: {=usize} KiB in the host file, {=usize} B blocks",
        embedded_storage::nor_flash::ReadNorFlash::capacity(&flash) / 1024,
        flash::BLOCK
    );

    defmt::info!("passthrough: UART0 (host link) <-> UART1 (modem)");
    let mut bridge = Passthrough::<64>::new();
    let mut reported = bridge.stats();
    let mut last_report = clock::now_ms();
    loop {
        bridge.poll(&mut host, &mut modem);
        let now = clock::now_ms();
        if now.wrapping_sub(last_report) >= REPORT_EVERY_MS {
            last_report = now;
            let stats = bridge.stats();
            if stats != reported {
                reported = stats;
                defmt::info!(
                    "passthrough: {=u32} bytes host->modem, {=u32} bytes modem->host, {=u32} read errors",
                    stats.host_to_modem,
                    stats.modem_to_host,
                    stats.read_errors
                );
            }
        }
    }
}

/// Proves the panic path end to end (feature `selftest-panic`).
fn selftest_panic() {
    panic!("selftest: deliberate panic after boot");
}

/// Logs `what` failed with `error` and ends the QEMU run with a failure exit code.
fn fail_with(what: &str, error: impl defmt::Format) -> ! {
    defmt::error!("fatal: {=str}: {}", what, error);
    exit_failure()
}

/// Logs `why` and ends the QEMU run with a failure exit code.
fn fail(why: &str) -> ! {
    defmt::error!("fatal: {=str}", why);
    exit_failure()
}

/// Exit code of a run that ended in a panic, a hard fault or a fatal error; the same
/// code a Rust program on a host returns when it panics.
const EXIT_FAILURE: i32 = 101;

fn exit_failure() -> ! {
    semihosting::process::exit(EXIT_FAILURE)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panicked: {}", defmt::Display2Format(info));
    exit_failure()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!(
        "hard fault: pc={=u32:#010x} lr={=u32:#010x}",
        frame.pc(),
        frame.lr()
    );
    exit_failure()
}
