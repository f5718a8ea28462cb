//! The compliance gate every segment passes before it reaches the modem:
//! [`relais_core::compliance::decision::evaluate`] with stores backed by the device's
//! own state: opt-outs from the [`Store`], consent from the job's flag, and recent
//! marketing sends from a RAM ring ([`RecentSends`]).

use core::cell::Cell;

use heapless::{Deque, String};
use relais_core::compliance::decision::{
    self, CategorySet, Class, Consent, ConsentStatus, Contact, Message, OptOutScope, Options,
    Outcome, Permissive, Recent, SendLog, SenderIdentity, SenderKind, Stores, Suppression,
};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{
    BrandId, Job, MAX_TEXT, Refusal, RefusalCode, RuleId, Scope, bounded, refusal_code,
};

use crate::store::Store;

/// Room for a job's text and the opt-out mention the core may append (the longest pack
/// mention is under 60 bytes).
pub const RENDER_CAPACITY: usize = MAX_TEXT + 64;

/// The text to send, with its mention.
pub type RenderedText = String<RENDER_CAPACITY>;

/// Marketing messages sent recently (for the per-recipient rate caps of some packs,
/// e.g. FL/OK: 3 per 24 hours). RAM only and `N` entries: the host, which keeps the
/// full history, is the first to enforce these caps; the device's memory is a backstop.
#[derive(Debug)]
pub struct RecentSends<const N: usize> {
    /// Oldest first: (hash of the number, when).
    entries: Deque<(u32, UtcInstant), N>,
}

fn number_hash(number: &Msisdn) -> u32 {
    let v = number.value();
    // A collision only over-counts, which is the safe side of a cap.
    (v as u32) ^ ((v >> 32) as u32).rotate_left(7) ^ (number.len() as u32) << 27
}

impl<const N: usize> RecentSends<N> {
    /// An empty log.
    pub const fn new() -> Self {
        RecentSends {
            entries: Deque::new(),
        }
    }

    /// Notes a marketing message to `number` at `at`, forgetting the oldest when full.
    pub fn record(&mut self, number: &Msisdn, at: UtcInstant) {
        if self.entries.is_full() {
            self.entries.pop_front();
        }
        let _ = self.entries.push_back((number_hash(number), at));
    }

    /// Forgets every send.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<const N: usize> Default for RecentSends<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SendLog for RecentSends<N> {
    fn sent_since(&self, number: &Msisdn, since: UtcInstant) -> Recent {
        let h = number_hash(number);
        let mut recent = Recent::default();
        for &(n, at) in self.entries.iter() {
            if n == h && at >= since {
                recent.count = recent.count.saturating_add(1);
                recent.oldest = Some(recent.oldest.map_or(at, |o: UtcInstant| o.min(at)));
            }
        }
        recent
    }
}

/// The store's opt-outs for the core. A read error answers "opted out of everything"
/// (nothing is sent on a guess) and is remembered so the caller retries later instead
/// of refusing the job for good.
struct StoreSuppression<'s, St> {
    store: &'s St,
    failed: Cell<bool>,
}

impl<St: Store> Suppression for StoreSuppression<'_, St> {
    fn opted_out(&self, number: &Msisdn, brand: &str) -> Option<OptOutScope> {
        match self.store.opted_out(number, BrandId::of(brand)) {
            Ok(None) => None,
            Ok(Some(Scope::All)) => Some(OptOutScope::All),
            Ok(Some(Scope::Brand(_))) => Some(OptOutScope::Brand),
            Err(_) => {
                self.failed.set(true);
                Some(OptOutScope::All)
            }
        }
    }
}

/// Consent as the host recorded it in the job.
struct JobConsent(ConsentStatus);

impl Consent for JobConsent {
    fn consent(&self, _: &Msisdn, _: &str) -> ConsentStatus {
        self.0
    }
}

/// What the gate says about the next segment.
#[derive(Debug)]
// One value at a time, on the stack, consumed at once: no allocator to box into.
#[allow(clippy::large_enum_variant)]
pub enum Gate {
    /// Send this text now.
    Send {
        /// The rendered text (with any appended opt-out mention).
        text: RenderedText,
        /// The core applied the marketing class (counts towards rate caps).
        marketing: bool,
        /// Segments the core counts for the text.
        parts: u8,
    },
    /// Not before `until`, because of `rule`.
    Defer {
        /// The earliest instant every time rule allows.
        until: UtcInstant,
        /// The blocking rule.
        rule: RuleId,
    },
    /// Never.
    Refuse(Refusal),
    /// The store could not be read: try again later.
    Retry,
}

fn refusal(code: RefusalCode, rule: &str) -> Gate {
    Gate::Refuse(Refusal {
        code,
        rule: bounded(rule),
    })
}

fn judge(decision: decision::Decision<'_>, store_failed: bool) -> Gate {
    if store_failed {
        return Gate::Retry;
    }
    let rule: RuleId = bounded(decision.rule.id);
    match decision.outcome {
        Outcome::Send { text, segments } => {
            let mut out = RenderedText::new();
            if text.push_to(&mut out).is_err() {
                return refusal(RefusalCode::TextTooLong, "core.text-length");
            }
            Gate::Send {
                text: out,
                marketing: decision.class == Class::Marketing,
                parts: u8::try_from(segments.get()).unwrap_or(u8::MAX),
            }
        }
        Outcome::Defer { until, .. } => Gate::Defer { until, rule },
        Outcome::Refuse(reason) => Gate::Refuse(Refusal {
            code: refusal_code(&reason),
            rule,
        }),
    }
}

/// The decision for a host job's next segment, judged at `at` with the marketing
/// sends of `log`. For the later segments of a message, `at` is the instant its first
/// was decided and `log` is empty: the message was decided once, whole, and counts once.
pub fn job<St: Store>(
    job: &Job,
    store: &St,
    log: &dyn SendLog,
    options: &Options,
    at: UtcInstant,
) -> Gate {
    let Some(sender) = job.identity.to_compliance() else {
        return refusal(RefusalCode::BadIdentity, "core.identity");
    };
    let suppression = StoreSuppression {
        store,
        failed: Cell::new(false),
    };
    let consent = JobConsent(job.consent);
    let stores = Stores {
        suppression: &suppression,
        consent: &consent,
        log,
    };
    let decision = decision::evaluate(&job.message(), &sender, &job.contact(), at, options, stores);
    judge(decision, suppression.failed.get())
}

/// The decision for a keyword reply (an opt-out confirmation or help text) to `to`.
///
/// A reply is judged as [`Class::Conversational`]: it answers a message the recipient
/// just sent, and the canonical texts mention STOP, which would turn a transactional
/// text into marketing (docs/compliance.md § Decision 1) although a confirmation is never
/// marketing (§ Decision 10). Suppression is not consulted: the recipient who just sent
/// STOP is the one the confirmation is for. Every other rule (number, sender kind,
/// time) applies.
pub fn reply<const N: usize>(
    to: &Msisdn,
    text: &str,
    log: &RecentSends<N>,
    options: &Options,
    now: UtcInstant,
) -> Gate {
    let message = Message {
        text,
        class: Class::Conversational,
        categories: CategorySet::EMPTY,
    };
    // The SIM's own number, whatever its value: only its kind matters to the rules.
    let sender = SenderIdentity {
        kind: SenderKind::LongNumber(*to),
        registered: false,
        brand: "",
        stop_code: None,
    };
    let stores = Stores {
        suppression: &Permissive,
        consent: &Permissive,
        log,
    };
    let decision = decision::evaluate(&message, &sender, &Contact::new(*to), now, options, stores);
    judge(decision, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_sends_count_per_number_and_forget_the_oldest() {
        let a = Msisdn::parse("+18505550123").unwrap();
        let b = Msisdn::parse("+18505550124").unwrap();
        let mut log: RecentSends<3> = RecentSends::new();
        log.record(&a, UtcInstant(100));
        log.record(&b, UtcInstant(200));
        log.record(&a, UtcInstant(300));
        let r = log.sent_since(&a, UtcInstant(0));
        assert_eq!((r.count, r.oldest), (2, Some(UtcInstant(100))));
        assert_eq!(log.sent_since(&a, UtcInstant(150)).count, 1);
        log.record(&b, UtcInstant(400));
        assert_eq!(log.sent_since(&a, UtcInstant(0)).count, 1);
        assert_eq!(log.sent_since(&b, UtcInstant(0)).count, 2);
    }
}
