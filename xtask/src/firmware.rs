//! Building board binaries and checking the `no_std` crates for the Cortex-M target.

use std::path::PathBuf;
use std::process::Command;

use crate::size::SizeReport;
use crate::toolchain::Toolchain;
use crate::{TARGET, repo_root};

/// The board the CI and the test harness boot under QEMU.
pub const QEMU_BOARD: &str = "qemu-lm3s6965";
/// The Raspberry Pi Pico (RP2040), run under rp2040js by the test harness.
pub const PICO_BOARD: &str = "rp-pico";

/// What the tasks know about each board under `boards/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Directory name under `boards/`.
    pub name: &'static str,
    /// The Rust target it builds for.
    pub target: &'static str,
    /// Flash the firmware may use, in bytes: the size report shows the use against it.
    pub flash_budget: u64,
    /// Static RAM (data + bss) the firmware may use; the stack takes the rest.
    pub ram_budget: u64,
    /// UF2 family id, for boards flashed by copying a UF2 file.
    pub uf2_family: Option<u32>,
}

/// Every board.
pub const BOARDS: &[Board] = &[
    // Budgeted as a 128 KiB-flash / 20 KiB-RAM part (docs/budget.md), smaller than
    // the LM3S6965 itself: the firmware must fit the cheap parts.
    Board {
        name: QEMU_BOARD,
        target: TARGET,
        flash_budget: 128 * 1024,
        ram_budget: 20 * 1024,
        uf2_family: None,
    },
    // memory.x: boot2 and the firmware take the 2 MiB chip less the store (256 KiB);
    // RAM is the RP2040's 264 KiB.
    Board {
        name: PICO_BOARD,
        target: "thumbv6m-none-eabi",
        flash_budget: 2048 * 1024 - 256 * 1024,
        ram_budget: 264 * 1024,
        uf2_family: Some(crate::uf2::RP2040_FAMILY),
    },
];

/// The board called `name`.
pub fn board(name: &str) -> Result<&'static Board, String> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("no board `{name}` (boards: {})", names.join(", "))
    })
}

/// What to build: a board directory under `boards/`, with optional cargo features.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BoardBuild {
    /// Directory name under `boards/`, e.g. `qemu-lm3s6965`.
    pub board: String,
    /// Cargo features of the board crate.
    pub features: Vec<String>,
}

impl BoardBuild {
    /// The QEMU board with its default features.
    pub fn qemu() -> Self {
        Self::new(QEMU_BOARD, &[])
    }

    /// The Pico board with its default features.
    pub fn pico() -> Self {
        Self::new(PICO_BOARD, &[])
    }

    /// The Rust target of this build's board ([`TARGET`] for a board not in
    /// [`BOARDS`], which `build_board` then refuses).
    pub fn target(&self) -> &'static str {
        board(&self.board).map_or(TARGET, |b| b.target)
    }

    /// `board` with `features` enabled.
    pub fn new(board: &str, features: &[&str]) -> Self {
        Self {
            board: board.to_owned(),
            features: features.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// Each feature set gets its own target directory so that alternating builds (as
    /// the test harness does) do not rebuild each other.
    fn target_dir(&self, toolchain: &Toolchain) -> PathBuf {
        let mut name = toolchain.short_name().to_owned();
        for feature in &self.features {
            name.push('+');
            name.push_str(feature);
        }
        repo_root().join("boards/target").join(name)
    }
}

/// A built firmware image.
#[derive(Clone, Debug)]
pub struct Firmware {
    /// The linked ELF file.
    pub elf: PathBuf,
    /// The toolchain that built it.
    pub toolchain: Toolchain,
    /// Its flash and RAM use.
    pub size: SizeReport,
}

/// Builds `build` (release profile, for its board's target) with `toolchain` and reads
/// its size. `toolchain` must serve that target ([`Toolchain::select_for`]).
///
/// Cargo's output goes to this process's stderr so that long builds show progress.
pub fn build_board(build: &BoardBuild, toolchain: &Toolchain) -> Result<Firmware, String> {
    let target = board(&build.board)?.target;
    let manifest = repo_root()
        .join("boards")
        .join(&build.board)
        .join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "no board `{}` ({} missing)",
            build.board,
            manifest.display()
        ));
    }
    let target_dir = build.target_dir(toolchain);
    let mut cmd = toolchain.cargo();
    cmd.current_dir(repo_root().join("boards"))
        .args(["build", "--release", "--target", target])
        .args(toolchain.build_args())
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--message-format", "json-render-diagnostics"]);
    if !build.features.is_empty() {
        cmd.arg("--features").arg(build.features.join(","));
    }
    let elf = run_and_find_executable(cmd)?;
    let size = SizeReport::from_elf(&elf)?;
    Ok(Firmware {
        elf,
        toolchain: toolchain.clone(),
        size,
    })
}

/// Writes `fw` as a UF2 file beside its ELF (`relais-rp-pico.uf2`) and returns its path.
/// The image must lie in the board's firmware flash (below the store).
pub fn write_uf2(fw: &Firmware, board: &Board) -> Result<PathBuf, String> {
    let family = board
        .uf2_family
        .ok_or_else(|| format!("board `{}` has no UF2 boot loader", board.name))?;
    let elf = std::fs::read(&fw.elf).map_err(|e| format!("{}: {e}", fw.elf.display()))?;
    // Boot2 and the firmware: the flash from its start up to the store.
    let base = crate::uf2::RP2040_FLASH_BASE;
    let end = base + u32::try_from(board.flash_budget).map_err(|_| "budget too large")?;
    let uf2 = crate::uf2::from_elf(&elf, family, base..end)
        .map_err(|e| format!("{}: {e}", fw.elf.display()))?;
    let path = fw.elf.with_extension("uf2");
    std::fs::write(&path, uf2).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Runs a `cargo build --message-format json-render-diagnostics` and returns the path of
/// the (single) executable it produced.
fn run_and_find_executable(mut cmd: Command) -> Result<PathBuf, String> {
    let output = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("firmware build failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .find_map(executable_of)
        .ok_or_else(|| "cargo reported no executable for the board".to_owned())
}

/// The `"executable":"…"` field of one cargo JSON message, when it names a file.
fn executable_of(line: &str) -> Option<PathBuf> {
    const KEY: &str = "\"executable\":\"";
    let start = line.find(KEY)? + KEY.len();
    let end = start + line[start..].find('"')?;
    let path = &line[start..end];
    (!path.is_empty()).then(|| PathBuf::from(path.replace("\\\\", "\\")))
}

/// The crates that must build for [`TARGET`] without an allocator.
pub const NO_STD_CRATES: &[&str] = &["relais-core", "relais-agent"];

/// Builds each of [`NO_STD_CRATES`] for [`TARGET`], with and without its `defmt` feature.
///
/// With the Debian fallback only `core` is built from source, so any use of `alloc`
/// or `std` fails the build; with the rustup target `alloc` exists in the sysroot, and
/// the crates' `#![no_std]` without `extern crate alloc` is what keeps it out.
pub fn check_no_std(toolchain: &Toolchain) -> Result<(), String> {
    let target_dir = repo_root()
        .join("target/cross")
        .join(toolchain.short_name());
    for features in [None, Some("defmt")] {
        let mut cmd = toolchain.cargo();
        cmd.current_dir(repo_root())
            .args(["build", "--release", "--target", TARGET])
            .args(toolchain.build_args())
            .arg("--target-dir")
            .arg(&target_dir);
        for krate in NO_STD_CRATES {
            cmd.args(["--package", krate]);
        }
        if let Some(features) = features {
            let list: Vec<String> = NO_STD_CRATES
                .iter()
                .map(|k| format!("{k}/{features}"))
                .collect();
            cmd.arg("--features").arg(list.join(","));
        }
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "{} failed to build for {TARGET} (features: {})",
                NO_STD_CRATES.join(", "),
                features.unwrap_or("none")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_is_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"x"},"executable":"/b/t/release/fw","fresh":true}"#;
        assert_eq!(executable_of(line), Some(PathBuf::from("/b/t/release/fw")));
        let lib = r#"{"reason":"compiler-artifact","executable":null}"#;
        assert_eq!(executable_of(lib), None);
    }

    #[test]
    fn each_board_has_its_target_and_unknown_boards_are_refused() {
        assert_eq!(BoardBuild::qemu().target(), "thumbv7m-none-eabi");
        assert_eq!(BoardBuild::pico().target(), "thumbv6m-none-eabi");
        for b in BOARDS {
            assert!(
                repo_root()
                    .join("boards")
                    .join(b.name)
                    .join("Cargo.toml")
                    .is_file()
            );
        }
        let err = board("arduino-uno").unwrap_err();
        assert!(
            err.contains("qemu-lm3s6965") && err.contains("rp-pico"),
            "{err}"
        );
    }

    #[test]
    fn feature_sets_do_not_share_a_target_directory() {
        let t = Toolchain::DebianBuildStd;
        let plain = BoardBuild::qemu().target_dir(&t);
        let panicky = BoardBuild::new(QEMU_BOARD, &["selftest-panic"]).target_dir(&t);
        assert_ne!(plain, panicky);
    }
}
