//! Frame extraction from a connection's read buffer, and the size of its reads.
//!
//! [`next_frame`] wraps the protocol crate's `decode_frame` so that the buffer never grows
//! faster than bytes arrive: `decode_frame` may reserve up to 64 KiB for a partial frame; here
//! a partial frame grows the buffer at most by doubling what was received (minimum: the current
//! read chunk), so an idle peer that announced a large frame pins almost nothing.
//!
//! [`ReadChunk`] adapts the read size to the traffic, like Netty's adaptive receive buffer: it
//! starts at [`READ_CHUNK_BYTES`], doubles after a read that filled all the room it was given
//! (up to [`MAX_READ_CHUNK_BYTES`]) and halves after small reads. A busy connection thus reads
//! dozens of frames per system call while an idle one keeps a small buffer.
//!
//! Invariants:
//! - a length word below 4 or above the frame limit is an error as soon as its 4 bytes arrive,
//!   before anything is allocated for it;
//! - the buffer's spare capacity never exceeds about twice `max(received, chunk)`, and the chunk
//!   grows only after reads that filled the buffer: memory follows bytes actually received.

use bytes::BytesMut;
use ferromq_protocol::{decode_frame_received, CodecError, ReceivedCommand};

/// Initial read-buffer capacity and smallest read chunk.
pub const READ_CHUNK_BYTES: usize = 4096;

/// Largest read chunk a busy connection grows to. It bounds how many requests one read (and so
/// one batch: one publish, one `writev` of responses) can carry: at 16 KiB a producer of 1 KiB
/// messages with 256 in flight was held to ~10 requests per read (0.4-0.6 system calls per
/// message in the broker); at 256 KiB batches grow to what has arrived (0.13-0.18). Read buffers
/// are allocated and freed often (bodies are slices of them): the `ferromq` binary uses mimalloc,
/// under which large frees are cheap (glibc's malloc consolidates its heap on every free of
/// 64 KiB or more).
pub const MAX_READ_CHUNK_BYTES: usize = 256 * 1024;

/// The adaptive read size of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadChunk {
    bytes: usize,
}

impl Default for ReadChunk {
    fn default() -> Self {
        ReadChunk {
            bytes: READ_CHUNK_BYTES,
        }
    }
}

impl ReadChunk {
    /// Room to make before the next read.
    pub(crate) fn bytes(self) -> usize {
        self.bytes
    }

    /// Adapts to a read of `read` bytes into `room` bytes of spare capacity.
    pub(crate) fn record(&mut self, read: usize, room: usize) {
        if read >= room && read > 0 {
            self.bytes = (self.bytes * 2).min(MAX_READ_CHUNK_BYTES);
        } else if read < self.bytes / 4 {
            self.bytes = (self.bytes / 2).max(READ_CHUNK_BYTES);
        }
    }
}

/// Takes one complete frame off the front of `buf`, if there is one; when there is none,
/// makes room for the next read (`chunk` bytes, or what the partial frame still misses, capped
/// by what was received). With `scan_responses`, a JSON response is only scanned, its header
/// left for its invoke to read (see [`ReceivedCommand`]).
pub(crate) fn next_frame(
    buf: &mut BytesMut,
    max_frame_bytes: usize,
    chunk: usize,
    scan_responses: bool,
) -> Result<Option<ReceivedCommand>, CodecError> {
    let Some(&[b0, b1, b2, b3]) = buf.get(0..4) else {
        reserve_read_space(buf, chunk, chunk);
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
            reserve_read_space(buf, total - buf.len(), chunk);
            Ok(None)
        }
        // Complete, or invalid: decode_frame consumes it or reports the error.
        _ => decode_frame_received(buf, max_frame_bytes, scan_responses),
    }
}

/// Smallest growth step for a partial frame: a typical pull response (32 x 1 KiB messages)
/// arrives with one reallocation instead of four doublings. Below 64 KiB on purpose: glibc
/// consolidates its heap whenever a chunk of 64 KiB or more is freed.
pub const PARTIAL_FRAME_STEP: usize = 60 * 1024;

/// Makes room to read `chunk` bytes, or up to `missing` more bytes of a partial frame, growing
/// by at most the bytes already held or [`PARTIAL_FRAME_STEP`], whichever is larger: an
/// announced frame is never allocated far ahead of its bytes.
fn reserve_read_space(buf: &mut BytesMut, missing: usize, chunk: usize) {
    let spare = buf.capacity() - buf.len();
    let step = missing.min(buf.len().max(chunk).max(PARTIAL_FRAME_STEP)).max(chunk);
    if spare < step {
        buf.reserve(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use ferromq_protocol::frame::encode_to_bytes;
    use ferromq_protocol::RemotingCommand;

    // Goal: an announced 16 MiB frame is not allocated before its bytes arrive. Method: feed a
    // length word of 16 MiB - 4 plus 4 bytes, check capacity stays small.
    #[test]
    fn partial_large_frame_grows_buffer_only_with_received_bytes() {
        let max = 16 * 1024 * 1024;
        let mut buf = BytesMut::new();
        buf.put_i32(i32::try_from(max - 4).expect("fits"));
        buf.put_u32(0);
        assert!(next_frame(&mut buf, max, READ_CHUNK_BYTES, true)
            .expect("valid so far")
            .is_none());
        assert!(
            buf.capacity() <= 2 * (PARTIAL_FRAME_STEP + READ_CHUNK_BYTES),
            "capacity {}",
            buf.capacity()
        );
    }

    // Goal: oversized and negative length words fail at once. Method: 4-byte buffers.
    #[test]
    fn oversized_or_negative_length_word_is_an_error_immediately() {
        for word in [i32::MAX, 16 * 1024 * 1024 - 3, -1, 3] {
            let mut buf = BytesMut::new();
            buf.put_i32(word);
            assert!(
                next_frame(&mut buf, 16 * 1024 * 1024, READ_CHUNK_BYTES, true).is_err(),
                "word {word}"
            );
        }
    }

    proptest::proptest! {
        // Goal: arbitrary bytes, fed in arbitrary chunks, never panic and never grow the buffer
        // past what was received (plus one growth step). Method: proptest over chunk lists.
        #[test]
        fn arbitrary_chunks_never_panic_or_overallocate(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..32),
            scan in proptest::bool::ANY,
        ) {
            let mut buf = BytesMut::new();
            let mut received = 0usize;
            'feed: for chunk in chunks {
                received += chunk.len();
                buf.extend_from_slice(&chunk);
                loop {
                    match next_frame(&mut buf, 1 << 20, READ_CHUNK_BYTES, scan) {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                // Growth follows received bytes: at most double them plus one partial-frame step
                // (BytesMut doubles its capacity when it reallocates).
                proptest::prop_assert!(
                    buf.capacity() <= 2 * (received.max(READ_CHUNK_BYTES) + PARTIAL_FRAME_STEP + READ_CHUNK_BYTES)
                );
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
            flag in 0i32..4,
            scan in proptest::bool::ANY,
        ) {
            let mut command = RemotingCommand::request_code(code).with_opaque(opaque).with_body(body);
            command.remark = remark;
            command.flag = flag;
            if binary {
                command.serialize_type = ferromq_protocol::SerializeType::RocketMq;
            }
            let wire = encode_to_bytes(&command).expect("encodable");
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(received) = next_frame(&mut buf, 1 << 20, READ_CHUNK_BYTES, scan).expect("valid frame") {
                    // Scanned exactly when asked to and the frame is a JSON response.
                    let json = ferromq_protocol::frame::effective_serialize_type(&command) == ferromq_protocol::SerializeType::Json;
                    proptest::prop_assert_eq!(received.is_scanned(), scan && json && flag & 1 == 1);
                    got.push(received.into_command().expect("decodes"));
                }
            }
            proptest::prop_assert_eq!(got.len(), 1);
            let decoded = &got[0];
            proptest::prop_assert_eq!(decoded.code, command.code);
            proptest::prop_assert_eq!(decoded.flag, command.flag);
            proptest::prop_assert_eq!(decoded.opaque, command.opaque);
            proptest::prop_assert_eq!(&decoded.remark, &command.remark);
            proptest::prop_assert_eq!(&decoded.body, &command.body);
        }
    }

    // Goal: the read chunk grows only after reads that filled their room, never past the cap,
    // and shrinks back after small reads. Method: feed read sizes, check the chunk.
    #[test]
    fn read_chunk_grows_on_full_reads_and_shrinks_on_small_ones() {
        let mut chunk = ReadChunk::default();
        chunk.record(100, 4096);
        assert_eq!(chunk.bytes(), READ_CHUNK_BYTES);
        for _ in 0..10 {
            let room = chunk.bytes();
            chunk.record(room, room);
        }
        assert_eq!(chunk.bytes(), MAX_READ_CHUNK_BYTES);
        for _ in 0..10 {
            chunk.record(10, MAX_READ_CHUNK_BYTES);
        }
        assert_eq!(chunk.bytes(), READ_CHUNK_BYTES);
    }

    // Goal: with a grown chunk, the room made for the next read is the chunk even when the
    // partial frame misses only a few bytes (many frames per read), and a large announced frame
    // still grows the buffer only with what arrived. Method: small and large partial frames.
    #[test]
    fn room_for_the_next_read_is_the_chunk_but_follows_received_bytes() {
        let mut buf = BytesMut::new();
        buf.put_i32(20);
        buf.put_u32(0);
        assert!(next_frame(&mut buf, 1 << 20, MAX_READ_CHUNK_BYTES, true)
            .expect("valid")
            .is_none());
        assert!(buf.capacity() - buf.len() >= MAX_READ_CHUNK_BYTES);
        let mut big = BytesMut::new();
        big.put_i32(8 * 1024 * 1024);
        big.put_u32(0);
        assert!(next_frame(&mut big, 16 << 20, MAX_READ_CHUNK_BYTES, true)
            .expect("valid")
            .is_none());
        assert!(
            big.capacity() <= 2 * (MAX_READ_CHUNK_BYTES + PARTIAL_FRAME_STEP) + 8,
            "capacity {}",
            big.capacity()
        );
    }

    // Goal: complete frames come out one by one, byte-by-byte feeding works, for a request
    // and a (scanned) response alike. Method: feed two encoded frames one byte at a time.
    #[test]
    fn frames_fed_byte_by_byte_decode_in_order() {
        let a = RemotingCommand::request_code(10)
            .with_opaque(1)
            .with_body(b"one".to_vec());
        let b = RemotingCommand::response_to(&a, ferromq_protocol::ResponseCode::Success).with_body(b"two".to_vec());
        let mut wire = encode_to_bytes(&a).expect("a").to_vec();
        wire.extend_from_slice(&encode_to_bytes(&b).expect("b"));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            buf.put_u8(byte);
            while let Some(received) = next_frame(&mut buf, 1 << 20, READ_CHUNK_BYTES, true).expect("decode") {
                got.push(received.into_command().expect("decodes"));
            }
        }
        assert_eq!(got, vec![a, b]);
    }
}
