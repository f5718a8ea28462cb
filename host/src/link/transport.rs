//! Byte streams to the device: a serial port (a real UART, a USB adapter, or a pty
//! such as the one QEMU prints, or a symlink to one), or TCP (the QEMU harness wires
//! the board's UARTs to TCP).
//!
//! The link client opens its stream through a [`Connector`], again after every loss,
//! so a restarted QEMU or a replugged adapter is picked up without the caller's help.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream the link runs over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// An open stream, type-erased.
pub type BoxIo = Box<dyn Io>;

/// The future a [`Connector`] returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<BoxIo>> + Send>>;

/// Opens the stream to the device; called once at start and again after each loss.
///
/// Implemented by [`Endpoint`] and by any `FnMut() -> impl Future<Output =
/// io::Result<BoxIo>>` closure (tests hand in in-memory pipes this way).
pub trait Connector: Send + 'static {
    /// Opens a new stream.
    fn connect(&mut self) -> ConnectFuture;
}

impl<F, Fut> Connector for F
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<BoxIo>> + Send + 'static,
{
    fn connect(&mut self) -> ConnectFuture {
        Box::pin(self())
    }
}

/// Speed of a serial line, in bit/s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baud(pub u32);

impl Default for Baud {
    /// 115 200 bit/s, the board's UART setting.
    fn default() -> Self {
        Baud(115_200)
    }
}

/// Where the device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A serial port or pty path (symlinks are followed).
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0` or `/dev/pts/7`.
        path: PathBuf,
        /// Line speed (ignored by ptys).
        baud: Baud,
    },
    /// A TCP server, `HOST:PORT`.
    Tcp(String),
}

/// A link spec that names no endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSpec(pub String);

impl fmt::Display for BadSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad link spec {:?}: expected a serial port path or tcp:HOST:PORT",
            self.0
        )
    }
}

impl std::error::Error for BadSpec {}

impl Endpoint {
    /// Reads a link spec: `tcp:HOST:PORT` for TCP, anything else is a serial port
    /// path opened at `baud`.
    ///
    /// ```
    /// use relais::link::transport::{Baud, Endpoint};
    /// assert_eq!(
    ///     Endpoint::parse("tcp:127.0.0.1:4000", Baud::default()).unwrap(),
    ///     Endpoint::Tcp("127.0.0.1:4000".into())
    /// );
    /// assert!(matches!(
    ///     Endpoint::parse("/dev/ttyACM0", Baud(9600)).unwrap(),
    ///     Endpoint::Serial { baud: Baud(9600), .. }
    /// ));
    /// ```
    pub fn parse(spec: &str, baud: Baud) -> Result<Endpoint, BadSpec> {
        if let Some(addr) = spec.strip_prefix("tcp:") {
            let port_ok = addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            return if port_ok {
                Ok(Endpoint::Tcp(addr.to_string()))
            } else {
                Err(BadSpec(spec.to_string()))
            };
        }
        if spec.is_empty() {
            return Err(BadSpec(spec.to_string()));
        }
        Ok(Endpoint::Serial {
            path: PathBuf::from(spec),
            baud,
        })
    }

    /// Opens the stream once.
    pub async fn open(&self) -> io::Result<BoxIo> {
        match self {
            Endpoint::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr.as_str()).await?;
                // Frames are small and latency matters more than packet count.
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
            Endpoint::Serial { path, baud } => open_serial(path, *baud),
        }
    }
}

fn open_serial(path: &std::path::Path, baud: Baud) -> io::Result<BoxIo> {
    use tokio_serial::SerialPortBuilderExt;
    // serialport takes a string path; resolve symlinks (e.g. a stable link to the pty
    // QEMU printed) so the error names the real device.
    let real = std::fs::canonicalize(path)?;
    let name = real.to_string_lossy().into_owned();
    let port = tokio_serial::new(name, baud.0)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(io::Error::from)?;
    Ok(Box::new(port))
}

/// Takes each stream from connections to `listener`: for a device that connects to
/// the host, e.g. QEMU started with `-serial tcp:HOST:PORT` (client mode), as the QEMU
/// test harness wires UARTs. After a loss the client waits for the next connection.
pub fn accept_from(listener: tokio::net::TcpListener) -> impl Connector {
    let listener = std::sync::Arc::new(listener);
    move || {
        let listener = listener.clone();
        async move {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxIo)
        }
    }
}

/// The longest a serial line at `baud` takes to carry what must cross it before an
/// acknowledgement can come back: one full host frame and the device's window of four
/// full frames queued ahead of its answer (10 bits per byte, 8N1).
pub fn line_delay(baud: Baud) -> std::time::Duration {
    let frames = 5 * relais_core::link::msg::MAX_FRAME as u64;
    let bits = frames * 10;
    std::time::Duration::from_millis(bits * 1000 / u64::from(baud.0.max(1)))
}

impl Connector for Endpoint {
    fn connect(&mut self) -> ConnectFuture {
        let endpoint = self.clone();
        Box::pin(async move { endpoint.open().await })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Serial { path, baud } => write!(f, "{} at {} bit/s", path.display(), baud.0),
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            Endpoint::parse("tcp:localhost:5555", Baud::default()),
            Ok(Endpoint::Tcp("localhost:5555".into()))
        );
        assert_eq!(
            Endpoint::parse("tcp:[::1]:7", Baud::default()),
            Ok(Endpoint::Tcp("[::1]:7".into()))
        );
        assert_eq!(
            line_delay(Baud(115_200)).as_millis(),
            5 * 809 * 10 * 1000 / 115_200
        );
        for bad in ["tcp:", "tcp:host", "tcp::80", "tcp:h:99999", ""] {
            assert!(Endpoint::parse(bad, Baud::default()).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse("/tmp/relais-link", Baud(57_600)),
            Ok(Endpoint::Serial {
                path: "/tmp/relais-link".into(),
                baud: Baud(57_600)
            })
        );
    }
}
