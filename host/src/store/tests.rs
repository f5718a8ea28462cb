use std::path::PathBuf;

use relais_core::compliance::decision::{Class, ConsentStatus, OptOutScope};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Event, EventEpoch, EventId, JobKey, KeywordKind, Scope, SendFailure, bounded,
};

use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("relais.db")
}

use crate::store::testing::both_engines;

const T0: UtcInstant = UtcInstant(1_780_000_000);
const EPOCH: EventEpoch = EventEpoch(0x1234);

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
        .db()
        .query_row("PRAGMA user_version", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = s
        .db()
        .query_row("PRAGMA journal_mode", params![], |r| r.get(0))
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
            .db()
            .as_sqlite()
            .unwrap()
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

both_engines! {
fn optouts_cover_a_brand_or_every_brand(s) {
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
}}

both_engines! {
fn jobs_wait_for_their_campaign_to_run(s) {
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
}}

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

both_engines! {
fn events_are_applied_once_in_one_transaction_each(s) {
    let (id, key) = sent_job(&mut s);
    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let apply = |s: &mut Store, n: u32, e: Event| {
        s.apply_event("dev", (EPOCH, EventId(n)), &e, T0, &brands, &retry)
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
    assert_eq!(s.last_event("dev").unwrap(), Some((EPOCH, EventId(2))));
    let history = s.history(id).unwrap();
    let states: Vec<&str> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(states, ["queued", "submitted", "accepted", "sent"]);
}}

both_engines! {
fn temporary_failures_retry_with_a_new_key_then_fail(s) {
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
    s.apply_event("dev", (EPOCH, EventId(1)), &fail(key), T0, &brands, &retry)
        .unwrap();
    let row = s.job(id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Retry);
    assert_eq!(row.due_at, T0.plus(60));
    assert_eq!(row.attempt, 1);
    assert_ne!(row.key(), key);
    // A late event about the old attempt does not move the job.
    s.apply_event(
        "dev",
        (EPOCH, EventId(2)),
        &Event::Sent { key, parts: 1 },
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Retry);
    s.apply_event(
        "dev",
        (EPOCH, EventId(3)),
        &fail(row.key()),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Failed);
}}

both_engines! {
fn keywords_update_the_optout_list(s) {
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
        (EPOCH, EventId(1)),
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
        (EPOCH, EventId(2)),
        &kw(KeywordKind::OptIn, Scope::Brand(BrandId::of("Acme"))),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.opted_out_of("+33612345678", "Acme").unwrap(), None);
}}

both_engines! {
fn a_device_for_one_brand_is_not_starved_by_other_brands_jobs(s) {
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
}}

#[test]
fn events_of_a_new_device_store_are_applied_though_their_ids_were_seen() {
    // A device stored 3 events from its first store, then came back with fresh flash:
    // its new store numbers from 1 again. A STOP numbered 2 in the new store must be
    // applied, not dropped as the old store's event 2.
    let mut s = Store::open_in_memory().unwrap();
    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let inbound = |text: &str| Event::Inbound {
        from: bounded("+33612345678"),
        text: bounded(text),
        at: T0,
        truncated: false,
    };
    for n in 1..=3 {
        s.apply_event(
            "dev",
            (EPOCH, EventId(n)),
            &inbound("old"),
            T0,
            &brands,
            &retry,
        )
        .unwrap();
    }
    assert_eq!(s.note_epoch("dev", EPOCH, T0).unwrap(), None, "same store");
    let fresh = EventEpoch(0x9999);
    let later = T0.plus(60);
    assert_eq!(
        s.note_epoch("dev", fresh, later).unwrap(),
        Some((EPOCH, Some(EventId(3))))
    );
    assert_eq!(s.last_event("dev").unwrap(), None, "the mark starts again");
    let stop = Event::Keyword {
        from: Msisdn::parse("+33612345678").unwrap(),
        kind: KeywordKind::OptOut,
        keyword: bounded("STOP"),
        tier: 1,
        scope: Some(Scope::Brand(BrandId::of("Acme"))),
        confirmed: false,
    };
    assert_eq!(
        s.apply_event(
            "dev",
            (fresh, EventId(1)),
            &inbound("new"),
            later,
            &brands,
            &retry
        )
        .unwrap(),
        Applied::Stored(None)
    );
    assert_eq!(
        s.apply_event("dev", (fresh, EventId(2)), &stop, later, &brands, &retry)
            .unwrap(),
        Applied::Stored(None)
    );
    assert!(s.opted_out_of("+33612345678", "Acme").unwrap().is_some());
    // An event that arrives with its epoch before any handshake switches too.
    let third = EventEpoch(0x7777);
    assert_eq!(
        s.apply_event(
            "dev",
            (third, EventId(1)),
            &inbound("third"),
            later,
            &brands,
            &retry
        )
        .unwrap(),
        Applied::Stored(None)
    );
    assert_eq!(s.last_event("dev").unwrap(), Some((third, EventId(1))));
    let row = &s.devices().unwrap()[0];
    assert_eq!(row.epoch, Some(third.0));
    assert_eq!(row.epoch_changed_at, Some(later));
    let texts: Vec<String> = s.inbound(10).unwrap().into_iter().map(|r| r.text).collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
}

both_engines! {
fn opt_ins_list_only_numbers_not_opted_out_again(s) {
    let optout = |number: &str| OptOut {
        number: number.into(),
        brand: "Acme".into(),
        keyword: Some("STOP".into()),
        tier: Some(1),
        source: "test".into(),
        at: T0,
    };
    for n in ["+33612345001", "+33612345002", "+33612345003"] {
        s.add_optout(&optout(n)).unwrap();
    }
    // 001 opted in; 002 opted in and out again; 003 never opted in.
    s.remove_optout("+33612345001", "Acme", "START", T0.plus(1))
        .unwrap();
    s.remove_optout("+33612345002", "Acme", "START", T0.plus(1))
        .unwrap();
    s.add_optout(&optout("+33612345002")).unwrap();
    assert_eq!(
        s.opt_ins().unwrap(),
        [("+33612345001".to_string(), "Acme".to_string())]
    );
}}

#[test]
fn a_delivery_report_about_no_job_is_kept_unattributed() {
    let path = temp("unmatched");
    let brands = BrandNames::new(["Acme"]);
    let retry = RetryPolicy::default();
    let report = Event::UnmatchedReport {
        to: bounded("0611111111"),
        mr: 7,
        st: 0x46,
        submitted: UtcInstant(T0.0 - 86_400),
        at: UtcInstant(T0.0 - 60),
    };
    let rows = |s: &Store| -> Vec<(String, String, u8, u8, i64, i64, i64)> {
        let mut st =
            s.db.prepare(
                "SELECT device, recipient, mr, status, submitted, at, received_at
                 FROM unmatched_reports ORDER BY id",
            )
            .unwrap();
        st.query_map(params![], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
    };
    let want = (
        "dev".to_string(),
        "0611111111".to_string(),
        7,
        0x46,
        T0.0 - 86_400,
        T0.0 - 60,
        T0.0,
    );
    {
        let mut s = Store::open(&path).unwrap();
        let stored = s.apply_event("dev", (EPOCH, EventId(1)), &report, T0, &brands, &retry);
        assert_eq!(stored.unwrap(), Applied::Stored(None));
        // Delivered again by the link: stored once.
        let again = s.apply_event("dev", (EPOCH, EventId(1)), &report, T0, &brands, &retry);
        assert_eq!(again.unwrap(), Applied::Again);
        assert_eq!(rows(&s), std::slice::from_ref(&want));
        // A store from before the table (schema 2): opening it migrates. What later
        // versions added goes too.
        s.db.execute_batch(
            "DROP TABLE unmatched_reports;
                 DROP TABLE idempotency; DROP TABLE webhooks; DROP TABLE device_log;
                 DROP TABLE callbacks; DROP TABLE cursors;
                 DROP INDEX jobs_origin; DROP INDEX jobs_message;
                 ALTER TABLE jobs DROP COLUMN origin; ALTER TABLE jobs DROP COLUMN sender;
                 ALTER TABLE jobs DROP COLUMN dlr_url; ALTER TABLE jobs DROP COLUMN dlr_mask;
                 ALTER TABLE jobs DROP COLUMN meta; ALTER TABLE jobs DROP COLUMN message_id;
                 ALTER TABLE jobs DROP COLUMN via;
                 ALTER TABLE devices DROP COLUMN host; ALTER TABLE devices DROP COLUMN host_seen;
                 PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(rows(&s), []);
    s.apply_event("dev", (EPOCH, EventId(2)), &report, T0, &brands, &retry)
        .unwrap();
    assert_eq!(rows(&s), [want]);
}

both_engines! {
fn transactional_jobs_are_due_before_marketing_jobs_due_earlier(s) {
    let campaign = NewCampaign {
        name: "winter".into(),
        template: "Soldes".into(),
        class: Class::Marketing,
        brand: "Acme".into(),
        categories: String::new(),
    };
    s.create_campaign(&campaign, &[job("+33612345670"), job("+33612345671")], T0)
        .unwrap();
    s.set_campaign_status("winter", CampaignStatus::Running)
        .unwrap();
    let otp = NewJob {
        class: Class::Transactional,
        text: "Votre code : 123456".into(),
        ..job("+33612345672")
    };
    let chat = NewJob {
        class: Class::Conversational,
        ..job("+33612345673")
    };
    s.insert_job(&otp, T0.plus(60)).unwrap();
    let chat = s.insert_job(&chat, T0.plus(30)).unwrap();
    s.insert_job(&job("+33612345674"), T0.plus(10)).unwrap();
    let due: Vec<(String, UtcInstant)> = s
        .due_jobs(T0.plus(60), &[], 16)
        .unwrap()
        .into_iter()
        .map(|j| (j.number, j.due_at))
        .collect();
    // Not marketing first, each class oldest due first.
    assert_eq!(
        due,
        [
            ("+33612345673".to_string(), T0.plus(30)),
            ("+33612345672".to_string(), T0.plus(60)),
            ("+33612345670".to_string(), T0),
            ("+33612345671".to_string(), T0),
            ("+33612345674".to_string(), T0.plus(10)),
        ]
    );
    // With room for one only, the one-time code's class wins.
    let first = s.due_jobs(T0.plus(60), &[], 1).unwrap();
    assert_eq!(first[0].id, chat);
}}

both_engines! {
fn a_job_the_device_gives_back_waits_in_the_host_and_goes_again_under_a_new_key(s) {
    let (id, key) = sent_job(&mut s);
    let brands = BrandNames::default();
    let retry = RetryPolicy {
        max_attempts: 2,
        backoff_secs: vec![60],
    };
    let monday = T0.plus(2 * 86_400);
    s.apply_event(
        "dev",
        (EPOCH, EventId(1)),
        &Event::Accepted(key),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    let released = Event::Released {
        key,
        until: monday,
        rule: bounded("fr.marketing.window"),
    };
    assert_eq!(
        s.apply_event("dev", (EPOCH, EventId(2)), &released, T0, &brands, &retry)
            .unwrap(),
        Applied::Stored(Some((id, JobState::Deferred)))
    );
    let row = s.job(id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Deferred);
    assert_eq!(row.due_at, monday);
    assert_eq!(row.device, None);
    assert_ne!(row.key(), key, "the released key is finished on the device");
    // Off the device: not resubmitted to it, not due before Monday, due then.
    assert!(s.on_device("dev").unwrap().is_empty());
    assert!(s.due_jobs(monday.plus(-1), &[], 16).unwrap().is_empty());
    assert_eq!(s.due_jobs(monday, &[], 16).unwrap()[0].id, id);
    // The device's answer to a resubmission of the old key that was already on its
    // way changes nothing.
    s.apply_event(
        "dev",
        (EPOCH, EventId(3)),
        &Event::Duplicate(key),
        T0,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Deferred);
    // Under its new key, a temporary failure still gets the retry the policy allows: a
    // release is not a retry.
    let new_key = row.key();
    s.transition(
        id,
        JobState::Submitted,
        monday,
        &Change {
            device: Some("dev"),
            ..Default::default()
        },
        "to dev",
    )
    .unwrap();
    let fail = |key| Event::Failed {
        key,
        part: 1,
        error: SendFailure::Cms(500),
        permanent: false,
    };
    s.apply_event(
        "dev",
        (EPOCH, EventId(4)),
        &fail(new_key),
        monday,
        &brands,
        &retry,
    )
    .unwrap();
    let row = s.job(id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Retry);
    assert_eq!(row.due_at, monday.plus(60));
    s.apply_event(
        "dev",
        (EPOCH, EventId(5)),
        &fail(row.key()),
        monday,
        &brands,
        &retry,
    )
    .unwrap();
    assert_eq!(s.job(id).unwrap().unwrap().state, JobState::Failed);
}}

#[test]
fn a_job_given_back_with_a_past_until_waits_a_minute() {
    // A device whose clock is behind: its `until` is already past for the host.
    let mut s = Store::open_in_memory().unwrap();
    let (id, key) = sent_job(&mut s);
    let brands = BrandNames::default();
    let retry = RetryPolicy::default();
    let released = Event::Released {
        key,
        until: T0.plus(-30),
        rule: bounded("fr.marketing.window"),
    };
    s.apply_event("dev", (EPOCH, EventId(1)), &released, T0, &brands, &retry)
        .unwrap();
    let row = s.job(id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Deferred);
    assert_eq!(row.due_at, T0.plus(60));
    assert!(s.due_jobs(T0.plus(59), &[], 16).unwrap().is_empty());
}

both_engines! {
fn a_job_for_one_device_is_not_handed_to_another(s) {
    let pinned = s
        .insert_job_from(
            &job("+33612345001"),
            &Origin {
                client: "sendsms:desk-app".into(),
                via: Some("desk".into()),
                ..Default::default()
            },
            T0,
        )
        .unwrap();
    let free = s.insert_job(&job("+33612345002"), T0).unwrap();
    let ids = |device| {
        s.due_jobs_for(T0, device, &[], 16)
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Some("desk")), [pinned, free]);
    assert_eq!(ids(Some("field")), [free]);
    assert_eq!(ids(None), [pinned, free]);
}}

/// A PostgreSQL store whose server restarts: the statement that finds the connection
/// lost fails as `Unreachable`, a transaction cut by the loss leaves nothing, and the
/// next statement connects again by itself.
#[test]
fn a_postgres_store_comes_back_after_its_server_restarts() {
    let Some(server) = relais_testkit::postgres::Server::start_or_skip(
        "store::a_postgres_store_comes_back_after_its_server_restarts",
    ) else {
        return;
    };
    let url = server.fresh_database().unwrap();
    let mut s = Store::open_at(&Location::Postgres(url)).unwrap();
    s.insert_job(&job("+33612345678"), T0).unwrap();

    // Lost in the middle of a transaction: none of it stays.
    let err = s
        .transaction(|tx| {
            super::jobs::insert(tx, None, &job("+33612345679"), T0)?;
            server.restart().unwrap();
            super::jobs::insert(tx, None, &job("+33612345680"), T0)?;
            Ok(())
        })
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");

    // Then it comes back without being reopened (the first try may still meet the
    // old connection).
    let mut counts = None;
    for _ in 0..50 {
        match s.job_counts(None) {
            Ok(c) => {
                counts = Some(c);
                break;
            }
            Err(e) => {
                assert!(e.is_unreachable(), "{e:?}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    assert_eq!(
        counts,
        Some(vec![(JobState::Queued, 1)]),
        "only the first job"
    );
    s.insert_job(&job("+33612345681"), T0).unwrap();
    assert_eq!(s.job_counts(None).unwrap(), vec![(JobState::Queued, 2)]);

    // A server that stays down is `Unreachable`, and so is opening a store on it.
    server.stop().unwrap();
    assert!(s.job_counts(None).unwrap_err().is_unreachable());
    let again = Store::open_at(s.location());
    assert!(again.unwrap_err().is_unreachable());
}

/// Two hosts on one PostgreSQL store claim due jobs at the same moment: each gets
/// its own, none both (the claim locks its rows; the other skips them).
#[test]
fn two_hosts_never_claim_the_same_job() {
    let Some(s) =
        crate::store::testing::postgres_store("store::two_hosts_never_claim_the_same_job")
    else {
        return;
    };
    let mut a = s;
    let mut b = Store::open_at(a.location()).unwrap();
    for n in 0..5 {
        a.insert_job(&job(&format!("+3361234567{n}")), T0).unwrap();
    }
    let (mine, theirs) = a
        .batch(|a| {
            let mine = a.claim_due(T0, None, &[], 3)?;
            // Another host, inside the first one's claim.
            let theirs = b.batch(|b| b.claim_due(T0, None, &[], 10))?;
            Ok((mine, theirs))
        })
        .unwrap();
    let ids = |rows: &[JobRow]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(mine.len(), 3);
    assert_eq!(
        theirs.len(),
        2,
        "the other host skips the three locked jobs"
    );
    assert!(ids(&mine).iter().all(|id| !ids(&theirs).contains(id)));
    // Once the first claim ends (nothing moved on), every job is claimable again.
    assert_eq!(
        b.batch(|b| b.claim_due(T0, None, &[], 10)).unwrap().len(),
        5
    );
}

/// An opt-out committed by one host reaches another host's listener; one rolled
/// back does not.
#[test]
fn an_optout_on_one_host_is_heard_by_another() {
    let Some(a) =
        crate::store::testing::postgres_store("store::an_optout_on_one_host_is_heard_by_another")
    else {
        return;
    };
    let b = Store::open_at(a.location()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    assert!(
        b.on_optout_change(move |n, brand, out| {
            let _ = tx.send((n.to_string(), brand.to_string(), out));
        })
        .unwrap()
    );
    let mut a = a;
    let stop = |number: &str| OptOut {
        number: number.into(),
        brand: "Acme".into(),
        keyword: Some("STOP".into()),
        tier: Some(1),
        source: "sms:dev".into(),
        at: T0,
    };
    let _ = a.transaction(|tx| {
        add_optout(tx, &stop("+33600000001"))?;
        Err::<(), _>(StoreError::Invalid("rolled back".into()))
    });
    let t = std::time::Instant::now();
    a.add_optout(&stop("+33600000002")).unwrap();
    let heard = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    let latency = t.elapsed();
    assert_eq!(heard, ("+33600000002".into(), "Acme".into(), true));
    a.remove_optout("+33600000002", "Acme", "cli", T0).unwrap();
    let heard = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(heard, ("+33600000002".into(), "Acme".into(), false));
    assert!(rx.try_recv().is_err(), "nothing of the rolled-back opt-out");
    eprintln!("opt-out heard by the other host in {latency:?}");
}

/// On PostgreSQL a log reader never passes an id that commits later: while a writer
/// that drew a lower id is still open, the reader waits for it.
#[test]
fn a_log_reader_waits_for_a_lower_id_that_is_not_committed_yet() {
    let Some(mut a) = crate::store::testing::postgres_store(
        "store::a_log_reader_waits_for_a_lower_id_that_is_not_committed_yet",
    ) else {
        return;
    };
    let id = a.insert_job(&job("+33612345678"), T0).unwrap();
    let mut b = Store::open_at(a.location()).unwrap();
    let reader = Store::open_at(a.location()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = a.transaction(|ta| {
        // A step that took the lock and was rolled back gives it up: the next row
        // must take it again (the lock is taken once per transaction otherwise).
        ta.execute_batch("SAVEPOINT step")?;
        super::jobs::history(ta, id, T0, JobState::Queued, "rolled back")?;
        ta.execute_batch("ROLLBACK TO step; RELEASE step")?;
        // A draws the lower id and stays open ...
        super::jobs::history(ta, id, T0, JobState::Queued, "first")?;
        super::jobs::history(ta, id, T0, JobState::Queued, "first again")?;
        // ... B draws the next one and commits.
        b.transaction(|tb| super::jobs::history(tb, id, T0, JobState::Queued, "second"))?;
        let mut reader = reader;
        std::thread::spawn(move || {
            let seen = reader.transaction(|tr| {
                read_logs_in_order(tr)?;
                Ok(tr.query_map(
                    "SELECT detail FROM job_history WHERE job_id = ?1 ORDER BY id",
                    [id],
                    |r| r.get::<String>(0),
                )?)
            });
            let _ = tx.send(seen);
        });
        // The reader must not have read while A is open.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(500))
                .is_err(),
            "the reader read past an id not committed yet"
        );
        Ok(())
    });
    result.unwrap();
    let seen = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(seen, ["created", "first", "first again", "second"]);
}

/// A PostgreSQL store written by a newer relais is refused, as a newer SQLite file is,
/// and left as it is.
#[test]
fn a_newer_postgres_schema_is_refused() {
    let Some(s) =
        crate::store::testing::postgres_store("store::a_newer_postgres_schema_is_refused")
    else {
        return;
    };
    s.db()
        .execute(
            "UPDATE relais_schema SET version = ?1",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    let err = Store::open_at(s.location()).unwrap_err();
    assert!(matches!(err, StoreError::Newer { .. }), "{err:?}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    let version: i64 = s
        .db()
        .query_value("SELECT version FROM relais_schema", params![])
        .unwrap();
    assert_eq!(version, i64::from(SCHEMA_VERSION + 1), "left as it was");
}

#[test]
fn postgres_passwords_are_not_shown() {
    let l = Location::parse(
        "postgres://relais:SECRET@db.example/relais?sslmode=disable",
        Path::new(""),
    );
    assert_eq!(
        l.to_string(),
        "postgres://relais:***@db.example/relais?sslmode=disable"
    );
    assert!(matches!(l, Location::Postgres(_)));
    let l = Location::parse("relais.db", Path::new("/etc/relais"));
    assert_eq!(l, Location::File(PathBuf::from("/etc/relais/relais.db")));
    assert_eq!(
        redact_password("host=/run/postgresql password=SECRET dbname=relais"),
        "host=/run/postgresql password=*** dbname=relais"
    );
    assert_eq!(
        redact_password("postgres://relais@/x?host=/tmp"),
        "postgres://relais@/x?host=/tmp"
    );
}

both_engines! {
fn a_device_is_driven_by_one_host_at_a_time(s) {
    // Host one takes it; host two is told who has it and when it said so.
    assert_eq!(s.claim_device("north-1", "one", T0, 60).unwrap(), None);
    assert_eq!(
        s.claim_device("north-1", "two", T0.plus(30), 60).unwrap(),
        Some(("one".to_string(), T0))
    );
    // Host one, restarted from the same place, takes it back at once; it says so again.
    assert_eq!(s.claim_device("north-1", "one", T0.plus(31), 60).unwrap(), None);
    assert!(s.renew_device("north-1", "one", T0.plus(50)).unwrap());
    assert!(s.claim_device("north-1", "two", T0.plus(100), 60).unwrap().is_some());
    // Silent for longer than the lease: host two may take it, and host one then
    // learns it lost it.
    assert_eq!(s.claim_device("north-1", "two", T0.plus(111), 60).unwrap(), None);
    assert!(!s.renew_device("north-1", "one", T0.plus(112)).unwrap());
    // A clean stop lets the other take it at once.
    s.release_device("north-1", "two").unwrap();
    assert_eq!(s.claim_device("north-1", "one", T0.plus(113), 60).unwrap(), None);
}}

/// A PostgreSQL store over TCP with `sslmode=require`: the connection is encrypted,
/// the server's certificate is checked against `sslrootcert`, and a certificate no
/// trusted CA signed is refused.
#[test]
fn a_postgres_store_over_tls_checks_the_server() {
    let test = "store::a_postgres_store_over_tls_checks_the_server";
    let server = match relais_testkit::postgres::Server::start_tls() {
        Ok(s) => s,
        Err(e) => {
            relais_testkit::tier::skip(test, &e, relais_testkit::postgres::INSTALL);
            return;
        }
    };
    server.sql("postgres", "CREATE DATABASE tls").unwrap();
    let base = format!(
        "postgres://relais@localhost:{}/tls?sslmode=require",
        server.port()
    );
    let ca = server.ca_file();
    let url = format!("{base}&sslrootcert={}", ca.display());
    let s = Store::open_at(&Location::Postgres(url)).unwrap();
    let ssl: bool = s
        .db()
        .query_value(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            params![],
        )
        .unwrap();
    assert!(ssl, "the connection is encrypted");
    // Without the CA the certificate is not trusted: nothing is sent in clear instead.
    let err = Store::open_at(&Location::Postgres(base)).unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}
