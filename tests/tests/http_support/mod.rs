//! Shared by the `http_*` tests: start `relais serve` as a separate process, talk raw
//! HTTP/1.x to it over TCP (so answers are checked byte for byte), and run a callback
//! receiver that records what it gets and fails the first N calls. Also the setup the
//! tests share: the simulator's scenario, the base `relais.toml`, credentials headers,
//! the JSON API calls, the store read beside the server, and polling.

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sim_support::{Sim, relais_binary};

/// How long the tests wait for anything the gateway does (a modem coming up, a message
/// delivered, a callback taken).
pub const WAIT: Duration = Duration::from_secs(60);

/// The simulator's world: one modem `m1` (+33700000001), and an operator that takes
/// every message and reports it delivered.
pub const SCENARIO: &str = r#"
seed = 7
start = "2026-03-10T10:00:00"
utc_offset = "+01:00"

[[modem]]
name = "m1"
msisdn = "+33700000001"
submit_latency = "200ms"

[operator]
report_latency = "200ms"

[[route]]
prefix = "*"
outcome = "delivered"
"#;

/// The base `relais.toml`: the store, a fast scheduler, no pacing, the brand Acme, and,
/// when `device` gives its (name, port), the modem of [`SCENARIO`]; then `extra` (the
/// `[http]` settings, users and tokens of the test).
pub fn gateway_config(device: Option<(&str, &Path)>, extra: &str) -> String {
    let device = device.map_or(String::new(), |(name, port)| {
        format!(
            r#"
[[device]]
name = "{name}"
kind = "modem"
port = "{}"
sender = "longnum:+33700000001"
state = "agent.flash"
"#,
            port.display()
        )
    });
    format!(
        r#"
database = "relais.db"

[scheduler]
poll = "100ms"

[pacing]
per_minute = 0
per_hour = 0
per_day = 0
min_gap = "0s"
jitter = "0s"

[[brand]]
name = "Acme"
{device}{extra}
"#
    )
}

/// Starts the simulator (with [`SCENARIO`]) and `relais serve` in its `host`
/// subdirectory, with its modem as the device `device` and `extra` (see
/// [`gateway_config`]). Does not wait for the modem to be up.
pub fn start_with_modem(test: &str, device: &str, extra: &str) -> (Sim, Serve) {
    let sim = Sim::start(test, SCENARIO, &[]);
    let dir = sim.dir.join("host");
    std::fs::create_dir_all(&dir).unwrap();
    let serve = Serve::start(&dir, &gateway_config(Some((device, &sim.link())), extra));
    (sim, serve)
}

/// The simulated network delivers an SMS from `from` with `text` to the modem `m1`.
pub fn receive_sms(sim: &Sim, from: &str, text: &str) {
    sim.control(json!({"cmd": "sms", "modem": "m1", "from": from, "text": text}));
}

/// Waits (at most [`WAIT`]) until `GET /api/v1/health` counts `n` devices up; every
/// answer on the way must be a 200.
#[track_caller]
pub fn wait_until_up(serve: &Serve, n: u64) {
    wait_for(
        &format!("{n} device(s) up (GET /api/v1/health)"),
        WAIT,
        || {
            let h = serve.get("/api/v1/health", &[]);
            assert_eq!(h.status, 200, "health: {h:?}");
            (h.json()["devices"]["up"] == n).then_some(())
        },
    );
}

/// Polls `f` every 50 ms until it gives Some (at most `timeout`).
#[track_caller]
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("waited {timeout:?} for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Seconds since 1970 now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The store, read-only (serve may be running beside: it is in WAL mode).
pub fn open_store(path: &Path) -> rusqlite::Connection {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {} read-only: {e}", path.display()));
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

// ----- credentials and the JSON API ----------------------------------------------------

/// The `Authorization` value of HTTP Basic for `user` and `password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The `Authorization` value of a Bearer `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `POST /api/v1/messages` of `body` with the Bearer `token` (and an `Idempotency-Key`
/// when `key` is given).
pub fn api_send(serve: &Serve, token: &str, body: &Value, key: Option<&str>) -> Answer {
    let auth = bearer(token);
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    serve.post("/api/v1/messages", &headers, body.to_string().as_bytes())
}

/// A GET of `path` with the Bearer `token`.
pub fn api_get(serve: &Serve, token: &str, path: &str) -> Answer {
    serve.get(path, &[("Authorization", &bearer(token))])
}

/// A DELETE of `path` with the Bearer `token`.
pub fn api_delete(serve: &Serve, token: &str, path: &str) -> Answer {
    serve.request("DELETE", path, &[("Authorization", &bearer(token))], b"")
}

/// A running `relais serve`.
pub struct Serve {
    child: Option<Child>,
    /// Its scratch directory (relais.toml, relais.db).
    pub dir: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Lines it printed on stdout.
    pub out: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Writes `config` to `dir/relais.toml` and starts `relais serve` on a free port.
    pub fn start(dir: &Path, config: &str) -> Serve {
        std::fs::write(dir.join("relais.toml"), config).expect("write relais.toml");
        Serve::start_in(dir)
    }

    /// Starts `relais serve` again in `dir` (after a kill), on a free port.
    pub fn start_in(dir: &Path) -> Serve {
        let mut child = Command::new(relais_binary())
            .current_dir(dir)
            .args([
                "serve",
                "--config",
                "relais.toml",
                "--listen",
                "127.0.0.1:0",
            ])
            .env(
                "RELAIS_LOG",
                std::env::var("RELAIS_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start relais serve");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if let Some(a) = line.strip_prefix("relais serve: listening on http://") {
                        let _ = tx.send(a.to_string());
                    }
                    out.lock().unwrap().push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "relais serve did not start listening; printed {:?}",
                    out.lock().unwrap()
                );
            }
        };
        Serve {
            child: Some(child),
            dir: dir.to_path_buf(),
            addr,
            out,
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait (at most 20 s) for a clean exit; returns its exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("relais serve did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `raw` (a whole request) and reads the answer until the server closes.
    pub fn raw(&self, raw: &[u8]) -> Answer {
        http(self.addr, raw)
    }

    /// A GET of `path_and_query` with `Connection: close` and optional extra headers.
    pub fn get(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req =
            format!("GET {path_and_query} HTTP/1.1\r\nHost: relais\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.raw(req.as_bytes())
    }

    /// A POST of `body`.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.request("POST", path, headers, body)
    }

    /// Any method with a body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: relais\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    /// The store file.
    pub fn db(&self) -> PathBuf {
        self.dir.join("relais.db")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP answer as received.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status line's version, e.g. "HTTP/1.1".
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, exactly.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `raw` to `addr` and reads the whole answer (the request must ask for
/// `Connection: close` or be HTTP/1.0).
pub fn http(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect to relais serve");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read answer");
    parse_answer(&buf)
}

fn parse_answer(buf: &[u8]) -> Answer {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        version,
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// Percent-encodes every byte but unreserved ones (for building query strings).
pub fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server for callbacks: answers 500 to the first `fail_first` requests, then
/// 200 (or `ok_status`), and records every request.
pub struct Receiver {
    /// Its address.
    pub addr: SocketAddr,
    /// Every request so far.
    pub got: Arc<Mutex<Vec<Received>>>,
    fails_left: Arc<AtomicUsize>,
}

impl Receiver {
    /// Starts one on a free loopback port; its answers carry the body `ok`.
    pub fn start(fail_first: usize, ok_status: u16) -> Receiver {
        Receiver::start_with(fail_first, ok_status, None)
    }

    /// Like [`Receiver::start`], but the answers (failures included) carry `body` as
    /// `text/plain; charset=utf-8` (an sms-service answering with a reply).
    pub fn start_text(fail_first: usize, ok_status: u16, body: &'static str) -> Receiver {
        Receiver::start_with(fail_first, ok_status, Some(body))
    }

    /// From now on every request is answered `ok_status` (no more failures).
    pub fn heal(&self) {
        self.fails_left.store(0, Ordering::SeqCst);
    }

    fn start_with(fail_first: usize, ok_status: u16, body: Option<&'static str>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let fails_left = Arc::new(AtomicUsize::new(fail_first));
        {
            let got = got.clone();
            let fails_left = fails_left.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let got = got.clone();
                    let fails_left = fails_left.clone();
                    std::thread::spawn(move || {
                        serve_one(stream, &got, &fails_left, ok_status, body)
                    });
                }
            });
        }
        Receiver {
            addr,
            got,
            fails_left,
        }
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds over the requests (at most `timeout`), and returns them.
    pub fn wait(&self, timeout: Duration, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if pred(&r) {
                return r;
            }
            if Instant::now() > deadline {
                panic!("the callback receiver waited {timeout:?}; it got {r:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_one(
    mut s: TcpStream,
    got: &Mutex<Vec<Received>>,
    fails_left: &AtomicUsize,
    ok: u16,
    text: Option<&str>,
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, len) = loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end, len);
        }
    };
    while buf.len() < head_end + 4 + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = buf
        .get(head_end + 4..head_end + 4 + len)
        .unwrap_or_default()
        .to_vec();
    let fail = fails_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail { 500 } else { ok };
    got.lock().unwrap().push(Received {
        method,
        target,
        headers,
        body,
        answered: status,
    });
    let answer = match text {
        None => format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"),
        Some(t) => format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{t}",
            t.len()
        ),
    };
    let _ = s.write_all(answer.as_bytes());
}
