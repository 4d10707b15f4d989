//! Frame extraction from a connection's read buffer.
//!
//! [`next_frame`] wraps the protocol crate's `decode_frame` so that the buffer never grows
//! faster than bytes arrive: `decode_frame` may reserve up to 64 KiB for a partial frame; here
//! a partial frame grows the buffer at most by doubling what was received (minimum
//! [`READ_CHUNK_BYTES`]), so an idle peer that announced a large frame pins almost nothing.
//!
//! Invariants:
//! - a length word below 4 or above the frame limit is an error as soon as its 4 bytes arrive,
//!   before anything is allocated for it;
//! - the buffer's spare capacity never exceeds `max(received, READ_CHUNK_BYTES)`.

use bytes::BytesMut;
use ferromq_protocol::{decode_frame, CodecError, RemotingCommand};

/// Initial read-buffer capacity and minimum growth step.
pub const READ_CHUNK_BYTES: usize = 4096;

/// Takes one complete frame off the front of `buf`, if there is one.
pub(crate) fn next_frame(buf: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<RemotingCommand>, CodecError> {
    let Some(&[b0, b1, b2, b3]) = buf.get(0..4) else {
        reserve_read_space(buf, READ_CHUNK_BYTES);
        return Ok(None);
    };
    let len = i32::from_be_bytes([b0, b1, b2, b3]);
    let total = usize::try_from(len)
        .ok()
        .filter(|&l| l >= 4)
        .and_then(|l| l.checked_add(4));
    match total {
        // A valid but incomplete frame: wait for more bytes without decode_frame's reservation.
        Some(total) if total <= max_frame_bytes && buf.len() < total => {
            reserve_read_space(buf, total - buf.len());
            Ok(None)
        }
        // Complete, or invalid: decode_frame consumes it or reports the error.
        _ => decode_frame(buf, max_frame_bytes),
    }
}

/// Makes room to read up to `missing` more bytes, growing by at most the bytes already held.
fn reserve_read_space(buf: &mut BytesMut, missing: usize) {
    let spare = buf.capacity() - buf.len();
    let step = missing.min(buf.len().max(READ_CHUNK_BYTES));
    if spare < step {
        buf.reserve(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use ferromq_protocol::frame::encode_to_bytes;

    // Goal: an announced 16 MiB frame is not allocated before its bytes arrive. Method: feed a
    // length word of 16 MiB - 4 plus 4 bytes, check capacity stays small.
    #[test]
    fn partial_large_frame_grows_buffer_only_with_received_bytes() {
        let max = 16 * 1024 * 1024;
        let mut buf = BytesMut::new();
        buf.put_i32(i32::try_from(max - 4).expect("fits"));
        buf.put_u32(0);
        assert!(next_frame(&mut buf, max).expect("valid so far").is_none());
        assert!(buf.capacity() <= 2 * READ_CHUNK_BYTES, "capacity {}", buf.capacity());
    }

    // Goal: oversized and negative length words fail at once. Method: 4-byte buffers.
    #[test]
    fn oversized_or_negative_length_word_is_an_error_immediately() {
        for word in [i32::MAX, 16 * 1024 * 1024 - 3, -1, 3] {
            let mut buf = BytesMut::new();
            buf.put_i32(word);
            assert!(next_frame(&mut buf, 16 * 1024 * 1024).is_err(), "word {word}");
        }
    }

    proptest::proptest! {
        // Goal: arbitrary bytes, fed in arbitrary chunks, never panic and never grow the buffer
        // past what was received (plus one growth step). Method: proptest over chunk lists.
        #[test]
        fn arbitrary_chunks_never_panic_or_overallocate(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..32),
        ) {
            let mut buf = BytesMut::new();
            let mut received = 0usize;
            'feed: for chunk in chunks {
                received += chunk.len();
                buf.extend_from_slice(&chunk);
                loop {
                    match next_frame(&mut buf, 1 << 20) {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                proptest::prop_assert!(buf.capacity() <= 2 * received.max(READ_CHUNK_BYTES) + READ_CHUNK_BYTES);
            }
        }

        // Goal: any command the encoder accepts comes back intact through next_frame, whatever
        // the chunking. Method: encode a command with proptest fields, feed it in pieces.
        #[test]
        fn encoded_commands_round_trip_through_chunked_reads(
            code in proptest::num::i32::ANY,
            opaque in proptest::num::i32::ANY,
            remark in proptest::option::of("[a-z ]{0,20}"),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            chunk in 1usize..50,
            binary in proptest::bool::ANY,
        ) {
            let mut command = RemotingCommand::request_code(code).with_opaque(opaque).with_body(body);
            command.remark = remark;
            if binary {
                command.serialize_type = ferromq_protocol::SerializeType::RocketMq;
            }
            let wire = encode_to_bytes(&command).expect("encodable");
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(decoded) = next_frame(&mut buf, 1 << 20).expect("valid frame") {
                    got.push(decoded);
                }
            }
            proptest::prop_assert_eq!(got.len(), 1);
            let decoded = &got[0];
            proptest::prop_assert_eq!(decoded.code, command.code);
            proptest::prop_assert_eq!(decoded.opaque, command.opaque);
            proptest::prop_assert_eq!(&decoded.remark, &command.remark);
            proptest::prop_assert_eq!(&decoded.body, &command.body);
        }
    }

    // Goal: complete frames come out one by one, byte-by-byte feeding works. Method: feed two
    // encoded frames one byte at a time.
    #[test]
    fn frames_fed_byte_by_byte_decode_in_order() {
        let a = RemotingCommand::request_code(10)
            .with_opaque(1)
            .with_body(b"one".to_vec());
        let b = RemotingCommand::request_code(11).with_opaque(2);
        let mut wire = encode_to_bytes(&a).expect("a").to_vec();
        wire.extend_from_slice(&encode_to_bytes(&b).expect("b"));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            buf.put_u8(byte);
            while let Some(cmd) = next_frame(&mut buf, 1 << 20).expect("decode") {
                got.push(cmd);
            }
        }
        assert_eq!(got, vec![a, b]);
    }
}
