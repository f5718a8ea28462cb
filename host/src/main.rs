//! `relais`: the host program. See the README for the commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use relais::commands::{self, daemon, finish};
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
    /// The whole story on the simulator in virtual time: campaign, quiet hours, STOP, report.
    Demo(relais::demo::DemoArgs),
    /// Queue one SMS (sent by `relais run` or `relais direct`).
    Send(commands::SendArgs),
    /// Import a contact list as a campaign; start, pause, resume, cancel, status.
    Campaign(commands::CampaignArgs),
    /// Import, list and remove contacts.
    Contacts(commands::ContactsArgs),
    /// List, add, remove, import and export opt-outs (STOP).
    Optout(commands::OptoutArgs),
    /// Record and list consent, with its source.
    Consent(commands::ConsentArgs),
    /// The daemon: send due messages through relais devices and store what they report.
    Run(daemon::RunArgs),
    /// The daemon with the device agent in this process, on a GSM modem's serial port.
    Direct(daemon::DirectArgs),
    /// Sent, delivered, failed, deferred, refused, opt-outs, latency, per hour.
    Report(commands::ReportArgs),
    /// Devices, queue and campaigns on one screen.
    Status(commands::StatusArgs),
    /// Print an example configuration, or check one.
    Config(commands::ConfigArgs),
    /// Encode, decode and count SMS PDUs (3GPP TS 23.040).
    Pdu(pdu::Args),
    /// Ask the compliance core what it decides for a message, and why.
    Policy(policy::Args),
    /// Run a simulated GSM modem and operator on a pty or TCP (docs/sim.md).
    Sim(Box<sim::Args>),
    /// The HTTP gateway with the daemon: Kannel sendsms, JSON API, webhooks, dashboard.
    Serve(relais::http::server::ServeArgs),
    /// The callbacks and webhooks of `relais serve`: list, retry dead letters, prune.
    Callbacks(commands::callbacks::CallbacksArgs),
    /// Talk to a relais device over its serial or TCP link (handshake, status).
    Device(link::cli::Args),
    /// Print the versions of the host program and of the core and agent it embeds.
    Info,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(a) => finish("demo", relais::demo::run(a)),
        Command::Send(a) => finish("send", commands::send(a)),
        Command::Campaign(a) => finish("campaign", commands::campaign(a)),
        Command::Contacts(a) => finish("contacts", commands::contacts(a)),
        Command::Optout(a) => finish("optout", commands::optout(a)),
        Command::Consent(a) => finish("consent", commands::consent(a)),
        Command::Run(a) => finish("run", daemon::run(a)),
        Command::Direct(a) => finish("direct", daemon::direct(a)),
        Command::Report(a) => finish("report", commands::report(a)),
        Command::Status(a) => finish("status", commands::status(a)),
        Command::Config(a) => finish("config", commands::config(a)),
        Command::Serve(a) => finish("serve", relais::http::server::run(a)),
        Command::Callbacks(a) => finish("callbacks", commands::callbacks::callbacks(a)),
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
