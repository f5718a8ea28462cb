//! The host's count of free job slots on the device.
//!
//! The device reports its free slots in its hello and in `DeviceMsg::Credits(n)`, but
//! jobs the host sent before a report arrived may not be counted in it yet. A job the
//! report may not count is one that is both
//!
//! - not yet acknowledged by the session when the report arrives: the device fills in
//!   `n` when it puts the report in its window and sends it at once, with an
//!   acknowledgement covering every host message it had handled (the agent does
//!   this); and
//! - without any event yet: a device that reports each job's fate (`Accepted`,
//!   `Duplicate`, `Refused`, ...) before any later credit report has handled every
//!   job with an event.
//!
//! Free slots = `n` − those jobs. Afterwards, an uncounted job that turns out to take
//! no slot (a duplicate, an immediate refusal, `NoCredit`) or has already finished is
//! taken off again.
//!
//! The count can be too high in one case: a report whose first transmission was lost
//! and whose retransmission acknowledges jobs handled after `n` was filled in. The
//! device then answers `NoCredit`, and the client queues the job again.

use std::collections::{HashMap, HashSet};

use relais_core::link::msg::{Event, Job, JobKey};

/// Free-slot accounting; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Credits {
    /// Free slots in the last report; `None` until the handshake of this session.
    reported: Option<u8>,
    /// Jobs sent whose first event has not arrived, with the job to send again if
    /// the device turns it away (`NoCredit`).
    undisposed: HashMap<JobKey, Job>,
    /// Jobs that may hold a slot the last report does not count.
    uncounted: HashSet<JobKey>,
}

impl Credits {
    /// Slots the host may still fill.
    pub(crate) fn available(&self) -> usize {
        let reported = usize::from(self.reported.unwrap_or(0));
        reported.saturating_sub(self.uncounted.len())
    }

    /// A new session starts: nothing is known until its handshake.
    pub(crate) fn reset(&mut self) {
        self.reported = None;
    }

    /// The device reported `free` slots (hello or `Credits`) in a frame that left
    /// the jobs `unacknowledged` unacknowledged.
    pub(crate) fn report(&mut self, free: u8, unacknowledged: impl IntoIterator<Item = JobKey>) {
        self.reported = Some(free);
        self.uncounted = unacknowledged
            .into_iter()
            .filter(|k| self.undisposed.contains_key(k))
            .collect();
    }

    /// `job` is being sent.
    pub(crate) fn sent(&mut self, job: &Job) {
        self.undisposed.insert(job.key, job.clone());
        self.uncounted.insert(job.key);
    }

    /// A new (not replayed) event arrived.
    pub(crate) fn event(&mut self, event: &Event) {
        let Some(key) = event.job() else { return };
        self.undisposed.remove(&key);
        if event.is_final() || matches!(event, Event::Duplicate(_)) {
            self.uncounted.remove(&key);
        }
    }

    /// The device had no slot for `key`: it took no slot, and the host must send it
    /// again later. Returns the job when this host sent it.
    pub(crate) fn no_credit(&mut self, key: JobKey) -> Option<Job> {
        self.uncounted.remove(&key);
        // Nothing free until the device says otherwise.
        self.reported = self.reported.map(|_| 0);
        self.undisposed.remove(&key)
    }

    /// Jobs sent whose fate is still unknown.
    pub(crate) fn undisposed(&self) -> impl Iterator<Item = &Job> {
        self.undisposed.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relais_core::compliance::decision::{CategorySet, Class, ConsentStatus};
    use relais_core::compliance::number::Msisdn;
    use relais_core::link::msg::{Identity, Refusal, RefusalCode, Sender, bounded};

    fn job(key: u64) -> Job {
        Job {
            key: JobKey(key),
            to: Msisdn::parse("+33612345678").unwrap(),
            text: bounded("hello"),
            class: Class::Transactional,
            categories: CategorySet::EMPTY,
            identity: Identity {
                sender: Sender::ShortCode(36123),
                registered: false,
                brand: bounded("acme"),
                stop_code: None,
            },
            consent: ConsentStatus::OptedIn,
            fr_department: None,
            zone: None,
            not_before: None,
            expires: None,
            report: false,
        }
    }

    #[test]
    fn nothing_before_the_handshake() {
        let c = Credits::default();
        assert_eq!(c.available(), 0);
    }

    fn keys(ks: &[u64]) -> Vec<JobKey> {
        ks.iter().copied().map(JobKey).collect()
    }

    #[test]
    fn events_first_a_stale_report_does_not_count_jobs_in_flight() {
        let mut c = Credits::default();
        c.report(3, []);
        for k in 1..=3 {
            c.sent(&job(k));
        }
        assert_eq!(c.available(), 0);
        // The device took job 1 and reported 2 free before it saw jobs 2 and 3; its
        // frame acknowledged all three (sent later, or retransmitted).
        c.event(&Event::Accepted(JobKey(1)));
        c.report(2, keys(&[2, 3]));
        assert_eq!(c.available(), 0, "jobs 2 and 3 may take the last two slots");
        // Job 2 was a duplicate: no slot.
        c.event(&Event::Duplicate(JobKey(2)));
        assert_eq!(c.available(), 1);
        c.event(&Event::Accepted(JobKey(3)));
        assert_eq!(c.available(), 1);
        c.report(1, []);
        assert_eq!(c.available(), 1);
    }

    #[test]
    fn credits_first_a_report_counts_acknowledged_jobs_without_events() {
        // The agent's order: the report goes out before the events of the jobs it
        // counts, in a frame acknowledging them.
        let mut c = Credits::default();
        c.report(4, []);
        c.sent(&job(1));
        c.sent(&job(2));
        c.report(3, keys(&[2]));
        assert_eq!(c.available(), 2, "job 1 is counted, job 2 may not be");
        c.event(&Event::Accepted(JobKey(1)));
        c.event(&Event::Accepted(JobKey(2)));
        assert_eq!(c.available(), 2);
        c.report(2, []);
        assert_eq!(c.available(), 2, "no slot is lost for good");
    }

    #[test]
    fn an_uncounted_job_that_finishes_frees_its_slot() {
        let mut c = Credits::default();
        c.report(1, []);
        c.sent(&job(1));
        assert_eq!(c.available(), 0);
        c.event(&Event::Refused {
            key: JobKey(1),
            refusal: Refusal {
                code: RefusalCode::OptedOut,
                rule: bounded("optout"),
            },
        });
        assert_eq!(c.available(), 1);
    }

    #[test]
    fn no_credit_gives_the_job_back_and_stops_sending() {
        let mut c = Credits::default();
        c.report(2, []);
        c.sent(&job(7));
        assert_eq!(c.no_credit(JobKey(7)).map(|j| j.key), Some(JobKey(7)));
        assert_eq!(c.available(), 0);
        assert_eq!(c.undisposed().count(), 0);
        c.report(1, []);
        assert_eq!(c.available(), 1);
    }

    #[test]
    fn a_new_session_waits_for_its_hello() {
        let mut c = Credits::default();
        c.report(4, []);
        c.sent(&job(1));
        c.reset();
        assert_eq!(c.available(), 0);
        // Job 1 is sent again in the new session, after the hello.
        c.report(4, keys(&[1]));
        assert_eq!(c.available(), 3, "job 1 may still take a slot");
    }
}
