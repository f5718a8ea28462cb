//! `relais sim`: a virtual modem (or several) on a simulated operator network, served
//! on ptys or TCP, for real AT clients (gammu, python-gsmmodem, our own driver).
//!
//! - [`modem`]: the sans-I/O AT interpreter (27.005 / 27.007, PDU and text mode).
//! - [`pdu`]: SMS-SUBMIT decoding and SMS-DELIVER / STATUS-REPORT encoding.
//! - [`operator`]: routes, outcomes, quiet hours, subscribers, the ledger.
//! - [`scenario`]: the TOML scenario; [`time`]: virtual time; [`rng`]: seeded draws.
//! - [`world`]: everything behind one lock; [`transport`]: pty/TCP; [`control`]: the
//!   control socket and `relais sim inject`.
//!
//! docs/sim.md is the user documentation.

pub(crate) mod control;
#[cfg(test)]
mod driver_peer;
pub mod modem;
pub mod operator;
pub(crate) mod pdu;
pub mod peer;
pub(crate) mod rng;
pub mod scenario;
pub mod time;
pub mod transport;
pub mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Subcommand;
use serde_json::json;

use operator::Ledger;
use scenario::Scenario;
use world::World;

/// Run a simulated modem + operator, or talk to a running one.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Symlink to create for the (first) modem's pty.
    #[arg(long, value_name = "PATH")]
    link: Option<PathBuf>,
    /// Scenario file (TOML, see docs/sim.md).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Ledger file (JSON Lines, appended).
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// Serve the (first) modem on TCP instead of a pty (others on the next ports).
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// Control socket for `relais sim inject`.
    #[arg(long, value_name = "SOCKET")]
    control: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's clock speed (virtual seconds per real second).
    #[arg(long)]
    speed: Option<f64>,
    /// Print every byte exchanged to stderr.
    #[arg(long)]
    trace: bool,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Inject an inbound SMS, a fault or a clock step into a running simulator.
    Inject(InjectArgs),
}

#[derive(Debug, clap::Args)]
struct InjectArgs {
    /// The simulator's control socket (`relais sim --control SOCKET`).
    #[arg(long, value_name = "SOCKET")]
    control: PathBuf,
    /// Target modem (default: the first).
    #[arg(long)]
    modem: Option<String>,
    #[command(subcommand)]
    what: Injection,
}

#[derive(Debug, Subcommand)]
enum Injection {
    /// An SMS from a subscriber to the modem (long texts arrive as multipart).
    Sms {
        /// Sender number.
        #[arg(long)]
        from: String,
        /// Text.
        #[arg(long)]
        text: String,
    },
    /// A fault: reboot, sim-out, sim-in, network-loss, network-back, garble, drop.
    Fault {
        /// Fault kind.
        kind: String,
        /// Undo after this long (sim-out, network-loss, garble, drop), e.g. `30s`.
        #[arg(long)]
        duration: Option<String>,
        /// Per-byte chance for garble/drop.
        #[arg(long, default_value_t = 0.05)]
        probability: f64,
    },
    /// Move the virtual clock forward, e.g. `1h`.
    Advance {
        /// How far.
        by: String,
    },
    /// Print the simulator's virtual time.
    Time,
    /// Print each modem's state (power, SIM, registration, stored messages).
    Status,
}

/// Runs `relais sim`.
pub fn run(args: Args) -> ExitCode {
    let result = match args.action {
        Some(Action::Inject(a)) => inject(a),
        None => serve(args.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relais sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn inject(a: InjectArgs) -> Result<(), String> {
    let request = match a.what {
        Injection::Sms { from, text } => {
            json!({"cmd": "sms", "modem": a.modem, "from": from, "text": text})
        }
        Injection::Fault {
            kind,
            duration,
            probability,
        } => json!({"cmd": "fault", "modem": a.modem, "kind": kind,
                    "duration": duration, "probability": probability}),
        Injection::Advance { by } => json!({"cmd": "advance", "by": by}),
        Injection::Time => json!({"cmd": "time"}),
        Injection::Status => json!({"cmd": "status"}),
    };
    let answer = control::request(&a.control, &request)?;
    println!("{answer}");
    Ok(())
}

fn serve(a: ServeArgs) -> Result<(), String> {
    let mut scenario = match &a.scenario {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Scenario::default(),
    };
    if a.seed.is_some() {
        scenario.seed = a.seed;
    }
    if a.speed.is_some() {
        scenario.speed = a.speed;
    }
    let ledger = match &a.ledger {
        Some(p) => Ledger::open(p).map_err(|e| format!("ledger {}: {e}", p.display()))?,
        None => Ledger::none(),
    };
    let mut world = World::new(&scenario, ledger)?;
    if let Some(link) = &a.link {
        world.slots[0].link = Some(link.display().to_string());
    }
    if let Some(addr) = &a.tcp {
        let base: std::net::SocketAddr = addr.parse().map_err(|e| format!("--tcp {addr}: {e}"))?;
        for (i, slot) in world.slots.iter_mut().enumerate() {
            if slot.tcp.is_none() {
                let mut at = base;
                at.set_port(base.port().saturating_add(i as u16));
                slot.tcp = Some(at.to_string());
            }
        }
    }
    transport::install_signal_handlers();
    let mut ptys = Vec::new();
    let mut listeners = Vec::new();
    for (i, slot) in world.slots.iter().enumerate() {
        let name = format!("{} ({})", slot.modem.name(), slot.modem.config().profile);
        if let Some(addr) = &slot.tcp {
            let l = std::net::TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            let local = l.local_addr().map_err(|e| e.to_string())?;
            println!("modem {name}: tcp {local}");
            listeners.push((i, l));
        } else {
            let link = slot
                .link
                .clone()
                .unwrap_or_else(|| format!("/tmp/relais-sim-{}", slot.modem.name()));
            let pty = transport::Pty::open(std::path::Path::new(&link))
                .map_err(|e| format!("pty for {name} at {link}: {e}"))?;
            println!(
                "modem {name}: {} -> {}",
                pty.link.display(),
                pty.device.display()
            );
            ptys.push((i, pty));
        }
    }
    let control = match &a.control {
        Some(p) => {
            let s = control::ControlSocket::bind(p)
                .map_err(|e| format!("control socket {}: {e}", p.display()))?;
            println!("control: {}", p.display());
            Some(s)
        }
        None => None,
    };
    println!("ready");
    let world = Arc::new(Mutex::new(world));
    let mut threads = Vec::new();
    for (i, pty) in ptys {
        let w = Arc::clone(&world);
        threads.push(std::thread::spawn(move || {
            transport::serve_pty(w, i, pty, a.trace)
        }));
    }
    for (i, l) in listeners {
        let w = Arc::clone(&world);
        threads.push(std::thread::spawn(move || {
            transport::serve_tcp(w, i, l, a.trace)
        }));
    }
    if let Some(socket) = control {
        let w = Arc::clone(&world);
        threads.push(std::thread::spawn(move || control::serve(w, socket)));
    }
    for t in threads {
        let _ = t.join();
    }
    println!("stopped");
    Ok(())
}
