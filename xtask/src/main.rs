//! `cargo xtask <task>`: repository tasks. Run `cargo xtask --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::firmware::{self, BoardBuild};
use xtask::size::parse_bytes;
use xtask::toolchain::{OVERRIDE_VAR, Preference, Toolchain};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "relais repository tasks")]
struct Cli {
    /// Toolchain for Cortex-M builds (also settable with RELAIS_FIRMWARE_TOOLCHAIN).
    #[arg(long, value_enum, global = true)]
    toolchain: Option<Preference>,
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build a board's firmware (release) and print its flash and RAM use against the
    /// board's budget.
    Firmware {
        /// Board directory under boards/.
        #[arg(long, default_value = firmware::QEMU_BOARD)]
        board: String,
        /// Comma-separated cargo features of the board crate.
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
        /// Flash budget: fail when the firmware uses more (bytes, or with K/M suffix;
        /// default: the board's).
        #[arg(long, value_parser = parse_bytes)]
        max_flash: Option<u64>,
        /// Static RAM budget: fail when data + bss use more (default: the board's).
        #[arg(long, value_parser = parse_bytes)]
        max_ram: Option<u64>,
        /// Also write a UF2 file next to the ELF (boards with a UF2 boot loader).
        #[arg(long)]
        uf2: bool,
    },
    /// Build the no_std crates (relais-core, relais-agent) for thumbv7m-none-eabi.
    Nostd,
    /// Print which toolchain Cortex-M builds would use, and why.
    Toolchain,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let preference = match cli.toolchain {
        Some(p) => p,
        None => Preference::from_env()?,
    };
    match cli.task {
        Task::Toolchain => {
            let toolchain = Toolchain::select(preference)?;
            println!("{toolchain}");
            println!("(override with --toolchain or {OVERRIDE_VAR}=auto|rustup|debian)");
            Ok(())
        }
        Task::Nostd => {
            let toolchain = Toolchain::select(preference)?;
            eprintln!("toolchain: {toolchain}");
            firmware::check_no_std(&toolchain)?;
            println!(
                "no_std: {} build for {} with {toolchain}",
                firmware::NO_STD_CRATES.join(", "),
                xtask::TARGET
            );
            Ok(())
        }
        Task::Firmware {
            board,
            features,
            max_flash,
            max_ram,
            uf2,
        } => {
            let spec = firmware::board(&board)?;
            let toolchain = Toolchain::select_for(preference, spec.target)?;
            eprintln!("toolchain: {toolchain}");
            let features: Vec<&str> = features.iter().map(String::as_str).collect();
            let fw = firmware::build_board(&BoardBuild::new(&board, &features), &toolchain)?;
            println!("firmware: {} ({board}, {})", fw.elf.display(), spec.target);
            println!("built with: {}", fw.toolchain);
            println!("{}", fw.size);
            check_budget(
                "flash",
                fw.size.flash(),
                max_flash.unwrap_or(spec.flash_budget),
            )?;
            check_budget("RAM", fw.size.ram(), max_ram.unwrap_or(spec.ram_budget))?;
            if uf2 {
                let path = firmware::write_uf2(&fw, spec)?;
                println!("uf2: {}", path.display());
            }
            Ok(())
        }
    }
}

fn check_budget(what: &str, used: u64, limit: u64) -> Result<(), String> {
    if used > limit {
        return Err(format!(
            "{what} use {used} bytes exceeds the budget of {limit} bytes"
        ));
    }
    println!(
        "{what} budget: {used} of {limit} bytes ({:.1}%, {} bytes free)",
        used as f64 * 100.0 / limit as f64,
        limit - used
    );
    Ok(())
}
