//! Kannel's `/cgi-bin/sendsms` request, read from raw bytes: no HTTP types here, the
//! axum handler hands over the query string, the headers and the body, and gets back
//! values or one of Kannel's answers ([`Answer`]).
//!
//! The reference is Kannel's smsbox (gw/smsbox.c: `smsbox_req_sendsms`,
//! `smsbox_sendsms_post`, `get_x_kannel_from_headers`, `get_x_kannel_from_xml`,
//! `smsbox_req_handle`, `charset_processing`) and its user guide ("Using the HTTP interface
//! to send SMS messages", "SMS Push (send-sms) CGI Variables", "X-Kannel Headers", "XML
//! Post"). Where the two disagree, we do what the code does, except where noted.
//!
//! Two steps, in Kannel's order:
//!
//! 1. [`parse`] reads the request into [`Params`]: CGI variables of a GET (or of a form
//!    POST), X-Kannel headers and body of a POST, or Kannel's XML document. Aliases are
//!    resolved here. The only refusal at this point is a POST of a content type Kannel
//!    does not read (400, before the credentials).
//! 2. [`Params::credentials`] gives the username and password to check (403 when one is
//!    missing); once the caller has accepted them, [`Params::validate`] checks the other
//!    fields in Kannel's order and decodes the text, giving a [`SendSms`].
//!
//! Request shapes:
//!
//! - GET: CGI variables from the query string (`username` or `user`, `password` or
//!   `pass`, `from`, `to`, `text`, `charset`, `udh`, `smsc`, `mclass`, `mwi`,
//!   `compress`, `coding`, `validity`, `deferred`, `dlr-mask` or `dlrmask`, `dlr-url` or
//!   `dlrurl`, `pid`, `alt-dcs`, `rpi`, `account`, `binfo`, `priority`, `meta-data`).
//!   The first occurrence of a name counts.
//! - POST `text/plain` or `application/octet-stream` (and no Content-Type, which Kannel
//!   takes as the latter): the same fields from `X-Kannel-*` headers (the last one of a
//!   name counts, as in Kannel), the text is the body, its charset the Content-Type's
//!   (ISO-8859-1 for `text/plain` without one, as Kannel). `text/html` and
//!   `text/vnd.wap.wml` are read the same way and refused with 415 once the credentials
//!   and receivers are checked, as Kannel does.
//! - POST `text/xml`: Kannel's XML document, several `<da>` for several receivers (see
//!   the `xml` submodule).
//! - POST `application/x-www-form-urlencoded` (not in Kannel, which answers it 400
//!   "Invalid content-type"): the body's variables after the query string's, read as a
//!   GET.
//!
//! In every POST, variables of the query string fill in the fields the headers or the
//! XML document leave out (Kannel ignores the query string of a POST), text and charset
//! excepted.

mod answer;
mod cgi;
mod charset;
mod xml;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{Map, Value};

pub use answer::*;
pub use charset::Charset;

use cgi::{
    CgiVar, cgi_first, hex_decode, is_c_space, parse_cgi, scan_int, strip_blanks, url_decode,
};

/// Kannel's default `sendsms-chars`: the characters a receiver may have (gw/smsbox.c,
/// `SENDSMS_DEFAULT_CHARS`; user guide, smsbox group).
pub const DEFAULT_NUMBER_CHARS: &str = "0123456789 +-";

/// Longest `account` Kannel takes, in bytes (gw/smsbox.c, `ACCOUNT_MAX_LEN`).
pub const ACCOUNT_MAX_LEN: usize = 64;

/// Longest UDH, in bytes (gw/sms.h, `MAX_SMS_OCTETS`).
pub const UDH_MAX_LEN: usize = 140;

/// One sendsms request as the HTTP server received it.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// The method is POST (anything else reads as a GET, its body ignored, as Kannel).
    pub post: bool,
    /// The query string, still percent-encoded (what `Uri::query` gives).
    pub query: Option<&'a str>,
    /// The Content-Type header.
    pub content_type: Option<&'a str>,
    /// Every header, names in any case (only `X-Kannel-*` ones are read).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body.
    pub body: &'a [u8],
}

/// How a request was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// CGI variables: a GET, or a form POST.
    Cgi,
    /// POST `text/plain`: X-Kannel headers, the body is text (7-bit by default).
    Plain,
    /// POST `application/octet-stream` or without Content-Type: X-Kannel headers, the
    /// body is data (8-bit by default).
    OctetStream,
    /// POST `text/html` or `text/vnd.wap.wml`: refused with 415 after the checks of
    /// credentials and receivers.
    Html,
    /// POST `text/xml` that reads as Kannel's format (then like `text/plain`).
    Xml,
    /// POST `text/xml` that does not: no field is read, so the credentials are missing.
    XmlUnreadable,
}

/// The receivers as the request gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum To {
    /// No `to` at all.
    Missing,
    /// `to` / X-Kannel-To: receivers separated by white space.
    Text(String),
    /// `<da><number>` of an XML document.
    List(Vec<String>),
}

/// The fields of a sendsms request, aliases resolved, nothing checked yet.
#[derive(Clone, PartialEq, Eq)]
pub struct Params {
    shape: Shape,
    username: Option<String>,
    password: Option<String>,
    from: Option<String>,
    to: To,
    text: Vec<u8>,
    /// An XML `<ud>` that its document's charset cannot hold.
    text_invalid: bool,
    charset: Option<String>,
    udh: Option<Vec<u8>>,
    smsc: Option<String>,
    account: Option<String>,
    binfo: Option<String>,
    dlr_url: Option<String>,
    meta_data: Option<String>,
    // Numbers as Kannel reads them: None when not given (or not a number, which Kannel
    // treats as not given), -1 meaning "unset" as in Kannel.
    mclass: Option<i64>,
    mwi: Option<i64>,
    coding: Option<i64>,
    compress: Option<i64>,
    validity: Option<i64>,
    deferred: Option<i64>,
    dlr_mask: Option<i64>,
    pid: Option<i64>,
    alt_dcs: Option<i64>,
    rpi: Option<i64>,
    priority: Option<i64>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("shape", &self.shape)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("text_len", &self.text.len())
            .field("charset", &self.charset)
            .field("udh", &self.udh)
            .field("coding", &self.coding)
            .finish_non_exhaustive()
    }
}

/// The credentials of a request, for the caller to check.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// `username` (or `user`, X-Kannel-Username, `<from><username>`...).
    pub username: &'a str,
    /// `password` (or `pass`, X-Kannel-Password, `<from><password>`...).
    pub password: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What Kannel's configuration decides about a request, for [`Params::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most SMS parts one message may take (Kannel's `max-messages`). Not checked here:
    /// Kannel does not refuse a long text, it cuts it to this many parts when it splits
    /// it. Carried for the caller.
    pub max_messages: u32,
    /// Characters a receiver may have (Kannel's `sendsms-chars`); receivers with others
    /// are set aside ([`SendSms::denied`]), and the request refused when none is left.
    pub number_chars: String,
    /// A sender is configured (Kannel's `faked-sender`, `default-sender` or
    /// `global-sender`; for relais, the device's own number): a request without `from` is
    /// then accepted. When false, such a request gets "Sender missing and no global set".
    pub sender_configured: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_messages: 1,
            number_chars: DEFAULT_NUMBER_CHARS.into(),
            sender_configured: true,
        }
    }
}

/// The data coding of the message (Kannel's `coding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// 0: the GSM 7-bit alphabet; the text is text.
    SevenBit,
    /// 1: 8-bit data; the body is bytes ([`SendSms::binary`]).
    EightBit,
    /// 2: UCS-2; the text is text.
    Ucs2,
}

impl Coding {
    /// Kannel's number for it.
    pub fn number(self) -> u8 {
        match self {
            Coding::SevenBit => 0,
            Coding::EightBit => 1,
            Coding::Ucs2 => 2,
        }
    }
}

/// A sendsms request that passed every check Kannel makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSms {
    /// `from`, when given and not empty (otherwise the configured sender applies).
    pub from: Option<String>,
    /// The receivers as given, each once, in order; at least one.
    pub to: Vec<String>,
    /// Receivers set aside for characters outside [`Limits::number_chars`].
    pub denied: Vec<String>,
    /// The text, decoded (empty for 8-bit messages).
    pub text: String,
    /// The body of an 8-bit message, as sent.
    pub binary: Option<Vec<u8>>,
    /// The user data header, as bytes.
    pub udh: Option<Vec<u8>>,
    /// The coding: as given, or Kannel's default (8-bit with a UDH or for
    /// `application/octet-stream`, 7-bit otherwise).
    pub coding: Coding,
    /// The charset named by the request (`charset`, the Content-Type's, or the XML
    /// declaration's), if any.
    pub charset: Option<String>,
    /// Message class, 0..=3.
    pub mclass: Option<u8>,
    /// Message waiting indicator, 0..=7.
    pub mwi: Option<u8>,
    /// Compression bit, 0..=1.
    pub compress: Option<u8>,
    /// Validity period in minutes.
    pub validity_minutes: Option<u32>,
    /// Delay before sending, in minutes.
    pub deferred_minutes: Option<u32>,
    /// Delivery reports wanted, a bit mask 0..=63 (1 delivered, 2 not delivered, 4
    /// queued on the SMSC, 8 delivered to the SMSC, 16 not delivered to the SMSC, 32
    /// intermediate).
    pub dlr_mask: Option<u8>,
    /// Where delivery reports go (http:// or https://).
    pub dlr_url: Option<String>,
    /// SMSC id asked for.
    pub smsc: Option<String>,
    /// Account for billing (at most 64 bytes).
    pub account: Option<String>,
    /// Protocol identifier, 0..=255.
    pub pid: Option<u8>,
    /// Alternative DCS, 0..=1.
    pub alt_dcs: Option<u8>,
    /// Return path indicator, 0..=2.
    pub rpi: Option<u8>,
    /// Priority, 0..=3.
    pub priority: Option<u8>,
    /// Billing information.
    pub binfo: Option<String>,
    /// Meta data (`?smpp?key=value&...`).
    pub meta_data: Option<String>,
}

/// Reads a sendsms request. The only refusal here is a POST whose Content-Type Kannel
/// does not read (400 [`INVALID_CONTENT_TYPE`]), which Kannel answers before looking at
/// the credentials.
pub fn parse(req: &RawRequest<'_>) -> Result<Params, Answer> {
    let mut query = Vec::new();
    if let Some(q) = req.query {
        parse_cgi(q.as_bytes(), &mut query);
    }
    if !req.post {
        return Ok(Params::from_cgi(Shape::Cgi, &query));
    }
    let (mime, charset) = content_type(req.content_type);
    let mut params = match mime.as_str() {
        "application/x-www-form-urlencoded" => {
            parse_cgi(req.body, &mut query);
            return Ok(Params::from_cgi(Shape::Cgi, &query));
        }
        "text/plain" => Params::from_headers(Shape::Plain, req),
        "application/octet-stream" => Params::from_headers(Shape::OctetStream, req),
        "text/html" | "text/vnd.wap.wml" => Params::from_headers(Shape::Html, req),
        "text/xml" => match xml::read_submit(req.body) {
            Some(submit) => Params::from_xml(submit),
            None => Params::empty(Shape::XmlUnreadable),
        },
        _ => return Err(Answer::invalid_content_type()),
    };
    if matches!(
        params.shape,
        Shape::Plain | Shape::OctetStream | Shape::Html
    ) {
        params.text = req.body.to_vec();
        params.charset = charset;
    }
    params.fill_from(&Params::from_cgi(Shape::Cgi, &query));
    Ok(params)
}

/// The media type (lower case) and charset of a Content-Type; no header reads as
/// `application/octet-stream`, and a `text/*` type without charset as ISO-8859-1, as in
/// Kannel (gwlib/http.c, `http_header_get_content_type`).
fn content_type(header: Option<&str>) -> (String, Option<String>) {
    let Some(header) = header else {
        return ("application/octet-stream".into(), None);
    };
    let mut parts = header.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty());
    let charset = match charset {
        None if mime.starts_with("text/") => Some("ISO-8859-1".into()),
        other => other,
    };
    (mime, charset)
}

/// A field's bytes as a string: UTF-8 when they are, ISO-8859-1 otherwise (Kannel passes
/// the bytes on as they are; every byte string has exactly one reading this way).
fn field(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

impl Params {
    fn empty(shape: Shape) -> Params {
        Params {
            shape,
            username: None,
            password: None,
            from: None,
            to: To::Missing,
            text: Vec::new(),
            text_invalid: false,
            charset: None,
            udh: None,
            smsc: None,
            account: None,
            binfo: None,
            dlr_url: None,
            meta_data: None,
            mclass: None,
            mwi: None,
            coding: None,
            compress: None,
            validity: None,
            deferred: None,
            dlr_mask: None,
            pid: None,
            alt_dcs: None,
            rpi: None,
            priority: None,
        }
    }

    /// The CGI variables of `smsbox_req_sendsms`.
    fn from_cgi(shape: Shape, vars: &[CgiVar]) -> Params {
        let get = |name: &str| cgi_first(vars, name);
        let string = |name: &str| get(name).map(field);
        let number = |name: &str| get(name).and_then(scan_int);
        // "dlr-mask" / "dlr-url" first; the old names only when the new are absent.
        let dlr_mask = get("dlr-mask")
            .or_else(|| get("dlrmask"))
            .and_then(scan_int);
        Params {
            shape,
            username: string("username").or_else(|| string("user")),
            password: string("password").or_else(|| string("pass")),
            from: string("from"),
            to: string("to").map_or(To::Missing, To::Text),
            text: get("text").map(<[u8]>::to_vec).unwrap_or_default(),
            text_invalid: false,
            charset: string("charset"),
            udh: get("udh").map(<[u8]>::to_vec),
            smsc: string("smsc"),
            account: string("account"),
            binfo: string("binfo"),
            dlr_url: string("dlr-url").or_else(|| string("dlrurl")),
            meta_data: string("meta-data"),
            mclass: number("mclass"),
            mwi: number("mwi"),
            coding: number("coding"),
            compress: number("compress"),
            validity: number("validity"),
            deferred: number("deferred"),
            dlr_mask,
            pid: number("pid"),
            alt_dcs: number("alt-dcs"),
            rpi: number("rpi"),
            priority: number("priority"),
        }
    }

    /// The X-Kannel headers of `get_x_kannel_from_headers`: strings stripped of blanks,
    /// numbers read with `sscanf("%d")` (one that does not read leaves the previous
    /// value), the last header of a name winning.
    fn from_headers(shape: Shape, req: &RawRequest<'_>) -> Params {
        let mut p = Params::empty(shape);
        for &(name, value) in req.headers {
            let Some(key) = name
                .get(..8)
                .filter(|prefix| prefix.eq_ignore_ascii_case("x-kannel"))
                .and_then(|_| name.get(8..))
            else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let text = || Some(field(strip_blanks(value)));
            let number = |slot: &mut Option<i64>| {
                if let Some(n) = scan_int(value) {
                    *slot = Some(n);
                }
            };
            match key.as_str() {
                "-from" => p.from = text(),
                "-to" => p.to = To::Text(field(strip_blanks(value))),
                "-username" => p.username = text(),
                "-password" => p.password = text(),
                "-smsc" => p.smsc = text(),
                "-udh" => {
                    let udh = strip_blanks(value);
                    p.udh = hex_decode(udh).or_else(|| match url_decode(udh) {
                        (bytes, true) => Some(bytes),
                        (_, false) => None,
                    });
                }
                "-dlr-url" => p.dlr_url = text(),
                "-account" => p.account = text(),
                "-binfo" => p.binfo = text(),
                "-meta-data" => p.meta_data = text(),
                "-coding" => number(&mut p.coding),
                "-pid" => number(&mut p.pid),
                "-mwi" => number(&mut p.mwi),
                "-mclass" => number(&mut p.mclass),
                "-alt-dcs" => number(&mut p.alt_dcs),
                "-compress" => number(&mut p.compress),
                "-validity" => number(&mut p.validity),
                "-deferred" => number(&mut p.deferred),
                "-dlr-mask" => number(&mut p.dlr_mask),
                "-rpi" => number(&mut p.rpi),
                "-priority" => number(&mut p.priority),
                _ => {}
            }
        }
        p
    }

    fn from_xml(x: xml::Submit) -> Params {
        Params {
            shape: Shape::Xml,
            username: x.username,
            password: x.password,
            from: x.from,
            to: if x.to.is_empty() {
                To::Missing
            } else {
                To::List(x.to)
            },
            text: x.text,
            text_invalid: x.text_invalid,
            charset: Some(x.charset),
            udh: x.udh,
            smsc: x.smsc,
            account: x.account,
            binfo: x.binfo,
            dlr_url: x.dlr_url,
            meta_data: x.meta_data,
            mclass: x.mclass,
            mwi: x.mwi,
            coding: x.coding,
            compress: x.compress,
            validity: x.validity,
            deferred: x.deferred,
            dlr_mask: x.dlr_mask,
            pid: x.pid,
            alt_dcs: x.alt_dcs,
            rpi: x.rpi,
            priority: x.priority,
        }
    }

    /// Fills the fields `self` lacks from `other` (the query string of a POST); text and
    /// charset stay the body's.
    fn fill_from(&mut self, other: &Params) {
        fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(from);
            }
        }
        fill(&mut self.username, &other.username);
        fill(&mut self.password, &other.password);
        fill(&mut self.from, &other.from);
        if self.to == To::Missing {
            self.to = other.to.clone();
        }
        fill(&mut self.udh, &other.udh);
        fill(&mut self.smsc, &other.smsc);
        fill(&mut self.account, &other.account);
        fill(&mut self.binfo, &other.binfo);
        fill(&mut self.dlr_url, &other.dlr_url);
        fill(&mut self.meta_data, &other.meta_data);
        fill(&mut self.mclass, &other.mclass);
        fill(&mut self.mwi, &other.mwi);
        fill(&mut self.coding, &other.coding);
        fill(&mut self.compress, &other.compress);
        fill(&mut self.validity, &other.validity);
        fill(&mut self.deferred, &other.deferred);
        fill(&mut self.dlr_mask, &other.dlr_mask);
        fill(&mut self.pid, &other.pid);
        fill(&mut self.alt_dcs, &other.alt_dcs);
        fill(&mut self.rpi, &other.rpi);
        fill(&mut self.priority, &other.priority);
    }

    /// How the request was read.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The username and password to check, or 403 [`AUTHORIZATION_FAILED`] when either
    /// is missing. When the caller does not accept them, it answers
    /// [`Answer::authorization_failed`] too.
    pub fn credentials(&self) -> Result<Credentials<'_>, Answer> {
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => Ok(Credentials { username, password }),
            _ => Err(Answer::authorization_failed()),
        }
    }

    /// Checks every field as Kannel does once the credentials are accepted, in Kannel's
    /// order (the first failure is the answer), and decodes the text.
    ///
    /// Order: receivers given (400 [`MISSING_RECEIVER`] for a GET,
    /// [`MISSING_RECEIVERS`] for a POST, [`EMPTY_RECEIVER`]), content type (415), UDH,
    /// receivers' characters, sender, account, dlr-url, dlr-mask, mclass, pid, rpi,
    /// alt-dcs, mwi, coding, compress, validity, deferred, priority, charset and text.
    pub fn validate(&self, limits: &Limits) -> Result<SendSms, Answer> {
        match &self.to {
            To::Missing if self.shape == Shape::Cgi => return Err(Answer::missing_receiver()),
            To::Missing => return Err(Answer::missing_receivers()),
            To::Text(to) if to.is_empty() => return Err(Answer::empty_receiver()),
            To::Text(_) | To::List(_) => {}
        }
        // Kannel's POST defaults, applied before the common checks.
        let mut coding = self.coding;
        match self.shape {
            Shape::Html | Shape::XmlUnreadable => {
                return Err(Answer::unsupported_content_type());
            }
            Shape::Plain | Shape::Xml if unset(coding) => coding = Some(0),
            Shape::OctetStream if unset(coding) => coding = Some(1),
            _ => {}
        }

        // An empty UDH is no UDH (Kannel's length check lets it through).
        let udh = self.udh.as_ref().filter(|u| !u.is_empty());
        if let Some(udh) = udh {
            if udh.first().map(|&n| usize::from(n) + 1) != Some(udh.len()) {
                return Err(Answer::udh_misformed());
            }
            if udh.len() > UDH_MAX_LEN {
                return Err(Answer::udh_too_long());
            }
        }

        let (to, denied) = self.receivers(&limits.number_chars);
        if to.is_empty() {
            return Err(Answer::receivers_denied());
        }

        let from = self.from.clone().filter(|f| !f.is_empty());
        if from.is_none() && !limits.sender_configured {
            return Err(Answer::sender_missing());
        }

        let account = self.account.clone().filter(|a| !a.is_empty());
        if let Some(account) = &account
            && (account.len() > ACCOUNT_MAX_LEN || account.contains(['[', ']', '\n', '\r']))
        {
            return Err(Answer::account_misformed());
        }

        let dlr_url = self.dlr_url.clone().filter(|u| !u.is_empty());
        if let Some(url) = &dlr_url {
            let starts = |prefix: &str| {
                url.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            };
            if url.len() < 8 || !(starts("http://") || starts("https://")) {
                return Err(Answer::dlr_url_misformed());
            }
        }

        let dlr_mask = in_range(self.dlr_mask, 63).map_err(|()| Answer::dlr_mask_misformed())?;
        let mclass = in_range(self.mclass, 3).map_err(|()| Answer::mclass_misformed())?;
        let pid = in_range(self.pid, 255).map_err(|()| Answer::pid_misformed())?;
        let rpi = in_range(self.rpi, 2).map_err(|()| Answer::rpi_misformed())?;
        let alt_dcs = in_range(self.alt_dcs, 1).map_err(|()| Answer::alt_dcs_misformed())?;
        let mwi = in_range(self.mwi, 7).map_err(|()| Answer::mwi_misformed())?;
        let coding = match in_range(coding, 2).map_err(|()| Answer::coding_misformed())? {
            Some(0) => Coding::SevenBit,
            Some(1) => Coding::EightBit,
            Some(_) => Coding::Ucs2,
            // Kannel's "compatibility mode": 8-bit with a UDH, 7-bit without.
            None if udh.is_some() => Coding::EightBit,
            None => Coding::SevenBit,
        };
        let compress = in_range(self.compress, 1).map_err(|()| Answer::compress_misformed())?;
        let validity_minutes = minutes(self.validity).map_err(|()| Answer::validity_misformed())?;
        let deferred_minutes = minutes(self.deferred).map_err(|()| Answer::deferred_misformed())?;
        let priority = in_range(self.priority, 3).map_err(|()| Answer::priority_misformed())?;

        let charset = self.charset.clone().filter(|c| !c.is_empty());
        let (text, binary) = self.decode_text(coding, charset.as_deref())?;

        Ok(SendSms {
            from,
            to,
            denied,
            text,
            binary,
            udh: udh.cloned(),
            coding,
            charset,
            mclass,
            mwi,
            compress,
            validity_minutes,
            deferred_minutes,
            dlr_mask,
            dlr_url,
            smsc: self.smsc.clone().filter(|s| !s.is_empty()),
            account,
            pid,
            alt_dcs,
            rpi,
            priority,
            binfo: self.binfo.clone().filter(|b| !b.is_empty()),
            meta_data: self.meta_data.clone().filter(|m| !m.is_empty()),
        })
    }

    /// The receivers, each once: those made of `number_chars` only, and the others.
    fn receivers(&self, number_chars: &str) -> (Vec<String>, Vec<String>) {
        let given: Vec<String> = match &self.to {
            To::Missing => Vec::new(),
            To::Text(to) => to
                .split(|c: char| u8::try_from(c).is_ok_and(is_c_space))
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            To::List(list) => list.clone(),
        };
        let mut allowed: Vec<String> = Vec::new();
        let mut denied: Vec<String> = Vec::new();
        for receiver in given {
            let list = if receiver.chars().all(|c| number_chars.contains(c)) {
                &mut allowed
            } else {
                &mut denied
            };
            if !list.contains(&receiver) {
                list.push(receiver);
            }
        }
        (allowed, denied)
    }

    /// Kannel's `charset_processing`, strictly: 8-bit bodies stay bytes; 7-bit and UCS-2
    /// texts are decoded from the charset named, or without one from UTF-8 (7-bit) or
    /// UTF-16BE (UCS-2), as Kannel's user guide says.
    fn decode_text(
        &self,
        coding: Coding,
        charset: Option<&str>,
    ) -> Result<(String, Option<Vec<u8>>), Answer> {
        if self.text_invalid {
            return Err(Answer::charset_misformed());
        }
        if coding == Coding::EightBit {
            return Ok((String::new(), Some(self.text.clone())));
        }
        // Kannel converts nothing (and so checks no charset name) for an empty text.
        if self.text.is_empty() {
            return Ok((String::new(), None));
        }
        let decoder = match (charset, coding) {
            (Some(name), _) => Charset::from_name(name).ok_or_else(Answer::charset_misformed)?,
            (None, Coding::Ucs2) => Charset::Utf16Be,
            (None, _) => Charset::Utf8,
        };
        let text = decoder
            .decode(&self.text)
            .ok_or_else(Answer::charset_misformed)?;
        Ok((text, None))
    }
}

/// Kannel's "unset": not given, or -1.
fn unset(value: Option<i64>) -> bool {
    matches!(value, None | Some(-1))
}

/// A field Kannel accepts in `0..=max` or unset.
fn in_range(value: Option<i64>, max: u8) -> Result<Option<u8>, ()> {
    match value {
        None | Some(-1) => Ok(None),
        Some(n) => u8::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .map(Some)
            .ok_or(()),
    }
}

/// validity / deferred: minutes, any number from 0 (up to C's `int`), or unset.
fn minutes(value: Option<i64>) -> Result<Option<u32>, ()> {
    match value {
        None | Some(-1) => Ok(None),
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => {
            u32::try_from(n).map(Some).map_err(|_| ())
        }
        Some(_) => Err(()),
    }
}

impl SendSms {
    /// The parameters relais keeps with the message without acting on them, under
    /// Kannel's names: `smsc`, `mclass`, `mwi`, `pid`, `account`, `priority`,
    /// `validity`, `alt-dcs`, `rpi`, `binfo`, `compress`, `meta-data`, `udh` (upper-case
    /// hex), `coding` (always) and `charset`. Absent fields are left out.
    pub fn recorded(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        };
        put("smsc", self.smsc.clone().map(Value::from));
        put("mclass", self.mclass.map(Value::from));
        put("mwi", self.mwi.map(Value::from));
        put("pid", self.pid.map(Value::from));
        put("account", self.account.clone().map(Value::from));
        put("priority", self.priority.map(Value::from));
        put("validity", self.validity_minutes.map(Value::from));
        put("alt-dcs", self.alt_dcs.map(Value::from));
        put("rpi", self.rpi.map(Value::from));
        put("binfo", self.binfo.clone().map(Value::from));
        put("compress", self.compress.map(Value::from));
        put("meta-data", self.meta_data.clone().map(Value::from));
        put(
            "udh",
            self.udh
                .as_ref()
                .map(|u| Value::from(u.iter().map(|b| format!("{b:02X}")).collect::<String>())),
        );
        put("coding", Some(Value::from(self.coding.number())));
        put("charset", self.charset.clone().map(Value::from));
        map
    }
}
