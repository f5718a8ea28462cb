//! Matching status reports to the segments they are about.
//!
//! `+CMGS: <mr>` gives each accepted segment a TP-Message-Reference; the
//! SMS-STATUS-REPORT for it carries the same value in TP-MR (TS 23.040 §9.2.3.6,
//! verified on a real capture: `+CMGS: 64` → `+CDS` with TP-MR 0x40, AT-PDU.md §1).
//! References are one octet, so the modem reuses them after 256 sends: the newest
//! segment with a reference wins.

use relais_core::at::command::sms::MessageReference;

use super::InboundPdu;

/// Up to `N` segments waiting for their status report, each with a caller tag `T`
/// (a job id, a segment number …).
///
/// ```
/// use relais_agent::modem::ReportMatcher;
/// use relais_core::at::command::sms::MessageReference;
/// let mut pending: ReportMatcher<u32, 4> = ReportMatcher::new();
/// pending.insert(MessageReference(12), 1001);
/// assert_eq!(pending.take_reference(MessageReference(12)), Some(1001));
/// assert_eq!(pending.take_reference(MessageReference(12)), None);
/// ```
#[derive(Debug)]
pub struct ReportMatcher<T, const N: usize> {
    entries: heapless::Vec<(MessageReference, T), N>,
}

impl<T, const N: usize> Default for ReportMatcher<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> ReportMatcher<T, N> {
    /// An empty matcher.
    pub const fn new() -> Self {
        Self {
            entries: heapless::Vec::new(),
        }
    }

    /// Remembers that the segment `tag` was accepted with reference `mr`. Returns the
    /// entry that had to go: an older segment with the same reference, or the oldest
    /// one when all `N` places are taken (its report, if it ever comes, is unmatched).
    pub fn insert(&mut self, mr: MessageReference, tag: T) -> Option<(MessageReference, T)> {
        let evicted = match self.entries.iter().position(|(m, _)| *m == mr) {
            Some(i) => Some(self.entries.remove(i)),
            None if self.entries.is_full() && !self.entries.is_empty() => {
                Some(self.entries.remove(0))
            }
            None => None,
        };
        // Room was made above (N = 0 cannot hold anything: the tag is dropped).
        let _ = self.entries.push((mr, tag));
        evicted
    }

    /// The tag of the segment a status report is about, forgetting it. `None` when the
    /// PDU is not a status report or its reference is unknown.
    pub fn take(&mut self, report: &InboundPdu) -> Option<T> {
        self.take_reference(report.status_report_reference()?)
    }

    /// The tag recorded for `mr`, forgetting it.
    pub fn take_reference(&mut self, mr: MessageReference) -> Option<T> {
        let i = self.entries.iter().position(|(m, _)| *m == mr)?;
        Some(self.entries.remove(i).1)
    }

    /// Segments still waiting for a report.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no segment is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_status_report_pdu() {
        let mut m: ReportMatcher<&str, 2> = ReportMatcher::new();
        m.insert(MessageReference(12), "job 7 part 1");
        let report = InboundPdu::from_hex(
            None,
            25,
            b"07913386094000F0060C0B913316325476F8621122500000406211225010004000",
        )
        .unwrap();
        assert_eq!(m.take(&report), Some("job 7 part 1"));
        assert!(m.is_empty());
        // A DELIVER is not a report.
        let deliver = InboundPdu::from_hex(
            None,
            23,
            b"07913386094000F0040B913316325476F80000621122503000400453EA130A",
        )
        .unwrap();
        assert_eq!(m.take(&deliver), None);
    }

    #[test]
    fn reused_reference_and_full_matcher_evict() {
        let mut m: ReportMatcher<u32, 2> = ReportMatcher::new();
        assert_eq!(m.insert(MessageReference(1), 10), None);
        assert_eq!(
            m.insert(MessageReference(1), 11),
            Some((MessageReference(1), 10))
        );
        assert_eq!(m.insert(MessageReference(2), 20), None);
        assert_eq!(
            m.insert(MessageReference(3), 30),
            Some((MessageReference(1), 11))
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m.take_reference(MessageReference(2)), Some(20));
        let mut none: ReportMatcher<u32, 0> = ReportMatcher::new();
        assert_eq!(none.insert(MessageReference(1), 1), None);
        assert!(none.is_empty());
    }
}
