//! Which job a status report is about, and what becomes of a report about none.
//!
//! The store remembers, for each job, the TP-MR of every segment the network accepted,
//! the recipient and when the first segment went ([`JobRecord`]). A report belongs to a
//! job only when its TP-MR, its TP-RA ([`same_number`]) and its TP-SCTS
//! ([`in_window`]) all agree with it: the reference alone repeats every 256 segments,
//! and a report that comes a day late would otherwise be taken for a newer job's.

use core::ops::DerefMut;

use embedded_hal_nb::serial::{Read, Write};
use heapless::String;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{Event, JobKey, MAX_ADDRESS};
use relais_core::sms::pdu::{Address, StatusReport, TypeOfNumber};

use super::{Agent, AgentBuffers, time};
use crate::modem::{Clock, ModemPower, in_window, same_number};
use crate::store::{JobRecord, Store};

/// A job record and the number (from 1) of the segment a report is about.
type Found = (JobKey, JobRecord, u8);

impl<L, S, P, C, St, const SLOTS: usize, const WINDOW: usize, B>
    Agent<L, S, P, C, St, SLOTS, WINDOW, B>
where
    L: Read<u8> + Write<u8>,
    S: Read<u8> + Write<u8>,
    P: ModemPower,
    C: Clock,
    St: Store,
    B: DerefMut<Target = AgentBuffers<SLOTS>>,
{
    /// The job segment `sr` is about: a job with the same reference and recipient, sent
    /// at a time the report allows, whose delivery result is not reported yet.
    ///
    /// `None` otherwise. A report that fits no job is reported as
    /// [`Event::UnmatchedReport`]. Of several jobs that fit (possible only when 256
    /// segments went to one number within the report's time window) the one the store
    /// wrote last is taken; when that job's result was already reported, the report is a
    /// repeat (or about a segment after a failed one) and is dropped.
    pub(super) fn job_of_report(&mut self, sr: &StatusReport<'_>) -> Option<Found> {
        let submitted = time::timestamp_utc(&sr.timestamp);
        let now = self.now_utc();
        let fits = |r: &JobRecord| {
            r.report
                && same_number(r.to, &sr.recipient)
                && in_window(r.first_sent(), submitted, now)
        };
        let mr = sr.message_reference.0;
        match self.store.job_by_report(mr, &fits) {
            Ok(Some(found)) if !found.1.delivery_reported => return Some(found),
            // A repeat; or a store that cannot be read, which says nothing about the
            // report (it stays unclaimed rather than reported unmatched).
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => {
                let at = time::timestamp_utc(&sr.discharge_time).or(now);
                self.emit(Event::UnmatchedReport {
                    to: address_label(&sr.recipient),
                    mr,
                    st: sr.status.0,
                    submitted: submitted.unwrap_or(UtcInstant(0)),
                    at: at.unwrap_or(UtcInstant(0)),
                });
            }
        }
        None
    }
}

/// TP-RA as [`Event::UnmatchedReport`] shows it (`+` and digits for an international
/// number, the digits or the name otherwise), cut at [`MAX_ADDRESS`] bytes.
fn address_label(address: &Address) -> String<MAX_ADDRESS> {
    let mut out = String::new();
    let text = match address {
        Address::Number(n) => {
            if n.type_of_number() == TypeOfNumber::International {
                let _ = out.push('+');
            }
            n.digits()
        }
        Address::Alphanumeric(name) => name.as_str(),
    };
    for c in text.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}
