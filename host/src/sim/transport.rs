//! Serving a modem over a pty (a symlink to its slave side) or TCP, and stopping
//! cleanly on SIGINT/SIGTERM.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::world::World;

/// Set by SIGINT/SIGTERM.
pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`STOP`].
pub fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// A pty whose slave is reachable through a symlink.
#[derive(Debug)]
pub struct Pty {
    master: File,
    /// Kept open so that the master never reads EOF/EIO while no client is attached.
    _slave: OwnedFd,
    /// The slave device, e.g. `/dev/pts/5`.
    pub device: PathBuf,
    /// The symlink pointing at it.
    pub link: PathBuf,
}

impl Pty {
    /// Opens a raw-mode pty and points `link` at its slave (replacing an old symlink,
    /// never a regular file).
    pub fn open(link: &Path) -> io::Result<Self> {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        // SAFETY: openpty writes two fds into the out-pointers; name/termios/winsize
        // are optional and passed as null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds were just returned by openpty and are owned by nobody else.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        set_raw(slave.as_raw_fd())?;
        set_raw(master.as_raw_fd())?;
        let device = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd()))?;
        if let Ok(meta) = std::fs::symlink_metadata(link) {
            if meta.file_type().is_symlink() {
                std::fs::remove_file(link)?;
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a symlink", link.display()),
                ));
            }
        }
        std::os::unix::fs::symlink(&device, link)?;
        Ok(Self {
            master,
            _slave: slave,
            device,
            link: link.to_path_buf(),
        })
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Only remove the link if it still points at our device.
        if std::fs::read_link(&self.link).is_ok_and(|t| t == self.device) {
            let _ = std::fs::remove_file(&self.link);
        }
    }
}

fn set_raw(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits up to `timeout` for `fd` to be readable.
fn readable(fd: libc::c_int, timeout: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0 && p.revents & libc::POLLIN != 0)
}

const POLL: Duration = Duration::from_millis(5);

/// One exchange: feed what arrived, run due events, return what the modem says.
fn step(world: &Mutex<World>, i: usize, input: &[u8], trace: bool) -> Vec<u8> {
    let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
    if !input.is_empty() {
        if trace {
            eprintln!(
                "[{}] <- {:?}",
                w.slots[i].modem.name(),
                String::from_utf8_lossy(input)
            );
        }
        w.feed(i, input);
    }
    w.tick();
    let out = w.take_output(i);
    if trace && !out.is_empty() {
        eprintln!(
            "[{}] -> {:?}",
            w.slots[i].modem.name(),
            String::from_utf8_lossy(&out)
        );
    }
    out
}

/// Serves modem `i` on `pty` until [`STOP`].
pub fn serve_pty(world: Arc<Mutex<World>>, i: usize, pty: Pty, trace: bool) {
    serve_pty_until(world, i, pty, trace, &STOP);
}

/// Serves modem `i` on `pty` until [`STOP`] or `stop`.
pub fn serve_pty_until(
    world: Arc<Mutex<World>>,
    i: usize,
    mut pty: Pty,
    trace: bool,
    stop: &AtomicBool,
) {
    let mut buf = [0u8; 4096];
    while !STOP.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
        let n = match readable(pty.master.as_raw_fd(), POLL) {
            Ok(true) => match pty.master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    eprintln!("relais sim: pty read: {e}");
                    std::thread::sleep(POLL);
                    0
                }
            },
            Ok(false) => 0,
            Err(e) => {
                eprintln!("relais sim: poll: {e}");
                std::thread::sleep(POLL);
                0
            }
        };
        let out = step(&world, i, &buf[..n], trace);
        if !out.is_empty() {
            if let Err(e) = pty.master.write_all(&out) {
                eprintln!("relais sim: pty write: {e}");
            }
        }
    }
    drop(pty);
}

/// Serves modem `i` on TCP `listener`, one client at a time, until [`STOP`].
pub fn serve_tcp(world: Arc<Mutex<World>>, i: usize, listener: TcpListener, trace: bool) {
    let _ = listener.set_nonblocking(true);
    while !STOP.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => serve_stream(&world, i, stream, trace),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Keep virtual time (reports, replies) moving with nobody connected.
                step(&world, i, &[], false);
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                eprintln!("relais sim: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn serve_stream(world: &Mutex<World>, i: usize, mut stream: TcpStream, trace: bool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    while !STOP.load(Ordering::SeqCst) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(_) => return,
        };
        let out = step(world, i, &buf[..n], trace);
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}
