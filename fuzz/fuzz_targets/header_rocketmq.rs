//! ROCKETMQ binary header decoder on arbitrary bytes. Invariants: no panic; what decodes
//! re-encodes to a header that decodes to the same command.
#![no_main]

use ferromq_protocol::header_binary::{decode_binary_header, encode_binary_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = decode_binary_header(data) {
        let mut out = Vec::new();
        encode_binary_header(&cmd, &mut out).expect("a decoded header re-encodes");
        let back = decode_binary_header(&out).expect("our own binary header decodes");
        assert_eq!(back, cmd);
    }
});
