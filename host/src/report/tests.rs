//! The report's numbers on a small store, and each format written from them.

use std::collections::BTreeMap;

use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{BrandId, Event, EventId, KeywordKind, Scope, bounded};

use super::query::rank;
use super::*;
use crate::store::testing::both_engines;
use crate::store::{BrandNames, Change, NewCampaign, NewJob, OptOut, RetryPolicy};

/// 2026-05-28T20:00:00Z, on an hour boundary.
pub(super) const T0: UtcInstant = UtcInstant(1_779_998_400);

fn number(n: usize) -> String {
    format!("+336123456{n:02}")
}

fn new_job(number: String) -> NewJob {
    NewJob {
        number,
        text: "Hello".into(),
        class: Class::Marketing,
        brand: "Acme".into(),
        categories: String::new(),
        department: None,
        consent: ConsentStatus::OptedIn,
        not_before: None,
        expires: None,
    }
}

/// Creates campaign `name` with jobs for `numbers`; returns the job ids in order.
fn campaign(s: &mut Store, name: &str, numbers: &[String]) -> Vec<i64> {
    let id = s
        .create_campaign(
            &NewCampaign {
                name: name.into(),
                template: "Hello".into(),
                class: Class::Marketing,
                brand: "Acme".into(),
                categories: String::new(),
            },
            &numbers
                .iter()
                .map(|n| new_job(n.clone()))
                .collect::<Vec<_>>(),
            T0,
        )
        .unwrap();
    s.db()
        .query_map(
            "SELECT id FROM jobs WHERE campaign_id = ?1 ORDER BY id",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

fn mv(s: &mut Store, id: i64, state: JobState, at: i64, change: Change<'_>) {
    s.transition(id, state, T0.plus(at), &change, "test")
        .unwrap();
}

fn submit(s: &mut Store, id: i64, at: i64) {
    let change = Change {
        device: Some("dev"),
        stamp: Some("submitted_at"),
        ..Default::default()
    };
    mv(s, id, JobState::Submitted, at, change);
}

fn send(s: &mut Store, id: i64, at: i64) {
    submit(s, id, at);
    let change = Change {
        stamp: Some("sent_at"),
        ..Default::default()
    };
    mv(s, id, JobState::Sent, at + 60, change);
}

/// Sent at `at + 60`, delivered `latency` seconds later.
fn deliver(s: &mut Store, id: i64, at: i64, latency: i64) {
    send(s, id, at);
    let change = Change {
        stamp: Some("delivered_at"),
        ..Default::default()
    };
    mv(s, id, JobState::Delivered, at + 60 + latency, change);
}

fn with_rule<'a>(rule: &'a str, reason: Option<&'a str>) -> Change<'a> {
    Change {
        rule: Some(rule),
        reason,
        ..Default::default()
    }
}

/// Campaign "spring" (10 jobs): 5 delivered (latencies 10, 20, 30, 40, 3600 s), 1
/// undelivered, 1 sent, 1 deferred and 1 held by fr.quiet-hours, 1 refused by
/// core.optout. Campaign "autumn" (3 jobs): 1 refused by fr.quiet-hours, 1 failed
/// cms-500, 1 queued. One job outside campaigns, expired. Opt-outs: STOP (tier 1,
/// spring number, by SMS), STOPALL (tier 2, other number, by SMS), a cli one (spring
/// number) and an import one before the campaigns were created; a HELP keyword from
/// a spring number; one inbound message from a spring number.
fn fixture() -> Store {
    fixture_in(Store::open_in_memory().unwrap())
}

/// [`fixture`] in `s`.
fn fixture_in(mut s: Store) -> Store {
    let spring = campaign(&mut s, "spring", &(0..10).map(number).collect::<Vec<_>>());
    let autumn = campaign(&mut s, "autumn", &(10..13).map(number).collect::<Vec<_>>());
    let single = s.insert_job(&new_job(number(13)), T0).unwrap();

    for (id, latency) in spring.iter().zip([10, 20, 30, 40, 3600]) {
        deliver(&mut s, *id, 0, latency);
    }
    send(&mut s, spring[5], 0);
    mv(
        &mut s,
        spring[5],
        JobState::Undelivered,
        200,
        Change {
            reason: Some("failed"),
            ..Default::default()
        },
    );
    send(&mut s, spring[6], 0);
    mv(
        &mut s,
        spring[7],
        JobState::Deferred,
        0,
        with_rule("fr.quiet-hours", None),
    );
    mv(
        &mut s,
        spring[8],
        JobState::Refused,
        0,
        with_rule("core.optout", Some("opted-out")),
    );
    submit(&mut s, spring[9], 0);
    mv(
        &mut s,
        spring[9],
        JobState::Held,
        3605,
        with_rule("fr.quiet-hours", None),
    );

    mv(
        &mut s,
        autumn[0],
        JobState::Refused,
        0,
        with_rule("fr.quiet-hours", Some("no-open-slot")),
    );
    submit(&mut s, autumn[1], 0);
    mv(
        &mut s,
        autumn[1],
        JobState::Failed,
        30,
        Change {
            reason: Some("cms-500"),
            ..Default::default()
        },
    );
    mv(&mut s, single, JobState::Expired, 0, Change::default());

    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let keyword = |from: &str, kind, word: &str, tier, scope| Event::Keyword {
        from: Msisdn::parse(from).unwrap(),
        kind,
        keyword: bounded(word),
        tier,
        scope,
        confirmed: true,
    };
    let events = [
        keyword(
            &number(0),
            KeywordKind::OptOut,
            "STOP",
            1,
            Some(Scope::Brand(BrandId::of("Acme"))),
        ),
        keyword(
            "+33699999999",
            KeywordKind::OptOut,
            "STOPALL",
            2,
            Some(Scope::All),
        ),
        keyword(&number(3), KeywordKind::Help, "INFO", 1, None),
        Event::Inbound {
            from: bounded(&number(0)),
            text: bounded("STOP"),
            at: T0.plus(150),
            truncated: false,
        },
    ];
    for (i, e) in events.iter().enumerate() {
        s.apply_event(
            "dev",
            (relais_core::link::msg::EventEpoch(1), EventId(i as u32 + 1)),
            e,
            T0.plus(200),
            &brands,
            &retry,
        )
        .unwrap();
    }
    let optout = |number: String, source: &str, at| OptOut {
        number,
        brand: "Acme".into(),
        keyword: None,
        tier: None,
        source: source.into(),
        at,
    };
    s.add_optout(&optout(number(1), "cli", T0.plus(300)))
        .unwrap();
    s.add_optout(&optout(number(2), "import:old.csv", T0.plus(-100)))
        .unwrap();
    s
}

both_engines! {
fn counts_per_state_agree_with_the_jobs(s) {
    let s = fixture_in(s);
    let r = build(&s, None).unwrap();
    let expected = [
        (JobState::Queued, 1),
        (JobState::Deferred, 1),
        (JobState::Held, 1),
        (JobState::Sent, 1),
        (JobState::Delivered, 5),
        (JobState::Undelivered, 1),
        (JobState::Failed, 1),
        (JobState::Refused, 2),
        (JobState::Expired, 1),
    ];
    for state in JobState::ALL {
        let want = expected
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n);
        assert_eq!(r.states.get(state), want, "{}", state.name());
    }
    assert_eq!(r.jobs, 14);
    assert_eq!(r.states.iter().map(|(_, n)| n).sum::<u64>(), 14);
    // The store's own per-state count agrees.
    for (state, n) in s.job_counts(None).unwrap() {
        assert_eq!(r.states.get(state), n);
    }
    assert_eq!(r.submitted, 9);
    assert_eq!(r.sent, 7);
    assert_eq!(r.delivered, 5);
    assert_eq!(r.undelivered, 1);
    assert_eq!(r.pending, 3);
    assert_eq!(r.deferred, 2);
    assert_eq!(r.refused, 2);
    assert_eq!(r.expired, 1);
    assert_eq!(r.cancelled, 0);
    assert_eq!(r.unknown, 0);
    assert_eq!(
        r.failed_by_reason,
        [ReasonCount {
            reason: "cms-500".into(),
            count: 1
        }]
    );
    assert_eq!(
        r.period,
        Some(Period {
            from: T0.to_string(),
            to: T0.plus(3660).to_string()
        })
    );

    let spring = build(&s, Some("spring")).unwrap();
    assert_eq!(spring.jobs, 10);
    assert_eq!(spring.states.get(JobState::Delivered), 5);
    assert_eq!(spring.states.get(JobState::Failed), 0);
    assert_eq!(spring.pending, 2);
    assert_eq!(spring.campaign.as_ref().unwrap().name, "spring");
    assert!(spring.campaigns.is_empty());
}}

both_engines! {
fn delivery_rate_and_latency_percentiles(s) {
    let s = fixture_in(s);
    let r = build(&s, None).unwrap();
    let rate = r.delivery_rate.unwrap();
    assert!((rate - 5.0 / 7.0).abs() < 1e-12, "{rate}");
    assert_eq!(
        r.latency,
        Some(Latency {
            samples: 5,
            p50_s: 30,
            p90_s: 3600,
            p99_s: 3600,
            max_s: 3600
        })
    );
    let autumn = build(&s, Some("autumn")).unwrap();
    assert_eq!(autumn.sent, 0);
    assert_eq!(autumn.delivery_rate, None);
    assert_eq!(autumn.latency, None);

    // 100 deliveries with latencies 1..=100 s, stored out of order.
    let mut s = crate::store::testing::fresh_like(&s);
    let ids = campaign(&mut s, "bulk", &(0..100).map(number).collect::<Vec<_>>());
    for (i, id) in ids.iter().enumerate() {
        deliver(&mut s, *id, 0, (i as i64 * 37) % 100 + 1);
    }
    let l = build(&s, Some("bulk")).unwrap().latency.unwrap();
    assert_eq!(
        (l.samples, l.p50_s, l.p90_s, l.p99_s, l.max_s),
        (100, 50, 90, 99, 100)
    );
    assert_eq!(
        (rank(50, 1), rank(99, 1), rank(50, 2), rank(99, 2)),
        (0, 0, 0, 1)
    );
}}

both_engines! {
fn refusals_and_deferrals_are_grouped_by_rule(s) {
    let s = fixture_in(s);
    let r = build(&s, None).unwrap();
    assert_eq!(
        r.deferred_by_rule,
        [RuleCount {
            rule: "fr.quiet-hours".into(),
            count: 2
        }]
    );
    let refusal = |rule: &str, reason: &str| RefusalCount {
        rule: rule.into(),
        reason: reason.into(),
        count: 1,
    };
    assert_eq!(
        r.refused_by_rule,
        [
            refusal("core.optout", "opted-out"),
            refusal("fr.quiet-hours", "no-open-slot")
        ]
    );
    let autumn = build(&s, Some("autumn")).unwrap();
    assert_eq!(
        autumn.refused_by_rule,
        [refusal("fr.quiet-hours", "no-open-slot")]
    );
    assert!(autumn.deferred_by_rule.is_empty());
    // Deferral changes per hour come from the history: one deferred at T0, one
    // held an hour later.
    let deferrals: Vec<(i64, u64)> = r.hours.iter().map(|h| (h.start, h.deferrals)).collect();
    assert_eq!(deferrals, [(T0.0, 1), (T0.0 + 3600, 1)]);
    let first = &r.hours[0];
    assert_eq!(
        (
            first.hour.as_str(),
            first.sent,
            first.delivered,
            first.inbound,
            first.keywords
        ),
        ("2026-05-28T20:00:00Z", 7, 4, 1, 3)
    );
    assert_eq!(r.hours[1].delivered, 1);
}}

both_engines! {
fn opt_outs_by_keyword_tier_and_source(s) {
    let s = fixture_in(s);
    let r = build(&s, None).unwrap();
    let o = |keyword: Option<&str>, tier: Option<i64>, count| OptOutCount {
        keyword: keyword.map(String::from),
        tier,
        count,
    };
    assert_eq!(r.opt_outs.total, 4);
    assert_eq!(
        r.opt_outs.by_keyword,
        [
            o(None, None, 2),
            o(Some("STOP"), Some(1), 1),
            o(Some("STOPALL"), Some(2), 1)
        ]
    );
    let sources: Vec<(&str, u64)> = r
        .opt_outs
        .by_source
        .iter()
        .map(|s| (s.source.as_str(), s.count))
        .collect();
    assert_eq!(sources, [("sms", 2), ("cli", 1), ("import", 1)]);
    assert_eq!(r.keywords.total, 3);
    let kinds: Vec<(&str, u64)> = r
        .keywords
        .by_kind
        .iter()
        .map(|k| (k.kind.as_str(), k.count))
        .collect();
    assert_eq!(kinds, [("help", 1), ("opt-out", 2)]);
    assert_eq!(r.inbound, 1);

    // A campaign counts opt-outs from its numbers since it was created: not the
    // STOPALL from another number, not the import from before.
    let spring = build(&s, Some("spring")).unwrap();
    assert_eq!(spring.opt_outs.total, 2);
    assert_eq!(
        spring.opt_outs.by_keyword,
        [o(None, None, 1), o(Some("STOP"), Some(1), 1)]
    );
    assert_eq!(spring.keywords.total, 2);
    assert_eq!(spring.inbound, 1);
    let autumn = build(&s, Some("autumn")).unwrap();
    assert_eq!(autumn.opt_outs, OptOuts::default());
    assert_eq!(autumn.keywords.total, 0);
    assert_eq!(autumn.inbound, 0);

    let rows: Vec<(Option<&str>, u64, Option<u64>)> = r
        .campaigns
        .iter()
        .map(|c| (c.name.as_deref(), c.jobs, c.opt_outs))
        .collect();
    assert_eq!(
        rows,
        [
            (Some("spring"), 10, Some(2)),
            (Some("autumn"), 3, Some(0)),
            (None, 1, None)
        ]
    );
}}

both_engines! {
fn csv_parses_back_with_stable_metric_names(s) {
    let s = fixture_in(s);
    let text = render(&build(&s, None).unwrap(), Format::Csv);
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["metric", "value"]);
    let mut values = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        assert_eq!(record.len(), 2);
        let old = values.insert(record[0].to_string(), record[1].to_string());
        assert!(old.is_none(), "metric {} twice", &record[0]);
    }
    for (metric, value) in [
        ("jobs.total", "14"),
        ("state.delivered", "5"),
        ("state.cancelled", "0"),
        ("jobs.sent", "7"),
        ("delivery_rate", "0.7143"),
        ("failed.reason.cms-500", "1"),
        ("deferred.rule.fr.quiet-hours", "2"),
        ("refused.rule.fr.quiet-hours", "1"),
        ("refused.rule.core.optout", "1"),
        ("refused.reason.opted-out", "1"),
        ("optout.total", "4"),
        ("optout.keyword.STOP.tier.1", "1"),
        ("optout.no_keyword", "2"),
        ("optout.source.sms", "2"),
        ("keywords.kind.opt-out", "2"),
        ("keyword.help.INFO", "1"),
        ("inbound.total", "1"),
        ("latency.p50_s", "30"),
        ("latency.p99_s", "3600"),
        ("hour.2026-05-28T20:00:00Z.sent", "7"),
        ("hour.2026-05-28T21:00:00Z.deferrals", "1"),
        ("campaign.spring.delivered", "5"),
        ("campaign.autumn.opt_outs", "0"),
        ("no_campaign.expired", "1"),
    ] {
        assert_eq!(
            values.get(metric).map(String::as_str),
            Some(value),
            "{metric}"
        );
    }
    for state in JobState::ALL {
        assert!(values.contains_key(&format!("state.{}", state.name())));
    }
    // An empty store keeps the names, with empty values where there is no number.
    let empty = render(
        &build(&Store::open_in_memory().unwrap(), None).unwrap(),
        Format::Csv,
    );
    assert!(empty.contains("\ndelivery_rate,\n"), "{empty}");
    assert!(empty.contains("\nlatency.p50_s,\n"));
}}

#[test]
fn html_is_self_contained_with_charts_and_escapes_names() {
    let mut s = fixture();
    let name = "<script>alert(1)</script>";
    let ids = campaign(&mut s, name, &[number(50)]);
    deliver(&mut s, ids[0], 7200, 5);
    for r in [build(&s, Some(name)).unwrap(), build(&s, None).unwrap()] {
        let html = render(&r, Format::Html);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.ends_with("</html>\n"));
        assert_eq!(
            html.matches("<svg").count(),
            4,
            "one chart each for sent, delivered, deferrals, keywords"
        );
        assert_eq!(html.matches("</svg>").count(), 4);
        assert!(html.contains("<rect"), "bars drawn");
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            !html.to_ascii_lowercase().contains("http"),
            "no URL of any kind"
        );
        assert!(html.contains("<style>"));
    }
    // Without activity the charts say so instead of drawing nothing.
    let empty = render(
        &build(&Store::open_in_memory().unwrap(), None).unwrap(),
        Format::Html,
    );
    assert_eq!(empty.matches("<svg").count(), 4);
    assert_eq!(empty.matches("no activity").count(), 4);
}

#[test]
fn json_round_trips_with_the_numbers() {
    let s = fixture();
    let text = render(&build(&s, None).unwrap(), Format::Json);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["jobs"], 14);
    assert_eq!(v["states"].as_object().unwrap().len(), JobState::ALL.len());
    assert_eq!(v["states"]["delivered"], 5);
    assert_eq!(v["states"]["sending"], 0);
    assert_eq!(v["sent"], 7);
    let rate = v["delivery_rate"].as_f64().unwrap();
    assert!((rate - 5.0 / 7.0).abs() < 1e-12);
    assert_eq!(v["latency"]["p50_s"], 30);
    assert_eq!(v["latency"]["max_s"], 3600);
    assert_eq!(v["refused_by_rule"][1]["rule"], "fr.quiet-hours");
    assert_eq!(v["opt_outs"]["by_keyword"][1]["keyword"], "STOP");
    assert_eq!(v["opt_outs"]["by_keyword"][1]["tier"], 1);
    assert_eq!(v["campaigns"][0]["name"], "spring");
    assert!(v["campaigns"][2]["name"].is_null());
    assert!(v["campaign"].is_null());
    assert_eq!(v["hours"][0]["hour"], "2026-05-28T20:00:00Z");
    let spring: serde_json::Value =
        serde_json::from_str(&render(&build(&s, Some("spring")).unwrap(), Format::Json)).unwrap();
    assert_eq!(spring["campaign"]["name"], "spring");
    assert_eq!(spring["campaign"]["status"], "draft");
    assert!(spring["autumn"].is_null());
}

#[test]
fn table_fits_80_columns() {
    let mut s = fixture();
    let long = "a campaign with a rather long name that has to wrap somewhere";
    campaign(&mut s, long, &[number(60)]);
    for r in [build(&s, None).unwrap(), build(&s, Some("spring")).unwrap()] {
        let text = render(&r, Format::Table);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} chars: {line}",
                line.chars().count()
            );
        }
        let mut parts = vec!["Summary", "fr.quiet-hours", "71.4 %", "1 h 00 min"];
        if r.campaign.is_none() {
            parts.extend(["cms-500", "STOPALL", "(no campaign)", "a rather long"]);
        }
        for part in parts {
            assert!(text.contains(part), "{part} missing:\n{text}");
        }
    }
    let empty = render(
        &build(&Store::open_in_memory().unwrap(), None).unwrap(),
        Format::Table,
    );
    assert!(empty.contains("No jobs."));
}

both_engines! {
fn unknown_campaigns_are_named_errors(s) {
    let s = fixture_in(s);
    let err = build(&s, Some("winter")).unwrap_err();
    assert!(err.contains("\"winter\""), "{err}");
    assert!(
        err.contains("\"spring\"") && err.contains("\"autumn\""),
        "{err}"
    );
    let err = build(&Store::open_in_memory().unwrap(), Some("winter")).unwrap_err();
    assert!(err.contains("no campaigns yet"), "{err}");
}}

#[test]
fn formats_parse_in_any_case() {
    assert_eq!("json".parse(), Ok(Format::Json));
    assert_eq!(" HTML ".parse(), Ok(Format::Html));
    assert_eq!("Csv".parse(), Ok(Format::Csv));
    for f in Format::ALL {
        assert_eq!(f.to_string().parse(), Ok(f));
        assert_eq!(
            <Format as clap::ValueEnum>::from_str(f.name(), false),
            Ok(f)
        );
    }
    assert!(
        "xml"
            .parse::<Format>()
            .unwrap_err()
            .contains("table, json, csv or html")
    );
}
