//! Kannel's sendsms request (relais::http::kannel) on arbitrary bytes: parse, the
//! credentials, validate. It must never panic, and its answers must look like Kannel's.
//!
//! The input reads like an HTTP request, so seeds are easy to write:
//!
//! ```text
//! POST /cgi-bin/sendsms?username=foo&password=bar     (first line: method, target)
//! Content-Type: text/plain; charset=UTF-8             (header lines, up to a blank line)
//! X-Kannel-To: 4512345678
//!
//! the body
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais::http::kannel::{Coding, Limits, RawRequest, parse};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let first_line = lines.next().unwrap_or(&[]);
    let mut consumed = first_line.len() + 1;
    let first = String::from_utf8_lossy(first_line).into_owned();
    let post = first.starts_with("POST");
    let query = first.split_once('?').map(|(_, q)| q.trim_end());

    // Headers up to the first empty line; the body is the rest.
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        let value = line.get(colon + 1..).unwrap_or(&[]).to_vec();
        headers.push((name, value));
    }
    let body = data.get(consumed.min(data.len())..).unwrap_or(&[]);
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| String::from_utf8_lossy(value).trim().to_owned());
    let header_refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();

    let req = RawRequest {
        post,
        query,
        content_type: content_type.as_deref(),
        headers: &header_refs,
        body,
    };
    let params = match parse(&req) {
        Ok(params) => params,
        Err(answer) => {
            assert_eq!(answer.status, 400);
            return;
        }
    };
    let _ = format!("{params:?}");
    if let Err(answer) = params.credentials() {
        assert_eq!(answer.status, 403);
    }
    for limits in [
        Limits::default(),
        Limits {
            max_messages: 0,
            number_chars: "0123456789".into(),
            sender_configured: false,
        },
    ] {
        match params.validate(&limits) {
            Ok(sms) => {
                assert!(!sms.to.is_empty());
                assert!(
                    sms.to
                        .iter()
                        .all(|r| r.chars().all(|c| limits.number_chars.contains(c)))
                );
                assert_eq!(sms.binary.is_some(), sms.coding == Coding::EightBit);
                if let Some(udh) = &sms.udh {
                    assert_eq!(udh.first().map(|&n| usize::from(n) + 1), Some(udh.len()));
                    assert!(udh.len() <= 140);
                }
                let recorded = sms.recorded();
                assert!(recorded.contains_key("coding"));
            }
            Err(answer) => {
                assert!(matches!(answer.status, 400 | 415), "{answer:?}");
                assert!(!answer.body.is_empty() && !answer.body.ends_with('\n'));
            }
        }
    }
});
