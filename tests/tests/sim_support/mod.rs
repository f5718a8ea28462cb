//! Shared by the `sim_*` and `gammu_peer` tests: start `relais sim` as a separate
//! process on a pty, talk AT to it like a client would, read its ledger, and send
//! control requests. The simulator is always stopped (SIGTERM) when the handle drops.

#![allow(dead_code)] // each test file uses a different part of this module

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives below the root")
        .to_path_buf()
}

/// Builds the `relais` binary once per test process, in its own target directory so
/// that it never waits for the lock of the cargo running the tests.
pub fn relais_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"))
            .join("sim-peer");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            let keep = key == "CARGO_HOME"
                || key.starts_with("CARGO_NET_")
                || key.starts_with("CARGO_HTTP_")
                || key.starts_with("CARGO_REGISTR")
                || key.starts_with("CARGO_TERM_");
            if !keep && (key.starts_with("CARGO") || key.starts_with("__CARGO")) {
                cmd.env_remove(key);
            }
        }
        let status = cmd
            .current_dir(repo_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "relais",
                "--bin",
                "relais",
                "--target-dir",
            ])
            .arg(&target)
            .status()
            .expect("run cargo build for relais");
        assert!(status.success(), "cargo build -p relais failed");
        target.join("debug/relais")
    })
    .clone()
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "relais-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A running `relais sim`.
pub struct Sim {
    child: Child,
    /// Scratch directory (scenario, ledger, links, control socket).
    pub dir: PathBuf,
    /// The control socket.
    pub control: PathBuf,
    /// The ledger file.
    pub ledger: PathBuf,
    /// What the simulator printed before `ready`.
    pub banner: Vec<String>,
}

impl Sim {
    /// Starts `relais sim` with `scenario` (TOML text; `{dir}` is replaced by the
    /// scratch directory) and `--link {dir}/modem` plus `extra` arguments.
    pub fn start(test: &str, scenario: &str, extra: &[&str]) -> Sim {
        let dir = scratch(test);
        let scenario_path = dir.join("scenario.toml");
        std::fs::write(
            &scenario_path,
            scenario.replace("{dir}", &dir.display().to_string()),
        )
        .expect("write scenario");
        let control = dir.join("control.sock");
        let ledger = dir.join("ledger.jsonl");
        let mut cmd = Command::new(relais_binary());
        cmd.arg("sim")
            .arg("--scenario")
            .arg(&scenario_path)
            .arg("--ledger")
            .arg(&ledger)
            .arg("--control")
            .arg(&control)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !extra.contains(&"--tcp") {
            cmd.arg("--link").arg(dir.join("modem"));
        }
        let mut child = cmd.spawn().expect("start relais sim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line == "ready" => break,
                Ok(line) => banner.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("relais sim did not become ready; printed {banner:?}");
                }
            }
        }
        Sim {
            child,
            dir,
            control,
            ledger,
            banner,
        }
    }

    /// The pty symlink of the first modem (from `--link`).
    pub fn link(&self) -> PathBuf {
        self.dir.join("modem")
    }

    /// The TCP address of the first modem (with `--tcp`), from the banner line
    /// `modem NAME (PROFILE): tcp ADDR`.
    pub fn tcp_addr(&self) -> std::net::SocketAddr {
        self.banner
            .iter()
            .find_map(|line| {
                line.starts_with("modem ")
                    .then(|| line.split(": tcp ").nth(1))?
            })
            .and_then(|addr| addr.trim().parse().ok())
            .unwrap_or_else(|| panic!("no TCP modem in the banner: {:?}", self.banner))
    }

    /// Opens an AT client on the first modem.
    pub fn client(&self) -> AtClient {
        AtClient::open(&self.link())
    }

    /// Every ledger entry so far.
    pub fn ledger(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.ledger).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("ledger line is JSON"))
            .collect()
    }

    /// Ledger entries of `kind`.
    pub fn entries(&self, kind: &str) -> Vec<Value> {
        self.ledger()
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// Waits until at least `n` entries of `kind` exist and returns them.
    pub fn wait_entries(&self, kind: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.entries(kind);
            if found.len() >= n {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited for {n} ledger entries of kind {kind:?}; ledger: {:#?}",
                    self.ledger()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a control request; panics when the simulator refuses it.
    pub fn control(&self, request: Value) -> Value {
        let stream = UnixStream::connect(&self.control).expect("connect control socket");
        let mut w = stream.try_clone().expect("clone");
        writeln!(w, "{request}").expect("write control request");
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .expect("read control answer");
        let answer: Value = serde_json::from_str(&line).expect("control answer is JSON");
        assert_eq!(
            answer["ok"],
            Value::Bool(true),
            "control {request} -> {answer}"
        );
        answer
    }
}

impl Sim {
    /// Sends SIGTERM and waits up to 5 s for the simulator to exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.terminate();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A scripted AT client on a pty (or any file descriptor).
pub struct AtClient {
    port: File,
    /// Everything read and not yet consumed.
    pending: Vec<u8>,
}

impl AtClient {
    /// Opens `path` in raw, non-blocking mode.
    pub fn open(path: &Path) -> AtClient {
        let port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let fd = port.as_raw_fd();
        // SAFETY: termios is plain data; the fd is open for the whole block.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &t), 0);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        AtClient {
            port,
            pending: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.port.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("write: {e}"),
            }
        }
    }

    fn fill(&mut self, wait: Duration) -> bool {
        let mut p = libc::pollfd {
            fd: self.port.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, wait.as_millis() as libc::c_int) };
        if rc <= 0 {
            return false;
        }
        let mut buf = [0u8; 4096];
        match self.port.read(&mut buf) {
            Ok(n) if n > 0 => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            _ => false,
        }
    }

    /// Reads until `needle` appears; returns everything up to and including it.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = find(&self.pending, needle.as_bytes()) {
                let rest = self.pending.split_off(i + needle.len());
                let got = std::mem::replace(&mut self.pending, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {needle:?}; got {:?}",
                    String::from_utf8_lossy(&self.pending)
                );
            }
            self.fill(Duration::from_millis(20));
        }
    }

    /// Reads whatever arrives within `wait`.
    pub fn drain(&mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            self.fill(Duration::from_millis(10));
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned()
    }

    /// Sends `line` + CR and returns the reply up to and including the final result
    /// (`OK`, `ERROR`, `+CME ERROR: …`, `+CMS ERROR: …`) or the `> ` prompt.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r").as_bytes());
        self.final_result(Duration::from_secs(10))
    }

    /// Reads until a final result code or the prompt.
    pub fn final_result(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            if let Some(end) = final_end(&text) {
                let rest = self.pending.split_off(end);
                let got = std::mem::replace(&mut self.pending, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            if Instant::now() > deadline {
                panic!("no final result; got {text:?}");
            }
            self.fill(Duration::from_millis(20));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End offset of the first final result (or prompt) in `text`.
fn final_end(text: &str) -> Option<usize> {
    let mut best: Option<usize> = None;
    for pat in ["\r\nOK\r\n", "\r\nERROR\r\n", "\r\n> "] {
        if let Some(i) = text.find(pat) {
            let end = i + pat.len();
            best = Some(best.map_or(end, |b: usize| b.min(end)));
        }
    }
    for pat in ["\r\n+CME ERROR: ", "\r\n+CMS ERROR: "] {
        if let Some(i) = text.find(pat) {
            if let Some(j) = text[i + 2..].find("\r\n") {
                let end = i + 2 + j + 2;
                best = Some(best.map_or(end, |b: usize| b.min(end)));
            }
        }
    }
    best
}

// ---- a test-side SMS-SUBMIT encoder and a few decoding helpers, written
// independently of the simulator's codec (TS 23.040 §9.2.2.2, TS 23.038 §6.1.2.1).

/// GSM 7-bit septets for ASCII letters, digits, space and basic punctuation
/// (identical code points in the default alphabet).
pub fn ascii_septets(text: &str) -> Vec<u8> {
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" .,!?'()+-:;=/".contains(&b)),
        "helper only packs plain ASCII"
    );
    text.bytes().collect()
}

/// Packs septets after `fill` leading bits.
pub fn pack7(septets: &[u8], fill: usize) -> Vec<u8> {
    let mut bits: Vec<bool> = vec![false; fill];
    for s in septets {
        for k in 0..7 {
            bits.push(s >> k & 1 == 1);
        }
    }
    bits.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |acc, (k, &b)| acc | (u8::from(b) << k))
        })
        .collect()
}

/// Unpacks `n` septets starting after `fill` bits.
pub fn unpack7(data: &[u8], fill: usize, n: usize) -> Vec<u8> {
    let bit = |i: usize| data[i / 8] >> (i % 8) & 1;
    (0..n)
        .map(|s| (0..7).fold(0u8, |acc, k| acc | bit(fill + s * 7 + k) << k))
        .collect()
}

/// Semi-octet swapped digits of an international number (`+` stripped).
fn bcd(number: &str) -> (u8, Vec<u8>) {
    let digits: Vec<u8> = number
        .trim_start_matches('+')
        .bytes()
        .map(|b| b - b'0')
        .collect();
    let packed = digits
        .chunks(2)
        .map(|p| p[0] | (p.get(1).copied().unwrap_or(0xF) << 4))
        .collect();
    (digits.len() as u8, packed)
}

/// `(hex with a 00 SMSC, AT+CMGS length)` of an SMS-SUBMIT carrying plain ASCII text
/// in GSM 7-bit, optionally one part of a concatenated message `(ref, total, seq)`.
pub fn submit_pdu(
    to: &str,
    text: &str,
    concat: Option<(u8, u8, u8)>,
    report: bool,
) -> (String, usize) {
    let mut tpdu = Vec::new();
    let mut fo = 0x11u8; // SMS-SUBMIT, relative VP
    if concat.is_some() {
        fo |= 0x40;
    }
    if report {
        fo |= 0x20;
    }
    let (len, digits) = bcd(to);
    tpdu.extend([fo, 0x00, len, 0x91]);
    tpdu.extend(digits);
    tpdu.extend([0x00, 0x00, 0xA7]);
    let septets = ascii_septets(text);
    match concat {
        Some((r, t, s)) => {
            // UDH 05 00 03 ref total seq = 6 octets = 48 bits → 1 fill bit, 7 septets.
            tpdu.push((7 + septets.len()) as u8);
            tpdu.extend([0x05, 0x00, 0x03, r, t, s]);
            tpdu.extend(pack7(&septets, 1));
        }
        None => {
            tpdu.push(septets.len() as u8);
            tpdu.extend(pack7(&septets, 0));
        }
    }
    let hex: String = std::iter::once(0u8)
        .chain(tpdu.iter().copied())
        .map(|b| format!("{b:02X}"))
        .collect();
    (hex, tpdu.len())
}

/// Bytes of a hex string.
pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The PDU line following a header line that starts with `header` in `reply`.
pub fn pdu_after<'a>(reply: &'a str, header: &str) -> &'a str {
    let i = reply
        .find(header)
        .unwrap_or_else(|| panic!("no {header:?} in {reply:?}"));
    let rest = &reply[i..];
    let line2 = rest.split("\r\n").nth(1).expect("PDU line");
    line2.trim()
}

/// Text of an SMS-DELIVER PDU (with SMSC field) in GSM 7-bit without a header, for
/// plain ASCII texts; also returns the originating address digits.
pub fn deliver_ascii(pdu_hex: &str) -> (String, String) {
    let pdu = unhex(pdu_hex);
    let smsc = usize::from(pdu[0]) + 1;
    let t = &pdu[smsc..];
    assert_eq!(t[0] & 0x03, 0x00, "SMS-DELIVER MTI");
    let oa_digits = usize::from(t[1]);
    let oa_octets = oa_digits.div_ceil(2);
    let oa: String = t[3..3 + oa_octets]
        .iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .take(oa_digits)
        .map(|n| char::from(b'0' + n))
        .collect();
    let at = 3 + oa_octets;
    assert_eq!(t[at + 1], 0x00, "DCS GSM 7-bit");
    let udl = usize::from(t[at + 9]);
    let septets = unpack7(&t[at + 10..], 0, udl);
    (String::from_utf8(septets).expect("ASCII"), oa)
}

/// (TP-MR, TP-ST) of an SMS-STATUS-REPORT PDU with SMSC field.
pub fn status_report(pdu_hex: &str) -> (u8, u8) {
    let pdu = unhex(pdu_hex);
    let smsc = usize::from(pdu[0]) + 1;
    let t = &pdu[smsc..];
    assert_eq!(t[0] & 0x03, 0x02, "SMS-STATUS-REPORT MTI");
    let ra_octets = usize::from(t[2]).div_ceil(2);
    let st = t[3 + 1 + ra_octets + 14];
    (t[1], st)
}
