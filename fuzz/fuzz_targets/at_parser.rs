//! The AT response parser never panics, and how the bytes are chunked never changes
//! what it recognises (byte at a time vs. slices of arbitrary size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::at::{Event, Parser};

/// Feeds `data` in chunks of `chunk` bytes through `digest`, rendering each event.
fn events(data: &[u8], chunk: usize, claim: Option<&'static [u8]>) -> Vec<String> {
    let mut parser: Parser<64> = Parser::new();
    parser.claim(claim);
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (event, used) = parser.digest(rest);
            assert!(used > 0 && used <= rest.len());
            if let Some(event) = event {
                if let Event::Response(line) | Event::Echo(line) = event {
                    assert!(line.len() <= 64);
                }
                out.push(format!("{event:?}"));
            }
            rest = &rest[used..];
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(control % 32) + 1;
    let claim: Option<&'static [u8]> = match control >> 5 {
        0 => None,
        1 => Some(b"+CREG"),
        2 => Some(b"+CMGS"),
        3 => Some(b"+CMGR"),
        4 => Some(b"+CMGL"),
        5 => Some(b"+CPIN"),
        _ => Some(b"+CCLK"),
    };
    let bytewise = events(data, 1, claim);
    assert_eq!(bytewise, events(data, chunk, claim));
    assert_eq!(bytewise, events(data, data.len().max(1), claim));
});
