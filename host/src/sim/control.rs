//! The control channel: a unix socket taking one JSON request per line and answering
//! one JSON line, used by `relais sim inject` and by tests.
//!
//! Requests (docs/sim.md, "Control channel"):
//! `{"cmd":"sms","modem":"m1","from":"+33612345678","text":"Hi"}` (with
//! `"parts":[1]`: only those segments arrive),
//! `{"cmd":"fault","modem":"m1","kind":"reboot","duration":"30s","probability":0.1}`,
//! `{"cmd":"advance","by":"1h"}`, `{"cmd":"time"}`, `{"cmd":"status"}`.
//! Answers: `{"ok":true,...}` or `{"ok":false,"error":"..."}`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::time::SimDuration;
use super::transport::STOP;
use super::world::World;

/// A bound control socket; the path is removed on drop.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (replacing a stale socket file).
    pub fn bind(path: &Path) -> std::io::Result<Self> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers control requests until [`STOP`].
pub fn serve(world: Arc<Mutex<World>>, socket: ControlSocket) {
    while !STOP.load(Ordering::SeqCst) {
        match socket.listener.accept() {
            Ok((stream, _)) => {
                let world = Arc::clone(&world);
                std::thread::spawn(move || client(&world, stream));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn client(world: &Mutex<World>, stream: UnixStream) {
    let _ = stream.set_nonblocking(false);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let mut w = world.lock().unwrap_or_else(|p| p.into_inner());
                match handle(&mut w, &request) {
                    Ok(mut v) => {
                        v["ok"] = json!(true);
                        v
                    }
                    Err(e) => json!({"ok": false, "error": e}),
                }
            }
            Err(e) => json!({"ok": false, "error": format!("bad JSON: {e}")}),
        };
        if writeln!(writer, "{answer}").is_err() {
            return;
        }
    }
}

/// Executes one request against the world.
pub fn handle(w: &mut World, request: &Value) -> Result<Value, String> {
    let s = |k: &str| request.get(k).and_then(Value::as_str);
    let cmd = s("cmd").ok_or("missing \"cmd\"")?;
    match cmd {
        "sms" => {
            let i = w.index(s("modem"))?;
            let from = s("from").ok_or("sms needs \"from\"")?;
            let text = s("text").ok_or("sms needs \"text\"")?;
            match request.get("parts").and_then(Value::as_array) {
                Some(parts) => {
                    let parts: Vec<u64> = parts.iter().filter_map(Value::as_u64).collect();
                    w.inject_sms_parts(i, from, text, &parts);
                }
                None => w.inject_sms(i, from, text),
            }
            Ok(json!({}))
        }
        "fault" => {
            let i = w.index(s("modem"))?;
            let kind = s("kind").ok_or("fault needs \"kind\"")?;
            let duration = s("duration").map(SimDuration::parse).transpose()?;
            let p = request
                .get("probability")
                .and_then(Value::as_f64)
                .unwrap_or(0.05);
            w.inject_fault(i, kind, duration, p)?;
            Ok(json!({}))
        }
        "advance" => {
            let by = SimDuration::parse(s("by").ok_or("advance needs \"by\"")?)?;
            w.clock.advance(by);
            w.tick();
            Ok(json!({"now": w.clock.now().to_string(), "ms": w.clock.now().0}))
        }
        "status" => Ok(w.status()),
        "time" => Ok(json!({
            "now": w.clock.now().to_string(),
            "ms": w.clock.now().0,
            "local": w.clock.now().civil(w.offset()).gsm_text(),
        })),
        other => Err(format!("unknown cmd {other:?}")),
    }
}

/// Sends one request to a running simulator and returns its answer.
pub fn request(path: &Path, request: &Value) -> Result<Value, String> {
    let stream =
        UnixStream::connect(path).map_err(|e| format!("connect {}: {e}", path.display()))?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    writeln!(writer, "{request}").map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_str(&line).map_err(|e| format!("bad answer: {e}"))?;
    if answer["ok"] == json!(true) {
        Ok(answer)
    } else {
        Err(answer["error"].as_str().unwrap_or("failed").to_string())
    }
}
