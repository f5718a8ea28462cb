//! `relais campaign import` on arbitrary bytes: the CSV reader, the column mapping,
//! number/consent/department/zone validation, template parsing and rendering, and the
//! store writes. It must never panic, and the store must agree with the outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais::campaign::{ImportSpec, import, placeholders};
use relais::store::{NewCampaign, Store};
use relais_core::compliance::decision::Class;
use relais_core::compliance::tz::UtcInstant;

fuzz_target!(|data: &[u8]| {
    // The first line is the template, the rest the CSV file.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let template = String::from_utf8_lossy(&data[..split]).into_owned();
    let csv = data.get(split + 1..).unwrap_or(&[]);
    let _ = placeholders(&template);
    let Ok(mut store) = Store::open_in_memory() else {
        return;
    };
    let spec = ImportSpec {
        brand: "Acme".into(),
        consent_source: "fuzz".into(),
        campaign: Some(NewCampaign {
            name: "fuzz".into(),
            template,
            class: Class::Marketing,
            brand: "Acme".into(),
            categories: String::new(),
        }),
        not_before: None,
        expires: None,
        strict: false,
    };
    match import(&mut store, csv, &spec, UtcInstant(1_780_000_000), &mut |_| {}) {
        Ok(outcome) => {
            assert!(outcome.accepted <= outcome.rows);
            let jobs: u64 = store
                .job_counts(outcome.campaign)
                .unwrap()
                .iter()
                .map(|(_, n)| n)
                .sum();
            assert_eq!(jobs, outcome.accepted);
        }
        Err(_) => {
            assert_eq!(store.contact_count().unwrap(), 0, "a failed import stores nothing");
        }
    }
});
