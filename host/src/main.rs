//! `relais`: the host program. See the README for the commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use relais::{link, pdu, policy, sim};

/// relais: send and receive SMS through a GSM modem, with compliance rules enforced
/// on the host and again on the device.
#[derive(Debug, Parser)]
#[command(name = "relais", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encode, decode and count SMS PDUs (3GPP TS 23.040).
    Pdu(pdu::Args),
    /// Ask the compliance core what it decides for a message, and why.
    Policy(policy::Args),
    /// Run a simulated GSM modem and operator on a pty or TCP (docs/sim.md).
    Sim(Box<sim::Args>),
    /// Talk to a relais device over its serial or TCP link (handshake, status).
    Device(link::cli::Args),
    /// Print the versions of the host program and of the core and agent it embeds.
    Info,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Pdu(args) => pdu::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Sim(args) => sim::run(*args),
        Command::Device(args) => link::cli::run(args),
        Command::Info => {
            println!("relais {}", env!("CARGO_PKG_VERSION"));
            println!("relais-core {}", relais_core::VERSION);
            println!("relais-agent {}", relais_agent::VERSION);
            ExitCode::SUCCESS
        }
    }
}
