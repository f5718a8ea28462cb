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
    })
}

/// Runs `relais run`.
pub fn run(a: RunArgs) -> Result<(), String> {
    init_tracing();
    let (config, store) = a.common.open()?;
    let list = devices(&config, &a.device, &a.sender, a.baud)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let ctx = Arc::new(Context::new(store, Arc::new(SystemClock), &config)?);
        let (stop_tx, stop) = watch::channel(false);
        let mut tasks = Vec::new();
        for d in &list {
            let target = target(&config, d)?;
            let last = ctx.store().last_event(&d.name).map_err(|e| e.to_string())?;
            let link_config = link::Config {
                baud: Baud(d.baud),
                stored_events: last.map(link::EventId),
                ..link::Config::default()
            };
            let (client, incoming) = LinkClient::connect(&d.port, link_config)
                .await
                .map_err(|e| format!("device {}: {e}", d.name))?;
            tracing::info!(device = %d.name, port = %d.port, "driving");
            tasks.push(tokio::spawn(scheduler::serve(
                ctx.clone(),
                target,
                client,
                incoming,
                stop.clone(),
            )));
        }
        let watcher = {
            let ctx = ctx.clone();
            let until_idle = a.until_idle;
            async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => break,
                        _ = tick.tick() => {
                            if let Ok(s) = super::status_screen(&ctx.store()) {
                                tracing::info!("status\n{s}");
                            }
                        }
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)), if until_idle => {
                            if idle(&ctx) { break; }
                        }
                    }
                }
            }
        };
        watcher.await;
        let _ = stop_tx.send(true);
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("{e}"),
                Err(e) => tracing::error!("device task: {e}"),
            }
        }
        if let Ok(s) = super::status_screen(&ctx.store()) {
            print!("{s}");
        }
        Ok::<(), String>(())
    })
}

/// True when no job can become due (none waiting in a running campaign or outside
/// campaigns) and none is on a device.
pub fn idle(ctx: &Context) -> bool {
    let store = ctx.store();
    let on_device = store
        .job_counts(None)
        .map(|c| c.iter().any(|(s, n)| *n > 0 && s.is_on_device()));
    matches!((store.next_due(), on_device), (Ok(None), Ok(false)))
}

/// Where `relais direct` keeps the agent's flash image by default.
pub fn default_state_path(config: &Config, device: &str) -> PathBuf {
    config.base.join(format!("relais-agent-{device}.flash"))
}
