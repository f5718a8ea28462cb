//! What the emulator harnesses ([`crate::qemu`], [`crate::rp2040js`]) share: their error
//! type, the firmware's decoded defmt log, and the care of the emulator process.
//!
//! Both emulators hand the harness the firmware's raw defmt bytes on their stdout
//! (QEMU through semihosting, rp2040js by draining the RTT buffer), so one decoder
//! serves both.

use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Everything that can go wrong while running a guest.
#[derive(Debug)]
pub enum HarnessError {
    /// No toolchain can build the firmware, or the emulator is missing.
    Missing(String),
    /// The firmware did not build.
    Build(String),
    /// The emulator could not be started or did not connect its endpoints.
    Start(String),
    /// A wait ran out of time; carries what the firmware logged so far.
    Timeout {
        waiting_for: String,
        log: Vec<String>,
    },
    /// An endpoint was used as the wrong kind (e.g. a pty as TCP).
    Endpoint(String),
    /// An I/O error talking to the emulator.
    Io(std::io::Error),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(m) => write!(f, "missing tool: {m}"),
            Self::Build(m) => write!(f, "firmware build failed: {m}"),
            Self::Start(m) => write!(f, "the emulator did not start: {m}"),
            Self::Timeout { waiting_for, log } => {
                write!(
                    f,
                    "timed out waiting for {waiting_for}; firmware log so far:"
                )?;
                for line in log {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            Self::Endpoint(m) => write!(f, "wrong endpoint: {m}"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for HarnessError {}

impl From<std::io::Error> for HarnessError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// A fresh directory under the system's temporary directory.
pub fn fresh_dir(label: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "relais-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One decoded line of the firmware's defmt log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The firmware's timestamp in milliseconds since boot, when it has one.
    pub millis: Option<u64>,
    /// `trace`, `debug`, `info`, `warn`, `error`, or empty for `println`.
    pub level: String,
    /// The formatted message.
    pub message: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.millis {
            Some(ms) => write!(f, "{ms:>8} ms {:<5} {}", self.level, self.message),
            None => write!(f, "{:<5} {}", self.level, self.message),
        }
    }
}

/// Decoded log lines, shared between the reader thread and the test.
#[derive(Debug, Default)]
pub(crate) struct LogBook {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct LogState {
    pub(crate) lines: Vec<LogLine>,
    /// Set when the log stream ended (the emulator exited) or broke.
    pub(crate) closed: bool,
    /// Frames that could not be decoded.
    pub(crate) malformed: usize,
}

impl LogBook {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        lock(&self.state)
    }

    /// Marks the stream as ended and wakes every waiter.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Waits for a line at index `from` or later whose message contains `needle`;
    /// `emulator` names the process in the error when the stream ends first.
    pub(crate) fn wait_for_log_after(
        &self,
        from: usize,
        needle: &str,
        timeout: Duration,
        emulator: &str,
    ) -> Result<(usize, LogLine), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            let found = state
                .lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.message.contains(needle));
            if let Some((i, line)) = found {
                return Ok((i, line.clone()));
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let why = if state.closed {
                    format!(" ({emulator} exited)")
                } else {
                    String::new()
                };
                return Err(HarnessError::Timeout {
                    waiting_for: format!("log line containing {needle:?}{why}"),
                    log: state.lines.iter().map(ToString::to_string).collect(),
                });
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills and reaps a child unless disarmed; used while a guest is booting.
pub(crate) struct KillOnDrop(pub(crate) Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asks Linux to kill the emulator when the thread that spawned it dies.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Decodes defmt frames from `stream` into `log` until the stream ends.
pub(crate) fn decode_log(stream: &mut impl Read, table: &defmt_decoder::Table, log: &LogBook) {
    let mut decoder = table.new_stream_decoder();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.received(&buf[..n]);
        let mut state = log.lock();
        loop {
            match decoder.decode() {
                Ok(frame) => {
                    let line = LogLine {
                        millis: frame
                            .display_timestamp()
                            .and_then(|t| parse_millis(&t.to_string())),
                        level: frame
                            .level()
                            .map(|l| l.as_str().to_owned())
                            .unwrap_or_default(),
                        message: frame.display_message().to_string(),
                    };
                    eprintln!("[fw] {line}");
                    state.lines.push(line);
                }
                Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
                // rzcobs frames resynchronise on the next delimiter.
                Err(defmt_decoder::DecodeError::Malformed) => state.malformed += 1,
            }
        }
        drop(state);
        log.changed.notify_all();
    }
}

/// The firmware's `{=u64:ms}` timestamp as defmt displays it (`seconds.millis`).
pub(crate) fn parse_millis(text: &str) -> Option<u64> {
    let (seconds, millis) = text.trim().split_once('.')?;
    if millis.len() != 3 {
        return None;
    }
    seconds
        .parse::<u64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(millis.parse().ok()?)
}

/// Polls `child` until it exits or `timeout` runs out; on a timeout the error names
/// `what` and carries the firmware's log so far.
pub(crate) fn wait_child_exit(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
    what: &str,
    log: &LogBook,
) -> Result<std::process::ExitStatus, HarnessError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if std::time::Instant::now() >= deadline {
            return Err(HarnessError::Timeout {
                waiting_for: format!("{what} to exit"),
                log: log.lock().lines.iter().map(ToString::to_string).collect(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defmt_millisecond_timestamps_are_parsed() {
        assert_eq!(parse_millis("0.000"), Some(0));
        assert_eq!(parse_millis("12.345"), Some(12_345));
        assert_eq!(parse_millis(" 3.007 "), Some(3_007));
        assert_eq!(parse_millis("3.7"), None);
        assert_eq!(parse_millis("00:00:03.007"), None);
    }
}
