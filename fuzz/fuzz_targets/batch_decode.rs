//! Batch body decoder on arbitrary bytes. Invariants: no panic; at most `MAX` messages; what
//! decodes re-encodes to the same bytes.
#![no_main]

use bytes::Bytes;
use ferromq_protocol::message::{decode_batch, encode_batch};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(messages) = decode_batch(&bytes, MAX) {
        assert!(messages.len() <= MAX);
        let mut out = Vec::new();
        encode_batch(&messages, &mut out).expect("a decoded batch re-encodes");
        let again = decode_batch(&Bytes::from(out), MAX).expect("our own batch decodes");
        assert_eq!(again, messages);
    }
});
