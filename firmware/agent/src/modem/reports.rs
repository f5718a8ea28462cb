//! Matching status reports to the segments they are about.
//!
//! `+CMGS: <mr>` gives each accepted segment a TP-Message-Reference; the
//! SMS-STATUS-REPORT for it repeats it in TP-MR, names the recipient in TP-RA and gives
//! in TP-SCTS the time the service centre received the segment (TS 23.040 §9.2.2.3,
//! §9.2.3.6, §9.2.3.11). The reference is one octet: the modem gives the same one again
//! every 256 segments, so a report that comes a day late (the phone was off) carries the
//! reference of a newer segment to someone else. A report belongs to a segment only when
//! all three agree: the reference, the recipient ([`same_number`]) and the time
//! ([`in_window`]).

use relais_core::at::command::sms::MessageReference;
use relais_core::compliance::number::{MAX_DIGITS, Msisdn};
use relais_core::compliance::tz::UtcInstant;
use relais_core::sms::pdu::{self, Address, SmscField, Tpdu, TypeOfNumber};

use super::InboundPdu;
use crate::agent::time::timestamp_utc;

/// How far a report's TP-SCTS may precede the time the device noted for the submission:
/// the device's clock (network or host time) running ahead of the service centre's.
pub const CLOCK_SLACK_S: i64 = 15 * 60;

/// How long a submission waits for its report: a week, longer than the validity
/// periods service centres apply by default (after which they report the message
/// expired). Older submissions match no report.
pub const REPORT_WINDOW_S: i64 = 7 * 24 * 3600;

/// Fewest digits a number not in international form must keep (after its leading
/// zeros) to be taken for the end of an international one.
const MIN_NATIONAL_DIGITS: usize = 6;

/// True when TP-RA `recipient` names the number whose E.164 digits, as one value, are
/// `to` ([`Msisdn::value`]; 0 names no number).
///
/// An international TP-RA must be the same number. Another TP-RA (TON unknown or
/// national, TS 23.040 §9.1.2.5), without its leading zeros (trunk prefix `0`,
/// international prefix `00`), must be the last digits of `to`, at least
/// [`MIN_NATIONAL_DIGITS`] of them, with at most 3 digits (a country code) before:
/// `0612345678` and `0033612345678` name `+33612345678`, `2125550123` names
/// `+12125550123`.
pub fn same_number(to: u64, recipient: &Address) -> bool {
    let Address::Number(number) = recipient else {
        return false;
    };
    // The digits after the leading zeros, as one value, and how many.
    let (mut value, mut n) = (0u64, 0usize);
    for b in number.digits().bytes() {
        if !b.is_ascii_digit() || n == MAX_DIGITS {
            return false;
        }
        if value == 0 && b == b'0' {
            continue;
        }
        // At most 15 digits: no overflow.
        value = value * 10 + u64::from(b - b'0');
        n += 1;
    }
    if number.type_of_number() == TypeOfNumber::International {
        // Neither has leading zeros: the same value is the same digits.
        return n > 0 && value == to;
    }
    // `to` ends with those n digits (so it has at least n: `value` has no leading zero)
    // and has at most 3 more. n <= 15: no overflow.
    let end = 10u64.pow(n as u32);
    n >= MIN_NATIONAL_DIGITS && to % end == value && to < end * 1000
}

/// True when a report whose service centre received the segment at `submitted` can be
/// about a segment the device noted as accepted at `sent`, judged at `now`: `submitted`
/// is not more than [`CLOCK_SLACK_S`] before `sent` nor more than [`REPORT_WINDOW_S`]
/// after it, and `sent` is not more than [`REPORT_WINDOW_S`] before `now`. A time that
/// is not known checks nothing.
pub fn in_window(
    sent: Option<UtcInstant>,
    submitted: Option<UtcInstant>,
    now: Option<UtcInstant>,
) -> bool {
    let Some(sent) = sent else {
        return true;
    };
    let expires = sent.0.saturating_add(REPORT_WINDOW_S);
    let earliest = sent.0.saturating_sub(CLOCK_SLACK_S);
    now.is_none_or(|n| n.0 <= expires)
        && submitted.is_none_or(|s| (earliest..=expires).contains(&s.0))
}

/// A segment the network accepted, as its status report will name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submission {
    /// TP-MR, from `+CMGS`.
    pub mr: MessageReference,
    /// The recipient.
    pub to: Msisdn,
    /// When the network accepted it, if the caller has a clock.
    pub at: Option<UtcInstant>,
}

/// Up to `N` segments waiting for their status report, each with a caller tag `T`
/// (a job id, a segment number …), matched on reference, recipient and time.
///
/// ```
/// use relais_agent::modem::{InboundPdu, ReportMatcher, Submission};
/// use relais_core::at::command::sms::MessageReference;
/// use relais_core::compliance::number::Msisdn;
/// let mut pending: ReportMatcher<u32, 4> = ReportMatcher::new();
/// let to = Msisdn::parse("+33612345678").unwrap();
/// pending.insert(Submission { mr: MessageReference(12), to, at: None }, 1001);
/// // TP-MR 12, TP-RA +33612345678, delivered.
/// let report = InboundPdu::from_hex(
///     None,
///     25,
///     b"07913386094000F0060C0B913316325476F8621122500000406211225010004000",
/// )
/// .unwrap();
/// assert_eq!(pending.take(&report, None), Some(1001));
/// assert_eq!(pending.take(&report, None), None);
/// ```
#[derive(Debug)]
pub struct ReportMatcher<T, const N: usize> {
    entries: heapless::Vec<(Submission, T), N>,
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

    /// Remembers that the segment `tag` was accepted as `submission`. Returns the entry
    /// that had to go when all `N` places are taken: the oldest (its report, if it ever
    /// comes, is unmatched). Segments with the same reference stay side by side.
    pub fn insert(&mut self, submission: Submission, tag: T) -> Option<(Submission, T)> {
        let evicted =
            (self.entries.is_full() && !self.entries.is_empty()).then(|| self.entries.remove(0));
        // Room was made above (N = 0 cannot hold anything: the tag is dropped).
        let _ = self.entries.push((submission, tag));
        evicted
    }

    /// The tag of the segment a status report is about, forgetting it: among the
    /// segments with its reference, recipient and a time it allows (judged at `now`),
    /// the one accepted last. `None` when the PDU is not a status report or no segment
    /// fits.
    pub fn take(&mut self, report: &InboundPdu, now: Option<UtcInstant>) -> Option<T> {
        let Ok(Tpdu::StatusReport(sr)) = pdu::decode(report.tpdu(), SmscField::Absent) else {
            return None;
        };
        let submitted = timestamp_utc(&sr.timestamp);
        let mut best: Option<(usize, Option<UtcInstant>)> = None;
        for (i, (s, _)) in self.entries.iter().enumerate() {
            let fits = s.mr.0 == sr.message_reference.0
                && same_number(s.to.value(), &sr.recipient)
                && in_window(s.at, submitted, now);
            if fits && best.is_none_or(|(_, at)| s.at >= at) {
                best = Some((i, s.at));
            }
        }
        Some(self.entries.remove(best?.0).1)
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
    extern crate std;

    use super::*;
    use std::format;

    fn number(text: &str) -> Msisdn {
        Msisdn::parse(text).unwrap()
    }

    fn ra(digits: &str, ton: TypeOfNumber) -> Address {
        Address::Number(pdu::PhoneNumber::with_type(digits, ton).unwrap())
    }

    #[test]
    fn a_number_in_another_form_is_the_same_number() {
        use TypeOfNumber::*;
        let fr = number("+33612345678");
        for (digits, ton) in [
            ("33612345678", International),
            ("0612345678", Unknown),
            ("612345678", National),
            ("0033612345678", Unknown),
            ("33612345678", Unknown),
        ] {
            assert!(
                same_number(fr.value(), &ra(digits, ton)),
                "{digits} {ton:?}"
            );
        }
        for (digits, ton) in [
            // Another subscriber, another country, a short code, a prefix too long.
            ("0612345679", Unknown),
            ("34612345678", International),
            ("612345678", International),
            ("36180", Unknown),
            ("2345678", Unknown),
            ("4433612345678", Unknown),
            ("06123*5678", Unknown),
        ] {
            assert!(
                !same_number(fr.value(), &ra(digits, ton)),
                "{digits} {ton:?}"
            );
        }
        assert!(same_number(
            number("+12125550123").value(),
            &ra("2125550123", Unknown)
        ));
        assert!(same_number(
            number("+390612345678").value(),
            &ra("0612345678", Unknown)
        ));
        let name = Address::alphanumeric("Shop").unwrap();
        assert!(!same_number(fr.value(), &name));
        // 0 names no number.
        assert!(!same_number(0, &ra("0000000", International)));
        assert!(!same_number(0, &ra("612345678", Unknown)));
    }

    #[test]
    fn the_time_window() {
        let sent = Some(UtcInstant(1_000_000));
        let at = |s: i64| Some(UtcInstant(1_000_000 + s));
        assert!(in_window(sent, at(3), at(60)));
        assert!(in_window(sent, at(-CLOCK_SLACK_S), at(0)));
        assert!(!in_window(sent, at(-CLOCK_SLACK_S - 1), at(0)));
        assert!(in_window(sent, at(REPORT_WINDOW_S), at(REPORT_WINDOW_S)));
        assert!(!in_window(sent, at(REPORT_WINDOW_S + 1), None));
        // Expired: a week after the submission nothing matches it any more.
        assert!(!in_window(sent, at(5), at(REPORT_WINDOW_S + 1)));
        // Unknown times check nothing.
        assert!(in_window(None, at(-99_999), at(99_999)));
        assert!(in_window(sent, None, None));
    }

    /// `+CDS` PDU: TP-MR `mr`, TP-RA +33612345678, SCTS 2026-11-22 05:00:00+01:00.
    fn report(mr: u8) -> InboundPdu {
        let hex =
            format!("07913386094000F006{mr:02X}0B913316325476F8621122500000406211225010004000");
        InboundPdu::from_hex(None, 25, hex.as_bytes()).unwrap()
    }

    #[test]
    fn matches_a_status_report_pdu() {
        let mut m: ReportMatcher<&str, 2> = ReportMatcher::new();
        let to = number("+33612345678");
        let mr = MessageReference(12);
        m.insert(Submission { mr, to, at: None }, "job 7 part 1");
        assert_eq!(m.take(&report(12), None), Some("job 7 part 1"));
        assert!(m.is_empty());
        // A DELIVER is not a report.
        m.insert(Submission { mr, to, at: None }, "job 8");
        let deliver = InboundPdu::from_hex(
            None,
            23,
            b"07913386094000F0040B913316325476F80000621122503000400453EA130A",
        )
        .unwrap();
        assert_eq!(m.take(&deliver, None), None);
        // Same reference, another recipient: not this segment.
        let mut other: ReportMatcher<&str, 2> = ReportMatcher::new();
        let to = number("+33698765432");
        other.insert(Submission { mr, to, at: None }, "someone else");
        assert_eq!(other.take(&report(12), None), None);
        assert_eq!(other.len(), 1);
    }

    #[test]
    fn a_late_report_goes_to_the_older_segment() {
        // 2026-11-22 04:00:00 UTC is when the SC received the segment (SCTS above).
        let scts = UtcInstant(1_795_320_000);
        let to = number("+33612345678");
        let mr = MessageReference(7);
        let mut m: ReportMatcher<&str, 4> = ReportMatcher::new();
        let older = Submission {
            mr,
            to,
            at: Some(UtcInstant(scts.0 - 20)),
        };
        // 256 segments later, the same reference to the same number, two hours on.
        let newer = Submission {
            mr,
            to,
            at: Some(UtcInstant(scts.0 + 7200)),
        };
        m.insert(older, "A");
        m.insert(newer, "B");
        let now = Some(UtcInstant(scts.0 + 86_400));
        assert_eq!(m.take(&report(7), now), Some("A"));
        assert_eq!(
            m.take(&report(7), now),
            None,
            "B was sent after the SC had it"
        );
        // Two that both fit: the one accepted last.
        let mut m: ReportMatcher<&str, 4> = ReportMatcher::new();
        m.insert(
            Submission {
                mr,
                to,
                at: Some(UtcInstant(scts.0 - 3600)),
            },
            "C",
        );
        m.insert(
            Submission {
                mr,
                to,
                at: Some(UtcInstant(scts.0 - 20)),
            },
            "A",
        );
        assert_eq!(m.take(&report(7), now), Some("A"));
        // A week and more after its submission a segment matches nothing.
        let late = Some(UtcInstant(scts.0 + REPORT_WINDOW_S));
        assert_eq!(m.take(&report(7), late), None);
    }

    #[test]
    fn a_full_matcher_evicts_the_oldest() {
        let to = number("+33612345678");
        let sub = |mr| Submission {
            mr: MessageReference(mr),
            to,
            at: None,
        };
        let mut m: ReportMatcher<u32, 2> = ReportMatcher::new();
        assert_eq!(m.insert(sub(1), 10), None);
        assert_eq!(m.insert(sub(1), 11), None);
        assert_eq!(m.insert(sub(3), 30), Some((sub(1), 10)));
        assert_eq!(m.len(), 2);
        let mut none: ReportMatcher<u32, 0> = ReportMatcher::new();
        assert_eq!(none.insert(sub(1), 1), None);
        assert!(none.is_empty());
    }
}
