//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, and names the linker scripts:
//! cortex-m-rt's, embassy-rp's `.boot2` placement and defmt's.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    // Here rather than in .cargo/config.toml, so that builds from the repository root
    // (`cargo xtask firmware --board rp-pico`) and from this folder link alike.
    for arg in [
        "--nmagic",
        "-Tlink.x",
        "-Tlink-rp.x",
        "-Tdefmt.x",
        // Identical code folded, as for the QEMU board (docs/budget.md).
        "--icf=all",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
