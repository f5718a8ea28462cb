//! Arbitrary bytes from the serial line into the link frame decoder, and arbitrary
//! envelopes into both ends of a session: nothing may panic.
//!
//! Random bytes rarely carry a valid CRC, so each zero-separated chunk is also parsed
//! as a bare postcard envelope and handed to the sessions directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::link::frame::{Feed, FrameDecoder};
use relais_core::link::session::{Config, Envelope, Role, Session, SessionId};

type Msg = heapless::Vec<u8, 32>;

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::<256>::new();
    let mut input = data;
    loop {
        match decoder.feed::<Envelope<Msg>>(input) {
            Feed::Consumed => break,
            Feed::Error { remaining, .. } | Feed::Frame { remaining, .. } => input = remaining,
        }
    }

    let mut responder: Session<Msg, 4> = Session::new(Role::Responder, Config::default());
    let mut initiator: Session<Msg, 4> = Session::new(Role::Initiator, Config::default());
    initiator.connect(SessionId(1));
    let _ = initiator.send(Msg::new());
    let mut now = 0u64;
    for chunk in data.split(|&b| b == 0) {
        let Ok(envelope) = postcard::from_bytes::<Envelope<Msg>>(chunk) else {
            continue;
        };
        let _ = responder.receive(envelope.clone());
        let _ = initiator.receive(envelope);
        now += 100;
        while responder.poll_transmit(now).is_some() {}
        while initiator.poll_transmit(now).is_some() {}
        let _ = responder.send(Msg::new());
    }
});
