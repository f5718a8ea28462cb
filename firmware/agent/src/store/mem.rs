//! [`Store`] in RAM with fixed capacities: for host tests and for the agent running
//! inside the host (`relais direct`), where the host's own database is the durable copy.

use heapless::{Deque, Vec};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{
    BootId, BrandId, Event, EventEpoch, EventId, JobKey, Scope, digest_entry,
};

use super::{InFlight, JobRecord, MAX_PENDING_REPLIES, PaceMark, PendingReply, Store, StoreError};

/// A RAM store with room for `S` opt-outs, `J` job records and `E` outbox events.
#[derive(Debug)]
pub struct MemStore<const S: usize, const J: usize, const E: usize> {
    boots: u32,
    epoch: EventEpoch,
    suppression: Vec<(Msisdn, Scope), S>,
    /// Oldest first.
    jobs: Vec<(JobKey, JobRecord), J>,
    in_flight: Option<InFlight>,
    outbox: Deque<(EventId, Event), E>,
    next_event: u32,
    pace: Option<PaceMark>,
    /// Oldest first.
    replies: Vec<(JobKey, PendingReply), MAX_PENDING_REPLIES>,
}

impl<const S: usize, const J: usize, const E: usize> Default for MemStore<S, J, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize, const J: usize, const E: usize> MemStore<S, J, E> {
    /// An empty store.
    pub const fn new() -> Self {
        MemStore {
            boots: 0,
            epoch: EventEpoch::NONE,
            suppression: Vec::new(),
            jobs: Vec::new(),
            in_flight: None,
            outbox: Deque::new(),
            next_event: 1,
            pace: None,
            replies: Vec::new(),
        }
    }
}

/// A finished record with nothing more to learn: no delivery report pending.
fn settled(r: &JobRecord) -> bool {
    r.state.is_finished() && (!r.report || r.delivery_reported || r.mrs.is_empty())
}

impl<const S: usize, const J: usize, const E: usize> Store for MemStore<S, J, E> {
    fn next_boot(&mut self) -> Result<BootId, StoreError> {
        self.boots = self.boots.wrapping_add(1);
        Ok(BootId(self.boots))
    }

    fn epoch(&self) -> Result<EventEpoch, StoreError> {
        Ok(self.epoch)
    }

    fn adopt_epoch(&mut self, epoch: EventEpoch) -> Result<EventEpoch, StoreError> {
        if self.epoch == EventEpoch::NONE {
            self.epoch = epoch;
        }
        Ok(self.epoch)
    }

    fn suppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        if self.suppression.contains(&(*number, scope)) {
            return Ok(());
        }
        self.suppression
            .push((*number, scope))
            .map_err(|_| StoreError::Full)
    }

    fn unsuppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        self.suppression.retain(|e| *e != (*number, scope));
        Ok(())
    }

    fn clear_suppression(&mut self) -> Result<(), StoreError> {
        self.suppression.clear();
        Ok(())
    }

    fn opted_out(&self, number: &Msisdn, brand: BrandId) -> Result<Option<Scope>, StoreError> {
        for scope in [Scope::All, Scope::Brand(brand)] {
            if self.suppression.contains(&(*number, scope)) {
                return Ok(Some(scope));
            }
        }
        Ok(None)
    }

    fn suppression_summary(&self) -> Result<(u32, u64), StoreError> {
        let digest = self
            .suppression
            .iter()
            .fold(0u64, |d, (n, s)| d.wrapping_add(digest_entry(n, *s)));
        Ok((self.suppression.len() as u32, digest))
    }

    fn suppression_capacity(&self) -> u32 {
        S as u32
    }

    fn job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .jobs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| r.clone()))
    }

    fn put_job(&mut self, key: JobKey, record: &JobRecord) -> Result<(), StoreError> {
        // Most recently written last, so `job_by_mr` finds the newest first from the end.
        if let Some(i) = self.jobs.iter().position(|(k, _)| *k == key) {
            self.jobs.remove(i);
        } else if self.jobs.is_full() {
            // A settled record first; else the oldest finished one (a delivery report
            // that still comes for it will find no job).
            let victim = self
                .jobs
                .iter()
                .position(|(_, r)| settled(r))
                .or_else(|| self.jobs.iter().position(|(_, r)| r.state.is_finished()))
                .ok_or(StoreError::Full)?;
            self.jobs.remove(victim);
        }
        self.jobs
            .push((key, record.clone()))
            .map_err(|_| StoreError::Full)
    }

    fn job_by_report(
        &self,
        mr: u8,
        accept: &dyn Fn(&JobRecord) -> bool,
    ) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError> {
        for (key, record) in self.jobs.iter().rev() {
            if let Some(i) = record.mrs.iter().position(|m| *m == mr)
                && accept(record)
            {
                return Ok(Some((*key, record.clone(), i as u8 + 1)));
            }
        }
        Ok(None)
    }

    fn begin_send(&mut self, segment: InFlight) -> Result<(), StoreError> {
        self.in_flight = Some(segment);
        Ok(())
    }

    fn end_send(&mut self) -> Result<(), StoreError> {
        self.in_flight = None;
        Ok(())
    }

    fn in_flight(&self) -> Result<Option<InFlight>, StoreError> {
        Ok(self.in_flight)
    }

    fn push_event(&mut self, event: &Event) -> Result<EventId, StoreError> {
        let id = EventId(self.next_event);
        self.outbox
            .push_back((id, event.clone()))
            .map_err(|_| StoreError::Full)?;
        self.next_event = self.next_event.wrapping_add(1);
        Ok(id)
    }

    fn next_event(&self, after: Option<EventId>) -> Result<Option<(EventId, Event)>, StoreError> {
        Ok(self
            .outbox
            .iter()
            .find(|(id, _)| after.is_none_or(|a| *id > a))
            .cloned())
    }

    fn event_bytes(&self, id: EventId, f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        let Some((_, event)) = self.outbox.iter().find(|(i, _)| *i == id) else {
            return Ok(false);
        };
        // Encoded as the flash store keeps it.
        let mut buf = [0u8; super::flash::EVENT_MAX + 5];
        let bytes = postcard::to_slice(&(id.0, event), &mut buf).map_err(|_| StoreError::Full)?;
        f(bytes);
        Ok(true)
    }

    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError> {
        while self.outbox.front().is_some_and(|(id, _)| *id <= upto) {
            self.outbox.pop_front();
        }
        Ok(())
    }

    fn outbox_len(&self) -> Result<usize, StoreError> {
        Ok(self.outbox.len())
    }

    fn next_event_id(&self) -> Result<EventId, StoreError> {
        Ok(EventId(self.next_event))
    }

    fn outbox_capacity(&self) -> Option<usize> {
        Some(E)
    }

    fn pace(&self) -> Result<Option<PaceMark>, StoreError> {
        Ok(self.pace.clone())
    }

    fn put_pace(&mut self, mark: &PaceMark) -> Result<(), StoreError> {
        self.pace = Some(mark.clone());
        Ok(())
    }

    fn put_reply(&mut self, key: JobKey, to: &Msisdn, text: &str) -> Result<(), StoreError> {
        if self.replies.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let text = heapless::String::try_from(text).map_err(|_| StoreError::Full)?;
        self.replies
            .push((key, PendingReply { to: *to, text }))
            .map_err(|_| StoreError::Full)
    }

    fn remove_reply(&mut self, key: JobKey) -> Result<(), StoreError> {
        self.replies.retain(|(k, _)| *k != key);
        Ok(())
    }

    fn replies(&self, f: &mut dyn FnMut(JobKey, PendingReply)) -> Result<(), StoreError> {
        for (key, reply) in self.replies.iter() {
            f(*key, reply.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobState;

    fn n(s: &str) -> Msisdn {
        Msisdn::parse(s).unwrap()
    }

    #[test]
    fn suppression_scopes_and_digest() {
        let mut s: MemStore<4, 4, 4> = MemStore::new();
        let acme = BrandId::of("acme");
        s.suppress(&n("+33612345678"), Scope::Brand(acme)).unwrap();
        s.suppress(&n("+33612345678"), Scope::Brand(acme)).unwrap();
        assert_eq!(
            s.opted_out(&n("+33612345678"), acme).unwrap(),
            Some(Scope::Brand(acme))
        );
        assert_eq!(
            s.opted_out(&n("+33612345678"), BrandId::of("other"))
                .unwrap(),
            None
        );
        s.suppress(&n("+33612345678"), Scope::All).unwrap();
        assert_eq!(
            s.opted_out(&n("+33612345678"), BrandId::of("other"))
                .unwrap(),
            Some(Scope::All)
        );
        let (count, digest) = s.suppression_summary().unwrap();
        assert_eq!(count, 2);
        assert_eq!(
            digest,
            digest_entry(&n("+33612345678"), Scope::Brand(acme))
                .wrapping_add(digest_entry(&n("+33612345678"), Scope::All))
        );
        s.unsuppress(&n("+33612345678"), Scope::All).unwrap();
        assert_eq!(s.suppression_summary().unwrap().0, 1);
    }

    #[test]
    fn open_jobs_are_never_evicted() {
        let mut s: MemStore<1, 2, 1> = MemStore::new();
        s.put_job(JobKey(1), &JobRecord::new(1, false)).unwrap();
        s.put_job(JobKey(2), &JobRecord::new(2, false)).unwrap();
        assert_eq!(
            s.put_job(JobKey(3), &JobRecord::new(3, false)),
            Err(StoreError::Full)
        );
        let mut done = JobRecord::new(1, false);
        done.state = JobState::Sent;
        s.put_job(JobKey(1), &done).unwrap();
        s.put_job(JobKey(3), &JobRecord::new(3, false)).unwrap();
        assert_eq!(s.job(JobKey(1)).unwrap(), None);
        assert!(s.job(JobKey(2)).unwrap().is_some());
    }

    #[test]
    fn outbox_numbers_and_acks() {
        let mut s: MemStore<1, 1, 2> = MemStore::new();
        let a = s.push_event(&Event::Accepted(JobKey(1))).unwrap();
        let b = s.push_event(&Event::Accepted(JobKey(2))).unwrap();
        assert_eq!(
            s.push_event(&Event::Accepted(JobKey(3))),
            Err(StoreError::Full)
        );
        assert_eq!(s.next_event(None).unwrap().unwrap().0, a);
        assert_eq!(s.next_event(Some(a)).unwrap().unwrap().0, b);
        assert_eq!(s.next_event(Some(b)).unwrap(), None);
        s.ack_events(a).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 1);
        assert_eq!(s.next_event_id().unwrap(), EventId(b.0 + 1));
    }

    #[test]
    fn delivery_lookup_by_reference() {
        let mut s: MemStore<1, 4, 1> = MemStore::new();
        let mut r = JobRecord::new(9, true);
        r.mrs.push(17).unwrap();
        r.mrs.push(18).unwrap();
        s.put_job(JobKey(5), &r).unwrap();
        let (key, _, part) = s.job_by_mr(18).unwrap().unwrap();
        assert_eq!((key, part), (JobKey(5), 2));
        assert!(s.job_by_mr(19).unwrap().is_none());
    }
}
