//! JSON header decoder on arbitrary bytes. Invariants: no panic; what decodes re-encodes to a
//! header that decodes to the same command.
#![no_main]

use ferromq_protocol::header_json::{decode_json_header, encode_json_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = decode_json_header(data) {
        let mut out = Vec::new();
        encode_json_header(&cmd, &mut out);
        let back = decode_json_header(&out).expect("our own JSON header decodes");
        assert_eq!(back.code, cmd.code);
        assert_eq!(back.ext_fields, cmd.ext_fields);
        assert_eq!(back.remark, cmd.remark);
        assert_eq!(back.opaque, cmd.opaque);
        assert_eq!(back.flag, cmd.flag);
        assert_eq!(back.version, cmd.version);
    }
});
