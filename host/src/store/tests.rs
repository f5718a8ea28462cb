use std::path::PathBuf;

use relais_core::compliance::decision::{Class, ConsentStatus, OptOutScope};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Event, EventId, JobKey, KeywordKind, Scope, SendFailure, bounded,
};

use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("relais.db")
}

const T0: UtcInstant = UtcInstant(1_780_000_000);

fn job(number: &str) -> NewJob {
    NewJob {
        number: number.into(),
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

#[test]
fn creates_migrates_and_reopens() {
    let path = temp("reopen");
    {
        let mut s = Store::open(&path).unwrap();
        s.upsert_contacts(
            &[NewContact {
                number: "+33612345678".into(),
                first_name: "Léa".into(),
                ..Default::default()
            }],
            T0,
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let version: u32 = s
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = s
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(
        s.contact("+33612345678").unwrap().unwrap().first_name,
        "Léa"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let path = temp("corrupt");
    let junk = b"this is not sqlite, just some bytes that someone saved here ".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("not a usable relais database"));
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[test]
fn a_newer_schema_is_refused() {
    let path = temp("newer");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Newer { .. }), "{err:?}");
}

#[test]
fn a_locked_database_is_reported_as_locked() {
    let path = temp("locked");
    drop(Store::open(&path).unwrap());
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut s = Store::open(&path);
    // Opening may succeed (WAL readers); the first write must report the lock.
    if let Ok(store) = s.as_mut() {
        store
            .connection()
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        let err = store
            .upsert_contacts(&[NewContact::default()], T0)
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    } else {
        assert!(matches!(s, Err(StoreError::Locked { .. })), "{s:?}");
    }
}

#[test]
fn optouts_cover_a_brand_or_every_brand() {
    let mut s = Store::open_in_memory().unwrap();
    let o = |brand: &str| OptOut {
        number: "+33612345678".into(),
        brand: brand.into(),
        keyword: Some("STOP".into()),
        tier: Some(1),
        source: "test".into(),
        at: T0,
    };
    assert!(s.add_optout(&o("Acme")).unwrap());
    assert!(!s.add_optout(&o("Acme")).unwrap());
    assert_eq!(
        s.opted_out_of("+33612345678", "Acme").unwrap(),
        Some(OptOutScope::Brand)
    );
    assert_eq!(s.opted_out_of("+33612345678", "Other").unwrap(), None);
    s.add_optout(&o(ALL_BRANDS)).unwrap();
    assert_eq!(
        s.opted_out_of("+33612345678", "Other").unwrap(),
        Some(OptOutScope::All)
    );
    assert!(
        s.remove_optout("+33612345678", ALL_BRANDS, "cli", T0)
            .unwrap()
    );
    assert_eq!(s.opted_out_of("+33612345678", "Other").unwrap(), None);
}

#[test]
fn jobs_wait_for_their_campaign_to_run() {
    let mut s = Store::open_in_memory().unwrap();
    let campaign = NewCampaign {
        name: "spring".into(),
        template: "Hello".into(),
        class: Class::Marketing,
        brand: "Acme".into(),
        categories: String::new(),
    };
    s.create_campaign(&campaign, &[job("+33612345678"), job("+33612345679")], T0)
        .unwrap();
    assert!(
        s.due_jobs(T0, &[], 10).unwrap().is_empty(),
        "draft campaign"
    );
    let again = s.create_campaign(&campaign, &[], T0).unwrap_err();
    assert!(again.to_string().contains("already exists"));
    s.set_campaign_status("spring", CampaignStatus::Running)
        .unwrap();
    assert_eq!(s.due_jobs(T0, &[], 10).unwrap().len(), 2);
    assert!(s.due_jobs(T0, &["Other".into()], 10).unwrap().is_empty());
    assert!(
        s.set_campaign_status("autumn", CampaignStatus::Running)
            .is_err()
    );
}

fn sent_job(s: &mut Store) -> (i64, JobKey) {
    let id = s.insert_job(&job("+33612345678"), T0).unwrap();
    s.transition(
        id,
        JobState::Submitted,
        T0,
        &Change {
            device: Some("dev"),
            stamp: Some("submitted_at"),
            ..Default::default()
        },
        "to dev",
    )
    .unwrap();
    (id, key_of(id, 0))
}

#[test]
fn events_are_applied_once_in_one_transaction_each() {
    let mut s = Store::open_in_memory().unwrap();
    let (id, key) = sent_job(&mut s);
    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let apply = |s: &mut Store, n: u32, e: Event| {
        s.apply_event("dev", EventId(n), &e, T0, &brands, &retry)
            .unwrap()
    };
    assert_eq!(
        apply(&mut s, 1, Event::Accepted(key)),
        Applied::Stored(Some((id, JobState::Accepted)))
    );
    assert_eq!(apply(&mut s, 1, Event::Accepted(key)), Applied::Again);
    apply(&mut s, 2, Event::Sent { key, parts: 1 });
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Sent);
    // Replayed old events change nothing.
    assert_eq!(
        apply(&mut s, 2, Event::Sent { key, parts: 1 }),
        Applied::Again
    );
    assert_eq!(s.last_event("dev").unwrap(), Some(2));
    let history = s.history(id).unwrap();
    let states: Vec<&str> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(states, ["queued", "submitted", "accepted", "sent"]);
}

#[test]
fn temporary_failures_retry_with_a_new_key_then_fail() {
    let mut s = Store::open_in_memory().unwrap();
    let (id, key) = sent_job(&mut s);
    let brands = BrandNames::default();
    let retry = RetryPolicy {
        max_attempts: 2,
        backoff_secs: vec![60],
    };
    let fail = |key| Event::Failed {
        key,
        part: 1,
        error: SendFailure::Cms(500),
        permanent: false,
    };
    s.apply_event("dev", EventId(1), &fail(key), T0, &brands, &retry)
        .unwrap();
    let row = s.job(id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Retry);
    assert_eq!(row.due_at, T0.plus(60));
    assert_eq!(row.attempt, 1);
    assert_ne!(row.key(), key);
    // A late event about the old attempt does not move the job.
    s.apply_event(
        "dev",
        EventId(2),
        &Event::Sent { key, parts: 1 },
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Retry);
    s.apply_event("dev", EventId(3), &fail(row.key()), T0, &brands, &retry)
        .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Failed);
}

#[test]
fn keywords_update_the_optout_list() {
    let mut s = Store::open_in_memory().unwrap();
    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let from = Msisdn::parse("+33612345678").unwrap();
    let kw = |kind, scope| Event::Keyword {
        from,
        kind,
        keyword: bounded("STOP"),
        tier: 1,
        scope: Some(scope),
        confirmed: true,
    };
    s.apply_event(
        "dev",
        EventId(1),
        &kw(KeywordKind::OptOut, Scope::Brand(BrandId::of("Acme"))),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(
        s.opted_out_of("+33612345678", "Acme").unwrap(),
        Some(OptOutScope::Brand)
    );
    s.apply_event(
        "dev",
        EventId(2),
        &kw(KeywordKind::OptIn, Scope::Brand(BrandId::of("Acme"))),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.opted_out_of("+33612345678", "Acme").unwrap(), None);
}

#[test]
fn a_device_for_one_brand_is_not_starved_by_other_brands_jobs() {
    let mut s = Store::open_in_memory().unwrap();
    for i in 0..100 {
        s.insert_job(&job(&format!("+336123450{i:02}")), T0)
            .unwrap();
    }
    let other = NewJob {
        brand: "Other".into(),
        ..job("+33612349999")
    };
    let id = s.insert_job(&other, T0.plus(1)).unwrap();
    let due = s.due_jobs(T0.plus(1), &["Other".into()], 16).unwrap();
    assert_eq!(due.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    assert_eq!(s.due_jobs(T0.plus(1), &[], 16).unwrap().len(), 16);
    assert_eq!(
        s.due_jobs(T0.plus(1), &["Acme".into()], 200).unwrap().len(),
        100
    );
}
