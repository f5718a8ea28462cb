//! relais firmware for the Raspberry Pi Pico (RP2040).
//!
//! The same device agent as every board (`relais_agent::agent`): jobs from the host,
//! the compliance gate before every segment, the modem driver, events back. Wiring
//! (docs/boards/pico.md has the table):
//!
//! | What | Pins | Notes |
//! |---|---|---|
//! | host link | the Pico's USB port (CDC-ACM) | or UART1 GP4/GP5 with `host-uart1` |
//! | modem UART | UART0: GP0 TX, GP1 RX, 115200 8N1, received by DMA ([`modem_uart`]) | RTS GP3 / CTS GP2 with `modem-flow-control` |
//! | modem power key | GP14 | high = pressed (a transistor), `pwrkey-active-low` for a direct wire |
//! | modem STATUS | GP15 | with `modem-status` |
//! | LED | GP25 | see [`led`] |
//!
//! With the `bridge` feature the loop bridges the host link and the modem instead of
//! running the agent: an AT console through the board.
//!
//! The agent's store is the last 256 KiB of the QSPI flash ([`STORE_OFFSET`],
//! `memory.x`), written through embassy-rp's blocking flash driver. Logs are defmt
//! frames over RTT (a debug probe shows them: `cargo run --release` in this folder);
//! a panic logs its message and stops (panic-probe).

#![no_std]
#![no_main]

#[cfg(not(feature = "bridge"))]
mod led;
mod modem_uart;
#[cfg(not(feature = "host-uart1"))]
mod usb_link;

use defmt_rtt as _;
use panic_probe as _;

use embassy_rp::flash::{Blocking, Flash};
#[cfg(feature = "modem-status")]
use embassy_rp::gpio::{Input, Pull};
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::FLASH;
use embassy_rp::uart::{self, Uart};
use embassy_time::{Delay, Instant};

/// The Pico's flash: 2 MiB (W25Q16JV).
const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Where the agent's store starts in the flash, as an offset from its start (memory.x
/// `STORE`).
const STORE_OFFSET: u32 = 0x1C_0000;
/// How much flash the store may use (memory.x `STORE`).
const STORE_SIZE: u32 = 256 * 1024;
const _: () = assert!(STORE_OFFSET as usize + STORE_SIZE as usize == FLASH_SIZE);

/// Both UARTs run at this rate (the modems' factory default, and a USB-serial
/// adapter's usual setting).
const BAUD: u32 = 115_200;
/// How often the loop reports its counters, when they changed.
const REPORT_EVERY_MS: u64 = 1_000;

type BoardFlash = Flash<'static, FLASH, Blocking, FLASH_SIZE>;

/// The modem family: its AT profile and power-key timing.
#[cfg(feature = "modem-sim7600")]
mod family {
    pub use relais_agent::modem::{KeyTiming, Profile};
    pub const PROFILE: Profile = Profile::SIM7600;
    pub const KEY: KeyTiming = KeyTiming::SIM7600;
}
#[cfg(all(feature = "modem-a7670", not(feature = "modem-sim7600")))]
mod family {
    pub use relais_agent::modem::{KeyTiming, Profile};
    // The A76xx speak the SIM7600's AT dialect (SIMCom A76XX AT Command Manual).
    pub const PROFILE: Profile = Profile::SIM7600;
    pub const KEY: KeyTiming = KeyTiming::A7670;
}
#[cfg(not(any(feature = "modem-sim7600", feature = "modem-a7670")))]
mod family {
    pub use relais_agent::modem::{KeyTiming, Profile};
    pub const PROFILE: Profile = Profile::SIM800;
    pub const KEY: KeyTiming = KeyTiming::SIM800;
}

defmt::timestamp!("{=u64:ms}", Instant::now().as_millis());

#[cortex_m_rt::entry]
fn main() -> ! {
    let p = embassy_rp::init(Default::default());
    defmt::info!(
        "relais firmware {} booted on rp-pico (agent {}, core {})",
        env!("CARGO_PKG_VERSION"),
        relais_agent::VERSION,
        relais_agent::core::VERSION
    );
    if cfg!(feature = "selftest-panic") {
        panic!("selftest: deliberate panic after boot");
    }
    let led = Output::new(p.PIN_25, Level::Low);

    let mut config = uart::Config::default();
    config.baudrate = BAUD;
    #[cfg(feature = "modem-flow-control")]
    let uart0 = Uart::new_with_rtscts_blocking(p.UART0, p.PIN_0, p.PIN_1, p.PIN_3, p.PIN_2, config);
    #[cfg(not(feature = "modem-flow-control"))]
    let uart0 = Uart::new_blocking(p.UART0, p.PIN_0, p.PIN_1, config);
    // Received bytes go to RAM by DMA, also while a flash operation stalls the core.
    let modem = modem_uart::ModemUart::new(uart0, p.DMA_CH0, p.DMA_CH1);

    let key = Output::new(p.PIN_14, Level::Low);
    #[cfg(feature = "modem-status")]
    let status = relais_agent::modem::StatusPin(Input::new(p.PIN_15, Pull::Down));
    #[cfg(not(feature = "modem-status"))]
    let status = relais_agent::modem::NoStatus;
    let level = if cfg!(feature = "pwrkey-active-low") {
        relais_agent::modem::KeyLevel::ActiveLow
    } else {
        relais_agent::modem::KeyLevel::ActiveHigh
    };
    let power = relais_agent::modem::PowerKey::new(key, level, status, Delay, family::KEY);

    let flash = BoardFlash::new_blocking(p.FLASH);
    defmt::info!(
        "flash: {=usize} KiB, store at {=u32:#x} ({=u32} KiB); modem {=str}, key {=u32} ms on / {=u32} ms off",
        embedded_storage::nor_flash::ReadNorFlash::capacity(&flash) / 1024,
        STORE_OFFSET,
        STORE_SIZE / 1024,
        family::PROFILE.name,
        family::KEY.on.0,
        family::KEY.off.0
    );

    #[cfg(feature = "host-uart1")]
    let host = Uart::new_blocking(p.UART1, p.PIN_4, p.PIN_5, config);
    #[cfg(not(feature = "host-uart1"))]
    let host = usb_link::UsbLink;

    #[cfg(feature = "bridge")]
    let mut turn = {
        let _ = (power, flash, led);
        bridge::Bridge::new(host, modem)
    };
    #[cfg(not(feature = "bridge"))]
    let mut turn = agent::start(host, modem, power, flash, led);

    #[cfg(feature = "host-uart1")]
    loop {
        if !turn.poll() {
            nap();
        }
    }
    #[cfg(not(feature = "host-uart1"))]
    usb_link::run(p.USB, "rp-pico", async move {
        loop {
            if !turn.poll() {
                nap();
            }
            embassy_futures::yield_now().await;
        }
    })
}

#[cfg(feature = "bridge")]
mod bridge {
    //! An AT console: the host link and the modem UART bridged byte for byte, for
    //! bring-up and one-time modem settings (`AT+IFC=2,2`, `AT&W`).

    use embedded_hal_nb::serial::{Read, Write};
    use relais_agent::passthrough::{Passthrough, Stats};

    use super::{Instant, REPORT_EVERY_MS};

    pub struct Bridge<H, M> {
        host: H,
        modem: M,
        bridge: Passthrough<64>,
        reported: Stats,
        last_report: u64,
    }

    impl<H: Read<u8> + Write<u8>, M: Read<u8> + Write<u8>> Bridge<H, M> {
        pub fn new(host: H, modem: M) -> Self {
            defmt::info!("passthrough: host link <-> modem UART0");
            Bridge {
                host,
                modem,
                bridge: Passthrough::new(),
                reported: Stats::default(),
                last_report: Instant::now().as_millis(),
            }
        }

        /// Moves what both sides can take; false when nothing moved.
        pub fn poll(&mut self) -> bool {
            let moved = self.bridge.poll(&mut self.host, &mut self.modem);
            let now = Instant::now().as_millis();
            if now.wrapping_sub(self.last_report) >= REPORT_EVERY_MS {
                self.last_report = now;
                let stats = self.bridge.stats();
                if stats != self.reported {
                    self.reported = stats;
                    defmt::info!(
                        "passthrough: {=u32} bytes host->modem, {=u32} bytes modem->host, {=u32} read errors",
                        stats.host_to_modem,
                        stats.modem_to_host,
                        stats.read_errors
                    );
                }
            }
            moved
        }
    }
}

/// Longest nap of an idle loop: the 32-byte UART receive FIFO fills in 2.8 ms at
/// 115200 baud, so a nap never lets it overflow.
const NAP_US: u64 = 500;

/// Sleeps until an interrupt (USB) or [`NAP_US`] from now, whichever comes first.
/// Saves power, and lets an emulator skip the idle time instead of running the loop.
fn nap() {
    let until = Instant::now() + embassy_time::Duration::from_micros(NAP_US);
    // Polling the timer once arms the time driver's alarm; its interrupt ends the WFI.
    let mut timer = core::pin::pin!(embassy_time::Timer::at(until));
    if embassy_futures::poll_once(timer.as_mut()).is_ready() {
        return;
    }
    // With interrupts masked, an alarm that fires before the WFI stays pending and
    // ends the WFI at once (the ARMv6-M WFI wakes on a pending interrupt even when
    // masked); the handler then runs when they are unmasked.
    cortex_m::interrupt::disable();
    if Instant::now() < until {
        cortex_m::asm::wfi();
    }
    // SAFETY: interrupts were enabled when the loop called `nap` (nothing in the
    // firmware runs with them masked across a loop turn).
    unsafe { cortex_m::interrupt::enable() };
}

/// The modem's power key on this board.
#[cfg(all(feature = "modem-status", not(feature = "bridge")))]
type Power = relais_agent::modem::PowerKey<
    Output<'static>,
    relais_agent::modem::StatusPin<Input<'static>>,
    Delay,
>;
#[cfg(all(not(feature = "modem-status"), not(feature = "bridge")))]
type Power = relais_agent::modem::PowerKey<Output<'static>, relais_agent::modem::NoStatus, Delay>;

#[cfg(not(feature = "bridge"))]
mod agent {
    //! The agent on this board: types, store layout, and one turn of the loop.

    use core::mem::MaybeUninit;

    use super::*;

    use relais_agent::agent::{Activity, Agent, AgentBuffers, Config, Fault};
    use relais_agent::core::link::msg::bounded;
    use relais_agent::modem::{Clock, Modem};
    use relais_agent::store::flash::{Capacity, FlashStore, Layout};

    /// embassy-time's clock (the RP2040's 1 MHz TIMER), for the modem driver and agent.
    #[derive(Debug, Clone, Copy)]
    pub struct TimerClock;

    impl Clock for TimerClock {
        fn now_ms(&self) -> u64 {
            Instant::now().as_millis()
        }
    }

    /// What the store keeps: the same as the QEMU board (500 opt-outs, 64 job records,
    /// 32 events of any size), in 92 KiB of the 256 KiB reserved.
    const CAPACITY: Capacity = Capacity {
        suppression: 500,
        jobs: 64,
        outbox: 32,
    };
    const LAYOUT: Layout<BoardFlash> = match Layout::packed(STORE_OFFSET, CAPACITY) {
        Ok(layout) => layout,
        Err(_) => panic!("the store layout does not fit the flash geometry"),
    };
    const _: () = assert!(
        LAYOUT.end() <= STORE_OFFSET + STORE_SIZE,
        "the store outgrew its region in memory.x"
    );
    /// Job slots and link window.
    const SLOTS: usize = 4;
    const WINDOW: usize = 4;

    use crate::modem_uart::ModemUart;
    #[cfg(feature = "host-uart1")]
    type HostLink = Uart<'static, uart::Blocking>;
    #[cfg(not(feature = "host-uart1"))]
    type HostLink = crate::usb_link::UsbLink;
    type Store = FlashStore<BoardFlash>;
    type Buffers = AgentBuffers<SLOTS>;
    type BoardAgent =
        Agent<HostLink, ModemUart, Power, TimerClock, Store, SLOTS, WINDOW, &'static mut Buffers>;

    /// The agent and what the loop reports about it.
    pub struct Board {
        agent: &'static mut BoardAgent,
        led: crate::led::Led,
        last_report: u64,
        reported: relais_agent::core::link::msg::Counters,
    }

    pub fn start(
        host: HostLink,
        modem: ModemUart,
        power: Power,
        flash: BoardFlash,
        led: Output<'static>,
    ) -> Board {
        let buffers = buffers();
        let agent = init(buffers, host, modem, power, flash);
        defmt::info!(
            "agent: boot {=u32}, {=usize} B static ({=usize} B buffers), store {=u32} KiB",
            agent.boot_id().0,
            core::mem::size_of::<BoardAgent>() + core::mem::size_of::<Buffers>(),
            core::mem::size_of::<Buffers>(),
            (LAYOUT.end() - STORE_OFFSET) / 1024
        );
        let reported = agent.counters();
        Board {
            agent,
            led: crate::led::Led::new(led),
            last_report: Instant::now().as_millis(),
            reported,
        }
    }

    impl Board {
        /// One turn: the agent, the LED, the counters in the log once a second. False
        /// when the agent had nothing to do.
        pub fn poll(&mut self) -> bool {
            let busy = match self.agent.poll() {
                Ok(activity) => {
                    log(activity);
                    true
                }
                Err(nb::Error::WouldBlock) => false,
                Err(nb::Error::Other(fault)) => {
                    match fault {
                        Fault::Storage(e) => defmt::error!("agent: storage {}", e),
                        other => defmt::warn!("agent: {}", other),
                    }
                    true
                }
            };
            let now = Instant::now().as_millis();
            let counters = self.agent.counters();
            let status = self.agent.modem_status();
            self.led.show(
                now,
                crate::led::State {
                    halted: status.halted.is_some(),
                    ready: status.ready,
                    sent: counters.segments_sent,
                },
            );
            if now.wrapping_sub(self.last_report) >= REPORT_EVERY_MS {
                self.last_report = now;
                if counters != self.reported {
                    self.reported = counters;
                    defmt::info!(
                        "agent: accepted {=u32} sent {=u32} refused {=u32} deferred {=u32} failed {=u32} unknown {=u32} inbound {=u32} opt-outs {=u32}",
                        counters.accepted,
                        counters.segments_sent,
                        counters.refused,
                        counters.deferred,
                        counters.failed,
                        counters.unknown,
                        counters.inbound,
                        counters.opt_outs,
                    );
                }
            }
            busy
        }
    }

    /// The agent's buffers in their static, made before [`init`] (as on the QEMU
    /// board: the temporary lives in this frame only).
    #[inline(never)]
    fn buffers() -> &'static mut Buffers {
        match cortex_m::singleton!(: MaybeUninit<Buffers> = MaybeUninit::uninit()) {
            Some(place) => place.write(Buffers::new()),
            None => panic!("agent buffers taken twice"),
        }
    }

    /// Builds the agent straight into its static.
    #[inline(never)]
    fn init(
        buffers: &'static mut Buffers,
        host: HostLink,
        modem: ModemUart,
        power: Power,
        flash: BoardFlash,
    ) -> &'static mut BoardAgent {
        let store = match FlashStore::open(flash, LAYOUT) {
            Ok(store) => store,
            Err(e) => panic!("store: {}", e),
        };
        let modem = Modem::new(modem, power, TimerClock, family::PROFILE);
        let config = Config {
            firmware: bounded(env!("CARGO_PKG_VERSION")),
            ..Config::default()
        };
        let Some(place) = cortex_m::singleton!(: MaybeUninit<BoardAgent> = MaybeUninit::uninit())
        else {
            panic!("agent started twice")
        };
        match Agent::init_in(place, buffers, host, modem, TimerClock, store, config) {
            Ok(agent) => agent,
            Err(e) => panic!("agent start: {}", e),
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
