//! `relais pdu`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("relais pdu: not built yet");
    ExitCode::from(2)
}
