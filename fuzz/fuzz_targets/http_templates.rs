//! The other readers of `relais serve` on arbitrary bytes: Kannel escape templates
//! (`relais::http::escapes::expand`, for dlr-url and sms-service URLs), the callback URL
//! check, and HTTP Basic/Bearer credentials. None may panic; an expanded template keeps
//! every byte of the template that is not an escape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais::http::auth::{basic, bearer};
use relais::http::config::check_url;
use relais::http::escapes::{Escapes, expand};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split the input: template | text | phone.
    let mut parts = text.splitn(3, '\u{1}');
    let template = parts.next().unwrap_or_default();
    let body = parts.next();
    let phone = parts.next().unwrap_or("+33612345678");
    let e = Escapes {
        text: body,
        phone,
        own: "+33700000001",
        dlr: Some(8),
        id: Some("42"),
        smsc: Some("desk"),
        meta_data: body,
        ..Escapes::default()
    };
    let out = expand(template, &e);
    if !template.contains('%') {
        assert_eq!(out, template, "a template without escapes is kept as it is");
    }
    let _ = check_url(template, &[]);
    let _ = check_url(&out, &["app.example".to_string()]);
    let _ = basic(&text);
    let _ = bearer(&text);
});
