//! The server reader's send decoder (`ReceivedSend::decode`, the specialised decode of a JSON
//! SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header) on arbitrary headers, against the general
//! decode of the same frame.
//! Invariants: no panic; the send decoder takes only frames the general decoder accepts, and
//! only requests; its command (ext fields rebuilt) is the general decoder's; its typed header
//! equals the one read from the general decoder's ext fields, errors included.
#![no_main]

use ferromq_protocol::frame::decode_command;
use ferromq_protocol::header::send_message::{decode_send_request_header_ref, SendMessageRequestHeaderRef};
use ferromq_protocol::ReceivedSend;
use libfuzzer_sys::fuzz_target;

#[path = "support/json_frame.rs"]
mod support;
use support::json_frame;

fuzz_target!(|data: &[u8]| {
    let Some(frame) = json_frame(data) else { return };
    let Some(send) = ReceivedSend::decode(&frame) else { return };
    let full = decode_command(frame).expect("the send decoder took a frame the general decoder refuses");
    assert!(!full.is_response(), "a response taken as a send request");
    assert_eq!(
        send.header().map(SendMessageRequestHeaderRef::into_owned),
        decode_send_request_header_ref(&full).map(SendMessageRequestHeaderRef::into_owned)
    );
    assert_eq!(send.into_command(), full);
});
