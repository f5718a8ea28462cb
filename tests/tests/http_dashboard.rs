//! The dashboard of `relais serve` end to end: the daemon drives a simulated GSM modem
//! (`relais sim`), messages come in through the JSON API, an SMS "STOP" and a text
//! with HTML in it come from the simulated network; then `/dashboard.json` is read over
//! raw HTTP with Basic credentials and compared with the store, and Debian's chromium
//! (headless) loads `/` with the same credentials: the DOM it renders from its own
//! requests to `/dashboard.json` shows the device, the inbound texts (as text, not as
//! markup) and the opt-out, and a screenshot lands in `target/dashboard.png`.
//!
//! Without chromium the browser part is skipped with a loud message, except under
//! `CI=true`, where a missing browser fails the test (`.ci/run` installs it).

mod http_support;
mod sim_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http_support::{
    Serve, WAIT, api_get, api_send, basic, open_store, receive_sms, start_with_modem,
};
use serde_json::{Value, json};
use sim_support::{relais_binary, repo_root};

const DEVICE: &str = "paris-gsm";
const USER: &str = "admin";
const PASSWORD: &str = "pw-dashboard";
const TOKEN: &str = "tok-dashboard-0123456789";
const STOPPER: &str = "+33612345678";
const CHATTY: &str = "+33698765432";
/// An inbound text with markup in it: the page must show it as text.
const MARKUP: &str = "Hello <b>relais</b> & <img src=x onerror=alert(1)>";

fn snapshot(serve: &Serve) -> Value {
    let a = serve.get(
        "/dashboard.json",
        &[("Authorization", &basic(USER, PASSWORD))],
    );
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()
}

/// Polls the snapshot until `pred` holds (at most `timeout`) and returns it.
fn wait_snapshot(
    serve: &Serve,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = snapshot(serve);
        if pred(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("waited {timeout:?} for {what}; the dashboard says {v:#}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn state_count(v: &Value, state: &str) -> u64 {
    v["queue"]["states"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["state"] == state))
        .and_then(|x| x["count"].as_u64())
        .unwrap_or_else(|| panic!("no state {state} in {v:#}"))
}

/// Job counts by state, read from the store file (read-only, beside the server).
fn store_counts(db: &Path) -> Vec<(String, u64)> {
    let conn = open_store(db);
    let mut st = conn
        .prepare("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn the_dashboard_shows_the_live_gateway_in_a_real_browser() {
    let (sim, serve) = start_with_modem(
        "http_dashboard",
        DEVICE,
        &format!(
            r#"
[[http.user]]
name = "{USER}"
password = "{PASSWORD}"

[[http.token]]
name = "app"
token = "{TOKEN}"
"#
        ),
    );
    let dir = &serve.dir;

    // ----- credentials -----
    for path in ["/", "/dashboard.json"] {
        let a = serve.get(path, &[]);
        assert_eq!(a.status, 401, "{path} without credentials: {}", a.text());
        let challenge = a.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Basic realm=\"relais\""),
            "{path}: challenge {challenge:?}"
        );
        let a = serve.get(path, &[("Authorization", &basic(USER, "wrong"))]);
        assert_eq!(a.status, 401, "{path} with a wrong password");
    }
    let page = serve.get("/", &[("Authorization", &basic(USER, PASSWORD))]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP {csp:?} lacks {part:?}");
    }
    let html = page.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page refers to another site"
    );
    let with_token = api_get(&serve, TOKEN, "/dashboard.json");
    assert_eq!(
        with_token.status, 200,
        "a Bearer token reads the snapshot too"
    );
    assert_eq!(with_token.header("cache-control"), Some("no-store"));

    // ----- data -----
    wait_snapshot(&serve, "the modem to connect", WAIT, |v| {
        v["devices"][0]["connected"] == true
    });
    for to in ["+33612345001", "+33612345002"] {
        let a = api_send(
            &serve,
            TOKEN,
            &json!({"to": to, "text": "hello from the dashboard test"}),
            None,
        );
        assert!(
            a.status / 100 == 2,
            "send to {to}: {} {}",
            a.status,
            a.text()
        );
    }
    // Two campaigns through the CLI beside the server: one started, one left a draft.
    std::fs::write(
        dir.join("contacts.csv"),
        "number,first_name\n+33612345101,Ana\n+33612345102,Bo\n+33612345103,Cy\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("later.csv"),
        "number,first_name\n+33612345201,Di\n+33612345202,Ed\n",
    )
    .unwrap();
    for (csv, name, start) in [
        ("contacts.csv", "parcels", true),
        ("later.csv", "spring-sale", false),
    ] {
        let mut args = vec![
            "campaign",
            "import",
            csv,
            "--name",
            name,
            "--template",
            "Bonjour {first_name}, votre colis est arrivé.",
            "--class",
            "transactional",
        ];
        if start {
            args.push("--start");
        }
        let out = Command::new(relais_binary())
            .current_dir(dir)
            .args(&args)
            .output()
            .expect("run relais campaign import");
        assert!(
            out.status.success(),
            "campaign import {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    receive_sms(&sim, STOPPER, "STOP");
    receive_sms(&sim, CHATTY, MARKUP);

    let v = wait_snapshot(
        &serve,
        "five delivered messages, two inbound, one opt-out",
        WAIT,
        |v| {
            state_count(v, "delivered") >= 5
                && v["inbound"]["total"] == 2
                && v["optouts"]["recent"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|x| x["number"] == STOPPER))
        },
    );
    println!("snapshot: {v:#}");
    assert_eq!(v["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["server"]["devices_up"], 1);
    assert_eq!(v["server"]["devices_configured"], 1);
    let d = &v["devices"][0];
    assert_eq!(d["name"], DEVICE);
    assert_eq!(d["kind"], "modem");
    assert_eq!(d["connected"], true);
    assert_eq!(d["halted"], false);
    assert!(d["firmware"].is_string(), "firmware: {d}");
    assert!(d["slots"].as_u64().is_some_and(|n| n > 0), "slots: {d}");
    assert!(d["updated_at"].is_i64(), "updated_at: {d}");
    let inbound = v["inbound"]["recent"].as_array().unwrap();
    let texts: Vec<&str> = inbound.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(
        texts.contains(&"STOP") && texts.contains(&MARKUP),
        "{texts:?}"
    );
    assert!(inbound.iter().all(|m| m["device"] == DEVICE));
    assert!(inbound.iter().any(|m| m["from"] == CHATTY));
    let optout = v["optouts"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["number"] == STOPPER)
        .unwrap();
    assert_eq!(optout["keyword"], "STOP");
    assert!(
        optout["source"]
            .as_str()
            .is_some_and(|s| s.contains(DEVICE)),
        "{optout}"
    );
    for key in ["pending", "done", "dead"] {
        assert!(
            v["callbacks"][key].is_u64(),
            "callbacks.{key}: {}",
            v["callbacks"]
        );
    }

    let campaigns = v["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 2, "{campaigns:?}");
    let parcels = &campaigns[0];
    assert_eq!(parcels["name"], "parcels");
    assert_eq!(parcels["status"], "running");
    assert_eq!(parcels["total"], 3);
    assert_eq!(parcels["delivered"], 3);
    assert_eq!(parcels["percent"], 100.0);
    let draft = &campaigns[1];
    assert_eq!(draft["name"], "spring-sale");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["total"], 2);
    assert_eq!(draft["waiting"], 2);
    assert_eq!(draft["percent"], 0.0);

    // The queue agrees with the store, state by state, once nothing moves any more
    // (the draft's two messages stay queued).
    let settled = wait_snapshot(
        &serve,
        "the queue to settle",
        Duration::from_secs(30),
        |v| v["queue"]["on_device"] == 0 && state_count(v, "sent") == 0,
    );
    assert_eq!(state_count(&settled, "queued"), 2);
    let states = settled["queue"]["states"].as_array().unwrap();
    assert_eq!(states.len(), 15, "every state, zeros included");
    let stored = store_counts(&serve.db());
    for s in states {
        let name = s["state"].as_str().unwrap();
        let want = stored
            .iter()
            .find(|(st, _)| st == name)
            .map_or(0, |(_, n)| *n);
        assert_eq!(s["count"], want, "state {name}: store {stored:?}");
    }
    let total: u64 = stored.iter().map(|(_, n)| n).sum();
    assert_eq!(settled["queue"]["total"], total);

    // ----- the browser -----
    browser(&serve, state_count(&settled, "delivered"));
}

/// The browser part: skipped (loudly) without chromium, except in CI.
fn browser(serve: &Serve, delivered: u64) {
    let version = Command::new("chromium")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let version = match version {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        other => {
            let why = match other {
                Ok(o) => format!("`chromium --version` failed: {}", o.status),
                Err(e) => format!("no `chromium` here ({e})"),
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}: CI must have Debian's chromium (.ci/run installs it)");
            }
            eprintln!(
                "\n==== SKIPPED: the browser half of http_dashboard: {why}. \
                 Install it with `apt-get install chromium` to run it. ====\n"
            );
            return;
        }
    };
    println!("browser: {version}");
    let work = serve.dir.join("chromium");
    std::fs::create_dir_all(&work).unwrap();
    // The credentials ride in the URL: chromium takes them off the address, answers
    // the server's Basic challenge with them, and sends them again with the page's own
    // requests to /dashboard.json (same origin, same realm).
    let url = format!("http://{USER}:{PASSWORD}@{}/", serve.addr);

    let dom = chromium(&work, &["--dump-dom", &url]);
    let body = dom.split_once("<body").map_or(dom.as_str(), |(_, b)| b);
    for needle in [
        DEVICE,
        ">connected<",
        STOPPER,
        CHATTY,
        "parcels",
        "spring-sale",
        ">Live<",
        // The markup of the inbound text, escaped: it was written as text.
        "Hello &lt;b&gt;relais&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;",
    ] {
        assert!(
            body.contains(needle),
            "the rendered page lacks {needle:?}:\n{dom}"
        );
    }
    assert!(
        !body.contains("<b>relais</b>"),
        "inbound markup became HTML"
    );
    assert!(!body.contains("<img src=x"), "inbound markup became HTML");
    let bar = format!("data-state=\"delivered\">{delivered}<");
    assert!(body.contains(&bar), "the queue bars lack {bar:?}:\n{dom}");

    // A server that answers the page's first poll and fails the next ones: the page
    // must say it is stale and keep showing the last data.
    let page = serve.get("/", &[("Authorization", &basic(USER, PASSWORD))]);
    let csp = page.header("content-security-policy").unwrap().to_string();
    let data = serve
        .get(
            "/dashboard.json",
            &[("Authorization", &basic(USER, PASSWORD))],
        )
        .body;
    let flaky = flaky_server(page.body, csp, data);
    let dom = chromium(&work, &["--dump-dom", &format!("http://{flaky}/")]);
    let body = dom.split_once("<body").map_or(dom.as_str(), |(_, b)| b);
    for needle in [
        " class=\"stale\"",
        ">Stale<",
        "The server answered 503.",
        DEVICE,
        STOPPER,
    ] {
        assert!(
            body.contains(needle),
            "the page with a failing server lacks {needle:?}:\n{dom}"
        );
    }

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    for (name, size) in [
        ("dashboard.png", "1280,1600"),
        ("dashboard-phone.png", "390,2400"),
    ] {
        let png = work.join(name);
        chromium(
            &work,
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={size}"),
                "--hide-scrollbars",
                &url,
            ],
        );
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {name}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name} is not a PNG"
        );
        assert!(bytes.len() > 20_000, "{name} is only {} bytes", bytes.len());
        let kept = target.join(name);
        std::fs::copy(&png, &kept).unwrap();
        println!("screenshot: {}", kept.display());
    }
}

/// Runs headless chromium with `args` (at most 90 s) and returns its stdout.
fn chromium(work: &Path, args: &[&str]) -> String {
    let profile = work.join("profile");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let read_err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} ran for more than 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = read_out.join().unwrap_or_default();
    let stderr = read_err.join().unwrap_or_default();
    assert!(
        status.success(),
        "chromium {args:?} failed ({status}):\n{stderr}"
    );
    stdout
}

/// Serves `page` at `/` (with `csp`) and `snapshot` at `/dashboard.json` once; every
/// later `/dashboard.json` gets a 503.
fn flaky_server(page: Vec<u8>, csp: String, snapshot: Vec<u8>) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut polls = 0;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split(' ').nth(1).unwrap_or("");
            let (status, kind, body, extra): (&str, &str, &[u8], String) = match path {
                "/" => (
                    "200 OK",
                    "text/html; charset=utf-8",
                    &page,
                    format!("Content-Security-Policy: {csp}\r\n"),
                ),
                "/dashboard.json" if polls == 0 => {
                    polls += 1;
                    ("200 OK", "application/json", &snapshot, String::new())
                }
                "/dashboard.json" => (
                    "503 Service Unavailable",
                    "text/plain",
                    b"down",
                    String::new(),
                ),
                _ => ("404 Not Found", "text/plain", b"no", String::new()),
            };
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Cache-Control: no-store\r\n{extra}Connection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = s.write_all(body);
        }
    });
    addr
}
