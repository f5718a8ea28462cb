//! Choosing the toolchain that builds Cortex-M code (`thumbv7m-none-eabi` for the QEMU
//! board and the `no_std` checks, `thumbv6m-none-eabi` for the Pico).
//!
//! On a normal machine that is rustup's toolchain with the target installed
//! (`rustup target add thumbv7m-none-eabi thumbv6m-none-eabi`). Where rustup cannot download targets,
//! Debian 12 packages a recent compiler with the standard library sources
//! (`rustc-web cargo-web rust-web-src lld-22`): `core` is then built from source with
//! `-Z build-std=core`, and `lld-22` makes Debian's `rust-lld` able to link.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TARGET;

/// Environment variable that forces a choice: `rustup` or `debian` (default: auto).
pub const OVERRIDE_VAR: &str = "RELAIS_FIRMWARE_TOOLCHAIN";

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";

/// What the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Preference {
    /// The rustup target when installed, else the Debian fallback.
    Auto,
    /// Only the rustup target.
    Rustup,
    /// Only the Debian fallback.
    Debian,
}

impl Preference {
    /// The preference from [`OVERRIDE_VAR`], or `Auto` when unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(OVERRIDE_VAR).as_deref() {
            Err(_) | Ok("") | Ok("auto") => Ok(Self::Auto),
            Ok("rustup") => Ok(Self::Rustup),
            Ok("debian") => Ok(Self::Debian),
            Ok(other) => Err(format!(
                "{OVERRIDE_VAR}={other}: expected auto, rustup or debian"
            )),
        }
    }
}

/// A toolchain able to build for a Cortex-M target ([`TARGET`] unless said otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// A cargo whose rustc has the target's prebuilt standard library.
    Rustup { cargo: PathBuf, rustc: PathBuf },
    /// Debian's `rustc-web`, building `core` from `rust-web-src`.
    DebianBuildStd,
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rustup { rustc, .. } => {
                write!(f, "rustup target ({})", version_of(rustc))
            }
            Self::DebianBuildStd => write!(
                f,
                "Debian fallback ({}, -Z build-std=core)",
                version_of(Path::new(DEBIAN_RUSTC))
            ),
        }
    }
}

impl Toolchain {
    /// Picks a toolchain for [`TARGET`] according to `preference`, or explains what to
    /// install.
    pub fn select(preference: Preference) -> Result<Self, String> {
        Self::select_for(preference, TARGET)
    }

    /// Picks a toolchain for `target` according to `preference`, or explains what to
    /// install. The Debian fallback builds `core` from source, so it serves any target.
    pub fn select_for(preference: Preference, target: &str) -> Result<Self, String> {
        let rustup = rustup_with_target(target);
        let debian = debian_fallback();
        match (preference, rustup, debian) {
            (Preference::Auto | Preference::Rustup, Ok(t), _) => Ok(t),
            (Preference::Auto | Preference::Debian, _, Ok(t)) => Ok(t),
            (Preference::Rustup, Err(why), _) => Err(why),
            (Preference::Debian, _, Err(why)) => Err(why),
            (Preference::Auto, Err(rustup), Err(debian)) => Err(format!(
                "no toolchain can build {target}:\n  - {rustup}\n  - {debian}\n\
                 Install one: `rustup target add {target}`, or on Debian 12 \
                 `apt-get install rustc-web cargo-web rust-web-src lld-22`."
            )),
        }
    }

    /// A `cargo` command for this toolchain with a clean environment: nothing inherited
    /// from an outer cargo (as when a test builds firmware) may change target, flags or
    /// compiler.
    pub fn cargo(&self) -> Command {
        let program = match self {
            Self::Rustup { cargo, .. } => cargo.clone(),
            Self::DebianBuildStd => PathBuf::from(DEBIAN_CARGO),
        };
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            if inherited_var_is_unsafe(key) {
                cmd.env_remove(key);
            }
        }
        match self {
            Self::Rustup { rustc, .. } => {
                cmd.env("RUSTC", rustc);
            }
            Self::DebianBuildStd => {
                cmd.env("RUSTC", DEBIAN_RUSTC)
                    .env("RUSTDOC", "/usr/bin/rustdoc")
                    // build-std is unstable; Debian's stable compiler accepts it this way.
                    .env("RUSTC_BOOTSTRAP", "1");
                // The Cortex-M targets link with `rust-lld`, which Debian's rustc-web does
                // not ship: LLVM's own `ld.lld` (package lld-22) takes the same arguments.
                if let Some(lld) = debian_linker() {
                    for target in CORTEX_M_TARGETS {
                        let var = format!(
                            "CARGO_TARGET_{}_LINKER",
                            target.to_uppercase().replace('-', "_")
                        );
                        cmd.env(var, &lld);
                    }
                }
            }
        }
        cmd
    }

    /// Extra `cargo build` arguments this toolchain needs for a Cortex-M target.
    pub fn build_args(&self) -> &'static [&'static str] {
        match self {
            Self::Rustup { .. } => &[],
            Self::DebianBuildStd => &["-Z", "build-std=core"],
        }
    }

    /// Short name for logs and reports: `rustup` or `debian`.
    pub fn short_name(&self) -> &'static str {
        match self {
            Self::Rustup { .. } => "rustup",
            Self::DebianBuildStd => "debian",
        }
    }
}

/// Variables an outer cargo or the user may set that would change how the firmware
/// builds (flags meant for the host, another compiler, another target directory).
fn inherited_var_is_unsafe(key: &str) -> bool {
    const KEEP: &[&str] = &["CARGO_HOME", "CARGO_TERM_COLOR", "CARGO_TERM_PROGRESS_WHEN"];
    const KEEP_PREFIXES: &[&str] = &[
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
    ];
    if KEEP.contains(&key) || KEEP_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return false;
    }
    key.starts_with("CARGO")
        || key.starts_with("__CARGO")
        || key.starts_with("RUSTC")
        || key.starts_with("RUSTDOC")
        || key == "RUSTFLAGS"
        || key == "RUSTUP_TOOLCHAIN"
}

fn rustup_with_target(target: &str) -> Result<Toolchain, String> {
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let rustc = sibling_rustc(&cargo);
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .map_err(|e| format!("{}: {e}", rustc.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} does not know the target {target}",
            rustc.display()
        ));
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if has_libcore(&libdir) {
        Ok(Toolchain::Rustup { cargo, rustc })
    } else {
        Err(format!(
            "rustup target {target} is not installed ({} has no libcore)",
            libdir.display()
        ))
    }
}

/// The `rustc` that belongs to `cargo`: next to it when `cargo` is a real toolchain
/// binary (as `$CARGO` is under cargo), else whatever `rustc` is on `PATH`.
fn sibling_rustc(cargo: &Path) -> PathBuf {
    let sibling = cargo.with_file_name("rustc");
    if cargo.components().count() > 1 && sibling.is_file() {
        sibling
    } else {
        PathBuf::from("rustc")
    }
}

fn has_libcore(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

fn debian_fallback() -> Result<Toolchain, String> {
    if !Path::new(DEBIAN_RUSTC).is_file() || !Path::new(DEBIAN_CARGO).is_file() {
        return Err(format!(
            "Debian fallback missing: {DEBIAN_RUSTC} / {DEBIAN_CARGO} (packages rustc-web, cargo-web)"
        ));
    }
    let sysroot = Command::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("{DEBIAN_RUSTC}: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let core_src = sysroot.join("lib/rustlib/src/rust/library/core");
    if !core_src.is_dir() {
        return Err(format!(
            "Debian fallback missing: {} (package rust-web-src)",
            core_src.display()
        ));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let rust_lld = std::env::split_paths(&path).any(|dir| dir.join("rust-lld").is_file());
    if !rust_lld && debian_linker().is_none() {
        return Err(
            "Debian fallback missing a linker: no rust-lld, no /usr/lib/llvm-22/bin/ld.lld (package lld-22)"
                .to_owned(),
        );
    }
    Ok(Toolchain::DebianBuildStd)
}

/// The targets whose linker [`debian_linker`] stands in for.
const CORTEX_M_TARGETS: &[&str] = &["thumbv6m-none-eabi", "thumbv7m-none-eabi"];

/// The linker for Debian's compiler: nothing when a `rust-lld` is on `PATH`, else
/// lld-22's `ld.lld`.
fn debian_linker() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("rust-lld").is_file()) {
        return None;
    }
    ["/usr/lib/llvm-22/bin/ld.lld", "/usr/bin/ld.lld-22"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn version_of(rustc: &Path) -> String {
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| rustc.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_cargo_variables_are_not_inherited() {
        for key in [
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_MANIFEST_DIR",
            "RUSTFLAGS",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            "__CARGO_FIX_PLZ",
        ] {
            assert!(inherited_var_is_unsafe(key), "{key} must be removed");
        }
        for key in [
            "CARGO_HOME",
            "CARGO_NET_OFFLINE",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "PATH",
            "HOME",
        ] {
            assert!(!inherited_var_is_unsafe(key), "{key} must be kept");
        }
    }

    #[test]
    fn sibling_rustc_needs_a_real_path() {
        assert_eq!(sibling_rustc(Path::new("cargo")), PathBuf::from("rustc"));
    }
}
