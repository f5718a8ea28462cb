//! Oracle: the Python `holidays` package (pinned in `.ci/requirements.txt`) agrees with
//! relais-core's holiday calendars for every day 2020–2040 (or the span a lunar table
//! covers, up to its last covered day), for every country and subdivision we compute. The differences that remain are deliberate and
//! listed in [`DELIBERATE`] with the reason; the test fails if a difference appears
//! that is not listed, or a listed one disappears.

use std::collections::BTreeSet;
use std::process::Command;

use relais_core::compliance::calendar::{Calendar, Date, calendars};
use relais_tests::tier;

/// (our calendars, python-holidays country, subdivision or "").
const CASES: &[(&[&Calendar], &str, &str)] = &[
    (&[&calendars::FR], "FR", ""),
    (&[&calendars::FR, &calendars::FR_ALSACE_MOSELLE], "FR", "57"),
    (
        &[&calendars::FR, &calendars::FR_ALSACE_MOSELLE],
        "FR",
        "6AE",
    ),
    (&[&calendars::FR, &calendars::FR_GP], "FR", "971"),
    (&[&calendars::FR, &calendars::FR_MQ], "FR", "972"),
    (&[&calendars::FR, &calendars::FR_GF], "FR", "973"),
    (&[&calendars::FR, &calendars::FR_RE], "FR", "974"),
    (&[&calendars::FR, &calendars::FR_YT], "FR", "976"),
    (&[&calendars::FR, &calendars::FR_NC], "FR", "NC"),
    (&[&calendars::FR, &calendars::FR_PM], "FR", "PM"),
    (&[&calendars::FR, &calendars::FR_PF], "FR", "PF"),
    (&[&calendars::US], "US", ""),
    (&[&calendars::BR], "BR", ""),
    (&[&calendars::ZA], "ZA", ""),
    (&[&calendars::KE], "KE", ""),
    (&[&calendars::NG], "NG", ""),
];

/// Differences kept on purpose: (case such as "FR-PF", date, '+' ours only or '-'
/// python only, reason). Not compared: Saint-Barthélemy and Saint-Martin (+590 cannot
/// tell them from Guadeloupe, whose larger set of extras relais applies to all three)
/// and the US state calendars (the state overlays that ban holidays use the federal
/// calendar). KE and NG are compared over the span their lunar tables cover (KE
/// 2020-01-01 to 2026-12-31, NG 2020-01-01 to 2026-03-20); their table dates follow the
/// governments' declarations, which python-holidays mostly agrees with. For KE
/// python-holidays files Idd-ul-Azha under its `islamic` category, though the Kenya
/// Gazette declares it a public holiday every year: KE is compared with both categories.
const DELIBERATE: &[(&str, &str, char, &str)] = &[
    (
        "NG",
        "2021-05-12",
        '+',
        "declared with 13 May for Eid al-Fitr by the Minister of Interior on 10 May 2021",
    ),
    (
        "NG",
        "2024-04-09",
        '+',
        "declared with 10 April for Eid al-Fitr on 7 April 2024 (11 April added later)",
    ),
];

/// The python-holidays categories to compare with (default: public only).
fn categories(country: &str) -> &'static str {
    if country == "KE" {
        "public,islamic"
    } else {
        ""
    }
}

const SCRIPT: &str = r#"
import json, sys, holidays
out = {}
for arg in sys.argv[1:]:
    country, subdiv, first, last, cats = arg.split(":")
    h = holidays.country_holidays(country, subdiv=subdiv or None,
                                  years=range(int(first[:4]), int(last[:4]) + 1),
                                  categories=tuple(cats.split(",")) if cats else None)
    out[arg] = sorted(d.isoformat() for d in h.keys() if first <= d.isoformat() <= last)
print(json.dumps(out))
"#;

fn python_holidays() -> Option<serde_json::Value> {
    let args: Vec<String> = CASES.iter().map(|(cals, c, s)| arg(cals, c, s)).collect();
    let out = match Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(&args)
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            tier::skip(
                "compliance_holidays_oracle",
                &format!(
                    "python3 cannot run the holidays package ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                "python3 -m pip install -r .ci/requirements.txt",
            );
            return None;
        }
        Err(e) => {
            tier::skip(
                "compliance_holidays_oracle",
                &format!("python3 not found ({e})"),
                "install Python 3",
            );
            return None;
        }
    };
    Some(serde_json::from_slice(&out.stdout).expect("the script prints JSON"))
}

/// 2020-01-01 to 2040-12-31, cut to the span the calendars' lunar tables cover (KE, NG).
fn span(cals: &[&Calendar]) -> (Date, Date) {
    let start = Date::new(2020, 1, 1).unwrap();
    let end = Date::new(2040, 12, 31).unwrap();
    cals.iter()
        .filter_map(|c| c.table)
        .fold((start, end), |(a, b), t| {
            let first = Date::new(t.first_year, 1, 1).unwrap();
            (a.max(first), b.min(t.last_day))
        })
}

fn arg(cals: &[&Calendar], country: &str, subdiv: &str) -> String {
    let (first, last) = span(cals);
    let cats = categories(country);
    format!("{country}:{subdiv}:{first}:{last}:{cats}")
}

fn ours(cals: &[&Calendar]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let (first, last) = span(cals);
    let mut day = first;
    while day <= last {
        for cal in cals {
            if cal.holiday(day).expect("covered by the span").is_some() {
                set.insert(day.to_string());
            }
        }
        day = day.add_days(1);
    }
    set
}

#[test]
fn python_holidays_agrees_2020_2040() {
    let Some(py) = python_holidays() else { return };
    let mut found = BTreeSet::new();
    for (cals, country, subdiv) in CASES {
        let case = if subdiv.is_empty() {
            country.to_string()
        } else {
            format!("{country}-{subdiv}")
        };
        let theirs: BTreeSet<String> = py[arg(cals, country, subdiv)]
            .as_array()
            .expect("a list of dates")
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        let ours = ours(cals);
        for d in ours.difference(&theirs) {
            found.insert((case.clone(), d.clone(), '+'));
        }
        for d in theirs.difference(&ours) {
            found.insert((case.clone(), d.clone(), '-'));
        }
    }
    let expected: BTreeSet<(String, String, char)> = DELIBERATE
        .iter()
        .map(|(c, d, s, _)| (c.to_string(), d.to_string(), *s))
        .collect();
    let unexpected: Vec<_> = found.difference(&expected).collect();
    let gone: Vec<_> = expected.difference(&found).collect();
    assert!(
        unexpected.is_empty() && gone.is_empty(),
        "undocumented differences (+ ours only, - python only): {unexpected:?}\nlisted but gone: {gone:?}"
    );
}
