//! What `relais serve` reads and writes beside jobs: message views for the JSON API,
//! inbound messages by id, webhooks registered through the API.

use super::db::{DbResult, OptionalExt as _, Row, params};
use relais_core::compliance::tz::UtcInstant;
use serde::Serialize;

use super::{Result, Store};

/// One message as the JSON API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageView {
    /// Job id.
    pub id: i64,
    /// Recipient.
    pub to: String,
    /// Text.
    pub text: String,
    /// transactional, marketing, conversational.
    pub class: String,
    /// Brand.
    pub brand: String,
    /// State (queued, deferred, sent, delivered, refused, ...).
    pub state: String,
    /// The deciding rule of the last deferral or refusal.
    pub rule: Option<String>,
    /// Refusal or failure reason.
    pub reason: Option<String>,
    /// Device it went to.
    pub device: Option<String>,
    /// SMS parts.
    pub parts: Option<i64>,
    /// Next action time (deferred: the instant the rule allows).
    pub due_at: String,
    /// Created.
    pub created_at: String,
    /// Sent (the network accepted every part).
    pub sent_at: Option<String>,
    /// Delivered.
    pub delivered_at: Option<String>,
    /// Who asked for it.
    pub origin: Option<String>,
    /// Campaign id.
    pub campaign_id: Option<i64>,
}

/// One step of a message's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryStep {
    /// When.
    pub at: String,
    /// State entered.
    pub state: String,
    /// Detail.
    pub detail: String,
}

/// Filters of a message list.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter<'a> {
    /// Only this origin (`api:<token>`); `None`: all.
    pub origin: Option<&'a str>,
    /// Only this state.
    pub state: Option<&'a str>,
    /// Only this recipient.
    pub to: Option<&'a str>,
    /// Created at or after.
    pub since: Option<UtcInstant>,
    /// Ids below this (the cursor; newest first).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// An inbound message with its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundView {
    /// Row id (the cursor).
    pub id: i64,
    /// Device or modem that received it.
    pub device: String,
    /// Sender.
    pub from: String,
    /// Text.
    pub text: String,
    /// Service-centre time.
    pub at: String,
}

/// One recipient of a message: (job id, recipient, state, reason, last change).
pub type RecipientRow = (i64, String, String, Option<String>, UtcInstant);

/// A callback as `relais callbacks` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallbackView {
    /// Its id (the event id receivers see).
    pub id: i64,
    /// dlr, service or webhook.
    pub kind: String,
    /// The event.
    pub event: String,
    /// The job it is about.
    pub job_id: Option<i64>,
    /// The inbound message it is about.
    pub inbound_id: Option<i64>,
    /// The URL (with its query: may carry message text).
    pub url: String,
    /// pending, done or dead.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// HTTP status of the last try.
    pub last_status: Option<i64>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: String,
    /// Next try (pending).
    pub due_at: String,
}

/// A webhook registered through the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookRow {
    /// Its id.
    pub id: String,
    /// Who registered it.
    #[serde(skip)]
    pub client: String,
    /// Where to POST.
    pub url: String,
    /// Event name, or `*`.
    pub event: String,
}

const VIEW: &str = "id, number, text, class, brand, state, rule, reason, device, parts, due_at,
    created_at, sent_at, delivered_at, origin, campaign_id";

fn time(t: i64) -> String {
    UtcInstant(t).to_string()
}

fn view(r: &Row<'_>) -> DbResult<MessageView> {
    Ok(MessageView {
        id: r.get(0)?,
        to: r.get(1)?,
        text: r.get(2)?,
        class: r.get(3)?,
        brand: r.get(4)?,
        state: r.get(5)?,
        rule: r.get(6)?,
        reason: r.get(7)?,
        device: r.get(8)?,
        parts: r.get(9)?,
        due_at: time(r.get(10)?),
        created_at: time(r.get(11)?),
        sent_at: r.get::<Option<i64>>(12)?.map(time),
        delivered_at: r.get::<Option<i64>>(13)?.map(time),
        origin: r.get(14)?,
        campaign_id: r.get(15)?,
    })
}

impl Store {
    /// The message `id`, if it exists (and belongs to `origin` when one is given).
    pub fn message_view(&self, id: i64, origin: Option<&str>) -> Result<Option<MessageView>> {
        Ok(self
            .db
            .query_row(
                &format!("SELECT {VIEW} FROM jobs WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR origin = ?2)"),
                params![id, origin],
                view,
            )
            .optional()?)
    }

    /// Its history, oldest first.
    pub fn message_history(&self, id: i64) -> Result<Vec<HistoryStep>> {
        Ok(self
            .history(id)?
            .into_iter()
            .map(|(at, state, detail)| HistoryStep {
                at: at.to_string(),
                state,
                detail,
            })
            .collect())
    }

    /// Messages matching `f`, newest first.
    pub fn message_views(&self, f: &MessageFilter<'_>) -> Result<Vec<MessageView>> {
        let mut st = self.db.prepare_cached(format!(
            "SELECT {VIEW} FROM jobs
             WHERE (CAST(?1 AS TEXT) IS NULL OR origin = ?1) AND (CAST(?2 AS TEXT) IS NULL OR state = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR number = ?3) AND (CAST(?4 AS BIGINT) IS NULL OR created_at >= ?4)
               AND (CAST(?5 AS BIGINT) IS NULL OR id < ?5)
             ORDER BY id DESC LIMIT ?6"
        ))?;
        let rows = st.query_map(
            params![
                f.origin,
                f.state,
                f.to,
                f.since.map(|t| t.0),
                f.before,
                f.limit
            ],
            view,
        )?;
        Ok(rows)
    }

    /// The jobs of `origin`'s message `message_id`: (job id, recipient, state, reason,
    /// last change), in recipient order.
    pub fn message_jobs(&self, origin: &str, message_id: &str) -> Result<Vec<RecipientRow>> {
        let mut st = self.db.prepare_cached(
            "SELECT id, number, state, reason, updated_at FROM jobs
             WHERE origin = ?1 AND message_id = ?2 ORDER BY id",
        )?;
        let rows = st.query_map(params![origin, message_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                UtcInstant(r.get(4)?),
            ))
        })?;
        Ok(rows)
    }

    /// Inbound messages with ids above `after`, oldest first.
    pub fn inbound_after(&self, after: i64, limit: u32) -> Result<Vec<InboundView>> {
        let mut st = self.db.prepare_cached(
            "SELECT id, device, sender, text, at FROM inbound WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], |r| {
            Ok(InboundView {
                id: r.get(0)?,
                device: r.get(1)?,
                from: r.get(2)?,
                text: r.get(3)?,
                at: time(r.get(4)?),
            })
        })?;
        Ok(rows)
    }

    /// Registers a webhook (same id again: replaced).
    pub fn add_webhook(&mut self, w: &WebhookRow, now: UtcInstant) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO webhooks (id, client, url, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET client = excluded.client, url = excluded.url,
                     event = excluded.event, created_at = excluded.created_at",
                params![w.id, w.client, w.url, w.event, now.0],
            )?;
            Ok(())
        })
    }

    /// The webhooks `client` registered (all when `None`).
    pub fn webhooks(&self, client: Option<&str>) -> Result<Vec<WebhookRow>> {
        let mut st = self.db.prepare_cached(
            "SELECT id, client, url, event FROM webhooks WHERE CAST(?1 AS TEXT) IS NULL OR client = ?1 ORDER BY created_at, id",
        )?;
        let rows = st.query_map(params![client], |r| {
            Ok(WebhookRow {
                id: r.get(0)?,
                client: r.get(1)?,
                url: r.get(2)?,
                event: r.get(3)?,
            })
        })?;
        Ok(rows)
    }

    /// Removes `client`'s webhook `id`; false when there was none.
    pub fn remove_webhook(&mut self, client: &str, id: &str) -> Result<bool> {
        self.transaction(|tx| {
            Ok(tx.execute(
                "DELETE FROM webhooks WHERE id = ?1 AND client = ?2",
                params![id, client],
            )? > 0)
        })
    }

    /// Callbacks in `state` (all when `None`), newest first, at most `limit`.
    pub fn callback_views(&self, state: Option<&str>, limit: u32) -> Result<Vec<CallbackView>> {
        let mut st = self.db.prepare_cached(
            "SELECT id, kind, event, job_id, inbound_id, url, state, attempts, last_status,
                    last_error, created_at, due_at
             FROM callbacks WHERE CAST(?1 AS TEXT) IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![state, limit], |r| {
            Ok(CallbackView {
                id: r.get(0)?,
                kind: r.get(1)?,
                event: r.get(2)?,
                job_id: r.get(3)?,
                inbound_id: r.get(4)?,
                url: r.get(5)?,
                state: r.get(6)?,
                attempts: r.get(7)?,
                last_status: r.get(8)?,
                last_error: r.get(9)?,
                created_at: time(r.get(10)?),
                due_at: time(r.get(11)?),
            })
        })?;
        Ok(rows)
    }

    /// Gives dead letters (`ids`, or every one when empty) their tries back: pending,
    /// due `now`, with the same event ids. Returns how many.
    pub fn retry_dead_callbacks(&mut self, ids: &[i64], now: UtcInstant) -> Result<usize> {
        self.transaction(|tx| {
            if ids.is_empty() {
                return Ok(tx.execute(
                    "UPDATE callbacks SET state = 'pending', attempts = 0, due_at = ?1 WHERE state = 'dead'",
                    [now.0],
                )?);
            }
            let mut n = 0;
            for id in ids {
                n += tx.execute(
                    "UPDATE callbacks SET state = 'pending', attempts = 0, due_at = ?2
                     WHERE id = ?1 AND state = 'dead'",
                    params![id, now.0],
                )?;
            }
            Ok(n)
        })
    }

    /// Removes callbacks that were taken before `before`; returns how many.
    pub fn prune_done_callbacks(&mut self, before: UtcInstant) -> Result<usize> {
        self.transaction(|tx| {
            Ok(tx.execute(
                "DELETE FROM callbacks WHERE state = 'done' AND coalesce(done_at, created_at) < ?1",
                [before.0],
            )?)
        })
    }

    /// Callbacks by state (pending, done, dead), for metrics and the dashboard.
    pub fn callback_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut st = self.db.prepare_cached(
            "SELECT state, count(*) FROM callbacks GROUP BY state ORDER BY state",
        )?;
        let rows = st.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows)
    }
}
