//! Throughput and latency of `/cgi-bin/sendsms` (docs/http.md, "Performance"): how
//! many Kannel requests per second `relais serve` accepts, each stored before its 202
//! (group commits with `synchronous = FULL`: on disk, not only in the OS cache), and
//! the p50/p99 latency seen by the clients.
//!
//! Not a criterion bench: the figure is a server under concurrent load. The server
//! runs in this process on a real SQLite file in a temporary directory; the clients
//! are raw HTTP/1.1 keep-alive connections over loopback TCP.
//!
//! `cargo bench -p relais --bench sendsms` (env: RELAIS_BENCH_SECS, default 10;
//! RELAIS_BENCH_CLIENTS, default 64).

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::http::server::{App, serve_http};
use relais::scheduler::{Context, SystemClock};
use relais::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = r#"
[[brand]]
name = "Acme"

[[http.user]]
name = "bench"
password = "bench-password"
class = "transactional"
"#;

fn main() {
    let secs: u64 = std::env::var("RELAIS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let clients: usize = std::env::var("RELAIS_BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    // `cargo test --benches` runs benches with --bench absent: do a short smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let secs = if smoke { 1 } else { secs };
    let dir = std::env::temp_dir().join(format!("relais-bench-sendsms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = Config::parse(CONFIG).expect("bench config");
    let mut store = Store::open(&dir.join("relais.db")).expect("store");
    store.set_durable().expect("synchronous = FULL");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (accepted, latencies, elapsed) = rt.block_on(async move {
        let ctx = Arc::new(Context::new(store, Arc::new(SystemClock), &config).expect("context"));
        let app = App::new(ctx.clone(), Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(serve_http(app, listener, stop));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for c in 0..clients {
            tasks.push(tokio::spawn(client(addr, c, deadline)));
        }
        let mut accepted = 0u64;
        let mut latencies = Vec::new();
        for t in tasks {
            let (n, mut l) = t.await.expect("client");
            accepted += n;
            latencies.append(&mut l);
        }
        let elapsed = start.elapsed();
        let _ = stop_tx.send(true);
        let _ = server.await;
        let stored = ctx
            .store()
            .job_counts(None)
            .expect("counts")
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>();
        assert_eq!(stored, accepted, "every 202 is a stored message");
        (accepted, latencies, elapsed)
    });
    let mut l = latencies;
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "sendsms: {clients} clients, {:.1} s: {accepted} accepted, {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (each stored with synchronous = FULL before its 202)",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One keep-alive client sending until `deadline`; returns (accepted, latencies).
async fn client(addr: std::net::SocketAddr, c: usize, deadline: Instant) -> (u64, Vec<Duration>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 4096];
    let mut accepted = 0;
    let mut latencies = Vec::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let number = format!("%2B4477009{:05}", (c as u64 * 7919 + i) % 100_000);
        let req = format!(
            "GET /cgi-bin/sendsms?username=bench&password=bench-password&to={number}&text=Your+code+is+{i} HTTP/1.1\r\nHost: bench\r\n\r\n"
        );
        let t = Instant::now();
        s.write_all(req.as_bytes()).await.expect("send");
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "server closed the connection");
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    assert!(
                        head.starts_with("http/1.1 202"),
                        "answer: {}",
                        String::from_utf8_lossy(&got)
                    );
                    break;
                }
            }
        }
        latencies.push(t.elapsed());
        accepted += 1;
        i += 1;
    }
    (accepted, latencies)
}
