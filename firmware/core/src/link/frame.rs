//! Frames on the serial line: `COBS( postcard(value) ‖ CRC-32C(postcard(value)) ) 0x00`.
//!
//! COBS (Cheshire & Baker, "Consistent Overhead Byte Stuffing", IEEE/ACM ToN 1999)
//! removes every zero byte from the frame so that `0x00` marks frame boundaries: after
//! line noise or a lost byte the decoder resynchronises at the next zero. CRC-32C
//! (Castagnoli, the iSCSI polynomial) rejects corrupted frames; a frame that fails
//! its check is reported and dropped, and the session layer retransmits.

use crc::{CRC_32_ISCSI, Crc, NoTable};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The checksum appended to every frame, little-endian. Computed bit by bit: a lookup
/// table would cost a device 1 KiB of flash, and the line is far slower than the loop.
pub const CRC: Crc<u32, NoTable> = Crc::<u32, NoTable>::new(&CRC_32_ISCSI);

/// Bytes a frame adds to a message of `payload` bytes: 4 of CRC, COBS overhead
/// (one byte per 254, at least one) and the terminating zero.
pub const fn overhead(payload: usize) -> usize {
    let body = payload + 4;
    body / 254 + 1 + 1 + 4
}

/// Buffer size that holds the frame of any message of at most `payload` bytes.
pub const fn frame_capacity(payload: usize) -> usize {
    payload + overhead(payload)
}

/// Why a frame could not be produced or understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The output buffer is too small for the encoded frame.
    BufferFull,
    /// A frame was longer than the decoder's buffer; it was dropped.
    Oversized,
    /// The bytes between two zeros are not valid COBS.
    Cobs,
    /// The checksum does not match: the frame was corrupted on the line.
    Checksum,
    /// The checksum matches but the bytes are not a message of the expected type
    /// (e.g. a peer speaking a newer protocol).
    Message,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BufferFull => "frame does not fit the output buffer",
            Self::Oversized => "frame longer than the receive buffer",
            Self::Cobs => "invalid COBS encoding",
            Self::Checksum => "checksum mismatch",
            Self::Message => "frame does not hold a valid message",
        })
    }
}

impl core::error::Error for FrameError {}

/// Encodes `value` as one frame into `buf`, returning the frame (terminating zero
/// included), ready to write to the line.
pub fn encode<'b, T: Serialize + ?Sized>(
    value: &T,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], FrameError> {
    encode_with_tail(value, &[], buf)
}

/// [`encode`] with `tail` following `value`'s postcard bytes in the frame, under the
/// same CRC: for a message whose last fields are postcard bytes already (a device sends
/// an event as its outbox stored it, without decoding and encoding it again).
pub fn encode_with_tail<'b, T: Serialize + ?Sized>(
    value: &T,
    tail: &[u8],
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], FrameError> {
    // Plain postcard bytes, as the device's store writes them (one serialiser for both),
    // then the tail and the CRC, then COBS in place.
    let plain = postcard::to_slice(value, buf)
        .map_err(|_| FrameError::BufferFull)?
        .len();
    let body = plain + tail.len();
    put(buf, plain, tail)?;
    let crc = CRC.checksum(buf.get(..body).ok_or(FrameError::BufferFull)?);
    put(buf, body, &crc.to_le_bytes())?;
    cobs_in_place(buf, body + 4)
}

/// Copies `bytes` into `buf` at `at`.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), FrameError> {
    let slot = buf.get_mut(at..at + bytes.len());
    slot.ok_or(FrameError::BufferFull)?.copy_from_slice(bytes);
    Ok(())
}

/// COBS-encodes the first `len` bytes of `buf` in place and appends the terminating
/// zero: the same bytes as postcard's `Cobs` flavor (a code byte before each run of
/// non-zero bytes, a run ending at a zero or after 254 bytes).
fn cobs_in_place(buf: &mut [u8], len: usize) -> Result<&mut [u8], FrameError> {
    // The encoding adds one code byte, one more per run of 254 non-zero bytes, and
    // the zero.
    let mut extra = 1;
    let mut run = 0;
    for &byte in buf.get(..len).ok_or(FrameError::BufferFull)? {
        run = if byte == 0 { 0 } else { run + 1 };
        if run == 254 {
            extra += 1;
            run = 0;
        }
    }
    let frame = buf
        .get_mut(..len + extra + 1)
        .ok_or(FrameError::BufferFull)?;
    // Move the bytes up by `extra`, last first; then each encoded byte lands at or
    // before the byte it comes from.
    for i in (0..len).rev() {
        frame[i + extra] = frame[i];
    }
    let (mut code_at, mut code, mut out) = (0, 1u8, 1);
    for i in extra..extra + len {
        let byte = frame[i];
        if byte != 0 {
            frame[out] = byte;
            out += 1;
            code += 1;
            if code != 0xFF {
                continue;
            }
        }
        frame[code_at] = code;
        code_at = out;
        out += 1;
        code = 1;
    }
    frame[code_at] = code;
    frame[out] = 0;
    Ok(frame)
}

/// What [`FrameDecoder::feed`] found in its input.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'a, T> {
    /// All input was consumed without completing a frame.
    Consumed,
    /// A frame completed; `remaining` is the input after it.
    Frame { value: T, remaining: &'a [u8] },
    /// A frame completed but was dropped for `error`; `remaining` follows it.
    Error {
        error: FrameError,
        remaining: &'a [u8],
    },
}

/// Reassembles frames from a byte stream with an `N`-byte buffer (the largest frame
/// it accepts, terminating zero excluded).
#[derive(Debug)]
pub struct FrameDecoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflowed: bool,
    /// Length of the checked payload left in `buf` by the last frame that failed with
    /// [`FrameError::Message`]; 0 once more input arrives.
    undecodable: usize,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
            undecodable: 0,
        }
    }

    /// Consumes `input` up to and including the end of the first complete frame.
    /// Call again with `remaining` until it returns [`Feed::Consumed`].
    pub fn feed<'a, T: DeserializeOwned>(&mut self, input: &'a [u8]) -> Feed<'a, T> {
        // The buffer is about to be reused: the last undecodable payload is gone.
        self.undecodable = 0;
        for (i, &byte) in input.iter().enumerate() {
            if byte != 0 {
                match self.buf.get_mut(self.len) {
                    Some(slot) => {
                        *slot = byte;
                        self.len += 1;
                    }
                    None => self.overflowed = true,
                }
                continue;
            }
            let remaining = input.get(i + 1..).unwrap_or(&[]);
            let result = self.finish::<T>();
            self.len = 0;
            self.overflowed = false;
            match result {
                // Back-to-back zeros (an idle line, or resynchronisation) are not frames.
                None => continue,
                Some(Ok(value)) => return Feed::Frame { value, remaining },
                Some(Err(error)) => return Feed::Error { error, remaining },
            }
        }
        Feed::Consumed
    }

    /// Drops a partly received frame (e.g. after a line reset).
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
        self.undecodable = 0;
    }

    /// The checked payload (postcard bytes, CRC removed) of the frame that
    /// [`FrameDecoder::feed`] just reported as [`FrameError::Message`]: intact on the
    /// line but not a `T` (a message of a newer peer). Read its header with
    /// [`super::msg::peek_header`] to acknowledge it. `None` after any other result, and
    /// once `feed` is called again.
    pub fn undecodable_payload(&self) -> Option<&[u8]> {
        match self.undecodable {
            0 => None,
            n => self.buf.get(..n),
        }
    }

    fn finish<T: DeserializeOwned>(&mut self) -> Option<Result<T, FrameError>> {
        if self.overflowed {
            return Some(Err(FrameError::Oversized));
        }
        if self.len == 0 {
            return None;
        }
        let frame = &mut self.buf[..self.len];
        let Ok(decoded) = cobs::decode_in_place(frame) else {
            return Some(Err(FrameError::Cobs));
        };
        let Some(bytes) = frame.get(..decoded) else {
            return Some(Err(FrameError::Cobs));
        };
        let Some(split) = bytes.len().checked_sub(4) else {
            return Some(Err(FrameError::Checksum));
        };
        let (payload, crc) = bytes.split_at(split);
        let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if CRC.checksum(payload) != expected {
            return Some(Err(FrameError::Checksum));
        }
        let decoded = postcard::from_bytes(payload).map_err(|_| FrameError::Message);
        if decoded.is_err() {
            // COBS decodes in place from the start of the buffer: the payload is its
            // first `split` bytes, kept until the next `feed`.
            self.undecodable = split;
        }
        Some(decoded)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use serde::Deserialize;
    use std::vec::Vec;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    enum Msg {
        Ping(u32),
        Text(heapless::String<32>),
        Bytes([u8; 8]),
    }

    fn text(s: &str) -> Msg {
        Msg::Text(heapless::String::try_from(s).unwrap())
    }

    fn frame_of(msg: &Msg) -> Vec<u8> {
        let mut buf = [0u8; 64];
        encode(msg, &mut buf).unwrap().to_vec()
    }

    fn decode_all(
        decoder: &mut FrameDecoder<64>,
        mut input: &[u8],
    ) -> Vec<Result<Msg, FrameError>> {
        let mut out = Vec::new();
        loop {
            match decoder.feed::<Msg>(input) {
                Feed::Consumed => return out,
                Feed::Frame { value, remaining } => {
                    out.push(Ok(value));
                    input = remaining;
                }
                Feed::Error { error, remaining } => {
                    out.push(Err(error));
                    input = remaining;
                }
            }
        }
    }

    #[test]
    fn frames_have_no_inner_zero_and_end_with_one() {
        let frame = frame_of(&Msg::Bytes([0; 8]));
        assert_eq!(frame.last(), Some(&0));
        assert!(!frame[..frame.len() - 1].contains(&0));
        assert!(frame.len() <= frame_capacity(9));
    }

    #[test]
    fn round_trip_split_at_every_byte() {
        let msgs = [
            Msg::Ping(7),
            text("STOP"),
            Msg::Bytes([0, 1, 0, 2, 0, 0, 255, 0]),
        ];
        let stream: Vec<u8> = msgs.iter().flat_map(frame_of).collect();
        for cut in 0..stream.len() {
            let mut decoder = FrameDecoder::<64>::new();
            let mut got = decode_all(&mut decoder, &stream[..cut]);
            got.extend(decode_all(&mut decoder, &stream[cut..]));
            let expected: Vec<_> = msgs.iter().cloned().map(Ok).collect();
            assert_eq!(got, expected, "split at {cut}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected_or_resynchronised() {
        let frame = frame_of(&text("hello relais"));
        let follow = frame_of(&Msg::Ping(42));
        for bit in 0..(frame.len() - 1) * 8 {
            let mut damaged = frame.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            damaged.extend_from_slice(&follow);
            let mut decoder = FrameDecoder::<64>::new();
            let got = decode_all(&mut decoder, &damaged);
            // The damaged frame never decodes to a message; the next one always does.
            assert_eq!(got.last(), Some(&Ok(Msg::Ping(42))), "bit {bit}");
            assert!(
                got[..got.len() - 1].iter().all(Result::is_err),
                "bit {bit} produced a wrong message: {got:?}"
            );
        }
    }

    #[test]
    fn oversized_frame_is_dropped_and_the_next_one_decodes() {
        let mut stream = std::vec![0x55u8; 100];
        stream.push(0);
        stream.extend(frame_of(&Msg::Ping(1)));
        let mut decoder = FrameDecoder::<64>::new();
        assert_eq!(
            decode_all(&mut decoder, &stream),
            [Err(FrameError::Oversized), Ok(Msg::Ping(1))]
        );
    }

    #[test]
    fn idle_zeros_are_not_frames() {
        let mut decoder = FrameDecoder::<64>::new();
        assert!(decode_all(&mut decoder, &[0, 0, 0]).is_empty());
    }

    /// Bytes that postcard writes as they are.
    struct Raw<'a>(&'a [u8]);

    impl Serialize for Raw<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeTuple;
            let mut t = s.serialize_tuple(self.0.len())?;
            for b in self.0 {
                t.serialize_element(b)?;
            }
            t.end()
        }
    }

    /// The frame as postcard's own flavors build it: `Cobs` over the postcard bytes and
    /// their CRC-32C, computed with a table.
    fn frame_by_flavors(value: &impl Serialize) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        let mut plain = postcard::to_slice(value, &mut buf).unwrap().to_vec();
        let table = Crc::<u32>::new(&CRC_32_ISCSI);
        plain.extend(table.checksum(&plain).to_le_bytes());
        postcard::to_slice_cobs(&Raw(&plain), &mut buf)
            .unwrap()
            .to_vec()
    }

    proptest::proptest! {
        #[test]
        fn frames_are_postcards_cobs_and_crc(
            head in proptest::prelude::any::<u32>(),
            tail in proptest::collection::vec(
                // Mostly non-zero: runs of 254 bytes are common.
                proptest::prop_oneof![199 => 1u8..=255, 1 => proptest::strategy::Just(0u8)],
                0..1100,
            ),
        ) {
            let expected = frame_by_flavors(&(head, Raw(&tail)));
            let mut buf = std::vec![0u8; expected.len()];
            let frame = encode_with_tail(&head, &tail, &mut buf).unwrap();
            proptest::prop_assert_eq!(&*frame, &expected[..]);
            let mut short = std::vec![0u8; expected.len() - 1];
            proptest::prop_assert_eq!(
                encode_with_tail(&head, &tail, &mut short),
                Err(FrameError::BufferFull)
            );
        }
    }

    #[test]
    fn runs_of_254_non_zero_bytes_get_their_own_code() {
        // With the CRC, a run is 4 bytes longer than the tail or ends inside the CRC.
        for len in (0..8).chain(240..270).chain(495..525).chain(750..770) {
            for filler in [0u8, 1, 0xFF] {
                let tail = std::vec![filler; len];
                let expected = frame_by_flavors(&((), Raw(&tail)));
                let mut buf = std::vec![0u8; expected.len() + 3];
                let frame = encode_with_tail(&(), &tail, &mut buf).unwrap();
                assert_eq!(frame, &expected[..], "{len} × {filler}");
            }
        }
    }

    #[test]
    fn small_buffer_reports_buffer_full() {
        let mut buf = [0u8; 4];
        assert_eq!(
            encode(&text("too long for four bytes"), &mut buf),
            Err(FrameError::BufferFull)
        );
    }

    #[test]
    fn a_valid_frame_of_another_type_is_a_message_error() {
        let mut buf = [0u8; 64];
        let frame = encode(&(9u8, 300u16, [1u8; 3]), &mut buf).unwrap().to_vec();
        let mut decoder = FrameDecoder::<64>::new();
        assert_eq!(decode_all(&mut decoder, &frame), [Err(FrameError::Message)]);
    }

    #[test]
    fn an_undecodable_frame_keeps_its_payload_until_the_next_feed() {
        // Tag 9 is no `Msg` variant; the bytes are intact.
        let value = (9u8, 300u16, [1u8; 3]);
        let mut plain = [0u8; 64];
        let expected = postcard::to_slice(&value, &mut plain).unwrap().to_vec();
        let mut buf = [0u8; 64];
        let mut stream = encode(&value, &mut buf).unwrap().to_vec();
        let follow = frame_of(&Msg::Ping(3));
        stream.extend_from_slice(&follow);
        let mut decoder = FrameDecoder::<64>::new();
        assert_eq!(decoder.undecodable_payload(), None);
        let Feed::Error {
            error: FrameError::Message,
            remaining,
        } = decoder.feed::<Msg>(&stream)
        else {
            panic!("not a message error");
        };
        assert_eq!(decoder.undecodable_payload(), Some(&expected[..]));
        assert_eq!(remaining, &follow[..]);
        // The next frame decodes and the payload is gone.
        assert!(matches!(
            decoder.feed::<Msg>(remaining),
            Feed::Frame {
                value: Msg::Ping(3),
                ..
            }
        ));
        assert_eq!(decoder.undecodable_payload(), None);
        // Corrupted frames never expose a payload.
        let mut damaged = frame_of(&text("damaged on the line"));
        damaged[4] ^= 0x10;
        assert!(matches!(
            decoder.feed::<Msg>(&damaged),
            Feed::Error {
                error: FrameError::Checksum | FrameError::Cobs,
                ..
            }
        ));
        assert_eq!(decoder.undecodable_payload(), None);
    }
}
