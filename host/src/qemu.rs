//! The relais firmware under QEMU, for `relais demo --device qemu`: finds
//! `qemu-system-arm` and the firmware ELF, and boots the `lm3s6965evb` machine with
//! UART0 (the host link) connecting to a TCP listener of ours and UART1 (the modem) on a
//! serial device or pty. The firmware keeps its flash image in `relais-flash.bin` in
//! QEMU's working directory (semihosting). The test harness (`relais-tests`) has the
//! full version with defmt log decoding; this one discards the log.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where `cargo xtask firmware` puts the QEMU board's ELF, per toolchain.
const BUILDS: [&str; 2] = [
    "boards/target/rustup/thumbv7m-none-eabi/release/relais-qemu-lm3s6965",
    "boards/target/debian/thumbv7m-none-eabi/release/relais-qemu-lm3s6965",
];

/// `qemu-system-arm` from `RELAIS_QEMU` or the `PATH`.
pub fn find_qemu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RELAIS_QEMU") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("qemu-system-arm"))
            .find(|p| p.is_file())
    })
}

/// The firmware ELF: `RELAIS_FIRMWARE`, else the newest build of this checkout.
pub fn find_firmware() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RELAIS_FIRMWARE") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    BUILDS
        .iter()
        .map(|b| root.join(b))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// A running QEMU; killed when dropped.
#[derive(Debug)]
pub struct Qemu {
    child: Child,
}

impl Qemu {
    /// Boots `elf` in `workdir`: UART0 connects to `host_link` (accept it with
    /// [`crate::link::accept_from`]), UART1 opens the serial device `modem`.
    pub fn boot(
        qemu: &Path,
        elf: &Path,
        workdir: &Path,
        host_link: &TcpListener,
        modem: &Path,
    ) -> Result<Qemu, String> {
        let port = host_link
            .local_addr()
            .map_err(|e| format!("host link listener: {e}"))?
            .port();
        let modem = std::fs::canonicalize(modem)
            .map_err(|e| format!("modem port {}: {e}", modem.display()))?;
        let child = Command::new(qemu)
            .current_dir(workdir)
            .args(["-cpu", "cortex-m3", "-machine", "lm3s6965evb"])
            .args(["-display", "none", "-monitor", "none", "-nodefaults"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args([
                "-chardev",
                &format!("socket,id=uart0,host=127.0.0.1,port={port},nodelay=on"),
            ])
            .args(["-serial", "chardev:uart0"])
            .args([
                "-chardev",
                &format!("serial,id=uart1,path={}", modem.display()),
            ])
            .args(["-serial", "chardev:uart1"])
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", qemu.display()))?;
        Ok(Qemu { child })
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
