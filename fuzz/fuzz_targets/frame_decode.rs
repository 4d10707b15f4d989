//! Streaming frame decoder fed arbitrary bytes in arbitrary chunks.
//! Invariants: no panic; the buffer never grows past the frame limit plus one chunk; every
//! decoded command re-encodes and decodes to itself.
#![no_main]

use bytes::BytesMut;
use ferromq_protocol::frame::{decode_frame, encode_to_bytes};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decode_frame(&mut buf, LIMIT) {
                Ok(Some(cmd)) => {
                    let again = encode_to_bytes(&cmd).expect("a decoded command re-encodes");
                    let mut again = BytesMut::from(&again[..]);
                    let back = decode_frame(&mut again, usize::MAX).expect("re-decode").expect("complete");
                    assert_eq!(back, cmd);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= LIMIT + rest.len(), "decoder reserved beyond the frame limit");
    }
});
