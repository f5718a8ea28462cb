//! Every information-response and error-code parser of `relais_core::at` accepts any
//! line without panicking, and what it accepts is in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::at::command::general::{CclkRead, CpinRead, RegistrationRead};
use relais_core::at::command::sms::{Cmgl, Cmgr, Cmgs, Cpms};
use relais_core::at::{CmeError, CmsError, Domain, Memory, fields};

fuzz_target!(|line: &[u8]| {
    let _ = Cmgs::parse(line);
    let _ = Cmgr::parse(line);
    let _ = Cmgl::parse(line);
    let _ = Cpms::parse(line);
    let _ = CpinRead::parse(line);
    for domain in [Domain::Cs, Domain::Ps, Domain::Eps] {
        let _ = RegistrationRead(domain).parse(line);
    }
    if let Some(clock) = CclkRead::parse(line) {
        assert!((1..=12).contains(&clock.month) && (1..=31).contains(&clock.day));
        assert!(clock.hour < 24 && clock.minute < 60 && clock.second <= 60);
        assert!((2000..=2099).contains(&clock.year));
    }
    let cms = CmsError::parse(line);
    let _ = (cms.code(), cms.class(), cms.to_string());
    let cme = CmeError::parse(line);
    let _ = (cme.code(), cme.class(), cme.to_string());
    if let Some(memory) = Memory::parse(line) {
        assert!(!memory.as_bytes().is_empty() && memory.as_bytes().len() <= 4);
    }
    for field in fields::Fields::new(line).take(64) {
        let _ = fields::parse_u16(field);
    }
});
