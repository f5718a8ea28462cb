//! Booting the real firmware under `qemu-system-arm`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use relais_tests::qemu::{self, Guest, GuestConfig};
//!
//! let Some(firmware) = qemu::firmware_or_skip("example", &qemu::BoardBuild::qemu()) else {
//!     return;
//! };
//! let mut guest = Guest::boot(&firmware, GuestConfig::default()).unwrap();
//! guest.wait_for_log("booted", Duration::from_secs(10)).unwrap();
//! guest.host_link().tcp().unwrap().write_all(b"AT\r").unwrap();
//! // ... the same bytes come out of guest.modem() ...
//! // Dropping `guest` kills QEMU and reaps it.
//! ```
//!
//! Each UART is wired to an endpoint chosen per test ([`Serial`]): a TCP connection
//! the harness accepts (the default), a pty QEMU creates, an existing device such as
//! the simulator's pty, or nothing. The firmware's defmt frames come out of QEMU's
//! stdout (semihosting with `target=native`) and are decoded with the ELF's defmt
//! table as they arrive; every decoded line is also printed (and so shown by
//! `cargo test` when a test fails).
//!
//! Cleanup: [`Guest`]'s `Drop` kills and reaps QEMU, also when a test panics. QEMU is
//! started with `PR_SET_PDEATHSIG`, so it also dies when the thread that booted it
//! ends, e.g. when the test binary itself is killed. Keep a `Guest` on the thread
//! that booted it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use xtask::firmware::{BoardBuild, Firmware};
use xtask::toolchain::{Preference, Toolchain};

pub use crate::guest_log::{HarnessError, LogLine, fresh_dir};
use crate::guest_log::{KillOnDrop, LogBook, decode_log, die_with_parent, lock, wait_child_exit};
use crate::tier;

/// Environment variable naming the QEMU binary (default: `qemu-system-arm` on `PATH`).
pub const QEMU_VAR: &str = "RELAIS_QEMU";

/// How long QEMU may take to start and connect its chardevs.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The QEMU binary to use, if it exists.
pub fn qemu_binary() -> Option<PathBuf> {
    let name = std::env::var_os(QEMU_VAR).unwrap_or_else(|| "qemu-system-arm".into());
    let name = PathBuf::from(name);
    if name.components().count() > 1 {
        return name.is_file().then_some(name);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
}

/// Builds `build` (for its board's target) once per test process (later calls share
/// the result).
pub fn firmware(build: &BoardBuild) -> Result<Arc<Firmware>, HarnessError> {
    type Cache = Mutex<HashMap<BoardBuild, Result<Arc<Firmware>, String>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    // Holding the lock during the build makes concurrent tests wait for one build.
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = cache.entry(build.clone()).or_insert_with(|| {
        let preference = Preference::from_env()?;
        let toolchain = Toolchain::select_for(preference, build.target())?;
        eprintln!("building firmware {build:?} with {toolchain}");
        xtask::firmware::build_board(build, &toolchain).map(Arc::new)
    });
    entry.clone().map_err(HarnessError::Build)
}

/// The firmware for `build`, or `None` after a loud skip when QEMU or a Cortex-M
/// toolchain is missing (a failure in CI). A build failure always panics: broken
/// firmware is a failing test, never a skip.
pub fn firmware_or_skip(test: &str, build: &BoardBuild) -> Option<Arc<Firmware>> {
    if qemu_binary().is_none() {
        tier::skip(
            test,
            "qemu-system-arm not found",
            "apt-get install qemu-system-arm (or set RELAIS_QEMU)",
        );
        return None;
    }
    if let Err(why) = Preference::from_env().and_then(Toolchain::select) {
        tier::skip(test, &why, "see README, Prerequisites");
        return None;
    }
    match firmware(build) {
        Ok(fw) => Some(fw),
        Err(e) => panic!("{test}: {e}"),
    }
}

/// What one UART of the guest is connected to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Serial {
    /// A TCP connection on 127.0.0.1 that the harness accepts: [`Endpoint::Tcp`].
    #[default]
    Tcp,
    /// A pty created by QEMU: [`Endpoint::Pty`] with its path.
    Pty,
    /// An existing character device, e.g. a pty made by `relais sim`.
    Device(PathBuf),
    /// Not connected.
    Null,
}

/// How to boot a guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestConfig {
    /// UART0, the host link.
    pub host_link: Serial,
    /// UART1, the modem.
    pub modem: Serial,
    /// QEMU's working directory, where the firmware keeps its flash file
    /// (`relais-flash.bin`, see the board's `flash` module). Boot several guests with
    /// the same directory to model a device restarted with its flash intact; `None`
    /// gives each guest a fresh directory, removed when the guest is dropped.
    pub workdir: Option<PathBuf>,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            host_link: Serial::Tcp,
            modem: Serial::Tcp,
            workdir: None,
        }
    }
}

/// The host side of one UART.
#[derive(Debug)]
pub enum Endpoint {
    /// Connected socket; reads and writes are the UART's bytes.
    Tcp(TcpStream),
    /// Path of the pty QEMU created (QEMU puts it in raw mode).
    Pty(PathBuf),
    /// Wired to a device the caller named, or to nothing.
    External,
}

impl Endpoint {
    /// The socket, when this endpoint is TCP.
    pub fn tcp(&mut self) -> Result<&mut TcpStream, HarnessError> {
        match self {
            Self::Tcp(stream) => Ok(stream),
            other => Err(HarnessError::Endpoint(format!(
                "{other:?} is not a TCP endpoint"
            ))),
        }
    }

    /// The pty path, when this endpoint is a pty.
    pub fn pty(&self) -> Result<&Path, HarnessError> {
        match self {
            Self::Pty(path) => Ok(path),
            other => Err(HarnessError::Endpoint(format!(
                "{other:?} is not a pty endpoint"
            ))),
        }
    }
}

/// A running QEMU with the firmware. Dropping it kills QEMU.
#[derive(Debug)]
pub struct Guest {
    child: Child,
    host_link: Endpoint,
    modem: Endpoint,
    log: Arc<LogBook>,
    threads: Vec<JoinHandle<()>>,
    qemu_stderr: Arc<Mutex<Vec<String>>>,
    /// A directory the harness made for this guest alone, removed on drop.
    own_dir: Option<PathBuf>,
}

impl Guest {
    /// Starts QEMU with `firmware` and waits until every endpoint is connected.
    pub fn boot(firmware: &Firmware, config: GuestConfig) -> Result<Self, HarnessError> {
        let qemu = qemu_binary().ok_or_else(|| HarnessError::Missing("qemu-system-arm".into()))?;
        let elf = std::fs::read(&firmware.elf)?;
        let table = defmt_decoder::Table::parse(&elf)
            .map_err(|e| HarnessError::Start(format!("defmt table: {e}")))?
            .ok_or_else(|| HarnessError::Start("the ELF has no defmt table".into()))?;

        let uart0 = Wiring::new(&config.host_link, "uart0")?;
        let uart1 = Wiring::new(&config.modem, "uart1")?;

        let (workdir, own_dir) = match &config.workdir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = fresh_dir("guest")?;
                (dir.clone(), Some(dir))
            }
        };
        let mut cmd = Command::new(&qemu);
        cmd.current_dir(&workdir)
            .args(["-cpu", "cortex-m3", "-machine", "lm3s6965evb"])
            .args(["-display", "none", "-monitor", "none", "-nodefaults"])
            // `target=native`: the firmware's semihosting stdout is QEMU's stdout,
            // which carries nothing else with the display and monitor off.
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(uart0.qemu_args())
            .args(uart1.qemu_args())
            .arg("-kernel")
            .arg(&firmware.elf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| HarnessError::Start(format!("{}: {e}", qemu.display())))?;

        // From here on, any early return must not leave QEMU running.
        let mut guard = KillOnDrop(Some(child));
        let child_ref = guard.0.as_mut().expect("just stored");
        let stdout = child_ref.stdout.take().expect("stdout is piped");
        let stderr = child_ref.stderr.take().expect("stderr is piped");
        let qemu_stderr = Arc::new(Mutex::new(Vec::new()));
        let pty_paths = Arc::new((Mutex::new(HashMap::new()), Condvar::new()));
        let log = Arc::new(LogBook::default());
        let ptys = [&config.host_link, &config.modem]
            .into_iter()
            .filter(|s| **s == Serial::Pty)
            .count();
        let threads = vec![
            spawn_stderr_reader(stderr, qemu_stderr.clone()),
            spawn_stdout_reader(stdout, ptys, pty_paths.clone(), table, log.clone()),
        ];

        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let host_link = uart0.connect(deadline, child_ref, &pty_paths)?;
        let modem = uart1.connect(deadline, child_ref, &pty_paths)?;

        child = guard.0.take().expect("still owned");
        Ok(Self {
            child,
            host_link,
            modem,
            log,
            threads,
            qemu_stderr,
            own_dir,
        })
    }

    /// UART0: the host link.
    pub fn host_link(&mut self) -> &mut Endpoint {
        &mut self.host_link
    }

    /// UART1: the modem.
    pub fn modem(&mut self) -> &mut Endpoint {
        &mut self.modem
    }

    /// QEMU's process id.
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

    /// What QEMU itself printed on stderr.
    pub fn qemu_stderr(&self) -> Vec<String> {
        lock(&self.qemu_stderr).clone()
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
        self.log.wait_for_log_after(from, needle, timeout, "QEMU")
    }

    /// Waits for QEMU to exit on its own (the firmware exits through semihosting).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        let status = wait_child_exit(&mut self.child, timeout, "QEMU", &self.log)?;
        self.join_threads();
        Ok(status)
    }

    /// Kills QEMU and waits for it and the reader threads. Also done by `Drop`.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_threads();
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

impl Drop for Guest {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One UART's wiring while QEMU starts.
enum Wiring {
    Tcp {
        id: &'static str,
        listener: TcpListener,
    },
    Pty {
        id: &'static str,
    },
    Device {
        id: &'static str,
        path: PathBuf,
    },
    Null,
}

impl Wiring {
    fn new(serial: &Serial, id: &'static str) -> Result<Self, HarnessError> {
        Ok(match serial {
            Serial::Tcp => Self::Tcp {
                id,
                listener: TcpListener::bind("127.0.0.1:0")?,
            },
            Serial::Pty => Self::Pty { id },
            Serial::Device(path) => Self::Device {
                id,
                path: path.clone(),
            },
            Serial::Null => Self::Null,
        })
    }

    fn qemu_args(&self) -> Vec<String> {
        let (id, chardev) = match self {
            Self::Tcp { id, listener } => {
                let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
                (
                    id,
                    format!("socket,id={id},host=127.0.0.1,port={port},nodelay=on"),
                )
            }
            Self::Pty { id } => (id, format!("pty,id={id}")),
            Self::Device { id, path } => (id, format!("serial,id={id},path={}", path.display())),
            Self::Null => return vec!["-serial".into(), "null".into()],
        };
        vec![
            "-chardev".into(),
            chardev,
            "-serial".into(),
            format!("chardev:{id}"),
        ]
    }

    fn connect(
        self,
        deadline: Instant,
        child: &mut Child,
        pty_paths: &PtyPaths,
    ) -> Result<Endpoint, HarnessError> {
        match self {
            Self::Tcp { id, listener } => {
                accept_before(&listener, deadline, child, id).map(Endpoint::Tcp)
            }
            Self::Pty { id } => wait_for_pty(pty_paths, id, deadline).map(Endpoint::Pty),
            Self::Device { .. } | Self::Null => Ok(Endpoint::External),
        }
    }
}

type PtyPaths = Arc<(Mutex<HashMap<String, PathBuf>>, Condvar)>;

fn accept_before(
    listener: &TcpListener,
    deadline: Instant,
    child: &mut Child,
    what: &str,
) -> Result<TcpStream, HarnessError> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = child.try_wait()? {
            return Err(HarnessError::Start(format!(
                "QEMU exited ({status}) before connecting {what}"
            )));
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Start(format!("QEMU did not connect {what}")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_pty(
    pty_paths: &PtyPaths,
    id: &str,
    deadline: Instant,
) -> Result<PathBuf, HarnessError> {
    let (paths, changed) = &**pty_paths;
    let mut paths = lock(paths);
    loop {
        if let Some(path) = paths.get(id) {
            return Ok(path.clone());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(HarnessError::Start(format!(
                "QEMU did not report the pty for {id}"
            )));
        }
        paths = changed
            .wait_timeout(paths, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Collects and echoes QEMU's stderr.
fn spawn_stderr_reader(
    stderr: std::process::ChildStderr,
    sink: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[qemu] {line}");
            lock(&sink).push(line);
        }
    })
}

/// `char device redirected to /dev/pts/N (label ID)`, which QEMU prints on stdout
/// for each pty it creates, before the guest starts.
fn parse_pty_notice(line: &str) -> Option<(PathBuf, String)> {
    let rest = line.split("char device redirected to ").nth(1)?;
    let (path, rest) = rest.split_once(" (label ")?;
    let label = rest.strip_suffix(')')?;
    Some((PathBuf::from(path), label.to_owned()))
}

/// Reads QEMU's stdout: first one pty notice per pty chardev (QEMU prints them
/// while it starts, before the guest runs), then the firmware's defmt frames until
/// QEMU exits.
fn spawn_stdout_reader(
    stdout: std::process::ChildStdout,
    ptys: usize,
    pty_paths: PtyPaths,
    table: defmt_decoder::Table,
    log: Arc<LogBook>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut stream = BufReader::new(stdout);
        for _ in 0..ptys {
            let mut line = String::new();
            if stream.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let (paths, changed) = &*pty_paths;
            match parse_pty_notice(line.trim_end()) {
                Some((path, label)) => drop(lock(paths).insert(label, path)),
                None => eprintln!("[qemu stdout] unexpected: {line:?}"),
            }
            changed.notify_all();
        }
        decode_log(&mut stream, &table, &log);
        log.close();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pty_notice_is_parsed() {
        let line = "qemu-system-arm: -chardev pty,id=uart0: char device redirected to /dev/pts/7 (label uart0)";
        assert_eq!(
            parse_pty_notice(line),
            Some((PathBuf::from("/dev/pts/7"), "uart0".to_owned()))
        );
        assert_eq!(
            parse_pty_notice("qemu-system-arm: warning: something"),
            None
        );
    }

    #[test]
    fn each_uart_gets_its_own_chardev() {
        let wiring = Wiring::new(&Serial::Pty, "uart1").unwrap();
        assert_eq!(
            wiring.qemu_args(),
            ["-chardev", "pty,id=uart1", "-serial", "chardev:uart1"]
        );
        let device = Wiring::new(&Serial::Device("/dev/pts/3".into()), "uart0").unwrap();
        assert_eq!(
            device.qemu_args(),
            [
                "-chardev",
                "serial,id=uart0,path=/dev/pts/3",
                "-serial",
                "chardev:uart0"
            ]
        );
    }
}
