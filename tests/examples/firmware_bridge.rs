//! Boots the relais firmware under QEMU and shows it bridging the host link (UART0)
//! and the modem (UART1): an AT exchange, then a throughput run in both directions.
//!
//! `cargo run -p relais-tests --example firmware_bridge`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use relais_tests::qemu::{self, BoardBuild, Guest, GuestConfig};

const TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if qemu::qemu_binary().is_none() {
        return Err("qemu-system-arm not found: apt-get install qemu-system-arm".into());
    }
    let firmware = qemu::firmware(&BoardBuild::new(xtask::firmware::QEMU_BOARD, &["bridge"]))?;
    println!("firmware:   {}", firmware.elf.display());
    println!("built with: {}", firmware.toolchain);
    println!(
        "size:       {} bytes flash, {} bytes static RAM",
        firmware.size.flash(),
        firmware.size.ram()
    );
    println!("booting under qemu-system-arm (lm3s6965evb); firmware log lines start with [fw]");

    let mut guest = Guest::boot(&firmware, GuestConfig::default())?;
    guest.wait_for_log("passthrough:", TIMEOUT)?;
    let mut host = guest.host_link().tcp()?.try_clone()?;
    let mut modem = guest.modem().tcp()?.try_clone()?;
    host.set_read_timeout(Some(TIMEOUT))?;
    modem.set_read_timeout(Some(TIMEOUT))?;

    let command = b"AT+CGMI\r";
    host.write_all(command)?;
    println!("host  -> UART0  {:?}", String::from_utf8_lossy(command));
    let seen = read_n(&mut modem, command.len())?;
    println!("UART1 -> modem  {:?}", String::from_utf8_lossy(&seen));
    let reply = b"\r\nrelais simulated modem\r\n\r\nOK\r\n";
    modem.write_all(reply)?;
    println!("modem -> UART1  {:?}", String::from_utf8_lossy(reply));
    let seen = read_n(&mut host, reply.len())?;
    println!("UART0 -> host   {:?}", String::from_utf8_lossy(&seen));

    const BULK: usize = 64 * 1024;
    let data: Vec<u8> = (0..BULK).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    let mut host_tx = host.try_clone()?;
    let up = data.clone();
    let writer = std::thread::spawn(move || host_tx.write_all(&up));
    let got = read_n(&mut modem, BULK)?;
    writer.join().map_err(|_| "writer thread panicked")??;
    let elapsed = started.elapsed();
    if got != data {
        return Err("bulk transfer corrupted".into());
    }
    println!(
        "bulk: {} KiB host -> modem intact in {:.0} ms ({:.0} KiB/s through the emulated UARTs)",
        BULK / 1024,
        elapsed.as_secs_f64() * 1000.0,
        BULK as f64 / 1024.0 / elapsed.as_secs_f64()
    );
    // The firmware's own counters agree (it reports them once a second).
    let counted = format!("{} bytes host->modem", BULK + command.len());
    let line = guest.wait_for_log(&counted, TIMEOUT)?;
    println!("firmware counted: {}", line.message);
    guest.shutdown();
    println!("QEMU stopped.");
    Ok(())
}

fn read_n(stream: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}
