//! Frames in and out, on top of `relais_core::link::frame`.
//!
//! The core's [`FrameDecoder`] decides what is a frame and checks it. A frame whose
//! checksum is good but whose message this host does not know (a newer device) is
//! still acknowledged: its header is read with [`peek_header`] from
//! [`FrameDecoder::undecodable_payload`].

use relais_core::link::frame::{self, Feed, FrameDecoder, FrameError};
use relais_core::link::msg::{DeviceMsg, Header, HostMsg, MAX_FRAME, peek_header};
use relais_core::link::session::Envelope;

/// One frame read from the device.
#[derive(Debug)]
pub(crate) enum Received {
    /// A message of this protocol (boxed: messages are up to `MAX_MESSAGE` bytes).
    Envelope(Box<Envelope<DeviceMsg>>),
    /// A sound frame whose message this host cannot decode.
    Unreadable(Header),
    /// A frame dropped by the frame layer.
    Bad(FrameError),
}

/// Turns the byte stream from the device into [`Received`] frames.
#[derive(Debug)]
pub(crate) struct Reader {
    decoder: Box<FrameDecoder<MAX_FRAME>>,
}

impl Default for Reader {
    fn default() -> Self {
        Self {
            decoder: Box::new(FrameDecoder::new()),
        }
    }
}

impl Reader {
    /// Forgets a partly received frame (the stream was replaced).
    pub(crate) fn clear(&mut self) {
        self.decoder.clear();
    }

    /// Consumes `input`, appending every frame it completes to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<Received>) {
        loop {
            match self.decoder.feed::<Envelope<DeviceMsg>>(input) {
                Feed::Consumed => return,
                Feed::Frame { value, remaining } => {
                    out.push(Received::Envelope(Box::new(value)));
                    input = remaining;
                }
                Feed::Error { error, remaining } => {
                    let header = match error {
                        FrameError::Message => {
                            self.decoder.undecodable_payload().and_then(peek_header)
                        }
                        _ => None,
                    };
                    out.push(match header {
                        Some(h) => Received::Unreadable(h),
                        None => Received::Bad(error),
                    });
                    input = remaining;
                }
            }
        }
    }
}

/// Encodes `envelope` as one frame (terminating zero included).
pub(crate) fn encode(envelope: &Envelope<&HostMsg>) -> Result<Vec<u8>, FrameError> {
    let mut buf = vec![0u8; MAX_FRAME + 1];
    let len = frame::encode(envelope, &mut buf)?.len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use relais_core::link::msg::DeviceMsg;
    use relais_core::link::session::{Body, Seq, SessionId};
    use serde::Serialize;

    fn device_frame(body: Body<DeviceMsg>) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_FRAME + 1];
        let env = Envelope {
            session: SessionId(3),
            ack: Seq(1),
            body,
        };
        frame::encode(&env, &mut buf).unwrap().to_vec()
    }

    /// A frame of a newer protocol: a `DeviceMsg` variant this host does not know.
    fn unknown_frame(seq: u16) -> Vec<u8> {
        struct Future;
        impl Serialize for Future {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_unit_variant("DeviceMsg", 77, "Future")
            }
        }
        let mut buf = vec![0u8; MAX_FRAME + 1];
        let env = Envelope {
            session: SessionId(3),
            ack: Seq(1),
            body: Body::Data {
                seq: Seq(seq),
                msg: Future,
            },
        };
        frame::encode(&env, &mut buf).unwrap().to_vec()
    }

    #[test]
    fn known_unknown_and_damaged_frames_split_anywhere() {
        let credits = device_frame(Body::Data {
            seq: Seq(0),
            msg: DeviceMsg::Credits(4),
        });
        let unknown = unknown_frame(1);
        let mut damaged = device_frame(Body::Data {
            seq: Seq(2),
            msg: DeviceMsg::Error(relais_core::link::msg::LinkError::NotReady),
        });
        damaged[2] ^= 0x10;
        let ack = device_frame(Body::Ack);
        let mut stream = vec![0, 0];
        for f in [&credits, &unknown, &damaged, &ack] {
            stream.extend_from_slice(f);
        }
        for cut in 0..stream.len() {
            let mut reader = Reader::default();
            let mut out = Vec::new();
            reader.feed(&stream[..cut], &mut out);
            reader.feed(&stream[cut..], &mut out);
            assert_eq!(out.len(), 4, "cut {cut}: {out:?}");
            let Received::Envelope(first) = &out[0] else {
                panic!("cut {cut}: {:?}", out[0]);
            };
            assert!(matches!(
                first.body,
                Body::Data {
                    msg: DeviceMsg::Credits(4),
                    ..
                }
            ));
            match &out[1] {
                Received::Unreadable(h) => assert_eq!(h.data, Some(Seq(1)), "cut {cut}"),
                other => panic!("cut {cut}: {other:?}"),
            }
            assert!(matches!(out[2], Received::Bad(_)), "cut {cut}");
            let Received::Envelope(last) = &out[3] else {
                panic!("cut {cut}: {:?}", out[3]);
            };
            assert_eq!(last.body, Body::Ack);
        }
    }
}
