//! `relais serve`: the daemon of `relais run` and `relais direct` (every `[[device]]`)
//! and the HTTP server in one process, over one store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use clap::Args as ClapArgs;
use hyper_util::rt::{TokioIo, TokioTimer};
use relais_core::link::msg::Identity;
use tokio::sync::{Notify, watch};

use super::auth::{Credentials, RateLimiter};
use super::writer::Writer;
use crate::commands::Common;
use crate::commands::daemon::{self, Link};
use crate::config::{Config, DeviceConfig, DeviceKind};
use crate::scheduler::Context;

/// `relais serve`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Runs the daemon (every [[device]] of the configuration: relais devices \
and GSM modems) and the HTTP gateway in one process: Kannel-compatible /cgi-bin/sendsms, \
delivery-report and inbound callbacks, the JSON API under /api/v1 with signed webhooks, and \
the live dashboard at /. Stops cleanly on Ctrl-C or SIGTERM. See docs/http.md.\n\n\
Example: relais serve --config relais.toml"
)]
pub struct ServeArgs {
    /// Listen here instead of `[http] listen` (127.0.0.1:13013 by default; port 0 picks one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// Counters for `/api/v1/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered, by family.
    pub requests: AtomicU64,
    /// Requests refused for credentials.
    pub auth_failures: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Messages accepted (stored).
    pub accepted: AtomicU64,
    /// Messages refused by the compliance core at the request.
    pub refused: AtomicU64,
    /// Messages deferred by a rule at the request.
    pub deferred: AtomicU64,
}

impl Metrics {
    /// Adds one to `c`.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// The daemon's context (store, clock, options).
    pub ctx: Arc<Context>,
    /// The configuration.
    pub config: Arc<Config>,
    /// Users and tokens.
    pub creds: Credentials,
    /// Rate limits.
    pub limiter: RateLimiter,
    /// The group-commit writer.
    pub writer: Writer,
    /// Wakes the callback dispatcher.
    pub wake: Arc<Notify>,
    /// Counters.
    pub metrics: Metrics,
}

impl App {
    /// The server's state over `ctx`, with its writer task started (call inside a
    /// tokio runtime).
    pub fn new(ctx: Arc<Context>, config: Arc<Config>) -> Arc<App> {
        let wake = Arc::new(Notify::new());
        Arc::new(App {
            writer: Writer::spawn(ctx.clone(), wake.clone()),
            creds: Credentials::new(&config.http.users, &config.http.tokens),
            limiter: RateLimiter::default(),
            wake,
            metrics: Metrics::default(),
            config,
            ctx,
        })
    }

    /// The sender identity a message of `brand` is judged with: the named device's, or
    /// that of the first device sending for the brand.
    pub fn identity_for(&self, brand: &str, device: Option<&str>) -> Result<Identity, String> {
        let c = &self.config;
        let d = device
            .and_then(|n| c.device(n))
            .or_else(|| {
                c.devices
                    .iter()
                    .find(|d| d.brands.is_empty() || d.brands.iter().any(|b| b == brand))
            })
            .cloned()
            .unwrap_or_else(fallback_device);
        c.identity(&d, brand)
            .or_else(|_| c.identity(&fallback_device(), brand))
    }

    /// True when at least one device's link is up.
    pub fn any_device_up(&self) -> bool {
        !self.ctx.devices_up().is_empty()
    }

    /// The brand of a client without one: the only configured brand, else "relais".
    pub fn default_brand(&self, configured: Option<&str>) -> String {
        configured
            .map(str::to_string)
            .or_else(|| match self.config.brands.as_slice() {
                [one] => Some(one.name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "relais".to_string())
    }
}

fn fallback_device() -> DeviceConfig {
    DeviceConfig {
        name: "relais".into(),
        kind: DeviceKind::Device,
        port: String::new(),
        baud: 115_200,
        sender: "alpha:relais".into(),
        stop_code: None,
        registered: false,
        brands: Vec::new(),
        sim_pin: None,
        profile: None,
        state: None,
    }
}

/// The callback dispatcher's view of the server: the store, the clock, and the
/// replies of sms-services with `reply = true`.
struct Host(Arc<App>);

impl super::outbox::OutboxHost for Host {
    fn store(&self) -> std::sync::MutexGuard<'_, crate::store::Store> {
        self.0.ctx.store()
    }

    fn now(&self) -> relais_core::compliance::tz::UtcInstant {
        self.0.ctx.clock.now()
    }

    fn service_answer(&self, inbound_id: i64, content_type: Option<&str>, body: &[u8]) {
        if let Err(e) = super::reply::send(&self.0, inbound_id, content_type, body) {
            tracing::warn!(inbound = inbound_id, "service reply: {e}");
        }
    }
}

/// Runs `relais serve`.
pub fn run(a: ServeArgs) -> Result<(), String> {
    daemon::init_tracing();
    let (mut config, mut store) = a.common.open_waiting()?;
    if let Some(l) = a.listen {
        config.http.listen = l;
    }
    let addr = config.http.listen_addr()?;
    store.set_durable().map_err(|e| e.to_string())?;
    // The callback producer's marks, before any device starts: on a new store, what
    // happens from now on is produced, a device connecting at start-up included (the
    // dispatcher's first pass may come after it).
    store
        .transaction(super::outbox::start_marks)
        .map_err(|e| e.to_string())?;
    daemon::claim_devices(&mut store, &config, &config.devices.clone())?;
    let mut links = Vec::new();
    for d in &config.devices {
        match d.kind {
            DeviceKind::Device => links.push(Link::Port(d.clone())),
            DeviceKind::Modem => {
                let profile = crate::local::profile_named(d.profile.as_deref().unwrap_or("sim800"))
                    .ok_or_else(|| format!("device {:?}: unknown profile", d.name))?;
                let state = d
                    .state
                    .as_ref()
                    .map(|p| config.base.join(p))
                    .unwrap_or_else(|| daemon::default_state_path(&config, &d.name));
                links.push(daemon::modem_link(d.clone(), profile, &state)?);
            }
        }
    }
    if links.is_empty() {
        tracing::warn!(
            "no [[device]] in the configuration: messages are accepted and queued (answer \
             \"3: Queued for later delivery\") until a device is added"
        );
    }
    // Listen before anything else starts, so a taken port is a clear error at once.
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "listening beyond this machine: every route but health needs credentials");
    }
    let daemon_config = config.clone();
    let config = Arc::new(config);
    let service: daemon::Service = Box::new(move |ctx, stop| {
        Box::pin(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
            let app = App::new(ctx, config.clone());
            if app.creds.is_empty() {
                tracing::warn!(
                    "no [[http.user]] or [[http.token]]: every request but health is refused"
                );
            }
            println!("relais serve: listening on http://{bound}");
            let outbox = tokio::spawn(super::outbox::run(
                Arc::new(Host(app.clone())),
                super::outbox::OutboxConfig::from_http(&app.config.http)?,
                app.wake.clone(),
                stop.clone(),
            ));
            let served = serve_http(app.clone(), listener, stop).await;
            match outbox.await {
                Ok(Err(e)) => tracing::error!("callbacks: {e}"),
                Err(e) => tracing::error!("callbacks: {e}"),
                Ok(Ok(())) => {}
            }
            served
        })
    });
    tracing::info!(store = %store.location(), "relais serve starting");
    daemon::serve_all(daemon_config, store, links, false, Some(service))
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    let max_body = app.config.http.max_body;
    let timeout = app
        .config
        .http
        .request_timeout()
        .unwrap_or(Duration::from_secs(30));
    Router::new()
        .route(
            "/cgi-bin/sendsms",
            axum::routing::get(super::sendsms::handle).post(super::sendsms::handle),
        )
        .nest("/api/v1", super::api::routes())
        .merge(super::android::routes())
        .route("/", axum::routing::get(super::dashboard::page))
        .route("/dashboard.json", axum::routing::get(super::dashboard::snapshot))
        .fallback(unknown)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                // Method and path only: queries and headers carry passwords and texts.
                .make_span_with(|req: &Request<Body>| {
                    tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
                })
                // A 503 is an answer the client expects to retry, not a server fault.
                .on_failure(
                    tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                ),
        )
        .with_state(app)
}

/// Kannel's answer to a path it does not serve.
async fn unknown() -> Response<Body> {
    super::sendsms::respond(&super::kannel::Answer::unknown_request())
}

/// A `text/plain` answer with exactly `body` (no newline added).
pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// Serves HTTP/1.x on `listener` until `stop`, then lets requests in progress finish
/// (at most 5 s).
pub async fn serve_http(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let router = router(app);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = router.clone();
        let mut stop = stop.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                let svc = svc.clone();
                async move {
                    use tower::ServiceExt as _;
                    svc.oneshot(req.map(Body::new)).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_headers(64)
                .max_buf_size(16 * 1024)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => { let _ = r; }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        while conns.try_join_next().is_some() {}
    }
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::warn!("requests still running after 5 s; closing them");
    }
    Ok(())
}
