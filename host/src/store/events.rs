//! Device events into the store: each event and the device's "last event stored" mark
//! in one transaction, so an event the link delivers again is recognised and skipped.

use super::db::{Db, params};
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Delivery, Event, EventEpoch, EventId, KeywordKind, RefusalCode, Scope, SendFailure,
};

use super::jobs::{Change, get, history, release, retries, set_state, split_key};
use super::{ALL_BRANDS, JobState, OptOut, Result, Store, add_optout, remove_optout, switch_epoch};

/// Maps the device's 32-bit brand ids back to brand names (the configured brands).
#[derive(Clone, Debug, Default)]
pub struct BrandNames(Vec<(BrandId, String)>);

impl BrandNames {
    /// The table for these brand names.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> BrandNames {
        BrandNames(
            names
                .into_iter()
                .map(|n| (BrandId::of(n), n.to_string()))
                .collect(),
        )
    }

    /// The brand name of `scope` (`*` for every brand; the hex id when unknown).
    pub fn scope_name(&self, scope: Scope) -> String {
        match scope {
            Scope::All => ALL_BRANDS.to_string(),
            Scope::Brand(id) => self
                .0
                .iter()
                .find(|(b, _)| *b == id)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| format!("#{:08x}", id.0)),
        }
    }
}

/// How temporary failures are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub max_attempts: u8,
    /// Wait before each retry, in seconds (the last value repeats).
    pub backoff_secs: Vec<i64>,
}

impl Default for RetryPolicy {
    /// 4 attempts, 1 min, 5 min, 30 min apart.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff_secs: vec![60, 300, 1800],
        }
    }
}

impl RetryPolicy {
    fn wait(&self, retry: u8) -> i64 {
        let i = usize::from(retry).min(self.backoff_secs.len().saturating_sub(1));
        self.backoff_secs.get(i).copied().unwrap_or(60)
    }
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Already stored before (its id is not above the device's mark).
    Again,
    /// Stored; the job it moved, if any, and its new state.
    Stored(Option<(i64, JobState)>),
}

/// Short stable name of a refusal code, for reports.
pub fn refusal_name(code: RefusalCode) -> &'static str {
    match code {
        RefusalCode::UnknownNumber => "unknown-number",
        RefusalCode::NoPack => "no-pack",
        RefusalCode::OptedOut => "opted-out",
        RefusalCode::Category => "category",
        RefusalCode::Sender => "sender",
        RefusalCode::NoConsent => "no-consent",
        RefusalCode::MissingOptOut => "missing-opt-out",
        RefusalCode::NoStopCode => "no-stop-code",
        RefusalCode::TooManySegments => "too-many-segments",
        RefusalCode::TextTooLong => "text-too-long",
        RefusalCode::CalendarMissing => "calendar-missing",
        RefusalCode::ZoneUnknown => "zone-unknown",
        RefusalCode::NoOpenSlot => "no-open-slot",
        RefusalCode::BadIdentity => "bad-identity",
    }
}

/// Short name of a send failure, for reports (`cms-500`, `no-prompt`, ...).
pub fn failure_name(f: SendFailure) -> String {
    match f {
        SendFailure::Cms(c) => format!("cms-{c}"),
        SendFailure::Cme(c) => format!("cme-{c}"),
        SendFailure::Rejected => "rejected".into(),
        SendFailure::NoPrompt => "no-prompt".into(),
        SendFailure::ModemReset => "modem-reset".into(),
        SendFailure::Expired => "expired".into(),
        SendFailure::Cancelled => "cancelled".into(),
        SendFailure::RetriesExhausted => "retries-exhausted".into(),
    }
}

/// Name of a keyword kind.
pub const fn keyword_kind_name(k: KeywordKind) -> &'static str {
    match k {
        KeywordKind::OptOut => "opt-out",
        KeywordKind::OptIn => "opt-in",
        KeywordKind::Help => "help",
        KeywordKind::PossibleOptOut => "possible-opt-out",
    }
}

impl Store {
    /// Applies event `id` of `epoch` from `device` in one transaction, unless it was
    /// applied before (an id at or below the mark of the same epoch). An event of
    /// another epoch switches the device to it first ([`Store::note_epoch`]). `now` stamps the changes; `brands` names opt-out scopes; `retry` decides
    /// what a temporary failure becomes.
    pub fn apply_event(
        &mut self,
        device: &str,
        (epoch, id): (EventEpoch, EventId),
        event: &Event,
        now: UtcInstant,
        brands: &BrandNames,
        retry: &RetryPolicy,
    ) -> Result<Applied> {
        self.transaction(|tx| {
            // An event of another store's numbering is never taken for one stored.
            switch_epoch(tx, device, epoch, now)?;
            let last: Option<i64> = tx.query_row(
                "SELECT last_event FROM devices WHERE name = ?1",
                [device],
                |r| r.get(0),
            )?;
            if last.is_some_and(|l| i64::from(id.0) <= l) {
                return Ok(Applied::Again);
            }
            let moved = apply(tx, device, event, now, brands, retry)?;
            tx.execute(
                "UPDATE devices SET last_event = ?2, updated_at = ?3 WHERE name = ?1",
                params![device, id.0, now.0],
            )?;
            Ok(Applied::Stored(moved))
        })
    }
}

fn apply(
    tx: &Db,
    device: &str,
    event: &Event,
    now: UtcInstant,
    brands: &BrandNames,
    retry: &RetryPolicy,
) -> Result<Option<(i64, JobState)>> {
    match event {
        Event::Inbound {
            from,
            text,
            at,
            truncated,
        } => {
            super::log_order(tx)?;
            tx.execute(
                "INSERT INTO inbound (device, sender, text, at, truncated) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![device, from.as_str(), text.as_str(), at.0, truncated],
            )?;
            return Ok(None);
        }
        Event::Keyword {
            from,
            kind,
            keyword,
            tier,
            scope,
            confirmed,
        } => {
            let number = from.to_string();
            let brand = scope.map(|s| brands.scope_name(s));
            tx.execute(
                "INSERT INTO keywords (device, sender, kind, keyword, tier, brand, confirmed, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    device,
                    number,
                    keyword_kind_name(*kind),
                    keyword.as_str(),
                    tier,
                    brand,
                    confirmed,
                    now.0
                ],
            )?;
            let source = format!("sms:{device}");
            match (kind, brand) {
                (KeywordKind::OptOut, Some(brand)) => {
                    add_optout(
                        tx,
                        &OptOut {
                            number,
                            brand,
                            keyword: Some(keyword.to_string()),
                            tier: Some(*tier),
                            source,
                            at: now,
                        },
                    )?;
                }
                (KeywordKind::OptIn, Some(brand)) => {
                    remove_optout(tx, &number, &brand, Some(keyword.as_str()), &source, now)?;
                }
                _ => {}
            }
            return Ok(None);
        }
        Event::UnmatchedReport {
            to,
            mr,
            st,
            submitted,
            at,
        } => {
            // Kept unattributed: no job the device remembers was sent under this
            // reference to this number before the service centre had it.
            tracing::warn!(device, mr, st, "delivery report about no job");
            tx.execute(
                "INSERT INTO unmatched_reports (device, recipient, mr, status, submitted, at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![device, to.as_str(), mr, st, submitted.0, at.0, now.0],
            )?;
            return Ok(None);
        }
        _ => {}
    }
    let Some(key) = event.job() else {
        return Ok(None);
    };
    let Some((id, attempt)) = split_key(key) else {
        // A confirmation or help reply the device sent on its own.
        return Ok(None);
    };
    let Some(job) = get(tx, id)? else {
        tracing::warn!(key = key.0, "event for a job this store does not have");
        return Ok(None);
    };
    if attempt != job.attempt {
        history(
            tx,
            id,
            now,
            job.state,
            &format!("stale event for attempt {attempt}: {event:?}"),
        )?;
        return Ok(None);
    }
    let dev = Some(device);
    let reason = match event {
        Event::Failed { error, .. } => failure_name(*error),
        _ => String::new(),
    };
    let (state, change, detail): (JobState, Change<'_>, String) = match event {
        Event::Accepted(_) => {
            if job.state != JobState::Submitted {
                history(tx, id, now, job.state, "accepted again")?;
                return Ok(None);
            }
            (
                JobState::Accepted,
                Change {
                    device: dev,
                    ..Default::default()
                },
                "accepted".into(),
            )
        }
        Event::Duplicate(_) => {
            history(tx, id, now, job.state, "device already had it")?;
            return Ok(None);
        }
        Event::Refused { refusal, .. } => {
            let reason = refusal_name(refusal.code);
            (
                JobState::Refused,
                Change {
                    rule: Some(refusal.rule.as_str()),
                    reason: Some(reason),
                    ..Default::default()
                },
                format!("refused by the device: {reason} ({})", refusal.rule),
            )
        }
        Event::Deferred { until, rule, .. } => (
            JobState::Held,
            Change {
                due_at: Some(*until),
                rule: Some(rule.as_str()),
                ..Default::default()
            },
            format!("deferred by the device until {until} ({rule})"),
        ),
        Event::SegmentSent {
            part, parts, mr, ..
        } => {
            let state = if job.state.is_final() {
                job.state
            } else {
                JobState::Sending
            };
            (
                state,
                Change {
                    parts: Some(*parts),
                    ..Default::default()
                },
                format!("segment {part}/{parts} sent, mr {mr}"),
            )
        }
        Event::Sent { parts, .. } => (
            JobState::Sent,
            Change {
                parts: Some(*parts),
                stamp: Some("sent_at"),
                ..Default::default()
            },
            format!("sent, {parts} segment(s)"),
        ),
        Event::Failed {
            part,
            error,
            permanent,
            ..
        } => {
            match error {
                SendFailure::Cancelled => (
                    JobState::Cancelled,
                    Change {
                        reason: Some("cancelled"),
                        ..Default::default()
                    },
                    "cancelled on the device".into(),
                ),
                SendFailure::Expired => (
                    JobState::Expired,
                    Change {
                        reason: Some("expired"),
                        ..Default::default()
                    },
                    "expired on the device".into(),
                ),
                _ if !*permanent
                    && retries(tx, id)?.saturating_add(1) < retry.max_attempts
                    && *part == 1 =>
                {
                    // Only a failure of the first segment is retried as a whole: a
                    // retry of a later one would send earlier segments twice. The
                    // budget counts retries, not the keys a release also takes.
                    let retries = retries(tx, id)?;
                    let wait = retry.wait(retries);
                    let due = now.plus(wait);
                    let reason = format!("{reason}, retry {} in {wait} s", u16::from(retries) + 1);
                    tx.execute(
                        "UPDATE jobs SET state = 'retry', due_at = ?2, attempt = attempt + 1,
                             reason = ?3, device = NULL, updated_at = ?4 WHERE id = ?1",
                        params![id, due.0, reason, now.0],
                    )?;
                    history(tx, id, now, JobState::Retry, &reason)?;
                    return Ok(Some((id, JobState::Retry)));
                }
                _ => (
                    JobState::Failed,
                    Change {
                        reason: Some(&reason),
                        ..Default::default()
                    },
                    format!(
                        "failed at segment {part}: {reason} ({})",
                        if *permanent {
                            "permanent"
                        } else {
                            "temporary, no retry left"
                        }
                    ),
                ),
            }
        }
        Event::Released { until, rule, .. } => {
            // Off the device until `until`, then under a new key (see `jobs::release`).
            let state = release(tx, &job, *until, rule.as_str(), now)?;
            return Ok(Some((id, state)));
        }
        Event::Unknown { part, .. } => (
            JobState::Unknown,
            Change {
                reason: Some("outcome-unknown"),
                ..Default::default()
            },
            format!("segment {part} may or may not have been sent; not resent"),
        ),
        Event::Delivery { status, st, at, .. } => {
            let name = match status {
                Delivery::Delivered => "delivered",
                Delivery::Failed => "failed",
                Delivery::Expired => "expired",
            };
            tx.execute(
                "INSERT INTO deliveries (job_id, status, st, at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, st, at.0],
            )?;
            let state = if *status == Delivery::Delivered {
                JobState::Delivered
            } else {
                JobState::Undelivered
            };
            tx.execute(
                "UPDATE jobs SET delivered_at = ?2 WHERE id = ?1",
                params![id, at.0],
            )?;
            (
                state,
                Change {
                    reason: (state == JobState::Undelivered).then_some(name),
                    ..Default::default()
                },
                format!("delivery report: {name} (TP-ST {st:#04x}) at {at}"),
            )
        }
        Event::Inbound { .. } | Event::Keyword { .. } | Event::UnmatchedReport { .. } => {
            return Ok(None);
        }
    };
    set_state(tx, id, state, now, &change, &detail)?;
    Ok(Some((id, state)))
}
