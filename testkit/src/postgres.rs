//! A PostgreSQL server of the test's own: `initdb` into a temporary directory, `pg_ctl`
//! to start it on a unix socket in that directory (no TCP port), a fresh database per
//! test, and `pg_ctl stop` when the server is dropped (or, for the process-wide
//! [`Server::shared_or_skip`], when the test process exits).
//!
//! The binaries are Debian's (`apt-get install postgresql`): `RELAIS_PG_BIN` when set,
//! else the newest `/usr/lib/postgresql/<version>/bin`, else `pg_ctl` on the `PATH`.
//! PostgreSQL refuses to run as root; as root the server runs as the `postgres`
//! system user (the Debian package creates it), the client stays root.

use std::ffi::CString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::tier;

/// How to install what is missing.
pub const INSTALL: &str = "apt-get install postgresql (Debian/Ubuntu); or set RELAIS_PG_BIN to a PostgreSQL bin directory";

/// A running PostgreSQL server in a temporary directory.
#[derive(Debug)]
pub struct Server {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Also on TCP 127.0.0.1 with TLS (a certificate for `localhost` from a CA of the
    /// test's own, [`Server::ca_file`]).
    tls: bool,
    /// The system user the server runs as (`postgres` when the tests run as root).
    run_as: Option<(u32, u32)>,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// The directory holding `pg_ctl`, `initdb` and `postgres`.
pub fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RELAIS_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("pg_ctl").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
    })
}

/// The uid and gid of `name`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null, points to a valid passwd record.
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Server {
    /// Initialises and starts a new server, or says why it cannot.
    pub fn start() -> Result<Server, String> {
        Server::start_with(false)
    }

    /// A server that also listens on TCP 127.0.0.1 with TLS (certificates made with
    /// `openssl`): connect to `localhost` at [`Server::port`] with
    /// `sslrootcert=`[`Server::ca_file`].
    pub fn start_tls() -> Result<Server, String> {
        Server::start_with(true)
    }

    fn start_with(tls: bool) -> Result<Server, String> {
        let bin =
            find_bin().ok_or_else(|| "PostgreSQL's pg_ctl and initdb not found".to_string())?;
        let run_as = if is_root() {
            Some(user_ids("postgres").ok_or_else(|| {
                "running as root and there is no `postgres` system user for the server to run as (useradd --system postgres)".to_string()
            })?)
        } else {
            None
        };
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("relais-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = run_as {
            let c = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
            // SAFETY: a valid C string path; chown has no other preconditions.
            if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
                return Err(format!(
                    "cannot give {} to the postgres user",
                    dir.display()
                ));
            }
        }
        // Without TLS, ports only name the socket file (no TCP): any number will do,
        // one per server so that two servers of one process never share a name. With
        // TLS the server listens on TCP too: a port free now.
        let port = if tls {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free TCP port: {e}"))?
                .port()
        } else {
            15432 + (n % 1000) as u16
        };
        let server = Server {
            dir,
            bin,
            port,
            tls,
            run_as,
        };
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args([
                "-U",
                "relais",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(describe("initdb", &out));
        }
        if tls {
            server.make_certificates()?;
        }
        server.start_again()?;
        Ok(server)
    }

    /// [`Server::start`], or a loud skip naming `test` (a failure with `CI=true`).
    pub fn start_or_skip(test: &str) -> Option<Server> {
        match Server::start() {
            Ok(s) => Some(s),
            Err(why) => {
                tier::skip(test, &why, INSTALL);
                None
            }
        }
    }

    /// One server for every test of this process, stopped when the process exits; a
    /// loud skip naming `test` (a failure with `CI=true`) when there is none.
    pub fn shared_or_skip(test: &str) -> Option<&'static Server> {
        static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            let s = Server::start();
            if s.is_ok() {
                extern "C" fn stop_shared() {
                    if let Some(Ok(s)) = SHARED.get() {
                        s.shut_down();
                    }
                }
                // SAFETY: registering a plain function to run at exit.
                unsafe { libc::atexit(stop_shared) };
            }
            s
        });
        match shared {
            Ok(s) => Some(s),
            Err(why) => {
                tier::skip(test, why, INSTALL);
                None
            }
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA, and a certificate for `localhost` it signs, in the server's directory
    /// (the key readable by the server's user only, as PostgreSQL demands).
    fn make_certificates(&self) -> Result<(), String> {
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("openssl")
                .current_dir(&self.dir)
                .args(args)
                .output()
                .map_err(|e| format!("cannot run openssl: {e}"))?;
            if !out.status.success() {
                return Err(describe(&format!("openssl {}", args[0]), &out));
            }
            Ok(())
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=relais test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])?;
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ])?;
        std::fs::write(
            self.dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .map_err(|e| e.to_string())?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ])?;
        for file in ["server.key", "server.crt"] {
            let path = self.dir.join(file);
            let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
            // SAFETY: a valid C string path.
            unsafe { libc::chmod(c.as_ptr(), 0o600) };
            if let Some((uid, gid)) = self.run_as {
                // SAFETY: a valid C string path.
                unsafe { libc::chown(c.as_ptr(), uid, gid) };
            }
        }
        Ok(())
    }

    /// A command of the server's bin directory, run as the server's user.
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid).gid(gid).env("HOME", &self.dir);
        }
        c
    }

    /// The directory holding the server's socket (`host=` in a connection string).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The socket's port number.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgres://` URL for database `db` as the superuser `relais`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://relais@/{db}?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    /// Creates a new empty database and returns its URL.
    pub fn fresh_database(&self) -> Result<String, String> {
        let name = format!("relais_t{}", DATABASES.fetch_add(1, Ordering::Relaxed));
        self.sql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// Runs `sql` with `psql` in database `db`; returns what it printed (unaligned,
    /// tuples only).
    pub fn sql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "relais",
                "-h",
            ])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(describe(&format!("psql -c {sql:?}"), &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Starts the (stopped) server again on the same data and socket.
    pub fn start_again(&self) -> Result<(), String> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(if self.tls {
                format!(
                    "-c listen_addresses=127.0.0.1 -k {dir} -p {} -F -c max_connections=200 \
                     -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
                    self.port,
                    dir = self.dir.display(),
                )
            } else {
                format!(
                    "-c listen_addresses='' -k {} -p {} -F -c max_connections=200",
                    self.dir.display(),
                    self.port
                )
            })
            .args(["-w", "-t", "60", "start"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{}\nserver log:\n{}",
                describe("pg_ctl start", &out),
                self.log()
            ));
        }
        Ok(())
    }

    /// Stops the server (`fast`: sessions are ended, transactions rolled back).
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl_stop("fast")
    }

    /// Stops and starts the server, as an operator restarting it would.
    pub fn restart(&self) -> Result<(), String> {
        self.stop()?;
        self.start_again()
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "-t", "60", "stop"])
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(describe("pg_ctl stop", &out));
        }
        Ok(())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Stops the server at once and removes its directory.
    fn shut_down(&self) {
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_of_its_own_answers_and_restarts() {
        let Some(server) = Server::start_or_skip("testkit::postgres") else {
            return;
        };
        let url = server.fresh_database().unwrap();
        let db = url
            .split('/')
            .nth(3)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        server
            .sql(&db, "CREATE TABLE t (n BIGINT); INSERT INTO t VALUES (41)")
            .unwrap();
        server.restart().unwrap();
        assert_eq!(server.sql(&db, "SELECT n + 1 FROM t").unwrap(), "42");
        let dir = server.socket_dir().to_owned();
        drop(server);
        assert!(!dir.exists(), "the server's directory is removed");
    }
}
