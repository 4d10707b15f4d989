//! Stored-record decoders (single record, a PULL body of records, the header peek and the
//! properties parser, the record count hint) on arbitrary bytes. Invariants: no panic; a record
//! that decodes with its CRC checked re-encodes to exactly the bytes it came from; the count
//! hint is never below the number of records that decode.
#![no_main]

use bytes::Bytes;
use ferromq_protocol::message::{
    count_records, decode_properties, decode_record, decode_records, encode_properties, encode_record,
    peek_record_header,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = peek_record_header(data);
    if let Ok(record) = decode_record(&bytes, true) {
        let mut out = Vec::new();
        let len = encode_record(&record, usize::MAX, &mut out).expect("a decoded record re-encodes");
        assert_eq!(&out[..], &data[..len], "re-encoding changed the record");
    }
    let mut decoded = 0usize;
    for item in decode_records(&bytes, false).take(1024) {
        if item.is_err() {
            break;
        }
        decoded += 1;
    }
    assert!(decoded <= count_records(data), "the count hint is below the decoded records");
    if let Ok(text) = std::str::from_utf8(data) {
        let props = decode_properties(text);
        let again = decode_properties(&encode_properties(&props));
        assert_eq!(again, props, "properties did not survive a round trip");
    }
});
