//! The store's readers of text and bytes that come from outside: the `database`
//! setting (`relais::store::Location`, shown with its password hidden), the statements'
//! parameter rewriting for PostgreSQL, the schema's PostgreSQL form, PostgreSQL's
//! binary NUMERIC from the server, and the configuration's durations. None may panic; a
//! password never shows; text without `?` is not rewritten; the schema keeps its lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais::config::parse_duration;
use relais::store::Location;
use relais::store::db::{decode_numeric, postgres_sql};
use relais::store::schema;

fuzz_target!(|data: &[u8]| {
    let _ = decode_numeric(data);
    let text = String::from_utf8_lossy(data);
    let _ = parse_duration(&text);
    let _ = Location::parse(&text, std::path::Path::new("/etc/relais")).to_string();
    if !text.contains("S3CR3T") {
        let url = format!("postgres://user:S3CR3T@{text}");
        let shown = Location::parse(&url, std::path::Path::new("")).to_string();
        assert!(!shown.contains("S3CR3T"), "{shown}");
    }
    let rewritten = postgres_sql(&text);
    if !text.contains('?') {
        assert_eq!(rewritten, text, "nothing to rewrite");
    }
    let pg = schema::postgres(&text);
    assert_eq!(pg.lines().count(), text.lines().count(), "one line per line");
});
