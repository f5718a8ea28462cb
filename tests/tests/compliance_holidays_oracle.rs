//! Oracle: the Python `holidays` package (pinned in `.ci/requirements.txt`) agrees with
//! relais-core's holiday calendars for every year 2020–2040 (or the years a lunar table
//! covers), for every country and subdivision we compute. The differences that remain are deliberate and
//! listed in [`DELIBERATE`] with the reason; the test fails if a difference appears
//! that is not listed, or a listed one disappears.

use std::collections::BTreeSet;
use std::process::Command;

use relais_core::compliance::calendar::{Calendar, calendars};
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
/// python only, reason). None remain for the calendars compared here. Not compared:
/// Saint-Barthélemy and Saint-Martin (+590 cannot tell them from Guadeloupe, whose
/// larger set of extras relais applies to all three) and the US state calendars (the
/// state overlays that ban holidays use the federal calendar). KE and NG are compared
/// for the years their lunar tables cover (KE 2020–2026, NG 2020–2025); their table
/// dates come from python-holidays, so the check there is on the computed part and
/// the weekend moves.
const DELIBERATE: &[(&str, &str, char, &str)] = &[];

const SCRIPT: &str = r#"
import json, sys, holidays
out = {}
for arg in sys.argv[1:]:
    country, subdiv, first, last = arg.split(":")
    h = holidays.country_holidays(country, subdiv=subdiv or None, years=range(int(first), int(last) + 1))
    out[arg] = sorted(d.isoformat() for d in h.keys())
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

/// 2020–2040, cut to the years the calendars' lunar tables cover (KE, NG).
fn years(cals: &[&Calendar]) -> (i32, i32) {
    cals.iter()
        .filter_map(|c| c.table)
        .fold((2020, 2040), |(a, b), t| {
            (a.max(t.first_year), b.min(t.last_year))
        })
}

fn arg(cals: &[&Calendar], country: &str, subdiv: &str) -> String {
    let (first, last) = years(cals);
    format!("{country}:{subdiv}:{first}:{last}")
}

fn ours(cals: &[&Calendar]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let (first, last) = years(cals);
    for year in first..=last {
        for cal in cals {
            cal.for_each_in_year(year, |d, _| {
                set.insert(d.to_string());
            })
            .expect("computed calendars never run out");
        }
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
