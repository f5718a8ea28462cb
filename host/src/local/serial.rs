//! A real modem for the agent inside the host: its serial port (a USB adapter, a UART, a
//! pty such as `relais sim`'s) as the `embedded-hal-nb` port the modem driver takes, and
//! the wall clock as the driver's clock. Real modems reached this way have no power pin:
//! use [`NoPowerControl`] (a power cycle only waits and re-syncs).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use embedded_hal_nb::serial::{ErrorKind, ErrorType, Read, Write};
use relais_agent::modem::Clock;

pub use relais_agent::modem::NoPowerControl;

/// Bytes read from the port at once.
const RX_CHUNK: usize = 4096;
/// Bytes kept for writing before writes return `WouldBlock`.
const TX_MAX: usize = 8192;
/// Buffered bytes that make a write go out at once even without a line end.
const TX_CHUNK: usize = 512;
/// Longest a write waits for the port to take bytes.
const WRITE_WAIT: Duration = Duration::from_millis(50);
/// Wait between attempts to reopen a port that went away.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// A serial port as an `embedded-hal-nb` port: opened `O_RDWR | O_NOCTTY | O_NONBLOCK`,
/// raw (`cfmakeraw`: 8N1, no echo, no flow control, no line editing) at a baud rate.
///
/// Reads take up to 4 KiB from the port at once and hand them out byte by byte. Writes
/// are collected and go out at each line end (`\r`, `\n`), Ctrl-Z and Esc (the ends of
/// AT commands and PDUs), when 512 bytes are waiting, and before every read; a port that
/// does not take them waits up to 50 ms (`poll`), after which the bytes stay queued.
///
/// A port that fails (a USB adapter unplugged: `EIO`, end of file) reports one error, then
/// is reopened once a second by later reads; meanwhile reads see no data and writes are
/// dropped, as on a UART with nothing attached. The modem driver's timeouts take it from
/// there (it power-cycles, then brings the modem up again).
#[derive(Debug)]
pub struct SerialModem {
    path: PathBuf,
    baud: u32,
    file: Option<File>,
    rx: Box<[u8]>,
    rx_pos: usize,
    rx_len: usize,
    tx: Vec<u8>,
    reopen_at: Instant,
    reopens: u32,
}

impl SerialModem {
    /// Opens `path` (symlinks followed) at `baud` bit/s. Fails when the path is not a
    /// terminal device or the speed is not one of the standard rates from 1 200 to
    /// 4 000 000 bit/s. Ptys accept and ignore any rate.
    pub fn open(path: &Path, baud: u32) -> io::Result<SerialModem> {
        let file = open_port(path, baud)?;
        Ok(SerialModem {
            path: path.to_path_buf(),
            baud,
            file: Some(file),
            rx: vec![0; RX_CHUNK].into_boxed_slice(),
            rx_pos: 0,
            rx_len: 0,
            tx: Vec::with_capacity(TX_CHUNK),
            reopen_at: Instant::now(),
            reopens: 0,
        })
    }

    /// The path the port was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while the port is open (false after it failed and until it is reopened).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Times the port was reopened after a failure.
    pub fn reopens(&self) -> u32 {
        self.reopens
    }

    /// The open port, reopening a lost one when it is time to try.
    fn port(&mut self) -> Option<&mut File> {
        if self.file.is_none() && Instant::now() >= self.reopen_at {
            match open_port(&self.path, self.baud) {
                Ok(file) => {
                    tracing::info!("modem port {} reopened", self.path.display());
                    self.reopens = self.reopens.saturating_add(1);
                    self.file = Some(file);
                }
                Err(e) => {
                    tracing::debug!("modem port {}: {e}", self.path.display());
                    self.reopen_at = Instant::now() + REOPEN_EVERY;
                }
            }
        }
        self.file.as_mut()
    }

    /// The port failed: close it and try again later.
    fn lost(&mut self, why: &str) -> nb::Error<ErrorKind> {
        tracing::warn!("modem port {} lost: {why}", self.path.display());
        self.file = None;
        self.rx_pos = 0;
        self.rx_len = 0;
        self.tx.clear();
        self.reopen_at = Instant::now() + REOPEN_EVERY;
        nb::Error::Other(ErrorKind::Other)
    }

    /// Writes what is queued, waiting up to [`WRITE_WAIT`] for room. True when nothing
    /// is left queued.
    fn drain(&mut self) -> Result<bool, nb::Error<ErrorKind>> {
        let deadline = Instant::now() + WRITE_WAIT;
        while !self.tx.is_empty() {
            let Some(file) = self.file.as_mut() else {
                self.tx.clear();
                return Ok(true);
            };
            match file.write(&self.tx) {
                Ok(0) => return Err(self.lost("the port takes no bytes")),
                Ok(n) => {
                    self.tx.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || !writable(file, left) {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(self.lost(&e.to_string())),
            }
        }
        Ok(true)
    }
}

impl Drop for SerialModem {
    fn drop(&mut self) {
        let _ = self.drain();
    }
}

impl ErrorType for SerialModem {
    type Error = ErrorKind;
}

impl Read<u8> for SerialModem {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        if self.rx_pos < self.rx_len {
            let byte = self.rx[self.rx_pos];
            self.rx_pos += 1;
            return Ok(byte);
        }
        self.drain()?;
        if self.port().is_none() {
            return Err(nb::Error::WouldBlock);
        }
        let Some(file) = self.file.as_mut() else {
            return Err(nb::Error::WouldBlock);
        };
        match file.read(&mut self.rx) {
            // VMIN = 1 (cfmakeraw): a non-blocking read without data is EAGAIN, so
            // 0 bytes means the line hung up.
            Ok(0) => Err(self.lost("hang-up")),
            Ok(n) => {
                self.rx_len = n;
                self.rx_pos = 1;
                Ok(self.rx[0])
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Err(nb::Error::WouldBlock)
            }
            Err(e) => Err(self.lost(&e.to_string())),
        }
    }
}

impl Write<u8> for SerialModem {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        if self.file.is_none() {
            // Nothing attached: the byte is lost, as on a bare UART.
            return Ok(());
        }
        if self.tx.len() >= TX_MAX && !self.drain()? {
            return Err(nb::Error::WouldBlock);
        }
        self.tx.push(byte);
        if matches!(byte, b'\r' | b'\n' | 0x1A | 0x1B) || self.tx.len() >= TX_CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        if self.drain()? {
            Ok(())
        } else {
            Err(nb::Error::WouldBlock)
        }
    }
}

/// Waits up to `timeout` for room to write on `file`.
fn writable(file: &File, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut p, 1, ms.max(1)) };
    rc > 0 && p.revents & libc::POLLOUT != 0
}

/// The termios speed constant of `baud`.
fn speed(baud: u32) -> Option<libc::speed_t> {
    Some(match baud {
        1200 => libc::B1200,
        2400 => libc::B2400,
        4800 => libc::B4800,
        9600 => libc::B9600,
        19_200 => libc::B19200,
        38_400 => libc::B38400,
        57_600 => libc::B57600,
        115_200 => libc::B115200,
        230_400 => libc::B230400,
        460_800 => libc::B460800,
        500_000 => libc::B500000,
        576_000 => libc::B576000,
        921_600 => libc::B921600,
        1_000_000 => libc::B1000000,
        1_500_000 => libc::B1500000,
        2_000_000 => libc::B2000000,
        3_000_000 => libc::B3000000,
        4_000_000 => libc::B4000000,
        _ => return None,
    })
}

/// Opens a terminal device raw at `baud`, non-blocking.
fn open_port(path: &Path, baud: u32) -> io::Result<File> {
    let speed = speed(baud).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsupported serial speed {baud} bit/s"),
        )
    })?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let fd = file.as_raw_fd();
    // SAFETY: termios is plain data filled by tcgetattr for an fd owned by `file`,
    // which outlives these calls.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("{} is not a serial port: {e}", path.display()),
            ));
        }
        // Raw 8N1, VMIN 1 / VTIME 0: no echo, no CR/LF translation, no signals.
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CLOCAL | libc::CREAD;
        t.c_cflag &= !(libc::CRTSCTS | libc::CSTOPB | libc::PARENB);
        t.c_iflag &= !(libc::IXON | libc::IXOFF | libc::IXANY);
        if libc::cfsetispeed(&mut t, speed) != 0
            || libc::cfsetospeed(&mut t, speed) != 0
            || libc::tcsetattr(fd, libc::TCSANOW, &t) != 0
        {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("{}: cannot set {baud} bit/s raw: {e}", path.display()),
            ));
        }
    }
    Ok(file)
}

/// The host's monotonic clock in milliseconds since the clock was made, as the modem
/// driver's and the agent's [`Clock`]. Copies read the same time: hand one copy to the
/// modem driver and one to the agent.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    start: Instant,
}

impl WallClock {
    /// A clock reading 0 now.
    pub fn new() -> WallClock {
        WallClock {
            start: Instant::now(),
        }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
