//! `relais device`: talk to a device agent over its link from the command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args as ClapArgs, Subcommand};
use serde_json::json;

use super::{Baud, Config, Counters, DeviceInfo, LinkClient, ModemStatus};
use relais_core::link::msg::Registration;

/// `relais device` arguments.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The device link: a serial port or pty path, or tcp:HOST:PORT.
    #[arg(long, value_name = "SPEC")]
    pub port: String,
    /// Line speed of a serial port, in bit/s.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Give up after this many seconds without an answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `relais device` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Handshake with the device and print what it says about itself and its modem.
    Status {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `relais device`; exit code 0, or 1 when the device cannot be reached.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relais device: error: {e}");
            return ExitCode::from(1);
        }
    };
    let Command::Status { json } = args.command;
    match runtime.block_on(status(&args.port, args.baud, args.timeout)) {
        Ok((info, modem, counters)) => {
            if json {
                println!("{}", to_json(&args.port, &info, &modem, &counters));
            } else {
                print!("{}", to_text(&args.port, &info, &modem, &counters));
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("relais device: error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn status(
    spec: &str,
    baud: u32,
    timeout: u64,
) -> Result<(DeviceInfo, ModemStatus, Counters), String> {
    let config = Config {
        baud: Baud(baud),
        keepalive: None,
        ..Config::default()
    };
    let deadline = Duration::from_secs(timeout);
    let ask = async {
        let (client, _incoming) = LinkClient::connect(spec, config).await?;
        let info = client.ready().await?;
        let (modem, counters) = client.status().await?;
        Ok::<_, super::ClientError>((info, modem, counters))
    };
    match tokio::time::timeout(deadline, ask).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer from the device on {spec} within {timeout} s"
        )),
    }
}

fn registration(r: Registration) -> &'static str {
    match r {
        Registration::None => "not registered",
        Registration::Home => "registered (home)",
        Registration::Searching => "searching",
        Registration::Denied => "registration denied",
        Registration::Roaming => "registered (roaming)",
        Registration::Unknown => "unknown",
    }
}

fn to_text(spec: &str, info: &DeviceInfo, modem: &ModemStatus, c: &Counters) -> String {
    let caps = &info.capabilities;
    let modem_line = format!(
        "{}, {}, SIM {}, {}, {} power cycle(s)",
        if modem.ready { "ready" } else { "not ready" },
        registration(modem.registration),
        if modem.sim_ready {
            "ready"
        } else {
            "not ready"
        },
        if modem.network_time {
            "network time"
        } else {
            "no network time"
        },
        modem.power_cycles
    );
    let counters = format!(
        "accepted {}, segments sent {}, refused {}, deferred {}, failed {}, unknown {}, \
         inbound {}, opt-outs {}, bad frames {}",
        c.accepted,
        c.segments_sent,
        c.refused,
        c.deferred,
        c.failed,
        c.unknown,
        c.inbound,
        c.opt_outs,
        c.bad_frames
    );
    [
        ("link", spec.to_string()),
        (
            "firmware",
            format!("{} (link protocol {})", info.firmware, info.protocol),
        ),
        ("boot id", format!("{:#010x}", info.boot.0)),
        ("job slots", caps.job_slots.to_string()),
        ("opt-outs", format!("up to {}", caps.suppression_capacity)),
        ("max text", format!("{} bytes", caps.max_text)),
        ("rule packs", caps.packs.as_str().to_string()),
        ("modem profile", caps.modem.as_str().to_string()),
        ("next event", info.next_event.0.to_string()),
        (
            "event store",
            format!("epoch {:#010x}, {} events waiting", info.epoch.0, info.outbox),
        ),
        (
            "state",
            match modem.halted {
                Some(h) => format!(
                    "HALTED ({}): its store failed while it recorded a send; no jobs until it restarts",
                    h.as_str()
                ),
                None => "taking jobs".to_string(),
            },
        ),
        ("modem", modem_line),
        ("counters", counters),
    ]
    .iter()
    .map(|(k, v)| format!("{:<14} {v}\n", format!("{k}:")))
    .collect()
}

fn to_json(spec: &str, info: &DeviceInfo, modem: &ModemStatus, c: &Counters) -> String {
    let caps = &info.capabilities;
    json!({
        "link": spec,
        "protocol": info.protocol,
        "firmware": info.firmware,
        "boot": info.boot.0,
        "next_event": info.next_event.0,
        "epoch": info.epoch.0,
        "outbox": info.outbox,
        "halted": modem.halted.map(|h| h.as_str()),
        "capabilities": {
            "job_slots": caps.job_slots,
            "suppression_capacity": caps.suppression_capacity,
            "max_text": caps.max_text,
            "packs": caps.packs.as_str(),
            "modem": caps.modem.as_str(),
        },
        "modem": {
            "ready": modem.ready,
            "registration": registration(modem.registration),
            "sim_ready": modem.sim_ready,
            "network_time": modem.network_time,
            "power_cycles": modem.power_cycles,
        },
        "counters": {
            "accepted": c.accepted,
            "segments_sent": c.segments_sent,
            "refused": c.refused,
            "deferred": c.deferred,
            "failed": c.failed,
            "unknown": c.unknown,
            "inbound": c.inbound,
            "opt_outs": c.opt_outs,
            "bad_frames": c.bad_frames,
        },
    })
    .to_string()
}
