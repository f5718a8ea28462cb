//! Skipping tests whose tools are missing: loudly on a developer machine, never in CI.
//!
//! The README's test command runs every tier. A developer without `qemu-system-arm`
//! still gets the other tiers, plus a banner on the terminal (written past the test
//! harness's output capture) naming what was skipped and how to install it. With
//! `CI=true` the same situation is a test failure.

use std::io::Write;

/// True when running in CI (`CI` set to anything but `false`/`0`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Reports that `test` cannot run because `missing`, with `install` as the remedy.
///
/// In CI this panics (the test fails). Elsewhere it prints a banner to the process's
/// real stderr, bypassing the capture of `cargo test`, and the caller returns early.
pub fn skip(test: &str, missing: &str, install: &str) {
    let message = format!("{test}: {missing}. Install: {install}");
    if in_ci() {
        panic!("CI=true and a required tool is missing: {message}");
    }
    let banner = "=".repeat(78);
    let mut err = std::io::stderr().lock();
    // Ignore write errors: a closed stderr must not turn a skip into a panic.
    let _ = writeln!(err, "\n{banner}\nSKIPPED {message}\n{banner}");
}
