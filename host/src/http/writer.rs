//! The group-commit writer: every accepted message is in the store (committed, and
//! with `synchronous = FULL` on disk) before its request is answered, and the requests
//! that arrive while one commit is being written share the next one.
//!
//! Each message is judged by the compliance core at once, in the same transaction, as
//! the device would judge it now: a refusal ends the job with its rule (the client is
//! told), a deferral holds it until the instant the core names.

use std::sync::Arc;

use crate::store::db::params;

use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::Identity;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::scheduler::{Context, Judgement, judge, record_judgement};
use crate::store::{JobState, NewJob, Origin, Store, StoreError};

/// Most requests committed together.
const MAX_BATCH: usize = 512;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Queued: a device sends it when one is free.
    Queued,
    /// A time rule holds it until then.
    Deferred {
        /// The next allowed instant.
        until: UtcInstant,
        /// The deciding rule.
        rule: String,
    },
    /// It ends without being sent.
    Refused {
        /// The deciding rule.
        rule: String,
        /// Why.
        reason: String,
    },
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The job id.
    pub id: i64,
    /// The recipient.
    pub number: String,
    /// What the core decided.
    pub fate: Fate,
}

/// An Idempotency-Key with the body it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The client (token name).
    pub client: String,
    /// The key.
    pub key: String,
    /// SHA-256 of the body, hex.
    pub body_hash: String,
}

impl Idempotency {
    /// The key for `body` sent by `client`.
    pub fn new(client: &str, key: &str, body: &[u8]) -> Idempotency {
        Idempotency {
            client: client.to_string(),
            key: key.to_string(),
            body_hash: super::outbox::hex(&Sha256::digest(body)),
        }
    }
}

/// Builds the answer of an idempotent request from its outcomes.
pub type AnswerFn = Box<dyn FnOnce(&[Outcome]) -> (u16, String) + Send>;

/// A request to store.
pub struct Submission {
    /// Who asks, and where reports go.
    pub origin: Origin,
    /// One job per recipient.
    pub jobs: Vec<NewJob>,
    /// The sender identity the messages are judged with (the device's).
    pub identity: Identity,
    /// For the JSON API: answer again what was answered under this key.
    pub idempotency: Option<(Idempotency, AnswerFn)>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("origin", &self.origin.client)
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

/// What the writer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored now.
    Stored {
        /// One per job, in order.
        outcomes: Vec<Outcome>,
        /// The idempotent answer, when one was asked for.
        answer: Option<(u16, String)>,
    },
    /// The same key and body came before: its answer.
    Replay(u16, String),
    /// The same key came before with another body.
    Conflict,
}

/// Why nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(pub String);

type Reply = oneshot::Sender<Result<Written, WriteError>>;

/// The writer's handle: cheap to clone.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<(Submission, Reply)>,
}

impl Writer {
    /// Starts the writer task over `ctx`'s store. `wrote` is called after each commit
    /// (to wake the callback dispatcher).
    pub fn spawn(ctx: Arc<Context>, wrote: Arc<tokio::sync::Notify>) -> Writer {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(ctx, rx, wrote));
        Writer { tx }
    }

    /// Stores `s` and answers once it is committed.
    pub async fn submit(&self, s: Submission) -> Result<Written, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((s, reply))
            .await
            .map_err(|_| WriteError("the writer stopped".into()))?;
        answer
            .await
            .map_err(|_| WriteError("the writer stopped".into()))?
    }
}

async fn run(
    ctx: Arc<Context>,
    mut rx: mpsc::Receiver<(Submission, Reply)>,
    wrote: Arc<tokio::sync::Notify>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        let ctx2 = ctx.clone();
        let (subs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let results = tokio::task::spawn_blocking(move || write_batch(&ctx2, subs)).await;
        match results {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(WriteError(format!("writer: {e}"))));
                }
            }
        }
        wrote.notify_one();
    }
}

/// Writes `subs` in one commit. A submission that fails alone leaves the others; when
/// the commit fails every one gets the error.
fn write_batch(ctx: &Context, subs: Vec<Submission>) -> Vec<Result<Written, WriteError>> {
    let now = ctx.clock.now();
    let n = subs.len();
    let mut store = ctx.store();
    let result = store.batch(|s| {
        Ok(subs
            .into_iter()
            .map(|sub| write_one(s, ctx, sub, now).map_err(|e| WriteError(e.to_string())))
            .collect::<Vec<_>>())
    });
    match result {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("store: {e}");
            (0..n).map(|_| Err(WriteError(e.to_string()))).collect()
        }
    }
}

fn write_one(
    store: &mut Store,
    ctx: &Context,
    sub: Submission,
    now: UtcInstant,
) -> Result<Written, StoreError> {
    if let Some((idem, _)) = &sub.idempotency
        && let Some((hash, status, answer)) = stored_answer(store, idem)?
    {
        return Ok(if hash == idem.body_hash {
            Written::Replay(status, answer)
        } else {
            Written::Conflict
        });
    }
    // One savepoint for the whole submission: all its recipients or none.
    let outcomes = store.batch_step(|store| {
        let mut outcomes = Vec::with_capacity(sub.jobs.len());
        for job in &sub.jobs {
            let id = store.insert_job_from(job, &sub.origin, now)?;
            let row = store
                .job(id)?
                .ok_or_else(|| StoreError::Invalid(format!("job {id} vanished")))?;
            let judgement = judge(store, &row, &sub.identity, &ctx.options, now);
            record_judgement(store, id, &judgement, now)?;
            let fate = match judgement {
                Judgement::Send(_) => Fate::Queued,
                Judgement::Defer { until, rule } => Fate::Deferred {
                    until,
                    rule: rule.to_string(),
                },
                Judgement::End {
                    state,
                    rule,
                    reason,
                } => Fate::Refused {
                    rule: rule
                        .unwrap_or(if state == JobState::Expired {
                            "host.expiry"
                        } else {
                            "host"
                        })
                        .to_string(),
                    reason: reason.to_string(),
                },
            };
            outcomes.push(Outcome {
                id,
                number: job.number.clone(),
                fate,
            });
        }
        Ok(outcomes)
    })?;
    let answer = match sub.idempotency {
        Some((idem, build)) => {
            let (status, body) = build(&outcomes);
            store.transaction(|tx| {
                tx.execute(
                    "INSERT INTO idempotency (client, key, body_hash, status, answer, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![idem.client, idem.key, idem.body_hash, status, body, now.0],
                )?;
                Ok(())
            })?;
            Some((status, body))
        }
        None => None,
    };
    Ok(Written::Stored { outcomes, answer })
}

fn stored_answer(
    store: &Store,
    idem: &Idempotency,
) -> Result<Option<(String, u16, String)>, StoreError> {
    use crate::store::db::{OptionalExt as _, params};
    Ok(store
        .db()
        .query_row(
            "SELECT body_hash, status, answer FROM idempotency WHERE client = ?1 AND key = ?2",
            params![idem.client, idem.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use relais_core::compliance::class::Class;
    use relais_core::compliance::decision::ConsentStatus;

    use super::*;
    use crate::config::Config;
    use crate::scheduler::Clock;

    struct At(UtcInstant);

    impl Clock for At {
        fn now(&self) -> UtcInstant {
            self.0
        }
    }

    const CONFIG: &str = r#"
[[brand]]
name = "Acme"

[[device]]
name = "us"
kind = "device"
port = "/dev/null"
sender = "longnum:+12125550199"
registered = true

[[device]]
name = "fr"
kind = "device"
port = "/dev/null"
sender = "alpha:Acme"
"#;

    fn job(number: &str, class: Class, text: &str) -> NewJob {
        NewJob {
            number: number.into(),
            text: text.into(),
            class,
            brand: "Acme".into(),
            categories: String::new(),
            department: None,
            consent: ConsentStatus::None,
            not_before: None,
            expires: None,
        }
    }

    fn sub(config: &Config, device: usize, jobs: Vec<NewJob>) -> Submission {
        Submission {
            origin: Origin {
                client: "api:test".into(),
                ..Default::default()
            },
            jobs,
            identity: config.identity(&config.devices[device], "Acme").unwrap(),
            idempotency: None,
        }
    }

    #[tokio::test]
    async fn each_message_is_judged_when_it_is_stored() {
        let config = Config::parse(CONFIG).unwrap();
        // 22:00 in New York, 04:00 in Paris.
        let now = UtcInstant::parse_rfc3339("2026-12-08T03:00:00Z").unwrap();
        let mut store = Store::open_in_memory().unwrap();
        store
            .set_consent(&crate::store::ConsentRecord {
                number: "+12125550100".into(),
                brand: "Acme".into(),
                status: ConsentStatus::OptedIn,
                source: "test".into(),
                at: now,
            })
            .unwrap();
        let ctx = Arc::new(Context::new(store, Arc::new(At(now)), &config).unwrap());
        let w = Writer::spawn(ctx.clone(), Arc::new(tokio::sync::Notify::new()));
        let us = w
            .submit(sub(
                &config,
                0,
                vec![
                    job(
                        "+12125550100",
                        Class::Marketing,
                        "Sale today. Reply STOP to opt out",
                    ),
                    job("+12125550101", Class::Transactional, "Your code is 4711"),
                ],
            ))
            .await
            .unwrap();
        let Written::Stored { outcomes, answer } = us else {
            panic!("stored: {us:?}")
        };
        assert_eq!(answer, None);
        let until = UtcInstant::parse_rfc3339("2026-12-08T13:00:00Z").unwrap();
        assert_eq!(
            outcomes[0].fate,
            Fate::Deferred {
                until,
                rule: "us.marketing.window".into()
            }
        );
        assert_eq!(outcomes[1].fate, Fate::Queued);
        let fr = w
            .submit(sub(
                &config,
                1,
                vec![job("+33612345678", Class::Marketing, "Promo")],
            ))
            .await
            .unwrap();
        let Written::Stored { outcomes: fr, .. } = fr else {
            panic!("stored: {fr:?}")
        };
        assert!(
            matches!(&fr[0].fate, Fate::Refused { rule, .. } if rule == "fr.marketing.stop"),
            "{fr:?}"
        );
        // The store says the same, with the rules.
        let store = ctx.store();
        let row = |id| store.message_view(id, None).unwrap().unwrap();
        let deferred = row(outcomes[0].id);
        assert_eq!(
            (deferred.state.as_str(), deferred.rule.as_deref()),
            ("deferred", Some("us.marketing.window"))
        );
        assert_eq!(deferred.due_at, until.to_string());
        assert_eq!(row(outcomes[1].id).state, "queued");
        let refused = row(fr[0].id);
        assert_eq!(
            (refused.state.as_str(), refused.rule.as_deref()),
            ("refused", Some("fr.marketing.stop"))
        );
    }

    #[tokio::test]
    async fn requests_arriving_together_share_commits_and_each_gets_its_own_answer() {
        let config = Config::parse(CONFIG).unwrap();
        let now = UtcInstant::parse_rfc3339("2026-12-08T15:00:00Z").unwrap();
        let ctx = Arc::new(
            Context::new(Store::open_in_memory().unwrap(), Arc::new(At(now)), &config).unwrap(),
        );
        let w = Writer::spawn(ctx.clone(), Arc::new(tokio::sync::Notify::new()));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let w = w.clone();
            let s = sub(
                &config,
                0,
                vec![job(
                    &format!("+1212555{i:04}"),
                    Class::Transactional,
                    &format!("code {i}"),
                )],
            );
            tasks.push(tokio::spawn(async move { (i, w.submit(s).await) }));
        }
        for t in tasks {
            let (i, r) = t.await.unwrap();
            let Ok(Written::Stored { outcomes, .. }) = r else {
                panic!("{r:?}")
            };
            let view = ctx
                .store()
                .message_view(outcomes[0].id, None)
                .unwrap()
                .unwrap();
            assert_eq!(
                view.text,
                format!("code {i}"),
                "each answer names its own job"
            );
        }
        let n: u64 = ctx
            .store()
            .job_counts(None)
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(n, 200);
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_its_answer_and_refuses_another_body() {
        let config = Config::parse(CONFIG).unwrap();
        let now = UtcInstant::parse_rfc3339("2026-12-08T15:00:00Z").unwrap();
        let ctx = Arc::new(
            Context::new(Store::open_in_memory().unwrap(), Arc::new(At(now)), &config).unwrap(),
        );
        let w = Writer::spawn(ctx.clone(), Arc::new(tokio::sync::Notify::new()));
        let keyed = |body: &[u8], text: &str| {
            let mut s = sub(
                &config,
                0,
                vec![job("+12125550100", Class::Transactional, text)],
            );
            let build: AnswerFn = Box::new(|o: &[Outcome]| (202, format!("ids {:?}", o[0].id)));
            s.idempotency = Some((Idempotency::new("api:test", "k1", body), build));
            s
        };
        let first = w.submit(keyed(b"one", "one")).await.unwrap();
        let Written::Stored {
            answer: Some(a), ..
        } = first
        else {
            panic!("{first:?}")
        };
        assert_eq!(
            w.submit(keyed(b"one", "one")).await.unwrap(),
            Written::Replay(a.0, a.1)
        );
        assert_eq!(
            w.submit(keyed(b"two", "two")).await.unwrap(),
            Written::Conflict
        );
        let n: u64 = ctx
            .store()
            .job_counts(None)
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(n, 1, "a replay or a conflict stores nothing");
    }
}
