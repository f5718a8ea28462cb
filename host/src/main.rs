//! `relais`: the host program. See the README for the commands.

use clap::{Parser, Subcommand};

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
    /// Print the versions of the host program and of the core and agent it embeds.
    Info,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Info => {
            println!("relais {}", env!("CARGO_PKG_VERSION"));
            println!("relais-core {}", relais_core::VERSION);
            println!("relais-agent {}", relais_agent::VERSION);
        }
    }
}
