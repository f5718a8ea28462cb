//! Repository tasks shared by `cargo xtask` and the test harness in `tests/`.
//!
//! - [`toolchain`]: which toolchain builds Cortex-M code on this machine (the rustup
//!   target when installed, otherwise Debian's `rustc-web` with `-Z build-std=core`).
//! - [`firmware`]: building a board binary and the `no_std` crates for the target.
//! - [`size`]: flash and RAM use read from an ELF file.
//! - [`uf2`]: UF2 files, for boards flashed by copying a file (the Pico).

pub mod firmware;
pub mod size;
pub mod toolchain;
pub mod uf2;

use std::path::PathBuf;

/// The repository root (the directory holding the top-level `Cargo.toml`).
pub fn repo_root() -> PathBuf {
    let xtask_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask_dir
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

/// The Cortex-M target every `no_std` crate and the QEMU board build for (each board's
/// own target is in [`firmware::BOARDS`]).
pub const TARGET: &str = "thumbv7m-none-eabi";
