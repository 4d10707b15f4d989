//! The client reader's response scan (`ReceivedCommand::decode` with `scan_responses`) on
//! arbitrary JSON headers, against the full decode of the same frame.
//! Invariants: no panic; the scan path accepts exactly the frames the full decode accepts (a
//! header the scan accepts also decodes); every accessor answers what the decoded command
//! holds; `into_command` gives the decoded command.
#![no_main]

use ferromq_protocol::frame::decode_command;
use ferromq_protocol::ReceivedCommand;
use libfuzzer_sys::fuzz_target;

#[path = "support/json_frame.rs"]
mod support;
use support::json_frame;

/// Keys a producer reads, plus short ones the fuzzer finds easily.
const PROBES: [&str; 8] = ["msgId", "queueId", "queueOffset", "transactionId", "MSG_REGION", "a", "b", ""];

fuzz_target!(|data: &[u8]| {
    let Some(frame) = json_frame(data) else { return };
    let full = decode_command(frame.clone());
    let received = ReceivedCommand::decode(frame, true);
    let (cmd, received) = match (full, received) {
        (Err(_), Err(_)) => return,
        (Ok(cmd), Ok(received)) => (cmd, received),
        (full, received) => panic!("full decode ok: {}, received decode ok: {}", full.is_ok(), received.is_ok()),
    };
    assert_eq!(received.code(), cmd.code);
    assert_eq!(received.opaque(), cmd.opaque);
    assert_eq!(received.flag(), cmd.flag);
    assert_eq!(received.version(), cmd.version);
    assert_eq!(received.language(), cmd.language);
    assert_eq!(received.remark().as_deref(), cmd.remark.as_deref());
    let probed = received.ext_fields_of(PROBES);
    for (key, value) in PROBES.iter().zip(&probed) {
        assert_eq!(value.as_deref(), cmd.ext_fields.get(key), "ext field {key:?}");
    }
    for (key, value) in cmd.ext_fields.iter() {
        assert_eq!(received.ext_fields_of([key])[0].as_deref(), Some(value), "ext field {key:?}");
    }
    assert_eq!(received.into_command().expect("a scanned header decodes"), cmd);
});
