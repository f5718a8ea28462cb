//! Test support shared by the host's unit tests and the end-to-end tests.
//!
//! - [`tier`]: how a test that needs an external tool skips (loudly) or fails (in CI).
//! - [`postgres`]: a PostgreSQL server the test starts itself (Debian's `postgresql`:
//!   `initdb` and `pg_ctl` in a temporary directory, a unix socket, no TCP).

pub mod postgres;
pub mod tier;
