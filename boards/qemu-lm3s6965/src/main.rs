//! relais firmware for QEMU's `lm3s6965evb` (Cortex-M3).
//!
//! UART0 is the host link and UART1 the modem (QEMU's first and second `-serial`).
//! The main loop runs the device agent (`relais_agent::agent`): jobs from the host, the
//! compliance gate before every segment, the modem driver, events back. Its store is
//! the emulated flash of [`flash`] (a host file that survives QEMU restarts).
//!
//! With the `bridge` feature the loop instead copies bytes between the two UARTs
//! (`relais_agent::passthrough`): an AT console to the modem through the board, for
//! bring-up of a new modem.
//!
//! Logs go out as defmt frames over semihosting; a panic or hard fault is logged and
//! makes QEMU exit with a failure code.

#![no_std]
#![no_main]

mod clock;
mod flash;
mod pl011;
mod stack;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use defmt_semihosting as _;

use pl011::Pl011;

/// Both links run at this rate on a real LM3S6965; QEMU ignores it.
const BAUD: u32 = 115_200;
/// How often the loop reports its counters, when they changed.
const REPORT_EVERY_MS: u64 = 1_000;

defmt::timestamp!("{=u64:ms}", clock::now_ms());

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(core) = cortex_m::Peripherals::take() else {
        fail("core peripherals already taken");
    };
    clock::start(core.SYST);
    // SAFETY: UART0 and UART1 are PL011s and this is their only owner.
    let (host, modem) = unsafe {
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
    #[cfg(feature = "bridge")]
    {
        let _ = flash;
        bridge(host, modem)
    }
    #[cfg(not(feature = "bridge"))]
    agent::run(host, modem, flash)
}

#[cfg(not(feature = "bridge"))]
mod agent {
    //! The agent on this board: types, store layout, and the loop.

    use core::mem::MaybeUninit;

    use relais_agent::agent::{Activity, Agent, AgentBuffers, Config, Fault};
    use relais_agent::core::link::msg::bounded;
    use relais_agent::modem::{Clock, Modem, NoPowerControl, Profile};
    use relais_agent::store::flash::{Capacity, FlashStore, Layout};

    use crate::flash::HostFileFlash;
    use crate::pl011::Pl011;
    use crate::{REPORT_EVERY_MS, clock, fail_with, stack};

    /// The SysTick clock, for the modem driver and the agent.
    #[derive(Debug, Clone, Copy)]
    pub struct SysClock;

    impl Clock for SysClock {
        fn now_ms(&self) -> u64 {
            clock::now_ms()
        }
    }

    /// What the store keeps: 500 opt-outs, 64 job records, 32 events of any size.
    const CAPACITY: Capacity = Capacity {
        suppression: 500,
        jobs: 64,
        outbox: 32,
    };
    const LAYOUT: Layout<HostFileFlash> = match Layout::packed(0, CAPACITY) {
        Ok(layout) => layout,
        Err(_) => panic!("the store layout does not fit the flash geometry"),
    };
    /// Job slots and link window.
    const SLOTS: usize = 4;
    const WINDOW: usize = 4;

    type Store = FlashStore<HostFileFlash>;
    type Buffers = AgentBuffers<SLOTS>;
    type BoardAgent =
        Agent<Pl011, Pl011, NoPowerControl, SysClock, Store, SLOTS, WINDOW, &'static mut Buffers>;

    pub fn run(host: Pl011, modem: Pl011, flash: HostFileFlash) -> ! {
        let buffers = buffers();
        let agent = start(buffers, host, modem, flash);
        // Paint again so the reports below show what the loop itself needs.
        let boot_stack = stack::used();
        stack::paint();
        defmt::info!(
            "agent: boot {=u32}, {=usize} B static ({=usize} B buffers), start-up stack {=usize} B of {=usize} B",
            agent.boot_id().0,
            core::mem::size_of::<BoardAgent>() + core::mem::size_of::<Buffers>(),
            core::mem::size_of::<Buffers>(),
            boot_stack,
            stack::size()
        );
        let mut last_report = clock::now_ms();
        let mut reported = agent.counters();
        loop {
            match agent.poll() {
                Ok(activity) => log(activity),
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(fault)) => match fault {
                    Fault::Storage(e) => defmt::error!("agent: storage {}", e),
                    other => defmt::warn!("agent: {}", other),
                },
            }
            let now = clock::now_ms();
            if now.wrapping_sub(last_report) >= REPORT_EVERY_MS {
                last_report = now;
                let counters = agent.counters();
                if counters != reported {
                    reported = counters;
                    defmt::info!(
                        "agent: accepted {=u32} sent {=u32} refused {=u32} deferred {=u32} failed {=u32} unknown {=u32} inbound {=u32} opt-outs {=u32}; loop stack {=usize} B",
                        counters.accepted,
                        counters.segments_sent,
                        counters.refused,
                        counters.deferred,
                        counters.failed,
                        counters.unknown,
                        counters.inbound,
                        counters.opt_outs,
                        stack::used()
                    );
                }
            }
        }
    }

    /// Makes the agent's buffers (8 KB) in their static. Not inlined, and called before
    /// `start`: the temporary of `Buffers::new` lives in this frame, which is gone by the
    /// time `start` needs its own.
    #[inline(never)]
    fn buffers() -> &'static mut Buffers {
        match cortex_m::singleton!(: MaybeUninit<Buffers> = MaybeUninit::uninit()) {
            Some(place) => place.write(Buffers::new()),
            None => fail_with("agent buffers", "taken twice"),
        }
    }

    /// Builds the agent straight into its static (nothing agent-sized is copied on the
    /// stack). Not inlined: the modem driver and the store are made in this frame,
    /// which is gone once the loop runs.
    #[inline(never)]
    fn start(
        buffers: &'static mut Buffers,
        host: Pl011,
        modem: Pl011,
        flash: HostFileFlash,
    ) -> &'static mut BoardAgent {
        let store = match FlashStore::open(flash, LAYOUT) {
            Ok(store) => store,
            Err(e) => fail_with("store", e),
        };
        // The simulator and the modems in the field are SIM800-class.
        let modem = Modem::new(modem, NoPowerControl, SysClock, Profile::SIM800);
        let config = Config {
            firmware: bounded(env!("CARGO_PKG_VERSION")),
            ..Config::default()
        };
        // In a static, so the size report's static RAM includes the agent.
        let place = cortex_m::singleton!(: MaybeUninit<BoardAgent> = MaybeUninit::uninit());
        let Some(place) = place else {
            fail_with("agent", "started twice")
        };
        match Agent::init_in(place, buffers, host, modem, SysClock, store, config) {
            Ok(agent) => agent,
            Err(e) => fail_with("agent start", e),
        }
    }

    fn log(activity: Activity) {
        match activity {
            Activity::HostMessage | Activity::Modem => defmt::trace!("agent: {}", activity),
            Activity::BadFrame(_) | Activity::EventLost | Activity::ReplyDropped => {
                defmt::warn!("agent: {}", activity)
            }
            _ => defmt::info!("agent: {}", activity),
        }
    }
}

#[cfg(feature = "bridge")]
fn bridge(mut host: Pl011, mut modem: Pl011) -> ! {
    use relais_agent::passthrough::Passthrough;

    defmt::info!(
        "passthrough: UART0 (host link) <-> UART1 (modem); stack {=usize} B of {=usize} B used",
        stack::used(),
        stack::size()
    );
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
    // The message and location cost about 10 KiB of flash (every panic site keeps its
    // file name and message): only with the `panic-message` feature.
    #[cfg(feature = "panic-message")]
    defmt::error!("panicked: {}", defmt::Display2Format(info));
    #[cfg(not(feature = "panic-message"))]
    {
        let _ = info;
        defmt::error!("panicked (build with the panic-message feature for details)");
    }
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
