//! AT command syntax (3GPP TS 27.005 / 27.007, ITU-T V.250) and a sans-I/O response parser.
//!
//! - [`command`]: typed commands with their default timeouts, grouped by specification.
//! - [`Parser`]: feed it the modem's bytes one at a time (or in slices), get [`Event`]s:
//!   echoes, the `> ` prompt, information responses, [`Final`] result codes and [`Urc`]s,
//!   which may arrive at any point, including inside a command's response.
//! - [`CmsError`] / [`CmeError`]: typed error codes that keep unknown ones, with an
//!   [`ErrorClass`] telling retry-later from permanent.
//! - [`fields`]: lenient splitting of response parameters.
//!
//! No allocation, no I/O, no panics on any input (the fuzz targets in `fuzz/` check it).

pub mod command;
pub mod error;
pub mod fields;
pub mod parser;
pub mod urc;

pub use command::{Command, CommandLine, Millis};
pub use error::{CmeError, CmsError, ErrorClass};
pub use parser::{Event, Final, Parser};
pub use urc::{Domain, Memory, RegStatus, SimState, Slot, Urc};
