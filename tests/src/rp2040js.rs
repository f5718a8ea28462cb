//! Booting the Raspberry Pi Pico firmware in the rp2040js emulator.
//!
//! ```no_run
//! use std::time::Duration;
//! use relais_tests::qemu::{self, BoardBuild};
//! use relais_tests::rp2040js::{self, Pico, PicoConfig};
//!
//! # fn pico_build() -> BoardBuild { unimplemented!() }
//! let Some(_run_mjs) = rp2040js::harness_or_skip("example") else {
//!     return;
//! };
//! let firmware = qemu::firmware(&pico_build()).unwrap();
//! let modem: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap(); // `relais sim --tcp`
//! let pico = Pico::boot(&firmware, PicoConfig::new(modem)).unwrap();
//! pico.wait_for_log("booted", Duration::from_secs(30)).unwrap();
//! let link = pico.link_spec(); // "tcp:127.0.0.1:PORT", for the host's link client
//! // Dropping `pico` kills node and reaps it.
//! ```
//!
//! The emulator is `tests/rp2040js/run.mjs` (see its README) under Node 18 or newer, with
//! the npm package installed by `npm ci --prefix tests/rp2040js`. It connects UART0 to
//! the simulated modem over TCP, serves the host link (USB CDC-ACM, or UART1) on a TCP
//! port of its own, writes the store region of the flash through to `flash.bin` in the
//! working directory, and puts the firmware's raw defmt bytes (drained from RTT) on its
//! stdout, decoded here with the ELF's table as in [`crate::qemu`]. Its stderr lines
//! (`rp2040js: ...`) report the link port and the GPIO changes.
//!
//! Simulated time never runs ahead of the wall clock and lags behind it when the
//! emulator is slower than the chip (about 0.3-0.4x for a busy firmware), so the
//! firmware's timeouts stretch accordingly.
//!
//! Cleanup as in [`crate::qemu`]: `Drop` kills and reaps node, which also dies with the
//! thread that booted it (`PR_SET_PDEATHSIG`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use xtask::firmware::{BoardBuild, Firmware};
use xtask::toolchain::{Preference, Toolchain};

pub use crate::guest_log::{HarnessError, LogLine};
use crate::guest_log::{
    KillOnDrop, LogBook, decode_log, die_with_parent, fresh_dir, lock, wait_child_exit,
};
use crate::tier;

/// Environment variable naming the node binary (default: `node` on `PATH`).
pub const NODE_VAR: &str = "RELAIS_NODE";

/// How node exits when the firmware stopped (panic-probe's `udf`, a `bkpt`).
pub const EXIT_FIRMWARE_STOPPED: i32 = 101;

/// The file in the working directory that holds the store region of the flash.
pub const FLASH_FILE: &str = "flash.bin";

/// How long node may take to load the image and open the host link's port.
const START_TIMEOUT: Duration = Duration::from_secs(20);

const INSTALL: &str = "npm ci --prefix tests/rp2040js";

/// `tests/rp2040js`, where the harness and its npm package live.
pub fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rp2040js")
}

/// The node binary to use, if it exists.
pub fn node_binary() -> Option<PathBuf> {
    let name = PathBuf::from(std::env::var_os(NODE_VAR).unwrap_or_else(|| "node".into()));
    if name.components().count() > 1 {
        return name.is_file().then_some(name);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
}

/// The harness script (`tests/rp2040js/run.mjs`), once node and the npm package are there.
pub fn harness_ready() -> Result<PathBuf, String> {
    if node_binary().is_none() {
        return Err(format!(
            "node not found (apt-get install nodejs, or set {NODE_VAR}); then run `{INSTALL}`"
        ));
    }
    let dir = harness_dir();
    if !dir.join("node_modules/rp2040js/package.json").is_file() {
        return Err(format!(
            "the rp2040js npm package is not installed: run `{INSTALL}`"
        ));
    }
    Ok(dir.join("run.mjs"))
}

/// The harness script, or `None` after a loud skip (a failure in CI) when node or the
/// npm package is missing.
pub fn harness_or_skip(test: &str) -> Option<PathBuf> {
    match harness_ready() {
        Ok(script) => Some(script),
        Err(why) => {
            tier::skip(test, &why, INSTALL);
            None
        }
    }
}

/// The Pico firmware for `build`, or `None` after a loud skip (a failure in CI) when
/// node, the npm package or a `thumbv6m-none-eabi` toolchain is missing. A build
/// failure always panics: broken firmware is a failing test, never a skip.
pub fn firmware_or_skip(test: &str, build: &BoardBuild) -> Option<Arc<Firmware>> {
    harness_or_skip(test)?;
    let toolchain = Preference::from_env().and_then(|p| Toolchain::select_for(p, build.target()));
    if let Err(why) = toolchain {
        tier::skip(
            test,
            &why,
            "rustup target add thumbv6m-none-eabi (see README, Prerequisites)",
        );
        return None;
    }
    match crate::qemu::firmware(build) {
        Ok(fw) => Some(fw),
        Err(e) => panic!("{test}: {e}"),
    }
}

/// How to boot a Pico.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PicoConfig {
    /// The simulated modem's TCP port (`relais sim --tcp`), wired to UART0.
    pub modem: SocketAddr,
    /// Where the flash's store region persists ([`FLASH_FILE`]). Boot several Picos with
    /// the same directory to model a device restarted with its flash intact; `None`
    /// gives each Pico a fresh directory, removed when it is dropped.
    pub workdir: Option<PathBuf>,
    /// The host link on UART1 (the board's `host-uart1` feature) instead of USB.
    pub host_uart1: bool,
    /// A UF2 file to load instead of the ELF (the ELF still decodes the log).
    pub image: Option<PathBuf>,
    /// A GPIO the harness drives high while the modem is connected (the modem's STATUS
    /// output; GP15 with the board's `modem-status` feature).
    pub status_pin: Option<u8>,
}

impl PicoConfig {
    /// USB host link, a fresh directory, the ELF, no STATUS pin.
    pub fn new(modem: SocketAddr) -> Self {
        Self {
            modem,
            workdir: None,
            host_uart1: false,
            image: None,
            status_pin: None,
        }
    }
}

/// One level change of a watched output (GP14 = modem PWRKEY, GP25 = LED).
#[derive(Clone, Debug, PartialEq)]
pub struct GpioChange {
    pub pin: u8,
    pub high: bool,
    /// Simulated time since boot.
    pub at_ms: f64,
}

/// A running rp2040js with the firmware. Dropping it kills node.
#[derive(Debug)]
pub struct Pico {
    child: Child,
    link: String,
    workdir: PathBuf,
    log: Arc<LogBook>,
    gpio: Arc<Mutex<Vec<GpioChange>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
    /// A directory the harness made for this Pico alone, removed on drop.
    own_dir: Option<PathBuf>,
}

impl Pico {
    /// Starts node with `firmware` and waits until the host link's port is open.
    pub fn boot(firmware: &Firmware, config: PicoConfig) -> Result<Self, HarnessError> {
        Self::boot_elf(&firmware.elf, config)
    }

    /// [`Pico::boot`] for an ELF built elsewhere.
    pub fn boot_elf(elf_path: &Path, config: PicoConfig) -> Result<Self, HarnessError> {
        let script = harness_ready().map_err(HarnessError::Missing)?;
        let node = node_binary().ok_or_else(|| HarnessError::Missing("node".into()))?;
        let elf = std::fs::read(elf_path)?;
        let table = defmt_decoder::Table::parse(&elf)
            .map_err(|e| HarnessError::Start(format!("defmt table: {e}")))?
            .ok_or_else(|| HarnessError::Start("the ELF has no defmt table".into()))?;

        let (workdir, own_dir) = match &config.workdir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = fresh_dir("pico")?;
                (dir.clone(), Some(dir))
            }
        };
        let mut cmd = Command::new(&node);
        cmd.current_dir(&workdir)
            .arg(&script)
            .arg("--image")
            .arg(config.image.as_deref().unwrap_or(elf_path))
            .arg("--flash-file")
            .arg(workdir.join(FLASH_FILE))
            .arg("--modem")
            .arg(format!("tcp:{}", config.modem))
            .args(["--link-listen", "127.0.0.1:0"]);
        if config.host_uart1 {
            cmd.arg("--host-uart1");
        }
        if let Some(pin) = config.status_pin {
            cmd.arg("--status-pin").arg(pin.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| HarnessError::Start(format!("{}: {e}", node.display())))?;

        // From here on, any early return must not leave node running.
        let mut guard = KillOnDrop(Some(child));
        let child_ref = guard.0.as_mut().expect("just stored");
        let stdout = child_ref.stdout.take().expect("stdout is piped");
        let stderr = child_ref.stderr.take().expect("stderr is piped");
        let log = Arc::new(LogBook::default());
        let gpio = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (link_tx, link_rx) = mpsc::channel();
        let threads = vec![
            spawn_stderr_reader(stderr, lines.clone(), gpio.clone(), link_tx),
            spawn_log_reader(stdout, table, log.clone()),
        ];

        let deadline = Instant::now() + START_TIMEOUT;
        let link = loop {
            match link_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(link) => break link,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stderr closed: node is exiting; let try_wait below see it.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let stderr_so_far = || lock(&lines).join("\n  ");
            if let Some(status) = child_ref.try_wait()? {
                return Err(HarnessError::Start(format!(
                    "rp2040js exited ({status}) before opening the host link:\n  {}",
                    stderr_so_far()
                )));
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Start(format!(
                    "rp2040js did not open the host link within {START_TIMEOUT:?}:\n  {}",
                    stderr_so_far()
                )));
            }
        };

        let child = guard.0.take().expect("still owned");
        Ok(Self {
            child,
            link,
            workdir,
            log,
            gpio,
            stderr: lines,
            threads,
            own_dir,
        })
    }

    /// The host link as the host's link client takes it: `tcp:127.0.0.1:PORT`.
    pub fn link_spec(&self) -> String {
        self.link.clone()
    }

    /// The host link's address.
    pub fn link_addr(&self) -> SocketAddr {
        self.link["tcp:".len()..]
            .parse()
            .expect("parse_link_line checked the address")
    }

    /// The directory that holds [`FLASH_FILE`].
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line decoded so far.
    pub fn log(&self) -> Vec<LogLine> {
        self.log.lock().lines.clone()
    }

    /// Number of undecodable defmt frames seen so far.
    pub fn malformed_log_bytes(&self) -> usize {
        self.log.lock().malformed
    }

    /// Every level change of GP14 (PWRKEY) and GP25 (LED) so far, in order.
    pub fn gpio_changes(&self) -> Vec<GpioChange> {
        lock(&self.gpio).clone()
    }

    /// Every sector erase of the flash so far, in order (from the harness's
    /// `rp2040js: flash erase` lines).
    pub fn flash_erases(&self) -> Vec<FlashErase> {
        lock(&self.stderr)
            .iter()
            .filter_map(|line| parse_erase_line(line))
            .collect()
    }

    /// Bytes the modem sent that found UART0's receive FIFO full and were lost (an
    /// overrun), so far: the harness feeds the modem's bytes at line rate, as a modem
    /// does, also while a flash operation stalls the core.
    pub fn modem_bytes_lost(&self) -> u64 {
        lock(&self.stderr)
            .iter()
            .filter_map(|line| {
                let rest = line.strip_prefix("rp2040js: uart0: ")?;
                rest.split_once(" bytes lost")?.0.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// What the harness printed on stderr (lines starting with `rp2040js: `).
    pub fn stderr(&self) -> Vec<String> {
        lock(&self.stderr).clone()
    }

    /// Waits for the first log line (from the start of the run) whose message contains
    /// `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<LogLine, HarnessError> {
        self.wait_for_log_after(0, needle, timeout)
            .map(|(_, line)| line)
    }

    /// Waits for a line at index `from` or later whose message contains `needle`;
    /// returns its index and the line. Use the index + 1 to wait for the next one.
    pub fn wait_for_log_after(
        &self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<(usize, LogLine), HarnessError> {
        self.log
            .wait_for_log_after(from, needle, timeout, "rp2040js")
    }

    /// Waits for node to exit on its own: [`EXIT_FIRMWARE_STOPPED`] after a panic.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        let status = wait_child_exit(&mut self.child, timeout, "rp2040js", &self.log)?;
        self.join_threads();
        Ok(status)
    }

    /// Kills node with SIGKILL at once, as a power cut: the flash file keeps every
    /// erase and program done so far. Boot again with the same `workdir` to restart.
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_threads();
    }

    /// Kills node and waits for it and the reader threads. Also done by `Drop`.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.kill();
        if let Some(dir) = self.own_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn join_threads(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Pico {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Decodes the firmware's defmt bytes from node's stdout.
fn spawn_log_reader(
    stdout: std::process::ChildStdout,
    table: defmt_decoder::Table,
    log: Arc<LogBook>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        decode_log(&mut BufReader::new(stdout), &table, &log);
        log.close();
    })
}

/// Collects and echoes node's stderr; reports the link line and the GPIO changes.
fn spawn_stderr_reader(
    stderr: std::process::ChildStderr,
    sink: Arc<Mutex<Vec<String>>>,
    gpio: Arc<Mutex<Vec<GpioChange>>>,
    link: mpsc::Sender<String>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[rp2040js] {line}");
            if let Some(spec) = parse_link_line(&line) {
                let _ = link.send(spec);
            } else if let Some(change) = parse_gpio_line(&line) {
                lock(&gpio).push(change);
            }
            lock(&sink).push(line);
        }
    })
}

/// `rp2040js: link tcp:127.0.0.1:PORT` -> `tcp:127.0.0.1:PORT`.
fn parse_link_line(line: &str) -> Option<String> {
    let spec = line.strip_prefix("rp2040js: link ")?.trim_end();
    let _: SocketAddr = spec.strip_prefix("tcp:")?.parse().ok()?;
    Some(spec.to_owned())
}

/// One flash erase the firmware asked the (stand-in) ROM for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlashErase {
    /// Flash offsets erased, `start..end` (whole 4 KiB sectors).
    pub start: u32,
    pub end: u32,
    /// Simulated time of the erase, in milliseconds.
    pub at_ms: f64,
    /// Page programs before it, since the harness started.
    pub programs_before: u64,
}

/// `rp2040js: flash erase 0x1c3000..0x1c4000 at 12.345 ms (3 sectors erased, 40 programs so far)`.
fn parse_erase_line(line: &str) -> Option<FlashErase> {
    let rest = line.strip_prefix("rp2040js: flash erase ")?;
    let (range, rest) = rest.split_once(" at ")?;
    let (start, end) = range.split_once("..")?;
    let hex = |t: &str| u32::from_str_radix(t.strip_prefix("0x")?, 16).ok();
    let (ms, rest) = rest.split_once(" ms (")?;
    let programs = rest.split(", ").nth(1)?.strip_suffix(" programs so far)")?;
    Some(FlashErase {
        start: hex(start)?,
        end: hex(end)?,
        at_ms: ms.parse().ok().filter(|v: &f64| v.is_finite())?,
        programs_before: programs.parse().ok()?,
    })
}

/// `rp2040js: gpio 14 high at 1234.567 ms`.
fn parse_gpio_line(line: &str) -> Option<GpioChange> {
    let rest = line.strip_prefix("rp2040js: gpio ")?;
    let mut words = rest.split(' ');
    let pin = words.next()?.parse().ok()?;
    let high = match words.next()? {
        "high" => true,
        "low" => false,
        _ => return None,
    };
    let (Some("at"), Some(ms), Some("ms"), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    let at_ms: f64 = ms.parse().ok()?;
    at_ms.is_finite().then_some(GpioChange { pin, high, at_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erase_lines_are_parsed() {
        assert_eq!(
            parse_erase_line(
                "rp2040js: flash erase 0x1c3000..0x1c4000 at 12.345 ms (3 sectors erased, 40 programs so far)"
            ),
            Some(FlashErase {
                start: 0x1c_3000,
                end: 0x1c_4000,
                at_ms: 12.345,
                programs_before: 40
            })
        );
        assert_eq!(parse_erase_line("rp2040js: gpio 14 high at 1.000 ms"), None);
        assert_eq!(
            parse_erase_line(
                "rp2040js: flash erase 1c3000..0x1c4000 at 1 ms (1 sectors erased, 2 programs so far)"
            ),
            None
        );
    }

    #[test]
    fn the_link_line_is_parsed() {
        assert_eq!(
            parse_link_line("rp2040js: link tcp:127.0.0.1:40123").as_deref(),
            Some("tcp:127.0.0.1:40123")
        );
        assert_eq!(
            parse_link_line("rp2040js: link tcp:[::1]:5").as_deref(),
            Some("tcp:[::1]:5")
        );
        assert_eq!(parse_link_line("rp2040js: link tcp:localhost"), None);
        assert_eq!(parse_link_line("rp2040js: link serial:/dev/x"), None);
        assert_eq!(
            parse_link_line("rp2040js: link: refused a second client"),
            None
        );
        assert_eq!(parse_link_line("link tcp:127.0.0.1:1"), None);
    }

    #[test]
    fn gpio_lines_are_parsed() {
        assert_eq!(
            parse_gpio_line("rp2040js: gpio 14 high at 1234.567 ms"),
            Some(GpioChange {
                pin: 14,
                high: true,
                at_ms: 1234.567
            })
        );
        assert_eq!(
            parse_gpio_line("rp2040js: gpio 25 low at 0.000 ms"),
            Some(GpioChange {
                pin: 25,
                high: false,
                at_ms: 0.0
            })
        );
        for bad in [
            "rp2040js: gpio 14 on at 1.000 ms",
            "rp2040js: gpio 300 high at 1.000 ms",
            "rp2040js: gpio 14 high at 1.000",
            "rp2040js: gpio 14 high at 1.000 ms extra",
            "rp2040js: gpio 14 high at NaN ms",
            "rp2040js: speed 0.41x (sim 4.1 s, wall 10.0 s)",
        ] {
            assert_eq!(parse_gpio_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_harness_lives_beside_the_crate() {
        assert!(harness_dir().join("run.mjs").is_file());
        assert!(harness_dir().join("package-lock.json").is_file());
    }
}
