//! Import of a large contact list into a campaign (`relais campaign import`): rows per
//! second and the process's peak memory. Not criterion: one import of a million rows
//! takes seconds, and peak memory is a property of one run, so this prints a measured
//! report instead.
//!
//! `cargo bench -p relais --bench import` (1,000,000 rows; `RELAIS_IMPORT_ROWS=N` to
//! change).

use std::io::Write;
use std::time::Instant;

use relais::campaign::{ImportSpec, import};
use relais::store::{NewCampaign, Store};
use relais_core::compliance::decision::Class;
use relais_core::compliance::tz::UtcInstant;

fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: keep that fast.
    let full = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::var("RELAIS_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 2_000 });
    let dir = std::env::temp_dir().join(format!("relais-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv_path = dir.join("contacts.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).expect("csv"));
        writeln!(f, "number,first_name,last_name,consent,department,city").expect("write");
        for i in 0..rows {
            writeln!(
                f,
                "+336{:08},Prénom{i},Nom{i},{},{},Ville{}",
                i,
                if i % 3 == 0 { "yes" } else { "no" },
                1 + i % 95,
                i % 100
            )
            .expect("write");
        }
    }
    let size = std::fs::metadata(&csv_path).map(|m| m.len()).unwrap_or(0);
    let before = peak_rss_kib();
    let mut store = Store::open(&dir.join("relais.db")).expect("store");
    let spec = ImportSpec {
        brand: "Acme".into(),
        consent_source: "bench".into(),
        campaign: Some(NewCampaign {
            name: "bench".into(),
            template: "Bonjour {first_name}, -20% à {city} ce week-end".into(),
            class: Class::Marketing,
            brand: "Acme".into(),
            categories: String::new(),
        }),
        not_before: None,
        expires: None,
        strict: false,
    };
    let start = Instant::now();
    let file =
        std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&csv_path).expect("open"));
    let outcome = import(
        &mut store,
        file,
        &spec,
        UtcInstant(1_780_000_000),
        &mut |_| {},
    )
    .expect("import");
    let secs = start.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    assert_eq!(outcome.accepted, rows, "every generated row is valid");
    let db = std::fs::metadata(dir.join("relais.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.join("relais.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "import: {rows} rows ({:.1} MiB CSV) in {secs:.2} s = {:.0} rows/s; contacts + consent + one job each, one transaction",
        size as f64 / 1048576.0,
        rows as f64 / secs
    );
    println!(
        "import: peak RSS {:.1} MiB (before the import {:.1} MiB); database {:.1} MiB",
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        db as f64 / 1048576.0
    );
    postgres(&csv_path, &spec, rows);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same import into PostgreSQL (a server of the bench's own: COPY into a
/// temporary table, then one statement per table), when PostgreSQL is installed.
fn postgres(csv_path: &std::path::Path, spec: &ImportSpec, rows: u64) {
    let server = match relais_testkit::postgres::Server::start() {
        Ok(s) => s,
        Err(e) => {
            println!("import (PostgreSQL): not measured: {e}");
            return;
        }
    };
    let url = server.fresh_database().expect("database");
    let mut store =
        Store::open_at(&relais::store::Location::Postgres(url)).expect("PostgreSQL store");
    let file =
        std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(csv_path).expect("open"));
    let start = Instant::now();
    let outcome = import(
        &mut store,
        file,
        spec,
        UtcInstant(1_780_000_000),
        &mut |_| {},
    )
    .expect("import into PostgreSQL");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(outcome.accepted, rows, "every generated row is valid");
    let size: i64 = store
        .db()
        .query_value(
            "SELECT pg_database_size(current_database())",
            relais::store::db::params![],
        )
        .unwrap_or(0);
    println!(
        "import (PostgreSQL {}): {rows} rows in {secs:.2} s = {:.0} rows/s; COPY into a temporary table, then contacts, consent, jobs and their history, one transaction; database {:.1} MiB",
        server
            .sql("postgres", "SHOW server_version")
            .unwrap_or_default(),
        rows as f64 / secs,
        size as f64 / 1048576.0
    );
}
