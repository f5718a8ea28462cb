//! Oracle: `chrono-tz` (IANA tzdata) agrees with relais-core's POSIX-style zone rules
//! for every hour of 2020–2040 in every zone the packs use, and in every IANA zone the
//! number tables fold onto one of ours (see `gen_number_tables.py`'s `ZONE_ALIAS`).

use chrono::{NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;
use relais_core::compliance::calendar::Date;
use relais_core::compliance::tz::{UtcInstant, Zone};

/// IANA zones libphonenumber lists that we carry under another zone with the same rule.
const ALIASES: &[(&str, Zone)] = &[
    ("America/Boise", Zone::AmericaDenver),
    ("America/Juneau", Zone::AmericaAnchorage),
    ("America/North_Dakota/Center", Zone::AmericaChicago),
    ("America/Fort_Nelson", Zone::AmericaPhoenix),
    ("Europe/Guernsey", Zone::EuropeLondon),
    ("Europe/Jersey", Zone::EuropeLondon),
    ("Europe/Isle_of_Man", Zone::EuropeLondon),
    ("Europe/Vatican", Zone::EuropeRome),
    ("Asia/Calcutta", Zone::AsiaKolkata),
];

const START: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z
const END: i64 = 2_240_611_200; // 2041-01-01T00:00:00Z

fn pairs() -> Vec<(String, Tz, Zone)> {
    let mut v: Vec<(String, Tz, Zone)> = Zone::ALL
        .iter()
        .map(|z| {
            (
                z.name().to_string(),
                z.name()
                    .parse::<Tz>()
                    .expect("chrono-tz knows every zone we carry"),
                *z,
            )
        })
        .collect();
    for (name, zone) in ALIASES {
        v.push((name.to_string(), name.parse().unwrap(), *zone));
    }
    v
}

#[test]
fn utc_to_local_agrees_every_hour_2020_2040() {
    let mut failures = Vec::new();
    for (name, tz, zone) in pairs() {
        let mut t = START;
        while t < END {
            let expected = tz.timestamp_opt(t, 0).unwrap();
            let offset = expected.offset().fix().local_minus_utc();
            let ours = zone.to_local(UtcInstant(t));
            let naive = expected.naive_local();
            let date_ok = Some(ours.date)
                == Date::new(naive.year_ce().1 as i32, naive.month_ce(), naive.day_ce());
            if ours.offset != offset || !date_ok || ours.seconds != naive.seconds_from_midnight() {
                failures.push(format!(
                    "{name} at {}: chrono {naive} ({offset}), ours {ours} ({})",
                    UtcInstant(t),
                    ours.offset
                ));
                break;
            }
            t += 3600;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn local_to_utc_agrees_every_hour_2020_2040() {
    let mut failures = Vec::new();
    for (name, tz, zone) in pairs() {
        let mut day = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2041, 1, 1).unwrap();
        'zone: while day < end {
            let date = Date::new(day.year_ce().1 as i32, day.month_ce(), day.day_ce()).unwrap();
            for hour in 0..24u32 {
                let wall = day.and_hms_opt(hour, 0, 0).unwrap();
                let ours = zone.from_local(date, i64::from(hour) * 3600).0;
                let expected = match tz.from_local_datetime(&wall).earliest() {
                    Some(dt) => dt.timestamp(),
                    // A gap: the first instant whose wall time is at or after `wall`.
                    None => {
                        let mut t = tz
                            .from_local_datetime(&(wall - chrono::Duration::hours(3)))
                            .earliest()
                            .unwrap()
                            .timestamp();
                        while tz.timestamp_opt(t, 0).unwrap().naive_local() < wall {
                            t += 60;
                        }
                        t
                    }
                };
                if ours != expected {
                    failures.push(format!(
                        "{name} {wall}: chrono {}, ours {}",
                        UtcInstant(expected),
                        UtcInstant(ours)
                    ));
                    break 'zone;
                }
            }
            day = day.succ_opt().unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

trait Ymd {
    fn year_ce(&self) -> (bool, u32);
    fn month_ce(&self) -> u8;
    fn day_ce(&self) -> u8;
}

impl<T: chrono::Datelike> Ymd for T {
    fn year_ce(&self) -> (bool, u32) {
        chrono::Datelike::year_ce(self)
    }
    fn month_ce(&self) -> u8 {
        chrono::Datelike::month(self) as u8
    }
    fn day_ce(&self) -> u8 {
        chrono::Datelike::day(self) as u8
    }
}

trait Secs {
    fn seconds_from_midnight(&self) -> u32;
}

impl Secs for chrono::NaiveDateTime {
    fn seconds_from_midnight(&self) -> u32 {
        chrono::Timelike::num_seconds_from_midnight(self)
    }
}
