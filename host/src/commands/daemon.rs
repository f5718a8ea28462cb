//! `relais run`: the daemon against relais devices on serial ports (or TCP), one task
//! per device over one store. `relais status` from another terminal shows progress
//! (the store is in WAL mode: readers never wait for the daemon).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args as ClapArgs;
use tokio::sync::watch;

use super::Common;
use crate::config::{Config, DeviceConfig, DeviceKind};
use crate::link::{self, Baud, LinkClient};
use crate::local::LocalDevice;
use crate::scheduler::{self, Context, SystemClock, Target};

/// Starts the log: `RELAIS_LOG` = error, warn, info (default), debug or trace.
pub fn init_tracing() {
    let level = std::env::var("RELAIS_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// `relais run`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Sends what the store has due through relais devices and stores \
everything they report, until Ctrl-C. Without --device it drives every [[device]] of kind \
\"device\" in the configuration. `relais status` shows progress from another terminal.\n\n\
Examples:\n  relais run --device /dev/ttyACM0 --sender alpha:ACME\n  relais run --config relais.toml"
)]
pub struct RunArgs {
    /// A configured device name, or a port (serial path, pty, tcp:HOST:PORT).
    #[arg(long, value_name = "NAME|PORT")]
    pub device: Vec<String>,
    /// Sender identity for a device given by port: alpha:NAME, longnum:+NUMBER or shortcode:CODE.
    #[arg(long, default_value = "alpha:relais")]
    pub sender: String,
    /// Line speed for a device given by port.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Stop once nothing is waiting or on a device (for scripts and tests).
    #[arg(long)]
    pub until_idle: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The devices `relais run` drives.
pub fn devices(
    config: &Config,
    args: &[String],
    sender: &str,
    baud: u32,
) -> Result<Vec<DeviceConfig>, String> {
    if args.is_empty() {
        let list: Vec<DeviceConfig> = config
            .devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Device)
            .cloned()
            .collect();
        if list.is_empty() {
            return Err("no device: give --device PORT, or add a [[device]] with kind = \"device\" to the configuration (`relais config example`)".into());
        }
        return Ok(list);
    }
    args.iter()
        .map(|a| match config.device(a) {
            Some(d) => Ok(d.clone()),
            None => Ok(DeviceConfig {
                name: a.rsplit('/').next().unwrap_or(a).to_string(),
                kind: DeviceKind::Device,
                port: a.clone(),
                baud,
                sender: sender.to_string(),
                stop_code: None,
                registered: false,
                brands: Vec::new(),
                sim_pin: None,
                profile: None,
                state: None,
            }),
        })
        .collect()
}

/// The scheduler's view of a configured device.
pub fn target(config: &Config, d: &DeviceConfig) -> Result<Target, String> {
    Ok(Target {
        name: d.name.clone(),
        brands: d.brands.clone(),
        identity: config.identity(d, config.brand_names().first().copied().unwrap_or("relais"))?,
        sim_pin: d.pin()?,
    })
}

/// Makes this host the one driving each device of `list` before any of their ports is
/// opened: a device name another host drives (it said so within the last minute) is an
/// error, and nothing is touched.
pub fn claim_devices(
    store: &mut crate::store::Store,
    config: &Config,
    list: &[DeviceConfig],
) -> Result<(), String> {
    let host = scheduler::host_id(&config.base);
    let now = scheduler::Clock::now(&SystemClock);
    for d in list {
        if let Some((other, seen)) = store
            .claim_device(&d.name, &host, now, scheduler::DEVICE_LEASE_S)
            .map_err(|e| e.to_string())?
        {
            return Err(format!(
                "device {} is driven by another host ({other}, last seen at {seen}); every \
                 device name must be unique among the hosts that share a store \
                 (docs/postgres.md); nothing was opened",
                d.name
            ));
        }
    }
    Ok(())
}

/// Runs `relais run`.
pub fn run(a: RunArgs) -> Result<(), String> {
    init_tracing();
    let (config, mut store) = a.common.open_waiting()?;
    let list = devices(&config, &a.device, &a.sender, a.baud)?;
    claim_devices(&mut store, &config, &list)?;
    let links = list
        .iter()
        .map(|d| Link::Port(d.clone()))
        .collect::<Vec<_>>();
    serve_all(config, store, links, a.until_idle, None)
}

/// How the daemon reaches one device.
pub enum Link {
    /// A relais device on a port.
    Port(DeviceConfig),
    /// The agent in this process on a modem.
    Local(DeviceConfig, LocalDevice),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Port(d) => write!(f, "Port({})", d.name),
            Link::Local(d, _) => write!(f, "Local({})", d.name),
        }
    }
}

/// A service that runs beside the device tasks over the same context (the HTTP
/// gateway of `relais serve`) until `stop` turns true.
pub type Service = Box<
    dyn FnOnce(
            Arc<Context>,
            watch::Receiver<bool>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send,
>;

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Drives every device in `links` (and `service`, if any) until SIGINT or SIGTERM (or
/// until idle).
pub fn serve_all(
    config: Config,
    store: crate::store::Store,
    links: Vec<Link>,
    until_idle: bool,
    service: Option<Service>,
) -> Result<(), String> {
    let rt = if service.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| e.to_string())?;
    let mut locals = Vec::new();
    let result = rt.block_on(async {
        let ctx = Arc::new(Context::new(store, Arc::new(SystemClock), &config)?);
        let (stop_tx, stop) = watch::channel(false);
        let mut tasks = Vec::new();
        let service = service.map(|s| tokio::spawn(s(ctx.clone(), stop.clone())));
        for link in links {
            let d = match &link {
                Link::Port(d) | Link::Local(d, _) => d.clone(),
            };
            let target = target(&config, &d)?;
            let last = ctx.store().last_event(&d.name).map_err(|e| e.to_string())?;
            let link_config = link::Config {
                baud: Baud(d.baud),
                stored_events: last,
                ..link::Config::default()
            };
            // A gateway keeps serving while a device's port is missing (unplugged at
            // start): it retries every 5 s. `relais run` says so and stops.
            let keep_trying = service.is_some();
            let task = match link {
                Link::Port(_) if keep_trying => {
                    let (ctx, mut stop) = (ctx.clone(), stop.clone());
                    tokio::spawn(async move {
                        loop {
                            match LinkClient::connect(&d.port, link_config.clone()).await {
                                Ok((client, incoming)) => {
                                    tracing::info!(device = %d.name, port = %d.port, "driving");
                                    return scheduler::serve(ctx, target, client, incoming, stop)
                                        .await;
                                }
                                Err(e) => tracing::warn!(
                                    device = %d.name,
                                    port = %d.port,
                                    "{e}; trying again in 5 s"
                                ),
                            }
                            tokio::select! {
                                _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                                _ = stop.changed() => return Ok(()),
                            }
                        }
                    })
                }
                Link::Port(_) => {
                    let (client, incoming) = LinkClient::connect(&d.port, link_config)
                        .await
                        .map_err(|e| format!("device {}: {e}", d.name))?;
                    tracing::info!(device = %d.name, port = %d.port, "driving");
                    tokio::spawn(scheduler::serve(
                        ctx.clone(),
                        target,
                        client,
                        incoming,
                        stop.clone(),
                    ))
                }
                Link::Local(_, device) => {
                    let (client, incoming) = LinkClient::start(device.connector(), link_config);
                    locals.push(device);
                    tracing::info!(device = %d.name, port = %d.port, "driving");
                    tokio::spawn(scheduler::serve(
                        ctx.clone(),
                        target,
                        client,
                        incoming,
                        stop.clone(),
                    ))
                }
            };
            tasks.push(task);
        }
        // When every device has stopped by itself (a device another host drives, a
        // link task that ended), there is nothing left to wait for.
        let finished: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let watcher = {
            let ctx = ctx.clone();
            async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tokio::select! {
                        _ = stop_signal() => break,
                        _ = tick.tick() => {
                            if let Ok(s) = super::status_screen(&ctx.store()) {
                                tracing::info!("status\n{s}");
                            }
                        }
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                            if until_idle && idle(&ctx) { break; }
                            if !finished.is_empty() && finished.iter().all(|t| t.is_finished()) {
                                break;
                            }
                        }
                    }
                }
            }
        };
        let service_result = match service {
            Some(mut handle) => {
                tokio::select! {
                    _ = watcher => {}
                    r = &mut handle => {
                        // The service ended by itself: that is an error (it could not
                        // listen, say); stop the devices too.
                        let _ = stop_tx.send(true);
                        for t in tasks {
                            let _ = t.await;
                        }
                        return r.map_err(|e| e.to_string())?;
                    }
                }
                let _ = stop_tx.send(true);
                handle.await.map_err(|e| e.to_string())?
            }
            None => {
                watcher.await;
                Ok(())
            }
        };
        let _ = stop_tx.send(true);
        let mut failed = None;
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!("{e}");
                    failed.get_or_insert(e.to_string());
                }
                Err(e) => tracing::error!("device task: {e}"),
            }
        }
        if let Ok(s) = super::status_screen(&ctx.store()) {
            print!("{s}");
        }
        match failed {
            Some(e) if service_result.is_ok() => Err(e),
            _ => service_result,
        }
    });
    for device in locals {
        match device.stop() {
            Ok(f) => tracing::info!(boot = f.boot.0, counters = ?f.counters, "agent stopped"),
            Err(e) => tracing::warn!("agent: {e}"),
        }
    }
    result
}

/// `relais direct`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "For people without the relais microcontroller: the same agent the \
firmware runs (compliance gate, pacing, idempotency, STOP handling, in-flight journal) runs \
inside this process and drives a GSM modem on a serial port. Its state is kept in a file \
(--state), so a crash or power cut never makes it send twice: a send that may have happened \
is reported as unknown.\n\n\
Examples:\n  relais direct --modem /dev/ttyUSB2 --sender longnum:+33612345678 --pin 1234\n  \
relais sim --link /tmp/modem &  relais direct --modem /tmp/modem"
)]
pub struct DirectArgs {
    /// The modem's serial port (or a pty such as `relais sim --link`'s). Without it, every
    /// [[device]] of kind "modem" in the configuration.
    #[arg(long, value_name = "PORT")]
    pub modem: Option<String>,
    /// Modem family: sim800, sim7600, ec25, generic.
    #[arg(long, default_value = "sim800")]
    pub profile: String,
    /// Line speed.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// SIM PIN (entered at most twice, so a wrong PIN never blocks the SIM).
    #[arg(long)]
    pub pin: Option<String>,
    /// Sender identity: alpha:NAME, longnum:+NUMBER or shortcode:CODE.
    #[arg(long, default_value = "alpha:relais")]
    pub sender: String,
    /// The agent's state file (default: relais-agent-<name>.flash beside the configuration).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Stop once nothing is waiting or on the modem.
    #[arg(long)]
    pub until_idle: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `relais direct`.
pub fn direct(a: DirectArgs) -> Result<(), String> {
    init_tracing();
    let (config, store) = a.common.open_waiting()?;
    let list: Vec<DeviceConfig> = match &a.modem {
        Some(port) => vec![DeviceConfig {
            name: std::path::Path::new(port)
                .file_name()
                .map_or_else(|| "modem".to_string(), |n| n.to_string_lossy().into_owned()),
            kind: DeviceKind::Modem,
            port: port.clone(),
            baud: a.baud,
            sender: a.sender.clone(),
            stop_code: None,
            registered: false,
            brands: Vec::new(),
            sim_pin: a.pin.clone(),
            profile: Some(a.profile.clone()),
            state: a.state.clone(),
        }],
        None => config
            .devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Modem)
            .cloned()
            .collect(),
    };
    if list.is_empty() {
        return Err("no modem: give --modem PORT, or add a [[device]] with kind = \"modem\" to the configuration".into());
    }
    let profile = crate::local::profile_named(&a.profile).ok_or_else(|| {
        format!(
            "--profile {:?}: one of sim800, sim7600, ec25, generic",
            a.profile
        )
    })?;
    let mut store = store;
    claim_devices(&mut store, &config, &list)?;
    let mut links = Vec::new();
    for d in list {
        let state = match (&a.state, a.modem.is_some()) {
            (Some(p), true) => p.clone(),
            _ => default_state_path(&config, &d.name),
        };
        links.push(modem_link(d, profile, &state)?);
    }
    serve_all(config, store, links, a.until_idle, None)
}

/// Opens the modem of `d` and starts the agent on it, with its state in `state`.
pub fn modem_link(
    d: DeviceConfig,
    profile: relais_agent::modem::Profile,
    state: &std::path::Path,
) -> Result<Link, String> {
    let pin = d.pin()?;
    let (agent_store, opened) = crate::local::open_store(state)?;
    println!("{}: {opened}", state.display());
    let port = crate::local::serial::SerialModem::open(std::path::Path::new(&d.port), d.baud)
        .map_err(|e| format!("device {}: cannot open {}: {e}", d.name, d.port))?;
    let device = LocalDevice::spawn_modem(
        &d.name,
        crate::local::ModemSetup {
            port,
            profile,
            pin,
            store: agent_store,
            config: relais_agent::agent::Config::default(),
        },
    )?;
    Ok(Link::Local(d, device))
}

/// How long `--until-idle` waits for the delivery reports of messages just sent.
pub const REPORT_GRACE_SECS: i64 = 120;

/// True when no job can become due (none waiting in a running campaign or outside
/// campaigns), none is on a device, and no message sent in the last
/// [`REPORT_GRACE_SECS`] still waits for its delivery report.
pub fn idle(ctx: &Context) -> bool {
    let since = ctx.clock.now().plus(-REPORT_GRACE_SECS);
    let store = ctx.store();
    let on_device = store
        .job_counts(None)
        .map(|c| c.iter().any(|(s, n)| *n > 0 && s.is_on_device()));
    matches!(
        (store.next_due(), on_device, store.awaiting_reports(since)),
        (Ok(None), Ok(false), Ok(0))
    )
}

/// Where `relais direct` keeps the agent's flash image by default.
pub fn default_state_path(config: &Config, device: &str) -> PathBuf {
    config.base.join(format!("relais-agent-{device}.flash"))
}
