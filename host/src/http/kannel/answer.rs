//! Kannel's answers to `/cgi-bin/sendsms`, word for word.
//!
//! Every body below is the string Kannel's smsbox writes (gw/smsbox.c of Kannel 1.4/1.5;
//! the functions are named on each constant) and every status the HTTP code it sends
//! with it. Clients match these strings, so they stay exactly as Kannel has them. None of
//! the sendsms answers ends with a newline in Kannel (only sendota's "Erroneous ota
//! source, cannot compile" has one), and none does here.
//!
//! Kannel sends them all with `Content-type: text/html`, `Pragma: no-cache` and
//! `Cache-Control: no-cache` ([`REPLY_HEADERS`]).

use std::borrow::Cow;

/// The headers Kannel's smsbox puts on every sendsms answer (gw/smsbox.c, `main`:
/// `sendsms_reply_hdrs`).
pub const REPLY_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "text/html"),
    ("Pragma", "no-cache"),
    ("Cache-Control", "no-cache"),
];

/// 202: the bearerbox took the message (gw/smsbox.c, `delayed_http_reply`, ack_success;
/// Kannel user guide, "SMS Push reply codes").
pub const ACCEPTED: &str = "0: Accepted for delivery";
/// 202: the bearerbox stored the message for later (gw/smsbox.c, `delayed_http_reply`,
/// ack_buffered; user guide, "SMS Push reply codes").
pub const QUEUED: &str = "3: Queued for later delivery";
/// 403: the message cannot be routed (gw/smsbox.c, `delayed_http_reply`, ack_failed).
pub const NOT_ROUTABLE: &str = "Not routable. Do not try again.";
/// 503: a temporary failure (gw/smsbox.c, `delayed_http_reply`, ack_failed_tmp;
/// user guide, "SMS Push reply codes").
pub const TEMPORAL_FAILURE: &str = "Temporal failure, try again later.";
/// 202: the answer with `immediate-sendsms-reply` (gw/smsbox.c, `smsbox_req_handle`),
/// followed by " Denied receivers are: ..." and " Message splits: N" when they apply.
pub const SENT: &str = "Sent.";
/// 500: handing the message on failed (gw/smsbox.c, `smsbox_req_handle`), followed by
/// " Failed receivers are: ..." when the request had several receivers.
pub const SENDING_FAILED: &str = "Sending failed.";
/// 404: any other path on the sendsms port (gw/smsbox.c, `sendsms_thread`).
pub const UNKNOWN_REQUEST: &str = "Unknown request.";

/// 403: unknown user, wrong password, or no credentials (gw/smsbox.c,
/// `smsbox_req_sendsms` and `smsbox_sendsms_post`).
pub const AUTHORIZATION_FAILED: &str = "Authorization failed for sendsms";
/// 400: a POST whose Content-Type Kannel does not read (gw/smsbox.c,
/// `smsbox_sendsms_post`), answered before the credentials are looked at.
pub const INVALID_CONTENT_TYPE: &str = "Invalid content-type";
/// 415: a POST of `text/html` or `text/vnd.wap.wml` (gw/smsbox.c, `smsbox_sendsms_post`):
/// read for its X-Kannel headers, then refused after the credentials and receivers.
pub const UNSUPPORTED_CONTENT_TYPE: &str = "Unsupported content-type, rejected";
/// 400: a GET without `to` (gw/smsbox.c, `smsbox_req_sendsms`).
pub const MISSING_RECEIVER: &str = "Missing receiver number, rejected";
/// 400: a POST without X-Kannel-To or `<da>` (gw/smsbox.c, `smsbox_sendsms_post`).
pub const MISSING_RECEIVERS: &str = "Missing receiver(s) number(s), rejected";
/// 400: `to` given but empty (gw/smsbox.c, `smsbox_req_sendsms`, `smsbox_sendsms_post`).
pub const EMPTY_RECEIVER: &str = "Empty receiver number not allowed, rejected";
/// 400: the first UDH byte is not the length of the rest (gw/smsbox.c,
/// `smsbox_req_handle`, like every answer below).
pub const UDH_MISFORMED: &str = "UDH field misformed, rejected";
/// 400: a UDH longer than 140 bytes.
pub const UDH_TOO_LONG: &str = "UDH field is too long, rejected";
/// 400: no receiver left once those with characters outside `sendsms-chars` (and, in
/// Kannel, those a white or black list refuses) are set aside.
pub const RECEIVERS_DENIED: &str = "Number(s) has/have been denied by white- and/or black-lists.";
/// 400: no `from`, and no faked, default or global sender to use instead.
pub const SENDER_MISSING: &str = "Sender missing and no global set, rejected";
/// 400: an account longer than 64 bytes or with `[`, `]`, CR or LF.
pub const ACCOUNT_MISFORMED: &str = "Account field misformed or too long, rejected";
/// 400: a dlr-url that does not start with `http://` or `https://`.
pub const DLR_URL_MISFORMED: &str = "DLR-URL field misformed, rejected";
/// 400: a dlr-mask outside 0..=63.
pub const DLR_MASK_MISFORMED: &str = "DLR-Mask field misformed, rejected";
/// 400: an mclass outside 0..=3.
pub const MCLASS_MISFORMED: &str = "MClass field misformed, rejected";
/// 400: a pid outside 0..=255.
pub const PID_MISFORMED: &str = "PID field misformed, rejected";
/// 400: an rpi outside 0..=2.
pub const RPI_MISFORMED: &str = "RPI field misformed, rejected";
/// 400: an alt-dcs outside 0..=1.
pub const ALT_DCS_MISFORMED: &str = "Alt-DCS field misformed, rejected";
/// 400: an mwi outside 0..=7.
pub const MWI_MISFORMED: &str = "MWI field misformed, rejected";
/// 400: a coding outside 0..=2.
pub const CODING_MISFORMED: &str = "Coding field misformed, rejected";
/// 400: a compress outside 0..=1.
pub const COMPRESS_MISFORMED: &str = "Compress field misformed, rejected";
/// 400: a negative validity (other than -1, Kannel's "unset").
pub const VALIDITY_MISFORMED: &str = "Validity field misformed, rejected";
/// 400: a negative deferred (other than -1).
pub const DEFERRED_MISFORMED: &str = "Deferred field misformed, rejected";
/// 400: a priority outside 0..=3 (other than -1).
pub const PRIORITY_MISFORMED: &str = "Priority field misformed, rejected";
/// 400: an unknown charset, or a text that is not valid in its charset.
pub const CHARSET_MISFORMED: &str = "Charset or body misformed, rejected";

/// One answer to a sendsms request: the HTTP status and the plain-text body, without a
/// trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, one of the constants of this module (some followed by details).
    pub body: Cow<'static, str>,
}

impl Answer {
    const fn fixed(status: u16, body: &'static str) -> Answer {
        Answer {
            status,
            body: Cow::Borrowed(body),
        }
    }

    /// 202 [`ACCEPTED`]: the message is stored and will be sent.
    pub const fn accepted() -> Answer {
        Answer::fixed(202, ACCEPTED)
    }
    /// 202 [`QUEUED`]: stored, but no device can take it now.
    pub const fn queued() -> Answer {
        Answer::fixed(202, QUEUED)
    }
    /// 403 [`NOT_ROUTABLE`].
    pub const fn not_routable() -> Answer {
        Answer::fixed(403, NOT_ROUTABLE)
    }
    /// 503 [`TEMPORAL_FAILURE`].
    pub const fn temporal_failure() -> Answer {
        Answer::fixed(503, TEMPORAL_FAILURE)
    }
    /// 404 [`UNKNOWN_REQUEST`].
    pub const fn unknown_request() -> Answer {
        Answer::fixed(404, UNKNOWN_REQUEST)
    }
    /// 403 [`AUTHORIZATION_FAILED`].
    pub const fn authorization_failed() -> Answer {
        Answer::fixed(403, AUTHORIZATION_FAILED)
    }
    /// 400 [`INVALID_CONTENT_TYPE`].
    pub const fn invalid_content_type() -> Answer {
        Answer::fixed(400, INVALID_CONTENT_TYPE)
    }
    /// 415 [`UNSUPPORTED_CONTENT_TYPE`].
    pub const fn unsupported_content_type() -> Answer {
        Answer::fixed(415, UNSUPPORTED_CONTENT_TYPE)
    }
    /// 400 [`MISSING_RECEIVER`] (GET).
    pub const fn missing_receiver() -> Answer {
        Answer::fixed(400, MISSING_RECEIVER)
    }
    /// 400 [`MISSING_RECEIVERS`] (POST).
    pub const fn missing_receivers() -> Answer {
        Answer::fixed(400, MISSING_RECEIVERS)
    }
    /// 400 [`EMPTY_RECEIVER`].
    pub const fn empty_receiver() -> Answer {
        Answer::fixed(400, EMPTY_RECEIVER)
    }
    /// 400 [`UDH_MISFORMED`].
    pub const fn udh_misformed() -> Answer {
        Answer::fixed(400, UDH_MISFORMED)
    }
    /// 400 [`UDH_TOO_LONG`].
    pub const fn udh_too_long() -> Answer {
        Answer::fixed(400, UDH_TOO_LONG)
    }
    /// 400 [`RECEIVERS_DENIED`]: every receiver refused (also for the caller's own
    /// lists, such as opt-outs, if it answers like Kannel's white and black lists).
    pub const fn receivers_denied() -> Answer {
        Answer::fixed(400, RECEIVERS_DENIED)
    }
    /// 400 [`SENDER_MISSING`].
    pub const fn sender_missing() -> Answer {
        Answer::fixed(400, SENDER_MISSING)
    }
    /// 400 [`ACCOUNT_MISFORMED`].
    pub const fn account_misformed() -> Answer {
        Answer::fixed(400, ACCOUNT_MISFORMED)
    }
    /// 400 [`DLR_URL_MISFORMED`].
    pub const fn dlr_url_misformed() -> Answer {
        Answer::fixed(400, DLR_URL_MISFORMED)
    }
    /// 400 [`DLR_MASK_MISFORMED`].
    pub const fn dlr_mask_misformed() -> Answer {
        Answer::fixed(400, DLR_MASK_MISFORMED)
    }
    /// 400 [`MCLASS_MISFORMED`].
    pub const fn mclass_misformed() -> Answer {
        Answer::fixed(400, MCLASS_MISFORMED)
    }
    /// 400 [`PID_MISFORMED`].
    pub const fn pid_misformed() -> Answer {
        Answer::fixed(400, PID_MISFORMED)
    }
    /// 400 [`RPI_MISFORMED`].
    pub const fn rpi_misformed() -> Answer {
        Answer::fixed(400, RPI_MISFORMED)
    }
    /// 400 [`ALT_DCS_MISFORMED`].
    pub const fn alt_dcs_misformed() -> Answer {
        Answer::fixed(400, ALT_DCS_MISFORMED)
    }
    /// 400 [`MWI_MISFORMED`].
    pub const fn mwi_misformed() -> Answer {
        Answer::fixed(400, MWI_MISFORMED)
    }
    /// 400 [`CODING_MISFORMED`].
    pub const fn coding_misformed() -> Answer {
        Answer::fixed(400, CODING_MISFORMED)
    }
    /// 400 [`COMPRESS_MISFORMED`].
    pub const fn compress_misformed() -> Answer {
        Answer::fixed(400, COMPRESS_MISFORMED)
    }
    /// 400 [`VALIDITY_MISFORMED`].
    pub const fn validity_misformed() -> Answer {
        Answer::fixed(400, VALIDITY_MISFORMED)
    }
    /// 400 [`DEFERRED_MISFORMED`].
    pub const fn deferred_misformed() -> Answer {
        Answer::fixed(400, DEFERRED_MISFORMED)
    }
    /// 400 [`PRIORITY_MISFORMED`].
    pub const fn priority_misformed() -> Answer {
        Answer::fixed(400, PRIORITY_MISFORMED)
    }
    /// 400 [`CHARSET_MISFORMED`].
    pub const fn charset_misformed() -> Answer {
        Answer::fixed(400, CHARSET_MISFORMED)
    }

    /// 202 [`SENT`] as Kannel words it with `immediate-sendsms-reply`: the receivers set
    /// aside follow " Denied receivers are:", and the number of parts " Message splits:"
    /// when there is more than one.
    pub fn sent(denied: &[String], splits: u32) -> Answer {
        let mut body = String::from(SENT);
        if !denied.is_empty() {
            body.push_str(" Denied receivers are:");
            for receiver in denied {
                body.push(' ');
                body.push_str(receiver);
            }
        }
        if splits > 1 {
            body.push_str(&format!(" Message splits: {splits}"));
        }
        Answer {
            status: 202,
            body: Cow::Owned(body),
        }
    }

    /// 500 [`SENDING_FAILED`]: when the request named more than one receiver
    /// (`receivers`), the failed ones follow " Failed receivers are:".
    pub fn sending_failed(failed: &[String], receivers: usize) -> Answer {
        let mut body = String::from(SENDING_FAILED);
        if receivers > 1 {
            body.push_str(" Failed receivers are:");
            for receiver in failed {
                body.push(' ');
                body.push_str(receiver);
            }
        }
        Answer {
            status: 500,
            body: Cow::Owned(body),
        }
    }
}
